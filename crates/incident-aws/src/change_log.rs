//! Changes recorded as they happen, in the incidents table: one item per change event under
//! `CHANGES#<space><service>`, sorted by time, kept for [`KEEP_DAYS`].

use crate::items::{from_item, query_all, stamp, to_item};
use crate::store::{ttl_after, Store};
use crate::AwsError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use incident_core::change::Change;
use incident_core::correlation::Space;
use serde::{Deserialize, Serialize};

/// How long a change is kept: long enough for the weekly review and a late COE.
pub const KEEP_DAYS: i64 = 90;

pub fn changes_pk(space: Space, service: &str) -> String {
    format!("CHANGES#{}{service}", space.key_prefix())
}

/// One event's key: its time, then what makes it that event (so a redelivery overwrites itself).
fn change_sk(change: &Change) -> String {
    let outcome = change.outcome.map(|o| format!("{o:?}")).unwrap_or_default();
    format!(
        "{}#{}#{}#{outcome}",
        stamp(change.at),
        change.resource,
        change.id.as_deref().unwrap_or("-")
    )
}

#[derive(Serialize, Deserialize)]
pub struct ChangeItem {
    pub pk: String,
    pub sk: String,
    pub service: String,
    pub change: Change,
    pub ttl: i64,
}

impl Store {
    pub async fn record_change(&self, space: Space, service: &str, change: &Change) -> Result<(), AwsError> {
        let item = ChangeItem {
            pk: changes_pk(space, service),
            sk: change_sk(change),
            service: service.to_string(),
            change: change.clone(),
            ttl: ttl_after(KEEP_DAYS),
        };
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(to_item(&item)?))
            .send()
            .await
            .map_err(|e| AwsError::sdk("PutItem", e))?;
        Ok(())
    }

    /// The service's change events from `from` to `to`, oldest first.
    pub async fn changes(
        &self,
        space: Space,
        service: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Change>, AwsError> {
        let query = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AttributeValue::S(changes_pk(space, service)))
            .expression_attribute_values(":from", AttributeValue::S(stamp(from)))
            // Every key of an event at `to` sorts before `to` followed by `$` ('#' < '$').
            .expression_attribute_values(":to", AttributeValue::S(format!("{}$", stamp(to))));
        query_all(query)
            .await?
            .into_iter()
            .map(|item| from_item::<ChangeItem>("change", item).map(|i| i.change))
            .collect()
    }
}
