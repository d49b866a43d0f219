//! Turning the events that arrive on EventBridge into [`Signal`]s.
//!
//! The envelope is handed over already split into its fields (the Lambda handler uses
//! `aws_lambda_events`' `EventBridgeEvent` for that); this module reads the `detail` of the three
//! kinds we accept. The alarm detail types are our own: the maintained crate models the payload of a
//! *Lambda alarm action*, whose shape differs from the EventBridge event (there `reasonData` is a
//! JSON string, metric-math entries have no `metricStat`, and composite alarms without a suppressor
//! carry no suppressor fields), so parsing every documented variant needs the looser shape below.

use crate::signal::{AlarmDetails, AlarmKind, AlarmMetric, Health, Signal, SignalSource};
use crate::SignalKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub const CLOUDWATCH_SOURCE: &str = "aws.cloudwatch";
pub const SYNTHETICS_SOURCE: &str = "aws.synthetics";
/// Customer impact reports filed through `incidentctl report`.
pub const CUSTOMER_SOURCE: &str = "incident-loop.customer";
/// Rehearsals: accepts every detail-type above; incidents opened from it are exercises.
pub const GAMEDAY_SOURCE: &str = "incident-loop.gameday";

pub const ALARM_STATE_CHANGE: &str = "CloudWatch Alarm State Change";
pub const CANARY_FAILURE: &str = "Synthetics Canary TestRun Failure";
pub const CUSTOMER_REPORT: &str = "Customer Impact Report";

/// The EventBridge envelope fields this module needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub id: Option<String>,
    pub source: String,
    pub detail_type: String,
    pub time: Option<DateTime<Utc>>,
    pub resources: Vec<String>,
    pub detail: Value,
}

/// Why an event is not a signal. Every variant is permanent: retrying the same event cannot help,
/// so the ingest function reports it as a non-retryable error and the event goes to the DLQ.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("unknown event source '{0}'")]
    UnknownSource(String),
    #[error("detail-type '{detail_type}' is not accepted from source '{event_source}'")]
    UnknownDetailType { event_source: String, detail_type: String },
    #[error("the event has no detail")]
    MissingDetail,
    #[error("malformed detail: {0}")]
    MalformedDetail(String),
    #[error("invalid {field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("not an impact signal: {0}")]
    NotASignal(String),
}

/// Parses one envelope. Events from the game-day source parse exactly like the real ones and are
/// flagged as exercises.
pub fn parse(envelope: &Envelope) -> Result<Signal, ParseError> {
    let exercise = envelope.source == GAMEDAY_SOURCE;
    let expected_type = match envelope.source.as_str() {
        CLOUDWATCH_SOURCE => Some(ALARM_STATE_CHANGE),
        SYNTHETICS_SOURCE => Some(CANARY_FAILURE),
        CUSTOMER_SOURCE => Some(CUSTOMER_REPORT),
        GAMEDAY_SOURCE => None,
        other => return Err(ParseError::UnknownSource(other.to_string())),
    };
    if expected_type.is_some_and(|t| t != envelope.detail_type) {
        return Err(unknown_type(envelope));
    }
    if envelope.detail.is_null() {
        return Err(ParseError::MissingDetail);
    }
    let mut signal = match envelope.detail_type.as_str() {
        ALARM_STATE_CHANGE => parse_alarm(envelope)?,
        CANARY_FAILURE => parse_canary(envelope)?,
        CUSTOMER_REPORT => parse_report(envelope)?,
        _ => return Err(unknown_type(envelope)),
    };
    signal.exercise = exercise;
    Ok(signal)
}

fn unknown_type(envelope: &Envelope) -> ParseError {
    ParseError::UnknownDetailType {
        event_source: envelope.source.clone(),
        detail_type: envelope.detail_type.clone(),
    }
}

fn detail<T: for<'de> Deserialize<'de>>(envelope: &Envelope) -> Result<T, ParseError> {
    serde_json::from_value(envelope.detail.clone()).map_err(|e| ParseError::MalformedDetail(e.to_string()))
}

fn signal_key(envelope: &Envelope, explicit: Option<&str>) -> Result<SignalKey, ParseError> {
    let id = explicit.or(envelope.id.as_deref()).filter(|id| !id.trim().is_empty());
    let id = id.ok_or(ParseError::InvalidField {
        field: "id",
        reason: "the event has no id".into(),
    })?;
    Ok(SignalKey::new(&envelope.source, id))
}

/// CloudWatch writes timestamps like `2023-08-04T12:56:46.138+0000`, which is not RFC 3339.
pub fn parse_time(field: &'static str, text: &str) -> Result<DateTime<Utc>, ParseError> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ParseError::InvalidField {
            field,
            reason: format!("'{text}': {e}"),
        })
}

fn event_time(envelope: &Envelope, own: Option<&str>, field: &'static str) -> Result<DateTime<Utc>, ParseError> {
    match own {
        Some(text) => parse_time(field, text),
        None => envelope.time.ok_or(ParseError::InvalidField {
            field: "time",
            reason: "no timestamp".into(),
        }),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmDetail {
    alarm_name: String,
    state: AlarmState,
    #[serde(default)]
    previous_state: Option<AlarmState>,
    #[serde(default)]
    configuration: AlarmConfiguration,
    #[serde(default)]
    alarm_tags: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmState {
    value: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    actions_suppressed_by: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AlarmConfiguration {
    #[serde(default)]
    metrics: Vec<MetricEntry>,
    #[serde(default)]
    alarm_rule: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricEntry {
    id: String,
    #[serde(default)]
    metric_stat: Option<MetricStat>,
    #[serde(default)]
    expression: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricStat {
    metric: Metric,
    #[serde(default)]
    period: Option<u32>,
    #[serde(default)]
    stat: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metric {
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    dimensions: BTreeMap<String, Value>,
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse_alarm(envelope: &Envelope) -> Result<Signal, ParseError> {
    let d: AlarmDetail = detail(envelope)?;
    let health = match d.state.value.as_str() {
        "ALARM" => Health::Impaired,
        "OK" => Health::Recovered,
        "INSUFFICIENT_DATA" => Health::InsufficientData,
        other => {
            return Err(ParseError::InvalidField {
                field: "detail.state.value",
                reason: format!("'{other}' is not ALARM, OK or INSUFFICIENT_DATA"),
            })
        }
    };
    let metrics: Vec<AlarmMetric> = d
        .configuration
        .metrics
        .into_iter()
        .map(|m| {
            let (namespace, name, dimensions, stat, period) = match m.metric_stat {
                Some(s) => (
                    s.metric.namespace,
                    s.metric.name,
                    s.metric
                        .dimensions
                        .iter()
                        .map(|(k, v)| (k.clone(), text_of(v)))
                        .collect(),
                    s.stat,
                    s.period,
                ),
                None => (None, None, BTreeMap::new(), None, None),
            };
            AlarmMetric {
                id: m.id,
                namespace,
                name,
                dimensions,
                expression: m.expression,
                stat,
                period,
            }
        })
        .collect();
    let kind = if d.configuration.alarm_rule.is_some() {
        AlarmKind::Composite
    } else if metrics.iter().any(|m| {
        m.expression
            .as_deref()
            .is_some_and(|e| e.contains("ANOMALY_DETECTION_BAND"))
    }) {
        AlarmKind::AnomalyDetection
    } else if metrics.iter().any(|m| m.expression.is_some()) {
        AlarmKind::MetricMath
    } else {
        AlarmKind::SingleMetric
    };
    let tags: BTreeMap<String, String> = d.alarm_tags.iter().map(|(k, v)| (k.clone(), text_of(v))).collect();
    Ok(Signal {
        key: signal_key(envelope, None)?,
        source: SignalSource::Alarm,
        health,
        at: event_time(envelope, d.state.timestamp.as_deref(), "detail.state.timestamp")?,
        reason: d.state.reason,
        service_hint: None,
        exercise: false,
        link: None,
        reporter: None,
        alarm: Some(AlarmDetails {
            kind,
            arn: envelope.resources.first().cloned(),
            metrics,
            alarm_rule: d.configuration.alarm_rule,
            actions_suppressed_by: d.state.actions_suppressed_by,
            tags,
            previous_state: d.previous_state.map(|s| s.value),
        }),
        resource: d.alarm_name,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct CanaryDetail {
    canary_name: String,
    #[serde(default)]
    test_run_status: Option<String>,
    #[serde(default)]
    state_reason: Option<String>,
    #[serde(default)]
    artifact_location: Option<String>,
    #[serde(default)]
    canary_run_timeline: Option<CanaryTimeline>,
}

#[derive(Deserialize)]
struct CanaryTimeline {
    /// Epoch seconds in the documented event; an RFC 3339 string is accepted too.
    #[serde(default)]
    completed: Option<Value>,
}

fn parse_canary(envelope: &Envelope) -> Result<Signal, ParseError> {
    let d: CanaryDetail = detail(envelope)?;
    if let Some(status) = d
        .test_run_status
        .as_deref()
        .filter(|s| !s.eq_ignore_ascii_case("FAILED"))
    {
        return Err(ParseError::NotASignal(format!("canary run status is {status}")));
    }
    let at = match d.canary_run_timeline.and_then(|t| t.completed) {
        Some(Value::Number(n)) => {
            n.as_i64()
                .and_then(|secs| DateTime::from_timestamp(secs, 0))
                .ok_or(ParseError::InvalidField {
                    field: "detail.canary-run-timeline.completed",
                    reason: format!("{n}"),
                })?
        }
        Some(Value::String(text)) => parse_time("detail.canary-run-timeline.completed", &text)?,
        _ => event_time(envelope, None, "time")?,
    };
    Ok(Signal {
        key: signal_key(envelope, None)?,
        source: SignalSource::Canary,
        health: Health::Impaired,
        at,
        reason: d.state_reason.unwrap_or_else(|| "canary run failed".into()),
        service_hint: None,
        exercise: false,
        alarm: None,
        link: d.artifact_location,
        reporter: None,
        resource: d.canary_name,
    })
}

/// The detail of a customer impact report: our own contract, published by `incidentctl report`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerReport {
    /// The catalog service customers are affected on.
    pub service: String,
    /// What customers see, in their words.
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter: Option<String>,
    /// The support case or ticket, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Chosen by the reporter's client so that a retried submission is the same report.
    pub report_id: String,
    /// When customers say the impact began, if it is known to be earlier than the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact_started_at: Option<DateTime<Utc>>,
}

fn parse_report(envelope: &Envelope) -> Result<Signal, ParseError> {
    let d: CustomerReport = detail(envelope)?;
    if d.service.trim().is_empty() {
        return Err(ParseError::InvalidField {
            field: "detail.service",
            reason: "empty".into(),
        });
    }
    if d.summary.trim().is_empty() {
        return Err(ParseError::InvalidField {
            field: "detail.summary",
            reason: "empty".into(),
        });
    }
    let at = match d.impact_started_at {
        Some(t) => t,
        None => event_time(envelope, None, "time")?,
    };
    Ok(Signal {
        key: signal_key(envelope, Some(&d.report_id))?,
        source: SignalSource::CustomerReport,
        health: Health::Impaired,
        at,
        reason: d.summary,
        resource: format!("customer report {}", d.report_id),
        service_hint: Some(d.service),
        exercise: false,
        alarm: None,
        link: d.link,
        reporter: d.reporter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(source: &str, detail_type: &str, detail: Value) -> Envelope {
        Envelope {
            id: Some("evt-1".into()),
            source: source.into(),
            detail_type: detail_type.into(),
            time: Some("2026-11-23T03:00:00Z".parse().unwrap()),
            resources: vec!["arn:aws:cloudwatch:us-east-1:111122223333:alarm:a".into()],
            detail,
        }
    }

    fn alarm(state: &str) -> Value {
        json!({"alarmName": "a", "state": {"value": state, "reason": "r", "timestamp": "2023-08-04T12:56:46.138+0000"},
               "configuration": {"metrics": []}})
    }

    #[test]
    fn cloudwatch_timestamps_without_a_colon_in_the_offset_parse() {
        let t = parse_time("t", "2023-08-04T12:56:46.138+0000").unwrap();
        assert_eq!(t.to_rfc3339(), "2023-08-04T12:56:46.138+00:00");
    }

    #[test]
    fn alarm_states_map_to_health() {
        for (state, health) in [
            ("ALARM", Health::Impaired),
            ("OK", Health::Recovered),
            ("INSUFFICIENT_DATA", Health::InsufficientData),
        ] {
            let s = parse(&envelope(CLOUDWATCH_SOURCE, ALARM_STATE_CHANGE, alarm(state))).unwrap();
            assert_eq!(s.health, health);
        }
    }

    #[test]
    fn game_day_events_parse_as_exercises() {
        let s = parse(&envelope(GAMEDAY_SOURCE, ALARM_STATE_CHANGE, alarm("ALARM"))).unwrap();
        assert!(s.exercise);
        assert_eq!(s.key, SignalKey::new(GAMEDAY_SOURCE, "evt-1"));
    }

    #[test]
    fn unknown_sources_and_detail_types_are_refused_with_their_names() {
        let e = parse(&envelope("aws.ec2", ALARM_STATE_CHANGE, alarm("ALARM"))).unwrap_err();
        assert_eq!(e, ParseError::UnknownSource("aws.ec2".into()));
        let e = parse(&envelope(CLOUDWATCH_SOURCE, "Something Else", alarm("ALARM"))).unwrap_err();
        assert!(e.to_string().contains("Something Else"), "{e}");
        let e = parse(&envelope(GAMEDAY_SOURCE, "Something Else", alarm("ALARM"))).unwrap_err();
        assert!(matches!(e, ParseError::UnknownDetailType { .. }));
    }

    #[test]
    fn customer_reports_use_their_report_id_so_a_resubmission_is_the_same_signal() {
        let detail = json!({"service": "checkout", "summary": "cannot pay", "report_id": "case-42"});
        let mut first = envelope(CUSTOMER_SOURCE, CUSTOMER_REPORT, detail.clone());
        let mut second = envelope(CUSTOMER_SOURCE, CUSTOMER_REPORT, detail);
        first.id = Some("one".into());
        second.id = Some("two".into());
        let (a, b) = (parse(&first).unwrap(), parse(&second).unwrap());
        assert_eq!(a.key, b.key);
        assert!(a.is_customer_detected());
        assert_eq!(a.service_hint.as_deref(), Some("checkout"));
    }

    #[test]
    fn an_empty_report_is_refused() {
        let detail = json!({"service": "checkout", "summary": "  ", "report_id": "x"});
        let e = parse(&envelope(CUSTOMER_SOURCE, CUSTOMER_REPORT, detail)).unwrap_err();
        assert!(matches!(
            e,
            ParseError::InvalidField {
                field: "detail.summary",
                ..
            }
        ));
    }
}
