//! A storm through the real stack: alarm events for many services put on the loop's own bus in
//! shuffled order, with flaps (an alarm back in ALARM), a third of them redelivered with the same
//! event id (as EventBridge's at-least-once delivery would), then every alarm back to OK. Checks
//! that exactly the expected incidents exist — per service, one per episode; the multi-service events
//! the core's reference correlator predicts, with their members — that no signal is lost or kept
//! twice, and that every incident is engaged. Prints how many events, how long, and alarm → engaged
//! p50/p99. Run by `scripts/test` (a small storm) and `scripts/storm` (a larger one).
//!
//! STORM_SERVICES (default 12) services, STORM_EPISODES (default 2) episodes each, three hours apart.

use anyhow::{bail, Result};
use chrono::{DateTime, TimeDelta, Utc};
use e2e::{alarm, envelope, era, eventually, incidentctl, Stack};
use incident_core::catalog::Catalog;
use incident_core::correlation::{Correlator, Outcome, Policy};
use incident_core::incident::{Incident, Scope, Status};
use incident_core::signal::Signal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

const SOURCE: &str = "incident-loop.gameday";
const ALARM_CHANGE: &str = "CloudWatch Alarm State Change";
/// One in this many events is delivered a second time with the same id.
const REDELIVER_ONE_IN: usize = 3;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A deterministic shuffle (xorshift), so that a failing storm can be replayed.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

struct Planned {
    service: String,
    episode: usize,
    detail: Value,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> Result<()> {
    let (services, episodes) = (setting("STORM_SERVICES", 12), setting("STORM_EPISODES", 2));
    let catalog_path = format!("{}/../catalog.example.yaml", env!("CARGO_MANIFEST_DIR"));
    incidentctl(&["catalog", "import", &catalog_path])?;
    let stack = Stack::connect().await?;
    let run = Utc::now().timestamp() % 100_000;
    let base = era(150) + TimeDelta::minutes(run % 600);
    let episode_at = |s: usize, e: usize| base + TimeDelta::hours(3 * e as i64) + TimeDelta::minutes((s % 5) as i64);

    // Two alarms per service and episode, each flapping (ALARM, then ALARM again four minutes on).
    let mut alarms = Vec::new();
    let mut oks = Vec::new();
    for s in 0..services {
        let service = format!("storm{run}-s{s:02}");
        for e in 0..episodes {
            let at = episode_at(s, e);
            for a in 0..2 {
                let name = format!("{service}-alarm{a}");
                let tagged = |mut d: Value| {
                    d["alarmTags"] = json!({ "service": service });
                    d
                };
                for minutes in [0, 4] {
                    let detail = tagged(alarm(&name, "ALARM", at + TimeDelta::minutes(minutes + a)));
                    alarms.push(Planned {
                        service: service.clone(),
                        episode: e,
                        detail,
                    });
                }
                let detail = tagged(alarm(&name, "OK", at + TimeDelta::minutes(8)));
                oks.push(Planned {
                    service: service.clone(),
                    episode: e,
                    detail,
                });
            }
        }
    }
    shuffle(&mut alarms, 0x5eed ^ run as u64);
    shuffle(&mut oks, 0xfeed ^ run as u64);

    let started = Instant::now();
    let mut first_put: HashMap<(String, usize), DateTime<Utc>> = HashMap::new();
    let mut delivered = Vec::new();
    let mut redelivered = 0;
    for phase in [&alarms, &oks] {
        for (n, chunk) in phase.chunks(10).enumerate() {
            let entries: Vec<_> = chunk
                .iter()
                .map(|p| {
                    aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                        .event_bus_name(stack.outputs["EventBusName"].as_str())
                        .source(SOURCE)
                        .detail_type(ALARM_CHANGE)
                        .detail(p.detail.to_string())
                        .build()
                })
                .collect();
            let put_at = Utc::now();
            let out = stack.events.put_events().set_entries(Some(entries)).send().await?;
            if out.failed_entry_count() > 0 {
                bail!("put-events failed: {:?}", out.entries());
            }
            for (i, (p, entry)) in chunk.iter().zip(out.entries()).enumerate() {
                first_put.entry((p.service.clone(), p.episode)).or_insert(put_at);
                let id = entry.event_id().unwrap_or_default().to_string();
                delivered.push((p.service.clone(), id.clone(), p.detail.clone()));
                if (n * 10 + i) % REDELIVER_ONE_IN == 0 {
                    stack
                        .invoke_ingest(&envelope(&id, SOURCE, ALARM_CHANGE, p.detail.clone()))
                        .await?;
                    redelivered += 1;
                }
            }
        }
        if std::ptr::eq(phase, &alarms) {
            // The recoveries go out once the alarms are recorded, so each has its incident.
            settle(&stack, base, services, episodes, alarms.len()).await?;
        }
    }

    // What the core's reference correlator predicts for the same signals.
    let catalog: Catalog = serde_yaml::from_str(&std::fs::read_to_string(&catalog_path)?)?;
    let mut reference = Correlator::new(Policy::default());
    let mut events_expected = 0;
    let mut delivered_keys = BTreeSet::new();
    for (service, id, detail) in &delivered {
        // At the signal's own time: the storm is placed months back, beyond the default age bound.
        let signal: Signal = incident_core::event::parse_within(
            &incident_core::event::Envelope {
                id: Some(id.clone()),
                source: SOURCE.into(),
                detail_type: ALARM_CHANGE.into(),
                account: None,
                region: None,
                time: Some(Utc::now()),
                resources: vec![],
                detail: detail.clone(),
            },
            Utc::now(),
            incident_core::event::TimeBounds {
                max_age: chrono::TimeDelta::days(400),
                ..Default::default()
            },
        )?;
        let resolved = catalog.resolve(&signal).service;
        if &resolved != service {
            bail!("{} resolved to {resolved}, not {service}", signal.resource);
        }
        delivered_keys.insert(signal.key.to_string());
        if let Outcome::Placed {
            aggregation: Some(a), ..
        } = reference.ingest(service, &signal)
        {
            events_expected += usize::from(a.created);
        }
    }

    let incidents = settle(&stack, base, services, episodes, delivered.len()).await?;
    let took = started.elapsed();
    let single: Vec<&Incident> = incidents.iter().filter(|i| i.scope == Scope::SingleService).collect();
    let events: Vec<&Incident> = incidents.iter().filter(|i| i.scope == Scope::MultiService).collect();
    let mut per_service: BTreeMap<&str, usize> = BTreeMap::new();
    for i in single.iter().filter(|i| i.status != Status::Merged) {
        *per_service.entry(i.services[0].as_str()).or_default() += 1;
    }
    if per_service.len() != services || per_service.values().any(|&n| n != episodes) {
        bail!("expected {episodes} incident(s) for each of {services} services, found {per_service:?}");
    }
    if events.len() != events_expected {
        bail!(
            "expected {events_expected} multi-service events, found {}",
            events.len()
        );
    }
    for e in &events {
        let linked = single.iter().filter(|i| i.parent.as_ref() == Some(&e.id)).count();
        if linked != e.members.len() {
            bail!(
                "{} lists {} members, {linked} incidents link to it",
                e.id,
                e.members.len()
            );
        }
    }

    let mut kept_keys = BTreeSet::new();
    for i in &single {
        for kept in stack.store.signals(&i.id).await? {
            if !kept_keys.insert(kept.signal.key.to_string()) {
                bail!("signal {} is kept twice", kept.signal.key);
            }
        }
    }
    if kept_keys != delivered_keys {
        let lost: Vec<_> = delivered_keys.difference(&kept_keys).collect();
        bail!("{} delivered signals are not kept: {lost:?}", lost.len());
    }

    let mut latencies: Vec<f64> = single
        .iter()
        .filter(|i| i.status != Status::Merged)
        .filter_map(|i| {
            let episode = (0..episodes).find(|&e| (i.impact_started_at - episode_at(0, e)).num_hours().abs() < 1)?;
            let put = first_put.get(&(i.services[0].clone(), episode))?;
            Some((i.engaged_at? - *put).num_milliseconds() as f64 / 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    println!(
        "storm: {} events put ({} alarms, {} recoveries) + {redelivered} redelivered, {services} services × \
         {episodes} episodes, in {:.0} s until settled",
        delivered.len(),
        alarms.len(),
        oks.len(),
        took.as_secs_f64()
    );
    println!(
        "storm: {} incidents ({} single-service, {} multi-service events), every signal kept once, every incident engaged",
        incidents.len(),
        single.len(),
        events.len()
    );
    println!(
        "storm: alarm put → incident engaged over {} incidents: p50 {:.1} s, p99 {:.1} s, max {:.1} s",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}

/// Waits until the era's incidents are all engaged and hold exactly `signals` signals between them
/// (fewer: still arriving; more: a signal kept twice, said as the last error when the wait gives up).
async fn settle(
    stack: &Stack,
    base: DateTime<Utc>,
    services: usize,
    episodes: usize,
    signals: usize,
) -> Result<Vec<Incident>> {
    // Generous: the emulator runs every earlier test's lifecycles beside the storm on two cores.
    let limit = Duration::from_secs(240 + 6 * (services * episodes) as u64);
    eventually("the storm to settle", limit, || async {
        let found = stack
            .incidents_between(base - TimeDelta::hours(1), base + TimeDelta::hours(3 * episodes as i64))
            .await?;
        let mut kept = 0;
        for i in found.iter().filter(|i| i.scope == Scope::SingleService) {
            kept += stack.store.signals(&i.id).await?.len();
        }
        if kept > signals {
            bail!("{kept} signals kept for {signals} delivered: one was kept twice");
        }
        let engaged = found
            .iter()
            .all(|i| i.engaged_at.is_some() || i.status == Status::Merged);
        Ok((kept == signals && engaged && !found.is_empty()).then_some(found))
    })
    .await
}
