//! What a decision asks the outside world to do. The core returns effects; adapters (DynamoDB, the
//! in-memory store) persist the records among them through one write path, and handlers complete
//! the waiting tasks, publish the events and ask for the follow-ups. Nothing else changes state.

use crate::actions::ActionItem;
use crate::app_event::AppEvent;
use crate::approval::Approval;
use crate::coe::Authored;
use crate::incident::{Incident, Status};
use crate::signal::Signal;
use crate::timeline::Entry;
use crate::whys::Tree;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A lifecycle task waiting on a person. Its Step Functions token is kept server-side under
/// [`Waiting::key`], where no person's policy can read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Waiting {
    /// The acknowledgement wait: completed by an acknowledgement (or a resolution); its timeout,
    /// the severity's acknowledgement time, escalates.
    Acknowledgement,
    /// The resolution wait: completed by a resolution.
    Resolution,
    /// The customer-update loop's sleep: cut short by a resolution.
    UpdateWindow,
    /// The recovery wait after a mitigation: completed when nothing alarms any more (ingest
    /// publishes `Alarm Recovered`), by a manual mitigation or by a resolution.
    Recovery,
    /// A runbook execution, by SSM execution id: completed when SSM says it ended.
    Runbook(String),
    /// A mitigation approval, by approval id.
    Approval(String),
}

impl Waiting {
    pub fn key(&self) -> String {
        match self {
            Waiting::Acknowledgement => "ack".into(),
            Waiting::Resolution => "resolve".into(),
            Waiting::UpdateWindow => "updates".into(),
            Waiting::Recovery => "recovery".into(),
            Waiting::Approval(id) => format!("approval-{id}"),
            Waiting::Runbook(execution) => format!("runbook-{execution}"),
        }
    }
}

impl Waiting {
    /// Whether [`Self::done_for`] reads the incident's signals.
    pub fn needs_signals(&self) -> bool {
        *self == Waiting::Recovery
    }

    /// The output that completes this wait, when what it waits for has happened (an
    /// acknowledgement, a resolution, the alarms back to OK — before its token was kept, or since);
    /// `None` while it must wait. `signals` are the incident's when [`Self::needs_signals`].
    pub fn done_for(&self, incident: &Incident, signals: &[Signal], now: DateTime<Utc>) -> Option<Value> {
        let resolved = incident.status == Status::Resolved;
        match self {
            Waiting::Recovery => {
                crate::mitigation::recovery_wait_over(incident, signals, now).then(|| json!({ "over": true }))
            }
            Waiting::Resolution => resolved.then(|| json!({ "resolved_by": incident.resolved_by })),
            // Mitigation wakes the reminder loop too: customers hear of it without a cadence's delay.
            Waiting::UpdateWindow => (resolved || incident.mitigated_at.is_some())
                .then(|| json!({ "resolved_by": incident.resolved_by, "mitigated_at": incident.mitigated_at })),
            Waiting::Acknowledgement => match &incident.acknowledged_by {
                Some(by) => Some(json!({ "acknowledged_by": by })),
                None => incident
                    .status
                    .is_closed()
                    .then(|| json!({ "closed": incident.status })),
            },
            Waiting::Approval(_) | Waiting::Runbook(_) => None,
        }
    }
}

/// A waiting task to complete, with the output the lifecycle reads.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Completion {
    pub task: Waiting,
    pub output: Value,
}

/// Work another function of the loop does after the records are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUp {
    /// Run an evidence capture now (it counts as the final capture).
    CaptureEvidence,
    /// Rewrite the COE document and open the tickets still missing; `completed` announces the
    /// COE as complete once it is published.
    PublishCoe { completed: bool },
}

/// Everything one decision changes. Records are written atomically: the incident only if nobody
/// changed it since it was read, the approval only if still undecided, a new action item only if
/// its id is free, a closed one only if it was still open.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Effects {
    pub incident: Option<Incident>,
    pub timeline: Vec<Entry>,
    pub approval: Option<Approval>,
    pub whys: Option<Tree>,
    pub authored: Option<Authored>,
    pub new_action: Option<ActionItem>,
    pub closed_action: Option<ActionItem>,
    pub complete: Vec<Completion>,
    pub events: Vec<AppEvent>,
    pub follow_ups: Vec<FollowUp>,
}

impl Effects {
    /// True when nothing is to be written to the store.
    pub fn writes_nothing(&self) -> bool {
        self.incident.is_none()
            && self.timeline.is_empty()
            && self.approval.is_none()
            && self.whys.is_none()
            && self.authored.is_none()
            && self.new_action.is_none()
            && self.closed_action.is_none()
    }
}
