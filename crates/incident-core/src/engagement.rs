//! Who to engage, who leads, and how long to wait for an acknowledgement.

use crate::catalog::Catalog;
use crate::incident::{Incident, Scope, Status};
use crate::severity::Severity;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngagedTeam {
    pub team: String,
    /// Why this team, for the timeline.
    pub reason: String,
    /// The SNS topic to page, when the catalog has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub teams: Vec<EngagedTeam>,
    /// The incident commander (call leader), for SEV1–2 and multi-service events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commander: Option<String>,
    pub ack_minutes: u32,
    /// Who is paged when nobody acknowledges in time.
    pub escalation_team: String,
}

/// What a paged person receives: an SNS subject (one line, under 100 characters) and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub subject: String,
    pub message: String,
}

fn exercise_line(incident: &Incident) -> &'static str {
    if incident.exercise {
        "GAME DAY: a rehearsal, not a real incident.\n"
    } else {
        ""
    }
}

/// What a paged person must know beyond the title: where it happened, what flaps, what AWS says.
fn context_lines(incident: &Incident) -> String {
    let mut text = String::new();
    if let Some(l) = &incident.location {
        text.push_str(&format!("Account: {}\n", l.describe()));
    }
    if !incident.flapping.is_empty() {
        text.push_str(&format!(
            "Flapping: {} (their further state changes page nobody)\n",
            incident.flapping.join(", ")
        ));
    }
    for e in &incident.aws_events {
        text.push_str(&format!("AWS-side: {e}\n"));
    }
    text
}

/// The page of an engagement: severity, title, the first signal, the commander and the command
/// that acknowledges. Game days say so in the subject and first line.
pub fn page(incident: &Incident, commander: Option<&str>) -> Page {
    let head = format!(
        "[{}{}] {}",
        incident.severity.map(|s| s.to_string()).unwrap_or_default(),
        if incident.exercise { " GAME DAY" } else { "" },
        incident.title
    );
    let message = format!(
        "{head}\n{}Incident: {}\nFirst signal: {}\n{}Commander: {}\nAcknowledge: incidentctl ack {}",
        exercise_line(incident),
        incident.id,
        incident.first_signal,
        context_lines(incident),
        commander.unwrap_or("none"),
        incident.id
    );
    Page {
        subject: crate::text::subject(&head),
        message,
    }
}

/// The page of escalation round `round`, saying `why`.
pub fn escalation_page(incident: &Incident, round: u32, why: &str) -> Page {
    let exercise = if incident.exercise { " GAME DAY" } else { "" };
    Page {
        subject: crate::text::subject(&format!(
            "ESCALATION {round}{exercise}: {} unacknowledged",
            incident.title
        )),
        message: format!(
            "{}{why}\n{}Acknowledge: incidentctl ack {}",
            exercise_line(incident),
            context_lines(incident),
            incident.id
        ),
    }
}

/// Plans engagement for a triaged incident.
pub fn plan(catalog: &Catalog, incident: &Incident) -> Plan {
    let settings = &catalog.settings;
    let mut teams: Vec<EngagedTeam> = Vec::new();
    let mut add = |team: &str, reason: String, target: Option<&str>| {
        if !teams.iter().any(|t| t.team == team) {
            let target = target.or_else(|| catalog.team_target(team)).map(str::to_string);
            teams.push(EngagedTeam {
                team: team.to_string(),
                reason,
                target,
            });
        }
    };
    match incident.scope {
        Scope::SingleService => {
            let service = incident.services.first().and_then(|s| catalog.service(s));
            let owner = incident.owner.clone().unwrap_or_else(|| settings.default_owner.clone());
            let reason = match service {
                Some(s) => format!("owns {}", s.name),
                None => "default owner: the service is not in the catalog".to_string(),
            };
            add(&owner, reason, service.and_then(|s| s.notification_target.as_deref()));
            if incident.customer_facing || incident.customer_detected {
                add(&settings.support_team, "customers are affected".into(), None);
            }
        }
        Scope::MultiService => {
            add(&settings.incident_response_team, "multi-service event".into(), None);
            add(
                &settings.support_team,
                "multi-service event: customers are likely affected".into(),
                None,
            );
            for suspect in &settings.usual_suspects {
                if let Some(s) = catalog.service(suspect) {
                    add(
                        &s.owner,
                        format!("usual suspect: owns {}", s.name),
                        s.notification_target.as_deref(),
                    );
                }
            }
        }
    }
    let severity = incident.severity.unwrap_or(Severity::Sev3);
    let needs_commander = severity <= Severity::Sev2 || incident.scope == Scope::MultiService;
    let commander = needs_commander.then(|| pick_commander(catalog, incident)).flatten();
    // At least a minute: the acknowledgement wait's timeout must be positive.
    let ack_minutes = settings
        .ack_minutes
        .get(&severity.to_string())
        .copied()
        .unwrap_or(15)
        .max(1);
    Plan {
        teams,
        commander,
        ack_minutes,
        escalation_team: settings.incident_response_team.clone(),
    }
}

/// Draws a commander from the incident-response team, spread by incident id so that a storm of
/// incidents does not land on one person, and stable so that a retried triage picks the same one.
fn pick_commander(catalog: &Catalog, incident: &Incident) -> Option<String> {
    let members = &catalog.team(&catalog.settings.incident_response_team)?.members;
    if members.is_empty() {
        return None;
    }
    let digest = Sha256::digest(incident.id.as_str().as_bytes());
    let index = u64::from_be_bytes(digest[..8].try_into().ok()?) % members.len() as u64;
    members.get(index as usize).cloned()
}

/// The incident once its teams were paged: who was engaged, when first, and engaged unless someone
/// already acknowledged it or it closed.
pub fn record_engaged(incident: &mut Incident, teams: &[String], now: chrono::DateTime<chrono::Utc>) {
    incident.engaged_teams = teams.to_vec();
    incident.engaged_at.get_or_insert(now);
    if matches!(incident.status, Status::Open | Status::Triaged) {
        incident.status = Status::Engaged;
    }
}

/// Whether an earlier attempt or run of the lifecycle engaged the incident's teams already, or it
/// closed: nobody is paged again (escalation still does).
pub fn engaged_before(incident: &Incident) -> bool {
    incident.engaged_at.is_some() || incident.status.is_closed()
}

/// Escalation rounds after which nobody is paged again for an unacknowledged incident (the
/// lifecycle's `KeepEscalating?` stops its loop at the same count; a continued run waits once more
/// and stops there).
pub const MAX_ESCALATIONS: u32 = 12;

/// Whether an escalation still has a reason to page: nobody acknowledged, the incident is open
/// (an acknowledgement can land just as the wait times out) and the rounds are not spent.
pub fn needs_escalation(incident: &Incident) -> bool {
    incident.acknowledged_at.is_none() && !incident.status.is_closed() && incident.escalations < MAX_ESCALATIONS
}

/// Escalation round `round` went out (a retried round counts once).
pub fn record_escalation(incident: &mut Incident, round: u32) {
    incident.escalations = incident.escalations.max(round);
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::incident::Status;
    use crate::{IncidentId, SignalKey};

    fn catalog() -> Catalog {
        serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap()
    }

    fn incident(scope: Scope, service: &str, severity: Severity, customer_facing: bool) -> Incident {
        let id = IncidentId::for_service(service, &SignalKey::new("t", service));
        let mut incident = Incident::open(id, scope, vec![service.into()], chrono::Utc::now());
        incident.status = Status::Triaged;
        incident.owner = catalog().service(service).map(|s| s.owner.clone());
        incident.severity = Some(severity);
        incident.customer_facing = customer_facing;
        incident
    }

    fn team_names(plan: &Plan) -> Vec<&str> {
        plan.teams.iter().map(|t| t.team.as_str()).collect()
    }

    #[test]
    fn a_customer_facing_single_service_incident_engages_its_owner_and_support() {
        let p = plan(
            &catalog(),
            &incident(Scope::SingleService, "checkout", Severity::Sev3, true),
        );
        assert_eq!(team_names(&p), ["payments", "customer-support"]);
        assert_eq!(p.commander, None);
        assert!(p.teams[0].target.as_deref().unwrap().starts_with("arn:aws:sns:"));
    }

    #[test]
    fn an_internal_single_service_incident_engages_only_its_owner() {
        let p = plan(
            &catalog(),
            &incident(Scope::SingleService, "reporting", Severity::Sev4, false),
        );
        assert_eq!(team_names(&p), ["analytics"]);
    }

    #[test]
    fn multi_service_events_engage_incident_response_support_and_the_usual_suspects_with_a_commander() {
        let p = plan(
            &catalog(),
            &incident(Scope::MultiService, "checkout", Severity::Sev2, true),
        );
        assert_eq!(
            team_names(&p),
            ["incident-response", "customer-support", "identity", "network"]
        );
        let catalog = catalog();
        let commanders = &catalog.team("incident-response").unwrap().members;
        assert!(commanders.contains(p.commander.as_ref().unwrap()));
    }

    #[test]
    fn sev1_and_sev2_get_a_commander_and_a_stable_one() {
        let i = incident(Scope::SingleService, "checkout", Severity::Sev1, true);
        let (a, b) = (plan(&catalog(), &i), plan(&catalog(), &i));
        assert!(a.commander.is_some());
        assert_eq!(a.commander, b.commander);
        assert_eq!(a.ack_minutes, 5);
    }

    #[test]
    fn a_page_fits_sns_and_says_when_it_is_a_rehearsal_and_what_flaps() {
        let mut i = crate::incident::checkout(Severity::Sev2, true);
        i.title = format!("checkout: {}\nInjected line", "x".repeat(300));
        i.exercise = true;
        i.flapping = vec!["checkout-api-5xx".into()];
        i.location = crate::account::Location::of(Some("111111111111"), Some("eu-west-1")).unwrap();
        let p = page(&i, Some("carol"));
        assert!(
            p.message.contains("\nAccount: 111111111111 in eu-west-1\n"),
            "{}",
            p.message
        );
        assert!(
            p.subject.chars().count() < 100 && !p.subject.contains('\n'),
            "{}",
            p.subject
        );
        assert!(p.subject.starts_with("[SEV2 GAME DAY]"), "{}", p.subject);
        assert!(p.message.contains("GAME DAY: a rehearsal, not a real incident."));
        assert!(p.message.contains("Flapping: checkout-api-5xx"));
        let e = escalation_page(&i, 2, "no acknowledgement within 10 minutes");
        assert!(e.subject.starts_with("ESCALATION 2 GAME DAY:") && e.subject.chars().count() < 100);
        i.exercise = false;
        i.flapping.clear();
        let real = page(&i, None);
        assert!(!real.message.contains("GAME DAY") && !real.message.contains("Flapping"));
    }
}
