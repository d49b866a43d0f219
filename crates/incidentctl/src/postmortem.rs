//! `incidentctl why | action | coe`: the postmortem, written by people through the command API,
//! read and checked here with the core's own rendering and gaps.

use crate::cli::{ActionCommand, CoeCommand, Output, WhyCommand};
use crate::context::Ctx;
use crate::render::{emit, said, table};
use anyhow::{anyhow, bail, Context as _, Result};
use chrono::{NaiveDate, TimeDelta, Utc};
use incident_core::actions::incident_of_action;
use incident_core::coe::{self, Record};
use incident_core::command::Command;
use incident_core::ports::coe_record;
use incident_core::IncidentId;
use serde_json::json;

/// The incident an action command names as typed (checked before any call); `done` names its
/// incident through the item id.
pub fn typed_incident(command: &ActionCommand) -> Result<Option<&str>> {
    Ok(match command {
        ActionCommand::Add { id, .. } => Some(id),
        ActionCommand::List { id, .. } => id.as_deref(),
        ActionCommand::Done { item, .. } => {
            incident_of_action(item).ok_or_else(|| anyhow!("'{item}' is not an action item id (inc-….aN)"))?;
            None
        }
    })
}

pub async fn why(ctx: &Ctx, out: Output, id: &IncidentId, command: WhyCommand) -> Result<()> {
    let command = match command {
        WhyCommand::Add { parent, text, category } => Command::WhyAdd { parent, text, category },
        WhyCommand::Accept { node, reason } => Command::WhyAccept { node, reason },
        WhyCommand::Categorise { node, category } => Command::WhyCategorise { node, category },
        WhyCommand::Show => {
            ctx.store.incident(id).await?;
            let tree = ctx.store.whys(id).await?;
            return emit(out, &tree, |t| {
                if t.nodes.is_empty() {
                    "no contributing factors yet\n".into()
                } else {
                    t.render()
                }
            });
        }
    };
    said(out, &ctx.api.command(id, &command).await?)
}

fn parse_due(text: &str) -> Result<chrono::DateTime<Utc>> {
    let date =
        NaiveDate::parse_from_str(text, "%Y-%m-%d").with_context(|| format!("'{text}' is not a date (YYYY-MM-DD)"))?;
    Ok(date.and_hms_opt(23, 59, 59).expect("valid time").and_utc())
}

pub async fn action(ctx: &Ctx, out: Output, command: ActionCommand) -> Result<()> {
    let now = Utc::now();
    match command {
        ActionCommand::Add {
            id,
            term,
            owner,
            due,
            why,
            text,
        } => {
            let due = due.as_deref().map(parse_due).transpose()?;
            let id = ctx.resolve(&id).await?;
            let command = Command::ActionAdd {
                term,
                owner,
                due,
                why,
                text,
            };
            said(out, &ctx.api.command(&id, &command).await?)
        }
        ActionCommand::Done { item, validation } => {
            let id = incident_of_action(&item).expect("checked offline");
            said(
                out,
                &ctx.api.command(&id, &Command::ActionDone { item, validation }).await?,
            )
        }
        ActionCommand::List { id, overdue, days } => {
            let incidents: Vec<IncidentId> = match id {
                Some(id) => vec![ctx.resolve(&id).await?],
                None => {
                    let today = now.date_naive();
                    let days: Vec<String> = (0..days.max(1))
                        .map(|d| (today - TimeDelta::days(d as i64)).format("%Y-%m-%d").to_string())
                        .collect();
                    ctx.store.list(&days, false).await?.into_iter().map(|i| i.id).collect()
                }
            };
            let mut items = Vec::new();
            for incident in &incidents {
                items.extend(
                    ctx.store
                        .actions(incident)
                        .await?
                        .into_iter()
                        .filter(|a| !overdue || a.is_overdue(now)),
                );
            }
            emit(out, &items, |items| {
                if items.is_empty() {
                    return "no action items\n".into();
                }
                let rows: Vec<Vec<String>> = items
                    .iter()
                    .map(|a| {
                        let status = match (&a.done, a.is_overdue(now)) {
                            (Some(_), _) => "done".to_string(),
                            (None, true) => "OVERDUE".to_string(),
                            (None, false) => "open".to_string(),
                        };
                        vec![
                            a.id.clone(),
                            a.term.to_string(),
                            a.owner.clone(),
                            a.due.format("%Y-%m-%d").to_string(),
                            status,
                            a.ticket.clone().unwrap_or_else(|| "-".into()),
                            a.text.clone(),
                        ]
                    })
                    .collect();
                table(&["ITEM", "TERM", "OWNER", "DUE", "STATUS", "TICKET", "ACTION"], &rows)
            })
        }
    }
}

pub async fn coe(ctx: &Ctx, out: Output, id: &IncidentId, command: CoeCommand) -> Result<()> {
    let command = match command {
        CoeCommand::Show { .. } => {
            print!("{}", coe::render(&record(ctx, id).await?));
            return Ok(());
        }
        CoeCommand::Check { .. } => {
            let gaps = coe::gaps(&record(ctx, id).await?, Utc::now());
            emit(out, &json!({ "complete": gaps.is_empty(), "gaps": gaps }), |_| {
                if gaps.is_empty() {
                    format!("the COE is complete: incidentctl coe complete {id}\n")
                } else {
                    gaps.iter().map(|g| format!("- {g}\n")).collect()
                }
            })?;
            if !gaps.is_empty() {
                bail!("the COE of {id} has {} gap(s)", gaps.len());
            }
            return Ok(());
        }
        CoeCommand::Impact { text, .. } => Command::CoeImpact { text },
        CoeCommand::Learning { text, .. } => Command::CoeLearning { text },
        CoeCommand::Rca { text, .. } => Command::CoeRca { text },
        CoeCommand::Dependency {
            dependency,
            as_promised,
            our_use,
            foreseeable,
            degrade,
            ..
        } => Command::CoeDependency {
            dependency,
            answers: [as_promised, our_use, foreseeable, degrade],
        },
        CoeCommand::Publish { .. } => {
            let published = ctx.api.command(id, &Command::CoePublish).await?.data;
            return emit(out, &published, |p| {
                let pm = &p["postmortem"];
                format!(
                    "COE written to {}; ticket {}, due {}\n",
                    pm["document"].as_str().unwrap_or("?"),
                    pm["ticket"].as_str().unwrap_or("?"),
                    pm["due"].as_str().unwrap_or("?")
                )
            });
        }
        CoeCommand::Complete { .. } => Command::CoeComplete,
    };
    said(out, &ctx.api.command(id, &command).await?)
}

async fn record(ctx: &Ctx, id: &IncidentId) -> Result<Record> {
    Ok(coe_record(&ctx.store, &ctx.catalog, id).await?)
}
