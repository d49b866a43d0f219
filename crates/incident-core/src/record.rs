//! The records each phase of the loop leaves on an incident — who acted (the verified caller),
//! statements signed and dated, the checklist's override, customer updates, the postmortem's
//! document — kept here, apart from the rules that make them, so that the incident record can hold
//! them without its phases importing each other in a loop.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The identity behind the credentials a person used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub arn: String,
    /// `alice` for an IAM user, `Role/session` for an assumed role.
    pub name: String,
}

impl Caller {
    /// The caller behind a verified ARN: `arn:aws:iam::1:user/alice` is `alice`,
    /// `arn:aws:sts::1:assumed-role/OnCall/alice` is `OnCall/alice`.
    pub fn from_arn(arn: &str) -> Self {
        let resource = arn.splitn(6, ':').nth(5).unwrap_or(arn);
        let name = match resource.split_once('/') {
            Some(("assumed-role", rest)) => rest.to_string(),
            Some((_, rest)) => rest.rsplit('/').next().unwrap_or(rest).to_string(),
            None => resource.to_string(),
        };
        Self {
            arn: arn.to_string(),
            name,
        }
    }

    /// True when an approvers entry names this caller: the full ARN, an IAM user's name, an
    /// assumed role's `Role/session`, or the role itself (anyone who may assume it). Never a bare
    /// session name: whoever assumes a role chooses the session name, so `ana` would admit anyone
    /// calling their session `ana`.
    pub fn is_named_by(&self, entry: &str) -> bool {
        entry == self.arn || entry == self.name || self.name.rsplit_once('/').is_some_and(|(role, _)| entry == role)
    }
}

/// A statement someone made, signed and dated: an answer, a confirmation, an override reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attested {
    pub text: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// A resolution that went through with items still missing, and which ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub reason: Attested,
    pub missing: Vec<String>,
    /// The verified identity that overrode the checklist.
    #[serde(default)]
    pub by_arn: String,
}

/// One published update, as customers read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerUpdate {
    pub n: usize,
    pub text: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// The postmortem as recorded on the incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Postmortem {
    /// Where the Markdown draft is (`s3://bucket/key`).
    pub document: String,
    pub due: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    pub published_at: DateTime<Utc>,
    /// `Postmortem Created` went out (set only after it did, so a retry announces it).
    #[serde(default)]
    pub announced: bool,
    /// Marked complete once `coe check` found nothing missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<Attested>,
}

#[cfg(test)]
mod tests {
    use super::Caller;

    #[test]
    fn caller_names_are_short_and_keep_the_session_of_an_assumed_role() {
        let name = |arn: &str| Caller::from_arn(arn).name;
        assert_eq!(name("arn:aws:iam::123456789012:user/alice"), "alice");
        assert_eq!(name("arn:aws:iam::123456789012:user/team/bob"), "bob");
        assert_eq!(
            name("arn:aws:sts::123456789012:assumed-role/OnCall/carol"),
            "OnCall/carol"
        );
        assert_eq!(name("arn:aws:iam::000000000000:root"), "root");
    }
}
