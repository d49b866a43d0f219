//! Evidence where the incident happened: this account's sources, the same credentials in another
//! region, or a member account's through the role the forwarder template creates there (assumed
//! with the stack's external id). Each account and region is reached once per function instance.

use super::AwsSources;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use incident_core::account::Location;
use incident_core::ports::{EvidenceAccounts, PortError, PortResult};
use std::collections::HashMap;
use tokio::sync::Mutex;

/// The role the loop assumes in a member account, and the external id it names.
#[derive(Clone, Debug)]
pub struct MemberRole {
    pub name: String,
    pub external_id: String,
}

impl MemberRole {
    /// From `MEMBER_ROLE_NAME` and `MEMBER_EXTERNAL_ID`; none when either is empty (the stack
    /// captures in its own account only).
    pub fn from_env() -> Option<Self> {
        let name = std::env::var("MEMBER_ROLE_NAME").unwrap_or_default();
        let external_id = std::env::var("MEMBER_EXTERNAL_ID").unwrap_or_default();
        (!name.is_empty() && !external_id.is_empty()).then_some(MemberRole { name, external_id })
    }
}

pub struct AwsAccounts {
    config: SdkConfig,
    home: AwsSources,
    /// This stack's account (`HOME_ACCOUNT_ID`); unknown, every account counts as this one.
    home_account: Option<String>,
    member: Option<MemberRole>,
    reached: Mutex<HashMap<(String, String), AwsSources>>,
}

/// The partition of a region's ARNs.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

impl AwsAccounts {
    pub fn new(config: &SdkConfig, home_account: Option<String>, member: Option<MemberRole>) -> Self {
        Self {
            config: config.clone(),
            home: AwsSources::new(config),
            home_account: home_account.filter(|a| !a.is_empty()),
            member,
            reached: Mutex::new(HashMap::new()),
        }
    }

    fn is_home(&self, account: &str) -> bool {
        self.home_account.as_deref().is_none_or(|home| home == account)
    }

    /// Credentials for a member account: its role, assumed now so that a refusal is said here, in
    /// one line, rather than by every source.
    async fn member_credentials(&self, at: &Location) -> PortResult<SharedCredentialsProvider> {
        let Some(member) = &self.member else {
            return Err(PortError::Invalid(format!(
                "account {} is not this stack's, and no member role is configured (MemberExternalId)",
                at.account
            )));
        };
        let role = format!("arn:{}:iam::{}:role/{}", partition(&at.region), at.account, member.name);
        let provider = AssumeRoleProvider::builder(role.clone())
            .external_id(member.external_id.clone())
            .session_name("incident-loop-evidence")
            .configure(&self.config)
            .build()
            .await;
        if let Err(e) = provider.provide_credentials().await {
            let why = aws_smithy_types::error::display::DisplayErrorContext(&e).to_string();
            return Err(PortError::Invalid(format!(
                "cannot assume {role}: {}",
                incident_core::text::line(&why, 300)
            )));
        }
        Ok(SharedCredentialsProvider::new(provider))
    }
}

impl EvidenceAccounts for AwsAccounts {
    type Sources = AwsSources;

    async fn sources(&self, location: Option<&Location>) -> PortResult<AwsSources> {
        let Some(at) = location else {
            return Ok(self.home.clone());
        };
        let home_region = self.config.region().map(|r| r.as_ref().to_string());
        if self.is_home(&at.account) && home_region.as_deref() == Some(at.region.as_str()) {
            return Ok(self.home.clone());
        }
        let key = (at.account.clone(), at.region.clone());
        let mut reached = self.reached.lock().await;
        if let Some(sources) = reached.get(&key) {
            return Ok(sources.clone());
        }
        let mut builder = self.config.to_builder().region(Region::new(at.region.clone()));
        if !self.is_home(&at.account) {
            builder = builder.credentials_provider(self.member_credentials(at).await?);
        }
        let sources = AwsSources::new(&builder.build());
        reached.insert(key, sources.clone());
        Ok(sources)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(account: &str, region: &str) -> Location {
        Location::of(Some(account), Some(region)).unwrap().unwrap()
    }

    #[tokio::test]
    async fn another_account_without_a_member_role_is_refused_in_one_line() {
        let config = SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let accounts = AwsAccounts::new(&config, Some("000000000000".into()), None);
        let refused = accounts
            .sources(Some(&location("111111111111", "us-east-1")))
            .await
            .expect_err("no member role");
        assert_eq!(
            refused.to_string(),
            "account 111111111111 is not this stack's, and no member role is configured (MemberExternalId)"
        );
        // This account, in this region or another: reached with the stack's own credentials.
        assert!(accounts
            .sources(Some(&location("000000000000", "us-east-1")))
            .await
            .is_ok());
        assert!(accounts
            .sources(Some(&location("000000000000", "eu-west-1")))
            .await
            .is_ok());
        assert_eq!(accounts.reached.lock().await.len(), 1, "another region is reached once");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}
