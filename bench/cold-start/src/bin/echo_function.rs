//! The floor: a bare `lambda_runtime` function that returns its event, built like the loop's
//! functions (same workspace, same release profile), so that the benchmark can say how much of a
//! function's cold start is its own.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
