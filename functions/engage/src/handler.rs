//! The engagement steps of the lifecycle, selected by `action`.

use chrono::Utc;
use incident_aws::lambda::HandlerError;
use incident_aws::metrics;
use incident_core::app_event::{AppEvent, Summary};
use incident_core::correlation::Policy;
use incident_core::effects::Waiting;
use incident_core::engagement;
use incident_core::incident::Status;
use incident_core::ports::{CatalogSource, IncidentStore, Notifier, TaskCallbacks, Tokens};
use incident_core::timeline::{Entry, EntryKind};
use incident_core::updates;
use incident_core::IncidentId;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub struct Deps<S, C, N, K> {
    pub store: S,
    pub catalog: C,
    pub bus: N,
    pub callbacks: K,
    pub policy: Policy,
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
    /// Keep the resolution callback's token server-side until `incidentctl resolve`.
    AwaitResolution { incident_id: IncidentId, token: String },
    /// After resolution: stop correlating into this incident and announce it.
    Close { incident_id: IncidentId },
    /// While a customer-facing incident is open: is a customer update overdue? Remind if so.
    CustomerUpdateDue { incident_id: IncidentId },
    /// The customer-update loop sleeps on this token until its timeout, or until a resolution
    /// completes it (`incidentctl resolve`).
    AwaitUpdateWindow { incident_id: IncidentId, token: String },
    /// A step failed after its retries and the loop went on without it: say so on the timeline.
    RecordFailure {
        incident_id: IncidentId,
        step: String,
        #[serde(default)]
        error: serde_json::Value,
    },
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
    /// Customer updates: nothing more to watch (closed, not customer-facing, no cadence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updates_done: Option<bool>,
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
            updates_done: None,
            next_check_seconds: None,
        }
    }
}

impl<S, C, N, K> Deps<S, C, N, K>
where
    S: IncidentStore + Tokens,
    C: CatalogSource,
    N: Notifier,
    K: TaskCallbacks,
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
            Input::CustomerUpdateDue { incident_id } => self.customer_update_due(incident_id).await,
            Input::AwaitResolution { incident_id, token } => {
                self.keep_token(incident_id, Waiting::Resolution, token).await
            }
            Input::AwaitUpdateWindow { incident_id, token } => {
                self.keep_token(incident_id, Waiting::UpdateWindow, token).await
            }
            Input::RecordFailure {
                incident_id,
                step,
                error,
            } => {
                let what = error["Error"].as_str().unwrap_or("unknown error");
                let cause = error["Cause"].as_str().unwrap_or_default();
                let cause: String = cause.chars().take(500).collect();
                let text = format!("{step} failed after retries ({what}): {cause}; the loop went on without it");
                let entry = Entry::system("lifecycle", EntryKind::StepFailed, format!("failed-{step}"), text);
                self.store.append(&incident_id, entry).await?;
                Ok(Output::of(incident_id))
            }
            Input::Close { incident_id } => {
                let incident = self.store.incident(&incident_id).await?;
                // Only a resolution closes an incident: announcing anything else would lie.
                if incident.status != Status::Resolved {
                    return Err(HandlerError::InvalidInput(format!(
                        "{incident_id} is {}, not resolved: it cannot be closed",
                        incident.status
                    )));
                }
                self.store.close_correlation(&incident, &self.policy).await?;
                self.bus
                    .emit(&AppEvent::IncidentResolved(Summary::of(&incident)))
                    .await?;
                Ok(Output::of(incident_id))
            }
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
            self.store
                .append(
                    &id,
                    Entry::system("engage", EntryKind::Engaged, format!("engaged-{}", team.team), text),
                )
                .await?;
        }
        let teams: Vec<String> = plan.teams.iter().map(|t| t.team.clone()).collect();
        let updated = self
            .store
            .update_incident(&id, |i| {
                engagement::record_engaged(i, &teams, Utc::now());
                Ok(())
            })
            .await?;
        if let Some(secs) = updated.time_to_engage_secs() {
            metrics::emit("TimeToEngage", secs, &updated);
        }
        metrics::emit("TimeToDetect", updated.time_to_detect_secs(), &updated);
        let mut customer_update_draft = None;
        if updated.customer_facing {
            // Customers hear from us early: a generic first update, ready for support to publish.
            let draft = updates::first_draft(&updated);
            let text = format!(
                "customer update drafted, not yet published: \"{draft}\" (publish: incidentctl update {id} --draft)"
            );
            let entry = Entry::system("engage", EntryKind::CustomerUpdate, "customer-update-draft", text);
            self.store.append(&id, entry).await?;
            customer_update_draft = Some(draft);
        }
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

    /// Keeps a task token server-side until a resolution (through the command API) completes it;
    /// if the incident was resolved before the token was kept, completes it at once.
    async fn keep_token(&self, id: IncidentId, task: Waiting, token: String) -> Result<Output, HandlerError> {
        self.store.keep(&id, &task.key(), &token).await?;
        let incident = self.store.incident(&id).await?;
        if incident.status == Status::Resolved {
            if let Some(token) = self.store.take(&id, &task.key()).await? {
                self.callbacks
                    .complete(&token, &json!({ "resolved_by": incident.resolved_by }))
                    .await?;
            }
        }
        Ok(Output::of(id))
    }

    async fn customer_update_due(&self, id: IncidentId) -> Result<Output, HandlerError> {
        let incident = self.store.incident(&id).await?;
        let watching = |done: bool| Output {
            updates_done: Some(done),
            ..Output::of(id.clone())
        };
        let sev = incident.severity.map(|s| s.to_string()).unwrap_or_default();
        let (since, text, done) = match updates::due(&incident, Utc::now()) {
            updates::Due::Done => return Ok(watching(true)),
            updates::Due::Wait(_) => return Ok(watching(false)),
            updates::Due::Overdue { since, cadence } => (
                since,
                format!(
                    "customer update overdue: {sev} calls for one every {} minutes, the last was at {} ({} updates so far)",
                    cadence.num_minutes(),
                    since.format("%H:%M:%S UTC"),
                    incident.customer_updates.len()
                ),
                false,
            ),
            updates::Due::Mitigated { at } => (
                at,
                format!(
                    "customer update due: mitigated at {}, and customers have not been told yet",
                    at.format("%H:%M:%S UTC")
                ),
                true,
            ),
        };
        // Remind once per missed update however often the workflow looks; the reminder is
        // recorded only after it went out, so a failed attempt is retried rather than lost.
        if incident.update_reminded_for != Some(since) {
            let catalog = self.catalog.load().await?;
            if let Some(topic) = catalog.team_target(&catalog.settings.support_team) {
                let subject = format!("Customer update due: {}", incident.title);
                let message = format!("{text}\nPublish: incidentctl update {id} \"what changed\"");
                if let Err(e) = self.bus.page(topic, &subject, &message).await {
                    tracing::warn!(incident = %id, error = %e, "update reminder page failed");
                }
            }
            let event = AppEvent::CustomerUpdateDue {
                summary: Summary::of(&incident),
                last_update_at: since,
                reason: text.clone(),
            };
            self.bus.emit(&event).await?;
            self.store
                .update_incident(&id, |i| {
                    updates::record_reminder(i, since);
                    Ok(())
                })
                .await?;
            let key = format!("customer-update-due-{}", since.timestamp());
            let entry = Entry::system("engage", EntryKind::CustomerUpdate, key, text);
            self.store.append(&id, entry).await?;
        }
        Ok(watching(done))
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
        self.store
            .append(
                &id,
                Entry::system("engage", EntryKind::Escalated, format!("escalation-{round}"), text),
            )
            .await?;
        let updated = self
            .store
            .update_incident(&id, |i| {
                engagement::record_escalation(i, round);
                Ok(())
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
    use incident_core::incident::{Incident, Scope};
    use incident_core::memory::{MemoryLoop, MemoryNotifier, MemoryStore};
    use incident_core::severity::Severity;
    use incident_core::SignalKey;

    const PAYMENTS: &str = "arn:aws:sns:us-east-1:000000000000:incident-loop-payments";
    const SUPPORT: &str = "arn:aws:sns:us-east-1:000000000000:incident-loop-customer-support";
    const RESPONSE: &str = "arn:aws:sns:us-east-1:000000000000:incident-loop-incident-response";

    type TestDeps = Deps<MemoryStore, Catalog, MemoryNotifier, MemoryLoop>;

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
            callbacks: MemoryLoop::default(),
            policy: Policy::default(),
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
        d.store
            .update_incident(&id, |i| {
                i.acknowledged_at = Some(Utc::now());
                Ok(())
            })
            .await
            .unwrap();
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
    async fn the_resolution_and_update_tokens_are_kept_and_completed_at_once_if_already_resolved() {
        let (d, id) = deps(MemoryNotifier::default());
        let wait = |kind: &str, token: &str| match kind {
            "resolve" => Input::AwaitResolution {
                incident_id: id.clone(),
                token: token.into(),
            },
            _ => Input::AwaitUpdateWindow {
                incident_id: id.clone(),
                token: token.into(),
            },
        };
        for kind in ["resolve", "updates"] {
            d.handle(wait(kind, &format!("{kind}-1"))).await.unwrap();
            assert_eq!(d.store.token(&id, kind), Some(format!("{kind}-1")));
        }
        assert!(d.callbacks.completed.lock().unwrap().is_empty());

        d.store
            .update_incident(&id, |i| {
                i.status = Status::Resolved;
                Ok(())
            })
            .await
            .unwrap();
        for kind in ["resolve", "updates"] {
            d.handle(wait(kind, &format!("{kind}-2"))).await.unwrap();
            assert_eq!(d.store.token(&id, kind), None);
        }
        let completed: Vec<String> = d
            .callbacks
            .completed
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.0.clone())
            .collect();
        assert_eq!(completed, ["resolve-2", "updates-2"]);
    }

    #[tokio::test]
    async fn a_failed_step_is_recorded_on_the_timeline() {
        let (d, id) = deps(MemoryNotifier::default());
        let error = json!({ "Error": "Sandbox.Timedout", "Cause": "Task timed out after 180 seconds" });
        let input = Input::RecordFailure {
            incident_id: id.clone(),
            step: "evidence capture (opening)".into(),
            error,
        };
        d.handle(input).await.unwrap();
        let entry = d
            .store
            .timeline(&id)
            .into_iter()
            .find(|e| e.kind == EntryKind::StepFailed)
            .unwrap();
        assert!(
            entry
                .text
                .contains("evidence capture (opening) failed after retries (Sandbox.Timedout)"),
            "{}",
            entry.text
        );
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

    #[tokio::test]
    async fn a_missed_update_cadence_reminds_support_once_and_says_when_to_look_again() {
        let (d, id) = deps(MemoryNotifier::default());
        let change = |f: fn(&mut Incident)| {
            let (d, id) = (&d, &id);
            async move {
                d.store
                    .update_incident(id, |i| {
                        f(i);
                        Ok(())
                    })
                    .await
                    .unwrap();
            }
        };
        let check = || {
            d.handle(Input::CustomerUpdateDue {
                incident_id: id.clone(),
            })
        };
        let reminders = || d.bus.events_of("Customer Update Due").len();

        change(|i| i.engaged_at = Some(Utc::now() - chrono::TimeDelta::minutes(61))).await;
        let out = check().await.unwrap();
        assert_eq!(out.updates_done, Some(false));
        assert_eq!(d.bus.paged(), [SUPPORT]);
        assert_eq!(reminders(), 1);
        check().await.unwrap();
        assert_eq!(reminders(), 1, "one reminder per missed update");

        change(|i| {
            updates::publish(i, "We found the cause and are rolling back.", "sam", Utc::now()).unwrap();
        })
        .await;
        check().await.unwrap();
        assert_eq!(reminders(), 1, "a fresh update resets the cadence");

        change(|i| i.mitigated_at = Some(Utc::now())).await;
        let out = check().await.unwrap();
        assert_eq!(
            out.updates_done,
            Some(true),
            "mitigated: one last reminder, then the cadence ends"
        );
        assert_eq!(reminders(), 2);
        let last = d.bus.events_of("Customer Update Due").pop().unwrap();
        assert!(last["reason"].as_str().unwrap().contains("mitigated at"), "{last}");

        change(|i| i.status = Status::Resolved).await;
        assert_eq!(check().await.unwrap().updates_done, Some(true));
        assert_eq!(reminders(), 2);
    }

    #[tokio::test]
    async fn closing_announces_the_resolution_and_refuses_an_unresolved_incident() {
        let (d, id) = deps(MemoryNotifier::default());
        let close = || {
            d.handle(Input::Close {
                incident_id: id.clone(),
            })
        };
        let refused = close().await.unwrap_err();
        assert!(refused.to_string().contains("not resolved"), "{refused}");
        assert!(d.bus.events_of("Incident Resolved").is_empty());
        d.store
            .update_incident(&id, |i| {
                i.status = Status::Resolved;
                Ok(())
            })
            .await
            .unwrap();
        close().await.unwrap();
        let resolved = d.bus.events_of("Incident Resolved");
        assert_eq!(resolved[0]["incident_id"], id.as_str());
    }
}
