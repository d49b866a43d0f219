//! Deterministic identifiers.
//!
//! EventBridge and Lambda asynchronous delivery are at-least-once, so every identifier that guards
//! against a second incident is derived from its input rather than drawn at random: the same signal
//! always yields the same key, and the incident it opens always gets the same id.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// An incident's id: `inc-` followed by 20 hex digits of a SHA-256 over what opened it.
///
/// It is also the Step Functions execution name (≤ 80 characters, `[A-Za-z0-9-_]`), so a redelivered
/// opening signal cannot start a second execution either.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncidentId(String);

impl IncidentId {
    /// The id of the single-service incident opened by `signal` for `service`.
    pub fn for_service(service: &str, signal: &SignalKey) -> Self {
        Self::digest("inc", &[service, signal.as_str()])
    }

    /// The id of the multi-service event whose earliest member is `first_member`.
    pub fn for_multi_service(first_member: &IncidentId) -> Self {
        Self::digest("mse", &[first_member.as_str()])
    }

    fn digest(prefix: &str, parts: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        let hex: String = hasher.finalize()[..10].iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("{prefix}-{hex}"))
    }

    /// Accepts an id typed by a person, refusing anything that is not shaped like one of ours.
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        let ok = (text.starts_with("inc-") || text.starts_with("mse-"))
            && text.len() == 24
            && text[4..].bytes().all(|b| b.is_ascii_hexdigit());
        if ok {
            Ok(Self(text.to_string()))
        } else {
            Err(InvalidId(text.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_multi_service(&self) -> bool {
        self.0.starts_with("mse-")
    }

    /// Checks what a person typed for an id: a whole id, or the start of one (`inc-d8ac`, or just
    /// the digits `d8ac`), so that nobody has to type twenty hex digits at 3 a.m.
    pub fn check_typed(typed: &str) -> Result<(), InvalidId> {
        let digits = typed
            .strip_prefix("inc-")
            .or_else(|| typed.strip_prefix("mse-"))
            .unwrap_or(typed);
        let ok = !typed.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_hexdigit());
        if ok {
            Ok(())
        } else {
            Err(InvalidId(typed.to_string()))
        }
    }

    /// True when `typed` (see [`Self::check_typed`]) names this id.
    pub fn matches_typed(&self, typed: &str) -> bool {
        let typed = typed.to_ascii_lowercase();
        self.0.starts_with(&typed) || self.0[4..].starts_with(&typed)
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("'{0}' is not an incident id (expected inc-… or mse- followed by up to 20 hex digits)")]
pub struct InvalidId(pub String);

/// The identity of one signal: its source plus the event id EventBridge gave it (or, for events that
/// carry none, a digest of the content). A redelivery carries the same key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignalKey(String);

impl SignalKey {
    pub fn new(source: &str, event_id: &str) -> Self {
        Self(format!("{source}/{event_id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SignalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_signal_always_yields_the_same_incident_id() {
        let key = SignalKey::new("aws.cloudwatch", "abc");
        assert_eq!(
            IncidentId::for_service("checkout", &key),
            IncidentId::for_service("checkout", &key)
        );
        assert_ne!(
            IncidentId::for_service("checkout", &key),
            IncidentId::for_service("orders", &key)
        );
    }

    #[test]
    fn incident_ids_are_valid_execution_names_and_parse_back() {
        let id = IncidentId::for_service("checkout", &SignalKey::new("s", "e"));
        assert_eq!(id.as_str().len(), 24);
        assert!(id.as_str().chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_eq!(IncidentId::parse(id.as_str()), Ok(id.clone()));
        assert!(IncidentId::for_multi_service(&id).is_multi_service());
    }

    #[test]
    fn a_typed_prefix_names_the_ids_it_starts() {
        let id = IncidentId::parse("inc-d8ac41b901f3125c9541").unwrap();
        for typed in ["inc-d8ac", "d8ac", "D8AC41", "inc-d8ac41b901f3125c9541"] {
            assert!(IncidentId::check_typed(typed).is_ok(), "{typed}");
            assert!(id.matches_typed(typed), "{typed}");
        }
        assert!(!id.matches_typed("mse-d8ac"));
        assert!(!id.matches_typed("d8ad"));
        assert!(IncidentId::check_typed("inc-zz").is_err());
        assert!(IncidentId::check_typed("").is_err());
        assert!(IncidentId::check_typed("inc-d8ac41b901f3125c95411").is_err());
    }

    #[test]
    fn malformed_ids_are_refused() {
        assert!(IncidentId::parse("inc-xyz").is_err());
        assert!(IncidentId::parse("abc-0123456789abcdef0123").is_err());
    }
}
