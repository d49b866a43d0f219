//! triage: owner, severity and incident commander for an opened incident.

mod handler;

use incident_aws::{catalog_store::CatalogStore, store::Store};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    incident_aws::logging::init_lambda_tracing();
    let config = incident_aws::sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let deps = handler::Deps {
        store: Store::from_env(&dynamo)?,
        catalog: CatalogStore::from_env(&dynamo)?,
    };
    run(service_fn(|event: LambdaEvent<handler::Input>| {
        handler::handle(&deps, event.payload)
    }))
    .await
}
