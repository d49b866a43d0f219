//! capture-evidence: alarm history, metric data, log queries and recent changes, captured to S3
//! with an integrity manifest while the system is still warm.

mod handler;

use incident_aws::evidence::{AwsAccounts, MemberRole, S3Evidence};
use incident_aws::lambda::Wiring;
use incident_aws::lazy_client::Lazy;
use incident_aws::{env_var, lambda};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    incident_aws::logging::init_lambda_tracing();
    let bucket = env_var("EVIDENCE_BUCKET")?;
    let lookback = lambda::env_number("EVIDENCE_LOOKBACK_MINUTES", 60)?;
    let cap = lambda::env_number("EVIDENCE_SIZE_CAP_BYTES", 5 * 1024 * 1024)?;
    let log_scope = incident_core::evidence::LogScope {
        prefix: env_var("EVIDENCE_LOG_GROUP_PREFIX")?,
        max_window: chrono::TimeDelta::hours(lambda::env_number("EVIDENCE_LOG_WINDOW_HOURS", 6)?),
    };
    let Wiring {
        config, store, catalog, ..
    } = Wiring::from_env().await?;
    let deps = handler::Deps {
        store,
        catalog,
        sources: AwsAccounts::new(&config, Some(env_var("HOME_ACCOUNT_ID")?), MemberRole::from_env()),
        evidence: S3Evidence::new(Lazy::new(&config, aws_sdk_s3::Client::new), &bucket),
        bucket,
        lookback: chrono::TimeDelta::minutes(lookback),
        cap_bytes: cap as usize,
        log_scope,
    };
    run(service_fn(|event: LambdaEvent<handler::Input>| {
        deps.handle(event.payload)
    }))
    .await
}
