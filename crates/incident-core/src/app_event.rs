//! The events the loop publishes on its own bus (source `incident-loop`), one variant per
//! detail-type with its body. Users route them to pagers, chat and trackers with ordinary
//! EventBridge rules, so their shapes are a contract: they are built here and nowhere else.

use crate::actions::{ActionItem, Term};
use crate::engagement::EngagedTeam;
use crate::incident::{Incident, Scope, Status};
use crate::mitigation::RunbookStatus;
use crate::reconcile::RunState;
use crate::severity::Severity;
use crate::updates::CustomerUpdate;
use crate::IncidentId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What every incident-wide event says about the incident.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub incident_id: IncidentId,
    pub title: String,
    pub scope: Scope,
    pub services: Vec<String>,
    pub severity: Option<Severity>,
    pub owner: Option<String>,
    pub commander: Option<String>,
    pub exercise: bool,
    pub customer_detected: bool,
    pub status: Status,
    pub parent: Option<IncidentId>,
    pub members: Vec<IncidentId>,
}

impl Summary {
    pub fn of(incident: &Incident) -> Self {
        Self {
            incident_id: incident.id.clone(),
            title: incident.title.clone(),
            scope: incident.scope,
            services: incident.services.clone(),
            severity: incident.severity,
            owner: incident.owner.clone(),
            commander: incident.commander.clone(),
            exercise: incident.exercise,
            customer_detected: incident.customer_detected,
            status: incident.status,
            parent: incident.parent.clone(),
            members: incident.members.clone(),
        }
    }
}

/// An action item as events and the COE's ticket summary show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionSummary {
    pub id: String,
    pub term: Term,
    pub owner: String,
    pub due: DateTime<Utc>,
    pub text: String,
    pub ticket: Option<String>,
    pub done: bool,
}

impl ActionSummary {
    pub fn of(item: &ActionItem) -> Self {
        Self {
            id: item.id.clone(),
            term: item.term,
            owner: item.owner.clone(),
            due: item.due,
            text: item.text.clone(),
            ticket: item.ticket.clone(),
            done: item.done.is_some(),
        }
    }
}

/// The COE as `Postmortem Created` and `Postmortem Completed` announce it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PostmortemSummary {
    pub incident_id: IncidentId,
    pub title: String,
    pub severity: Option<Severity>,
    pub services: Vec<String>,
    pub customer_facing: bool,
    pub exercise: bool,
    pub document: String,
    pub ticket: String,
    pub due: DateTime<Utc>,
    pub completed: bool,
    pub action_items: Vec<ActionSummary>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AppEvent {
    IncidentOpened {
        incident_id: IncidentId,
        service: String,
        exercise: bool,
        first_signal: String,
    },
    IncidentEngaged {
        #[serde(flatten)]
        summary: Summary,
        teams: Vec<EngagedTeam>,
        ack_minutes: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        customer_update_draft: Option<String>,
    },
    IncidentEscalated {
        #[serde(flatten)]
        summary: Summary,
        escalation: u32,
        escalated_to: String,
        reason: String,
    },
    IncidentAcknowledged {
        incident_id: IncidentId,
        acknowledged_by: String,
        arn: String,
    },
    IncidentResolved(Summary),
    ApprovalRequested {
        incident_id: IncidentId,
        approval_id: String,
        candidate: usize,
        runbook: String,
        parameters: BTreeMap<String, String>,
        rationale: String,
        evidence: Vec<String>,
        requires_confirmation: bool,
        approvers: Vec<String>,
        evidence_link: String,
    },
    RunbookStarted {
        incident_id: IncidentId,
        execution_id: String,
        runbook: String,
        parameters: BTreeMap<String, String>,
        approved_by: String,
    },
    RunbookFinished {
        incident_id: IncidentId,
        execution_id: String,
        runbook: String,
        result: RunbookStatus,
    },
    IncidentMitigated {
        incident_id: IncidentId,
        time_to_mitigate_seconds: i64,
        open_checks: Vec<String>,
    },
    CustomerUpdate {
        incident_id: IncidentId,
        title: String,
        services: Vec<String>,
        severity: Option<Severity>,
        update: usize,
        text: String,
        published_by: String,
        published_at: DateTime<Utc>,
        exercise: bool,
    },
    CustomerUpdateDue {
        #[serde(flatten)]
        summary: Summary,
        last_update_at: DateTime<Utc>,
        reason: String,
    },
    PostmortemCreated(PostmortemSummary),
    PostmortemCompleted(PostmortemSummary),
    /// The weekly operational review was written: where, and its headline figures.
    ReviewReady {
        week: String,
        markdown: String,
        html: String,
        json: String,
        incidents: usize,
        exercises: usize,
        repeats: usize,
        recurring_factors: usize,
        late_coes: usize,
        overdue_action_items: usize,
    },
    ActionItemOverdue {
        incident_id: IncidentId,
        action_item: String,
        owner: String,
        term: Term,
        due: DateTime<Utc>,
        days_overdue: i64,
        text: String,
        ticket: Option<String>,
    },
    /// The incident's lifecycle had ended (or never started) while the incident was live: the
    /// reconciler started it again.
    LifecycleRestarted {
        #[serde(flatten)]
        summary: Summary,
        /// The execution now running.
        execution: String,
        reason: String,
    },
    /// An alarm of the incident is back to OK: the lifecycle's recovery wait looks again.
    AlarmRecovered {
        incident_id: IncidentId,
        alarm: String,
    },
    /// A signal joined an incident whose lifecycle is not running: the reconciler is asked to look.
    LifecycleStalled {
        incident_id: IncidentId,
        run_state: RunState,
    },
}

impl AppEvent {
    /// The EventBridge detail-type (DESIGN.md §4).
    pub fn detail_type(&self) -> &'static str {
        match self {
            AppEvent::IncidentOpened { .. } => "Incident Opened",
            AppEvent::IncidentEngaged { .. } => "Incident Engaged",
            AppEvent::IncidentEscalated { .. } => "Incident Escalated",
            AppEvent::IncidentAcknowledged { .. } => "Incident Acknowledged",
            AppEvent::IncidentResolved(_) => "Incident Resolved",
            AppEvent::ApprovalRequested { .. } => "Approval Requested",
            AppEvent::RunbookStarted { .. } => "Runbook Started",
            AppEvent::RunbookFinished { .. } => "Runbook Finished",
            AppEvent::IncidentMitigated { .. } => "Incident Mitigated",
            AppEvent::CustomerUpdate { .. } => "Customer Update",
            AppEvent::CustomerUpdateDue { .. } => "Customer Update Due",
            AppEvent::PostmortemCreated(_) => "Postmortem Created",
            AppEvent::PostmortemCompleted(_) => "Postmortem Completed",
            AppEvent::ReviewReady { .. } => "Review Ready",
            AppEvent::ActionItemOverdue { .. } => "Action Item Overdue",
            AppEvent::LifecycleRestarted { .. } => "Lifecycle Restarted",
            AppEvent::LifecycleStalled { .. } => "Lifecycle Stalled",
            AppEvent::AlarmRecovered { .. } => "Alarm Recovered",
        }
    }

    /// The event's body, as published.
    pub fn detail(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The incident an event is about; `None` for the weekly review.
    pub fn incident(&self) -> Option<&IncidentId> {
        Some(match self {
            AppEvent::IncidentOpened { incident_id, .. }
            | AppEvent::IncidentAcknowledged { incident_id, .. }
            | AppEvent::ApprovalRequested { incident_id, .. }
            | AppEvent::RunbookStarted { incident_id, .. }
            | AppEvent::RunbookFinished { incident_id, .. }
            | AppEvent::IncidentMitigated { incident_id, .. }
            | AppEvent::CustomerUpdate { incident_id, .. }
            | AppEvent::ActionItemOverdue { incident_id, .. }
            | AppEvent::LifecycleStalled { incident_id, .. }
            | AppEvent::AlarmRecovered { incident_id, .. } => incident_id,
            AppEvent::IncidentEngaged { summary, .. }
            | AppEvent::IncidentEscalated { summary, .. }
            | AppEvent::CustomerUpdateDue { summary, .. }
            | AppEvent::LifecycleRestarted { summary, .. }
            | AppEvent::IncidentResolved(summary) => &summary.incident_id,
            AppEvent::PostmortemCreated(p) | AppEvent::PostmortemCompleted(p) => &p.incident_id,
            AppEvent::ReviewReady { .. } => return None,
        })
    }

    /// `Customer Update` for an update just published.
    pub fn customer_update(incident: &Incident, update: &CustomerUpdate) -> Self {
        AppEvent::CustomerUpdate {
            incident_id: incident.id.clone(),
            title: incident.title.clone(),
            services: incident.services.clone(),
            severity: incident.severity,
            update: update.n,
            text: update.text.clone(),
            published_by: update.by.clone(),
            published_at: update.at,
            exercise: incident.exercise,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::checkout;

    #[test]
    fn an_event_body_is_its_fields_and_its_detail_type_names_it() {
        let incident = checkout(Severity::Sev2, true);
        let event = AppEvent::IncidentResolved(Summary::of(&incident));
        assert_eq!(event.detail_type(), "Incident Resolved");
        let detail = event.detail();
        assert_eq!(detail["incident_id"], incident.id.as_str());
        assert_eq!(detail["severity"], "SEV2");
        assert_eq!(detail["status"], "open");
        assert_eq!(event.incident(), Some(&incident.id));
    }

    #[test]
    fn flattened_summaries_sit_beside_the_event_fields() {
        let incident = checkout(Severity::Sev3, false);
        let event = AppEvent::IncidentEscalated {
            summary: Summary::of(&incident),
            escalation: 2,
            escalated_to: "incident-response".into(),
            reason: "no acknowledgement".into(),
        };
        let detail = event.detail();
        assert_eq!(detail["escalation"], 2);
        assert_eq!(detail["title"], "checkout");
        assert_eq!(detail["services"][0], "checkout");
    }
}
