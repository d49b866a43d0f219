//! The SSM runbook adapter: status mapping against scripted responses (aws-smithy-mocks), and the
//! real SDK against the labelled SSM test double in tests/ssm_double.py.

use aws_sdk_ssm::operation::get_automation_execution::GetAutomationExecutionOutput;
use aws_sdk_ssm::operation::start_automation_execution::{
    StartAutomationExecutionInput, StartAutomationExecutionOutput,
};
use aws_sdk_ssm::types::{AutomationExecution, AutomationExecutionStatus};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use incident_aws::runbooks::SsmRunbooks;
use incident_core::mitigation::{client_token, RunbookStatus};
use incident_core::ports::{PortError, RunbookRunner};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const ROLE: &str = "arn:aws:iam::000000000000:role/incident-loop-runbooks-automation";

fn params() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("FunctionName".into(), "checkout-api".into()),
        ("AliasName".into(), "live".into()),
        ("ToVersion".into(), "41".into()),
    ])
}

#[tokio::test]
async fn start_passes_the_assume_role_the_parameters_and_the_client_token() {
    let sent_right = |req: &StartAutomationExecutionInput| {
        let p = req.parameters().unwrap();
        req.document_name() == Some("IncidentLoop-RollbackLambdaAlias")
            && req.client_token() == Some("tok")
            && p["AutomationAssumeRole"] == [ROLE]
            && p["ToVersion"] == ["41"]
    };
    let start = mock!(aws_sdk_ssm::Client::start_automation_execution)
        .match_requests(sent_right)
        .then_output(|| {
            StartAutomationExecutionOutput::builder()
                .automation_execution_id("exec-1")
                .build()
        });
    let runner = SsmRunbooks::new(mock_client!(aws_sdk_ssm, [&start]), ROLE);
    let id = runner
        .start(None, "IncidentLoop-RollbackLambdaAlias", &params(), "tok")
        .await
        .unwrap();
    assert_eq!((id.as_str(), start.num_calls()), ("exec-1", 1));
}

#[tokio::test]
async fn a_parameter_left_as_a_placeholder_is_refused_before_anything_runs() {
    let start = mock!(aws_sdk_ssm::Client::start_automation_execution).then_output(|| {
        StartAutomationExecutionOutput::builder()
            .automation_execution_id("never")
            .build()
    });
    let runner = SsmRunbooks::new(mock_client!(aws_sdk_ssm, [&start]), ROLE);
    let mut p = params();
    p.insert("ToVersion".into(), "<previous version>".into());
    let err = runner
        .start(None, "IncidentLoop-RollbackLambdaAlias", &p, "tok")
        .await
        .unwrap_err();
    assert!(
        matches!(err, PortError::Rejected(ref m) if m.contains("ToVersion")),
        "{err:?}"
    );
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn every_ssm_status_maps_to_a_defined_path() {
    let cases = [
        (AutomationExecutionStatus::Pending, "running"),
        (AutomationExecutionStatus::Inprogress, "running"),
        (AutomationExecutionStatus::Success, "success"),
        (AutomationExecutionStatus::Failed, "failed"),
        (AutomationExecutionStatus::Timedout, "timed_out"),
        (AutomationExecutionStatus::Cancelled, "cancelled"),
    ];
    for (status, expected) in cases {
        let s = status.clone();
        let get = mock!(aws_sdk_ssm::Client::get_automation_execution).then_output(move || {
            GetAutomationExecutionOutput::builder()
                .automation_execution(
                    AutomationExecution::builder()
                        .automation_execution_status(s.clone())
                        .failure_message("why")
                        .build(),
                )
                .build()
        });
        let runner = SsmRunbooks::new(mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&get]), ROLE);
        let got = runner.status(None, "exec-1").await.unwrap();
        assert_eq!(serde_json::to_value(&got).unwrap()["status"], expected, "{status:?}");
    }
}

/// The SSM test double, on a free port, stopped when dropped.
struct Double(Child, String);

impl Drop for Double {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn double() -> Double {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/ssm_double.py");
    let mut child = Command::new("python3")
        .args([script, "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the SSM test double");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    Double(child, format!("http://127.0.0.1:{}", line.trim()))
}

async fn client(endpoint: &str) -> aws_sdk_ssm::Client {
    let config = aws_sdk_ssm::Config::builder()
        .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
        .region(aws_sdk_ssm::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .http_client(incident_aws::http_client())
        .build();
    aws_sdk_ssm::Client::from_conf(config)
}

#[tokio::test]
async fn against_the_ssm_test_double_a_run_is_started_once_and_polled_to_its_outcome() {
    let d = double();
    let runner = SsmRunbooks::new(client(&d.1).await, ROLE);
    let token = client_token("apr-1", 0);
    let first = runner
        .start(None, "IncidentLoop-RollbackLambdaAlias", &params(), &token)
        .await
        .unwrap();
    let again = runner
        .start(None, "IncidentLoop-RollbackLambdaAlias", &params(), &token)
        .await
        .unwrap();
    assert_eq!(first, again, "the same client token never starts a second run");
    assert!(matches!(
        runner.status(None, &first).await.unwrap(),
        RunbookStatus::Running { .. }
    ));
    let RunbookStatus::Success { outputs } = runner.status(None, &first).await.unwrap() else {
        panic!("success")
    };
    assert!(outputs.contains_key("IncidentLoop-RollbackLambdaAlias.Result"));

    let calls: Vec<serde_json::Value> = get_json(&format!("{}/_calls", d.1));
    let starts: Vec<_> = calls
        .iter()
        .filter(|c| c["operation"] == "StartAutomationExecution")
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[0]["input"]["Parameters"]["AutomationAssumeRole"][0], ROLE);
    assert_eq!(starts[0]["input"]["ClientToken"], token.as_str());
}

#[tokio::test]
async fn against_the_ssm_test_double_a_failed_run_reports_why() {
    let d = double();
    post(
        &format!("{}/_script", d.1),
        r#"{"IncidentLoop-ScaleUpEcsService": "Failed"}"#,
    );
    let runner = SsmRunbooks::new(client(&d.1).await, ROLE);
    let p = BTreeMap::from([
        ("Cluster".into(), "shop".into()),
        ("Service".into(), "api".into()),
        ("DesiredCount".into(), "8".into()),
    ]);
    let id = runner
        .start(None, "IncidentLoop-ScaleUpEcsService", &p, &client_token("apr-2", 1))
        .await
        .unwrap();
    runner.status(None, &id).await.unwrap();
    let RunbookStatus::Failed { reason } = runner.status(None, &id).await.unwrap() else {
        panic!("failed")
    };
    assert!(reason.contains("scripted Failed"), "{reason}");
    let err = runner.status(None, "no-such-execution").await.unwrap_err();
    assert!(
        matches!(err, PortError::Invalid(_) | PortError::Transient(_)),
        "{err:?}"
    );
}

/// A tiny HTTP/1.0 client for the double's control endpoints (std only).
fn http(method: &str, url: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "{method} /{path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> T {
    serde_json::from_str(&http("GET", url, "")).unwrap()
}

fn post(url: &str, body: &str) {
    http("POST", url, body);
}

#[tokio::test]
async fn against_the_ssm_test_double_tickets_are_opened_once_per_dedup_key_and_resolved() {
    use incident_aws::tickets::OpsCenter;
    use incident_core::ports::Tickets;
    use incident_core::tickets::Ticket;

    let d = double();
    let tickets = OpsCenter::new(client(&d.1).await);
    let ticket = Ticket {
        title: "COE: checkout errors (inc-1)".into(),
        description: "Write the COE".into(),
        severity: 2,
        priority: 2,
        due: chrono::Utc::now() + chrono::TimeDelta::days(7),
        resources: vec!["arn:aws:s3:::pm/postmortems/inc-1/coe.md".into()],
        data: BTreeMap::from([("incident_id".into(), "inc-1".into())]),
        related: vec![],
        dedup: "incident-loop:coe:inc-1".into(),
    };
    let first = tickets.open(&ticket).await.unwrap();
    assert_eq!(tickets.open(&ticket).await.unwrap(), first, "deduplicated");
    let action = Ticket {
        related: vec![first.clone()],
        dedup: "incident-loop:action:inc-1.a1".into(),
        priority: 1,
        ..ticket.clone()
    };
    let second = tickets.open(&action).await.unwrap();
    assert_ne!(first, second);
    tickets.resolve(&second).await.unwrap();

    let items: serde_json::Value = get_json(&format!("{}/_opsitems", d.1));
    let coe = &items[&first];
    assert_eq!(coe["Source"], "incident-loop");
    assert_eq!(coe["Severity"], "2");
    assert_eq!(coe["OperationalData"]["incident-loop:incident_id"]["Value"], "inc-1");
    assert_eq!(
        coe["OperationalData"]["incident-loop:incident_id"]["Type"],
        "SearchableString"
    );
    assert!(coe["OperationalData"]["/aws/resources"]["Value"]
        .as_str()
        .unwrap()
        .contains("postmortems/inc-1/coe.md"));
    assert!(coe["PlannedEndTime"].is_number(), "{coe}");
    assert_eq!(items[&second]["RelatedOpsItems"][0]["OpsItemId"], first.as_str());
    assert_eq!(items[&second]["Status"], "Resolved");
    assert_eq!(coe["Status"], "Open");
}
