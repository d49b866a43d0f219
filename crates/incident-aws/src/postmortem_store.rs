//! Postmortem records in the incidents table: the five-whys tree (`COE#WHYS`) and what people
//! wrote (`COE#AUTHORED`), both versioned, and one item per action item (`ACTION#<n>`).

use crate::items::{incident_pk, to_item, to_value};
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
struct Versioned<T> {
    pk: String,
    sk: String,
    #[serde(default)]
    version: u64,
    #[serde(flatten)]
    value: T,
}

const WHYS: &str = "COE#WHYS";
const AUTHORED: &str = "COE#AUTHORED";

#[derive(Serialize, Deserialize)]
struct ActionRow {
    pk: String,
    sk: String,
    #[serde(flatten)]
    item: ActionItem,
}

/// Action item ids say which incident they belong to: `<incident>.a<n>`.
pub fn action_id(incident: &IncidentId, n: usize) -> String {
    format!("{incident}.a{n}")
}

fn action_sk(id: &str) -> String {
    let n = id
        .rsplit_once(".a")
        .and_then(|(_, n)| n.parse::<usize>().ok())
        .unwrap_or(0);
    format!("ACTION#{n:04}")
}

pub fn incident_of_action(id: &str) -> Option<IncidentId> {
    let (incident, n) = id.rsplit_once(".a")?;
    n.parse::<usize>().ok()?;
    IncidentId::parse(incident).ok()
}

impl Store {
    /// Reads `sk` of the incident, lets `change` edit it, and writes it back only if nobody wrote
    /// in between (retried on a race).
    async fn update_versioned<V, T>(
        &self,
        id: &IncidentId,
        sk: &str,
        mut change: impl FnMut(&mut V) -> Result<T, AwsError>,
    ) -> Result<(T, V), AwsError>
    where
        V: Serialize + serde::de::DeserializeOwned + Default + Clone,
    {
        for _ in 0..8 {
            let current: Option<Versioned<V>> = self.get(&incident_pk(id), sk).await?;
            let (version, mut value) = current.map(|w| (w.version, w.value)).unwrap_or((0, V::default()));
            let out = change(&mut value)?;
            let item = to_item(&Versioned {
                pk: incident_pk(id),
                sk: sk.to_string(),
                version: version + 1,
                value: value.clone(),
            })?;
            let stored = if version == 0 {
                self.put_if(item, "attribute_not_exists(pk)", &[]).await?
            } else {
                self.put_if(item, "version = :v", &[(":v", AttributeValue::N(version.to_string()))])
                    .await?
            };
            if stored {
                return Ok((out, value));
            }
        }
        Err(AwsError::Contention(format!("{sk} of {id}")))
    }

    async fn read_versioned<V: serde::de::DeserializeOwned + Default>(
        &self,
        id: &IncidentId,
        sk: &str,
    ) -> Result<V, AwsError> {
        Ok(self
            .get::<Versioned<V>>(&incident_pk(id), sk)
            .await?
            .map(|w| w.value)
            .unwrap_or_default())
    }

    /// Changes the five-whys tree with optimistic concurrency.
    pub async fn update_whys<T>(
        &self,
        id: &IncidentId,
        change: impl FnMut(&mut Tree) -> Result<T, AwsError>,
    ) -> Result<(T, Tree), AwsError> {
        self.update_versioned(id, WHYS, change).await
    }

    pub async fn whys(&self, id: &IncidentId) -> Result<Tree, AwsError> {
        self.read_versioned(id, WHYS).await
    }

    /// Changes what people wrote into the COE (impact, dependency answers, learnings, RCA).
    pub async fn update_authored<T>(
        &self,
        id: &IncidentId,
        change: impl FnMut(&mut Authored) -> Result<T, AwsError>,
    ) -> Result<(T, Authored), AwsError> {
        self.update_versioned(id, AUTHORED, change).await
    }

    pub async fn authored(&self, id: &IncidentId) -> Result<Authored, AwsError> {
        self.read_versioned(id, AUTHORED).await
    }

    pub async fn actions(&self, id: &IncidentId) -> Result<Vec<ActionItem>, AwsError> {
        let rows: Vec<ActionRow> = self.query_prefix(&incident_pk(id), "ACTION#").await?;
        let mut items: Vec<ActionItem> = rows.into_iter().map(|r| r.item).collect();
        items.sort_by_key(|a| a.created_at);
        Ok(items)
    }

    /// Adds an action item under the next free number (a conditional put, retried on a race).
    pub async fn add_action(
        &self,
        id: &IncidentId,
        mut make: impl FnMut(String) -> ActionItem,
    ) -> Result<ActionItem, AwsError> {
        for _ in 0..8 {
            let n = self.actions(id).await?.len() + 1;
            let item = make(action_id(id, n));
            let row = ActionRow {
                pk: incident_pk(id),
                sk: format!("ACTION#{n:04}"),
                item: item.clone(),
            };
            if self.put_if(to_item(&row)?, "attribute_not_exists(pk)", &[]).await? {
                return Ok(item);
            }
        }
        Err(AwsError::Contention(format!("action items of {id}")))
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

    /// Closes an action item with its validation, once: only if it was still open, and leaving its
    /// ticket and reminders as they are.
    pub async fn close_action(&self, id: &IncidentId, item: &ActionItem) -> Result<(), AwsError> {
        let done = item
            .done
            .as_ref()
            .ok_or_else(|| AwsError::Rejected(format!("{} has no validation", item.id)))?;
        if self
            .set_if(
                &incident_pk(id),
                &action_sk(&item.id),
                "done",
                to_value(done)?,
                "attribute_exists(pk) AND attribute_not_exists(done)",
            )
            .await?
        {
            Ok(())
        } else {
            Err(AwsError::Rejected(format!("{} was already closed", item.id)))
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
