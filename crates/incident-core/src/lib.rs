//! The incident-loop domain.
//!
//! Everything here is plain Rust with no AWS dependency: the adapters in `incident-aws` persist and
//! transport these types, the Lambda handlers wire them together. Keeping the rules here means the
//! rules are tested without a cloud, and the same code runs in Lambda, in the CLI and in benchmarks.

pub mod account;
pub mod actions;
pub mod app_event;
pub mod approval;
pub mod catalog;
pub mod category;
pub mod change;
pub mod chat;
pub mod coe;
pub mod command;
pub mod console;
pub mod correlation;
pub mod effects;
pub mod engagement;
pub mod event;
pub mod evidence;
pub mod incident;
pub mod learning;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod mitigation;
pub mod noise;
pub mod oncall;
pub mod page_reply;
pub mod ports;
pub mod reconcile;
pub mod record;
pub mod recording;
pub mod resolution;
pub mod review;
pub mod severity;
pub mod signal;
pub mod silence;
#[cfg(any(test, feature = "testing"))]
pub mod store_contract;
pub mod text;
pub mod tickets;
pub mod timeline;
pub mod triage;
pub mod updates;
pub mod whys;

mod ids;

pub use ids::{IncidentId, InvalidId, SignalKey};
