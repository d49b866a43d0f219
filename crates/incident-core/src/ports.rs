//! Ports: what the loop needs from the outside world, in domain terms. `incident-aws` implements
//! them on DynamoDB, EventBridge, SNS, SQS and Step Functions; the `memory` module implements them in
//! memory for handler tests. Handlers are generic over them.

use crate::actions::ActionItem;
use crate::app_event::AppEvent;
use crate::approval::{Approval, Caller};
use crate::catalog::{Catalog, ServiceMatch};
use crate::change::Change;
use crate::coe::Authored;
use crate::command::{decide, Command, Decided, Refusal, State};
use crate::correlation::{Outcome, Policy, Space};
use crate::effects::Effects;
use crate::evidence::{AlarmRef, Collected, Window};
use crate::incident::Incident;
use crate::mitigation::RunbookStatus;
use crate::reconcile::RunState;
use crate::signal::Signal;
use crate::tickets::Ticket;
use crate::timeline::Entry;
use crate::whys::Tree;
use crate::IncidentId;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;

/// A failure reported by a port, classified by what the caller can do about it.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum PortError {
    #[error("incident {0} does not exist")]
    NotFound(String),
    /// Refused by a rule (already acknowledged, already resolved …): retrying cannot help.
    #[error("{0}")]
    Rejected(String),
    /// Unusable configuration or stored data: permanent until a person fixes it.
    #[error("{0}")]
    Invalid(String),
    /// Throttling, network, contention: worth retrying.
    #[error("{0}")]
    Transient(String),
}

/// Changes (deployments, configuration changes) recorded as they happen, per service and space
/// (a game day's changes apart from real ones).
pub trait ChangeLog: Sync {
    /// Keeps one event of a change; the same event again changes nothing.
    fn record_change(
        &self,
        space: Space,
        service: &str,
        change: &Change,
    ) -> impl Future<Output = PortResult<()>> + Send;

    /// The service's change events from `from` to `to`, oldest first, one per event (see
    /// [`crate::change::collapse`] for one per deployment).
    fn changes(
        &self,
        space: Space,
        service: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Vec<Change>>> + Send;
}

/// A rule refusing a lifecycle step (see [`run_step`]).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct Rejected(pub String);

/// What ingesting a signal did.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub outcome: Outcome,
    /// Incidents whose lifecycle must be running (newly opened; on a duplicate, those it opened).
    pub start: Vec<IncidentId>,
    /// Incidents merged away whose lifecycle should stop.
    pub stop: Vec<IncidentId>,
    /// Links and merges of incidents that existed already, for the handler to write (see
    /// [`run_step`]). Kept with the signal's dedup record, so a retry of the same signal gets them
    /// again and replays them until they are written: each is idempotent.
    pub changes: Vec<(IncidentId, crate::recording::Change)>,
}

impl Recorded {
    /// Nothing was written, and nothing follows from it.
    pub fn nothing(outcome: Outcome) -> Self {
        Self {
            outcome,
            start: Vec::new(),
            stop: Vec::new(),
            changes: Vec::new(),
        }
    }
}

/// What [`IncidentStore::apply`] did with a set of effects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Every record was written.
    Written,
    /// Something the effects depend on changed since it was read: nothing was written; decide again.
    Conflict,
    /// Their timeline entries were written before (a retried step): nothing was written again.
    AlreadyWritten,
}

pub type PortResult<T> = Result<T, PortError>;

pub trait IncidentStore: Sync {
    /// Dedup, correlation and every write they imply, atomically.
    fn record_signal(
        &self,
        matched: &ServiceMatch,
        signal: &Signal,
        policy: &Policy,
    ) -> impl Future<Output = PortResult<Recorded>> + Send;

    fn incident(&self, id: &IncidentId) -> impl Future<Output = PortResult<Incident>> + Send;

    /// The incident with the version that a write decided on it is conditional on.
    fn incident_version(&self, id: &IncidentId) -> impl Future<Output = PortResult<(Incident, Versions)>> + Send;

    /// The one write path: writes the records among `effects` at once, if nothing they depend on
    /// changed since `read` (see [`Effects`]). A timeline entry is written once per key, and the
    /// first entry's key names the step: effects whose first entry exists were applied before and
    /// are not written again; a later entry whose key another step took is [`PortError::Invalid`].
    fn apply(
        &self,
        id: &IncidentId,
        read: &Versions,
        effects: &Effects,
    ) -> impl Future<Output = PortResult<Applied>> + Send;

    fn signals(&self, id: &IncidentId) -> impl Future<Output = PortResult<Vec<Signal>>> + Send;

    /// Later signals of a closed incident's service open a new incident.
    fn close_correlation(&self, incident: &Incident, policy: &Policy) -> impl Future<Output = PortResult<()>> + Send;
}

/// The signals of an incident and of the incidents linked into it (a multi-service event's members).
pub async fn signals_with_members<S: IncidentStore>(store: &S, incident: &Incident) -> PortResult<Vec<Signal>> {
    let mut signals = store.signals(&incident.id).await?;
    for member in &incident.members {
        signals.extend(store.signals(member).await?);
    }
    Ok(signals)
}

/// Everything an incident's COE is written from, read once.
pub async fn coe_record<S, C>(store: &S, catalog: &C, id: &IncidentId) -> PortResult<crate::coe::Record>
where
    S: IncidentStore + Postmortems,
    C: CatalogSource,
{
    let incident = store.incident(id).await?;
    record_of(store, &catalog.load().await?, incident).await
}

/// [`coe_record`] with the catalog already loaded.
pub async fn record_of<S>(store: &S, catalog: &Catalog, incident: Incident) -> PortResult<crate::coe::Record>
where
    S: IncidentStore + Postmortems,
{
    let id = &incident.id;
    Ok(crate::coe::Record {
        timeline: store.timeline(id).await?,
        whys: store.whys(id).await?,
        actions: store.actions(id).await?,
        authored: store.authored(id).await?,
        dependencies: crate::coe::dependencies_of(catalog, &incident),
        signals: signals_with_members(store, &incident).await?,
        incident,
    })
}

/// The weekly review of `week` as of `now`, from the records of the days it reads. A record whose
/// stored data cannot be read is left out and named in the report (`unreadable`), so one bad record
/// leaves the others; a failure worth retrying (throttling, the network) fails the whole review.
pub async fn review_of<S, C>(
    store: &S,
    catalog: &C,
    week: crate::review::Week,
    now: chrono::DateTime<chrono::Utc>,
) -> PortResult<crate::review::Report>
where
    S: IncidentStore + Postmortems,
    C: CatalogSource,
{
    let catalog = catalog.load().await?;
    let (records, unreadable) = records_of_days(store, &catalog, &week.days_to_read()).await?;
    let mut report = crate::review::compute(&records, &catalog, week, now);
    report.unreadable = unreadable;
    Ok(report)
}

async fn records_of_days<S>(
    store: &S,
    catalog: &Catalog,
    days: &[String],
) -> PortResult<(Vec<crate::coe::Record>, Vec<String>)>
where
    S: IncidentStore + Postmortems,
{
    let mut records = Vec::new();
    let mut unreadable = Vec::new();
    for incident in store.incidents_of_days(days).await? {
        let id = incident.id.clone();
        match record_of(store, catalog, incident).await {
            Ok(r) => records.push(r),
            Err(e @ PortError::Transient(_)) => return Err(e),
            Err(e) => unreadable.push(format!("{id}: {}", crate::text::line(&e.to_string(), 200))),
        }
    }
    Ok((records, unreadable))
}

pub trait CatalogSource: Sync {
    fn load(&self) -> impl Future<Output = PortResult<Catalog>> + Send;
}

/// Replaces the stored catalog and keeps silences beside it (the command API is its only caller).
pub trait CatalogSink: Sync {
    /// Replaces the catalog; the silences stay as they are.
    fn import(&self, catalog: &Catalog) -> impl Future<Output = PortResult<crate::catalog::ImportSummary>> + Send;
    /// Stores a silence, new or lifted (same id: replaced).
    fn put_silence(&self, silence: &crate::silence::Silence) -> impl Future<Output = PortResult<()>> + Send;
    /// Stores an on-call override added through the command API (kept across imports).
    fn put_override(&self, o: &crate::oncall::Override) -> impl Future<Output = PortResult<()>> + Send;
    /// Stores a learning as it now stands (added, escalated, its central change closed), only over
    /// the version before it (none, for a new one); `false` when someone changed it meanwhile.
    fn put_learning(&self, l: &crate::learning::Learning) -> impl Future<Output = PortResult<bool>> + Send;
    /// Stores a service's answer to a learning's readiness-review question (the latest one counts).
    fn put_orr_answer(&self, a: &crate::learning::OrrAnswer) -> impl Future<Output = PortResult<()>> + Send;
}

/// Work other functions of the loop do on a person's behalf.
pub trait FollowUps: Sync {
    /// Runs an evidence capture now; its summary.
    fn capture(&self, id: &IncidentId) -> impl Future<Output = PortResult<Value>> + Send;
    /// Rewrites the COE document and opens the tickets still missing; what was published.
    fn publish(&self, id: &IncidentId) -> impl Future<Output = PortResult<Value>> + Send;
}

/// Where customer reports enter the loop: as events that ingest reads like any other signal.
pub trait ReportIntake: Sync {
    fn submit(&self, report: &crate::event::CustomerReport) -> impl Future<Output = PortResult<()>> + Send;
}

pub trait Notifier: Sync {
    /// Pages a team at its notification target.
    fn page(&self, target: &str, subject: &str, message: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// Texts a person's phone (E.164).
    fn text(&self, number: &str, message: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// E-mails a person, in plain text.
    fn email(&self, address: &str, subject: &str, body: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// The channels beyond SMS and topics this notifier can page people by.
    fn reach(&self) -> crate::engagement::Reach;
    /// Publishes an app event on the loop's bus.
    fn emit(&self, event: &AppEvent) -> impl Future<Output = PortResult<()>> + Send;
}

/// The incidents' lifecycle executions, one run at a time per incident, named by
/// [`crate::reconcile::run_name`].
pub trait Lifecycles: Sync {
    /// Starts run `run` of an incident's lifecycle; starting one that exists is not an error.
    fn start(&self, id: &IncidentId, run: u32) -> impl Future<Output = PortResult<()>> + Send;
    fn stop(&self, id: &IncidentId, run: u32, cause: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// Where run `run` stands.
    fn state(&self, id: &IncidentId, run: u32) -> impl Future<Output = PortResult<RunState>> + Send;
}

/// The console's user pool: who a sign-in the API Gateway verified is.
pub trait SignIns: Sync {
    /// `cognito-idp.<region>.amazonaws.com/<pool>`, the only provider whose sign-ins count.
    fn provider(&self) -> &str;
    /// The identity pool whose credentials the console signs with (`<region>:<uuid>`).
    fn identity_pool(&self) -> &str;
    /// The user with this subject (`sub`), and their groups; `None` when the pool has no such user.
    fn signed_in(&self, sub: &str) -> impl Future<Output = PortResult<Option<crate::console::SignedIn>>> + Send;
}

/// The incidents whose lifecycle must be running ([`Incident::is_live`]), whatever their age.
pub trait LiveIncidents: Sync {
    fn live(&self) -> impl Future<Output = PortResult<Vec<Incident>>> + Send;
}

pub trait TaskCallbacks: Sync {
    /// Completes a waiting task; `false` when it is gone already.
    fn complete(&self, token: &str, output: &Value) -> impl Future<Output = PortResult<bool>> + Send;
}

pub trait DeadLetters: Sync {
    /// Keeps an event that can never be a signal, whole, with the reason.
    fn reject(&self, event: &Value, error_type: &str, reason: &str) -> impl Future<Output = PortResult<()>> + Send;
}

/// Where evidence is kept: write-once objects under `evidence/`.
pub trait EvidenceStore: Sync {
    fn put(&self, key: &str, body: Vec<u8>) -> impl Future<Output = PortResult<()>> + Send;
    /// The current bytes of an object; `None` when it is gone.
    fn get(&self, key: &str) -> impl Future<Output = PortResult<Option<Vec<u8>>>> + Send;
    fn list(&self, prefix: &str) -> impl Future<Output = PortResult<Vec<String>>> + Send;
}

/// Every capture's manifest of an incident, oldest first.
pub async fn manifests<E: EvidenceStore>(evidence: &E, id: &IncidentId) -> PortResult<Vec<crate::evidence::Manifest>> {
    let keys = crate::evidence::manifest_keys(evidence.list(&crate::evidence::prefix(id)).await?);
    let mut out = Vec::new();
    for key in keys {
        let bytes = evidence
            .get(&key)
            .await?
            .ok_or_else(|| PortError::NotFound(format!("{key} vanished")))?;
        out.push(
            serde_json::from_slice(&bytes).map_err(|e| PortError::Invalid(format!("{key} is not a manifest: {e}")))?,
        );
    }
    Ok(out)
}

/// An incident's evidence for the console: its manifests and the current bytes of every object
/// they name, verified and charted by [`crate::console::evidence`].
pub async fn evidence_of<E: EvidenceStore>(evidence: &E, id: &IncidentId) -> PortResult<crate::console::Evidence> {
    // Only this incident's manifests, and only objects under its own prefix: a manifest naming
    // another key finds that object missing rather than reading it.
    let manifests: Vec<_> = manifests(evidence, id)
        .await?
        .into_iter()
        .filter(|m| &m.incident == id)
        .collect();
    let prefix = crate::evidence::prefix(id);
    let mut stored = BTreeMap::new();
    for o in manifests.iter().flat_map(|m| &m.objects) {
        let bytes = match o.key.starts_with(&prefix) {
            true => evidence.get(&o.key).await?,
            false => None,
        };
        stored.insert(o.key.clone(), bytes);
    }
    Ok(crate::console::evidence(manifests, &stored))
}

/// Where evidence comes from. Each source pages until the window is covered or `cap_bytes` is
/// spent, and says what it asked (the `query` of its [`Collected`]).
pub trait EvidenceSources: Sync {
    fn alarm_history(
        &self,
        alarms: &[AlarmRef],
        window: &Window,
        cap_bytes: usize,
    ) -> impl Future<Output = PortResult<Collected>> + Send;

    fn metric_data(
        &self,
        alarms: &[AlarmRef],
        window: &Window,
        cap_bytes: usize,
    ) -> impl Future<Output = PortResult<Collected>> + Send;

    fn logs(
        &self,
        log_groups: &[String],
        queries: &[String],
        window: &Window,
        cap_bytes: usize,
    ) -> impl Future<Output = PortResult<Collected>> + Send;

    /// Write API calls and deployments in the window, as [`crate::change::Change`]s.
    fn changes(&self, window: &Window, cap_bytes: usize) -> impl Future<Output = PortResult<Collected>> + Send;
}

/// Reaches the evidence sources of the account and region an incident happened in: this account's
/// own, or a member account's through the role the forwarder template creates there.
pub trait EvidenceAccounts: Sync {
    type Sources: EvidenceSources + Send + Sync;

    /// The sources where `location` says (this account and region for none); refused, with one
    /// line saying why, when that account cannot be reached.
    fn sources(
        &self,
        location: Option<&crate::account::Location>,
    ) -> impl Future<Output = PortResult<Self::Sources>> + Send;
}

/// Runs mitigation runbooks (SSM Automation on AWS).
pub trait RunbookRunner: Sync {
    /// Whether it can start runbooks in member accounts (a member role and external id are
    /// configured); the core opens only those the catalog names.
    fn reaches_members(&self) -> bool;

    /// Starts `document` with `parameters` at `at` (none: the stack's own account and region); the
    /// same `client_token` never starts a second run.
    fn start(
        &self,
        at: Option<&crate::account::Location>,
        document: &str,
        parameters: &BTreeMap<String, String>,
        client_token: &str,
    ) -> impl Future<Output = PortResult<String>> + Send;

    /// How the execution started at `at` stands.
    fn status(
        &self,
        at: Option<&crate::account::Location>,
        execution_id: &str,
    ) -> impl Future<Output = PortResult<RunbookStatus>> + Send;
}

/// Mitigation approvals, kept where no person's policy can write them: decisions reach them only
/// through [`CommandStore::apply`].
pub trait Approvals: Sync {
    /// Stores a new approval, expiring the incident's earlier undecided ones.
    fn request(&self, approval: &Approval) -> impl Future<Output = PortResult<()>> + Send;
    /// The incident's newest approval, decided or not.
    fn latest(&self, incident: &IncidentId) -> impl Future<Output = PortResult<Option<Approval>>> + Send;
    fn get(
        &self,
        incident: &IncidentId,
        approval_id: &str,
    ) -> impl Future<Output = PortResult<Option<Approval>>> + Send;
}

/// Step Functions task tokens, kept server-side (never logged, shown or readable by people) until
/// a function completes the task.
/// The codes texts carry to acknowledge with, kept by their hash (`page_reply`) for a day.
pub trait PageCodes: Sync {
    /// Keeps a new code; `false` when that code is live already (someone else's): draw another.
    fn issue(
        &self,
        hash: &str,
        issued: &crate::page_reply::IssuedCode,
    ) -> impl Future<Output = PortResult<bool>> + Send;
    fn find(&self, hash: &str) -> impl Future<Output = PortResult<Option<crate::page_reply::IssuedCode>>> + Send;
    /// Uses a code up: `false` when another reply used it first.
    fn redeem(&self, hash: &str) -> impl Future<Output = PortResult<bool>> + Send;
}

pub trait Tokens: Sync {
    fn keep(&self, id: &IncidentId, key: &str, token: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// Takes a token: it is gone once read, since a task completes once.
    fn take(&self, id: &IncidentId, key: &str) -> impl Future<Output = PortResult<Option<String>>> + Send;
    /// Notes which incident waits on a runbook execution: SSM's status-change event names only the
    /// execution.
    fn keep_runbook(&self, execution_id: &str, id: &IncidentId) -> impl Future<Output = PortResult<()>> + Send;
    fn runbook_incident(&self, execution_id: &str) -> impl Future<Output = PortResult<Option<IncidentId>>> + Send;
}

/// Keeps the task token of a lifecycle wait (acknowledgement, recovery, resolution, the update
/// window's sleep) for whatever ends it; if that happened before the token was kept, completes it
/// at once. Kept first and checked second, so that an acknowledgement or a resolution in between
/// is never missed.
pub async fn keep_waiting<S, K>(
    store: &S,
    callbacks: &K,
    id: &IncidentId,
    task: &crate::effects::Waiting,
    token: &str,
) -> PortResult<()>
where
    S: IncidentStore + Tokens,
    K: TaskCallbacks,
{
    store.keep(id, &task.key(), token).await?;
    complete_if_done(store, callbacks, id, task).await.map(|_| ())
}

/// Completes a lifecycle wait whose token is kept, if what it waits for has happened
/// ([`crate::effects::Waiting::done_for`]); `true` when it did.
pub async fn complete_if_done<S, K>(
    store: &S,
    callbacks: &K,
    id: &IncidentId,
    task: &crate::effects::Waiting,
) -> PortResult<bool>
where
    S: IncidentStore + Tokens,
    K: TaskCallbacks,
{
    let incident = store.incident(id).await?;
    let signals = if task.needs_signals() {
        signals_with_members(store, &incident).await?
    } else {
        Vec::new()
    };
    let Some(output) = task.done_for(&incident, &signals, chrono::Utc::now()) else {
        return Ok(false);
    };
    match store.take(id, &task.key()).await? {
        Some(token) => callbacks.complete(&token, &output).await,
        None => Ok(false),
    }
}

/// Versions of what a command read, so that its writes land only if nothing changed since.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Versions {
    pub incident: u64,
    pub whys: u64,
    pub authored: u64,
}

/// What people's commands are decided on; they write through [`IncidentStore::apply`].
pub trait CommandStore: IncidentStore {
    /// What a command is decided on; `record` adds the timeline and signals.
    fn command_state(
        &self,
        id: &IncidentId,
        record: bool,
    ) -> impl Future<Output = PortResult<(State, Versions)>> + Send;
}

/// Why a command did not go through: a rule's refusal, or a port's failure.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CommandError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// How often a write is decided again after someone else wrote in between.
const ATTEMPTS: usize = 8;

/// Reads, decides and writes a command, again from a fresh read whenever someone else wrote in
/// between; a second decision on one approval therefore sees the first and is refused.
pub async fn run_command<S: CommandStore>(
    store: &S,
    catalog: &Catalog,
    id: &IncidentId,
    command: &Command,
    caller: &Caller,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Decided, CommandError> {
    for _ in 0..ATTEMPTS {
        let (state, read) = store.command_state(id, command.needs_record()).await?;
        if state.incident.is_none() {
            return Err(Refusal::NotFound(format!("no incident {id}")).into());
        }
        let decided = decide(command, &state, catalog, caller, now)?;
        if decided.effects.writes_nothing() || store.apply(id, &read, &decided.effects).await? != Applied::Conflict {
            return Ok(decided);
        }
    }
    Err(PortError::Transient(format!("{id} kept changing while the command was applied; try again")).into())
}

/// Runs one step of an incident's lifecycle through the one write path: `step` changes the
/// incident as read (with the core's rules) and returns the timeline entries it records; both are
/// written at once, decided again from a fresh read whenever someone else wrote in between. A
/// refusal of `step` is [`PortError::Rejected`]. A step whose entries were written before (a retried
/// invocation) writes nothing again. Returns the incident as stored after the step.
pub async fn run_step<S, F>(store: &S, id: &IncidentId, step: F) -> PortResult<Incident>
where
    S: IncidentStore,
    F: FnMut(&mut Incident) -> Result<Vec<Entry>, Rejected> + Send,
{
    run_step_written(store, id, step).await.map(|(incident, _)| incident)
}

/// [`run_step`], also saying whether this call wrote anything (`false`: nothing to write, or
/// written before), for steps whose follow-up must happen once (a page, an announcement).
pub async fn run_step_written<S, F>(store: &S, id: &IncidentId, mut step: F) -> PortResult<(Incident, bool)>
where
    S: IncidentStore,
    F: FnMut(&mut Incident) -> Result<Vec<Entry>, Rejected> + Send,
{
    for _ in 0..ATTEMPTS {
        let (read, versions) = store.incident_version(id).await?;
        let mut changed = read.clone();
        let timeline = step(&mut changed).map_err(|Rejected(why)| PortError::Rejected(why))?;
        let effects = Effects {
            incident: (changed != read).then(|| changed.clone()),
            timeline,
            ..Effects::default()
        };
        if effects.writes_nothing() {
            return Ok((changed, false));
        }
        match store.apply(id, &versions, &effects).await? {
            Applied::Written => return Ok((changed, true)),
            Applied::AlreadyWritten => return Ok((read, false)),
            Applied::Conflict => {}
        }
    }
    Err(PortError::Transient(format!(
        "{id} kept changing while a lifecycle step was written"
    )))
}

/// Writes a lifecycle step's timeline entries, each once per key.
pub async fn append<S: IncidentStore>(store: &S, id: &IncidentId, entries: Vec<Entry>) -> PortResult<()> {
    run_step(store, id, |_| Ok(entries.clone())).await.map(|_| ())
}

/// What the postmortem is written from, besides the incident: the timeline, the five-whys tree,
/// the action items and what people wrote.
pub trait Postmortems: Sync {
    fn timeline(&self, id: &IncidentId) -> impl Future<Output = PortResult<Vec<Entry>>> + Send;
    fn whys(&self, id: &IncidentId) -> impl Future<Output = PortResult<Tree>> + Send;
    fn actions(&self, id: &IncidentId) -> impl Future<Output = PortResult<Vec<ActionItem>>> + Send;
    fn authored(&self, id: &IncidentId) -> impl Future<Output = PortResult<Authored>> + Send;
    /// Records the ticket opened for an action item (nothing else of the item changes).
    fn record_ticket(&self, id: &IncidentId, item: &str, ticket: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// Records when an action item was last announced as overdue (nothing else changes).
    fn record_reminder(
        &self,
        id: &IncidentId,
        item: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Incidents detected on these days (`YYYY-MM-DD`), resolved ones included.
    fn incidents_of_days(&self, days: &[String]) -> impl Future<Output = PortResult<Vec<Incident>>> + Send;
}

/// A ticketing system (SSM OpsCenter on AWS).
pub trait Tickets: Sync {
    /// Opens a ticket; a ticket with the same dedup key that is still open is returned instead.
    fn open(&self, ticket: &Ticket) -> impl Future<Output = PortResult<String>> + Send;
    /// Marks a ticket resolved.
    fn resolve(&self, ticket_id: &str) -> impl Future<Output = PortResult<()>> + Send;
}
