//! Engineer approval of a mitigation: who may decide, once, and what the decision records.
//!
//! The Step Functions task token behind an approval never appears here: the store keeps it apart,
//! and people see only the opaque approval id.

use crate::catalog::Service;
use crate::mitigation::{is_placeholder, Candidate};
pub use crate::record::Caller;
use crate::IncidentId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Opaque, random, single-use; what people type.
    pub id: String,
    pub incident: IncidentId,
    pub candidates: Vec<Candidate>,
    /// The candidate put to the approvers (earlier ones were rejected or failed).
    #[serde(default)]
    pub offered: usize,
    pub requested_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Nobody decided in time; a new approval was requested instead.
    #[serde(default)]
    pub expired: bool,
}

impl Approval {
    /// A new approval for the callback `token` (never stored with the approval, never shown): the
    /// id is derived from it, so a retried request makes the same approval and nobody can guess it.
    pub fn new(incident: &IncidentId, candidates: Vec<Candidate>, offered: usize, token: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{incident}/{token}").as_bytes());
        let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            id: format!("apr-{hex}"),
            incident: incident.clone(),
            candidates,
            offered,
            requested_at: Utc::now(),
            decision: None,
            expired: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub approved: bool,
    /// Index into the candidates (0 = the first proposal).
    pub candidate: usize,
    pub by: String,
    pub by_arn: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Runbook parameters the approver supplied (values the plan left as `<…>`), over the plan's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("{caller} is not an approver for {service} (approvers: {approvers})")]
    NotAnApprover {
        caller: String,
        service: String,
        approvers: String,
    },
    #[error("already {verb} by {by} at {} UTC (approval {id})", at.format("%H:%M"))]
    AlreadyDecided {
        id: String,
        verb: &'static str,
        by: String,
        at: DateTime<Utc>,
    },
    #[error("approval {0} expired unanswered; a newer request replaced it")]
    Expired(String),
    #[error("candidate {0} does not exist")]
    NoSuchCandidate(usize),
    #[error("candidate {candidate} has no parameter {name} (it takes: {takes})")]
    UnknownParameter {
        candidate: usize,
        name: String,
        takes: String,
    },
    #[error("candidate {0} rolls forward: approve it with --confirm-roll-forward")]
    NeedsConfirmation(usize),
    #[error("candidate {candidate} sets {name} to {value} from the plan: only the values it left open (<…>) are supplied by the approver")]
    FixedParameter {
        candidate: usize,
        name: String,
        value: String,
    },
    #[error("candidate {candidate} needs {missing} before it can run")]
    MissingParameters { candidate: usize, missing: String },
}

/// What the lifecycle's approval wait is completed with once a person decided: the decision, and
/// the candidate to offer next if this one is rejected or fails.
pub fn decided_output(approval: &Approval, decision: &Decision) -> serde_json::Value {
    let next_offset = if decision.approved {
        decision.candidate + 1
    } else {
        approval.offered + 1
    };
    serde_json::json!({ "approved": decision.approved, "candidate": decision.candidate,
                        "approval_id": approval.id, "next_offset": next_offset, "resolved": false })
}

/// What the approval wait is completed with when the incident was resolved first: mitigation ends.
pub fn withdrawn_output(approval_id: Option<&str>, offered: usize) -> serde_json::Value {
    serde_json::json!({ "approved": false, "candidate": offered, "approval_id": approval_id,
                        "next_offset": offered, "resolved": true })
}

/// Who may approve a mitigation of `incident`: the approvers of its services, once each.
pub fn approvers_of(catalog: &crate::catalog::Catalog, incident: &crate::incident::Incident) -> Vec<String> {
    catalog.across(&incident.services, |s| &s.approvers)
}

/// What a person asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub approve: bool,
    pub candidate: usize,
    pub confirm_roll_forward: bool,
    pub reason: Option<String>,
    pub parameters: BTreeMap<String, String>,
}

/// Checks a decision against the rules and returns it; the store then records it with a
/// conditional write, so that of two racing decisions only one lands.
pub fn decide(
    approval: &Approval,
    service: &Service,
    caller: &Caller,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<Decision, Refused> {
    decide_for(approval, &service.name, &service.approvers, caller, request, now)
}

/// [`decide`] for an incident whose approvers come from several services (a multi-service event).
pub fn decide_for(
    approval: &Approval,
    scope: &str,
    approvers: &[String],
    caller: &Caller,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<Decision, Refused> {
    if let Some(d) = &approval.decision {
        return Err(Refused::AlreadyDecided {
            id: approval.id.clone(),
            verb: if d.approved { "approved" } else { "rejected" },
            by: d.by.clone(),
            at: d.at,
        });
    }
    if approval.expired {
        return Err(Refused::Expired(approval.id.clone()));
    }
    if !approvers.iter().any(|a| caller.is_named_by(a)) {
        return Err(Refused::NotAnApprover {
            caller: caller.name.clone(),
            service: scope.to_string(),
            approvers: approvers.join(", "),
        });
    }
    let candidate = approval
        .candidates
        .get(request.candidate)
        .ok_or(Refused::NoSuchCandidate(request.candidate))?;
    if let Some(name) = request
        .parameters
        .keys()
        .find(|k| !candidate.parameters.contains_key(*k))
    {
        return Err(Refused::UnknownParameter {
            candidate: request.candidate,
            name: name.clone(),
            takes: candidate.parameters.keys().cloned().collect::<Vec<_>>().join(", "),
        });
    }
    // The approver fills in what the plan could not know; what it set (the catalog's cluster, the
    // impaired zone's resource) is the plan's, so an approval never aims a runbook elsewhere.
    if let Some((name, value)) = request
        .parameters
        .keys()
        .filter_map(|k| candidate.parameters.get_key_value(k))
        .find(|(_, v)| !is_placeholder(v))
    {
        return Err(Refused::FixedParameter {
            candidate: request.candidate,
            name: name.clone(),
            value: value.clone(),
        });
    }
    if request.approve && candidate.requires_confirmation && !request.confirm_roll_forward {
        return Err(Refused::NeedsConfirmation(request.candidate));
    }
    let missing: Vec<String> = candidate
        .parameters
        .iter()
        .filter(|(k, v)| is_placeholder(v) && !request.parameters.contains_key(*k))
        .map(|(k, v)| format!("--param {k}=… ({})", v.trim_matches(|c| c == '<' || c == '>')))
        .collect();
    if request.approve && !missing.is_empty() {
        return Err(Refused::MissingParameters {
            candidate: request.candidate,
            missing: missing.join(", "),
        });
    }
    Ok(Decision {
        approved: request.approve,
        candidate: request.candidate,
        by: caller.name.clone(),
        by_arn: caller.arn.clone(),
        at: now,
        reason: request.reason.clone(),
        parameters: request.parameters.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mitigation::{plan, Kind};
    use crate::SignalKey;

    fn service() -> Service {
        serde_yaml::from_str("{name: checkout, owner: payments, tier: 1, approvers: [ana, OnCallRole]}").unwrap()
    }

    fn approval() -> Approval {
        Approval {
            id: "apr-1".into(),
            incident: IncidentId::for_service("checkout", &SignalKey::new("t", "1")),
            candidates: filled(plan(None, Utc::now(), &[], &[]).candidates),
            offered: 0,
            requested_at: Utc::now(),
            decision: None,
            expired: false,
        }
    }

    fn caller(arn: &str, name: &str) -> Caller {
        Caller {
            arn: arn.into(),
            name: name.into(),
        }
    }

    /// The generic candidates with every value known, as a catalog-described service has them.
    fn filled(mut candidates: Vec<Candidate>) -> Vec<Candidate> {
        for c in &mut candidates {
            for v in c.parameters.values_mut() {
                if is_placeholder(v) {
                    *v = "known".into();
                }
            }
        }
        candidates
    }

    fn approve(candidate: usize) -> Request {
        Request {
            approve: true,
            candidate,
            confirm_roll_forward: false,
            reason: None,
            parameters: BTreeMap::new(),
        }
    }

    #[test]
    fn an_approver_named_in_the_catalog_may_decide_and_is_recorded() {
        let ana = caller("arn:aws:iam::1:user/ana", "ana");
        let d = decide(&approval(), &service(), &ana, &approve(0), Utc::now()).unwrap();
        assert_eq!(
            (d.approved, d.candidate, d.by.as_str(), d.by_arn.as_str()),
            (true, 0, "ana", "arn:aws:iam::1:user/ana")
        );
    }

    #[test]
    fn a_role_named_in_the_catalog_admits_its_sessions() {
        let session = caller("arn:aws:sts::1:assumed-role/OnCallRole/bob", "OnCallRole/bob");
        assert!(decide(&approval(), &service(), &session, &approve(0), Utc::now()).is_ok());
        // A session of another role named like an approver is not that approver.
        let posing = caller("arn:aws:sts::1:assumed-role/AnyRole/ana", "AnyRole/ana");
        assert!(matches!(
            decide(&approval(), &service(), &posing, &approve(0), Utc::now()),
            Err(Refused::NotAnApprover { .. })
        ));
    }

    #[test]
    fn anyone_else_is_refused_with_who_may() {
        let eve = caller("arn:aws:iam::1:user/eve", "eve");
        let err = decide(&approval(), &service(), &eve, &approve(0), Utc::now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "eve is not an approver for checkout (approvers: ana, OnCallRole)"
        );
    }

    #[test]
    fn a_decision_is_single_use() {
        let ana = caller("arn:aws:iam::1:user/ana", "ana");
        let mut a = approval();
        a.decision = Some(decide(&a, &service(), &ana, &approve(0), Utc::now()).unwrap());
        assert!(matches!(
            decide(&a, &service(), &ana, &approve(1), Utc::now()),
            Err(Refused::AlreadyDecided { .. })
        ));
    }

    #[test]
    fn approval_ids_are_derived_from_the_token_without_revealing_it() {
        let id = IncidentId::for_service("checkout", &SignalKey::new("t", "1"));
        let a = Approval::new(&id, vec![], 0, "secret-token");
        assert_eq!(a.id, Approval::new(&id, vec![], 0, "secret-token").id);
        assert!(!a.id.contains("secret") && a.id.starts_with("apr-") && a.id.len() == 24);
        let mut expired = a;
        expired.expired = true;
        let ana = caller("arn:aws:iam::1:user/ana", "ana");
        assert!(matches!(
            decide(&expired, &service(), &ana, &approve(0), Utc::now()),
            Err(Refused::Expired(_))
        ));
    }

    #[test]
    fn rolling_forward_needs_an_explicit_confirmation() {
        let ana = caller("arn:aws:iam::1:user/ana", "ana");
        let a = approval();
        let last = a.candidates.iter().position(|c| c.kind == Kind::RollForward).unwrap();
        assert_eq!(
            decide(&a, &service(), &ana, &approve(last), Utc::now()),
            Err(Refused::NeedsConfirmation(last))
        );
        let confirmed = Request {
            confirm_roll_forward: true,
            ..approve(last)
        };
        assert!(decide(&a, &service(), &ana, &confirmed, Utc::now()).is_ok());
        assert_eq!(
            decide(&a, &service(), &ana, &approve(99), Utc::now()),
            Err(Refused::NoSuchCandidate(99))
        );
    }

    #[test]
    fn the_approver_supplies_only_what_the_plan_left_open_and_all_of_it() {
        let ana = caller("arn:aws:iam::1:user/ana", "ana");
        let open = Approval {
            candidates: plan(None, Utc::now(), &[], &[]).candidates,
            ..approval()
        };
        let scale_up = &open.candidates[0];
        assert_eq!(scale_up.parameters["DesiredCount"], "<twice the current count>");
        let missing = decide(&open, &service(), &ana, &approve(0), Utc::now()).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("--param DesiredCount=… (twice the current count)"),
            "{missing}"
        );

        let mut known = open.clone();
        known.candidates[0].parameters.insert("Cluster".into(), "shop".into());
        let aimed_elsewhere = Request {
            parameters: BTreeMap::from([("Cluster".into(), "someone-elses".into())]),
            ..approve(0)
        };
        assert_eq!(
            decide(&known, &service(), &ana, &aimed_elsewhere, Utc::now()),
            Err(Refused::FixedParameter {
                candidate: 0,
                name: "Cluster".into(),
                value: "shop".into()
            })
        );
        let everything: BTreeMap<String, String> = scale_up
            .parameters
            .iter()
            .filter(|(_, v)| is_placeholder(v))
            .map(|(k, _)| (k.clone(), "4".to_string()))
            .collect();
        let supplied = Request {
            parameters: everything,
            ..approve(0)
        };
        assert!(decide(&open, &service(), &ana, &supplied, Utc::now()).is_ok());
        let reject = Request {
            approve: false,
            ..approve(0)
        };
        assert!(
            decide(&open, &service(), &ana, &reject, Utc::now()).is_ok(),
            "a rejection needs no values"
        );
    }
}
