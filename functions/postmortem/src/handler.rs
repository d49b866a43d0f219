//! The postmortem steps, selected by `action`: publish the COE (draft document, tickets, event) and
//! announce overdue action items.

use chrono::{TimeDelta, Utc};
use incident_aws::lambda::HandlerError;
use incident_core::app_event::{ActionSummary, AppEvent, PostmortemSummary};
use incident_core::coe;
use incident_core::incident::Status;
use incident_core::ports::{
    coe_record, run_step, CatalogSource, EvidenceStore, IncidentStore, Notifier, Postmortems, Tickets,
};
use incident_core::tickets;
use incident_core::timeline::{Entry, EntryKind};
use incident_core::IncidentId;
use serde::Deserialize;
use serde_json::{json, Value};

/// How far back the overdue scan looks for incidents whose action items may be overdue.
pub const OVERDUE_LOOKBACK_DAYS: i64 = 400;

pub struct Deps<S, C, D, T, N> {
    pub store: S,
    pub catalog: C,
    /// The postmortem bucket.
    pub documents: D,
    pub tickets: T,
    pub bus: N,
    pub bucket: String,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Input {
    /// Write (or rewrite) the COE draft, open the tickets still missing, resolve those whose work is
    /// done; announce `Postmortem Created` the first time.
    Publish { incident_id: IncidentId },
    /// Scheduled: announce every overdue action item (once a day each) and page its owner team.
    Overdue {},
}

/// Where an incident's COE draft is kept in the postmortem bucket.
pub fn document_key(id: &IncidentId) -> String {
    format!("postmortems/{id}/coe.md")
}

impl<S, C, D, T, N> Deps<S, C, D, T, N>
where
    S: IncidentStore + Postmortems,
    C: CatalogSource,
    D: EvidenceStore,
    T: Tickets,
    N: Notifier,
{
    pub async fn handle(&self, input: Input) -> Result<Value, HandlerError> {
        match input {
            Input::Publish { incident_id } => self.publish(incident_id).await,
            Input::Overdue {} => self.overdue().await,
        }
    }

    async fn publish(&self, id: IncidentId) -> Result<Value, HandlerError> {
        let record = coe_record(&self.store, &self.catalog, &id).await?;
        if record.incident.status != Status::Resolved {
            return Err(HandlerError::InvalidInput(format!(
                "{id} is {}: its COE is written once it is resolved",
                record.incident.status
            )));
        }
        let key = document_key(&id);
        let document = format!("s3://{}/{key}", self.bucket);
        self.documents.put(&key, coe::render(&record).into_bytes()).await?;
        let actions = record.actions;

        // The document is linked from the incident before any ticket is asked for, so that a
        // tracker outage still leaves a COE people can find.
        let now = Utc::now();
        let incident = run_step(&self.store, &id, |i| {
            tickets::record_published(i, &document, now);
            Ok(vec![])
        })
        .await?;
        let pm = incident.postmortem.clone().expect("recorded just above");
        // Announced once, and only once it really went out: a retry after any later failure
        // announces it then.
        let created = !pm.announced;
        let ticket = match pm.ticket {
            Some(t) => t,
            None => {
                let arn = format!("arn:aws:s3:::{}/{key}", self.bucket);
                let opened = self
                    .tickets
                    .open(&tickets::postmortem_ticket(&incident, &document, &arn, pm.due))
                    .await?;
                run_step(&self.store, &id, |i| {
                    tickets::record_ticket(i, &opened);
                    Ok(vec![])
                })
                .await?;
                opened
            }
        };
        let due = pm.due;

        let mut items = Vec::new();
        for mut item in actions {
            if item.ticket.is_none() {
                let opened = self
                    .tickets
                    .open(&tickets::action_ticket(&incident, &item, Some(&ticket)))
                    .await?;
                self.store.record_ticket(&id, &item.id, &opened).await?;
                item.ticket = Some(opened);
            }
            if let (Some(_), Some(t)) = (&item.done, &item.ticket) {
                self.tickets.resolve(t).await?;
            }
            items.push(ActionSummary::of(&item));
        }
        let completed = incident.postmortem.as_ref().is_some_and(|p| p.completed.is_some());
        if completed {
            self.tickets.resolve(&ticket).await?;
        }
        let summary = PostmortemSummary {
            incident_id: id.clone(),
            title: incident.title.clone(),
            severity: incident.severity,
            services: incident.services.clone(),
            customer_facing: incident.customer_facing,
            exercise: incident.exercise,
            document: document.clone(),
            ticket: ticket.clone(),
            due,
            completed,
            action_items: items,
        };
        if created {
            let text = format!(
                "COE draft written to {document}; ticket {ticket}, due {}",
                due.format("%Y-%m-%d")
            );
            let entry =
                Entry::system("postmortem", EntryKind::Closing, "postmortem-created", text).link(document.clone());
            self.bus.emit(&AppEvent::PostmortemCreated(summary.clone())).await?;
            run_step(&self.store, &id, |i| {
                tickets::record_announced(i);
                Ok(vec![entry.clone()])
            })
            .await?;
        }
        Ok(json!({ "created": created, "postmortem": summary }))
    }

    async fn overdue(&self) -> Result<Value, HandlerError> {
        let now = Utc::now();
        let today = now.date_naive();
        let days: Vec<String> = (0..OVERDUE_LOOKBACK_DAYS)
            .map(|d| (today - TimeDelta::days(d)).format("%Y-%m-%d").to_string())
            .collect();
        let catalog = self.catalog.load().await?;
        let mut announced = Vec::new();
        let mut unpaged = Vec::new();
        for incident in self.store.incidents_of_days(&days).await? {
            let items = self.store.actions(&incident.id).await?;
            for item in tickets::overdue_to_announce(&items, now) {
                let days_overdue = (now - item.due).num_days();
                let event = AppEvent::ActionItemOverdue {
                    incident_id: incident.id.clone(),
                    action_item: item.id.clone(),
                    owner: item.owner.clone(),
                    term: item.term,
                    due: item.due,
                    days_overdue,
                    text: item.text.clone(),
                    ticket: item.ticket.clone(),
                };
                self.bus.emit(&event).await?;
                if let Some(target) = catalog.team_target(&item.owner) {
                    let subject = format!("Overdue action item {}", item.id);
                    let message = format!(
                        "{} ({}) from the COE of {} was due {} ({days_overdue} days ago): {}",
                        item.id,
                        item.term,
                        incident.id,
                        item.due.format("%Y-%m-%d"),
                        item.text
                    );
                    if let Err(e) = self.bus.page(target, &subject, &message).await {
                        tracing::warn!(item = %item.id, error = %e, "overdue page failed; the event was published");
                        unpaged.push(item.id.clone());
                    }
                }
                self.store.record_reminder(&incident.id, &item.id, now).await?;
                announced.push(item.id.clone());
            }
        }
        Ok(json!({ "announced": announced, "unpaged": unpaged }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::actions::{ActionItem, Term};
    use incident_core::catalog::Catalog;
    use incident_core::coe::Authored;
    use incident_core::incident::{Incident, Scope};
    use incident_core::memory::{MemoryEvidence, MemoryNotifier, MemoryStore, MemoryTickets};
    use incident_core::severity::Severity;
    use incident_core::whys::Tree;
    use incident_core::SignalKey;

    type TestDeps = Deps<MemoryStore, Catalog, MemoryEvidence, MemoryTickets, MemoryNotifier>;

    fn resolved(id: &IncidentId) -> Incident {
        let now = Utc::now();
        let mut i = Incident::open(
            id.clone(),
            Scope::SingleService,
            vec!["checkout".into()],
            now - TimeDelta::hours(2),
        );
        i.title = "checkout errors".into();
        i.owner = Some("payments".into());
        i.severity = Some(Severity::Sev2);
        i.customer_facing = true;
        i.status = Status::Resolved;
        i.resolved_at = Some(now);
        i
    }

    fn deps(incident: Incident, actions: Vec<ActionItem>) -> TestDeps {
        let id = incident.id.clone();
        let store = MemoryStore::with([incident]);
        store.set_postmortem(&id, Tree::default(), actions, Authored::default());
        Deps {
            store,
            catalog: serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap(),
            documents: MemoryEvidence::default(),
            tickets: MemoryTickets::default(),
            bus: MemoryNotifier::default(),
            bucket: "pm-bucket".into(),
        }
    }

    fn id() -> IncidentId {
        IncidentId::for_service("checkout", &SignalKey::new("t", "1"))
    }

    fn item(n: usize, term: Term, due_days_ago: Option<i64>) -> ActionItem {
        let now = Utc::now();
        let created = due_days_ago
            .map(|d| now - TimeDelta::days(d) - TimeDelta::days(91))
            .unwrap_or(now);
        ActionItem::new(
            format!("{}.a{n}", id()),
            term,
            "payments",
            "pin the deploy",
            None,
            created,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn resolution_writes_the_coe_opens_its_tickets_and_announces_it_once() {
        let d = deps(
            resolved(&id()),
            vec![item(1, Term::Short, None), item(2, Term::Long, None)],
        );
        let out = d.handle(Input::Publish { incident_id: id() }).await.unwrap();
        assert_eq!(out["created"], true);

        let key = document_key(&id());
        let doc = String::from_utf8(d.documents.objects.lock().unwrap()[&key].clone()).unwrap();
        assert!(doc.starts_with(&format!("# COE: checkout errors ({})", id())), "{doc}");
        assert!(doc.contains("## Customer-facing RCA"));

        let opened = d.tickets.opened.lock().unwrap().clone();
        assert_eq!(opened.len(), 3, "one for the COE, one per action item");
        let (coe_ticket, coe) = &opened[0];
        assert_eq!(coe.severity, 2);
        assert_eq!(coe.data["document"], format!("s3://pm-bucket/{key}"));
        assert_eq!(coe.resources, vec![format!("arn:aws:s3:::pm-bucket/{key}")]);
        assert_eq!(opened[1].1.related, vec![coe_ticket.clone()]);

        let stored = d.store.get(&id()).unwrap();
        let pm = stored.postmortem.unwrap();
        assert_eq!(pm.ticket.as_deref(), Some(coe_ticket.as_str()));
        assert_eq!(pm.due - stored.resolved_at.unwrap(), TimeDelta::days(7));
        assert!(d.store.actions_of(&id()).iter().all(|a| a.ticket.is_some()));

        let created = d.bus.events_of("Postmortem Created");
        assert_eq!(created.len(), 1);
        assert_eq!(created[0]["ticket"], coe_ticket.as_str());
        assert_eq!(created[0]["action_items"].as_array().unwrap().len(), 2);
        assert!(d.store.timeline(&id()).iter().any(|e| e.key == "postmortem-created"));

        // Publishing again (a retry, or `incidentctl coe publish`) opens nothing new.
        let again = d.handle(Input::Publish { incident_id: id() }).await.unwrap();
        assert_eq!(again["created"], false);
        assert_eq!(d.tickets.opened.lock().unwrap().len(), 3);
        assert_eq!(d.bus.events_of("Postmortem Created").len(), 1);
    }

    #[tokio::test]
    async fn later_action_items_get_tickets_and_validated_ones_are_resolved() {
        let mut done = item(1, Term::Short, None);
        let d = deps(resolved(&id()), vec![done.clone()]);
        d.handle(Input::Publish { incident_id: id() }).await.unwrap();
        done = d.store.actions_of(&id())[0].clone();
        done.close("canary green for a day", "ana", Utc::now()).unwrap();
        let later = item(2, Term::Mid, None);
        d.store
            .set_postmortem(&id(), Tree::default(), vec![done.clone(), later], Authored::default());
        d.handle(Input::Publish { incident_id: id() }).await.unwrap();
        assert_eq!(d.tickets.opened.lock().unwrap().len(), 3);
        assert_eq!(d.tickets.resolved.lock().unwrap().clone(), vec![done.ticket.unwrap()]);
    }

    #[tokio::test]
    async fn a_tracker_outage_still_leaves_the_coe_written_and_linked() {
        let mut d = deps(resolved(&id()), vec![item(1, Term::Short, None)]);
        d.tickets.down = true;
        let err = d.handle(Input::Publish { incident_id: id() }).await.unwrap_err();
        assert_eq!(err.error_type(), "Retryable");
        assert!(d.documents.objects.lock().unwrap().contains_key(&document_key(&id())));
        let pm = d.store.get(&id()).unwrap().postmortem.unwrap();
        assert_eq!(pm.document, format!("s3://pm-bucket/{}", document_key(&id())));
        assert_eq!(pm.ticket, None);

        d.tickets.down = false;
        let out = d.handle(Input::Publish { incident_id: id() }).await.unwrap();
        assert_eq!(out["created"], true, "announced once the ticket exists");
        assert_eq!(d.bus.events_of("Postmortem Created").len(), 1);
    }

    #[tokio::test]
    async fn a_failure_after_the_coe_ticket_still_announces_on_the_retry() {
        let d = deps(resolved(&id()), vec![item(1, Term::Short, None)]);
        // The COE ticket exists already (an earlier attempt), but nothing was announced.
        d.store.alter(&id(), |i| {
            i.postmortem = Some(tickets::Postmortem {
                document: format!("s3://pm-bucket/{}", document_key(&id())),
                due: Utc::now(),
                ticket: Some("oi-earlier".into()),
                published_at: Utc::now(),
                announced: false,
                completed: None,
            });
        });
        let out = d.handle(Input::Publish { incident_id: id() }).await.unwrap();
        assert_eq!(out["created"], true);
        let created = d.bus.events_of("Postmortem Created");
        assert_eq!((created.len(), created[0]["ticket"].as_str()), (1, Some("oi-earlier")));
        assert!(d.store.get(&id()).unwrap().postmortem.unwrap().announced);
    }

    #[tokio::test]
    async fn an_unresolved_incident_gets_no_coe_yet() {
        let mut open = resolved(&id());
        open.status = Status::Mitigated;
        let d = deps(open, vec![]);
        let err = d.handle(Input::Publish { incident_id: id() }).await.unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
        assert!(d.documents.objects.lock().unwrap().is_empty());
        assert!(d.tickets.opened.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn overdue_items_are_announced_and_paged_once_a_day() {
        let d = deps(
            resolved(&id()),
            vec![item(1, Term::Short, Some(3)), item(2, Term::Long, None)],
        );
        let out = d.handle(Input::Overdue {}).await.unwrap();
        assert_eq!(out["announced"], json!([format!("{}.a1", id())]));
        let events = d.bus.events_of("Action Item Overdue");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["owner"], "payments");
        assert!(events[0]["days_overdue"].as_i64().unwrap() >= 3);
        assert_eq!(d.bus.paged().len(), 1, "the owner team is paged");
        assert!(d.store.actions_of(&id())[0].reminded_at.is_some());

        let again = d.handle(Input::Overdue {}).await.unwrap();
        assert_eq!(again["announced"], json!([]));
        assert_eq!(d.bus.events_of("Action Item Overdue").len(), 1);
    }
}
