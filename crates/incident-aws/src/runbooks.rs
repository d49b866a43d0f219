//! Mitigation runbooks on SSM Automation: start with an idempotent client token, then poll — in
//! this account and region, or in a member account through its runbook role ([`crate::places`]),
//! where the runbooks stack deployed there runs them as its own role.

use crate::places::{member_automation_role, MemberRole, Places, Purpose};
use crate::AwsError;
use aws_config::SdkConfig;
use aws_sdk_ssm::types::AutomationExecutionStatus as Status;
use incident_core::account::{Home, Location};
use incident_core::mitigation::RunbookStatus;
use incident_core::ports::{PortResult, RunbookRunner};
use std::collections::{BTreeMap, HashMap};

pub struct SsmRunbooks {
    places: Places<aws_sdk_ssm::Client>,
    /// Passed to every runbook here as AutomationAssumeRole (the runbooks stack's role).
    assume_role: String,
}

impl SsmRunbooks {
    /// Runbooks in this account and region only.
    pub fn new(client: aws_sdk_ssm::Client, assume_role: impl Into<String>) -> Self {
        Self::reaching(
            client,
            &SdkConfig::builder().build(),
            Home::default(),
            None,
            assume_role,
        )
    }

    /// Runbooks here with `client`, and in the member accounts `member` reaches; `home` is the
    /// stack's account and region, the same the core placed the runbook with.
    pub fn reaching(
        client: aws_sdk_ssm::Client,
        config: &SdkConfig,
        home: Home,
        member: Option<MemberRole>,
        assume_role: impl Into<String>,
    ) -> Self {
        Self {
            places: Places::new(
                config,
                client,
                home,
                member,
                Purpose::Runbooks,
                aws_sdk_ssm::Client::new,
            ),
            assume_role: assume_role.into(),
        }
    }

    /// The role a runbook runs as where it starts.
    fn automation_role(&self, at: Option<&Location>) -> String {
        match (at.filter(|l| !self.places.home().holds(Some(l))), self.places.member()) {
            (Some(at), Some(member)) => member_automation_role(member, at),
            _ => self.assume_role.clone(),
        }
    }
}

impl RunbookRunner for SsmRunbooks {
    fn reaches_members(&self) -> bool {
        self.places.member().is_some()
    }

    async fn start(
        &self,
        at: Option<&Location>,
        document: &str,
        parameters: &BTreeMap<String, String>,
        client_token: &str,
    ) -> PortResult<String> {
        if let Some((name, value)) = parameters.iter().find(|(_, v)| v.starts_with('<') && v.ends_with('>')) {
            return Err(AwsError::Rejected(format!("parameter {name} still needs a value: {value}")).into());
        }
        let mut params: HashMap<String, Vec<String>> =
            parameters.iter().map(|(k, v)| (k.clone(), vec![v.clone()])).collect();
        params.insert("AutomationAssumeRole".into(), vec![self.automation_role(at)]);
        let out = self
            .places
            .at(at)
            .await?
            .start_automation_execution()
            .document_name(document)
            .set_parameters(Some(params))
            .client_token(client_token)
            .send()
            .await
            .map_err(|e| AwsError::sdk("StartAutomationExecution", e))?;
        Ok(out.automation_execution_id.unwrap_or_default())
    }

    async fn status(&self, at: Option<&Location>, execution_id: &str) -> PortResult<RunbookStatus> {
        let out = self
            .places
            .at(at)
            .await?
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
