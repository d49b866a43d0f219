//! Measures one evidence capture on the local stack: an incident with 3 alarms and 10,000 log
//! events, from invoking the capture step until its manifest is written. Prints wall time and
//! bytes; run by `scripts/bench-evidence`, which deploys the stack first.

use anyhow::Result;
use chrono::{TimeDelta, Utc};
use e2e::{alarm, envelope, eventually, incidentctl, seed_alarm, seed_error_logs, Stack};
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
    let now = Utc::now();

    for name in ALARMS {
        seed_alarm(&stack, name, 60, now).await?;
    }
    seed_error_logs(&stack, "/app/checkout", LOG_EVENTS, now, |i| {
        format!("ERROR request {i} failed: upstream timeout after 3000 ms (order {i})")
    })
    .await?;

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
