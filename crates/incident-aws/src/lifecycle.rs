//! The incident lifecycle state machine: starting it, and completing its callbacks.

use crate::lazy_client::Lazy;
use crate::AwsError;
use aws_sdk_sfn::Client;
use incident_core::reconcile::{run_name, RunState};
use incident_core::IncidentId;
use serde_json::json;

#[derive(Clone, Debug)]
pub struct Lifecycle {
    client: Lazy<Client>,
    state_machine_arn: String,
}

impl Lifecycle {
    pub fn new(config: &aws_config::SdkConfig, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client: Lazy::new(config, Client::new),
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// Starts run `run` of an incident's lifecycle. The execution name is the run's
    /// ([`run_name`]) and the input is the incident id alone, so a second start (redelivery, two
    /// reconcilers) is refused or returns the same run.
    pub async fn start(&self, id: &IncidentId, run: u32) -> Result<(), AwsError> {
        let input = json!({ "incident_id": id }).to_string();
        let res = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(run_name(id, run))
            .input(input)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_already_exists()) => Ok(()),
            Err(e) => Err(AwsError::sdk("StartExecution", e)),
        }
    }

    /// Stops a run of the lifecycle of an incident that was merged into another.
    pub async fn stop(&self, id: &IncidentId, run: u32, cause: &str) -> Result<(), AwsError> {
        let arn = self.execution_arn(id, run);
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

    /// Where run `run` stands; [`RunState::Missing`] when it was never started.
    pub async fn state(&self, id: &IncidentId, run: u32) -> Result<RunState, AwsError> {
        use aws_sdk_sfn::types::ExecutionStatus as S;
        let res = self
            .client
            .describe_execution()
            .execution_arn(self.execution_arn(id, run))
            .send()
            .await;
        let status = match res {
            Ok(out) => out.status,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => {
                return Ok(RunState::Missing)
            }
            Err(e) => return Err(AwsError::sdk("DescribeExecution", e)),
        };
        Ok(match status {
            S::Running | S::PendingRedrive => RunState::Running,
            S::Succeeded => RunState::Succeeded,
            S::TimedOut => RunState::TimedOut,
            S::Aborted => RunState::Aborted,
            _ => RunState::Failed,
        })
    }

    fn execution_arn(&self, id: &IncidentId, run: u32) -> String {
        format!(
            "{}:{}",
            self.state_machine_arn.replacen(":stateMachine:", ":execution:", 1),
            run_name(id, run)
        )
    }
}

/// Completes the lifecycle's waiting tasks with the tokens kept in the decisions table.
#[derive(Clone, Debug)]
pub struct Callbacks {
    client: Lazy<Client>,
}

impl Callbacks {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Lazy::new(config, Client::new),
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
