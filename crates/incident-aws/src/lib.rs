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
pub mod lazy_client;
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

/// The HTTP client of the SDK clients people run (incidentctl) and the tests: hyper with rustls on
/// ring and the system's root certificates (loaded by the first request, [`TlsOnFirstRequest`]).
/// The SDK's default client uses aws-lc, which makes every function's zip larger and its build
/// slower.
pub fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    http_client_trusting(aws_smithy_http_client::tls::TrustStore::default())
}

/// The HTTP client of every function: [`http_client`] trusting the Mozilla root certificates
/// compiled into the binary ([`compiled_roots`]) instead of reading the system's at every cold start
/// (2.5 ms of the first request on the 2-core machine, against 0.2 ms for these: the bundle and
/// `/etc/ssl/certs`' hashed directory, the same roots twice). A function whose environment names
/// `SSL_CERT_FILE` or `SSL_CERT_DIR` (a private CA, an inspecting proxy) trusts what they name
/// instead.
pub fn function_http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    let named = |v: &str| std::env::var_os(v).is_some_and(|path| !path.is_empty());
    if named("SSL_CERT_FILE") || named("SSL_CERT_DIR") {
        return http_client();
    }
    http_client_trusting(compiled_roots())
}

/// Mozilla's root certificates as the `webpki-root-certs` crate carries them (Amazon Trust
/// Services' roots, which sign every AWS endpoint, among them), as a trust store.
pub fn compiled_roots() -> aws_smithy_http_client::tls::TrustStore {
    aws_smithy_http_client::tls::TrustStore::empty().with_pem_certificate(compiled_roots_pem())
}

/// [`compiled_roots`] as one PEM bundle (the form the SDK's trust store takes).
pub fn compiled_roots_pem() -> Vec<u8> {
    let mut pem = Vec::with_capacity(256 * 1024);
    for root in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in aws_smithy_types::base64::encode(root.as_ref()).as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
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
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https();
    aws_sdk_dynamodb::config::SharedHttpClient::new(TlsOnFirstRequest(client))
}

/// The SDK's HTTP client, setting up TLS (the root certificates parsed into rustls' store) once,
/// when a request first needs it. The SDK's own client does it for every SDK client as it is
/// made, throws the result away, and does it again for the first request: a function making six
/// clients paid seven times (most of its cold start, measured by `scripts/bench-cold-start`).
/// Connectors stay cached per connector settings by the inner client.
#[derive(Debug)]
struct TlsOnFirstRequest(aws_sdk_dynamodb::config::SharedHttpClient);

impl aws_smithy_runtime_api::client::http::HttpClient for TlsOnFirstRequest {
    fn http_connector(
        &self,
        settings: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
        components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
    ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_final_config(
        &self,
        components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.0.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The SDK configuration's loader with [`http_client`]: the default credential and region chains,
/// `AWS_ENDPOINT_URL` and friends.
pub fn config_loader() -> aws_config::ConfigLoader {
    loader_with(http_client())
}

fn loader_with(client: aws_sdk_dynamodb::config::SharedHttpClient) -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(client)
}

/// Loads the shared SDK configuration once (at CLI start, or a test's).
pub async fn sdk_config() -> aws_config::SdkConfig {
    config_loader().load().await
}

/// Loads a function's SDK configuration once, at cold start: [`config_loader`] with
/// [`function_http_client`], and the credentials Lambda gives every function in its environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) without the rest of the
/// default chain, which would make an STS client for web identities at every cold start.
pub async fn function_sdk_config() -> aws_config::SdkConfig {
    loader_with(function_http_client())
        .credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new())
        .load()
        .await
}

/// Reads a required environment variable, naming it in the error so that a misconfigured function
/// fails at cold start with a message that says what to fix.
pub fn env_var(name: &str) -> Result<String, AwsError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| AwsError::Config(name.to_string()))
}
