//! The COE draft, as golden files for a single-service and a multi-service incident, and the rules
//! that gate completing it and resolving the incident. `UPDATE_GOLDEN=1 cargo test` rewrites the
//! golden files (review the diff before committing).

use chrono::{DateTime, TimeDelta, Utc};
use incident_core::actions::{ActionItem, Term};
use incident_core::coe::{gaps, render, Authored, DependencyReview, Record};
use incident_core::incident::{Incident, Scope, Status};
use incident_core::severity::Severity;
use incident_core::signal::{Health, Signal, SignalSource};
use incident_core::timeline::{Entry, EntryKind};
use incident_core::whys::Tree;
use incident_core::{IncidentId, SignalKey};

fn t(minute: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T03:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + TimeDelta::minutes(minute)
}

fn signal(source: SignalSource, resource: &str, minute: i64) -> Signal {
    Signal {
        key: SignalKey::new("golden", resource),
        source,
        health: Health::Impaired,
        resource: resource.into(),
        at: t(minute),
        reason: "golden".into(),
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

fn incident(scope: Scope, services: &[&str]) -> Incident {
    let id = IncidentId::for_service(services[0], &SignalKey::new("golden", "1"));
    let mut i = Incident::open(id, scope, services.iter().map(|s| s.to_string()).collect(), t(0));
    i.impact_started_at = t(0);
    i.detected_at = t(2);
    i.engaged_at = Some(t(3));
    i.acknowledged_at = Some(t(9));
    i.acknowledged_by = Some("OnCall/ana".into());
    i.mitigated_at = Some(t(31));
    i.resolved_at = Some(t(75));
    i.status = Status::Resolved;
    i.severity = Some(Severity::Sev2);
    i.customer_facing = true;
    i.owner = Some("payments".into());
    i.commander = Some("hana".into());
    i.first_signal = "alarm in ALARM: checkout-api-5xx — Threshold Crossed".into();
    i.title = format!("{}: checkout-api-5xx", services[0]);
    i
}

fn timeline() -> Vec<Entry> {
    let e = |m, kind, actor: &str, text: &str| Entry {
        at: t(m),
        actor: actor.into(),
        kind,
        text: text.into(),
        links: vec![],
        key: format!("k{m}"),
    };
    vec![
        e(
            2,
            EntryKind::Opened,
            "incident-loop/ingest",
            "opened for checkout: alarm in ALARM: checkout-api-5xx",
        ),
        e(
            3,
            EntryKind::Engaged,
            "incident-loop/engage",
            "engaged payments (owns checkout)",
        ),
        e(
            9,
            EntryKind::Acknowledged,
            "OnCall/ana",
            "acknowledged (7m after detection)",
        ),
        e(
            20,
            EntryKind::Mitigation,
            "OnCall/ana",
            "approved candidate 0 (IncidentLoop-RollbackLambdaAlias)",
        ),
        e(
            31,
            EntryKind::Mitigation,
            "incident-loop/mitigate",
            "mitigated: every alarm back to OK",
        ),
        e(
            75,
            EntryKind::Resolved,
            "OnCall/ana",
            "resolved: rollback held for 40 minutes",
        ),
    ]
}

fn tree() -> Tree {
    let mut t = Tree::default();
    let w1 = t.add(None, "because checkout returned 5xx for 31 minutes").unwrap();
    let w11 = t
        .add(Some(&w1), "because the 03:00 build could not reach the payment gateway")
        .unwrap();
    t.add(Some(&w11), "because a config key was renamed without a migration")
        .unwrap();
    t.add(Some(&w1), "because the canary did not exercise the payment path")
        .unwrap();
    t
}

fn actions() -> Vec<ActionItem> {
    let mut pin = ActionItem::new(
        "act-1",
        Term::Short,
        "payments",
        "Pin the gateway config key",
        None,
        t(40),
    )
    .unwrap();
    pin.why = Some("w1.1.1".into());
    pin.close(
        "deploy 812 verified the key resolves in all regions",
        "OnCall/ana",
        t(70),
    )
    .unwrap();
    let mut canary = ActionItem::new(
        "act-2",
        Term::Mid,
        "payments",
        "Add the payment path to the checkout canary",
        None,
        t(40),
    )
    .unwrap();
    canary.why = Some("w1.2".into());
    let migration = ActionItem::new(
        "act-3",
        Term::Long,
        "platform-oncall",
        "Config schema migrations in CI",
        None,
        t(40),
    )
    .unwrap();
    vec![pin, canary, migration]
}

fn authored() -> Authored {
    Authored {
        impact_summary: Some("About 8% of checkouts failed with an error page for 31 minutes.".into()),
        dependencies: vec![DependencyReview {
            dependency: "auth".into(),
            performed_as_promised: Some("yes".into()),
            our_use_was_right: Some("yes".into()),
            failure_was_foreseeable: Some("not involved".into()),
            can_degrade_gracefully: Some("cached sessions carry 10 minutes".into()),
        }],
        learnings: vec!["Renamed configuration needs a migration step like a schema change.".into()],
        customer_rca: None,
    }
}

fn golden(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var("UPDATE_GOLDEN").is_ok() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e} (UPDATE_GOLDEN=1 writes it)"));
    assert_eq!(actual, expected, "{name} differs from the golden file");
}

/// The single-service checkout incident with its whole postmortem written.
fn written() -> Record {
    Record {
        timeline: timeline(),
        whys: tree(),
        actions: actions(),
        authored: authored(),
        dependencies: vec!["auth".to_string(), "payments-gateway".to_string()],
        ..Record::of(incident(Scope::SingleService, &["checkout"]))
    }
}

#[test]
fn the_single_service_coe_draft_matches_its_golden_file() {
    golden("coe-single-service.md", &render(&written()));
}

#[test]
fn the_multi_service_coe_draft_matches_its_golden_file() {
    let mut i = incident(Scope::MultiService, &["checkout", "orders", "auth"]);
    i.customer_detected = true;
    i.owner = Some("incident-response".into());
    i.title = "Multi-service event: checkout, orders, auth".into();
    let record = Record {
        timeline: timeline(),
        dependencies: vec!["auth".to_string()],
        // Customers reported it at 03:00; our first alarm fired twelve minutes later.
        signals: vec![
            signal(SignalSource::CustomerReport, "customers cannot pay", 0),
            signal(SignalSource::Alarm, "orders-latency", 12),
        ],
        ..Record::of(i)
    };
    let draft = render(&record);
    assert!(
        draft.contains("**customers**, 12m00s before our first alarm or canary"),
        "{draft}"
    );
    golden("coe-multi-service.md", &draft);
}

#[test]
fn coe_check_lists_every_gap() {
    let mut record = written();
    let found = gaps(&record, t(60 * 24 * 9));
    assert!(
        found.iter().any(|g| g.contains("dependency payments-gateway: 4 of 4")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|g| g.contains("customer-facing RCA overdue")),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|g| g.starts_with("why ")),
        "every leaf is actioned: {found:?}"
    );

    record.whys.add(Some("w1"), "because nobody owned the runbook").unwrap();
    let found = gaps(&record, t(100));
    assert!(
        found
            .iter()
            .any(|g| g == "why w1.3 ends in neither an action item nor an accepted risk"),
        "{found:?}"
    );
}
