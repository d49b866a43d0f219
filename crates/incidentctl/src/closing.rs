//! `incidentctl resolve | checklist | update`: closing carefully, and keeping customers informed.
//! Changes go through the command API; the checklist and the update cadence are read and shown.

use crate::api::Refused;
use crate::cli::{ChecklistCommand, Output};
use crate::context::Ctx;
use crate::render::{emit, said};
use anyhow::Result;
use chrono::Utc;
use incident_core::command::Command;
use incident_core::incident::Incident;
use incident_core::resolution;
use incident_core::updates;
use incident_core::IncidentId;
use serde_json::json;

pub async fn resolve(
    ctx: &Ctx,
    out: Output,
    id: &IncidentId,
    summary: Option<String>,
    force_reason: Option<String>,
) -> Result<()> {
    let command = Command::Resolve { summary, force_reason };
    match ctx.api.command(id, &command).await {
        Ok(reply) => said(out, &reply),
        Err(e) => {
            if let (Some(Refused::Checklist { missing, .. }), Output::Json) = (e.downcast_ref::<Refused>(), out) {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({ "resolved": false, "missing": missing }))?
                );
            }
            Err(e)
        }
    }
}

pub async fn checklist(ctx: &Ctx, out: Output, id: &IncidentId, command: Option<ChecklistCommand>) -> Result<()> {
    if let Some(command) = command {
        let command = match command {
            ChecklistCommand::Answer { n, text } => Command::AnswerCheck { n, text },
            ChecklistCommand::CustomersRecovered { how } => Command::CustomersRecovered { how },
        };
        let reply = ctx.api.command(id, &command).await?;
        if out == Output::Table {
            println!("{}", reply.message);
        }
    }
    let incident = ctx.store.incident(id).await?;
    let actions = ctx.store.actions(id).await?;
    let items = resolution::checklist(&incident, &actions);
    emit(out, &items, |items| {
        let mut text = String::new();
        for item in items {
            text.push_str(&format!("[{}] {}\n", if item.met { "x" } else { " " }, item.text));
        }
        let open = items.iter().filter(|i| !i.met).count();
        text.push_str(&match open {
            0 => format!("ready: incidentctl resolve {id}\n"),
            n => format!("{n} item(s) missing before incidentctl resolve {id}\n"),
        });
        text
    })
}

pub async fn update(ctx: &Ctx, out: Output, id: &IncidentId, text: Option<String>, draft: bool) -> Result<()> {
    if text.is_none() && !draft {
        return show_updates(out, &ctx.store.incident(id).await?);
    }
    said(out, &ctx.api.command(id, &Command::Update { text }).await?)
}

fn show_updates(out: Output, incident: &Incident) -> Result<()> {
    let draft = updates::first_draft(incident);
    let due = updates::due(incident, Utc::now()).to_string();
    let value = json!({ "draft": draft, "published": incident.customer_updates, "due": due });
    emit(out, &value, |_| {
        let mut text = format!("first draft: {draft}\n{due}\n");
        if incident.customer_updates.is_empty() {
            text.push_str("nothing published yet: incidentctl update ID --draft, or incidentctl update ID \"…\"\n");
        }
        for u in &incident.customer_updates {
            text.push_str(&format!("{} {} ({}): {}\n", u.n, u.at.format("%H:%M:%S"), u.by, u.text));
        }
        text
    })
}
