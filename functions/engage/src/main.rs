//! engage: pages the teams, tracks acknowledgement and escalation, and keeps the resolution callback.

mod handler;

use incident_aws::{bus::Bus, catalog_store::CatalogStore, env_var, lambda, store::Store};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    incident_aws::logging::init_lambda_tracing();
    let bus_name = env_var("EVENT_BUS_NAME")?;
    let policy = lambda::policy_from_env()?;
    let config = incident_aws::sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let deps = handler::Deps {
        store: Store::from_env(&dynamo)?,
        catalog: CatalogStore::from_env(&dynamo)?,
        bus: Bus::new(&config, bus_name),
        callbacks: incident_aws::lifecycle::Callbacks::new(&config),
        policy,
    };
    run(service_fn(|event: LambdaEvent<handler::Input>| {
        deps.handle(event.payload)
    }))
    .await
}
