//! review: writes the weekly operational review (Markdown, HTML with its charts, and the figures as
//! JSON) to the postmortem bucket and publishes `Review Ready`, on a weekly schedule.

// The handler's future (every record of half a year read in turn) nests deeper than the default
// limit lets the compiler lay out.
#![recursion_limit = "256"]

mod handler;

use incident_aws::env_var;
use incident_aws::evidence::S3Evidence;
use incident_aws::lambda::Wiring;
use incident_aws::lazy_client::Lazy;
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
        bus,
        bucket,
    };
    run(service_fn(|event: LambdaEvent<handler::Input>| {
        deps.handle(event.payload)
    }))
    .await
}
