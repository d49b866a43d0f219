//! The one write path on DynamoDB: a decision's effects (a person's command or a lifecycle step)
//! written in one transaction whose conditions are the versions that were read. A concurrent
//! change cancels the transaction and the caller decides again
//! ([`incident_core::ports::run_command`], [`incident_core::ports::run_step`]). Every timeline
//! entry is written with an `ENTRY#<key>` marker that must not exist yet, so a retried step whose
//! transaction landed before writes nothing twice.

use crate::approvals::{ApprovalItem, APPROVAL_OPEN};
use crate::items::{incident_pk, key, to_item, to_value, TimelineItem};
use crate::postmortem_store::{action_sk, ActionRow, Versioned, AUTHORED, WHYS};
use crate::store::{put, revised, Store};
use crate::AwsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use incident_core::command::State;
use incident_core::effects::Effects;
use incident_core::incident::Incident;
use incident_core::ports::{signals_with_members, Applied, Approvals, CommandStore, PortResult, Postmortems, Versions};
use incident_core::IncidentId;
use serde::Serialize;

/// A versioned postmortem record written at the version after `read`, if still at `read`.
fn versioned_record<T: Serialize>(
    table: &str,
    id: &IncidentId,
    sk: &str,
    read: u64,
    value: &T,
) -> Result<TransactWriteItem, AwsError> {
    let item = to_item(&Versioned {
        pk: incident_pk(id),
        sk: sk.to_string(),
        version: read + 1,
        value,
    })?;
    Ok(crate::store::versioned(table, item, read))
}

impl CommandStore for Store {
    async fn command_state(&self, id: &IncidentId, record: bool) -> PortResult<(State, Versions)> {
        let Some((incident, rev)) = self.incident_at(id).await? else {
            return Ok((State::default(), Versions::default()));
        };
        let (whys_version, whys) = self.versioned(id, WHYS).await?;
        let (authored_version, authored) = self.versioned(id, AUTHORED).await?;
        let (timeline, signals) = if record {
            (
                Postmortems::timeline(self, id).await?,
                signals_with_members(self, &incident).await?,
            )
        } else {
            Default::default()
        };
        let state = State {
            actions: self.actions(id).await?,
            approval: self.latest(id).await?,
            incident: Some(incident),
            whys,
            authored,
            timeline,
            signals,
        };
        let versions = Versions {
            incident: rev,
            whys: whys_version,
            authored: authored_version,
        };
        Ok((state, versions))
    }
}

impl Store {
    pub async fn incident_version(&self, id: &IncidentId) -> Result<(Incident, Versions), AwsError> {
        let (incident, rev) = self
            .incident_at(id)
            .await?
            .ok_or_else(|| AwsError::NotFound(id.to_string()))?;
        let versions = Versions {
            incident: rev,
            ..Versions::default()
        };
        Ok((incident, versions))
    }

    pub async fn apply(&self, id: &IncidentId, read: &Versions, effects: &Effects) -> Result<Applied, AwsError> {
        let table = self.table();
        let mut writes = Vec::new();
        if let Some(incident) = &effects.incident {
            let (item, condition, values) = revised(incident, read.incident)?;
            writes.push(put(table, item, Some(&condition), &values));
        }
        for entry in &effects.timeline {
            let marker = entry_marker(id, &entry.key);
            writes.push(put(table, marker, Some("attribute_not_exists(pk)"), &[]));
            writes.push(put(table, to_item(&TimelineItem::new(id, entry.clone()))?, None, &[]));
        }
        if let Some(whys) = &effects.whys {
            writes.push(versioned_record(table, id, WHYS, read.whys, whys)?);
        }
        if let Some(authored) = &effects.authored {
            writes.push(versioned_record(table, id, AUTHORED, read.authored, authored)?);
        }
        if let Some(item) = &effects.new_action {
            let row = ActionRow {
                pk: incident_pk(id),
                sk: action_sk(&item.id),
                item: item.clone(),
            };
            writes.push(put(table, to_item(&row)?, Some("attribute_not_exists(pk)"), &[]));
        }
        if let Some(item) = &effects.closed_action {
            let done = item
                .done
                .as_ref()
                .ok_or_else(|| AwsError::Rejected(format!("{} has no validation", item.id)))?;
            // Only `done` changes: the item's ticket and reminders stay as the postmortem function wrote them.
            let update = Update::builder()
                .table_name(table)
                .set_key(Some(key(incident_pk(id), action_sk(&item.id))))
                .update_expression("SET done = :d")
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(done)")
                .expression_attribute_values(":d", to_value(done)?)
                .build()
                .map_err(|e| AwsError::decode("action item update", e))?;
            writes.push(TransactWriteItem::builder().update(update).build());
        }
        if let Some(approval) = &effects.approval {
            let decisions = self.decisions()?;
            writes.push(put(
                decisions.table(),
                to_item(&ApprovalItem::new(approval))?,
                Some(APPROVAL_OPEN),
                &[(":f", AttributeValue::Bool(false))],
            ));
        }
        if writes.is_empty() || self.transact_if(writes).await? {
            return Ok(Applied::Written);
        }
        // Transactions are all or nothing: the first entry's marker there means these effects
        // landed before; another entry's means a key another step took, which no retry fixes.
        for (n, entry) in effects.timeline.iter().enumerate() {
            if self.exists(entry_marker(id, &entry.key)).await? {
                if n == 0 {
                    return Ok(Applied::AlreadyWritten);
                }
                return Err(AwsError::Config(format!(
                    "timeline entry key {} is another step's",
                    entry.key
                )));
            }
        }
        Ok(Applied::Conflict)
    }
}

fn entry_marker(id: &IncidentId, entry_key: &str) -> crate::items::Item {
    key(incident_pk(id), format!("ENTRY#{entry_key}"))
}
