//! close: keeps the resolution wait's token, closes a resolved incident, and records failed steps.

mod handler;

use incident_aws::lambda;
use incident_aws::lambda::Wiring;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    incident_aws::logging::init_lambda_tracing();
    let policy = lambda::policy_from_env()?;
    let Wiring {
        store, bus, callbacks, ..
    } = Wiring::from_env().await?;
    let deps = handler::Deps {
        store,
        bus,
        callbacks,
        policy,
    };
    run(service_fn(|event: LambdaEvent<handler::Input>| {
        deps.handle(event.payload)
    }))
    .await
}
