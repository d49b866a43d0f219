//! The incident record.

use crate::record::{Attested, CustomerUpdate, Override, Postmortem};
use crate::severity::Severity;
use crate::IncidentId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Opened by ingest; triage has not run yet.
    Open,
    /// Owner and severity assigned.
    Triaged,
    /// Teams paged, waiting for a human.
    Engaged,
    Acknowledged,
    Mitigated,
    Resolved,
    /// A late signal showed it was part of another incident of the same service.
    Merged,
}

impl Status {
    pub fn is_closed(self) -> bool {
        matches!(self, Status::Resolved | Status::Merged)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        f.write_str(&text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    SingleService,
    MultiService,
}

/// One incident. Times are kept so that time-to-detect, -engage and -acknowledge can be computed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    pub title: String,
    pub status: Status,
    pub scope: Scope,
    pub services: Vec<String>,
    /// False when a service is not in the catalog: routed to the default owner and flagged.
    pub service_known: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commander: Option<String>,
    pub exercise: bool,
    /// A game day that asked for its approved runbooks to run for real (else they are rehearsed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub live_runbooks: bool,
    /// Where the opening signal happened (its account and region), named from the catalog at triage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<crate::account::Location>,
    pub customer_detected: bool,
    #[serde(default)]
    pub customer_facing: bool,
    /// Impact start: the earliest signal's own time.
    pub impact_started_at: DateTime<Utc>,
    /// When the loop opened the incident.
    pub detected_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engaged_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigated_at: Option<DateTime<Utc>>,
    /// What mitigated it: the runbook, or the person who recorded a manual mitigation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigated_by: Option<String>,
    /// Risk-of-recurrence questions still to answer before closing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_checks: Vec<String>,
    /// Answers to [`Self::open_checks`], by question.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub check_answers: BTreeMap<String, Attested>,
    /// How customers were confirmed recovered (customer-facing incidents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers_recovered: Option<Attested>,
    /// When the closing evidence capture finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_capture_at: Option<DateTime<Utc>>,
    /// Set when the incident was resolved with checklist items missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_override: Option<Override>,
    /// Updates published to customers, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customer_updates: Vec<CustomerUpdate>,
    /// The missed update last reminded about (its `since`), so each is reminded once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_reminded_for: Option<DateTime<Utc>>,
    /// The COE document and its ticket, once written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postmortem: Option<Postmortem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    /// The multi-service event this incident is linked into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<IncidentId>,
    /// For multi-service events: the linked single-service incidents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<IncidentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<IncidentId>,
    #[serde(default)]
    pub engaged_teams: Vec<String>,
    /// The AWS Health events recorded on this incident (one line each): it is, at least in part,
    /// AWS-side, and the COE's dependency review asks about them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aws_events: Vec<String>,
    /// Alarms found flapping on this incident (said once on the timeline and in pages).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flapping: Vec<String>,
    #[serde(default)]
    pub escalations: u32,
    /// Every page sent for it: to whom, by which channel, when, in which round.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<crate::engagement::PageRecord>,
    /// The lifecycle run now responsible for the incident: 0 for the first, counted up by each
    /// restart (see the reconciler's rules).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lifecycle_run: u32,
    /// How many of those runs were restarts after a run ended without closing the incident out
    /// (a run continued for its length is not one).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lifecycle_restarts: u32,
    /// When the current run was recorded (a restart or a continuation; `None` for the first run,
    /// which starts at detection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_run_at: Option<DateTime<Utc>>,
    /// `Incident Engaged` went out (a retry after it failed announces it without paging again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub engagement_announced: bool,
    /// When mitigation first waited for recovery (a runbook succeeded, or mitigation went manual): a
    /// later run of the lifecycle plans nothing again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_watch_since: Option<DateTime<Utc>>,
    /// When the lifecycle closed the incident out (resolution announced, correlation closed):
    /// from then on nothing keeps its lifecycle running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// The first signal's one-line summary.
    pub first_signal: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Incident {
    /// Whether the lifecycle must be running for this incident: it is neither closed out by its
    /// lifecycle nor merged into another.
    pub fn is_live(&self) -> bool {
        self.closed_at.is_none() && self.status != Status::Merged
    }

    /// A newly opened incident whose impact started at `impact_started_at`, detected now. The
    /// caller fills in what the opening signal says (title, flags, first signal).
    pub fn open(id: IncidentId, scope: Scope, services: Vec<String>, impact_started_at: DateTime<Utc>) -> Self {
        Self::open_at(id, scope, services, impact_started_at, Utc::now())
    }

    /// [`Self::open`], detected at `detected_at`.
    pub fn open_at(
        id: IncidentId,
        scope: Scope,
        services: Vec<String>,
        impact_started_at: DateTime<Utc>,
        detected_at: DateTime<Utc>,
    ) -> Self {
        Self {
            title: match scope {
                Scope::SingleService => services.join(", "),
                Scope::MultiService => format!("Multi-service event: {}", services.join(", ")),
            },
            id,
            status: Status::Open,
            scope,
            services,
            service_known: true,
            owner: None,
            severity: None,
            commander: None,
            exercise: false,
            live_runbooks: false,
            location: None,
            customer_detected: false,
            customer_facing: false,
            impact_started_at: impact_started_at.min(detected_at),
            detected_at,
            engaged_at: None,
            acknowledged_at: None,
            acknowledged_by: None,
            mitigated_at: None,
            mitigated_by: None,
            open_checks: Vec::new(),
            check_answers: BTreeMap::new(),
            customers_recovered: None,
            final_capture_at: None,
            resolution_override: None,
            customer_updates: Vec::new(),
            update_reminded_for: None,
            postmortem: None,
            resolved_at: None,
            resolved_by: None,
            parent: None,
            members: Vec::new(),
            merged_into: None,
            engaged_teams: Vec::new(),
            pages: Vec::new(),
            flapping: Vec::new(),
            aws_events: Vec::new(),
            escalations: 0,
            lifecycle_run: 0,
            lifecycle_restarts: 0,
            lifecycle_run_at: None,
            engagement_announced: false,
            recovery_watch_since: None,
            closed_at: None,
            first_signal: String::new(),
        }
    }

    pub fn time_to_engage_secs(&self) -> Option<i64> {
        self.engaged_at.map(|t| (t - self.detected_at).num_seconds())
    }

    pub fn time_to_acknowledge_secs(&self) -> Option<i64> {
        self.acknowledged_at.map(|t| (t - self.detected_at).num_seconds())
    }

    pub fn time_to_mitigate_secs(&self) -> Option<i64> {
        self.mitigated_at.map(|t| (t - self.detected_at).num_seconds())
    }

    /// SEV1–2 and multi-service events: they get a commander and the incident channel.
    pub fn is_major(&self) -> bool {
        self.scope == Scope::MultiService || self.severity.is_some_and(|s| s <= Severity::Sev2)
    }

    pub fn time_to_detect_secs(&self) -> i64 {
        (self.detected_at - self.impact_started_at).num_seconds()
    }
}

/// An open single-service checkout incident of the given severity, for the core's unit tests.
#[cfg(test)]
pub(crate) fn checkout(severity: Severity, customer_facing: bool) -> Incident {
    let mut i = Incident::open(
        IncidentId::for_service("checkout", &crate::SignalKey::new("t", "k")),
        Scope::SingleService,
        vec!["checkout".into()],
        Utc::now(),
    );
    i.severity = Some(severity);
    i.customer_facing = customer_facing;
    i
}
