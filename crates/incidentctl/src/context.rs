//! Connecting to a deployed stack, and turning failures into messages a person can act on.

use anyhow::{anyhow, Context as _, Result};
use incident_aws::bus::Bus;
use incident_aws::catalog_store::CatalogStore;
use incident_aws::evidence::S3Evidence;
use incident_aws::lifecycle::Callbacks;
use incident_aws::store::Store;
use std::collections::HashMap;

pub struct Ctx {
    pub config: aws_config::SdkConfig,
    pub store: Store,
    pub catalog: CatalogStore,
    pub callbacks: Callbacks,
    pub bus: Bus,
    pub events: aws_sdk_eventbridge::Client,
    pub evidence: S3Evidence,
    pub lambda: aws_sdk_lambda::Client,
    /// The postmortem function (absent on stacks deployed before it existed).
    pub postmortem_function: Option<String>,
    pub capture_function: Option<String>,
}

impl Ctx {
    /// Invokes one of the stack's functions and returns its answer; a function error is an error
    /// carrying the function's own message.
    pub async fn invoke(
        &self,
        function: Option<&str>,
        what: &str,
        payload: serde_json::Value,
    ) -> Result<serde_json::Value> {
        let function =
            function.with_context(|| format!("this stack has no {what} function: redeploy incident-loop"))?;
        let answer = self
            .lambda
            .invoke()
            .function_name(function)
            .payload(aws_sdk_lambda::primitives::Blob::new(serde_json::to_vec(&payload)?))
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "invoking the {what} function: {}",
                    aws_sdk_lambda::error::DisplayErrorContext(&e)
                )
            })?;
        let body: serde_json::Value = answer
            .payload()
            .map(|b| serde_json::from_slice(b.as_ref()))
            .transpose()?
            .unwrap_or_default();
        if answer.function_error().is_some() {
            anyhow::bail!(
                "the {what} function refused: {}",
                body["errorMessage"].as_str().unwrap_or("no message")
            );
        }
        Ok(body)
    }
}

/// Reads the stack outputs and builds the clients once.
pub async fn connect(stack: &str) -> Result<Ctx> {
    let config = incident_aws::sdk_config().await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let described = cfn.describe_stacks().stack_name(stack).send().await.map_err(|e| {
        let text = aws_sdk_cloudformation::error::DisplayErrorContext(&e).to_string();
        if text.contains("does not exist") {
            anyhow!("stack '{stack}' not found in this account and region: deploy it, or name it with --stack / INCIDENT_LOOP_STACK")
        } else {
            anyhow!("DescribeStacks failed: {text}")
        }
    })?;
    let outputs: HashMap<String, String> = described
        .stacks()
        .first()
        .map(|s| {
            s.outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let output = |key: &str| {
        outputs
            .get(key)
            .cloned()
            .with_context(|| format!("stack '{stack}' has no output {key}: is it incident-loop?"))
    };
    let (table, bus, bucket) = (
        output("TableName")?,
        output("EventBusName")?,
        output("EvidenceBucketName")?,
    );
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    Ok(Ctx {
        store: Store::new(dynamo.clone(), &table),
        catalog: CatalogStore::new(dynamo, &table),
        callbacks: Callbacks::new(&config),
        bus: Bus::new(&config, bus),
        events: aws_sdk_eventbridge::Client::new(&config),
        evidence: S3Evidence::new(aws_sdk_s3::Client::new(&config), bucket),
        lambda: aws_sdk_lambda::Client::new(&config),
        postmortem_function: outputs.get("PostmortemFunctionName").cloned(),
        capture_function: outputs.get("CaptureEvidenceFunctionName").cloned(),
        config,
    })
}

/// The error, plus what to do about the usual suspects: credentials and reachability.
pub fn explain(err: &anyhow::Error) -> String {
    let text = format!("{err:#}");
    let lower = text.to_lowercase();
    if lower.contains("credential") && (lower.contains("no credentials") || lower.contains("failed to load")) {
        format!("{text}\nhint: no AWS credentials were found: set AWS_PROFILE (aws sso login) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
    } else if lower.contains("dispatch failure") || lower.contains("connection refused") || lower.contains("timed out")
    {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "the AWS endpoint".into());
        format!("{text}\nhint: cannot reach {endpoint}: check the network, or that the local stack is running (scripts/local-up)")
    } else {
        text
    }
}
