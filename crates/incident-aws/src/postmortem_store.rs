//! Postmortem records in the incidents table: the five-whys tree (`COE#WHYS`) and what people
//! wrote (`COE#AUTHORED`), both versioned, and one item per action item (`ACTION#<n>`).

use crate::items::{incident_pk, to_value};
use crate::store::Store;
use crate::AwsError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use incident_core::actions::ActionItem;
use incident_core::coe::Authored;
use incident_core::whys::Tree;
use incident_core::IncidentId;
use serde::{Deserialize, Serialize};

/// A record changed with optimistic concurrency: each write names the version it read.
#[derive(Serialize, Deserialize)]
pub(crate) struct Versioned<T> {
    pub(crate) pk: String,
    pub(crate) sk: String,
    #[serde(default)]
    pub(crate) version: u64,
    #[serde(flatten)]
    pub(crate) value: T,
}

pub(crate) const WHYS: &str = "COE#WHYS";
pub(crate) const AUTHORED: &str = "COE#AUTHORED";

#[derive(Serialize, Deserialize)]
pub(crate) struct ActionRow {
    pub(crate) pk: String,
    pub(crate) sk: String,
    #[serde(flatten)]
    pub(crate) item: ActionItem,
}

pub use incident_core::actions::{action_id, incident_of_action};

pub(crate) fn action_sk(id: &str) -> String {
    let n = id
        .rsplit_once(".a")
        .and_then(|(_, n)| n.parse::<usize>().ok())
        .unwrap_or(0);
    format!("ACTION#{n:04}")
}

impl Store {
    /// A versioned postmortem record and the version it is at (0: never written).
    pub(crate) async fn versioned<V: serde::de::DeserializeOwned + Default>(
        &self,
        id: &IncidentId,
        sk: &str,
    ) -> Result<(u64, V), AwsError> {
        Ok(self
            .get::<Versioned<V>>(&incident_pk(id), sk)
            .await?
            .map(|w| (w.version, w.value))
            .unwrap_or_default())
    }

    pub async fn whys(&self, id: &IncidentId) -> Result<Tree, AwsError> {
        Ok(self.versioned(id, WHYS).await?.1)
    }

    pub async fn authored(&self, id: &IncidentId) -> Result<Authored, AwsError> {
        Ok(self.versioned(id, AUTHORED).await?.1)
    }

    pub async fn actions(&self, id: &IncidentId) -> Result<Vec<ActionItem>, AwsError> {
        let rows: Vec<ActionRow> = self.query_prefix(&incident_pk(id), "ACTION#").await?;
        let mut items: Vec<ActionItem> = rows.into_iter().map(|r| r.item).collect();
        items.sort_by_key(|a| a.created_at);
        Ok(items)
    }

    /// Records the ticket opened for an action item, touching nothing else of it.
    pub async fn record_action_ticket(&self, id: &IncidentId, item: &str, ticket: &str) -> Result<(), AwsError> {
        self.set_action_field(id, item, "ticket", AttributeValue::S(ticket.into()))
            .await
    }

    /// Records when an action item was last announced as overdue, touching nothing else of it.
    pub async fn record_action_reminder(&self, id: &IncidentId, item: &str, at: DateTime<Utc>) -> Result<(), AwsError> {
        self.set_action_field(id, item, "reminded_at", to_value(&at)?).await
    }

    async fn set_action_field(
        &self,
        id: &IncidentId,
        item: &str,
        field: &str,
        value: AttributeValue,
    ) -> Result<(), AwsError> {
        if self
            .set_if(&incident_pk(id), &action_sk(item), field, value, "attribute_exists(pk)")
            .await?
        {
            Ok(())
        } else {
            Err(AwsError::NotFound(item.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::SignalKey;

    #[test]
    fn action_ids_carry_their_incident() {
        let incident = IncidentId::for_service("checkout", &SignalKey::new("a", "b"));
        let id = action_id(&incident, 3);
        assert_eq!(incident_of_action(&id), Some(incident));
        assert_eq!(incident_of_action("act-3"), None);
    }
}
