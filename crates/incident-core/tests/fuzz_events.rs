//! Ingest's parser against hostile input: arbitrary envelopes, and every field of every documented
//! event replaced by arbitrary JSON. It never panics; a refusal is a typed error with a one-line
//! reason; an accepted event is a valid signal or change — every text one safe line within its cap,
//! its time within the clock's bounds.
//!
//! The budget is fixed so that CI's time is: `FUZZ_CASES` cases per property (default 512).

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use incident_core::change::Change;
use incident_core::event::{self, changes, read_within, Envelope, Observed, TimeBounds, MAX_AGE, MAX_AHEAD};
use incident_core::signal::Signal;
use incident_core::text;
use proptest::prelude::*;
use serde_json::{Map, Value};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 21, 2, 30, 0).unwrap()
}

/// Text with what hostile input carries: controls, line breaks, bidi overrides, markup, long runs.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9 <>/\"'`*_#|\\[\\]()\\r\\n\t\u{202E}\u{200B}\u{0}-]{0,40}",
        Just("x".repeat(5000)),
        Just("<script>alert(1)</script>".to_string()),
        Just("2024-05-21T02:29:00.000+0000".to_string()),
        Just("ALARM".to_string()),
        Just("OK".to_string()),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        hostile_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(hostile_text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

const SOURCES: &[&str] = &[
    event::CLOUDWATCH_SOURCE,
    event::SYNTHETICS_SOURCE,
    event::CUSTOMER_SOURCE,
    event::GAMEDAY_SOURCE,
    "aws.health",
    changes::CODEDEPLOY_SOURCE,
    changes::ECS_SOURCE,
    changes::CLOUDFORMATION_SOURCE,
    changes::SSM_SOURCE,
    changes::LAMBDA_SOURCE,
    "",
];
const TYPES: &[&str] = &[
    event::ALARM_STATE_CHANGE,
    event::CONTRIBUTOR_STATE_CHANGE,
    event::CANARY_FAILURE,
    event::CANARY_SUCCESS,
    event::CUSTOMER_REPORT,
    "AWS Health Event",
    changes::CODEDEPLOY_DEPLOYMENT,
    changes::ECS_DEPLOYMENT,
    changes::STACK_STATUS,
    changes::PARAMETER_CHANGE,
    changes::API_CALL,
];

fn envelope() -> impl Strategy<Value = Envelope> {
    (
        prop::option::of(hostile_text()),
        prop_oneof![prop::sample::select(SOURCES).prop_map(String::from), hostile_text()],
        prop_oneof![prop::sample::select(TYPES).prop_map(String::from), hostile_text()],
        prop::option::of(-400i64..400),
        prop::collection::vec(hostile_text(), 0..2),
        json(),
        prop::option::of(prop_oneof![Just("111111111111".to_string()), hostile_text()]),
        prop::option::of(prop_oneof![Just("eu-west-1".to_string()), hostile_text()]),
    )
        .prop_map(
            |(id, source, detail_type, days, resources, detail, account, region)| Envelope {
                id,
                source,
                detail_type,
                account,
                region,
                time: days.map(|d| now() + TimeDelta::days(d)),
                resources,
                detail,
            },
        )
}

fn safe(field: &str, value: &str, max: usize) -> Result<(), TestCaseError> {
    prop_assert!(value.chars().count() <= max, "{field} longer than {max}: {value:?}");
    prop_assert_eq!(
        text::line(value, usize::MAX),
        value.to_string(),
        "{} is not one safe line",
        field
    );
    Ok(())
}

/// What every accepted signal must be.
fn valid(signal: &Signal) -> Result<(), TestCaseError> {
    safe("resource", &signal.resource, text::NAME_MAX + 200)?;
    prop_assert!(!signal.resource.is_empty());
    safe("reason", &signal.reason, text::REASON_MAX)?;
    prop_assert!(
        signal.at >= now() - MAX_AGE && signal.at <= now() + MAX_AHEAD,
        "time {}",
        signal.at
    );
    if let Some(r) = &signal.reporter {
        safe("reporter", r, text::LABEL_MAX)?;
    }
    if let Some(l) = &signal.link {
        safe("link", l, text::LINK_MAX)?;
    }
    if let Some(l) = &signal.location {
        safe("location", &l.describe(), usize::MAX)?;
        prop_assert!(incident_core::account::is_account_id(&l.account) && incident_core::account::is_region(&l.region));
    }
    if let Some(a) = &signal.alarm {
        for (k, v) in &a.tags {
            safe("tag key", k, text::TAG_KEY_MAX)?;
            safe("tag value", v, text::TAG_VALUE_MAX)?;
        }
        if let Some(c) = &a.contributor {
            safe("contributor", &c.label(), usize::MAX)?;
        }
    }
    safe("summary", &signal.summary(), usize::MAX)?;
    Ok(())
}

/// What every accepted change must be.
fn valid_change(change: &Change) -> Result<(), TestCaseError> {
    safe("change resource", &change.resource, text::NAME_MAX)?;
    prop_assert!(!change.resource.is_empty());
    safe("change summary", &change.summary, text::NAME_MAX)?;
    safe("change actor", &change.actor, text::LABEL_MAX)?;
    if let Some(id) = &change.id {
        safe("change id", id, 128)?;
    }
    prop_assert!(change.at >= now() - MAX_AGE && change.at <= now() + MAX_AHEAD);
    Ok(())
}

fn read(envelope: &Envelope) -> Result<Observed, event::ParseError> {
    read_within(envelope, now(), TimeBounds::default())
}

fn check(envelope: &Envelope) -> Result<(), TestCaseError> {
    match read(envelope) {
        Ok(Observed::Signal(signal)) => valid(&signal),
        Ok(Observed::Change(c)) => {
            valid_change(&c.change)?;
            for name in &c.names {
                safe("change name", name, text::NAME_MAX)?;
            }
            match &c.signal {
                Some(s) => valid(s),
                None => Ok(()),
            }
        }
        Err(e) => {
            let reason = e.to_string();
            prop_assert!(!reason.is_empty() && !reason.contains('\n'), "reason {reason:?}");
            Ok(())
        }
    }
}

/// Every documented event that ingest accepts, as an envelope.
fn corpus() -> Vec<(String, Value)> {
    let root = format!("{}/../../events", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["cloudwatch", "synthetics", "health", "deployments"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let path = entry.unwrap().path();
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            out.push((path.display().to_string(), v));
        }
    }
    out
}

fn to_envelope(v: &Value) -> Envelope {
    Envelope {
        time: Some(now()),
        ..Envelope::from_json(v)
    }
}

/// Every path to a value inside `v`.
fn paths(v: &Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let mut p = at.clone();
                p.push(k.clone());
                out.push(p.clone());
                paths(child, p, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let mut p = at.clone();
                p.push(i.to_string());
                out.push(p.clone());
                paths(child, p, out);
            }
        }
        _ => {}
    }
}

fn replace(v: &mut Value, path: &[String], with: Value) {
    let mut node = v;
    for key in path {
        node = match node {
            Value::Object(m) => m.get_mut(key).expect("path exists"),
            Value::Array(a) => &mut a[key.parse::<usize>().unwrap()],
            _ => unreachable!(),
        };
    }
    *node = with;
}

#[test]
fn the_mutated_corpus_is_accepted_as_documented() {
    for (name, v) in corpus() {
        check(&to_envelope(&v)).unwrap_or_else(|e| panic!("{name}: {e}"));
        read(&to_envelope(&v)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_envelopes_are_refused_with_a_reason_or_become_valid_signals_or_changes(e in envelope()) {
        check(&e)?;
    }

    #[test]
    fn any_field_of_a_documented_event_replaced_by_anything(
        pick in any::<prop::sample::Index>(),
        field in any::<prop::sample::Index>(),
        with in json(),
        also_id in prop::option::of(hostile_text()),
    ) {
        let events = corpus();
        let (_, mut v) = events[pick.index(events.len())].clone();
        let mut all = Vec::new();
        paths(&v["detail"], vec!["detail".into()], &mut all);
        if !all.is_empty() {
            replace(&mut v, &all[field.index(all.len())], with);
        }
        let mut e = to_envelope(&v);
        if let Some(id) = also_id {
            e.id = Some(id);
        }
        check(&e)?;
    }
}
