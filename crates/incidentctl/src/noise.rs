//! Silences (set and lifted through the command API; listed from the catalog table) and the signals
//! that opened nothing (read from the incidents table).

use crate::cli::{Output, SilenceCommand};
use crate::context::Ctx;
use crate::render::{emit, said, table};
use anyhow::{bail, Result};
use chrono::Utc;
use incident_core::noise::SilenceRequest;

/// `90m`, `2h`, `1d` or a number of minutes.
pub fn minutes(text: &str) -> Result<i64> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = match number.parse() {
        Ok(n) => n,
        Err(_) => bail!("'{text}' is not a duration (90m, 2h, 1d)"),
    };
    let factor = match unit {
        "" | "m" | "min" => 1,
        "h" => 60,
        "d" => 60 * 24,
        _ => bail!("'{text}' is not a duration (90m, 2h, 1d)"),
    };
    n.checked_mul(factor)
        .ok_or_else(|| anyhow::anyhow!("'{text}' is too long a duration"))
}

/// The instant `since` (a duration) ago, and the days (`YYYY-MM-DD`) incidents detected since
/// then are listed under: those of the window, and a day before.
pub fn window(since: &str) -> Result<(chrono::DateTime<Utc>, Vec<String>)> {
    let minutes = minutes(since)?;
    let now = Utc::now();
    let today = now.date_naive();
    let days = (0..=minutes / (24 * 60) + 1)
        .map(|d| (today - chrono::TimeDelta::days(d)).format("%Y-%m-%d").to_string())
        .collect();
    Ok((now - chrono::TimeDelta::minutes(minutes), days))
}

pub async fn silence(
    ctx: &Ctx,
    out: Output,
    command: Option<SilenceCommand>,
    service: Option<String>,
    duration: Option<String>,
    reason: Option<String>,
) -> Result<()> {
    match (command, service) {
        (Some(SilenceCommand::Lift { id }), _) => said(out, &ctx.api.silence(&SilenceRequest::Lift { id }).await?),
        (Some(SilenceCommand::List { all }), _) => {
            let now = Utc::now();
            let mut silences = ctx.catalog.load().await?.silences;
            silences.retain(|s| s.active_at(now) || (all && s.until > now - chrono::TimeDelta::days(1)));
            silences.sort_by_key(|s| s.until);
            emit(out, &silences, |list| {
                if list.is_empty() {
                    return "no silence in force\n".into();
                }
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|s| {
                        vec![
                            s.id.clone(),
                            s.service.clone(),
                            s.state(now).into(),
                            s.until.format("%Y-%m-%d %H:%M UTC").to_string(),
                            s.by.clone(),
                            s.reason.clone(),
                        ]
                    })
                    .collect();
                table(&["ID", "SERVICE", "STATE", "UNTIL", "BY", "REASON"], &rows)
            })
        }
        (None, Some(service)) => {
            let (Some(duration), Some(reason)) = (duration, reason) else {
                bail!("say how long and why: incidentctl silence SERVICE --for 2h --reason \"…\"");
            };
            let request = SilenceRequest::Set {
                service,
                minutes: minutes(&duration)?,
                reason,
            };
            said(out, &ctx.api.silence(&request).await?)
        }
        (None, None) => bail!("name a service to silence, or `silence list` / `silence lift ID`"),
    }
}

pub async fn ignored(ctx: &Ctx, out: Output, days: u32) -> Result<()> {
    let items = ctx.store.ignored(days).await?;
    emit(out, &items, |list| {
        if list.is_empty() {
            return format!("no signal was ignored in the last {days} day(s)\n");
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|i| {
                vec![
                    i.signal.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    i.service.clone(),
                    i.signal.watched().unwrap_or_else(|| i.signal.resource.clone()),
                    i.reason.clone(),
                ]
            })
            .collect();
        table(&["TIME (UTC)", "SERVICE", "SIGNAL", "WHY NOTHING OPENED"], &rows)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(minutes("90m").unwrap(), 90);
        assert_eq!(minutes("2h").unwrap(), 120);
        assert_eq!(minutes("1d").unwrap(), 1440);
        assert_eq!(minutes("45").unwrap(), 45);
        assert!(minutes("soon").is_err() && minutes("2w").is_err() && minutes("").is_err());
    }
}
