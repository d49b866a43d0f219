//! Helpers for the end-to-end tests: the deployed stack's outputs, ways to put signals in (through
//! EventBridge like AWS does, or straight into the ingest function like a redelivery does), and
//! ways to watch what comes out (incidents, timelines, app events, pages, the DLQ).

use anyhow::{bail, Context, Result};
use chrono::{DateTime, TimeDelta, Utc};
use incident_aws::store::Store;
use incident_core::incident::Incident;
use incident_core::IncidentId;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// The deployed stack, found by its CloudFormation outputs like incidentctl finds it.
pub struct Stack {
    pub config: aws_config::SdkConfig,
    pub outputs: HashMap<String, String>,
    pub store: Store,
    pub events: aws_sdk_eventbridge::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub sfn: aws_sdk_sfn::Client,
}

/// The end-to-end tests run only where scripts/test deployed the stack (INCIDENT_LOOP_E2E=1).
pub fn enabled() -> bool {
    std::env::var("INCIDENT_LOOP_E2E").as_deref() == Ok("1")
}

impl Stack {
    pub async fn connect() -> Result<Self> {
        let config = incident_aws::sdk_config().await;
        let stack = std::env::var("STACK_NAME").unwrap_or_else(|_| "incident-loop".into());
        let described = aws_sdk_cloudformation::Client::new(&config)
            .describe_stacks()
            .stack_name(&stack)
            .send()
            .await
            .context("the stack is not deployed: run scripts/test")?;
        let outputs: HashMap<String, String> = described.stacks()[0]
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect();
        let store = Store::new(aws_sdk_dynamodb::Client::new(&config), &outputs["TableName"])
            .with_decisions(&outputs["DecisionsTableName"]);
        Ok(Self {
            store,
            events: aws_sdk_eventbridge::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
            sfn: aws_sdk_sfn::Client::new(&config),
            outputs,
            config,
        })
    }

    /// Puts one event where its source puts it: the loop's own bus for game days and customer
    /// reports, the default bus otherwise.
    pub async fn put(&self, source: &str, detail_type: &str, detail: &Value) -> Result<String> {
        self.put_naming(source, detail_type, detail, &[]).await
    }

    /// `put` with the event's `resources` (the ARNs an ECS deployment event names its service by).
    pub async fn put_naming(
        &self,
        source: &str,
        detail_type: &str,
        detail: &Value,
        resources: &[&str],
    ) -> Result<String> {
        let bus = if source.starts_with("incident-loop.") {
            self.outputs["EventBusName"].as_str()
        } else {
            "default"
        };
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source(source)
            .detail_type(detail_type)
            .detail(detail.to_string())
            .set_resources(Some(resources.iter().map(|r| r.to_string()).collect()))
            .build();
        let out = self.events.put_events().entries(entry).send().await?;
        if out.failed_entry_count() > 0 {
            bail!("put-events failed: {:?}", out.entries());
        }
        Ok(out.entries()[0].event_id().unwrap_or_default().to_string())
    }

    /// Invokes the ingest function with an exact event, as an at-least-once redelivery would.
    pub async fn invoke_ingest(&self, event: &Value) -> Result<Value> {
        self.invoke("IngestFunctionName", event).await
    }

    /// Invokes the function named by the stack output `function_output`, synchronously.
    pub async fn invoke(&self, function_output: &str, event: &Value) -> Result<Value> {
        let out = self
            .lambda
            .invoke()
            .function_name(&self.outputs[function_output])
            .payload(aws_sdk_lambda::primitives::Blob::new(event.to_string()))
            .send()
            .await?;
        let body: Value = serde_json::from_slice(out.payload().map(|b| b.as_ref()).unwrap_or(b"null"))?;
        if out.function_error().is_some() {
            bail!("{function_output} failed: {body}");
        }
        Ok(body)
    }

    /// Today's incidents whose impact started inside [from, to).
    pub async fn incidents_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Incident>> {
        let today = Utc::now().format("%Y-%m-%d").to_string();
        let all = self.store.list(&[today], false).await?;
        Ok(all
            .into_iter()
            .filter(|i| i.impact_started_at >= from && i.impact_started_at < to)
            .collect())
    }

    /// A queue receiving every event the app publishes on its bus.
    pub async fn capture_app_events(&self, name: &str) -> Result<String> {
        let url = self.queue(name).await?;
        let arn = self.queue_arn(&url).await?;
        let bus = &self.outputs["EventBusName"];
        self.events
            .put_rule()
            .name(name)
            .event_bus_name(bus)
            .event_pattern(json!({ "source": ["incident-loop"] }).to_string())
            .send()
            .await?;
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("capture")
            .arn(arn)
            .build()?;
        self.events
            .put_targets()
            .rule(name)
            .event_bus_name(bus)
            .targets(target)
            .send()
            .await?;
        Ok(url)
    }

    /// A queue subscribed to an SNS topic (a team's pager).
    pub async fn capture_pages(&self, topic_name: &str, queue_name: &str) -> Result<String> {
        let topic = self
            .sns
            .create_topic()
            .name(topic_name)
            .send()
            .await?
            .topic_arn
            .unwrap_or_default();
        let url = self.queue(queue_name).await?;
        let arn = self.queue_arn(&url).await?;
        self.sns
            .subscribe()
            .topic_arn(topic)
            .protocol("sqs")
            .endpoint(arn)
            .send()
            .await?;
        Ok(url)
    }

    /// A queue that EventBridge and SNS may deliver to: with IAM enforced, as on AWS, a queue
    /// without such a policy receives nothing from them.
    async fn queue(&self, name: &str) -> Result<String> {
        let url = self
            .sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await?
            .queue_url
            .unwrap_or_default();
        let policy = json!({ "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": ["events.amazonaws.com", "sns.amazonaws.com"] },
            "Action": "sqs:SendMessage",
            "Resource": self.queue_arn(&url).await?,
        }]});
        self.sqs
            .set_queue_attributes()
            .queue_url(&url)
            .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, policy.to_string())
            .send()
            .await?;
        Ok(url)
    }

    async fn queue_arn(&self, url: &str) -> Result<String> {
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await?;
        Ok(attrs
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default())
    }

    /// Drains a queue: every message body received within a short poll.
    pub async fn drain(&self, url: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await?;
            let messages = got.messages();
            if messages.is_empty() {
                return Ok(out);
            }
            for m in messages {
                out.push(serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null));
                if let Some(handle) = m.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(url)
                        .receipt_handle(handle)
                        .send()
                        .await?;
                }
            }
        }
    }

    /// The lifecycle execution's status for an incident.
    pub async fn execution_status(&self, incident: &str) -> Result<String> {
        let arn = format!(
            "{}:{incident}",
            self.outputs["StateMachineArn"].replacen(":stateMachine:", ":execution:", 1)
        );
        let out = self.sfn.describe_execution().execution_arn(arn).send().await?;
        Ok(out.status().as_str().to_string())
    }
}

/// Polls `check` until it returns `Some`, for at most `limit`: the loop is asynchronous, so tests
/// wait for an eventual state (they never assert on how long it took).
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut last_err = None;
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_err = Some(e),
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("gave up waiting for {what} after {limit:?} (last error: {last_err:?})");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A CloudWatch alarm state change detail at `at`, in the documented shape.
pub fn alarm(name: &str, state: &str, at: DateTime<Utc>) -> Value {
    json!({
        "alarmName": name,
        "state": { "value": state, "reason": format!("test: {state}"),
                   "timestamp": at.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string() },
        "previousState": { "value": "OK", "reason": "test" },
        "configuration": { "metrics": [{ "id": "m1", "returnData": true,
            "metricStat": { "metric": { "namespace": "Test", "name": "Errors", "dimensions": {} }, "period": 60, "stat": "Sum" } }] }
    })
}

/// A full EventBridge envelope, as the ingest function receives it.
pub fn envelope(id: &str, source: &str, detail_type: &str, detail: Value) -> Value {
    json!({ "version": "0", "id": id, "detail-type": detail_type, "source": source, "account": "000000000000",
            "time": Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(), "region": "us-east-1", "resources": [],
            "detail": detail })
}

/// Reads an event fixture from events/.
pub fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/../events/{path}", env!("CARGO_MANIFEST_DIR"))).expect("fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

fn incidentctl_command() -> std::process::Command {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| format!("{}/../target", env!("CARGO_MANIFEST_DIR")));
    std::process::Command::new(format!("{dir}/debug/incidentctl"))
}

/// Starts incidentctl as the account's root without waiting for it (for `--follow`).
pub fn incidentctl_spawn(args: &[&str]) -> Result<std::process::Child> {
    incidentctl_command()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("start incidentctl")
}

/// Runs incidentctl (the binary built in this workspace) against the stack, as the account's root.
pub fn incidentctl(args: &[&str]) -> Result<String> {
    let out = incidentctl_command().args(args).output().context("run incidentctl")?;
    if !out.status.success() {
        let (stderr, stdout) = (
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
        );
        bail!("incidentctl {args:?} failed: {stderr}\n{stdout}");
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The calls the SSM test double received (tests/ssm_double.py, started by scripts/test).
pub fn ssm_calls() -> Result<Vec<Value>> {
    Ok(serde_json::from_str(&double_http("GET", "/_calls", "")?)?)
}

/// The OpsItems the SSM test double holds, by id.
pub fn ssm_opsitems() -> Result<Value> {
    Ok(serde_json::from_str(&double_http("GET", "/_opsitems", "")?)?)
}

/// Scripts the SSM test double: `{"Document": "Failed" | "Success" | …}`.
pub fn ssm_script(outcomes: &str) -> Result<()> {
    double_http("POST", "/_script", outcomes).map(|_| ())
}

fn double_http(method: &str, path: &str, body: &str) -> Result<String> {
    let url = std::env::var("SSM_DOUBLE_URL").context("SSM_DOUBLE_URL is not set: run scripts/test")?;
    local_http(&url, method, path, body)
}

/// The texts the emulator recorded as sent to `number` (SNS publishes to a phone number).
pub fn texts_to(number: &str) -> Result<Vec<String>> {
    let url = std::env::var("AWS_ENDPOINT_URL").context("AWS_ENDPOINT_URL is not set: run scripts/test")?;
    let path = format!(
        "/_ministack/sns/sms-messages?phoneNumber={}",
        number.replace('+', "%2B")
    );
    let answer: Value = serde_json::from_str(&local_http(&url, "GET", &path, "")?)?;
    Ok(answer["sms_messages"][number]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["Message"].as_str().map(str::to_string))
        .collect())
}

/// The local stack's account (the emulator maps the access key `test` to it).
const LOCAL_ACCOUNT: &str = "000000000000";

/// The e-mails the emulator's SES sent to `address`: (from, subject, text body).
pub fn emails_to(address: &str) -> Result<Vec<(String, String, String)>> {
    let url = std::env::var("AWS_ENDPOINT_URL").context("AWS_ENDPOINT_URL is not set: run scripts/test")?;
    let path = format!("/_ministack/ses/messages?account={LOCAL_ACCOUNT}");
    let answer: Value = serde_json::from_str(&local_http(&url, "GET", &path, "")?)?;
    let text = |m: &Value, k: &str| m[k].as_str().unwrap_or_default().to_string();
    Ok(answer["messages"][LOCAL_ACCOUNT]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["To"].as_array().is_some_and(|to| to.iter().any(|t| t == address)))
        .map(|m| (text(m, "Source"), text(m, "Subject"), text(m, "BodyText")))
        .collect())
}

/// A reply to a page by SMS, as AWS End User Messaging SMS publishes it to the replies topic.
/// A reply delivered as SNS delivers it from the replies topic to the commands function. Only End
/// User Messaging SMS may publish to that topic (its policy denies everyone else, the emulator's
/// root included), and the emulator has no SMS service: so the test hands the function the event
/// SNS would, as the runbook tests hand mitigate SSM's.
pub async fn reply_by_sms(stack: &Stack, from: &str, body: &str) -> Result<()> {
    let event = json!({ "Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": format!("{}:e2e", stack.outputs["SmsRepliesTopicArn"]),
        "Sns": {
            "Type": "Notification", "MessageId": "e2e", "TopicArn": stack.outputs["SmsRepliesTopicArn"],
            "Message": inbound_sms(from, body), "Timestamp": Utc::now().to_rfc3339(),
        },
    }]});
    stack.invoke("CommandsFunctionName", &event).await?;
    Ok(())
}

fn local_http(url: &str, method: &str, path: &str, body: &str) -> Result<String> {
    use std::io::{Read, Write};
    let host = url.trim_start_matches("http://").trim_end_matches('/').to_string();
    let mut stream = std::net::TcpStream::connect(&host)?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

/// A CloudWatch alarm on Test/Errors, in ALARM, with `minutes` of data up to `now`: the alarm
/// history and metric data an evidence capture collects.
pub async fn seed_alarm(stack: &Stack, name: &str, minutes: i64, now: DateTime<Utc>) -> Result<()> {
    seed_alarm_in(&stack.config, name, minutes, now).await
}

/// The local stack's member account (scripts/lib.sh deploys forwarder/template.yaml there).
pub const MEMBER_ACCOUNT: &str = "111111111111";

/// The SDK configuration of the member account's root (the emulator takes a 12-digit access key
/// as that account).
pub async fn member_account_config() -> aws_config::SdkConfig {
    let credentials = aws_credential_types::Credentials::new(MEMBER_ACCOUNT, "test", None, None, "e2e-member");
    incident_aws::config_loader()
        .credentials_provider(credentials)
        .load()
        .await
}

/// `seed_alarm` in the account `config` reaches.
pub async fn seed_alarm_in(config: &aws_config::SdkConfig, name: &str, minutes: i64, now: DateTime<Utc>) -> Result<()> {
    use aws_sdk_cloudwatch::primitives::DateTime as Time;
    use aws_sdk_cloudwatch::types::{ComparisonOperator, MetricDatum, StateValue, Statistic};
    let cw = aws_sdk_cloudwatch::Client::new(config);
    let data: Vec<MetricDatum> = (0..minutes)
        .map(|m| {
            let at = Time::from_secs((now - chrono::TimeDelta::minutes(m)).timestamp());
            MetricDatum::builder()
                .metric_name("Errors")
                .timestamp(at)
                .value((minutes - m) as f64)
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
        .state_reason("seeded")
        .send()
        .await?;
    Ok(())
}

/// `count` log lines in `group`, 300 ms apart and ending at `now`, written in batches.
pub async fn seed_error_logs(
    stack: &Stack,
    group: &str,
    count: usize,
    now: DateTime<Utc>,
    message: impl Fn(usize) -> String,
) -> Result<()> {
    use aws_sdk_cloudwatchlogs::types::InputLogEvent;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&stack.config);
    let _ = logs.create_log_group().log_group_name(group).send().await;
    let _ = logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name("seeded")
        .send()
        .await;
    for chunk in (0..count).collect::<Vec<_>>().chunks(5_000) {
        let events = chunk
            .iter()
            .map(|&i| {
                let at = now - chrono::TimeDelta::milliseconds((count - i) as i64 * 300);
                InputLogEvent::builder()
                    .timestamp(at.timestamp_millis())
                    .message(message(i))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name("seeded")
            .set_log_events(Some(events))
            .send()
            .await?;
    }
    Ok(())
}

/// An IAM user of the local stack, with the policy a stack output names attached and an access key
/// of its own: a person, as the command API and IAM see them.
pub struct Person {
    pub name: String,
    pub arn: String,
    access_key: String,
    secret_key: String,
}

/// What incidentctl answered a person: its exit code and what it printed.
pub struct Answer {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

fn aws_cli(args: &[&str]) -> Result<Value> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").context("AWS_ENDPOINT_URL is not set: run scripts/test")?;
    let out = std::process::Command::new("aws")
        .args(["--endpoint-url", &endpoint, "--output", "json"])
        .args(args)
        .output()
        .context("run the aws CLI")?;
    if !out.status.success() {
        bail!("aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)?
    })
}

impl Stack {
    /// Creates (or reuses) the IAM user `name` with the policy of stack output `policy_output`.
    pub fn person(&self, name: &str, policy_output: &str) -> Result<Person> {
        let user = match aws_cli(&["iam", "get-user", "--user-name", name]) {
            Ok(user) => user,
            Err(_) => aws_cli(&["iam", "create-user", "--user-name", name])?,
        };
        aws_cli(&[
            "iam",
            "attach-user-policy",
            "--user-name",
            name,
            "--policy-arn",
            &self.outputs[policy_output],
        ])?;
        let key = aws_cli(&["iam", "create-access-key", "--user-name", name])?;
        Ok(Person {
            name: name.to_string(),
            arn: user["User"]["Arn"].as_str().unwrap_or_default().to_string(),
            access_key: key["AccessKey"]["AccessKeyId"].as_str().unwrap_or_default().to_string(),
            secret_key: key["AccessKey"]["SecretAccessKey"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        })
    }
}

impl Stack {
    /// A person holding, besides the policy of `policy_output`, an inline policy of one statement.
    pub fn person_also_allowed(&self, name: &str, policy_output: &str, statement: Value) -> Result<Person> {
        let person = self.person(name, policy_output)?;
        let document = json!({ "Version": "2012-10-17", "Statement": [statement] }).to_string();
        aws_cli(&[
            "iam",
            "put-user-policy",
            "--user-name",
            name,
            "--policy-name",
            "also-allowed",
            "--policy-document",
            &document,
        ])?;
        Ok(person)
    }
}

/// An inbound SMS notification as AWS End User Messaging SMS publishes it.
pub fn inbound_sms(from: &str, body: &str) -> String {
    json!({
        "originationNumber": from, "destinationNumber": "+15555550199", "messageKeyword": "ACK",
        "messageBody": body, "inboundMessageId": "e2e-reply",
    })
    .to_string()
}

impl Person {
    /// Runs incidentctl with this person's own credentials.
    pub fn incidentctl(&self, args: &[&str]) -> Result<Answer> {
        let out = incidentctl_command()
            .args(args)
            .env("AWS_ACCESS_KEY_ID", &self.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret_key)
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .output()
            .context("run incidentctl")?;
        Ok(Answer {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// The SDK configuration of this person, for calls that try to go around the command API.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        let credentials = aws_credential_types::Credentials::new(&self.access_key, &self.secret_key, None, None, "e2e");
        incident_aws::config_loader()
            .credentials_provider(credentials)
            .load()
            .await
    }
}

// ---------------------------------------------------------------- shared steps of the tests

pub const GAMEDAY: &str = "incident-loop.gameday";
pub const ALARM: &str = "CloudWatch Alarm State Change";
pub const WAIT: Duration = Duration::from_secs(60);

pub async fn setup() -> Result<Stack> {
    // Ignored by a plain `cargo test`; run with --include-ignored only where the stack is deployed.
    assert!(
        enabled(),
        "INCIDENT_LOOP_E2E=1 is not set: these tests need the local stack (run scripts/test)"
    );
    let catalog = format!("{}/../catalog.example.yaml", env!("CARGO_MANIFEST_DIR"));
    incidentctl(&["catalog", "import", &catalog])?;
    Stack::connect().await
}

pub fn era(days_ago: i64) -> DateTime<Utc> {
    Utc::now() - TimeDelta::days(days_ago)
}

/// Waits until exactly `count` incidents exist in the era and all are past triage and engagement.
pub async fn settled(stack: &Stack, base: DateTime<Utc>, count: usize) -> Result<Vec<Incident>> {
    eventually(&format!("{count} engaged incidents"), WAIT, || async {
        let found = stack
            .incidents_between(base - TimeDelta::hours(1), base + TimeDelta::hours(20))
            .await?;
        let engaged = found.iter().all(|i| i.engaged_at.is_some());
        Ok((found.len() >= count && engaged).then_some(found))
    })
    .await
}

/// Waits until the incident's lifecycle has ended successfully (closed out after its resolution).
pub async fn lifecycle_succeeded(stack: &Stack, id: &str) -> Result<()> {
    eventually("the lifecycle to succeed", WAIT, || async {
        Ok((stack.execution_status(id).await? == "SUCCEEDED").then_some(()))
    })
    .await
}

/// Resolves the incident past its checklist (`--force --reason`) and waits for its lifecycle to end.
pub async fn force_resolved(stack: &Stack, id: &str, reason: &str) -> Result<()> {
    incidentctl(&["resolve", id, "--force", "--reason", reason])?;
    lifecycle_succeeded(stack, id).await
}

/// A game-day ALARM on checkout-api-5xx at `base`: the one checkout incident it opens, engaged.
/// It asks for its runbooks to run for real (here: in the SSM test double), as the tests of the
/// mitigation path need; `open_checkout_rehearsal` leaves them rehearsed, a game day's default.
pub async fn open_checkout_game_day(stack: &Stack, event_id: &str, base: DateTime<Utc>) -> Result<Incident> {
    let mut detail = alarm("checkout-api-5xx", "ALARM", base);
    detail["gameDay"] = json!({ "runRunbooks": true });
    open_checkout(stack, event_id, detail, base).await
}

/// A game-day ALARM on checkout-api-5xx at `base` whose approved runbooks are rehearsed.
pub async fn open_checkout_rehearsal(stack: &Stack, event_id: &str, base: DateTime<Utc>) -> Result<Incident> {
    open_checkout(stack, event_id, alarm("checkout-api-5xx", "ALARM", base), base).await
}

async fn open_checkout(stack: &Stack, event_id: &str, detail: Value, base: DateTime<Utc>) -> Result<Incident> {
    stack.invoke_ingest(&envelope(event_id, GAMEDAY, ALARM, detail)).await?;
    Ok(settled(stack, base, 1).await?.remove(0))
}

/// SSM's status-change event for the incident's newest runbook execution, handed to the mitigate
/// function as its EventBridge rule hands it over (`InputPath: $.detail`): the emulator accepts
/// `aws.*` sources only from its own services, and its SSM is the test double. Repeated until the
/// lifecycle's runbook wait has kept its token and the event completes it.
pub async fn deliver_runbook_ended(stack: &Stack, id: &IncidentId, status: &str) -> Result<()> {
    eventually("the runbook wait completed by SSM's event", WAIT, || async {
        let timeline = stack.store.timeline(id).await?;
        let newest = timeline
            .iter()
            .rev()
            .find_map(|e| e.key.strip_prefix("runbook-").filter(|k| !k.starts_with("done-")));
        let Some(execution) = newest else {
            return Ok(None);
        };
        let mut detail = fixture("ssm/automation-execution-status-change.json")["detail"].clone();
        detail["ExecutionId"] = json!(execution);
        detail["Status"] = json!(status);
        let out = stack.invoke("MitigateFunctionName", &detail).await?;
        Ok((out["completed"] == json!(true)).then_some(()))
    })
    .await
}

/// The incident's newest approval while it is still open to a decision.
pub async fn pending(stack: &Stack, id: &IncidentId) -> Result<Option<incident_core::approval::Approval>> {
    use incident_core::ports::Approvals;
    Ok(stack
        .store
        .latest(id)
        .await?
        .filter(|a| a.decision.is_none() && !a.expired))
}

pub async fn pending_offer(
    stack: &Stack,
    id: &IncidentId,
    offered: usize,
) -> Result<incident_core::approval::Approval> {
    eventually(&format!("an approval offering candidate {offered}"), WAIT, || async {
        Ok(pending(stack, id).await?.filter(|a| a.offered == offered))
    })
    .await
}
