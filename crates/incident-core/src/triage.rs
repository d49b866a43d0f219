//! Triage: owner, severity and commander for an opened incident, each with its reason.

use crate::catalog::Catalog;
use crate::engagement;
use crate::incident::{Incident, Scope, Status};
use crate::severity::{self, Assessment, Facts};
use crate::signal::Signal;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub owner: String,
    pub owner_reason: String,
    pub assessment: Assessment,
    pub customer_facing: bool,
    pub commander: Option<String>,
    /// Seconds to wait for an acknowledgement before escalating.
    pub ack_timeout_seconds: u32,
}

/// Decides triage for `incident`, whose earliest signal is `first`.
pub fn decide(catalog: &Catalog, incident: &Incident, first: Option<&Signal>) -> Decision {
    let services: Vec<_> = incident.services.iter().filter_map(|s| catalog.service(s)).collect();
    let (owner, owner_reason) = match (incident.scope, services.first()) {
        (Scope::MultiService, _) => (
            catalog.settings.incident_response_team.clone(),
            "multi-service events are led by incident response".into(),
        ),
        (Scope::SingleService, Some(s)) => (s.owner.clone(), format!("{} owns {}", s.owner, s.name)),
        (Scope::SingleService, None) => (
            catalog.settings.default_owner.clone(),
            format!(
                "service '{}' is not in the catalog: routed to the default owner and flagged",
                incident.services.first().map(String::as_str).unwrap_or("?")
            ),
        ),
    };
    let customer_facing = services.iter().any(|s| s.customer_facing);
    let facts = Facts {
        tier: services.iter().map(|s| s.tier).min(),
        customer_facing,
        customer_detected: incident.customer_detected,
        multi_service: incident.scope == Scope::MultiService,
        source: first.map(|s| s.source),
        alarm_kind: first.and_then(|s| s.alarm.as_ref()).map(|a| a.kind),
        exercise: incident.exercise,
    };
    let assessment = severity::assess(&facts);
    let mut triaged = incident.clone();
    triaged.severity = Some(assessment.severity);
    triaged.customer_facing = customer_facing;
    triaged.owner = Some(owner.clone());
    let plan = engagement::plan(catalog, &triaged);
    Decision {
        owner,
        owner_reason,
        assessment,
        customer_facing,
        commander: plan.commander,
        ack_timeout_seconds: plan.ack_minutes.saturating_mul(60),
    }
}

/// Applies a decision to the record.
pub fn apply(incident: &mut Incident, decision: &Decision) {
    incident.owner = Some(decision.owner.clone());
    incident.severity = Some(decision.assessment.severity);
    incident.customer_facing = decision.customer_facing;
    incident.commander = decision.commander.clone();
    if incident.status == Status::Open {
        incident.status = Status::Triaged;
    }
}
