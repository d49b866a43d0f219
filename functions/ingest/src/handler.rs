//! Turns one EventBridge event into a recorded signal.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use incident_aws::bus::{detail_type, Bus};
use incident_aws::catalog_store::CatalogStore;
use incident_aws::lambda::HandlerError;
use incident_aws::lifecycle::Lifecycle;
use incident_aws::rejects::Rejects;
use incident_aws::store::Store;
use incident_core::correlation::{Outcome, Policy};
use incident_core::event::{self, Envelope};
use incident_core::signal::Signal;
use serde::Serialize;
use serde_json::{json, Value};

pub struct Deps {
    pub store: Store,
    pub catalog: CatalogStore,
    pub lifecycle: Lifecycle,
    pub bus: Bus,
    pub rejects: Rejects,
    pub policy: Policy,
}

/// What the invocation did; also its log line.
#[derive(Debug, Serialize, PartialEq)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Ingested {
    Recorded {
        signal: String,
        service: String,
        outcome: Outcome,
    },
    /// The event can never be a signal; it is on the DLQ with this reason.
    Rejected { reason: String },
}

/// Reads the envelope (with the maintained `aws_lambda_events` type) and the signal in it.
/// Any failure is permanent for this event: the error says why.
pub fn to_signal(raw: &Value) -> Result<Signal, String> {
    let envelope: EventBridgeEvent<Value> =
        serde_json::from_value(raw.clone()).map_err(|e| format!("malformed EventBridge envelope: {e}"))?;
    let envelope = Envelope {
        id: envelope.id,
        source: envelope.source,
        detail_type: envelope.detail_type,
        time: envelope.time,
        resources: envelope.resources.unwrap_or_default(),
        detail: envelope.detail,
    };
    event::parse(&envelope).map_err(|e| e.to_string())
}

pub async fn handle(deps: &Deps, raw: Value) -> Result<Ingested, HandlerError> {
    let signal = match to_signal(&raw) {
        Ok(signal) => signal,
        Err(reason) => {
            // Kept whole on the DLQ with its reason; succeeding here stops Lambda retrying an event
            // that can never parse. If the DLQ write fails, the error makes Lambda retry instead.
            deps.rejects.reject(&raw, "InvalidInput", &reason).await?;
            tracing::warn!(%reason, "event rejected to the DLQ");
            return Ok(Ingested::Rejected { reason });
        }
    };
    let catalog = deps.catalog.load().await?;
    let matched = catalog.resolve(&signal);
    let recorded = deps.store.record_signal(&matched, &signal, &deps.policy).await?;
    for id in &recorded.start {
        deps.lifecycle.start(id).await?;
        let detail = json!({ "incident_id": id, "service": matched.service, "exercise": signal.exercise,
                             "first_signal": signal.summary() });
        deps.bus.emit(detail_type::INCIDENT_OPENED, &detail).await?;
    }
    for id in &recorded.stop {
        deps.lifecycle
            .stop(id, "merged into another incident of the same service")
            .await?;
    }
    let result = Ingested::Recorded {
        signal: signal.key.to_string(),
        service: matched.service,
        outcome: recorded.outcome,
    };
    tracing::info!(result = %serde_json::to_string(&result).unwrap_or_default(), "signal ingested");
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> Value {
        let text = std::fs::read_to_string(format!("{}/../../events/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn every_impact_fixture_becomes_a_signal() {
        for path in [
            "cloudwatch/single-metric-alarm.json",
            "cloudwatch/single-metric-alarm-tagged.json",
            "cloudwatch/metric-math-alarm.json",
            "cloudwatch/anomaly-detection-alarm.json",
            "cloudwatch/composite-alarm.json",
            "cloudwatch/composite-alarm-suppressed.json",
            "cloudwatch/single-metric-ok.json",
            "cloudwatch/insufficient-data.json",
            "synthetics/canary-failure.json",
        ] {
            assert!(
                to_signal(&fixture(path)).is_ok(),
                "{path}: {:?}",
                to_signal(&fixture(path))
            );
        }
    }

    #[test]
    fn malformed_fixtures_are_refused_with_a_reason_naming_the_problem() {
        let reason = to_signal(&fixture("malformed/missing-detail.json")).unwrap_err();
        assert!(reason.contains("detail"), "{reason}");
        let reason = to_signal(&fixture("malformed/bad-state.json")).unwrap_err();
        assert!(reason.contains("BROKEN"), "{reason}");
        let reason = to_signal(&fixture("malformed/unknown-detail-type.json")).unwrap_err();
        assert!(reason.contains("Configuration Change"), "{reason}");
        let reason = to_signal(&serde_json::json!("not an object")).unwrap_err();
        assert!(reason.starts_with("malformed EventBridge envelope"), "{reason}");
    }
}
