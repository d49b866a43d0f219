//! mitigate: plans mitigations, asks an approver, runs the approved runbook and confirms recovery.

mod handler;

use incident_aws::evidence::{MemberRole, S3Evidence};
use incident_aws::lambda::Wiring;
use incident_aws::lazy_client::Lazy;
use incident_aws::runbooks::SsmRunbooks;
use incident_aws::{env_var, lambda};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    incident_aws::logging::init_lambda_tracing();
    let Wiring {
        config,
        store,
        catalog,
        bus,
        callbacks,
    } = Wiring::from_env().await?;
    // One home for the core's placing and the runner's reaching.
    let home = incident_core::account::Home::new(Some(env_var("HOME_ACCOUNT_ID")?), std::env::var("AWS_REGION").ok());
    let deps = handler::Deps {
        store,
        catalog,
        bus,
        evidence: S3Evidence::new(Lazy::new(&config, aws_sdk_s3::Client::new), env_var("EVIDENCE_BUCKET")?),
        runbooks: SsmRunbooks::reaching(
            aws_sdk_ssm::Client::new(&config),
            &config,
            home.clone(),
            MemberRole::from_env(),
            env_var("RUNBOOK_ROLE_ARN")?,
        ),
        callbacks,
        stabilisation: chrono::TimeDelta::seconds(lambda::env_number("RECOVERY_STABILISATION_SECONDS", 300)?),
        home,
    };
    run(service_fn(|event: LambdaEvent<handler::Invocation>| {
        deps.invoked(event.payload)
    }))
    .await
}
