//! Closing carefully: the checklist that gates resolution, the answers that satisfy it, and the
//! recorded override when an incident commander closes anyway.

use crate::actions::{ActionItem, Term};
use crate::incident::Incident;
use crate::record::Caller;
pub use crate::record::{Attested, Override};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClosingError {
    #[error("{0} is already closed")]
    Closed(String),
    #[error("there is no risk-of-recurrence question {0}; `incidentctl checklist ID` lists them")]
    NoSuchCheck(usize),
    #[error("say what you found, in a sentence (at least 10 characters)")]
    TooShort,
    #[error("{0} is not customer-facing: there are no customers to confirm recovered")]
    NotCustomerFacing(String),
    #[error("an override needs a reason (--reason \"…\")")]
    NoReason,
}

fn attested(text: &str, by: &str, now: DateTime<Utc>) -> Result<Attested, ClosingError> {
    if text.trim().chars().count() < 10 {
        return Err(ClosingError::TooShort);
    }
    Ok(Attested {
        text: text.trim().to_string(),
        by: by.to_string(),
        at: now,
    })
}

fn open(incident: &Incident) -> Result<(), ClosingError> {
    if incident.status.is_closed() {
        return Err(ClosingError::Closed(incident.id.to_string()));
    }
    Ok(())
}

/// Answers risk-of-recurrence question `n` (1-based, as listed); a new answer replaces the old.
pub fn answer_check(
    incident: &mut Incident,
    n: usize,
    text: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<String, ClosingError> {
    open(incident)?;
    let question = n
        .checked_sub(1)
        .and_then(|i| incident.open_checks.get(i))
        .cloned()
        .ok_or(ClosingError::NoSuchCheck(n))?;
    incident
        .check_answers
        .insert(question.clone(), attested(text, by, now)?);
    Ok(question)
}

/// Records how customers were confirmed recovered (support contacts, canaries, error rates).
pub fn confirm_customers_recovered(
    incident: &mut Incident,
    how: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), ClosingError> {
    open(incident)?;
    if !incident.customer_facing {
        return Err(ClosingError::NotCustomerFacing(incident.id.to_string()));
    }
    incident.customers_recovered = Some(attested(how, by, now)?);
    Ok(())
}

/// One line of the checklist, met or not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    pub met: bool,
    pub text: String,
}

/// The whole checklist, met items included, in a stable order.
pub fn checklist(incident: &Incident, actions: &[ActionItem]) -> Vec<Item> {
    let mut items = Vec::new();
    let mut push = |met: bool, text: String| items.push(Item { met, text });
    for a in actions.iter().filter(|a| a.term == Term::Short) {
        match &a.done {
            Some(v) => push(true, format!("short-term fix {} validated: {}", a.id, v.evidence)),
            None => push(false, format!("short-term fix {} ({}) is not validated", a.id, a.text)),
        }
    }
    for (n, q) in incident.open_checks.iter().enumerate() {
        match incident.check_answers.get(q) {
            Some(answer) => push(true, format!("risk of recurrence {}: {q} — {}", n + 1, answer.text)),
            None => push(false, format!("risk-of-recurrence question {} unanswered: {q}", n + 1)),
        }
    }
    match incident.final_capture_at {
        Some(at) => push(
            true,
            format!("final evidence captured at {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
        ),
        None => push(
            false,
            "final evidence capture has not run (it runs once the incident is mitigated and acknowledged; \
             run it now with incidentctl evidence capture ID)"
                .into(),
        ),
    }
    if incident.customer_facing {
        match &incident.customers_recovered {
            Some(c) => push(true, format!("customers confirmed recovered by {}: {}", c.by, c.text)),
            None => push(
                false,
                "customers are not confirmed recovered (customer-facing incident)".into(),
            ),
        }
    }
    let owners: Vec<&str> = actions.iter().map(|a| a.owner.as_str()).collect();
    if owners.is_empty() {
        push(false, "no next steps: add an action item with an owner".into());
    } else {
        let mut owners = owners;
        owners.sort();
        owners.dedup();
        push(true, format!("next steps owned by {}", owners.join(", ")));
    }
    items
}

/// What keeps the incident from being resolved: empty means it may close.
pub fn missing(incident: &Incident, actions: &[ActionItem]) -> Vec<String> {
    checklist(incident, actions)
        .into_iter()
        .filter(|i| !i.met)
        .map(|i| i.text)
        .collect()
}

/// Resolves the incident: refused with the missing items unless forced with a reason, in which case
/// the override and what it skipped are recorded.
pub fn resolve(
    incident: &mut Incident,
    actions: &[ActionItem],
    force: Option<&str>,
    by: &Caller,
    now: DateTime<Utc>,
) -> Result<(), Refused> {
    open(incident).map_err(|e| Refused::Rule(e.to_string()))?;
    let missing = missing(incident, actions);
    if !missing.is_empty() {
        match force {
            None => return Err(Refused::Missing(missing)),
            Some(reason) if reason.trim().is_empty() => return Err(Refused::Rule(ClosingError::NoReason.to_string())),
            Some(reason) => {
                incident.resolution_override = Some(Override {
                    reason: Attested {
                        text: reason.trim().to_string(),
                        by: by.name.clone(),
                        at: now,
                    },
                    missing,
                    by_arn: by.arn.clone(),
                })
            }
        }
    }
    incident.status = crate::incident::Status::Resolved;
    incident.resolved_at = Some(now);
    incident.resolved_by = Some(by.name.clone());
    Ok(())
}

/// Why a resolution was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The checklist items still missing.
    Missing(Vec<String>),
    Rule(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Missing(items) => {
                writeln!(f, "not resolved: the closing checklist is not met. Missing:")?;
                for m in items {
                    writeln!(f, "  - {m}")?;
                }
                write!(
                    f,
                    "Complete them (incidentctl checklist ID), or close anyway with --force --reason \"…\"."
                )
            }
            Refused::Rule(text) => f.write_str(text),
        }
    }
}

/// The lifecycle closed the resolved incident out (resolution announced, correlation closed): it
/// is no longer live, and nothing restarts its lifecycle. Said once on the timeline.
pub fn record_closed(incident: &mut Incident, now: DateTime<Utc>) -> Vec<crate::timeline::Entry> {
    incident.closed_at.get_or_insert(now);
    let text = "closed out: resolution announced; later signals of its services open a new incident";
    vec![crate::timeline::Entry::system(
        "close",
        crate::timeline::EntryKind::Resolved,
        "closed",
        text,
    )]
}

/// The closing evidence capture finished now (the first one counts for the checklist).
pub fn record_final_capture(incident: &mut Incident, now: DateTime<Utc>) {
    incident.final_capture_at.get_or_insert(now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Status;

    fn incident(customer_facing: bool) -> Incident {
        let mut i = crate::incident::checkout(crate::severity::Severity::Sev2, customer_facing);
        i.status = Status::Mitigated;
        i.open_checks = vec!["Could a pipeline undo the fix?".into(), "Shared component?".into()];
        i
    }

    fn ana() -> Caller {
        Caller::from_arn("arn:aws:iam::1:user/ana")
    }

    fn short_fix(now: DateTime<Utc>) -> ActionItem {
        ActionItem::new("x.a1", Term::Short, "payments", "pin the deploy", None, now).unwrap()
    }

    #[test]
    fn every_missing_item_is_listed_until_each_is_met() {
        let now = Utc::now();
        let mut i = incident(true);
        let mut actions = vec![short_fix(now)];
        let missing = missing(&i, &actions);
        assert_eq!(missing.len(), 5, "{missing:?}");
        assert!(missing[0].contains("x.a1"));
        assert!(missing[1].contains("question 1 unanswered: Could a pipeline"));
        assert!(missing[2].contains("question 2"));
        assert!(missing[3].contains("final evidence"));
        assert!(missing[4].contains("customers are not confirmed"));

        actions[0]
            .close("pipeline 812 shows the pin holding", "ana", now)
            .unwrap();
        answer_check(&mut i, 1, "pipeline paused until the fix ships", "ana", now).unwrap();
        answer_check(&mut i, 2, "no: the cache is checkout's own", "ana", now).unwrap();
        i.final_capture_at = Some(now);
        confirm_customers_recovered(&mut i, "support reports no new cases for 30 minutes", "sam", now).unwrap();
        assert_eq!(self::missing(&i, &actions), Vec::<String>::new());
        assert!(checklist(&i, &actions).iter().all(|c| c.met));
    }

    #[test]
    fn next_steps_need_at_least_one_owned_action_item() {
        let mut i = incident(false);
        i.open_checks.clear();
        i.final_capture_at = Some(Utc::now());
        assert_eq!(
            missing(&i, &[]),
            vec!["no next steps: add an action item with an owner".to_string()]
        );
        let long = ActionItem::new("x.a1", Term::Long, "platform", "cell architecture", None, Utc::now()).unwrap();
        assert!(missing(&i, &[long]).is_empty());
    }

    #[test]
    fn answers_are_checked_and_bound_to_the_listed_question() {
        let now = Utc::now();
        let mut i = incident(false);
        assert_eq!(
            answer_check(&mut i, 0, "a long enough answer", "ana", now),
            Err(ClosingError::NoSuchCheck(0))
        );
        assert_eq!(
            answer_check(&mut i, 3, "a long enough answer", "ana", now),
            Err(ClosingError::NoSuchCheck(3))
        );
        assert_eq!(answer_check(&mut i, 1, "ok", "ana", now), Err(ClosingError::TooShort));
        assert_eq!(
            confirm_customers_recovered(&mut i, "support confirms it", "ana", now),
            Err(ClosingError::NotCustomerFacing(i.id.to_string()))
        );
        let q = answer_check(&mut i, 2, "checked: not shared", "ana", now).unwrap();
        assert_eq!(q, "Shared component?");
        assert_eq!(i.check_answers[&q].by, "ana");
    }

    #[test]
    fn resolution_is_refused_with_what_is_missing_or_forced_with_a_recorded_reason() {
        let now = Utc::now();
        let mut i = incident(false);
        let refused = resolve(&mut i, &[], None, &ana(), now).unwrap_err();
        let Refused::Missing(items) = &refused else {
            panic!("{refused:?}")
        };
        assert_eq!(items.len(), 4);
        assert!(refused.to_string().contains("--force --reason"));
        assert_eq!(i.status, Status::Mitigated);

        assert!(matches!(
            resolve(&mut i, &[], Some(" "), &ana(), now),
            Err(Refused::Rule(_))
        ));
        resolve(
            &mut i,
            &[],
            Some("commander call: customer comms take priority"),
            &ana(),
            now,
        )
        .unwrap();
        assert_eq!(i.status, Status::Resolved);
        let o = i.resolution_override.as_ref().unwrap();
        assert_eq!(o.reason.by, "ana");
        assert_eq!(o.by_arn, "arn:aws:iam::1:user/ana");
        assert_eq!(o.missing.len(), 4);
        assert!(matches!(resolve(&mut i, &[], None, &ana(), now), Err(Refused::Rule(_))));
    }

    #[test]
    fn a_complete_checklist_resolves_without_an_override() {
        let now = Utc::now();
        let mut i = incident(false);
        i.open_checks.clear();
        i.final_capture_at = Some(now);
        let mut fix = short_fix(now);
        fix.close("canary green for an hour", "ana", now).unwrap();
        resolve(&mut i, &[fix], None, &ana(), now).unwrap();
        assert_eq!(i.resolution_override, None);
        assert_eq!(i.resolved_by.as_deref(), Some("ana"));
    }
}
