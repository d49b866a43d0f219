//! Adapter errors: what went wrong talking to AWS, and whether trying again can help.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("missing configuration: environment variable {0} is not set")]
    Config(String),
    #[error("{operation} failed: {message}")]
    Service {
        operation: &'static str,
        message: String,
        code: Option<String>,
    },
    #[error("stored item is not readable ({what}): {message}")]
    Decode { what: String, message: String },
    #[error("incident {0} does not exist")]
    NotFound(String),
    #[error("concurrent updates kept conflicting on {0}; giving up after retries")]
    Contention(String),
    #[error("{0}")]
    Rejected(String),
}

impl AwsError {
    /// Wraps any SDK error with the operation's name and the service's error code.
    pub fn sdk<E>(operation: &'static str, err: aws_sdk_dynamodb::error::SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_string);
        let message = match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            _ => one_line(&err),
        };
        Self::Service {
            operation,
            message,
            code,
        }
    }

    pub fn decode(what: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Self::Decode {
            what: what.into(),
            message: err.to_string(),
        }
    }

    /// Transient failures (throttling, network, contention) are worth a retry; a refusal by
    /// permission, a missing resource or a bad request is not.
    pub fn is_retryable(&self) -> bool {
        match self {
            AwsError::Service { code, .. } => !code.as_deref().is_some_and(is_permanent),
            AwsError::Contention(_) => true,
            _ => false,
        }
    }
}

/// An error and its causes on one line (`dispatch failure: io error: … Connection refused`), each
/// cause once: what a person reads, never a debug dump.
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Error codes that the same request will meet again, however often it is retried.
pub fn is_permanent(code: &str) -> bool {
    code.starts_with("AccessDenied")
        || code.starts_with("Unauthorized")
        || code.starts_with("InvalidParameter")
        || code.starts_with("InvalidDocument")
        || code.starts_with("InvalidAutomation")
        || code.ends_with("NotFoundException")
        || code == "IdempotentParameterMismatch"
        // STS: a region turned off for the account, a policy or session it will never accept.
        || code.starts_with("ExpiredToken")
        || matches!(code, "RegionDisabledException" | "MalformedPolicyDocument" | "PackedPolicyTooLarge")
        || matches!(
            code,
            "ResourceNotFoundException"
                | "ResourceNotFound"
                | "ValidationException"
                | "ValidationError"
                | "NoSuchBucket"
                | "InvalidNextToken"
                | "MalformedQueryException"
                | "InvalidClientTokenId"
                | "ExpiredToken"
        )
}
