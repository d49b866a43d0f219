//! The weekly review: read the weeks it covers, compute its figures in the core, write its
//! documents, announce it.

use chrono::Utc;
use incident_aws::lambda::HandlerError;
use incident_core::app_event::AppEvent;
use incident_core::ports::{review_of, CatalogSource, EvidenceStore, IncidentStore, Notifier, Postmortems};
use incident_core::review::{self, CoeState, Week};
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Deps<S, C, D, N> {
    pub store: S,
    pub catalog: C,
    /// The postmortem bucket; reviews go under `reviews/`.
    pub documents: D,
    pub bus: N,
    pub bucket: String,
}

/// `{}` from the schedule reviews the last whole week; `{"week": "2026-W48"}` that week.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    #[serde(default)]
    pub week: Option<String>,
}

impl<S, C, D, N> Deps<S, C, D, N>
where
    S: IncidentStore + Postmortems,
    C: CatalogSource,
    D: EvidenceStore,
    N: Notifier,
{
    pub async fn handle(&self, input: Input) -> Result<Value, HandlerError> {
        let now = Utc::now();
        let week = match input.week.as_deref() {
            Some(w) => Week::parse(w).map_err(HandlerError::InvalidInput)?,
            None => Week::last_before(now),
        };
        let report = review_of(&self.store, &self.catalog, week, now).await?;
        for u in &report.unreadable {
            tracing::warn!(week = %week, unreadable = %u, "left out of the review");
        }
        let json = serde_json::to_vec_pretty(&report).map_err(|e| HandlerError::InvalidInput(e.to_string()))?;
        let mut written = Vec::new();
        for (extension, body) in [
            ("md", review::markdown::render(&report).into_bytes()),
            ("html", review::html::render(&report).into_bytes()),
            ("json", json),
        ] {
            let key = review::report_key(week, extension);
            self.documents.put(&key, body).await?;
            written.push(format!("s3://{}/{key}", self.bucket));
        }
        let event = AppEvent::ReviewReady {
            week: week.to_string(),
            markdown: written[0].clone(),
            html: written[1].clone(),
            json: written[2].clone(),
            incidents: report.incidents.len() - report.exercises,
            exercises: report.exercises,
            repeats: report.repeats.len(),
            recurring_factors: report.recurring.len(),
            late_coes: report.coes.iter().filter(|c| c.state == CoeState::Late).count(),
            overdue_action_items: report.actions.overdue.len(),
        };
        self.bus.emit(&event).await?;
        tracing::info!(week = %week, incidents = report.incidents.len(), "review written");
        Ok(json!({ "week": week.to_string(), "documents": written }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::catalog::Catalog;
    use incident_core::incident::{Incident, Scope};
    use incident_core::memory::{MemoryEvidence, MemoryNotifier, MemoryStore};
    use incident_core::severity::Severity;
    use incident_core::{IncidentId, SignalKey};

    fn deps(incidents: Vec<Incident>) -> Deps<MemoryStore, Catalog, MemoryEvidence, MemoryNotifier> {
        Deps {
            store: MemoryStore::with(incidents),
            catalog: serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap(),
            documents: MemoryEvidence::default(),
            bus: MemoryNotifier::default(),
            bucket: "postmortems".into(),
        }
    }

    fn incident(name: &str, detected: &str, exercise: bool) -> Incident {
        let id = IncidentId::for_service("checkout", &SignalKey::new("review", name));
        let at = detected.parse().unwrap();
        let mut i = Incident::open_at(id, Scope::SingleService, vec!["checkout".into()], at, at);
        i.severity = Some(Severity::Sev3);
        i.owner = Some("payments".into());
        i.exercise = exercise;
        i
    }

    #[tokio::test]
    async fn the_review_of_a_week_is_written_three_ways_and_announced() {
        let d = deps(vec![
            incident("real", "2026-11-24T10:00:00Z", false),
            incident("drill", "2026-11-25T10:00:00Z", true),
            incident("week-before", "2026-11-17T10:00:00Z", false),
        ]);
        let out = d
            .handle(Input {
                week: Some("2026-W48".into()),
            })
            .await
            .unwrap();
        let keys: Vec<String> = d.documents.objects.lock().unwrap().keys().cloned().collect();
        for ext in ["md", "html", "json"] {
            assert!(keys.contains(&format!("reviews/2026-W48/review.{ext}")), "{keys:?}");
        }
        assert_eq!(out["documents"][1], "s3://postmortems/reviews/2026-W48/review.html");
        let json = d.documents.objects.lock().unwrap()["reviews/2026-W48/review.json"].clone();
        let figures: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(figures["exercises"], 1);
        let ready = d.bus.events_of("Review Ready");
        assert_eq!(ready.len(), 1);
        assert_eq!(
            (ready[0]["week"].as_str(), ready[0]["incidents"].as_u64()),
            (Some("2026-W48"), Some(1))
        );
        assert_eq!(
            ready[0]["repeats"], 1,
            "the week before's checkout incident: a repeat of the service"
        );
    }

    #[tokio::test]
    async fn a_malformed_week_is_refused_and_nothing_is_written() {
        let d = deps(vec![]);
        let err = d
            .handle(Input {
                week: Some("week 48".into()),
            })
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "'week 48' is not an ISO week like 2026-W48");
        assert!(d.documents.objects.lock().unwrap().is_empty());
    }
}
