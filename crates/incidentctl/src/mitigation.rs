//! `incidentctl approve | reject | mitigate`: a person's decision on a proposed mitigation.

use crate::cli::Output;
use crate::context::Ctx;
use crate::render::emit;
use anyhow::{Context as _, Result};
use incident_aws::identity;
use incident_core::approval::{decide_for, Request};
use incident_core::ports::{Approvals, CatalogSource, TaskCallbacks};
use incident_core::timeline::{Entry, EntryKind};
use incident_core::IncidentId;
use serde_json::json;

/// Approves or rejects the incident's pending approval. The caller's identity comes from the
/// credentials used and is checked against the catalog's approvers; the decision is written once
/// (conditional write), then the lifecycle's callback is completed with the token the store kept.
pub async fn decide(ctx: &Ctx, out: Output, id: &IncidentId, mut request: Request) -> Result<()> {
    let caller = identity::caller(&ctx.config).await?;
    let incident = ctx.store.incident(id).await?;
    let approval = ctx
        .store
        .pending(id)
        .await?
        .with_context(|| format!("no mitigation approval is pending for {id}"))?;
    if request.candidate == usize::MAX {
        request.candidate = approval.offered;
    }
    let catalog = CatalogSource::load(&ctx.catalog).await?;
    let mut approvers: Vec<String> = incident
        .services
        .iter()
        .filter_map(|s| catalog.service(s))
        .flat_map(|s| s.approvers.iter().cloned())
        .collect();
    approvers.dedup();
    let decision = decide_for(&approval, &incident.services.join(", "), &approvers, &caller, &request)?;
    ctx.store.decide(&approval, &decision).await?;
    let candidate = &approval.candidates[decision.candidate];
    let verb = if decision.approved { "approved" } else { "rejected" };
    let text = format!(
        "{verb} candidate {} ({}) of approval {}{}",
        decision.candidate,
        candidate.runbook,
        approval.id,
        decision.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
    );
    ctx.store
        .append(id, Entry::human(&caller.name, EntryKind::Mitigation, text))
        .await?;
    let next_offset = if decision.approved {
        decision.candidate + 1
    } else {
        approval.offered + 1
    };
    let answer = json!({ "approved": decision.approved, "candidate": decision.candidate, "approval_id": approval.id,
                         "next_offset": next_offset, "resolved": false });
    if let Some(token) = ctx.store.take_token(id, &approval.id).await? {
        TaskCallbacks::complete(&ctx.callbacks, &token, &answer).await?;
    }
    emit(out, &decision, |d| {
        format!("{verb} candidate {} ({}) as {}\n", d.candidate, candidate.runbook, d.by)
    })
}

/// The manual path: what engineers did, on the timeline.
pub async fn manual(ctx: &Ctx, out: Output, id: &IncidentId, note: String, links: Vec<String>) -> Result<()> {
    let caller = identity::caller(&ctx.config).await?;
    let who = caller.name.clone();
    ctx.store
        .update_incident(id, |i| {
            i.mitigated_by.get_or_insert_with(|| format!("manual: {who}"));
            Ok(())
        })
        .await?;
    let mut entry = Entry::human(
        &caller.name,
        EntryKind::Mitigation,
        format!("manual mitigation: {note}"),
    );
    entry.links = links;
    ctx.store.append(id, entry.clone()).await?;
    emit(out, &entry, |_| {
        "recorded; recovery is confirmed when every alarm is back to OK\n".into()
    })
}

/// On resolution, answers a still-pending approval so that the lifecycle's mitigation branch ends.
pub async fn withdraw_pending(ctx: &Ctx, id: &IncidentId) -> Result<()> {
    if let Some(approval) = ctx.store.pending(id).await? {
        if let Some(token) = ctx.store.take_token(id, &approval.id).await? {
            let answer = json!({ "approved": false, "candidate": approval.offered, "approval_id": approval.id,
                                 "next_offset": approval.offered, "resolved": true });
            TaskCallbacks::complete(&ctx.callbacks, &token, &answer).await?;
        }
    }
    Ok(())
}
