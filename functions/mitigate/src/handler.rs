//! The mitigation steps of the lifecycle, selected by `action`. Task tokens arrive only in
//! `request_approval`, go straight to the store, and are never logged, paged or published.

use chrono::Utc;
use incident_aws::lambda::HandlerError;
use incident_aws::metrics;
use incident_core::app_event::{AppEvent, Summary};
use incident_core::approval::{approvers_of, withdrawn_output, Approval};
use incident_core::change::{self, Change};
use incident_core::correlation::Space;
use incident_core::effects::Waiting;
use incident_core::evidence::{self, Manifest};
use incident_core::mitigation::{self, client_token, Candidate, RunbookStatus};
use incident_core::ports::{
    append, complete_if_done, keep_waiting, run_step, signals_with_members, Approvals, CatalogSource, ChangeLog,
    EvidenceStore, IncidentStore, Notifier, RunbookRunner, TaskCallbacks, Tokens,
};
use incident_core::reconcile;
use incident_core::timeline::{Entry, EntryKind};
use incident_core::IncidentId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct Deps<S, C, N, E, R, K> {
    pub store: S,
    pub catalog: C,
    pub bus: N,
    pub evidence: E,
    pub runbooks: R,
    pub callbacks: K,
    pub stabilisation: chrono::TimeDelta,
    /// The stack's account and region: runbooks act there, or in one member account the catalog
    /// opens to them (`mitigation::runbook_place`).
    pub home: incident_core::account::Home,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Input {
    /// Rank candidates from the signals and the changes: those recorded as they happened, then
    /// what the latest evidence capture found in CloudTrail besides.
    Plan { incident_id: IncidentId },
    /// Store an approval for `candidates[offset]` with the callback token, and ask the approvers.
    RequestApproval {
        incident_id: IncidentId,
        token: String,
        candidates: Vec<Candidate>,
        offset: usize,
    },
    /// Nobody decided in time: escalate to incident response; the lifecycle asks again.
    ApprovalTimedOut {
        incident_id: IncidentId,
        /// When this lifecycle run started: past its span, the run continues in a fresh one.
        #[serde(default)]
        run_started: Option<chrono::DateTime<Utc>>,
    },
    /// Start the approved candidate's runbook, once (idempotent client token).
    StartRunbook {
        incident_id: IncidentId,
        approval_id: String,
        candidate: usize,
    },
    /// The runbook wait: keep its task token until SSM's status-change event says the execution
    /// ended (or it ended already).
    AwaitRunbook {
        incident_id: IncidentId,
        execution_id: String,
        token: String,
    },
    /// The runbook wait's fallback, should an event be lost: where the execution stands (asked
    /// where the incident's runbook started).
    PollRunbook {
        /// The lifecycle's incident (older lifecycles did not pass it: then the wait's record).
        #[serde(default)]
        incident_id: Option<IncidentId>,
        execution_id: String,
    },
    /// Record how the runbook ended.
    RunbookFinished {
        incident_id: IncidentId,
        execution_id: String,
        runbook: String,
        status: RunbookStatus,
    },
    /// The recovery wait: keep its task token until nothing alarms any more (`Alarm Recovered`),
    /// a manual mitigation or a resolution completes it.
    AwaitRecovery { incident_id: IncidentId, token: String },
    /// Are all the incident's alarms back to OK, and stable?
    CheckRecovery {
        incident_id: IncidentId,
        /// When this lifecycle run started: past its span, the run continues in a fresh one.
        #[serde(default)]
        run_started: Option<chrono::DateTime<Utc>>,
    },
}

/// What invokes the function: a lifecycle step, or an `Alarm Recovered` event's detail.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Invocation {
    Step(Input),
    AlarmRecovered {
        incident_id: IncidentId,
        alarm: String,
    },
    /// The detail of SSM's `EC2 Automation Execution Status-change Notification`.
    RunbookStatusChanged {
        #[serde(rename = "ExecutionId")]
        execution_id: String,
        #[serde(rename = "Status")]
        status: String,
    },
}

/// What each step answers; the state machine reads these fields by name.
#[derive(Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Output {
    Planned {
        plan: Box<mitigation::Plan>,
        count: usize,
        offset: usize,
    },
    /// An approval was asked for; none when the incident was closed first (and mitigation ends).
    Requested {
        approval_id: Option<String>,
        closed: bool,
    },
    TimedOut {
        closed: bool,
        /// This run reached its span: the lifecycle continues in a fresh run.
        continue_lifecycle: bool,
    },
    Started {
        execution_id: String,
        runbook: String,
    },
    Polled(RunbookStatus),
    Finished {
        succeeded: bool,
    },
    Recovery {
        recovered: bool,
        closed: bool,
        still_alarming: Vec<String>,
        stabilising: Vec<String>,
        /// Nothing alarms but some alarms are stabilising: check again after this long (else 0).
        stable_in_seconds: i64,
        /// Not recovered, and this run reached its span: the lifecycle continues in a fresh run.
        continue_lifecycle: bool,
    },
    /// A wait's token is kept (or the wait completed at once).
    Kept {
        completed: bool,
    },
}

impl<S, C, N, E, R, K> Deps<S, C, N, E, R, K>
where
    S: IncidentStore + Approvals + Tokens + ChangeLog,
    C: CatalogSource,
    N: Notifier,
    E: EvidenceStore,
    R: RunbookRunner,
    K: TaskCallbacks,
{
    pub async fn invoked(&self, invocation: Invocation) -> Result<Output, HandlerError> {
        match invocation {
            Invocation::Step(input) => self.handle(input).await,
            Invocation::AlarmRecovered { incident_id, alarm } => {
                // The incident's own wait, and a multi-service event's it is linked into.
                let incident = self.store.incident(&incident_id).await?;
                let mut completed = false;
                for id in std::iter::once(&incident_id).chain(incident.parent.as_ref()) {
                    completed |= complete_if_done(&self.store, &self.callbacks, id, &Waiting::Recovery).await?;
                }
                tracing::info!(incident = %incident_id, %alarm, completed, "alarm recovered");
                Ok(Output::Kept { completed })
            }
            Invocation::RunbookStatusChanged { execution_id, status } => {
                // Not one of ours (or its wait is over): nothing to do.
                let Some(incident_id) = self.store.runbook_incident(&execution_id).await? else {
                    return Ok(Output::Kept { completed: false });
                };
                let completed = self.end_runbook_wait(&incident_id, &execution_id).await?;
                tracing::info!(incident = %incident_id, %execution_id, %status, completed, "runbook status changed");
                Ok(Output::Kept { completed })
            }
        }
    }

    pub async fn handle(&self, input: Input) -> Result<Output, HandlerError> {
        match input {
            Input::Plan { incident_id } => self.plan(incident_id).await,
            Input::RequestApproval {
                incident_id,
                token,
                candidates,
                offset,
            } => self.request_approval(incident_id, &token, candidates, offset).await,
            Input::ApprovalTimedOut {
                incident_id,
                run_started,
            } => {
                let continuing = run_started.is_some_and(|s| reconcile::should_continue(s, Utc::now()));
                match self.approval_timed_out(incident_id).await? {
                    Output::TimedOut { closed, .. } => Ok(Output::TimedOut {
                        closed,
                        continue_lifecycle: continuing && !closed,
                    }),
                    other => Ok(other),
                }
            }
            Input::StartRunbook {
                incident_id,
                approval_id,
                candidate,
            } => self.start_runbook(incident_id, &approval_id, candidate).await,
            Input::AwaitRunbook {
                incident_id,
                execution_id,
                token,
            } => {
                let task = Waiting::Runbook(execution_id.clone());
                self.store.keep(&incident_id, &task.key(), &token).await?;
                self.store.keep_runbook(&execution_id, &incident_id).await?;
                // Kept first, looked at second: an execution that ended in between is not missed.
                let completed = self.end_runbook_wait(&incident_id, &execution_id).await?;
                Ok(Output::Kept { completed })
            }
            Input::PollRunbook {
                incident_id,
                execution_id,
            } => {
                let id = match incident_id {
                    Some(id) => Some(id),
                    None => self.store.runbook_incident(&execution_id).await?,
                };
                Ok(Output::Polled(self.runbook_status(id.as_ref(), &execution_id).await?))
            }
            Input::RunbookFinished {
                incident_id,
                execution_id,
                runbook,
                status,
            } => {
                let value = serde_json::to_value(&status).unwrap_or_default();
                let name = value["status"].as_str().unwrap_or("unknown").to_string();
                let detail = value
                    .get("reason")
                    .or(value.get("outputs"))
                    .cloned()
                    .unwrap_or(Value::Null);
                let rehearsed = mitigation::is_rehearsal(&execution_id);
                let text = if rehearsed {
                    format!("runbook {runbook} rehearsed ({execution_id}): nothing ran")
                } else {
                    format!("runbook {runbook} ({execution_id}) finished: {name} {detail}")
                };
                let entry = Entry::system(
                    "mitigate",
                    EntryKind::Mitigation,
                    format!("runbook-done-{execution_id}"),
                    text,
                );
                append(&self.store, &incident_id, vec![entry]).await?;
                let succeeded = matches!(status, RunbookStatus::Success { .. });
                // A rehearsal started nothing, so nothing finished for the world to hear of.
                if !rehearsed {
                    let event = AppEvent::RunbookFinished {
                        incident_id,
                        execution_id,
                        runbook,
                        result: status,
                    };
                    self.bus.emit(&event).await?;
                }
                Ok(Output::Finished { succeeded })
            }
            Input::AwaitRecovery { incident_id, token } => {
                // From here a later run of the lifecycle plans nothing again.
                let now = Utc::now();
                run_step(&self.store, &incident_id, |i| {
                    i.recovery_watch_since.get_or_insert(now);
                    Ok(vec![])
                })
                .await?;
                keep_waiting(&self.store, &self.callbacks, &incident_id, &Waiting::Recovery, &token).await?;
                Ok(Output::Kept { completed: false })
            }
            Input::CheckRecovery {
                incident_id,
                run_started,
            } => self.check_recovery(incident_id, run_started).await,
        }
    }

    /// The changes recorded as they happened for the incident's services, from the hour before
    /// its impact started until now.
    async fn recorded_changes(
        &self,
        incident: &incident_core::incident::Incident,
    ) -> Result<Vec<Change>, HandlerError> {
        let from = incident.impact_started_at - mitigation::CHANGE_WINDOW;
        let mut out = Vec::new();
        for service in &incident.services {
            let space = Space::of(incident.exercise);
            out.extend(self.store.changes(space, service, from, Utc::now()).await?);
        }
        Ok(out)
    }

    /// The changes of the incident's latest evidence capture (none if nothing was captured).
    async fn latest_changes(&self, id: &IncidentId) -> Result<Vec<Change>, HandlerError> {
        let manifests = evidence::manifest_keys(self.evidence.list(&evidence::prefix(id)).await?);
        let Some(key) = manifests.last() else {
            return Ok(Vec::new());
        };
        let Some(bytes) = self.evidence.get(key).await? else {
            return Ok(Vec::new());
        };
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| HandlerError::InvalidInput(e.to_string()))?;
        let Some(object) = manifest.objects.iter().find(|o| o.source == evidence::CHANGES) else {
            return Ok(Vec::new());
        };
        let Some(body) = self.evidence.get(&object.key).await? else {
            return Ok(Vec::new());
        };
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        Ok(serde_json::from_value(body["items"].clone()).unwrap_or_default())
    }

    async fn plan(&self, id: IncidentId) -> Result<Output, HandlerError> {
        let incident = self.store.incident(&id).await?;
        if let Some(plan) = mitigation::nothing_to_plan(&incident) {
            return Ok(Output::Planned {
                count: 0,
                plan: Box::new(plan),
                offset: 0,
            });
        }
        let catalog = self.catalog.load().await?;
        let signals = signals_with_members(&self.store, &incident).await?;
        let members = self.runbooks.reaches_members();
        let place = match mitigation::runbook_place(&incident, &signals, &self.home, &catalog, members) {
            Ok(place) => place,
            Err(plan) => return self.planned(&id, *plan).await,
        };
        let changes = change::merged(
            self.recorded_changes(&incident).await?,
            self.latest_changes(&id).await?,
            &place,
            &self.home,
        );
        let service = incident.services.first().and_then(|s| catalog.service(s));
        let plan = mitigation::plan(service, incident.impact_started_at, &signals, &changes).placed(&place);
        self.planned(&id, plan).await
    }

    /// The plan on the timeline, one line with its candidates, and handed to the lifecycle.
    async fn planned(&self, id: &IncidentId, plan: mitigation::Plan) -> Result<Output, HandlerError> {
        let list: Vec<String> = plan
            .candidates
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{i}) {} — {}", c.runbook, c.rationale))
            .collect();
        let text = if list.is_empty() {
            format!("mitigation plan: {}", plan.summary)
        } else {
            format!("mitigation plan: {} — candidates: {}", plan.summary, list.join("; "))
        };
        append(
            &self.store,
            id,
            vec![Entry::system("mitigate", EntryKind::Mitigation, "plan", text)],
        )
        .await?;
        Ok(Output::Planned {
            count: plan.candidates.len(),
            plan: Box::new(plan),
            offset: 0,
        })
    }

    async fn request_approval(
        &self,
        id: IncidentId,
        token: &str,
        candidates: Vec<Candidate>,
        offset: usize,
    ) -> Result<Output, HandlerError> {
        let candidate = candidates
            .get(offset)
            .cloned()
            .ok_or_else(|| HandlerError::InvalidInput(format!("no candidate {offset}")))?;
        let approval = Approval::new(&id, candidates, offset, token);
        let key = Waiting::Approval(approval.id.clone()).key();
        // The token first, then the status: a resolution that lands in between finds the token
        // kept (and ends the wait itself), or this finds the incident closed.
        self.store.keep(&id, &key, token).await?;
        let incident = self.store.incident(&id).await?;
        if incident.status.is_closed() {
            // Resolved first (or merged): nobody is asked to approve anything, mitigation ends.
            if let Some(token) = self.store.take(&id, &key).await? {
                self.callbacks.complete(&token, &withdrawn_output(None, offset)).await?;
            }
            return Ok(Output::Requested {
                approval_id: None,
                closed: true,
            });
        }
        self.store.request(&approval).await?;
        let catalog = self.catalog.load().await?;
        let approvers = approvers_of(&catalog, &incident);
        let manifest = format!("evidence: incidentctl evidence list {id}");
        let text = format!(
            "approval {} requested from {}: candidate {offset} {} — {}",
            approval.id,
            approvers.join(", "),
            candidate.runbook,
            candidate.rationale
        );
        let entry = Entry::system(
            "mitigate",
            EntryKind::Mitigation,
            format!("approval-{}", approval.id),
            text,
        );
        append(&self.store, &id, vec![entry]).await?;
        let event = AppEvent::ApprovalRequested {
            incident_id: id.clone(),
            approval_id: approval.id.clone(),
            candidate: offset,
            runbook: candidate.runbook.clone(),
            parameters: candidate.parameters.clone(),
            rationale: candidate.rationale.clone(),
            evidence: candidate.evidence.clone(),
            requires_confirmation: candidate.requires_confirmation,
            approvers,
            evidence_link: manifest.clone(),
        };
        self.bus.emit(&event).await?;
        let owner = incident
            .owner
            .clone()
            .unwrap_or_else(|| catalog.settings.default_owner.clone());
        if let Some(topic) = catalog.team_target(&owner) {
            let message = format!(
                "{}\nProposed: {} {:?}\nWhy: {}\nApprove: incidentctl approve {id} --approval {approval}\nReject:  incidentctl reject {id} --approval {approval}\n{manifest}",
                incident.title,
                candidate.runbook,
                candidate.parameters,
                candidate.rationale,
                approval = approval.id
            );
            if let Err(e) = self
                .bus
                .page(topic, &format!("APPROVAL NEEDED: {}", incident.title), &message)
                .await
            {
                tracing::warn!(incident = %id, error = %e, "paging approvers failed");
            }
        }
        tracing::info!(incident = %id, approval = %approval.id, "approval requested");
        Ok(Output::Requested {
            approval_id: Some(approval.id),
            closed: false,
        })
    }

    async fn approval_timed_out(&self, id: IncidentId) -> Result<Output, HandlerError> {
        let incident = self.store.incident(&id).await?;
        let catalog = self.catalog.load().await?;
        let closed = incident.status.is_closed();
        if !closed {
            let team = catalog.settings.incident_response_team.clone();
            let who = incident
                .commander
                .clone()
                .map(|c| format!(" and commander {c}"))
                .unwrap_or_default();
            let text = format!("no approval decision in time: escalated to {team}{who}; asking again");
            let key = format!("approval-timeout-{}", Utc::now().timestamp());
            append(
                &self.store,
                &id,
                vec![Entry::system("mitigate", EntryKind::Escalated, key, text.clone())],
            )
            .await?;
            if let Some(topic) = catalog.team_target(&team) {
                if let Err(e) = self
                    .bus
                    .page(topic, &format!("APPROVAL OVERDUE: {}", incident.title), &text)
                    .await
                {
                    tracing::warn!(incident = %id, error = %e, "paging incident response failed");
                }
            }
            let event = AppEvent::IncidentEscalated {
                summary: Summary::of(&incident),
                escalation: incident.escalations,
                escalated_to: team,
                reason: "approval timed out".into(),
            };
            self.bus.emit(&event).await?;
        }
        Ok(Output::TimedOut {
            closed,
            continue_lifecycle: false,
        })
    }

    async fn start_runbook(&self, id: IncidentId, approval_id: &str, candidate: usize) -> Result<Output, HandlerError> {
        let incident = self.store.incident(&id).await?;
        if incident.status.is_closed() {
            return Err(HandlerError::InvalidInput(format!(
                "{id} is {}: no runbook starts on a closed incident",
                incident.status
            )));
        }
        let approval = self
            .store
            .get(&id, approval_id)
            .await?
            .ok_or_else(|| HandlerError::NotFound(format!("approval {approval_id} of {id}")))?;
        let decided = approval
            .decision
            .as_ref()
            .filter(|d| d.approved && d.candidate == candidate);
        let Some(decision) = decided else {
            return Err(HandlerError::InvalidInput(format!(
                "approval {approval_id} did not approve candidate {candidate}"
            )));
        };
        let chosen = approval
            .candidates
            .get(candidate)
            .ok_or_else(|| HandlerError::InvalidInput(format!("no candidate {candidate}")))?;
        // A signal from another account or region may have joined since the plan was made (its
        // runbook would act on one of the two), or the catalog closed the account to runbooks.
        let signals = signals_with_members(&self.store, &incident).await?;
        let catalog = self.catalog.load().await?;
        let members = self.runbooks.reaches_members();
        let place = mitigation::runbook_place(&incident, &signals, &self.home, &catalog, members)
            .map_err(|refusal| HandlerError::InvalidInput(refusal.summary))?;
        let mut parameters = chosen.parameters.clone();
        parameters.extend(decision.parameters.clone());
        let token = client_token(approval_id, candidate);
        if mitigation::rehearses(&incident) {
            return self
                .rehearse(&id, &chosen.runbook, &parameters, &token, &decision.by)
                .await;
        }
        let execution_id = self
            .runbooks
            .start(place.location(), &chosen.runbook, &parameters, &token)
            .await?;
        let text = format!(
            "runbook {} started ({execution_id}){}, approved by {}",
            chosen.runbook,
            place
                .location()
                .map(|l| format!(" in {}", l.describe()))
                .unwrap_or_default(),
            decision.by
        );
        let entry = Entry::system(
            "mitigate",
            EntryKind::Mitigation,
            format!("runbook-{execution_id}"),
            text,
        );
        append(&self.store, &id, vec![entry]).await?;
        let event = AppEvent::RunbookStarted {
            incident_id: id.clone(),
            execution_id: execution_id.clone(),
            runbook: chosen.runbook.clone(),
            parameters,
            approved_by: decision.by.clone(),
        };
        self.bus.emit(&event).await?;
        Ok(Output::Started {
            execution_id,
            runbook: chosen.runbook.clone(),
        })
    }

    /// A game day's approved runbook, rehearsed: nothing starts; the timeline says what would have
    /// run, and the lifecycle goes on as if it had succeeded.
    async fn rehearse(
        &self,
        id: &IncidentId,
        runbook: &str,
        parameters: &std::collections::BTreeMap<String, String>,
        token: &str,
        approved_by: &str,
    ) -> Result<Output, HandlerError> {
        let execution_id = mitigation::rehearsal_id(token);
        let with: Vec<String> = parameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let text = incident_core::text::line(
            &format!(
                "runbook {runbook} rehearsed, approved by {approved_by}: a game day starts no runbook unless it asks \
                 for real ones (incidentctl gameday --run-runbooks); it would have run with {}",
                with.join(", ")
            ),
            incident_core::text::REASON_MAX,
        );
        let entry = Entry::system(
            "mitigate",
            EntryKind::Mitigation,
            format!("runbook-{execution_id}"),
            text,
        );
        append(&self.store, id, vec![entry]).await?;
        Ok(Output::Started {
            execution_id,
            runbook: runbook.to_string(),
        })
    }

    /// Where an execution of incident `id` stands (a rehearsal has ended at once): asked in the
    /// account it started in.
    async fn runbook_status(&self, id: Option<&IncidentId>, execution_id: &str) -> Result<RunbookStatus, HandlerError> {
        if let Some(rehearsed) = mitigation::rehearsal_status(execution_id) {
            return Ok(rehearsed);
        }
        let incident = match id {
            Some(id) => Some(self.store.incident(id).await?),
            None => None,
        };
        let at = incident
            .as_ref()
            .and_then(|i| mitigation::runbook_account(i, &self.home));
        Ok(self.runbooks.status(at, execution_id).await?)
    }

    /// Completes the runbook wait if the execution ended; `true` when it did.
    async fn end_runbook_wait(&self, id: &IncidentId, execution_id: &str) -> Result<bool, HandlerError> {
        let status = self.runbook_status(Some(id), execution_id).await?;
        if !status.is_finished() {
            return Ok(false);
        }
        let Some(token) = self
            .store
            .take(id, &Waiting::Runbook(execution_id.to_string()).key())
            .await?
        else {
            return Ok(false);
        };
        Ok(self.callbacks.complete(&token, &status.lifecycle_output()).await?)
    }

    async fn check_recovery(
        &self,
        id: IncidentId,
        run_started: Option<chrono::DateTime<Utc>>,
    ) -> Result<Output, HandlerError> {
        let incident = self.store.incident(&id).await?;
        if incident.status.is_closed() || incident.mitigated_at.is_some() {
            return Ok(Output::Recovery {
                recovered: true,
                closed: incident.status.is_closed(),
                still_alarming: vec![],
                stabilising: vec![],
                stable_in_seconds: 0,
                continue_lifecycle: false,
            });
        }
        let signals = signals_with_members(&self.store, &incident).await?;
        let manual = incident.mitigated_by.is_some();
        let recovery = mitigation::recovery(&signals, Utc::now(), self.stabilisation, manual);
        if !recovery.recovered {
            return Ok(Output::Recovery {
                recovered: false,
                closed: false,
                still_alarming: recovery.still_alarming,
                stabilising: recovery.stabilising,
                stable_in_seconds: recovery.stable_in_seconds,
                continue_lifecycle: run_started.is_some_and(|s| reconcile::should_continue(s, Utc::now())),
            });
        }
        let catalog = self.catalog.load().await?;
        let service = incident.services.first().and_then(|s| catalog.service(s));
        let open_checks = mitigation::recurrence_checks(service, None);
        let now = Utc::now();
        let how = if recovery.by_hand {
            "no alarm to confirm recovery: the manual mitigation is taken at its word".to_string()
        } else {
            format!("every alarm back to OK for {} s", self.stabilisation.num_seconds())
        };
        let updated = run_step(&self.store, &id, |i| {
            mitigation::record_mitigated(i, open_checks.clone(), now);
            let ttm = i.time_to_mitigate_secs().unwrap_or_default();
            let text = format!(
                "mitigated: {how} (time to mitigate {ttm} s); open risk-of-recurrence checks: {}",
                open_checks.join(" | ")
            );
            Ok(vec![Entry::system(
                "mitigate",
                EntryKind::Mitigation,
                "mitigated",
                text,
            )])
        })
        .await?;
        let ttm = updated.time_to_mitigate_secs().unwrap_or_default();
        metrics::emit("TimeToMitigate", ttm, &updated);
        let event = AppEvent::IncidentMitigated {
            incident_id: id.clone(),
            time_to_mitigate_seconds: ttm,
            open_checks,
        };
        self.bus.emit(&event).await?;
        // The customer-update loop wakes now to remind support once, not a cadence later.
        complete_if_done(&self.store, &self.callbacks, &id, &Waiting::UpdateWindow).await?;
        Ok(Output::Recovery {
            recovered: true,
            closed: false,
            still_alarming: vec![],
            stabilising: vec![],
            stable_in_seconds: 0,
            continue_lifecycle: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use incident_core::approval::Caller;
    use incident_core::catalog::Catalog;
    use incident_core::command::Command;
    use incident_core::incident::Status;
    use incident_core::incident::{Incident, Scope};
    use incident_core::memory::{MemoryEvidence, MemoryLoop, MemoryNotifier, MemoryRunbooks, MemoryStore};
    use incident_core::ports::run_command;
    use incident_core::signal::{Health, Signal, SignalSource};
    use incident_core::SignalKey;
    use serde_json::json;
    use std::collections::BTreeMap;

    type TestDeps = Deps<MemoryStore, Catalog, MemoryNotifier, MemoryEvidence, MemoryRunbooks, MemoryLoop>;

    fn signal(health: Health, minutes_ago: i64) -> Signal {
        Signal {
            key: SignalKey::new("t", &format!("{health:?}-{minutes_ago}")),
            source: SignalSource::Alarm,
            health,
            resource: "checkout-api-5xx".into(),
            at: Utc::now() - TimeDelta::minutes(minutes_ago),
            reason: "r".into(),
            service_hint: None,
            exercise: false,
            live_runbooks: false,
            location: None,
            alarm: None,
            link: None,
            reporter: None,
            quiet: None,
            time_note: None,
            aws: None,
        }
    }

    fn deps() -> (TestDeps, IncidentId) {
        let id = IncidentId::for_service("checkout", &SignalKey::new("t", "1"));
        let mut incident = Incident::open(id.clone(), Scope::SingleService, vec!["checkout".into()], Utc::now());
        incident.owner = Some("payments".into());
        let store = MemoryStore::with([incident]);
        store.add_signal(&id, signal(Health::Impaired, 30));
        let d = Deps {
            store,
            catalog: serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap(),
            bus: MemoryNotifier::default(),
            evidence: MemoryEvidence::default(),
            runbooks: MemoryRunbooks::default(),
            callbacks: MemoryLoop::default(),
            stabilisation: TimeDelta::minutes(5),
            home: incident_core::account::Home::new(Some("000000000000".into()), Some("us-east-1".into())),
        };
        (d, id)
    }

    async fn planned(d: &TestDeps, id: &IncidentId) -> Vec<Candidate> {
        let out = d
            .handle(Input::Plan {
                incident_id: id.clone(),
            })
            .await
            .unwrap();
        match out {
            Output::Planned { plan, .. } => plan.candidates,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn an_incident_in_an_account_not_opened_to_runbooks_is_offered_none_and_the_timeline_says_why() {
        let (d, id) = deps();
        d.store.alter(&id, |i| {
            i.location = incident_core::account::Location::of(Some("222222222222"), Some("us-east-1")).unwrap();
        });
        assert!(planned(&d, &id).await.is_empty(), "nothing a runbook here could act on");
        let plan = d
            .store
            .timeline(&id)
            .into_iter()
            .find(|e| e.key == "plan")
            .expect("the plan");
        assert_eq!(
            plan.text,
            "mitigation plan: nothing to plan: this incident happened in 222222222222 in us-east-1, which the \
             catalog does not open to runbooks (accounts: runbooks: true); mitigate by hand and record it \
             (incidentctl mitigate)"
        );
    }

    #[tokio::test]
    async fn a_member_accounts_runbook_starts_there_and_its_status_is_asked_there() {
        let (mut d, id) = deps();
        let member = incident_core::account::Location::of(Some("111111111111"), Some("us-east-1")).unwrap();
        d.store.alter(&id, |i| i.location = member.clone());
        // The example catalog opens reporting-prod (111111111111) to runbooks; without a member
        // role the stack cannot reach it.
        assert!(planned(&d, &id).await.is_empty(), "no member role configured");
        d.runbooks.members = true;
        let Output::Planned { plan, .. } = d
            .handle(Input::Plan {
                incident_id: id.clone(),
            })
            .await
            .unwrap()
        else {
            panic!("planned")
        };
        assert!(
            plan.summary.ends_with("(runbooks run in 111111111111 in us-east-1)"),
            "{}",
            plan.summary
        );
        let approval = requested(&d, &id).await;
        assert!(!approval.candidates.is_empty());
        approve(&d, &id).await;
        let Output::Started { execution_id, .. } = start_approved(&d, &id, &approval).await.unwrap() else {
            panic!("not started");
        };
        let started = d.runbooks.started.lock().unwrap().clone();
        assert_eq!(started[0].3, member, "started in the member account");
        let entry = d
            .store
            .timeline(&id)
            .into_iter()
            .find(|e| e.key == format!("runbook-{execution_id}"))
            .unwrap();
        assert!(
            entry.text.contains("in 111111111111 in us-east-1, approved by ana"),
            "{}",
            entry.text
        );
        // The memory runner finds an execution only where it started.
        let wait = Input::AwaitRunbook {
            incident_id: id.clone(),
            execution_id: execution_id.clone(),
            token: "rb".into(),
        };
        assert_eq!(d.handle(wait).await.unwrap(), Output::Kept { completed: true });
        let polled = d
            .handle(Input::PollRunbook {
                incident_id: Some(id.clone()),
                execution_id,
            })
            .await
            .unwrap();
        assert!(
            matches!(polled, Output::Polled(RunbookStatus::Success { .. })),
            "{polled:?}"
        );
    }

    #[tokio::test]
    async fn a_deployment_recorded_as_it_happened_is_rolled_back_first_and_a_rehearsed_one_is_not() {
        use incident_core::change::{ChangeKind, ChangeOutcome, Origin};
        let (d, id) = deps();
        let impact = d.store.incident(&id).await.unwrap().impact_started_at;
        let deployed = Change {
            at: impact - TimeDelta::minutes(5),
            kind: ChangeKind::EcsDeployment,
            actor: "ECS".into(),
            resource: "shop/checkout-api".into(),
            summary: "ECS deployment ecs-svc/7 succeeded".into(),
            link: None,
            origin: Origin::Event,
            id: Some("ecs-svc/7".into()),
            outcome: Some(ChangeOutcome::Succeeded),
            location: None,
        };
        d.store
            .record_change(Space::GameDay, "checkout", &deployed)
            .await
            .unwrap();
        let first = planned(&d, &id).await;
        assert_ne!(
            first[0].kind,
            mitigation::Kind::Rollback,
            "a game day's deployment is not this incident's"
        );

        d.store.record_change(Space::Real, "checkout", &deployed).await.unwrap();
        let candidates = planned(&d, &id).await;
        let rollback = &candidates[0];
        assert_eq!(rollback.kind, mitigation::Kind::Rollback);
        assert_eq!(rollback.runbook, "IncidentLoop-RollbackEcsService");
        assert_eq!(
            (
                rollback.parameters["Cluster"].as_str(),
                rollback.parameters["Service"].as_str()
            ),
            ("shop", "checkout-api")
        );
        assert!(
            rollback.evidence[0].contains("(as it happened)"),
            "{:?}",
            rollback.evidence
        );
    }

    #[tokio::test]
    async fn an_approval_request_keeps_the_token_server_side_and_never_shows_it() {
        let (d, id) = deps();
        let candidates = planned(&d, &id).await;
        let token = "AAAA-secret-task-token";
        let out = d
            .handle(Input::RequestApproval {
                incident_id: id.clone(),
                token: token.into(),
                candidates,
                offset: 0,
            })
            .await
            .unwrap();
        let approval = d.store.latest(&id).await.unwrap().unwrap();
        assert_eq!(
            out,
            Output::Requested {
                approval_id: Some(approval.id.clone()),
                closed: false
            }
        );
        let requested = d.bus.events_of("Approval Requested");
        assert_eq!(requested[0]["approvers"], json!(["ana", "bilal"]));
        let everything_shown = format!(
            "{:?}{:?}{:?}",
            d.bus.events.lock().unwrap(),
            d.bus.pages.lock().unwrap(),
            d.store.timeline(&id)
        );
        assert!(
            !everything_shown.contains(token),
            "the token leaked into an event, a page or the timeline"
        );
        assert_eq!(
            d.store
                .take(&id, &Waiting::Approval(approval.id.clone()).key())
                .await
                .unwrap()
                .as_deref(),
            Some(token)
        );
    }

    /// Asks for approval of the plan's first candidate.
    async fn requested(d: &TestDeps, id: &IncidentId) -> incident_core::approval::Approval {
        let candidates = planned(d, id).await;
        d.handle(Input::RequestApproval {
            incident_id: id.clone(),
            token: "t".into(),
            candidates,
            offset: 0,
        })
        .await
        .unwrap();
        d.store.latest(id).await.unwrap().unwrap()
    }

    /// ana approves it, with a value for the placeholder.
    async fn approve(d: &TestDeps, id: &IncidentId) {
        let ana = Caller {
            arn: "arn:aws:iam::1:user/ana".into(),
            name: "ana".into(),
        };
        let approve = Command::Approve {
            approval_id: None,
            candidate: None,
            reason: None,
            confirm_roll_forward: false,
            parameters: BTreeMap::from([("DesiredCount".into(), "4".into())]),
        };
        run_command(&d.store, &d.catalog, id, &approve, &ana, Utc::now())
            .await
            .unwrap();
    }

    /// Starts the approved first candidate, as the lifecycle's StartRunbook step does.
    async fn start_approved(
        d: &TestDeps,
        id: &IncidentId,
        approval: &incident_core::approval::Approval,
    ) -> Result<Output, HandlerError> {
        d.handle(Input::StartRunbook {
            incident_id: id.clone(),
            approval_id: approval.id.clone(),
            candidate: 0,
        })
        .await
    }

    #[tokio::test]
    async fn an_approved_runbook_does_not_start_once_a_signal_from_another_account_joined() {
        let (d, id) = deps();
        let approval = requested(&d, &id).await;
        approve(&d, &id).await;
        let mut foreign = signal(Health::Impaired, 10);
        foreign.location = incident_core::account::Location::of(Some("222222222222"), Some("us-east-1")).unwrap();
        d.store.add_signal(&id, foreign);
        let refused = start_approved(&d, &id, &approval).await.unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("signals come from 222222222222 in us-east-1 and the loop's own account and region"),
            "{refused}"
        );
        assert!(d.runbooks.started.lock().unwrap().is_empty(), "nothing started");
    }

    #[tokio::test]
    async fn a_game_day_rehearses_its_approved_runbook_unless_it_asked_for_real_ones() {
        for live in [false, true] {
            let (d, id) = deps();
            run_step(&d.store, &id, |i| {
                i.exercise = true;
                i.live_runbooks = live;
                Ok(vec![])
            })
            .await
            .unwrap();
            let approval = requested(&d, &id).await;
            approve(&d, &id).await;
            let out = start_approved(&d, &id, &approval).await.unwrap();
            let Output::Started { execution_id, .. } = out else {
                panic!("{out:?}")
            };
            let started = d.runbooks.started.lock().unwrap().len();
            if live {
                assert_eq!(started, 1, "asked for: it runs");
                continue;
            }
            assert_eq!(started, 0, "rehearsed: nothing starts");
            assert!(d.bus.events_of("Runbook Started").is_empty());
            let entry = d
                .store
                .timeline(&id)
                .into_iter()
                .find(|e| e.key == format!("runbook-{execution_id}"));
            let text = entry.expect("the rehearsal is on the timeline").text;
            assert!(text.contains("rehearsed") && text.contains("DesiredCount=4"), "{text}");
            // Its wait ends at once, as a success.
            let kept = d
                .handle(Input::AwaitRunbook {
                    incident_id: id.clone(),
                    execution_id: execution_id.clone(),
                    token: "wait-token".into(),
                })
                .await
                .unwrap();
            assert!(matches!(kept, Output::Kept { completed: true }), "{kept:?}");
            let completed = d.callbacks.completed.lock().unwrap().clone();
            assert_eq!(completed[0].1["status"], "success");
        }
    }

    #[tokio::test]
    async fn only_an_approved_candidate_starts_and_its_runbook_runs_once() {
        let (d, id) = deps();
        let approval = requested(&d, &id).await;
        let refused = d
            .handle(Input::StartRunbook {
                incident_id: id.clone(),
                approval_id: approval.id.clone(),
                candidate: 0,
            })
            .await;
        assert!(refused.is_err(), "undecided approvals start nothing");
        approve(&d, &id).await;
        for _ in 0..2 {
            d.handle(Input::StartRunbook {
                incident_id: id.clone(),
                approval_id: approval.id.clone(),
                candidate: 0,
            })
            .await
            .unwrap();
        }
        let started = d.runbooks.started.lock().unwrap().clone();
        assert_eq!(started.len(), 1, "a retried start runs nothing twice");
        assert_eq!(started[0].0, approval.candidates[0].runbook);
        assert_eq!(
            started[0].1["DesiredCount"], "4",
            "the approver's value replaces the placeholder"
        );
        assert_eq!(started[0].1["Cluster"], "shop", "the catalog's value");
        assert_eq!(d.bus.events_of("Runbook Started")[0]["approved_by"], "ana");
    }

    #[tokio::test]
    async fn alarms_back_to_ok_and_stable_make_the_incident_mitigated_with_its_open_checks() {
        let (d, id) = deps();
        let check = || {
            d.handle(Input::CheckRecovery {
                incident_id: id.clone(),
                run_started: None,
            })
        };
        let recovered = |out: Output| matches!(out, Output::Recovery { recovered: true, .. });
        assert!(!recovered(check().await.unwrap()));
        d.store.add_signal(&id, signal(Health::Recovered, 10));
        assert!(recovered(check().await.unwrap()));
        let incident = d.store.get(&id).unwrap();
        assert_eq!(incident.status, Status::Mitigated);
        assert!(incident.time_to_mitigate_secs().is_some());
        assert!(
            incident
                .open_checks
                .iter()
                .any(|c| c.contains("auth, orders, payments-gateway")),
            "{:?}",
            incident.open_checks
        );
        assert_eq!(d.bus.events_of("Incident Mitigated").len(), 1);
    }

    #[tokio::test]
    async fn the_runbook_wait_ends_when_ssm_says_the_execution_ended() {
        let (d, id) = deps();
        let execution = d
            .runbooks
            .start(None, "IncidentLoop-ScaleUpEcsService", &BTreeMap::new(), "tok")
            .await
            .unwrap();
        d.runbooks.in_progress.lock().unwrap().insert(execution.clone());
        let wait = Input::AwaitRunbook {
            incident_id: id.clone(),
            execution_id: execution.clone(),
            token: "rb".into(),
        };
        assert_eq!(d.handle(wait).await.unwrap(), Output::Kept { completed: false });
        // SSM's event, as the rule's InputPath hands it over (the documented detail).
        let fixture = include_str!("../../../events/ssm/automation-execution-status-change.json");
        let event = |execution: &str| {
            let mut detail = serde_json::from_str::<Value>(fixture).unwrap()["detail"].clone();
            detail["ExecutionId"] = execution.into();
            d.invoked(serde_json::from_value(detail).unwrap())
        };
        assert_eq!(
            event(&execution).await.unwrap(),
            Output::Kept { completed: false },
            "still running"
        );
        assert_eq!(event("someone-elses").await.unwrap(), Output::Kept { completed: false });
        d.runbooks.in_progress.lock().unwrap().clear();
        assert_eq!(event(&execution).await.unwrap(), Output::Kept { completed: true });
        let completed = d.callbacks.completed.lock().unwrap().clone();
        assert_eq!(completed[0].0, "rb");
        assert_eq!(completed[0].1["status"], "success");
        assert_eq!(completed[0].1["result"]["status"], "success");
        assert_eq!(
            event(&execution).await.unwrap(),
            Output::Kept { completed: false },
            "once"
        );
    }

    #[tokio::test]
    async fn the_recovery_wait_ends_when_an_alarm_recovered_event_finds_nothing_alarming() {
        let (d, id) = deps();
        let wait = Input::AwaitRecovery {
            incident_id: id.clone(),
            token: "rec".into(),
        };
        assert_eq!(d.handle(wait).await.unwrap(), Output::Kept { completed: false });
        assert_eq!(
            d.store.token(&id, "recovery").as_deref(),
            Some("rec"),
            "still alarming: it waits"
        );
        let event = || {
            let detail = serde_json::json!({ "incident_id": id, "alarm": "checkout-api-5xx" });
            d.invoked(serde_json::from_value(detail).unwrap())
        };
        assert_eq!(event().await.unwrap(), Output::Kept { completed: false });
        d.store.add_signal(&id, signal(Health::Recovered, 2));
        assert_eq!(event().await.unwrap(), Output::Kept { completed: true });
        assert_eq!(d.callbacks.completed.lock().unwrap()[0].0, "rec");
        assert_eq!(d.store.token(&id, "recovery"), None, "taken once");
        // The check that follows says how long is left to stabilise (5 min, 2 already OK).
        let check = |run_started| {
            d.handle(Input::CheckRecovery {
                incident_id: id.clone(),
                run_started,
            })
        };
        let out = check(Some(Utc::now())).await.unwrap();
        let Output::Recovery {
            recovered,
            stable_in_seconds,
            continue_lifecycle,
            ..
        } = out
        else {
            panic!("{out:?}")
        };
        assert!(
            !recovered && (179..=180).contains(&stable_in_seconds),
            "{stable_in_seconds}"
        );
        assert!(!continue_lifecycle, "a run started now goes on");
        let week_old = Some(Utc::now() - reconcile::RUN_SPAN);
        assert!(
            matches!(
                check(week_old).await.unwrap(),
                Output::Recovery {
                    continue_lifecycle: true,
                    ..
                }
            ),
            "a week-old run continues in a fresh one"
        );
    }

    #[tokio::test]
    async fn a_resolved_incident_asks_nobody_to_approve_and_ends_mitigation() {
        let (d, id) = deps();
        let candidates = planned(&d, &id).await;
        d.store.alter(&id, |i| {
            i.status = Status::Resolved;
        });
        let out = d
            .handle(Input::RequestApproval {
                incident_id: id.clone(),
                token: "t-closed".into(),
                candidates,
                offset: 1,
            })
            .await
            .unwrap();
        assert_eq!(
            out,
            Output::Requested {
                approval_id: None,
                closed: true
            }
        );
        assert_eq!(d.store.latest(&id).await.unwrap(), None, "no approval was requested");
        assert!(d.bus.events_of("Approval Requested").is_empty() && d.bus.paged().is_empty());
        let completed = d.callbacks.completed.lock().unwrap().clone();
        assert_eq!(completed[0].0, "t-closed");
        assert_eq!(completed[0].1["resolved"], true);
    }

    #[tokio::test]
    async fn an_approval_timeout_escalates_to_incident_response() {
        let (d, id) = deps();
        let timed_out = |run_started| {
            d.handle(Input::ApprovalTimedOut {
                incident_id: id.clone(),
                run_started,
            })
        };
        let out = timed_out(Some(Utc::now())).await.unwrap();
        let asked_again = Output::TimedOut {
            closed: false,
            continue_lifecycle: false,
        };
        assert_eq!(out, asked_again);
        assert_eq!(
            d.bus.paged(),
            ["arn:aws:sns:us-east-1:000000000000:incident-loop-incident-response"]
        );
        assert!(d.store.timeline(&id).iter().any(|e| e.kind == EntryKind::Escalated));
        // Nobody has answered for a week: the run continues in a fresh one instead of asking on.
        let week_old = timed_out(Some(Utc::now() - reconcile::RUN_SPAN)).await.unwrap();
        assert!(
            matches!(
                week_old,
                Output::TimedOut {
                    continue_lifecycle: true,
                    ..
                }
            ),
            "{week_old:?}"
        );
    }

    #[tokio::test]
    async fn a_later_run_plans_nothing_once_the_recovery_watch_started() {
        let (d, id) = deps();
        d.handle(Input::AwaitRecovery {
            incident_id: id.clone(),
            token: "rec".into(),
        })
        .await
        .unwrap();
        let Output::Planned { count, plan, .. } = d
            .handle(Input::Plan {
                incident_id: id.clone(),
            })
            .await
            .unwrap()
        else {
            panic!("a plan")
        };
        assert_eq!(count, 0);
        assert!(plan.summary.contains("waiting for recovery"), "{}", plan.summary);
    }
}
