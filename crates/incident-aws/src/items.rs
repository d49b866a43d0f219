//! The single-table layout: keys and item shapes, (de)serialised with `serde_dynamo`.
//!
//! | pk                           | sk                          | what                              |
//! |------------------------------|-----------------------------|-----------------------------------|
//! | `INCIDENT#<id>`              | `META`                      | the incident record               |
//! | `INCIDENT#<id>`              | `SIGNAL#<time>#<key>`       | each signal that joined it        |
//! | `INCIDENT#<id>`              | `TIMELINE#<time>#<key>`     | timeline entries, append-only     |
//! | `INCIDENT#<id>`              | `ENTRY#<key>`               | marks an idempotent entry written |
//! | `DEDUP#<signal key>`         | `DEDUP`                     | a signal already ingested (TTL)   |
//! | `CORRELATION#SERVICE#<name>` | `STATE`                     | the service's clusters, versioned |
//! | `CORRELATION#STORM`          | `STATE`                     | recent openings, multi-service    |
//! | `IGNORED#<day>`              | `<time>#<key>`              | signals recorded and ignored      |
//! | `INCIDENT#<id>`              | `ACTION#<n>`, `COE#…`       | the postmortem's records          |
//!
//! The catalog has a table of its own (`CATALOG` / `SETTINGS`, `TEAM#…`, `SERVICE#…`), written only
//! by the command API; so does the decisions table (approvals and task tokens, see
//! [`crate::approvals`]), which no person's policy can read. Ingest, which parses untrusted input,
//! is granted neither for writing.
//!
//! GSIs: `ByDay` (`day`, `detected_at`) lists incidents by the day they opened; `OpenByService`
//! (`open_service`, `detected_at`) holds open incidents only, per service; `Live` (`live`,
//! `detected_at`) holds the incidents whose lifecycle must be running, whatever their age, for the
//! reconciler.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use incident_core::correlation::Space;
use incident_core::correlation::{ServiceClusters, StormState};
use incident_core::incident::Incident;
use incident_core::recording::Change;
use incident_core::signal::Signal;
use incident_core::timeline::Entry;
use incident_core::{IncidentId, SignalKey};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

pub const META: &str = "META";
pub const STATE: &str = "STATE";
pub const CATALOG_PK: &str = "CATALOG";
pub const BY_DAY_INDEX: &str = "ByDay";
pub const LIVE_INDEX: &str = "Live";
/// The one value of the `Live` index's key.
pub const LIVE: &str = "live";
pub const OPEN_BY_SERVICE_INDEX: &str = "OpenByService";
/// The `open_service` value of a multi-service event.
pub const MULTI_SERVICE_KEY: &str = "*multi-service*";

pub fn incident_pk(id: &IncidentId) -> String {
    format!("INCIDENT#{id}")
}

/// A service's correlation state in its space (game days apart from real signals).
pub fn service_state_pk(space: Space, service: &str) -> String {
    format!("CORRELATION#{}SERVICE#{service}", space.key_prefix())
}

/// The storm (multi-service) correlation state of a space.
pub fn storm_pk(space: Space) -> String {
    format!("CORRELATION#{}STORM", space.key_prefix())
}

pub fn dedup_pk(key: &SignalKey) -> String {
    format!("DEDUP#{key}")
}

pub fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk.into())),
        ("sk".to_string(), AttributeValue::S(sk.into())),
    ])
}

/// One attribute's value, as `to_item` would write it.
pub fn to_value<T: Serialize>(value: &T) -> Result<AttributeValue, crate::AwsError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| crate::AwsError::decode("serialise attribute", e))
}

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, crate::AwsError> {
    serde_dynamo::to_item(value).map_err(|e| crate::AwsError::decode("serialise item", e))
}

pub fn from_item<T: for<'de> Deserialize<'de>>(what: &str, item: Item) -> Result<T, crate::AwsError> {
    serde_dynamo::from_item(item).map_err(|e| crate::AwsError::decode(what, e))
}

#[derive(Serialize, Deserialize)]
pub struct MetaItem {
    pub pk: String,
    pub sk: String,
    pub day: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_service: Option<String>,
    /// [`LIVE`] while the incident's lifecycle must run: the sparse `Live` index the reconciler reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<String>,
    #[serde(flatten)]
    pub incident: Incident,
}

impl MetaItem {
    pub fn new(incident: Incident) -> Self {
        let open_service = (!incident.status.is_closed()).then(|| open_service_of(&incident));
        let live = incident.is_live().then(|| LIVE.to_string());
        Self {
            pk: incident_pk(&incident.id),
            sk: META.into(),
            day: incident.detected_at.format("%Y-%m-%d").to_string(),
            open_service,
            live,
            incident,
        }
    }
}

pub fn open_service_of(incident: &Incident) -> String {
    match incident.scope {
        incident_core::incident::Scope::MultiService => MULTI_SERVICE_KEY.to_string(),
        incident_core::incident::Scope::SingleService => incident.services.first().cloned().unwrap_or_default(),
    }
}

#[derive(Serialize, Deserialize)]
pub struct SignalItem {
    pub pk: String,
    pub sk: String,
    pub service: String,
    #[serde(flatten)]
    pub signal: Signal,
}

impl SignalItem {
    pub fn new(incident: &IncidentId, service: &str, signal: &Signal) -> Self {
        Self {
            pk: incident_pk(incident),
            sk: format!("SIGNAL#{}#{}", stamp(signal.at), signal.key),
            service: service.to_string(),
            signal: signal.clone(),
        }
    }
}

#[derive(Serialize, Deserialize)]
pub struct TimelineItem {
    pub pk: String,
    pub sk: String,
    #[serde(flatten)]
    pub entry: Entry,
}

impl TimelineItem {
    pub fn new(incident: &IncidentId, entry: Entry) -> Self {
        Self {
            pk: incident_pk(incident),
            sk: format!("TIMELINE#{}#{}", stamp(entry.at), entry.key),
            entry,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub struct DedupItem {
    pub pk: String,
    pub sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentId>,
    /// Incidents this signal opened, whose loops must be running.
    #[serde(default)]
    pub opened: Vec<IncidentId>,
    /// Incidents this signal merged away, whose loops must be stopped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<IncidentId>,
    /// Links and merges of existing incidents the signal implies, replayed by every retry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<(IncidentId, Change)>,
    pub ttl: i64,
}

#[derive(Serialize, Deserialize)]
pub struct ServiceStateItem {
    pub pk: String,
    pub sk: String,
    pub version: u64,
    #[serde(flatten)]
    pub state: ServiceClusters,
}

#[derive(Serialize, Deserialize)]
pub struct StormItem {
    pub pk: String,
    pub sk: String,
    pub version: u64,
    #[serde(flatten)]
    pub state: StormState,
}

#[derive(Serialize, Deserialize)]
pub struct IgnoredItem {
    pub pk: String,
    pub sk: String,
    /// Why the signal opened nothing (kept apart from the signal's own `reason`).
    #[serde(rename = "ignored_because")]
    pub reason: String,
    pub service: String,
    pub signal: Signal,
    pub ttl: i64,
}

/// Every item a query returns, across pages.
pub async fn query_all(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<Item>, crate::AwsError> {
    query
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| crate::AwsError::sdk("Query", e))
}
