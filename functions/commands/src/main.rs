//! commands: the command API behind API Gateway (IAM authorisation). Every human action that
//! changes an incident arrives here; the caller is the identity the authoriser verified.

mod handler;
mod http;

use incident_aws::env_var;
use incident_aws::follow_ups::Functions;
use incident_aws::lambda::Wiring;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    incident_aws::logging::init_lambda_tracing();
    let Wiring {
        config,
        store,
        catalog,
        bus,
        callbacks,
    } = Wiring::from_env().await?;
    let deps = handler::Deps {
        store,
        catalog,
        bus,
        callbacks,
        functions: Functions::new(
            &config,
            env_var("CAPTURE_EVIDENCE_FUNCTION")?,
            env_var("POSTMORTEM_FUNCTION")?,
        ),
    };
    run(service_fn(|event: LambdaEvent<http::Request>| {
        http::serve(&deps, event.payload)
    }))
    .await
}
