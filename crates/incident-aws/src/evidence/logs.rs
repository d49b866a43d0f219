//! CloudWatch Logs Insights queries over a service's log groups in the window.

use crate::AwsError;
use aws_sdk_cloudwatchlogs::types::QueryStatus;
use incident_core::evidence::{Collected, Window};
use serde_json::{json, Map, Value};
use std::time::Duration;

pub(super) async fn insights(
    client: &aws_sdk_cloudwatchlogs::Client,
    groups: &[String],
    queries: &[String],
    window: &Window,
    cap: usize,
    patience: Duration,
) -> Result<Collected, AwsError> {
    let mut out = Collected::new(
        format!("Logs Insights on {}: {}", groups.join(", "), queries.join(" ;; ")),
        cap,
    );
    if groups.is_empty() {
        return Ok(out);
    }
    for query in queries {
        // One group is named singly: then IAM (and the local emulator) authorise the query against
        // that log group's ARN, which is what the function's policy grants.
        let request = match groups {
            [one] => client.start_query().log_group_name(one),
            many => client.start_query().set_log_group_names(Some(many.to_vec())),
        };
        let started = request
            .start_time(window.from.timestamp())
            .end_time(window.to.timestamp())
            .query_string(query)
            .send()
            .await
            .map_err(|e| AwsError::sdk("StartQuery", e))?;
        let id = started.query_id().unwrap_or_default().to_string();
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let got = client
                .get_query_results()
                .query_id(&id)
                .send()
                .await
                .map_err(|e| AwsError::sdk("GetQueryResults", e))?;
            match got.status() {
                Some(QueryStatus::Complete) => {
                    for row in got.results() {
                        let fields: Map<String, Value> = row
                            .iter()
                            .filter_map(|f| Some((f.field()?.to_string(), Value::from(f.value().unwrap_or_default()))))
                            .collect();
                        if !out.push(json!({ "query": query, "row": fields })) {
                            break;
                        }
                    }
                    break;
                }
                Some(QueryStatus::Failed | QueryStatus::Cancelled | QueryStatus::Timeout) => {
                    return Err(AwsError::Service {
                        operation: "GetQueryResults",
                        message: format!("query {id} ended {:?}: {query}", got.status()),
                        code: None,
                    });
                }
                _ if tokio::time::Instant::now() >= deadline => {
                    return Err(AwsError::Service {
                        operation: "GetQueryResults",
                        message: format!("query {id} still running after {patience:?}: {query}"),
                        code: None,
                    });
                }
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
    Ok(out)
}
