//! Measures one evidence capture on the local stack: an incident with 3 alarms and 10,000 log
//! events, from invoking the capture step until its manifest is written. Prints wall time and
//! bytes; run by `scripts/bench-evidence`, which deploys the stack first.

use anyhow::Result;
use aws_sdk_cloudwatch::types::{ComparisonOperator, MetricDatum, StateValue, Statistic};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use chrono::{TimeDelta, Utc};
use e2e::{alarm, envelope, eventually, incidentctl, Stack};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ALARMS: [&str; 3] = ["checkout-bench-5xx", "checkout-bench-latency", "checkout-bench-errors"];
const LOG_EVENTS: usize = 10_000;
const RUNS: usize = 3;

#[tokio::main]
async fn main() -> Result<()> {
    let catalog = format!("{}/../catalog.example.yaml", env!("CARGO_MANIFEST_DIR"));
    incidentctl(&["catalog", "import", &catalog])?;
    let stack = Stack::connect().await?;
    let cw = aws_sdk_cloudwatch::Client::new(&stack.config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&stack.config);
    let now = Utc::now();

    for name in ALARMS {
        let data: Vec<MetricDatum> = (0..60)
            .map(|m| {
                MetricDatum::builder()
                    .metric_name("Errors")
                    .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                        (now - TimeDelta::minutes(m)).timestamp(),
                    ))
                    .value(m as f64)
                    .build()
            })
            .collect();
        cw.put_metric_data()
            .namespace("Test")
            .set_metric_data(Some(data))
            .send()
            .await?;
        cw.put_metric_alarm()
            .alarm_name(name)
            .namespace("Test")
            .metric_name("Errors")
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(5.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await?;
        cw.set_alarm_state()
            .alarm_name(name)
            .state_value(StateValue::Alarm)
            .state_reason("bench")
            .send()
            .await?;
    }
    let _ = logs.create_log_group().log_group_name("/app/checkout").send().await;
    let _ = logs
        .create_log_stream()
        .log_group_name("/app/checkout")
        .log_stream_name("bench")
        .send()
        .await;
    for chunk in (0..LOG_EVENTS).collect::<Vec<_>>().chunks(5_000) {
        let events: Vec<InputLogEvent> = chunk
            .iter()
            .map(|i| {
                InputLogEvent::builder()
                    .timestamp((now - TimeDelta::milliseconds((LOG_EVENTS - i) as i64 * 300)).timestamp_millis())
                    .message(format!(
                        "ERROR request {i} failed: upstream timeout after 3000 ms (order {i})"
                    ))
                    .build()
                    .expect("timestamp and message set")
            })
            .collect();
        logs.put_log_events()
            .log_group_name("/app/checkout")
            .log_stream_name("bench")
            .set_log_events(Some(events))
            .send()
            .await?;
    }

    for (i, name) in ALARMS.iter().enumerate() {
        let event = envelope(
            &format!("bench-{i}-{}", now.timestamp()),
            "incident-loop.gameday",
            "CloudWatch Alarm State Change",
            alarm(name, "ALARM", now),
        );
        stack.invoke_ingest(&event).await?;
    }
    let incident = eventually("the bench incident", Duration::from_secs(60), || async {
        let found = stack
            .incidents_between(now - TimeDelta::minutes(1), now + TimeDelta::minutes(1))
            .await?;
        Ok(found
            .into_iter()
            .find(|i| i.services == ["checkout"] && i.engaged_at.is_some()))
    })
    .await?;

    println!(
        "evidence capture: 1 incident, {} alarms, {LOG_EVENTS} log events",
        ALARMS.len()
    );
    for run in 1..=RUNS {
        let started = Instant::now();
        let out = stack
            .lambda
            .invoke()
            .function_name(&stack.outputs["CaptureEvidenceFunctionName"])
            .payload(aws_sdk_lambda::primitives::Blob::new(
                json!({ "incident_id": incident.id, "moment": "closing" }).to_string(),
            ))
            .send()
            .await?;
        let wall = started.elapsed();
        let body: Value = serde_json::from_slice(out.payload().map(|b| b.as_ref()).unwrap_or(b"null"))?;
        anyhow::ensure!(out.function_error().is_none(), "capture failed: {body}");
        let manifest: Value = serde_json::from_str(&incidentctl(&[
            "evidence",
            "get",
            incident.id.as_str(),
            "--capture",
            body["capture"].as_str().unwrap_or_default(),
        ])?)?;
        let objects = manifest["objects"].as_array().cloned().unwrap_or_default();
        let bytes: u64 = objects.iter().map(|o| o["bytes"].as_u64().unwrap_or(0)).sum();
        let per_source: Vec<String> = objects
            .iter()
            .map(|o| {
                format!(
                    "{}={}B/{} items",
                    o["source"].as_str().unwrap_or("?"),
                    o["bytes"],
                    o["items"]
                )
            })
            .collect();
        println!(
            "run {run}: {:.2} s wall, {bytes} bytes in {} objects ({}); failed sources: {}",
            wall.as_secs_f64(),
            objects.len(),
            per_source.join(", "),
            manifest["errors"].as_array().map(|e| e.len()).unwrap_or(0)
        );
    }
    Ok(())
}
