//! People's commands decided by the core and applied by the in-memory store: the same contract the
//! DynamoDB store passes on the local stack, plus the rules each command answers with.

use chrono::{TimeDelta, Utc};
use incident_core::approval::Caller;
use incident_core::catalog::Catalog;
use incident_core::command::{decide, Command, Refusal, ReportRequest, State};
use incident_core::effects::FollowUp;
use incident_core::incident::{Incident, Scope, Status};
use incident_core::memory::MemoryStore;
use incident_core::store_contract::command_store_contract;
use incident_core::{IncidentId, SignalKey};

fn catalog() -> Catalog {
    serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap()
}

fn caller(name: &str) -> Caller {
    Caller::from_arn(&format!("arn:aws:iam::1:user/{name}"))
}

fn state(status: Status) -> State {
    let mut incident = Incident::open(
        IncidentId::for_service("checkout", &SignalKey::new("t", "1")),
        Scope::SingleService,
        vec!["checkout".into()],
        Utc::now(),
    );
    incident.status = status;
    State {
        incident: Some(incident),
        ..State::default()
    }
}

fn refused(command: Command, state: &State) -> Refusal {
    decide(&command, state, &catalog(), &caller("ana"), Utc::now()).unwrap_err()
}

#[tokio::test]
async fn the_in_memory_store_keeps_the_change_log_contract() {
    incident_core::store_contract::change_log_contract(&MemoryStore::default(), Utc::now(), "memory").await;
}

#[tokio::test]
async fn the_in_memory_store_keeps_the_command_store_contract() {
    let store = MemoryStore::default();
    command_store_contract(&store, &catalog(), Utc::now() - TimeDelta::minutes(5), "memory").await;
}

#[test]
fn a_closed_incident_takes_no_acknowledgement_mitigation_or_update() {
    let closed = state(Status::Resolved);
    for command in [
        Command::Ack,
        Command::Mitigate {
            note: "rolled back".into(),
            links: vec![],
        },
        Command::Update {
            text: Some("fixed".into()),
        },
    ] {
        assert!(matches!(refused(command, &closed), Refusal::Refused(_)));
    }
}

#[test]
fn approving_without_a_pending_approval_says_so() {
    let r = refused(
        Command::Approve {
            approval_id: None,
            candidate: None,
            reason: None,
            confirm_roll_forward: false,
            parameters: Default::default(),
        },
        &state(Status::Engaged),
    );
    assert!(
        matches!(&r, Refusal::NotFound(t) if t.starts_with("no mitigation approval is pending")),
        "{r}"
    );
}

#[test]
fn malformed_requests_are_invalid_not_refused() {
    let s = state(Status::Engaged);
    assert!(matches!(
        refused(
            Command::Note {
                text: " ".into(),
                links: vec![]
            },
            &s
        ),
        Refusal::Invalid(_)
    ));
    let term = refused(
        Command::ActionAdd {
            term: "soon".into(),
            owner: "payments".into(),
            due: None,
            why: None,
            text: "x".into(),
        },
        &s,
    );
    assert_eq!(term.to_string(), "the term must be short, mid or long, not 'soon'");
}

#[test]
fn a_dependency_review_names_a_catalog_dependency() {
    let r = refused(
        Command::CoeDependency {
            dependency: "the-moon".into(),
            answers: [Some("yes".into()), None, None, None],
        },
        &state(Status::Resolved),
    );
    assert!(
        r.to_string().contains("review one of auth, orders, payments-gateway"),
        "{r}"
    );
}

#[test]
fn publishing_and_capturing_are_follow_ups_that_write_nothing() {
    let s = state(Status::Resolved);
    for (command, follow_up) in [
        (Command::CoePublish, FollowUp::PublishCoe { completed: false }),
        (Command::CaptureEvidence, FollowUp::CaptureEvidence),
    ] {
        let d = decide(&command, &s, &catalog(), &caller("ana"), Utc::now()).unwrap();
        assert!(d.effects.writes_nothing());
        assert_eq!(d.effects.follow_ups, [follow_up]);
    }
}

#[test]
fn a_customer_report_is_filed_by_the_verified_caller() {
    let request = ReportRequest {
        service: "checkout".into(),
        summary: "customers cannot pay".into(),
        link: None,
        report_id: None,
    };
    let report = incident_core::command::report(&request, &caller("sam"), Utc::now()).unwrap();
    assert_eq!(report.reporter.as_deref(), Some("sam"));
    assert!(report.report_id.starts_with("sam-"));
    let bad = ReportRequest {
        link: Some("file:///etc/passwd".into()),
        ..request
    };
    assert!(incident_core::command::report(&bad, &caller("sam"), Utc::now()).is_err());
}

#[test]
fn resolving_a_resolved_incident_writes_nothing_and_tells_the_lifecycle_again() {
    let mut s = state(Status::Resolved);
    s.incident.as_mut().unwrap().resolved_by = Some("ivo".into());
    let command = Command::Resolve {
        summary: None,
        force_reason: None,
    };
    let d = decide(&command, &s, &catalog(), &caller("ana"), Utc::now()).unwrap();
    assert!(d.effects.writes_nothing());
    assert_eq!(
        d.effects.complete.len(),
        4,
        "the acknowledgement and recovery waits, the resolution and the update window"
    );
    assert!(
        d.reply.message.contains("already resolved by ivo"),
        "{}",
        d.reply.message
    );
}

#[test]
fn a_decision_names_the_approval_it_is_about_and_no_decision_lands_on_a_closed_incident() {
    use incident_core::approval::Approval;
    let mut s = state(Status::Engaged);
    let id = s.incident.as_ref().unwrap().id.clone();
    let plan = incident_core::mitigation::plan(catalog().service("checkout"), Utc::now(), &[], &[]);
    s.approval = Some(Approval::new(&id, plan.candidates, 1, "t2"));
    let reject = |approval_id: Option<&str>| Command::Reject {
        approval_id: approval_id.map(str::to_string),
        reason: None,
    };
    let stale = refused(reject(Some("apr-0000")), &s);
    assert!(stale.to_string().contains("was replaced by apr-"), "{stale}");
    let current = s.approval.as_ref().unwrap().id.clone();
    assert!(decide(&reject(Some(&current)), &s, &catalog(), &caller("ana"), Utc::now()).is_ok());
    s.incident.as_mut().unwrap().status = Status::Resolved;
    assert!(matches!(refused(reject(None), &s), Refusal::Refused(_)));
}

#[tokio::test]
async fn a_wait_that_starts_after_the_resolution_is_completed_at_once() {
    use incident_core::effects::Waiting;
    use incident_core::memory::MemoryLoop;
    use incident_core::ports::keep_waiting;
    let resolved = state(Status::Resolved).incident.unwrap();
    let id = resolved.id.clone();
    let store = MemoryStore::with([resolved]);
    let callbacks = MemoryLoop::default();
    keep_waiting(&store, &callbacks, &id, &Waiting::Resolution, "late-token")
        .await
        .unwrap();
    assert_eq!(store.token(&id, "resolve"), None, "taken once completed");
    assert_eq!(callbacks.completed.lock().unwrap()[0].0, "late-token");
}

#[tokio::test]
async fn the_acknowledgement_wait_ends_with_an_acknowledgement_before_or_after_it_started() {
    use incident_core::effects::Waiting;
    use incident_core::memory::MemoryLoop;
    use incident_core::ports::{keep_waiting, run_command};
    let open = state(Status::Engaged).incident.unwrap();
    let id = open.id.clone();
    let store = MemoryStore::with([open]);
    let callbacks = MemoryLoop::default();
    keep_waiting(&store, &callbacks, &id, &Waiting::Acknowledgement, "ack-token")
        .await
        .unwrap();
    assert_eq!(
        store.token(&id, "ack").as_deref(),
        Some("ack-token"),
        "nobody acknowledged: it waits"
    );
    let acked = run_command(&store, &catalog(), &id, &Command::Ack, &caller("ana"), Utc::now())
        .await
        .unwrap();
    let ends: Vec<&Waiting> = acked.effects.complete.iter().map(|c| &c.task).collect();
    assert_eq!(ends, [&Waiting::Acknowledgement], "the acknowledgement ends the wait");
    // A later wait (a restarted lifecycle) finds it acknowledged and ends at once.
    keep_waiting(&store, &callbacks, &id, &Waiting::Acknowledgement, "late-ack-token")
        .await
        .unwrap();
    let completed = callbacks.completed.lock().unwrap().clone();
    assert_eq!(completed[0].0, "late-ack-token");
    assert_eq!(completed[0].1["acknowledged_by"], "ana");
}

#[test]
fn a_why_is_classed_by_its_author_with_a_suggestion_and_an_unknown_category_is_refused() {
    let mut s = state(Status::Resolved);
    let decide_as = |command: &Command, s: &State| decide(command, s, &catalog(), &caller("ana"), Utc::now());
    let added = decide_as(
        &Command::WhyAdd {
            parent: None,
            text: "because the deploy skipped the canary".into(),
            category: None,
        },
        &s,
    )
    .unwrap();
    assert!(
        added.reply.message.contains("its category may be deployment-safety"),
        "{}",
        added.reply.message
    );
    let tree = added.effects.whys.clone().unwrap();
    assert_eq!(tree.nodes[0].category, None, "a suggestion is not a choice");
    s.whys = tree;
    let classed = decide_as(
        &Command::WhyCategorise {
            node: "w1".into(),
            category: "deployment-safety".into(),
        },
        &s,
    )
    .unwrap();
    assert_eq!(
        classed.effects.whys.unwrap().nodes[0].category,
        Some(incident_core::category::Category::DeploymentSafety)
    );
    let unknown = refused(
        Command::WhyCategorise {
            node: "w1".into(),
            category: "bad luck".into(),
        },
        &s,
    );
    assert!(
        unknown.to_string().contains("one of deployment-safety, configuration"),
        "{unknown}"
    );
    let chosen = decide_as(
        &Command::WhyAdd {
            parent: Some("w1".into()),
            text: "because nobody reviewed the pipeline".into(),
            category: Some("process".into()),
        },
        &s,
    )
    .unwrap();
    assert_eq!(chosen.reply.message, "added w1.1 (process)");
}
