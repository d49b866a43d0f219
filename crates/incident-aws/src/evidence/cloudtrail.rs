//! Recent changes from CloudTrail: every write API call in the window, with deployments
//! (stack updates, Lambda code and aliases, ECS services, CodeDeploy) told apart.

use super::{chrono_time, smithy_time};
use crate::AwsError;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use incident_core::change::{sort_changes, Change, ChangeKind, Origin};
use incident_core::evidence::{Collected, Window};
use serde_json::Value;

pub(super) async fn changes(
    client: &aws_sdk_cloudtrail::Client,
    window: &Window,
    cap: usize,
) -> Result<Collected, AwsError> {
    let read_only = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::ReadOnly)
        .attribute_value("false")
        .build()
        .map_err(|e| AwsError::decode("lookup attribute", e))?;
    let mut changes = Vec::new();
    let mut token = None;
    let mut budget = Collected::new(String::new(), cap);
    loop {
        let page = client
            .lookup_events()
            .lookup_attributes(read_only.clone())
            .start_time(smithy_time(window.from))
            .end_time(smithy_time(window.to))
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::sdk("LookupEvents", e))?;
        for e in page.events() {
            let detail: Value = e
                .cloud_trail_event()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or(Value::Null);
            let source = e.event_source().unwrap_or_default();
            let name = e.event_name().unwrap_or_default();
            let resource = e
                .resources()
                .iter()
                .filter_map(|r| r.resource_name())
                .next()
                .map(str::to_string)
                .or_else(|| detail["requestParameters"]["functionName"].as_str().map(str::to_string))
                .unwrap_or_default();
            let change = Change {
                at: e.event_time().and_then(chrono_time).unwrap_or(window.to),
                kind: ChangeKind::of(source, name),
                actor: e.username().unwrap_or("unknown").to_string(),
                summary: format!("{name} ({source})"),
                link: e.event_id().map(|id| format!("cloudtrail:event/{id}")),
                resource,
                origin: Origin::CloudTrail,
                id: detail["requestID"].as_str().map(str::to_string),
                outcome: None,
                location: None,
            };
            if !budget.push(serde_json::to_value(&change).unwrap_or(Value::Null)) {
                break;
            }
            changes.push(change);
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() || budget.is_full() {
            break;
        }
    }
    sort_changes(&mut changes);
    let mut out = Collected::new("CloudTrail LookupEvents ReadOnly=false", cap);
    for c in changes {
        out.push(serde_json::to_value(&c).unwrap_or(Value::Null));
    }
    out.dropped += budget.dropped;
    Ok(out)
}
