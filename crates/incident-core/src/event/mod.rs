//! Turning the events that arrive on EventBridge into [`Signal`]s.
//!
//! The envelope is handed over already split into its fields (the Lambda handler uses
//! `aws_lambda_events`' `EventBridgeEvent` for that); this module reads the `detail` of the kinds we
//! accept. The alarm detail types are our own: the maintained crate models the payload of a
//! *Lambda alarm action*, whose shape differs from the EventBridge event (there `reasonData` is a
//! JSON string, metric-math entries have no `metricStat`, and composite alarms without a suppressor
//! carry no suppressor fields), so parsing every documented variant needs the looser shape below.
//!
//! Every event is hostile until parsed: free text is made one safe line and capped
//! ([`crate::text`]), what becomes a key (a reported service, a report id) is refused unless it is a
//! plain identifier, and an event's own time is bounded by the clock ([`MAX_AGE`], [`MAX_AHEAD`]).

pub mod changes;

use crate::signal::{
    AlarmDetails, AlarmKind, AlarmMetric, AwsHealthDetails, Contributor, Health, Quiet, Signal, SignalSource,
};
use crate::text::{self, LABEL_MAX, LINK_MAX, NAME_MAX, REASON_MAX, TAG_KEY_MAX, TAG_VALUE_MAX};
use crate::SignalKey;
use chrono::{DateTime, TimeDelta, Utc};
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
pub const CONTRIBUTOR_STATE_CHANGE: &str = "CloudWatch Alarm Contributor State Change";
pub const CANARY_FAILURE: &str = "Synthetics Canary TestRun Failure";
pub const CANARY_SUCCESS: &str = "Synthetics Canary TestRun Successful";
pub const CUSTOMER_REPORT: &str = "Customer Impact Report";
pub const HEALTH_SOURCE: &str = "aws.health";
pub const HEALTH_EVENT: &str = "AWS Health Event";

/// By default an event whose own time is older than this is refused: EventBridge retries a
/// delivery for at most 24 hours, so a week allows a replay from an archive and nothing older can be
/// a live signal. A deployment may choose otherwise ([`TimeBounds`], `MaxSignalAgeDays`).
pub const MAX_AGE: TimeDelta = TimeDelta::days(7);
/// An event whose own time lies further ahead of the clock than this is recorded at the time it
/// arrived instead, and says so: a wrong clock must not move an incident's impact start.
pub const MAX_AHEAD: TimeDelta = TimeDelta::minutes(5);

/// How far an event's own time may lie from the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeBounds {
    /// Older is refused.
    pub max_age: TimeDelta,
    /// Further ahead is recorded at arrival.
    pub max_ahead: TimeDelta,
}

impl Default for TimeBounds {
    fn default() -> Self {
        Self {
            max_age: MAX_AGE,
            max_ahead: MAX_AHEAD,
        }
    }
}
/// The longest report id or reported service name accepted.
pub const ID_MAX: usize = 128;

/// The EventBridge envelope fields this module needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub id: Option<String>,
    pub source: String,
    pub detail_type: String,
    /// The account and region the event happened in (another account's, when forwarded).
    pub account: Option<String>,
    pub region: Option<String>,
    pub time: Option<DateTime<Utc>>,
    pub resources: Vec<String>,
    pub detail: Value,
}

impl Envelope {
    /// The envelope of an event's JSON as EventBridge delivers it (tests, fixtures and benchmarks;
    /// the Lambda handler reads it with `aws_lambda_events`). Missing fields stay empty.
    pub fn from_json(v: &Value) -> Self {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Envelope {
            id: text("id"),
            source: text("source").unwrap_or_default(),
            detail_type: text("detail-type").unwrap_or_default(),
            account: text("account"),
            region: text("region"),
            time: text("time").and_then(|t| DateTime::parse_from_rfc3339(&t).ok().map(|t| t.with_timezone(&Utc))),
            resources: serde_json::from_value(v.get("resources").cloned().unwrap_or(Value::Null)).unwrap_or_default(),
            detail: v.get("detail").cloned().unwrap_or(Value::Null),
        }
    }
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
}

/// The signal detail-types.
const SIGNAL_TYPES: &[&str] = &[
    ALARM_STATE_CHANGE,
    CONTRIBUTOR_STATE_CHANGE,
    CANARY_FAILURE,
    CANARY_SUCCESS,
    CUSTOMER_REPORT,
    HEALTH_EVENT,
];

/// Every detail-type the game-day source takes: the signals' and the changes'.
pub fn game_day_types() -> impl Iterator<Item = &'static str> {
    SIGNAL_TYPES.iter().chain(changes::ALL).copied()
}

/// The signal detail-types accepted from `source` (the game-day source takes every one of them).
/// Every detail-type the loop takes from `source`: its signals' and its changes' (what the stack's
/// rules must route, and no more).
pub fn accepted_types(source: &str) -> Vec<&'static str> {
    let mut types: Vec<&'static str> = accepted(source).unwrap_or_default().to_vec();
    for t in changes::accepted(source).unwrap_or_default() {
        if !types.contains(t) {
            types.push(t);
        }
    }
    types
}

fn accepted(source: &str) -> Option<&'static [&'static str]> {
    const ALARMS: &[&str] = &[ALARM_STATE_CHANGE, CONTRIBUTOR_STATE_CHANGE];
    const CANARIES: &[&str] = &[CANARY_FAILURE, CANARY_SUCCESS];
    const REPORTS: &[&str] = &[CUSTOMER_REPORT];
    const HEALTH: &[&str] = &[HEALTH_EVENT];
    const ALL: &[&str] = SIGNAL_TYPES;
    match source {
        CLOUDWATCH_SOURCE => Some(ALARMS),
        SYNTHETICS_SOURCE => Some(CANARIES),
        HEALTH_SOURCE => Some(HEALTH),
        CUSTOMER_SOURCE => Some(REPORTS),
        GAMEDAY_SOURCE => Some(ALL),
        _ => None,
    }
}

/// What an accepted event is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    Signal(Box<Signal>),
    /// A deployment or configuration change (a failed deployment carries a signal too).
    Change(Box<changes::ChangeEvent>),
}

/// Reads one envelope arriving at `now`: a change event, or else a signal.
pub fn read_within(envelope: &Envelope, now: DateTime<Utc>, bounds: TimeBounds) -> Result<Observed, ParseError> {
    let is_change = changes::accepted(&envelope.source).is_some_and(|t| t.contains(&envelope.detail_type.as_str()));
    if !is_change {
        return parse_within(envelope, now, bounds).map(|s| Observed::Signal(Box::new(s)));
    }
    if envelope.detail.is_null() {
        return Err(ParseError::MissingDetail);
    }
    let mut event = changes::parse(envelope)?;
    let (at, _) = bounded(event.change.at, now, bounds)?;
    event.change.at = at;
    event.change.location = location(envelope)?;
    event.exercise = envelope.source == GAMEDAY_SOURCE;
    if let Some(signal) = &mut event.signal {
        mark(signal, envelope)?;
        bound_time(signal, now, bounds)?;
    }
    Ok(Observed::Change(Box::new(event)))
}

/// Parses one envelope arriving now.
pub fn parse(envelope: &Envelope) -> Result<Signal, ParseError> {
    parse_at(envelope, Utc::now())
}

/// Parses one envelope arriving at `now`, with the default [`TimeBounds`].
pub fn parse_at(envelope: &Envelope, now: DateTime<Utc>) -> Result<Signal, ParseError> {
    parse_within(envelope, now, TimeBounds::default())
}

/// Parses one envelope arriving at `now`. Events from the game-day source parse exactly like the
/// real ones and are flagged as exercises.
pub fn parse_within(envelope: &Envelope, now: DateTime<Utc>, bounds: TimeBounds) -> Result<Signal, ParseError> {
    let types =
        accepted(&envelope.source).ok_or_else(|| ParseError::UnknownSource(text::line(&envelope.source, LABEL_MAX)))?;
    if !types.contains(&envelope.detail_type.as_str()) {
        return Err(unknown_type(envelope));
    }
    if envelope.detail.is_null() {
        return Err(ParseError::MissingDetail);
    }
    let mut signal = match envelope.detail_type.as_str() {
        ALARM_STATE_CHANGE | CONTRIBUTOR_STATE_CHANGE => parse_alarm(envelope)?,
        CANARY_FAILURE | CANARY_SUCCESS => parse_canary(envelope)?,
        HEALTH_EVENT => parse_health(envelope)?,
        _ => parse_report(envelope)?,
    };
    mark(&mut signal, envelope)?;
    bound_time(&mut signal, now, bounds)?;
    Ok(signal)
}

/// What the envelope says of every signal: a game day's (and whether it asked for real runbooks),
/// and the account and region it happened in.
fn mark(signal: &mut Signal, envelope: &Envelope) -> Result<(), ParseError> {
    signal.exercise = envelope.source == GAMEDAY_SOURCE;
    signal.live_runbooks = signal.exercise && asks_for_live_runbooks(&envelope.detail);
    signal.location = location(envelope)?;
    Ok(())
}

fn location(envelope: &Envelope) -> Result<Option<crate::account::Location>, ParseError> {
    crate::account::Location::of(envelope.account.as_deref(), envelope.region.as_deref()).map_err(|reason| {
        ParseError::InvalidField {
            field: "account",
            reason,
        }
    })
}

/// Whether a game-day event's detail asks for real runbooks: `"gameDay": {"runRunbooks": true}`.
fn asks_for_live_runbooks(detail: &Value) -> bool {
    detail["gameDay"]["runRunbooks"] == Value::Bool(true)
}

/// Keeps an event's own time within the bounds around `now`.
fn bound_time(signal: &mut Signal, now: DateTime<Utc>, bounds: TimeBounds) -> Result<(), ParseError> {
    let (at, note) = bounded(signal.at, now, bounds)?;
    signal.at = at;
    if note.is_some() {
        signal.time_note = note;
    }
    Ok(())
}

/// An event's own time within the bounds around `now`: refused when too old, clamped to `now`
/// (with the reason) when ahead of the clock.
fn bounded(
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    bounds: TimeBounds,
) -> Result<(DateTime<Utc>, Option<String>), ParseError> {
    if at < now - bounds.max_age {
        return Err(ParseError::InvalidField {
            field: "time",
            reason: format!(
                "{} is {} days before now; events older than {} days are refused",
                at.to_rfc3339(),
                (now - at).num_days(),
                bounds.max_age.num_days()
            ),
        });
    }
    if at > now + bounds.max_ahead {
        let note = format!(
            "its own time {} was {} min ahead of the clock: recorded at arrival",
            at.format("%Y-%m-%dT%H:%M:%SZ"),
            (at - now).num_minutes()
        );
        return Ok((now, Some(note)));
    }
    Ok((at, None))
}

fn unknown_type(envelope: &Envelope) -> ParseError {
    ParseError::UnknownDetailType {
        event_source: text::line(&envelope.source, LABEL_MAX),
        detail_type: text::line(&envelope.detail_type, LABEL_MAX),
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
    if !text::is_identifier(id, ID_MAX) {
        return Err(ParseError::InvalidField {
            field: "id",
            reason: format!(
                "'{}' is not an id (at most {ID_MAX} letters, digits and . _ - / : @ +)",
                text::line(id, 40)
            ),
        });
    }
    Ok(SignalKey::new(&envelope.source, id))
}

/// A name that must be there: one safe line, not empty.
fn name(field: &'static str, raw: &str) -> Result<String, ParseError> {
    let clean = text::line(raw, NAME_MAX);
    if clean.is_empty() {
        return Err(ParseError::InvalidField {
            field,
            reason: "empty".into(),
        });
    }
    Ok(clean)
}

/// CloudWatch writes timestamps like `2023-08-04T12:56:46.138+0000`, which is not RFC 3339.
pub fn parse_time(field: &'static str, text: &str) -> Result<DateTime<Utc>, ParseError> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ParseError::InvalidField {
            field,
            reason: format!("'{}': {e}", text::line(text, 40)),
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
    /// Contributor state changes only.
    #[serde(default)]
    alarm_contributor: Option<ContributorDetail>,
    /// Set while an alarm mute rule is active (see [`muted_by`]).
    #[serde(default)]
    mute_detail: Option<MuteDetail>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContributorDetail {
    id: String,
    #[serde(default)]
    attributes: BTreeMap<String, Value>,
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

fn text_of(value: &Value, max: usize) -> String {
    match value {
        Value::String(s) => text::line(s, max),
        other => text::line(&other.to_string(), max),
    }
}

/// Tags, attributes and dimensions: keys and values made safe, empty keys dropped.
fn labels(map: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| (text::line(k, TAG_KEY_MAX), text_of(v, TAG_VALUE_MAX)))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// `muteDetail`: CloudWatch sets it on a state change while an alarm mute rule is active.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MuteDetail {
    #[serde(default)]
    muted_by_arn: Option<String>,
    #[serde(default)]
    mute_window_start: Option<String>,
    #[serde(default)]
    mute_window_end: Option<String>,
}

/// The mute rule whose window covers a state change at `at`, by name (the ARN's last part).
fn muted_by(mute: &MuteDetail, at: DateTime<Utc>) -> Result<Option<String>, ParseError> {
    let Some(arn) = mute.muted_by_arn.as_deref().filter(|a| !a.trim().is_empty()) else {
        return Ok(None);
    };
    let start = mute
        .mute_window_start
        .as_deref()
        .map(|t| parse_time("detail.muteDetail.muteWindowStart", t))
        .transpose()?;
    let end = mute
        .mute_window_end
        .as_deref()
        .map(|t| parse_time("detail.muteDetail.muteWindowEnd", t))
        .transpose()?;
    if start.is_some_and(|s| at < s) || end.is_some_and(|e| at > e) {
        return Ok(None);
    }
    let rule = arn.rsplit(':').next().unwrap_or(arn);
    Ok(Some(text::line(rule, NAME_MAX)))
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
                reason: format!("'{}' is not ALARM, OK or INSUFFICIENT_DATA", text::line(other, 40)),
            })
        }
    };
    let contributor = match (envelope.detail_type.as_str(), d.alarm_contributor) {
        (CONTRIBUTOR_STATE_CHANGE, Some(c)) => Some(Contributor {
            id: name("detail.alarmContributor.id", &c.id)?,
            // A contributor is named by a few attributes: more than 8 are not kept.
            attributes: labels(&c.attributes).into_iter().take(8).collect(),
        }),
        (CONTRIBUTOR_STATE_CHANGE, None) => {
            return Err(ParseError::InvalidField {
                field: "detail.alarmContributor",
                reason: "a contributor state change names no contributor".into(),
            })
        }
        _ => None,
    };
    let metrics: Vec<AlarmMetric> = d
        .configuration
        .metrics
        .into_iter()
        .map(|m| {
            let (namespace, name, dimensions, stat, period) = match m.metric_stat {
                Some(s) => (
                    s.metric.namespace.map(|n| text::line(&n, NAME_MAX)),
                    s.metric.name.map(|n| text::line(&n, NAME_MAX)),
                    labels(&s.metric.dimensions),
                    s.stat.map(|n| text::line(&n, LABEL_MAX)),
                    s.period,
                ),
                None => (None, None, BTreeMap::new(), None, None),
            };
            AlarmMetric {
                id: text::line(&m.id, LABEL_MAX),
                namespace,
                name,
                dimensions,
                expression: m.expression.map(|e| text::line(&e, REASON_MAX)),
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
    let suppressed_by = d
        .state
        .actions_suppressed_by
        .map(|b| text::line(&b, LABEL_MAX))
        .filter(|b| !b.is_empty());
    let at = event_time(envelope, d.state.timestamp.as_deref(), "detail.state.timestamp")?;
    let muted = match &d.mute_detail {
        Some(mute) => muted_by(mute, at)?,
        None => None,
    };
    let quiet = match (muted, &suppressed_by) {
        (Some(rule), _) => Some(Quiet::Muted { rule }),
        (None, Some(by)) => Some(Quiet::Suppressed { by: by.clone() }),
        (None, None) => None,
    };
    Ok(Signal {
        key: signal_key(envelope, None)?,
        source: SignalSource::Alarm,
        health,
        at,
        reason: text::line(&d.state.reason, REASON_MAX),
        service_hint: None,
        exercise: false,
        live_runbooks: false,
        location: None,
        link: None,
        reporter: None,
        alarm: Some(AlarmDetails {
            kind,
            arn: envelope.resources.first().map(|a| text::line(a, LINK_MAX)),
            metrics,
            alarm_rule: d.configuration.alarm_rule.map(|r| text::line(&r, REASON_MAX)),
            actions_suppressed_by: suppressed_by,
            tags: labels(&d.alarm_tags),
            previous_state: d.previous_state.map(|s| text::line(&s.value, LABEL_MAX)),
            contributor,
        }),
        resource: name("detail.alarmName", &d.alarm_name)?,
        quiet,
        time_note: None,
        aws: None,
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
    let passed_type = envelope.detail_type == CANARY_SUCCESS;
    let status = d.test_run_status.as_deref().map(str::to_ascii_uppercase);
    let health = match (passed_type, status.as_deref()) {
        (false, None | Some("FAILED")) => Health::Impaired,
        (true, None | Some("PASSED")) => Health::Recovered,
        (_, Some(other)) => {
            return Err(ParseError::InvalidField {
                field: "detail.test-run-status",
                reason: format!(
                    "'{}' does not match the detail-type '{}'",
                    text::line(other, 40),
                    envelope.detail_type
                ),
            })
        }
    };
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
    // The documented success event says `"state-reason": "null"`.
    let reason = d
        .state_reason
        .map(|r| text::line(&r, REASON_MAX))
        .filter(|r| !r.is_empty() && r != "null");
    let reason = reason.unwrap_or_else(|| {
        match health {
            Health::Recovered => "canary run passed",
            _ => "canary run failed",
        }
        .into()
    });
    Ok(Signal {
        key: signal_key(envelope, None)?,
        source: SignalSource::Canary,
        health,
        at,
        reason,
        service_hint: None,
        exercise: false,
        live_runbooks: false,
        location: None,
        alarm: None,
        link: d.artifact_location.map(|l| text::line(&l, LINK_MAX)),
        reporter: None,
        resource: name("detail.canary-name", &d.canary_name)?,
        quiet: None,
        time_note: None,
        aws: None,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthDetail {
    event_arn: String,
    service: String,
    event_type_code: String,
    event_type_category: String,
    #[serde(default)]
    event_scope_code: Option<String>,
    #[serde(default)]
    status_code: Option<String>,
    #[serde(default)]
    event_region: Option<String>,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
    #[serde(default)]
    last_updated_time: Option<String>,
    #[serde(default)]
    event_description: Vec<HealthDescription>,
    #[serde(default)]
    affected_entities: Vec<HealthEntity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthDescription {
    #[serde(default)]
    latest_description: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthEntity {
    #[serde(default)]
    entity_value: String,
}

/// AWS Health writes times as RFC 1123 (`Tue, 14 May 2024 09:05:00 GMT`).
fn health_time(field: &'static str, text: &str) -> Result<DateTime<Utc>, ParseError> {
    DateTime::parse_from_rfc2822(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| parse_time(field, text))
}

/// An AWS Health event. An account-specific issue impairs (its closing recovers); a public event
/// is quiet (recorded on open incidents, opening none); a scheduled change or an account
/// notification is a planned item that pages nobody.
fn parse_health(envelope: &Envelope) -> Result<Signal, ParseError> {
    let d: HealthDetail = detail(envelope)?;
    let label = |field, text: &str| name(field, text).map(|t| text::line(&t, LABEL_MAX));
    let aws = AwsHealthDetails {
        event_arn: name("detail.eventArn", &d.event_arn)?,
        service: label("detail.service", &d.service)?,
        event_type: label("detail.eventTypeCode", &d.event_type_code)?,
        category: label("detail.eventTypeCategory", &d.event_type_category)?,
        scope: text::line(d.event_scope_code.as_deref().unwrap_or("ACCOUNT_SPECIFIC"), LABEL_MAX),
        region: text::line(d.event_region.as_deref().unwrap_or("global"), LABEL_MAX),
        entities: d
            .affected_entities
            .iter()
            .map(|e| text::line(&e.entity_value, LINK_MAX))
            .filter(|e| !e.is_empty())
            .take(20)
            .collect(),
    };
    let status = d.status_code.as_deref().unwrap_or("open").to_ascii_lowercase();
    let closed = status == "closed";
    let planned = matches!(aws.category.as_str(), "scheduledChange" | "accountNotification");
    let start = d
        .start_time
        .as_deref()
        .map(|t| health_time("detail.startTime", t))
        .transpose()?;
    let updated = d
        .last_updated_time
        .as_deref()
        .map(|t| health_time("detail.lastUpdatedTime", t))
        .transpose()?;
    let end = d
        .end_time
        .as_deref()
        .map(|t| health_time("detail.endTime", t))
        .transpose()?;
    // When the condition was observed: a closed issue at its end, a planned item when it was
    // announced (its start lies ahead), an issue at its start.
    let own = match (closed, planned) {
        (true, _) => end.or(updated),
        (false, true) => updated,
        (false, false) => start.or(updated),
    };
    let at = match own {
        Some(t) => t,
        None => event_time(envelope, None, "time")?,
    };
    let quiet = if planned {
        Some(Quiet::AwsPlanned { starts: start })
    } else if aws.scope == "PUBLIC" {
        Some(Quiet::AwsPublic)
    } else {
        None
    };
    let reason = d
        .event_description
        .first()
        .map(|x| text::line(&x.latest_description, REASON_MAX))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| format!("{} is {status}", aws.event_type));
    Ok(Signal {
        key: signal_key(envelope, None)?,
        source: SignalSource::AwsHealth,
        health: if closed { Health::Recovered } else { Health::Impaired },
        resource: format!("AWS {} ({})", aws.event_type, aws.region),
        at,
        reason,
        service_hint: None,
        exercise: false,
        live_runbooks: false,
        location: None,
        alarm: None,
        link: None,
        reporter: None,
        quiet,
        time_note: None,
        aws: Some(aws),
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

/// Checks a report as ingest will read it, so that the command API refuses at once what ingest
/// would send to its dead-letter queue.
pub fn check_report(report: &CustomerReport, now: DateTime<Utc>) -> Result<(), ParseError> {
    let envelope = Envelope {
        id: Some(report.report_id.clone()),
        source: CUSTOMER_SOURCE.into(),
        detail_type: CUSTOMER_REPORT.into(),
        account: None,
        region: None,
        time: Some(now),
        resources: Vec::new(),
        detail: serde_json::to_value(report).map_err(|e| ParseError::MalformedDetail(e.to_string()))?,
    };
    parse_at(&envelope, now).map(drop)
}

fn parse_report(envelope: &Envelope) -> Result<Signal, ParseError> {
    let d: CustomerReport = detail(envelope)?;
    if !text::is_identifier(&d.service, ID_MAX) {
        return Err(ParseError::InvalidField {
            field: "detail.service",
            reason: format!(
                "'{}' is not a service name (at most {ID_MAX} letters, digits and . _ - / : @ +)",
                text::line(&d.service, 40)
            ),
        });
    }
    let summary = text::line(&d.summary, REASON_MAX);
    if summary.is_empty() {
        return Err(ParseError::InvalidField {
            field: "detail.summary",
            reason: "empty".into(),
        });
    }
    let link = match d.link.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        None => None,
        Some(l) if (l.starts_with("https://") || l.starts_with("http://")) && text::line(l, LINK_MAX) == l => {
            Some(l.to_string())
        }
        Some(l) => {
            return Err(ParseError::InvalidField {
                field: "detail.link",
                reason: format!("'{}' is not an http(s) link", text::line(l, 40)),
            })
        }
    };
    let at = match d.impact_started_at {
        Some(t) => t,
        None => event_time(envelope, None, "time")?,
    };
    Ok(Signal {
        key: signal_key(envelope, Some(&d.report_id))?,
        source: SignalSource::CustomerReport,
        health: Health::Impaired,
        at,
        reason: summary,
        resource: format!("customer report {}", d.report_id),
        service_hint: Some(d.service),
        exercise: false,
        live_runbooks: false,
        location: None,
        alarm: None,
        link,
        reporter: d.reporter.map(|r| text::line(&r, LABEL_MAX)).filter(|r| !r.is_empty()),
        quiet: None,
        time_note: None,
        aws: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// These unit tests' events are from 2023: parsed as if they arrived then.
    fn parse(envelope: &Envelope) -> Result<Signal, ParseError> {
        parse_at(envelope, "2023-08-04T13:00:00Z".parse().unwrap())
    }

    fn envelope(source: &str, detail_type: &str, detail: Value) -> Envelope {
        Envelope {
            id: Some("evt-1".into()),
            source: source.into(),
            detail_type: detail_type.into(),
            account: None,
            region: None,
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
    fn a_signal_keeps_the_account_and_region_it_happened_in_and_a_forged_account_is_refused() {
        let mut e = envelope(CLOUDWATCH_SOURCE, ALARM_STATE_CHANGE, alarm("ALARM"));
        e.account = Some("111111111111".into());
        e.region = Some("eu-west-1".into());
        let s = parse(&e).unwrap();
        assert_eq!(s.location.unwrap().describe(), "111111111111 in eu-west-1");
        e.account = Some("1111\u{202E}".into());
        let refused = parse(&e).unwrap_err();
        assert!(
            matches!(refused, ParseError::InvalidField { field: "account", .. }),
            "{refused}"
        );
        e.account = None;
        assert_eq!(parse(&e).unwrap().location, None, "a test event names no account");
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

    fn fixture(path: &str) -> Envelope {
        let text = std::fs::read_to_string(format!("{}/../../events/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        Envelope::from_json(&serde_json::from_str(&text).unwrap())
    }

    /// Parses a fixture as if it arrived a minute after its own time.
    fn parse_fixture(path: &str) -> Result<Signal, ParseError> {
        let e = fixture(path);
        parse_at(&e, e.time.unwrap() + TimeDelta::minutes(1))
    }

    #[test]
    fn a_contributor_state_change_names_its_alarm_and_the_failing_contributor() {
        let s = parse_fixture("cloudwatch/contributor-alarm.json").unwrap();
        assert_eq!(
            (s.resource.as_str(), s.health),
            ("checkout-api-latency-by-az", Health::Impaired)
        );
        let c = s.alarm.as_ref().unwrap().contributor.clone().unwrap();
        assert_eq!(c.label(), "AvailabilityZone=eu-west-1a");
        assert_eq!(
            s.watched().as_deref(),
            Some("checkout-api-latency-by-az [AvailabilityZone=eu-west-1a]")
        );
        let ok = parse_fixture("cloudwatch/contributor-ok.json").unwrap();
        assert_eq!((ok.health, ok.watched()), (Health::Recovered, s.watched()));
    }

    #[test]
    fn a_contributor_change_without_its_contributor_is_refused() {
        let mut e = fixture("cloudwatch/contributor-alarm.json");
        e.detail.as_object_mut().unwrap().remove("alarmContributor");
        let err = parse_at(&e, e.time.unwrap()).unwrap_err();
        assert!(err.to_string().contains("alarmContributor"), "{err}");
    }

    #[test]
    fn a_change_inside_a_mute_rules_window_is_muted_and_outside_it_is_not() {
        let s = parse_fixture("cloudwatch/muted-alarm.json").unwrap();
        assert_eq!(
            s.quiet,
            Some(Quiet::Muted {
                rule: "checkout-nightly-maintenance".into()
            })
        );
        assert!(s.summary().contains("pages nobody"), "{}", s.summary());
        let mut late = fixture("cloudwatch/muted-alarm.json");
        late.detail["muteDetail"]["muteWindowEnd"] = json!("2024-05-21T02:10:00.000+0000");
        assert_eq!(parse_at(&late, late.time.unwrap()).unwrap().quiet, None);
    }

    #[test]
    fn a_suppressed_composite_alarm_is_quiet_and_a_plain_one_is_not() {
        let s = parse_fixture("cloudwatch/composite-alarm-suppressed.json").unwrap();
        assert_eq!(
            s.quiet,
            Some(Quiet::Suppressed {
                by: "WaitPeriod".into()
            })
        );
        assert_eq!(parse_fixture("cloudwatch/composite-alarm.json").unwrap().quiet, None);
    }

    #[test]
    fn a_passed_canary_run_is_a_recovery_and_a_mismatched_status_is_refused() {
        let s = parse_fixture("synthetics/canary-success.json").unwrap();
        assert_eq!((s.source, s.health), (SignalSource::Canary, Health::Recovered));
        assert_eq!(
            s.reason, "canary run passed",
            "the documented \"null\" reason is not kept"
        );
        let mut odd = fixture("synthetics/canary-success.json");
        odd.detail["test-run-status"] = json!("FAILED");
        assert!(matches!(
            parse_at(&odd, odd.time.unwrap()),
            Err(ParseError::InvalidField {
                field: "detail.test-run-status",
                ..
            })
        ));
    }

    #[test]
    fn events_older_than_a_week_are_refused_and_future_ones_are_recorded_at_arrival() {
        let e = fixture("cloudwatch/single-metric-alarm.json");
        let own = parse_fixture("cloudwatch/single-metric-alarm.json").unwrap().at;
        let err = parse_at(&e, own + TimeDelta::days(8)).unwrap_err();
        assert!(err.to_string().contains("older than 7 days"), "{err}");
        let now = own - TimeDelta::hours(2);
        let s = parse_at(&e, now).unwrap();
        assert_eq!(s.at, now);
        assert!(
            s.time_note.as_deref().is_some_and(|n| n.contains("120 min ahead")),
            "{:?}",
            s.time_note
        );
        assert!(s.summary().contains("recorded at arrival"));
        let near = parse_at(&e, own - TimeDelta::minutes(4)).unwrap();
        assert_eq!((near.at, near.time_note), (own, None), "within the clock's tolerance");
        let wider = TimeBounds {
            max_age: TimeDelta::days(30),
            ..TimeBounds::default()
        };
        assert!(
            parse_within(&e, own + TimeDelta::days(8), wider).is_ok(),
            "a deployment's own bound"
        );
    }

    #[test]
    fn hostile_text_in_an_alarm_becomes_one_safe_capped_line() {
        let mut e = envelope(CLOUDWATCH_SOURCE, ALARM_STATE_CHANGE, alarm("ALARM"));
        e.detail["alarmName"] = json!("checkout-api\r\nInjected: yes\u{202E}<script>");
        e.detail["state"]["reason"] = json!("x".repeat(5000));
        e.detail["alarmTags"] = json!({"service\n": "a\tb", "": "dropped"});
        let s = parse_at(&e, "2023-08-04T13:00:00Z".parse().unwrap()).unwrap();
        assert_eq!(s.resource, "checkout-api Injected: yes <script>");
        assert_eq!(s.reason.chars().count(), crate::text::REASON_MAX);
        assert_eq!(
            s.alarm.unwrap().tags,
            BTreeMap::from([("service".to_string(), "a b".to_string())])
        );
        e.detail["alarmName"] = json!(" \n ");
        assert!(parse_at(&e, "2023-08-04T13:00:00Z".parse().unwrap()).is_err());
    }

    #[test]
    fn ids_that_are_not_plain_identifiers_are_refused() {
        let mut e = envelope(CLOUDWATCH_SOURCE, ALARM_STATE_CHANGE, alarm("ALARM"));
        e.id = Some("evt 1\n<b>".into());
        let err = parse_at(&e, "2023-08-04T13:00:00Z".parse().unwrap()).unwrap_err();
        assert!(matches!(err, ParseError::InvalidField { field: "id", .. }), "{err}");
    }

    #[test]
    fn a_report_must_name_a_plain_service_and_an_http_link() {
        let now: DateTime<Utc> = "2026-11-23T03:00:00Z".parse().unwrap();
        for (detail, field) in [
            (
                json!({"service": "check out", "summary": "s", "report_id": "r"}),
                "detail.service",
            ),
            (
                json!({"service": "checkout#x", "summary": "s", "report_id": "r"}),
                "detail.service",
            ),
            (
                json!({"service": "checkout", "summary": "s", "report_id": "r", "link": "javascript:alert(1)"}),
                "detail.link",
            ),
            (json!({"service": "checkout", "summary": "s", "report_id": "a b"}), "id"),
        ] {
            let err = parse_at(&envelope(CUSTOMER_SOURCE, CUSTOMER_REPORT, detail), now).unwrap_err();
            assert!(
                matches!(err, ParseError::InvalidField { field: f, .. } if f == field),
                "{field}: {err}"
            );
        }
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
