//! Time-to-detect, -engage and -acknowledge as CloudWatch metrics, written as Embedded Metric Format
//! log lines: CloudWatch Logs turns them into metrics with no API call on the hot path.

use incident_core::incident::Incident;
use serde_json::{json, Value};

pub const NAMESPACE: &str = "IncidentLoop";

/// One EMF record for `metric` (seconds) of `incident`, by severity and exercise flag.
pub fn record(metric: &str, seconds: i64, incident: &Incident) -> Value {
    let severity = incident
        .severity
        .map(|s| s.to_string())
        .unwrap_or_else(|| "untriaged".into());
    json!({
        "_aws": {
            "Timestamp": chrono::Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Severity", "Exercise"]],
                "Metrics": [{ "Name": metric, "Unit": "Seconds" }]
            }]
        },
        "Severity": severity,
        "Exercise": if incident.exercise { "true" } else { "false" },
        metric: seconds.max(0),
        "incident_id": incident.id,
    })
}

/// One EMF record counting `n` of `metric` for the whole loop (no dimensions), for the loop's own
/// alarms: lifecycle restarts.
pub fn count_record(metric: &str, n: u64) -> Value {
    json!({
        "_aws": {
            "Timestamp": chrono::Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[]],
                "Metrics": [{ "Name": metric, "Unit": "Count" }]
            }]
        },
        metric: n,
    })
}

/// Writes a [`count_record`] to stdout.
pub fn count(metric: &str, n: u64) {
    println!("{}", count_record(metric, n));
}

/// Writes the record to stdout, where the Lambda runtime ships it to CloudWatch Logs.
pub fn emit(metric: &str, seconds: i64, incident: &Incident) {
    println!("{}", record(metric, seconds, incident));
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::incident::Scope;
    use incident_core::{IncidentId, SignalKey};

    #[test]
    fn counts_have_no_dimensions_so_one_alarm_watches_them() {
        let r = count_record("LifecycleRestarts", 2);
        let declared = &r["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Dimensions"], serde_json::json!([[]]));
        assert_eq!(
            (declared["Metrics"][0]["Unit"].as_str(), r["LifecycleRestarts"].as_u64()),
            (Some("Count"), Some(2))
        );
    }

    #[test]
    fn records_follow_the_embedded_metric_format() {
        let id = IncidentId::for_service("s", &SignalKey::new("a", "b"));
        let mut incident = Incident::open(id, Scope::SingleService, vec!["s".into()], chrono::Utc::now());
        incident.severity = Some(incident_core::severity::Severity::Sev2);
        incident.exercise = true;
        let r = record("TimeToEngage", 42, &incident);
        assert_eq!(r["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "TimeToEngage");
        assert_eq!(r["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            (
                r["TimeToEngage"].as_i64(),
                r["Severity"].as_str(),
                r["Exercise"].as_str()
            ),
            (Some(42), Some("SEV2"), Some("true"))
        );
    }
}
