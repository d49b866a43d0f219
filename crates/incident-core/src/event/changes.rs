//! Deployment and configuration events, as they happen: CodeDeploy and ECS deployments,
//! CloudFormation stack updates, Lambda code and alias updates (through CloudTrail), SSM parameter
//! changes. Each is a [`Change`] of the service it deploys to; a failed deployment is also a
//! signal that impairs, and the next successful one of the same target its recovery.

use super::{event_time, parse_time, signal_key, Envelope, ParseError};
use crate::change::{Change, ChangeKind, ChangeOutcome, Origin, LAMBDA_DEPLOYMENT_CALLS};
use crate::signal::{Health, Signal, SignalSource};
use crate::text::{self, LABEL_MAX, NAME_MAX, REASON_MAX};
use serde::Deserialize;
use serde_json::Value;

pub const CODEDEPLOY_SOURCE: &str = "aws.codedeploy";
pub const ECS_SOURCE: &str = "aws.ecs";
pub const CLOUDFORMATION_SOURCE: &str = "aws.cloudformation";
pub const SSM_SOURCE: &str = "aws.ssm";
pub const LAMBDA_SOURCE: &str = "aws.lambda";

pub const CODEDEPLOY_DEPLOYMENT: &str = "CodeDeploy Deployment State-change Notification";
pub const ECS_DEPLOYMENT: &str = "ECS Deployment State Change";
pub const STACK_STATUS: &str = "CloudFormation Stack Status Change";
pub const PARAMETER_CHANGE: &str = "Parameter Store Change";
pub const API_CALL: &str = "AWS API Call via CloudTrail";

/// Every change detail-type, for the game-day source (which takes them all).
pub const ALL: &[&str] = &[
    CODEDEPLOY_DEPLOYMENT,
    ECS_DEPLOYMENT,
    STACK_STATUS,
    PARAMETER_CHANGE,
    API_CALL,
];

/// The change detail-type `source` sends, if it sends one.
pub(super) fn accepted(source: &str) -> Option<&'static [&'static str]> {
    match source {
        CODEDEPLOY_SOURCE => Some(&[CODEDEPLOY_DEPLOYMENT]),
        ECS_SOURCE => Some(&[ECS_DEPLOYMENT]),
        CLOUDFORMATION_SOURCE => Some(&[STACK_STATUS]),
        SSM_SOURCE => Some(&[PARAMETER_CHANGE]),
        LAMBDA_SOURCE => Some(&[API_CALL]),
        super::GAMEDAY_SOURCE => Some(ALL),
        _ => None,
    }
}

/// A change as an event told it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeEvent {
    pub change: Change,
    /// What names the changed resource, for the catalog to find its service: the change's own
    /// name, then the ARNs the event lists.
    pub names: Vec<String>,
    /// A failed deployment impairs; a successful one recovers its target's earlier failure.
    pub signal: Option<Signal>,
    /// Told through the game-day source: kept apart from the real changes.
    pub exercise: bool,
}

/// The longest deployment, request or change-set id kept.
const ID_MAX: usize = 128;

fn field(field: &'static str, reason: impl Into<String>) -> ParseError {
    ParseError::InvalidField {
        field,
        reason: reason.into(),
    }
}

fn required(name: &'static str, raw: &str, max: usize) -> Result<String, ParseError> {
    let clean = text::line(raw, max);
    if clean.is_empty() {
        return Err(field(name, "empty"));
    }
    Ok(clean)
}

pub(super) fn parse(envelope: &Envelope) -> Result<ChangeEvent, ParseError> {
    let mut event = match envelope.detail_type.as_str() {
        CODEDEPLOY_DEPLOYMENT => codedeploy(envelope)?,
        ECS_DEPLOYMENT => ecs(envelope)?,
        STACK_STATUS => stack(envelope)?,
        PARAMETER_CHANGE => parameter(envelope)?,
        _ => lambda(envelope)?,
    };
    event.names.extend(
        envelope
            .resources
            .iter()
            .take(10)
            .map(|r| text::line(r, NAME_MAX))
            .filter(|r| !r.is_empty()),
    );
    Ok(event)
}

/// The signal a deployment's end is: its failure impairs, its success recovers.
fn deployment_signal(envelope: &Envelope, change: &Change, reason: &str) -> Result<Option<Signal>, ParseError> {
    let health = match change.outcome {
        Some(ChangeOutcome::Failed) => Health::Impaired,
        Some(ChangeOutcome::Succeeded) => Health::Recovered,
        _ => return Ok(None),
    };
    let key = signal_key(envelope, None)?;
    Ok(Some(Signal::new(
        key,
        SignalSource::Deployment,
        health,
        &change.resource,
        change.at,
        reason,
    )))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CodeDeployDetail {
    application: String,
    deployment_group: String,
    deployment_id: String,
    state: String,
}

fn codedeploy(envelope: &Envelope) -> Result<ChangeEvent, ParseError> {
    let d: CodeDeployDetail = super::detail(envelope)?;
    let outcome = match d.state.as_str() {
        "START" | "READY" => ChangeOutcome::Started,
        "SUCCESS" => ChangeOutcome::Succeeded,
        "FAILURE" => ChangeOutcome::Failed,
        "STOP" => ChangeOutcome::RolledBack,
        other => {
            return Err(field(
                "detail.state",
                format!(
                    "'{}' is not START, READY, SUCCESS, FAILURE or STOP",
                    text::line(other, 40)
                ),
            ))
        }
    };
    let id = required("detail.deploymentId", &d.deployment_id, ID_MAX)?;
    let target = format!(
        "{}/{}",
        required("detail.application", &d.application, NAME_MAX / 2)?,
        required("detail.deploymentGroup", &d.deployment_group, NAME_MAX / 2)?
    );
    let change = Change {
        at: event_time(envelope, None, "time")?,
        kind: ChangeKind::CodeDeployDeployment,
        actor: "CodeDeploy".into(),
        summary: text::line(&format!("CodeDeploy deployment {id} {}", outcome.describe()), NAME_MAX),
        link: None,
        origin: Origin::Event,
        id: Some(id),
        outcome: Some(outcome),
        location: None,
        resource: target,
    };
    let signal = deployment_signal(envelope, &change, &change.summary)?;
    Ok(ChangeEvent {
        names: vec![change.resource.clone()],
        change,
        signal,
        exercise: false,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EcsDetail {
    event_name: String,
    deployment_id: String,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// `cluster/service` from an ECS service ARN (`arn:aws:ecs:…:service/cluster/service`; the old
/// format without the cluster gives the service alone).
fn ecs_service(arn: &str) -> Option<String> {
    let (_, path) = arn.split_once(":service/")?;
    let path = text::line(path, NAME_MAX);
    (!path.is_empty()).then_some(path)
}

fn ecs(envelope: &Envelope) -> Result<ChangeEvent, ParseError> {
    let d: EcsDetail = super::detail(envelope)?;
    let outcome = match d.event_name.as_str() {
        "SERVICE_DEPLOYMENT_IN_PROGRESS" => ChangeOutcome::Started,
        "SERVICE_DEPLOYMENT_COMPLETED" => ChangeOutcome::Succeeded,
        "SERVICE_DEPLOYMENT_FAILED" => ChangeOutcome::Failed,
        other => {
            return Err(field(
                "detail.eventName",
                format!("'{}' is not a service deployment state", text::line(other, 60)),
            ))
        }
    };
    let target = envelope
        .resources
        .iter()
        .find_map(|r| ecs_service(r))
        .ok_or_else(|| field("resources", "names no ECS service ARN"))?;
    let id = required("detail.deploymentId", &d.deployment_id, ID_MAX)?;
    let at = match d.updated_at.as_deref() {
        Some(t) => parse_time("detail.updatedAt", t)?,
        None => event_time(envelope, None, "time")?,
    };
    let reason = d.reason.map(|r| text::line(&r, REASON_MAX)).filter(|r| !r.is_empty());
    let summary = format!("ECS deployment {id} {}", outcome.describe());
    let change = Change {
        at,
        kind: ChangeKind::EcsDeployment,
        actor: "ECS".into(),
        summary: text::line(&summary, NAME_MAX),
        link: None,
        origin: Origin::Event,
        id: Some(id),
        outcome: Some(outcome),
        location: None,
        resource: target,
    };
    let signal = deployment_signal(envelope, &change, reason.as_deref().unwrap_or(&change.summary))?;
    Ok(ChangeEvent {
        names: vec![change.resource.clone()],
        change,
        signal,
        exercise: false,
    })
}

#[derive(Deserialize)]
struct StackDetail {
    #[serde(rename = "stack-id")]
    stack_id: String,
    #[serde(rename = "status-details")]
    status_details: StackStatus,
    #[serde(rename = "client-request-token", default)]
    client_request_token: Option<String>,
}

#[derive(Deserialize)]
struct StackStatus {
    status: String,
    #[serde(rename = "status-reason", default)]
    status_reason: Option<String>,
}

fn stack(envelope: &Envelope) -> Result<ChangeEvent, ParseError> {
    let d: StackDetail = super::detail(envelope)?;
    let status = d.status_details.status.as_str();
    let outcome = match status {
        "UPDATE_IN_PROGRESS" => ChangeOutcome::Started,
        "UPDATE_COMPLETE" | "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" => ChangeOutcome::Succeeded,
        "UPDATE_FAILED" | "UPDATE_ROLLBACK_FAILED" => ChangeOutcome::Failed,
        "UPDATE_ROLLBACK_IN_PROGRESS" | "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS" | "UPDATE_ROLLBACK_COMPLETE" => {
            ChangeOutcome::RolledBack
        }
        other => {
            return Err(field(
                "detail.status-details.status",
                format!("'{}' is not a stack update", text::line(other, 60)),
            ))
        }
    };
    // `arn:aws:cloudformation:region:account:stack/NAME/GUID`
    let name = d
        .stack_id
        .split_once(":stack/")
        .and_then(|(_, rest)| rest.split('/').next())
        .map(|n| text::line(n, NAME_MAX))
        .filter(|n| !n.is_empty())
        .ok_or_else(|| field("detail.stack-id", "is not a stack ARN"))?;
    let reason = d
        .status_details
        .status_reason
        .map(|r| text::line(&r, REASON_MAX))
        .filter(|r| !r.is_empty());
    let summary = match &reason {
        Some(r) => format!("stack update {}: {r}", outcome.describe()),
        None => format!("stack update {}", outcome.describe()),
    };
    let change = Change {
        at: event_time(envelope, None, "time")?,
        kind: ChangeKind::StackUpdate,
        actor: "CloudFormation".into(),
        summary: text::line(&summary, NAME_MAX),
        link: Some(text::line(&d.stack_id, NAME_MAX)),
        origin: Origin::Event,
        id: d
            .client_request_token
            .map(|t| text::line(&t, ID_MAX))
            .filter(|t| !t.is_empty()),
        outcome: Some(outcome),
        location: None,
        resource: name,
    };
    Ok(ChangeEvent {
        names: vec![change.resource.clone()],
        change,
        signal: None,
        exercise: false,
    })
}

#[derive(Deserialize)]
struct ParameterDetail {
    operation: String,
    name: String,
}

fn parameter(envelope: &Envelope) -> Result<ChangeEvent, ParseError> {
    let d: ParameterDetail = super::detail(envelope)?;
    let operation = match d.operation.as_str() {
        op @ ("Create" | "Update" | "Delete" | "LabelParameterVersion") => op,
        other => {
            return Err(field(
                "detail.operation",
                format!(
                    "'{}' is not Create, Update, Delete or LabelParameterVersion",
                    text::line(other, 40)
                ),
            ))
        }
    };
    let name = required("detail.name", &d.name, NAME_MAX)?;
    let change = Change {
        at: event_time(envelope, None, "time")?,
        kind: ChangeKind::ConfigChange,
        actor: "Parameter Store".into(),
        summary: text::line(&format!("{operation} of parameter {name}"), NAME_MAX),
        link: None,
        origin: Origin::Event,
        id: envelope.id.as_deref().map(|i| text::line(i, ID_MAX)),
        outcome: Some(ChangeOutcome::Succeeded),
        location: None,
        resource: name,
    };
    Ok(ChangeEvent {
        names: vec![change.resource.clone()],
        change,
        signal: None,
        exercise: false,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiCallDetail {
    event_source: String,
    event_name: String,
    #[serde(default)]
    event_time: Option<String>,
    #[serde(default)]
    user_identity: Value,
    #[serde(default)]
    request_parameters: Value,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(rename = "requestID", default)]
    request_id: Option<String>,
}

/// The function's name from a name or ARN (`arn:aws:lambda:…:function:NAME[:QUALIFIER]`).
fn function_name(raw: &str) -> String {
    let name = match raw.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => raw,
    };
    text::line(name, NAME_MAX)
}

fn lambda(envelope: &Envelope) -> Result<ChangeEvent, ParseError> {
    let d: ApiCallDetail = super::detail(envelope)?;
    if d.event_source != "lambda.amazonaws.com" {
        return Err(field(
            "detail.eventSource",
            format!("'{}' is not lambda.amazonaws.com", text::line(&d.event_source, 60)),
        ));
    }
    let call = text::line(&d.event_name, 80);
    if !LAMBDA_DEPLOYMENT_CALLS.iter().any(|c| call.starts_with(c)) {
        return Err(field(
            "detail.eventName",
            format!("'{call}' does not deploy a function"),
        ));
    }
    if let Some(code) = d.error_code {
        return Err(field(
            "detail.errorCode",
            format!("the call failed ({}): nothing changed", text::line(&code, 60)),
        ));
    }
    let params = &d.request_parameters;
    let function = params["functionName"]
        .as_str()
        .map(function_name)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| field("detail.requestParameters.functionName", "missing"))?;
    let what = match (params["name"].as_str(), params["functionVersion"].as_str()) {
        (Some(alias), Some(version)) if call.starts_with("UpdateAlias") => {
            format!(
                " (alias {} to version {})",
                text::line(alias, 64),
                text::line(version, 32)
            )
        }
        _ => String::new(),
    };
    let short_call = call.trim_end_matches(|c: char| c.is_ascii_digit() || c == 'v');
    let actor = d.user_identity["arn"]
        .as_str()
        .map(|a| text::line(a, LABEL_MAX))
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let at = match d.event_time.as_deref() {
        Some(t) => parse_time("detail.eventTime", t)?,
        None => event_time(envelope, None, "time")?,
    };
    let change = Change {
        at,
        kind: ChangeKind::LambdaDeployment,
        actor,
        summary: text::line(&format!("{short_call}{what}"), NAME_MAX),
        link: None,
        origin: Origin::Event,
        id: d.request_id.map(|r| text::line(&r, ID_MAX)).filter(|r| !r.is_empty()),
        outcome: Some(ChangeOutcome::Succeeded),
        location: None,
        resource: function,
    };
    Ok(ChangeEvent {
        names: vec![change.resource.clone()],
        change,
        signal: None,
        exercise: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{read_within, Observed, TimeBounds};
    use chrono::TimeDelta;

    fn fixture(path: &str) -> Envelope {
        let text = std::fs::read_to_string(format!("{}/../../events/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        Envelope::from_json(&serde_json::from_str(&text).unwrap())
    }

    /// Reads a fixture as if it arrived a minute after its own time.
    fn read(e: &Envelope) -> Result<ChangeEvent, ParseError> {
        let now = e.time.unwrap() + TimeDelta::minutes(1);
        match read_within(e, now, TimeBounds::default())? {
            Observed::Change(c) => Ok(*c),
            Observed::Signal(s) => panic!("a signal, not a change: {s:?}"),
        }
    }

    #[test]
    fn every_documented_change_event_reads_as_the_change_it_is() {
        for (file, kind, resource, outcome, signal) in [
            (
                "ecs-deployment-failed.json",
                ChangeKind::EcsDeployment,
                "shop/checkout-api",
                ChangeOutcome::Failed,
                Some(Health::Impaired),
            ),
            (
                "ecs-deployment-completed.json",
                ChangeKind::EcsDeployment,
                "shop/checkout-api",
                ChangeOutcome::Succeeded,
                Some(Health::Recovered),
            ),
            (
                "codedeploy-failure.json",
                ChangeKind::CodeDeployDeployment,
                "AppECS-shop-checkout-api/DgpECS-shop-checkout-api",
                ChangeOutcome::Failed,
                Some(Health::Impaired),
            ),
            (
                "codedeploy-success.json",
                ChangeKind::CodeDeployDeployment,
                "AppECS-shop-checkout-api/DgpECS-shop-checkout-api",
                ChangeOutcome::Succeeded,
                Some(Health::Recovered),
            ),
            (
                "cloudformation-stack-update.json",
                ChangeKind::StackUpdate,
                "shop-checkout-api",
                ChangeOutcome::Succeeded,
                None,
            ),
            (
                "lambda-code-update.json",
                ChangeKind::LambdaDeployment,
                "checkout-api-fn",
                ChangeOutcome::Succeeded,
                None,
            ),
            (
                "lambda-alias-update.json",
                ChangeKind::LambdaDeployment,
                "checkout-api-fn",
                ChangeOutcome::Succeeded,
                None,
            ),
            (
                "ssm-parameter-change.json",
                ChangeKind::ConfigChange,
                "/checkout/feature-flags",
                ChangeOutcome::Succeeded,
                None,
            ),
        ] {
            let e = read(&fixture(&format!("deployments/{file}"))).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(
                (e.change.kind, e.change.resource.as_str(), e.change.outcome),
                (kind, resource, Some(outcome)),
                "{file}"
            );
            assert_eq!(e.change.origin, Origin::Event);
            assert_eq!(e.names[0], resource, "{file}: its own name first");
            assert_eq!(e.signal.as_ref().map(|s| s.health), signal, "{file}");
            if let Some(s) = &e.signal {
                assert_eq!((s.source, s.resource.as_str()), (SignalSource::Deployment, resource));
            }
        }
    }

    #[test]
    fn what_a_person_reads_of_a_change_names_it() {
        let alias = read(&fixture("deployments/lambda-alias-update.json")).unwrap().change;
        assert_eq!(alias.summary, "UpdateAlias (alias live to version 43)");
        assert_eq!(
            alias.actor,
            "arn:aws:sts::482913650274:assumed-role/shop-deploy-role/deploy-pipeline"
        );
        let failed = read(&fixture("deployments/ecs-deployment-failed.json")).unwrap();
        assert_eq!(
            failed.change.summary,
            "ECS deployment ecs-svc/8830416275519402716 failed"
        );
        assert_eq!(
            failed.change.at.to_rfc3339(),
            "2024-05-14T09:52:06.204+00:00",
            "its own time"
        );
        let signal = failed.signal.unwrap();
        assert_eq!(
            signal.summary(),
            "deployment failed: shop/checkout-api — ECS deployment circuit breaker: task failed to start."
        );
        let param = read(&fixture("deployments/ssm-parameter-change.json")).unwrap().change;
        assert_eq!(param.summary, "Update of parameter /checkout/feature-flags");
    }

    #[test]
    fn game_day_changes_are_exercises_and_other_states_are_refused_with_the_reason() {
        let mut e = fixture("deployments/ecs-deployment-failed.json");
        e.source = crate::event::GAMEDAY_SOURCE.into();
        assert!(read(&e).unwrap().signal.unwrap().exercise);

        let mut other = fixture("deployments/cloudformation-stack-update.json");
        other.detail["status-details"]["status"] = "CREATE_COMPLETE".into();
        assert!(read(&other)
            .unwrap_err()
            .to_string()
            .contains("'CREATE_COMPLETE' is not a stack update"));

        let mut failed_call = fixture("deployments/lambda-code-update.json");
        failed_call.detail["errorCode"] = "AccessDenied".into();
        assert!(read(&failed_call).unwrap_err().to_string().contains("nothing changed"));

        let mut not_a_deploy = fixture("deployments/lambda-code-update.json");
        not_a_deploy.detail["eventName"] = "GetFunction20150331v2".into();
        assert!(read(&not_a_deploy).unwrap_err().to_string().contains("does not deploy"));

        let mut no_service = fixture("deployments/ecs-deployment-completed.json");
        no_service.resources.clear();
        assert!(read(&no_service)
            .unwrap_err()
            .to_string()
            .contains("no ECS service ARN"));
    }

    #[test]
    fn a_change_older_than_the_bound_is_refused_and_one_ahead_of_the_clock_is_clamped() {
        let e = fixture("deployments/codedeploy-success.json");
        let at = e.time.unwrap();
        let old = read_within(&e, at + TimeDelta::days(8), TimeBounds::default());
        assert!(old.unwrap_err().to_string().contains("older than 7 days"));
        let Observed::Change(c) = read_within(&e, at - TimeDelta::hours(1), TimeBounds::default()).unwrap() else {
            panic!("a change")
        };
        assert_eq!(c.change.at, at - TimeDelta::hours(1));
        assert!(c.signal.unwrap().time_note.is_some());
    }
}
