//! Alarm history and the metric data behind each alarm, at the alarm's own period and statistic.

use super::{chrono_time, smithy_time};
use crate::AwsError;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use incident_core::evidence::{AlarmRef, Collected, Window};
use serde_json::json;

pub(super) async fn alarm_history(
    client: &aws_sdk_cloudwatch::Client,
    alarms: &[AlarmRef],
    window: &Window,
    cap: usize,
) -> Result<Collected, AwsError> {
    let names: Vec<&str> = alarms.iter().map(|a| a.name.as_str()).collect();
    let mut out = Collected::new(format!("DescribeAlarmHistory {}", names.join(", ")), cap);
    for alarm in alarms {
        let mut token = None;
        loop {
            let page = client
                .describe_alarm_history()
                .alarm_name(&alarm.name)
                .start_date(smithy_time(window.from))
                .end_date(smithy_time(window.to))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| AwsError::sdk("DescribeAlarmHistory", e))?;
            for item in page.alarm_history_items() {
                out.push(json!({
                    "alarm": item.alarm_name(),
                    "timestamp": item.timestamp().and_then(chrono_time),
                    "type": item.history_item_type().map(|t| t.as_str()),
                    "summary": item.history_summary(),
                    "data": item.history_data().and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()),
                }));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() || out.is_full() {
                break;
            }
        }
    }
    Ok(out)
}

/// GetMetricData query ids must start with a lower-case letter; ids that do not (alarm metric ids
/// can be UUIDs) are renamed. Expressions only reference valid ids, so they keep working.
fn query_id(id: &str, index: usize) -> String {
    let valid = id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        id.to_string()
    } else {
        format!("q{index}")
    }
}

pub(super) async fn metric_data(
    client: &aws_sdk_cloudwatch::Client,
    alarms: &[AlarmRef],
    window: &Window,
    cap: usize,
) -> Result<Collected, AwsError> {
    let mut described = Vec::new();
    let mut out_queries = Vec::new();
    for alarm in alarms.iter().filter(|a| !a.metrics.is_empty()) {
        let mut queries = Vec::new();
        for (i, m) in alarm.metrics.iter().enumerate() {
            let id = query_id(&m.id, i);
            let q = match (&m.expression, &m.name) {
                (Some(expr), _) => MetricDataQuery::builder()
                    .id(&id)
                    .expression(expr)
                    .return_data(true)
                    .build(),
                (None, Some(name)) => {
                    let dims: Vec<Dimension> = m
                        .dimensions
                        .iter()
                        .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                        .collect();
                    let metric = Metric::builder()
                        .set_namespace(m.namespace.clone())
                        .metric_name(name)
                        .set_dimensions(Some(dims))
                        .build();
                    let stat = MetricStat::builder()
                        .metric(metric)
                        .period(m.period.unwrap_or(60) as i32)
                        .stat(m.stat.clone().unwrap_or_else(|| "Average".into()))
                        .build();
                    MetricDataQuery::builder()
                        .id(&id)
                        .metric_stat(stat)
                        .return_data(true)
                        .build()
                }
                (None, None) => continue,
            };
            described.push(format!(
                "{}:{}",
                alarm.name,
                m.expression.clone().or(m.name.clone()).unwrap_or_default()
            ));
            queries.push(q);
        }
        out_queries.push((alarm.name.clone(), queries));
    }
    let mut out = Collected::new(format!("GetMetricData {}", described.join(", ")), cap);
    for (alarm, queries) in out_queries {
        let mut token = None;
        loop {
            let page = client
                .get_metric_data()
                .set_metric_data_queries(Some(queries.clone()))
                .start_time(smithy_time(window.from))
                .end_time(smithy_time(window.to))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| AwsError::sdk("GetMetricData", e))?;
            for r in page.metric_data_results() {
                let points: Vec<_> = r
                    .timestamps()
                    .iter()
                    .zip(r.values())
                    .map(|(t, v)| json!({ "t": chrono_time(t), "v": v }))
                    .collect();
                out.push(json!({
                    "alarm": alarm,
                    "id": r.id(),
                    "label": r.label(),
                    "status": r.status_code().map(|s| s.as_str()),
                    "points": points,
                }));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() || out.is_full() {
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::query_id;

    #[test]
    fn uuid_metric_ids_are_renamed_and_valid_ids_kept() {
        assert_eq!(query_id("m1", 0), "m1");
        assert_eq!(query_id("30b6c6b2-a864-43a2-4877-c09a1afc3b87", 3), "q3");
        assert_eq!(query_id("Upper", 1), "q1");
    }
}
