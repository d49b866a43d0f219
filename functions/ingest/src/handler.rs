//! Turns one EventBridge event into a recorded signal, or a recorded change (and a failed
//! deployment into both).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use incident_aws::lambda::HandlerError;
use incident_core::app_event::AppEvent;
use incident_core::correlation::{Outcome, Placement, Policy, Space};
use incident_core::event::{self, Envelope, Observed, TimeBounds};
use incident_core::noise;
use incident_core::ports::{run_step, CatalogSource, ChangeLog, DeadLetters, IncidentStore, Lifecycles, Notifier};
use incident_core::reconcile;
use incident_core::IncidentId;
use serde::Serialize;
use serde_json::Value;

pub struct Deps<S, C, L, N, D> {
    pub store: S,
    pub catalog: C,
    pub lifecycle: L,
    pub bus: N,
    pub rejects: D,
    pub policy: Policy,
    /// The names of the loop's own alarms start with this (see [`Signal::is_own_alarm`]).
    pub own_alarm_prefix: String,
    /// How far an event's own time may lie from the clock.
    pub bounds: TimeBounds,
}

/// What the invocation did; also its log line.
#[derive(Debug, Serialize, PartialEq)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Ingested {
    Recorded {
        signal: String,
        service: String,
        outcome: Outcome,
    },
    /// A deployment or configuration change, kept for the service's planner and `changes` list.
    Change {
        change: String,
        service: String,
        how: String,
    },
    /// The event can never be a signal; it is on the DLQ with this reason.
    Rejected { reason: String },
    /// A signal the loop does not act on, with the reason.
    Ignored { signal: String, reason: String },
}

/// Reads the envelope (with the maintained `aws_lambda_events` type) and the signal or change in
/// it, as it arrives at `now`. Any failure is permanent for this event: the error says why.
pub fn to_observed(raw: &Value, now: DateTime<Utc>, bounds: TimeBounds) -> Result<Observed, String> {
    let envelope: EventBridgeEvent<Value> =
        serde_json::from_value(raw.clone()).map_err(|e| format!("malformed EventBridge envelope: {e}"))?;
    let envelope = Envelope {
        id: envelope.id,
        source: envelope.source,
        detail_type: envelope.detail_type,
        account: envelope.account,
        region: envelope.region,
        time: envelope.time,
        resources: envelope.resources.unwrap_or_default(),
        detail: envelope.detail,
    };
    event::read_within(&envelope, now, bounds).map_err(|e| e.to_string())
}

/// A signal joined an open incident: if its lifecycle is not running, the reconciler is asked (by
/// an event) to bring it back now rather than at its next scheduled pass. Best effort: the signal
/// is recorded, and the scheduled pass looks anyway.
async fn check_alive<S, C, L, N, D>(deps: &Deps<S, C, L, N, D>, id: &IncidentId)
where
    S: IncidentStore,
    L: Lifecycles,
    N: Notifier,
{
    if let Err(e) = ask_if_stalled(deps, id).await {
        tracing::warn!(incident = %id, error = %e, "could not check that the lifecycle is running");
    }
}

async fn ask_if_stalled<S, C, L, N, D>(deps: &Deps<S, C, L, N, D>, id: &IncidentId) -> Result<(), HandlerError>
where
    S: IncidentStore,
    L: Lifecycles,
    N: Notifier,
{
    let incident = deps.store.incident(id).await?;
    let run_state = deps.lifecycle.state(id, incident.lifecycle_run).await?;
    let repair = reconcile::repair(&incident, run_state, chrono::Utc::now());
    if repair.as_ref().is_some_and(reconcile::Repair::is_told) {
        tracing::warn!(incident = %id, %run_state, "a signal joined an incident whose lifecycle is not running");
        let event = AppEvent::LifecycleStalled {
            incident_id: id.clone(),
            run_state,
        };
        deps.bus.emit(&event).await?;
    }
    Ok(())
}

pub async fn handle<S, C, L, N, D>(deps: &Deps<S, C, L, N, D>, raw: Value) -> Result<Ingested, HandlerError>
where
    S: IncidentStore + ChangeLog,
    C: CatalogSource,
    L: Lifecycles,
    N: Notifier,
    D: DeadLetters,
{
    handle_at(deps, raw, Utc::now()).await
}

/// [`handle`] for an event arriving at `now`.
pub async fn handle_at<S, C, L, N, D>(
    deps: &Deps<S, C, L, N, D>,
    raw: Value,
    now: DateTime<Utc>,
) -> Result<Ingested, HandlerError>
where
    S: IncidentStore + ChangeLog,
    C: CatalogSource,
    L: Lifecycles,
    N: Notifier,
    D: DeadLetters,
{
    let observed = match to_observed(&raw, now, deps.bounds) {
        Ok(observed) => observed,
        Err(reason) => {
            // Kept whole on the DLQ with its reason; succeeding here stops Lambda retrying an event
            // that can never parse. If the DLQ write fails, the error makes Lambda retry instead.
            deps.rejects.reject(&raw, "InvalidInput", &reason).await?;
            tracing::warn!(%reason, "event rejected to the DLQ");
            return Ok(Ingested::Rejected { reason });
        }
    };
    let (mut signal, matched, catalog) = match observed {
        Observed::Signal(signal) => {
            if signal.is_own_alarm(&deps.own_alarm_prefix) {
                let result = Ingested::Ignored {
                    signal: signal.key.to_string(),
                    reason: format!(
                        "{} is the loop's own alarm: it tells the operators' topic",
                        signal.resource
                    ),
                };
                tracing::info!(result = %serde_json::to_string(&result).unwrap_or_default(), "signal ignored");
                return Ok(result);
            }
            let catalog = deps.catalog.load().await?;
            let matched = catalog.resolve(&signal);
            (*signal, matched, catalog)
        }
        Observed::Change(event) => {
            let catalog = deps.catalog.load().await?;
            let matched = catalog.resolve_change(&event.names, event.change.location.as_ref());
            deps.store
                .record_change(Space::of(event.exercise), &matched.service, &event.change)
                .await?;
            let Some(signal) = event.signal else {
                let result = Ingested::Change {
                    change: format!("{} of {}", event.change.summary, event.change.resource),
                    service: matched.service,
                    how: matched.how,
                };
                tracing::info!(result = %serde_json::to_string(&result).unwrap_or_default(), "change recorded");
                return Ok(result);
            };
            (signal, matched, catalog)
        }
    };
    // A silence or maintenance window of the service: recorded, pages nobody.
    noise::apply_quiet(&catalog, &matched, &mut signal);
    let recorded = deps.store.record_signal(&matched, &signal, &deps.policy).await?;
    for id in &recorded.start {
        deps.lifecycle.start(id, 0).await?;
        let event = AppEvent::IncidentOpened {
            incident_id: id.clone(),
            service: matched.service.clone(),
            exercise: signal.exercise,
            first_signal: signal.summary(),
        };
        deps.bus.emit(&event).await?;
    }
    // Links and merges of incidents that existed already; a retry gets them again from the dedup
    // record, so they are written even when an earlier attempt failed here.
    for (id, change) in &recorded.changes {
        run_step(&deps.store, id, |i| {
            change.apply(i);
            Ok(vec![])
        })
        .await?;
    }
    for id in &recorded.stop {
        let merged = deps.store.incident(id).await?;
        deps.lifecycle
            .stop(
                id,
                merged.lifecycle_run,
                "merged into another incident of the same service",
            )
            .await?;
    }
    match &recorded.outcome {
        Outcome::Placed {
            placement: Placement::Joined { incident },
            ..
        } => check_alive(deps, incident).await,
        // The lifecycle's recovery wait looks again (it, not ingest, may read its token).
        Outcome::Recovery { incident } => {
            let event = AppEvent::AlarmRecovered {
                incident_id: incident.clone(),
                alarm: signal.resource.clone(),
            };
            // Best effort: the signal is recorded, and the wait's hourly fallback looks anyway.
            if let Err(e) = deps.bus.emit(&event).await {
                tracing::warn!(incident = %incident, error = %e, "could not announce the recovery");
            }
        }
        _ => {}
    }
    let result = Ingested::Recorded {
        signal: signal.key.to_string(),
        service: matched.service,
        outcome: recorded.outcome,
    };
    tracing::info!(result = %serde_json::to_string(&result).unwrap_or_default(), "signal ingested");
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::catalog::Catalog;
    use incident_core::incident::Status;
    use incident_core::memory::{MemoryLoop, MemoryNotifier, MemoryStore};
    use incident_core::reconcile::RunState;
    use incident_core::recording::Change;
    use incident_core::signal::Signal;
    use serde_json::json;

    fn fixture(path: &str) -> Value {
        let text = std::fs::read_to_string(format!("{}/../../events/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn outcome_of(result: &Ingested) -> Option<&Outcome> {
        match result {
            Ingested::Recorded { outcome, .. } => Some(outcome),
            _ => None,
        }
    }

    /// These tests' events arrive a minute after their own time (the fixtures are from 2024, and
    /// ingest refuses signals older than a week).
    fn arrival(raw: &Value) -> DateTime<Utc> {
        let own = raw["detail"]["state"]["timestamp"].as_str().or(raw["time"].as_str());
        own.and_then(|t| event::parse_time("t", t).ok())
            .unwrap_or_else(Utc::now)
            + chrono::TimeDelta::minutes(1)
    }

    async fn handle(d: &MemoryDeps, raw: Value) -> Result<Ingested, HandlerError> {
        let now = arrival(&raw);
        handle_at(d, raw, now).await
    }

    fn to_signal(raw: &Value) -> Result<Signal, String> {
        match super::to_observed(raw, arrival(raw), TimeBounds::default())? {
            Observed::Signal(s) => Ok(*s),
            Observed::Change(c) => Err(format!("a change, not a signal: {}", c.change.summary)),
        }
    }

    #[test]
    fn every_impact_fixture_becomes_a_signal() {
        for path in [
            "cloudwatch/single-metric-alarm.json",
            "cloudwatch/single-metric-alarm-tagged.json",
            "cloudwatch/metric-math-alarm.json",
            "cloudwatch/anomaly-detection-alarm.json",
            "cloudwatch/composite-alarm.json",
            "cloudwatch/composite-alarm-suppressed.json",
            "cloudwatch/single-metric-ok.json",
            "cloudwatch/insufficient-data.json",
            "synthetics/canary-failure.json",
        ] {
            assert!(
                to_signal(&fixture(path)).is_ok(),
                "{path}: {:?}",
                to_signal(&fixture(path))
            );
        }
    }

    #[test]
    fn malformed_fixtures_are_refused_with_a_reason_naming_the_problem() {
        let reason = to_signal(&fixture("malformed/missing-detail.json")).unwrap_err();
        assert!(reason.contains("detail"), "{reason}");
        let reason = to_signal(&fixture("malformed/bad-state.json")).unwrap_err();
        assert!(reason.contains("BROKEN"), "{reason}");
        let reason = to_signal(&fixture("malformed/unknown-detail-type.json")).unwrap_err();
        assert!(reason.contains("Configuration Change"), "{reason}");
        let reason = to_signal(&serde_json::json!("not an object")).unwrap_err();
        assert!(reason.starts_with("malformed EventBridge envelope"), "{reason}");
    }

    type MemoryDeps = Deps<MemoryStore, Catalog, MemoryLoop, MemoryNotifier, MemoryLoop>;

    fn deps() -> MemoryDeps {
        let catalog = serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap();
        Deps {
            store: MemoryStore::default(),
            catalog,
            lifecycle: MemoryLoop::default(),
            bus: MemoryNotifier::default(),
            rejects: MemoryLoop::default(),
            policy: Policy::default(),
            own_alarm_prefix: "incident-loop-self-".into(),
            bounds: TimeBounds::default(),
        }
    }

    fn alarm_at(id: &str, name: &str, minute: u32) -> Value {
        let mut event = fixture("cloudwatch/single-metric-alarm.json");
        event["id"] = json!(id);
        event["detail"]["alarmName"] = json!(name);
        event["detail"]["state"]["timestamp"] = json!(format!("2026-11-23T03:{minute:02}:00.000+0000"));
        event
    }

    #[tokio::test]
    async fn an_alarm_opens_an_incident_for_its_catalog_service_and_starts_its_lifecycle() {
        let d = deps();
        let result = handle(&d, fixture("cloudwatch/single-metric-alarm.json"))
            .await
            .unwrap();
        let Ingested::Recorded { service, outcome, .. } = result else {
            panic!("recorded")
        };
        assert_eq!(service, "checkout");
        assert!(matches!(outcome, Outcome::Placed { .. }));
        let incidents = d.store.all();
        assert_eq!(incidents.len(), 1);
        assert_eq!(*d.lifecycle.started.lock().unwrap(), vec![incidents[0].id.clone()]);
        assert_eq!(d.bus.events_of("Incident Opened").len(), 1);
    }

    #[tokio::test]
    async fn a_redelivery_is_a_duplicate_that_only_makes_sure_the_lifecycle_runs() {
        let d = deps();
        let event = fixture("cloudwatch/single-metric-alarm.json");
        handle(&d, event.clone()).await.unwrap();
        let again = handle(&d, event).await.unwrap();
        assert!(matches!(
            again,
            Ingested::Recorded {
                outcome: Outcome::Duplicate,
                ..
            }
        ));
        assert_eq!(d.store.all().len(), 1);
        let started = d.lifecycle.started.lock().unwrap().clone();
        assert_eq!(started.len(), 2, "started again, idempotently by name");
        assert_eq!(started[0], started[1]);
        assert_eq!(d.bus.events_of("Incident Opened").len(), 2);
    }

    #[tokio::test]
    async fn a_storm_of_three_services_starts_a_multi_service_lifecycle() {
        let d = deps();
        for (i, name) in ["checkout-api-5xx", "orders-error-rate", "search-latency-p99"]
            .iter()
            .enumerate()
        {
            handle(&d, alarm_at(&format!("e{i}"), name, i as u32)).await.unwrap();
        }
        let started = d.lifecycle.started.lock().unwrap().clone();
        assert_eq!(started.len(), 4, "three incidents and the event: {started:?}");
        assert!(started[3].is_multi_service());
        let event = d.store.get(&started[3]).unwrap();
        assert_eq!(event.members.len(), 3);
    }

    #[tokio::test]
    async fn a_merge_left_unwritten_by_a_failed_attempt_is_written_by_the_retry() {
        let d = deps();
        handle(&d, alarm_at("e0", "checkout-api-5xx", 0)).await.unwrap();
        handle(&d, alarm_at("e1", "checkout-api-5xx", 28)).await.unwrap();
        let [first, later] = d.lifecycle.started.lock().unwrap().clone().try_into().unwrap();
        // The first attempt for the bridging alarm records it, then fails before its merge is written.
        let bridge = alarm_at("e2", "checkout-api-5xx", 14);
        let signal = to_signal(&bridge).unwrap();
        let matched = d.catalog.resolve(&signal);
        let recorded = d.store.record_signal(&matched, &signal, &d.policy).await.unwrap();
        assert_eq!(
            recorded.changes,
            vec![(later.clone(), Change::MergeInto(first.clone()))]
        );
        assert_ne!(d.store.get(&later).unwrap().status, Status::Merged);

        let retried = handle(&d, bridge).await.unwrap();
        assert!(matches!(
            retried,
            Ingested::Recorded {
                outcome: Outcome::Duplicate,
                ..
            }
        ));
        let merged = d.store.get(&later).unwrap();
        assert_eq!((merged.status, merged.merged_into), (Status::Merged, Some(first)));
        assert_eq!(*d.lifecycle.stopped.lock().unwrap(), vec![later]);
    }

    #[tokio::test]
    async fn a_signal_joining_an_incident_whose_lifecycle_died_asks_the_reconciler() {
        let d = deps();
        handle(&d, alarm_at("e0", "checkout-api-5xx", 0)).await.unwrap();
        handle(&d, alarm_at("e1", "checkout-api-5xx", 3)).await.unwrap();
        assert!(
            d.bus.events_of("Lifecycle Stalled").is_empty(),
            "running: nothing to say"
        );
        let id = d.lifecycle.started.lock().unwrap()[0].clone();
        d.lifecycle.set_run(&id, 0, RunState::Failed);
        handle(&d, alarm_at("e2", "checkout-api-5xx", 6)).await.unwrap();
        let stalled = d.bus.events_of("Lifecycle Stalled");
        assert_eq!(stalled.len(), 1);
        assert_eq!(
            (stalled[0]["incident_id"].as_str(), stalled[0]["run_state"].as_str()),
            (Some(id.as_str()), Some("FAILED"))
        );
    }

    #[tokio::test]
    async fn an_alarm_back_to_ok_tells_the_recovery_wait() {
        let d = deps();
        handle(&d, alarm_at("e0", "checkout-api-5xx", 0)).await.unwrap();
        let mut ok = alarm_at("e1", "checkout-api-5xx", 5);
        ok["detail"]["state"]["value"] = json!("OK");
        handle(&d, ok).await.unwrap();
        let recovered = d.bus.events_of("Alarm Recovered");
        assert_eq!(recovered.len(), 1);
        assert_eq!(recovered[0]["alarm"], "checkout-api-5xx");
        assert_eq!(recovered[0]["incident_id"], d.store.all()[0].id.as_str());
    }

    #[tokio::test]
    async fn the_loops_own_alarms_are_not_ingested() {
        let d = deps();
        let result = handle(&d, alarm_at("e0", "incident-loop-self-lifecycle-failures", 0))
            .await
            .unwrap();
        assert!(
            matches!(result, Ingested::Ignored { ref reason, .. } if reason.contains("the loop's own alarm")),
            "{result:?}"
        );
        assert!(d.store.all().is_empty() && d.lifecycle.started.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_malformed_event_is_dead_lettered_with_its_reason_and_opens_nothing() {
        let d = deps();
        let result = handle(&d, fixture("malformed/bad-state.json")).await.unwrap();
        assert!(matches!(result, Ingested::Rejected { ref reason } if reason.contains("BROKEN")));
        let rejected = d.rejects.rejected.lock().unwrap().clone();
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].0, fixture("malformed/bad-state.json"), "kept whole");
        assert!(d.store.all().is_empty());
    }

    #[tokio::test]
    async fn a_muted_alarm_opens_nothing_pages_nobody_and_is_kept_with_its_reason() {
        let d = deps();
        let result = handle(&d, fixture("cloudwatch/muted-alarm.json")).await.unwrap();
        assert!(
            matches!(&result, Ingested::Recorded { outcome: Outcome::Ignored { reason }, .. } if reason.contains("checkout-nightly-maintenance")),
            "{result:?}"
        );
        assert!(d.store.all().is_empty() && d.lifecycle.started.lock().unwrap().is_empty());
        let ignored = d.store.ignored();
        assert_eq!(ignored.len(), 1);
        assert!(ignored[0].1.quiet.is_some(), "kept as a quiet signal");
    }

    #[tokio::test]
    async fn a_silenced_service_pages_nobody_but_a_customer_report_breaks_through() {
        use incident_core::approval::Caller;
        use incident_core::noise::{decide, SilenceRequest};
        let mut d = deps();
        let event = alarm_at("e0", "checkout-api-5xx", 10);
        let now = arrival(&event);
        let set = SilenceRequest::Set {
            service: "checkout".into(),
            minutes: 60,
            reason: "planned failover test".into(),
        };
        let silence = decide(
            &set,
            &d.catalog,
            &Caller::from_arn("arn:aws:iam::1:user/ana"),
            now - chrono::TimeDelta::minutes(30),
        )
        .unwrap();
        d.catalog.silences.push(silence);
        let result = handle(&d, event).await.unwrap();
        assert!(
            matches!(&result, Ingested::Recorded { outcome: Outcome::Ignored { reason }, .. } if reason.contains("planned failover test, set by ana")),
            "{result:?}"
        );
        assert!(d.store.all().is_empty());
        let mut report = alarm_at("r1", "x", 11);
        report["source"] = json!("incident-loop.customer");
        report["detail-type"] = json!("Customer Impact Report");
        report["time"] = json!("2026-11-23T03:11:00Z");
        report["detail"] = json!({"service": "checkout", "summary": "customers cannot pay", "report_id": "case-1"});
        handle(&d, report).await.unwrap();
        assert_eq!(d.store.all().len(), 1, "the report opened an incident");
    }

    #[tokio::test]
    async fn a_passed_canary_run_recovers_the_incident_its_failure_opened() {
        let d = deps();
        let failed = fixture("synthetics/canary-failure.json");
        handle(&d, failed).await.unwrap();
        let result = handle(&d, fixture("synthetics/canary-success.json")).await.unwrap();
        assert!(
            matches!(outcome_of(&result), Some(Outcome::Recovery { .. })),
            "{result:?}"
        );
        let recovered = d.bus.events_of("Alarm Recovered");
        assert_eq!(recovered.len(), 1);
        assert_eq!(recovered[0]["alarm"], "checkout-homepage");
        // The next routine pass records nothing at all.
        let mut next = fixture("synthetics/canary-success.json");
        next["id"] = json!("next-pass");
        let timeline = d.store.timeline(&d.store.all()[0].id).len();
        let again = handle(&d, next).await.unwrap();
        assert!(
            matches!(outcome_of(&again), Some(Outcome::Unneeded { .. })),
            "{again:?}"
        );
        assert_eq!(d.store.timeline(&d.store.all()[0].id).len(), timeline);
        assert!(d.store.ignored().is_empty());
    }

    #[tokio::test]
    async fn a_failed_deployment_opens_an_incident_and_the_next_successful_one_recovers_it() {
        let d = deps();
        // A routine deployment: kept as a change of checkout, and nothing waits for its success.
        let routine = handle(&d, fixture("deployments/ecs-deployment-completed.json"))
            .await
            .unwrap();
        assert!(
            matches!(outcome_of(&routine), Some(Outcome::Unneeded { .. })),
            "{routine:?}"
        );
        assert!(d.store.all().is_empty());

        let failed = handle(&d, fixture("deployments/ecs-deployment-failed.json"))
            .await
            .unwrap();
        assert!(
            matches!(
                outcome_of(&failed),
                Some(Outcome::Placed {
                    placement: Placement::Opened { .. },
                    ..
                })
            ),
            "{failed:?}"
        );
        let incident = d.store.all().pop().unwrap();
        assert_eq!(incident.services, ["checkout"]);
        assert!(!incident.exercise);

        let mut fixed = fixture("deployments/ecs-deployment-completed.json");
        fixed["id"] = json!("fixed");
        fixed["time"] = json!("2024-05-14T10:10:00Z");
        fixed["detail"]["updatedAt"] = json!("2024-05-14T10:09:58Z");
        let recovered = handle(&d, fixed).await.unwrap();
        assert!(
            matches!(outcome_of(&recovered), Some(Outcome::Recovery { .. })),
            "{recovered:?}"
        );
        let stack = handle(&d, fixture("deployments/cloudformation-stack-update.json"))
            .await
            .unwrap();
        assert_eq!(
            stack,
            Ingested::Change {
                change: "stack update succeeded of shop-checkout-api".into(),
                service: "checkout".into(),
                how: "resource pattern 'shop-checkout-api'".into(),
            }
        );
        let (from, to) = (
            "2024-05-14T00:00:00Z".parse().unwrap(),
            "2024-05-15T00:00:00Z".parse().unwrap(),
        );
        let kept = d.store.changes(Space::Real, "checkout", from, to).await.unwrap();
        assert_eq!(kept.len(), 4, "every change event, the routine one too: {kept:#?}");
        assert!(d
            .store
            .changes(Space::GameDay, "checkout", from, to)
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn a_game_day_deployment_is_an_exercise_kept_apart_from_real_changes() {
        let d = deps();
        let mut failed = fixture("deployments/ecs-deployment-failed.json");
        failed["source"] = json!(event::GAMEDAY_SOURCE);
        handle(&d, failed).await.unwrap();
        assert!(d.store.all().pop().unwrap().exercise);
        let (from, to) = (
            "2024-05-14T00:00:00Z".parse().unwrap(),
            "2024-05-15T00:00:00Z".parse().unwrap(),
        );
        assert_eq!(
            d.store
                .changes(Space::GameDay, "checkout", from, to)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(d
            .store
            .changes(Space::Real, "checkout", from, to)
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn a_flapping_alarm_is_marked_once_and_its_further_changes_spare_the_timeline() {
        let d = deps();
        for i in 0..8u32 {
            let mut e = alarm_at(&format!("e{i}"), "checkout-api-5xx", i * 2);
            if i % 2 == 1 {
                e["detail"]["state"]["value"] = json!("OK");
            }
            handle(&d, e).await.unwrap();
        }
        let incident = d.store.all().pop().unwrap();
        assert_eq!(incident.flapping, vec!["checkout-api-5xx".to_string()]);
        let timeline = d.store.timeline(&incident.id);
        let flapping: Vec<_> = timeline.iter().filter(|e| e.text.contains("is flapping")).collect();
        assert_eq!(flapping.len(), 1, "said once");
        assert_eq!(
            timeline.len(),
            1 + 4 + 1,
            "opened, four changes, the flapping note: {timeline:#?}"
        );
    }

    #[tokio::test]
    async fn a_contributor_joins_its_alarms_incident_and_says_which_contributor() {
        let d = deps();
        let mut parent = fixture("cloudwatch/single-metric-alarm.json");
        parent["detail"]["alarmName"] = json!("checkout-api-latency-by-az");
        parent["detail"]["state"]["timestamp"] = json!("2024-05-14T09:39:30.000+0000");
        handle(&d, parent).await.unwrap();
        handle(&d, fixture("cloudwatch/contributor-alarm.json")).await.unwrap();
        let incidents = d.store.all();
        assert_eq!(incidents.len(), 1, "joined, not opened");
        let timeline = d.store.timeline(&incidents[0].id);
        assert!(
            timeline.iter().any(|e| e
                .text
                .contains("checkout-api-latency-by-az [AvailabilityZone=eu-west-1a]")),
            "{timeline:#?}"
        );
    }

    #[tokio::test]
    async fn game_day_alarms_open_their_own_incident_beside_a_real_one() {
        let d = deps();
        handle(&d, alarm_at("e0", "checkout-api-5xx", 0)).await.unwrap();
        let mut drill = alarm_at("e1", "checkout-api-5xx", 1);
        drill["source"] = json!("incident-loop.gameday");
        handle(&d, drill).await.unwrap();
        let incidents = d.store.all();
        assert_eq!(incidents.len(), 2);
        assert_eq!(incidents.iter().filter(|i| i.exercise).count(), 1);
    }

    #[tokio::test]
    async fn an_account_specific_aws_issue_opens_an_aws_side_incident_that_its_closing_recovers() {
        let d = deps();
        handle(&d, fixture("health/issue-open.json")).await.unwrap();
        let incident = d.store.all().pop().expect("opened");
        assert_eq!(incident.services, ["checkout"], "checkout runs on ELASTICLOADBALANCING");
        assert_eq!(incident.aws_events.len(), 1);
        assert!(incident.aws_events[0].contains("AWS_ELASTICLOADBALANCING_API_ISSUE"));
        let closed = handle(&d, fixture("health/issue-closed.json")).await.unwrap();
        assert!(
            matches!(outcome_of(&closed), Some(Outcome::Recovery { .. })),
            "{closed:?}"
        );
        let recovered = d.bus.events_of("Alarm Recovered");
        assert_eq!(recovered.len(), 1);
    }

    #[tokio::test]
    async fn public_and_planned_aws_events_page_nobody_and_a_public_one_joins_an_open_incident() {
        let d = deps();
        let planned = handle(&d, fixture("health/scheduled-change.json")).await.unwrap();
        assert!(
            matches!(&planned, Ingested::Recorded { outcome: Outcome::Ignored { reason }, .. } if reason.contains("planned AWS change")),
            "{planned:?}"
        );
        let public = handle(&d, fixture("health/public-issue.json")).await.unwrap();
        assert!(
            matches!(outcome_of(&public), Some(Outcome::Ignored { .. })),
            "{public:?}"
        );
        assert!(d.store.all().is_empty(), "nothing opened");
        // An EC2 alarm of checkout is open when the public EC2 event arrives: it joins, pages nobody.
        let mut alarm = fixture("cloudwatch/single-metric-alarm.json");
        alarm["detail"]["state"]["timestamp"] = json!("2024-05-15T13:30:00.000+0000");
        handle(&d, alarm).await.unwrap();
        let mut again = fixture("health/public-issue.json");
        again["id"] = json!("public-2");
        handle(&d, again).await.unwrap();
        let incident = d.store.all().pop().unwrap();
        assert_eq!(incident.aws_events.len(), 1, "{incident:#?}");
        assert!(d
            .store
            .timeline(&incident.id)
            .iter()
            .any(|e| e.text.contains("a public AWS Health event: pages nobody")));
    }

    #[tokio::test]
    async fn an_aws_event_no_catalog_service_uses_opens_nothing() {
        let d = deps();
        let mut e = fixture("health/issue-open.json");
        e["detail"]["service"] = json!("SAGEMAKER");
        let result = handle(&d, e).await.unwrap();
        assert!(
            matches!(&result, Ingested::Recorded { outcome: Outcome::Ignored { reason }, .. } if reason.contains("no catalog service uses")),
            "{result:?}"
        );
        assert!(d.store.all().is_empty());
    }

    /// Raw JSON as EventBridge might hand it over: envelopes with any fields, of any types.
    fn raw_event() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let text = prop_oneof![
            any::<String>(),
            Just("incident-loop.gameday".to_string()),
            Just("aws.cloudwatch".to_string()),
            Just("CloudWatch Alarm State Change".to_string()),
            Just("Customer Impact Report".to_string()),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::from),
            text.clone().prop_map(Value::String)
        ];
        let value = leaf.prop_recursive(2, 12, 4, |inner| {
            prop::collection::btree_map("[a-zA-Z-]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
        });
        (
            prop::option::of(text.clone()),
            prop::option::of(text.clone()),
            prop::option::of(text),
            value,
            fixture_variant(),
        )
            .prop_map(|(id, source, detail_type, detail, base)| {
                let mut e = base;
                if let Some(id) = id {
                    e["id"] = json!(id);
                }
                if let Some(s) = source {
                    e["source"] = json!(s);
                }
                if let Some(t) = detail_type {
                    e["detail-type"] = json!(t);
                }
                if !detail.is_null() {
                    e["detail"] = detail;
                }
                e
            })
    }

    fn fixture_variant() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        prop::sample::select(vec![
            "cloudwatch/single-metric-alarm.json",
            "cloudwatch/contributor-alarm.json",
            "synthetics/canary-failure.json",
            "deployments/ecs-deployment-failed.json",
            "deployments/lambda-code-update.json",
            "malformed/missing-detail.json",
        ])
        .prop_map(fixture)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
        ))]

        #[test]
        fn every_event_is_dead_lettered_with_its_reason_or_recorded(raw in raw_event()) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let d = deps();
            let result = runtime.block_on(handle(&d, raw.clone())).unwrap();
            let rejected = d.rejects.rejected.lock().unwrap().clone();
            match result {
                Ingested::Rejected { reason } => {
                    proptest::prop_assert_eq!(rejected.len(), 1);
                    proptest::prop_assert_eq!(&rejected[0].0, &raw, "kept whole");
                    proptest::prop_assert!(rejected[0].1 == reason && !reason.contains('\n'), "{}", reason);
                    proptest::prop_assert!(d.store.all().is_empty());
                }
                Ingested::Recorded { .. } | Ingested::Ignored { .. } | Ingested::Change { .. } => {
                    proptest::prop_assert!(rejected.is_empty());
                    for incident in d.store.all() {
                        proptest::prop_assert_eq!(incident_core::text::line(&incident.title, usize::MAX), incident.title.clone());
                    }
                }
            }
        }
    }
}
