//! triage: owner, severity and incident commander for an opened incident.

mod handler;

use incident_aws::lambda::Wiring;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    incident_aws::logging::init_lambda_tracing();
    let Wiring { store, catalog, .. } = Wiring::from_env().await?;
    let deps = handler::Deps { store, catalog };
    run(service_fn(|event: LambdaEvent<handler::Input>| {
        handler::handle(&deps, event.payload)
    }))
    .await
}
