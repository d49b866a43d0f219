//! close: keeps the resolution wait's token, closes a resolved incident, and records failed steps.

mod handler;

use incident_aws::lambda::Wiring;
use incident_aws::{bus::Bus, env_var, lambda, lifecycle::Callbacks};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    incident_aws::logging::init_lambda_tracing();
    let policy = lambda::policy_from_env()?;
    let Wiring { config, store, .. } = Wiring::from_env().await?;
    let deps = handler::Deps {
        store,
        bus: Bus::new(&config, env_var("EVENT_BUS_NAME")?),
        callbacks: Callbacks::new(&config),
        policy,
    };
    run(service_fn(|event: LambdaEvent<handler::Input>| {
        deps.handle(event.payload)
    }))
    .await
}
