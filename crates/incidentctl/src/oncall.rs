//! Who is on call (read from the catalog table) and overrides (added through the command API).

use crate::cli::{OncallCommand, Output};
use crate::context::Ctx;
use crate::render::{emit, said, table};
use anyhow::{bail, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use incident_core::oncall::{self, OnCall, OverrideCommand, OverrideRequest};

/// RFC 3339, or `YYYY-MM-DD HH:MM` (a `T` also does) in UTC.
pub fn instant(text: &str) -> Result<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(naive.and_utc());
        }
    }
    bail!("'{text}' is not a time (2026-12-24T18:00:00Z, or 2026-12-24 18:00 in UTC)")
}

fn who(o: &Option<OnCall>) -> String {
    match o {
        Some(o) if o.via == "override" => format!("{} (override)", o.person),
        Some(o) => format!("{} ({})", o.person, o.via),
        None => "nobody".into(),
    }
}

pub async fn run(
    ctx: &Ctx,
    out: Output,
    command: Option<OncallCommand>,
    team: Option<String>,
    at: Option<String>,
) -> Result<()> {
    if let Some(OncallCommand::Override {
        team,
        user,
        from,
        to,
        layer,
    }) = command
    {
        let request = OverrideRequest {
            team,
            layer,
            user,
            from: instant(&from)?,
            to: instant(&to)?,
        };
        return said(out, &ctx.api.override_oncall(&OverrideCommand::Add(request)).await?);
    }
    if let Some(OncallCommand::Lift { id }) = command {
        return said(out, &ctx.api.override_oncall(&OverrideCommand::Lift { id }).await?);
    }
    if let Some(OncallCommand::Load { since }) = command {
        return load(ctx, out, &since).await;
    }
    let at = at.as_deref().map(instant).transpose()?.unwrap_or_else(Utc::now);
    let catalog = ctx.catalog.load().await?;
    if let Some(t) = team.as_deref().filter(|t| catalog.team(t).is_none()) {
        bail!("no team '{t}' in the catalog");
    }
    let rows = oncall::roster(&catalog, team.as_deref(), at);
    emit(out, &rows, |rows| {
        if rows.is_empty() {
            return "no team has rotations in the catalog\n".into();
        }
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.team.clone(),
                    r.layer.clone(),
                    who(&r.now),
                    r.next_at
                        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_else(|| "-".into()),
                    who(&r.next),
                ]
            })
            .collect();
        format!(
            "on call at {}\n{}",
            at.format("%Y-%m-%d %H:%M UTC"),
            table(&["TEAM", "LAYER", "ON CALL", "UNTIL", "NEXT"], &cells)
        )
    })
}

async fn load(ctx: &Ctx, out: Output, since: &str) -> Result<()> {
    let (from, days) = crate::noise::window(since)?;
    let incidents = ctx.store.list(&days, false).await?;
    let catalog = ctx.catalog.load().await?;
    let rows = oncall::load(&catalog, &incidents, from);
    emit(out, &rows, |rows| {
        if rows.is_empty() {
            return format!("nobody was texted since {}\n", from.format("%Y-%m-%d %H:%M UTC"));
        }
        let secs = |s: Option<i64>| s.map(crate::render::duration).unwrap_or_else(|| "-".into());
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.person.clone(),
                    r.pages.to_string(),
                    r.off_hours.to_string(),
                    r.sleep_hours.to_string(),
                    format!("{}/{}", r.acknowledged, r.incidents),
                    secs(r.ack_median_secs),
                    secs(r.ack_max_secs),
                ]
            })
            .collect();
        format!(
            "on-call load since {} (off hours: outside 08–18 on weekdays; sleep: 22–07; in each person's time zone)\n{}",
            from.format("%Y-%m-%d %H:%M UTC"),
            table(&["PERSON", "TEXTS", "OFF HOURS", "SLEEP", "ACKED", "ACK MEDIAN", "ACK MAX"], &cells)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_as_rfc_3339_or_utc_minutes() {
        assert_eq!(
            instant("2026-12-24T18:00:00+01:00").unwrap(),
            instant("2026-12-24 17:00").unwrap()
        );
        assert_eq!(
            instant("2026-12-24T17:00").unwrap().to_rfc3339(),
            "2026-12-24T17:00:00+00:00"
        );
        assert!(instant("tomorrow").unwrap_err().to_string().contains("is not a time"));
    }
}
