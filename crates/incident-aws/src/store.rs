//! The incident store on DynamoDB.
//!
//! Ingest correlates with optimistic concurrency: it reads the service's correlation state and the
//! storm state, lets `incident_core::correlation::correlate` decide, and writes everything the
//! decision implies in one transaction guarded by the state versions *and* a conditional put of the
//! signal's dedup item. A redelivered event therefore fails the transaction on its dedup item and
//! changes nothing; a concurrent signal fails it on a version and is retried against fresh state.

use crate::items::*;
use crate::AwsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use chrono::{TimeDelta, Utc};
use incident_core::catalog::ServiceMatch;
use incident_core::correlation::{correlate, Outcome, Policy, ServiceClusters, Space, StormState};
use incident_core::incident::{Incident, Scope};
use incident_core::ports::Recorded;
use incident_core::recording::{record, Recording};
use incident_core::signal::Signal;
use incident_core::timeline::Entry;
use incident_core::IncidentId;
use serde::de::DeserializeOwned;

const ATTEMPTS: usize = 8;
/// How long a signal's dedup item is kept, at least (see [`Store::keep_dedup_for`]).
const DEDUP_DAYS: i64 = 30;

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    /// The decisions table (approvals and task tokens), for the functions that hold them.
    decisions: Option<String>,
    /// Days a signal's dedup item is kept: at least as long as ingest accepts an event's age, so
    /// that no redelivery or replay it accepts is taken for a new signal.
    dedup_days: i64,
}

pub(crate) fn ttl_after(days: i64) -> i64 {
    (Utc::now() + TimeDelta::days(days)).timestamp()
}

pub(crate) fn put(
    table: &str,
    item: Item,
    condition: Option<&str>,
    values: &[(&str, AttributeValue)],
) -> TransactWriteItem {
    let mut p = Put::builder().table_name(table).set_item(Some(item));
    if let Some(c) = condition {
        p = p.condition_expression(c);
    }
    for (k, v) in values {
        p = p.expression_attribute_values(*k, v.clone());
    }
    TransactWriteItem::builder()
        .put(p.build().expect("table and item are set"))
        .build()
}

/// A put of an item carrying `version`, only if the stored one is still at `old_version`
/// (0: only if there is none yet).
pub(crate) fn versioned(table: &str, item: Item, old_version: u64) -> TransactWriteItem {
    if old_version == 0 {
        put(table, item, Some("attribute_not_exists(pk)"), &[])
    } else {
        put(
            table,
            item,
            Some("version = :v"),
            &[(":v", AttributeValue::N(old_version.to_string()))],
        )
    }
}

/// A conditional write's outcome: `Ok(false)` when its condition did not hold.
pub(crate) fn conditional<O, E>(
    operation: &'static str,
    result: Result<O, aws_sdk_dynamodb::error::SdkError<E>>,
) -> Result<bool, AwsError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&e) == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(AwsError::sdk(operation, e)),
    }
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            decisions: None,
            dedup_days: DEDUP_DAYS,
        }
    }

    /// Keeps dedup items for at least `days` (never less than 30).
    pub fn keep_dedup_for(mut self, days: i64) -> Self {
        self.dedup_days = days.max(DEDUP_DAYS);
        self
    }

    /// The incidents table of `TABLE_NAME`, and the decisions table of `DECISIONS_TABLE` when the
    /// function is granted one.
    pub fn from_env(client: &Client) -> Result<Self, AwsError> {
        let mut store = Self::new(client.clone(), crate::env_var("TABLE_NAME")?);
        store.decisions = crate::env_var("DECISIONS_TABLE").ok();
        Ok(store)
    }

    /// This store with approvals and task tokens kept in `table`.
    pub fn with_decisions(mut self, table: impl Into<String>) -> Self {
        self.decisions = Some(table.into());
        self
    }

    /// The same operations on the decisions table.
    pub(crate) fn decisions(&self) -> Result<Store, AwsError> {
        let table = self
            .decisions
            .clone()
            .ok_or_else(|| AwsError::Config("DECISIONS_TABLE".into()))?;
        Ok(Store::new(self.client.clone(), table))
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Puts `item` if `condition` holds: `Ok(false)` when it does not (a lost race, a second
    /// decision), so that callers retry or refuse; any other failure is an error.
    pub(crate) async fn put_if(
        &self,
        item: Item,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<bool, AwsError> {
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        for (k, v) in values {
            req = req.expression_attribute_values(*k, v.clone());
        }
        conditional("PutItem", req.send().await)
    }

    /// Sets one attribute of an existing item if `condition` holds (`Ok(false)` when it does not),
    /// leaving every other attribute as it is.
    pub(crate) async fn set_if(
        &self,
        pk: &str,
        sk: &str,
        field: &str,
        value: AttributeValue,
        condition: &str,
    ) -> Result<bool, AwsError> {
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression("SET #f = :v")
            .condition_expression(condition)
            .expression_attribute_names("#f", field)
            .expression_attribute_values(":v", value);
        conditional("UpdateItem", req.send().await)
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, pk: &str, sk: &str) -> Result<Option<T>, AwsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::sdk("GetItem", e))?;
        out.item.map(|item| from_item(pk, item)).transpose()
    }

    /// Whether an item is there (read consistently).
    pub(crate) async fn exists(&self, item_key: Item) -> Result<bool, AwsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key))
            .consistent_read(true)
            .projection_expression("pk")
            .send()
            .await
            .map_err(|e| AwsError::sdk("GetItem", e))?;
        Ok(out.item.is_some())
    }

    /// Ingests one signal: dedup, correlation, and every write it implies, atomically.
    pub async fn record_signal(
        &self,
        matched: &ServiceMatch,
        signal: &Signal,
        policy: &Policy,
    ) -> Result<Recorded, AwsError> {
        let service = matched.service.as_str();
        for _ in 0..ATTEMPTS {
            if let Some(seen) = self.get::<DedupItem>(&dedup_pk(&signal.key), "DEDUP").await? {
                // Whatever the first recording left to do is done again, until it is done.
                return Ok(Recorded {
                    outcome: Outcome::Duplicate,
                    start: seen.opened,
                    stop: seen.stop,
                    changes: seen.changes,
                });
            }
            let space = Space::of(signal.exercise);
            let svc: Option<ServiceStateItem> = self.get(&service_state_pk(space, service), STATE).await?;
            let storm: Option<StormItem> = self.get(&storm_pk(space), STATE).await?;
            let (svc_version, mut clusters) = svc
                .map(|s| (s.version, s.state))
                .unwrap_or((0, ServiceClusters::default()));
            let (storm_version, mut storm_state) = storm
                .map(|s| (s.version, s.state))
                .unwrap_or((0, StormState::default()));
            let correlated = correlate(service, signal, &mut clusters, &mut storm_state, policy);
            if matches!(correlated.outcome, Outcome::Unneeded { .. }) {
                return Ok(Recorded::nothing(correlated.outcome));
            }
            clusters.prune(Utc::now(), policy);
            let recording = record(matched, signal, &correlated, &storm_state, Utc::now());
            let (outcome, storm_changed) = (correlated.outcome, correlated.storm_changed);
            let mut writes = vec![put(
                &self.table,
                to_item(&DedupItem {
                    pk: dedup_pk(&signal.key),
                    sk: "DEDUP".into(),
                    incident: recording.home.clone(),
                    opened: recording.start.clone(),
                    stop: recording.stop.clone(),
                    changes: recording.changes.clone(),
                    ttl: ttl_after(self.dedup_days),
                })?,
                Some("attribute_not_exists(pk)"),
                &[],
            )];
            let svc_item = ServiceStateItem {
                pk: service_state_pk(space, service),
                sk: STATE.into(),
                version: svc_version + 1,
                state: clusters,
            };
            writes.push(versioned(&self.table, to_item(&svc_item)?, svc_version));
            if storm_changed {
                storm_state.prune(Utc::now(), policy);
                let item = StormItem {
                    pk: storm_pk(space),
                    sk: STATE.into(),
                    version: storm_version + 1,
                    state: storm_state,
                };
                writes.push(versioned(&self.table, to_item(&item)?, storm_version));
            }
            writes.extend(self.recording_writes(service, signal, &recording)?);
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes))
                .send()
                .await
            {
                Ok(_) => {
                    return Ok(Recorded {
                        outcome,
                        start: recording.start,
                        stop: recording.stop,
                        changes: recording.changes,
                    });
                }
                Err(err) => {
                    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
                    let canceled = matches!(err.as_service_error(), Some(E::TransactionCanceledException(_)));
                    if !canceled {
                        return Err(AwsError::sdk("TransactWriteItems", err));
                    }
                    // Dedup failed: someone else recorded this very signal; the loop re-reads it above.
                    // Version failed: a concurrent signal won; retry against fresh state.
                }
            }
        }
        Err(AwsError::Contention(format!("correlation state of {service}")))
    }

    /// The items a signal's recording writes, in the same transaction as its dedup item and the
    /// correlation state: its signal item (or ignored item), the incidents it opens (only if they
    /// do not exist yet) and the timeline entries.
    fn recording_writes(
        &self,
        service: &str,
        signal: &Signal,
        recording: &Recording,
    ) -> Result<Vec<TransactWriteItem>, AwsError> {
        let t = &self.table;
        let mut writes = Vec::new();
        if let Some(home) = &recording.home {
            writes.push(put(t, to_item(&SignalItem::new(home, service, signal))?, None, &[]));
        }
        if let Some(reason) = &recording.ignored {
            let now = Utc::now();
            let item = IgnoredItem {
                pk: format!("IGNORED#{}", now.format("%Y-%m-%d")),
                sk: format!("{}#{}", stamp(now), signal.key),
                reason: reason.clone(),
                service: service.to_string(),
                signal: signal.clone(),
                ttl: ttl_after(DEDUP_DAYS),
            };
            writes.push(put(t, to_item(&item)?, None, &[]));
        }
        for incident in &recording.opened {
            let item = to_item(&MetaItem::new(incident.clone()))?;
            writes.push(put(t, item, Some("attribute_not_exists(pk)"), &[]));
        }
        for (id, entry) in &recording.timeline {
            writes.push(put(t, to_item(&TimelineItem::new(id, entry.clone()))?, None, &[]));
        }
        Ok(writes)
    }

    pub async fn incident(&self, id: &IncidentId) -> Result<Incident, AwsError> {
        self.get::<MetaItem>(&incident_pk(id), META)
            .await?
            .map(|m| m.incident)
            .ok_or_else(|| AwsError::NotFound(id.to_string()))
    }

    /// An incident and the revision it is at (0: written before revisions were counted).
    pub(crate) async fn incident_at(&self, id: &IncidentId) -> Result<Option<(Incident, u64)>, AwsError> {
        let Some(raw) = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(incident_pk(id), META)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::sdk("GetItem", e))?
            .item
        else {
            return Ok(None);
        };
        let rev = raw
            .get("rev")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        Ok(Some((from_item::<MetaItem>("incident", raw)?.incident, rev)))
    }

    /// Writes all of `writes` or none: `Ok(false)` when a condition did not hold (the transaction
    /// was cancelled), so that callers retry from a fresh read or take it as already done.
    pub(crate) async fn transact_if(&self, writes: Vec<TransactWriteItem>) -> Result<bool, AwsError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(AwsError::sdk("TransactWriteItems", e)),
        }
    }

    pub(crate) async fn query_prefix<T: DeserializeOwned>(&self, pk: &str, prefix: &str) -> Result<Vec<T>, AwsError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", AttributeValue::S(pk.into()))
            .expression_attribute_values(":p", AttributeValue::S(prefix.into()))
            .consistent_read(true);
        query_all(query)
            .await?
            .into_iter()
            .map(|item| from_item(pk, item))
            .collect()
    }

    pub async fn timeline(&self, id: &IncidentId) -> Result<Vec<Entry>, AwsError> {
        let items: Vec<TimelineItem> = self.query_prefix(&incident_pk(id), "TIMELINE#").await?;
        Ok(items.into_iter().map(|i| i.entry).collect())
    }

    /// Signals recorded that opened nothing, over the last `days` days (today included), newest
    /// first.
    pub async fn ignored(&self, days: u32) -> Result<Vec<IgnoredItem>, AwsError> {
        let mut out = Vec::new();
        let today = Utc::now();
        for back in 0..days.max(1) {
            let day = (today - TimeDelta::days(i64::from(back))).format("%Y-%m-%d");
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(format!("IGNORED#{day}")));
            for item in query_all(query).await? {
                // Items written before the reason had an attribute of its own do not read back:
                // they are skipped (they expire within 30 days).
                match from_item::<IgnoredItem>("ignored signal", item) {
                    Ok(i) => out.push(i),
                    Err(e) => tracing::debug!(error = %e, "an ignored signal of an older layout skipped"),
                }
            }
        }
        out.sort_by(|a, b| b.sk.cmp(&a.sk));
        Ok(out)
    }

    pub async fn signals(&self, id: &IncidentId) -> Result<Vec<SignalItem>, AwsError> {
        self.query_prefix(&incident_pk(id), "SIGNAL#").await
    }

    /// Every incident whose lifecycle must be running (oldest first).
    pub async fn live(&self) -> Result<Vec<Incident>, AwsError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(LIVE_INDEX)
            .key_condition_expression("#l = :l")
            .expression_attribute_names("#l", "live")
            .expression_attribute_values(":l", AttributeValue::S(LIVE.into()));
        query_all(query)
            .await?
            .into_iter()
            .map(|item| Ok(from_item::<MetaItem>("incident", item)?.incident))
            .collect()
    }

    /// Incidents detected on the given days (newest first), optionally only open ones.
    pub async fn list(&self, days: &[String], open_only: bool) -> Result<Vec<Incident>, AwsError> {
        let mut out = Vec::new();
        for day in days {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_DAY_INDEX)
                .key_condition_expression("#d = :d")
                .expression_attribute_names("#d", "day")
                .expression_attribute_values(":d", AttributeValue::S(day.clone()));
            for item in query_all(query).await? {
                let incident = from_item::<MetaItem>("incident", item)?.incident;
                if !open_only || !incident.status.is_closed() {
                    out.push(incident);
                }
            }
        }
        out.sort_by_key(|i| std::cmp::Reverse(i.detected_at));
        Ok(out)
    }

    /// Closes an incident's cluster (or multi-service event) so that later signals open a new one.
    pub async fn close_correlation(&self, incident: &Incident, policy: &Policy) -> Result<(), AwsError> {
        // A game day opened before game days had a space of their own is closed where it was kept.
        let spaces: &[Space] = if incident.exercise {
            &[Space::GameDay, Space::Real]
        } else {
            &[Space::Real]
        };
        for &space in spaces {
            self.close_in(incident, policy, space).await?;
        }
        Ok(())
    }

    async fn close_in(&self, incident: &Incident, policy: &Policy, space: Space) -> Result<(), AwsError> {
        for _ in 0..ATTEMPTS {
            let (_pk, version, item) = match incident.scope {
                Scope::SingleService => {
                    let service = incident.services.first().map(String::as_str).unwrap_or_default();
                    let pk = service_state_pk(space, service);
                    let Some(mut s) = self.get::<ServiceStateItem>(&pk, STATE).await? else {
                        return Ok(());
                    };
                    if !s.state.close(&incident.id) {
                        return Ok(());
                    }
                    s.state.prune(Utc::now(), policy);
                    let v = s.version;
                    s.version += 1;
                    (pk, v, to_item(&s)?)
                }
                Scope::MultiService => {
                    let pk = storm_pk(space);
                    let Some(mut s) = self.get::<StormItem>(&pk, STATE).await? else {
                        return Ok(());
                    };
                    if !s.state.close(&incident.id) {
                        return Ok(());
                    }
                    let v = s.version;
                    s.version += 1;
                    (pk, v, to_item(&s)?)
                }
            };
            if self
                .put_if(item, "version = :v", &[(":v", AttributeValue::N(version.to_string()))])
                .await?
            {
                return Ok(());
            }
        }
        Err(AwsError::Contention(pk_name(incident)))
    }
}

/// The META item of `incident` at the next revision after `rev`, with the condition that it is
/// still at `rev` when written.
pub(crate) type ConditionalItem = (Item, String, Vec<(&'static str, AttributeValue)>);

pub(crate) fn revised(incident: &Incident, rev: u64) -> Result<ConditionalItem, AwsError> {
    let mut item = to_item(&MetaItem::new(incident.clone()))?;
    item.insert("rev".into(), AttributeValue::N((rev + 1).to_string()));
    Ok(if rev == 0 {
        (item, "attribute_not_exists(rev)".into(), vec![])
    } else {
        (
            item,
            "rev = :rev".into(),
            vec![(":rev", AttributeValue::N(rev.to_string()))],
        )
    })
}

fn pk_name(incident: &Incident) -> String {
    format!("correlation state of {}", incident.id)
}
