//! `incidentctl review`: the weekly operational review as the review function wrote it, or, for a
//! week it has not reviewed yet, computed now from the records by the same core function.

use crate::api::Refused;
use crate::cli::Output;
use crate::context::Ctx;
use crate::render::emit;
use anyhow::Result;
use chrono::Utc;
use incident_core::ports::{review_of, EvidenceStore};
use incident_core::review::{self, Week};

pub async fn show(ctx: &Ctx, out: Output, week: Option<&str>) -> Result<()> {
    let week = match week {
        Some(w) => Week::parse(w).map_err(Refused::Rule)?,
        None => Week::last_before(Utc::now()),
    };
    let extension = match out {
        Output::Json => "json",
        Output::Table => "md",
    };
    let key = review::report_key(week, extension);
    if let Some(body) = ctx.postmortems.get(&key).await? {
        print!("{}", String::from_utf8_lossy(&body));
        if let Output::Table = out {
            let html = review::report_key(week, "html");
            println!("\nWith its charts: s3://{}/{html}", ctx.postmortem_bucket);
        }
        return Ok(());
    }
    let report = review_of(&ctx.store, &ctx.catalog, week, Utc::now()).await?;
    eprintln!("no review of {week} was written yet: computed now from the records");
    emit(out, &report, review::markdown::render)
}
