//! Keeping every live incident's lifecycle running. An incident ends only by resolution (its
//! lifecycle closes it out) or by being merged into another; a crashed, timed-out or stopped
//! execution, or one that never started, is brought back by the reconciler, which decides here.

use crate::incident::{Incident, Status};
use crate::timeline::{Entry, EntryKind};
use crate::IncidentId;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A lifecycle is started by ingest right after the incident is written: one not found yet this
/// soon after detection is being started, not lost.
pub const START_GRACE: TimeDelta = TimeDelta::minutes(2);

/// Restarts after which a lifecycle that keeps ending is left for a person: restarting it again
/// would only page the same people about the same failure.
pub const MAX_RESTARTS: u32 = 5;

/// One run of a lifecycle covers at most this long: a longer incident continues in a fresh run, so
/// that no execution's history nears Step Functions' 25,000-event limit (a week of the busiest
/// incident, a customer-facing SEV1 that nobody mitigates, is about 10,000 events).
pub const RUN_SPAN: TimeDelta = TimeDelta::days(7);

/// Whether a run that started at `run_started` continues in a fresh run now.
pub fn should_continue(run_started: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - run_started >= RUN_SPAN
}

/// Where an incident's current lifecycle execution stands, as Step Functions reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunState {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    /// No execution of that name: its start failed.
    Missing,
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RunState::Running => "running",
            RunState::Succeeded => "ended",
            RunState::Failed => "failed",
            RunState::TimedOut => "timed out",
            RunState::Aborted => "stopped",
            RunState::Missing => "never started",
        })
    }
}

/// What the reconciler does about one incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repair {
    /// Start the current run, which never started (same name: starting it twice is harmless).
    Start { run: u32 },
    /// Start a fresh run numbered `run`: the last one ended without closing the incident out.
    Restart { run: u32, ended: RunState },
    /// A merged incident's run is still going: stop it.
    Stop { run: u32 },
    /// Resolved, and its lifecycle ended without recording it (an incident from before `closed_at`
    /// was kept): record it closed out.
    CloseOut,
    /// The lifecycle ended again after [`MAX_RESTARTS`] restarts: say it needs a person.
    GiveUp { run: u32, ended: RunState },
    /// The running run reached [`RUN_SPAN`]: it continues as run `run`.
    Continue { run: u32 },
}

/// Whether an incident's lifecycle needs repair, given the state of its current run, at `now`.
pub fn repair(incident: &Incident, state: RunState, now: DateTime<Utc>) -> Option<Repair> {
    let run = incident.lifecycle_run;
    if incident.status == Status::Merged {
        return (state == RunState::Running).then_some(Repair::Stop { run });
    }
    if incident.closed_at.is_some() {
        return None;
    }
    let resolved = incident.status == Status::Resolved;
    match state {
        RunState::Running => None,
        RunState::Succeeded | RunState::Missing if resolved => Some(Repair::CloseOut),
        RunState::Missing if now - incident.lifecycle_run_at.unwrap_or(incident.detected_at) < START_GRACE => None,
        RunState::Missing => Some(Repair::Start { run }),
        ended if incident.lifecycle_restarts >= MAX_RESTARTS => Some(Repair::GiveUp { run, ended }),
        // Failed, timed out, stopped — or ended without closing the incident out.
        ended => Some(Repair::Restart { run: run + 1, ended }),
    }
}

impl Repair {
    /// Whether the owner and the operators are told of it: a lifecycle brought back or given up.
    pub fn is_told(&self) -> bool {
        matches!(
            self,
            Repair::Start { .. } | Repair::Restart { .. } | Repair::GiveUp { .. }
        )
    }
}

/// The execution name of an incident's run: the incident id for the first, `<id>-r<n>` after.
/// Deterministic, so that two reconcilers racing start one execution.
pub fn run_name(id: &IncidentId, run: u32) -> String {
    match run {
        0 => id.to_string(),
        n => format!("{id}-r{n}"),
    }
}

/// The incident and run an execution name stands for.
pub fn parse_run_name(name: &str) -> Option<(IncidentId, u32)> {
    let (id, run) = match name.rsplit_once("-r") {
        Some((id, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => (id, n.parse().ok()?),
        _ => (name, 0),
    };
    Some((IncidentId::parse(id).ok()?, run))
}

/// Records a repair on the incident (its current run) and says it on the timeline, once per run.
pub fn record_repair(incident: &mut Incident, repair: &Repair, now: DateTime<Utc>) -> Vec<Entry> {
    let (key, text) = match repair {
        Repair::Start { run } => (
            format!("lifecycle-start-{run}"),
            format!("lifecycle never started: started as {}", run_name(&incident.id, *run)),
        ),
        Repair::Restart { run, ended } => {
            incident.lifecycle_run = *run;
            incident.lifecycle_run_at = Some(now);
            incident.lifecycle_restarts += 1;
            (
                format!("lifecycle-restart-{run}"),
                format!(
                    "lifecycle {ended} while the incident was {}: restarted as {}; steps already done are not repeated",
                    incident.status,
                    run_name(&incident.id, *run)
                ),
            )
        }
        Repair::Stop { run } => (
            format!("lifecycle-stop-{run}"),
            "lifecycle stopped: the incident was merged into another".to_string(),
        ),
        Repair::CloseOut => {
            incident.closed_at.get_or_insert(now);
            (
                "lifecycle-closed-out".to_string(),
                "closed out: the resolved incident's lifecycle had ended".to_string(),
            )
        }
        Repair::GiveUp { run, ended } => (
            format!("lifecycle-given-up-{run}"),
            format!(
                "lifecycle {ended} again after {} restarts: not restarted any more; a person resolves it (incidentctl resolve) or the operators look at the failures above",
                incident.lifecycle_restarts
            ),
        ),
        Repair::Continue { run } => {
            incident.lifecycle_run = *run;
            incident.lifecycle_run_at = Some(now);
            (
                format!("lifecycle-continue-{run}"),
                format!(
                    "lifecycle continued as {}: one run keeps at most {} days of history",
                    run_name(&incident.id, *run),
                    RUN_SPAN.num_days()
                ),
            )
        }
    };
    vec![Entry::system("reconcile", EntryKind::Lifecycle, key, text)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Scope;
    use crate::SignalKey;

    fn incident() -> Incident {
        let id = IncidentId::for_service("checkout", &SignalKey::new("t", "1"));
        Incident::open_at(
            id,
            Scope::SingleService,
            vec!["checkout".into()],
            Utc::now(),
            Utc::now() - TimeDelta::minutes(10),
        )
    }

    #[test]
    fn a_live_incident_whose_run_ended_gets_a_fresh_run_and_one_that_never_started_is_started() {
        let now = Utc::now();
        let mut i = incident();
        assert_eq!(repair(&i, RunState::Running, now), None);
        assert_eq!(repair(&i, RunState::Missing, now), Some(Repair::Start { run: 0 }));
        for ended in [RunState::Failed, RunState::TimedOut, RunState::Aborted] {
            assert_eq!(repair(&i, ended, now), Some(Repair::Restart { run: 1, ended }));
        }
        let fresh = repair(&i, RunState::Failed, now).unwrap();
        let entries = record_repair(&mut i, &fresh, now);
        assert_eq!(i.lifecycle_run, 1);
        assert_eq!(entries[0].key, "lifecycle-restart-1");
        assert!(
            entries[0].text.contains(&format!("restarted as {}-r1", i.id)),
            "{}",
            entries[0].text
        );
        assert_eq!(
            repair(&i, RunState::Aborted, now),
            Some(Repair::Restart {
                run: 2,
                ended: RunState::Aborted
            })
        );
    }

    #[test]
    fn a_lifecycle_just_being_started_is_left_alone_and_one_that_keeps_failing_is_given_up() {
        let now = Utc::now();
        let mut i = incident();
        i.detected_at = now - TimeDelta::seconds(30);
        assert_eq!(repair(&i, RunState::Missing, now), None, "ingest is starting it");
        i.lifecycle_run = MAX_RESTARTS + 3;
        i.lifecycle_restarts = MAX_RESTARTS;
        let given_up = repair(&i, RunState::Failed, now).unwrap();
        assert_eq!(
            given_up,
            Repair::GiveUp {
                run: MAX_RESTARTS + 3,
                ended: RunState::Failed
            }
        );
        let said = record_repair(&mut i, &given_up, now);
        assert!(said[0].text.contains("not restarted any more"), "{}", said[0].text);
        assert!(i.is_live(), "still live: only a resolution ends it");
    }

    #[test]
    fn a_run_just_recorded_is_left_to_start_whatever_the_incidents_age() {
        let now = Utc::now();
        let mut i = incident();
        record_repair(&mut i, &Repair::Continue { run: 1 }, now - TimeDelta::seconds(20));
        assert_eq!(
            repair(&i, RunState::Missing, now),
            None,
            "the continuation is starting it"
        );
        assert_eq!(
            repair(&i, RunState::Missing, now + START_GRACE),
            Some(Repair::Start { run: 1 })
        );
    }

    #[test]
    fn a_long_incident_continues_in_a_fresh_run_that_is_not_a_restart() {
        let now = Utc::now();
        assert!(!should_continue(now - TimeDelta::days(6), now));
        assert!(should_continue(now - RUN_SPAN, now));
        let mut i = incident();
        let said = record_repair(&mut i, &Repair::Continue { run: 1 }, now);
        assert_eq!((i.lifecycle_run, i.lifecycle_restarts), (1, 0));
        assert!(
            said[0].text.starts_with(&format!("lifecycle continued as {}-r1", i.id)),
            "{}",
            said[0].text
        );
        let restarted = repair(&i, RunState::Failed, now).unwrap();
        record_repair(&mut i, &restarted, now);
        assert_eq!((i.lifecycle_run, i.lifecycle_restarts), (2, 1));
    }

    #[test]
    fn closed_out_and_merged_incidents_are_left_alone_but_a_merged_ones_run_is_stopped() {
        let now = Utc::now();
        let mut i = incident();
        i.closed_at = Some(now);
        assert_eq!(repair(&i, RunState::Failed, now), None);
        let mut m = incident();
        m.status = Status::Merged;
        assert_eq!(repair(&m, RunState::Failed, now), None);
        assert_eq!(repair(&m, RunState::Running, now), Some(Repair::Stop { run: 0 }));
    }

    #[test]
    fn a_resolved_incident_whose_lifecycle_is_gone_or_done_is_closed_out_not_rerun() {
        let now = Utc::now();
        let mut old = incident();
        old.status = Status::Resolved;
        for state in [RunState::Missing, RunState::Succeeded] {
            assert_eq!(repair(&old, state, now), Some(Repair::CloseOut));
        }
        record_repair(&mut old, &Repair::CloseOut, now);
        assert!(!old.is_live());
        let mut crashed = incident();
        crashed.status = Status::Resolved;
        assert!(
            matches!(repair(&crashed, RunState::Failed, now), Some(Repair::Restart { .. })),
            "a resolved incident whose close crashed is closed by a fresh run"
        );
    }

    #[test]
    fn run_names_are_deterministic_and_read_back() {
        let i = incident();
        assert_eq!(run_name(&i.id, 0), i.id.to_string());
        assert_eq!(parse_run_name(&run_name(&i.id, 0)), Some((i.id.clone(), 0)));
        assert_eq!(parse_run_name(&run_name(&i.id, 12)), Some((i.id.clone(), 12)));
        assert_eq!(parse_run_name("not-an-incident"), None);
        assert!(
            run_name(&i.id, u32::MAX).len() <= 80,
            "Step Functions names are at most 80 characters"
        );
    }
}
