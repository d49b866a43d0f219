//! The lifecycle's end and its bookkeeping: keeps the resolution wait's token until a resolution
//! completes it, closes a resolved incident (correlation stops, `Incident Resolved`), and records
//! on the timeline a step that failed after its retries.

use chrono::Utc;
use incident_aws::lambda::HandlerError;
use incident_core::app_event::{AppEvent, Summary};
use incident_core::correlation::Policy;
use incident_core::effects::Waiting;
use incident_core::incident::Status;
use incident_core::ports::{append, keep_waiting, run_step, IncidentStore, Notifier, TaskCallbacks, Tokens};
use incident_core::resolution;
use incident_core::timeline::Entry;
use incident_core::IncidentId;
use serde::{Deserialize, Serialize};

pub struct Deps<S, N, K> {
    pub store: S,
    pub bus: N,
    pub callbacks: K,
    pub policy: Policy,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Input {
    /// Keep the resolution callback's token server-side until a resolution completes it.
    AwaitResolution { incident_id: IncidentId, token: String },
    /// After resolution: stop correlating into this incident and announce it.
    Close { incident_id: IncidentId },
    /// A step failed after its retries and the loop went on without it: say so on the timeline.
    RecordFailure {
        incident_id: IncidentId,
        step: String,
        /// The execution the step failed in.
        #[serde(default)]
        run: String,
        #[serde(default)]
        error: serde_json::Value,
    },
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Output {
    pub incident_id: IncidentId,
}

impl<S, N, K> Deps<S, N, K>
where
    S: IncidentStore + Tokens,
    N: Notifier,
    K: TaskCallbacks,
{
    pub async fn handle(&self, input: Input) -> Result<Output, HandlerError> {
        match input {
            Input::AwaitResolution { incident_id, token } => {
                keep_waiting(&self.store, &self.callbacks, &incident_id, &Waiting::Resolution, &token).await?;
                Ok(Output { incident_id })
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
                run_step(&self.store, &incident_id, |i| {
                    Ok(resolution::record_closed(i, Utc::now()))
                })
                .await?;
                Ok(Output { incident_id })
            }
            Input::RecordFailure {
                incident_id,
                step,
                run,
                error,
            } => {
                let (what, cause) = (error["Error"].as_str(), error["Cause"].as_str());
                let entry = Entry::step_failed(&step, &run, what.unwrap_or_default(), cause.unwrap_or_default());
                append(&self.store, &incident_id, vec![entry]).await?;
                Ok(Output { incident_id })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::incident::{Incident, Scope};
    use incident_core::memory::{MemoryLoop, MemoryNotifier, MemoryStore};
    use incident_core::timeline::EntryKind;
    use incident_core::SignalKey;
    use serde_json::json;

    type TestDeps = Deps<MemoryStore, MemoryNotifier, MemoryLoop>;

    fn deps() -> (TestDeps, IncidentId) {
        let id = IncidentId::for_service("checkout", &SignalKey::new("t", "1"));
        let mut incident = Incident::open(id.clone(), Scope::SingleService, vec!["checkout".into()], Utc::now());
        incident.status = Status::Engaged;
        let deps = Deps {
            store: MemoryStore::with([incident]),
            bus: MemoryNotifier::default(),
            callbacks: MemoryLoop::default(),
            policy: Policy::default(),
        };
        (deps, id)
    }

    #[tokio::test]
    async fn the_wait_keeps_its_token_server_side_under_its_own_key() {
        let (d, id) = deps();
        d.handle(Input::AwaitResolution {
            incident_id: id.clone(),
            token: "t-1".into(),
        })
        .await
        .unwrap();
        assert_eq!(d.store.token(&id, "resolve").as_deref(), Some("t-1"));
        assert!(
            d.callbacks.completed.lock().unwrap().is_empty(),
            "not resolved: nothing completes"
        );
    }

    #[tokio::test]
    async fn a_failed_step_is_recorded_on_the_timeline_on_one_line_once_per_run() {
        let (d, id) = deps();
        let record = |run: &str| Input::RecordFailure {
            incident_id: id.clone(),
            step: "mitigation".into(),
            run: run.into(),
            error: json!({ "Error": "Sandbox.Timedout", "Cause": "Task timed out\nafter 180 seconds" }),
        };
        d.handle(record("r0")).await.unwrap();
        d.handle(record("r0")).await.unwrap();
        let failed = |d: &TestDeps| {
            d.store
                .timeline(&id)
                .into_iter()
                .filter(|e| e.kind == EntryKind::StepFailed)
                .collect::<Vec<_>>()
        };
        let entries = failed(&d);
        assert_eq!(entries.len(), 1, "a retried record is kept once");
        assert_eq!(
            entries[0].text,
            "mitigation failed after retries (Sandbox.Timedout: Task timed out after 180 seconds); the loop went on without it"
        );
        d.handle(record("r1")).await.unwrap();
        assert_eq!(failed(&d).len(), 2, "a restarted run's failure is its own");
    }

    #[tokio::test]
    async fn closing_announces_the_resolution_and_refuses_an_unresolved_incident() {
        let (d, id) = deps();
        let close = || {
            d.handle(Input::Close {
                incident_id: id.clone(),
            })
        };
        let refused = close().await.unwrap_err();
        assert!(refused.to_string().contains("not resolved"), "{refused}");
        assert!(d.bus.events_of("Incident Resolved").is_empty());
        d.store.alter(&id, |i| i.status = Status::Resolved);
        close().await.unwrap();
        let resolved = d.bus.events_of("Incident Resolved");
        assert_eq!(resolved[0]["incident_id"], id.as_str());
        let closed = d.store.get(&id).unwrap();
        assert!(
            closed.closed_at.is_some() && !closed.is_live(),
            "closed out: no longer live"
        );
    }
}
