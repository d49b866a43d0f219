//! updates: reminds support when a customer update is overdue, and sleeps the reminder loop on a
//! task token that a resolution completes.

mod handler;

use incident_aws::lambda::Wiring;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    incident_aws::logging::init_lambda_tracing();
    let Wiring {
        store,
        catalog,
        bus,
        callbacks,
        ..
    } = Wiring::from_env().await?;
    let deps = handler::Deps {
        store,
        catalog,
        bus,
        callbacks,
    };
    run(service_fn(|event: LambdaEvent<handler::Input>| {
        deps.handle(event.payload)
    }))
    .await
}
