//! Correlation: which incident a signal belongs to.
//!
//! Two levels, each a small state that the store keeps as one item and updates with optimistic
//! concurrency (read, decide here, conditional write, retry on conflict):
//!
//! * [`ServiceClusters`] — per service, the recent incidents as time clusters. An impairment signal
//!   joins every open cluster whose span, widened by the window on both sides, covers its time; when
//!   it covers several (a late signal bridging two), they merge into the earliest. The clusters are
//!   therefore exactly the single-linkage groups of the signals' times with gap ≤ window, whatever
//!   order the signals arrive in — the property the tests check.
//! * [`StormState`] — across services, the incidents opened recently. When incidents of at least
//!   `multi_service_threshold` distinct services open within the window of each other (an aggregate
//!   alarm), they become one multi-service event; later openings inside its window link into it.
//!
//! Each cluster also counts its alarms' state changes, so that an alarm flapping between ALARM and
//! OK is said once ([`Flap`]) instead of filling the timeline, and an impairment that must page
//! nobody ([`crate::signal::Quiet`]) joins an open incident but never opens one.
//!
//! Game-day signals are correlated in a space of their own (the stores keep their state apart), so
//! a rehearsal never joins, merges with or aggregates into a real incident.
//!
//! Dedup of redelivered signals is the store's job (a conditional put on the signal key, in the same
//! transaction as the state write); [`Correlator`] does it with a set, for tests and benchmarks.

use crate::signal::{Health, Signal, SignalSource};
use crate::{IncidentId, SignalKey};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Correlation settings (from the functions' configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub window: TimeDelta,
    pub multi_service_threshold: usize,
    /// How long closed history is kept in the state items, by the clock (the functions keep it at
    /// least as long as ingest accepts a signal's age).
    pub horizon: TimeDelta,
    /// An alarm that changes state this many times within [`Self::flap_window`] is flapping.
    pub flap_changes: usize,
    pub flap_window: TimeDelta,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            window: TimeDelta::minutes(15),
            multi_service_threshold: 3,
            horizon: TimeDelta::hours(24),
            flap_changes: 5,
            flap_window: TimeDelta::minutes(30),
        }
    }
}

/// What an alarm's state change says about flapping.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "flap", rename_all = "snake_case")]
pub enum Flap {
    #[default]
    Steady,
    /// This change made the alarm flapping: said once on the incident.
    Started {
        alarm: String,
        changes: usize,
        within_minutes: i64,
    },
    /// The alarm was flapping already: the signal is kept, the timeline is spared.
    Ongoing,
}

/// One incident of one service, as a span of signal times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    pub incident: IncidentId,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// Closed once the incident is resolved: later signals open a new incident.
    pub open: bool,
    /// Recent state changes per watched alarm (within the flap window), for flap detection.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub changes: BTreeMap<String, Vec<DateTime<Utc>>>,
    /// Alarms found flapping on this incident.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub flapping: BTreeSet<String>,
    /// Canaries (and deployment targets) whose latest run on this incident failed: only their next
    /// pass is a recovery (a canary passes every few minutes, a service deploys every day, and each
    /// pass must not be recorded).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub failing_canaries: BTreeSet<String>,
}

impl Cluster {
    fn covers(&self, at: DateTime<Utc>, window: TimeDelta) -> bool {
        self.open && self.first_at - window <= at && at <= self.last_at + window
    }

    /// Counts one state change of `alarm` at `at`.
    fn count_change(&mut self, alarm: &str, at: DateTime<Utc>, policy: &Policy) -> Flap {
        if self.flapping.contains(alarm) {
            return Flap::Ongoing;
        }
        let times = self.changes.entry(alarm.to_string()).or_default();
        times.push(at);
        times.retain(|t| (*t - at).abs() <= policy.flap_window);
        if policy.flap_changes == 0 || times.len() < policy.flap_changes {
            return Flap::Steady;
        }
        let changes = times.len();
        self.changes.remove(alarm);
        self.flapping.insert(alarm.to_string());
        Flap::Started {
            alarm: alarm.to_string(),
            changes,
            within_minutes: policy.flap_window.num_minutes(),
        }
    }
}

/// Where an impairment signal was placed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "placement", rename_all = "snake_case")]
pub enum Placement {
    Opened {
        incident: IncidentId,
    },
    Joined {
        incident: IncidentId,
    },
    /// The signal bridged several incidents of one service; `merged` now belong to `incident`.
    Merged {
        incident: IncidentId,
        merged: Vec<IncidentId>,
    },
}

impl Placement {
    pub fn incident(&self) -> &IncidentId {
        match self {
            Placement::Opened { incident } | Placement::Joined { incident } | Placement::Merged { incident, .. } => {
                incident
            }
        }
    }
}

/// The recent incidents of one service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceClusters {
    pub clusters: Vec<Cluster>,
}

impl ServiceClusters {
    /// Places an impairment signal of `service` at `at`.
    pub fn place(&mut self, service: &str, key: &SignalKey, at: DateTime<Utc>, policy: &Policy) -> Placement {
        let mut hits: Vec<usize> = (0..self.clusters.len())
            .filter(|&i| self.clusters[i].covers(at, policy.window))
            .collect();
        if hits.is_empty() {
            let incident = IncidentId::for_service(service, key);
            self.clusters.push(Cluster {
                incident: incident.clone(),
                first_at: at,
                last_at: at,
                open: true,
                changes: BTreeMap::new(),
                flapping: BTreeSet::new(),
                failing_canaries: BTreeSet::new(),
            });
            return Placement::Opened { incident };
        }
        hits.sort_by(|&a, &b| {
            let (x, y) = (&self.clusters[a], &self.clusters[b]);
            (x.first_at, &x.incident).cmp(&(y.first_at, &y.incident))
        });
        let survivor = hits[0];
        let (mut first, mut last) = (at, at);
        for &i in &hits {
            first = first.min(self.clusters[i].first_at);
            last = last.max(self.clusters[i].last_at);
        }
        let incident = self.clusters[survivor].incident.clone();
        self.clusters[survivor].first_at = first;
        self.clusters[survivor].last_at = last;
        if hits.len() == 1 {
            return Placement::Joined { incident };
        }
        let doomed: BTreeSet<usize> = hits[1..].iter().copied().collect();
        // The survivor keeps what the merged clusters knew of their alarms' changes (an alarm that
        // flapped on a merged incident is found flapping again, and said, on the survivor).
        for &i in &doomed {
            let changes = self.clusters[i].changes.clone();
            let canaries = self.clusters[i].failing_canaries.clone();
            let s = &mut self.clusters[survivor];
            for (alarm, times) in changes {
                s.changes.entry(alarm).or_default().extend(times);
            }
            s.failing_canaries.extend(canaries);
        }
        let merged = doomed.iter().map(|&i| self.clusters[i].incident.clone()).collect();
        let mut index = 0;
        self.clusters.retain(|_| {
            index += 1;
            !doomed.contains(&(index - 1))
        });
        Placement::Merged { incident, merged }
    }

    /// Whether an impairment at `at` would join an open incident rather than open one.
    pub fn would_join(&self, at: DateTime<Utc>, policy: &Policy) -> bool {
        self.clusters.iter().any(|c| c.covers(at, policy.window))
    }

    /// The open cluster a recovery (OK) signal at `at` belongs to, if any.
    fn recovery_cluster(&self, at: DateTime<Utc>, policy: &Policy) -> Option<usize> {
        (0..self.clusters.len())
            .filter(|&i| self.clusters[i].open && self.clusters[i].first_at - policy.window <= at)
            .max_by_key(|&i| (self.clusters[i].last_at, self.clusters[i].incident.clone()))
    }

    /// Counts a state change of `alarm` on the incident's cluster.
    fn count_change(&mut self, incident: &IncidentId, alarm: &str, at: DateTime<Utc>, policy: &Policy) -> Flap {
        match self.clusters.iter_mut().find(|c| &c.incident == incident) {
            Some(c) => c.count_change(alarm, at, policy),
            None => Flap::Steady,
        }
    }

    /// Marks an incident resolved: its cluster takes no more signals.
    pub fn close(&mut self, incident: &IncidentId) -> bool {
        self.clusters
            .iter_mut()
            .filter(|c| &c.incident == incident)
            .fold(false, |_, c| {
                c.open = false;
                true
            })
    }

    /// Drops closed clusters older than the horizon so that the item stays small. `now` is the
    /// clock, never a signal's own time: an event claiming a far future must not prune the present.
    pub fn prune(&mut self, now: DateTime<Utc>, policy: &Policy) {
        self.clusters.retain(|c| c.open || c.last_at + policy.horizon >= now);
    }
}

/// An incident opening, as the storm detector sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub incident: IncidentId,
    pub service: String,
    pub at: DateTime<Utc>,
}

/// A multi-service event: one parent incident over the single-service incidents of a storm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiEvent {
    pub incident: IncidentId,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub members: BTreeSet<IncidentId>,
    pub services: BTreeSet<String>,
    pub open: bool,
}

/// What admitting an opening did at the multi-service level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregation {
    pub event: IncidentId,
    /// The event was created by this admission (start its loop).
    pub created: bool,
    /// Single-service incidents that now link to the event.
    pub linked: Vec<IncidentId>,
    pub services: BTreeSet<String>,
    pub first_at: DateTime<Utc>,
}

/// Recent openings across all services, and the multi-service events made of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StormState {
    pub members: Vec<Member>,
    pub events: Vec<MultiEvent>,
}

impl StormState {
    /// Admits a newly opened single-service incident.
    pub fn admit(&mut self, member: Member, policy: &Policy) -> Option<Aggregation> {
        if self.members.iter().any(|m| m.incident == member.incident) {
            return None;
        }
        let w = policy.window;
        self.members.push(member.clone());
        if let Some(event) = self
            .events
            .iter_mut()
            .find(|e| e.open && e.first_at - w <= member.at && member.at <= e.last_at + w)
        {
            event.first_at = event.first_at.min(member.at);
            event.last_at = event.last_at.max(member.at);
            event.members.insert(member.incident.clone());
            event.services.insert(member.service);
            return Some(Aggregation {
                event: event.incident.clone(),
                created: false,
                linked: vec![member.incident],
                services: event.services.clone(),
                first_at: event.first_at,
            });
        }
        let group = self.linkage_group(&member, w);
        let services: BTreeSet<String> = group.iter().map(|m| m.service.clone()).collect();
        if services.len() < policy.multi_service_threshold {
            return None;
        }
        let first = group
            .iter()
            .min_by(|a, b| (a.at, &a.incident).cmp(&(b.at, &b.incident)))?;
        let event = MultiEvent {
            incident: IncidentId::for_multi_service(&first.incident),
            first_at: first.at,
            last_at: group.iter().map(|m| m.at).max()?,
            members: group.iter().map(|m| m.incident.clone()).collect(),
            services: services.clone(),
            open: true,
        };
        let aggregation = Aggregation {
            event: event.incident.clone(),
            created: true,
            linked: event.members.iter().cloned().collect(),
            services,
            first_at: event.first_at,
        };
        self.events.push(event);
        Some(aggregation)
    }

    /// The openings not yet in any event that chain to `member` with gaps of at most `window`.
    fn linkage_group(&self, member: &Member, window: TimeDelta) -> Vec<Member> {
        let linked: HashSet<&IncidentId> = self.events.iter().flat_map(|e| e.members.iter()).collect();
        let mut free: Vec<&Member> = self.members.iter().filter(|m| !linked.contains(&m.incident)).collect();
        free.sort_by(|a, b| (a.at, &a.incident).cmp(&(b.at, &b.incident)));
        let Some(pos) = free.iter().position(|m| m.incident == member.incident) else {
            return Vec::new();
        };
        let mut start = pos;
        while start > 0 && free[start].at - free[start - 1].at <= window {
            start -= 1;
        }
        let mut end = pos;
        while end + 1 < free.len() && free[end + 1].at - free[end].at <= window {
            end += 1;
        }
        free[start..=end].iter().map(|m| (*m).clone()).collect()
    }

    /// After a service-level merge, the merged incidents stop counting as members of their own.
    pub fn retarget(&mut self, merged: &[IncidentId], survivor: &IncidentId) {
        self.members.retain(|m| !merged.contains(&m.incident));
        for event in &mut self.events {
            if merged.iter().any(|id| event.members.remove(id)) {
                event.members.insert(survivor.clone());
            }
        }
    }

    /// The multi-service event an incident is linked into, if any.
    pub fn event_of(&self, incident: &IncidentId) -> Option<&MultiEvent> {
        self.events.iter().find(|e| e.members.contains(incident))
    }

    pub fn close(&mut self, event: &IncidentId) -> bool {
        self.events
            .iter_mut()
            .filter(|e| &e.incident == event)
            .fold(false, |_, e| {
                e.open = false;
                true
            })
    }

    pub fn prune(&mut self, now: DateTime<Utc>, policy: &Policy) {
        let keep = |at: DateTime<Utc>| at + policy.horizon >= now;
        self.events.retain(|e| e.open || keep(e.last_at));
        let linked: HashSet<IncidentId> = self.events.iter().flat_map(|e| e.members.iter().cloned()).collect();
        self.members.retain(|m| keep(m.at) || linked.contains(&m.incident));
    }
}

/// What correlating one signal decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Already seen: nothing changes.
    Duplicate,
    Placed {
        placement: Placement,
        aggregation: Option<Aggregation>,
    },
    /// A recovery signal recorded on the incident it belongs to.
    Recovery { incident: IncidentId },
    /// Recorded but attached to no incident, with the reason.
    Ignored { reason: String },
    /// Nothing to record at all (a canary passing again while nothing waits for it): the stores
    /// write nothing, not even a dedup item, so routine passes cost no write.
    Unneeded { reason: String },
}

/// What correlating one signal decided: where it goes, whether the storm state changed (only
/// openings and merges touch it, so that a plain join never contends on the shared storm item), and
/// what its state change says about flapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Correlated {
    pub outcome: Outcome,
    pub storm_changed: bool,
    pub flap: Flap,
}

/// Correlates a non-duplicate signal against the two state items. The store calls this between its
/// read and its conditional write.
pub fn correlate(
    service: &str,
    signal: &Signal,
    clusters: &mut ServiceClusters,
    storm: &mut StormState,
    policy: &Policy,
) -> Correlated {
    let plain = |outcome| Correlated {
        outcome,
        storm_changed: false,
        flap: Flap::Steady,
    };
    let watched = signal.watched().filter(|_| signal.source == SignalSource::Alarm);
    match signal.health {
        Health::InsufficientData => plain(Outcome::Ignored {
            reason: "INSUFFICIENT_DATA is not evidence of impact".into(),
        }),
        Health::Recovered if signal.source.passes_routinely() => {
            let name = signal.watched().unwrap_or_default();
            let waiting = clusters
                .recovery_cluster(signal.at, policy)
                .filter(|&i| clusters.clusters[i].failing_canaries.contains(&name));
            match waiting {
                Some(i) => {
                    clusters.clusters[i].failing_canaries.remove(&name);
                    plain(Outcome::Recovery {
                        incident: clusters.clusters[i].incident.clone(),
                    })
                }
                None => plain(Outcome::Unneeded {
                    reason: match signal.source {
                        SignalSource::Deployment => {
                            format!("deployment of {name} succeeded; no open incident of {service} waits for it")
                        }
                        _ => format!("canary {name} passed; no open incident of {service} waits for it"),
                    },
                }),
            }
        }
        Health::Recovered => match clusters.recovery_cluster(signal.at, policy) {
            Some(i) => {
                let incident = clusters.clusters[i].incident.clone();
                let flap = match &watched {
                    Some(alarm) => clusters.count_change(&incident, alarm, signal.at, policy),
                    None => Flap::Steady,
                };
                Correlated {
                    outcome: Outcome::Recovery { incident },
                    storm_changed: false,
                    flap,
                }
            }
            None => plain(Outcome::Ignored {
                reason: format!("no open incident for {service} to recover"),
            }),
        },
        Health::Impaired => {
            if let Some(quiet) = &signal.quiet {
                if !clusters.would_join(signal.at, policy) {
                    return plain(Outcome::Ignored {
                        reason: format!("{}: opens no incident", quiet.describe()),
                    });
                }
            }
            let placement = clusters.place(service, &signal.key, signal.at, policy);
            let (aggregation, storm_changed) = match &placement {
                Placement::Joined { .. } => (None, false),
                Placement::Opened { incident } => {
                    let member = Member {
                        incident: incident.clone(),
                        service: service.to_string(),
                        at: signal.at,
                    };
                    (storm.admit(member, policy), true)
                }
                Placement::Merged { incident, merged } => {
                    storm.retarget(merged, incident);
                    (None, true)
                }
            };
            let flap = match &watched {
                Some(alarm) => clusters.count_change(placement.incident(), alarm, signal.at, policy),
                None => Flap::Steady,
            };
            if signal.source.passes_routinely() {
                if let Some(c) = clusters
                    .clusters
                    .iter_mut()
                    .find(|c| &c.incident == placement.incident())
                {
                    c.failing_canaries.insert(signal.watched().unwrap_or_default());
                }
            }
            Correlated {
                outcome: Outcome::Placed { placement, aggregation },
                storm_changed,
                flap,
            }
        }
    }
}

/// Where a signal's correlation state lives: game days apart from real signals, so a rehearsal
/// never joins, merges with or aggregates into a real incident (and the other way round).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Space {
    Real,
    GameDay,
}

impl Space {
    pub fn of(exercise: bool) -> Self {
        if exercise {
            Space::GameDay
        } else {
            Space::Real
        }
    }

    /// The prefix of the state items' keys in this space (empty for real signals, so that state
    /// written before game days had a space of their own stays where it is).
    pub fn key_prefix(self) -> &'static str {
        match self {
            Space::Real => "",
            Space::GameDay => "GAMEDAY#",
        }
    }
}

/// The whole correlation in memory: the reference the store's behaviour is tested against, and what
/// the benchmark measures.
#[derive(Debug, Default)]
pub struct Correlator {
    pub policy: Policy,
    seen: HashSet<SignalKey>,
    services: BTreeMap<(Space, String), ServiceClusters>,
    storms: BTreeMap<Space, StormState>,
}

impl Correlator {
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }

    pub fn ingest(&mut self, service: &str, signal: &Signal) -> Outcome {
        if !self.seen.insert(signal.key.clone()) {
            return Outcome::Duplicate;
        }
        let space = Space::of(signal.exercise);
        let clusters = self.services.entry((space, service.to_string())).or_default();
        let storm = self.storms.entry(space).or_default();
        correlate(service, signal, clusters, storm, &self.policy).outcome
    }

    /// The real signals' clusters of `service`.
    pub fn clusters(&self, service: &str) -> Option<&ServiceClusters> {
        self.services.get(&(Space::Real, service.to_string()))
    }

    /// The real signals' storm state.
    pub fn storm(&self) -> StormState {
        self.storms.get(&Space::Real).cloned().unwrap_or_default()
    }
}
