//! Evidence: what is captured while the system is still warm, where it is kept, and how its
//! integrity is checked later.
//!
//! A capture writes one object per source under `evidence/<incident>/<capture>/` and a
//! `manifest.json` naming every object with its size and SHA-256, the query that produced it, the
//! time window, and the sources that failed. `verify` recomputes the hashes against the manifest.

use crate::signal::{AlarmMetric, Signal};
use crate::IncidentId;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The sources a capture collects, in the order they are listed.
pub const ALARM_HISTORY: &str = "alarm-history";
pub const METRIC_DATA: &str = "metric-data";
pub const LOGS_INSIGHTS: &str = "logs-insights";
pub const CHANGES: &str = "changes";

/// Queries run on a service's log groups when the catalog names none: error counts per minute,
/// and the most recent error lines.
pub const DEFAULT_LOG_QUERIES: [&str; 2] = [
    "fields @timestamp, @message | filter @message like /(?i)(error|exception|fail|timeout)/ | stats count(*) as errors by bin(1m)",
    "fields @timestamp, @logStream, @message | filter @message like /(?i)(error|exception|fail|timeout)/ | sort @timestamp desc | limit 50",
];

/// The period a capture covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    /// From `lookback` before impact start until `now`.
    pub fn around(impact_started_at: DateTime<Utc>, lookback: TimeDelta, now: DateTime<Utc>) -> Self {
        let from = (impact_started_at - lookback).min(now - lookback);
        Self { from, to: now }
    }
}

/// What log evidence may read: only groups under `prefix`, and at most `max_window` of time (the
/// latest part of the capture's window). Event and catalog text names the groups; this is what keeps
/// a wrong or hostile name from reading another team's logs, or an old impact start from scanning
/// weeks of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogScope {
    pub prefix: String,
    pub max_window: TimeDelta,
}

impl LogScope {
    /// The groups that may be read, and a line for each that may not.
    pub fn allow(&self, groups: &[String]) -> (Vec<String>, Vec<String>) {
        let (ok, refused): (Vec<String>, Vec<String>) =
            groups.iter().cloned().partition(|g| g.starts_with(&self.prefix));
        let said = refused
            .iter()
            .map(|g| {
                format!(
                    "log group {} is outside the configured prefix {} and was not read",
                    crate::text::line(g, crate::text::NAME_MAX),
                    self.prefix
                )
            })
            .collect();
        (ok, said)
    }

    /// The part of `window` log queries read.
    pub fn window(&self, window: &Window) -> Window {
        Window {
            from: window.from.max(window.to - self.max_window),
            to: window.to,
        }
    }
}

/// When in the incident's life a capture is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moment {
    /// As the incident opens, beside engagement.
    Opening,
    /// Just before resolution.
    Closing,
}

/// Names a capture: its moment and when it started, so that captures sort by time.
pub fn capture_id(moment: Moment, at: DateTime<Utc>) -> String {
    let m = match moment {
        Moment::Opening => "opening",
        Moment::Closing => "closing",
    };
    format!("{}-{m}", at.format("%Y%m%dT%H%M%SZ"))
}

pub fn prefix(incident: &IncidentId) -> String {
    format!("evidence/{incident}/")
}

pub fn object_key(incident: &IncidentId, capture: &str, source: &str) -> String {
    format!("evidence/{incident}/{capture}/{source}.json")
}

pub fn manifest_key(incident: &IncidentId, capture: &str) -> String {
    format!("evidence/{incident}/{capture}/manifest.json")
}

/// The manifest keys among `keys` (a listing of [`prefix`]), oldest capture first.
pub fn manifest_keys(keys: Vec<String>) -> Vec<String> {
    let mut manifests: Vec<String> = keys.into_iter().filter(|k| k.ends_with("/manifest.json")).collect();
    manifests.sort();
    manifests
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Items collected from one source, bounded by a byte budget. Once the budget is spent further
/// items are counted but not kept, and the truncation is recorded: never silent.
#[derive(Clone, Debug, PartialEq)]
pub struct Collected {
    pub query: String,
    pub items: Vec<Value>,
    pub bytes: usize,
    pub dropped: usize,
    cap: usize,
}

impl Collected {
    pub fn new(query: impl Into<String>, cap_bytes: usize) -> Self {
        Self {
            query: query.into(),
            items: Vec::new(),
            bytes: 0,
            dropped: 0,
            cap: cap_bytes,
        }
    }

    /// Keeps `item` if it fits the budget; returns false once the budget is spent, so that a
    /// pager can stop fetching.
    pub fn push(&mut self, item: Value) -> bool {
        let size = item.to_string().len();
        if self.dropped > 0 || self.bytes + size > self.cap {
            self.dropped += 1;
            return false;
        }
        self.bytes += size;
        self.items.push(item);
        true
    }

    pub fn is_full(&self) -> bool {
        self.dropped > 0
    }

    pub fn truncated(&self) -> bool {
        self.dropped > 0
    }
}

/// One object in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestObject {
    pub source: String,
    pub key: String,
    pub bytes: u64,
    pub sha256: String,
    pub query: String,
    pub items: usize,
    /// The size cap was reached: `items` were kept, the rest dropped (and counted).
    pub truncated: bool,
    #[serde(default)]
    pub dropped: usize,
}

/// A source that could not be captured, after its retries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceError {
    pub source: String,
    pub error: String,
    pub attempts: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub incident: IncidentId,
    pub capture: String,
    pub moment: Moment,
    pub window: Window,
    pub created_at: DateTime<Utc>,
    pub size_cap_bytes: usize,
    pub objects: Vec<ManifestObject>,
    pub errors: Vec<SourceError>,
}

/// The stored body of one source's object, and its manifest entry.
pub fn render(
    incident: &IncidentId,
    capture: &str,
    source: &str,
    window: &Window,
    c: &Collected,
) -> (Vec<u8>, ManifestObject) {
    let body = json!({
        "incident": incident,
        "capture": capture,
        "source": source,
        "query": c.query,
        "window": window,
        "truncated": c.truncated(),
        "dropped": c.dropped,
        "items": c.items,
    });
    let bytes = serde_json::to_vec_pretty(&body).expect("JSON values serialise");
    let entry = ManifestObject {
        source: source.to_string(),
        key: object_key(incident, capture, source),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        query: c.query.clone(),
        items: c.items.len(),
        truncated: c.truncated(),
        dropped: c.dropped,
    };
    (bytes, entry)
}

impl Manifest {
    /// A one-paragraph summary for the timeline.
    pub fn summary(&self) -> String {
        let kept: Vec<String> = self
            .objects
            .iter()
            .map(|o| {
                format!(
                    "{} ({} items{})",
                    o.source,
                    o.items,
                    if o.truncated { ", TRUNCATED" } else { "" }
                )
            })
            .collect();
        let failed: Vec<String> = self
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.source, e.error))
            .collect();
        let mut text = format!(
            "evidence captured ({}) for {} → {}: {}",
            self.capture,
            self.window.from.to_rfc3339_opts(SecondsFormat::Secs, true),
            self.window.to.to_rfc3339_opts(SecondsFormat::Secs, true),
            if kept.is_empty() {
                "nothing".to_string()
            } else {
                kept.join(", ")
            }
        );
        if !failed.is_empty() {
            text.push_str(&format!("; FAILED {}", failed.join("; ")));
        }
        text
    }
}

/// What `verify` found for one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Finding {
    Intact {
        key: String,
    },
    Changed {
        key: String,
        expected: String,
        actual: String,
    },
    Missing {
        key: String,
    },
}

impl Finding {
    pub fn is_intact(&self) -> bool {
        matches!(self, Finding::Intact { .. })
    }
}

/// Checks each manifest object against the bytes stored now (`None`: gone).
pub fn verify(manifest: &Manifest, stored: &BTreeMap<String, Option<Vec<u8>>>) -> Vec<Finding> {
    manifest
        .objects
        .iter()
        .map(|o| match stored.get(&o.key).and_then(|b| b.as_ref()) {
            None => Finding::Missing { key: o.key.clone() },
            Some(bytes) => {
                let actual = sha256_hex(bytes);
                if actual == o.sha256 {
                    Finding::Intact { key: o.key.clone() }
                } else {
                    Finding::Changed {
                        key: o.key.clone(),
                        expected: o.sha256.clone(),
                        actual,
                    }
                }
            }
        })
        .collect()
}

/// An alarm on the incident and the metrics it watches, from the incident's signals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmRef {
    pub name: String,
    pub metrics: Vec<AlarmMetric>,
}

/// The distinct alarms behind an incident's signals.
pub fn alarms_of(signals: &[Signal]) -> Vec<AlarmRef> {
    let mut by_name: BTreeMap<String, AlarmRef> = BTreeMap::new();
    for s in signals {
        if let Some(a) = &s.alarm {
            by_name.entry(s.resource.clone()).or_insert_with(|| AlarmRef {
                name: s.resource.clone(),
                metrics: a.metrics.clone(),
            });
        }
    }
    by_name.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_read_only_under_the_prefix_and_over_the_capped_window() {
        let scope = LogScope {
            prefix: "/app/".into(),
            max_window: TimeDelta::hours(6),
        };
        let groups = vec!["/app/checkout".to_string(), "/aws/lambda/payroll".to_string()];
        let (ok, refused) = scope.allow(&groups);
        assert_eq!(ok, ["/app/checkout"]);
        assert_eq!(refused.len(), 1);
        assert!(refused[0].contains("/aws/lambda/payroll is outside the configured prefix /app/"));
        let now = Utc::now();
        let w = scope.window(&Window::around(now - TimeDelta::days(3), TimeDelta::hours(1), now));
        assert_eq!((w.from, w.to), (now - TimeDelta::hours(6), now));
    }

    fn manifest_with(bytes: &[u8]) -> Manifest {
        let id = IncidentId::for_service("s", &crate::SignalKey::new("a", "b"));
        let mut c = Collected::new("q", 1_000);
        c.push(json!({"a": 1}));
        let window = Window::around(Utc::now(), TimeDelta::minutes(30), Utc::now());
        let (_, mut entry) = render(&id, "cap", ALARM_HISTORY, &window, &c);
        entry.sha256 = sha256_hex(bytes);
        Manifest {
            incident: id,
            capture: "cap".into(),
            moment: Moment::Opening,
            window,
            created_at: Utc::now(),
            size_cap_bytes: 1_000,
            objects: vec![entry],
            errors: vec![],
        }
    }

    #[test]
    fn sha256_is_the_standard_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn verify_reports_intact_changed_and_missing_objects() {
        let m = manifest_with(b"original");
        let key = m.objects[0].key.clone();
        let intact = BTreeMap::from([(key.clone(), Some(b"original".to_vec()))]);
        assert!(verify(&m, &intact)[0].is_intact());
        let changed = BTreeMap::from([(key.clone(), Some(b"tampered".to_vec()))]);
        assert!(matches!(verify(&m, &changed)[0], Finding::Changed { .. }));
        let gone = BTreeMap::from([(key, None)]);
        assert!(matches!(verify(&m, &gone)[0], Finding::Missing { .. }));
    }

    #[test]
    fn the_size_cap_truncates_visibly_and_counts_what_was_dropped() {
        let mut c = Collected::new("q", 30);
        assert!(c.push(json!({"n": 1})));
        assert!(c.push(json!({"n": 2})));
        assert!(!c.push(json!({"message": "a long line that does not fit"})));
        assert!(
            !c.push(json!({"n": 3})),
            "once full, stays full: no holes in the middle"
        );
        assert_eq!((c.items.len(), c.dropped, c.truncated()), (2, 2, true));
        let id = IncidentId::for_service("s", &crate::SignalKey::new("a", "b"));
        let window = Window::around(Utc::now(), TimeDelta::minutes(5), Utc::now());
        let (bytes, entry) = render(&id, "cap", LOGS_INSIGHTS, &window, &c);
        assert!(entry.truncated);
        assert_eq!(entry.sha256, sha256_hex(&bytes));
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            (body["truncated"].as_bool(), body["dropped"].as_u64()),
            (Some(true), Some(2))
        );
    }

    #[test]
    fn the_window_reaches_back_from_impact_start() {
        let now = Utc::now();
        let w = Window::around(now - TimeDelta::minutes(10), TimeDelta::minutes(30), now);
        assert_eq!((w.from, w.to), (now - TimeDelta::minutes(40), now));
    }

    #[test]
    fn capture_ids_sort_by_time() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(capture_id(Moment::Opening, t), "20261123T030405Z-opening");
        assert!(capture_id(Moment::Opening, t) < capture_id(Moment::Closing, t + TimeDelta::seconds(1)));
    }
}
