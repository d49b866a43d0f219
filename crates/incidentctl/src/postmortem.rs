//! `incidentctl why | action | coe`: the postmortem, written by people, checked by the rules.

use crate::cli::{ActionCommand, CoeCommand, Output, WhyCommand};
use crate::context::Ctx;
use crate::render::{emit, table};
use anyhow::{anyhow, bail, Context as _, Result};
use chrono::{NaiveDate, TimeDelta, Utc};
use incident_aws::identity;
use incident_aws::postmortem_store::incident_of_action;
use incident_aws::AwsError;
use incident_core::actions::{ActionItem, Term};
use incident_core::coe::{self, Record};
use incident_core::ports::CatalogSource;
use incident_core::IncidentId;
use serde_json::json;

/// The incident an action command is about, validated before any call.
pub fn incident_of(command: &ActionCommand) -> Result<Option<IncidentId>> {
    Ok(match command {
        ActionCommand::Add { id, .. } => Some(IncidentId::parse(id)?),
        ActionCommand::List { id, .. } => id.as_deref().map(IncidentId::parse).transpose()?,
        ActionCommand::Done { item, .. } => {
            Some(incident_of_action(item).ok_or_else(|| anyhow!("'{item}' is not an action item id (inc-….aN)"))?)
        }
    })
}

pub async fn why(ctx: &Ctx, out: Output, id: &IncidentId, command: WhyCommand) -> Result<()> {
    ctx.store.incident(id).await?;
    match command {
        WhyCommand::Add { parent, text } => {
            let (node, _) = ctx
                .store
                .update_whys(id, |t| {
                    t.add(parent.as_deref(), &text)
                        .map_err(|e| AwsError::Rejected(e.to_string()))
                })
                .await?;
            emit(out, &json!({ "node": node }), |_| format!("added {node}\n"))
        }
        WhyCommand::Accept { node, reason } => {
            ctx.store
                .update_whys(id, |t| {
                    t.accept_risk(&node, &reason)
                        .map_err(|e| AwsError::Rejected(e.to_string()))
                })
                .await?;
            emit(out, &json!({ "node": node, "accepted_risk": reason }), |_| {
                format!("{node}: risk accepted\n")
            })
        }
        WhyCommand::Show => {
            let tree = ctx.store.whys(id).await?;
            emit(out, &tree, |t| {
                if t.nodes.is_empty() {
                    "no contributing factors yet\n".into()
                } else {
                    t.render()
                }
            })
        }
    }
}

fn parse_due(text: &str) -> Result<chrono::DateTime<Utc>> {
    let date =
        NaiveDate::parse_from_str(text, "%Y-%m-%d").with_context(|| format!("'{text}' is not a date (YYYY-MM-DD)"))?;
    Ok(date.and_hms_opt(23, 59, 59).expect("valid time").and_utc())
}

pub async fn action(ctx: &Ctx, out: Output, id: Option<&IncidentId>, command: ActionCommand) -> Result<()> {
    let now = Utc::now();
    match command {
        ActionCommand::Add {
            term,
            owner,
            due,
            why,
            text,
            ..
        } => {
            let id = id.expect("validated");
            ctx.store.incident(id).await?;
            let term = Term::parse(&term).ok_or_else(|| anyhow!("--term must be short, mid or long, not '{term}'"))?;
            let due = due.as_deref().map(parse_due).transpose()?;
            if let Some(node) = &why {
                if !ctx.store.whys(id).await?.nodes.iter().any(|n| &n.id == node) {
                    bail!("no five-whys node {node} in {id}");
                }
            }
            let mut template = ActionItem::new(String::new(), term, &owner, &text, due, now)?;
            template.why = why;
            let item = ctx
                .store
                .add_action(id, |aid| ActionItem {
                    id: aid,
                    ..template.clone()
                })
                .await?;
            emit(out, &item, |i| {
                format!(
                    "added {} ({}, {}, due {})\n",
                    i.id,
                    i.term,
                    i.owner,
                    i.due.format("%Y-%m-%d")
                )
            })
        }
        ActionCommand::List { overdue, days, .. } => {
            let incidents: Vec<IncidentId> = match id {
                Some(id) => vec![id.clone()],
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
                            a.text.clone(),
                        ]
                    })
                    .collect();
                table(&["ITEM", "TERM", "OWNER", "DUE", "STATUS", "ACTION"], &rows)
            })
        }
        ActionCommand::Done { item, validation } => {
            let id = id.expect("validated");
            let caller = identity::caller(&ctx.config).await?;
            let mut action = ctx
                .store
                .actions(id)
                .await?
                .into_iter()
                .find(|a| a.id == item)
                .with_context(|| format!("no action item {item}"))?;
            action.close(&validation, &caller.name, now)?;
            ctx.store.save_open_action(id, &action).await?;
            emit(out, &action, |a| format!("{} closed by {}\n", a.id, caller.name))
        }
    }
}

pub async fn coe(ctx: &Ctx, out: Output, id: &IncidentId, command: CoeCommand) -> Result<()> {
    let incident = ctx.store.incident(id).await?;
    let timeline = ctx.store.timeline(id).await?;
    let whys = ctx.store.whys(id).await?;
    let actions = ctx.store.actions(id).await?;
    let authored = ctx.store.authored(id).await?;
    let catalog = CatalogSource::load(&ctx.catalog).await?;
    let dependencies = coe::dependencies_of(&catalog, &incident);
    let record = Record {
        incident: &incident,
        timeline: &timeline,
        whys: &whys,
        actions: &actions,
        authored: &authored,
        dependencies: &dependencies,
    };
    match command {
        CoeCommand::Show { .. } => {
            print!("{}", coe::render(&record));
            Ok(())
        }
        CoeCommand::Check { .. } => {
            let gaps = coe::gaps(&record, Utc::now());
            emit(out, &json!({ "complete": gaps.is_empty(), "gaps": gaps }), |_| {
                if gaps.is_empty() {
                    "the COE is complete\n".into()
                } else {
                    gaps.iter().map(|g| format!("- {g}\n")).collect()
                }
            })?;
            if !gaps.is_empty() {
                bail!("the COE of {id} has {} gap(s)", gaps.len());
            }
            Ok(())
        }
    }
}
