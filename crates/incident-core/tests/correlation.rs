//! Correlation rules, and the property that the incidents do not depend on arrival order or on
//! how many times an event is redelivered.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use incident_core::correlation::{Correlator, Outcome, Placement, Policy};
use incident_core::signal::{Health, Signal, SignalSource};
use incident_core::SignalKey;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap()
}

fn signal(id: &str, minute: i64, health: Health) -> Signal {
    Signal {
        key: SignalKey::new("test", id),
        source: SignalSource::Alarm,
        health,
        resource: id.into(),
        at: t0() + TimeDelta::seconds(minute * 60),
        reason: "r".into(),
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

fn placed(o: &Outcome) -> &Placement {
    match o {
        Outcome::Placed { placement, .. } => placement,
        other => panic!("not placed: {other:?}"),
    }
}

#[test]
fn a_redelivered_signal_is_a_duplicate() {
    let mut c = Correlator::new(Policy::default());
    let s = signal("a", 0, Health::Impaired);
    assert!(matches!(placed(&c.ingest("checkout", &s)), Placement::Opened { .. }));
    assert_eq!(c.ingest("checkout", &s), Outcome::Duplicate);
}

#[test]
fn a_flapping_alarm_stays_one_incident() {
    let mut c = Correlator::new(Policy::default());
    let first = c.ingest("checkout", &signal("a1", 0, Health::Impaired));
    let id = placed(&first).incident().clone();
    assert_eq!(
        c.ingest("checkout", &signal("o1", 2, Health::Recovered)),
        Outcome::Recovery { incident: id.clone() }
    );
    assert_eq!(
        placed(&c.ingest("checkout", &signal("a2", 4, Health::Impaired))),
        &Placement::Joined { incident: id }
    );
}

#[test]
fn signals_outside_the_window_open_a_new_incident() {
    let mut c = Correlator::new(Policy::default());
    c.ingest("checkout", &signal("a", 0, Health::Impaired));
    assert!(matches!(
        placed(&c.ingest("checkout", &signal("b", 60, Health::Impaired))),
        Placement::Opened { .. }
    ));
}

#[test]
fn a_late_signal_bridging_two_incidents_merges_them_into_the_earlier() {
    let mut c = Correlator::new(Policy::default());
    let first = placed(&c.ingest("checkout", &signal("a", 0, Health::Impaired)))
        .incident()
        .clone();
    let second = placed(&c.ingest("checkout", &signal("c", 20, Health::Impaired)))
        .incident()
        .clone();
    assert_ne!(first, second);
    let bridge = c.ingest("checkout", &signal("b", 10, Health::Impaired));
    assert_eq!(
        placed(&bridge),
        &Placement::Merged {
            incident: first,
            merged: vec![second]
        }
    );
}

#[test]
fn ok_without_an_open_incident_and_insufficient_data_are_ignored_with_reasons() {
    let mut c = Correlator::new(Policy::default());
    assert!(matches!(
        c.ingest("checkout", &signal("o", 0, Health::Recovered)),
        Outcome::Ignored { .. }
    ));
    assert!(matches!(
        c.ingest("checkout", &signal("i", 0, Health::InsufficientData)),
        Outcome::Ignored { .. }
    ));
    assert!(c.clusters("checkout").unwrap().clusters.is_empty(), "nothing opened");
}

#[test]
fn three_services_alarming_together_become_one_multi_service_event_linking_all_three() {
    let mut c = Correlator::new(Policy::default());
    let a = c.ingest("checkout", &signal("a", 0, Health::Impaired));
    let b = c.ingest("orders", &signal("b", 1, Health::Impaired));
    assert!(matches!(a, Outcome::Placed { aggregation: None, .. }));
    assert!(matches!(b, Outcome::Placed { aggregation: None, .. }));
    let Outcome::Placed {
        aggregation: Some(agg), ..
    } = c.ingest("search", &signal("s", 2, Health::Impaired))
    else {
        panic!("third service should make a multi-service event")
    };
    assert!(agg.created);
    assert_eq!(agg.linked.len(), 3);
    assert_eq!(agg.services.len(), 3);
    let Outcome::Placed {
        aggregation: Some(late),
        ..
    } = c.ingest("auth", &signal("x", 5, Health::Impaired))
    else {
        panic!("a later opening in the window links into the event")
    };
    assert_eq!((late.event, late.created), (agg.event, false));
}

#[test]
fn two_services_are_not_a_storm() {
    let mut c = Correlator::new(Policy::default());
    c.ingest("checkout", &signal("a", 0, Health::Impaired));
    c.ingest("orders", &signal("b", 1, Health::Impaired));
    assert!(c.storm().events.is_empty());
}

/// The incidents as sets of signal ids, per service, and the multi-service events as sets of
/// services: what must not depend on order or duplicates.
/// Per-service incidents as (service, signal keys), and multi-service events as sets of services.
type Partition = (BTreeSet<(String, BTreeSet<String>)>, BTreeSet<BTreeSet<String>>);

fn partition(signals: &[(String, Signal)]) -> Partition {
    let mut c = Correlator::new(Policy::default());
    let mut members: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for (service, s) in signals {
        if let Outcome::Placed { placement, .. } = c.ingest(service, s) {
            let id = placement.incident().to_string();
            let entry = members
                .entry(id.clone())
                .or_insert_with(|| (service.clone(), BTreeSet::new()));
            entry.1.insert(s.key.to_string());
            if let Placement::Merged { merged, .. } = &placement {
                for m in merged {
                    if let Some((_, keys)) = members.remove(m.as_str()) {
                        members.get_mut(&id).unwrap().1.extend(keys);
                    }
                }
            }
        }
    }
    let incidents = members.into_values().collect();
    let events = c.storm().events.iter().map(|e| e.services.clone()).collect();
    (incidents, events)
}

fn arb_signals() -> impl Strategy<Value = Vec<(String, Signal)>> {
    prop::collection::vec((0usize..4, 0i64..120), 1..40).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (svc, minute))| (format!("svc{svc}"), signal(&format!("e{i}"), minute, Health::Impaired)))
            .collect()
    })
}

proptest! {
    #[test]
    fn per_service_incidents_do_not_depend_on_order_or_duplicates(
        signals in arb_signals(),
        seed in any::<u64>(),
        dupes in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let mut sorted = signals.clone();
        sorted.sort_by_key(|(_, s)| (s.at, s.key.clone()));
        let mut shuffled = signals.clone();
        for d in &dupes {
            shuffled.push(d.get(&signals).clone());
        }
        let mut rng = seed;
        for i in (1..shuffled.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (rng >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(partition(&sorted).0, partition(&shuffled).0);
    }

    #[test]
    fn a_storm_is_one_multi_service_event_whatever_the_order(
        services in 3usize..12,
        per_service in 1usize..6,
        seed in any::<u64>(),
    ) {
        let mut signals = Vec::new();
        for s in 0..services {
            for k in 0..per_service {
                let minute = ((s * 7 + k * 3) % 10) as i64;
                signals.push((format!("svc{s}"), signal(&format!("e{s}-{k}"), minute, Health::Impaired)));
                signals.push((format!("svc{s}"), signal(&format!("e{s}-{k}"), minute, Health::Impaired)));
            }
        }
        let mut rng = seed;
        for i in (1..signals.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            signals.swap(i, (rng >> 33) as usize % (i + 1));
        }
        let (incidents, events) = partition(&signals);
        prop_assert_eq!(incidents.len(), services, "one incident per service");
        prop_assert_eq!(events.len(), 1);
        prop_assert_eq!(events.into_iter().next().unwrap().len(), services);
    }
}

fn alarm_named(id: &str, alarm: &str, minute: i64, health: Health) -> Signal {
    Signal {
        resource: alarm.into(),
        ..signal(id, minute, health)
    }
}

#[test]
fn a_quiet_impairment_joins_an_open_incident_but_never_opens_one() {
    use incident_core::signal::Quiet;
    let mut c = Correlator::new(Policy::default());
    let muted = |id: &str, minute| Signal {
        quiet: Some(Quiet::Muted { rule: "nightly".into() }),
        ..signal(id, minute, Health::Impaired)
    };
    let alone = c.ingest("checkout", &muted("m1", 0));
    assert!(
        matches!(&alone, Outcome::Ignored { reason } if reason.contains("mute rule nightly") && reason.contains("opens no incident")),
        "{alone:?}"
    );
    let opened = c.ingest("checkout", &signal("a1", 30, Health::Impaired));
    let id = placed(&opened).incident().clone();
    assert_eq!(
        placed(&c.ingest("checkout", &muted("m2", 32))),
        &Placement::Joined { incident: id }
    );
}

#[test]
fn an_alarm_changing_state_five_times_in_half_an_hour_is_flapping_once() {
    use incident_core::correlation::{correlate, Flap, ServiceClusters, StormState};
    let policy = Policy::default();
    let (mut clusters, mut storm) = (ServiceClusters::default(), StormState::default());
    let mut flaps = Vec::new();
    for (i, health) in [Health::Impaired, Health::Recovered].iter().cycle().take(8).enumerate() {
        let s = alarm_named(&format!("e{i}"), "checkout-api-5xx", i as i64 * 3, *health);
        flaps.push(correlate("checkout", &s, &mut clusters, &mut storm, &policy).flap);
    }
    assert_eq!(flaps[..4], [Flap::Steady, Flap::Steady, Flap::Steady, Flap::Steady]);
    assert_eq!(
        flaps[4],
        Flap::Started {
            alarm: "checkout-api-5xx".into(),
            changes: 5,
            within_minutes: 30
        }
    );
    assert!(flaps[5..].iter().all(|f| *f == Flap::Ongoing), "{flaps:?}");
    assert_eq!(clusters.clusters.len(), 1, "still one incident");
}

#[test]
fn state_changes_spread_over_hours_are_not_flapping() {
    use incident_core::correlation::{correlate, Flap, ServiceClusters, StormState};
    let policy = Policy::default();
    let (mut clusters, mut storm) = (ServiceClusters::default(), StormState::default());
    for (i, health) in [Health::Impaired, Health::Recovered]
        .iter()
        .cycle()
        .take(10)
        .enumerate()
    {
        let s = alarm_named(&format!("e{i}"), "checkout-api-5xx", i as i64 * 10, *health);
        let flap = correlate("checkout", &s, &mut clusters, &mut storm, &policy).flap;
        assert_eq!(flap, Flap::Steady, "change {i}");
    }
}

#[test]
fn game_day_signals_never_join_or_aggregate_with_real_ones() {
    let mut c = Correlator::new(Policy::default());
    let real = c.ingest("checkout", &signal("r1", 0, Health::Impaired));
    let drill = Signal {
        exercise: true,
        live_runbooks: false,
        location: None,
        ..signal("g1", 1, Health::Impaired)
    };
    let rehearsed = c.ingest("checkout", &drill);
    assert!(matches!(placed(&rehearsed), Placement::Opened { .. }), "{rehearsed:?}");
    assert_ne!(placed(&real).incident(), placed(&rehearsed).incident());
    // Two drills of other services beside one real service would make three services, but the
    // real storm sees one: no multi-service event.
    for (id, svc) in [("g2", "orders"), ("g3", "search")] {
        let drill = Signal {
            exercise: true,
            live_runbooks: false,
            location: None,
            ..signal(id, 2, Health::Impaired)
        };
        c.ingest(svc, &drill);
    }
    assert!(c.storm().events.is_empty(), "the real storm saw one service only");
    // Two more real services do make one, of the real incidents only.
    for (id, svc) in [("r2", "orders"), ("r3", "search")] {
        c.ingest(svc, &signal(id, 3, Health::Impaired));
    }
    let events = c.storm().events;
    assert_eq!(events.len(), 1);
    assert!(!events[0].members.contains(placed(&rehearsed).incident()));
}

#[test]
fn only_a_canarys_first_pass_after_its_failure_is_a_recovery() {
    let mut c = Correlator::new(Policy::default());
    let canary = |id: &str, minute, health| Signal {
        source: SignalSource::Canary,
        resource: "checkout-homepage".into(),
        ..signal(id, minute, health)
    };
    let idle = c.ingest("checkout", &canary("p0", 0, Health::Recovered));
    assert!(matches!(idle, Outcome::Unneeded { .. }), "{idle:?}");
    let opened = c.ingest("checkout", &canary("f1", 5, Health::Impaired));
    let id = placed(&opened).incident().clone();
    assert_eq!(
        c.ingest("checkout", &canary("p1", 10, Health::Recovered)),
        Outcome::Recovery { incident: id }
    );
    let routine = c.ingest("checkout", &canary("p2", 15, Health::Recovered));
    assert!(matches!(routine, Outcome::Unneeded { .. }), "{routine:?}");
}
