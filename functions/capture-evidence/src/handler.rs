//! One capture: every source in parallel, each retried with backoff on transient failures; what
//! fails is recorded in the manifest and the others still land.

use chrono::{TimeDelta, Utc};
use incident_aws::lambda::HandlerError;
use incident_core::catalog::Catalog;
use incident_core::evidence::{self, Collected, LogScope, Manifest, Moment, SourceError, Window};
use incident_core::incident::Incident;
use incident_core::ports::{
    run_step, signals_with_members, CatalogSource, EvidenceAccounts, EvidenceSources, EvidenceStore, IncidentStore,
    PortError, PortResult,
};
use incident_core::resolution;
use incident_core::timeline::{Entry, EntryKind};
use incident_core::IncidentId;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Duration;

const ATTEMPTS: u32 = 3;

pub struct Deps<S, C, E, B> {
    pub store: S,
    pub catalog: C,
    /// The sources of the account and region the incident happened in.
    pub sources: E,
    pub evidence: B,
    /// For links on the timeline.
    pub bucket: String,
    pub lookback: TimeDelta,
    pub cap_bytes: usize,
    /// Which log groups, and how much time, the log queries may read.
    pub log_scope: LogScope,
}

#[derive(Debug, Deserialize)]
pub struct Input {
    pub incident_id: IncidentId,
    pub moment: Moment,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Output {
    pub incident_id: IncidentId,
    pub capture: String,
    pub manifest: String,
    pub objects: usize,
    pub failed_sources: Vec<String>,
}

/// Runs `attempt` until it succeeds, fails permanently, or has been tried [`ATTEMPTS`] times,
/// backing off 250 ms, 500 ms … between tries. Returns the result and the number of tries.
async fn with_retry<T, F, Fut>(mut attempt: F) -> (PortResult<T>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = PortResult<T>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(PortError::Transient(_)) if tries < ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(250 * 2u64.pow(tries - 1))).await;
            }
            result => return (result, tries),
        }
    }
}

/// The log groups and queries the catalog names for the incident's services.
fn log_targets(catalog: &Catalog, incident: &Incident) -> (Vec<String>, Vec<String>) {
    let mut groups = Vec::new();
    let mut queries = Vec::new();
    for service in incident.services.iter().filter_map(|s| catalog.service(s)) {
        groups.extend(service.evidence.log_groups.iter().cloned());
        queries.extend(service.evidence.queries.iter().cloned());
    }
    if queries.is_empty() {
        queries = evidence::DEFAULT_LOG_QUERIES.iter().map(|q| q.to_string()).collect();
    }
    groups.dedup();
    queries.dedup();
    (groups, queries)
}

impl<S, C, E, B> Deps<S, C, E, B>
where
    S: IncidentStore,
    C: CatalogSource,
    E: EvidenceAccounts,
    B: EvidenceStore,
{
    pub async fn handle(&self, input: Input) -> Result<Output, HandlerError> {
        let id = input.incident_id;
        let incident = self.store.incident(&id).await?;
        let catalog = self.catalog.load().await?;
        let signals = signals_with_members(&self.store, &incident).await?;
        let alarms = evidence::alarms_of(&signals);
        let (groups, queries) = log_targets(&catalog, &incident);
        let (groups, refused_groups) = self.log_scope.allow(&groups);
        let now = Utc::now();
        let window = Window::around(incident.impact_started_at, self.lookback, now);
        let logs_window = self.log_scope.window(&window);
        let capture = evidence::capture_id(input.moment, now);
        let cap = self.cap_bytes;

        let (reached, tries) = with_retry(|| self.sources.sources(incident.location.as_ref())).await;
        let (history, metrics, logs, changes) = match reached {
            Ok(sources) => tokio::join!(
                with_retry(|| sources.alarm_history(&alarms, &window, cap)),
                with_retry(|| sources.metric_data(&alarms, &window, cap)),
                with_retry(|| sources.logs(&groups, &queries, &logs_window, cap)),
                with_retry(|| sources.changes(&window, cap)),
            ),
            // The account cannot be reached: every source says why, and the capture still lands.
            Err(e) => {
                let failed = || (Err(e.clone()), tries);
                (failed(), failed(), failed(), failed())
            }
        };
        let results: [(&str, (PortResult<Collected>, u32)); 4] = [
            (evidence::ALARM_HISTORY, history),
            (evidence::METRIC_DATA, metrics),
            (evidence::LOGS_INSIGHTS, logs),
            (evidence::CHANGES, changes),
        ];

        let mut manifest = Manifest {
            incident: id.clone(),
            capture: capture.clone(),
            moment: input.moment,
            window,
            created_at: now,
            size_cap_bytes: cap,
            objects: Vec::new(),
            errors: refused_groups
                .into_iter()
                .map(|error| SourceError {
                    source: evidence::LOGS_INSIGHTS.into(),
                    error,
                    attempts: 0,
                })
                .collect(),
        };
        for (source, (result, attempts)) in results {
            let collected = match result {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(incident = %id, source, error = %e, "evidence source failed");
                    manifest.errors.push(SourceError {
                        source: source.into(),
                        error: e.to_string(),
                        attempts,
                    });
                    continue;
                }
            };
            let (body, entry) = evidence::render(&id, &capture, source, &window, &collected);
            match with_retry(|| self.evidence.put(&entry.key, body.clone())).await {
                (Ok(()), _) => manifest.objects.push(entry),
                (Err(e), attempts) => manifest.errors.push(SourceError {
                    source: source.into(),
                    error: format!("store: {e}"),
                    attempts,
                }),
            }
        }
        let manifest_key = evidence::manifest_key(&id, &capture);
        let body = serde_json::to_vec_pretty(&manifest).map_err(|e| HandlerError::InvalidInput(e.to_string()))?;
        self.evidence.put(&manifest_key, body).await?;
        let entry = Entry::system(
            "capture-evidence",
            EntryKind::Evidence,
            format!("evidence-{capture}"),
            manifest.summary(),
        )
        .link(format!("s3://{}/{manifest_key}", self.bucket));
        let closing = input.moment == Moment::Closing;
        run_step(&self.store, &id, |i| {
            if closing {
                // The resolution checklist waits for this: the final capture has run.
                resolution::record_final_capture(i, now);
            }
            Ok(vec![entry.clone()])
        })
        .await?;
        tracing::info!(incident = %id, %capture, objects = manifest.objects.len(), errors = manifest.errors.len(), "evidence captured");
        Ok(Output {
            incident_id: id,
            capture,
            manifest: manifest_key,
            objects: manifest.objects.len(),
            failed_sources: manifest.errors.iter().map(|e| e.source.clone()).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::account::Location;
    use incident_core::evidence::AlarmRef;
    use incident_core::incident::Scope;
    use incident_core::memory::{MemoryEvidence, MemoryStore};
    use incident_core::SignalKey;
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    /// Sources scripted per test: logs fail transiently `logs_failures` times, changes always fail;
    /// an account other than this one cannot be reached.
    #[derive(Default)]
    struct Scripted {
        logs_failures: Mutex<u32>,
        changes_denied: bool,
    }

    impl EvidenceAccounts for Scripted {
        type Sources = Self;
        async fn sources(&self, location: Option<&Location>) -> PortResult<Self> {
            match location {
                Some(l) if l.account != "000000000000" => Err(PortError::Invalid(format!(
                    "cannot assume the member role in {}",
                    l.account
                ))),
                _ => Ok(Scripted {
                    logs_failures: Mutex::new(*self.logs_failures.lock().unwrap()),
                    changes_denied: self.changes_denied,
                }),
            }
        }
    }

    impl EvidenceSources for Scripted {
        async fn alarm_history(&self, alarms: &[AlarmRef], _: &Window, cap: usize) -> PortResult<Collected> {
            let mut c = Collected::new("history", cap);
            for a in alarms {
                c.push(json!({ "alarm": a.name }));
            }
            Ok(c)
        }
        async fn metric_data(&self, _: &[AlarmRef], _: &Window, cap: usize) -> PortResult<Collected> {
            let mut c = Collected::new("metrics", cap);
            for i in 0..1000 {
                if !c.push(json!({ "t": i, "v": i })) {
                    break;
                }
            }
            Ok(c)
        }
        async fn logs(&self, groups: &[String], queries: &[String], _: &Window, cap: usize) -> PortResult<Collected> {
            let mut left = self.logs_failures.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return Err(PortError::Transient("ThrottlingException".into()));
            }
            let mut c = Collected::new(format!("{groups:?} {queries:?}"), cap);
            c.push(json!({ "errors": 42 }));
            Ok(c)
        }
        async fn changes(&self, _: &Window, cap: usize) -> PortResult<Collected> {
            if self.changes_denied {
                return Err(PortError::Invalid("AccessDenied: cloudtrail:LookupEvents".into()));
            }
            Ok(Collected::new("changes", cap))
        }
    }

    fn deps(sources: Scripted, cap_bytes: usize) -> (TestDeps, IncidentId) {
        deps_in(sources, cap_bytes, None)
    }

    fn deps_in(sources: Scripted, cap_bytes: usize, location: Option<Location>) -> (TestDeps, IncidentId) {
        let id = IncidentId::for_service("checkout", &SignalKey::new("t", "1"));
        let mut incident = Incident::open(id.clone(), Scope::SingleService, vec!["checkout".into()], Utc::now());
        incident.location = location;
        let catalog: Catalog = serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap();
        let deps = Deps {
            store: MemoryStore::with([incident]),
            catalog,
            sources,
            evidence: MemoryEvidence::default(),
            bucket: "evidence-bucket".into(),
            lookback: TimeDelta::minutes(60),
            log_scope: LogScope {
                prefix: "/".into(),
                max_window: TimeDelta::hours(6),
            },
            cap_bytes,
        };
        (deps, id)
    }

    type TestDeps = Deps<MemoryStore, Catalog, Scripted, MemoryEvidence>;

    /// One capture of the test incident with these sources and size cap.
    async fn capture(sources: Scripted, cap_bytes: usize, moment: Moment) -> (TestDeps, IncidentId, Output) {
        let (d, id) = deps(sources, cap_bytes);
        let out = d
            .handle(Input {
                incident_id: id.clone(),
                moment,
            })
            .await
            .unwrap();
        (d, id, out)
    }

    fn evidence_entry(d: &TestDeps, id: &IncidentId) -> Entry {
        d.store
            .timeline(id)
            .into_iter()
            .find(|e| e.kind == EntryKind::Evidence)
            .unwrap()
    }

    fn stored_manifest(d: &TestDeps, out: &Output) -> Manifest {
        serde_json::from_slice(&d.evidence.objects.lock().unwrap()[&out.manifest]).unwrap()
    }

    #[tokio::test]
    async fn every_source_lands_with_a_manifest_whose_hashes_match_and_a_timeline_link() {
        let (d, id, out) = capture(Scripted::default(), 1 << 20, Moment::Opening).await;
        assert_eq!(out.objects, 4);
        let manifest = stored_manifest(&d, &out);
        let stored: BTreeMap<String, Option<Vec<u8>>> = d
            .evidence
            .objects
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        assert!(evidence::verify(&manifest, &stored).iter().all(|f| f.is_intact()));
        let entry = evidence_entry(&d, &id);
        assert_eq!(entry.links, [format!("s3://evidence-bucket/{}", out.manifest)]);
    }

    #[tokio::test]
    async fn a_throttled_source_is_retried_and_a_denied_one_is_recorded_while_the_others_land() {
        let sources = Scripted {
            logs_failures: Mutex::new(2),
            changes_denied: true,
        };
        let (d, id, out) = capture(sources, 1 << 20, Moment::Opening).await;
        assert_eq!(out.failed_sources, ["changes"]);
        let manifest = stored_manifest(&d, &out);
        assert_eq!(
            manifest.objects.len(),
            3,
            "history, metrics and logs (after two throttles) landed"
        );
        assert_eq!(manifest.errors[0].attempts, 1, "a permanent failure is not retried");
        assert!(manifest.errors[0].error.contains("AccessDenied"));
        let entry = evidence_entry(&d, &id);
        assert!(entry.text.contains("FAILED changes"), "{}", entry.text);
    }

    #[tokio::test]
    async fn a_source_that_stays_throttled_is_recorded_after_its_retries() {
        let sources = Scripted {
            logs_failures: Mutex::new(10),
            changes_denied: false,
        };
        let (d, _, out) = capture(sources, 1 << 20, Moment::Closing).await;
        let manifest = stored_manifest(&d, &out);
        assert_eq!(
            (manifest.errors[0].source.as_str(), manifest.errors[0].attempts),
            ("logs-insights", ATTEMPTS)
        );
        assert!(out.capture.ends_with("-closing"));
        assert!(
            d.store.get(&out.incident_id).unwrap().final_capture_at.is_some(),
            "the closing capture is recorded for the resolution checklist"
        );
    }

    #[tokio::test]
    async fn an_account_that_cannot_be_reached_fails_every_source_with_why_and_the_capture_still_lands() {
        let member = Location::of(Some("111111111111"), Some("eu-west-1")).unwrap();
        let (d, id) = deps_in(Scripted::default(), 1 << 20, member);
        let out = d
            .handle(Input {
                incident_id: id.clone(),
                moment: Moment::Opening,
            })
            .await
            .unwrap();
        assert_eq!(out.objects, 0);
        assert_eq!(out.failed_sources.len(), 4, "{:?}", out.failed_sources);
        let manifest = stored_manifest(&d, &out);
        assert!(
            manifest
                .errors
                .iter()
                .all(|e| e.error == "cannot assume the member role in 111111111111" && e.attempts == 1),
            "{:?}",
            manifest.errors
        );
        assert!(evidence_entry(&d, &id).text.contains("FAILED"));
    }

    #[tokio::test]
    async fn truncation_by_the_size_cap_is_recorded_in_the_manifest() {
        let (d, _, out) = capture(Scripted::default(), 2_000, Moment::Opening).await;
        let manifest = stored_manifest(&d, &out);
        let metrics = manifest.objects.iter().find(|o| o.source == "metric-data").unwrap();
        assert!(metrics.truncated && metrics.dropped > 0, "{metrics:?}");
    }
}
