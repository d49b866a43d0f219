//! Telling the world: the app's own EventBridge bus and the teams' SNS topics.

use crate::AwsError;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::Serialize;

/// The `source` of every event the app emits.
pub const APP_SOURCE: &str = "incident-loop";

/// Detail-types the app emits (DESIGN.md §4); users route them with ordinary EventBridge rules.
pub mod detail_type {
    pub const INCIDENT_OPENED: &str = "Incident Opened";
    pub const INCIDENT_ENGAGED: &str = "Incident Engaged";
    pub const INCIDENT_ESCALATED: &str = "Incident Escalated";
    pub const INCIDENT_ACKNOWLEDGED: &str = "Incident Acknowledged";
    pub const INCIDENT_RESOLVED: &str = "Incident Resolved";
    pub const APPROVAL_REQUESTED: &str = "Approval Requested";
    pub const RUNBOOK_STARTED: &str = "Runbook Started";
    pub const RUNBOOK_FINISHED: &str = "Runbook Finished";
    pub const INCIDENT_MITIGATED: &str = "Incident Mitigated";
    pub const POSTMORTEM_CREATED: &str = "Postmortem Created";
    pub const POSTMORTEM_COMPLETED: &str = "Postmortem Completed";
    pub const ACTION_ITEM_OVERDUE: &str = "Action Item Overdue";
    pub const CUSTOMER_UPDATE: &str = "Customer Update";
    pub const CUSTOMER_UPDATE_DUE: &str = "Customer Update Due";
}

#[derive(Clone, Debug)]
pub struct Bus {
    events: aws_sdk_eventbridge::Client,
    sns: aws_sdk_sns::Client,
    bus_name: String,
}

impl Bus {
    pub fn new(config: &aws_config::SdkConfig, bus_name: impl Into<String>) -> Self {
        Self {
            events: aws_sdk_eventbridge::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            bus_name: bus_name.into(),
        }
    }

    /// Publishes one app event; a partial failure reported by PutEvents is an error, not a shrug.
    pub async fn emit<T: Serialize>(&self, detail_type: &str, detail: &T) -> Result<(), AwsError> {
        let detail = serde_json::to_string(detail).map_err(|e| AwsError::decode("event detail", e))?;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(APP_SOURCE)
            .detail_type(detail_type)
            .detail(detail)
            .build();
        let out = self
            .events
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| AwsError::sdk("PutEvents", e))?;
        if out.failed_entry_count() > 0 {
            let why = out
                .entries()
                .iter()
                .filter_map(|e| e.error_message())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(AwsError::Service {
                operation: "PutEvents",
                message: why,
                code: None,
            });
        }
        Ok(())
    }

    /// Pages a team through its SNS topic.
    pub async fn page(&self, topic_arn: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        let subject: String = subject.chars().take(100).collect();
        self.sns
            .publish()
            .topic_arn(topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(|e| AwsError::sdk("Publish", e))?;
        Ok(())
    }
}
