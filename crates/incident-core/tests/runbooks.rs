//! The shipped SSM Automation runbooks are complete documents, and they are the ones the
//! mitigation planner names, with the parameters it fills in.

use incident_core::change::ChangeKind;
use incident_core::mitigation::{plan, Kind};
use serde_yaml::Value;
use std::collections::BTreeSet;

fn runbook(name: &str) -> Value {
    let path = format!("{}/../../runbooks/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap()
}

fn all() -> Vec<(String, Value)> {
    let dir = format!("{}/../../runbooks", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name.clone(), runbook(&name))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_runbook_is_a_complete_automation_document() {
    let books = all();
    assert!(books.len() >= 6);
    for (name, doc) in books {
        assert_eq!(doc["schemaVersion"], "0.3", "{name}");
        assert_eq!(doc["assumeRole"], "{{ AutomationAssumeRole }}", "{name}");
        let params = doc["parameters"].as_mapping().unwrap();
        assert!(params.contains_key("AutomationAssumeRole"), "{name}");
        for (p, spec) in params {
            assert!(
                spec["allowedPattern"].as_str().is_some_and(|s| s.starts_with('^')),
                "{name}.{p:?}: allowedPattern"
            );
        }
        let steps = doc["mainSteps"].as_sequence().unwrap();
        for step in steps {
            assert!(step["onFailure"].is_string(), "{name}.{:?}: onFailure", step["name"]);
            let action = step["action"].as_str().unwrap();
            assert!(action.starts_with("aws:"), "{name}: {action}");
        }
        assert_eq!(
            steps.last().unwrap()["isEnd"],
            true,
            "{name}: the last step ends the run"
        );
        assert!(!doc["outputs"].as_sequence().unwrap().is_empty(), "{name}: outputs");
        let uses_api = steps.iter().any(|s| s["action"] == "aws:executeAwsApi");
        let waits = steps.iter().any(|s| s["action"] == "aws:waitForAwsResourceProperty");
        let scripted = steps.iter().any(|s| s["action"] == "aws:executeScript");
        assert!((uses_api && waits) || scripted, "{name}: acts and confirms");
    }
}

#[test]
fn the_planner_names_only_shipped_runbooks_and_their_real_parameters() {
    let mut named = BTreeSet::new();
    let kinds = [
        (Kind::ShiftAway, None),
        (Kind::Rollback, Some(ChangeKind::LambdaDeployment)),
        (Kind::Rollback, Some(ChangeKind::EcsDeployment)),
        (Kind::Rollback, Some(ChangeKind::CodeDeployDeployment)),
        (Kind::Rollback, Some(ChangeKind::StackUpdate)),
        (Kind::ScaleUp, None),
        (Kind::RestartWithIsolation, None),
        (Kind::RevertConfig, None),
        (Kind::RollForward, None),
    ];
    for (kind, change) in kinds {
        named.insert(kind.runbook(change).to_string());
    }
    let shipped: BTreeSet<String> = all().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        named, shipped,
        "every runbook is proposed by some rule, and every proposal is shipped"
    );

    let now = chrono::Utc::now();
    let zonal: incident_core::signal::Signal = serde_json::from_value(serde_json::json!({
        "key": "t/1", "source": "alarm", "health": "impaired", "resource": "checkout-5xx", "at": now,
        "reason": "r", "alarm": { "kind": "single_metric",
            "metrics": [{ "id": "m1", "name": "HTTPCode_Target_5XX_Count", "dimensions": { "AvailabilityZone": "use1-az1" } }] }
    }))
    .unwrap();
    let change = |kind, summary: &str| incident_core::change::Change {
        at: now - chrono::TimeDelta::minutes(5),
        kind,
        actor: "a".into(),
        resource: "r".into(),
        summary: summary.into(),
        link: None,
        origin: incident_core::change::Origin::CloudTrail,
        id: None,
        outcome: None,
        location: None,
    };
    let mut proposed = Vec::new();
    for kind in [
        ChangeKind::LambdaDeployment,
        ChangeKind::EcsDeployment,
        ChangeKind::CodeDeployDeployment,
        ChangeKind::StackUpdate,
    ] {
        proposed.extend(plan(None, now, std::slice::from_ref(&zonal), &[change(kind, "deploy")]).candidates);
    }
    proposed.extend(plan(None, now, &[], &[change(ChangeKind::ConfigChange, "PutParameter")]).candidates);
    let covered: BTreeSet<String> = proposed.iter().map(|c| c.runbook.clone()).collect();
    assert_eq!(covered, shipped, "each runbook is reached by a plan in this test");
    for c in proposed {
        let doc = runbook(&c.runbook);
        for key in c.parameters.keys() {
            assert!(
                doc["parameters"].get(key.as_str()).is_some(),
                "{}: no parameter {key}",
                c.runbook
            );
        }
    }
}
