//! Throughput of the core correlation path: a storm of 10,000 alarm events over 50 services, 30% of
//! them redeliveries, correlated on one core. Reports events per second.

use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use incident_core::correlation::{Correlator, Policy};
use incident_core::signal::Signal;

mod common;

fn storm(events: usize, services: usize, duplicate_share: f64) -> Vec<(String, Signal)> {
    let start = Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap();
    let unique = (events as f64 * (1.0 - duplicate_share)) as usize;
    let signals = (0..unique)
        .map(|i| {
            let service = format!("service-{:02}", (i * 7919) % services);
            let at = start + TimeDelta::milliseconds((i as i64 * 36_000) % 3_600_000);
            let signal = common::alarm(&format!("{i:06}"), format!("{service}-5xx"), i % 5 == 4, at);
            (service, signal)
        })
        .collect();
    common::with_redeliveries(signals, events)
}

fn bench(c: &mut Criterion) {
    let events = storm(10_000, 50, 0.30);
    let mut group = c.benchmark_group("correlation");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_with_input(
        BenchmarkId::new("storm", "10k-events-50-services-30pct-dupes"),
        &events,
        |b, events| {
            b.iter(|| {
                let mut correlator = Correlator::new(Policy::default());
                for (service, signal) in events {
                    std::hint::black_box(correlator.ingest(service, signal));
                }
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
