//! The loop end to end: the real template deployed to the local stack, real binaries, real state
//! machine. Run by `scripts/test`, which deploys the stack and sets INCIDENT_LOOP_E2E=1.
//!
//! Each test places its signals in its own era (days apart, far beyond the correlation window) so
//! that tests sharing one stack cannot correlate with each other.

use anyhow::Result;
use chrono::{DateTime, TimeDelta, Utc};
use e2e::*;
use incident_core::incident::{Incident, Scope, Status};
use incident_core::timeline::EntryKind;
use incident_core::IncidentId;
use serde_json::{json, Value};

fn by_service<'a>(incidents: &'a [Incident], service: &str) -> &'a Incident {
    incidents
        .iter()
        .find(|i| i.scope == Scope::SingleService && i.services == [service])
        .unwrap_or_else(|| panic!("no incident for {service} in {incidents:#?}"))
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn a_burst_with_duplicates_flaps_and_a_storm_yields_exactly_the_expected_incidents() -> Result<()> {
    let stack = setup().await?;
    let events = stack.capture_app_events("e2e-burst-events").await?;
    let pages = stack
        .capture_pages("incident-loop-payments", "e2e-burst-payments")
        .await?;
    let base = era(1);

    // checkout: ALARM, OK, ALARM (a flap), INSUFFICIENT_DATA, every one delivered twice.
    let flap = [
        ("burst-a1", "ALARM", 0),
        ("burst-o1", "OK", 30),
        ("burst-a2", "ALARM", 60),
        ("burst-i1", "INSUFFICIENT_DATA", 90),
    ];
    for _ in 0..2 {
        for (id, state, secs) in flap {
            let at = base + TimeDelta::seconds(secs);
            stack
                .invoke_ingest(&envelope(id, GAMEDAY, ALARM, alarm("checkout-api-5xx", state, at)))
                .await?;
        }
    }
    // Three hours later, four services alarm together, through EventBridge; each is redelivered once.
    let storm_at = base + TimeDelta::hours(3);
    for name in [
        "orders-error-rate",
        "search-latency-p99",
        "auth-login-errors",
        "dns-resolution-failures",
    ] {
        let mut detail = alarm(name, "ALARM", storm_at);
        if name.starts_with("search") {
            detail["alarmTags"] = json!({ "app": "search-web" });
        }
        let id = stack.put(GAMEDAY, ALARM, &detail).await?;
        stack.invoke_ingest(&envelope(&id, GAMEDAY, ALARM, detail)).await?;
    }

    let incidents = settled(&stack, base, 6).await?;
    assert_eq!(
        incidents.len(),
        6,
        "checkout, four storm incidents and one multi-service event: {incidents:#?}"
    );

    let checkout = by_service(&incidents, "checkout");
    assert_eq!(checkout.severity.map(|s| s.to_string()).as_deref(), Some("SEV2"));
    assert_eq!(checkout.owner.as_deref(), Some("payments"));
    assert_eq!(checkout.engaged_teams, ["payments", "customer-support"]);
    assert!(checkout.exercise && checkout.parent.is_none());
    assert!(checkout.commander.is_some(), "SEV2 gets a commander");

    let multi = incidents
        .iter()
        .find(|i| i.scope == Scope::MultiService)
        .expect("a multi-service event");
    assert_eq!(multi.severity.map(|s| s.to_string()).as_deref(), Some("SEV1"));
    assert_eq!(multi.owner.as_deref(), Some("incident-response"));
    assert_eq!(
        multi.engaged_teams,
        ["incident-response", "customer-support", "identity", "network"]
    );
    assert!(["hana", "ivo", "jules"].contains(&multi.commander.as_deref().unwrap_or("")));
    let mut services = multi.services.clone();
    services.sort();
    assert_eq!(services, ["auth", "dns", "orders", "search"]);
    assert_eq!(multi.members.len(), 4);
    for service in ["orders", "search", "auth", "dns"] {
        let member = by_service(&incidents, service);
        assert_eq!(
            member.parent.as_ref(),
            Some(&multi.id),
            "{service} is linked into the event"
        );
        assert!(multi.members.contains(&member.id));
    }
    assert_eq!(
        by_service(&incidents, "orders")
            .severity
            .map(|s| s.to_string())
            .as_deref(),
        Some("SEV3")
    );
    assert_eq!(by_service(&incidents, "orders").owner.as_deref(), Some("fulfilment"));

    // The checkout timeline: one opening, one joined signal, one recovery; duplicates wrote nothing.
    let timeline = stack.store.timeline(&checkout.id).await?;
    let count = |kind| timeline.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count(EntryKind::Opened), 1);
    assert_eq!(count(EntryKind::Signal), 1, "{timeline:#?}");
    assert_eq!(count(EntryKind::Recovery), 1);
    assert_eq!(count(EntryKind::Triaged), 2, "severity and commander");
    assert_eq!(count(EntryKind::Engaged), 2);
    let triaged = timeline.iter().find(|e| e.key == "triaged").unwrap();
    assert!(
        triaged.text.contains("customer-facing"),
        "severity reason on the timeline: {}",
        triaged.text
    );

    // One lifecycle per incident, running.
    for i in &incidents {
        assert_eq!(stack.execution_status(i.id.as_str()).await?, "RUNNING", "{}", i.id);
    }

    // Every incident was announced as opened and engaged on the app's bus.
    let announced = eventually("Incident Engaged events", WAIT, || async {
        let got = stack.drain(&events).await?;
        Ok(Some(got))
    })
    .await?;
    for i in &incidents {
        for kind in ["Incident Opened", "Incident Engaged"] {
            assert!(
                announced
                    .iter()
                    .any(|e| e["detail-type"] == kind && e["detail"]["incident_id"] == i.id.as_str()),
                "{kind} for {}",
                i.id
            );
        }
    }
    // The owner team was paged through its SNS topic.
    let paged = stack.drain(&pages).await?;
    assert!(
        paged
            .iter()
            .any(|m| m["Message"].as_str().unwrap_or_default().contains(checkout.id.as_str())),
        "payments paged for {}: {paged:#?}",
        checkout.id
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn every_documented_alarm_variant_opens_or_joins_the_right_incident() -> Result<()> {
    let stack = setup().await?;
    let cases = [
        ("cloudwatch/single-metric-alarm.json", "checkout"),
        ("cloudwatch/single-metric-alarm-tagged.json", "checkout"),
        ("cloudwatch/metric-math-alarm.json", "orders"),
        ("cloudwatch/anomaly-detection-alarm.json", "search"),
        ("cloudwatch/composite-alarm.json", "unmapped/payments-composite"),
        ("synthetics/canary-failure.json", "checkout"),
        ("cloudwatch/contributor-alarm.json", "checkout"),
    ];
    for (n, (file, service)) in cases.iter().enumerate() {
        let base = era(10 + n as i64);
        let mut event = fixture(file);
        move_to(&mut event, base);
        let id = stack
            .put(GAMEDAY, event["detail-type"].as_str().unwrap(), &event["detail"])
            .await?;
        let found = settled(&stack, base, 1).await?;
        assert_eq!(found.len(), 1, "{file}");
        assert_eq!(found[0].services, [*service], "{file}");
        assert_eq!(found[0].service_known, !service.starts_with("unmapped/"), "{file}");
        assert!(found[0].exercise, "{file}");

        if n == 0 {
            // The same alarm: back to OK records a recovery; INSUFFICIENT_DATA opens nothing.
            for (fixture_file, kind) in [
                ("cloudwatch/single-metric-ok.json", EntryKind::Recovery),
                ("cloudwatch/insufficient-data.json", EntryKind::Ignored),
            ] {
                let mut e = fixture(fixture_file);
                move_to(&mut e, base + TimeDelta::minutes(2));
                stack.put(GAMEDAY, ALARM, &e["detail"]).await?;
                if kind == EntryKind::Recovery {
                    eventually("recovery on the timeline", WAIT, || async {
                        let t = stack.store.timeline(&found[0].id).await?;
                        Ok(t.iter().any(|e| e.kind == EntryKind::Recovery).then_some(()))
                    })
                    .await?;
                }
            }
            let again = stack
                .incidents_between(base - TimeDelta::hours(1), base + TimeDelta::hours(20))
                .await?;
            assert_eq!(again.len(), 1, "OK and INSUFFICIENT_DATA open no incident");
            let redelivered = envelope(&id, GAMEDAY, ALARM, event["detail"].clone());
            let result = stack.invoke_ingest(&redelivered).await?;
            assert_eq!(result["outcome"]["outcome"], "duplicate", "{result}");
        }
    }
    Ok(())
}

/// Moves a fixture's own timestamps to `at`.
fn move_to(event: &mut Value, at: DateTime<Utc>) {
    let stamp = at.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string();
    if event["detail"]["state"].is_object() {
        event["detail"]["state"]["timestamp"] = json!(stamp);
    }
    if event["detail"]["canary-run-timeline"].is_object() {
        event["detail"]["canary-run-timeline"]["completed"] = json!(at.timestamp());
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn a_malformed_event_lands_in_the_dlq_with_its_reason_and_nothing_valid_is_lost() -> Result<()> {
    let stack = setup().await?;
    let dlq = stack.outputs["IngestDeadLetterQueueUrl"].clone();
    stack.drain(&dlq).await?;
    let base = era(30);

    let missing = stack.invoke_ingest(&fixture("malformed/missing-detail.json")).await?;
    assert_eq!(missing["result"], "rejected", "{missing}");
    let mut bad = fixture("malformed/bad-state.json");
    move_to(&mut bad, base);
    stack.put(GAMEDAY, ALARM, &bad["detail"]).await?;
    stack
        .invoke_ingest(&fixture("malformed/unknown-detail-type.json"))
        .await?;
    stack
        .put(GAMEDAY, ALARM, &alarm("checkout-api-5xx", "ALARM", base))
        .await?;

    let rejected = eventually("three rejected events on the DLQ", WAIT, || {
        let stack = &stack;
        let dlq = dlq.clone();
        async move {
            let got = stack.drain(&dlq).await?;
            Ok((!got.is_empty()).then_some(got))
        }
    })
    .await?;
    let mut all = rejected;
    all.extend(stack.drain(&dlq).await?);
    let reasons: Vec<&str> = all.iter().filter_map(|m| m["reason"].as_str()).collect();
    assert!(all.iter().all(|m| m["error_type"] == "InvalidInput"), "{all:#?}");
    assert!(
        reasons.iter().any(|r| r.contains("detail")),
        "missing detail: {reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("BROKEN")), "bad state: {reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("Configuration Change")),
        "unknown type: {reasons:?}"
    );
    assert!(all.iter().all(|m| m["event"].is_object()), "the whole event is kept");
    let found = settled(&stack, base, 1).await?;
    assert_eq!(
        found[0].services,
        ["checkout"],
        "the valid event still opened its incident"
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn concurrent_redelivery_of_one_event_never_creates_a_second_incident() -> Result<()> {
    let stack = setup().await?;
    let base = era(40);
    let event = envelope(
        "redelivered-1",
        GAMEDAY,
        ALARM,
        alarm("reporting-batch-failures", "ALARM", base),
    );
    let results = join_all((0..6).map(|_| stack.invoke_ingest(&event)).collect()).await;
    let outcomes: Vec<String> = results
        .into_iter()
        .map(|r| r.map(|v| v["outcome"]["outcome"].to_string()))
        .collect::<Result<_>>()?;
    assert_eq!(
        outcomes.iter().filter(|o| o.contains("placed")).count(),
        1,
        "{outcomes:?}"
    );
    let found = settled(&stack, base, 1).await?;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].services, ["reporting"]);
    Ok(())
}

/// Polls all futures together, so the invocations are in flight at once.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().map(|r| r.expect("ready")).collect()
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn a_customer_report_escalates_until_acknowledged_and_resolution_completes_the_lifecycle() -> Result<()> {
    let stack = setup().await?;
    let events = stack.capture_app_events("e2e-lifecycle-events").await?;
    let report_id = format!("e2e-{}", Utc::now().timestamp_millis());
    let args = [
        "report",
        "--service",
        "checkout",
        "--summary",
        "customers cannot pay",
        "--report-id",
        &report_id,
    ];
    incidentctl(&args)?;
    incidentctl(&args)?; // resubmitted: the same report, not a second incident
    let incident = eventually("the customer-detected incident", WAIT, || async {
        let today = Utc::now().format("%Y-%m-%d").to_string();
        let all = stack.store.list(&[today], false).await?;
        let mine: Vec<Incident> = all
            .into_iter()
            .filter(|i| i.first_signal.contains(&report_id) && i.engaged_at.is_some())
            .collect();
        Ok((!mine.is_empty()).then_some(mine))
    })
    .await?;
    assert_eq!(incident.len(), 1, "a resubmitted report is the same signal");
    let incident = &incident[0];
    assert!(incident.customer_detected);
    assert_eq!(incident.severity.map(|s| s.to_string()).as_deref(), Some("SEV1"));
    let id = incident.id.to_string();

    // Nobody acknowledges: the lifecycle escalates (SFN_WAIT_SCALE shortens the wait).
    eventually("an escalation", WAIT, || async {
        let i = stack.store.incident(&IncidentId::parse(&id)?).await?;
        Ok((i.escalations >= 1).then_some(()))
    })
    .await?;

    let acked = incidentctl(&["ack", &id])?;
    assert!(acked.contains("acknowledged by"), "{acked}");
    let second = incidentctl(&["ack", &id]).unwrap_err().to_string();
    assert!(second.contains("already acknowledged"), "{second}");
    incidentctl(&[
        "note",
        &id,
        "rolled back the 03:10 deploy",
        "--link",
        "https://example.com/deploy/42",
    ])?;
    assert!(incidentctl(&["note", &id, "x", "--link", "javascript:alert(1)"]).is_err());
    assert!(incidentctl(&["show", "inc-0000"])
        .unwrap_err()
        .to_string()
        .contains("not an incident id"));

    // Nothing on the closing checklist is done: resolution is refused, saying what is missing.
    let refused = incidentctl(&["resolve", &id]).unwrap_err().to_string();
    for missing in [
        "final evidence capture has not run",
        "customers are not confirmed recovered",
        "no next steps",
        "--force --reason",
    ] {
        assert!(refused.contains(missing), "{missing}: {refused}");
    }
    assert!(
        incidentctl(&["resolve", &id, "--force"]).is_err(),
        "an override needs a reason"
    );
    // The final capture can be run by hand (here, before the lifecycle would): it then counts.
    let captured = incidentctl(&["evidence", "capture", &id])?;
    assert!(captured.contains("-closing"), "{captured}");
    let checklist = incidentctl(&["checklist", &id])?;
    assert!(checklist.contains("[x] final evidence captured at"), "{checklist}");
    // The commander overrides; resolving ends the pending mitigation approval too, then completes
    // the lifecycle.
    incidentctl(&[
        "resolve",
        &id,
        "--summary",
        "deploy rolled back",
        "--force",
        "--reason",
        "exercise ends here",
    ])?;
    lifecycle_succeeded(&stack, &id).await?;

    let i = stack.store.incident(&IncidentId::parse(&id)?).await?;
    assert_eq!(i.status, Status::Resolved);
    assert!(i.acknowledged_by.is_some() && i.resolved_by.is_some());
    let o = i.resolution_override.expect("the override is recorded");
    assert_eq!(
        (o.reason.text.as_str(), o.reason.by.as_str()),
        ("exercise ends here", "root")
    );
    assert!(
        i.final_capture_at.is_some(),
        "the final capture still runs after a forced resolution"
    );
    let timeline = incidentctl(&["timeline", &id, "--output", "json"])?;
    let entries: Vec<Value> = serde_json::from_str(&timeline)?;
    for kind in [
        "opened",
        "triaged",
        "engaged",
        "escalated",
        "acknowledged",
        "note",
        "resolved",
    ] {
        assert!(
            entries.iter().any(|e| e["kind"] == kind),
            "{kind} on the timeline: {timeline}"
        );
    }
    let note = entries.iter().find(|e| e["kind"] == "note").unwrap();
    assert_eq!(note["links"][0], "https://example.com/deploy/42");
    let announced = stack.drain(&events).await?;
    for kind in ["Incident Escalated", "Incident Acknowledged", "Incident Resolved"] {
        assert!(
            announced
                .iter()
                .any(|e| e["detail-type"] == kind && e["detail"]["incident_id"] == id.as_str()),
            "{kind}"
        );
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn evidence_is_captured_beside_engagement_verifiable_and_locked() -> Result<()> {
    let stack = setup().await?;
    let s3 = aws_sdk_s3::Client::new(&stack.config);
    let now = Utc::now();
    let name = "orders-evidence-errors";

    // The system as it was when the incident opened: a metric, its alarm, error logs.
    seed_alarm(&stack, name, 30, now).await?;
    seed_error_logs(&stack, "/app/orders", 200, now, |i| {
        format!("ERROR payment declined for order {i}")
    })
    .await?;

    stack.put(GAMEDAY, ALARM, &alarm(name, "ALARM", now)).await?;
    let incident = eventually("the orders incident", WAIT, || async {
        let found = stack
            .incidents_between(now - TimeDelta::minutes(5), now + TimeDelta::minutes(5))
            .await?;
        Ok(found.into_iter().find(|i| i.services == ["orders"]))
    })
    .await?;
    let id = incident.id.to_string();
    let entry = eventually("the evidence entry on the timeline", WAIT, || async {
        let t = stack.store.timeline(&incident.id).await?;
        Ok(t.into_iter().find(|e| e.kind == EntryKind::Evidence))
    })
    .await?;
    assert!(entry.links[0].starts_with("s3://"), "{:?}", entry.links);
    assert!(entry.text.contains("logs-insights"), "{}", entry.text);

    let listed: Vec<Value> = serde_json::from_str(&incidentctl(&["evidence", "list", &id, "--output", "json"])?)?;
    let manifest = &listed[0];
    let objects = manifest["objects"].as_array().unwrap();
    let items = |source: &str| {
        objects
            .iter()
            .find(|o| o["source"] == source)
            .map(|o| o["items"].as_u64().unwrap_or(0))
    };
    assert!(items("alarm-history") >= Some(1), "{manifest:#}");
    assert!(items("metric-data") >= Some(1), "{manifest:#}");
    assert!(items("logs-insights") >= Some(100), "{manifest:#}");
    assert!(items("changes").is_some(), "{manifest:#}");
    assert_eq!(manifest["errors"], json!([]), "{manifest:#}");
    let logs_object: Value =
        serde_json::from_str(&incidentctl(&["evidence", "get", &id, "--source", "logs-insights"])?)?;
    assert!(logs_object["items"][0]["row"]["@message"]
        .as_str()
        .unwrap_or_default()
        .contains("ERROR payment declined"));

    let verified = incidentctl(&["evidence", "verify", &id])?;
    assert!(
        verified.contains("intact") && !verified.contains("CHANGED"),
        "{verified}"
    );

    // Overwriting an object makes a new version: verify notices; the captured version stays locked.
    let bucket = &stack.outputs["EvidenceBucketName"];
    let key = objects.iter().find(|o| o["source"] == "logs-insights").unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"{\"tampered\": true}"))
        .send()
        .await?;
    let err = incidentctl(&["evidence", "verify", &id]).unwrap_err().to_string();
    assert!(err.contains("changed or missing"), "{err}");
    let versions = s3.list_object_versions().bucket(bucket).prefix(&key).send().await?;
    let original = versions
        .versions()
        .iter()
        .filter(|v| v.is_latest() == Some(false))
        .find_map(|v| v.version_id())
        .unwrap();
    let refused = s3
        .delete_object()
        .bucket(bucket)
        .key(&key)
        .version_id(original)
        .send()
        .await;
    let refusal = format!("{:?}", refused.expect_err("Object Lock keeps the captured version"));
    assert!(refusal.contains("AccessDenied"), "{refusal}");
    Ok(())
}

/// The example catalog with `root` (the local stack's only caller identity) among checkout's
/// approvers.
fn import_catalog_with_root_approver() -> Result<()> {
    let example = std::fs::read_to_string(format!("{}/../catalog.example.yaml", env!("CARGO_MANIFEST_DIR")))?;
    let with_root = example
        .replace("approvers: [ana, bilal]", "approvers: [ana, bilal, root]")
        .replace("approvers: [emeka]", "approvers: [emeka, root]");
    assert_eq!(with_root.matches(", root]").count(), 2);
    let path = std::env::temp_dir().join(format!("catalog-root-{}.yaml", std::process::id()));
    std::fs::write(&path, with_root)?;
    incidentctl(&["catalog", "import", path.to_str().unwrap()])?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn an_approved_runbook_runs_once_through_ssm_and_recovery_makes_the_incident_mitigated() -> Result<()> {
    let stack = setup().await?;
    let events = stack.capture_app_events("e2e-mitigation-events").await?;
    let base = era(50);
    let incident = open_checkout_game_day(&stack, "mit-a1", base).await?;
    let id = incident.id.to_string();
    let approval = pending_offer(&stack, &incident.id, 0).await?;
    assert_eq!(
        approval.candidates[0].runbook, "IncidentLoop-ScaleUpEcsService",
        "nothing correlates: generic list"
    );

    // root is not among checkout's approvers in the example catalog.
    let refused = incidentctl(&["approve", &id, "--param", "DesiredCount=4"])
        .unwrap_err()
        .to_string();
    assert!(refused.contains("root is not an approver for checkout"), "{refused}");

    import_catalog_with_root_approver()?;
    let approved = incidentctl(&["approve", &id, "--param", "DesiredCount=4", "--reason", "buy time"])?;
    assert!(
        approved.contains("approved candidate 0 (IncidentLoop-ScaleUpEcsService) as root"),
        "{approved}"
    );
    let again = incidentctl(&["approve", &id, "--param", "DesiredCount=4"])
        .unwrap_err()
        .to_string();
    assert!(
        again.contains("already approved by root at "),
        "a decision is single-use: {again}"
    );

    let start = eventually("the runbook started through SSM", WAIT, || async {
        Ok(ssm_calls()?.into_iter().find(|c| {
            c["operation"] == "StartAutomationExecution"
                && c["input"]["DocumentName"] == "IncidentLoop-ScaleUpEcsService"
                && c["input"]["Parameters"]["DesiredCount"][0] == "4"
        }))
    })
    .await?;
    let params = &start["input"]["Parameters"];
    assert_eq!(
        (params["Cluster"][0].as_str(), params["Service"][0].as_str()),
        (Some("shop"), Some("checkout-api"))
    );
    assert_eq!(
        params["AutomationAssumeRole"][0].as_str(),
        Some(stack.outputs["RunbookRoleArn"].as_str()),
        "the runbook runs as the stack's runbook role"
    );
    assert_eq!(start["input"]["ClientToken"].as_str().map(str::len), Some(36));
    // SSM says the execution ended: the lifecycle's runbook wait ends on that event.
    deliver_runbook_ended(&stack, &incident.id, "Success").await?;

    // The alarm returns to OK and stays: the incident is mitigated.
    let ok = alarm("checkout-api-5xx", "OK", base + TimeDelta::minutes(1));
    stack.invoke_ingest(&envelope("mit-o1", GAMEDAY, ALARM, ok)).await?;
    let mitigated = eventually("the incident mitigated", WAIT, || async {
        let i = stack.store.incident(&incident.id).await?;
        Ok((i.status == Status::Mitigated).then_some(i))
    })
    .await?;
    assert!(mitigated.time_to_mitigate_secs().is_some());
    assert!(
        !mitigated.open_checks.is_empty(),
        "risk-of-recurrence checks are open items"
    );
    let token = &start["input"]["ClientToken"];
    let starts = ssm_calls()?
        .into_iter()
        .filter(|c| c["operation"] == "StartAutomationExecution" && &c["input"]["ClientToken"] == token)
        .count();
    assert_eq!(starts, 1, "the runbook ran once");

    let announced = stack.drain(&events).await?;
    for kind in [
        "Approval Requested",
        "Runbook Started",
        "Runbook Finished",
        "Incident Mitigated",
    ] {
        let found = announced
            .iter()
            .any(|e| e["detail-type"] == kind && e["detail"]["incident_id"] == id.as_str());
        assert!(found, "{kind}");
    }
    let finished = announced
        .iter()
        .find(|e| e["detail-type"] == "Runbook Finished")
        .unwrap();
    assert_eq!(finished["detail"]["result"]["status"], "success");
    force_resolved(&stack, &id, "e2e: mitigation is what this test is about").await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn a_failed_runbook_or_a_rejection_moves_to_the_next_candidate_and_silence_escalates() -> Result<()> {
    let stack = setup().await?;
    import_catalog_with_root_approver()?;
    ssm_script(r#"{"IncidentLoop-ScaleUpEcsService": "Failed"}"#)?;
    let base = era(60);
    let incident = open_checkout_game_day(&stack, "mit-b1", base).await?;
    let id = incident.id.to_string();

    pending_offer(&stack, &incident.id, 0).await?;
    incidentctl(&["approve", &id, "--param", "DesiredCount=4"])?;
    deliver_runbook_ended(&stack, &incident.id, "Failed").await?;
    // The runbook fails: its failure path records it and the next candidate is proposed.
    let next = pending_offer(&stack, &incident.id, 1).await?;
    assert_eq!(next.candidates[1].runbook, "IncidentLoop-RestartWithIsolation");
    let timeline = stack.store.timeline(&incident.id).await?;
    assert!(
        timeline.iter().any(|e| e.text.contains("finished: failed")),
        "{timeline:#?}"
    );

    incidentctl(&["reject", &id, "--reason", "too risky now"])?;
    let last = pending_offer(&stack, &incident.id, 2).await?;
    assert!(last.candidates[2].requires_confirmation, "roll forward comes last");
    let refused = incidentctl(&["approve", &id, "--param", "TaskDefinition=checkout:42"])
        .unwrap_err()
        .to_string();
    assert!(refused.contains("--confirm-roll-forward"), "{refused}");

    // Nobody answers: the approval times out, incident response is paged, and it is asked again.
    eventually("an approval timeout escalation", WAIT, || async {
        let t = stack.store.timeline(&incident.id).await?;
        let escalated = t
            .iter()
            .any(|e| e.kind == EntryKind::Escalated && e.text.contains("no approval decision in time"));
        Ok(escalated.then_some(()))
    })
    .await?;
    let reasked = eventually("the approval asked again", WAIT, || async {
        Ok(pending(&stack, &incident.id).await?.filter(|a| a.id != last.id))
    })
    .await?;
    assert_eq!(reasked.offered, 2);

    // No task token ever reaches a log line.
    let tokens = stored_tokens(&stack).await?;
    assert!(!tokens.is_empty(), "tokens are kept server-side while waiting");
    let log = std::fs::read_to_string(std::env::var("E2E_EMULATOR_LOG")?)?;
    for token in &tokens {
        assert!(!log.contains(token.as_str()), "a task token appeared in the logs");
    }
    ssm_script(r#"{"IncidentLoop-ScaleUpEcsService": "Success"}"#)?;
    force_resolved(&stack, &id, "e2e: approvals are what this test is about").await?;
    Ok(())
}

/// Every task token the decisions table holds right now.
async fn stored_tokens(stack: &Stack) -> Result<Vec<String>> {
    let client = aws_sdk_dynamodb::Client::new(&stack.config);
    let out = client
        .scan()
        .table_name(&stack.outputs["DecisionsTableName"])
        .filter_expression("begins_with(sk, :t)")
        .expression_attribute_values(":t", aws_sdk_dynamodb::types::AttributeValue::S("TOKEN#".into()))
        .send()
        .await?;
    Ok(out
        .items()
        .iter()
        .filter_map(|i| i.get("token").and_then(|v| v.as_s().ok()).cloned())
        .collect())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn the_postmortem_tree_and_action_items_are_kept_and_coe_check_lists_the_gaps() -> Result<()> {
    let stack = setup().await?;
    let events = stack.capture_app_events("e2e-postmortem-events").await?;
    let base = era(70);
    let id = open_checkout_game_day(&stack, "coe-a1", base).await?.id.to_string();

    let w1 = incidentctl(&["why", &id, "add", "because checkout returned 5xx", "--output", "json"])?;
    assert!(w1.contains("\"w1\""), "{w1}");
    incidentctl(&[
        "why",
        &id,
        "add",
        "--parent",
        "w1",
        "because the build could not reach the gateway",
    ])?;
    incidentctl(&[
        "why",
        &id,
        "add",
        "--parent",
        "w1",
        "because the canary missed the payment path",
    ])?;
    let tree = incidentctl(&["why", &id, "show"])?;
    assert!(
        tree.contains("  - **w1.2** because the canary missed the payment path"),
        "{tree}"
    );
    assert!(
        incidentctl(&["why", &id, "add", "--parent", "w7", "because"]).is_err(),
        "unknown parent"
    );

    let added = incidentctl(&[
        "action",
        "add",
        &id,
        "--term",
        "short",
        "--owner",
        "payments",
        "--why",
        "w1.1",
        "Pin the gateway key",
    ])?;
    let item = format!("{id}.a1");
    assert!(added.contains(&item), "{added}");

    let gaps = incidentctl(&["coe", "check", &id]).unwrap_err().to_string();
    assert!(gaps.contains("gap(s)"), "{gaps}");
    assert!(
        gaps.contains("why w1.2 ends in neither an action item nor an accepted risk"),
        "{gaps}"
    );
    assert!(gaps.contains("dependency auth: 4 of 4 questions unanswered"), "{gaps}");
    assert!(!gaps.contains("why w1.1 "), "w1.1 has its action: {gaps}");
    let draft = incidentctl(&["coe", "show", &id])?;
    assert!(
        draft.contains("## Five whys") && draft.contains("Pin the gateway key"),
        "{draft}"
    );

    let refused = incidentctl(&["action", "done", &item, "--validation", "ok"])
        .unwrap_err()
        .to_string();
    assert!(refused.contains("closed only with validation evidence"), "{refused}");
    incidentctl(&[
        "action",
        "done",
        &item,
        "--validation",
        "deploy 812 verified the key in all regions",
    ])?;
    let again = incidentctl(&["action", "done", &item, "--validation", "deploy 813 verified it again"])
        .unwrap_err()
        .to_string();
    assert!(again.contains("already closed"), "{again}");
    let list: Vec<Value> = serde_json::from_str(&incidentctl(&["action", "list", &id, "--output", "json"])?)?;
    assert_eq!(list[0]["done"]["by"], "root");

    close_carefully_then_learn(&stack, &events, &id).await
}

/// The rest of the game day: customers hear from us, the incident is mitigated, resolution waits
/// for the checklist, and resolving writes the COE to S3 with its OpsItems.
async fn close_carefully_then_learn(stack: &Stack, events: &str, id: &str) -> Result<()> {
    let iid = IncidentId::parse(id)?;
    // Customer updates: the generic draft was written on engagement; each update must say more.
    let entries: Vec<Value> = serde_json::from_str(&incidentctl(&["timeline", id, "--output", "json"])?)?;
    assert!(
        entries.iter().any(|e| e["kind"] == "customer_update"
            && e["text"].as_str().unwrap_or_default().contains("We are investigating")),
        "first update drafted on engagement"
    );
    incidentctl(&["update", id, "--draft"])?;
    let repeat = incidentctl(&["update", id, "--draft"]).unwrap_err().to_string();
    assert!(repeat.contains("says nothing new"), "{repeat}");
    incidentctl(&[
        "update",
        id,
        "Payments fail for some customers; we are adding capacity.",
    ])?;

    // Acknowledge, approve the runbook, and let the alarm recover: mitigated, then the final capture.
    incidentctl(&["ack", id])?;
    import_catalog_with_root_approver()?;
    pending_offer(stack, &iid, 0).await?;
    incidentctl(&["approve", id, "--param", "DesiredCount=4"])?;
    deliver_runbook_ended(stack, &iid, "Success").await?;
    let base = era(70);
    let ok = alarm("checkout-api-5xx", "OK", base + TimeDelta::minutes(1));
    stack.invoke_ingest(&envelope("coe-o1", GAMEDAY, ALARM, ok)).await?;
    let mitigated = eventually("mitigated and the final capture done", WAIT, || async {
        let i = stack.store.incident(&iid).await?;
        Ok((i.status == Status::Mitigated && i.final_capture_at.is_some()).then_some(i))
    })
    .await?;

    // Resolution is refused with exactly what is missing.
    incidentctl(&[
        "action",
        "add",
        id,
        "--term",
        "short",
        "--owner",
        "payments",
        "Alarm on gateway key expiry",
    ])?;
    let refused = incidentctl(&["resolve", id]).unwrap_err().to_string();
    assert!(refused.contains(&format!("short-term fix {id}.a2")), "{refused}");
    assert!(
        refused.contains("risk-of-recurrence question 1 unanswered"),
        "{refused}"
    );
    assert!(refused.contains("customers are not confirmed recovered"), "{refused}");
    assert!(!refused.contains("final evidence"), "the final capture ran: {refused}");
    assert_eq!(stack.store.incident(&iid).await?.status, Status::Mitigated);

    // Complete the checklist.
    for n in 1..=mitigated.open_checks.len() {
        incidentctl(&[
            "checklist",
            id,
            "answer",
            &n.to_string(),
            "checked with the pipeline owners: no",
        ])?;
    }
    assert!(incidentctl(&["checklist", id, "answer", "9", "out of range question"]).is_err());
    incidentctl(&[
        "checklist",
        id,
        "customers-recovered",
        "support sees no new cases for 30 minutes",
    ])?;
    incidentctl(&[
        "action",
        "done",
        &format!("{id}.a2"),
        "--validation",
        "alarm fired in the staging drill",
    ])?;
    let checklist = incidentctl(&["checklist", id])?;
    assert!(checklist.contains("ready: incidentctl resolve"), "{checklist}");
    incidentctl(&["resolve", id, "--summary", "capacity added; gateway key pinned"])?;
    lifecycle_succeeded(stack, id).await?;

    // The COE draft is in S3, with an OpsItem for it and one per action item.
    let resolved = stack.store.incident(&iid).await?;
    assert_eq!(resolved.resolution_override, None);
    let pm = resolved.postmortem.expect("the postmortem is recorded");
    let key = format!("postmortems/{id}/coe.md");
    assert_eq!(
        pm.document,
        format!("s3://{}/{key}", stack.outputs["PostmortemBucketName"])
    );
    let s3 = aws_sdk_s3::Client::new(&stack.config);
    let object = s3
        .get_object()
        .bucket(&stack.outputs["PostmortemBucketName"])
        .key(&key)
        .send()
        .await?;
    let coe = String::from_utf8(object.body.collect().await?.into_bytes().to_vec())?;
    for part in [
        "# COE:",
        "Game-day exercise",
        "## Detection self-critique",
        "Pin the gateway key",
        "Payments fail for some customers",
        "## Customer-facing RCA",
    ] {
        assert!(coe.contains(part), "{part} in the COE:\n{coe}");
    }
    let items = ssm_opsitems()?;
    let ticket = pm.ticket.expect("a ticket");
    let coe_item = &items[&ticket];
    assert_eq!(coe_item["OperationalData"]["incident-loop:incident_id"]["Value"], id);
    assert_eq!(coe_item["Source"], "incident-loop");
    let action_items: Vec<&Value> = items
        .as_object()
        .unwrap()
        .values()
        .filter(|i| {
            i["OperationalData"]["incident-loop:incident_id"]["Value"] == id && i["OpsItemId"] != ticket.as_str()
        })
        .collect();
    assert_eq!(action_items.len(), 2, "one OpsItem per action item");
    assert!(action_items
        .iter()
        .all(|i| i["RelatedOpsItems"][0]["OpsItemId"] == ticket.as_str()));
    assert!(
        action_items.iter().all(|i| i["Status"] == "Resolved"),
        "both items were validated"
    );
    let announced = stack.drain(events).await?;
    for kind in ["Customer Update", "Postmortem Created"] {
        assert!(
            announced
                .iter()
                .any(|e| e["detail-type"] == kind && e["detail"]["incident_id"] == id),
            "{kind}"
        );
    }

    // The COE is not complete yet: completing it is refused with the gaps.
    let incomplete = incidentctl(&["coe", "complete", id]).unwrap_err().to_string();
    assert!(incomplete.contains("impact summary"), "{incomplete}");
    // An action item added after the postmortem gets its ticket at once.
    incidentctl(&[
        "action",
        "add",
        id,
        "--term",
        "long",
        "--owner",
        "payments",
        "--why",
        "w1.2",
        "Canary the payment path",
    ])?;
    let with_third = ssm_opsitems()?;
    assert!(
        with_third
            .as_object()
            .unwrap()
            .values()
            .any(|i| i["OperationalData"]["incident-loop:action_item"]["Value"] == format!("{id}.a3").as_str()),
        "a ticket for the new action item"
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn the_weekly_review_is_scheduled_written_to_the_bucket_and_announced() -> Result<()> {
    let stack = setup().await?;
    let events = stack.capture_app_events("e2e-review-events").await?;
    // An incident detected this week (a game day), for the review to count as an exercise.
    let incident = open_checkout_game_day(&stack, "review-a1", era(95)).await?;

    // The weekly schedule is wired to the review function; `{}` reviews the last whole week.
    let rules = stack.events.list_rules().send().await?;
    let weekly = rules
        .rules()
        .iter()
        .find(|r| r.schedule_expression() == Some("cron(0 6 ? * MON *)"))
        .expect("a weekly rule");
    let targets = stack
        .events
        .list_targets_by_rule()
        .rule(weekly.name().unwrap_or_default())
        .send()
        .await?;
    let target = &targets.targets()[0];
    assert!(
        target.arn().contains(&stack.outputs["ReviewFunctionName"]),
        "{target:?}"
    );
    assert_eq!(target.input(), Some("{}"));

    // As the schedule would, for the week the incident was detected in.
    let week = incident_core::review::Week::of(incident.detected_at).to_string();
    let out = stack.invoke("ReviewFunctionName", &json!({ "week": week })).await?;
    let documents: Vec<&str> = out["documents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let bucket = &stack.outputs["PostmortemBucketName"];
    assert_eq!(
        documents,
        ["md", "html", "json"].map(|e| format!("s3://{bucket}/reviews/{week}/review.{e}"))
    );
    let s3 = aws_sdk_s3::Client::new(&stack.config);
    let html = s3
        .get_object()
        .bucket(bucket)
        .key(format!("reviews/{week}/review.html"))
        .send()
        .await?
        .body
        .collect()
        .await?
        .into_bytes();
    let html = String::from_utf8(html.to_vec())?;
    assert!(
        html.starts_with("<!doctype html>") && html.contains(incident.id.as_str()),
        "{html}"
    );

    let ready = eventually("Review Ready", WAIT, || async {
        let drained = stack.drain(&events).await?;
        Ok(drained
            .into_iter()
            .find(|e| e["detail-type"] == "Review Ready" && e["detail"]["week"] == week.as_str()))
    })
    .await?;
    assert_eq!(ready["detail"]["html"], documents[1]);
    assert!(ready["detail"]["exercises"].as_u64().unwrap_or(0) >= 1, "{ready}");
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn overdue_action_items_are_announced_once_a_day_by_the_scheduled_scan() -> Result<()> {
    use incident_core::actions::{action_id, ActionItem, Term};
    use incident_core::effects::Effects;
    use incident_core::ports::{Applied, Versions};
    let stack = setup().await?;
    let events = stack.capture_app_events("e2e-overdue-events").await?;
    let pages = stack
        .capture_pages("incident-loop-payments", "e2e-overdue-payments-pages")
        .await?;
    let base = era(90);
    let incident = open_checkout_game_day(&stack, "overdue-a1", base).await?;
    // An item added three days ago with the short-term horizon (24 h): two days overdue. (A due
    // date in the past is refused by the command API, so the test writes it three days back in
    // time through the store's one write path.)
    let item = ActionItem::new(
        action_id(&incident.id, 1),
        Term::Short,
        "payments",
        "Rotate the gateway key",
        None,
        Utc::now() - TimeDelta::days(3),
    )?;
    let seeded = Effects {
        new_action: Some(item.clone()),
        ..Effects::default()
    };
    let applied = stack.store.apply(&incident.id, &Versions::default(), &seeded).await?;
    assert_eq!(applied, Applied::Written);

    // The hourly schedule is wired to the postmortem function with the scan's input.
    let rules = stack.events.list_rules().send().await?;
    let scheduled = rules
        .rules()
        .iter()
        .find(|r| r.schedule_expression() == Some("rate(1 hour)"))
        .expect("an hourly rule");
    let targets = stack
        .events
        .list_targets_by_rule()
        .rule(scheduled.name().unwrap_or_default())
        .send()
        .await?;
    let target = &targets.targets()[0];
    assert!(
        target.arn().contains(&stack.outputs["PostmortemFunctionName"]),
        "{target:?}"
    );
    assert_eq!(target.input(), Some(r#"{"action": "overdue"}"#));

    let scan = json!({ "action": "overdue" });
    let first = stack.invoke("PostmortemFunctionName", &scan).await?;
    assert!(
        first["announced"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == item.id.as_str()),
        "{first}"
    );
    let again = stack.invoke("PostmortemFunctionName", &scan).await?;
    assert!(
        !again["announced"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == item.id.as_str()),
        "announced at most once a day: {again}"
    );
    let announced = stack.drain(&events).await?;
    let overdue: Vec<&Value> = announced
        .iter()
        .filter(|e| e["detail-type"] == "Action Item Overdue" && e["detail"]["action_item"] == item.id.as_str())
        .collect();
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0]["detail"]["owner"], "payments");
    assert!(overdue[0]["detail"]["days_overdue"].as_i64().unwrap() >= 1);
    let paged = stack.drain(&pages).await?;
    assert!(
        paged
            .iter()
            .any(|p| p.to_string().contains(&format!("Overdue action item {}", item.id))),
        "the owner team is paged: {paged:?}"
    );
    let stored = stack.store.actions(&incident.id).await?;
    assert!(stored.iter().any(|a| a.id == item.id && a.reminded_at.is_some()));
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn quiet_signals_page_nobody_and_stay_visible_a_passed_canary_recovers_and_aws_issues_are_aws_side() -> Result<()>
{
    let stack = setup().await?;
    let forged = format!("e2e-forged-{}", Utc::now().timestamp_millis());
    // A customer report put on the default bus, where many roles may put events: not ingested.
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name("default")
        .source("incident-loop.customer")
        .detail_type("Customer Impact Report")
        .detail(json!({"service": "checkout", "summary": "forged", "report_id": forged}).to_string())
        .build();
    stack.events.put_events().entries(entry).send().await?;

    // A composite alarm whose actions are suppressed opens nothing either.
    let suppressed_at = era(162);
    let mut suppressed = fixture("cloudwatch/composite-alarm-suppressed.json");
    move_to(&mut suppressed, suppressed_at);
    stack.put(GAMEDAY, ALARM, &suppressed["detail"]).await?;

    // A mute rule's window covers this alarm's change: no incident, kept as an ignored signal.
    let base = era(160);
    let mut muted = alarm("orders-error-rate", "ALARM", base);
    let window = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string();
    muted["muteDetail"] = json!({
        "mutedByArn": "arn:aws:cloudwatch:us-east-1:000000000000:alarm-mute-rule:e2e-nightly",
        "muteWindowStart": window(base - TimeDelta::minutes(10)),
        "muteWindowEnd": window(base + TimeDelta::minutes(50)),
    });
    stack.put(GAMEDAY, ALARM, &muted).await?;

    // A silence set through the command API quiets its service's alarms now.
    let set = incidentctl(&["silence", "search", "--for", "10m", "--reason", "e2e failover drill"])?;
    assert!(set.contains("search silenced until"), "{set}");
    let listed = incidentctl(&["silence", "list"])?;
    assert!(listed.contains("e2e failover drill"), "{listed}");
    let silence_id = listed
        .split_whitespace()
        .find(|w| w.starts_with("sil-"))
        .expect("the silence's id")
        .to_string();
    let now = Utc::now();
    stack
        .put(GAMEDAY, ALARM, &alarm("search-latency-p99", "ALARM", now))
        .await?;

    let ignored = eventually("both quiet signals kept as ignored", WAIT, || async {
        let items = stack.store.ignored(1).await?;
        let muted = items
            .iter()
            .find(|i| i.reason.contains("mute rule e2e-nightly") && i.reason.contains("opens no incident"));
        let silenced = items.iter().find(|i| {
            i.reason.contains(&format!("silenced by {silence_id}")) && i.reason.contains("e2e failover drill")
        });
        let suppressed = items.iter().find(|i| {
            i.reason.contains("actions suppressed by WaitPeriod")
                && (i.signal.at - suppressed_at).num_seconds().abs() < 2
        });
        Ok(match (muted, silenced, suppressed) {
            (Some(m), Some(s), Some(_)) => Some((m.service.clone(), s.service.clone())),
            _ => None,
        })
    })
    .await?;
    assert_eq!(ignored, ("orders".to_string(), "search".to_string()));
    for (at, what) in [(base, "the muted alarm"), (suppressed_at, "the suppressed composite")] {
        let opened = stack
            .incidents_between(at - TimeDelta::hours(1), at + TimeDelta::hours(1))
            .await?;
        assert!(opened.is_empty(), "{what} opened {opened:#?}");
    }
    let out = incidentctl(&["ignored"])?;
    assert!(out.contains("mute rule e2e-nightly"), "{out}");
    let lifted = incidentctl(&["silence", "lift", &silence_id])?;
    assert!(lifted.contains("pages again"), "{lifted}");

    // A canary's failure opens an incident; its next passed run is that incident's recovery.
    let canary_at = era(161);
    let mut failed = fixture("synthetics/canary-failure.json");
    failed["detail"]["canary-name"] = json!("checkout-e2e-canary");
    failed["detail"]["canary-run-timeline"]["completed"] = json!(canary_at.timestamp());
    stack
        .put(GAMEDAY, "Synthetics Canary TestRun Failure", &failed["detail"])
        .await?;
    let incident = settled(&stack, canary_at, 1).await?.remove(0);
    let mut passed = fixture("synthetics/canary-success.json");
    passed["detail"]["canary-name"] = json!("checkout-e2e-canary");
    passed["detail"]["canary-run-timeline"]["completed"] = json!((canary_at + TimeDelta::minutes(5)).timestamp());
    stack
        .put(GAMEDAY, "Synthetics Canary TestRun Successful", &passed["detail"])
        .await?;
    eventually("the canary's recovery on the timeline", WAIT, || async {
        let timeline = stack.store.timeline(&incident.id).await?;
        Ok(timeline
            .iter()
            .any(|e| e.kind == EntryKind::Recovery && e.text.contains("canary run passed: checkout-e2e-canary"))
            .then_some(()))
    })
    .await?;

    // An account-specific AWS Health issue opens an AWS-side incident of the service that uses it.
    let aws_at = era(163);
    let rfc1123 = |t: DateTime<Utc>| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let mut issue = fixture("health/issue-open.json");
    issue["detail"]["startTime"] = json!(rfc1123(aws_at));
    issue["detail"]["lastUpdatedTime"] = json!(rfc1123(aws_at + TimeDelta::minutes(5)));
    stack.put(GAMEDAY, "AWS Health Event", &issue["detail"]).await?;
    let aws_side = settled(&stack, aws_at, 1).await?.remove(0);
    assert_eq!(aws_side.services, ["checkout"]);
    assert!(
        aws_side
            .aws_events
            .iter()
            .any(|e| e.contains("AWS_ELASTICLOADBALANCING_API_ISSUE")),
        "{aws_side:#?}"
    );
    let shown = incidentctl(&["show", aws_side.id.as_str()])?;
    assert!(shown.contains("AWS-side"), "{shown}");

    // The forged report was never ingested (the events above were, long after it): it opened no
    // incident, joined none and was not kept as ignored.
    let today = Utc::now().format("%Y-%m-%d").to_string();
    for incident in stack.store.list(&[today], false).await? {
        let signals = stack.store.signals(&incident.id).await?;
        assert!(
            signals.iter().all(|s| !s.signal.resource.contains(&forged)),
            "a forged report reached {}",
            incident.id
        );
    }
    let ignored = stack.store.ignored(1).await?;
    assert!(ignored.iter().all(|i| !i.signal.resource.contains(&forged)));
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn a_game_day_deployment_is_recorded_rolled_back_first_and_its_approved_rollback_only_rehearsed() -> Result<()> {
    let stack = setup().await?;
    import_catalog_with_root_approver()?;
    let base = era(45);
    // A game-day ECS deployment through the loop's bus, as ECS puts it on the default bus.
    let mut deployment = fixture("deployments/ecs-deployment-completed.json");
    deployment["detail"]["updatedAt"] = json!((base - TimeDelta::minutes(5)).to_rfc3339());
    deployment["detail"]["deploymentId"] = json!("ecs-svc/e2e-rehearsal");
    stack
        .put_naming(
            GAMEDAY,
            "ECS Deployment State Change",
            &deployment["detail"],
            &["arn:aws:ecs:us-east-1:000000000000:service/shop/checkout-api"],
        )
        .await?;
    let recorded = |gameday: bool| {
        let mut args = vec!["--output", "json", "changes", "checkout", "--since", "46d"];
        if gameday {
            args.push("--gameday");
        }
        incidentctl(&args).map(|out| serde_json::from_str::<Vec<Value>>(&out).expect("changes as JSON"))
    };
    let listed = eventually("the deployment recorded for checkout", WAIT, || async {
        Ok(recorded(true)?.into_iter().find(|c| c["id"] == "ecs-svc/e2e-rehearsal"))
    })
    .await?;
    assert_eq!(
        (
            listed["resource"].as_str(),
            listed["outcome"].as_str(),
            listed["origin"].as_str()
        ),
        (Some("shop/checkout-api"), Some("succeeded"), Some("event"))
    );
    assert!(
        !recorded(false)?.iter().any(|c| c["id"] == "ecs-svc/e2e-rehearsal"),
        "a game day's change is not a real one"
    );
    let table = incidentctl(&["changes", "checkout", "--gameday", "--since", "46d"])?;
    let line = table
        .lines()
        .find(|l| l.contains("shop/checkout-api") && l.contains("e2e-rehearsal"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains("ECS deployment") && line.contains("succeeded"), "{line}");

    // The alarm five minutes later: the recorded deployment is what the plan rolls back first.
    let incident = open_checkout_rehearsal(&stack, "reh-a1", base).await?;
    let id = incident.id.to_string();
    let approval = pending_offer(&stack, &incident.id, 0).await?;
    let rollback = &approval.candidates[0];
    assert_eq!(
        rollback.runbook, "IncidentLoop-RollbackEcsService",
        "{:?}",
        approval.candidates
    );
    assert_eq!(
        (
            rollback.parameters["Cluster"].as_str(),
            rollback.parameters["Service"].as_str()
        ),
        ("shop", "checkout-api")
    );
    assert!(
        rollback.evidence.iter().any(|e| e.contains("as it happened")),
        "{:?}",
        rollback.evidence
    );

    // Approved: rehearsed. The timeline says what would have run; SSM is never asked.
    let starts_before = ssm_calls()?
        .iter()
        .filter(|c| c["operation"] == "StartAutomationExecution")
        .count();
    incidentctl(&["approve", &id, "--param", "TaskDefinition=checkout:41"])?;
    let rehearsed = eventually("the rehearsal ended on the timeline", WAIT, || async {
        let timeline = stack.store.timeline(&incident.id).await?;
        let done = timeline.iter().any(|e| e.key.starts_with("runbook-done-rehearsal-"));
        Ok(done.then_some(timeline))
    })
    .await?;
    let said = rehearsed
        .iter()
        .find(|e| {
            e.text
                .contains("IncidentLoop-RollbackEcsService rehearsed, approved by root")
        })
        .map(|e| e.text.clone())
        .unwrap_or_else(|| panic!("{rehearsed:#?}"));
    assert!(said.contains("TaskDefinition=checkout:41"), "{said}");
    let starts_after = ssm_calls()?
        .iter()
        .filter(|c| c["operation"] == "StartAutomationExecution")
        .count();
    assert_eq!(starts_after, starts_before, "a rehearsal starts no runbook");

    force_resolved(&stack, &id, "e2e: the rehearsal is what this test is about").await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn an_alarm_in_a_member_account_is_placed_there_and_its_evidence_is_read_there() -> Result<()> {
    let stack = setup().await?;
    let base = era(3);
    let name = "member-queue-depth";
    // The alarm exists in the member account only; its history is there.
    seed_alarm_in(&member_account_config().await, name, 5, Utc::now()).await?;

    // Its state change as the forwarder delivers it to the loop's bus: the member's account in the
    // envelope (the emulator delivers nothing across accounts, so the test hands it to ingest).
    let mut event = envelope("member-a1", "aws.cloudwatch", ALARM, alarm(name, "ALARM", base));
    event["account"] = json!(MEMBER_ACCOUNT);
    stack.invoke_ingest(&event).await?;
    let incident = settled(&stack, base, 1).await?.remove(0);
    assert_eq!(incident.services, ["reporting"], "the member account's service");
    let placed = incident.location.as_ref().map(|l| l.describe());
    assert_eq!(
        placed.as_deref(),
        Some("111111111111 (reporting-prod, production) in us-east-1")
    );
    let id = incident.id.to_string();
    let shown = incidentctl(&["show", &id])?;
    assert!(shown.contains("account") && shown.contains("reporting-prod"), "{shown}");

    // Evidence capture assumed the member role (with the stack's external id) and read the alarm's
    // history there: the home account has no such alarm.
    let manifest = eventually("the member account's evidence", WAIT, || async {
        let listed: Vec<Value> = serde_json::from_str(&incidentctl(&["evidence", "list", &id, "--output", "json"])?)?;
        Ok(listed.into_iter().next())
    })
    .await?;
    assert_eq!(manifest["errors"], json!([]), "{manifest:#}");
    let history: Value = serde_json::from_str(&incidentctl(&["evidence", "get", &id, "--source", "alarm-history"])?)?;
    assert!(history.to_string().contains(name), "{history:#}");
    let items = history["items"].as_array().map(Vec::len).unwrap_or(0);
    assert!(items >= 1, "{history:#}");

    // An account without the forwarder's role: every source says, in one line, that it was refused.
    let stranger_at = era(4);
    let mut stranger = envelope("member-b1", "aws.cloudwatch", ALARM, alarm(name, "ALARM", stranger_at));
    stranger["account"] = json!("222222222222");
    stack.invoke_ingest(&stranger).await?;
    let refused = settled(&stack, stranger_at, 1).await?.remove(0);
    let refused_id = refused.id.to_string();
    let manifest = eventually("the refused account's manifest", WAIT, || async {
        let listed: Vec<Value> =
            serde_json::from_str(&incidentctl(&["evidence", "list", &refused_id, "--output", "json"])?)?;
        Ok(listed.into_iter().next())
    })
    .await?;
    let errors = manifest["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 4, "{manifest:#}");
    let why = errors[0]["error"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("cannot assume arn:aws:iam::222222222222:role/incident-loop-member-us-east-1: AccessDenied: ")
            && !why.contains('\n')
            && !why.contains("Error {"),
        "{why}"
    );
    incidentctl(&["resolve", &refused_id, "--force", "--reason", "e2e: a refused account"])?;

    // The catalog opens reporting-prod to runbooks: the plan says where they would run, and the
    // approved one starts there — signed by the member's runbook role (assumed with the external
    // id), passing the role its runbooks stack names for the region.
    let plan = eventually("the plan on the timeline", WAIT, || async {
        let t = stack.store.timeline(&incident.id).await?;
        Ok(t.into_iter().find(|e| e.key == "plan"))
    })
    .await?;
    assert!(
        plan.text
            .contains("(runbooks run in 111111111111 (reporting-prod, production) in us-east-1)"),
        "{}",
        plan.text
    );
    let approval = pending_offer(&stack, &incident.id, 0).await?;
    assert_eq!(approval.candidates[0].runbook, "IncidentLoop-ScaleUpEcsService");
    import_catalog_with_root_approver()?;
    let approved = incidentctl(&[
        "approve",
        &id,
        "--param",
        "Cluster=reporting",
        "--param",
        "Service=reporting-api",
        "--param",
        "DesiredCount=3",
    ])?;
    assert!(approved.contains("approved candidate 0"), "{approved}");
    let start = eventually("the runbook started in the member account", WAIT, || async {
        Ok(ssm_calls()?.into_iter().find(|c| {
            c["operation"] == "StartAutomationExecution" && c["input"]["Parameters"]["Service"][0] == "reporting-api"
        }))
    })
    .await?;
    assert_eq!(
        start["account"], MEMBER_ACCOUNT,
        "signed with the member account's credentials: {start:#}"
    );
    assert_eq!(
        start["input"]["Parameters"]["AutomationAssumeRole"][0],
        "arn:aws:iam::111111111111:role/incident-loop-member-ssm-us-east-1"
    );
    // SSM's event, handed to the mitigate function as its member rule would (the emulator
    // delivers nothing across accounts, nor takes an aws.* event from put-events): the wait ends
    // only once the execution, asked for where it started, has ended — the double finds it in the
    // member account only, so a status asked at home would never end it.
    deliver_runbook_ended(&stack, &incident.id, "Success").await?;
    let polled_there = ssm_calls()?
        .iter()
        .any(|c| c["operation"] == "GetAutomationExecution" && c["account"] == MEMBER_ACCOUNT);
    assert!(polled_there, "the execution's status is asked in the member account");

    incidentctl(&[
        "resolve",
        &id,
        "--force",
        "--reason",
        "e2e: placement is what this test is about",
    ])?;
    Ok(())
}
