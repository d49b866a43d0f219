//! Connecting to a deployed stack, finding incidents by what people type, and turning failures
//! into messages a person can act on.

use crate::api::{Api, Refused};
use anyhow::{anyhow, Context as _, Result};
use chrono::{TimeDelta, Utc};
use incident_aws::catalog_store::CatalogStore;
use incident_aws::evidence::S3Evidence;
use incident_aws::store::Store;
use incident_core::IncidentId;
use std::collections::HashMap;

/// How far back a typed id prefix is looked up.
const PREFIX_DAYS: i64 = 30;

/// The stack as incidentctl uses it: the command API for every change, and read-only access to
/// the incidents table, the catalog and the evidence for everything it shows.
pub struct Ctx {
    pub store: Store,
    pub catalog: CatalogStore,
    pub evidence: S3Evidence,
    /// The postmortem bucket: COE drafts and the weekly reviews.
    pub postmortems: S3Evidence,
    pub postmortem_bucket: String,
    pub events: aws_sdk_eventbridge::Client,
    /// The loop's own bus, where game days are put.
    pub bus: String,
    pub api: Api,
}

impl Ctx {
    /// The incident a person means: a whole id, or the unique start of one of the last 30 days.
    pub async fn resolve(&self, typed: &str) -> Result<IncidentId> {
        if let Ok(id) = IncidentId::parse(typed) {
            return Ok(id);
        }
        IncidentId::check_typed(typed)?;
        let today = Utc::now().date_naive();
        let days: Vec<String> = (0..PREFIX_DAYS)
            .map(|d| (today - TimeDelta::days(d)).format("%Y-%m-%d").to_string())
            .collect();
        let mut found: Vec<IncidentId> = self
            .store
            .list(&days, false)
            .await?
            .into_iter()
            .map(|i| i.id)
            .filter(|id| id.matches_typed(typed))
            .collect();
        found.dedup();
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Refused::NotFound(format!(
                "'{typed}' is not an incident id, nor the start of one opened in the last {PREFIX_DAYS} days"
            ))
            .into()),
            n => {
                let some: Vec<String> = found.iter().take(5).map(|i| i.to_string()).collect();
                Err(Refused::Rule(format!(
                    "'{typed}' is the start of {n} incidents ({}{}): type more of it",
                    some.join(", "),
                    if n > 5 { ", …" } else { "" }
                ))
                .into())
            }
        }
    }
}

/// Where the command API answers: `INCIDENT_LOOP_API_URL` if set; on the local stack (an
/// `AWS_ENDPOINT_URL`), the emulator's execute-api path; otherwise the stack's `CommandApiUrl`.
fn api_endpoint(outputs: &HashMap<String, String>) -> Option<String> {
    if let Some(url) = std::env::var("INCIDENT_LOOP_API_URL").ok().filter(|u| !u.is_empty()) {
        return Some(url);
    }
    if let Some(local) = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.is_empty()) {
        let api = outputs.get("CommandApiId")?;
        return Some(format!("{}/_aws/execute-api/{api}", local.trim_end_matches('/')));
    }
    outputs.get("CommandApiUrl").cloned()
}

/// Reads the stack outputs and builds the clients once.
pub async fn connect(stack: &str) -> Result<Ctx> {
    let config = incident_aws::sdk_config().await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let described = cfn.describe_stacks().stack_name(stack).send().await.map_err(|e| {
        let text = match aws_sdk_cloudformation::error::ProvideErrorMetadata::message(&e) {
            Some(message) => message.to_string(),
            None => incident_aws::error::one_line(&e),
        };
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
            .with_context(|| format!("stack '{stack}' has no output {key}: redeploy incident-loop"))
    };
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let endpoint = api_endpoint(&outputs).with_context(|| {
        format!("stack '{stack}' has no command API (output CommandApiUrl): redeploy incident-loop")
    })?;
    Ok(Ctx {
        store: Store::new(dynamo.clone(), output("TableName")?),
        catalog: CatalogStore::new(dynamo, output("CatalogTableName")?),
        evidence: S3Evidence::new(aws_sdk_s3::Client::new(&config), output("EvidenceBucketName")?),
        postmortems: S3Evidence::documents(aws_sdk_s3::Client::new(&config), output("PostmortemBucketName")?),
        postmortem_bucket: output("PostmortemBucketName")?,
        events: aws_sdk_eventbridge::Client::new(&config),
        bus: output("EventBusName")?,
        api: Api::new(&config, endpoint)?,
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

/// The exit code of a failure: 3 refused (a rule or IAM said no), 4 not found, 2 a command line
/// that cannot be read (clap's own, and malformed ids), 1 anything else: it failed.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    match err.downcast_ref::<Refused>() {
        Some(Refused::Rule(_) | Refused::Checklist { .. }) => 3,
        Some(Refused::NotFound(_)) => 4,
        None if err.downcast_ref::<incident_core::InvalidId>().is_some() => 2,
        None => match err.downcast_ref::<incident_aws::AwsError>() {
            Some(incident_aws::AwsError::NotFound(_)) => 4,
            _ => 1,
        },
    }
}
