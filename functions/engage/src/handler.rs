//! Getting a human: page the teams the plan names, wait for an acknowledgement, escalate.

use chrono::Utc;
use incident_aws::lambda::HandlerError;
use incident_aws::metrics;
use incident_core::app_event::{AppEvent, Summary};
use incident_core::chat;
use incident_core::effects::Waiting;
use incident_core::engagement;
use incident_core::incident::Incident;
use incident_core::page_reply::{self, IssuedCode};
use incident_core::ports::{
    keep_waiting, run_step, CatalogSource, IncidentStore, Notifier, PageCodes, TaskCallbacks, Tokens,
};
use incident_core::timeline::{Entry, EntryKind};
use incident_core::updates;
use incident_core::IncidentId;
use serde::{Deserialize, Serialize};

pub struct Deps<S, C, N, K> {
    pub store: S,
    pub catalog: C,
    pub bus: N,
    pub callbacks: K,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Input {
    /// Page every team the plan names and publish `Incident Engaged`.
    Engage { incident_id: IncidentId },
    /// The acknowledgement wait: keep its task token until `incidentctl ack` (or a resolution)
    /// completes it; the lifecycle escalates when the severity's acknowledgement time runs out.
    AwaitAck { incident_id: IncidentId, token: String },
    /// Nobody acknowledged in time: page the next stage of the plans (or incident response).
    /// `after`: the rounds this lifecycle run has escalated already (repeated by a retry).
    Escalate {
        incident_id: IncidentId,
        #[serde(default)]
        after: Option<u32>,
    },
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Output {
    pub incident_id: IncidentId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalations: Option<u32>,
    /// After an escalation: how long the next acknowledgement wait lasts (the next stage's wait).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<u32>,
}

impl Output {
    fn of(id: IncidentId) -> Self {
        Self {
            incident_id: id,
            escalations: None,
            wait_seconds: None,
        }
    }
}

impl<S, C, N, K> Deps<S, C, N, K>
where
    S: IncidentStore + Tokens + PageCodes,
    C: CatalogSource,
    N: Notifier,
    K: TaskCallbacks,
{
    pub async fn handle(&self, input: Input) -> Result<Output, HandlerError> {
        match input {
            Input::Engage { incident_id } => self.engage(incident_id).await,
            Input::AwaitAck { incident_id, token } => {
                keep_waiting(
                    &self.store,
                    &self.callbacks,
                    &incident_id,
                    &Waiting::Acknowledgement,
                    &token,
                )
                .await?;
                Ok(Output::of(incident_id))
            }
            Input::Escalate { incident_id, after } => self.escalate(incident_id, after).await,
        }
    }

    async fn engage(&self, id: IncidentId) -> Result<Output, HandlerError> {
        let incident = self.store.incident(&id).await?;
        let catalog = self.catalog.load().await?;
        let plan = engagement::plan(&catalog, &incident);
        if engagement::engaged_before(&incident) {
            // A retry or a restarted lifecycle: the teams were paged; announce it if that failed.
            if !incident.engagement_announced && !incident.status.is_closed() {
                let draft = incident.customer_facing.then(|| updates::first_draft(&incident));
                self.announce(&incident, &plan, draft).await?;
            }
            tracing::info!(incident = %id, "engaged before: not paged again");
            return Ok(Output::of(id));
        }
        let page = engagement::page(&incident, plan.commander.as_deref());
        let mut entries = Vec::new();
        let mut records = Vec::new();
        let first = plan.first_pages(&catalog, self.bus.reach(), &incident, Utc::now());
        let everyone: Vec<engagement::Recipient> = first.iter().flat_map(|(_, p)| p.recipients.clone()).collect();
        let chat = chat::notification(
            &incident,
            "Incident Engaged",
            "paged",
            &engagement::people_paged(&everyone),
            catalog.settings.incident_channel.as_ref(),
        );
        for (team, pages) in first {
            let (mut lines, sent) = self.send(&incident, &pages.recipients, 0, &page, &chat).await;
            records.extend(sent);
            lines.extend(pages.unreachable.iter().map(|u| format!("not paged: {u}")));
            if lines.is_empty() {
                lines.push("no notification target in the catalog: not paged".into());
            }
            let text = format!("engaged {} ({}); {}", team.team, team.reason, lines.join("; "));
            let key = format!("engaged-{}", team.team);
            entries.push(Entry::system("engage", EntryKind::Engaged, key, text));
        }
        let mut customer_update_draft = None;
        if incident.customer_facing {
            // Customers hear from us early: a generic first update, ready for support to publish.
            let draft = updates::first_draft(&incident);
            let text = format!(
                "customer update drafted, not yet published: \"{draft}\" (publish: incidentctl update {id} --draft)"
            );
            entries.push(Entry::system(
                "engage",
                EntryKind::CustomerUpdate,
                "customer-update-draft",
                text,
            ));
            customer_update_draft = Some(draft);
        }
        let teams: Vec<String> = plan.teams.iter().map(|t| t.team.clone()).collect();
        // Recorded before it is announced: a retry after a failed announcement pages nobody again
        // and announces it then.
        let updated = run_step(&self.store, &id, |i| {
            engagement::record_engaged(i, &teams, Utc::now());
            engagement::record_pages(i, 0, &records);
            Ok(entries.clone())
        })
        .await?;
        if let Some(secs) = updated.time_to_engage_secs() {
            metrics::emit("TimeToEngage", secs, &updated);
        }
        metrics::emit("TimeToDetect", updated.time_to_detect_secs(), &updated);
        self.announce(&updated, &plan, customer_update_draft).await?;
        tracing::info!(incident = %id, teams = teams.len(), "engaged");
        Ok(Output::of(id))
    }

    /// Sends every page of a round, one failure not keeping the others from going out: a line for
    /// the timeline and a record per page.
    async fn send(
        &self,
        incident: &Incident,
        recipients: &[engagement::Recipient],
        round: u32,
        page: &engagement::Page,
        chat: &chat::Notification,
    ) -> (Vec<String>, Vec<engagement::PageRecord>) {
        let card = serde_json::to_string(chat).unwrap_or_default();
        let mut lines = Vec::new();
        let mut records = Vec::new();
        // Who got a text this round: their e-mail says to reply to it (texts go first).
        let mut texted: Vec<&str> = Vec::new();
        for r in recipients {
            let sent = match (r.channel, &r.person) {
                (engagement::Channel::Sms, Some(person)) => {
                    let code = self.issue_code(incident, person).await;
                    let text = engagement::text_message(page, incident, code.as_deref());
                    let sent = self.bus.text(&r.address, &text).await;
                    if sent.is_ok() && code.is_some() {
                        texted.push(person);
                    }
                    sent
                }
                (engagement::Channel::Email, Some(person)) => {
                    let (subject, body) = engagement::email_message(page, texted.contains(&person.as_str()));
                    self.bus.email(&r.address, &subject, &body).await
                }
                (engagement::Channel::Chat, _) => self.bus.page(&r.address, &page.subject, &card).await,
                _ => self.bus.page(&r.address, &page.subject, &page.message).await,
            };
            let failed = sent.err().map(|e| {
                tracing::warn!(incident = %incident.id, team = %r.team, error = %e, "paging failed");
                incident_core::text::line(&e.to_string(), 300)
            });
            lines.push(match &failed {
                None => format!("paged {}", r.describe()),
                Some(e) => format!("PAGING FAILED {}: {e}", r.describe()),
            });
            records.push(engagement::PageRecord {
                at: Utc::now(),
                round,
                team: r.team.clone(),
                to: r.person.clone().unwrap_or_else(|| r.address.clone()),
                channel: r.channel,
                failed,
            });
        }
        (lines, records)
    }

    /// A fresh code for `person` to acknowledge `incident` with by replying to the text; `None`
    /// (the text then says only `incidentctl ack`) when it cannot be kept: a page never waits on it.
    async fn issue_code(&self, incident: &Incident, person: &str) -> Option<String> {
        let issued = IssuedCode {
            incident: incident.id.clone(),
            person: person.to_string(),
        };
        // A code someone else holds is drawn again (one in a million per live code).
        for _ in 0..3 {
            let mut random = [0u8; 4];
            if let Err(e) = getrandom::getrandom(&mut random) {
                tracing::warn!(incident = %incident.id, error = %e, "no random source: the text carries no code");
                return None;
            }
            let code = page_reply::code_from(random);
            match self.store.issue(&page_reply::code_hash(&code), &issued).await {
                Ok(true) => return Some(code),
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(incident = %incident.id, error = %e, "the code was not kept: the text carries none");
                    return None;
                }
            }
        }
        None
    }

    async fn announce_escalation(
        &self,
        incident: &Incident,
        round: u32,
        escalation: &engagement::Escalation,
    ) -> Result<(), HandlerError> {
        let event = AppEvent::IncidentEscalated {
            summary: Summary::of(incident),
            escalation: round,
            escalated_to: escalation.to.join(", "),
            reason: "no acknowledgement".into(),
        };
        Ok(self.bus.emit(&event).await?)
    }

    /// Publishes `Incident Engaged`, then records that it went out.
    async fn announce(
        &self,
        incident: &Incident,
        plan: &engagement::Plan,
        customer_update_draft: Option<String>,
    ) -> Result<(), HandlerError> {
        let event = AppEvent::IncidentEngaged {
            summary: Summary::of(incident),
            teams: plan.teams.clone(),
            ack_minutes: plan.ack_minutes,
            customer_update_draft,
        };
        self.bus.emit(&event).await?;
        run_step(&self.store, &incident.id, |i| {
            i.engagement_announced = true;
            Ok(vec![])
        })
        .await?;
        Ok(())
    }

    async fn escalate(&self, id: IncidentId, after: Option<u32>) -> Result<Output, HandlerError> {
        let catalog = self.catalog.load().await?;
        let incident = self.store.incident(&id).await?;
        let now = Utc::now();
        let sent = engagement::round_to_send(&incident, after);
        let round = sent.unwrap_or(incident.escalations);
        let escalation = engagement::escalation(&catalog, self.bus.reach(), &incident, round, now);
        let wait_seconds = Some(escalation.wait_minutes.saturating_mul(60));
        if sent.is_none() || !engagement::needs_escalation(&incident) {
            // A retry of a round that went out, or acknowledged (or closed) just as the wait ran
            // out: nobody is paged. A retry announces its round again, in case that is what
            // failed (the event carries the round: a consumer sees it twice at most).
            if sent.is_none() && after.is_some() && incident.escalations > 0 {
                self.announce_escalation(&incident, incident.escalations, &escalation)
                    .await?;
            }
            return Ok(Output {
                escalations: Some(incident.escalations),
                wait_seconds,
                ..Output::of(id)
            });
        }
        let waited = engagement::wait_before(&catalog, &incident, round, now);
        let why = engagement::escalation_line(&escalation, round, waited);
        let page = engagement::escalation_page(&incident, round, &why);
        let chat = chat::notification(
            &incident,
            "Incident Escalated",
            &format!("ESCALATION {round}"),
            &engagement::people_paged(&escalation.recipients),
            catalog.settings.incident_channel.as_ref(),
        );
        let (mut lines, records) = self.send(&incident, &escalation.recipients, round, &page, &chat).await;
        lines.extend(escalation.unreachable.iter().map(|u| format!("not paged: {u}")));
        let text = match lines.is_empty() {
            true => format!("{why}; nobody to page"),
            false => format!("{why}; {}", lines.join("; ")),
        };
        let entry = Entry::system("engage", EntryKind::Escalated, format!("escalation-{round}"), text);
        let updated = run_step(&self.store, &id, |i| {
            engagement::record_escalation(i, round);
            engagement::record_pages(i, round, &records);
            Ok(vec![entry.clone()])
        })
        .await?;
        self.announce_escalation(&updated, round, &escalation).await?;
        Ok(Output {
            escalations: Some(updated.escalations),
            wait_seconds,
            ..Output::of(id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::catalog::Catalog;
    use incident_core::incident::Status;
    use incident_core::incident::{Incident, Scope};
    use incident_core::memory::{MemoryLoop, MemoryNotifier, MemoryStore};
    use incident_core::severity::Severity;
    use incident_core::SignalKey;

    const PAYMENTS: &str = "arn:aws:sns:us-east-1:000000000000:incident-loop-payments";
    const SUPPORT: &str = "arn:aws:sns:us-east-1:000000000000:incident-loop-customer-support";
    const RESPONSE: &str = "arn:aws:sns:us-east-1:000000000000:incident-loop-incident-response";
    const PAYMENTS_CHAT: &str = "arn:aws:sns:us-east-1:000000000000:incident-loop-payments-chat";
    const INCIDENTS_CHAT: &str = "arn:aws:sns:us-east-1:000000000000:incident-loop-incidents-chat";

    /// The topics paged, chat channels aside.
    fn topics(d: &TestDeps) -> Vec<String> {
        d.bus.paged().into_iter().filter(|t| !t.ends_with("-chat")).collect()
    }

    type TestDeps = Deps<MemoryStore, Catalog, MemoryNotifier, MemoryLoop>;

    fn deps(notifier: MemoryNotifier) -> (TestDeps, IncidentId) {
        let id = IncidentId::for_service("checkout", &SignalKey::new("t", "1"));
        let mut incident = Incident::open(id.clone(), Scope::SingleService, vec!["checkout".into()], Utc::now());
        incident.owner = Some("payments".into());
        incident.severity = Some(Severity::Sev2);
        incident.customer_facing = true;
        incident.status = Status::Triaged;
        let deps = Deps {
            store: MemoryStore::with([incident]),
            catalog: serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap(),
            bus: notifier,
            callbacks: MemoryLoop::default(),
        };
        (deps, id)
    }

    #[tokio::test]
    async fn engaging_pages_every_team_records_it_and_announces_it() {
        let (d, id) = deps(MemoryNotifier::default());
        d.handle(Input::Engage {
            incident_id: id.clone(),
        })
        .await
        .unwrap();
        assert_eq!(d.bus.paged(), [PAYMENTS, PAYMENTS_CHAT, INCIDENTS_CHAT, SUPPORT]);
        // The chat channels get a custom notification of Amazon Q Developer (SEV2: the incident
        // channel too), the topics the page itself.
        let pages = d.bus.pages.lock().unwrap().clone();
        let card: serde_json::Value = serde_json::from_str(&pages[1].2).unwrap();
        assert_eq!(
            (card["version"].as_str(), card["source"].as_str()),
            (Some("1.0"), Some("custom"))
        );
        assert_eq!(card["metadata"]["threadId"], id.as_str());
        assert!(pages[0].2.starts_with("[SEV2]"), "{}", pages[0].2);
        // The person on payments' primary layer now, by SMS, with the command that acknowledges.
        let primary = d
            .catalog
            .schedule("payments")
            .unwrap()
            .on_call("primary", Utc::now())
            .unwrap();
        let number = d.catalog.person(&primary.person).unwrap().sms.clone().unwrap();
        let texts = d.bus.texts.lock().unwrap().clone();
        assert_eq!(texts.len(), 1, "{texts:?}");
        assert_eq!(texts[0].0, number);
        assert!(texts[0].1.contains(&format!("incidentctl ack {id}")), "{}", texts[0].1);
        let stored = d.store.get(&id).unwrap();
        let recorded: Vec<(&str, &str, engagement::Channel)> = stored
            .pages
            .iter()
            .map(|p| (p.team.as_str(), p.to.as_str(), p.channel))
            .collect();
        assert_eq!(
            recorded,
            [
                ("payments", PAYMENTS, engagement::Channel::Topic),
                ("payments", primary.person.as_str(), engagement::Channel::Sms),
                ("payments", PAYMENTS_CHAT, engagement::Channel::Chat),
                ("payments", INCIDENTS_CHAT, engagement::Channel::Chat),
                ("customer-support", SUPPORT, engagement::Channel::Topic),
            ]
        );
        let engaged_line = d
            .store
            .timeline(&id)
            .into_iter()
            .find(|e| e.key == "engaged-payments")
            .unwrap();
        assert!(
            engaged_line.text.contains(&format!(
                "paged {} (primary on call, rotation primary) by SMS",
                primary.person
            )),
            "{}",
            engaged_line.text
        );
        assert_eq!(stored.status, Status::Engaged);
        assert_eq!(stored.engaged_teams, ["payments", "customer-support"]);
        assert!(stored.engaged_at.is_some());
        let engaged = d.bus.events_of("Incident Engaged");
        assert_eq!(engaged.len(), 1);
        assert_eq!(engaged[0]["teams"][0]["team"], "payments");
    }

    #[tokio::test]
    async fn with_a_sender_the_on_call_person_is_e_mailed_too_and_one_failing_channel_spares_the_other() {
        let catalog: Catalog = serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap();
        let primary = catalog
            .schedule("payments")
            .unwrap()
            .on_call("primary", Utc::now())
            .unwrap();
        let contact = catalog.person(&primary.person).unwrap().clone();
        let (address, number) = (contact.email.unwrap(), contact.sms.unwrap());
        let notifier = MemoryNotifier {
            sends_email: true,
            failing: [number.clone()].into(),
            ..MemoryNotifier::default()
        };
        let (d, id) = deps(notifier);
        d.handle(Input::Engage {
            incident_id: id.clone(),
        })
        .await
        .unwrap();
        let emails = d.bus.emails.lock().unwrap().clone();
        assert_eq!(emails.len(), 1, "{emails:?}");
        let (to, subject, body) = &emails[0];
        assert_eq!(to, &address);
        assert!(subject.starts_with("[SEV2]") && !subject.contains('\n'), "{subject}");
        assert!(body.contains(&format!("incidentctl ack {id}")), "{body}");
        assert!(!body.contains("reply to the SMS page"), "their text failed: {body}");
        assert!(!body.contains("http"), "an e-mail page carries no link: {body}");
        let stored = d.store.get(&id).unwrap();
        let person_pages: Vec<(engagement::Channel, bool)> = stored
            .pages
            .iter()
            .filter(|p| p.to == primary.person)
            .map(|p| (p.channel, p.failed.is_some()))
            .collect();
        assert_eq!(
            person_pages,
            [(engagement::Channel::Sms, true), (engagement::Channel::Email, false)]
        );
        let line = d
            .store
            .timeline(&id)
            .into_iter()
            .find(|e| e.key == "engaged-payments")
            .unwrap()
            .text;
        assert!(
            line.contains(&format!(
                "paged {} (primary on call, rotation primary) by e-mail",
                primary.person
            )) && line.contains("PAGING FAILED"),
            "{line}"
        );
        // Chat names the person once, however many channels reached them.
        let pages = d.bus.pages.lock().unwrap().clone();
        let card: serde_json::Value = serde_json::from_str(&pages[1].2).unwrap();
        let description = card["content"]["description"].as_str().unwrap_or_default();
        assert_eq!(description.matches(primary.person.as_str()).count(), 1, "{card}");
    }

    #[tokio::test]
    async fn one_unreachable_topic_is_recorded_and_does_not_stop_the_other_pages() {
        let notifier = MemoryNotifier {
            failing: [PAYMENTS.to_string()].into(),
            ..MemoryNotifier::default()
        };
        let (d, id) = deps(notifier);
        d.handle(Input::Engage {
            incident_id: id.clone(),
        })
        .await
        .unwrap();
        assert_eq!(topics(&d), [SUPPORT]);
        let timeline = d.store.timeline(&id);
        assert!(
            timeline.iter().any(|e| e.text.contains("PAGING FAILED")),
            "{timeline:#?}"
        );
    }

    #[tokio::test]
    async fn unacknowledged_incidents_escalate_stage_by_stage_then_to_incident_response() {
        let (d, id) = deps(MemoryNotifier::default());
        let catalog = d.catalog.clone();
        let sms = |person: &str| catalog.person(person).unwrap().sms.clone().unwrap();
        let on_call = |team: &str, layer: &str| {
            let schedule = catalog.schedule(team).unwrap();
            schedule.on_call(layer, Utc::now()).unwrap().person
        };
        let escalate = || {
            d.handle(Input::Escalate {
                incident_id: id.clone(),
                after: None,
            })
        };
        // Stage 2 of payments' plan: the secondary, by SMS, then stage 3's wait (the severity's).
        let first = escalate().await.unwrap();
        assert_eq!(first.escalations, Some(1));
        assert_eq!(first.wait_seconds, Some(600), "stage 3 has no wait: SEV2's 10 minutes");
        let texts = |d: &TestDeps| {
            d.bus
                .texts
                .lock()
                .unwrap()
                .iter()
                .map(|(n, _)| n.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(texts(&d), [sms(&on_call("payments", "secondary"))]);
        assert!(topics(&d).is_empty(), "stage 2 pages nobody's topic");
        assert_eq!(
            d.bus.paged(),
            [PAYMENTS_CHAT, INCIDENTS_CHAT],
            "each round reaches the chat channels"
        );
        // Stage 3: the lead by SMS and the team's topic.
        escalate().await.unwrap();
        assert_eq!(texts(&d)[1..], [sms("bilal")]);
        assert_eq!(topics(&d), [PAYMENTS]);
        // The plan is spent: incident response, its on-call person and the commander.
        let third = escalate().await.unwrap();
        assert_eq!(third.escalations, Some(3));
        assert_eq!(topics(&d), [PAYMENTS, RESPONSE]);
        assert!(texts(&d).contains(&sms(&on_call("incident-response", "primary"))));
        let sent = d.bus.texts.lock().unwrap().clone();
        assert!(
            sent.iter()
                .all(|(_, m)| m.contains(id.as_str()) && m.contains("incidentctl ack")),
            "{sent:?}"
        );
        assert_eq!(d.bus.events_of("Incident Escalated").len(), 3);
        let escalated: Vec<String> = d
            .store
            .timeline(&id)
            .into_iter()
            .filter(|e| e.kind == EntryKind::Escalated)
            .map(|e| e.text)
            .collect();
        assert_eq!(escalated.len(), 3);
        assert!(
            escalated[0].contains("escalation 1 to the next stage of payments"),
            "{escalated:?}"
        );
        assert!(escalated[2].contains("every team's plan is spent"), "{escalated:?}");
        let stored = d.store.get(&id).unwrap();
        let people_and_topics = |round| {
            let chat = engagement::Channel::Chat;
            stored
                .pages
                .iter()
                .filter(|p| p.round == round && p.channel != chat)
                .count()
        };
        assert_eq!((people_and_topics(1), people_and_topics(2)), (1, 2));

        // An acknowledgement that lands as the wait runs out stops the next round.
        d.store.alter(&id, |i| {
            i.acknowledged_at = Some(Utc::now());
            i.acknowledged_by = Some("ana".into());
        });
        let after_ack = escalate().await.unwrap();
        assert_eq!(after_ack.escalations, Some(3));
        assert_eq!(topics(&d).len(), 2, "nobody paged after the acknowledgement");

        // A continued run's wait times out again after the last round: nobody is paged.
        d.store.alter(&id, |i| {
            i.acknowledged_at = None;
            i.acknowledged_by = None;
            i.escalations = engagement::MAX_ESCALATIONS;
        });
        let spent = escalate().await.unwrap();
        assert_eq!(spent.escalations, Some(engagement::MAX_ESCALATIONS));
        assert_eq!(topics(&d).len(), 2, "the rounds are spent");
    }

    #[tokio::test]
    async fn a_retried_escalation_round_pages_nobody_again_and_skips_no_stage() {
        let (d, id) = deps(MemoryNotifier::default());
        let round = |after| {
            d.handle(Input::Escalate {
                incident_id: id.clone(),
                after: Some(after),
            })
        };
        let first = round(0).await.unwrap();
        let texts = d.bus.texts.lock().unwrap().len();
        let retried = round(0).await.unwrap();
        assert_eq!((first.escalations, retried.escalations), (Some(1), Some(1)));
        assert_eq!(retried.wait_seconds, first.wait_seconds, "the same next wait");
        assert_eq!(d.bus.texts.lock().unwrap().len(), texts, "nobody texted twice");
        let announced = d.bus.events_of("Incident Escalated");
        assert_eq!(announced.len(), 2, "a retry announces its round again");
        assert!(announced.iter().all(|e| e["escalation"] == 1));
        // The run's next round is the plan's next stage.
        assert_eq!(round(1).await.unwrap().escalations, Some(2));
    }

    #[tokio::test]
    async fn the_acknowledgement_wait_keeps_its_token_until_acknowledged_and_ends_at_once_after() {
        let (d, id) = deps(MemoryNotifier::default());
        let wait = |token: &str| {
            d.handle(Input::AwaitAck {
                incident_id: id.clone(),
                token: token.into(),
            })
        };
        wait("t-1").await.unwrap();
        assert_eq!(d.store.token(&id, "ack").as_deref(), Some("t-1"), "kept server-side");
        assert!(
            d.callbacks.completed.lock().unwrap().is_empty(),
            "nobody acknowledged yet"
        );
        d.store.alter(&id, |i| {
            i.acknowledged_at = Some(Utc::now());
            i.acknowledged_by = Some("ana".into());
        });
        wait("t-2").await.unwrap();
        let completed = d.callbacks.completed.lock().unwrap().clone();
        assert_eq!(
            completed,
            [("t-2".to_string(), serde_json::json!({ "acknowledged_by": "ana" }))]
        );
    }

    #[tokio::test]
    async fn a_restarted_lifecycle_pages_nobody_the_first_run_engaged() {
        let (d, id) = deps(MemoryNotifier::default());
        let engage = || {
            d.handle(Input::Engage {
                incident_id: id.clone(),
            })
        };
        engage().await.unwrap();
        let (pages, events) = (d.bus.paged().len(), d.bus.events_of("Incident Engaged").len());
        engage().await.unwrap();
        assert_eq!(d.bus.paged().len(), pages, "paged once per incident");
        assert_eq!(d.bus.events_of("Incident Engaged").len(), events);
    }

    #[tokio::test]
    async fn a_customer_facing_incident_gets_a_first_update_drafted_on_engagement() {
        let (d, id) = deps(MemoryNotifier::default());
        d.handle(Input::Engage {
            incident_id: id.clone(),
        })
        .await
        .unwrap();
        let draft = d
            .store
            .timeline(&id)
            .into_iter()
            .find(|e| e.key == "customer-update-draft")
            .unwrap();
        assert_eq!(draft.kind, EntryKind::CustomerUpdate);
        assert!(
            draft.text.contains("We are investigating increased error rates"),
            "{}",
            draft.text
        );
        let engaged = d.bus.events_of("Incident Engaged");
        assert!(engaged[0]["customer_update_draft"]
            .as_str()
            .unwrap()
            .contains("checkout"));
    }
}
