//! The store's retry and dedup paths, which the local stack cannot provoke on demand, against
//! DynamoDB responses scripted with aws-smithy-mocks.

use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsError, TransactWriteItemsOutput};
use aws_sdk_dynamodb::types::error::{ResourceNotFoundException, TransactionCanceledException};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use chrono::Utc;
use incident_aws::catalog_store::CatalogStore;
use incident_aws::items::{to_item, DedupItem};
use incident_aws::store::Store;
use incident_aws::AwsError;
use incident_core::catalog::{Catalog, ServiceMatch};
use incident_core::correlation::{Outcome, Placement, Policy};
use incident_core::recording::Change;
use incident_core::signal::{Health, Signal, SignalSource};
use incident_core::{IncidentId, SignalKey};

fn signal() -> Signal {
    Signal {
        key: SignalKey::new("aws.cloudwatch", "evt-1"),
        source: SignalSource::Alarm,
        health: Health::Impaired,
        resource: "checkout-api-5xx".into(),
        at: Utc::now(),
        reason: "Threshold Crossed".into(),
        service_hint: None,
        exercise: false,
        live_runbooks: false,
        location: None,
        alarm: None,
        link: None,
        reporter: None,
        quiet: None,
        time_note: None,
        aws: None,
    }
}

fn checkout() -> ServiceMatch {
    ServiceMatch {
        service: "checkout".into(),
        known: true,
        how: "test".into(),
    }
}

fn canceled(code: &str) -> TransactWriteItemsError {
    TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder()
            .cancellation_reasons(CancellationReason::builder().code(code).build())
            .build(),
    )
}

fn is_dedup_read(req: &GetItemInput) -> bool {
    req.key()
        .and_then(|k| k.get("pk"))
        .and_then(|v| v.as_s().ok())
        .is_some_and(|pk| pk.starts_with("DEDUP#"))
}

#[tokio::test]
async fn a_version_conflict_is_retried_against_fresh_state() {
    let reads = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
    let writes = mock!(Client::transact_write_items)
        .sequence()
        .error(|| canceled("ConditionalCheckFailed"))
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&reads, &writes]);
    let store = Store::new(client, "Incidents");

    let recorded = store
        .record_signal(&checkout(), &signal(), &Policy::default())
        .await
        .unwrap();

    assert_eq!(writes.num_calls(), 2, "one conflict, one success");
    assert!(matches!(
        recorded.outcome,
        Outcome::Placed {
            placement: Placement::Opened { .. },
            ..
        }
    ));
    assert_eq!(recorded.start.len(), 1, "the opened incident's lifecycle must start");
}

#[tokio::test]
async fn losing_the_race_to_a_redelivery_is_a_duplicate_that_still_starts_the_loop_and_replays_its_merge() {
    let opened = IncidentId::for_service("checkout", &signal().key);
    let merged = IncidentId::for_service("checkout", &SignalKey::new("test", "later"));
    let merge = (merged.clone(), Change::MergeInto(opened.clone()));
    let seen = DedupItem {
        pk: format!("DEDUP#{}", signal().key),
        sk: "DEDUP".into(),
        incident: Some(opened.clone()),
        opened: vec![opened.clone()],
        stop: vec![merged.clone()],
        changes: vec![merge.clone()],
        ttl: 0,
    };
    let item = to_item(&seen).unwrap();
    let dedup = mock!(Client::get_item)
        .match_requests(is_dedup_read)
        .sequence()
        .output(|| GetItemOutput::builder().build())
        .output(move || GetItemOutput::builder().set_item(Some(item.clone())).build())
        .build();
    let state = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
    let writes = mock!(Client::transact_write_items).then_error(|| canceled("ConditionalCheckFailed"));
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&dedup, &state, &writes]);
    let store = Store::new(client, "Incidents");

    let recorded = store
        .record_signal(&checkout(), &signal(), &Policy::default())
        .await
        .unwrap();

    assert_eq!(recorded.outcome, Outcome::Duplicate);
    assert_eq!(recorded.start, vec![opened], "the loop is (re)started, idempotently");
    assert_eq!(
        recorded.stop,
        vec![merged],
        "the merged incident's loop is stopped again"
    );
    assert_eq!(recorded.changes, vec![merge], "the merge is written again until it is");
    assert_eq!(writes.num_calls(), 1);
}

#[tokio::test]
async fn endless_conflicts_give_up_with_a_retryable_contention_error() {
    let reads = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
    let writes = mock!(Client::transact_write_items)
        .sequence()
        .error(|| canceled("ConditionalCheckFailed"))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&reads, &writes]);
    let store = Store::new(client, "Incidents");

    let err = store
        .record_signal(&checkout(), &signal(), &Policy::default())
        .await
        .unwrap_err();

    assert!(matches!(err, AwsError::Contention(_)), "{err}");
    assert!(err.is_retryable());
    assert_eq!(writes.num_calls(), 8);
}

#[tokio::test]
async fn a_failure_that_is_not_a_conflict_is_returned_at_once() {
    let reads = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
    let writes = mock!(Client::transact_write_items).then_error(|| {
        TransactWriteItemsError::ResourceNotFoundException(
            ResourceNotFoundException::builder().message("no such table").build(),
        )
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&reads, &writes]);
    let store = Store::new(client, "Incidents");

    let err = store
        .record_signal(&checkout(), &signal(), &Policy::default())
        .await
        .unwrap_err();

    assert!(
        matches!(
            &err,
            AwsError::Service {
                operation: "TransactWriteItems",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(writes.num_calls(), 1);
}

#[tokio::test]
async fn catalog_import_resends_unprocessed_items_until_all_are_written() {
    let existing = mock!(Client::query).then_output(|| QueryOutput::builder().build());
    let unprocessed = || {
        let put = PutRequest::builder()
            .item("pk", AttributeValue::S("CATALOG".into()))
            .item("sk", AttributeValue::S("SETTINGS".into()))
            .build()
            .unwrap();
        BatchWriteItemOutput::builder()
            .unprocessed_items("Incidents", vec![WriteRequest::builder().put_request(put).build()])
            .build()
    };
    let batches = mock!(Client::batch_write_item)
        .sequence()
        .output(unprocessed)
        .output(|| BatchWriteItemOutput::builder().build())
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&existing, &batches]);
    let catalog: Catalog = serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).expect("catalog");

    let summary = CatalogStore::new(client, "Incidents").import(&catalog).await.unwrap();

    assert_eq!((summary.services, summary.teams, summary.removed), (7, 9, 0));
    // 32 items (settings, teams, services, people, the override, the account) are two chunks of
    // at most 25: the first answer leaves one unprocessed, so it is sent again before the second.
    assert_eq!(batches.num_calls(), 3);
}
