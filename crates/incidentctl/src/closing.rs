//! `incidentctl resolve | checklist | update`: closing carefully, and keeping customers informed.

use crate::cli::{ChecklistCommand, Output};
use crate::context::Ctx;
use crate::render::emit;
use anyhow::{bail, Result};
use chrono::Utc;
use incident_aws::bus::detail_type;
use incident_aws::identity;
use incident_aws::lifecycle::callback;
use incident_aws::AwsError;
use incident_core::incident::Incident;
use incident_core::ports::Rejected;
use incident_core::resolution::{self, Refused};
use incident_core::timeline::{Entry, EntryKind};
use incident_core::updates;
use incident_core::IncidentId;
use serde_json::json;

pub async fn resolve(
    ctx: &Ctx,
    out: Output,
    id: &IncidentId,
    summary: Option<String>,
    force: Option<String>,
) -> Result<()> {
    let caller = identity::caller(&ctx.config).await?;
    let actions = ctx.store.actions(id).await?;
    let now = Utc::now();
    let mut refused = None;
    let result = ctx
        .store
        .update_incident(id, |i| {
            resolution::resolve(i, &actions, force.as_deref(), &caller.name, now).map_err(|r| {
                let text = r.to_string();
                refused = Some(r);
                Rejected(text)
            })
        })
        .await;
    let incident = match (result, refused) {
        (Ok(incident), _) => incident,
        (Err(_), Some(Refused::Missing(missing))) => {
            if out == Output::Json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({ "resolved": false, "missing": missing }))?
                );
            }
            bail!("{}", Refused::Missing(missing))
        }
        (Err(e), _) => return Err(e.into()),
    };
    let mut text = format!(
        "resolved{}",
        summary.as_ref().map(|s| format!(": {s}")).unwrap_or_default()
    );
    if let Some(o) = &incident.resolution_override {
        text.push_str(&format!(
            " — closing checklist OVERRIDDEN ({}); skipped: {}",
            o.reason.text,
            o.missing.join("; ")
        ));
    }
    ctx.store
        .append(id, Entry::human(&caller.name, EntryKind::Resolved, text))
        .await?;
    crate::mitigation::withdraw_pending(ctx, id).await?;
    // The lifecycle waits on task tokens kept server-side (the resolution, and the customer-update
    // loop's sleep); one not stored yet sees the resolved status when it is and completes itself.
    for kind in [callback::RESOLVE, callback::UPDATES] {
        if let Some(token) = ctx.store.token(id, kind).await? {
            ctx.callbacks
                .complete(&token, &json!({ "resolved_by": caller.name, "summary": summary }))
                .await?;
            ctx.store.delete_token(id, kind).await?;
        }
    }
    emit(out, &incident, |i| {
        let forced = if i.resolution_override.is_some() {
            " (checklist overridden; recorded)"
        } else {
            ""
        };
        format!(
            "{} resolved by {}{forced}; the COE draft and its tickets follow\n",
            i.id, caller.name
        )
    })
}

pub async fn checklist(ctx: &Ctx, out: Output, id: &IncidentId, command: Option<ChecklistCommand>) -> Result<()> {
    if let Some(command) = command {
        let caller = identity::caller(&ctx.config).await?;
        let now = Utc::now();
        let mut said = String::new();
        ctx.store
            .update_incident(id, |i| {
                said = match &command {
                    ChecklistCommand::Answer { n, text } => {
                        let q = resolution::answer_check(i, *n, text, &caller.name, now)
                            .map_err(|e| Rejected(e.to_string()))?;
                        format!("risk of recurrence {n} answered: {q} — {}", text.trim())
                    }
                    ChecklistCommand::CustomersRecovered { how } => {
                        resolution::confirm_customers_recovered(i, how, &caller.name, now)
                            .map_err(|e| Rejected(e.to_string()))?;
                        format!("customers confirmed recovered: {}", how.trim())
                    }
                };
                Ok(())
            })
            .await?;
        ctx.store
            .append(id, Entry::human(&caller.name, EntryKind::Closing, said))
            .await?;
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
    let incident = ctx.store.incident(id).await?;
    let text = match (text, draft) {
        (Some(t), _) => t,
        (None, true) => updates::first_draft(&incident),
        (None, false) => return show_updates(out, &incident),
    };
    let caller = identity::caller(&ctx.config).await?;
    let now = Utc::now();
    let mut published = None;
    let incident = ctx
        .store
        .update_incident(id, |i| {
            let u = updates::publish(i, &text, &caller.name, now).map_err(|e| Rejected(e.to_string()))?;
            published = Some(u);
            Ok(())
        })
        .await
        .map_err(|e| match e {
            AwsError::Rejected(why) => anyhow::anyhow!("update not published: {why}"),
            e => e.into(),
        })?;
    let update = published.expect("published when the write succeeded");
    let entry = Entry::human(
        &caller.name,
        EntryKind::CustomerUpdate,
        format!("customer update {} published: \"{}\"", update.n, update.text),
    );
    ctx.store.append(id, entry).await?;
    ctx.bus
        .emit(
            detail_type::CUSTOMER_UPDATE,
            &json!({
                "incident_id": id, "title": incident.title, "services": incident.services,
                "severity": incident.severity, "update": update.n, "text": update.text,
                "published_by": update.by, "published_at": update.at, "exercise": incident.exercise,
            }),
        )
        .await?;
    let next = updates::cadence(incident.severity)
        .map(|c| format!("; next one due within {} minutes", c.num_minutes()))
        .unwrap_or_default();
    emit(out, &update, |u| format!("customer update {} published{next}\n", u.n))
}

fn show_updates(out: Output, incident: &Incident) -> Result<()> {
    let draft = updates::first_draft(incident);
    let due = match updates::due(incident, Utc::now()) {
        updates::Due::Done => "no update cadence (closed, not customer-facing, or SEV4–5)".to_string(),
        updates::Due::Wait(w) => format!("next update due in {} minutes", w.num_minutes()),
        updates::Due::Mitigated { at } => format!(
            "mitigated at {}: tell customers (one more update, then the cadence ends)",
            at.format("%H:%M:%S UTC")
        ),
        updates::Due::Overdue { since, cadence } => format!(
            "OVERDUE: the cadence is {} minutes and the last was at {}",
            cadence.num_minutes(),
            since.format("%H:%M:%S UTC")
        ),
    };
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
