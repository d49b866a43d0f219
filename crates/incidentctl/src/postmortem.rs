//! `incidentctl why | action | coe`: the postmortem, written by people, checked by the rules.

use crate::cli::{ActionCommand, CoeCommand, Output, WhyCommand};
use crate::context::Ctx;
use crate::render::{emit, table};
use anyhow::{anyhow, bail, Context as _, Result};
use chrono::{NaiveDate, TimeDelta, Utc};
use incident_aws::bus::detail_type;
use incident_aws::identity;
use incident_aws::postmortem_store::incident_of_action;
use incident_aws::AwsError;
use incident_core::actions::{ActionItem, Term};
use incident_core::coe::{self, Authored, Record};
use incident_core::ports::{coe_record, CatalogSource, Rejected};
use incident_core::resolution::Attested;
use incident_core::timeline::{Entry, EntryKind};
use incident_core::IncidentId;
use serde_json::{json, Value};

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
            republish_if_published(ctx, id).await;
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
                            a.ticket.clone().unwrap_or_else(|| "-".into()),
                            a.text.clone(),
                        ]
                    })
                    .collect();
                table(&["ITEM", "TERM", "OWNER", "DUE", "STATUS", "TICKET", "ACTION"], &rows)
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
            ctx.store.close_action(id, &action).await?;
            republish_if_published(ctx, id).await;
            emit(out, &action, |a| format!("{} closed by {}\n", a.id, caller.name))
        }
    }
}

pub async fn coe(ctx: &Ctx, out: Output, id: &IncidentId, command: CoeCommand) -> Result<()> {
    match command {
        CoeCommand::Show { .. } => {
            print!("{}", coe::render(&record(ctx, id).await?));
            Ok(())
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
            Ok(())
        }
        CoeCommand::Impact { text, .. } => {
            let text = required(&text, "the impact summary")?;
            author(ctx, out, id, "impact summary written", |a| {
                a.impact_summary = Some(text.clone())
            })
            .await
        }
        CoeCommand::Learning { text, .. } => {
            let text = required(&text, "a learning")?;
            author(ctx, out, id, "learning added", |a| a.learnings.push(text.clone())).await
        }
        CoeCommand::Rca { text, .. } => {
            let text = required(&text, "the customer-facing RCA")?;
            author(ctx, out, id, "customer-facing RCA written", |a| {
                a.customer_rca = Some(text.clone())
            })
            .await
        }
        CoeCommand::Dependency {
            dependency,
            as_promised,
            our_use,
            foreseeable,
            degrade,
            ..
        } => {
            let answers = [as_promised, our_use, foreseeable, degrade];
            if answers.iter().all(|a| a.as_deref().is_none_or(|a| a.trim().is_empty())) {
                bail!("answer at least one of --as-promised, --our-use, --foreseeable, --degrade");
            }
            let incident = ctx.store.incident(id).await?;
            let deps = coe::dependencies_of(&CatalogSource::load(&ctx.catalog).await?, &incident);
            if !deps.contains(&dependency) {
                bail!(
                    "{dependency} is not a catalog dependency of {}: review one of {}",
                    incident.services.join(", "),
                    if deps.is_empty() {
                        "(none recorded)".to_string()
                    } else {
                        deps.join(", ")
                    }
                );
            }
            let what = format!("dependency review of {dependency} answered");
            author(ctx, out, id, &what, |a| {
                a.answer_dependency(&dependency, answers.clone())
            })
            .await
        }
        CoeCommand::Publish { .. } => {
            let published = publish(ctx, id).await?;
            emit(out, &published, |p| {
                let pm = &p["postmortem"];
                format!(
                    "COE written to {}; ticket {}, due {}\n",
                    pm["document"].as_str().unwrap_or("?"),
                    pm["ticket"].as_str().unwrap_or("?"),
                    pm["due"].as_str().unwrap_or("?")
                )
            })
        }
        CoeCommand::Complete { .. } => complete(ctx, out, id).await,
    }
}

async fn record(ctx: &Ctx, id: &IncidentId) -> Result<Record> {
    Ok(coe_record(&ctx.store, &ctx.catalog, id).await?)
}

fn required(text: &str, what: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        bail!("{what} needs text");
    }
    Ok(text.to_string())
}

async fn author(
    ctx: &Ctx,
    out: Output,
    id: &IncidentId,
    what: &str,
    mut change: impl FnMut(&mut Authored),
) -> Result<()> {
    ctx.store.incident(id).await?;
    let (_, authored) = ctx
        .store
        .update_authored(id, |a| {
            change(a);
            Ok(())
        })
        .await?;
    emit(out, &authored, |_| format!("{what}\n"))
}

/// Asks the postmortem function to rewrite the COE document and open the tickets still missing.
pub async fn publish(ctx: &Ctx, id: &IncidentId) -> Result<Value> {
    ctx.invoke(
        ctx.postmortem_function.as_deref(),
        "postmortem",
        json!({ "action": "publish", "incident_id": id }),
    )
    .await
}

/// After an action item changed: a published COE gets its tickets and document brought up to date.
async fn republish_if_published(ctx: &Ctx, id: &IncidentId) {
    let published = matches!(ctx.store.incident(id).await, Ok(i) if i.postmortem.is_some());
    if published {
        if let Err(e) = publish(ctx, id).await {
            eprintln!(
                "warning: the COE document and tickets were not updated ({e:#}); run incidentctl coe publish {id}"
            );
        }
    }
}

async fn complete(ctx: &Ctx, out: Output, id: &IncidentId) -> Result<()> {
    let gaps = coe::gaps(&record(ctx, id).await?, Utc::now());
    if !gaps.is_empty() {
        let list: String = gaps.iter().map(|g| format!("\n  - {g}")).collect();
        bail!("the COE of {id} is not complete:{list}");
    }
    let caller = identity::caller(&ctx.config).await?;
    let now = Utc::now();
    ctx.store
        .update_incident(id, |i| {
            let Some(pm) = i.postmortem.as_mut() else {
                return Err(Rejected(format!(
                    "{id} has no published COE yet (it is written on resolution): incidentctl coe publish {id}"
                )));
            };
            // Already complete (an earlier run that failed later): publish and announce again.
            pm.completed.get_or_insert_with(|| Attested {
                text: "coe check found nothing missing".into(),
                by: caller.name.clone(),
                at: now,
            });
            Ok(())
        })
        .await?;
    ctx.store
        .append(
            id,
            Entry::human(&caller.name, EntryKind::Closing, "COE marked complete"),
        )
        .await?;
    let published = publish(ctx, id).await?;
    ctx.bus
        .emit(detail_type::POSTMORTEM_COMPLETED, &published["postmortem"])
        .await?;
    emit(out, &published, |_| {
        format!("COE of {id} complete; its ticket is resolved\n")
    })
}
