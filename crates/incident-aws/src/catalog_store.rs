//! The service catalog in DynamoDB: one item per service, team and account plus the settings, under one
//! partition so that a single paged Query loads it.

use crate::items::{from_item, key, query_all, to_item, Item, CATALOG_PK};
use crate::AwsError;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use incident_core::account::Account;
use incident_core::catalog::{Catalog, Service, Settings, Team};
use incident_core::learning::{Learning, OrrAnswer};
use incident_core::oncall::{Override, Person};
use incident_core::silence::Silence;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

const SILENCE_PREFIX: &str = "SILENCE#";
/// Learnings and the services' readiness answers: kept for good, never touched by an import.
const LEARNING_PREFIX: &str = "LEARNING#";
const ORR_PREFIX: &str = "ORR#";
/// Overrides from the catalog file (replaced by each import) and from the command API (kept).
const FILE_OVERRIDE_PREFIX: &str = "OVERRIDE#FILE#";
const API_OVERRIDE_PREFIX: &str = "OVERRIDE#API#";

#[derive(Serialize, Deserialize)]
struct Entry<T> {
    pk: String,
    sk: String,
    #[serde(flatten)]
    value: T,
}

#[derive(Clone, Debug)]
pub struct CatalogStore {
    client: Client,
    table: String,
}

pub use incident_core::catalog::ImportSummary;

impl CatalogStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The catalog table of `CATALOG_TABLE`.
    pub fn from_env(client: &Client) -> Result<Self, AwsError> {
        Ok(Self::new(client.clone(), crate::env_var("CATALOG_TABLE")?))
    }

    /// Loads the catalog; an empty table yields an empty catalog with default settings.
    pub async fn load(&self) -> Result<Catalog, AwsError> {
        let mut catalog = Catalog::default();
        for item in self.items().await? {
            let sk = item.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            if sk == "SETTINGS" {
                catalog.settings = from_item::<Entry<Settings>>("catalog settings", item)?.value;
            } else if sk.starts_with("TEAM#") {
                catalog
                    .teams
                    .push(from_item::<Entry<Team>>("catalog team", item)?.value);
            } else if sk.starts_with("SERVICE#") {
                catalog
                    .services
                    .push(from_item::<Entry<Service>>("catalog service", item)?.value);
            } else if sk.starts_with("ACCOUNT#") {
                catalog
                    .accounts
                    .push(from_item::<Entry<Account>>("catalog account", item)?.value);
            } else if sk.starts_with("PERSON#") {
                catalog
                    .people
                    .push(from_item::<Entry<Person>>("catalog person", item)?.value);
            } else if sk.starts_with("OVERRIDE#") {
                catalog
                    .overrides
                    .push(from_item::<Entry<Override>>("on-call override", item)?.value);
            } else if sk.starts_with(SILENCE_PREFIX) {
                catalog
                    .silences
                    .push(from_item::<Entry<Silence>>("silence", item)?.value);
            } else if sk.starts_with(LEARNING_PREFIX) || sk.starts_with(ORR_PREFIX) {
                // Kept for good, so possibly written by an older version: one that cannot be read
                // is left out (and logged) rather than keeping the catalog, and paging, from loading.
                let read = match sk.starts_with(LEARNING_PREFIX) {
                    true => from_item::<Entry<Learning>>("learning", item).map(|e| catalog.learnings.push(e.value)),
                    false => from_item::<Entry<OrrAnswer>>("readiness answer", item)
                        .map(|e| catalog.orr_answers.push(e.value)),
                };
                if let Err(e) = read {
                    tracing::warn!(sk = %sk, error = %e, "left out of the catalog: unreadable");
                }
            }
        }
        Ok(catalog)
    }

    /// Stores a silence (a new one, or one lifted early), kept until a day after it ends.
    pub async fn put_silence(&self, silence: &Silence) -> Result<(), AwsError> {
        let sk = format!("{SILENCE_PREFIX}{}", silence.id);
        self.put_entry(sk, silence, Some(silence.until), None).await.map(|_| ())
    }

    /// Stores an override added through the command API, kept until a day after it ends.
    pub async fn put_override(&self, o: &Override) -> Result<(), AwsError> {
        let sk = format!("{API_OVERRIDE_PREFIX}{}", o.id.as_deref().unwrap_or_default());
        self.put_entry(sk, o, Some(o.to), None).await.map(|_| ())
    }

    /// Stores a learning as it now stands, for good, only over the version it was decided from
    /// (none, for a new one): `false` when someone changed it meanwhile.
    pub async fn put_learning(&self, l: &Learning) -> Result<bool, AwsError> {
        let before = l.version.saturating_sub(1);
        let condition = match before {
            0 => ("attribute_not_exists(sk)", None),
            n => ("version = :v", Some(AttributeValue::N(n.to_string()))),
        };
        self.put_entry(format!("{LEARNING_PREFIX}{}", l.id), l, None, Some(condition))
            .await
    }

    /// Stores a service's latest answer to a learning's question, for good.
    pub async fn put_orr_answer(&self, a: &OrrAnswer) -> Result<(), AwsError> {
        self.put_entry(format!("{ORR_PREFIX}{}#{}", a.service, a.learning), a, None, None)
            .await
            .map(|_| ())
    }

    /// One item beside the catalog; with `until`, DynamoDB's TTL removes it a day after then; with
    /// a condition (and its `:v`), only if it holds (`Ok(false)` when it does not).
    async fn put_entry<T: Serialize>(
        &self,
        sk: String,
        value: &T,
        until: Option<chrono::DateTime<chrono::Utc>>,
        condition: Option<(&str, Option<AttributeValue>)>,
    ) -> Result<bool, AwsError> {
        #[derive(Serialize)]
        struct Kept<'a, T> {
            #[serde(flatten)]
            entry: Entry<&'a T>,
            #[serde(skip_serializing_if = "Option::is_none")]
            ttl: Option<i64>,
        }
        let item = to_item(&Kept {
            entry: Entry {
                pk: CATALOG_PK.into(),
                sk,
                value,
            },
            ttl: until.map(|u| (u + chrono::TimeDelta::days(1)).timestamp()),
        })?;
        let mut put = self.client.put_item().table_name(&self.table).set_item(Some(item));
        if let Some((expression, value)) = condition {
            put = put.condition_expression(expression);
            if let Some(v) = value {
                put = put.expression_attribute_values(":v", v);
            }
        }
        crate::store::conditional("PutItem", put.send().await)
    }

    async fn items(&self) -> Result<Vec<Item>, AwsError> {
        query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(CATALOG_PK.into())),
        )
        .await
    }

    /// Replaces the stored catalog with `catalog` (validated first): entries no longer in the file
    /// are removed, so the table always matches the file that was imported last.
    pub async fn import(&self, catalog: &Catalog) -> Result<ImportSummary, AwsError> {
        catalog.validate().map_err(|e| AwsError::Rejected(e.to_string()))?;
        let mut puts = vec![to_item(&Entry {
            pk: CATALOG_PK.into(),
            sk: "SETTINGS".into(),
            value: &catalog.settings,
        })?];
        for t in &catalog.teams {
            puts.push(to_item(&Entry {
                pk: CATALOG_PK.into(),
                sk: format!("TEAM#{}", t.name),
                value: t,
            })?);
        }
        for s in &catalog.services {
            puts.push(to_item(&Entry {
                pk: CATALOG_PK.into(),
                sk: format!("SERVICE#{}", s.name),
                value: s,
            })?);
        }
        for p in &catalog.people {
            puts.push(to_item(&Entry {
                pk: CATALOG_PK.into(),
                sk: format!("PERSON#{}", p.name),
                value: p,
            })?);
        }
        for o in catalog.overrides.iter().filter(|o| o.id.is_none()) {
            puts.push(to_item(&Entry {
                pk: CATALOG_PK.into(),
                sk: format!(
                    "{FILE_OVERRIDE_PREFIX}{}#{}#{}#{}",
                    o.team,
                    o.layer.as_deref().unwrap_or_default(),
                    o.from.to_rfc3339(),
                    o.user
                ),
                value: o,
            })?);
        }
        for a in &catalog.accounts {
            puts.push(to_item(&Entry {
                pk: CATALOG_PK.into(),
                sk: format!("ACCOUNT#{}", a.id),
                value: a,
            })?);
        }
        let keep: HashSet<String> = puts
            .iter()
            .filter_map(|i| i.get("sk").and_then(|v| v.as_s().ok()).cloned())
            .collect();
        let stale: Vec<String> = self
            .items()
            .await?
            .iter()
            .filter_map(|i| i.get("sk").and_then(|v| v.as_s().ok()).cloned())
            // Silences and the command API's overrides are not part of the file: an import leaves
            // them as they are.
            .filter(|sk| {
                !keep.contains(sk)
                    && ![SILENCE_PREFIX, API_OVERRIDE_PREFIX, LEARNING_PREFIX, ORR_PREFIX]
                        .iter()
                        .any(|kept| sk.starts_with(kept))
            })
            .collect();
        let mut requests: Vec<WriteRequest> = puts
            .into_iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build().expect("item set"))
                    .build()
            })
            .collect();
        for sk in &stale {
            let delete = DeleteRequest::builder()
                .set_key(Some(key(CATALOG_PK, sk.clone())))
                .build()
                .expect("key set");
            requests.push(WriteRequest::builder().delete_request(delete).build());
        }
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            for _ in 0..8 {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending.clone())
                    .send()
                    .await
                    .map_err(|e| AwsError::sdk("BatchWriteItem", e))?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            if !pending.is_empty() {
                return Err(AwsError::Contention("catalog import (unprocessed items)".into()));
            }
        }
        Ok(ImportSummary {
            services: catalog.services.len(),
            teams: catalog.teams.len(),
            removed: stale.len(),
        })
    }
}
