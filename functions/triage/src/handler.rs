//! Reads the incident and the catalog, decides, records the decision and its reasons.

use incident_aws::catalog_store::CatalogStore;
use incident_aws::lambda::HandlerError;
use incident_aws::store::Store;
use incident_core::timeline::{Entry, EntryKind};
use incident_core::triage;
use incident_core::IncidentId;
use serde::{Deserialize, Serialize};

pub struct Deps {
    pub store: Store,
    pub catalog: CatalogStore,
}

#[derive(Debug, Deserialize)]
pub struct Input {
    pub incident_id: IncidentId,
}

/// Passed on by the state machine to the next states.
#[derive(Debug, Serialize, PartialEq)]
pub struct Output {
    pub incident_id: IncidentId,
    pub severity: String,
    pub owner: String,
    pub commander: Option<String>,
    pub ack_timeout_seconds: u32,
}

pub async fn handle(deps: &Deps, input: Input) -> Result<Output, HandlerError> {
    let id = input.incident_id;
    let incident = deps.store.incident(&id).await?;
    let catalog = deps.catalog.load().await?;
    let signals = deps.store.signals(&id).await?;
    let first = signals.iter().map(|s| &s.signal).min_by_key(|s| (s.at, s.key.clone()));
    let decision = triage::decide(&catalog, &incident, first);
    deps.store
        .update_incident(&id, |i| {
            triage::apply(i, &decision);
            Ok(())
        })
        .await?;
    let severity = decision.assessment.severity;
    let text = format!(
        "{severity}, owner {}: {}; {}",
        decision.owner,
        decision.owner_reason,
        decision.assessment.reasons.join("; ")
    );
    deps.store
        .append(&id, Entry::system("triage", EntryKind::Triaged, "triaged", text))
        .await?;
    if let Some(commander) = &decision.commander {
        let text = format!("incident commander: {commander}");
        deps.store
            .append(&id, Entry::system("triage", EntryKind::Triaged, "commander", text))
            .await?;
    }
    tracing::info!(incident = %id, %severity, owner = %decision.owner, "triaged");
    Ok(Output {
        incident_id: id,
        severity: severity.to_string(),
        owner: decision.owner,
        commander: decision.commander,
        ack_timeout_seconds: decision.ack_timeout_seconds,
    })
}
