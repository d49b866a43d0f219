//! Clients where an incident happened: this account's own, the same credentials in another region,
//! or a member account's through a role the forwarder template creates there (assumed with the
//! stack's external id). Each account and region is reached once per function instance, and a
//! member account again when its session nears its end. Evidence capture and the runbooks each
//! assume a role of their own, which only that function may assume (the member's trust policies;
//! the capture function's own policy also denies it the runbook roles).

use crate::AwsError;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use incident_core::account::{Home, Location};
use incident_core::ports::{PortError, PortResult};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;

/// A member account's session is assumed again when it has less than this left.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// The roles the loop assumes in a member account (named from `MEMBER_ROLE_NAME`), and the
/// external id it names.
#[derive(Clone, Debug)]
pub struct MemberRole {
    pub name: String,
    pub external_id: String,
}

impl MemberRole {
    /// From `MEMBER_ROLE_NAME` and `MEMBER_EXTERNAL_ID`; none when either is empty (the stack
    /// acts in its own account only).
    pub fn from_env() -> Option<Self> {
        let name = std::env::var("MEMBER_ROLE_NAME").unwrap_or_default();
        let external_id = std::env::var("MEMBER_EXTERNAL_ID").unwrap_or_default();
        (!name.is_empty() && !external_id.is_empty()).then_some(MemberRole { name, external_id })
    }
}

/// What the loop does in a member account, which names the role it assumes there (IAM names are
/// global, so each region's role is named for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// `<name>-<region>`: read-only alarm history, metrics, logs under the prefix, CloudTrail.
    Evidence,
    /// `<name>-runbooks-<region>`: start and read the loop's runbooks, passing only
    /// `<name>-ssm-<region>` to SSM.
    Runbooks,
}

impl Purpose {
    fn role_name(self, member: &str, region: &str) -> String {
        match self {
            Purpose::Evidence => format!("{member}-{region}"),
            Purpose::Runbooks => format!("{member}-runbooks-{region}"),
        }
    }

    fn session_name(self) -> &'static str {
        match self {
            Purpose::Evidence => "incident-loop-evidence",
            Purpose::Runbooks => "incident-loop-runbooks",
        }
    }
}

/// The partition of a region's ARNs.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The role SSM Automation runs the loop's runbooks as in a member account: the runbooks stack's,
/// deployed there with `RoleName=<MemberRoleName>-ssm`.
pub fn member_automation_role(member: &MemberRole, at: &Location) -> String {
    format!(
        "arn:{}:iam::{}:role/{}-ssm-{}",
        partition(&at.region),
        at.account,
        member.name,
        at.region
    )
}

/// The clients of each place reached, and when their credentials end (never, for this account's).
type Reached<T> = (T, Option<SystemTime>);

/// The clients `build` makes, for wherever an incident happened.
pub struct Places<T> {
    config: SdkConfig,
    home: Home,
    member: Option<MemberRole>,
    purpose: Purpose,
    build: fn(&SdkConfig) -> T,
    here: T,
    reached: Mutex<HashMap<(String, String), Reached<T>>>,
}

impl<T: Clone> Places<T> {
    /// `here` are this account's clients; `home` is this stack's account and region (the same
    /// `Home` the core placed the work with); `build` makes the clients of another place.
    pub fn new(
        config: &SdkConfig,
        here: T,
        home: Home,
        member: Option<MemberRole>,
        purpose: Purpose,
        build: fn(&SdkConfig) -> T,
    ) -> Self {
        Self {
            config: config.clone(),
            home,
            member,
            purpose,
            build,
            here,
            reached: Mutex::new(HashMap::new()),
        }
    }

    pub fn member(&self) -> Option<&MemberRole> {
        self.member.as_ref()
    }

    /// The stack's own account and region.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// The clients for `location` (none: here); a member account that cannot be reached is
    /// refused in one line.
    pub async fn at(&self, location: Option<&Location>) -> PortResult<T> {
        let Some(at) = location.filter(|l| !self.home.holds(Some(l))) else {
            return Ok(self.here.clone());
        };
        let key = (at.account.clone(), at.region.clone());
        let mut reached = self.reached.lock().await;
        let fresh = |until: &Option<SystemTime>| {
            until.is_none_or(|t| {
                t.duration_since(SystemTime::now())
                    .is_ok_and(|left| left > RENEW_BEFORE)
            })
        };
        if let Some((clients, _)) = reached.get(&key).filter(|(_, until)| fresh(until)) {
            return Ok(clients.clone());
        }
        let mut builder = self.config.to_builder().region(Region::new(at.region.clone()));
        let mut until = None;
        if !self.home.is_home_account(&at.account) {
            let credentials = self.assume(at).await?;
            until = credentials.expiry();
            builder = builder.credentials_provider(SharedCredentialsProvider::new(credentials));
        }
        let clients = (self.build)(&builder.build());
        reached.insert(key, (clients.clone(), until));
        Ok(clients)
    }

    /// A member account's role, assumed with the external id; a refusal is said in one line.
    async fn assume(&self, at: &Location) -> PortResult<Credentials> {
        let Some(member) = &self.member else {
            return Err(PortError::Invalid(format!(
                "account {} is not this stack's, and no member role is configured (MemberExternalId)",
                at.account
            )));
        };
        let role = format!(
            "arn:{}:iam::{}:role/{}",
            partition(&at.region),
            at.account,
            self.purpose.role_name(&member.name, &at.region)
        );
        let answer = aws_sdk_sts::Client::new(&self.config)
            .assume_role()
            .role_arn(&role)
            .role_session_name(self.purpose.session_name())
            .external_id(&member.external_id)
            .send()
            .await;
        let out = answer.map_err(|e| {
            let err = AwsError::sdk("AssumeRole", e);
            let why = match &err {
                AwsError::Service { message, .. } => message.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn location(account: &str, region: &str) -> Location {
        Location::of(Some(account), Some(region)).unwrap().unwrap()
    }

    fn config() -> SdkConfig {
        SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    }

    #[tokio::test]
    async fn another_account_without_a_member_role_is_refused_in_one_line() {
        let region = |c: &SdkConfig| c.region().map(|r| r.to_string());
        let places = Places::new(
            &config(),
            region(&config()),
            Home::new(Some("000000000000".into()), Some("us-east-1".into())),
            None,
            Purpose::Evidence,
            region,
        );
        let refused = places
            .at(Some(&location("111111111111", "us-east-1")))
            .await
            .expect_err("no member role");
        assert_eq!(
            refused.to_string(),
            "account 111111111111 is not this stack's, and no member role is configured (MemberExternalId)"
        );
        // This account, in this region or another: reached with the stack's own credentials, in
        // the region of the place.
        let here = places.at(Some(&location("000000000000", "us-east-1"))).await.unwrap();
        let there = places.at(Some(&location("000000000000", "eu-west-1"))).await.unwrap();
        assert_eq!(
            (here.as_deref(), there.as_deref()),
            (Some("us-east-1"), Some("eu-west-1"))
        );
        places.at(Some(&location("000000000000", "eu-west-1"))).await.unwrap();
        assert_eq!(places.reached.lock().await.len(), 1, "another region is reached once");
    }

    #[test]
    fn each_purpose_assumes_its_own_role_and_the_runbooks_pass_only_the_ssm_role() {
        let member = MemberRole {
            name: "incident-loop-member".into(),
            external_id: "x".repeat(16),
        };
        assert_eq!(
            Purpose::Evidence.role_name(&member.name, "eu-west-1"),
            "incident-loop-member-eu-west-1"
        );
        assert_eq!(
            Purpose::Runbooks.role_name(&member.name, "eu-west-1"),
            "incident-loop-member-runbooks-eu-west-1"
        );
        assert_eq!(
            member_automation_role(&member, &location("111111111111", "us-gov-west-1")),
            "arn:aws-us-gov:iam::111111111111:role/incident-loop-member-ssm-us-gov-west-1"
        );
        assert_eq!(partition("cn-north-1"), "aws-cn");
    }
}
