//! engage: pages the teams, watches the acknowledgement clock and escalates unacknowledged incidents.

mod handler;

use incident_aws::{bus::Bus, catalog_store::CatalogStore, env_var, store::Store};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    incident_aws::logging::init_lambda_tracing();
    let config = incident_aws::sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let deps = handler::Deps {
        store: Store::from_env(&dynamo)?,
        catalog: CatalogStore::from_env(&dynamo)?,
        bus: Bus::new(&config, env_var("EVENT_BUS_NAME")?),
    };
    run(service_fn(|event: LambdaEvent<handler::Input>| {
        deps.handle(event.payload)
    }))
    .await
}
