//! Keeping every live incident's lifecycle running. An incident ends only by resolution (its
//! lifecycle closes it out) or by being merged into another; a crashed, timed-out or stopped
//! execution, or one that never started, is brought back by the reconciler, which decides here.

use crate::incident::{Incident, Status};
use crate::timeline::{Entry, EntryKind};
use crate::IncidentId;
use serde::{Deserialize, Serialize};
use std::fmt;

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
            RunState::Succeeded => "succeeded",
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
}

/// Whether an incident's lifecycle needs repair, given the state of its current run.
pub fn repair(incident: &Incident, state: RunState) -> Option<Repair> {
    let run = incident.lifecycle_run;
    if incident.status == Status::Merged {
        return (state == RunState::Running).then_some(Repair::Stop { run });
    }
    if incident.closed_at.is_some() {
        return None;
    }
    match state {
        RunState::Running | RunState::Succeeded => None,
        RunState::Missing => Some(Repair::Start { run }),
        ended @ (RunState::Failed | RunState::TimedOut | RunState::Aborted) => {
            Some(Repair::Restart { run: run + 1, ended })
        }
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
pub fn record_repair(incident: &mut Incident, repair: &Repair) -> Vec<Entry> {
    let (key, text) = match repair {
        Repair::Start { run } => (
            format!("lifecycle-start-{run}"),
            format!("lifecycle never started: started as {}", run_name(&incident.id, *run)),
        ),
        Repair::Restart { run, ended } => {
            incident.lifecycle_run = *run;
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
    };
    vec![Entry::system("reconcile", EntryKind::Lifecycle, key, text)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Scope;
    use crate::SignalKey;
    use chrono::Utc;

    fn incident() -> Incident {
        let id = IncidentId::for_service("checkout", &SignalKey::new("t", "1"));
        Incident::open(id, Scope::SingleService, vec!["checkout".into()], Utc::now())
    }

    #[test]
    fn a_live_incident_whose_run_ended_gets_a_fresh_run_and_one_that_never_started_is_started() {
        let mut i = incident();
        assert_eq!(repair(&i, RunState::Running), None);
        assert_eq!(repair(&i, RunState::Missing), Some(Repair::Start { run: 0 }));
        for ended in [RunState::Failed, RunState::TimedOut, RunState::Aborted] {
            assert_eq!(repair(&i, ended), Some(Repair::Restart { run: 1, ended }));
        }
        let fresh = repair(&i, RunState::Failed).unwrap();
        let entries = record_repair(&mut i, &fresh);
        assert_eq!(i.lifecycle_run, 1);
        assert_eq!(entries[0].key, "lifecycle-restart-1");
        assert!(
            entries[0].text.contains(&format!("restarted as {}-r1", i.id)),
            "{}",
            entries[0].text
        );
        assert_eq!(
            repair(&i, RunState::Aborted),
            Some(Repair::Restart {
                run: 2,
                ended: RunState::Aborted
            })
        );
    }

    #[test]
    fn closed_out_and_merged_incidents_are_left_alone_but_a_merged_ones_run_is_stopped() {
        let mut i = incident();
        i.closed_at = Some(Utc::now());
        assert_eq!(repair(&i, RunState::Failed), None);
        let mut m = incident();
        m.status = Status::Merged;
        assert_eq!(repair(&m, RunState::Failed), None);
        assert_eq!(repair(&m, RunState::Running), Some(Repair::Stop { run: 0 }));
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
