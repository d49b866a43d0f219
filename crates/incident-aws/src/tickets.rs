//! Tickets in SSM OpsCenter: one OpsItem for the postmortem and one per action item.
//!
//! OpsCenter deduplicates on the `/aws/dedup` operational data: creating an OpsItem whose dedup
//! string matches an open one returns that one, so a retried step never opens a second ticket.

use crate::AwsError;
use aws_sdk_ssm::types::{OpsItemDataType, OpsItemDataValue, OpsItemStatus, RelatedOpsItem};
use incident_core::ports::{PortResult, Tickets};
use incident_core::tickets::Ticket;
use serde_json::json;

/// The OpsItem `Source`: what created it.
pub const SOURCE: &str = "incident-loop";

#[derive(Clone, Debug)]
pub struct OpsCenter {
    client: crate::lazy_client::Lazy<aws_sdk_ssm::Client>,
}

impl OpsCenter {
    pub fn new(client: impl Into<crate::lazy_client::Lazy<aws_sdk_ssm::Client>>) -> Self {
        Self { client: client.into() }
    }
}

fn value(text: impl Into<String>, searchable: bool) -> OpsItemDataValue {
    OpsItemDataValue::builder()
        .value(text)
        .r#type(if searchable {
            OpsItemDataType::SearchableString
        } else {
            OpsItemDataType::String
        })
        .build()
}

impl Tickets for OpsCenter {
    async fn open(&self, ticket: &Ticket) -> PortResult<String> {
        let mut request = self
            .client
            .create_ops_item()
            .source(SOURCE)
            .title(&ticket.title)
            .description(&ticket.description)
            .category("Availability")
            .severity(ticket.severity.to_string())
            .priority(ticket.priority.into())
            .planned_end_time(aws_sdk_ssm::primitives::DateTime::from_secs(ticket.due.timestamp()))
            .operational_data(
                "/aws/dedup",
                value(json!({ "dedupString": ticket.dedup }).to_string(), false),
            );
        if !ticket.resources.is_empty() {
            let resources: Vec<_> = ticket.resources.iter().map(|arn| json!({ "arn": arn })).collect();
            request = request.operational_data("/aws/resources", value(json!(resources).to_string(), true));
        }
        for (key, text) in &ticket.data {
            request = request.operational_data(format!("incident-loop:{key}"), value(text, true));
        }
        for related in &ticket.related {
            request = request.related_ops_items(
                RelatedOpsItem::builder()
                    .ops_item_id(related)
                    .build()
                    .map_err(|e| AwsError::Config(format!("related OpsItem {related}: {e}")))?,
            );
        }
        let out = request.send().await.map_err(|e| AwsError::sdk("CreateOpsItem", e))?;
        out.ops_item_id()
            .map(str::to_string)
            .ok_or_else(|| AwsError::decode("CreateOpsItem", "no OpsItemId in the answer").into())
    }

    async fn resolve(&self, ticket_id: &str) -> PortResult<()> {
        self.client
            .update_ops_item()
            .ops_item_id(ticket_id)
            .status(OpsItemStatus::Resolved)
            .send()
            .await
            .map_err(|e| AwsError::sdk("UpdateOpsItem", e))?;
        Ok(())
    }
}
