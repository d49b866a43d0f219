//! Adapters: the AWS side of incident-loop.
//!
//! Each module wraps one service behind the operations the loop needs, speaking the domain types of
//! `incident-core`. The SDK clients come from one [`aws_config::SdkConfig`], which honours
//! `AWS_ENDPOINT_URL` and the default credential chain, so the same code serves AWS and the local stack.

pub mod approvals;
pub mod bus;
pub mod catalog_store;
pub mod effects_store;
pub mod error;
pub mod evidence;
pub mod follow_ups;
pub mod items;
pub mod lambda;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod ports;
pub mod postmortem_store;
pub mod rejects;
pub mod runbooks;
pub mod store;
pub mod tickets;

pub use error::AwsError;

/// Loads the shared SDK configuration once (at cold start, or at CLI start).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}

/// Reads a required environment variable, naming it in the error so that a misconfigured function
/// fails at cold start with a message that says what to fix.
pub fn env_var(name: &str) -> Result<String, AwsError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| AwsError::Config(name.to_string()))
}
