//! Cold start, measured against the floor.
//!
//! Starts each function's release binary against a minimal local Lambda Runtime API (this process)
//! and measures, over repeated runs, **init**: process start → the runtime's first
//! `GET /invocation/next`, and **first invocation**: that request answered with an event → the
//! function's response (or error) posted back. The same is measured for `echo-function`, a bare
//! `lambda_runtime` function built the same way, in the same run, so the figures say how far each
//! function is from the floor on this machine.
//!
//! Every AWS call a function makes goes to a local stub that answers `{}` at once: the first
//! invocation pays the SDK's first request (credentials, signing, connection) but no service's
//! latency, and functions may end in an error their handler reports for the empty answer; that is
//! printed beside the figures.
//!
//! A row named `FUNCTION+system-roots` starts that function trusting the system's root
//! certificates, as every function did before they were compiled in.
//!
//! usage: cold-start [--runs N] [--bin-dir DIR] [FUNCTION...]
//!   (default: 20 runs, $CARGO_TARGET_DIR/release, every function, triage+system-roots and
//!   echo-function)

use anyhow::{anyhow, bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const FUNCTIONS: [&str; 11] = [
    "ingest",
    "triage",
    "engage",
    "capture-evidence",
    "mitigate",
    "postmortem",
    "commands",
    "updates",
    "close",
    "reconcile",
    "review",
];
const ECHO: &str = "echo-function";
/// A function started with `SYSTEM_ROOTS` appended to its name trusts the system's root
/// certificates (`SSL_CERT_FILE` and `SSL_CERT_DIR` set, as `incident_aws::function_http_client`
/// reads them) instead of the ones compiled in: what every function paid before.
const SYSTEM_ROOTS: &str = "+system-roots";
const SYSTEM_ROOTS_ROWS: [&str; 1] = ["triage+system-roots"];
const INCIDENT: &str = "inc-0123456789abcdef0123";
const ALARM_EVENT: &str = include_str!("../../../events/cloudwatch/single-metric-alarm-tagged.json");

/// The first event each function gets: what its trigger sends it first in an incident.
fn first_event(function: &str) -> Result<Value> {
    Ok(match function {
        "ingest" => serde_json::from_str(ALARM_EVENT)?,
        "triage" => json!({ "incident_id": INCIDENT }),
        "engage" => json!({ "action": "engage", "incident_id": INCIDENT }),
        "capture-evidence" => json!({ "incident_id": INCIDENT, "moment": "opening" }),
        "mitigate" => json!({ "action": "plan", "incident_id": INCIDENT }),
        "postmortem" => json!({ "action": "publish", "incident_id": INCIDENT }),
        "updates" => json!({ "action": "customer_update_due", "incident_id": INCIDENT }),
        "close" => json!({ "action": "close", "incident_id": INCIDENT }),
        "reconcile" => json!({ "action": "scan" }),
        "review" => json!({}),
        "commands" => json!({
            "version": "2.0",
            "routeKey": "GET /incidents",
            "rawPath": "/incidents",
            "rawQueryString": "",
            "headers": {},
            "requestContext": {
                "accountId": "000000000000",
                "apiId": "bench",
                "domainName": "bench.local",
                "domainPrefix": "bench",
                "http": { "method": "GET", "path": "/incidents", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench" },
                "requestId": "bench",
                "routeKey": "GET /incidents",
                "stage": "$default",
                "time": "29/Nov/2026:09:00:00 +0000",
                "timeEpoch": 1796029200000u64
            },
            "isBase64Encoded": false
        }),
        ECHO => json!({ "hello": "world" }),
        other => bail!("no first event for '{other}'"),
    })
}

/// The environment the template gives the functions (a superset: each reads what it needs).
fn environment(runtime_api: &str, aws_stub: &str, function: &str) -> Vec<(&'static str, String)> {
    let arn = |kind: &str, name: &str| format!("arn:aws:{kind}:us-east-1:000000000000:{name}");
    let mut env = vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "bench".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench".into()),
        ("AWS_SESSION_TOKEN", "bench".into()),
        ("AWS_ENDPOINT_URL", aws_stub.to_string()),
        ("RUST_LOG", "info".into()),
        ("TABLE_NAME", "incidents".into()),
        ("CATALOG_TABLE", "catalog".into()),
        ("DECISIONS_TABLE", "decisions".into()),
        ("EVENT_BUS_NAME", "incident-loop".into()),
        ("CORRELATION_WINDOW_MINUTES", "15".into()),
        ("MULTI_SERVICE_THRESHOLD", "3".into()),
        ("STATE_MACHINE_ARN", arn("states", "stateMachine:lifecycle")),
        ("DLQ_URL", "http://127.0.0.1:1/000000000000/dlq".into()),
        ("SELF_ALARM_PREFIX", "incident-loop-self-".into()),
        ("EVIDENCE_BUCKET", "evidence".into()),
        ("POSTMORTEM_BUCKET", "postmortems".into()),
        ("RUNBOOK_ROLE_ARN", "arn:aws:iam::000000000000:role/runbooks".into()),
        ("CAPTURE_EVIDENCE_FUNCTION", "capture-evidence".into()),
        ("POSTMORTEM_FUNCTION", "postmortem".into()),
        ("OPERATORS_TOPIC_ARN", arn("sns", "operators")),
        ("HOME_ACCOUNT_ID", "000000000000".into()),
        ("EVIDENCE_LOG_GROUP_PREFIX", "/aws/".into()),
        ("CONSOLE_USER_POOL_ID", "us-east-1_bench".into()),
        (
            "CONSOLE_IDENTITY_POOL_ID",
            "us-east-1:00000000-0000-0000-0000-000000000000".into(),
        ),
    ];
    if function.ends_with(SYSTEM_ROOTS) {
        env.push(("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt".into()));
        env.push(("SSL_CERT_DIR", "/etc/ssl/certs".into()));
    }
    env
}

/// What the local Runtime API saw of one run.
enum Seen {
    Next(Instant),
    Answered(Instant, String),
    InitError(String),
}

type Body = Full<Bytes>;

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

/// One request to the Runtime API: the first `next` gets the event, later ones wait forever (the
/// process is stopped once it answered); responses and errors are reported with their time.
async fn runtime_request(
    req: Request<Incoming>,
    event: Arc<Bytes>,
    handed: Arc<AtomicBool>,
    seen: mpsc::UnboundedSender<Seen>,
) -> Result<Response<Body>, hyper::Error> {
    let path = req.uri().path().to_string();
    if path.ends_with("/invocation/next") {
        if handed.swap(true, Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let _ = seen.send(Seen::Next(Instant::now()));
        let mut r = Response::new(Full::new(Bytes::clone(&event)));
        let headers = r.headers_mut();
        headers.insert("Lambda-Runtime-Aws-Request-Id", "bench-1".parse().unwrap());
        let deadline = std::time::SystemTime::now() + Duration::from_secs(30);
        let ms = deadline
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        headers.insert("Lambda-Runtime-Deadline-Ms", ms.to_string().parse().unwrap());
        headers.insert(
            "Lambda-Runtime-Invoked-Function-Arn",
            "arn:aws:lambda:us-east-1:000000000000:function:bench".parse().unwrap(),
        );
        headers.insert(
            "Lambda-Runtime-Trace-Id",
            "Root=1-00000000-000000000000000000000000".parse().unwrap(),
        );
        return Ok(r);
    }
    let at = Instant::now();
    let body = req.into_body().collect().await?.to_bytes();
    let text = String::from_utf8_lossy(&body).to_string();
    if path.ends_with("/response") {
        let _ = seen.send(Seen::Answered(at, "ok".into()));
    } else if path.ends_with("/init/error") {
        let _ = seen.send(Seen::InitError(text));
    } else if path.ends_with("/error") {
        let kind = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["errorType"].as_str().map(str::to_string))
            .unwrap_or_else(|| "error".into());
        let _ = seen.send(Seen::Answered(at, format!("error {kind}")));
    }
    Ok(reply(StatusCode::ACCEPTED, ""))
}

/// Serves HTTP/1.1 on `listener`, each request through `handle`, until the task is aborted.
fn serve<F, Fut>(listener: TcpListener, handle: F) -> tokio::task::JoinHandle<()>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Response<Body>, hyper::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(handle);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// Every AWS call gets `{}` at once.
async fn aws_stub(req: Request<Incoming>) -> Result<Response<Body>, hyper::Error> {
    let _ = req.into_body().collect().await?;
    let mut r = reply(StatusCode::OK, "{}");
    r.headers_mut()
        .insert("Content-Type", "application/x-amz-json-1.0".parse().unwrap());
    Ok(r)
}

async fn next_seen(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Option<Seen> {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .ok()
        .flatten()
}

struct Run {
    init: Duration,
    first_invocation: Duration,
    outcome: String,
}

async fn run_once(binary: &Path, function: &str, aws: &str) -> Result<Run> {
    let event = Arc::new(Bytes::from(serde_json::to_vec(&first_event(binary_of(function))?)?));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?.to_string();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handed = Arc::new(AtomicBool::new(false));
    let server = serve(listener, move |req| {
        runtime_request(req, Arc::clone(&event), Arc::clone(&handed), tx.clone())
    });
    let start = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .envs(environment(&api, aws, function))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let mut stderr = child.stderr.take().expect("piped");
    let result = async {
        let next_at = tokio::select! {
            seen = next_seen(&mut rx) => match seen {
                Some(Seen::Next(at)) => at,
                Some(Seen::InitError(e)) => bail!("{function} failed to start: {e}"),
                _ => bail!("{function} never asked for an event"),
            },
            status = child.wait() => {
                let mut said = String::new();
                let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut said).await;
                let last = said.lines().last().unwrap_or_default().to_string();
                bail!("{function} exited ({}) before asking for an event: {last}", status?)
            }
        };
        match next_seen(&mut rx).await {
            Some(Seen::Answered(at, outcome)) => Ok(Run {
                init: next_at - start,
                first_invocation: at - next_at,
                outcome,
            }),
            _ => bail!("{function} never answered its first event"),
        }
    }
    .await;
    let _ = child.kill().await;
    server.abort();
    result
}

fn stats(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let median = if ms.len() % 2 == 1 {
        ms[ms.len() / 2]
    } else {
        (ms[ms.len() / 2 - 1] + ms[ms.len() / 2]) / 2.0
    };
    (ms[0], median, ms[ms.len() - 1])
}

struct Args {
    runs: usize,
    bin_dir: PathBuf,
    functions: Vec<String>,
}

fn args() -> Result<Args> {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let mut parsed = Args {
        runs: 20,
        bin_dir: PathBuf::from(target).join("release"),
        functions: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => parsed.runs = it.next().ok_or_else(|| anyhow!("--runs needs a number"))?.parse()?,
            "--bin-dir" => parsed.bin_dir = it.next().ok_or_else(|| anyhow!("--bin-dir needs a path"))?.into(),
            "-h" | "--help" => bail!("usage: cold-start [--runs N] [--bin-dir DIR] [FUNCTION...]"),
            f => parsed.functions.push(f.to_string()),
        }
    }
    if parsed.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if parsed.functions.is_empty() {
        parsed.functions = FUNCTIONS
            .iter()
            .chain(&SYSTEM_ROOTS_ROWS)
            .map(|f| f.to_string())
            .collect();
    }
    if !parsed.functions.iter().any(|f| f == ECHO) {
        parsed.functions.push(ECHO.to_string());
    }
    Ok(parsed)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = args()?;
    let stub = TcpListener::bind("127.0.0.1:0").await?;
    let aws = format!("http://{}", stub.local_addr()?);
    let _stub = serve(stub, aws_stub);
    let mut runs: Vec<Vec<Run>> = args.functions.iter().map(|_| Vec::new()).collect();
    // Round-robin, so that whatever else the machine does falls on every function alike.
    for _ in 0..args.runs {
        for (i, function) in args.functions.iter().enumerate() {
            let binary = args.bin_dir.join(binary_of(function));
            runs[i].push(run_once(&binary, function, &aws).await?);
        }
    }
    let echo = args.functions.iter().position(|f| f == ECHO).unwrap_or_default();
    let echo_init = stats(runs[echo].iter().map(|r| ms(r.init)).collect()).1;
    println!(
        "cold start over {} runs per function, binaries from {} (ms: min / median / max)",
        args.runs,
        args.bin_dir.display()
    );
    println!(
        "{:<20} {:>24} {:>9} {:>26}  first outcome",
        "function", "init", "× echo", "first invocation"
    );
    for (function, runs) in args.functions.iter().zip(&runs) {
        let init = stats(runs.iter().map(|r| ms(r.init)).collect());
        let first = stats(runs.iter().map(|r| ms(r.first_invocation)).collect());
        println!(
            "{function:<20} {:>7.2} / {:>6.2} / {:>7.2} {:>8.1}× {:>8.2} / {:>6.2} / {:>7.2}  {}",
            init.0,
            init.1,
            init.2,
            init.1 / echo_init,
            first.0,
            first.1,
            first.2,
            runs[0].outcome
        );
    }
    Ok(())
}

/// The binary a row starts: its name without [`SYSTEM_ROOTS`].
fn binary_of(function: &str) -> &str {
    function.strip_suffix(SYSTEM_ROOTS).unwrap_or(function)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
