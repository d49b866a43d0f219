//! Finds live incidents whose lifecycle is not running, brings each back (the core decides how),
//! records it on the timeline and tells the owner and the operators.

use chrono::Utc;
use incident_aws::lambda::HandlerError;
use incident_aws::metrics;
use incident_core::app_event::{AppEvent, Summary};
use incident_core::incident::Incident;
use incident_core::ports::{run_step_written, CatalogSource, IncidentStore, Lifecycles, LiveIncidents, Notifier};
use incident_core::reconcile::{self, parse_run_name, run_name, Repair};
use incident_core::IncidentId;
use serde::{Deserialize, Serialize};

pub struct Deps<S, C, L, N> {
    pub store: S,
    pub catalog: C,
    pub lifecycle: L,
    pub bus: N,
    /// The operators' SNS topic, told of every restart.
    pub operators: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Pass {
    Scan,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Input {
    /// The schedule: every live incident.
    Scan {
        #[allow(dead_code)]
        action: Pass,
    },
    /// A run that reached its span asks to continue in a fresh run (the lifecycle's last step).
    Continue {
        incident_id: IncidentId,
        continue_from: String,
    },
    /// A lifecycle execution changed status (the detail of Step Functions' status-change event).
    Execution { name: String, status: String },
    /// One incident (the detail of `Lifecycle Stalled`).
    Incident { incident_id: IncidentId },
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Repaired {
    pub incident_id: IncidentId,
    /// A lifecycle was started or restarted (counted as `LifecycleRestarts`).
    pub restarted: bool,
    /// What was done, as the timeline says it.
    pub what: String,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Output {
    pub checked: usize,
    pub repaired: Vec<Repaired>,
}

impl<S, C, L, N> Deps<S, C, L, N>
where
    S: IncidentStore + LiveIncidents,
    C: CatalogSource,
    L: Lifecycles,
    N: Notifier,
{
    pub async fn handle(&self, input: Input) -> Result<Output, HandlerError> {
        let incidents = match input {
            Input::Scan { .. } => self.store.live().await?,
            Input::Incident { incident_id } => vec![self.store.incident(&incident_id).await?],
            Input::Continue {
                incident_id,
                continue_from,
            } => return self.continue_run(&incident_id, &continue_from).await,
            Input::Execution { name, status } => {
                let Some((id, run)) = parse_run_name(&name) else {
                    return Err(HandlerError::InvalidInput(format!(
                        "{name} is not an incident's lifecycle run"
                    )));
                };
                let incident = self.store.incident(&id).await?;
                tracing::info!(incident = %id, run, %status, "lifecycle run changed status");
                // An earlier run ending is history: only the current run matters.
                if run == incident.lifecycle_run {
                    vec![incident]
                } else {
                    vec![]
                }
            }
        };
        let (mut repaired, mut failed) = (Vec::new(), Vec::new());
        for incident in &incidents {
            // One incident's failure must not keep the others from being brought back.
            match self.reconcile(incident).await {
                Ok(Some(done)) => repaired.push(done),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(incident = %incident.id, error = %e, "could not reconcile");
                    failed.push(incident.id.to_string());
                }
            }
        }
        let restarts = repaired.iter().filter(|r| r.restarted).count();
        if restarts > 0 {
            metrics::count("LifecycleRestarts", restarts as u64);
        }
        tracing::info!(
            checked = incidents.len(),
            repaired = repaired.len(),
            failed = failed.len(),
            "reconciled"
        );
        if !failed.is_empty() {
            return Err(HandlerError::Retryable(format!(
                "{} of {} incidents could not be reconciled: {}",
                failed.len(),
                incidents.len(),
                failed.join(", ")
            )));
        }
        Ok(Output {
            checked: incidents.len(),
            repaired,
        })
    }

    async fn reconcile(&self, incident: &Incident) -> Result<Option<Repaired>, HandlerError> {
        let id = &incident.id;
        let checked = incident.lifecycle_run;
        let state = self.lifecycle.state(id, checked).await?;
        let now = Utc::now();
        let Some(repair) = reconcile::repair(incident, state, now) else {
            return Ok(None);
        };
        let said = reconcile::record_repair(&mut incident.clone(), &repair, now);
        let (current, wrote) = run_step_written(&self.store, id, |i| {
            // Decided again on the record as it is now: another pass may have repaired it, or a
            // signal merged it, since the index was read.
            if i.lifecycle_run != checked || reconcile::repair(i, state, now).as_ref() != Some(&repair) {
                return Ok(vec![]);
            }
            Ok(reconcile::record_repair(i, &repair, now))
        })
        .await?;
        // Starting and stopping are idempotent by name: done on every pass until they hold.
        match repair {
            Repair::Start { run } | Repair::Restart { run, .. } if current.is_live() => {
                self.lifecycle.start(id, run).await?
            }
            Repair::Stop { run } => self.lifecycle.stop(id, run, "merged into another incident").await?,
            _ => {}
        }
        if !wrote {
            return Ok(None);
        }
        let what = said.first().map(|e| e.text.clone()).unwrap_or_default();
        tracing::warn!(incident = %id, %what, "lifecycle repaired");
        if repair.is_told() {
            self.tell(&current, &what, run_name(id, current.lifecycle_run)).await?;
        }
        Ok(Some(Repaired {
            incident_id: id.clone(),
            restarted: matches!(repair, Repair::Start { .. } | Repair::Restart { .. }),
            what,
        }))
    }

    /// Records that run `continue_from` continues in the next run, then starts it (recorded first:
    /// a run started but not recorded would look ended to the next pass once this one finishes).
    async fn continue_run(&self, id: &IncidentId, continue_from: &str) -> Result<Output, HandlerError> {
        let from = match parse_run_name(continue_from) {
            Some((of, run)) if &of == id => run,
            _ => {
                return Err(HandlerError::InvalidInput(format!(
                    "{continue_from} is not a run of {id}"
                )))
            }
        };
        let repair = Repair::Continue { run: from + 1 };
        let now = Utc::now();
        let said = reconcile::record_repair(&mut self.store.incident(id).await?, &repair, now);
        let (current, wrote) = run_step_written(&self.store, id, |i| {
            // Continued already (a retried step): the recorded run stands.
            if i.lifecycle_run != from {
                return Ok(vec![]);
            }
            Ok(reconcile::record_repair(i, &repair, now))
        })
        .await?;
        self.lifecycle.start(id, current.lifecycle_run).await?;
        tracing::info!(incident = %id, run = current.lifecycle_run, wrote, "lifecycle continued");
        let repaired = wrote.then(|| Repaired {
            incident_id: id.clone(),
            restarted: false,
            what: said.first().map(|e| e.text.clone()).unwrap_or_default(),
        });
        Ok(Output {
            checked: 1,
            repaired: repaired.into_iter().collect(),
        })
    }

    /// Pages the owner's team and the operators (a failed page is logged: the restart stands) and
    /// publishes `Lifecycle Restarted`.
    async fn tell(&self, incident: &Incident, what: &str, execution: String) -> Result<(), HandlerError> {
        let catalog = self.catalog.load().await?;
        let owner = incident.owner.as_deref().and_then(|o| catalog.team_target(o));
        let subject = format!("Lifecycle restarted: {}", incident.title);
        let message = format!(
            "{what}\nIncident: {}\nTimeline: incidentctl timeline {}",
            incident.id, incident.id
        );
        for topic in owner.into_iter().chain(self.operators.as_deref()) {
            if let Err(e) = self.bus.page(topic, &subject, &message).await {
                tracing::warn!(incident = %incident.id, %topic, error = %e, "restart notice failed");
            }
        }
        let event = AppEvent::LifecycleRestarted {
            summary: Summary::of(incident),
            execution,
            reason: what.to_string(),
        };
        self.bus.emit(&event).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use incident_core::catalog::Catalog;
    use incident_core::incident::{Scope, Status};
    use incident_core::memory::{MemoryLoop, MemoryNotifier, MemoryStore};
    use incident_core::reconcile::RunState;
    use incident_core::timeline::EntryKind;
    use incident_core::SignalKey;

    const OPERATORS: &str = "arn:aws:sns:us-east-1:000000000000:incident-loop-operators";

    type TestDeps = Deps<MemoryStore, Catalog, MemoryLoop, MemoryNotifier>;

    fn incident(n: &str) -> Incident {
        let id = IncidentId::for_service("checkout", &SignalKey::new("t", n));
        let mut i = Incident::open(id, Scope::SingleService, vec!["checkout".into()], Utc::now());
        i.owner = Some("payments".into());
        i.title = format!("checkout {n}");
        i.detected_at = Utc::now() - chrono::TimeDelta::minutes(10);
        i
    }

    fn deps(incidents: Vec<Incident>) -> TestDeps {
        Deps {
            store: MemoryStore::with(incidents),
            catalog: serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap(),
            lifecycle: MemoryLoop::default(),
            bus: MemoryNotifier::default(),
            operators: Some(OPERATORS.into()),
        }
    }

    fn scan() -> Input {
        serde_json::from_value(serde_json::json!({ "action": "scan" })).unwrap()
    }

    #[tokio::test]
    async fn a_scan_restarts_a_crashed_lifecycle_starts_a_missing_one_and_leaves_the_rest() {
        let (crashed, never, fine, closed) = (incident("a"), incident("b"), incident("c"), incident("d"));
        let closed = Incident {
            status: Status::Resolved,
            closed_at: Some(Utc::now()),
            ..closed
        };
        let d = deps(vec![crashed.clone(), never.clone(), fine.clone(), closed.clone()]);
        d.lifecycle.set_run(&crashed.id, 0, RunState::Failed);
        d.lifecycle.set_run(&fine.id, 0, RunState::Running);
        d.lifecycle.set_run(&closed.id, 0, RunState::Failed);

        let out = d.handle(scan()).await.unwrap();
        assert_eq!(out.checked, 3, "the closed-out incident is not live");
        let mut repaired: Vec<&IncidentId> = out.repaired.iter().map(|r| &r.incident_id).collect();
        repaired.sort();
        let mut expected = vec![&crashed.id, &never.id];
        expected.sort();
        assert_eq!(repaired, expected);

        assert_eq!(d.lifecycle.run(&crashed.id, 1), RunState::Running, "a fresh run");
        assert_eq!(d.store.get(&crashed.id).unwrap().lifecycle_run, 1);
        assert_eq!(
            d.lifecycle.run(&never.id, 0),
            RunState::Running,
            "started under its own name"
        );
        assert_eq!(d.store.get(&never.id).unwrap().lifecycle_run, 0);
        let said = d.store.timeline(&crashed.id);
        let entry = said
            .iter()
            .find(|e| e.kind == EntryKind::Lifecycle)
            .expect("on the timeline");
        assert!(
            entry
                .text
                .starts_with("lifecycle failed while the incident was open: restarted as"),
            "{}",
            entry.text
        );

        let pages = d.bus.paged();
        assert_eq!(pages.iter().filter(|p| p.contains(OPERATORS)).count(), 2, "{pages:?}");
        assert!(
            pages.iter().any(|p| p.contains("incident-loop-payments")),
            "the owner is told: {pages:?}"
        );
        let events = d.bus.events_of("Lifecycle Restarted");
        assert_eq!(events.len(), 2);
        assert!(events.iter().any(|e| e["execution"] == format!("{}-r1", crashed.id)));

        // A second pass finds every lifecycle running and does nothing.
        let again = d.handle(scan()).await.unwrap();
        assert!(again.repaired.is_empty(), "{:?}", again.repaired);
        assert_eq!(d.bus.events_of("Lifecycle Restarted").len(), 2);
    }

    #[tokio::test]
    async fn a_run_that_reached_its_span_continues_once_in_a_fresh_run_without_paging() {
        let long = incident("h");
        let d = deps(vec![long.clone()]);
        d.lifecycle.set_run(&long.id, 0, RunState::Running);
        let continue_from = |run: &str| -> Input {
            serde_json::from_value(serde_json::json!({ "incident_id": long.id, "continue_from": run })).unwrap()
        };
        let out = d.handle(continue_from(long.id.as_str())).await.unwrap();
        assert_eq!(out.repaired.len(), 1);
        assert!(
            out.repaired[0].what.starts_with("lifecycle continued as"),
            "{}",
            out.repaired[0].what
        );
        assert_eq!(d.lifecycle.run(&long.id, 1), RunState::Running);
        let stored = d.store.get(&long.id).unwrap();
        assert_eq!((stored.lifecycle_run, stored.lifecycle_restarts), (1, 0));
        let again = d.handle(continue_from(long.id.as_str())).await.unwrap();
        assert!(again.repaired.is_empty(), "a retried step continues nothing twice");
        assert_eq!(d.store.get(&long.id).unwrap().lifecycle_run, 1);
        assert!(d.bus.paged().is_empty() && d.bus.events_of("Lifecycle Restarted").is_empty());
        let wrong = d.handle(continue_from("inc-00000000000000000000")).await.unwrap_err();
        assert!(wrong.to_string().contains("is not a run of"), "{wrong}");
    }

    #[tokio::test]
    async fn a_lifecycle_that_keeps_failing_is_given_up_once_and_said_once() {
        let mut worn = incident("g");
        worn.lifecycle_run = reconcile::MAX_RESTARTS;
        worn.lifecycle_restarts = reconcile::MAX_RESTARTS;
        let d = deps(vec![worn.clone()]);
        d.lifecycle.set_run(&worn.id, worn.lifecycle_run, RunState::Failed);
        let first = d.handle(scan()).await.unwrap();
        assert_eq!(first.repaired.len(), 1);
        assert!(!first.repaired[0].restarted);
        assert!(
            first.repaired[0].what.contains("not restarted any more"),
            "{}",
            first.repaired[0].what
        );
        let pages = d.bus.paged().len();
        assert!(pages >= 1, "the operators are told");
        let again = d.handle(scan()).await.unwrap();
        assert!(again.repaired.is_empty(), "said once: {:?}", again.repaired);
        assert_eq!(d.bus.paged().len(), pages);
        assert_eq!(
            d.lifecycle.run(&worn.id, worn.lifecycle_run + 1),
            RunState::Missing,
            "not restarted"
        );
    }

    #[tokio::test]
    async fn an_execution_event_repairs_only_the_current_run_and_a_merged_incidents_run_is_stopped() {
        let current = incident("e");
        let d = deps(vec![current.clone()]);
        d.lifecycle.set_run(&current.id, 0, RunState::TimedOut);
        let event = |name: String| -> Input {
            serde_json::from_value(serde_json::json!({ "name": name, "status": "TIMED_OUT", "executionArn": "x" }))
                .unwrap()
        };
        let out = d.handle(event(current.id.to_string())).await.unwrap();
        assert_eq!(out.repaired.len(), 1);
        assert!(out.repaired[0].what.contains("timed out"), "{}", out.repaired[0].what);
        // The old run's event arriving late changes nothing.
        let late = d.handle(event(current.id.to_string())).await.unwrap();
        assert_eq!((late.checked, late.repaired.len()), (0, 0));
        let bad = d.handle(event("somebody-elses-execution".into())).await.unwrap_err();
        assert!(bad.to_string().contains("not an incident's lifecycle run"), "{bad}");

        d.store.alter(&current.id, |i| i.status = Status::Merged);
        let merged = Input::Incident {
            incident_id: current.id.clone(),
        };
        let out = d.handle(merged).await.unwrap();
        assert_eq!(out.repaired.len(), 1);
        assert_eq!(
            d.lifecycle.run(&current.id, 1),
            RunState::Aborted,
            "the merged incident's run is stopped"
        );
    }
}
