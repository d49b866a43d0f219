//! What the benchmarks share: an alarm signal as ingest makes one, and redeliveries of a workload.

use chrono::{DateTime, Utc};
use incident_core::signal::{Health, Signal, SignalSource};
use incident_core::SignalKey;

/// The alarm signal of CloudWatch event `evt-<id>` for `resource`, in ALARM or back to OK.
#[allow(dead_code)] // not every benchmark builds signals itself
pub fn alarm(id: &str, resource: String, recovered: bool, at: DateTime<Utc>) -> Signal {
    Signal {
        key: SignalKey::new("aws.cloudwatch", &format!("evt-{id}")),
        source: SignalSource::Alarm,
        health: if recovered { Health::Recovered } else { Health::Impaired },
        resource,
        at,
        reason: "Threshold Crossed".into(),
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

/// `unique` followed by redeliveries of its items, spread over it, up to `total` items in all.
#[allow(dead_code)] // not every benchmark redelivers
pub fn with_redeliveries<T: Clone>(mut unique: Vec<T>, total: usize) -> Vec<T> {
    let count = unique.len();
    let mut i = 0usize;
    while unique.len() < total {
        unique.push(unique[(i * 104_729) % count].clone());
        i += 1;
    }
    unique
}
