//! Never losing an incident, on the local stack: a lifecycle that ends while its incident is live
//! is brought back by the reconciler, recorded on the timeline, and the operators are told; a long
//! run continues in a fresh one; DynamoDB throttling and server errors, and a StartExecution that
//! fails for a while (injected by `fault_proxy.py`), lose no incident.

use anyhow::Result;
use chrono::{TimeDelta, Utc};
use e2e::*;
use incident_core::timeline::EntryKind;
use serde_json::{json, Value};

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn a_lifecycle_stopped_by_hand_is_brought_back_and_the_operators_are_told() -> Result<()> {
    let stack = setup().await?;
    let operators = stack.outputs["OperatorsTopicArn"].clone();
    let topic = operators.rsplit(':').next().unwrap_or_default().to_string();
    let pages = stack.capture_pages(&topic, "e2e-operators-pages").await?;
    let events = stack.capture_app_events("e2e-restart-events").await?;
    let incident = open_checkout_game_day(&stack, "restart-by-hand", era(80)).await?;
    let id = incident.id.clone();
    assert_eq!(stack.execution_status(id.as_str()).await?, "RUNNING");

    // Someone stops the execution by hand (the root key here, a console user on AWS).
    let machine = stack.outputs["StateMachineArn"].replacen(":stateMachine:", ":execution:", 1);
    stack
        .sfn
        .stop_execution()
        .execution_arn(format!("{machine}:{id}"))
        .cause("stopped by hand")
        .send()
        .await?;

    // The reconciler's scheduled pass (the test runs the same function with the schedule's input
    // now instead of waiting up to five minutes) starts a fresh run.
    let scan = stack
        .invoke("ReconcileFunctionName", &json!({ "action": "scan" }))
        .await?;
    assert!(scan["checked"].as_u64().unwrap_or_default() >= 1, "{scan}");
    let fresh = format!("{id}-r1");
    let status = eventually("the fresh run", WAIT, || async {
        Ok(stack.execution_status(&fresh).await.ok().filter(|s| s == "RUNNING"))
    })
    .await?;
    assert_eq!(status, "RUNNING");
    let stored = stack.store.incident(&id).await?;
    assert_eq!(stored.lifecycle_run, 1);
    let timeline = stack.store.timeline(&id).await?;
    let restarts: Vec<_> = timeline.iter().filter(|e| e.kind == EntryKind::Lifecycle).collect();
    assert_eq!(restarts.len(), 1, "said once: {restarts:?}");
    assert!(
        restarts[0].text.starts_with("lifecycle stopped while the incident was"),
        "{}",
        restarts[0].text
    );

    // The operators were told, and so was everyone who routes `Lifecycle Restarted`.
    let told = eventually("the operators' notice", WAIT, || async {
        let got = stack.drain(&pages).await?;
        Ok(got
            .into_iter()
            .find(|m| m["Message"].as_str().unwrap_or_default().contains(id.as_str())))
    })
    .await?;
    assert!(
        told["Subject"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Lifecycle restarted"),
        "{told}"
    );
    let announced = eventually("Lifecycle Restarted", WAIT, || async {
        let got = stack.drain(&events).await?;
        Ok(got
            .into_iter()
            .find(|e| e["detail-type"] == "Lifecycle Restarted" && e["detail"]["incident_id"] == id.as_str()))
    })
    .await?;
    assert_eq!(announced["detail"]["execution"], fresh.as_str());

    // A second pass finds the fresh run going and does nothing.
    let again = stack
        .invoke("ReconcileFunctionName", &json!({ "incident_id": id }))
        .await?;
    assert_eq!(again["repaired"], json!([]), "{again}");
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn a_run_that_reached_its_span_continues_in_a_fresh_run() -> Result<()> {
    let stack = setup().await?;
    let incident = open_checkout_game_day(&stack, "continue-run", era(79)).await?;
    let id = incident.id.clone();
    // What the lifecycle's ContinueLifecycle step sends once the run is a week old (the week itself
    // is not waited here: the run's start time comes from Step Functions).
    let from = id.to_string();
    let out = stack
        .invoke(
            "ReconcileFunctionName",
            &json!({ "incident_id": id, "continue_from": from }),
        )
        .await?;
    assert_eq!(out["repaired"][0]["restarted"], json!(false), "{out}");
    let next = format!("{id}-r1");
    eventually("the next run", WAIT, || async {
        Ok(stack.execution_status(&next).await.ok().filter(|s| s == "RUNNING"))
    })
    .await?;
    let stored = stack.store.incident(&id).await?;
    assert_eq!((stored.lifecycle_run, stored.lifecycle_restarts), (1, 0));
    let said = stack.store.timeline(&id).await?;
    assert!(
        said.iter()
            .any(|e| e.kind == EntryKind::Lifecycle && e.text.starts_with(&format!("lifecycle continued as {next}"))),
        "{said:#?}"
    );
    // A retried step continues nothing twice.
    let again = stack
        .invoke(
            "ReconcileFunctionName",
            &json!({ "incident_id": id, "continue_from": id.to_string() }),
        )
        .await?;
    assert_eq!(again["repaired"], json!([]), "{again}");
    assert_eq!(stack.store.incident(&id).await?.lifecycle_run, 1);
    Ok(())
}

/// The fault proxy (`tests/fault_proxy.py`) for one test: stopped when dropped.
struct FaultProxy {
    child: std::process::Child,
    port: u16,
}

impl FaultProxy {
    fn start() -> Result<Self> {
        use std::io::BufRead;
        let target = std::env::var("AWS_ENDPOINT_URL")?;
        let script = format!("{}/fault_proxy.py", env!("CARGO_MANIFEST_DIR"));
        let mut child = std::process::Command::new("python3")
            .args([script.as_str(), "--target", target.as_str()])
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        Ok(Self {
            port: line.trim().parse()?,
            child,
        })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One control call (`POST /_faults` or `GET /_counts`), its JSON answer.
    fn control(&self, method: &str, path: &str, body: &Value) -> Result<Value> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port))?;
        let body = body.to_string();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: proxy\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        let json = answer.split("\r\n\r\n").nth(1).unwrap_or("null");
        Ok(serde_json::from_str(json)?)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The deployed functions whose names contain one of `logical_ids`.
async fn functions(stack: &Stack, logical_ids: &[&str]) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut pages = stack.lambda.list_functions().into_paginator().send();
    while let Some(page) = pages.next().await {
        for f in page?.functions() {
            let name = f.function_name().unwrap_or_default();
            if name.starts_with("incident-loop-") && logical_ids.iter().any(|l| name.contains(l)) {
                names.push(name.to_string());
            }
        }
    }
    Ok(names)
}

/// Sets (or, with `None`, removes) one environment variable of each function, keeping the others.
async fn route(stack: &Stack, functions: &[String], variable: &str, value: Option<&str>) -> Result<()> {
    use aws_sdk_lambda::types::Environment;
    for name in functions {
        let config = stack
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await?;
        let mut vars = config
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        match value {
            Some(v) => vars.insert(variable.to_string(), v.to_string()),
            None => vars.remove(variable),
        };
        let environment = Environment::builder().set_variables(Some(vars)).build();
        stack
            .lambda
            .update_function_configuration()
            .function_name(name)
            .environment(environment)
            .send()
            .await?;
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn throttling_server_errors_and_a_start_that_fails_for_a_while_lose_no_incident() -> Result<()> {
    let stack = setup().await?;
    let proxy = FaultProxy::start()?;
    // The lifecycle's functions reach DynamoDB, and ingest reaches Step Functions, through the proxy.
    let lifecycle = [
        "TriageFunction",
        "EngageFunction",
        "UpdatesFunction",
        "CloseFunction",
        "MitigateFunction",
        "CaptureEvidenceFunction",
        "ReconcileFunction",
    ];
    let through_proxy = functions(&stack, &lifecycle).await?;
    assert_eq!(through_proxy.len(), lifecycle.len(), "{through_proxy:?}");
    let ingest = vec![stack.outputs["IngestFunctionName"].clone()];
    route(&stack, &through_proxy, "AWS_ENDPOINT_URL_DYNAMODB", Some(&proxy.url())).await?;
    route(&stack, &ingest, "AWS_ENDPOINT_URL_SFN", Some(&proxy.url())).await?;
    let outcome = incidents_survive_faults(&stack, &proxy).await;
    // Whatever happened, the functions talk to the emulator directly again for the other tests.
    route(&stack, &through_proxy, "AWS_ENDPOINT_URL_DYNAMODB", None).await?;
    route(&stack, &ingest, "AWS_ENDPOINT_URL_SFN", None).await?;
    outcome
}

async fn incidents_survive_faults(stack: &Stack, proxy: &FaultProxy) -> Result<()> {
    let outage = Utc::now() + TimeDelta::seconds(20);
    proxy.control(
        "POST",
        "/_faults",
        &json!({ "throttle": 0.15, "error": 0.05, "start_fails_until": outage.timestamp() }),
    )?;
    let base = era(81);
    let services = 6;
    for s in 0..services {
        let mut detail = alarm(&format!("faults-s{s}-5xx"), "ALARM", base + TimeDelta::minutes(30 * s));
        detail["alarmTags"] = json!({ "service": format!("faults-s{s}") });
        stack.put(GAMEDAY, ALARM, &detail).await?;
    }
    // While StartExecution fails, ingest records each incident and its start fails; once it works
    // again, the reconciler's pass (as its schedule would run it) starts what did not start.
    while Utc::now() < outage {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let limit = std::time::Duration::from_secs(240);
    let found = eventually("every incident engaged, its lifecycle running", limit, || async {
        // A pass can fail under the injected faults: the next one (the schedule's) tries again.
        let _ = stack
            .invoke("ReconcileFunctionName", &json!({ "action": "scan" }))
            .await;
        let found = stack
            .incidents_between(base - TimeDelta::hours(1), base + TimeDelta::hours(4))
            .await?;
        if found.len() != services as usize || found.iter().any(|i| i.engaged_at.is_none()) {
            return Ok(None);
        }
        for i in &found {
            let run = incident_core::reconcile::run_name(&i.id, i.lifecycle_run);
            if stack.execution_status(&run).await.ok().as_deref() != Some("RUNNING") {
                return Ok(None);
            }
        }
        Ok(Some(found))
    })
    .await?;
    assert_eq!(found.len(), services as usize, "one incident per service, none twice");
    let counts = proxy.control("GET", "/_counts", &Value::Null)?;
    let failed = |prefix: &str| -> u64 {
        counts
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.as_u64().unwrap_or_default())
            .sum()
    };
    assert!(
        failed("failed DynamoDB_20120810.") > 0,
        "DynamoDB faults were injected: {counts}"
    );
    assert!(
        failed("failed AWSStepFunctions.StartExecution") > 0,
        "StartExecution failed for a while: {counts}"
    );
    println!("faults injected and survived: {counts}");
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn a_function_that_crashes_mid_step_is_retried_and_its_step_lands_once() -> Result<()> {
    let stack = setup().await?;
    let proxy = FaultProxy::start()?;
    let engage = functions(&stack, &["EngageFunction"]).await?;
    assert_eq!(engage.len(), 1, "{engage:?}");
    let timeout = stack
        .lambda
        .get_function_configuration()
        .function_name(&engage[0])
        .send()
        .await?
        .timeout()
        .unwrap_or(30);
    // Engage's write is held past the function's timeout: the function dies mid-step (after
    // paging), its write lands afterwards, and Step Functions retries the step.
    proxy.control(
        "POST",
        "/_faults",
        &json!({ "delay": { "target": "DynamoDB_20120810.TransactWriteItems", "seconds": 3, "count": 1 } }),
    )?;
    route(&stack, &engage, "AWS_ENDPOINT_URL_DYNAMODB", Some(&proxy.url())).await?;
    stack
        .lambda
        .update_function_configuration()
        .function_name(&engage[0])
        .timeout(2)
        .send()
        .await?;
    let outcome = crashed_step_lands_once(&stack, &proxy).await;
    stack
        .lambda
        .update_function_configuration()
        .function_name(&engage[0])
        .timeout(timeout)
        .send()
        .await?;
    route(&stack, &engage, "AWS_ENDPOINT_URL_DYNAMODB", None).await?;
    outcome
}

async fn crashed_step_lands_once(stack: &Stack, proxy: &FaultProxy) -> Result<()> {
    let events = stack.capture_app_events("e2e-crash-events").await?;
    let base = era(82);
    let mut detail = alarm("crash-s0-5xx", "ALARM", base);
    detail["alarmTags"] = json!({ "service": "crash-s0" });
    stack.put(GAMEDAY, ALARM, &detail).await?;
    let limit = std::time::Duration::from_secs(120);
    let incident = eventually("the incident engaged after the crash", limit, || async {
        let found = stack
            .incidents_between(base - TimeDelta::hours(1), base + TimeDelta::hours(1))
            .await?;
        Ok(found
            .into_iter()
            .find(|i| i.engaged_at.is_some() && i.engagement_announced))
    })
    .await?;
    let counts = proxy.control("GET", "/_counts", &Value::Null)?;
    assert_eq!(
        counts["held DynamoDB_20120810.TransactWriteItems"],
        json!(1),
        "the write was held past the timeout: {counts}"
    );

    let timeline = stack.store.timeline(&incident.id).await?;
    let engaged: Vec<_> = timeline.iter().filter(|e| e.kind == EntryKind::Engaged).collect();
    let teams = incident.engaged_teams.len();
    assert_eq!(engaged.len(), teams, "each team's engagement said once: {engaged:#?}");
    let announced = eventually("Incident Engaged", WAIT, || async {
        let got = stack.drain(&events).await?;
        Ok(got
            .into_iter()
            .find(|e| e["detail-type"] == "Incident Engaged" && e["detail"]["incident_id"] == incident.id.as_str()))
    })
    .await?;
    assert_eq!(announced["detail"]["status"], "engaged");
    let run = incident_core::reconcile::run_name(&incident.id, incident.lifecycle_run);
    assert_eq!(stack.execution_status(&run).await?, "RUNNING", "the lifecycle goes on");
    // The step did crash: its first attempt failed as a crash, and was retried.
    let machine = stack.outputs["StateMachineArn"].replacen(":stateMachine:", ":execution:", 1);
    let history = stack
        .sfn
        .get_execution_history()
        .execution_arn(format!("{machine}:{run}"))
        .max_results(1000)
        .send()
        .await?;
    let crashes = ["Sandbox.Timedout", "Runtime.ExitError", "Lambda.Unknown"];
    let crashed = history.events().iter().any(|e| {
        e.task_failed_event_details()
            .and_then(|d| d.error())
            .or_else(|| e.lambda_function_failed_event_details().and_then(|d| d.error()))
            .is_some_and(|error| crashes.contains(&error))
    });
    assert!(crashed, "a crashed attempt of engage in the history");
    Ok(())
}
