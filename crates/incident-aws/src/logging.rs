//! Tracing set-up for the Lambda functions: JSON lines that CloudWatch Logs can query.

/// Installs a JSON subscriber honouring `RUST_LOG` (default `info`). Never log task tokens or
/// credentials: the loop keeps tokens in DynamoDB and logs only the incident id.
pub fn init_lambda_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .without_time()
        .with_current_span(false)
        .init();
}
