//! What each command does.

use crate::cli::{CatalogCommand, Cli, Command, MetricsFormat, OrrCommand, Output};
use crate::context::{connect, Ctx};
use crate::gameday;
use crate::render::{duration, emit, said, table};
use anyhow::{bail, Context as _, Result};
use chrono::{TimeDelta, Utc};
use incident_core::catalog::Catalog;
use incident_core::command::{Command as IncidentCommand, ReportRequest};
use incident_core::incident::Incident;
use incident_core::text::{self, NAME_MAX};
use incident_core::timeline::{validate_link, Entry};
use incident_core::IncidentId;
use serde_json::json;

/// Checks what needs no AWS before connecting, so that typos fail fast and offline: ids, links
/// and catalog files, with the core's own checks (the server checks them again).
fn check_offline(command: &Command) -> Result<Option<Catalog>> {
    let typed: Vec<&str> = match command {
        Command::Evidence { command } => vec![crate::evidence::incident_of(command)],
        Command::Why { id, .. }
        | Command::Checklist { id, .. }
        | Command::Update { id, .. }
        | Command::Show { id }
        | Command::Timeline { id, .. }
        | Command::Note { id, .. }
        | Command::Ack { id }
        | Command::Resolve { id, .. }
        | Command::Approve { id, .. }
        | Command::Reject { id, .. }
        | Command::Mitigate { id, .. } => vec![id],
        Command::Coe { command } => vec![command.id()],
        Command::Action { command } => crate::postmortem::typed_incident(command)?.into_iter().collect(),
        _ => Vec::new(),
    };
    for t in typed {
        IncidentId::check_typed(t)?;
    }
    let links = match command {
        Command::Note { link, .. } | Command::Mitigate { link, .. } => link.clone(),
        Command::Report { link, .. } => link.iter().cloned().collect(),
        _ => Vec::new(),
    };
    for l in &links {
        validate_link(l).map_err(anyhow::Error::msg)?;
    }
    Ok(match command {
        Command::Catalog {
            command: CatalogCommand::Import { file },
        } => {
            let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
            let catalog: Catalog =
                serde_yaml::from_str(&text).with_context(|| format!("{} is not a valid catalog", file.display()))?;
            if let Err(e) = catalog.validate() {
                let lines = e.located(&text);
                anyhow::bail!(
                    "{} is not a valid catalog:\n  - {}",
                    file.display(),
                    lines.join("\n  - ")
                );
            }
            Some(catalog)
        }
        _ => None,
    })
}

pub async fn run(cli: Cli) -> Result<()> {
    let out = cli.output;
    let catalog_file = check_offline(&cli.command)?;
    // An import reads another tool and writes a file: it needs no stack.
    if let Command::Import {
        source: crate::cli::ImportSource::IncidentManager { dry_run, file },
    } = &cli.command
    {
        let config = incident_aws::sdk_config().await;
        return crate::incident_manager::import(out, &config, file, *dry_run).await;
    }
    let ctx = connect(&cli.stack).await?;
    match cli.command {
        Command::List { all, days } => list(&ctx, out, all, days).await,
        Command::Show { id } => show(&ctx, out, &ctx.resolve(&id).await?).await,
        Command::Timeline { id, follow } => timeline(&ctx, out, &ctx.resolve(&id).await?, follow).await,
        Command::Note { id, text, link } => {
            let id = ctx.resolve(&id).await?;
            let reply = ctx
                .api
                .command(&id, &IncidentCommand::Note { text, links: link })
                .await?;
            said(out, &reply)
        }
        Command::Ack { id } => {
            let id = ctx.resolve(&id).await?;
            said(out, &ctx.api.command(&id, &IncidentCommand::Ack).await?)
        }
        Command::Resolve {
            id, summary, reason, ..
        } => crate::closing::resolve(&ctx, out, &ctx.resolve(&id).await?, summary, reason).await,
        Command::Checklist { id, command } => {
            crate::closing::checklist(&ctx, out, &ctx.resolve(&id).await?, command).await
        }
        Command::Update { id, text, draft } => {
            crate::closing::update(&ctx, out, &ctx.resolve(&id).await?, text, draft).await
        }
        Command::Report {
            service,
            summary,
            link,
            report_id,
        } => {
            let request = ReportRequest {
                service,
                summary,
                link,
                report_id,
            };
            said(out, &ctx.api.report(&request).await?)
        }
        Command::Catalog {
            command: CatalogCommand::Import { .. },
        } => said(
            out,
            &ctx.api.import_catalog(&catalog_file.expect("read offline")).await?,
        ),
        Command::Silence {
            command,
            service,
            duration,
            reason,
        } => crate::noise::silence(&ctx, out, command, service, duration, reason).await,
        Command::Oncall { command, team, at } => crate::oncall::run(&ctx, out, command, team, at).await,
        Command::Changes {
            service,
            since,
            gameday,
        } => crate::changes::list(&ctx, out, &service, &since, gameday).await,
        Command::Ignored { days } => crate::noise::ignored(&ctx, out, days).await,
        Command::Learning { action } => crate::learning::run(&ctx, out, action).await,
        Command::Orr { service, command } => {
            let answer = command.map(|OrrCommand::Answer { learning, text }| (learning, text));
            crate::learning::orr(&ctx, out, service, answer).await
        }
        Command::Review { week } => crate::review::show(&ctx, out, week.as_deref()).await,
        Command::Metrics { since, format } => {
            let format = format.unwrap_or(match out {
                Output::Json => MetricsFormat::Json,
                Output::Table => MetricsFormat::Csv,
            });
            crate::metrics::export(&ctx, &since, format).await
        }
        Command::Evidence { command } => {
            let id = ctx.resolve(crate::evidence::incident_of(&command)).await?;
            crate::evidence::run(&ctx, out, &id, command).await
        }
        Command::Why { id, command } => crate::postmortem::why(&ctx, out, &ctx.resolve(&id).await?, command).await,
        Command::Action { command } => crate::postmortem::action(&ctx, out, command).await,
        Command::Coe { command } => {
            let id = ctx.resolve(command.id()).await?;
            crate::postmortem::coe(&ctx, out, &id, command).await
        }
        Command::Approve {
            id,
            approval,
            candidate,
            reason,
            confirm_roll_forward,
            params,
        } => {
            let command = IncidentCommand::Approve {
                approval_id: approval,
                candidate,
                reason,
                confirm_roll_forward,
                parameters: params.into_iter().collect(),
            };
            said(out, &ctx.api.command(&ctx.resolve(&id).await?, &command).await?)
        }
        Command::Reject { id, approval, reason } => {
            let command = IncidentCommand::Reject {
                approval_id: approval,
                reason,
            };
            said(out, &ctx.api.command(&ctx.resolve(&id).await?, &command).await?)
        }
        Command::Mitigate { id, note, link } => {
            let command = IncidentCommand::Mitigate { note, links: link };
            said(out, &ctx.api.command(&ctx.resolve(&id).await?, &command).await?)
        }
        Command::Catalog {
            command: CatalogCommand::Show,
        } => {
            // The catalog file as it can be imported again: silences are listed by `silence list`,
            // learnings by `learning list`.
            let catalog = ctx.catalog.load().await?.as_file();
            emit(out, &catalog, |c| serde_yaml::to_string(c).unwrap_or_default())
        }
        Command::Import { .. } => unreachable!("an import is answered before connecting to the stack"),
        Command::Gameday {
            scenario,
            file,
            run_runbooks,
        } => {
            let now = Utc::now();
            let mut events = match (scenario, file) {
                (Some(s), _) => gameday::scenario(s, now),
                (None, Some(path)) => {
                    let text =
                        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
                    vec![gameday::from_file(&text, now)?]
                }
                (None, None) => bail!("name a scenario or --file"),
            };
            if run_runbooks {
                gameday::run_runbooks(&mut events);
            }
            let ids = gameday::put(&ctx.events, &ctx.bus, gameday::SOURCE, &events).await?;
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
    let signals: Vec<_> = ctx.store.signals(id).await?.into_iter().map(|s| s.signal).collect();
    let contributors = incident_core::signal::contributors(&signals);
    let facts = json!({
        "incident": i,
        "contributors": contributors,
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
        if let Some(l) = &i.location {
            s.push_str(&format!("  {:<14}{}\n", "account", text::line(&l.describe(), NAME_MAX)));
        }
        if !i.flapping.is_empty() {
            s.push_str(&format!("  {:<14}{}\n", "flapping", i.flapping.join(", ")));
        }
        for e in &i.aws_events {
            s.push_str(&format!("  {:<14}{e}\n", "AWS-side"));
        }
        for c in &contributors {
            s.push_str(&format!("  {:<14}{}\n", "contributor", c.describe()));
        }
        for p in &i.pages {
            s.push_str(&format!("  {:<14}{}\n", "paged", text::line(&p.describe(), 400)));
        }
        s
    })
}

fn timeline_rows(entries: &[Entry]) -> Vec<Vec<String>> {
    entries
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
        .collect()
}

const TIMELINE_HEADERS: [&str; 4] = ["WHEN (UTC)", "WHO", "WHAT", "DETAIL"];

async fn timeline(ctx: &Ctx, out: Output, id: &IncidentId, follow: bool) -> Result<()> {
    ctx.store.incident(id).await?;
    let entries = ctx.store.timeline(id).await?;
    if !follow {
        return emit(out, &entries, |entries| {
            table(&TIMELINE_HEADERS, &timeline_rows(entries))
        });
    }
    // Following: one line per new entry (one JSON object per line with --output json), until
    // interrupted. The table is laid out once, with generous widths, so lines stay aligned.
    let mut seen = std::collections::HashSet::new();
    let mut first = true;
    loop {
        let fresh: Vec<Entry> = ctx
            .store
            .timeline(id)
            .await?
            .into_iter()
            .filter(|e| seen.insert((e.at, e.key.clone())))
            .collect();
        match out {
            Output::Json => {
                for entry in &fresh {
                    println!("{}", serde_json::to_string(entry)?);
                }
            }
            Output::Table => {
                for r in timeline_rows(&fresh) {
                    if first {
                        println!("{:<19}  {:<32}  {:<16}  DETAIL", TIMELINE_HEADERS[0], "WHO", "WHAT");
                        first = false;
                    }
                    println!("{:<19}  {:<32}  {:<16}  {}", r[0], r[1], r[2], r[3]);
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}
