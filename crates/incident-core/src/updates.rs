//! Customer updates: a generic first draft as soon as a customer-facing incident is engaged, then
//! updates that say more each time, on a cadence set by severity.

use crate::incident::Incident;
pub use crate::record::CustomerUpdate;
use crate::severity::Severity;
use chrono::{DateTime, TimeDelta, Utc};

/// How often customers hear from us while the incident is open; `None`: no fixed cadence.
pub fn cadence(severity: Option<Severity>) -> Option<TimeDelta> {
    match severity? {
        Severity::Sev1 => Some(TimeDelta::minutes(30)),
        Severity::Sev2 => Some(TimeDelta::minutes(60)),
        Severity::Sev3 => Some(TimeDelta::minutes(120)),
        Severity::Sev4 | Severity::Sev5 => None,
    }
}

fn minutes(d: TimeDelta) -> String {
    match d.num_minutes() {
        m if m % 60 == 0 => format!("{} hour{}", m / 60, if m == 60 { "" } else { "s" }),
        m => format!("{m} minutes"),
    }
}

/// The first, generic update: honest that we know little yet, and when customers hear next.
pub fn first_draft(incident: &Incident) -> String {
    let next = cadence(incident.severity).unwrap_or(TimeDelta::minutes(60));
    format!(
        "We are investigating increased error rates and latency affecting {}. Some requests may fail or be slow. \
         We will provide an update within {}.",
        incident.services.join(", "),
        minutes(next)
    )
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UpdateError {
    #[error("{0} is closed: customers get the RCA now, not updates")]
    Closed(String),
    #[error("an update needs text")]
    Empty,
    #[error("this says nothing new: update {0} already said it. Say what changed (cause found, mitigation in place, recovery seen)")]
    Repeat(usize),
    #[error("the generic draft was already sent; say something more specific")]
    StillGeneric,
}

fn normal(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Publishes an update: refused when it repeats an earlier one, or sends the generic draft again.
pub fn publish(
    incident: &mut Incident,
    text: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<CustomerUpdate, UpdateError> {
    if incident.status.is_closed() {
        return Err(UpdateError::Closed(incident.id.to_string()));
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(UpdateError::Empty);
    }
    if let Some(earlier) = incident
        .customer_updates
        .iter()
        .find(|u| normal(&u.text) == normal(text))
    {
        return Err(UpdateError::Repeat(earlier.n));
    }
    if !incident.customer_updates.is_empty() && normal(text) == normal(&first_draft(incident)) {
        return Err(UpdateError::StillGeneric);
    }
    let update = CustomerUpdate {
        n: incident.customer_updates.len() + 1,
        text: text.to_string(),
        by: by.to_string(),
        at: now,
    };
    incident.customer_updates.push(update.clone());
    Ok(update)
}

/// Where a customer-facing incident stands against its update cadence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Due {
    /// Nothing to watch: closed, not customer-facing, or no cadence for this severity.
    Done,
    /// The next update is due in this long.
    Wait(TimeDelta),
    /// Missed: the last update (or engagement) was at `since`; remind, then look again after a cadence.
    Overdue { since: DateTime<Utc>, cadence: TimeDelta },
    /// Mitigated, and customers have not heard so since: remind once, then stop watching — the
    /// cadence is for while customers are still affected.
    Mitigated { at: DateTime<Utc> },
}

/// Where the cadence stands, in one line (the CLI's `update` and the console say it alike).
impl std::fmt::Display for Due {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Due::Done => write!(f, "no update cadence (closed, not customer-facing, or SEV4–5)"),
            Due::Wait(w) => write!(f, "next update due in {} minutes", w.num_minutes()),
            Due::Mitigated { at } => write!(
                f,
                "mitigated at {}: tell customers (one more update, then the cadence ends)",
                at.format("%H:%M:%S UTC")
            ),
            Due::Overdue { since, cadence } => write!(
                f,
                "OVERDUE: the cadence is {} minutes and the last was at {}",
                cadence.num_minutes(),
                since.format("%H:%M:%S UTC")
            ),
        }
    }
}

impl Due {
    /// When the reminder loop looks again, in seconds (at least a minute): when the next update
    /// falls due, or a cadence after a missed one. A mitigation or a resolution wakes it earlier; a
    /// published update only moves the next due time later.
    pub fn look_again_in_seconds(&self) -> i64 {
        let wait = match self {
            Due::Wait(d) => *d,
            Due::Overdue { cadence, .. } => *cadence,
            Due::Done | Due::Mitigated { .. } => TimeDelta::zero(),
        };
        wait.num_seconds().max(60)
    }
}

pub fn due(incident: &Incident, now: DateTime<Utc>) -> Due {
    if incident.status.is_closed() || !incident.customer_facing {
        return Due::Done;
    }
    let Some(cadence) = cadence(incident.severity) else {
        return Due::Done;
    };
    if let Some(at) = incident.mitigated_at {
        return match incident.customer_updates.last() {
            Some(u) if u.at >= at => Due::Done,
            _ => Due::Mitigated { at },
        };
    }
    let since = incident
        .customer_updates
        .last()
        .map(|u| u.at)
        .or(incident.engaged_at)
        .unwrap_or(incident.detected_at);
    let elapsed = now - since;
    if elapsed >= cadence {
        Due::Overdue { since, cadence }
    } else {
        Due::Wait(cadence - elapsed)
    }
}

/// A missed update (the one due since `since`) was reminded: each is reminded once.
pub fn record_reminder(incident: &mut Incident, since: DateTime<Utc>) {
    incident.update_reminded_for = Some(since);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Status;

    fn incident(severity: Severity) -> Incident {
        crate::incident::checkout(severity, true)
    }

    #[test]
    fn cadence_tightens_with_severity() {
        assert_eq!(cadence(Some(Severity::Sev1)), Some(TimeDelta::minutes(30)));
        assert_eq!(cadence(Some(Severity::Sev2)), Some(TimeDelta::minutes(60)));
        assert_eq!(cadence(Some(Severity::Sev3)), Some(TimeDelta::minutes(120)));
        assert_eq!(cadence(Some(Severity::Sev4)), None);
        assert_eq!(cadence(None), None);
    }

    #[test]
    fn the_first_draft_is_generic_and_promises_the_next_update() {
        let draft = first_draft(&incident(Severity::Sev1));
        assert!(
            draft.starts_with("We are investigating increased error rates"),
            "{draft}"
        );
        assert!(draft.contains("checkout"));
        assert!(draft.contains("within 30 minutes"));
        assert!(first_draft(&incident(Severity::Sev3)).contains("within 2 hours"));
    }

    #[test]
    fn each_update_must_say_something_new() {
        let now = Utc::now();
        let mut i = incident(Severity::Sev2);
        let draft = first_draft(&i);
        assert_eq!(publish(&mut i, "  ", "sam", now), Err(UpdateError::Empty));
        assert_eq!(publish(&mut i, &draft, "sam", now).unwrap().n, 1);
        assert_eq!(
            publish(&mut i, &draft.to_uppercase(), "sam", now),
            Err(UpdateError::Repeat(1))
        );
        let second = "We identified a faulty configuration change and are rolling it back.";
        assert_eq!(publish(&mut i, second, "sam", now).unwrap().n, 2);
        assert_eq!(
            publish(&mut i, &format!(" {second} "), "sam", now),
            Err(UpdateError::Repeat(2))
        );
        i.status = Status::Resolved;
        assert!(matches!(
            publish(&mut i, "all good now, really", "sam", now),
            Err(UpdateError::Closed(_))
        ));
    }

    #[test]
    fn a_missed_cadence_is_overdue_from_the_last_update() {
        let now = Utc::now();
        let mut i = incident(Severity::Sev1);
        i.engaged_at = Some(now - TimeDelta::minutes(10));
        assert_eq!(due(&i, now), Due::Wait(TimeDelta::minutes(20)));
        i.engaged_at = Some(now - TimeDelta::minutes(45));
        assert_eq!(
            due(&i, now),
            Due::Overdue {
                since: now - TimeDelta::minutes(45),
                cadence: TimeDelta::minutes(30)
            }
        );
        publish(
            &mut i,
            "We are rolling back a change.",
            "sam",
            now - TimeDelta::minutes(5),
        )
        .unwrap();
        assert_eq!(due(&i, now), Due::Wait(TimeDelta::minutes(25)));
        i.customer_facing = false;
        assert_eq!(due(&i, now), Due::Done);
        i.customer_facing = true;
        i.severity = Some(Severity::Sev4);
        assert_eq!(due(&i, now), Due::Done);
    }
}
