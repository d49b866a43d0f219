//! What recording a signal writes, once correlation has placed it: the incidents it opens (their
//! titles and flags), the timeline entries, the links into a multi-service event and the merges.
//! The core decides all of it here; the DynamoDB store and the in-memory store write exactly these
//! records, so ingest behaves the same in a handler test and in production.

use crate::catalog::ServiceMatch;
use crate::correlation::{Aggregation, Correlated, Flap, Outcome, Placement, StormState};
use crate::incident::{Incident, Scope, Status};
use crate::signal::Signal;
use crate::timeline::{Entry, EntryKind};
use crate::IncidentId;
use chrono::{DateTime, Utc};

/// A change of an incident that already exists, made after the signal's records are written.
/// Each is idempotent, so a retry that replays it converges.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A single-service incident now belongs to this multi-service event.
    LinkInto(IncidentId),
    /// The multi-service event gained this member.
    AddMember(IncidentId),
    /// The multi-service event spans these services (at least).
    SpanServices(Vec<String>),
    /// A late signal showed this incident is part of another of its service.
    MergeInto(IncidentId),
    /// This alarm flaps on the incident.
    Flapping(String),
    /// An AWS Health event concerns the incident.
    AwsEvent(String),
}

impl Change {
    pub fn apply(&self, incident: &mut Incident) {
        match self {
            Change::LinkInto(event) => incident.parent = Some(event.clone()),
            Change::AddMember(member) => {
                if !incident.members.contains(member) {
                    incident.members.push(member.clone());
                }
            }
            Change::SpanServices(services) => {
                for s in services {
                    if !incident.services.contains(s) {
                        incident.services.push(s.clone());
                    }
                }
                incident.title = format!("Multi-service event: {}", incident.services.join(", "));
            }
            Change::MergeInto(into) => {
                incident.status = Status::Merged;
                incident.merged_into = Some(into.clone());
            }
            Change::Flapping(alarm) => {
                if !incident.flapping.contains(alarm) {
                    incident.flapping.push(alarm.clone());
                }
            }
            Change::AwsEvent(line) => {
                if !incident.aws_events.contains(line) {
                    incident.aws_events.push(line.clone());
                }
            }
        }
    }
}

/// Everything a signal's recording writes besides its dedup item and the correlation state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recording {
    /// The incident the signal is kept under (none when ignored or a duplicate).
    pub home: Option<IncidentId>,
    /// Why a signal attached to no incident was ignored.
    pub ignored: Option<String>,
    /// Incidents the signal opens, written only if they do not exist yet.
    pub opened: Vec<Incident>,
    pub timeline: Vec<(IncidentId, Entry)>,
    /// Incidents whose lifecycle must start (the opened ones).
    pub start: Vec<IncidentId>,
    /// Incidents merged away, whose lifecycle stops.
    pub stop: Vec<IncidentId>,
    /// Changes of existing incidents, in order.
    pub changes: Vec<(IncidentId, Change)>,
}

/// Works out what recording `signal` writes, given what correlation decided and the storm state
/// after correlating.
pub fn record(
    matched: &ServiceMatch,
    signal: &Signal,
    correlated: &Correlated,
    storm: &StormState,
    now: DateTime<Utc>,
) -> Recording {
    let service = matched.service.as_str();
    let mut r = Recording::default();
    let entry = |kind, text: String| Entry::system("ingest", kind, format!("signal-{}", signal.key), text).at(now);
    // A flapping alarm's further changes are kept as signals; the timeline says it once.
    let said = correlated.flap != Flap::Ongoing;
    match &correlated.outcome {
        Outcome::Duplicate | Outcome::Unneeded { .. } => {}
        Outcome::Ignored { reason } => r.ignored = Some(reason.clone()),
        Outcome::Recovery { incident } => {
            r.home = Some(incident.clone());
            if said {
                r.timeline
                    .push((incident.clone(), entry(EntryKind::Recovery, signal.summary())));
            }
        }
        Outcome::Placed { placement, aggregation } => {
            let incident = placement.incident();
            r.home = Some(incident.clone());
            match placement {
                Placement::Opened { .. } => {
                    r.opened.push(open_single(incident, matched, signal, now));
                    let text = format!("opened for {service} ({}): {}", matched.how, signal.summary());
                    let opened = Entry::system("ingest", EntryKind::Opened, "opened", text).at(now);
                    r.timeline.push((incident.clone(), opened));
                    r.start.push(incident.clone());
                }
                Placement::Joined { .. } if said => {
                    r.timeline
                        .push((incident.clone(), entry(EntryKind::Signal, signal.summary())));
                }
                Placement::Joined { .. } => {}
                Placement::Merged { merged, .. } => {
                    let names: Vec<&str> = merged.iter().map(IncidentId::as_str).collect();
                    let text = format!("{} — bridged and merged {}", signal.summary(), names.join(", "));
                    r.timeline.push((incident.clone(), entry(EntryKind::Merged, text)));
                    for m in merged {
                        let text = format!("merged into {incident}");
                        let e = Entry::system("ingest", EntryKind::Merged, "merged", text).at(now);
                        r.timeline.push((m.clone(), e));
                        r.changes.push((m.clone(), Change::MergeInto(incident.clone())));
                        r.stop.push(m.clone());
                    }
                }
            }
            if let Some(agg) = aggregation {
                aggregate(agg, storm, signal, now, &mut r);
            }
        }
    }
    if let (Some(aws), Some(home)) = (&signal.aws, &r.home) {
        let line = aws.describe();
        match r.opened.iter_mut().find(|i| &i.id == home) {
            Some(opened) => opened.aws_events.push(line),
            None => r.changes.push((home.clone(), Change::AwsEvent(line))),
        }
    }
    if let (
        Flap::Started {
            alarm,
            changes,
            within_minutes,
        },
        Some(home),
    ) = (&correlated.flap, &r.home)
    {
        let text = format!(
            "{alarm} is flapping: {changes} state changes within {within_minutes} min; its further changes are kept as signals, not written here"
        );
        let flapping = Entry::system("ingest", EntryKind::Signal, format!("flapping-{alarm}"), text).at(now);
        r.timeline.push((home.clone(), flapping));
        r.changes.push((home.clone(), Change::Flapping(alarm.clone())));
    }
    r
}

/// A multi-service event: opened when this admission created it, and every linked member on both
/// timelines.
fn aggregate(agg: &Aggregation, storm: &StormState, signal: &Signal, now: DateTime<Utc>, r: &mut Recording) {
    let services: Vec<String> = agg.services.iter().cloned().collect();
    if agg.created {
        let members: Vec<IncidentId> = storm
            .event_of(&agg.linked[0])
            .map(|e| e.members.iter().cloned().collect())
            .unwrap_or_default();
        let mut event = Incident::open_at(
            agg.event.clone(),
            Scope::MultiService,
            services.clone(),
            agg.first_at,
            now,
        );
        event.exercise = signal.exercise;
        event.live_runbooks = signal.exercise && signal.live_runbooks;
        event.location = signal.location.clone();
        event.customer_detected = signal.is_customer_detected();
        event.members = members;
        event.first_signal = signal.summary();
        r.opened.push(event);
        let text = format!(
            "aggregate alarm: {} services alarmed within the correlation window ({})",
            services.len(),
            services.join(", ")
        );
        let opened = Entry::system("ingest", EntryKind::Opened, "opened", text).at(now);
        r.timeline.push((agg.event.clone(), opened));
        r.start.push(agg.event.clone());
    }
    r.changes.push((agg.event.clone(), Change::SpanServices(services)));
    for member in &agg.linked {
        let text = format!("linked into multi-service event {}", agg.event);
        let linked = Entry::system("ingest", EntryKind::Linked, format!("linked-{}", agg.event), text).at(now);
        r.timeline.push((member.clone(), linked));
        let text = format!("linked {member}");
        let on_event = Entry::system("ingest", EntryKind::Linked, format!("member-{member}"), text).at(now);
        r.timeline.push((agg.event.clone(), on_event));
        r.changes.push((member.clone(), Change::LinkInto(agg.event.clone())));
        r.changes.push((agg.event.clone(), Change::AddMember(member.clone())));
    }
}

/// The record of a newly opened single-service incident.
fn open_single(id: &IncidentId, matched: &ServiceMatch, signal: &Signal, now: DateTime<Utc>) -> Incident {
    let mut incident = Incident::open_at(
        id.clone(),
        Scope::SingleService,
        vec![matched.service.clone()],
        signal.at,
        now,
    );
    incident.title = format!("{}: {}", matched.service, signal.resource);
    incident.service_known = matched.known;
    incident.exercise = signal.exercise;
    incident.live_runbooks = signal.exercise && signal.live_runbooks;
    incident.location = signal.location.clone();
    incident.customer_detected = signal.is_customer_detected();
    incident.first_signal = signal.summary();
    incident
}
