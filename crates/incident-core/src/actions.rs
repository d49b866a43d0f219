//! Action items: what a postmortem commits to, classed by horizon, closed only with proof.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How soon an action item must land.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Term {
    /// Hours: stop the bleeding for good (default due in 24 hours).
    Short,
    /// Days to weeks (default due in 14 days).
    Mid,
    /// Months: the structural fix (default due in 90 days).
    Long,
}

impl Term {
    pub fn default_due(self, from: DateTime<Utc>) -> DateTime<Utc> {
        from + match self {
            Term::Short => TimeDelta::hours(24),
            Term::Mid => TimeDelta::days(14),
            Term::Long => TimeDelta::days(90),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "short" => Some(Term::Short),
            "mid" => Some(Term::Mid),
            "long" => Some(Term::Long),
            _ => None,
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Term::Short => "short-term",
            Term::Mid => "mid-term",
            Term::Long => "long-term",
        })
    }
}

/// How an item was proven done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validation {
    pub evidence: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionItem {
    pub id: String,
    pub term: Term,
    pub owner: String,
    pub due: DateTime<Utc>,
    pub text: String,
    /// The five-whys node this item answers, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<Validation>,
    /// The tracker ticket opened for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// When it was last announced as overdue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ActionError {
    #[error("an action item needs a description")]
    EmptyText,
    #[error("an action item needs an owner team")]
    NoOwner,
    #[error("{0} is closed only with validation evidence: say how it was proven (--validation \"…\")")]
    NoValidation(String),
    #[error("{id} was already closed by {by}")]
    AlreadyDone { id: String, by: String },
    #[error("due date {0} is in the past")]
    DueInThePast(DateTime<Utc>),
}

/// Action item ids say which incident they belong to: `<incident>.a<n>`.
pub fn action_id(incident: &crate::IncidentId, n: usize) -> String {
    format!("{incident}.a{n}")
}

/// The incident an action item id belongs to (`None` for anything else).
pub fn incident_of_action(id: &str) -> Option<crate::IncidentId> {
    let (incident, n) = id.rsplit_once(".a")?;
    n.parse::<usize>().ok()?;
    crate::IncidentId::parse(incident).ok()
}

impl ActionItem {
    /// A new item; the due date defaults to the term's horizon.
    pub fn new(
        id: impl Into<String>,
        term: Term,
        owner: &str,
        text: &str,
        due: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self, ActionError> {
        if text.trim().is_empty() {
            return Err(ActionError::EmptyText);
        }
        if owner.trim().is_empty() {
            return Err(ActionError::NoOwner);
        }
        if let Some(d) = due.filter(|d| *d < now) {
            return Err(ActionError::DueInThePast(d));
        }
        Ok(Self {
            id: id.into(),
            term,
            owner: owner.trim().to_string(),
            due: due.unwrap_or_else(|| term.default_due(now)),
            text: text.trim().to_string(),
            why: None,
            created_at: now,
            done: None,
            ticket: None,
            reminded_at: None,
        })
    }

    /// Closes the item; refused without evidence of how it was proven.
    pub fn close(&mut self, evidence: &str, by: &str, now: DateTime<Utc>) -> Result<(), ActionError> {
        if let Some(v) = &self.done {
            return Err(ActionError::AlreadyDone {
                id: self.id.clone(),
                by: v.by.clone(),
            });
        }
        if evidence.trim().len() < 10 {
            return Err(ActionError::NoValidation(self.id.clone()));
        }
        self.done = Some(Validation {
            evidence: evidence.trim().to_string(),
            by: by.to_string(),
            at: now,
        });
        Ok(())
    }

    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.done.is_none() && self.due < now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_default_to_hours_weeks_and_months() {
        let now = Utc::now();
        let item = |t| ActionItem::new("a", t, "payments", "x", None, now).unwrap().due - now;
        assert_eq!(item(Term::Short), TimeDelta::hours(24));
        assert_eq!(item(Term::Mid), TimeDelta::days(14));
        assert_eq!(item(Term::Long), TimeDelta::days(90));
    }

    #[test]
    fn an_item_closes_only_with_validation_and_only_once() {
        let now = Utc::now();
        let mut item = ActionItem::new("act-1", Term::Short, "payments", "pin the deploy", None, now).unwrap();
        assert_eq!(
            item.close("", "ana", now),
            Err(ActionError::NoValidation("act-1".into()))
        );
        assert_eq!(
            item.close("done", "ana", now),
            Err(ActionError::NoValidation("act-1".into()))
        );
        item.close("pipeline run 812 shows the pin holding", "ana", now)
            .unwrap();
        assert!(matches!(
            item.close("again, and again", "bob", now),
            Err(ActionError::AlreadyDone { .. })
        ));
    }

    #[test]
    fn overdue_means_open_past_its_due_date() {
        let now = Utc::now();
        let mut item = ActionItem::new("a", Term::Short, "p", "x", None, now - TimeDelta::days(2)).unwrap();
        assert!(item.is_overdue(now));
        item.close("proven by the canary for two days", "ana", now).unwrap();
        assert!(!item.is_overdue(now));
    }

    #[test]
    fn items_need_text_an_owner_and_a_future_due_date() {
        let now = Utc::now();
        assert_eq!(
            ActionItem::new("a", Term::Mid, "p", " ", None, now),
            Err(ActionError::EmptyText)
        );
        assert_eq!(
            ActionItem::new("a", Term::Mid, "", "x", None, now),
            Err(ActionError::NoOwner)
        );
        let past = now - TimeDelta::days(1);
        assert_eq!(
            ActionItem::new("a", Term::Mid, "p", "x", Some(past), now),
            Err(ActionError::DueInThePast(past))
        );
    }
}
