//! The append-only timeline of an incident: every automated step and human action, who and when.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Opened,
    Signal,
    Recovery,
    Ignored,
    Linked,
    Merged,
    Triaged,
    Engaged,
    Escalated,
    Evidence,
    /// Mitigation: the plan, approvals, runbook runs, recovery.
    Mitigation,
    /// A lifecycle step failed after its retries; the loop went on without it.
    StepFailed,
    Acknowledged,
    /// A customer update: drafted, published, or missed.
    CustomerUpdate,
    /// Closing checklist answers and the postmortem.
    Closing,
    Note,
    Resolved,
    /// The lifecycle itself: restarted, started late, stopped.
    Lifecycle,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at: DateTime<Utc>,
    /// A person's identity, or `incident-loop/<component>` for automation.
    pub actor: String,
    pub kind: EntryKind,
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// Identifies the entry for idempotency: a retried step writes the same key and is kept once.
    pub key: String,
}

impl Entry {
    /// An entry written by a component of the loop.
    pub fn system(component: &str, kind: EntryKind, key: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            at: Utc::now(),
            actor: format!("incident-loop/{component}"),
            kind,
            text: text.into(),
            links: Vec::new(),
            key: key.into(),
        }
    }

    /// A lifecycle step that failed after its retries, in run `run` (its execution name), with the
    /// error type and cause Step Functions caught: one line, said once per step and run.
    pub fn step_failed(step: &str, run: &str, error: &str, cause: &str) -> Self {
        let cause: String = cause
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(300)
            .collect();
        let error = if error.is_empty() { "unknown error" } else { error };
        let text = format!("{step} failed after retries ({error}: {cause}); the loop went on without it");
        let key = if run.is_empty() {
            format!("failed-{step}")
        } else {
            format!("failed-{step}-{run}")
        };
        Self::system("lifecycle", EntryKind::StepFailed, key, text)
    }

    /// An entry by a person (the identity the command API verified), unique per call: its key is
    /// its kind, its instant and who wrote it, so two people writing at once both keep theirs.
    pub fn human(actor: &str, kind: EntryKind, text: impl Into<String>, at: DateTime<Utc>) -> Self {
        let nanos = at.timestamp_nanos_opt().unwrap_or_default();
        let key = format!("{kind:?}-{nanos}-{actor}").to_lowercase();
        Self {
            at,
            actor: actor.to_string(),
            kind,
            text: text.into(),
            links: Vec::new(),
            key,
        }
    }

    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = at;
        self
    }

    pub fn link(mut self, link: impl Into<String>) -> Self {
        self.links.push(link.into());
        self
    }
}

/// Checks a link typed by a person: absolute http(s) only, so that a timeline never carries
/// `javascript:` or file paths into someone's browser.
pub fn validate_link(link: &str) -> Result<(), String> {
    let ok = (link.starts_with("https://") || link.starts_with("http://"))
        && link.len() > "https://".len()
        && !link.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(format!("'{link}' is not an http(s) URL"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_links_are_accepted() {
        assert!(validate_link("https://example.com/dash").is_ok());
        assert!(validate_link("javascript:alert(1)").is_err());
        assert!(validate_link("https://").is_err());
        assert!(validate_link("https://a b").is_err());
    }
}
