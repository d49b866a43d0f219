//! Game days: rehearsal events injected through the `incident-loop.gameday` source, so that teams
//! practise on the real loop and the incidents it opens are flagged as exercises.

use anyhow::{bail, Context as _, Result};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::{DateTime, Utc};
use clap::ValueEnum;
use incident_core::event::{ALARM_STATE_CHANGE, CUSTOMER_REPORT, GAMEDAY_SOURCE};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// checkout's 5xx alarm fires, flaps back to OK and fires again: one incident.
    SingleService,
    /// orders, search, auth and dns alarm together: an aggregate alarm, one multi-service event.
    MultiService,
    /// Support reports checkout failures before any alarm: a customer-detected incident.
    CustomerReport,
}

/// One event to put: detail-type and detail.
pub struct GameEvent {
    pub detail_type: &'static str,
    pub detail: Value,
    pub resources: Vec<String>,
}

/// A metric alarm's state change detail, in the documented shape.
pub fn alarm_detail(name: &str, state: &str, at: DateTime<Utc>, tags: Option<Value>) -> Value {
    let mut detail = json!({
        "alarmName": name,
        "state": {
            "value": state,
            "reason": format!("Game day: {name} set to {state}"),
            "timestamp": at.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string(),
        },
        "previousState": { "value": if state == "ALARM" { "OK" } else { "ALARM" }, "reason": "game day" },
        "configuration": {
            "description": "game-day alarm",
            "metrics": [{
                "id": "m1",
                "metricStat": { "metric": { "namespace": "GameDay", "name": "Errors", "dimensions": { "Alarm": name } },
                                "period": 60, "stat": "Sum" },
                "returnData": true
            }]
        }
    });
    if let Some(tags) = tags {
        detail["alarmTags"] = tags;
        detail["alarmTagsStatus"] = json!("SUCCESS");
    }
    detail
}

fn alarm(name: &str, state: &str, at: DateTime<Utc>) -> GameEvent {
    GameEvent {
        detail_type: ALARM_STATE_CHANGE,
        detail: alarm_detail(name, state, at, None),
        resources: vec![format!("arn:aws:cloudwatch:us-east-1:000000000000:alarm:{name}")],
    }
}

pub fn scenario(which: Scenario, now: DateTime<Utc>) -> Vec<GameEvent> {
    match which {
        Scenario::SingleService => vec![
            alarm("checkout-api-5xx", "ALARM", now),
            alarm("checkout-api-5xx", "OK", now),
            alarm("checkout-api-5xx", "ALARM", now),
        ],
        Scenario::MultiService => {
            let mut search = alarm("search-latency-p99", "ALARM", now);
            search.detail = alarm_detail("search-latency-p99", "ALARM", now, Some(json!({ "app": "search-web" })));
            vec![
                alarm("orders-error-rate", "ALARM", now),
                search,
                alarm("auth-login-errors", "ALARM", now),
                alarm("dns-resolution-failures", "ALARM", now),
            ]
        }
        Scenario::CustomerReport => vec![GameEvent {
            detail_type: CUSTOMER_REPORT,
            detail: json!({
                "service": "checkout",
                "summary": "Game day: customers cannot complete payment",
                "reporter": "support game day",
                "report_id": format!("gameday-{}", now.timestamp_millis()),
            }),
            resources: vec![],
        }],
    }
}

/// Reads an EventBridge event file and moves its timestamps to `now`, so it is a fresh signal.
pub fn from_file(text: &str, now: DateTime<Utc>) -> Result<GameEvent> {
    let event: Value = serde_json::from_str(text).context("the event file is not JSON")?;
    let named = event.get("detail-type").and_then(Value::as_str);
    let Some(detail_type) = incident_core::event::game_day_types().find(|t| Some(*t) == named) else {
        bail!("detail-type {named:?} is not one the loop ingests");
    };
    let mut detail = event.get("detail").cloned().context("the event has no detail")?;
    if let Some(state) = detail.get_mut("state").and_then(Value::as_object_mut) {
        state.insert(
            "timestamp".into(),
            json!(now.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()),
        );
    }
    if let Some(timeline) = detail.get_mut("canary-run-timeline").and_then(Value::as_object_mut) {
        timeline.insert("completed".into(), json!(now.timestamp()));
    }
    // A deployment's own time (ECS) and an API call's (CloudTrail).
    for field in ["updatedAt", "eventTime"] {
        if let Some(t) = detail.get_mut(field).filter(|t| t.is_string()) {
            *t = json!(now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        }
    }
    let resources = serde_json::from_value(event.get("resources").cloned().unwrap_or(json!([]))).unwrap_or_default();
    Ok(GameEvent {
        detail_type,
        detail,
        resources,
    })
}

/// Asks the loop to run the game day's approved runbooks for real instead of rehearsing them.
pub fn run_runbooks(events: &mut [GameEvent]) {
    for e in events {
        e.detail["gameDay"] = json!({ "runRunbooks": true });
    }
}

/// Puts events on the loop's own bus (`bus`), where ingest's rule for game days listens; putting
/// them needs the stack's `GameDayPolicy`.
pub async fn put(
    client: &aws_sdk_eventbridge::Client,
    bus: &str,
    source: &str,
    events: &[GameEvent],
) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for event in events {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source(source)
            .detail_type(event.detail_type)
            .detail(event.detail.to_string())
            .set_resources(Some(event.resources.clone()))
            .build();
        let out = client
            .put_events()
            .entries(entry)
            .send()
            .await
            .context("PutEvents failed")?;
        if out.failed_entry_count() > 0 {
            let why: Vec<_> = out.entries().iter().filter_map(|e| e.error_message()).collect();
            bail!("EventBridge refused the event: {}", why.join("; "));
        }
        ids.extend(out.entries().iter().filter_map(|e| e.event_id().map(str::to_string)));
    }
    Ok(ids)
}

pub const SOURCE: &str = GAMEDAY_SOURCE;

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::event::{parse, Envelope};

    fn as_envelope(e: &GameEvent) -> Envelope {
        Envelope {
            id: Some("x".into()),
            source: SOURCE.into(),
            detail_type: e.detail_type.into(),
            account: None,
            region: None,
            time: Some(Utc::now()),
            resources: e.resources.clone(),
            detail: e.detail.clone(),
        }
    }

    #[test]
    fn every_scenario_event_parses_as_an_exercise() {
        for s in [
            Scenario::SingleService,
            Scenario::MultiService,
            Scenario::CustomerReport,
        ] {
            for e in scenario(s, Utc::now()) {
                let signal = parse(&as_envelope(&e)).unwrap();
                assert!(signal.exercise);
            }
        }
    }

    #[test]
    fn a_game_day_rehearses_its_runbooks_unless_it_asks_for_them() {
        let mut events = scenario(Scenario::SingleService, Utc::now());
        assert!(!parse(&as_envelope(&events[0])).unwrap().live_runbooks);
        run_runbooks(&mut events);
        assert!(parse(&as_envelope(&events[0])).unwrap().live_runbooks);
    }

    #[test]
    fn a_deployment_file_is_a_game_day_event_too() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/deployments/ecs-deployment-failed.json"
        ))
        .unwrap();
        let now = Utc::now();
        let e = from_file(&text, now).unwrap();
        let observed = incident_core::event::read_within(&as_envelope(&e), now, Default::default()).unwrap();
        let incident_core::event::Observed::Change(c) = observed else {
            panic!("a change")
        };
        assert_eq!(c.change.at.timestamp_millis(), now.timestamp_millis());
        assert!(c.signal.unwrap().exercise);
    }

    #[test]
    fn event_files_are_moved_to_now() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/synthetics/canary-failure.json"
        ))
        .unwrap();
        let now = Utc::now();
        let e = from_file(&text, now).unwrap();
        let signal = parse(&as_envelope(&e)).unwrap();
        assert_eq!(signal.at.timestamp(), now.timestamp());
    }
}
