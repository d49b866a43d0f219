//! reconcile: brings back the lifecycle of every live incident whose execution ended (or never
//! started), on a schedule, on Step Functions' status-change events and when a signal joins an
//! incident whose lifecycle is not running.

mod handler;

use incident_aws::lambda::Wiring;
use incident_aws::{env_var, lifecycle::Lifecycle};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    incident_aws::logging::init_lambda_tracing();
    let Wiring {
        config,
        store,
        catalog,
        bus,
        ..
    } = Wiring::from_env().await?;
    let operators = std::env::var("OPERATORS_TOPIC_ARN")
        .ok()
        .filter(|t| !t.trim().is_empty());
    let deps = handler::Deps {
        store,
        catalog,
        lifecycle: Lifecycle::new(&config, env_var("STATE_MACHINE_ARN")?),
        bus,
        operators,
    };
    run(service_fn(|event: LambdaEvent<handler::Input>| {
        deps.handle(event.payload)
    }))
    .await
}
