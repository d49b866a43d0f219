//! Keeping customers informed while an incident is open: reminds support when an update is
//! overdue, and sleeps the reminder loop on a task token that a resolution completes.

use chrono::{DateTime, Utc};
use incident_aws::lambda::HandlerError;
use incident_core::app_event::{AppEvent, Summary};
use incident_core::effects::Waiting;
use incident_core::ports::{keep_waiting, run_step, CatalogSource, IncidentStore, Notifier, TaskCallbacks, Tokens};
use incident_core::timeline::{Entry, EntryKind};
use incident_core::IncidentId;
use incident_core::{reconcile, updates};
use serde::{Deserialize, Serialize};

pub struct Deps<S, C, N, K> {
    pub store: S,
    pub catalog: C,
    pub bus: N,
    pub callbacks: K,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Input {
    /// While a customer-facing incident is open: is a customer update overdue? Remind if so.
    CustomerUpdateDue {
        incident_id: IncidentId,
        /// When this lifecycle run started: past its span, the run continues in a fresh one.
        #[serde(default)]
        run_started: Option<DateTime<Utc>>,
    },
    /// The reminder loop sleeps on this token until its timeout, or until a resolution completes it.
    AwaitUpdateWindow { incident_id: IncidentId, token: String },
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Output {
    pub incident_id: IncidentId,
    /// Nothing more to watch (closed, not customer-facing, no cadence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updates_done: Option<bool>,
    /// When the reminder loop looks again (the wait's timeout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_check_seconds: Option<i64>,
    /// This run reached its span: the lifecycle continues in a fresh run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continue_lifecycle: Option<bool>,
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
            Input::CustomerUpdateDue {
                incident_id,
                run_started,
            } => self.customer_update_due(incident_id, run_started).await,
            Input::AwaitUpdateWindow { incident_id, token } => {
                keep_waiting(
                    &self.store,
                    &self.callbacks,
                    &incident_id,
                    &Waiting::UpdateWindow,
                    &token,
                )
                .await?;
                Ok(Output {
                    incident_id,
                    updates_done: None,
                    next_check_seconds: None,
                    continue_lifecycle: None,
                })
            }
        }
    }

    async fn customer_update_due(
        &self,
        id: IncidentId,
        run_started: Option<DateTime<Utc>>,
    ) -> Result<Output, HandlerError> {
        let incident = self.store.incident(&id).await?;
        let now = Utc::now();
        let due = updates::due(&incident, now);
        let continuing = run_started.is_some_and(|started| reconcile::should_continue(started, now));
        let watching = |done: bool| Output {
            incident_id: id.clone(),
            updates_done: Some(done),
            next_check_seconds: Some(due.look_again_in_seconds()),
            continue_lifecycle: Some(continuing && !done),
        };
        let sev = incident.severity.map(|s| s.to_string()).unwrap_or_default();
        let (since, text, done) = match &due {
            updates::Due::Done => return Ok(watching(true)),
            updates::Due::Wait(_) => return Ok(watching(false)),
            updates::Due::Overdue { since, cadence } => (
                *since,
                format!(
                    "customer update overdue: {sev} calls for one every {} minutes, the last was at {} ({} updates so far)",
                    cadence.num_minutes(),
                    since.format("%H:%M:%S UTC"),
                    incident.customer_updates.len()
                ),
                false,
            ),
            updates::Due::Mitigated { at } => (
                *at,
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
            let key = format!("customer-update-due-{}", since.timestamp());
            let entry = Entry::system("engage", EntryKind::CustomerUpdate, key, text);
            run_step(&self.store, &id, |i| {
                updates::record_reminder(i, since);
                Ok(vec![entry.clone()])
            })
            .await?;
        }
        Ok(watching(done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::incident::{Incident, Scope, Status};
    use incident_core::memory::{MemoryLoop, MemoryNotifier, MemoryStore};
    use incident_core::severity::Severity;
    use incident_core::SignalKey;

    const SUPPORT: &str = "arn:aws:sns:us-east-1:000000000000:incident-loop-customer-support";

    type TestDeps = Deps<MemoryStore, incident_core::catalog::Catalog, MemoryNotifier, MemoryLoop>;

    fn deps() -> (TestDeps, IncidentId) {
        let id = IncidentId::for_service("checkout", &SignalKey::new("t", "1"));
        let mut incident = Incident::open(id.clone(), Scope::SingleService, vec!["checkout".into()], Utc::now());
        incident.owner = Some("payments".into());
        incident.severity = Some(Severity::Sev2);
        incident.customer_facing = true;
        incident.status = Status::Engaged;
        let deps = Deps {
            store: MemoryStore::with([incident]),
            catalog: serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap(),
            bus: MemoryNotifier::default(),
            callbacks: MemoryLoop::default(),
        };
        (deps, id)
    }

    #[tokio::test]
    async fn a_missed_update_cadence_reminds_support_once_and_says_when_to_look_again() {
        let (d, id) = deps();
        let change = |f: fn(&mut Incident)| {
            let (d, id) = (&d, &id);
            async move {
                d.store.alter(id, f);
            }
        };
        let check = || {
            d.handle(Input::CustomerUpdateDue {
                incident_id: id.clone(),
                run_started: None,
            })
        };
        let reminders = || d.bus.events_of("Customer Update Due").len();

        change(|i| i.engaged_at = Some(Utc::now() - chrono::TimeDelta::minutes(61))).await;
        let out = check().await.unwrap();
        assert_eq!(out.updates_done, Some(false));
        assert_eq!(
            out.next_check_seconds,
            Some(60 * 60),
            "SEV2's cadence: look again in an hour"
        );
        assert_eq!(d.bus.paged(), [SUPPORT]);
        assert_eq!(reminders(), 1);
        check().await.unwrap();
        assert_eq!(reminders(), 1, "one reminder per missed update");

        change(|i| {
            updates::publish(i, "We found the cause and are rolling back.", "sam", Utc::now()).unwrap();
        })
        .await;
        let fresh = check().await.unwrap();
        assert_eq!(reminders(), 1, "a fresh update resets the cadence");
        assert_eq!(fresh.continue_lifecycle, Some(false));
        let week_old = d
            .handle(Input::CustomerUpdateDue {
                incident_id: id.clone(),
                run_started: Some(Utc::now() - incident_core::reconcile::RUN_SPAN),
            })
            .await
            .unwrap();
        assert_eq!(
            week_old.continue_lifecycle,
            Some(true),
            "a week-old run continues in a fresh one"
        );
        let next = fresh.next_check_seconds.unwrap();
        assert!(
            (60 * 60 - 5..=60 * 60).contains(&next),
            "the next update is due in an hour: {next}"
        );

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
    async fn the_wait_keeps_its_token_server_side_under_its_own_key() {
        let (d, id) = deps();
        d.handle(Input::AwaitUpdateWindow {
            incident_id: id.clone(),
            token: "t-1".into(),
        })
        .await
        .unwrap();
        assert_eq!(d.store.token(&id, "updates").as_deref(), Some("t-1"));
        assert!(
            d.callbacks.completed.lock().unwrap().is_empty(),
            "not resolved: nothing completes"
        );
    }
}
