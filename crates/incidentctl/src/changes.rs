//! `incidentctl changes SERVICE`: the deployments and configuration changes recorded for a service
//! as they happened (read from the incidents table), one line per deployment.

use crate::cli::Output;
use crate::context::Ctx;
use crate::noise::minutes;
use crate::render::{emit, table};
use anyhow::{bail, Result};
use chrono::{TimeDelta, Utc};
use incident_aws::change_log::KEEP_DAYS;
use incident_core::change::{collapse, Change};
use incident_core::correlation::Space;
use incident_core::text::{self, NAME_MAX, REASON_MAX};

pub async fn list(ctx: &Ctx, out: Output, service: &str, since: &str, gameday: bool) -> Result<()> {
    // The furthest back `--since` reaches: changes are kept no longer.
    let back = minutes(since)?;
    if back > KEEP_DAYS * 24 * 60 {
        bail!("changes are kept {KEEP_DAYS} days: ask for --since {KEEP_DAYS}d or less");
    }
    let space = if gameday { Space::GameDay } else { Space::Real };
    let to = Utc::now();
    let recorded = ctx
        .store
        .changes(space, service, to - TimeDelta::minutes(back), to)
        .await?;
    let changes = collapse(recorded);
    emit(out, &changes, |list| render(service, since, list))
}

fn render(service: &str, since: &str, changes: &[Change]) -> String {
    if changes.is_empty() {
        return format!(
            "no change recorded for {} in the last {since}\n",
            text::line(service, NAME_MAX)
        );
    }
    let rows: Vec<Vec<String>> = changes
        .iter()
        .map(|c| {
            vec![
                c.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                c.kind.describe().into(),
                text::line(&c.resource, NAME_MAX),
                c.outcome.map(|o| o.describe()).unwrap_or("-").into(),
                text::line(&c.actor, NAME_MAX),
                text::line(&c.summary, REASON_MAX),
            ]
        })
        .collect();
    table(&["TIME (UTC)", "KIND", "RESOURCE", "OUTCOME", "BY", "WHAT"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::change::{ChangeKind, ChangeOutcome, Origin};

    #[test]
    fn one_line_per_change_and_hostile_text_stays_on_its_line() {
        let at = Utc::now();
        let change = Change {
            at,
            kind: ChangeKind::EcsDeployment,
            actor: "ECS".into(),
            resource: "shop/checkout-api".into(),
            summary: "deployed\n\u{202E}evil".into(),
            link: None,
            origin: Origin::Event,
            id: Some("ecs-svc/7".into()),
            outcome: Some(ChangeOutcome::Failed),
            location: None,
        };
        let out = render("checkout", "24h", &[change]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[1].contains("shop/checkout-api") && lines[1].contains("failed"));
        assert!(lines[1].ends_with("deployed evil"), "{out}");
        assert_eq!(
            render("checkout", "2h", &[]),
            "no change recorded for checkout in the last 2h\n"
        );
    }
}
