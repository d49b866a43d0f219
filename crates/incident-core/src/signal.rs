//! Signals: what the outside world tells us, normalised from the events that carry it.

use crate::SignalKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a signal came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalSource {
    /// A CloudWatch alarm state change.
    Alarm,
    /// A CloudWatch Synthetics canary test run: a failure impairs, a pass after it recovers.
    Canary,
    /// A customer impact report filed by support (`incidentctl report`).
    CustomerReport,
    /// An AWS Health event: is it us, or AWS?
    AwsHealth,
    /// A deployment's end: a failed one impairs, the next successful one of its target recovers.
    Deployment,
}

impl SignalSource {
    /// Whether it passes routinely (a canary every few minutes, a deployment every day): only its
    /// pass after a failure on an incident is a recovery, and other passes are not recorded.
    pub fn passes_routinely(self) -> bool {
        matches!(self, SignalSource::Canary | SignalSource::Deployment)
    }
}

/// What the signal says about the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Something is wrong: opens or joins an incident.
    Impaired,
    /// An alarm returned to OK (or a canary passed again): recorded as recovery on the open incident.
    Recovered,
    /// An alarm lacks data: recorded and ignored.
    InsufficientData,
}

/// The documented kinds of CloudWatch alarm, told apart by their configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    SingleMetric,
    MetricMath,
    AnomalyDetection,
    Composite,
}

/// One metric an alarm watches, kept so that evidence capture can redraw the chart later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmMetric {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u32>,
}

/// Alarm-specific facts about a signal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmDetails {
    pub kind: AlarmKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<AlarmMetric>,
    /// For composite alarms: the rule over child alarms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_rule: Option<String>,
    /// For composite alarms whose actions were suppressed: by what (`Alarm`, `WaitPeriod`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_suppressed_by: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_state: Option<String>,
    /// For a multi-time-series alarm's contributor state change: which contributor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contributor: Option<Contributor>,
}

/// The longest contributor label kept.
pub const LABEL_MAX: usize = 200;

/// One time series of a multi-time-series (Metrics Insights) alarm, by the attributes that name it
/// (an Availability Zone, an instance, a table…).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contributor {
    pub id: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl Contributor {
    /// `AvailabilityZone=eu-west-1a, …`, or the id when it has no attributes.
    pub fn label(&self) -> String {
        if self.attributes.is_empty() {
            return self.id.clone();
        }
        let parts: Vec<String> = self.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        // Capped: the label is part of keys (timeline entries, flap counts).
        crate::text::line(&parts.join(", "), LABEL_MAX)
    }
}

/// What an AWS Health event says, kept with its signal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsHealthDetails {
    pub event_arn: String,
    /// The AWS service (`EC2`, `ELASTICLOADBALANCING`, …).
    pub service: String,
    pub event_type: String,
    /// `issue`, `scheduledChange`, `accountNotification`, `investigation`.
    pub category: String,
    /// `ACCOUNT_SPECIFIC` or `PUBLIC`.
    pub scope: String,
    pub region: String,
    /// The affected resources named by the event (at most 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<String>,
}

impl AwsHealthDetails {
    /// One line for the incident and the COE's dependency review.
    pub fn describe(&self) -> String {
        format!(
            "AWS {} {} in {} ({})",
            self.service, self.event_type, self.region, self.event_arn
        )
    }
}

/// Why a signal is recorded but pages nobody. A quiet impairment joins an open incident of its
/// service (recorded there) but never opens one: it is kept as a quiet signal instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "quiet", rename_all = "snake_case")]
pub enum Quiet {
    /// A CloudWatch alarm mute rule covered the state change.
    Muted { rule: String },
    /// A composite alarm's actions were suppressed (by its suppressor `Alarm`, or its
    /// `WaitPeriod` / `ExtensionPeriod`).
    Suppressed { by: String },
    /// A public AWS Health event: recorded on the open incidents of the services that use that AWS
    /// service in that region, opening none.
    AwsPublic,
    /// A scheduled AWS change or account notification: a planned item, paging nobody.
    AwsPlanned { starts: Option<DateTime<Utc>> },
    /// An AWS Health event for an AWS service (or region) no catalog service uses.
    AwsNotUsed,
    /// A maintenance window of the catalog, or a silence someone set.
    Silenced {
        silence: String,
        reason: String,
        until: DateTime<Utc>,
    },
}

impl Quiet {
    /// One line for timelines, tables and the DLQ-free "quiet" listing.
    pub fn describe(&self) -> String {
        match self {
            Quiet::Muted { rule } => format!("muted by the CloudWatch mute rule {rule}"),
            Quiet::Suppressed { by } => format!("actions suppressed by {by}"),
            Quiet::AwsPublic => "a public AWS Health event".into(),
            Quiet::AwsPlanned { starts: Some(at) } => {
                format!("a planned AWS change from {}", at.format("%Y-%m-%d %H:%M UTC"))
            }
            Quiet::AwsPlanned { starts: None } => "a planned AWS change".into(),
            Quiet::AwsNotUsed => "no catalog service uses this AWS service in this region".into(),
            Quiet::Silenced { silence, reason, until } => format!(
                "silenced by {silence} until {} ({reason})",
                until.format("%Y-%m-%d %H:%M UTC")
            ),
        }
    }
}

/// A normalised signal. `resource` is what fired (alarm name, canary name or report subject).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub key: SignalKey,
    pub source: SignalSource,
    pub health: Health,
    pub resource: String,
    /// When the condition was observed (the state change's own timestamp where the event has one).
    pub at: DateTime<Utc>,
    /// The human reason carried by the event (alarm reason, canary failure reason, report text).
    pub reason: String,
    /// A service named by the event itself (customer reports name one; alarms may via tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_hint: Option<String>,
    /// Arrived through the game-day source: a rehearsal, never a real incident.
    #[serde(default)]
    pub exercise: bool,
    /// A game day that asked for its runbooks to run for real (`"gameDay": {"runRunbooks": true}`
    /// in the event's detail); otherwise a game day's approved runbook is rehearsed, not started.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub live_runbooks: bool,
    /// The account and region the event happened in (a member account's, when forwarded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<crate::account::Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<AlarmDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Who filed a customer report, for the timeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter: Option<String>,
    /// Recorded, but pages nobody (see [`Quiet`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet: Option<Quiet>,
    /// Set when the event's own time could not be used as it was (it lay ahead of the clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_note: Option<String>,
    /// For AWS Health events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsHealthDetails>,
}

/// What a multi-time-series alarm's contributor did during an incident: when it began failing and,
/// if it has, when it recovered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributorState {
    /// `alarm [attributes]`.
    pub contributor: String,
    pub failing_since: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_at: Option<DateTime<Utc>>,
}

impl ContributorState {
    pub fn describe(&self) -> String {
        let since = self.failing_since.format("%Y-%m-%d %H:%M UTC");
        match self.recovered_at {
            Some(at) => format!(
                "{}: failing from {since}, recovered {}",
                self.contributor,
                at.format("%H:%M UTC")
            ),
            None => format!("{}: failing since {since}", self.contributor),
        }
    }
}

/// The contributors among an incident's signals, each with its first failure and its recovery (a
/// recovery counts when it is the contributor's latest state).
pub fn contributors(signals: &[Signal]) -> Vec<ContributorState> {
    let mut sorted: Vec<&Signal> = signals
        .iter()
        .filter(|s| s.alarm.as_ref().is_some_and(|a| a.contributor.is_some()))
        .collect();
    sorted.sort_by(|a, b| (a.at, &a.key).cmp(&(b.at, &b.key)));
    let mut out: BTreeMap<String, ContributorState> = BTreeMap::new();
    for s in sorted {
        let Some(name) = s.watched() else { continue };
        match s.health {
            Health::Impaired => {
                let state = out.entry(name.clone()).or_insert(ContributorState {
                    contributor: name,
                    failing_since: s.at,
                    recovered_at: None,
                });
                state.recovered_at = None;
            }
            Health::Recovered => {
                if let Some(state) = out.get_mut(&name) {
                    state.recovered_at = Some(s.at);
                }
            }
            Health::InsufficientData => {}
        }
    }
    out.into_values().collect()
}

impl Signal {
    /// A bare alarm signal with nothing but its key, alarm, health and time, for tests.
    #[cfg(any(test, feature = "testing"))]
    pub fn bare_alarm(key: SignalKey, resource: &str, health: Health, at: DateTime<Utc>) -> Self {
        Self::new(key, SignalSource::Alarm, health, resource, at, "r")
    }

    /// A signal with nothing but what every signal has.
    pub fn new(
        key: SignalKey,
        source: SignalSource,
        health: Health,
        resource: &str,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Self {
        Self {
            key,
            source,
            health,
            resource: resource.into(),
            at,
            reason: reason.into(),
            service_hint: None,
            exercise: false,
            live_runbooks: false,
            location: None,
            alarm: None,
            link: None,
            reporter: None,
            quiet: None,
            time_note: None,
            aws: None,
        }
    }

    /// True for an alarm of the loop itself (its name starts with `own_prefix`): those tell the
    /// operators directly, and an incident about the loop, run by the loop, would be a circle.
    pub fn is_own_alarm(&self, own_prefix: &str) -> bool {
        self.source == SignalSource::Alarm && !own_prefix.is_empty() && self.resource.starts_with(own_prefix)
    }

    /// True when customers told us before any alarm did.
    pub fn is_customer_detected(&self) -> bool {
        self.source == SignalSource::CustomerReport
    }

    /// What recovery watches this signal as: the alarm (with its contributor, if it is one) or
    /// the canary. Customer reports watch nothing: a person says when they are over.
    pub fn watched(&self) -> Option<String> {
        match self.source {
            SignalSource::Alarm => Some(match self.alarm.as_ref().and_then(|a| a.contributor.as_ref()) {
                Some(c) => format!("{} [{}]", self.resource, c.label()),
                None => self.resource.clone(),
            }),
            SignalSource::Canary | SignalSource::Deployment => Some(self.resource.clone()),
            // An AWS issue is over when AWS closes it.
            SignalSource::AwsHealth => Some(
                self.aws
                    .as_ref()
                    .map(|a| a.event_arn.clone())
                    .unwrap_or_else(|| self.resource.clone()),
            ),
            SignalSource::CustomerReport => None,
        }
    }

    /// A one-line description for timelines and tables. Every part was made one safe line when the
    /// event was parsed.
    pub fn summary(&self) -> String {
        let what = match (self.source, self.health) {
            (SignalSource::Alarm, Health::Impaired) => "alarm in ALARM",
            (SignalSource::Alarm, Health::Recovered) => "alarm back to OK",
            (SignalSource::Alarm, Health::InsufficientData) => "alarm has INSUFFICIENT_DATA",
            (SignalSource::Canary, Health::Recovered) => "canary run passed",
            (SignalSource::Canary, _) => "canary run failed",
            (SignalSource::CustomerReport, _) => "customer impact reported",
            (SignalSource::AwsHealth, Health::Recovered) => "AWS Health event closed",
            (SignalSource::AwsHealth, _) => "AWS Health event",
            (SignalSource::Deployment, Health::Recovered) => "deployment succeeded",
            (SignalSource::Deployment, _) => "deployment failed",
        };
        let named = match self.source {
            SignalSource::AwsHealth | SignalSource::CustomerReport => self.resource.clone(),
            _ => self.watched().unwrap_or_else(|| self.resource.clone()),
        };
        let mut text = format!("{what}: {named}");
        if !self.reason.is_empty() {
            text.push_str(&format!(" — {}", self.reason));
        }
        if let Some(quiet) = &self.quiet {
            text.push_str(&format!(" ({}: pages nobody)", quiet.describe()));
        }
        if let Some(note) = &self.time_note {
            text.push_str(&format!(" ({note})"));
        }
        text
    }
}
