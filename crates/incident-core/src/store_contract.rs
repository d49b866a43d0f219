//! The command store's contract, as one suite: the in-memory store runs it in the core's tests and
//! the DynamoDB store runs it against the local stack in the end-to-end tests, so a handler tested
//! in memory and the loop in production apply people's commands the same way (feature `testing`).

use crate::approval::{Approval, Caller};
use crate::catalog::Catalog;
use crate::command::{Command, Refusal};
use crate::correlation::Policy;
use crate::effects::{Effects, Waiting};
use crate::incident::Status;
use crate::ports::{
    run_command, run_step, Applied, Approvals, CommandError, CommandStore, IncidentStore, PortError, Rejected, Tokens,
};
use crate::signal::{Health, Signal, SignalSource};
use crate::timeline::{Entry, EntryKind};
use crate::{IncidentId, SignalKey};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeMap;

fn person(name: &str) -> Caller {
    Caller::from_arn(&format!("arn:aws:iam::000000000000:user/{name}"))
}

fn refusal(result: Result<crate::command::Decided, CommandError>) -> String {
    match result {
        Err(CommandError::Refused(r)) => r.to_string(),
        Err(CommandError::Port(e)) => panic!("a port failed instead of a rule refusing: {e}"),
        Ok(d) => panic!("expected a refusal, got: {}", d.reply.message),
    }
}

/// Runs the whole contract on `store` with `catalog` (checkout's approvers: ana and bilal), for an
/// incident opened at `at` under `tag` (so that several runs on one store never correlate).
pub async fn command_store_contract<S>(store: &S, catalog: &Catalog, at: DateTime<Utc>, tag: &str)
where
    S: IncidentStore + Approvals + Tokens + CommandStore,
{
    let signal = Signal {
        key: SignalKey::new("contract", tag),
        source: SignalSource::Alarm,
        health: Health::Impaired,
        resource: "checkout-api-5xx".into(),
        at,
        reason: "contract".into(),
        service_hint: Some("checkout".into()),
        exercise: true,
        live_runbooks: false,
        location: None,
        alarm: None,
        link: None,
        reporter: None,
        quiet: None,
        time_note: None,
        aws: None,
    };
    let recorded = store
        .record_signal(&catalog.resolve(&signal), &signal, &Policy::default())
        .await
        .expect("the signal is recorded");
    let id: IncidentId = recorded.start.first().cloned().expect("the signal opened an incident");
    let now = Utc::now();

    // Ingest's records are the core's: the opening on the timeline, a recovery kept as a signal.
    let recovered = Signal {
        key: SignalKey::new("contract", &format!("{tag}-ok")),
        health: Health::Recovered,
        at: at + TimeDelta::minutes(2),
        ..signal.clone()
    };
    store
        .record_signal(&catalog.resolve(&recovered), &recovered, &Policy::default())
        .await
        .expect("the recovery is recorded");
    let (opened, _) = store.command_state(&id, true).await.unwrap();
    let incident = opened.incident.clone().expect("the opened incident");
    assert_eq!(incident.title, "checkout: checkout-api-5xx");
    assert!(incident.exercise);
    let kinds: Vec<EntryKind> = opened.timeline.iter().map(|e| e.kind).collect();
    assert!(
        kinds.contains(&EntryKind::Opened) && kinds.contains(&EntryKind::Recovery),
        "{kinds:?}"
    );
    assert_eq!(opened.signals.len(), 2, "the recovery is kept with the incident");
    let run = |command: Command, who: &str| {
        let caller = person(who);
        let id = id.clone();
        // Each command at its own instant, as people's are: an entry's key is its kind and time.
        async move { run_command(store, catalog, &id, &command, &caller, Utc::now()).await }
    };

    // Acknowledged once; the second is refused with who was first.
    let acked = run(Command::Ack, "ana").await.expect("ana acknowledges");
    assert!(
        acked.reply.message.contains("acknowledged by ana"),
        "{}",
        acked.reply.message
    );
    let again = refusal(run(Command::Ack, "bilal").await);
    assert!(again.contains("already acknowledged by ana"), "{again}");
    let (state, _) = store.command_state(&id, true).await.unwrap();
    let incident = state.incident.expect("the incident");
    assert_eq!(incident.status, Status::Acknowledged);
    assert_eq!(incident.acknowledged_by.as_deref(), Some("ana"));
    assert!(state
        .timeline
        .iter()
        .any(|e| e.kind == EntryKind::Acknowledged && e.actor == "ana"));

    // An approval: only an approver decides, once, and the token is completed once.
    let plan = crate::mitigation::plan(catalog.service("checkout"), at, std::slice::from_ref(&signal), &[]);
    let token = format!("token-{tag}");
    let approval = Approval::new(&id, plan.candidates, 0, &token);
    let key = Waiting::Approval(approval.id.clone()).key();
    store.keep(&id, &key, &token).await.unwrap();
    store.request(&approval).await.unwrap();
    let approve = || Command::Approve {
        approval_id: None,
        candidate: None,
        reason: Some("contract".into()),
        confirm_roll_forward: false,
        parameters: BTreeMap::from([("DesiredCount".to_string(), "4".to_string())]),
    };
    let not_approver = refusal(run(approve(), "eve").await);
    assert_eq!(
        not_approver,
        "eve is not an approver for checkout (approvers: ana, bilal)"
    );
    let undecided = store.latest(&id).await.unwrap().expect("the approval");
    assert_eq!(undecided.decision, None, "a refused decision changes nothing");
    let decided = run(approve(), "ana").await.expect("ana approves");
    assert_eq!(decided.effects.complete[0].task, Waiting::Approval(approval.id.clone()));
    let stored = store
        .latest(&id)
        .await
        .unwrap()
        .and_then(|a| a.decision)
        .expect("decided");
    assert_eq!(
        (stored.by.as_str(), stored.by_arn.as_str()),
        ("ana", person("ana").arn.as_str())
    );
    assert_eq!(stored.parameters["DesiredCount"], "4");
    let second = refusal(run(approve(), "bilal").await);
    assert!(second.starts_with("already approved by ana at "), "{second}");
    assert_eq!(store.take(&id, &key).await.unwrap().as_deref(), Some(token.as_str()));
    assert_eq!(store.take(&id, &key).await.unwrap(), None, "a token is taken once");

    // A write based on what was read before someone else wrote lands nowhere.
    let (stale, read) = store.command_state(&id, false).await.unwrap();
    run(
        Command::Mitigate {
            note: "shifted traffic away".into(),
            links: vec![],
        },
        "bilal",
    )
    .await
    .expect("a manual mitigation");
    let mut overwritten = stale.incident.clone().unwrap();
    overwritten.title = "overwritten".into();
    let lost_update = Effects {
        incident: Some(overwritten),
        ..Effects::default()
    };
    assert_eq!(
        store.apply(&id, &read, &lost_update).await.unwrap(),
        Applied::Conflict,
        "a stale write is refused"
    );
    let (now_state, _) = store.command_state(&id, false).await.unwrap();
    let current = now_state.incident.unwrap();
    assert_ne!(current.title, "overwritten");
    assert_eq!(current.mitigated_by.as_deref(), Some("manual: bilal"));

    // Lifecycle steps write through the same path: the change and its entry at once; a retried
    // step (same entry key) writes nothing again, even on a changed incident; a refusal writes nothing.
    let escalated = || Entry::system("contract", EntryKind::Escalated, "escalation-1", "escalation 1 to sre");
    let stepped = run_step(store, &id, |i| {
        crate::engagement::record_escalation(i, 1);
        Ok(vec![escalated()])
    })
    .await
    .expect("a lifecycle step");
    assert_eq!(stepped.escalations, 1);
    run_step(store, &id, |i| {
        i.title = "retried".into();
        Ok(vec![escalated()])
    })
    .await
    .expect("a retried step is no error");
    let (after, _) = store.command_state(&id, true).await.unwrap();
    let written: Vec<_> = after.timeline.iter().filter(|e| e.key == "escalation-1").collect();
    assert_eq!(written.len(), 1, "a retried step's entry is kept once");
    let after = after.incident.unwrap();
    assert_eq!((after.escalations, after.title.as_str()), (1, current.title.as_str()));
    let refused = run_step(store, &id, |i| {
        i.title = "refused".into();
        Err(Rejected("not now".into()))
    })
    .await;
    assert_eq!(refused.unwrap_err(), PortError::Rejected("not now".into()));
    let taken = run_step(store, &id, |_| {
        Ok(vec![
            Entry::system("contract", EntryKind::Note, "contract-new", "new"),
            escalated(),
        ])
    })
    .await;
    assert!(
        matches!(taken, Err(PortError::Invalid(ref why)) if why.contains("escalation-1")),
        "a key another step took is said, not retried: {taken:?}"
    );
    assert_ne!(store.incident(&id).await.unwrap().title, "refused");

    // The postmortem's records: the tree, an action item closed only with validation, once.
    run(
        Command::WhyAdd {
            parent: None,
            text: "because checkout returned 5xx".into(),
            category: None,
        },
        "ana",
    )
    .await
    .unwrap();
    let add = Command::ActionAdd {
        term: "short".into(),
        owner: "payments".into(),
        due: Some(now + TimeDelta::days(1)),
        why: Some("w1".into()),
        text: "Pin the gateway key".into(),
    };
    let added = run(add, "ana").await.expect("an action item");
    let item = format!("{id}.a1");
    assert!(added.reply.message.contains(&item), "{}", added.reply.message);
    let weak = refusal(
        run(
            Command::ActionDone {
                item: item.clone(),
                validation: "ok".into(),
            },
            "ana",
        )
        .await,
    );
    assert!(weak.contains("closed only with validation evidence"), "{weak}");
    let proof = "deploy 812 verified the key in every region";
    run(
        Command::ActionDone {
            item: item.clone(),
            validation: proof.into(),
        },
        "ana",
    )
    .await
    .expect("closed with validation");
    let twice = refusal(
        run(
            Command::ActionDone {
                item: item.clone(),
                validation: proof.into(),
            },
            "bilal",
        )
        .await,
    );
    assert!(twice.contains("already closed by ana"), "{twice}");
    run(
        Command::CoeImpact {
            text: "Customers could not pay for 20 minutes.".into(),
        },
        "ana",
    )
    .await
    .unwrap();
    let (coe, _) = store.command_state(&id, false).await.unwrap();
    assert_eq!(coe.whys.nodes[0].id, "w1");
    assert_eq!(coe.actions[0].done.as_ref().map(|d| d.by.as_str()), Some("ana"));
    assert!(coe.authored.impact_summary.is_some());

    // Resolution: refused with the checklist's missing items, then overridden on the record.
    let resolve = |force: Option<&str>| Command::Resolve {
        summary: Some("contract".into()),
        force_reason: force.map(str::to_string),
    };
    match run(resolve(None), "eve").await {
        Err(CommandError::Refused(Refusal::Checklist(missing))) => {
            assert!(missing.iter().any(|m| m.contains("final evidence")), "{missing:?}")
        }
        other => panic!("expected the checklist to refuse: {other:?}"),
    }
    let resolved = run(resolve(Some("the exercise ends here")), "eve")
        .await
        .expect("forced");
    let waiting: Vec<&Waiting> = resolved.effects.complete.iter().map(|c| &c.task).collect();
    assert!(waiting.contains(&&Waiting::Resolution) && waiting.contains(&&Waiting::UpdateWindow));
    let (closed, _) = store.command_state(&id, false).await.unwrap();
    let closed = closed.incident.unwrap();
    assert_eq!(closed.status, Status::Resolved);
    let o = closed.resolution_override.expect("the override is recorded");
    assert_eq!(
        (o.reason.by.as_str(), o.by_arn.as_str()),
        ("eve", person("eve").arn.as_str())
    );
    let late = refusal(
        run(
            Command::Note {
                text: "x".into(),
                links: vec!["javascript:alert(1)".into()],
            },
            "ana",
        )
        .await,
    );
    assert!(late.contains("is not an http(s) URL"), "{late}");
}

/// The change log's contract: an event is kept once however often it arrives, changes are read
/// by service, space and time, oldest first. `tag` keeps several runs on one store apart.
pub async fn change_log_contract<S: crate::ports::ChangeLog>(store: &S, at: DateTime<Utc>, tag: &str) {
    use crate::change::{collapse, Change, ChangeKind, ChangeOutcome, Origin};
    use crate::correlation::Space;
    let service = format!("contract-{tag}");
    let event = |minutes: i64, outcome: ChangeOutcome| Change {
        at: at + TimeDelta::minutes(minutes),
        kind: ChangeKind::EcsDeployment,
        actor: "ECS".into(),
        resource: "shop/checkout-api".into(),
        summary: format!("ECS deployment ecs-svc/{tag} {}", outcome.describe()),
        link: None,
        origin: Origin::Event,
        id: Some(format!("ecs-svc/{tag}")),
        outcome: Some(outcome),
        location: None,
    };
    let (started, failed) = (event(0, ChangeOutcome::Started), event(6, ChangeOutcome::Failed));
    for c in [&failed, &started, &started] {
        store.record_change(Space::Real, &service, c).await.expect("recorded");
    }
    let mut rehearsed = event(1, ChangeOutcome::Started);
    rehearsed.id = Some("rehearsal".into());
    store
        .record_change(Space::GameDay, &service, &rehearsed)
        .await
        .expect("recorded");

    let got = store
        .changes(
            Space::Real,
            &service,
            at - TimeDelta::hours(1),
            at + TimeDelta::hours(1),
        )
        .await
        .expect("read");
    assert_eq!(
        got,
        [started.clone(), failed.clone()],
        "once each, oldest first, real ones only"
    );
    let one = collapse(got);
    assert_eq!(one.len(), 1);
    assert_eq!((one[0].at, one[0].outcome), (started.at, Some(ChangeOutcome::Failed)));

    let later = store
        .changes(
            Space::Real,
            &service,
            at + TimeDelta::minutes(5),
            at + TimeDelta::hours(1),
        )
        .await
        .expect("read");
    assert_eq!(later, [failed], "read from a time on");
    let game = store
        .changes(
            Space::GameDay,
            &service,
            at - TimeDelta::hours(1),
            at + TimeDelta::hours(1),
        )
        .await
        .expect("read");
    assert_eq!(game, [rehearsed]);
    let other = store
        .changes(
            Space::Real,
            "another-service",
            at - TimeDelta::hours(1),
            at + TimeDelta::hours(1),
        )
        .await
        .expect("read");
    assert!(other.is_empty());
}
