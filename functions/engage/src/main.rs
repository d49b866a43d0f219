//! engage: pages the teams, keeps the acknowledgement wait's token and escalates unacknowledged incidents.

mod handler;

use incident_aws::lambda::Wiring;
use incident_aws::{bus::Bus, env_var, lifecycle::Callbacks};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    incident_aws::logging::init_lambda_tracing();
    let Wiring { config, store, catalog } = Wiring::from_env().await?;
    let deps = handler::Deps {
        store,
        catalog,
        bus: Bus::new(&config, env_var("EVENT_BUS_NAME")?),
        callbacks: Callbacks::new(&config),
    };
    run(service_fn(|event: LambdaEvent<handler::Input>| {
        deps.handle(event.payload)
    }))
    .await
}
