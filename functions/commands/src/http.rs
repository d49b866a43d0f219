//! The HTTP side of the command API: routes, the verified caller, and answers as JSON with a status
//! a client can act on (400 malformed, 403 no verified caller, 404 not found, 409 refused by a
//! rule, 5xx failed).

use crate::handler::{Deps, Failure, Request as Asked};
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use incident_core::approval::Caller;
use incident_core::command::{Command, Refusal, ReportRequest};
use incident_core::ports::{
    CatalogSink, CatalogSource, CommandStore, FollowUps, Notifier, PortError, ReportIntake, TaskCallbacks, Tokens,
};
use incident_core::IncidentId;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

pub type Request = ApiGatewayV2httpRequest;

/// The routes, as the template declares them.
pub const INCIDENT_COMMAND: &str = "POST /incidents/{id}";
pub const CUSTOMER_REPORT: &str = "POST /reports";
pub const CATALOG_IMPORT: &str = "PUT /catalog";

fn body<T: DeserializeOwned>(request: &Request) -> Result<T, Refusal> {
    if request.is_base64_encoded {
        return Err(Refusal::Invalid("send the command as JSON (Content-Type: application/json)".into()));
    }
    let text = request.body.as_deref().unwrap_or("");
    serde_json::from_str(text).map_err(|e| Refusal::Invalid(format!("the request is not a valid command: {e}")))
}

/// What the request asks, or why it cannot be understood.
fn parse(request: &Request) -> Result<Asked, Refusal> {
    let route = request
        .route_key
        .as_deref()
        .or(request.request_context.route_key.as_deref())
        .unwrap_or_default();
    match route {
        INCIDENT_COMMAND => {
            let id = request.path_parameters.get("id").map(String::as_str).unwrap_or_default();
            let id = IncidentId::parse(id).map_err(|e| Refusal::Invalid(e.to_string()))?;
            let command: Command = body(request)?;
            Ok(Asked::Incident(id, command))
        }
        CUSTOMER_REPORT => Ok(Asked::Report(body::<ReportRequest>(request)?)),
        CATALOG_IMPORT => Ok(Asked::Catalog(body(request)?)),
        other => Err(Refusal::NotFound(format!("no route {other}"))),
    }
}

/// The caller the IAM authoriser verified; never anything the request body says.
fn caller(request: &Request) -> Option<Caller> {
    let iam = request.request_context.authorizer.as_ref()?.iam.as_ref()?;
    iam.user_arn.as_deref().filter(|a| !a.is_empty()).map(Caller::from_arn)
}

fn respond(status: i64, body: Value) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = status;
    response.headers = headers;
    response.body = Some(Body::Text(body.to_string()));
    response
}

/// The answer to a failure: its status and a body that says what happened in one line.
pub fn failure(f: &Failure) -> ApiGatewayV2httpResponse {
    match f {
        Failure::Refused(r) => {
            let status = match r {
                Refusal::Refused(_) | Refusal::Checklist(_) => 409,
                Refusal::NotFound(_) => 404,
                Refusal::Invalid(_) => 400,
            };
            let mut body = json!({ "error": r, "message": r.to_string() });
            if let Refusal::Checklist(missing) = r {
                body["missing"] = json!(missing);
            }
            respond(status, body)
        }
        Failure::Port(e) => {
            let status = match e {
                PortError::NotFound(_) => 404,
                PortError::Rejected(_) => 409,
                PortError::Transient(_) => 503,
                PortError::Invalid(_) => 500,
            };
            respond(status, json!({ "error": { "kind": "failed" }, "message": e.to_string() }))
        }
    }
}

pub async fn serve<S, C, N, K, F>(
    deps: &Deps<S, C, N, K, F>,
    request: Request,
) -> Result<ApiGatewayV2httpResponse, std::convert::Infallible>
where
    S: CommandStore + Tokens,
    C: CatalogSource + CatalogSink,
    N: Notifier + ReportIntake,
    K: TaskCallbacks,
    F: FollowUps,
{
    let Some(caller) = caller(&request) else {
        let refusal = Refusal::Refused("no verified caller: the command API accepts only IAM-signed requests".into());
        return Ok(respond(403, json!({ "error": refusal, "message": refusal.to_string() })));
    };
    let asked = match parse(&request) {
        Ok(asked) => asked,
        Err(refusal) => return Ok(failure(&Failure::Refused(refusal))),
    };
    Ok(match deps.handle(asked, &caller, chrono::Utc::now()).await {
        Ok(reply) => respond(200, json!(reply)),
        Err(f) => {
            tracing::info!(caller = %caller.arn, outcome = %f, "command not carried out");
            failure(&f)
        }
    })
}
