//! Replies to pages by SMS. AWS End User Messaging SMS publishes each inbound text to the stack's
//! replies topic, which delivers it here as an SNS event.

use crate::handler::{Deps, Store};
use incident_core::ports::{
    CatalogSink, CatalogSource, CommandError, EvidenceStore, FollowUps, Notifier, ReportIntake, TaskCallbacks,
};
use serde_json::Value;

/// Whether an invocation is an SNS delivery (and not an API Gateway request).
pub fn is_sns(event: &Value) -> bool {
    event["Records"]
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r["EventSource"] == "aws:sns"))
}

/// Handles every text of the delivery. A refusal is final (logged; the refusal of a reply from
/// another number is on the incident's timeline); a failure to reach the tables fails the
/// invocation, so that Lambda delivers it again.
pub async fn serve<S, C, N, K, F, G, E>(deps: &Deps<S, C, N, K, F, G, E>, event: &Value) -> Result<(), CommandError>
where
    S: Store,
    C: CatalogSource + CatalogSink,
    N: Notifier + ReportIntake,
    K: TaskCallbacks,
    F: FollowUps,
    E: EvidenceStore,
{
    for record in event["Records"].as_array().into_iter().flatten() {
        let message = record["Sns"]["Message"].as_str().unwrap_or_default();
        match deps.sms_reply(message, chrono::Utc::now()).await {
            Ok(reply) => tracing::info!(outcome = %reply.message, "SMS reply"),
            Err(CommandError::Refused(r)) => tracing::info!(outcome = %r, "SMS reply refused"),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
