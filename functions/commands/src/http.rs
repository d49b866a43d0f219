//! The HTTP side of the command API: routes, the verified caller, and answers as JSON with a status
//! a client can act on (400 malformed, 403 no verified caller, 404 not found, 409 refused by a
//! rule, 5xx failed).

use crate::handler::{Deps, Read, Request as Asked, Store};
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use incident_core::approval::Caller;
use incident_core::command::{Refusal, ReportRequest};
use incident_core::console::{self, Denied};
use incident_core::ports::{
    CatalogSink, CatalogSource, CommandError, EvidenceStore, FollowUps, Notifier, PortError, ReportIntake, SignIns,
    TaskCallbacks,
};
use incident_core::IncidentId;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

pub type Request = ApiGatewayV2httpRequest;

/// The routes, as the template declares them.
pub const INCIDENT_COMMAND: &str = "POST /incidents/{id}";
pub const CUSTOMER_REPORT: &str = "POST /reports";
pub const CATALOG_IMPORT: &str = "PUT /catalog";
pub const SILENCES: &str = "POST /silences";
pub const OVERRIDES: &str = "POST /oncall/overrides";
pub const LEARNINGS: &str = "POST /learnings";
pub const BOARD: &str = "GET /incidents";
pub const PAGE: &str = "GET /incidents/{id}";
pub const EVIDENCE: &str = "GET /incidents/{id}/evidence";
pub const ON_CALL: &str = "GET /oncall";
pub const REVIEW: &str = "GET /review";

/// What a request asks: a change, or a look.
enum Asking {
    Change(Asked),
    Look(Read),
}

fn body<T: DeserializeOwned>(request: &Request) -> Result<T, Refusal> {
    if request.is_base64_encoded {
        return Err(Refusal::Invalid(
            "send the command as JSON (Content-Type: application/json)".into(),
        ));
    }
    let text = request.body.as_deref().unwrap_or("");
    serde_json::from_str(text).map_err(|e| Refusal::Invalid(format!("the request is not a valid command: {e}")))
}

fn incident_id(request: &Request) -> Result<IncidentId, Refusal> {
    let id = request
        .path_parameters
        .get("id")
        .map(String::as_str)
        .unwrap_or_default();
    IncidentId::parse(id).map_err(|e| Refusal::Invalid(e.to_string()))
}

/// What the request asks, or why it cannot be understood.
fn parse(request: &Request) -> Result<Asking, Refusal> {
    let route = request
        .route_key
        .as_deref()
        .or(request.request_context.route_key.as_deref())
        .unwrap_or_default();
    let change = match route {
        BOARD => return Ok(Asking::Look(Read::Board)),
        PAGE => return Ok(Asking::Look(Read::Page(incident_id(request)?))),
        EVIDENCE => return Ok(Asking::Look(Read::Evidence(incident_id(request)?))),
        ON_CALL => return Ok(Asking::Look(Read::OnCall)),
        REVIEW => {
            let week = request.query_string_parameters.first("week").filter(|w| !w.is_empty());
            let week = week
                .map(incident_core::review::Week::parse)
                .transpose()
                .map_err(Refusal::Invalid)?;
            return Ok(Asking::Look(Read::Review(week)));
        }
        INCIDENT_COMMAND => Asked::Incident(incident_id(request)?, body(request)?),
        CUSTOMER_REPORT => Asked::Report(body::<ReportRequest>(request)?),
        CATALOG_IMPORT => Asked::Catalog(Box::new(body(request)?)),
        SILENCES => Asked::Silence(body(request)?),
        OVERRIDES => Asked::Override(body(request)?),
        LEARNINGS => Asked::Learning(body(request)?),
        other => return Err(Refusal::NotFound(format!("no route {other}"))),
    };
    Ok(Asking::Change(change))
}

/// Who is asking, as the IAM authoriser verified: an IAM user or role, or (for credentials from
/// the console's identity pool, which all name the pool's one role) the person whose user-pool
/// sign-in API Gateway verified, admitted by the core's console rules. Never anything the body says.
async fn caller<S, C, N, K, F, G, E>(
    deps: &Deps<S, C, N, K, F, G, E>,
    request: &Request,
    changes: bool,
) -> Result<Caller, (i64, String)>
where
    C: CatalogSource,
    G: SignIns,
{
    let no_caller = || {
        (
            403,
            "no verified caller: the command API accepts only IAM-signed requests".to_string(),
        )
    };
    let denied = |d: Denied| (403, d.to_string());
    let iam = request
        .request_context
        .authorizer
        .as_ref()
        .and_then(|a| a.iam.as_ref())
        .ok_or_else(no_caller)?;
    let arn = iam
        .user_arn
        .as_deref()
        .filter(|a| !a.is_empty())
        .ok_or_else(no_caller)?;
    let Some(identity) = &iam.cognito_identity else {
        return Ok(Caller::from_arn(arn));
    };
    console::from_our_pool(identity.identity_pool_id.as_deref(), deps.sign_ins.identity_pool()).map_err(denied)?;
    let sub = console::subject(&identity.amr, deps.sign_ins.provider()).map_err(denied)?;
    let unavailable = |e: PortError| (503, format!("cannot check the console sign-in now: {e}"));
    let user = deps.sign_ins.signed_in(sub).await.map_err(unavailable)?;
    let user = user.ok_or_else(|| denied(Denied::UnknownUser))?;
    let catalog = deps.catalog.load().await.map_err(unavailable)?;
    let caller = console::caller(&user, &catalog, arn, changes).map_err(denied)?;
    // The audit trail names the person, not only the console role's shared session.
    tracing::info!(person = %caller.name, sub, identity = identity.identity_id.as_deref().unwrap_or_default(), "console caller");
    Ok(caller)
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
pub fn failure(f: &CommandError) -> ApiGatewayV2httpResponse {
    match f {
        CommandError::Refused(r) => {
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
        CommandError::Port(e) => {
            let status = match e {
                PortError::NotFound(_) => 404,
                PortError::Rejected(_) => 409,
                PortError::Transient(_) => 503,
                PortError::Invalid(_) => 500,
            };
            respond(
                status,
                json!({ "error": { "kind": "failed" }, "message": e.to_string() }),
            )
        }
    }
}

pub async fn serve<S, C, N, K, F, G, E>(
    deps: &Deps<S, C, N, K, F, G, E>,
    request: Request,
) -> Result<ApiGatewayV2httpResponse, std::convert::Infallible>
where
    S: Store,
    C: CatalogSource + CatalogSink,
    N: Notifier + ReportIntake,
    K: TaskCallbacks,
    F: FollowUps,
    G: SignIns,
    E: EvidenceStore,
{
    let asking = parse(&request);
    // A change is anything but a GET, whether or not the request can be understood.
    let changes = request.request_context.http.method != aws_lambda_events::http::Method::GET;
    let caller = match caller(deps, &request, changes).await {
        Ok(caller) => caller,
        Err((status, reason)) => {
            let refusal = Refusal::Refused(reason);
            return Ok(respond(
                status,
                json!({ "error": refusal, "message": refusal.to_string() }),
            ));
        }
    };
    let answer = match asking {
        Ok(Asking::Change(asked)) => deps.handle(asked, &caller, chrono::Utc::now()).await,
        Ok(Asking::Look(read)) => deps.read(read, chrono::Utc::now()).await,
        Err(refusal) => Err(CommandError::Refused(refusal)),
    };
    Ok(match answer {
        Ok(reply) => respond(200, json!(reply)),
        Err(f) => {
            tracing::info!(caller = %caller.arn, person = %caller.name, outcome = %f, "command not carried out");
            failure(&f)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::Deps;
    use chrono::Utc;
    use incident_core::catalog::Catalog;
    use incident_core::console::SignedIn;
    use incident_core::incident::{Incident, Scope, Status};
    use incident_core::memory::{
        MemoryCatalog, MemoryEvidence, MemoryFunctions, MemoryLoop, MemoryNotifier, MemorySignIns, MemoryStore,
    };
    use incident_core::ports::{IncidentStore, Tokens};
    use incident_core::SignalKey;
    use std::sync::Mutex;

    type TestDeps =
        Deps<MemoryStore, MemoryCatalog, MemoryNotifier, MemoryLoop, MemoryFunctions, MemorySignIns, MemoryEvidence>;

    const POOL: &str = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Console";

    fn deps() -> (TestDeps, IncidentId) {
        let id = IncidentId::for_service("checkout", &SignalKey::new("t", "1"));
        let mut incident = Incident::open(id.clone(), Scope::SingleService, vec!["checkout".into()], Utc::now());
        incident.status = Status::Engaged;
        let catalog: Catalog = serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap();
        let deps = Deps {
            store: MemoryStore::with([incident]),
            catalog: MemoryCatalog(Mutex::new(catalog)),
            bus: MemoryNotifier::default(),
            callbacks: MemoryLoop::default(),
            functions: MemoryFunctions::default(),
            sign_ins: MemorySignIns {
                provider: POOL.into(),
                identity_pool: "us-east-1:pool".into(),
                users: vec![
                    (
                        "sub-ana".into(),
                        SignedIn {
                            username: "ana".into(),
                            groups: vec!["responders".into()],
                        },
                    ),
                    (
                        "sub-dara".into(),
                        SignedIn {
                            username: "dara".into(),
                            groups: vec!["readers".into()],
                        },
                    ),
                ],
            },
            evidence: MemoryEvidence::default(),
        };
        (deps, id)
    }

    /// An API Gateway (payload 2.0) request as the IAM authoriser passes it on.
    fn request(route: &str, id: Option<&IncidentId>, caller: Option<&str>, body: Value) -> Request {
        let mut event = json!({
            "version": "2.0", "routeKey": route, "rawPath": "/", "headers": {}, "isBase64Encoded": false,
            "body": body.to_string(),
            "requestContext": { "routeKey": route, "accountId": "000000000000", "apiId": "a1b2c3d4",
                "stage": "$default", "requestId": "r", "timeEpoch": 0,
                "http": { "method": route.split(' ').next().unwrap_or("POST"), "path": "/", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t" } },
        });
        if let Some(id) = id {
            event["pathParameters"] = json!({ "id": id });
        }
        if let Some(name) = caller {
            event["requestContext"]["authorizer"] = json!({ "iam": { "userArn": format!("arn:aws:iam::000000000000:user/{name}"), "accountId": "000000000000" } });
        }
        serde_json::from_value(event).expect("the shape API Gateway sends")
    }

    /// A request signed with the console identity pool's credentials after `sub` signed in to `pool`.
    fn console(route: &str, id: Option<&IncidentId>, pool: &str, sub: &str, body: Value) -> Request {
        let mut request = serde_json::to_value(request(route, id, None, body)).unwrap();
        request["requestContext"]["authorizer"] = json!({ "iam": {
            "userArn": "arn:aws:sts::000000000000:assumed-role/Console-Role/CognitoIdentityCredentials",
            "accountId": "000000000000",
            "cognitoIdentity": { "amr": ["authenticated", pool, format!("{pool}:CognitoSignIn:{sub}")],
                "identityId": "us-east-1:identity", "identityPoolId": "us-east-1:pool" } } });
        serde_json::from_value(request).unwrap()
    }

    async fn call(deps: &TestDeps, request: Request) -> (i64, Value) {
        let response = serve(deps, request).await.unwrap();
        let body = match response.body {
            Some(Body::Text(text)) => serde_json::from_str(&text).unwrap(),
            other => panic!("{other:?}"),
        };
        (response.status_code, body)
    }

    #[tokio::test]
    async fn a_console_user_acts_as_their_catalog_person_and_a_reader_may_only_look() {
        let (deps, id) = deps();
        let (status, body) = call(
            &deps,
            console(INCIDENT_COMMAND, Some(&id), POOL, "sub-ana", json!({"command": "ack"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let incident = deps.store.incident(&id).await.unwrap();
        assert_eq!(incident.acknowledged_by.as_deref(), Some("ana"));

        let (status, body) = call(
            &deps,
            console(
                INCIDENT_COMMAND,
                Some(&id),
                POOL,
                "sub-dara",
                json!({"command": "note", "text": "x"}),
            ),
        )
        .await;
        assert_eq!(status, 403);
        assert_eq!(
            body["message"],
            "dara may look but not act: only the user pool's responders group changes incidents"
        );
        let (status, body) = call(&deps, console(PAGE, Some(&id), POOL, "sub-dara", json!(null))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["incident"]["id"], json!(id));

        let mut bad_id = serde_json::to_value(console(PAGE, Some(&id), POOL, "sub-dara", json!(null))).unwrap();
        bad_id["pathParameters"]["id"] = json!("not-an-id");
        let (status, _) = call(&deps, serde_json::from_value(bad_id).unwrap()).await;
        assert_eq!(status, 400, "a reader's malformed look is malformed, not forbidden");
        let mut elsewhere = serde_json::to_value(console(PAGE, Some(&id), POOL, "sub-ana", json!(null))).unwrap();
        elsewhere["requestContext"]["authorizer"]["iam"]["cognitoIdentity"]["identityPoolId"] =
            json!("us-east-1:other");
        let (status, body) = call(&deps, serde_json::from_value(elsewhere).unwrap()).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (
                403,
                Some("the console credentials come from another identity pool than this stack's")
            )
        );

        let other = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Other";
        for (pool, sub, reason) in [
            (
                other,
                "sub-ana",
                "the console credentials carry no sign-in to this stack's user pool",
            ),
            (
                POOL,
                "sub-gone",
                "the signed-in console user is not known to the user pool",
            ),
        ] {
            let (status, body) = call(&deps, console(PAGE, Some(&id), pool, sub, json!(null))).await;
            assert_eq!((status, body["message"].as_str()), (403, Some(reason)));
        }
        let timeline = deps.store.timeline(&id);
        assert!(
            !timeline.iter().any(|e| e.actor == "dara"),
            "the reader's note was not written"
        );
    }

    #[tokio::test]
    async fn the_board_and_a_page_show_the_incident_its_checklist_and_no_token() {
        let (deps, id) = deps();
        deps.store.keep(&id, "approval", "secret-task-token-123").await.unwrap();
        let (status, body) = call(&deps, request(BOARD, None, Some("rita"), json!(null))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"][0]["id"], json!(id));
        let (status, body) = call(&deps, request(PAGE, Some(&id), Some("rita"), json!(null))).await;
        assert_eq!(status, 200, "{body}");
        let page = &body["data"];
        assert_eq!(page["approvers"], json!(["ana", "bilal"]));
        assert!(page["checklist"].as_array().is_some_and(|c| !c.is_empty()), "{page}");
        assert!(page["coe_gaps"].as_array().is_some_and(|c| !c.is_empty()), "{page}");
        assert!(!body.to_string().contains("secret-task-token-123"));
        let (status, body) = call(&deps, console(ON_CALL, None, POOL, "sub-dara", json!(null))).await;
        assert_eq!(status, 200, "{body}");
        let payments = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["team"] == "payments")
            .cloned();
        assert!(payments.is_some_and(|r| r["now"]["person"].is_string()), "{body}");

        let mut review = serde_json::to_value(request(REVIEW, None, Some("rita"), json!(null))).unwrap();
        let week = incident_core::review::Week::of(Utc::now()).to_string();
        review["queryStringParameters"] = json!({ "week": week });
        let (status, body) = call(&deps, serde_json::from_value(review.clone()).unwrap()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["week"], json!(week));
        assert_eq!(body["data"]["incidents"][0]["id"], json!(id));
        review["queryStringParameters"] = json!({ "week": "last week" });
        let (status, body) = call(&deps, serde_json::from_value(review).unwrap()).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (400, Some("'last week' is not an ISO week like 2026-W48"))
        );
        let (status, _) = call(&deps, request(PAGE, Some(&id), None, json!(null))).await;
        assert_eq!(status, 403, "a look needs a verified caller too");
    }

    #[tokio::test]
    async fn the_evidence_view_says_which_capture_is_no_longer_as_captured() {
        use incident_core::evidence::{manifest_key, render, Collected, Manifest, Moment, Window, METRIC_DATA};
        use incident_core::ports::EvidenceStore;
        let (deps, id) = deps();
        let (status, body) = call(&deps, request(EVIDENCE, Some(&id), Some("rita"), json!(null))).await;
        assert_eq!(
            (status, body["data"]["captures"].as_array().map(Vec::len)),
            (200, Some(0)),
            "{body}"
        );

        let now = Utc::now();
        let window = Window {
            from: now - chrono::Duration::minutes(30),
            to: now,
        };
        let (bytes, object) = render(&id, "c1", METRIC_DATA, &window, &Collected::new("GetMetricData", 1_000));
        let manifest = Manifest {
            incident: id.clone(),
            capture: "c1".into(),
            moment: Moment::Opening,
            window,
            created_at: now,
            size_cap_bytes: 1_000,
            objects: vec![object.clone()],
            errors: vec![],
        };
        deps.evidence
            .put(&manifest_key(&id, "c1"), serde_json::to_vec(&manifest).unwrap())
            .await
            .unwrap();
        deps.evidence.put(&object.key, bytes).await.unwrap();
        let (_, body) = call(&deps, request(EVIDENCE, Some(&id), Some("rita"), json!(null))).await;
        assert_eq!(body["data"]["captures"][0]["intact"], true, "{body}");
        deps.evidence
            .objects
            .lock()
            .unwrap()
            .insert(object.key.clone(), b"rewritten".to_vec());
        let (_, body) = call(&deps, request(EVIDENCE, Some(&id), Some("rita"), json!(null))).await;
        assert_eq!(body["data"]["captures"][0]["intact"], false);
        assert_eq!(body["data"]["captures"][0]["findings"][0]["status"], "changed");
        assert_eq!(body["message"], format!("1 captures of {id}, 1 not intact"));
    }

    #[tokio::test]
    async fn a_request_without_a_verified_caller_changes_nothing() {
        let (d, id) = deps();
        let (status, body) = call(
            &d,
            request(INCIDENT_COMMAND, Some(&id), None, json!({ "command": "ack" })),
        )
        .await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(d.store.get(&id).unwrap().acknowledged_by, None);
    }

    #[tokio::test]
    async fn the_caller_is_the_verified_identity_never_a_name_in_the_body() {
        let (d, id) = deps();
        let body = json!({ "command": "ack", "by": "ana", "caller": "arn:aws:iam::000000000000:user/ana" });
        let (status, answer) = call(&d, request(INCIDENT_COMMAND, Some(&id), Some("eve"), body)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(d.store.get(&id).unwrap().acknowledged_by.as_deref(), Some("eve"));
        assert_eq!(
            d.bus.events_of("Incident Acknowledged")[0]["arn"],
            "arn:aws:iam::000000000000:user/eve"
        );
    }

    #[tokio::test]
    async fn refusals_carry_a_status_a_client_can_act_on() {
        let (d, id) = deps();
        let ack = || request(INCIDENT_COMMAND, Some(&id), Some("ana"), json!({ "command": "ack" }));
        assert_eq!(call(&d, ack()).await.0, 200);
        let (status, body) = call(&d, ack()).await;
        assert_eq!(status, 409);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("already acknowledged by ana"),
            "{body}"
        );

        let (status, body) = call(
            &d,
            request(
                INCIDENT_COMMAND,
                Some(&id),
                Some("ana"),
                json!({ "command": "resolve" }),
            ),
        )
        .await;
        assert_eq!(status, 409);
        assert!(body["missing"].as_array().is_some_and(|m| !m.is_empty()), "{body}");

        let other = IncidentId::for_service("orders", &SignalKey::new("t", "2"));
        let (status, _) = call(
            &d,
            request(INCIDENT_COMMAND, Some(&other), Some("ana"), json!({ "command": "ack" })),
        )
        .await;
        assert_eq!(status, 404);
        let (status, body) = call(
            &d,
            request(INCIDENT_COMMAND, Some(&id), Some("ana"), json!({ "command": "nap" })),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        let (status, _) = call(&d, request("DELETE /incidents/{id}", Some(&id), Some("ana"), json!({}))).await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn a_resolution_completes_each_waiting_task_once_with_its_server_side_token() {
        let (d, id) = deps();
        d.store.keep(&id, "resolve", "token-resolve").await.unwrap();
        d.store.keep(&id, "updates", "token-updates").await.unwrap();
        let body = json!({ "command": "resolve", "force_reason": "the exercise ends here" });
        let (status, answer) = call(&d, request(INCIDENT_COMMAND, Some(&id), Some("ivo"), body)).await;
        assert_eq!(status, 200, "{answer}");
        let completed: Vec<String> = d
            .callbacks
            .completed
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.0.clone())
            .collect();
        assert_eq!(completed, ["token-resolve", "token-updates"]);
        assert_eq!(d.store.token(&id, "resolve"), None, "taken: a token completes once");
        assert!(
            !answer.to_string().contains("token-"),
            "tokens never reach the caller: {answer}"
        );
    }

    #[tokio::test]
    async fn a_customer_report_is_filed_as_the_caller_and_a_catalog_is_validated_before_import() {
        let (d, _) = deps();
        let report = json!({ "service": "checkout", "summary": "customers cannot pay", "reporter": "someone-else" });
        let (status, _) = call(&d, request(CUSTOMER_REPORT, None, Some("sam"), report)).await;
        assert_eq!(status, 200);
        assert_eq!(d.bus.reports.lock().unwrap()[0].reporter.as_deref(), Some("sam"));

        let invalid = json!({ "teams": [{ "name": "a" }],
            "settings": { "default_owner": "a", "incident_response_team": "a", "support_team": "nobody" },
            "services": [] });
        let (status, body) = call(&d, request(CATALOG_IMPORT, None, Some("ops"), invalid)).await;
        assert_eq!(status, 400);
        assert!(body["message"].as_str().unwrap().contains("nobody"), "{body}");
        assert!(
            d.catalog.0.lock().unwrap().service("checkout").is_some(),
            "the old catalog stays"
        );
    }

    #[tokio::test]
    async fn an_sms_reply_with_the_code_from_the_paged_number_acknowledges_once_and_another_number_is_refused() {
        use incident_core::page_reply::{code_hash, IssuedCode};
        use incident_core::ports::PageCodes;
        let (d, id) = deps();
        d.store.keep(&id, "ack", "ack-token").await.unwrap();
        let hash = code_hash("482913");
        let issued = IssuedCode {
            incident: id.clone(),
            person: "ana".into(),
        };
        assert!(d.store.issue(&hash, &issued).await.unwrap());
        assert!(
            !d.store.issue(&hash, &issued).await.unwrap(),
            "a live code is not issued twice"
        );
        let inbound = |from: &str, body: &str| {
            json!({ "originationNumber": from, "destinationNumber": "+15555550199", "messageKeyword": "ACK",
                    "messageBody": body, "inboundMessageId": "m-1" })
            .to_string()
        };
        // Another number with the right code: refused, on the timeline, and the code still stands.
        let refused = d
            .sms_reply(&inbound("+15555550999", "ACK 482913"), Utc::now())
            .await
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "acknowledgement by SMS refused: the reply came from …0999, not ana's number"
        );
        let timeline = d.store.timeline(&id);
        assert!(timeline
            .iter()
            .any(|e| e.text.contains("refused: the reply came from …0999")));
        assert!(d.store.get(&id).unwrap().acknowledged_at.is_none());
        assert!(d.store.find(&hash).await.unwrap().is_some());
        // Ana's number: acknowledged as ana, the wait's token completed, the code used up.
        let ana = "+15555550101";
        d.sms_reply(&inbound(ana, "ack 482913"), Utc::now()).await.unwrap();
        let stored = d.store.get(&id).unwrap();
        assert_eq!(stored.acknowledged_by.as_deref(), Some("ana"));
        assert_eq!(d.callbacks.completed.lock().unwrap()[0].0, "ack-token");
        assert!(d
            .store
            .timeline(&id)
            .iter()
            .any(|e| e.text == "ana acknowledged by replying to the page by SMS (…0101)"));
        let again = d.sms_reply(&inbound(ana, "ACK 482913"), Utc::now()).await.unwrap_err();
        assert!(again.to_string().contains("no such acknowledgement code"), "{again}");
        let no_code = d.sms_reply(&inbound(ana, "on it"), Utc::now()).await.unwrap_err();
        assert!(no_code.to_string().contains("carries no acknowledgement code"));
    }

    #[tokio::test]
    async fn a_learning_is_added_escalated_answered_and_closed_as_the_verified_caller() {
        let (d, incident) = deps();
        let add = json!({
            "action": "add", "category": "configuration", "text": "Rename a flag only with a migration",
            "incidents": [incident.to_string()], "shared": "the weekly operational review"
        });
        let (status, body) = call(&d, request(LEARNINGS, None, Some("lena"), add.clone())).await;
        assert_eq!(status, 200, "{body}");
        let id = body["data"]["id"].as_str().unwrap().to_string();
        assert_eq!(body["data"]["steps"][0]["by"], "lena");
        assert_eq!(
            call(&d, request(LEARNINGS, None, Some("lena"), add)).await.0,
            409,
            "added once"
        );
        let answer =
            json!({ "action": "answer", "service": "checkout", "learning": id, "text": "Yes, the pipeline checks it" });
        assert_eq!(
            call(&d, request(LEARNINGS, None, Some("ana"), answer.clone())).await.0,
            409,
            "no question yet"
        );
        let ask = json!({ "action": "escalate", "id": id, "what": "Does every flag rename ship with a migration?" });
        assert_eq!(call(&d, request(LEARNINGS, None, Some("lena"), ask)).await.0, 200);
        let (status, body) = call(&d, request(LEARNINGS, None, Some("ana"), answer)).await;
        assert_eq!((status, body["data"]["by"].as_str()), (200, Some("ana")), "{body}");
        let central =
            json!({ "action": "escalate", "id": id, "what": "The platform renames flags", "owner": "platform-oncall" });
        let (status, body) = call(&d, request(LEARNINGS, None, Some("lena"), central)).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("platform-oncall owns"),
            "{body}"
        );
        let done =
            json!({ "action": "done", "id": id, "validation": "the rename API refuses a rename without a migration" });
        assert_eq!(call(&d, request(LEARNINGS, None, Some("lena"), done)).await.0, 200);
        let stored = d.catalog.0.lock().unwrap().clone();
        assert_eq!(stored.learnings.len(), 1);
        assert!(stored.learnings[0].action().unwrap().done.is_some());
        assert_eq!(
            incident_core::learning::orr(&stored, "checkout")[0]
                .answer
                .as_ref()
                .unwrap()
                .by,
            "ana"
        );
        let unknown = json!({ "action": "list" });
        assert_eq!(call(&d, request(LEARNINGS, None, Some("ana"), unknown)).await.0, 400);
    }

    #[tokio::test]
    async fn a_silence_is_set_as_the_caller_kept_beside_the_catalog_and_lifted_once() {
        let (d, incident) = deps();
        let set = json!({ "action": "set", "service": "checkout", "minutes": 90, "reason": "failover drill" });
        let (status, body) = call(&d, request(SILENCES, None, Some("ana"), set)).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("customer reports still do"),
            "{body}"
        );
        let stored = d.catalog.0.lock().unwrap().silences.clone();
        assert_eq!((stored.len(), stored[0].by.as_str()), (1, "ana"));
        let id = stored[0].id.clone();
        let lift = json!({ "action": "lift", "id": id });
        let said = |who: &str| {
            d.store
                .timeline(&incident)
                .into_iter()
                .filter(|e| e.key.starts_with("silence-") && e.actor == who)
                .map(|e| e.text)
                .collect::<Vec<_>>()
        };
        let on_timeline = said("ana");
        assert_eq!(on_timeline.len(), 1, "the open checkout incident hears of it once");
        assert!(
            on_timeline[0].starts_with("checkout silenced by ana until "),
            "{on_timeline:?}"
        );
        let (status, _) = call(&d, request(SILENCES, None, Some("bilal"), lift.clone())).await;
        assert_eq!(status, 200);
        assert_eq!(
            said("bilal"),
            [format!("silence {id} lifted by bilal: checkout pages again")]
        );
        assert_eq!(
            d.catalog.0.lock().unwrap().silences[0].lifted_by.as_deref(),
            Some("bilal")
        );
        let (status, body) = call(&d, request(SILENCES, None, Some("bilal"), lift)).await;
        assert_eq!(status, 409, "{body}");
        let unknown = json!({ "action": "set", "service": "ghost", "minutes": 5, "reason": "x" });
        assert_eq!(call(&d, request(SILENCES, None, Some("ana"), unknown)).await.0, 404);
    }
}
