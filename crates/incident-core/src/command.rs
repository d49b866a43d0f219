//! What people ask of an incident, and the rules that answer. Every human action that changes an
//! incident arrives here through the command API as a [`Command`], with the caller the API's IAM
//! authoriser verified; [`decide`] returns either a [`Refusal`] a person can act on or the
//! [`Effects`] to apply. No client applies a rule of its own.

use crate::actions::{action_id, ActionItem, Term};
use crate::app_event::AppEvent;
use crate::approval::{approvers_of, decide_for, decided_output, withdrawn_output, Approval, Caller, Request};
use crate::catalog::Catalog;
use crate::coe::{self, Authored, Record};
use crate::effects::{Completion, Effects, FollowUp, Waiting};
use crate::event::CustomerReport;
use crate::incident::{Incident, Status};
use crate::resolution::{self, Attested};
use crate::signal::Signal;
use crate::timeline::{validate_link, Entry, EntryKind};
use crate::updates;
use crate::whys::Tree;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A person's command on one incident: the body of `POST /incidents/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// I am on it: stops escalation.
    Ack,
    Note {
        text: String,
        #[serde(default)]
        links: Vec<String>,
    },
    /// Approve the pending mitigation: the offered candidate unless another is named.
    Approve {
        /// The approval the person saw (from the page or `Approval Requested`): refused if a newer
        /// one replaced it meanwhile.
        #[serde(default)]
        approval_id: Option<String>,
        #[serde(default)]
        candidate: Option<usize>,
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        confirm_roll_forward: bool,
        /// Values for the runbook parameters the plan left as `<…>`.
        #[serde(default)]
        parameters: BTreeMap<String, String>,
    },
    Reject {
        #[serde(default)]
        approval_id: Option<String>,
        #[serde(default)]
        reason: Option<String>,
    },
    /// A mitigation done by hand; recovery is still confirmed by the alarms.
    Mitigate {
        note: String,
        #[serde(default)]
        links: Vec<String>,
    },
    /// Publish a customer update: `text`, or the generic first draft.
    Update {
        #[serde(default)]
        text: Option<String>,
    },
    /// Answer risk-of-recurrence question `n` (1-based, as the checklist lists it).
    AnswerCheck {
        n: usize,
        text: String,
    },
    CustomersRecovered {
        how: String,
    },
    /// Resolve once the closing checklist holds, or with `force_reason` recorded as an override.
    Resolve {
        #[serde(default)]
        summary: Option<String>,
        #[serde(default)]
        force_reason: Option<String>,
    },
    WhyAdd {
        #[serde(default)]
        parent: Option<String>,
        text: String,
        /// A category of [`crate::category::Category`], by name; without one, the reply suggests one.
        #[serde(default)]
        category: Option<String>,
    },
    WhyAccept {
        node: String,
        reason: String,
    },
    /// Classes a factor already in the tree (`none` unclasses it).
    WhyCategorise {
        node: String,
        category: String,
    },
    ActionAdd {
        term: String,
        owner: String,
        #[serde(default)]
        due: Option<DateTime<Utc>>,
        #[serde(default)]
        why: Option<String>,
        text: String,
    },
    /// Close an action item with how it was proven.
    ActionDone {
        item: String,
        validation: String,
    },
    CoeImpact {
        text: String,
    },
    CoeLearning {
        text: String,
    },
    CoeRca {
        text: String,
    },
    /// Answers to the dependency review's four questions; `None` keeps an earlier answer.
    CoeDependency {
        dependency: String,
        answers: [Option<String>; 4],
    },
    /// Rewrite the COE document and open the tickets still missing.
    CoePublish,
    /// Mark the COE complete: refused while `coe check` finds anything missing.
    CoeComplete,
    /// Capture evidence now (it counts as the final capture).
    CaptureEvidence,
}

impl Command {
    /// True when deciding needs the incident's whole record (timeline and signals), not just its
    /// state: completing a COE, which checks every section, and adding a why without a category,
    /// whose category is suggested from the signals too.
    pub fn needs_record(&self) -> bool {
        matches!(self, Command::CoeComplete | Command::WhyAdd { category: None, .. })
    }
}

/// Why a command was not carried out, in words a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "items", rename_all = "snake_case")]
pub enum Refusal {
    /// A rule said no (already acknowledged, not an approver, closed …).
    #[error("{0}")]
    Refused(String),
    /// The closing checklist is not met: these items are missing.
    #[error("{}", resolution::Refused::Missing(.0.clone()))]
    Checklist(Vec<String>),
    /// Nothing of that name (incident, action item, node, approval).
    #[error("{0}")]
    NotFound(String),
    /// The request itself is malformed (empty text, bad link, unknown term).
    #[error("{0}")]
    Invalid(String),
}

/// What the command did, for the person who asked: one line, and the data for `--output json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub message: String,
    #[serde(default)]
    pub data: Value,
}

/// The decision: what to apply, and what to tell the caller once it is applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Decided {
    pub effects: Effects,
    pub reply: Reply,
}

/// What a command is decided on: the incident and its postmortem records as they stand.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub incident: Option<Incident>,
    pub actions: Vec<ActionItem>,
    pub whys: Tree,
    pub authored: Authored,
    /// The incident's newest mitigation approval, decided or not.
    pub approval: Option<Approval>,
    /// Loaded only when [`Command::needs_record`].
    pub timeline: Vec<Entry>,
    pub signals: Vec<Signal>,
}

fn refused(text: impl Into<String>) -> Refusal {
    Refusal::Refused(text.into())
}

fn invalid(text: impl Into<String>) -> Refusal {
    Refusal::Invalid(text.into())
}

fn required(text: &str, what: &str) -> Result<String, Refusal> {
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid(format!("{what} needs text")));
    }
    Ok(text.to_string())
}

fn links_ok(links: &[String]) -> Result<(), Refusal> {
    links
        .iter()
        .try_for_each(|l| validate_link(l).map_err(Refusal::Invalid))
}

fn open(incident: &Incident) -> Result<(), Refusal> {
    if incident.status.is_closed() {
        return Err(refused(format!(
            "{} is {}: it takes no more changes",
            incident.id, incident.status
        )));
    }
    Ok(())
}

fn minutes(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s => format!("{} min", s / 60),
    }
}

/// Decides a command on an incident.
pub fn decide(
    command: &Command,
    state: &State,
    catalog: &Catalog,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<Decided, Refusal> {
    let incident = state
        .incident
        .as_ref()
        .ok_or_else(|| Refusal::NotFound("no such incident".into()))?;
    let mut d = Decision {
        effects: Effects::default(),
        caller,
        now,
        incident,
    };
    let reply = match command {
        Command::Ack => d.ack()?,
        Command::Note { text, links } => {
            let text = required(text, "a note")?;
            links_ok(links)?;
            d.entry(EntryKind::Note, text, links);
            reply("noted", Value::Null)
        }
        Command::Approve {
            approval_id,
            candidate,
            reason,
            confirm_roll_forward,
            parameters,
        } => {
            open(incident)?;
            let approval = pending(state, incident, approval_id.as_deref())?;
            let request = Request {
                approve: true,
                candidate: candidate.unwrap_or(approval.offered),
                confirm_roll_forward: *confirm_roll_forward,
                reason: reason.clone(),
                parameters: parameters.clone(),
            };
            d.decide_approval(approval, catalog, request)?
        }
        Command::Reject { approval_id, reason } => {
            open(incident)?;
            let approval = pending(state, incident, approval_id.as_deref())?;
            let request = Request {
                approve: false,
                candidate: approval.offered,
                confirm_roll_forward: false,
                reason: reason.clone(),
                parameters: BTreeMap::new(),
            };
            d.decide_approval(approval, catalog, request)?
        }
        Command::Mitigate { note, links } => {
            let note = required(note, "a manual mitigation")?;
            links_ok(links)?;
            open(incident)?;
            let mut changed = incident.clone();
            changed
                .mitigated_by
                .get_or_insert_with(|| format!("manual: {}", caller.name));
            d.effects.incident = Some(changed);
            d.entry(EntryKind::Mitigation, format!("manual mitigation: {note}"), links);
            // The recovery wait looks again now (an incident without alarms recovers by this).
            d.effects.complete.push(Completion {
                task: Waiting::Recovery,
                output: json!({ "manual_mitigation": caller.name }),
            });
            reply(
                "recorded; recovery is confirmed when every alarm is back to OK",
                Value::Null,
            )
        }
        Command::Update { text } => d.update(text.as_deref())?,
        Command::AnswerCheck { n, text } => {
            let mut changed = incident.clone();
            let question = resolution::answer_check(&mut changed, *n, text, &caller.name, now)
                .map_err(|e| refused(e.to_string()))?;
            d.effects.incident = Some(changed);
            let said = format!("risk of recurrence {n} answered: {question} — {}", text.trim());
            d.entry(EntryKind::Closing, said.clone(), &[]);
            reply(said, Value::Null)
        }
        Command::CustomersRecovered { how } => {
            let mut changed = incident.clone();
            resolution::confirm_customers_recovered(&mut changed, how, &caller.name, now)
                .map_err(|e| refused(e.to_string()))?;
            d.effects.incident = Some(changed);
            let said = format!("customers confirmed recovered: {}", how.trim());
            d.entry(EntryKind::Closing, said.clone(), &[]);
            reply(said, Value::Null)
        }
        Command::Resolve { summary, force_reason } => d.resolve(state, summary.as_deref(), force_reason.as_deref())?,
        Command::WhyAdd { parent, text, category } => {
            let category = category
                .as_deref()
                .map(crate::category::Category::parse)
                .transpose()
                .map_err(refused)?;
            let mut whys = state.whys.clone();
            let node = whys
                .add_categorised(parent.as_deref(), text, category)
                .map_err(|e| refused(e.to_string()))?;
            d.effects.whys = Some(whys);
            let said = match (category, crate::category::Category::suggest(text, &state.signals)) {
                (Some(c), _) => format!("added {node} ({c})"),
                (None, Some(s)) => {
                    format!("added {node}; its category may be {s} (incidentctl why ID categorise {node} {s})")
                }
                (None, None) => format!("added {node}"),
            };
            reply(said, json!({ "node": node, "category": category }))
        }
        Command::WhyCategorise { node, category } => {
            let category = match category.trim() {
                "none" => None,
                name => Some(crate::category::Category::parse(name).map_err(refused)?),
            };
            let mut whys = state.whys.clone();
            whys.categorise(node, category)
                .map_err(|e| Refusal::NotFound(e.to_string()))?;
            d.effects.whys = Some(whys);
            let said = match category {
                Some(c) => format!("{node} is a {c} factor"),
                None => format!("{node} has no category"),
            };
            reply(said, json!({ "node": node, "category": category }))
        }
        Command::WhyAccept { node, reason } => {
            let reason = required(reason, "accepting a risk")?;
            let mut whys = state.whys.clone();
            whys.accept_risk(node, &reason)
                .map_err(|e| Refusal::NotFound(e.to_string()))?;
            d.effects.whys = Some(whys);
            reply(
                format!("{node}: risk accepted"),
                json!({ "node": node, "accepted_risk": reason }),
            )
        }
        Command::ActionAdd {
            term,
            owner,
            due,
            why,
            text,
        } => {
            let term = Term::parse(term)
                .ok_or_else(|| invalid(format!("the term must be short, mid or long, not '{term}'")))?;
            if let Some(node) = why {
                if !state.whys.nodes.iter().any(|n| &n.id == node) {
                    return Err(Refusal::NotFound(format!(
                        "no five-whys node {node} in {}",
                        incident.id
                    )));
                }
            }
            let id = action_id(&incident.id, state.actions.len() + 1);
            let mut item = ActionItem::new(id, term, owner, text, *due, now).map_err(|e| invalid(e.to_string()))?;
            item.why = why.clone();
            let message = format!(
                "added {} ({}, {}, due {})",
                item.id,
                item.term,
                item.owner,
                item.due.format("%Y-%m-%d")
            );
            let data = serde_json::to_value(&item).unwrap_or_default();
            d.effects.new_action = Some(item);
            d.republish_if_published();
            reply(message, data)
        }
        Command::ActionDone { item, validation } => {
            let mut action = state
                .actions
                .iter()
                .find(|a| &a.id == item)
                .cloned()
                .ok_or_else(|| Refusal::NotFound(format!("no action item {item}")))?;
            action
                .close(validation, &caller.name, now)
                .map_err(|e| refused(e.to_string()))?;
            let message = format!("{} closed by {}", action.id, caller.name);
            let data = serde_json::to_value(&action).unwrap_or_default();
            d.effects.closed_action = Some(action);
            d.republish_if_published();
            reply(message, data)
        }
        Command::CoeImpact { text } => {
            let text = required(text, "the impact summary")?;
            d.author(state, "impact summary written", |a| a.impact_summary = Some(text))
        }
        Command::CoeLearning { text } => {
            let text = required(text, "a learning")?;
            d.author(state, "learning added", |a| a.learnings.push(text))
        }
        Command::CoeRca { text } => {
            let text = required(text, "the customer-facing RCA")?;
            d.author(state, "customer-facing RCA written", |a| a.customer_rca = Some(text))
        }
        Command::CoeDependency { dependency, answers } => {
            if answers.iter().all(|a| a.as_deref().is_none_or(|a| a.trim().is_empty())) {
                return Err(invalid(
                    "answer at least one of --as-promised, --our-use, --foreseeable, --degrade",
                ));
            }
            let deps = coe::dependencies_of(catalog, incident);
            if !deps.contains(dependency) {
                let known = if deps.is_empty() {
                    "(none recorded)".to_string()
                } else {
                    deps.join(", ")
                };
                return Err(Refusal::NotFound(format!(
                    "{dependency} is not a catalog dependency of {}: review one of {known}",
                    incident.services.join(", ")
                )));
            }
            let what = format!("dependency review of {dependency} answered");
            d.author(state, &what, |a| a.answer_dependency(dependency, answers.clone()))
        }
        Command::CoePublish => {
            d.effects.follow_ups.push(FollowUp::PublishCoe { completed: false });
            reply("COE published", Value::Null)
        }
        Command::CoeComplete => d.complete_coe(state, catalog)?,
        Command::CaptureEvidence => {
            d.effects.follow_ups.push(FollowUp::CaptureEvidence);
            reply("evidence captured", Value::Null)
        }
    };
    Ok(Decided {
        effects: d.effects,
        reply,
    })
}

fn reply(message: impl Into<String>, data: Value) -> Reply {
    Reply {
        message: message.into(),
        data,
    }
}

/// The approval a decision is about: the newest, and the one the person named if they named one.
fn pending<'a>(state: &'a State, incident: &Incident, named: Option<&str>) -> Result<&'a Approval, Refusal> {
    let newest = state
        .approval
        .as_ref()
        .ok_or_else(|| Refusal::NotFound(format!("no mitigation approval is pending for {}", incident.id)))?;
    match named {
        Some(id) if id != newest.id => Err(refused(format!(
            "approval {id} was replaced by {}, which offers candidate {} ({}): decide on that one",
            newest.id, newest.offered, newest.candidates[newest.offered].runbook
        ))),
        _ => Ok(newest),
    }
}

/// A decision being built: the effects so far and what they are about.
struct Decision<'a> {
    effects: Effects,
    caller: &'a Caller,
    now: DateTime<Utc>,
    incident: &'a Incident,
}

impl Decision<'_> {
    /// A timeline entry by the caller.
    fn entry(&mut self, kind: EntryKind, text: String, links: &[String]) {
        let mut entry = Entry::human(&self.caller.name, kind, text, self.now);
        entry.links = links.to_vec();
        entry.key = format!("{}-{}", entry.key, self.effects.timeline.len());
        self.effects.timeline.push(entry);
    }

    fn ack(&mut self) -> Result<Reply, Refusal> {
        let i = self.incident;
        if i.status.is_closed() {
            return Err(refused(format!("{} is {}: nothing to acknowledge", i.id, i.status)));
        }
        if let Some(by) = &i.acknowledged_by {
            let at = i
                .acknowledged_at
                .map(|t| format!(" at {} UTC", t.format("%H:%M")))
                .unwrap_or_default();
            return Err(refused(format!("{} was already acknowledged by {by}{at}", i.id)));
        }
        let mut changed = i.clone();
        changed.acknowledged_at = Some(self.now);
        changed.acknowledged_by = Some(self.caller.name.clone());
        if matches!(changed.status, Status::Open | Status::Triaged | Status::Engaged) {
            changed.status = Status::Acknowledged;
        }
        let after = changed.time_to_acknowledge_secs().map(minutes).unwrap_or_default();
        self.entry(
            EntryKind::Acknowledged,
            format!("acknowledged ({after} after detection); escalation stops"),
            &[],
        );
        self.effects.events.push(AppEvent::IncidentAcknowledged {
            incident_id: i.id.clone(),
            acknowledged_by: self.caller.name.clone(),
            arn: self.caller.arn.clone(),
        });
        self.effects.complete.push(Completion {
            task: Waiting::Acknowledgement,
            output: json!({ "acknowledged_by": self.caller.name }),
        });
        let message = format!("{} acknowledged by {}", i.id, self.caller.name);
        let data = serde_json::to_value(&changed).unwrap_or_default();
        self.effects.incident = Some(changed);
        Ok(reply(message, data))
    }

    fn decide_approval(&mut self, approval: &Approval, catalog: &Catalog, request: Request) -> Result<Reply, Refusal> {
        let scope = self.incident.services.join(", ");
        let approvers = approvers_of(catalog, self.incident);
        let decision = decide_for(approval, &scope, &approvers, self.caller, &request, self.now)
            .map_err(|e| refused(e.to_string()))?;
        let candidate = &approval.candidates[decision.candidate];
        let verb = if decision.approved { "approved" } else { "rejected" };
        let text = format!(
            "{verb} candidate {} ({}) of approval {}{}",
            decision.candidate,
            candidate.runbook,
            approval.id,
            decision.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
        );
        self.entry(EntryKind::Mitigation, text, &[]);
        self.effects.complete.push(Completion {
            task: Waiting::Approval(approval.id.clone()),
            output: decided_output(approval, &decision),
        });
        let message = format!(
            "{verb} candidate {} ({}) as {}",
            decision.candidate, candidate.runbook, decision.by
        );
        let data = serde_json::to_value(&decision).unwrap_or_default();
        let mut decided = approval.clone();
        decided.decision = Some(decision);
        self.effects.approval = Some(decided);
        Ok(reply(message, data))
    }

    fn update(&mut self, text: Option<&str>) -> Result<Reply, Refusal> {
        let mut changed = self.incident.clone();
        let text = text
            .map(str::to_string)
            .unwrap_or_else(|| updates::first_draft(&changed));
        let update = updates::publish(&mut changed, &text, &self.caller.name, self.now)
            .map_err(|e| refused(format!("update not published: {e}")))?;
        self.entry(
            EntryKind::CustomerUpdate,
            format!("customer update {} published: \"{}\"", update.n, update.text),
            &[],
        );
        self.effects.events.push(AppEvent::customer_update(&changed, &update));
        let next = updates::cadence(changed.severity)
            .map(|c| format!("; next one due within {} minutes", c.num_minutes()))
            .unwrap_or_default();
        let message = format!("customer update {} published{next}", update.n);
        let data = serde_json::to_value(&update).unwrap_or_default();
        self.effects.incident = Some(changed);
        Ok(reply(message, data))
    }

    fn resolve(&mut self, state: &State, summary: Option<&str>, force: Option<&str>) -> Result<Reply, Refusal> {
        if self.incident.status == Status::Resolved {
            // Asked again (a retry after a failure once the resolution was written): nothing is
            // written twice, and the waiting tasks are told again in case they were not.
            self.complete_waiting(state, summary);
            let by = self.incident.resolved_by.as_deref().unwrap_or("someone");
            let at = self
                .incident
                .resolved_at
                .map(|t| format!(" at {} UTC", t.format("%H:%M")))
                .unwrap_or_default();
            return Ok(reply(
                format!(
                    "{} was already resolved by {by}{at}; its lifecycle was told again",
                    self.incident.id
                ),
                Value::Null,
            ));
        }
        let mut changed = self.incident.clone();
        resolution::resolve(&mut changed, &state.actions, force, self.caller, self.now).map_err(|r| match r {
            resolution::Refused::Missing(items) => Refusal::Checklist(items),
            resolution::Refused::Rule(text) => refused(text),
        })?;
        let mut text = format!("resolved{}", summary.map(|s| format!(": {s}")).unwrap_or_default());
        if let Some(o) = &changed.resolution_override {
            text.push_str(&format!(
                " — closing checklist OVERRIDDEN ({}); skipped: {}",
                o.reason.text,
                o.missing.join("; ")
            ));
        }
        self.entry(EntryKind::Resolved, text, &[]);
        self.complete_waiting(state, summary);
        let forced = if changed.resolution_override.is_some() {
            " (checklist overridden; recorded)"
        } else {
            ""
        };
        let message = format!(
            "{} resolved by {}{forced}; the COE draft and its tickets follow",
            changed.id, self.caller.name
        );
        let data = serde_json::to_value(&changed).unwrap_or_default();
        self.effects.incident = Some(changed);
        Ok(reply(message, data))
    }

    /// A resolution ends every wait of the lifecycle: the resolution itself, the acknowledgement
    /// and recovery waits, the customer-update loop's sleep, and a mitigation still waiting for a
    /// decision.
    fn complete_waiting(&mut self, state: &State, summary: Option<&str>) {
        if let Some(a) = state.approval.as_ref().filter(|a| a.decision.is_none() && !a.expired) {
            self.effects.complete.push(Completion {
                task: Waiting::Approval(a.id.clone()),
                output: withdrawn_output(Some(&a.id), a.offered),
            });
        }
        let resolved_by = self
            .incident
            .resolved_by
            .clone()
            .unwrap_or_else(|| self.caller.name.clone());
        for task in [
            Waiting::Acknowledgement,
            Waiting::Recovery,
            Waiting::Resolution,
            Waiting::UpdateWindow,
        ] {
            self.effects.complete.push(Completion {
                task,
                output: json!({ "resolved_by": resolved_by, "summary": summary }),
            });
        }
    }

    fn author(&mut self, state: &State, what: &str, change: impl FnOnce(&mut Authored)) -> Reply {
        let mut authored = state.authored.clone();
        change(&mut authored);
        let data = serde_json::to_value(&authored).unwrap_or_default();
        self.effects.authored = Some(authored);
        reply(what, data)
    }

    /// After an action item changed, a published COE gets its tickets and document brought up to date.
    fn republish_if_published(&mut self) {
        if self.incident.postmortem.is_some() {
            self.effects.follow_ups.push(FollowUp::PublishCoe { completed: false });
        }
    }

    fn complete_coe(&mut self, state: &State, catalog: &Catalog) -> Result<Reply, Refusal> {
        let id = &self.incident.id;
        let record = Record {
            incident: self.incident.clone(),
            timeline: state.timeline.clone(),
            whys: state.whys.clone(),
            actions: state.actions.clone(),
            authored: state.authored.clone(),
            dependencies: coe::dependencies_of(catalog, self.incident),
            signals: state.signals.clone(),
        };
        let gaps = coe::gaps(&record, self.now);
        if !gaps.is_empty() {
            let list: String = gaps.iter().map(|g| format!("\n  - {g}")).collect();
            return Err(refused(format!("the COE of {id} is not complete:{list}")));
        }
        let mut changed = self.incident.clone();
        let Some(pm) = changed.postmortem.as_mut() else {
            return Err(refused(format!(
                "{id} has no published COE yet (it is written on resolution): incidentctl coe publish {id}"
            )));
        };
        if pm.completed.is_none() {
            pm.completed = Some(Attested {
                text: "coe check found nothing missing".into(),
                by: self.caller.name.clone(),
                at: self.now,
            });
            self.effects.incident = Some(changed);
            self.entry(EntryKind::Closing, "COE marked complete".into(), &[]);
        }
        // Already complete (an earlier run failed later): publish and announce again.
        self.effects.follow_ups.push(FollowUp::PublishCoe { completed: true });
        Ok(reply(
            format!("COE of {id} complete; its ticket is resolved"),
            Value::Null,
        ))
    }
}

/// A customer impact report as support files it: the reporter is the verified caller, never a
/// name in the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRequest {
    pub service: String,
    pub summary: String,
    #[serde(default)]
    pub link: Option<String>,
    /// A stable id (the support case): resubmitting it never opens a second incident.
    #[serde(default)]
    pub report_id: Option<String>,
}

/// Checks a report and makes the event ingest receives.
pub fn report(request: &ReportRequest, caller: &Caller, now: DateTime<Utc>) -> Result<CustomerReport, Refusal> {
    let service = required(&request.service, "the service")?;
    let summary = required(&request.summary, "what customers see")?;
    if let Some(link) = &request.link {
        validate_link(link).map_err(Refusal::Invalid)?;
    }
    let report = CustomerReport {
        service,
        summary,
        reporter: Some(caller.name.clone()),
        link: request.link.clone(),
        report_id: request
            .report_id
            .clone()
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| format!("{}-{}", caller.name.replace('/', "-"), now.timestamp_millis())),
        impact_started_at: None,
    };
    // Ingest's own parser: what it would refuse, the caller hears about now.
    crate::event::check_report(&report, now).map_err(|e| Refusal::Invalid(format!("the report: {e}")))?;
    Ok(report)
}
