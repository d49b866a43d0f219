//! The console's Cognito user pool: who the subject of a verified sign-in is, and their groups.
//! Read on every console request (no cache), so a user disabled or moved out of the responders
//! group loses the right at once.

use crate::error::AwsError;
use aws_sdk_cognitoidentityprovider::Client;
use incident_core::console::SignedIn;
use incident_core::ports::{PortResult, SignIns};

pub struct CognitoSignIns {
    client: crate::lazy_client::Lazy<Client>,
    pool_id: String,
    provider: String,
    identity_pool: String,
}

impl CognitoSignIns {
    /// The user pool `pool_id` (`<region>_<id>`) of `region`, signed in through `identity_pool`.
    pub fn new(
        client: impl Into<crate::lazy_client::Lazy<Client>>,
        region: &str,
        pool_id: String,
        identity_pool: String,
    ) -> Self {
        Self {
            provider: format!("cognito-idp.{region}.amazonaws.com/{pool_id}"),
            client: client.into(),
            pool_id,
            identity_pool,
        }
    }
}

/// A subject as a ListUsers filter value: a UUID; anything else is no user (never put into the
/// filter, which is a small expression language of its own).
fn plausible_sub(sub: &str) -> bool {
    !sub.is_empty() && sub.len() <= 64 && sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl SignIns for CognitoSignIns {
    fn provider(&self) -> &str {
        &self.provider
    }

    fn identity_pool(&self) -> &str {
        &self.identity_pool
    }

    async fn signed_in(&self, sub: &str) -> PortResult<Option<SignedIn>> {
        if !plausible_sub(sub) {
            return Ok(None);
        }
        let users = self
            .client
            .list_users()
            .user_pool_id(&self.pool_id)
            .filter(format!("sub = \"{sub}\""))
            .limit(1)
            .send()
            .await
            .map_err(|e| AwsError::sdk("cognito-idp:ListUsers", e))?;
        let Some(user) = users.users().first().filter(|u| u.enabled()) else {
            return Ok(None);
        };
        let Some(username) = user.username() else {
            return Ok(None);
        };
        let mut groups = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .admin_list_groups_for_user()
                .user_pool_id(&self.pool_id)
                .username(username)
                .limit(60)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| AwsError::sdk("cognito-idp:AdminListGroupsForUser", e))?;
            groups.extend(page.groups().iter().filter_map(|g| g.group_name().map(str::to_string)));
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(Some(SignedIn {
            username: username.to_string(),
            groups,
        }))
    }
}
