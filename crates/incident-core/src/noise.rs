//! Noise control: silences and maintenance windows, and what breaks through them.
//!
//! A signal is *quiet* ([`Quiet`]) when CloudWatch itself says not to act on it (a mute rule, a
//! composite alarm's suppressed actions) or when its service is silenced: by a maintenance window of
//! the catalog (one-off or weekly, reviewed like any catalog change) or by a silence someone set
//! through the command API (`incidentctl silence`), which expires by itself. A quiet impairment is
//! recorded — on the open incident it joins, or as a quiet signal when it would have opened one —
//! and pages nobody.
//!
//! What breaks through a silence: a **customer report** (customers are affected whatever we are
//! doing to the service), and every signal of a service that is not silenced — so a multi-service
//! event still forms from the services that alarm outside their windows. Recoveries are never
//! quiet: an alarm back to OK always counts towards recovery.

use crate::approval::Caller;
use crate::catalog::Catalog;
use crate::command::Refusal;
use crate::signal::{Health, Quiet, Signal, SignalSource};
pub use crate::silence::{MaintenanceWindow, Silence, Weekly, MAX_SILENCE};
use crate::text;
use crate::timeline::{Entry, EntryKind};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Whether `signal` of `service` is silenced, and by what. Customer reports break through, and
/// only impairments are silenced.
pub fn silenced(catalog: &Catalog, service: &str, signal: &Signal) -> Option<Quiet> {
    if signal.source == SignalSource::CustomerReport || signal.health != Health::Impaired {
        return None;
    }
    let at = signal.at;
    if let Some(s) = catalog
        .silences
        .iter()
        .filter(|s| s.service == service && s.active_at(at))
        .max_by_key(|s| s.until)
    {
        return Some(Quiet::Silenced {
            silence: s.id.clone(),
            reason: format!("{}, set by {}", s.reason, s.by),
            until: s.until,
        });
    }
    let windows = catalog
        .service(service)
        .map(|s| s.maintenance.as_slice())
        .unwrap_or_default();
    windows.iter().find_map(|w| {
        w.covering(at).map(|until| Quiet::Silenced {
            silence: format!("maintenance window {}", w.name),
            reason: "the catalog's maintenance window".into(),
            until,
        })
    })
}

/// Makes a signal quiet if its service is silenced, or if it is an AWS Health event about an AWS
/// service no catalog service uses (a quiet reason set when the event was parsed — CloudWatch's
/// mute or suppression, a public or planned AWS event — stays as it is).
pub fn apply_quiet(catalog: &Catalog, matched: &crate::catalog::ServiceMatch, signal: &mut Signal) {
    if signal.quiet.is_some() {
        return;
    }
    signal.quiet = if signal.source == SignalSource::AwsHealth && !matched.known {
        Some(Quiet::AwsNotUsed)
    } else {
        silenced(catalog, &matched.service, signal)
    };
}

/// What `incidentctl silence` asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SilenceRequest {
    /// Silence `service` for `minutes` from now.
    Set {
        service: String,
        minutes: i64,
        reason: String,
    },
    /// End a silence now.
    Lift { id: String },
}

/// Whether a silence concerns an incident: an open incident of the silenced service, whose
/// timeline says when its alarms stopped (and started again) paging.
pub fn concerns(silence: &Silence, incident: &crate::incident::Incident) -> bool {
    !incident.status.is_closed() && incident.services.contains(&silence.service)
}

/// What a silence set or lifted writes on the timeline of each incident it concerns, keyed by the
/// silence and what happened to it (writing it again changes nothing).
pub fn timeline_entry(silence: &Silence, now: DateTime<Utc>) -> Entry {
    let (what, actor, text) = match &silence.lifted_by {
        Some(by) => (
            "lifted",
            by.as_str(),
            format!("silence {} lifted by {by}: {} pages again", silence.id, silence.service),
        ),
        None => (
            "set",
            silence.by.as_str(),
            format!(
                "{} silenced by {} until {} ({}, {}): its alarms page nobody; customer reports still do",
                silence.service,
                silence.by,
                silence.until.format("%Y-%m-%d %H:%M UTC"),
                silence.reason,
                silence.id
            ),
        ),
    };
    Entry {
        key: format!("silence-{}-{what}", silence.id),
        ..Entry::human(actor, EntryKind::Note, text::line(&text, text::REASON_MAX), now)
    }
}

/// Decides a silence request against the catalog (with its silences): the silence to store.
pub fn decide(
    request: &SilenceRequest,
    catalog: &Catalog,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<Silence, Refusal> {
    match request {
        SilenceRequest::Set {
            service,
            minutes,
            reason,
        } => {
            if catalog.service(service).is_none() {
                let known: Vec<&str> = catalog.services.iter().map(|s| s.name.as_str()).collect();
                return Err(Refusal::NotFound(format!(
                    "no service '{}' in the catalog (services: {})",
                    text::line(service, 64),
                    known.join(", ")
                )));
            }
            if *minutes <= 0 || *minutes > MAX_SILENCE.num_minutes() {
                return Err(Refusal::Invalid(format!(
                    "a silence lasts 1 minute to {} days",
                    MAX_SILENCE.num_days()
                )));
            }
            let reason = text::line(reason, text::REASON_MAX);
            if reason.is_empty() {
                return Err(Refusal::Invalid("say why the service is silenced (--reason)".into()));
            }
            let digest = Sha256::digest(format!("{service}\n{}\n{}", caller.arn, now.timestamp_micros()));
            let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
            Ok(Silence {
                id: format!("sil-{hex}"),
                service: service.clone(),
                from: now,
                until: now + TimeDelta::minutes(*minutes),
                reason,
                by: caller.name.clone(),
                by_arn: caller.arn.clone(),
                lifted_by: None,
            })
        }
        SilenceRequest::Lift { id } => {
            let Some(silence) = catalog.silences.iter().find(|s| &s.id == id) else {
                return Err(Refusal::NotFound(format!("no silence {}", text::line(id, 64))));
            };
            if !silence.active_at(now) {
                return Err(Refusal::Refused(format!("{} is over already", silence.id)));
            }
            Ok(Silence {
                until: now,
                lifted_by: Some(caller.name.clone()),
                ..silence.clone()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::Signal;
    use crate::SignalKey;

    fn catalog() -> Catalog {
        serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap()
    }

    fn at(t: &str) -> DateTime<Utc> {
        t.parse().unwrap()
    }

    fn alarm(t: &str) -> Signal {
        Signal::bare_alarm(
            SignalKey::new("aws.cloudwatch", t),
            "checkout-api-5xx",
            Health::Impaired,
            at(t),
        )
    }

    fn caller(name: &str) -> Caller {
        Caller::from_arn(&format!("arn:aws:iam::111122223333:user/{name}"))
    }

    fn set(minutes: i64) -> SilenceRequest {
        SilenceRequest::Set {
            service: "checkout".into(),
            minutes,
            reason: "database migration".into(),
        }
    }

    #[test]
    fn a_silence_quiets_its_service_until_it_expires_and_a_customer_report_breaks_through() {
        let mut c = catalog();
        let now = at("2026-11-23T03:00:00Z");
        let s = decide(&set(120), &c, &caller("ana"), now).unwrap();
        assert_eq!((s.until, s.by.as_str()), (at("2026-11-23T05:00:00Z"), "ana"));
        c.silences.push(s.clone());
        let quiet = silenced(&c, "checkout", &alarm("2026-11-23T04:59:00Z")).unwrap();
        assert!(
            quiet.describe().contains("database migration, set by ana"),
            "{}",
            quiet.describe()
        );
        assert_eq!(
            silenced(&c, "checkout", &alarm("2026-11-23T05:00:00Z")),
            None,
            "expired by itself"
        );
        assert_eq!(
            silenced(&c, "orders", &alarm("2026-11-23T04:00:00Z")),
            None,
            "other services page"
        );
        let mut report = alarm("2026-11-23T04:00:00Z");
        report.source = SignalSource::CustomerReport;
        assert_eq!(silenced(&c, "checkout", &report), None);
        let mut ok = alarm("2026-11-23T04:00:00Z");
        ok.health = Health::Recovered;
        assert_eq!(silenced(&c, "checkout", &ok), None);
    }

    #[test]
    fn silences_are_refused_for_unknown_services_without_a_reason_or_too_long() {
        let c = catalog();
        let now = Utc::now();
        assert!(matches!(
            decide(&set(0), &c, &caller("ana"), now),
            Err(Refusal::Invalid(_))
        ));
        assert!(matches!(
            decide(&set(60 * 24 * 8), &c, &caller("ana"), now),
            Err(Refusal::Invalid(_))
        ));
        let ghost = SilenceRequest::Set {
            service: "ghost".into(),
            minutes: 10,
            reason: "x".into(),
        };
        assert!(matches!(
            decide(&ghost, &c, &caller("ana"), now),
            Err(Refusal::NotFound(_))
        ));
        let blank = SilenceRequest::Set {
            service: "checkout".into(),
            minutes: 10,
            reason: " \n ".into(),
        };
        assert!(matches!(
            decide(&blank, &c, &caller("ana"), now),
            Err(Refusal::Invalid(_))
        ));
    }

    #[test]
    fn a_silence_says_on_the_open_incidents_of_its_service_when_it_began_and_ended() {
        let c = catalog();
        let now = at("2026-11-23T03:00:00Z");
        let s = decide(&set(60), &c, &caller("ana"), now).unwrap();
        let set = timeline_entry(&s, now);
        assert_eq!(set.key, format!("silence-{}-set", s.id));
        assert!(
            set.text
                .starts_with("checkout silenced by ana until 2026-11-23 04:00 UTC (")
                && set.text.contains(&s.id),
            "{}",
            set.text
        );
        let lifted = Silence {
            until: now,
            lifted_by: Some("bilal".into()),
            ..s.clone()
        };
        let entry = timeline_entry(&lifted, now);
        assert_eq!(
            entry.text,
            format!("silence {} lifted by bilal: checkout pages again", s.id)
        );
        assert_ne!(entry.key, set.key);
        let mut open = crate::incident::checkout(crate::severity::Severity::Sev3, true);
        assert!(concerns(&s, &open));
        open.services = vec!["orders".into()];
        assert!(!concerns(&s, &open), "another service");
    }

    #[test]
    fn a_lifted_silence_ends_now_and_cannot_be_lifted_twice() {
        let mut c = catalog();
        let now = at("2026-11-23T03:00:00Z");
        let s = decide(&set(60), &c, &caller("ana"), now).unwrap();
        c.silences.push(s.clone());
        let lift = SilenceRequest::Lift { id: s.id.clone() };
        let later = now + TimeDelta::minutes(10);
        let lifted = decide(&lift, &c, &caller("bilal"), later).unwrap();
        assert_eq!((lifted.until, lifted.lifted_by.as_deref()), (later, Some("bilal")));
        c.silences = vec![lifted.clone()];
        assert!(lifted.describe(later).contains("lifted by bilal"));
        assert!(matches!(
            decide(&lift, &c, &caller("ana"), later),
            Err(Refusal::Refused(_))
        ));
    }

    #[test]
    fn weekly_windows_cover_their_days_across_midnight() {
        let w = MaintenanceWindow {
            name: "sunday-patching".into(),
            from: None,
            until: None,
            weekly: Some(Weekly {
                days: vec!["sun".into()],
                start_utc: "23:00".into(),
                minutes: 120,
            }),
        };
        assert!(w.problems().is_empty());
        // 2026-11-22 is a Sunday.
        assert_eq!(w.covering(at("2026-11-22T23:30:00Z")), Some(at("2026-11-23T01:00:00Z")));
        assert_eq!(w.covering(at("2026-11-23T00:59:00Z")), Some(at("2026-11-23T01:00:00Z")));
        assert_eq!(w.covering(at("2026-11-23T01:00:00Z")), None);
        assert_eq!(w.covering(at("2026-11-21T23:30:00Z")), None, "a Saturday");
    }

    #[test]
    fn catalog_windows_silence_and_bad_ones_are_named() {
        let mut c = catalog();
        c.services[0].maintenance = vec![MaintenanceWindow {
            name: "migration".into(),
            from: Some(at("2026-11-23T02:00:00Z")),
            until: Some(at("2026-11-23T04:00:00Z")),
            weekly: None,
        }];
        let name = c.services[0].name.clone();
        let quiet = silenced(&c, &name, &alarm("2026-11-23T03:00:00Z")).unwrap();
        assert!(quiet.describe().contains("maintenance window migration"));
        let bad = MaintenanceWindow {
            name: "x".into(),
            from: None,
            until: None,
            weekly: Some(Weekly {
                days: vec!["someday".into()],
                start_utc: "25:00".into(),
                minutes: 0,
            }),
        };
        assert_eq!(bad.problems().len(), 3, "{:?}", bad.problems());
    }
}
