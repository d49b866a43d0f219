//! Adapters: the AWS side of incident-loop.
//!
//! Each module wraps one service behind the operations the loop needs, speaking the domain types of
//! `incident-core`. The SDK clients come from one [`aws_config::SdkConfig`], which honours
//! `AWS_ENDPOINT_URL` and the default credential chain, so the same code serves AWS and the local stack.

pub mod approvals;
pub mod bus;
pub mod catalog_store;
pub mod change_log;
pub mod effects_store;
pub mod error;
pub mod evidence;
pub mod follow_ups;
pub mod items;
pub mod lambda;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod places;
pub mod ports;
pub mod postmortem_store;
pub mod rejects;
pub mod runbooks;
pub mod sign_ins;
pub mod store;
pub mod tickets;

pub use error::AwsError;

/// The HTTP client of every SDK client: hyper with rustls on ring and the system's root
/// certificates (which the SDK loads when the first client is built). The SDK's default client
/// uses aws-lc, which makes every function's zip larger and its build slower.
pub fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    http_client_trusting(aws_smithy_http_client::tls::TrustStore::default())
}

/// [`http_client`] with a trust store of its own (the system's roots unless it says otherwise).
pub fn http_client_trusting(
    roots: aws_smithy_http_client::tls::TrustStore,
) -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext};
    let context = TlsContext::builder()
        .with_trust_store(roots)
        .build()
        .expect("a TLS context of root certificates only");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https()
}

/// The SDK configuration's loader with [`http_client`]: the default credential and region chains,
/// `AWS_ENDPOINT_URL` and friends.
pub fn config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http_client())
}

/// Loads the shared SDK configuration once (at cold start, or at CLI start).
pub async fn sdk_config() -> aws_config::SdkConfig {
    config_loader().load().await
}

/// Reads a required environment variable, naming it in the error so that a misconfigured function
/// fails at cold start with a message that says what to fix.
pub fn env_var(name: &str) -> Result<String, AwsError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| AwsError::Config(name.to_string()))
}
