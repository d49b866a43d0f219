//! commands: the command API behind API Gateway (IAM authorisation). Every human action that
//! changes an incident arrives here; the caller is the identity the authoriser verified. Replies
//! to paging texts arrive here too, from the SMS replies topic (`sms`).

mod handler;
mod http;
mod sms;

use incident_aws::env_var;
use incident_aws::evidence::S3Evidence;
use incident_aws::follow_ups::Functions;
use incident_aws::lambda::Wiring;
use incident_aws::lazy_client::Lazy;
use incident_aws::sign_ins::CognitoSignIns;
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
        sign_ins: CognitoSignIns::new(
            Lazy::new(&config, aws_sdk_cognitoidentityprovider::Client::new),
            config.region().ok_or("no AWS region is configured")?.as_ref(),
            env_var("CONSOLE_USER_POOL_ID")?,
            env_var("CONSOLE_IDENTITY_POOL_ID")?,
        ),
        evidence: S3Evidence::new(Lazy::new(&config, aws_sdk_s3::Client::new), env_var("EVIDENCE_BUCKET")?),
    };
    run(service_fn(|event: LambdaEvent<serde_json::Value>| async {
        let payload = event.payload;
        if sms::is_sns(&payload) {
            sms::serve(&deps, &payload).await?;
            return Ok::<_, Error>(serde_json::Value::Null);
        }
        let request: http::Request = serde_json::from_value(payload)?;
        let Ok(response) = http::serve(&deps, request).await;
        Ok(serde_json::to_value(response)?)
    }))
    .await
}
