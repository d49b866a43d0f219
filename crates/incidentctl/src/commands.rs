//! What each command does.

use crate::cli::{CatalogCommand, Cli, Command, Output};
use crate::context::{connect, Ctx};
use crate::gameday;
use crate::render::{duration, emit, table};
use anyhow::{bail, Context as _, Result};
use chrono::{TimeDelta, Utc};
use incident_aws::bus::detail_type;
use incident_aws::identity;
use incident_core::approval::Request;
use incident_core::catalog::Catalog;
use incident_core::event::{CustomerReport, CUSTOMER_REPORT, CUSTOMER_SOURCE};
use incident_core::incident::{Incident, Status};
use incident_core::ports::Rejected;
use incident_core::timeline::{validate_link, Entry, EntryKind};
use incident_core::IncidentId;
use serde_json::json;

pub async fn run(cli: Cli) -> Result<()> {
    let out = cli.output;
    // Validate what needs no AWS before connecting, so typos fail fast and offline.
    let id = match &cli.command {
        Command::Evidence { command } => Some(IncidentId::parse(crate::evidence::incident_of(command))?),
        Command::Why { id, .. } => Some(IncidentId::parse(id)?),
        Command::Coe { command } => Some(IncidentId::parse(command.id())?),
        Command::Checklist { id, .. } | Command::Update { id, .. } => Some(IncidentId::parse(id)?),
        Command::Action { command } => crate::postmortem::incident_of(command)?,
        Command::Show { id } | Command::Timeline { id } | Command::Note { id, .. } | Command::Ack { id } => {
            Some(IncidentId::parse(id)?)
        }
        Command::Resolve { id, .. }
        | Command::Approve { id, .. }
        | Command::Reject { id, .. }
        | Command::Mitigate { id, .. } => Some(IncidentId::parse(id)?),
        _ => None,
    };
    let links = match &cli.command {
        Command::Note { link, .. } | Command::Mitigate { link, .. } => link.clone(),
        Command::Report { link, .. } => link.iter().cloned().collect(),
        _ => Vec::new(),
    };
    for l in &links {
        validate_link(l).map_err(anyhow::Error::msg)?;
    }
    let catalog_file = match &cli.command {
        Command::Catalog {
            command: CatalogCommand::Import { file },
        } => {
            let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
            let catalog: Catalog =
                serde_yaml::from_str(&text).with_context(|| format!("{} is not a valid catalog", file.display()))?;
            catalog.validate()?;
            Some(catalog)
        }
        _ => None,
    };
    let ctx = connect(&cli.stack).await?;
    match cli.command {
        Command::List { all, days } => list(&ctx, out, all, days).await,
        Command::Show { .. } => show(&ctx, out, &id.expect("parsed")).await,
        Command::Timeline { .. } => timeline(&ctx, out, &id.expect("parsed")).await,
        Command::Note { text, link, .. } => note(&ctx, out, &id.expect("parsed"), text, link).await,
        Command::Ack { .. } => ack(&ctx, out, &id.expect("parsed")).await,
        Command::Resolve { summary, reason, .. } => {
            crate::closing::resolve(&ctx, out, &id.expect("parsed"), summary, reason).await
        }
        Command::Checklist { command, .. } => crate::closing::checklist(&ctx, out, &id.expect("parsed"), command).await,
        Command::Update { text, draft, .. } => {
            crate::closing::update(&ctx, out, &id.expect("parsed"), text, draft).await
        }
        Command::Report {
            service,
            summary,
            link,
            report_id,
        } => report(&ctx, out, service, summary, link, report_id).await,
        Command::Catalog {
            command: CatalogCommand::Import { .. },
        } => {
            let summary = ctx.catalog.import(&catalog_file.expect("validated")).await?;
            emit(out, &summary, |s| {
                format!(
                    "catalog imported: {} services, {} teams ({} stale entries removed)\n",
                    s.services, s.teams, s.removed
                )
            })
        }
        Command::Evidence { command } => crate::evidence::run(&ctx, out, &id.expect("parsed"), command).await,
        Command::Why { command, .. } => crate::postmortem::why(&ctx, out, &id.expect("parsed"), command).await,
        Command::Action { command } => crate::postmortem::action(&ctx, out, id.as_ref(), command).await,
        Command::Coe { command } => crate::postmortem::coe(&ctx, out, &id.expect("parsed"), command).await,
        Command::Approve {
            candidate,
            reason,
            confirm_roll_forward,
            params,
            ..
        } => {
            let request = Request {
                approve: true,
                candidate: candidate.unwrap_or(usize::MAX),
                confirm_roll_forward,
                reason,
                parameters: params.into_iter().collect(),
            };
            crate::mitigation::decide(&ctx, out, &id.expect("parsed"), request).await
        }
        Command::Reject { reason, .. } => {
            let request = Request {
                approve: false,
                candidate: usize::MAX,
                confirm_roll_forward: false,
                reason,
                parameters: Default::default(),
            };
            crate::mitigation::decide(&ctx, out, &id.expect("parsed"), request).await
        }
        Command::Mitigate { note, link, .. } => {
            crate::mitigation::manual(&ctx, out, &id.expect("parsed"), note, link).await
        }
        Command::Catalog {
            command: CatalogCommand::Show,
        } => {
            let catalog = ctx.catalog.load().await?;
            emit(out, &catalog, |c| serde_yaml::to_string(c).unwrap_or_default())
        }
        Command::Gameday { scenario, file } => {
            let now = Utc::now();
            let events = match (scenario, file) {
                (Some(s), _) => gameday::scenario(s, now),
                (None, Some(path)) => {
                    let text =
                        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
                    vec![gameday::from_file(&text, now)?]
                }
                (None, None) => bail!("name a scenario or --file"),
            };
            let ids = gameday::put(&ctx.events, gameday::SOURCE, &events).await?;
            emit(out, &json!({ "source": gameday::SOURCE, "event_ids": ids }), |_| {
                format!(
                    "game day: {} events put through {}; watch with `incidentctl list`\n",
                    ids.len(),
                    gameday::SOURCE
                )
            })
        }
    }
}

fn sev(i: &Incident) -> String {
    i.severity.map(|s| s.to_string()).unwrap_or_else(|| "-".into())
}

async fn list(ctx: &Ctx, out: Output, all: bool, days: u32) -> Result<()> {
    let today = Utc::now().date_naive();
    let days: Vec<String> = (0..days.max(1))
        .map(|d| (today - TimeDelta::days(d as i64)).format("%Y-%m-%d").to_string())
        .collect();
    let incidents = ctx.store.list(&days, !all).await?;
    emit(out, &incidents, |incidents| {
        if incidents.is_empty() {
            return "no incidents\n".into();
        }
        let rows: Vec<Vec<String>> = incidents
            .iter()
            .map(|i| {
                vec![
                    i.id.to_string(),
                    sev(i),
                    i.status.to_string(),
                    i.services.join(","),
                    i.owner.clone().unwrap_or_else(|| "-".into()),
                    i.detected_at.format("%m-%d %H:%M:%S").to_string(),
                    flags(i),
                    i.title.clone(),
                ]
            })
            .collect();
        table(
            &["ID", "SEV", "STATUS", "SERVICES", "OWNER", "DETECTED", "FLAGS", "TITLE"],
            &rows,
        )
    })
}

fn flags(i: &Incident) -> String {
    let mut f = Vec::new();
    if i.exercise {
        f.push("gameday".to_string());
    }
    if i.customer_detected {
        f.push("customer-detected".to_string());
    }
    if !i.service_known {
        f.push("unknown-service".to_string());
    }
    if !i.members.is_empty() {
        f.push(format!("{} linked", i.members.len()));
    }
    if let Some(p) = &i.parent {
        f.push(format!("in {p}"));
    }
    if f.is_empty() {
        "-".into()
    } else {
        f.join(" ")
    }
}

async fn show(ctx: &Ctx, out: Output, id: &IncidentId) -> Result<()> {
    let i = ctx.store.incident(id).await?;
    let facts = json!({
        "incident": i,
        "time_to_detect_seconds": i.time_to_detect_secs(),
        "time_to_engage_seconds": i.time_to_engage_secs(),
        "time_to_acknowledge_seconds": i.time_to_acknowledge_secs(),
    });
    emit(out, &facts, |_| {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let mut s = format!("{}  {}\n", i.id, i.title);
        let rows = [
            ("severity", sev(&i)),
            ("status", i.status.to_string()),
            ("scope", format!("{:?}", i.scope)),
            ("services", i.services.join(", ")),
            ("owner", opt(i.owner.clone())),
            ("commander", opt(i.commander.clone())),
            ("flags", flags(&i)),
            ("first signal", i.first_signal.clone()),
            ("impact start", i.impact_started_at.to_rfc3339()),
            (
                "detected",
                format!(
                    "{} (time to detect {})",
                    i.detected_at.to_rfc3339(),
                    duration(i.time_to_detect_secs())
                ),
            ),
            (
                "engaged",
                opt(i
                    .time_to_engage_secs()
                    .map(|s| format!("after {}: {}", duration(s), i.engaged_teams.join(", ")))),
            ),
            (
                "acknowledged",
                opt(i
                    .acknowledged_by
                    .clone()
                    .map(|by| format!("by {by} after {}", duration(i.time_to_acknowledge_secs().unwrap_or(0))))),
            ),
            ("escalations", i.escalations.to_string()),
            ("mitigated", opt(i.mitigated_by.clone().map(|by| format!("by {by}")))),
            ("cust. updates", format!("{} published", i.customer_updates.len())),
            (
                "resolved",
                opt(i.resolved_by.clone().map(|by| {
                    let forced = if i.resolution_override.is_some() {
                        " (checklist overridden)"
                    } else {
                        ""
                    };
                    format!("by {by}{forced}")
                })),
            ),
            (
                "postmortem",
                opt(i.postmortem.as_ref().map(|p| {
                    format!(
                        "{} (ticket {}, due {}{})",
                        p.document,
                        p.ticket.as_deref().unwrap_or("-"),
                        p.due.format("%Y-%m-%d"),
                        if p.completed.is_some() { ", complete" } else { "" }
                    )
                })),
            ),
            (
                "members",
                if i.members.is_empty() {
                    "-".into()
                } else {
                    i.members.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", ")
                },
            ),
        ];
        for (k, v) in rows {
            s.push_str(&format!("  {k:<14}{v}\n"));
        }
        s
    })
}

async fn timeline(ctx: &Ctx, out: Output, id: &IncidentId) -> Result<()> {
    ctx.store.incident(id).await?;
    let entries = ctx.store.timeline(id).await?;
    emit(out, &entries, |entries| {
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|e| {
                let links = if e.links.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", e.links.join(", "))
                };
                vec![
                    e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    e.actor.clone(),
                    serde_json::to_value(e.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(|k| k.replace('_', " ")))
                        .unwrap_or_default(),
                    format!("{}{links}", e.text),
                ]
            })
            .collect();
        table(&["WHEN (UTC)", "WHO", "WHAT", "DETAIL"], &rows)
    })
}

async fn note(ctx: &Ctx, out: Output, id: &IncidentId, text: String, links: Vec<String>) -> Result<()> {
    if text.trim().is_empty() {
        bail!("the note is empty");
    }
    ctx.store.incident(id).await?;
    let caller = identity::caller(&ctx.config).await?;
    let mut entry = Entry::human(&caller.name, EntryKind::Note, text);
    entry.links = links;
    ctx.store.append(id, entry.clone()).await?;
    emit(out, &entry, |_| "noted\n".into())
}

async fn ack(ctx: &Ctx, out: Output, id: &IncidentId) -> Result<()> {
    let caller = identity::caller(&ctx.config).await?;
    let now = Utc::now();
    let incident = ctx
        .store
        .update_incident(id, |i| {
            if i.status.is_closed() {
                return Err(Rejected(format!("{} is {}: nothing to acknowledge", i.id, i.status)));
            }
            if let Some(by) = &i.acknowledged_by {
                return Err(Rejected(format!("{} was already acknowledged by {by}", i.id)));
            }
            i.acknowledged_at = Some(now);
            i.acknowledged_by = Some(caller.name.clone());
            if matches!(i.status, Status::Open | Status::Triaged | Status::Engaged) {
                i.status = Status::Acknowledged;
            }
            Ok(())
        })
        .await?;
    let after = incident.time_to_acknowledge_secs().map(duration).unwrap_or_default();
    let text = format!("acknowledged ({after} after detection); escalation stops");
    ctx.store
        .append(id, Entry::human(&caller.name, EntryKind::Acknowledged, text))
        .await?;
    ctx.bus
        .emit(
            detail_type::INCIDENT_ACKNOWLEDGED,
            &json!({ "incident_id": id, "acknowledged_by": caller.name, "arn": caller.arn }),
        )
        .await?;
    emit(out, &incident, |i| {
        format!("{} acknowledged by {}\n", i.id, caller.name)
    })
}

async fn report(
    ctx: &Ctx,
    out: Output,
    service: String,
    summary: String,
    link: Option<String>,
    report_id: Option<String>,
) -> Result<()> {
    let caller = identity::caller(&ctx.config).await?;
    let report = CustomerReport {
        service,
        summary,
        reporter: Some(caller.name.clone()),
        link,
        report_id: report_id
            .unwrap_or_else(|| format!("{}-{}", caller.name.replace('/', "-"), Utc::now().timestamp_millis())),
        impact_started_at: None,
    };
    let event = gameday::GameEvent {
        detail_type: CUSTOMER_REPORT,
        detail: serde_json::to_value(&report)?,
        resources: vec![],
    };
    gameday::put(&ctx.events, CUSTOMER_SOURCE, &[event]).await?;
    emit(out, &report, |r| {
        format!("customer impact on {} reported as {}\n", r.service, r.report_id)
    })
}
