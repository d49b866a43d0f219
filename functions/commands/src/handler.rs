//! Load, decide, persist, publish: people's commands, with the rules in the core.

use chrono::{DateTime, Utc};
use incident_core::app_event::{AppEvent, PostmortemSummary};
use incident_core::approval::Caller;
use incident_core::catalog::Catalog;
use incident_core::command::{self, Command, Decided, Refusal, Reply, ReportRequest};
use incident_core::console;
use incident_core::effects::{Effects, FollowUp};
use incident_core::noise::{self, SilenceRequest};
use incident_core::page_reply::{self, SmsReply};
use incident_core::ports::{
    evidence_of, record_of, review_of, run_command, run_step, Approvals, CatalogSink, CatalogSource, CommandError,
    CommandStore, EvidenceStore, FollowUps, LiveIncidents, Notifier, PageCodes, PortError, Postmortems, ReportIntake,
    TaskCallbacks, Tokens,
};
use incident_core::timeline::{Entry, EntryKind};
use incident_core::IncidentId;
use serde_json::json;

pub struct Deps<S, C, N, K, F, G, E> {
    pub store: S,
    pub catalog: C,
    pub bus: N,
    pub callbacks: K,
    pub functions: F,
    /// The console's user pool, for requests signed with its identity pool's credentials.
    pub sign_ins: G,
    /// The evidence bucket, read for the console's evidence view.
    pub evidence: E,
}

/// Everything the command API reads and writes in the incidents table.
pub trait Store: CommandStore + Tokens + LiveIncidents + PageCodes + Postmortems + Approvals {}
impl<T: CommandStore + Tokens + LiveIncidents + PageCodes + Postmortems + Approvals> Store for T {}

/// What a person looks at: the console's board and one incident's page.
#[derive(Debug)]
pub enum Read {
    Board,
    Page(IncidentId),
    Evidence(IncidentId),
    /// Who is on call now in every layer of every team with rotations, and who is next.
    OnCall,
    /// The operational review of a week (the current one when none is named), computed now.
    Review(Option<incident_core::review::Week>),
}

/// How far back the board reaches for incidents that are no longer live.
const BOARD_DAYS: i64 = 14;

/// What a person asked.
#[derive(Debug)]
pub enum Request {
    Incident(IncidentId, Command),
    Report(ReportRequest),
    Catalog(Box<Catalog>),
    Silence(SilenceRequest),
    Override(incident_core::oncall::OverrideCommand),
    Learning(incident_core::learning::LearningCommand),
}

impl<S, C, N, K, F, G, E> Deps<S, C, N, K, F, G, E>
where
    S: Store,
    C: CatalogSource + CatalogSink,
    N: Notifier + ReportIntake,
    K: TaskCallbacks,
    F: FollowUps,
    E: EvidenceStore,
{
    /// What the read routes answer: the board (every live incident and those of the last
    /// [`BOARD_DAYS`] days), an incident's page or evidence, who is on call, a week's review.
    pub async fn read(&self, read: Read, now: DateTime<Utc>) -> Result<Reply, CommandError> {
        match read {
            Read::Board => {
                let days: Vec<String> = (0..BOARD_DAYS)
                    .map(|d| (now - chrono::Duration::days(d)).format("%Y-%m-%d").to_string())
                    .collect();
                let mut incidents = self.store.live().await?;
                incidents.extend(self.store.incidents_of_days(&days).await?);
                let board = console::board(incidents);
                Ok(Reply {
                    message: format!("{} incidents", board.len()),
                    data: json!(board),
                })
            }
            Read::Page(id) => {
                let catalog = self.catalog.load().await?;
                let record = record_of(&self.store, &catalog, self.store.incident(&id).await?).await?;
                let approval = self.store.latest(&id).await?;
                let page = console::page(record, approval, &catalog, now);
                Ok(Reply {
                    message: format!("{id}: {}", page.incident.title),
                    data: json!(page),
                })
            }
            Read::OnCall => {
                let roster = incident_core::oncall::roster(&self.catalog.load().await?, None, now);
                Ok(Reply {
                    message: format!("{} layers on call", roster.len()),
                    data: json!(roster),
                })
            }
            Read::Review(week) => {
                let week = week.unwrap_or_else(|| incident_core::review::Week::of(now));
                let report = review_of(&self.store, &self.catalog, week, now).await?;
                Ok(Reply {
                    message: format!("{}: {} incidents", report.week, report.incidents.len()),
                    data: json!(report),
                })
            }
            Read::Evidence(id) => {
                self.store.incident(&id).await?;
                let evidence = evidence_of(&self.evidence, &id).await?;
                let broken = evidence.captures.iter().filter(|c| !c.intact).count();
                Ok(Reply {
                    message: format!("{} captures of {id}, {broken} not intact", evidence.captures.len()),
                    data: json!(evidence),
                })
            }
        }
    }

    /// A reply to a paging text (End User Messaging SMS's inbound notification): with a code
    /// issued to the person whose number sent it, it acknowledges as them, once. From any other
    /// number it is refused and the refusal goes on the incident's timeline.
    pub async fn sms_reply(&self, message: &str, now: DateTime<Utc>) -> Result<Reply, CommandError> {
        let reply = SmsReply::parse(message).map_err(Refusal::Invalid)?;
        let Some(code) = reply.code() else {
            return Err(Refusal::Invalid("the reply carries no acknowledgement code".into()).into());
        };
        let hash = page_reply::code_hash(&code);
        let Some(issued) = self.store.find(&hash).await? else {
            return Err(Refusal::NotFound("no such acknowledgement code (used, expired or mistyped)".into()).into());
        };
        let catalog = self.catalog.load().await?;
        let caller = match page_reply::sender(&reply, &issued, &catalog) {
            Ok(caller) => caller,
            Err(refusal) => {
                let key = format!(
                    "sms-refused-{}",
                    &page_reply::code_hash(&format!("{hash}{}", reply.origination_number))[..12]
                );
                let entry = Entry::system("commands", EntryKind::Note, key, refusal.to_string());
                run_step(&self.store, &issued.incident, |_| Ok(vec![entry.clone()])).await?;
                tracing::warn!(incident = %issued.incident, person = %issued.person, "SMS acknowledgement from another number refused");
                return Err(refusal.into());
            }
        };
        let reply_entry = Entry::system(
            "commands",
            EntryKind::Note,
            "sms-acknowledgement",
            format!(
                "{} acknowledged by replying to the page by SMS ({})",
                issued.person,
                page_reply::masked(&reply.origination_number)
            ),
        );
        // Acknowledged first, the code used up after: a failure in between leaves the code for
        // Lambda's retry (or the dead-letter queue), never an acknowledgement lost with its code.
        let answer = self
            .handle(Request::Incident(issued.incident.clone(), Command::Ack), &caller, now)
            .await;
        if matches!(answer, Err(CommandError::Port(_))) {
            return answer;
        }
        if answer.is_ok() {
            run_step(&self.store, &issued.incident, |_| Ok(vec![reply_entry.clone()])).await?;
        }
        self.store.redeem(&hash).await?;
        answer
    }

    pub async fn handle(&self, request: Request, caller: &Caller, now: DateTime<Utc>) -> Result<Reply, CommandError> {
        match request {
            Request::Incident(id, command) => {
                let catalog = self.catalog.load().await?;
                let Decided { effects, mut reply } =
                    run_command(&self.store, &catalog, &id, &command, caller, now).await?;
                tracing::info!(incident = %id, caller = %caller.arn, command = command_name(&command), "command applied");
                self.follow_through(&id, &effects, &mut reply).await?;
                Ok(reply)
            }
            Request::Report(report) => {
                let report = command::report(&report, caller, now)?;
                self.bus.submit(&report).await?;
                Ok(Reply {
                    message: format!("customer impact on {} reported as {}", report.service, report.report_id),
                    data: json!(report),
                })
            }
            Request::Silence(request) => {
                let catalog = self.catalog.load().await?;
                let silence = noise::decide(&request, &catalog, caller, now)?;
                self.catalog.put_silence(&silence).await?;
                tracing::info!(caller = %caller.arn, silence = %silence.id, service = %silence.service, "silence stored");
                let entry = noise::timeline_entry(&silence, now);
                for incident in self.store.live().await?.iter().filter(|i| noise::concerns(&silence, i)) {
                    run_step(&self.store, &incident.id, |_| Ok(vec![entry.clone()])).await?;
                }
                let message = match &silence.lifted_by {
                    Some(_) => format!("{} lifted: {} pages again", silence.id, silence.service),
                    None => format!(
                        "{} silenced until {} ({}): its alarms page nobody; customer reports still do",
                        silence.service,
                        silence.until.format("%Y-%m-%d %H:%M UTC"),
                        silence.id
                    ),
                };
                Ok(Reply {
                    message,
                    data: json!(silence),
                })
            }
            Request::Learning(command) => {
                use incident_core::learning::{self, Decided};
                let catalog = self.catalog.load().await?;
                match learning::decide(&command, &catalog, caller, now)? {
                    Decided::Learning(l) => {
                        if !self.catalog.put_learning(&l).await? {
                            return Err(Refusal::Refused(format!(
                                "{} changed while this was decided: look again (incidentctl learning show {})",
                                l.id, l.id
                            ))
                            .into());
                        }
                        tracing::info!(caller = %caller.arn, learning = %l.id, level = %l.level(), "learning stored");
                        let message = match (&command, l.action()) {
                            (learning::LearningCommand::Done { .. }, Some(item)) => {
                                format!(
                                    "{}'s central change {} is done: validated by {}",
                                    l.id, item.id, caller.name
                                )
                            }
                            (_, Some(item)) => format!(
                                "{} is a central change: {} owns {} (long-term, due {})",
                                l.id,
                                item.owner,
                                item.id,
                                item.due.format("%Y-%m-%d")
                            ),
                            (_, None) => format!("{} ({}) is at {}", l.id, l.category, l.level()),
                        };
                        Ok(Reply {
                            message,
                            data: json!(l),
                        })
                    }
                    Decided::Answer(a) => {
                        self.catalog.put_orr_answer(&a).await?;
                        Ok(Reply {
                            message: format!("{} answered {}'s readiness question", a.service, a.learning),
                            data: json!(a),
                        })
                    }
                }
            }
            Request::Override(command) => {
                use incident_core::oncall::{self, OverrideCommand};
                let catalog = self.catalog.load().await?;
                let o = match &command {
                    OverrideCommand::Add(request) => oncall::decide_override(request, &catalog, caller, now)?,
                    OverrideCommand::Lift { id } => oncall::decide_lift(id, &catalog, caller, now)?,
                };
                self.catalog.put_override(&o).await?;
                tracing::info!(caller = %caller.arn, team = %o.team, "on-call override stored");
                if let Some(by) = &o.lifted_by {
                    return Ok(Reply {
                        message: format!(
                            "{} lifted by {by}: {}'s {} follows its rotations again",
                            o.id.as_deref().unwrap_or_default(),
                            o.team,
                            o.layer.as_deref().unwrap_or_default()
                        ),
                        data: json!(o),
                    });
                }
                Ok(Reply {
                    message: format!(
                        "{} holds {}'s {} from {} to {} ({})",
                        o.user,
                        o.team,
                        o.layer.as_deref().unwrap_or_default(),
                        o.from.format("%Y-%m-%d %H:%M UTC"),
                        o.to.format("%Y-%m-%d %H:%M UTC"),
                        o.id.as_deref().unwrap_or_default()
                    ),
                    data: json!(o),
                })
            }
            Request::Catalog(catalog) => {
                catalog.validate().map_err(|e| Refusal::Invalid(e.to_string()))?;
                let summary = self.catalog.import(&catalog).await?;
                tracing::info!(caller = %caller.arn, services = summary.services, "catalog imported");
                Ok(Reply {
                    message: format!(
                        "catalog imported: {} services, {} teams ({} stale entries removed)",
                        summary.services, summary.teams, summary.removed
                    ),
                    data: json!(summary),
                })
            }
        }
    }

    /// After the records are written: the waiting tasks, the events, the follow-ups.
    async fn follow_through(&self, id: &IncidentId, effects: &Effects, reply: &mut Reply) -> Result<(), CommandError> {
        for completion in &effects.complete {
            let key = completion.task.key();
            // A token not kept yet is completed by the lifecycle itself when it keeps it.
            let Some(token) = self.store.take(id, &key).await? else {
                continue;
            };
            if let Err(e) = self.callbacks.complete(&token, &completion.output).await {
                // Put it back so that a retry, or the lifecycle, can still complete it.
                self.store.keep(id, &key, &token).await?;
                return Err(e.into());
            }
        }
        for event in &effects.events {
            self.bus.emit(event).await?;
        }
        let acknowledged = effects
            .events
            .iter()
            .any(|e| matches!(e, AppEvent::IncidentAcknowledged { .. }));
        if let Some(incident) = effects.incident.as_ref().filter(|_| acknowledged) {
            if let Some(secs) = incident.time_to_acknowledge_secs() {
                incident_aws::metrics::emit("TimeToAcknowledge", secs, incident);
            }
        }
        for follow_up in &effects.follow_ups {
            match follow_up {
                FollowUp::CaptureEvidence => reply.data = self.functions.capture(id).await?,
                FollowUp::PublishCoe { completed } => self.publish(id, *completed, effects, reply).await?,
            }
        }
        Ok(())
    }

    async fn publish(
        &self,
        id: &IncidentId,
        completed: bool,
        effects: &Effects,
        reply: &mut Reply,
    ) -> Result<(), CommandError> {
        let republish = effects.new_action.is_some() || effects.closed_action.is_some();
        let published = match self.functions.publish(id).await {
            Ok(published) => published,
            // The item itself is recorded; only the document and tickets lag behind.
            Err(e) if republish => {
                reply.message.push_str(&format!(
                    "; warning: the COE document and tickets were not updated ({e}): incidentctl coe publish {id}"
                ));
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        if completed {
            let summary: PostmortemSummary = serde_json::from_value(published["postmortem"].clone())
                .map_err(|e| PortError::Invalid(format!("the postmortem function answered unexpectedly: {e}")))?;
            self.bus.emit(&AppEvent::PostmortemCompleted(summary)).await?;
        }
        if !republish {
            reply.data = published;
        }
        Ok(())
    }
}

fn command_name(command: &Command) -> String {
    serde_json::to_value(command)
        .ok()
        .and_then(|v| v["command"].as_str().map(str::to_string))
        .unwrap_or_default()
}
