//! Follow-ups of people's commands that other functions of the loop do: an evidence capture, a
//! COE publication. The command function invokes them; people are granted neither function.

use crate::AwsError;
use aws_sdk_lambda::primitives::Blob;
use incident_core::ports::{FollowUps, PortError, PortResult};
use incident_core::IncidentId;
use serde_json::{json, Value};

#[derive(Clone, Debug)]
pub struct Functions {
    client: crate::lazy_client::Lazy<aws_sdk_lambda::Client>,
    capture: String,
    postmortem: String,
}

impl Functions {
    pub fn new(config: &aws_config::SdkConfig, capture: impl Into<String>, postmortem: impl Into<String>) -> Self {
        Self {
            client: crate::lazy_client::Lazy::new(config, aws_sdk_lambda::Client::new),
            capture: capture.into(),
            postmortem: postmortem.into(),
        }
    }

    /// Invokes a function and returns its answer; a function error carries the function's message.
    async fn invoke(&self, function: &str, what: &str, payload: Value) -> PortResult<Value> {
        let answer = self
            .client
            .invoke()
            .function_name(function)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| AwsError::sdk("Invoke", e))?;
        let body: Value = answer
            .payload()
            .map(|b| serde_json::from_slice(b.as_ref()))
            .transpose()
            .map_err(|e| AwsError::decode("function answer", e))?
            .unwrap_or_default();
        if answer.function_error().is_some() {
            let message = body["errorMessage"].as_str().unwrap_or("no message");
            let failed = format!("the {what} failed: {message}");
            return Err(match body["errorType"].as_str() {
                Some("Retryable") => PortError::Transient(failed),
                _ => PortError::Invalid(failed),
            });
        }
        Ok(body)
    }
}

impl FollowUps for Functions {
    async fn capture(&self, id: &IncidentId) -> PortResult<Value> {
        let payload = json!({ "incident_id": id, "moment": "closing" });
        self.invoke(&self.capture, "evidence capture", payload).await
    }

    async fn publish(&self, id: &IncidentId) -> PortResult<Value> {
        let payload = json!({ "action": "publish", "incident_id": id });
        self.invoke(&self.postmortem, "COE publication", payload).await
    }
}
