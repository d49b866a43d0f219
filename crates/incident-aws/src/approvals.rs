//! The decisions table: mitigation approvals (`INCIDENT#<id>` / `APPROVAL#<requested>#<approval
//! id>`) and the lifecycle's task tokens (`INCIDENT#<id>` / `TOKEN#<key>`, with a TTL). Only the
//! functions are granted this table: no person's policy reads a token or writes a decision, and
//! decisions are written only through the command API's one write path.

use crate::items::{incident_pk, key, stamp, to_item, Item};
use crate::store::{ttl_after, Store};
use crate::AwsError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use incident_core::approval::Approval;
use incident_core::page_reply::IssuedCode;
use incident_core::ports::{Approvals, PageCodes, PortResult, Tokens};
use incident_core::IncidentId;
use serde::{Deserialize, Serialize};

/// Task tokens live this long at most (the longest wait of the lifecycle).
const TOKEN_TTL_DAYS: i64 = 30;

/// An undecided, unexpired approval: the condition of every approval write.
pub(crate) const APPROVAL_OPEN: &str =
    "attribute_not_exists(decision) AND (attribute_not_exists(expired) OR expired = :f)";

#[derive(Serialize, Deserialize)]
pub(crate) struct ApprovalItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    approval: Approval,
}

impl ApprovalItem {
    pub(crate) fn new(approval: &Approval) -> Self {
        Self {
            pk: incident_pk(&approval.incident),
            sk: format!("APPROVAL#{}#{}", stamp(approval.requested_at), approval.id),
            approval: approval.clone(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct TokenItem {
    pk: String,
    sk: String,
    token: String,
    ttl: i64,
}

fn token_key(id: &IncidentId, key_name: &str) -> Item {
    key(incident_pk(id), format!("TOKEN#{key_name}"))
}

impl Store {
    pub(crate) async fn approvals(&self, incident: &IncidentId) -> Result<Vec<Approval>, AwsError> {
        let items: Vec<ApprovalItem> = self
            .decisions()?
            .query_prefix(&incident_pk(incident), "APPROVAL#")
            .await?;
        Ok(items.into_iter().map(|i| i.approval).collect())
    }

    /// Writes the approval back only if it is still undecided and unexpired.
    async fn put_if_open(&self, approval: &Approval) -> Result<bool, AwsError> {
        self.decisions()?
            .put_if(
                to_item(&ApprovalItem::new(approval))?,
                APPROVAL_OPEN,
                &[(":f", AttributeValue::Bool(false))],
            )
            .await
    }
}

impl Approvals for Store {
    async fn request(&self, approval: &Approval) -> PortResult<()> {
        let all = self.approvals(&approval.incident).await?;
        for mut old in all.iter().cloned() {
            if old.id != approval.id && old.decision.is_none() && !old.expired {
                old.expired = true;
                self.put_if_open(&old).await?;
            }
        }
        // A retried request finds its own approval already there and leaves it as it is.
        if all.iter().all(|a| a.id != approval.id) {
            self.put_if_open(approval).await?;
        }
        Ok(())
    }

    async fn latest(&self, incident: &IncidentId) -> PortResult<Option<Approval>> {
        Ok(self
            .approvals(incident)
            .await?
            .into_iter()
            .max_by_key(|a| a.requested_at))
    }

    async fn get(&self, incident: &IncidentId, approval_id: &str) -> PortResult<Option<Approval>> {
        Ok(self
            .approvals(incident)
            .await?
            .into_iter()
            .find(|a| a.id == approval_id))
    }
}

impl Tokens for Store {
    async fn keep(&self, id: &IncidentId, key_name: &str, token: &str) -> PortResult<()> {
        self.keep_for_a_while(token_key(id, key_name), "token", token).await
    }

    async fn take(&self, id: &IncidentId, key_name: &str) -> PortResult<Option<String>> {
        let decisions = self.decisions()?;
        // One call reads and deletes: of two racing takers, only one gets the token.
        let out = decisions
            .client()
            .delete_item()
            .table_name(decisions.table())
            .set_key(Some(token_key(id, key_name)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| AwsError::sdk("DeleteItem", e))?;
        Ok(out
            .attributes
            .map(|item| crate::items::from_item::<TokenItem>("task token", item))
            .transpose()?
            .map(|t| t.token))
    }

    async fn keep_runbook(&self, execution_id: &str, id: &IncidentId) -> PortResult<()> {
        self.keep_for_a_while(runbook_key(execution_id), "incident", id.as_str())
            .await
    }

    async fn runbook_incident(&self, execution_id: &str) -> PortResult<Option<IncidentId>> {
        let decisions = self.decisions()?;
        let out = decisions
            .client()
            .get_item()
            .table_name(decisions.table())
            .set_key(Some(runbook_key(execution_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::sdk("GetItem", e))?;
        let incident = out
            .item
            .and_then(|item| item.get("incident").and_then(|v| v.as_s().ok()).cloned());
        Ok(incident
            .map(|id| IncidentId::parse(&id))
            .transpose()
            .map_err(|e| AwsError::decode("runbook wait", e))?)
    }
}

impl Store {
    /// Puts `item` (a key) with `field` = `value` in the decisions table, expiring with the tokens.
    async fn keep_for_a_while(&self, mut item: Item, field: &str, value: &str) -> PortResult<()> {
        let decisions = self.decisions()?;
        item.insert(field.into(), AttributeValue::S(value.into()));
        item.insert("ttl".into(), AttributeValue::N(ttl_after(TOKEN_TTL_DAYS).to_string()));
        decisions
            .client()
            .put_item()
            .table_name(decisions.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| AwsError::sdk("PutItem", e))?;
        Ok(())
    }
}

/// A page's acknowledgement code, by its hash (`PAGECODE#<hash>`), kept a day.
const CODE_PREFIX: &str = "PAGECODE#";
const CODE_SK: &str = "CODE";

fn code_key(hash: &str) -> Item {
    key(format!("{CODE_PREFIX}{hash}"), CODE_SK)
}

#[derive(Serialize, Deserialize)]
struct CodeItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    issued: IssuedCode,
    ttl: i64,
    /// The same instant as `ttl` (a reserved word in condition expressions).
    #[serde(default)]
    expires: i64,
}

impl PageCodes for Store {
    async fn issue(&self, hash: &str, issued: &IssuedCode) -> PortResult<bool> {
        let item = to_item(&CodeItem {
            pk: format!("{CODE_PREFIX}{hash}"),
            sk: CODE_SK.into(),
            issued: issued.clone(),
            ttl: ttl_after(1),
            expires: ttl_after(1),
        })?;
        // Never over a live code of someone else's: the caller draws another.
        let now = AttributeValue::N(chrono::Utc::now().timestamp().to_string());
        Ok(self
            .decisions()?
            .put_if(item, "attribute_not_exists(pk) OR expires < :now", &[(":now", now)])
            .await?)
    }

    async fn find(&self, hash: &str) -> PortResult<Option<IssuedCode>> {
        let decisions = self.decisions()?;
        let out = decisions
            .client()
            .get_item()
            .table_name(decisions.table())
            .set_key(Some(code_key(hash)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::sdk("GetItem", e))?;
        let item = out
            .item
            .map(|i| crate::items::from_item::<CodeItem>("page code", i))
            .transpose()?;
        // DynamoDB deletes expired items late: an expired code is no code.
        Ok(item
            .filter(|c| c.ttl > chrono::Utc::now().timestamp())
            .map(|c| c.issued))
    }

    async fn redeem(&self, hash: &str) -> PortResult<bool> {
        let decisions = self.decisions()?;
        // One call reads and deletes: of two racing replies, only one uses the code.
        let out = decisions
            .client()
            .delete_item()
            .table_name(decisions.table())
            .set_key(Some(code_key(hash)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| AwsError::sdk("DeleteItem", e))?;
        Ok(out.attributes.is_some())
    }
}

/// Which incident waits on a runbook execution (`RUNBOOK#<execution id>`).
fn runbook_key(execution_id: &str) -> Item {
    key(format!("RUNBOOK#{execution_id}"), "INCIDENT")
}
