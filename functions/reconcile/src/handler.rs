//! Finds live incidents whose lifecycle is not running, brings each back (the core decides how),
//! records it on the timeline and tells the owner and the operators.

use incident_aws::lambda::HandlerError;
use incident_aws::metrics;
use incident_core::app_event::{AppEvent, Summary};
use incident_core::incident::Incident;
use incident_core::ports::{run_step, CatalogSource, IncidentStore, Lifecycles, LiveIncidents, Notifier};
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
    /// A lifecycle execution changed status (the detail of Step Functions' status-change event).
    Execution { name: String, status: String },
    /// One incident (the detail of `Lifecycle Stalled`).
    Incident { incident_id: IncidentId },
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Repaired {
    pub incident_id: IncidentId,
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
        let mut repaired = Vec::new();
        for incident in &incidents {
            if let Some(done) = self.reconcile(incident).await? {
                repaired.push(done);
            }
        }
        if !repaired.is_empty() {
            metrics::count("LifecycleRestarts", repaired.len() as u64);
        }
        tracing::info!(checked = incidents.len(), repaired = repaired.len(), "reconciled");
        Ok(Output {
            checked: incidents.len(),
            repaired,
        })
    }

    async fn reconcile(&self, incident: &Incident) -> Result<Option<Repaired>, HandlerError> {
        let id = &incident.id;
        let checked = incident.lifecycle_run;
        let state = self.lifecycle.state(id, checked).await?;
        let Some(repair) = reconcile::repair(incident, state) else {
            return Ok(None);
        };
        let said = reconcile::record_repair(&mut incident.clone(), &repair);
        run_step(&self.store, id, |i| {
            // Another pass repaired it in between: its entry and run stand.
            if i.lifecycle_run != checked {
                return Ok(vec![]);
            }
            Ok(reconcile::record_repair(i, &repair))
        })
        .await?;
        let what = said.first().map(|e| e.text.clone()).unwrap_or_default();
        match repair {
            Repair::Start { run } | Repair::Restart { run, .. } => {
                self.lifecycle.start(id, run).await?;
                tracing::warn!(incident = %id, %what, "lifecycle brought back");
                let restarted = Incident {
                    lifecycle_run: run,
                    ..incident.clone()
                };
                self.tell(&restarted, &what, run_name(id, run)).await?;
            }
            Repair::Stop { run } => {
                self.lifecycle.stop(id, run, "merged into another incident").await?;
            }
        }
        Ok(Some(Repaired {
            incident_id: id.clone(),
            what,
        }))
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
