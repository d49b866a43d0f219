//! Tickets for the learning loop: one for the postmortem, one per action item, so that the work
//! lands in the queues teams already watch (OpsCenter on AWS; the `Postmortem Created` event routes
//! to Jira or GitHub).

use crate::actions::{ActionItem, Term};
use crate::incident::Incident;
pub use crate::record::Postmortem;
use crate::severity::Severity;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// The COE is due this long after resolution: a week when customers were affected (with their
/// RCA), two weeks otherwise.
pub fn coe_due(incident: &Incident) -> DateTime<Utc> {
    let resolved = incident.resolved_at.unwrap_or(incident.detected_at);
    resolved
        + if incident.customer_facing {
            crate::coe::RCA_DUE_AFTER
        } else {
            TimeDelta::days(14)
        }
}

/// A ticket to open, in tracker-neutral terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ticket {
    pub title: String,
    pub description: String,
    /// 1 (highest) to 4, as OpsCenter counts severity.
    pub severity: u8,
    /// 1 (highest) to 5.
    pub priority: u8,
    pub due: DateTime<Utc>,
    /// ARNs of the resources involved.
    pub resources: Vec<String>,
    /// Searchable facts (incident id, document, owner …).
    pub data: BTreeMap<String, String>,
    /// Tickets this one belongs with (an action item's postmortem ticket).
    pub related: Vec<String>,
    /// The same key never opens a second ticket.
    pub dedup: String,
}

/// OpsCenter severity: SEV1–SEV3 map one to one, SEV4 and SEV5 share the lowest.
pub fn ticket_severity(severity: Option<Severity>) -> u8 {
    severity.map(|s| s.level().min(4)).unwrap_or(3)
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The postmortem's own ticket.
pub fn postmortem_ticket(incident: &Incident, document: &str, document_arn: &str, due: DateTime<Utc>) -> Ticket {
    let severity = incident
        .severity
        .map(|s| s.to_string())
        .unwrap_or_else(|| "untriaged".into());
    let description = format!(
        "Write the correction-of-errors document for {id} ({severity}{exercise}): {services}.\n\
         Draft: {document}\n\
         Impact started {start}; resolved {resolved}. Customer-facing: {cf}.\n\
         Complete it with `incidentctl coe check {id}` until nothing is missing, then `incidentctl coe complete {id}`.",
        id = incident.id,
        exercise = if incident.exercise { ", game-day exercise" } else { "" },
        services = incident.services.join(", "),
        start = incident.impact_started_at.format("%Y-%m-%d %H:%M UTC"),
        resolved = incident
            .resolved_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "—".into()),
        cf = if incident.customer_facing { "yes" } else { "no" },
    );
    let mut data = BTreeMap::new();
    data.insert("incident_id".into(), incident.id.to_string());
    data.insert("document".into(), document.to_string());
    data.insert("severity".into(), severity);
    data.insert("services".into(), incident.services.join(","));
    if let Some(owner) = &incident.owner {
        data.insert("owner".into(), owner.clone());
    }
    Ticket {
        title: clip(&format!("COE: {} ({})", incident.title, incident.id), 1024),
        description: clip(&description, 2048),
        severity: ticket_severity(incident.severity),
        priority: incident.severity.map(|s| s.level()).unwrap_or(3),
        due,
        resources: vec![document_arn.to_string()],
        data,
        related: Vec::new(),
        dedup: format!("incident-loop:coe:{}", incident.id),
    }
}

/// An action item's ticket, related to the postmortem's.
pub fn action_ticket(incident: &Incident, item: &ActionItem, postmortem_ticket: Option<&str>) -> Ticket {
    let description = format!(
        "{term} action item of the COE for {id}, owned by {owner}, due {due}.\n{text}\n\
         It closes only with validation evidence: `incidentctl action done {item} --validation \"how it was proven\"`.",
        term = item.term,
        id = incident.id,
        owner = item.owner,
        due = item.due.format("%Y-%m-%d"),
        text = item.text,
        item = item.id,
    );
    let mut data = BTreeMap::new();
    data.insert("incident_id".into(), incident.id.to_string());
    data.insert("action_item".into(), item.id.clone());
    data.insert("owner".into(), item.owner.clone());
    data.insert("term".into(), item.term.to_string());
    if let Some(why) = &item.why {
        data.insert("why".into(), why.clone());
    }
    Ticket {
        title: clip(&format!("[{}] {}", item.term, item.text), 1024),
        description: clip(&description, 2048),
        severity: ticket_severity(incident.severity),
        priority: match item.term {
            Term::Short => 1,
            Term::Mid => 3,
            Term::Long => 5,
        },
        due: item.due,
        resources: Vec::new(),
        data,
        related: postmortem_ticket.map(str::to_string).into_iter().collect(),
        dedup: format!("incident-loop:action:{}", item.id),
    }
}

/// Overdue items are announced at most once a day each.
pub const OVERDUE_REMINDER_EVERY: TimeDelta = TimeDelta::hours(24);

/// The overdue items that have not been announced in the last day.
pub fn overdue_to_announce(items: &[ActionItem], now: DateTime<Utc>) -> Vec<&ActionItem> {
    items
        .iter()
        .filter(|a| a.is_overdue(now))
        .filter(|a| a.reminded_at.is_none_or(|t| now - t >= OVERDUE_REMINDER_EVERY))
        .collect()
}

/// The COE document was (re)written now: the first time, it is due by [`coe_due`].
pub fn record_published(incident: &mut Incident, document: &str, now: DateTime<Utc>) {
    let due = coe_due(incident);
    let pm = incident.postmortem.get_or_insert_with(|| Postmortem {
        document: document.to_string(),
        due,
        ticket: None,
        published_at: now,
        announced: false,
        completed: None,
    });
    pm.published_at = now;
}

/// The COE's ticket, once opened (a later one never replaces it).
pub fn record_ticket(incident: &mut Incident, ticket: &str) {
    if let Some(pm) = incident.postmortem.as_mut() {
        pm.ticket.get_or_insert_with(|| ticket.to_string());
    }
}

/// `Postmortem Created` went out.
pub fn record_announced(incident: &mut Incident) {
    if let Some(pm) = incident.postmortem.as_mut() {
        pm.announced = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(severity: Severity, customer_facing: bool) -> Incident {
        let mut i = crate::incident::checkout(severity, customer_facing);
        i.resolved_at = Some(i.detected_at + TimeDelta::hours(1));
        i
    }

    #[test]
    fn the_coe_is_due_sooner_when_customers_were_affected() {
        let i = incident(Severity::Sev2, true);
        assert_eq!(coe_due(&i) - i.resolved_at.unwrap(), TimeDelta::days(7));
        let i = incident(Severity::Sev2, false);
        assert_eq!(coe_due(&i) - i.resolved_at.unwrap(), TimeDelta::days(14));
    }

    #[test]
    fn tickets_carry_severity_due_date_document_and_a_dedup_key() {
        let i = incident(Severity::Sev5, false);
        let due = coe_due(&i);
        let t = postmortem_ticket(&i, "s3://b/coe.md", "arn:aws:s3:::b/coe.md", due);
        assert_eq!(t.severity, 4);
        assert_eq!(t.priority, 5);
        assert_eq!(t.due, due);
        assert_eq!(t.resources, vec!["arn:aws:s3:::b/coe.md".to_string()]);
        assert_eq!(t.data["document"], "s3://b/coe.md");
        assert_eq!(t.dedup, format!("incident-loop:coe:{}", i.id));
        assert!(t.description.contains("incidentctl coe check"));

        let item = ActionItem::new("x.a1", Term::Short, "payments", "pin the deploy", None, Utc::now()).unwrap();
        let a = action_ticket(&i, &item, Some("oi-1"));
        assert_eq!(a.related, vec!["oi-1".to_string()]);
        assert_eq!(a.priority, 1);
        assert_eq!(a.due, item.due);
        assert_eq!(a.data["owner"], "payments");
        assert_eq!(a.dedup, "incident-loop:action:x.a1");
    }

    #[test]
    fn long_texts_are_clipped_to_what_trackers_accept() {
        let mut i = incident(Severity::Sev1, false);
        i.title = "x".repeat(5000);
        let t = postmortem_ticket(&i, "d", "arn", Utc::now());
        assert_eq!(t.title.chars().count(), 1024);
        assert!(t.description.chars().count() <= 2048);
    }

    #[test]
    fn overdue_items_are_announced_once_a_day() {
        let now = Utc::now();
        let mut item = ActionItem::new("x.a1", Term::Short, "p", "x", None, now - TimeDelta::days(3)).unwrap();
        assert_eq!(overdue_to_announce(std::slice::from_ref(&item), now).len(), 1);
        item.reminded_at = Some(now - TimeDelta::hours(2));
        assert!(overdue_to_announce(std::slice::from_ref(&item), now).is_empty());
        item.reminded_at = Some(now - TimeDelta::hours(25));
        assert_eq!(overdue_to_announce(std::slice::from_ref(&item), now).len(), 1);
        item.close("verified by the canary", "ana", now).unwrap();
        assert!(overdue_to_announce(std::slice::from_ref(&item), now).is_empty());
    }
}
