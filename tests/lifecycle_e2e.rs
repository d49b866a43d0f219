//! Never losing an incident, on the local stack: a lifecycle that ends while its incident is live
//! is brought back by the reconciler, recorded on the timeline, and the operators are told.

use anyhow::Result;
use e2e::*;
use incident_core::timeline::EntryKind;
use serde_json::json;

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
