//! The core's ports, implemented on AWS.

use crate::bus::Bus;
use crate::catalog_store::CatalogStore;
use crate::lifecycle::{Callbacks, Lifecycle};
use crate::rejects::Rejects;
use crate::store::Store;
use crate::AwsError;
use chrono::{DateTime, Utc};
use incident_core::app_event::AppEvent;
use incident_core::catalog::{Catalog, ServiceMatch};
use incident_core::change::Change;
use incident_core::correlation::{Policy, Space};
use incident_core::effects::Effects;
use incident_core::incident::Incident;
use incident_core::ports::*;
use incident_core::reconcile::RunState;
use incident_core::signal::Signal;
use incident_core::timeline::Entry;
use incident_core::IncidentId;
use serde_json::Value;

impl From<AwsError> for PortError {
    fn from(e: AwsError) -> Self {
        match e {
            AwsError::NotFound(id) => PortError::NotFound(id),
            AwsError::Rejected(why) => PortError::Rejected(why),
            AwsError::Config(_) | AwsError::Decode { .. } => PortError::Invalid(e.to_string()),
            AwsError::Service { .. } | AwsError::Contention(_) if e.is_retryable() => {
                PortError::Transient(e.to_string())
            }
            AwsError::Service { .. } | AwsError::Contention(_) => PortError::Invalid(e.to_string()),
        }
    }
}

impl IncidentStore for Store {
    async fn record_signal(&self, matched: &ServiceMatch, signal: &Signal, policy: &Policy) -> PortResult<Recorded> {
        Ok(Store::record_signal(self, matched, signal, policy).await?)
    }

    async fn incident(&self, id: &IncidentId) -> PortResult<Incident> {
        Ok(Store::incident(self, id).await?)
    }

    async fn incident_version(&self, id: &IncidentId) -> PortResult<(Incident, Versions)> {
        Ok(Store::incident_version(self, id).await?)
    }

    async fn apply(&self, id: &IncidentId, read: &Versions, effects: &Effects) -> PortResult<Applied> {
        Ok(Store::apply(self, id, read, effects).await?)
    }

    async fn signals(&self, id: &IncidentId) -> PortResult<Vec<Signal>> {
        Ok(Store::signals(self, id).await?.into_iter().map(|s| s.signal).collect())
    }

    async fn close_correlation(&self, incident: &Incident, policy: &Policy) -> PortResult<()> {
        Ok(Store::close_correlation(self, incident, policy).await?)
    }
}

impl ChangeLog for Store {
    async fn record_change(&self, space: Space, service: &str, change: &Change) -> PortResult<()> {
        Ok(Store::record_change(self, space, service, change).await?)
    }

    async fn changes(
        &self,
        space: Space,
        service: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> PortResult<Vec<Change>> {
        Ok(Store::changes(self, space, service, from, to).await?)
    }
}

impl CatalogSource for CatalogStore {
    async fn load(&self) -> PortResult<Catalog> {
        Ok(CatalogStore::load(self).await?)
    }
}

impl CatalogSink for CatalogStore {
    async fn import(&self, catalog: &Catalog) -> PortResult<incident_core::catalog::ImportSummary> {
        Ok(CatalogStore::import(self, catalog).await?)
    }

    async fn put_silence(&self, silence: &incident_core::silence::Silence) -> PortResult<()> {
        Ok(CatalogStore::put_silence(self, silence).await?)
    }

    async fn put_override(&self, o: &incident_core::oncall::Override) -> PortResult<()> {
        Ok(CatalogStore::put_override(self, o).await?)
    }

    async fn put_learning(&self, l: &incident_core::learning::Learning) -> PortResult<bool> {
        Ok(CatalogStore::put_learning(self, l).await?)
    }

    async fn put_orr_answer(&self, a: &incident_core::learning::OrrAnswer) -> PortResult<()> {
        Ok(CatalogStore::put_orr_answer(self, a).await?)
    }
}

impl Notifier for Bus {
    async fn page(&self, target: &str, subject: &str, message: &str) -> PortResult<()> {
        Ok(Bus::page(self, target, subject, message).await?)
    }

    async fn text(&self, number: &str, message: &str) -> PortResult<()> {
        Ok(Bus::text(self, number, message).await?)
    }

    async fn email(&self, address: &str, subject: &str, body: &str) -> PortResult<()> {
        Ok(Bus::email(self, address, subject, body).await?)
    }

    fn reach(&self) -> incident_core::engagement::Reach {
        incident_core::engagement::Reach {
            email: self.page_from.is_some(),
        }
    }

    async fn emit(&self, event: &AppEvent) -> PortResult<()> {
        Ok(Bus::emit(self, event).await?)
    }
}

impl Lifecycles for Lifecycle {
    async fn start(&self, id: &IncidentId, run: u32) -> PortResult<()> {
        Ok(Lifecycle::start(self, id, run).await?)
    }

    async fn stop(&self, id: &IncidentId, run: u32, cause: &str) -> PortResult<()> {
        Ok(Lifecycle::stop(self, id, run, cause).await?)
    }

    async fn state(&self, id: &IncidentId, run: u32) -> PortResult<RunState> {
        Ok(Lifecycle::state(self, id, run).await?)
    }
}

impl LiveIncidents for Store {
    async fn live(&self) -> PortResult<Vec<Incident>> {
        Ok(Store::live(self).await?)
    }
}

impl TaskCallbacks for Callbacks {
    async fn complete(&self, token: &str, output: &Value) -> PortResult<bool> {
        Ok(Callbacks::complete(self, token, output).await?)
    }
}

impl DeadLetters for Rejects {
    async fn reject(&self, event: &Value, error_type: &str, reason: &str) -> PortResult<()> {
        Ok(Rejects::reject(self, event, error_type, reason).await?)
    }
}

impl Postmortems for Store {
    async fn timeline(&self, id: &IncidentId) -> PortResult<Vec<Entry>> {
        Ok(Store::timeline(self, id).await?)
    }

    async fn whys(&self, id: &IncidentId) -> PortResult<incident_core::whys::Tree> {
        Ok(Store::whys(self, id).await?)
    }

    async fn actions(&self, id: &IncidentId) -> PortResult<Vec<incident_core::actions::ActionItem>> {
        Ok(Store::actions(self, id).await?)
    }

    async fn authored(&self, id: &IncidentId) -> PortResult<incident_core::coe::Authored> {
        Ok(Store::authored(self, id).await?)
    }

    async fn record_ticket(&self, id: &IncidentId, item: &str, ticket: &str) -> PortResult<()> {
        Ok(Store::record_action_ticket(self, id, item, ticket).await?)
    }

    async fn record_reminder(&self, id: &IncidentId, item: &str, at: chrono::DateTime<chrono::Utc>) -> PortResult<()> {
        Ok(Store::record_action_reminder(self, id, item, at).await?)
    }

    async fn incidents_of_days(&self, days: &[String]) -> PortResult<Vec<Incident>> {
        Ok(Store::list(self, days, false).await?)
    }
}
