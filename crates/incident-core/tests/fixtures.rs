//! Every documented event variant in `events/` parses to the signal it should.

use chrono::TimeDelta;
use incident_core::event::{parse_at, Envelope, ParseError};
use incident_core::signal::{AlarmKind, Health, Quiet, Signal, SignalSource};
use serde_json::Value;

/// A fixture parsed as if it arrived a minute after its envelope's time (the fixtures are from
/// 2024; ingest refuses signals older than a week).
fn parse(e: &Envelope) -> Result<Signal, ParseError> {
    parse_at(e, e.time.expect("fixtures have a time") + TimeDelta::minutes(1))
}

fn envelope(path: &str) -> Envelope {
    let text = std::fs::read_to_string(format!("{}/../../events/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    Envelope::from_json(&serde_json::from_str::<Value>(&text).unwrap())
}

#[test]
fn every_documented_alarm_variant_parses_with_its_kind() {
    for (file, kind, name) in [
        (
            "cloudwatch/single-metric-alarm.json",
            AlarmKind::SingleMetric,
            "checkout-api-5xx",
        ),
        (
            "cloudwatch/single-metric-alarm-tagged.json",
            AlarmKind::SingleMetric,
            "checkout-api-5xx",
        ),
        (
            "cloudwatch/metric-math-alarm.json",
            AlarmKind::MetricMath,
            "orders-error-rate",
        ),
        (
            "cloudwatch/anomaly-detection-alarm.json",
            AlarmKind::AnomalyDetection,
            "search-latency-anomaly",
        ),
        (
            "cloudwatch/composite-alarm.json",
            AlarmKind::Composite,
            "payments-composite",
        ),
        (
            "cloudwatch/composite-alarm-suppressed.json",
            AlarmKind::Composite,
            "payments-composite-suppressed",
        ),
    ] {
        let s = parse(&envelope(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let alarm = s.alarm.as_ref().unwrap();
        assert_eq!(
            (alarm.kind, s.resource.as_str(), s.health),
            (kind, name, Health::Impaired),
            "{file}"
        );
        assert_eq!(s.source, SignalSource::Alarm);
        assert!(!s.exercise);
        assert!(!s.reason.is_empty(), "{file}: reason kept");
    }
}

#[test]
fn alarm_tags_are_kept_when_present() {
    let s = parse(&envelope("cloudwatch/single-metric-alarm-tagged.json")).unwrap();
    assert_eq!(
        s.alarm.unwrap().tags.get("service").map(String::as_str),
        Some("checkout")
    );
    let s = parse(&envelope("cloudwatch/single-metric-alarm.json")).unwrap();
    assert!(s.alarm.unwrap().tags.is_empty());
}

#[test]
fn suppressed_composite_alarms_say_by_what() {
    let s = parse(&envelope("cloudwatch/composite-alarm-suppressed.json")).unwrap();
    assert!(s.alarm.unwrap().actions_suppressed_by.is_some());
}

#[test]
fn metric_alarms_keep_their_metrics_for_evidence_capture() {
    let s = parse(&envelope("cloudwatch/single-metric-alarm.json")).unwrap();
    let m = &s.alarm.unwrap().metrics[0];
    assert_eq!(m.name.as_deref(), Some("HTTPCode_Target_5XX_Count"));
    assert!(m.period.is_some());
    let s = parse(&envelope("cloudwatch/metric-math-alarm.json")).unwrap();
    assert!(s.alarm.unwrap().metrics.iter().any(|m| m.expression.is_some()));
}

#[test]
fn ok_and_insufficient_data_are_recovery_and_no_data() {
    assert_eq!(
        parse(&envelope("cloudwatch/single-metric-ok.json")).unwrap().health,
        Health::Recovered
    );
    let s = parse(&envelope("cloudwatch/insufficient-data.json")).unwrap();
    assert_eq!(s.health, Health::InsufficientData);
}

#[test]
fn a_failed_canary_run_impairs_and_a_passed_one_recovers() {
    let s = parse(&envelope("synthetics/canary-failure.json")).unwrap();
    assert_eq!(
        (s.source, s.resource.as_str(), s.health),
        (SignalSource::Canary, "checkout-homepage", Health::Impaired)
    );
    assert_eq!(s.at.timestamp(), 1715679039, "run completion time, epoch seconds");
    let ok = parse(&envelope("synthetics/canary-success.json")).unwrap();
    assert_eq!((ok.health, ok.watched()), (Health::Recovered, s.watched()));
}

#[test]
fn contributor_changes_and_mute_rules_parse_from_their_documented_shapes() {
    let s = parse(&envelope("cloudwatch/contributor-alarm.json")).unwrap();
    let contributor = s.alarm.as_ref().and_then(|a| a.contributor.clone()).unwrap();
    assert_eq!(contributor.attributes["AvailabilityZone"], "eu-west-1a");
    assert_eq!(
        parse(&envelope("cloudwatch/contributor-ok.json")).unwrap().health,
        Health::Recovered
    );
    let muted = parse(&envelope("cloudwatch/muted-alarm.json")).unwrap();
    assert!(matches!(muted.quiet, Some(Quiet::Muted { .. })), "{:?}", muted.quiet);
}

#[test]
fn malformed_events_are_refused_with_a_reason() {
    assert_eq!(
        parse(&envelope("malformed/missing-detail.json")).unwrap_err(),
        ParseError::MissingDetail
    );
    let e = parse(&envelope("malformed/unknown-detail-type.json")).unwrap_err();
    assert!(e.to_string().contains("CloudWatch Alarm Configuration Change"), "{e}");
    let e = parse(&envelope("malformed/bad-state.json")).unwrap_err();
    assert!(e.to_string().contains("BROKEN"), "{e}");
}

#[test]
fn aws_health_events_parse_by_scope_category_and_status() {
    let open = parse(&envelope("health/issue-open.json")).unwrap();
    assert_eq!(
        (open.source, open.health, open.quiet.clone()),
        (SignalSource::AwsHealth, Health::Impaired, None)
    );
    let aws = open.aws.clone().unwrap();
    assert_eq!(
        (aws.service.as_str(), aws.region.as_str()),
        ("ELASTICLOADBALANCING", "eu-west-1")
    );
    assert_eq!(
        open.at.to_rfc3339(),
        "2024-05-14T09:05:00+00:00",
        "the issue's start, RFC 1123"
    );
    let closed = parse(&envelope("health/issue-closed.json")).unwrap();
    assert_eq!(
        (closed.health, closed.watched()),
        (Health::Recovered, open.watched()),
        "the same event, over"
    );
    let public = parse(&envelope("health/public-issue.json")).unwrap();
    assert_eq!(public.quiet, Some(Quiet::AwsPublic));
    let planned = parse(&envelope("health/scheduled-change.json")).unwrap();
    assert!(
        matches!(planned.quiet, Some(Quiet::AwsPlanned { starts: Some(_) })),
        "{:?}",
        planned.quiet
    );
    assert!(
        planned
            .summary()
            .contains("a planned AWS change from 2024-05-30 06:00 UTC"),
        "{}",
        planned.summary()
    );
}
