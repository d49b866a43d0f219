//! Telling the world: the app's own EventBridge bus and the teams' SNS topics.

use crate::AwsError;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use incident_core::app_event::AppEvent;
use incident_core::event::{CustomerReport, CUSTOMER_REPORT, CUSTOMER_SOURCE};
use incident_core::ports::{PortResult, ReportIntake};
use serde_json::Value;

/// The `source` of every event the app emits.
pub const APP_SOURCE: &str = "incident-loop";

#[derive(Clone, Debug)]
pub struct Bus {
    events: aws_sdk_eventbridge::Client,
    sns: aws_sdk_sns::Client,
    bus_name: String,
    /// The number texts are sent from (`SMS_ORIGINATION_NUMBER`): the one whose two-way channel
    /// delivers replies to the replies topic. Unset, SNS picks one, and replies may go nowhere.
    sms_origination: Option<String>,
}

impl Bus {
    pub fn new(config: &aws_config::SdkConfig, bus_name: impl Into<String>) -> Self {
        Self {
            events: aws_sdk_eventbridge::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            sms_origination: std::env::var("SMS_ORIGINATION_NUMBER")
                .ok()
                .filter(|n| !n.trim().is_empty()),
            bus_name: bus_name.into(),
        }
    }

    /// Publishes one app event; a partial failure reported by PutEvents is an error, not a shrug.
    pub async fn emit(&self, event: &AppEvent) -> Result<(), AwsError> {
        self.put(&self.bus_name, APP_SOURCE, event.detail_type(), &event.detail())
            .await
    }

    /// Puts one event on `bus` (a name, or `default`).
    pub(crate) async fn put(&self, bus: &str, source: &str, detail_type: &str, detail: &Value) -> Result<(), AwsError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source(source)
            .detail_type(detail_type)
            .detail(detail.to_string())
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

    /// Pages a team through its SNS topic. The subject is made one line under 100 characters
    /// whatever the caller built, as SNS requires.
    pub async fn page(&self, topic_arn: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        let subject = incident_core::text::subject(subject);
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

    /// Texts a person's phone through SNS, as a transactional message (delivered at once, even to
    /// numbers that opted out of promotional ones).
    pub async fn text(&self, number: &str, message: &str) -> Result<(), AwsError> {
        use aws_sdk_sns::types::MessageAttributeValue;
        let transactional = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .map_err(|e| AwsError::Rejected(format!("SMS attribute: {e}")))?;
        let mut publish = self
            .sns
            .publish()
            .phone_number(number)
            .message(message)
            .message_attributes("AWS.SNS.SMS.SMSType", transactional);
        if let Some(origination) = &self.sms_origination {
            let from = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(origination)
                .build()
                .map_err(|e| AwsError::Rejected(format!("SMS attribute: {e}")))?;
            publish = publish.message_attributes("AWS.MM.SMS.OriginationNumber", from);
        }
        publish.send().await.map_err(|e| AwsError::sdk("Publish", e))?;
        Ok(())
    }
}

/// Customer reports go on the loop's own bus, where only the loop may put them and ingest's second
/// rule reads them.
impl ReportIntake for Bus {
    async fn submit(&self, report: &CustomerReport) -> PortResult<()> {
        let detail = serde_json::to_value(report).map_err(|e| AwsError::decode("customer report", e))?;
        Ok(self
            .put(&self.bus_name, CUSTOMER_SOURCE, CUSTOMER_REPORT, &detail)
            .await?)
    }
}
