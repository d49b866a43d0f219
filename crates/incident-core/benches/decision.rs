//! A signal's whole decision in the core, as ingest makes it for every event: the event's JSON text
//! parsed into an envelope and a [`Signal`], its service named by the catalog, correlated, and the
//! records it writes decided (`recording::record`). 10,000 alarm state changes from the documented
//! sample (`events/cloudwatch/single-metric-alarm-tagged.json`) over the example catalog's services
//! and unknown ones, alarms and recoveries mixed, 30% of them redeliveries (dropped at the dedup
//! check, as the store's dedup item drops them). Reports events per second. DynamoDB, not this,
//! bounds ingest in a deployment; this keeps the core out of the way.

use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use incident_core::catalog::Catalog;
use incident_core::correlation::{correlate, Policy, ServiceClusters, StormState};
use incident_core::event::{parse_at, Envelope};
use incident_core::recording::record;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

mod common;

const SAMPLE: &str = include_str!("../../../events/cloudwatch/single-metric-alarm-tagged.json");
const ALARMS: [&str; 8] = [
    "checkout-api-5xx",
    "orders-latency-p99",
    "search-errors",
    "auth-login-failures",
    "reporting-lag",
    "inventory-sync-stalled",
    "billing-export-errors",
    "edge-cache-misses",
];

/// The event texts, as EventBridge delivers them.
fn events(count: usize, duplicate_share: f64) -> Vec<String> {
    let sample: Value = serde_json::from_str(SAMPLE).expect("the sample event parses");
    let start = Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap();
    let unique = (count as f64 * (1.0 - duplicate_share)) as usize;
    let texts: Vec<String> = (0..unique)
        .map(|i| {
            let mut e = sample.clone();
            let alarm = ALARMS[(i * 7919) % ALARMS.len()];
            let at = start + TimeDelta::milliseconds((i as i64 * 36_000) % 3_600_000);
            e["id"] = format!("evt-{i:06}").into();
            e["time"] = at.to_rfc3339().into();
            e["detail"]["alarmName"] = alarm.into();
            e["detail"]["alarmTags"]["service"] = alarm.split('-').next().unwrap_or(alarm).into();
            e["detail"]["state"]["value"] = if i % 5 == 4 { "OK" } else { "ALARM" }.into();
            e["detail"]["state"]["timestamp"] = at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string().into();
            e.to_string()
        })
        .collect();
    common::with_redeliveries(texts, count)
}

/// JSON text → envelope, the fields the ingest handler takes from `aws_lambda_events`.
fn envelope(text: &str) -> Envelope {
    Envelope::from_json(&serde_json::from_str::<Value>(text).expect("event JSON"))
}

fn bench(c: &mut Criterion) {
    let catalog: Catalog =
        serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).expect("example catalog parses");
    let texts = events(10_000, 0.30);
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 4, 0, 0).unwrap();
    let mut group = c.benchmark_group("decision");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_with_input(
        BenchmarkId::new("parse-correlate-record", "10k-events-30pct-dupes"),
        &texts,
        |b, texts| {
            b.iter(|| {
                let policy = Policy::default();
                let mut clusters: HashMap<String, ServiceClusters> = HashMap::new();
                let mut storm = StormState::default();
                let mut seen = HashSet::new();
                for text in texts {
                    let signal = parse_at(&envelope(text), now).expect("a valid alarm event");
                    // The dedup item: a redelivery is known by its key before anything is decided.
                    if !seen.insert(signal.key.clone()) {
                        continue;
                    }
                    let matched = catalog.resolve(&signal);
                    let service_clusters = clusters.entry(matched.service.clone()).or_default();
                    let correlated = correlate(&matched.service, &signal, service_clusters, &mut storm, &policy);
                    std::hint::black_box(record(&matched, &signal, &correlated, &storm, now));
                }
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
