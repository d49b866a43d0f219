//! Getting a human: page the teams the plan names, watch the acknowledgement clock, escalate.

use chrono::Utc;
use incident_aws::lambda::HandlerError;
use incident_aws::metrics;
use incident_core::app_event::{AppEvent, Summary};
use incident_core::engagement;
use incident_core::ports::{run_step, CatalogSource, IncidentStore, Notifier};
use incident_core::timeline::{Entry, EntryKind};
use incident_core::updates;
use incident_core::IncidentId;
use serde::{Deserialize, Serialize};

pub struct Deps<S, C, N> {
    pub store: S,
    pub catalog: C,
    pub bus: N,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Input {
    /// Page every team the plan names and publish `Incident Engaged`.
    Engage { incident_id: IncidentId },
    /// Every poll of the acknowledgement clock: has anyone acknowledged, and is the time spent?
    CheckAck {
        incident_id: IncidentId,
        /// Waits counted since engagement or the last escalation.
        #[serde(default)]
        polls: u32,
        #[serde(default)]
        ack_timeout_seconds: u64,
    },
    /// Nobody acknowledged in time: page the escalation team and the commander.
    Escalate { incident_id: IncidentId },
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Output {
    pub incident_id: IncidentId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalations: Option<u32>,
    /// Acknowledgement clock: the time is spent, escalate now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate: Option<bool>,
    /// Acknowledgement clock: waits counted so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub polls: Option<u32>,
    /// Acknowledgement clock: look again after this many seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_check_seconds: Option<i64>,
}

impl Output {
    fn of(id: IncidentId) -> Self {
        Self {
            incident_id: id,
            acknowledged: None,
            escalations: None,
            escalate: None,
            polls: None,
            next_check_seconds: None,
        }
    }
}

impl<S, C, N> Deps<S, C, N>
where
    S: IncidentStore,
    C: CatalogSource,
    N: Notifier,
{
    pub async fn handle(&self, input: Input) -> Result<Output, HandlerError> {
        match input {
            Input::Engage { incident_id } => self.engage(incident_id).await,
            Input::CheckAck {
                incident_id,
                polls,
                ack_timeout_seconds,
            } => {
                let incident = self.store.incident(&incident_id).await?;
                let acknowledged = incident.acknowledged_at.is_some() || incident.status.is_closed();
                if let Some(secs) = incident.time_to_acknowledge_secs().filter(|_| acknowledged) {
                    metrics::emit("TimeToAcknowledge", secs, &incident);
                }
                let clock = engagement::ack_clock(polls, ack_timeout_seconds);
                Ok(Output {
                    acknowledged: Some(acknowledged),
                    escalate: Some(!acknowledged && clock.escalate),
                    polls: Some(clock.polls),
                    next_check_seconds: Some(clock.wait_seconds as i64),
                    ..Output::of(incident_id)
                })
            }
            Input::Escalate { incident_id } => self.escalate(incident_id).await,
        }
    }

    async fn engage(&self, id: IncidentId) -> Result<Output, HandlerError> {
        let incident = self.store.incident(&id).await?;
        let catalog = self.catalog.load().await?;
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
        let mut entries = Vec::new();
        for team in &plan.teams {
            // One team's unreachable topic must not keep the others from being paged: record it.
            let paged = match &team.target {
                Some(topic) => match self.bus.page(topic, &subject, &message).await {
                    Ok(()) => format!("paged via {topic}"),
                    Err(e) => {
                        tracing::warn!(incident = %id, team = %team.team, error = %e, "paging failed");
                        format!("PAGING FAILED via {topic}: {e}")
                    }
                },
                None => "no notification target in the catalog: not paged".to_string(),
            };
            let text = format!("engaged {} ({}); {paged}", team.team, team.reason);
            let key = format!("engaged-{}", team.team);
            entries.push(Entry::system("engage", EntryKind::Engaged, key, text));
        }
        let mut customer_update_draft = None;
        if incident.customer_facing {
            // Customers hear from us early: a generic first update, ready for support to publish.
            let draft = updates::first_draft(&incident);
            let text = format!(
                "customer update drafted, not yet published: \"{draft}\" (publish: incidentctl update {id} --draft)"
            );
            entries.push(Entry::system(
                "engage",
                EntryKind::CustomerUpdate,
                "customer-update-draft",
                text,
            ));
            customer_update_draft = Some(draft);
        }
        let teams: Vec<String> = plan.teams.iter().map(|t| t.team.clone()).collect();
        let updated = run_step(&self.store, &id, |i| {
            engagement::record_engaged(i, &teams, Utc::now());
            Ok(entries.clone())
        })
        .await?;
        if let Some(secs) = updated.time_to_engage_secs() {
            metrics::emit("TimeToEngage", secs, &updated);
        }
        metrics::emit("TimeToDetect", updated.time_to_detect_secs(), &updated);
        let event = AppEvent::IncidentEngaged {
            summary: Summary::of(&updated),
            teams: plan.teams.clone(),
            ack_minutes: plan.ack_minutes,
            customer_update_draft,
        };
        self.bus.emit(&event).await?;
        tracing::info!(incident = %id, teams = teams.len(), "engaged");
        Ok(Output::of(id))
    }

    async fn escalate(&self, id: IncidentId) -> Result<Output, HandlerError> {
        let catalog = self.catalog.load().await?;
        let incident = self.store.incident(&id).await?;
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
            if let Err(e) = self
                .bus
                .page(topic, &subject, &format!("{text}\nAcknowledge: incidentctl ack {id}"))
                .await
            {
                tracing::warn!(incident = %id, error = %e, "escalation paging failed");
            }
        }
        let entry = Entry::system("engage", EntryKind::Escalated, format!("escalation-{round}"), text);
        let updated = run_step(&self.store, &id, |i| {
            engagement::record_escalation(i, round);
            Ok(vec![entry.clone()])
        })
        .await?;
        let event = AppEvent::IncidentEscalated {
            summary: Summary::of(&updated),
            escalation: round,
            escalated_to: plan.escalation_team.clone(),
            reason: "no acknowledgement".into(),
        };
        self.bus.emit(&event).await?;
        Ok(Output {
            escalations: Some(updated.escalations),
            ..Output::of(id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::catalog::Catalog;
    use incident_core::incident::Status;
    use incident_core::incident::{Incident, Scope};
    use incident_core::memory::{MemoryNotifier, MemoryStore};
    use incident_core::severity::Severity;
    use incident_core::SignalKey;

    const PAYMENTS: &str = "arn:aws:sns:us-east-1:000000000000:incident-loop-payments";
    const SUPPORT: &str = "arn:aws:sns:us-east-1:000000000000:incident-loop-customer-support";
    const RESPONSE: &str = "arn:aws:sns:us-east-1:000000000000:incident-loop-incident-response";

    type TestDeps = Deps<MemoryStore, Catalog, MemoryNotifier>;

    fn deps(notifier: MemoryNotifier) -> (TestDeps, IncidentId) {
        let id = IncidentId::for_service("checkout", &SignalKey::new("t", "1"));
        let mut incident = Incident::open(id.clone(), Scope::SingleService, vec!["checkout".into()], Utc::now());
        incident.owner = Some("payments".into());
        incident.severity = Some(Severity::Sev2);
        incident.customer_facing = true;
        incident.status = Status::Triaged;
        let deps = Deps {
            store: MemoryStore::with([incident]),
            catalog: serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap(),
            bus: notifier,
        };
        (deps, id)
    }

    #[tokio::test]
    async fn engaging_pages_every_team_records_it_and_announces_it() {
        let (d, id) = deps(MemoryNotifier::default());
        d.handle(Input::Engage {
            incident_id: id.clone(),
        })
        .await
        .unwrap();
        assert_eq!(d.bus.paged(), [PAYMENTS, SUPPORT]);
        let stored = d.store.get(&id).unwrap();
        assert_eq!(stored.status, Status::Engaged);
        assert_eq!(stored.engaged_teams, ["payments", "customer-support"]);
        assert!(stored.engaged_at.is_some());
        let engaged = d.bus.events_of("Incident Engaged");
        assert_eq!(engaged.len(), 1);
        assert_eq!(engaged[0]["teams"][0]["team"], "payments");
    }

    #[tokio::test]
    async fn one_unreachable_topic_is_recorded_and_does_not_stop_the_other_pages() {
        let notifier = MemoryNotifier {
            failing: [PAYMENTS.to_string()].into(),
            ..MemoryNotifier::default()
        };
        let (d, id) = deps(notifier);
        d.handle(Input::Engage {
            incident_id: id.clone(),
        })
        .await
        .unwrap();
        assert_eq!(d.bus.paged(), [SUPPORT]);
        let timeline = d.store.timeline(&id);
        assert!(
            timeline.iter().any(|e| e.text.contains("PAGING FAILED")),
            "{timeline:#?}"
        );
    }

    #[tokio::test]
    async fn unacknowledged_incidents_escalate_to_incident_response_and_count_the_rounds() {
        let (d, id) = deps(MemoryNotifier::default());
        let ack = d
            .handle(Input::CheckAck {
                incident_id: id.clone(),
                polls: 1,
                ack_timeout_seconds: 300,
            })
            .await
            .unwrap();
        assert_eq!(ack.acknowledged, Some(false));
        assert_eq!(
            (ack.escalate, ack.polls),
            (Some(false), Some(2)),
            "not yet: 60 of 300 s"
        );
        let spent = d
            .handle(Input::CheckAck {
                incident_id: id.clone(),
                polls: 5,
                ack_timeout_seconds: 300,
            })
            .await
            .unwrap();
        assert_eq!(spent.escalate, Some(true));
        let first = d
            .handle(Input::Escalate {
                incident_id: id.clone(),
            })
            .await
            .unwrap();
        let second = d
            .handle(Input::Escalate {
                incident_id: id.clone(),
            })
            .await
            .unwrap();
        assert_eq!((first.escalations, second.escalations), (Some(1), Some(2)));
        assert_eq!(d.bus.paged(), [RESPONSE, RESPONSE]);
        assert_eq!(d.bus.events_of("Incident Escalated").len(), 2);
        let escalated = d
            .store
            .timeline(&id)
            .into_iter()
            .filter(|e| e.kind == EntryKind::Escalated)
            .count();
        assert_eq!(escalated, 2);
    }

    #[tokio::test]
    async fn an_acknowledged_incident_stops_escalating() {
        let (d, id) = deps(MemoryNotifier::default());
        d.store.alter(&id, |i| {
            i.acknowledged_at = Some(Utc::now());
        });
        let ack = d
            .handle(Input::CheckAck {
                incident_id: id,
                polls: 9,
                ack_timeout_seconds: 300,
            })
            .await
            .unwrap();
        assert_eq!((ack.acknowledged, ack.escalate), (Some(true), Some(false)));
    }

    #[tokio::test]
    async fn a_customer_facing_incident_gets_a_first_update_drafted_on_engagement() {
        let (d, id) = deps(MemoryNotifier::default());
        d.handle(Input::Engage {
            incident_id: id.clone(),
        })
        .await
        .unwrap();
        let draft = d
            .store
            .timeline(&id)
            .into_iter()
            .find(|e| e.key == "customer-update-draft")
            .unwrap();
        assert_eq!(draft.kind, EntryKind::CustomerUpdate);
        assert!(
            draft.text.contains("We are investigating increased error rates"),
            "{}",
            draft.text
        );
        let engaged = d.bus.events_of("Incident Engaged");
        assert!(engaged[0]["customer_update_draft"]
            .as_str()
            .unwrap()
            .contains("checkout"));
    }
}
