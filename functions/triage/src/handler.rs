//! Reads the incident and the catalog, decides, records the decision and its reasons.

use incident_aws::lambda::HandlerError;
use incident_core::ports::{run_step, CatalogSource, IncidentStore};
use incident_core::timeline::{Entry, EntryKind};
use incident_core::triage;
use incident_core::IncidentId;
use serde::{Deserialize, Serialize};

pub struct Deps<S, C> {
    pub store: S,
    pub catalog: C,
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
    /// The rounds escalated before this run: a restarted run's escalation goes on from them.
    pub escalations: u32,
}

pub async fn handle<S: IncidentStore, C: CatalogSource>(
    deps: &Deps<S, C>,
    input: Input,
) -> Result<Output, HandlerError> {
    let id = input.incident_id;
    let incident = deps.store.incident(&id).await?;
    let catalog = deps.catalog.load().await?;
    let signals = deps.store.signals(&id).await?;
    let first = signals.iter().min_by_key(|s| (s.at, s.key.clone()));
    let decision = triage::decide(&catalog, &incident, first);
    let severity = decision.assessment.severity;
    let text = format!(
        "{severity}, owner {}: {}; {}",
        decision.owner,
        decision.owner_reason,
        decision.assessment.reasons.join("; ")
    );
    let mut entries = vec![Entry::system("triage", EntryKind::Triaged, "triaged", text)];
    if let Some(commander) = &decision.commander {
        let text = format!("incident commander: {commander}");
        entries.push(Entry::system("triage", EntryKind::Triaged, "commander", text));
    }
    run_step(&deps.store, &id, |i| {
        triage::apply(i, &decision);
        Ok(entries.clone())
    })
    .await?;
    tracing::info!(incident = %id, %severity, owner = %decision.owner, "triaged");
    Ok(Output {
        incident_id: id,
        severity: severity.to_string(),
        owner: decision.owner,
        commander: decision.commander,
        ack_timeout_seconds: decision.ack_timeout_seconds,
        escalations: incident.escalations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::catalog::Catalog;
    use incident_core::incident::{Incident, Scope, Status};
    use incident_core::memory::MemoryStore;
    use incident_core::timeline::EntryKind;
    use incident_core::SignalKey;

    fn catalog() -> Catalog {
        serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap()
    }

    /// A freshly opened incident of `service`, with the example catalog.
    fn open_incident(service: &str) -> (Deps<MemoryStore, Catalog>, IncidentId) {
        let id = IncidentId::for_service(service, &SignalKey::new("t", "1"));
        let incident = Incident::open(
            id.clone(),
            Scope::SingleService,
            vec![service.into()],
            chrono::Utc::now(),
        );
        let deps = Deps {
            store: MemoryStore::with([incident]),
            catalog: catalog(),
        };
        (deps, id)
    }

    async fn triage(deps: &Deps<MemoryStore, Catalog>, id: &IncidentId) -> Output {
        handle(
            deps,
            Input {
                incident_id: id.clone(),
            },
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn triage_records_owner_severity_commander_and_the_reasons() {
        let (deps, id) = open_incident("checkout");

        let out = triage(&deps, &id).await;

        assert_eq!((out.severity.as_str(), out.owner.as_str()), ("SEV2", "payments"));
        // payments' first stage waits 5 minutes, less than SEV2's 10.
        assert_eq!(out.ack_timeout_seconds, 300);
        let stored = deps.store.get(&id).unwrap();
        assert_eq!(stored.status, Status::Triaged);
        assert_eq!(stored.commander, out.commander);
        let timeline = deps.store.timeline(&id);
        let triaged: Vec<_> = timeline.iter().filter(|e| e.kind == EntryKind::Triaged).collect();
        assert_eq!(triaged.len(), 2, "severity with reasons, and the commander");
        assert!(triaged[0].text.contains("customer-facing"), "{}", triaged[0].text);
    }

    #[tokio::test]
    async fn a_retried_triage_writes_its_entries_once() {
        let (deps, id) = open_incident("orders");
        triage(&deps, &id).await;
        triage(&deps, &id).await;
        assert_eq!(
            deps.store.timeline(&id).len(),
            1,
            "SEV3 has no commander entry; the retry adds nothing"
        );
    }

    #[tokio::test]
    async fn an_unknown_incident_is_a_not_found_error() {
        let deps = Deps {
            store: MemoryStore::default(),
            catalog: catalog(),
        };
        let id = IncidentId::for_service("x", &SignalKey::new("t", "1"));
        let err = handle(&deps, Input { incident_id: id }).await.unwrap_err();
        assert_eq!(err.error_type(), "NotFound");
    }
}
