//! `incidentctl metrics`: one row per incident detected in a window, as CSV or JSON, computed by
//! the core from the incidents and their signals.

use crate::cli::MetricsFormat as Format;
use crate::context::Ctx;
use anyhow::Result;
use incident_core::ports::{signals_with_members, Postmortems};
use incident_core::review::metrics;

pub async fn export(ctx: &Ctx, since: &str, format: Format) -> Result<()> {
    let (from, days) = crate::noise::window(since)?;
    let mut incidents = Vec::new();
    for incident in ctx.store.incidents_of_days(&days).await? {
        if incident.detected_at >= from {
            let signals = signals_with_members(&ctx.store, &incident).await?;
            incidents.push((incident, signals));
        }
    }
    let rows = metrics::rows(&incidents);
    match format {
        Format::Csv => print!("{}", metrics::csv(&rows)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
    }
    Ok(())
}
