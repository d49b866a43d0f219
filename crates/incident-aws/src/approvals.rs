//! Approvals in the incidents table: `INCIDENT#<id>` / `APPROVAL#<requested>#<approval id>`, and
//! the task token apart from it at `TOKEN#approval-<approval id>` (with a TTL). The token never
//! leaves DynamoDB except to complete the callback.

use crate::items::{incident_pk, key, stamp, to_item};
use crate::store::Store;
use crate::AwsError;
use aws_sdk_dynamodb::types::AttributeValue;
use incident_core::approval::{Approval, Decision};
use incident_core::ports::{Approvals, PortError, PortResult};
use incident_core::IncidentId;
use serde::{Deserialize, Serialize};

const TOKEN_TTL_DAYS: i64 = 7;

#[derive(Serialize, Deserialize)]
struct ApprovalItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    approval: Approval,
}

impl ApprovalItem {
    fn new(approval: &Approval) -> Self {
        Self {
            pk: incident_pk(&approval.incident),
            sk: format!("APPROVAL#{}#{}", stamp(approval.requested_at), approval.id),
            approval: approval.clone(),
        }
    }
}

fn token_sk(approval_id: &str) -> String {
    format!("approval-{approval_id}")
}

impl Store {
    async fn approvals(&self, incident: &IncidentId) -> Result<Vec<Approval>, AwsError> {
        let items: Vec<ApprovalItem> = self.query_prefix(&incident_pk(incident), "APPROVAL#").await?;
        Ok(items.into_iter().map(|i| i.approval).collect())
    }

    /// Writes the approval back only if it is still undecided and unexpired.
    async fn put_if_open(&self, approval: &Approval) -> Result<bool, AwsError> {
        self.put_if(
            to_item(&ApprovalItem::new(approval))?,
            "attribute_not_exists(decision) AND (attribute_not_exists(expired) OR expired = :f)",
            &[(":f", AttributeValue::Bool(false))],
        )
        .await
    }
}

impl Approvals for Store {
    async fn request(&self, approval: &Approval, token: &str) -> PortResult<()> {
        for mut old in self.approvals(&approval.incident).await? {
            if old.id != approval.id && old.decision.is_none() && !old.expired {
                old.expired = true;
                self.put_if_open(&old).await?;
            }
        }
        self.put_token(&approval.incident, &token_sk(&approval.id), token, TOKEN_TTL_DAYS)
            .await?;
        // A retried request finds its own approval already there and leaves it as it is.
        if self
            .approvals(&approval.incident)
            .await?
            .iter()
            .all(|a| a.id != approval.id)
        {
            self.put_if_open(approval).await?;
        }
        Ok(())
    }

    async fn pending(&self, incident: &IncidentId) -> PortResult<Option<Approval>> {
        let open = self
            .approvals(incident)
            .await?
            .into_iter()
            .filter(|a| a.decision.is_none() && !a.expired);
        Ok(open.max_by_key(|a| a.requested_at))
    }

    async fn get(&self, incident: &IncidentId, approval_id: &str) -> PortResult<Option<Approval>> {
        Ok(self
            .approvals(incident)
            .await?
            .into_iter()
            .find(|a| a.id == approval_id))
    }

    async fn decide(&self, approval: &Approval, decision: &Decision) -> PortResult<()> {
        let mut decided = approval.clone();
        decided.decision = Some(decision.clone());
        if self.put_if_open(&decided).await? {
            Ok(())
        } else {
            Err(PortError::Rejected(format!(
                "approval {} was already decided or has expired",
                approval.id
            )))
        }
    }

    async fn take_token(&self, incident: &IncidentId, approval_id: &str) -> PortResult<Option<String>> {
        let sk = token_sk(approval_id);
        let token = self.token(incident, &sk).await?;
        if token.is_some() {
            self.client()
                .delete_item()
                .table_name(self.table())
                .set_key(Some(key(incident_pk(incident), format!("TOKEN#{sk}"))))
                .send()
                .await
                .map_err(|e| AwsError::sdk("DeleteItem", e))?;
        }
        Ok(token)
    }
}
