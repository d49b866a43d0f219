//! The engagement steps of the lifecycle, selected by `action`.

use chrono::Utc;
use incident_aws::bus::{detail_type, Bus};
use incident_aws::catalog_store::CatalogStore;
use incident_aws::lambda::HandlerError;
use incident_aws::lifecycle::{callback, Callbacks};
use incident_aws::metrics;
use incident_aws::store::Store;
use incident_core::correlation::Policy;
use incident_core::engagement;
use incident_core::incident::{Incident, Status};
use incident_core::timeline::{Entry, EntryKind};
use incident_core::IncidentId;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Task tokens live this long at most; an incident open longer is resolved through the console.
const TOKEN_TTL_DAYS: i64 = 30;

pub struct Deps {
    pub store: Store,
    pub catalog: CatalogStore,
    pub bus: Bus,
    pub callbacks: Callbacks,
    pub policy: Policy,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Input {
    /// Page every team the plan names and publish `Incident Engaged`.
    Engage { incident_id: IncidentId },
    /// After the acknowledgement wait: has anyone acknowledged?
    CheckAck { incident_id: IncidentId },
    /// Nobody acknowledged in time: page the escalation team and the commander.
    Escalate { incident_id: IncidentId },
    /// Keep the resolution callback's token server-side until `incidentctl resolve`.
    AwaitResolution { incident_id: IncidentId, token: String },
    /// After resolution: stop correlating into this incident and announce it.
    Close { incident_id: IncidentId },
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Output {
    pub incident_id: IncidentId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalations: Option<u32>,
}

impl Output {
    fn of(id: IncidentId) -> Self {
        Self {
            incident_id: id,
            acknowledged: None,
            escalations: None,
        }
    }
}

pub async fn handle(deps: &Deps, input: Input) -> Result<Output, HandlerError> {
    match input {
        Input::Engage { incident_id } => engage(deps, incident_id).await,
        Input::CheckAck { incident_id } => {
            let incident = deps.store.incident(&incident_id).await?;
            let acknowledged = incident.acknowledged_at.is_some() || incident.status.is_closed();
            if let Some(secs) = incident.time_to_acknowledge_secs() {
                metrics::emit("TimeToAcknowledge", secs, &incident);
            }
            Ok(Output {
                acknowledged: Some(acknowledged),
                ..Output::of(incident_id)
            })
        }
        Input::Escalate { incident_id } => escalate(deps, incident_id).await,
        Input::AwaitResolution { incident_id, token } => {
            deps.store
                .put_token(&incident_id, callback::RESOLVE, &token, TOKEN_TTL_DAYS)
                .await?;
            // Resolved before the token was stored: complete the callback ourselves.
            let incident = deps.store.incident(&incident_id).await?;
            if incident.status == Status::Resolved {
                deps.callbacks
                    .complete(&token, &json!({ "resolved_by": incident.resolved_by }))
                    .await?;
                deps.store.delete_token(&incident_id, callback::RESOLVE).await?;
            }
            Ok(Output::of(incident_id))
        }
        Input::Close { incident_id } => {
            let incident = deps.store.incident(&incident_id).await?;
            deps.store.close_correlation(&incident, &deps.policy).await?;
            deps.bus
                .emit(detail_type::INCIDENT_RESOLVED, &summary(&incident))
                .await?;
            Ok(Output::of(incident_id))
        }
    }
}

fn summary(incident: &Incident) -> serde_json::Value {
    json!({
        "incident_id": incident.id,
        "title": incident.title,
        "scope": incident.scope,
        "services": incident.services,
        "severity": incident.severity,
        "owner": incident.owner,
        "commander": incident.commander,
        "exercise": incident.exercise,
        "customer_detected": incident.customer_detected,
        "status": incident.status,
        "parent": incident.parent,
        "members": incident.members,
    })
}

async fn engage(deps: &Deps, id: IncidentId) -> Result<Output, HandlerError> {
    let incident = deps.store.incident(&id).await?;
    let catalog = deps.catalog.load().await?;
    let plan = engagement::plan(&catalog, &incident);
    let subject = format!(
        "[{}{}] {}",
        incident.severity.map(|s| s.to_string()).unwrap_or_default(),
        if incident.exercise { " GAME DAY" } else { "" },
        incident.title
    );
    let message = format!(
        "{}\nIncident: {}\nFirst signal: {}\nCommander: {}\nAcknowledge: incidentctl ack {}",
        subject,
        incident.id,
        incident.first_signal,
        plan.commander.as_deref().unwrap_or("none"),
        incident.id
    );
    for team in &plan.teams {
        // One team's unreachable topic must not keep the others from being paged: record it.
        let paged = match &team.target {
            Some(topic) => match deps.bus.page(topic, &subject, &message).await {
                Ok(()) => format!("paged via {topic}"),
                Err(e) => {
                    tracing::warn!(incident = %id, team = %team.team, error = %e, "paging failed");
                    format!("PAGING FAILED via {topic}: {e}")
                }
            },
            None => "no notification target in the catalog: not paged".to_string(),
        };
        let text = format!("engaged {} ({}); {paged}", team.team, team.reason);
        deps.store
            .append(
                &id,
                Entry::system("engage", EntryKind::Engaged, format!("engaged-{}", team.team), text),
            )
            .await?;
    }
    let teams: Vec<String> = plan.teams.iter().map(|t| t.team.clone()).collect();
    let updated = deps
        .store
        .update_incident(&id, |i| {
            i.engaged_teams = teams.clone();
            if i.engaged_at.is_none() {
                i.engaged_at = Some(Utc::now());
            }
            if matches!(i.status, Status::Open | Status::Triaged) {
                i.status = Status::Engaged;
            }
            Ok(())
        })
        .await?;
    if let Some(secs) = updated.time_to_engage_secs() {
        metrics::emit("TimeToEngage", secs, &updated);
    }
    metrics::emit("TimeToDetect", updated.time_to_detect_secs(), &updated);
    let mut detail = summary(&updated);
    detail["teams"] = json!(plan.teams);
    detail["ack_minutes"] = json!(plan.ack_minutes);
    deps.bus.emit(detail_type::INCIDENT_ENGAGED, &detail).await?;
    tracing::info!(incident = %id, teams = teams.len(), "engaged");
    Ok(Output::of(id))
}

async fn escalate(deps: &Deps, id: IncidentId) -> Result<Output, HandlerError> {
    let catalog = deps.catalog.load().await?;
    let incident = deps.store.incident(&id).await?;
    let plan = engagement::plan(&catalog, &incident);
    let round = incident.escalations + 1;
    let target = catalog.team_target(&plan.escalation_team);
    let text = format!(
        "no acknowledgement within {} minutes: escalation {round} to {}{}",
        plan.ack_minutes,
        plan.escalation_team,
        plan.commander
            .as_ref()
            .map(|c| format!(" and commander {c}"))
            .unwrap_or_default()
    );
    if let Some(topic) = target {
        let subject = format!("ESCALATION {round}: {} unacknowledged", incident.title);
        if let Err(e) = deps
            .bus
            .page(topic, &subject, &format!("{text}\nAcknowledge: incidentctl ack {id}"))
            .await
        {
            tracing::warn!(incident = %id, error = %e, "escalation paging failed");
        }
    }
    deps.store
        .append(
            &id,
            Entry::system("engage", EntryKind::Escalated, format!("escalation-{round}"), text),
        )
        .await?;
    let updated = deps
        .store
        .update_incident(&id, |i| {
            i.escalations = i.escalations.max(round);
            Ok(())
        })
        .await?;
    let mut detail = summary(&updated);
    detail["escalation"] = json!(round);
    detail["escalated_to"] = json!(plan.escalation_team);
    deps.bus.emit(detail_type::INCIDENT_ESCALATED, &detail).await?;
    Ok(Output {
        escalations: Some(updated.escalations),
        ..Output::of(id)
    })
}
