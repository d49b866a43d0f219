//! ingest: EventBridge → signal → dedup and correlation → incident opened or joined.

mod handler;

use incident_aws::lambda::Wiring;
use incident_aws::{env_var, lambda, lifecycle::Lifecycle, rejects::Rejects};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    incident_aws::logging::init_lambda_tracing();
    let policy = lambda::policy_from_env()?;
    let (machine, dlq) = (env_var("STATE_MACHINE_ARN")?, env_var("DLQ_URL")?);
    let Wiring {
        config,
        store,
        catalog,
        bus,
        ..
    } = Wiring::from_env().await?;
    let max_age_days = lambda::env_number("MAX_SIGNAL_AGE_DAYS", 7)?;
    let deps = handler::Deps {
        // A redelivery or replay that ingest still accepts must find its dedup item.
        store: store.keep_dedup_for(max_age_days + 1),
        catalog,
        lifecycle: Lifecycle::new(&config, machine),
        bus,
        rejects: Rejects::new(&config, dlq),
        policy,
        own_alarm_prefix: env_var("SELF_ALARM_PREFIX")?,
        bounds: incident_core::event::TimeBounds {
            max_age: chrono::TimeDelta::days(max_age_days),
            ..Default::default()
        },
    };
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        handler::handle(&deps, event.payload)
    }))
    .await
}
