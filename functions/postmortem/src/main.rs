//! postmortem: writes the COE draft to S3 with its tickets when an incident is resolved (and again
//! on `incidentctl coe publish`), and announces overdue action items on a schedule.

mod handler;

use incident_aws::env_var;
use incident_aws::evidence::S3Evidence;
use incident_aws::lambda::Wiring;
use incident_aws::lazy_client::Lazy;
use incident_aws::tickets::OpsCenter;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    incident_aws::logging::init_lambda_tracing();
    let bucket = env_var("POSTMORTEM_BUCKET")?;
    let Wiring {
        config,
        store,
        catalog,
        bus,
        ..
    } = Wiring::from_env().await?;
    let deps = handler::Deps {
        store,
        catalog,
        documents: S3Evidence::documents(Lazy::new(&config, aws_sdk_s3::Client::new), &bucket),
        tickets: OpsCenter::new(Lazy::new(&config, aws_sdk_ssm::Client::new)),
        bus,
        bucket,
    };
    run(service_fn(|event: LambdaEvent<handler::Input>| {
        deps.handle(event.payload)
    }))
    .await
}
