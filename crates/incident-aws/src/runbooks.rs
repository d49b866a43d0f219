//! Mitigation runbooks on SSM Automation: start with an idempotent client token, then poll.

use crate::AwsError;
use aws_sdk_ssm::types::AutomationExecutionStatus as Status;
use incident_core::mitigation::RunbookStatus;
use incident_core::ports::{PortResult, RunbookRunner};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug)]
pub struct SsmRunbooks {
    client: aws_sdk_ssm::Client,
    /// Passed to every runbook as AutomationAssumeRole (the runbooks stack's role).
    assume_role: String,
}

impl SsmRunbooks {
    pub fn new(client: aws_sdk_ssm::Client, assume_role: impl Into<String>) -> Self {
        Self {
            client,
            assume_role: assume_role.into(),
        }
    }
}

impl RunbookRunner for SsmRunbooks {
    async fn start(
        &self,
        document: &str,
        parameters: &BTreeMap<String, String>,
        client_token: &str,
    ) -> PortResult<String> {
        if let Some((name, value)) = parameters.iter().find(|(_, v)| v.starts_with('<') && v.ends_with('>')) {
            return Err(AwsError::Rejected(format!("parameter {name} still needs a value: {value}")).into());
        }
        let mut params: HashMap<String, Vec<String>> =
            parameters.iter().map(|(k, v)| (k.clone(), vec![v.clone()])).collect();
        params.insert("AutomationAssumeRole".into(), vec![self.assume_role.clone()]);
        let out = self
            .client
            .start_automation_execution()
            .document_name(document)
            .set_parameters(Some(params))
            .client_token(client_token)
            .send()
            .await
            .map_err(|e| AwsError::sdk("StartAutomationExecution", e))?;
        Ok(out.automation_execution_id.unwrap_or_default())
    }

    async fn status(&self, execution_id: &str) -> PortResult<RunbookStatus> {
        let out = self
            .client
            .get_automation_execution()
            .automation_execution_id(execution_id)
            .send()
            .await
            .map_err(|e| AwsError::sdk("GetAutomationExecution", e))?;
        let execution = out
            .automation_execution
            .unwrap_or_else(|| aws_sdk_ssm::types::AutomationExecution::builder().build());
        let reason = execution.failure_message.clone().unwrap_or_default();
        Ok(match execution.automation_execution_status {
            Some(Status::Success) => RunbookStatus::Success {
                outputs: execution.outputs.unwrap_or_default().into_iter().collect(),
            },
            Some(Status::Failed) => RunbookStatus::Failed { reason },
            Some(Status::Timedout) => RunbookStatus::TimedOut { reason },
            Some(Status::Cancelled) => RunbookStatus::Cancelled { reason },
            other => RunbookStatus::Running {
                detail: other.map(|s| s.as_str().to_string()).unwrap_or_default(),
            },
        })
    }
}
