//! Triage: owner, severity and commander for an opened incident, each with its reason.

use crate::account::Location;
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
    /// Where it happened, named as the catalog names the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
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
        location: incident.location.clone().map(|l| {
            let account = catalog.account(&l);
            l.named(account)
        }),
    }
}

/// Applies a decision to the record.
pub fn apply(incident: &mut Incident, decision: &Decision) {
    incident.owner = Some(decision.owner.clone());
    incident.severity = Some(decision.assessment.severity);
    incident.customer_facing = decision.customer_facing;
    incident.commander = decision.commander.clone();
    if decision.location.is_some() {
        incident.location = decision.location.clone();
    }
    if incident.status == Status::Open {
        incident.status = Status::Triaged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::severity::Severity;
    use crate::signal::{Health, SignalSource};
    use crate::{IncidentId, SignalKey};
    use chrono::Utc;

    fn catalog() -> Catalog {
        serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap()
    }

    fn incident(scope: Scope, services: &[&str], customer_detected: bool) -> Incident {
        let services = services.iter().map(|s| s.to_string()).collect();
        let mut incident = Incident::open(
            IncidentId::for_service("t", &SignalKey::new("t", "1")),
            scope,
            services,
            Utc::now(),
        );
        incident.customer_detected = customer_detected;
        incident
    }

    fn report() -> Signal {
        Signal {
            key: SignalKey::new("incident-loop.customer", "r1"),
            source: SignalSource::CustomerReport,
            health: Health::Impaired,
            resource: "customer report r1".into(),
            at: Utc::now(),
            reason: "cannot pay".into(),
            service_hint: Some("checkout".into()),
            exercise: false,
            live_runbooks: false,
            location: None,
            alarm: None,
            link: None,
            reporter: None,
            quiet: None,
            time_note: None,
            aws: None,
        }
    }

    #[test]
    fn a_known_service_is_owned_by_its_team_and_its_severity_follows_the_rules() {
        let d = decide(&catalog(), &incident(Scope::SingleService, &["orders"], false), None);
        assert_eq!(d.owner, "fulfilment");
        assert_eq!(d.assessment.severity, Severity::Sev3, "{:?}", d.assessment.reasons);
        assert!(d.customer_facing);
        assert_eq!(d.commander, None);
        assert_eq!(d.ack_timeout_seconds, 15 * 60);
    }

    #[test]
    fn a_customer_detected_tier_1_incident_is_sev1_with_a_commander_and_the_shortest_ack_time() {
        let d = decide(
            &catalog(),
            &incident(Scope::SingleService, &["checkout"], true),
            Some(&report()),
        );
        assert_eq!(d.assessment.severity, Severity::Sev1);
        assert!(d.commander.is_some());
        assert_eq!(d.ack_timeout_seconds, 5 * 60);
    }

    #[test]
    fn the_incident_is_placed_in_its_account_as_the_catalog_names_it() {
        let mut i = incident(Scope::SingleService, &["reporting"], false);
        i.location = crate::account::Location::of(Some("111111111111"), Some("us-east-1")).unwrap();
        let d = decide(&catalog(), &i, None);
        apply(&mut i, &d);
        let at = i.location.expect("placed");
        assert_eq!(at.describe(), "111111111111 (reporting-prod, production) in us-east-1");
        let mut elsewhere = incident(Scope::SingleService, &["reporting"], false);
        elsewhere.location = crate::account::Location::of(Some("333333333333"), Some("us-east-1")).unwrap();
        let d = decide(&catalog(), &elsewhere, None);
        assert_eq!(
            d.location.unwrap().describe(),
            "333333333333 in us-east-1",
            "not in the catalog"
        );
    }

    #[test]
    fn an_unknown_service_goes_to_the_default_owner_with_the_reason() {
        let d = decide(
            &catalog(),
            &incident(Scope::SingleService, &["unmapped/x"], false),
            None,
        );
        assert_eq!(d.owner, "platform-oncall");
        assert!(d.owner_reason.contains("not in the catalog"));
        assert_eq!(d.assessment.severity, Severity::Sev4);
    }

    #[test]
    fn a_multi_service_event_is_led_by_incident_response() {
        let d = decide(
            &catalog(),
            &incident(Scope::MultiService, &["orders", "reporting"], false),
            None,
        );
        assert_eq!(d.owner, "incident-response");
        assert_eq!(d.assessment.severity, Severity::Sev2);
        assert!(d.commander.is_some());
    }

    #[test]
    fn applying_a_decision_moves_an_open_incident_to_triaged() {
        let mut i = incident(Scope::SingleService, &["orders"], false);
        let d = decide(&catalog(), &i, None);
        apply(&mut i, &d);
        assert_eq!(
            (i.status, i.owner.as_deref(), i.severity),
            (Status::Triaged, Some("fulfilment"), Some(Severity::Sev3))
        );
    }
}
