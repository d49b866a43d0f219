//! What every Lambda function shares: its error type as Step Functions sees it, and configuration.

use crate::AwsError;
use chrono::TimeDelta;
use incident_core::correlation::Policy;
use incident_core::ports::PortError;
use lambda_runtime::Diagnostic;

/// A handler failure. The variant name becomes the Lambda `errorType`, which is what the state
/// machine's `Retry`/`Catch` `ErrorEquals` match: `Retryable` is retried with backoff, the others
/// go straight to their catch path.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Retryable(String),
}

impl HandlerError {
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidInput(_) => "InvalidInput",
            HandlerError::NotFound(_) => "NotFound",
            HandlerError::Retryable(_) => "Retryable",
        }
    }
}

impl From<AwsError> for HandlerError {
    fn from(e: AwsError) -> Self {
        match e {
            AwsError::NotFound(id) => HandlerError::NotFound(format!("incident {id} does not exist")),
            AwsError::Config(_) | AwsError::Decode { .. } | AwsError::Rejected(_) => {
                HandlerError::InvalidInput(e.to_string())
            }
            AwsError::Service { .. } | AwsError::Contention(_) if e.is_retryable() => {
                HandlerError::Retryable(e.to_string())
            }
            AwsError::Service { .. } | AwsError::Contention(_) => HandlerError::InvalidInput(e.to_string()),
        }
    }
}

impl From<PortError> for HandlerError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::NotFound(_) => HandlerError::NotFound(e.to_string()),
            PortError::Rejected(_) | PortError::Invalid(_) => HandlerError::InvalidInput(e.to_string()),
            PortError::Transient(_) => HandlerError::Retryable(e.to_string()),
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: e.to_string(),
        }
    }
}

/// What every function starts from: the SDK configuration (loaded once, at cold start), the
/// incidents and catalog tables and the loop's bus named by its environment, and the lifecycle's
/// task callbacks.
pub struct Wiring {
    pub config: aws_config::SdkConfig,
    pub store: crate::store::Store,
    pub catalog: crate::catalog_store::CatalogStore,
    pub bus: crate::bus::Bus,
    pub callbacks: crate::lifecycle::Callbacks,
}

impl Wiring {
    pub async fn from_env() -> Result<Self, AwsError> {
        let config = crate::function_sdk_config().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&config);
        Ok(Self {
            store: crate::store::Store::from_env(&dynamo)?,
            catalog: crate::catalog_store::CatalogStore::from_env(&dynamo)?,
            bus: crate::bus::Bus::new(&config, crate::env_var("EVENT_BUS_NAME")?),
            callbacks: crate::lifecycle::Callbacks::new(&config),
            config,
        })
    }
}

/// Reads an optional numeric setting, failing at cold start on a value that is not a number.
pub fn env_number(name: &str, default: i64) -> Result<i64, AwsError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) if v.trim().is_empty() => Ok(default),
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| AwsError::Config(format!("{name} (must be a whole number, got '{v}')"))),
    }
}

/// The correlation policy from `CORRELATION_WINDOW_MINUTES` and `MULTI_SERVICE_THRESHOLD`.
pub fn policy_from_env() -> Result<Policy, AwsError> {
    let window = env_number("CORRELATION_WINDOW_MINUTES", 15)?;
    let threshold = env_number("MULTI_SERVICE_THRESHOLD", 3)?;
    if window < 1 || threshold < 2 {
        return Err(AwsError::Config(
            "CORRELATION_WINDOW_MINUTES (≥ 1) or MULTI_SERVICE_THRESHOLD (≥ 2) out of range".into(),
        ));
    }
    // Correlation state is pruned by the clock: it keeps history at least as long as ingest
    // accepts a signal's age, so that an old signal it accepts still correlates.
    let max_age = TimeDelta::days(env_number("MAX_SIGNAL_AGE_DAYS", 7)?.max(1));
    let defaults = Policy::default();
    Ok(Policy {
        window: TimeDelta::minutes(window),
        multi_service_threshold: threshold as usize,
        horizon: defaults.horizon.max(max_age + TimeDelta::days(1)),
        ..defaults
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_errors_carry_the_error_type_the_state_machine_matches() {
        let d: Diagnostic = HandlerError::Retryable("throttled".into()).into();
        assert_eq!(
            (d.error_type.as_str(), d.error_message.as_str()),
            ("Retryable", "throttled")
        );
        let d: Diagnostic = HandlerError::from(AwsError::NotFound("inc-1".into())).into();
        assert_eq!(d.error_type, "NotFound");
    }
}
