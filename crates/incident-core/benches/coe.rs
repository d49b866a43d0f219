//! COE rendering: the Markdown draft (`coe::render`) and its completeness check (`coe::gaps`) for a
//! long incident: a multi-service event of six services with 600 timeline entries, 120 signals, a
//! five-whys tree of 40 nodes and 24 action items. The postmortem function renders on every
//! resolution and every `coe publish`; `coe check` runs the gaps.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use incident_core::actions::{ActionItem, Term};
use incident_core::coe::{gaps, render, Authored, Record};
use incident_core::incident::{Incident, Scope, Status};
use incident_core::severity::Severity;
use incident_core::timeline::{Entry, EntryKind};
use incident_core::whys::Tree;
use incident_core::{IncidentId, SignalKey};

mod common;

const SERVICES: [&str; 6] = ["checkout", "orders", "search", "auth", "reporting", "dns"];

fn t(start: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    start + TimeDelta::seconds(seconds)
}

fn long_incident() -> Record {
    let start = Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap();
    let services: Vec<String> = SERVICES.iter().map(|s| s.to_string()).collect();
    let id = IncidentId::for_service("multi", &SignalKey::new("bench", "1"));
    let mut incident = Incident::open(id, Scope::MultiService, services.clone(), start);
    incident.detected_at = t(start, 120);
    incident.engaged_at = Some(t(start, 180));
    incident.acknowledged_at = Some(t(start, 540));
    incident.acknowledged_by = Some("OnCall/ana".into());
    incident.mitigated_at = Some(t(start, 4 * 3600));
    incident.resolved_at = Some(t(start, 6 * 3600));
    incident.status = Status::Resolved;
    incident.severity = Some(Severity::Sev1);
    incident.customer_facing = true;
    incident.owner = Some("payments".into());
    incident.commander = Some("hana".into());
    incident.title = format!("Multi-service event: {}", services.join(", "));
    let timeline = (0..600)
        .map(|i| Entry {
            at: t(start, i * 30),
            actor: if i % 4 == 0 {
                "OnCall/ana".into()
            } else {
                "incident-loop/ingest".into()
            },
            kind: if i % 4 == 0 { EntryKind::Note } else { EntryKind::Signal },
            text: format!(
                "alarm in ALARM: {}-5xx — Threshold Crossed (datapoint {i})",
                SERVICES[i as usize % 6]
            ),
            links: vec![],
            key: format!("k{i}"),
        })
        .collect();
    let signals = (0..120)
        .map(|i| {
            common::alarm(
                &i.to_string(),
                format!("{}-5xx", SERVICES[i % 6]),
                i % 3 == 2,
                t(start, i as i64 * 60),
            )
        })
        .collect();
    let mut whys = Tree::default();
    let mut leaves = Vec::new();
    for service in SERVICES.iter().take(4) {
        let top = whys
            .add(None, &format!("because {service} failed its dependency calls"))
            .unwrap();
        for b in 0..3 {
            let mid = whys
                .add(Some(&top), &format!("because the shared resolver timed out (path {b})"))
                .unwrap();
            for c in 0..2 {
                leaves.push(
                    whys.add(Some(&mid), &format!("because change {c} skipped the canary"))
                        .unwrap(),
                );
            }
        }
    }
    let terms = [Term::Short, Term::Mid, Term::Long];
    let actions = (0..24)
        .map(|i| {
            let mut item = ActionItem::new(
                format!("act-{i}"),
                terms[i % 3],
                "payments",
                &format!("Fix cause {i} for good"),
                None,
                t(start, 7 * 3600),
            )
            .unwrap();
            item.why = Some(leaves[i % leaves.len()].clone());
            item
        })
        .collect();
    Record {
        timeline,
        whys,
        actions,
        authored: Authored {
            impact_summary: Some("Checkout, orders and search failed for about four hours.".into()),
            learnings: vec!["Resolver changes go through the canary like code.".into()],
            ..Authored::default()
        },
        dependencies: services.iter().map(|s| format!("{s}-store")).collect(),
        signals,
        ..Record::of(incident)
    }
}

fn bench(c: &mut Criterion) {
    let record = long_incident();
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap();
    let markdown = render(&record);
    let mut group = c.benchmark_group("coe");
    group.throughput(Throughput::Bytes(markdown.len() as u64));
    group.bench_function("render-600-entries-40-whys-24-actions", |b| {
        b.iter(|| std::hint::black_box(render(&record)))
    });
    group.finish();
    c.bench_function("coe/gaps-600-entries-40-whys-24-actions", |b| {
        b.iter(|| std::hint::black_box(gaps(&record, now)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
