//! The command API's client: every command that changes an incident is a SigV4-signed request to
//! the stack's HTTP API, made with the default credential chain. The server decides who is asking
//! (the identity behind the signature) and whether the rules allow it; this side only asks.

use anyhow::{anyhow, Context as _, Result};
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use incident_core::command::{Command, Reply, ReportRequest};
use incident_core::IncidentId;
use serde::Serialize;
use serde_json::Value;
use std::time::SystemTime;

/// A command the server would not carry out, by why: the exit code says which.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// A rule (or IAM) said no.
    #[error("{0}")]
    Rule(String),
    #[error("{0}")]
    NotFound(String),
    /// The closing checklist is not met.
    #[error("{message}")]
    Checklist { message: String, missing: Vec<String> },
}

type HttpClient = Client<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>, Full<Bytes>>;

pub struct Api {
    /// `https://<api>.execute-api.<region>.amazonaws.com`, or the local stack's equivalent.
    endpoint: String,
    region: String,
    config: aws_config::SdkConfig,
    http: HttpClient,
}

impl Api {
    pub fn new(config: &aws_config::SdkConfig, endpoint: String) -> Result<Self> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .context("loading the system's TLS root certificates")?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region: config
                .region()
                .map(|r| r.to_string())
                .context("no AWS region configured: set AWS_REGION or a profile's region")?,
            config: config.clone(),
            http: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    pub async fn command(&self, id: &IncidentId, command: &Command) -> Result<Reply> {
        self.send("POST", &format!("/incidents/{id}"), command).await
    }

    pub async fn report(&self, report: &ReportRequest) -> Result<Reply> {
        self.send("POST", "/reports", report).await
    }

    pub async fn silence(&self, request: &incident_core::noise::SilenceRequest) -> Result<Reply> {
        self.send("POST", "/silences", request).await
    }

    pub async fn override_oncall(&self, request: &incident_core::oncall::OverrideCommand) -> Result<Reply> {
        self.send("POST", "/oncall/overrides", request).await
    }

    pub async fn learning(&self, command: &incident_core::learning::LearningCommand) -> Result<Reply> {
        self.send("POST", "/learnings", command).await
    }

    pub async fn import_catalog(&self, catalog: &incident_core::catalog::Catalog) -> Result<Reply> {
        self.send("PUT", "/catalog", catalog).await
    }

    async fn send<T: Serialize>(&self, method: &str, path: &str, body: &T) -> Result<Reply> {
        let body = serde_json::to_vec(body)?;
        let url = format!("{}{path}", self.endpoint);
        let mut request = http::Request::builder()
            .method(method)
            .uri(&url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.clone())))?;
        self.sign(&mut request, &body).await?;
        let response = self.http.request(request).await.map_err(|e| {
            anyhow!(
                "cannot reach the command API at {url}: {}",
                incident_aws::error::one_line(&e)
            )
        })?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        let answer: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::json!({ "message": String::from_utf8_lossy(&bytes).trim().to_string() }));
        let message = answer["message"]
            .as_str()
            .or(answer["Message"].as_str())
            .unwrap_or("no message")
            .to_string();
        match status {
            200..=299 => Ok(serde_json::from_value(answer)?),
            403 => Err(Refused::Rule(format!(
                "not allowed: {message} (incident-loop's responder policy grants the command routes)"
            ))
            .into()),
            404 => Err(Refused::NotFound(message).into()),
            409 if answer["missing"].is_array() => Err(Refused::Checklist {
                message,
                missing: serde_json::from_value(answer["missing"].clone())?,
            }
            .into()),
            400 | 409 => Err(Refused::Rule(message).into()),
            _ => Err(anyhow!("the command API failed ({status}): {message}")),
        }
    }

    /// Signs for `execute-api` with the caller's own credentials.
    async fn sign(&self, request: &mut http::Request<Full<Bytes>>, body: &[u8]) -> Result<()> {
        let provider = self
            .config
            .credentials_provider()
            .context("no AWS credentials provider configured")?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| anyhow!("failed to load credentials: {e}"))?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("execute-api")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let uri = request.uri().to_string();
        let signable = SignableRequest::new(
            request.method().as_str(),
            &uri,
            headers.into_iter(),
            SignableBody::Bytes(body),
        )?;
        let (instructions, _signature) = sign(signable, &params)?.into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}
