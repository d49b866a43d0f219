//! The weekly review as Markdown: every figure of the [`Report`], each piece of incident text
//! escaped.

use super::{duration, Report};
use crate::text::markdown as md;

fn secs(s: Option<i64>) -> String {
    s.map(duration).unwrap_or_else(|| "–".into())
}

fn counts(map: &std::collections::BTreeMap<String, usize>) -> String {
    match map.is_empty() {
        true => "none".into(),
        false => map
            .iter()
            .map(|(k, n)| format!("{} {n}", md(k)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

pub fn render(r: &Report) -> String {
    let mut out = format!(
        "# Weekly operational review {}\n\n{} to {} (UTC), generated {}.\n\n",
        r.week,
        r.from.format("%Y-%m-%d"),
        (r.to - chrono::TimeDelta::days(1)).format("%Y-%m-%d"),
        r.generated_at.format("%Y-%m-%d %H:%M UTC")
    );
    out.push_str(&format!("## Incidents\n\n{}.\n\n", super::headline(r)));
    out.push_str(&format!(
        "- By severity: {}\n- By service: {}\n- By team: {}\n\n",
        counts(&r.by_severity),
        counts(&r.by_service),
        counts(&r.by_team)
    ));
    if !r.incidents.is_empty() {
        out.push_str("| incident | severity | services | team | status | |\n|---|---|---|---|---|---|\n");
        for i in &r.incidents {
            let mut flags = Vec::new();
            if i.exercise {
                flags.push("exercise");
            }
            if i.customer_detected {
                flags.push("customer-detected");
            }
            out.push_str(&format!(
                "| {} {} | {} | {} | {} | {} | {} |\n",
                md(&i.id),
                md(&i.title),
                i.severity.as_deref().unwrap_or("–"),
                md(&i.services.join(", ")),
                md(i.team.as_deref().unwrap_or("–")),
                i.status,
                flags.join(", ")
            ));
        }
        out.push('\n');
    }

    out.push_str("## Time to detect, engage, acknowledge, mitigate and resolve\n\n");
    out.push_str("Real incidents only. Trend: the p50 of each of the last 12 weeks, oldest first.\n\n");
    out.push_str("| figure | measured | incidents | p50 | p90 | trend (p50) |\n|---|---|---|---|---|---|\n");
    for f in &r.times {
        let trend: Vec<String> = f.trend.iter().map(|p| secs(p.p50_secs)).collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            f.name,
            f.measured,
            f.count,
            secs(f.p50_secs),
            secs(f.p90_secs),
            trend.join(" ")
        ));
    }

    let d = &r.detection;
    out.push_str("\n## Detection\n\n");
    out.push_str(&format!(
        "{} of {} incidents were reported by customers before our monitoring saw them.\n\n",
        d.customer_first.len(),
        d.incidents
    ));
    for c in &d.customer_first {
        out.push_str(&format!("- {}: {}\n", md(&c.incident), c.lead()));
    }
    if !d.no_alarm.is_empty() {
        out.push_str("\nOur monitoring (an alarm, a canary, a deployment or AWS Health) never saw these; proposed detection action items:\n\n");
        for n in &d.no_alarm {
            out.push_str(&format!(
                "- {} (owner {}): {}\n",
                md(&n.incident),
                md(n.owner.as_deref().unwrap_or("–")),
                md(&n.proposed)
            ));
        }
    }

    out.push_str("\n## COEs due, late and incomplete\n\n");
    if r.coes.is_empty() {
        out.push_str("Every COE is complete.\n");
    }
    for c in &r.coes {
        let state = c.state.label();
        out.push_str(&format!(
            "- {} — {}: {state} {}; missing: {}\n",
            md(&c.owner),
            md(&c.incident),
            c.due.format("%Y-%m-%d"),
            md(&c.gaps.join("; "))
        ));
    }

    let a = &r.actions;
    out.push_str("\n## Action items\n\n### Overdue, by team\n\n");
    if a.overdue.is_empty() {
        out.push_str("None.\n");
    }
    for o in &a.overdue {
        out.push_str(&format!(
            "- {} — {} ({}, due {}): {}\n",
            md(&o.team),
            md(&o.id),
            o.term,
            o.due.format("%Y-%m-%d"),
            md(&o.text)
        ));
    }
    out.push_str("\n### Closed this week, with their validation\n\n");
    if a.closed.is_empty() {
        out.push_str("None.\n");
    }
    for c in &a.closed {
        out.push_str(&format!(
            "- {} ({}, {}): {} — validated by {} on {}: {}\n",
            md(&c.id),
            md(&c.team),
            c.term,
            md(&c.text),
            md(&c.by),
            c.at.format("%Y-%m-%d"),
            md(&c.evidence)
        ));
    }
    out.push_str("\n### Closure rate by term (items due by the end of the week)\n\n| term | due | closed | rate |\n|---|---|---|---|\n");
    for c in &a.closure {
        let rate = match c.due {
            0 => "–".to_string(),
            due => format!("{}%", c.closed * 100 / due),
        };
        out.push_str(&format!("| {} | {} | {} | {rate} |\n", c.term, c.due, c.closed));
    }

    out.push_str("\n## On-call load\n\n");
    if r.oncall.is_empty() {
        out.push_str("No texts were recorded for the week's incidents.\n");
    } else {
        out.push_str("| person | texts | off-hours | sleep hours | acknowledged |\n|---|---|---|---|---|\n");
        for l in &r.oncall {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} of {} |\n",
                md(&l.person),
                l.pages,
                l.off_hours,
                l.sleep_hours,
                l.acknowledged,
                l.incidents
            ));
        }
    }

    out.push_str("\n## Repeats\n\n");
    if r.repeats.is_empty() {
        out.push_str("None.\n");
    }
    for rep in &r.repeats {
        let kind = match rep.kind.is_fix() {
            true => format!("**{}**", rep.kind.describe()),
            false => rep.kind.describe(),
        };
        out.push_str(&format!(
            "- {} after {}: {kind} — {}\n",
            md(&rep.incident),
            md(&rep.earlier),
            md(&rep.what)
        ));
    }

    out.push_str("\n## Learnings to take a level further\n\n");
    if r.proposals.is_empty() {
        out.push_str("None: no learning's factor recurred after its last step.\n");
    }
    for p in &r.proposals {
        out.push_str(&format!(
            "- {} ({}, at {} since {}): \"{}\" — the factor recurred in {}; propose **{}** (incidentctl learning escalate {})\n",
            md(&p.learning),
            p.category,
            p.level,
            p.since.format("%Y-%m-%d"),
            md(&p.text),
            md(&p.recurred_in.join(", ")),
            p.next,
            md(&p.learning)
        ));
    }

    if !r.unreadable.is_empty() {
        out.push_str("\n## Left out\n\nThese incidents could not be read, so no figure counts them:\n\n");
        for u in &r.unreadable {
            out.push_str(&format!("- {}\n", md(u)));
        }
    }

    out.push_str("\n## Recurring contributing factors\n\n");
    if r.recurring.is_empty() {
        out.push_str("None.\n");
    }
    for f in &r.recurring {
        out.push_str(&format!(
            "- **{}** in {} incidents across {} teams ({}): {}\n",
            f.category,
            f.incidents.len(),
            f.teams.len(),
            md(&f.teams.join(", ")),
            md(&f.incidents.join(", "))
        ));
    }
    out
}
