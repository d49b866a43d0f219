//! The weekly review as one self-contained HTML page: inline CSS and SVG charts, no script, no
//! external asset (its Content Security Policy allows none), every piece of incident text escaped.

use super::{duration, CoeState, Figure, Report};

/// Text as HTML text or attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b1f24;background:#fff}\
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}\
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:1rem}\
.figure{border:1px solid #d0d7de;border-radius:6px;padding:.5rem .75rem}.figure b{font-size:1.1rem}\
.late{color:#b42318;font-weight:600}.warn{color:#b42318}.muted{color:#57606a}\
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}td,th,.figure{border-color:#30363d}.muted{color:#8b949e}}";

/// A line of the weekly p50s (empty weeks are gaps), 240×64, the reviewed week marked.
pub fn trend_chart(f: &Figure) -> String {
    let (w, h, pad) = (240.0_f64, 64.0_f64, 6.0_f64);
    let max = f.trend.iter().filter_map(|p| p.p50_secs).max().unwrap_or(0).max(1) as f64;
    let n = f.trend.len().max(2) as f64;
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / (n - 1.0);
    let y = |v: i64| h - pad - (h - 2.0 * pad) * v as f64 / max;
    let mut paths = Vec::new();
    let mut current = String::new();
    let mut dots = String::new();
    for (i, p) in f.trend.iter().enumerate() {
        match p.p50_secs {
            Some(v) => {
                let cmd = if current.is_empty() { 'M' } else { 'L' };
                current.push_str(&format!("{cmd}{:.1} {:.1} ", x(i), y(v)));
                let last = i + 1 == f.trend.len();
                dots.push_str(&format!(
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{}\" fill=\"{}\"><title>{}: {}</title></circle>",
                    x(i),
                    y(v),
                    if last { 3.5 } else { 2.0 },
                    if last { "#cf222e" } else { "#0969da" },
                    escape(&p.week),
                    duration(v)
                ));
            }
            None if !current.is_empty() => paths.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        paths.push(current);
    }
    let lines: String = paths
        .iter()
        .map(|d| {
            format!(
                "<path d=\"{}\" fill=\"none\" stroke=\"#0969da\" stroke-width=\"1.5\"/>",
                d.trim()
            )
        })
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
<title>{} p50, last {} weeks (max {})</title>\
<line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#8c959f\" stroke-width=\"0.5\"/>{lines}{dots}</svg>",
        escape(&f.name),
        f.trend.len(),
        duration(max as i64),
        b = h - pad,
        r = w - pad,
    )
}

/// Horizontal bars, one per `(label, value)`, 340 wide.
pub fn bar_chart(title: &str, bars: &[(String, usize)]) -> String {
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let row = 22.0;
    let h = row * bars.len().max(1) as f64 + 4.0;
    let mut body = String::new();
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = 2.0 + row * i as f64;
        let width = 200.0 * *value as f64 / max;
        body.push_str(&format!(
            "<text x=\"0\" y=\"{:.1}\" font-size=\"12\" fill=\"currentColor\">{}</text>\
<rect x=\"100\" y=\"{:.1}\" width=\"{width:.1}\" height=\"14\" fill=\"#0969da\"/>\
<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"currentColor\">{value}</text>",
            y + 13.0,
            escape(label),
            y + 2.0,
            104.0 + width,
            y + 13.0
        ));
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"340\" height=\"{h}\" viewBox=\"0 0 340 {h}\"><title>{}</title>{body}</svg>",
        escape(title)
    )
}

fn list<T>(items: &[T], empty: &str, item: impl Fn(&T) -> String) -> String {
    match items.is_empty() {
        true => format!("<p class=\"muted\">{}</p>", escape(empty)),
        false => format!(
            "<ul>{}</ul>",
            items
                .iter()
                .map(|i| format!("<li>{}</li>", item(i)))
                .collect::<String>()
        ),
    }
}

pub fn render(r: &Report) -> String {
    let e = |s: &str| escape(s);
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Weekly operational review {w}</title><style>{STYLE}</style></head><body>\
<h1>Weekly operational review {w}</h1><p class=\"muted\">{} to {} (UTC), generated {}.</p>",
        r.from.format("%Y-%m-%d"),
        (r.to - chrono::TimeDelta::days(1)).format("%Y-%m-%d"),
        r.generated_at.format("%Y-%m-%d %H:%M UTC"),
        w = e(&r.week),
    );
    out.push_str(&format!("<h2>Incidents</h2><p>{}.</p>", e(&super::headline(r))));
    let severities: Vec<(String, usize)> = r.by_severity.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let teams: Vec<(String, usize)> = r.by_team.iter().map(|(k, v)| (k.clone(), *v)).collect();
    out.push_str(&format!(
        "<div class=\"figures\"><div>{}</div><div>{}</div></div>",
        bar_chart("incidents by severity", &severities),
        bar_chart("incidents by team", &teams)
    ));
    if !r.incidents.is_empty() {
        out.push_str(
            "<table><tr><th>incident</th><th>severity</th><th>services</th><th>team</th><th>status</th><th></th></tr>",
        );
        for i in &r.incidents {
            let flags = [(i.exercise, "exercise"), (i.customer_detected, "customer-detected")]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, f)| *f)
                .collect::<Vec<_>>()
                .join(", ");
            out.push_str(&format!(
                "<tr><td>{}<br>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{flags}</td></tr>",
                e(&i.id),
                e(&i.title),
                e(i.severity.as_deref().unwrap_or("–")),
                e(&i.services.join(", ")),
                e(i.team.as_deref().unwrap_or("–")),
                e(&i.status)
            ));
        }
        out.push_str("</table>");
    }
    out.push_str("<h2>Time to detect, engage, acknowledge, mitigate and resolve</h2><p class=\"muted\">Real incidents; each chart is the p50 of the last 12 weeks, this week in red.</p><div class=\"figures\">");
    for f in &r.times {
        let s = |v: Option<i64>| v.map(duration).unwrap_or_else(|| "–".into());
        out.push_str(&format!(
            "<div class=\"figure\"><div>time to <b>{}</b> <span class=\"muted\">({})</span></div>\
<div>p50 <b>{}</b> · p90 <b>{}</b> · {} incidents</div>{}</div>",
            e(&f.name),
            e(&f.measured),
            s(f.p50_secs),
            s(f.p90_secs),
            f.count,
            trend_chart(f)
        ));
    }
    out.push_str("</div>");

    let d = &r.detection;
    out.push_str(&format!(
        "<h2>Detection</h2><p>{} of {} incidents were reported by customers before our monitoring saw them.</p>",
        d.customer_first.len(),
        d.incidents
    ));
    out.push_str(&list(&d.customer_first, "None.", |c| {
        let lead = match c.lead_secs {
            Some(_) => c.lead(),
            None => format!("<span class=\"warn\">{}</span>", c.lead()),
        };
        format!("{}: {lead}", e(&c.incident))
    }));
    if !d.no_alarm.is_empty() {
        out.push_str("<p>Our monitoring (an alarm, a canary, a deployment or AWS Health) never saw these; proposed detection action items:</p>");
        out.push_str(&list(&d.no_alarm, "", |n| {
            format!(
                "{} (owner {}): {}",
                e(&n.incident),
                e(n.owner.as_deref().unwrap_or("–")),
                e(&n.proposed)
            )
        }));
    }

    out.push_str("<h2>COEs due, late and incomplete</h2>");
    out.push_str(&list(&r.coes, "Every COE is complete.", |c| {
        let state = match c.state {
            CoeState::Late => format!("<span class=\"late\">{}</span>", c.state.label()),
            CoeState::Due => c.state.label().to_string(),
        };
        format!(
            "{} — {}: {state} {}; missing: {}",
            e(&c.owner),
            e(&c.incident),
            c.due.format("%Y-%m-%d"),
            e(&c.gaps.join("; "))
        )
    }));

    let a = &r.actions;
    out.push_str("<h2>Action items</h2><h3>Overdue, by team</h3>");
    out.push_str(&list(&a.overdue, "None.", |o| {
        format!(
            "{} — {} ({}, due {}): {}",
            e(&o.team),
            e(&o.id),
            o.term,
            o.due.format("%Y-%m-%d"),
            e(&o.text)
        )
    }));
    out.push_str("<h3>Closed this week, with their validation</h3>");
    out.push_str(&list(&a.closed, "None.", |c| {
        format!(
            "{} ({}, {}): {} — validated by {} on {}: {}",
            e(&c.id),
            e(&c.team),
            c.term,
            e(&c.text),
            e(&c.by),
            c.at.format("%Y-%m-%d"),
            e(&c.evidence)
        )
    }));
    let rates: Vec<(String, usize)> = a
        .closure
        .iter()
        .map(|c| match c.due {
            0 => (format!("{} (none due)", c.term), 0),
            due => (c.term.to_string(), c.closed * 100 / due),
        })
        .collect();
    out.push_str("<h3>Closure rate by term (items due by the end of the week, %)</h3>");
    out.push_str(&bar_chart("closure rate by term, %", &rates));

    out.push_str("<h2>On-call load</h2>");
    if r.oncall.is_empty() {
        out.push_str("<p class=\"muted\">No texts were recorded for the week's incidents.</p>");
    } else {
        out.push_str(
            "<table><tr><th>person</th><th>texts</th><th>off-hours</th><th>sleep hours</th><th>acknowledged</th></tr>",
        );
        for l in &r.oncall {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} of {}</td></tr>",
                e(&l.person),
                l.pages,
                l.off_hours,
                l.sleep_hours,
                l.acknowledged,
                l.incidents
            ));
        }
        out.push_str("</table>");
    }

    out.push_str("<h2>Repeats</h2>");
    out.push_str(&list(&r.repeats, "None.", |rep| {
        let kind = match rep.kind {
            super::RepeatKind::FixDidNotPrevent => format!("<span class=\"late\">{}</span>", rep.kind.describe()),
            super::RepeatKind::FixStillOpen => format!("<span class=\"warn\">{}</span>", rep.kind.describe()),
            _ => rep.kind.describe(),
        };
        format!(
            "{} after {}: {kind} — {}",
            e(&rep.incident),
            e(&rep.earlier),
            e(&rep.what)
        )
    }));
    out.push_str("<h2>Learnings to take a level further</h2>");
    out.push_str(&list(&r.proposals, "None: no learning's factor recurred after its last step.", |p| {
        format!(
            "{} ({}, at {} since {}): “{}” — the factor recurred in {}; propose <b>{}</b> (<code>incidentctl learning escalate {}</code>)",
            e(&p.learning),
            p.category,
            p.level,
            p.since.format("%Y-%m-%d"),
            e(&p.text),
            e(&p.recurred_in.join(", ")),
            p.next,
            e(&p.learning)
        )
    }));
    if !r.unreadable.is_empty() {
        out.push_str(
            "<h2>Left out</h2><p class=\"warn\">These incidents could not be read, so no figure counts them:</p>",
        );
        out.push_str(&list(&r.unreadable, "", |u| e(u)));
    }
    out.push_str("<h2>Recurring contributing factors</h2>");
    out.push_str(&list(&r.recurring, "None.", |f| {
        format!(
            "<b>{}</b> in {} incidents across {} teams ({}): {}",
            f.category,
            f.incidents.len(),
            f.teams.len(),
            e(&f.teams.join(", ")),
            e(&f.incidents.join(", "))
        )
    }));
    out.push_str("</body></html>\n");
    out
}
