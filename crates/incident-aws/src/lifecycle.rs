//! The incident lifecycle state machine: starting it, and completing its callbacks.

use crate::AwsError;
use aws_sdk_sfn::Client;
use incident_core::IncidentId;
use serde_json::json;

#[derive(Clone, Debug)]
pub struct Lifecycle {
    client: Client,
    state_machine_arn: String,
}

impl Lifecycle {
    pub fn new(config: &aws_config::SdkConfig, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// Starts the lifecycle of an incident. The execution name is the incident id and the input is
    /// a function of it alone, so a second start (redelivery) is refused or returns the same run.
    pub async fn start(&self, id: &IncidentId) -> Result<(), AwsError> {
        let input = json!({ "incident_id": id }).to_string();
        let res = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(id.as_str())
            .input(input)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_already_exists()) => Ok(()),
            Err(e) => Err(AwsError::sdk("StartExecution", e)),
        }
    }

    /// Stops the lifecycle of an incident that was merged into another.
    pub async fn stop(&self, id: &IncidentId, cause: &str) -> Result<(), AwsError> {
        let arn = self.execution_arn(id);
        let res = self
            .client
            .stop_execution()
            .execution_arn(arn)
            .cause(cause)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => Ok(()),
            Err(e) => Err(AwsError::sdk("StopExecution", e)),
        }
    }

    fn execution_arn(&self, id: &IncidentId) -> String {
        format!(
            "{}:{}",
            self.state_machine_arn.replacen(":stateMachine:", ":execution:", 1),
            id
        )
    }
}

/// Completes the lifecycle's waiting tasks with the tokens kept in the decisions table.
#[derive(Clone, Debug)]
pub struct Callbacks {
    client: Client,
}

impl Callbacks {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }

    /// Completes a waiting task. `Ok(false)` when the task is already gone (timed out or done).
    pub async fn complete(&self, token: &str, output: &serde_json::Value) -> Result<bool, AwsError> {
        let res = self
            .client
            .send_task_success()
            .task_token(token)
            .output(output.to_string())
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_task_does_not_exist() || s.is_task_timed_out()) =>
            {
                Ok(false)
            }
            Err(e) => Err(AwsError::sdk("SendTaskSuccess", e)),
        }
    }
}
