//! The dead-letter queue of rejected events: an event that can never become a signal is kept there
//! whole, with the reason, instead of being retried or dropped.

use crate::AwsError;
use aws_sdk_sqs::types::MessageAttributeValue;

#[derive(Clone, Debug)]
pub struct Rejects {
    client: crate::lazy_client::Lazy<aws_sdk_sqs::Client>,
    queue_url: String,
}

impl Rejects {
    pub fn new(config: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self {
            client: crate::lazy_client::Lazy::new(config, aws_sdk_sqs::Client::new),
            queue_url: queue_url.into(),
        }
    }

    /// Sends the raw event with its reason (in the body and as message attributes).
    pub async fn reject(&self, event: &serde_json::Value, error_type: &str, reason: &str) -> Result<(), AwsError> {
        let body = serde_json::json!({ "error_type": error_type, "reason": reason, "event": event });
        let attr = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
        };
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body.to_string())
            .message_attributes(
                "error_type",
                attr(error_type).map_err(|e| AwsError::decode("attribute", e))?,
            )
            .message_attributes("reason", attr(reason).map_err(|e| AwsError::decode("attribute", e))?)
            .send()
            .await
            .map_err(|e| AwsError::sdk("SendMessage", e))?;
        Ok(())
    }
}
