//! In-memory implementations of the ports, for handler tests (feature `testing`). They follow the
//! same rules as the AWS adapters — dedup by signal key, idempotent timeline entries, correlation
//! through [`crate::correlation::correlate`] — so a handler tested here behaves the same there.

use crate::actions::ActionItem;
use crate::app_event::AppEvent;
use crate::approval::Approval;
use crate::catalog::{Catalog, ServiceMatch};
use crate::change::Change;
use crate::coe::Authored;
use crate::command::State as CommandState;
use crate::correlation::{Outcome, Policy, ServiceClusters, Space, StormState};
use crate::effects::Effects;
use crate::incident::Incident;
use crate::ports::*;
use crate::reconcile::{run_name, RunState};
use crate::signal::Signal;
use crate::tickets::Ticket;
use crate::timeline::Entry;
use crate::whys::Tree;
use crate::{IncidentId, SignalKey};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

#[derive(Default)]
struct State {
    incidents: BTreeMap<IncidentId, Incident>,
    signals: HashMap<IncidentId, Vec<Signal>>,
    timelines: HashMap<IncidentId, Vec<Entry>>,
    tokens: HashMap<(IncidentId, String), String>,
    approvals: Vec<Approval>,
    seen: HashMap<SignalKey, Recorded>,
    runbook_waits: HashMap<String, IncidentId>,
    clusters: HashMap<(Space, String), ServiceClusters>,
    storms: HashMap<Space, StormState>,
    whys: HashMap<IncidentId, Tree>,
    actions: HashMap<IncidentId, Vec<ActionItem>>,
    authored: HashMap<IncidentId, Authored>,
    versions: HashMap<IncidentId, Versions>,
    /// Signals recorded and ignored, with the reason.
    ignored: Vec<(String, Signal)>,
    /// Change events per space and service, one per event.
    changes: HashMap<(Space, String), Vec<Change>>,
    /// Page codes by hash.
    codes: HashMap<String, crate::page_reply::IssuedCode>,
}

/// The incident store in memory.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn with(incidents: impl IntoIterator<Item = Incident>) -> Self {
        let store = Self::default();
        store
            .state
            .lock()
            .unwrap()
            .incidents
            .extend(incidents.into_iter().map(|i| (i.id.clone(), i)));
        store
    }

    pub fn get(&self, id: &IncidentId) -> Option<Incident> {
        self.state.lock().unwrap().incidents.get(id).cloned()
    }

    /// Sets a test's scene: changes a stored incident directly, as if earlier steps had (its
    /// version moves on, so a write decided before this fails as it would on DynamoDB).
    pub fn alter(&self, id: &IncidentId, change: impl FnOnce(&mut Incident)) {
        let mut st = self.state.lock().unwrap();
        let incident = st.incidents.get_mut(id).expect("the incident the test altered exists");
        change(incident);
        st.versions.entry(id.clone()).or_default().incident += 1;
    }

    pub fn all(&self) -> Vec<Incident> {
        self.state.lock().unwrap().incidents.values().cloned().collect()
    }

    /// Signals recorded that opened nothing, with the reason.
    pub fn ignored(&self) -> Vec<(String, Signal)> {
        self.state.lock().unwrap().ignored.clone()
    }

    pub fn timeline(&self, id: &IncidentId) -> Vec<Entry> {
        self.state
            .lock()
            .unwrap()
            .timelines
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    pub fn token(&self, id: &IncidentId, kind: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .tokens
            .get(&(id.clone(), kind.to_string()))
            .cloned()
    }

    pub fn set_postmortem(&self, id: &IncidentId, whys: Tree, actions: Vec<ActionItem>, authored: Authored) {
        let mut state = self.state.lock().unwrap();
        state.whys.insert(id.clone(), whys);
        state.actions.insert(id.clone(), actions);
        state.authored.insert(id.clone(), authored);
    }

    fn with_action(&self, id: &IncidentId, item: &str, change: impl FnOnce(&mut ActionItem)) -> PortResult<()> {
        let mut state = self.state.lock().unwrap();
        let stored = state
            .actions
            .get_mut(id)
            .and_then(|items| items.iter_mut().find(|a| a.id == item))
            .ok_or_else(|| PortError::NotFound(item.to_string()))?;
        change(stored);
        Ok(())
    }

    pub fn actions_of(&self, id: &IncidentId) -> Vec<ActionItem> {
        self.state.lock().unwrap().actions.get(id).cloned().unwrap_or_default()
    }

    pub fn add_signal(&self, id: &IncidentId, signal: Signal) {
        self.state
            .lock()
            .unwrap()
            .signals
            .entry(id.clone())
            .or_default()
            .push(signal);
    }
}

impl IncidentStore for MemoryStore {
    async fn record_signal(&self, matched: &ServiceMatch, signal: &Signal, policy: &Policy) -> PortResult<Recorded> {
        let mut st = self.state.lock().unwrap();
        if let Some(seen) = st.seen.get(&signal.key) {
            return Ok(Recorded {
                outcome: Outcome::Duplicate,
                ..seen.clone()
            });
        }
        let st = &mut *st;
        let space = Space::of(signal.exercise);
        let clusters = st.clusters.entry((space, matched.service.clone())).or_default();
        let storm = st.storms.entry(space).or_default();
        let correlated = crate::correlation::correlate(&matched.service, signal, clusters, storm, policy);
        clusters.prune(chrono::Utc::now(), policy);
        // The same records the DynamoDB store writes, decided by the core.
        if matches!(correlated.outcome, Outcome::Unneeded { .. }) {
            return Ok(Recorded::nothing(correlated.outcome));
        }
        let r = crate::recording::record(matched, signal, &correlated, storm, chrono::Utc::now());
        let outcome = correlated.outcome;
        if let Some(home) = &r.home {
            st.signals.entry(home.clone()).or_default().push(signal.clone());
        }
        if let Some(reason) = &r.ignored {
            st.ignored.push((reason.clone(), signal.clone()));
        }
        for incident in r.opened {
            st.incidents.entry(incident.id.clone()).or_insert(incident);
        }
        for (id, entry) in r.timeline {
            let timeline = st.timelines.entry(id).or_default();
            if timeline.iter().all(|e| e.key != entry.key) {
                timeline.push(entry);
            }
        }
        let recorded = Recorded {
            outcome,
            start: r.start,
            stop: r.stop,
            changes: r.changes,
        };
        st.seen.insert(signal.key.clone(), recorded.clone());
        Ok(recorded)
    }

    async fn incident(&self, id: &IncidentId) -> PortResult<Incident> {
        self.get(id).ok_or_else(|| PortError::NotFound(id.to_string()))
    }

    async fn incident_version(&self, id: &IncidentId) -> PortResult<(Incident, Versions)> {
        let st = self.state.lock().unwrap();
        let incident = st
            .incidents
            .get(id)
            .ok_or_else(|| PortError::NotFound(id.to_string()))?;
        Ok((incident.clone(), st.versions.get(id).cloned().unwrap_or_default()))
    }

    async fn apply(&self, id: &IncidentId, read: &Versions, effects: &Effects) -> PortResult<Applied> {
        let mut st = self.state.lock().unwrap();
        let now = st.versions.get(id).cloned().unwrap_or_default();
        // The same conditions the DynamoDB transaction checks, all before anything is written.
        let written = |key: &str| st.timelines.get(id).is_some_and(|t| t.iter().any(|e| e.key == key));
        if effects.timeline.first().is_some_and(|e| written(&e.key)) {
            return Ok(Applied::AlreadyWritten);
        }
        if let Some(taken) = effects.timeline.iter().find(|e| written(&e.key)) {
            return Err(PortError::Invalid(format!(
                "timeline entry key {} is another step's",
                taken.key
            )));
        }
        let approval_open = |a: &Approval| {
            st.approvals
                .iter()
                .find(|s| s.id == a.id)
                .is_some_and(|s| s.decision.is_none() && !s.expired)
        };
        let actions = st.actions.get(id).cloned().unwrap_or_default();
        let holds = (effects.incident.is_none() || now.incident == read.incident)
            && (effects.whys.is_none() || now.whys == read.whys)
            && (effects.authored.is_none() || now.authored == read.authored)
            && effects.approval.as_ref().is_none_or(approval_open)
            && effects
                .new_action
                .as_ref()
                .is_none_or(|n| actions.iter().all(|a| a.id != n.id))
            && effects
                .closed_action
                .as_ref()
                .is_none_or(|c| actions.iter().any(|a| a.id == c.id && a.done.is_none()));
        if !holds {
            return Ok(Applied::Conflict);
        }
        let st = &mut *st;
        let version = st.versions.entry(id.clone()).or_default();
        if let Some(i) = &effects.incident {
            version.incident += 1;
            st.incidents.insert(id.clone(), i.clone());
        }
        if let Some(w) = &effects.whys {
            version.whys += 1;
            st.whys.insert(id.clone(), w.clone());
        }
        if let Some(a) = &effects.authored {
            version.authored += 1;
            st.authored.insert(id.clone(), a.clone());
        }
        if let Some(a) = &effects.approval {
            if let Some(stored) = st.approvals.iter_mut().find(|s| s.id == a.id) {
                stored.decision = a.decision.clone();
            }
        }
        let items = st.actions.entry(id.clone()).or_default();
        if let Some(n) = &effects.new_action {
            items.push(n.clone());
        }
        if let Some(c) = &effects.closed_action {
            if let Some(stored) = items.iter_mut().find(|a| a.id == c.id) {
                stored.done = c.done.clone();
            }
        }
        st.timelines
            .entry(id.clone())
            .or_default()
            .extend(effects.timeline.iter().cloned());
        Ok(Applied::Written)
    }

    async fn signals(&self, id: &IncidentId) -> PortResult<Vec<Signal>> {
        Ok(self.state.lock().unwrap().signals.get(id).cloned().unwrap_or_default())
    }

    async fn close_correlation(&self, incident: &Incident, _policy: &Policy) -> PortResult<()> {
        let mut st = self.state.lock().unwrap();
        let space = Space::of(incident.exercise);
        for s in &incident.services {
            if let Some(c) = st.clusters.get_mut(&(space, s.clone())) {
                c.close(&incident.id);
            }
        }
        if let Some(storm) = st.storms.get_mut(&space) {
            storm.close(&incident.id);
        }
        Ok(())
    }
}

impl ChangeLog for MemoryStore {
    async fn record_change(&self, space: Space, service: &str, change: &Change) -> PortResult<()> {
        let mut state = self.state.lock().unwrap();
        let events = state.changes.entry((space, service.to_string())).or_default();
        if !events.contains(change) {
            events.push(change.clone());
        }
        Ok(())
    }

    async fn changes(
        &self,
        space: Space,
        service: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> PortResult<Vec<Change>> {
        let state = self.state.lock().unwrap();
        let mut out: Vec<Change> = state
            .changes
            .get(&(space, service.to_string()))
            .into_iter()
            .flatten()
            .filter(|c| from <= c.at && c.at <= to)
            .cloned()
            .collect();
        out.sort_by_key(|c| c.at);
        Ok(out)
    }
}

impl CatalogSource for Catalog {
    async fn load(&self) -> PortResult<Catalog> {
        Ok(self.clone())
    }
}

/// A catalog that imports replace.
pub struct MemoryCatalog(pub Mutex<Catalog>);

impl CatalogSource for MemoryCatalog {
    async fn load(&self) -> PortResult<Catalog> {
        Ok(self.0.lock().unwrap().clone())
    }
}

impl CatalogSink for MemoryCatalog {
    async fn import(&self, catalog: &Catalog) -> PortResult<crate::catalog::ImportSummary> {
        let mut stored = self.0.lock().unwrap();
        let silences = std::mem::take(&mut stored.silences);
        let learnings = std::mem::take(&mut stored.learnings);
        let orr_answers = std::mem::take(&mut stored.orr_answers);
        let mut overrides: Vec<_> = catalog.overrides.iter().filter(|o| o.id.is_none()).cloned().collect();
        overrides.extend(stored.overrides.iter().filter(|o| o.id.is_some()).cloned());
        *stored = Catalog {
            silences,
            learnings,
            orr_answers,
            overrides,
            ..catalog.clone()
        };
        Ok(crate::catalog::ImportSummary {
            services: catalog.services.len(),
            teams: catalog.teams.len(),
            removed: 0,
        })
    }

    async fn put_silence(&self, silence: &crate::silence::Silence) -> PortResult<()> {
        let mut stored = self.0.lock().unwrap();
        stored.silences.retain(|s| s.id != silence.id);
        stored.silences.push(silence.clone());
        Ok(())
    }

    async fn put_override(&self, o: &crate::oncall::Override) -> PortResult<()> {
        self.0.lock().unwrap().overrides.push(o.clone());
        Ok(())
    }

    async fn put_learning(&self, l: &crate::learning::Learning) -> PortResult<bool> {
        let mut stored = self.0.lock().unwrap();
        let before = stored
            .learnings
            .iter()
            .find(|kept| kept.id == l.id)
            .map(|kept| kept.version);
        if before.unwrap_or(0) + 1 != l.version {
            return Ok(false);
        }
        stored.learnings.retain(|kept| kept.id != l.id);
        stored.learnings.push(l.clone());
        Ok(true)
    }

    async fn put_orr_answer(&self, a: &crate::learning::OrrAnswer) -> PortResult<()> {
        let mut stored = self.0.lock().unwrap();
        stored
            .orr_answers
            .retain(|kept| (&kept.service, &kept.learning) != (&a.service, &a.learning));
        stored.orr_answers.push(a.clone());
        Ok(())
    }
}

/// Records the follow-ups asked of other functions, and answers as they would.
#[derive(Default)]
pub struct MemoryFunctions {
    pub captured: Mutex<Vec<IncidentId>>,
    pub published: Mutex<Vec<IncidentId>>,
    /// What a publication answers (`{"postmortem": …}`), or a failure when `None`.
    pub publication: Option<Value>,
}

impl FollowUps for MemoryFunctions {
    async fn capture(&self, id: &IncidentId) -> PortResult<Value> {
        self.captured.lock().unwrap().push(id.clone());
        Ok(serde_json::json!({ "capture": format!("{id}-closing"), "objects": 4 }))
    }

    async fn publish(&self, id: &IncidentId) -> PortResult<Value> {
        self.published.lock().unwrap().push(id.clone());
        self.publication
            .clone()
            .ok_or_else(|| PortError::Transient("the postmortem function is throttled".into()))
    }
}

/// Records pages, events and customer reports; pages to the targets in `failing` fail.
#[derive(Default)]
pub struct MemoryNotifier {
    pub failing: HashSet<String>,
    pub pages: Mutex<Vec<(String, String, String)>>,
    /// Texts by number.
    pub texts: Mutex<Vec<(String, String)>>,
    /// E-mails: address, subject, body.
    pub emails: Mutex<Vec<(String, String, String)>>,
    /// Whether it sends e-mail (a deployment with a sender address).
    pub sends_email: bool,
    pub events: Mutex<Vec<(String, Value)>>,
    pub reports: Mutex<Vec<crate::event::CustomerReport>>,
}

impl ReportIntake for MemoryNotifier {
    async fn submit(&self, report: &crate::event::CustomerReport) -> PortResult<()> {
        self.reports.lock().unwrap().push(report.clone());
        Ok(())
    }
}

impl MemoryNotifier {
    pub fn paged(&self) -> Vec<String> {
        self.pages.lock().unwrap().iter().map(|(t, _, _)| t.clone()).collect()
    }

    pub fn events_of(&self, detail_type: &str) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t == detail_type)
            .map(|(_, d)| d.clone())
            .collect()
    }
}

impl Notifier for MemoryNotifier {
    async fn page(&self, target: &str, subject: &str, message: &str) -> PortResult<()> {
        if self.failing.contains(target) {
            return Err(PortError::Transient(format!("topic {target} unreachable")));
        }
        self.pages
            .lock()
            .unwrap()
            .push((target.into(), subject.into(), message.into()));
        Ok(())
    }

    async fn text(&self, number: &str, message: &str) -> PortResult<()> {
        if self.failing.contains(number) {
            return Err(PortError::Transient(format!("SMS to {number} refused")));
        }
        self.texts.lock().unwrap().push((number.into(), message.into()));
        Ok(())
    }

    async fn email(&self, address: &str, subject: &str, body: &str) -> PortResult<()> {
        if self.failing.contains(address) {
            return Err(PortError::Transient(format!("e-mail to {address} refused")));
        }
        self.emails
            .lock()
            .unwrap()
            .push((address.into(), subject.into(), body.into()));
        Ok(())
    }

    fn reach(&self) -> crate::engagement::Reach {
        crate::engagement::Reach {
            email: self.sends_email,
        }
    }

    async fn emit(&self, event: &AppEvent) -> PortResult<()> {
        self.events
            .lock()
            .unwrap()
            .push((event.detail_type().into(), event.detail()));
        Ok(())
    }
}

/// Records lifecycle starts, stops, completions and dead letters.
#[derive(Default)]
pub struct MemoryLoop {
    pub started: Mutex<Vec<IncidentId>>,
    pub stopped: Mutex<Vec<IncidentId>>,
    pub completed: Mutex<Vec<(String, Value)>>,
    pub rejected: Mutex<Vec<(Value, String)>>,
    /// Every run by name, with where it stands.
    runs: Mutex<HashMap<String, RunState>>,
}

impl MemoryLoop {
    /// Sets where a run stands, as a crash or a person stopping it would.
    pub fn set_run(&self, id: &IncidentId, run: u32, state: RunState) {
        self.runs.lock().unwrap().insert(run_name(id, run), state);
    }

    pub fn run(&self, id: &IncidentId, run: u32) -> RunState {
        self.runs
            .lock()
            .unwrap()
            .get(&run_name(id, run))
            .copied()
            .unwrap_or(RunState::Missing)
    }
}

impl Lifecycles for MemoryLoop {
    async fn start(&self, id: &IncidentId, run: u32) -> PortResult<()> {
        self.started.lock().unwrap().push(id.clone());
        self.runs
            .lock()
            .unwrap()
            .entry(run_name(id, run))
            .or_insert(RunState::Running);
        Ok(())
    }

    async fn stop(&self, id: &IncidentId, run: u32, _cause: &str) -> PortResult<()> {
        self.stopped.lock().unwrap().push(id.clone());
        self.set_run(id, run, RunState::Aborted);
        Ok(())
    }

    async fn state(&self, id: &IncidentId, run: u32) -> PortResult<RunState> {
        Ok(self.run(id, run))
    }
}

impl TaskCallbacks for MemoryLoop {
    async fn complete(&self, token: &str, output: &Value) -> PortResult<bool> {
        self.completed.lock().unwrap().push((token.into(), output.clone()));
        Ok(true)
    }
}

impl DeadLetters for MemoryLoop {
    async fn reject(&self, event: &Value, _error_type: &str, reason: &str) -> PortResult<()> {
        self.rejected.lock().unwrap().push((event.clone(), reason.into()));
        Ok(())
    }
}

/// The console's user pool in memory: users by subject.
pub struct MemorySignIns {
    pub provider: String,
    pub identity_pool: String,
    pub users: Vec<(String, crate::console::SignedIn)>,
}

impl SignIns for MemorySignIns {
    fn provider(&self) -> &str {
        &self.provider
    }

    fn identity_pool(&self) -> &str {
        &self.identity_pool
    }

    async fn signed_in(&self, sub: &str) -> PortResult<Option<crate::console::SignedIn>> {
        Ok(self.users.iter().find(|(s, _)| s == sub).map(|(_, u)| u.clone()))
    }
}

impl LiveIncidents for MemoryStore {
    async fn live(&self) -> PortResult<Vec<Incident>> {
        Ok(self.all().into_iter().filter(Incident::is_live).collect())
    }
}

impl Approvals for MemoryStore {
    async fn request(&self, approval: &Approval) -> PortResult<()> {
        let mut st = self.state.lock().unwrap();
        for old in st
            .approvals
            .iter_mut()
            .filter(|a| a.incident == approval.incident && a.id != approval.id)
        {
            if old.decision.is_none() {
                old.expired = true;
            }
        }
        if !st.approvals.iter().any(|a| a.id == approval.id) {
            st.approvals.push(approval.clone());
        }
        Ok(())
    }

    async fn latest(&self, incident: &IncidentId) -> PortResult<Option<Approval>> {
        let st = self.state.lock().unwrap();
        let mine = st.approvals.iter().filter(|a| &a.incident == incident);
        Ok(mine.max_by_key(|a| a.requested_at).cloned())
    }

    async fn get(&self, incident: &IncidentId, approval_id: &str) -> PortResult<Option<Approval>> {
        let st = self.state.lock().unwrap();
        Ok(st
            .approvals
            .iter()
            .find(|a| &a.incident == incident && a.id == approval_id)
            .cloned())
    }
}

impl crate::ports::PageCodes for MemoryStore {
    async fn issue(&self, hash: &str, issued: &crate::page_reply::IssuedCode) -> PortResult<bool> {
        let mut st = self.state.lock().unwrap();
        if st.codes.contains_key(hash) {
            return Ok(false);
        }
        st.codes.insert(hash.into(), issued.clone());
        Ok(true)
    }

    async fn find(&self, hash: &str) -> PortResult<Option<crate::page_reply::IssuedCode>> {
        Ok(self.state.lock().unwrap().codes.get(hash).cloned())
    }

    async fn redeem(&self, hash: &str) -> PortResult<bool> {
        Ok(self.state.lock().unwrap().codes.remove(hash).is_some())
    }
}

impl Tokens for MemoryStore {
    async fn keep(&self, id: &IncidentId, key: &str, token: &str) -> PortResult<()> {
        self.state
            .lock()
            .unwrap()
            .tokens
            .insert((id.clone(), key.to_string()), token.to_string());
        Ok(())
    }

    async fn take(&self, id: &IncidentId, key: &str) -> PortResult<Option<String>> {
        Ok(self.state.lock().unwrap().tokens.remove(&(id.clone(), key.to_string())))
    }

    async fn keep_runbook(&self, execution_id: &str, id: &IncidentId) -> PortResult<()> {
        let mut st = self.state.lock().unwrap();
        st.runbook_waits.insert(execution_id.to_string(), id.clone());
        Ok(())
    }

    async fn runbook_incident(&self, execution_id: &str) -> PortResult<Option<IncidentId>> {
        Ok(self.state.lock().unwrap().runbook_waits.get(execution_id).cloned())
    }
}

impl CommandStore for MemoryStore {
    async fn command_state(&self, id: &IncidentId, record: bool) -> PortResult<(CommandState, Versions)> {
        let st = self.state.lock().unwrap();
        let incident = st.incidents.get(id).cloned();
        let mut signals = Vec::new();
        if record {
            for of in std::iter::once(id).chain(incident.iter().flat_map(|i| i.members.iter())) {
                signals.extend(st.signals.get(of).cloned().unwrap_or_default());
            }
        }
        let state = CommandState {
            incident,
            actions: st.actions.get(id).cloned().unwrap_or_default(),
            whys: st.whys.get(id).cloned().unwrap_or_default(),
            authored: st.authored.get(id).cloned().unwrap_or_default(),
            approval: st
                .approvals
                .iter()
                .filter(|a| &a.incident == id)
                .max_by_key(|a| a.requested_at)
                .cloned(),
            timeline: if record {
                st.timelines.get(id).cloned().unwrap_or_default()
            } else {
                Vec::new()
            },
            signals,
        };
        Ok((state, st.versions.get(id).cloned().unwrap_or_default()))
    }
}

/// Evidence objects in memory.
#[derive(Default)]
pub struct MemoryEvidence {
    pub objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl EvidenceStore for MemoryEvidence {
    async fn put(&self, key: &str, body: Vec<u8>) -> PortResult<()> {
        self.objects.lock().unwrap().insert(key.into(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        Ok(self.objects.lock().unwrap().get(key).cloned())
    }

    async fn list(&self, prefix: &str) -> PortResult<Vec<String>> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}

/// A recorded runbook start: document, parameters, client token, and where (none: here).
pub type StartedRun = (
    String,
    BTreeMap<String, String>,
    String,
    Option<crate::account::Location>,
);

/// Runbook runs in memory: every start is recorded; a run succeeds unless its document is in
/// `failing`. The same client token returns the same run, which is found only where it started.
#[derive(Default)]
pub struct MemoryRunbooks {
    pub failing: HashSet<String>,
    pub started: Mutex<Vec<StartedRun>>,
    /// Executions still in progress, by execution id.
    pub in_progress: Mutex<HashSet<String>>,
    /// Whether member accounts can be reached.
    pub members: bool,
}

impl RunbookRunner for MemoryRunbooks {
    fn reaches_members(&self) -> bool {
        self.members
    }

    async fn start(
        &self,
        at: Option<&crate::account::Location>,
        document: &str,
        parameters: &BTreeMap<String, String>,
        client_token: &str,
    ) -> PortResult<String> {
        let mut started = self.started.lock().unwrap();
        if !started.iter().any(|(_, _, t, _)| t == client_token) {
            started.push((document.into(), parameters.clone(), client_token.into(), at.cloned()));
        }
        Ok(format!("exec-{client_token}"))
    }

    async fn status(
        &self,
        at: Option<&crate::account::Location>,
        execution_id: &str,
    ) -> PortResult<crate::mitigation::RunbookStatus> {
        use crate::mitigation::RunbookStatus;
        let started = self.started.lock().unwrap();
        // Found only where it started (the account and region, whatever the catalog calls them).
        let same = |place: &Option<crate::account::Location>| match (place, at) {
            (Some(p), Some(a)) => p.same_place(a),
            (p, a) => p.is_none() && a.is_none(),
        };
        let run = started
            .iter()
            .find(|(_, _, t, place)| format!("exec-{t}") == execution_id && same(place));
        let (document, ..) = run.ok_or_else(|| PortError::Invalid(format!("no execution {execution_id}")))?;
        Ok(if self.in_progress.lock().unwrap().contains(execution_id) {
            RunbookStatus::Running {
                detail: "InProgress".into(),
            }
        } else if self.failing.contains(document) {
            RunbookStatus::Failed {
                reason: "scripted failure".into(),
            }
        } else {
            RunbookStatus::Success {
                outputs: BTreeMap::new(),
            }
        })
    }
}

impl Postmortems for MemoryStore {
    async fn timeline(&self, id: &IncidentId) -> PortResult<Vec<Entry>> {
        Ok(MemoryStore::timeline(self, id))
    }

    async fn whys(&self, id: &IncidentId) -> PortResult<Tree> {
        Ok(self.state.lock().unwrap().whys.get(id).cloned().unwrap_or_default())
    }

    async fn actions(&self, id: &IncidentId) -> PortResult<Vec<ActionItem>> {
        Ok(self.actions_of(id))
    }

    async fn authored(&self, id: &IncidentId) -> PortResult<Authored> {
        Ok(self.state.lock().unwrap().authored.get(id).cloned().unwrap_or_default())
    }

    async fn record_ticket(&self, id: &IncidentId, item: &str, ticket: &str) -> PortResult<()> {
        self.with_action(id, item, |a| a.ticket = Some(ticket.to_string()))
    }

    async fn record_reminder(&self, id: &IncidentId, item: &str, at: chrono::DateTime<chrono::Utc>) -> PortResult<()> {
        self.with_action(id, item, |a| a.reminded_at = Some(at))
    }

    async fn incidents_of_days(&self, days: &[String]) -> PortResult<Vec<Incident>> {
        Ok(self
            .all()
            .into_iter()
            .filter(|i| days.contains(&i.detected_at.format("%Y-%m-%d").to_string()))
            .collect())
    }
}

/// Tickets in memory: opening the same dedup key twice returns the first ticket while it is open;
/// while `down`,
/// every call fails as a throttled tracker would.
#[derive(Default)]
pub struct MemoryTickets {
    pub opened: Mutex<Vec<(String, Ticket)>>,
    pub resolved: Mutex<Vec<String>>,
    pub down: bool,
}

impl Tickets for MemoryTickets {
    async fn open(&self, ticket: &Ticket) -> PortResult<String> {
        if self.down {
            return Err(PortError::Transient("the tracker is down".into()));
        }
        let mut opened = self.opened.lock().unwrap();
        let resolved = self.resolved.lock().unwrap();
        // Like OpsCenter: only a ticket that is still open deduplicates.
        if let Some((id, _)) = opened
            .iter()
            .find(|(id, t)| t.dedup == ticket.dedup && !resolved.contains(id))
        {
            return Ok(id.clone());
        }
        let id = format!("oi-{}", opened.len() + 1);
        opened.push((id.clone(), ticket.clone()));
        Ok(id)
    }

    async fn resolve(&self, ticket_id: &str) -> PortResult<()> {
        if self.down {
            return Err(PortError::Transient("the tracker is down".into()));
        }
        self.resolved.lock().unwrap().push(ticket_id.to_string());
        Ok(())
    }
}
