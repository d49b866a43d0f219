//! The evidence adapters against scripted service responses: paging, the alarm's own period and
//! statistic, waiting for a Logs Insights query, and which failures are worth a retry.

use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput;
use aws_sdk_cloudtrail::types::Event;
use aws_sdk_cloudwatch::operation::describe_alarm_history::DescribeAlarmHistoryOutput;
use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataInput, GetMetricDataOutput};
use aws_sdk_cloudwatch::types::{AlarmHistoryItem, MetricDataResult};
use aws_sdk_cloudwatchlogs::operation::get_query_results::GetQueryResultsOutput;
use aws_sdk_cloudwatchlogs::operation::start_query::StartQueryOutput;
use aws_sdk_cloudwatchlogs::types::{QueryStatus, ResultField};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::types::error::NoSuchKey;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::DateTime as SmithyTime;
use chrono::{TimeDelta, Utc};
use incident_aws::evidence::{AwsSources, S3Evidence};
use incident_core::change::ChangeKind;
use incident_core::evidence::{AlarmRef, Window};
use incident_core::ports::{EvidenceSources, EvidenceStore, PortError};
use incident_core::signal::AlarmMetric;
use std::collections::BTreeMap;

fn window() -> Window {
    Window::around(Utc::now() - TimeDelta::minutes(10), TimeDelta::minutes(60), Utc::now())
}

fn sources(cloudwatch: &[&Rule], logs: &[&Rule], cloudtrail: &[&Rule]) -> AwsSources {
    let mut s = AwsSources::from_clients(
        mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, cloudwatch),
        mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, logs),
        mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, cloudtrail),
    );
    s.logs_poll = std::time::Duration::from_secs(5);
    s
}

fn alarm(id: &str, period: u32, stat: &str) -> AlarmRef {
    AlarmRef {
        name: "checkout-api-5xx".into(),
        metrics: vec![AlarmMetric {
            id: id.into(),
            namespace: Some("AWS/ApplicationELB".into()),
            name: Some("HTTPCode_Target_5XX_Count".into()),
            dimensions: BTreeMap::from([("LoadBalancer".into(), "app/shop/1".into())]),
            expression: None,
            stat: Some(stat.into()),
            period: Some(period),
        }],
    }
}

#[tokio::test]
async fn alarm_history_is_read_page_by_page() {
    let item = |s: &str| {
        AlarmHistoryItem::builder()
            .alarm_name("checkout-api-5xx")
            .history_summary(s)
            .build()
    };
    let history = mock!(aws_sdk_cloudwatch::Client::describe_alarm_history)
        .sequence()
        .output(move || {
            DescribeAlarmHistoryOutput::builder()
                .alarm_history_items(item("OK to ALARM"))
                .next_token("page-2")
                .build()
        })
        .output(move || {
            DescribeAlarmHistoryOutput::builder()
                .alarm_history_items(item("ALARM to OK"))
                .build()
        })
        .build();
    let got = sources(&[&history], &[], &[])
        .alarm_history(&[alarm("m1", 60, "Sum")], &window(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(history.num_calls(), 2);
    let summaries: Vec<_> = got
        .items
        .iter()
        .map(|i| i["summary"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(summaries, ["OK to ALARM", "ALARM to OK"]);
    assert!(got.query.contains("checkout-api-5xx"));
}

#[tokio::test]
async fn metric_data_asks_at_the_alarms_own_period_and_statistic_and_pages() {
    let asked_right = |req: &GetMetricDataInput| {
        let q = &req.metric_data_queries()[0];
        let stat = q.metric_stat().unwrap();
        q.id() == Some("q0") && stat.period() == Some(300) && stat.stat() == Some("p99")
    };
    let result = |v: f64| {
        MetricDataResult::builder()
            .id("q0")
            .timestamps(SmithyTime::from_secs(1_700_000_000))
            .values(v)
            .build()
    };
    let data = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(asked_right)
        .sequence()
        .output(move || {
            GetMetricDataOutput::builder()
                .metric_data_results(result(1.0))
                .next_token("more")
                .build()
        })
        .output(move || GetMetricDataOutput::builder().metric_data_results(result(2.0)).build())
        .build();
    let uuid_id = alarm("30b6c6b2-a864-43a2-4877-c09a1afc3b87", 300, "p99");
    let got = sources(&[&data], &[], &[])
        .metric_data(&[uuid_id], &window(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(
        data.num_calls(),
        2,
        "both pages, with the UUID metric id renamed to a valid query id"
    );
    assert_eq!(got.items.len(), 2);
    assert_eq!(got.items[1]["points"][0]["v"], 2.0);
}

#[tokio::test]
async fn logs_insights_waits_for_the_query_and_keeps_each_row() {
    let start = mock!(aws_sdk_cloudwatchlogs::Client::start_query)
        .then_output(|| StartQueryOutput::builder().query_id("q-1").build());
    let row = || vec![ResultField::builder().field("@message").value("ERROR boom").build()];
    let results = mock!(aws_sdk_cloudwatchlogs::Client::get_query_results)
        .sequence()
        .output(|| GetQueryResultsOutput::builder().status(QueryStatus::Running).build())
        .output(move || {
            GetQueryResultsOutput::builder()
                .status(QueryStatus::Complete)
                .results(row())
                .build()
        })
        .build();
    let groups = vec!["/app/checkout".to_string()];
    let queries = vec!["fields @message".to_string()];
    let got = sources(&[], &[&start, &results], &[])
        .logs(&groups, &queries, &window(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(results.num_calls(), 2);
    assert_eq!(got.items[0]["row"]["@message"], "ERROR boom");
}

#[tokio::test]
async fn a_missing_log_group_is_a_permanent_failure_not_retried() {
    let body = r#"{"__type":"ResourceNotFoundException","message":"The specified log group does not exist"}"#;
    let start = mock!(aws_sdk_cloudwatchlogs::Client::start_query)
        .sequence()
        .http_status(400, Some(body.to_string()))
        .build();
    let groups = vec!["/app/nope".to_string()];
    let err = sources(&[], &[&start], &[])
        .logs(&groups, &["q".into()], &window(), 1 << 20)
        .await
        .unwrap_err();
    assert!(
        matches!(err, PortError::Invalid(ref m) if m.contains("log group does not exist")),
        "{err:?}"
    );
}

#[tokio::test]
async fn throttling_is_transient_and_access_denied_is_permanent() {
    let body = |t: &str| Some(format!(r#"{{"__type":"{t}","message":"no"}}"#));
    let throttled = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .sequence()
        .http_status(400, body("ThrottlingException"))
        .build();
    let err = sources(&[], &[], &[&throttled])
        .changes(&window(), 1 << 20)
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Transient(_)), "{err:?}");

    let denied = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .sequence()
        .http_status(400, body("AccessDeniedException"))
        .build();
    let err = sources(&[], &[], &[&denied])
        .changes(&window(), 1 << 20)
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Invalid(_)), "{err:?}");
}

#[tokio::test]
async fn changes_are_normalised_with_deployments_told_apart() {
    let event = |name: &str, source: &str, secs: i64| {
        Event::builder()
            .event_name(name)
            .event_source(source)
            .username("deployer")
            .event_time(SmithyTime::from_secs(Utc::now().timestamp() - secs))
            .build()
    };
    let trail = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_output(move || {
        LookupEventsOutput::builder()
            .events(event("PutBucketPolicy", "s3.amazonaws.com", 60))
            .events(event("UpdateFunctionCode20150331v2", "lambda.amazonaws.com", 300))
            .build()
    });
    let got = sources(&[], &[], &[&trail]).changes(&window(), 1 << 20).await.unwrap();
    let kinds: Vec<ChangeKind> = got
        .items
        .iter()
        .map(|i| serde_json::from_value(i["kind"].clone()).unwrap())
        .collect();
    assert_eq!(
        kinds,
        [ChangeKind::ApiCall, ChangeKind::LambdaDeployment],
        "newest first"
    );
    assert_eq!(got.items[1]["actor"], "deployer");
}

#[tokio::test]
async fn a_missing_evidence_object_reads_as_none() {
    let get =
        mock!(aws_sdk_s3::Client::get_object).then_error(|| GetObjectError::NoSuchKey(NoSuchKey::builder().build()));
    let store = S3Evidence::new(mock_client!(aws_sdk_s3, [&get]), "bucket");
    assert_eq!(store.get("evidence/x/manifest.json").await.unwrap(), None);
}
