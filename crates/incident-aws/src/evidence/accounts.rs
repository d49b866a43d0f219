//! Evidence where the incident happened: this account's sources, the same credentials in another
//! region, or a member account's through the role the forwarder template creates there (assumed
//! with the stack's external id). Each account and region is reached once per function instance,
//! and a member account again when its session nears its end.

use super::AwsSources;
use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;
use incident_core::account::{Home, Location};
use incident_core::ports::{EvidenceAccounts, PortError, PortResult};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;

/// A member account's session is assumed again when it has less than this left.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// The role the loop assumes in a member account (`<name>-<region>`), and the external id it names.
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
    sources: AwsSources,
    /// This stack's account (`HOME_ACCOUNT_ID`) and the configuration's region.
    home: Home,
    member: Option<MemberRole>,
    reached: Mutex<HashMap<(String, String), Reached>>,
}

/// The sources of an account and region reached, and when their credentials end (never, for this
/// account's own).
type Reached = (AwsSources, Option<SystemTime>);

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
            sources: AwsSources::new(config),
            home: Home::new(home_account, config.region().map(|r| r.to_string())),
            member,
            reached: Mutex::new(HashMap::new()),
        }
    }

    /// A member account's role, assumed with the external id; a refusal is said in one line.
    async fn assume(&self, at: &Location) -> PortResult<Credentials> {
        let Some(member) = &self.member else {
            return Err(PortError::Invalid(format!(
                "account {} is not this stack's, and no member role is configured (MemberExternalId)",
                at.account
            )));
        };
        // The forwarder names each region's role for it (IAM names are global).
        let role = format!(
            "arn:{}:iam::{}:role/{}-{}",
            partition(&at.region),
            at.account,
            member.name,
            at.region
        );
        let answer = aws_sdk_sts::Client::new(&self.config)
            .assume_role()
            .role_arn(&role)
            .role_session_name("incident-loop-evidence")
            .external_id(&member.external_id)
            .send()
            .await;
        let out = answer.map_err(|e| {
            let err = crate::AwsError::sdk("AssumeRole", e);
            let why = match &err {
                crate::AwsError::Service { message, .. } => message.clone(),
                other => other.to_string(),
            };
            let why = format!("cannot assume {role}: {}", incident_core::text::line(&why, 300));
            if err.is_retryable() {
                PortError::Transient(why)
            } else {
                PortError::Invalid(why)
            }
        })?;
        let c = out
            .credentials()
            .ok_or_else(|| PortError::Invalid(format!("STS returned no credentials for {role}")))?;
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            expiry,
            "incident-loop-member",
        ))
    }
}

impl EvidenceAccounts for AwsAccounts {
    type Sources = AwsSources;

    async fn sources(&self, location: Option<&Location>) -> PortResult<AwsSources> {
        let Some(at) = location.filter(|l| !self.home.holds(Some(l))) else {
            return Ok(self.sources.clone());
        };
        let key = (at.account.clone(), at.region.clone());
        let mut reached = self.reached.lock().await;
        let fresh = |until: &Option<SystemTime>| {
            until.is_none_or(|t| {
                t.duration_since(SystemTime::now())
                    .is_ok_and(|left| left > RENEW_BEFORE)
            })
        };
        if let Some((sources, _)) = reached.get(&key).filter(|(_, until)| fresh(until)) {
            return Ok(sources.clone());
        }
        let mut builder = self.config.to_builder().region(Region::new(at.region.clone()));
        let mut until = None;
        if !self.home.is_home_account(&at.account) {
            let credentials = self.assume(at).await?;
            until = credentials.expiry();
            builder = builder.credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
                credentials,
            ));
        }
        let sources = AwsSources::new(&builder.build());
        reached.insert(key, (sources.clone(), until));
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
