//! Evidence where the incident happened: this account's sources, the same credentials in another
//! region, or a member account's through the evidence role the forwarder template creates there
//! ([`crate::places`]).

use super::AwsSources;
use crate::places::{MemberRole, Places, Purpose};
use aws_config::SdkConfig;
use incident_core::account::{Home, Location};
use incident_core::ports::{EvidenceAccounts, PortResult};

pub struct AwsAccounts(Places<AwsSources>);

impl AwsAccounts {
    pub fn new(config: &SdkConfig, home_account: Option<String>, member: Option<MemberRole>) -> Self {
        Self(Places::new(
            config,
            AwsSources::new(config),
            Home::new(home_account, config.region().map(|r| r.to_string())),
            member,
            Purpose::Evidence,
            AwsSources::new,
        ))
    }
}

impl EvidenceAccounts for AwsAccounts {
    type Sources = AwsSources;

    async fn sources(&self, location: Option<&Location>) -> PortResult<AwsSources> {
        self.0.at(location).await
    }
}
