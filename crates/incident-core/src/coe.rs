//! The correction-of-errors (COE) postmortem: the draft pre-filled from the record, the gaps that
//! keep it from being complete, and the checklist that gates resolution.
//!
//! A COE exists to change the system: it is honest about detection, deep on causes (a tree, not a
//! chain), and its action items close only when validated.

use crate::actions::ActionItem;
use crate::incident::{Incident, Scope};
use crate::signal::{Health, Signal, SignalSource};
use crate::timeline::{Entry, EntryKind};
use crate::whys::Tree;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The customer-facing RCA is due this long after resolution.
pub const RCA_DUE_AFTER: TimeDelta = TimeDelta::days(7);

/// The four questions asked of every dependency involved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyReview {
    pub dependency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performed_as_promised: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub our_use_was_right: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_was_foreseeable: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_degrade_gracefully: Option<String>,
}

/// The dependency review's four questions, in the order of [`DependencyReview`]'s answers (and
/// of the `coe_dependency` command's).
pub const DEPENDENCY_QUESTIONS: [&str; 4] = [
    "Did it perform as promised?",
    "Was our use of it right?",
    "Was the failure mode foreseeable?",
    "Can we degrade gracefully without it?",
];

impl DependencyReview {
    fn answers(&self) -> [(&'static str, &Option<String>); 4] {
        let [q1, q2, q3, q4] = DEPENDENCY_QUESTIONS;
        [
            (q1, &self.performed_as_promised),
            (q2, &self.our_use_was_right),
            (q3, &self.failure_was_foreseeable),
            (q4, &self.can_degrade_gracefully),
        ]
    }
}

/// What people wrote into the COE besides the record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authored {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact_summary: Option<String>,
    #[serde(default)]
    pub dependencies: Vec<DependencyReview>,
    #[serde(default)]
    pub learnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_rca: Option<String>,
}

impl Authored {
    /// Records answers to a dependency's review questions, in the order of the four questions;
    /// `None` leaves an earlier answer as it is.
    pub fn answer_dependency(&mut self, dependency: &str, answers: [Option<String>; 4]) {
        let at = match self.dependencies.iter().position(|d| d.dependency == dependency) {
            Some(at) => at,
            None => {
                self.dependencies.push(DependencyReview {
                    dependency: dependency.to_string(),
                    ..Default::default()
                });
                self.dependencies.len() - 1
            }
        };
        let review = &mut self.dependencies[at];
        let slots = [
            &mut review.performed_as_promised,
            &mut review.our_use_was_right,
            &mut review.failure_was_foreseeable,
            &mut review.can_degrade_gracefully,
        ];
        for (slot, answer) in slots.into_iter().zip(answers) {
            if let Some(a) = answer.filter(|a| !a.trim().is_empty()) {
                *slot = Some(a.trim().to_string());
            }
        }
    }
}

/// Everything the COE is written from.
pub struct Record {
    pub incident: Incident,
    pub timeline: Vec<Entry>,
    pub whys: Tree,
    pub actions: Vec<ActionItem>,
    pub authored: Authored,
    /// Every dependency of the services involved, from the catalog.
    pub dependencies: Vec<String>,
    /// The signals of the incident (and of its members).
    pub signals: Vec<Signal>,
}

impl Record {
    /// The record of an incident about which nothing else is known yet.
    pub fn of(incident: Incident) -> Self {
        Self {
            incident,
            timeline: Vec::new(),
            whys: Tree::default(),
            actions: Vec::new(),
            authored: Authored::default(),
            dependencies: Vec::new(),
            signals: Vec::new(),
        }
    }
}

/// For a customer-detected incident: when customers told us, and when our own monitoring (an
/// alarm or a canary) first saw it, if it ever did.
pub(crate) fn detection_lead(r: &Record) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let reported = r
        .signals
        .iter()
        .filter(|s| s.source == SignalSource::CustomerReport)
        .map(|s| s.at)
        .min()
        .unwrap_or(r.incident.impact_started_at);
    let monitored = r
        .signals
        .iter()
        .filter(|s| s.source != SignalSource::CustomerReport && s.health == Health::Impaired)
        .map(|s| s.at)
        .min();
    (reported, monitored)
}

/// Every catalog dependency of the incident's services, sorted and once each.
pub fn dependencies_of(catalog: &crate::catalog::Catalog, incident: &Incident) -> Vec<String> {
    catalog.across(&incident.services, |s| &s.dependencies)
}

/// Quoted text (from events, or people's one-line entries) as Markdown that shows it as it is.
fn quoted(text: &str) -> String {
    crate::text::markdown(text)
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn span(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> String {
    match to {
        None => "—".into(),
        Some(to) => {
            let s = (to - from).num_seconds().max(0);
            if s >= 3600 {
                format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
            } else {
                format!("{}m{:02}s", s / 60, s % 60)
            }
        }
    }
}

fn or_todo(text: &Option<String>) -> String {
    text.clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "_TODO_".into())
}

/// What customers saw: signals, mitigation, resolution and notes — not the loop's bookkeeping.
fn customer_visible(kind: EntryKind) -> bool {
    matches!(
        kind,
        EntryKind::Opened
            | EntryKind::Signal
            | EntryKind::Recovery
            | EntryKind::Acknowledged
            | EntryKind::Mitigation
            | EntryKind::CustomerUpdate
            | EntryKind::Note
            | EntryKind::Resolved
    )
}

/// The Markdown draft.
pub fn render(r: &Record) -> String {
    let i = &r.incident;
    let mut md = String::new();
    let push = |md: &mut String, line: String| {
        md.push_str(&line);
        md.push('\n');
    };
    push(&mut md, format!("# COE: {} ({})", quoted(&i.title), i.id));
    push(&mut md, String::new());
    if i.exercise {
        push(&mut md, "> Game-day exercise: this incident was a rehearsal.\n".into());
    }
    push(&mut md, "## Impact summary".into());
    push(&mut md, String::new());
    let severity = i.severity.map(|s| s.to_string()).unwrap_or_else(|| "untriaged".into());
    let scope = match i.scope {
        Scope::SingleService => "single-service",
        Scope::MultiService => "multi-service event",
    };
    push(&mut md, format!("- **Severity:** {severity} ({scope})"));
    push(&mut md, format!("- **Services:** {}", quoted(&i.services.join(", "))));
    if let Some(l) = &i.location {
        push(&mut md, format!("- **Account:** {}", quoted(&l.describe())));
    }
    push(
        &mut md,
        format!(
            "- **Customer-facing:** {}",
            if i.customer_facing { "yes" } else { "no" }
        ),
    );
    push(
        &mut md,
        format!(
            "- **Impact:** {} → {} ({})",
            at(i.impact_started_at),
            i.resolved_at.map(at).unwrap_or("ongoing".into()),
            span(i.impact_started_at, i.resolved_at)
        ),
    );
    push(
        &mut md,
        format!(
            "- **Owner:** {}; **commander:** {}",
            quoted(i.owner.as_deref().unwrap_or("—")),
            quoted(i.commander.as_deref().unwrap_or("—"))
        ),
    );
    if let Some(o) = &i.resolution_override {
        push(
            &mut md,
            format!(
                "- **Closed with the checklist overridden** by {}: {} (skipped: {})",
                quoted(&o.reason.by),
                quoted(&o.reason.text),
                quoted(&o.missing.join("; "))
            ),
        );
    }
    push(&mut md, String::new());
    push(
        &mut md,
        format!(
            "What customers experienced, in their terms: {}",
            or_todo(&r.authored.impact_summary)
        ),
    );
    push(&mut md, String::new());

    push(&mut md, "## Time to detect, engage, mitigate, resolve".into());
    push(&mut md, String::new());
    push(&mut md, "| from impact start to | elapsed |".into());
    push(&mut md, "|---|---|".into());
    let milestones = [
        ("detected (first signal)", Some(i.detected_at)),
        ("engaged", i.engaged_at),
        ("acknowledged", i.acknowledged_at),
        ("mitigated", i.mitigated_at),
        ("resolved", i.resolved_at),
    ];
    for (what, when) in milestones {
        push(&mut md, format!("| {what} | {} |", span(i.impact_started_at, when)));
    }
    push(&mut md, String::new());

    push(&mut md, "## Detection self-critique".into());
    push(&mut md, String::new());
    push(&mut md, format!("- **First signal:** {}", quoted(&i.first_signal)));
    let detected_by = if i.customer_detected {
        match detection_lead(r) {
            (reported, Some(monitored)) if monitored > reported => format!(
                "**customers**, {} before our first alarm or canary ({}) — why did our monitoring not see it first?",
                span(reported, Some(monitored)),
                at(monitored)
            ),
            (_, Some(monitored)) => format!(
                "**customers** reported it, though our monitoring had seen it at {} — why was nobody engaged by it?",
                at(monitored)
            ),
            (_, None) => {
                "**customers**; none of our alarms or canaries fired at all — what would have caught it?".to_string()
            }
        }
    } else {
        "our own monitoring".to_string()
    };
    push(&mut md, format!("- **Detected by:** {detected_by}"));
    for c in crate::signal::contributors(&r.signals) {
        push(&mut md, format!("- **Contributor:** {}", quoted(&c.describe())));
    }
    if !i.flapping.is_empty() {
        push(
            &mut md,
            format!(
                "- **Flapping alarms:** {} — is the threshold or the period right?",
                quoted(&i.flapping.join(", "))
            ),
        );
    }
    let ack = match (i.acknowledged_at, &i.acknowledged_by) {
        (Some(t), Some(by)) => format!("{} after detection, by {}", span(i.detected_at, Some(t)), quoted(by)),
        _ => "never acknowledged".into(),
    };
    push(
        &mut md,
        format!("- **Engineer engaged:** {ack}; escalations: {}", i.escalations),
    );
    push(&mut md, String::new());

    push(&mut md, "## Customer-experience timeline".into());
    push(&mut md, String::new());
    push(&mut md, "| time (UTC) | who | what |".into());
    push(&mut md, "|---|---|---|".into());
    for e in r.timeline.iter().filter(|e| customer_visible(e.kind)) {
        push(
            &mut md,
            format!("| {} | {} | {} |", at(e.at), quoted(&e.actor), quoted(&e.text)),
        );
    }
    push(&mut md, String::new());

    push(&mut md, "## Five whys (contributing factors)".into());
    push(&mut md, String::new());
    if r.whys.nodes.is_empty() {
        push(&mut md, "_TODO: add factors with `incidentctl why ID add`._".into());
    } else {
        md.push_str(&r.whys.render());
    }
    push(&mut md, String::new());

    push(&mut md, "## Dependency review".into());
    push(&mut md, String::new());
    for dep in &r.dependencies {
        push(&mut md, format!("### {dep}"));
        let review = r
            .authored
            .dependencies
            .iter()
            .find(|d| &d.dependency == dep)
            .cloned()
            .unwrap_or_default();
        for (q, a) in review.answers() {
            push(&mut md, format!("- {q} {}", or_todo(a)));
        }
        push(&mut md, String::new());
    }
    if !i.aws_events.is_empty() {
        push(&mut md, "### AWS (from AWS Health)".into());
        for e in &i.aws_events {
            push(&mut md, format!("- {}", quoted(e)));
        }
        push(
            &mut md,
            "- Did we depend on this in one Availability Zone or Region only? Could we have shifted away from it, and did we know sooner than AWS said?".into(),
        );
        push(&mut md, String::new());
    }
    if r.dependencies.is_empty() && i.aws_events.is_empty() {
        push(
            &mut md,
            "_No dependencies recorded in the catalog for these services._\n".into(),
        );
    }

    push(&mut md, "## Learnings".into());
    push(&mut md, String::new());
    if r.authored.learnings.is_empty() {
        push(&mut md, "_TODO_".into());
    }
    for l in &r.authored.learnings {
        push(&mut md, format!("- {l}"));
    }
    push(&mut md, String::new());

    push(&mut md, "## Action items".into());
    push(&mut md, String::new());
    push(
        &mut md,
        "| id | term | owner | due | status | action | answers |".into(),
    );
    push(&mut md, "|---|---|---|---|---|---|---|".into());
    let mut actions: Vec<&ActionItem> = r.actions.iter().collect();
    actions.sort_by_key(|a| (a.term, a.due));
    for a in actions {
        let status = match &a.done {
            Some(v) => format!("done ({})", quoted(&v.evidence)),
            None => "open".into(),
        };
        push(
            &mut md,
            format!(
                "| {} | {} | {} | {} | {} | {} | {} |",
                a.id,
                a.term,
                quoted(&a.owner),
                a.due.format("%Y-%m-%d"),
                status,
                quoted(&a.text),
                quoted(a.why.as_deref().unwrap_or("—"))
            ),
        );
    }
    push(&mut md, String::new());

    if i.customer_facing {
        let due = i
            .resolved_at
            .map(|t| (t + RCA_DUE_AFTER).format("%Y-%m-%d").to_string())
            .unwrap_or("7 days after resolution".into());
        push(&mut md, format!("## Customer-facing RCA (draft, due {due})"));
        push(&mut md, String::new());
        let draft = r.authored.customer_rca.clone().unwrap_or_else(|| {
            format!(
                "Between {} and {} UTC, some customers experienced errors when using {}. We have taken steps to prevent this from recurring.",
                i.impact_started_at.format("%Y-%m-%d %H:%M"),
                i.resolved_at.map(|t| t.format("%H:%M").to_string()).unwrap_or("—".into()),
                i.services.join(" and ")
            )
        });
        push(&mut md, draft);
    }
    md
}

/// What still keeps the COE from being complete.
pub fn gaps(r: &Record, now: DateTime<Utc>) -> Vec<String> {
    let mut gaps = Vec::new();
    if r.authored.impact_summary.as_deref().is_none_or(|s| s.trim().is_empty()) {
        gaps.push("impact summary in customer terms is empty".into());
    }
    if r.whys.nodes.is_empty() {
        gaps.push("the five-whys tree is empty".into());
    }
    let actioned: Vec<&str> = r.actions.iter().filter_map(|a| a.why.as_deref()).collect();
    for leaf in r.whys.unaddressed_leaves(&actioned) {
        gaps.push(format!(
            "why {} ends in neither an action item nor an accepted risk",
            leaf.id
        ));
    }
    for dep in &r.dependencies {
        let review = r
            .authored
            .dependencies
            .iter()
            .find(|d| &d.dependency == dep)
            .cloned()
            .unwrap_or_default();
        let missing = review
            .answers()
            .iter()
            .filter(|(_, a)| a.as_deref().is_none_or(|s| s.trim().is_empty()))
            .count();
        if missing > 0 {
            gaps.push(format!("dependency {dep}: {missing} of 4 questions unanswered"));
        }
    }
    if r.authored.learnings.is_empty() {
        gaps.push("no learnings recorded".into());
    }
    if r.actions.is_empty() {
        gaps.push("no action items".into());
    }
    for a in r.actions.iter().filter(|a| a.is_overdue(now)) {
        gaps.push(format!(
            "action {} ({}) is overdue since {}",
            a.id,
            a.term,
            a.due.format("%Y-%m-%d")
        ));
    }
    if r.incident.customer_facing && r.authored.customer_rca.is_none() {
        if let Some(resolved) = r.incident.resolved_at {
            let due = resolved + RCA_DUE_AFTER;
            if now > due {
                gaps.push(format!("customer-facing RCA overdue since {}", due.format("%Y-%m-%d")));
            } else {
                gaps.push(format!(
                    "customer-facing RCA not written yet (due {})",
                    due.format("%Y-%m-%d")
                ));
            }
        }
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_event_text_renders_as_text_not_markup() {
        let mut i = crate::incident::checkout(crate::severity::Severity::Sev3, false);
        i.title = "checkout: <img src=x onerror=alert(1)>".into();
        i.first_signal = "alarm in ALARM: a | b — **[click](javascript:x)**".into();
        let mut r = Record::of(i);
        r.timeline
            .push(Entry::system("ingest", EntryKind::Signal, "k", "evil\n## injected heading | cell").at(Utc::now()));
        let md = render(&r);
        assert!(
            md.contains("# COE: checkout: &lt;img src=x onerror=alert(1)&gt;"),
            "{md}"
        );
        assert!(md.contains("a \\| b — \\*\\*\\[click\\](javascript:x)\\*\\*"), "{md}");
        assert!(md.contains("evil \\#\\# injected heading \\| cell |"), "{md}");
        assert!(!md.contains("<img") && !md.contains("\n## injected"));
    }

    #[test]
    fn an_overridden_checklist_is_said_in_the_coe_and_no_alarm_at_all_is_called_out() {
        use crate::resolution::{Attested, Override};
        let mut i = crate::incident::checkout(crate::severity::Severity::Sev1, true);
        i.customer_detected = true;
        i.resolution_override = Some(Override {
            reason: Attested {
                text: "customers first".into(),
                by: "hana".into(),
                at: Utc::now(),
            },
            missing: vec!["final evidence capture has not run".into()],
            by_arn: "arn:aws:iam::1:user/hana".into(),
        });
        let md = render(&Record::of(i));
        assert!(
            md.contains("**Closed with the checklist overridden** by hana: customers first (skipped: final evidence capture has not run)"),
            "{md}"
        );
        assert!(md.contains("none of our alarms or canaries fired at all"), "{md}");
    }

    #[test]
    fn dependency_answers_accumulate_and_blank_ones_keep_what_was_said() {
        let mut a = Authored::default();
        a.answer_dependency("dynamodb", [Some("yes".into()), None, None, None]);
        a.answer_dependency(
            "dynamodb",
            [Some(" ".into()), Some("no: no backoff".into()), None, None],
        );
        assert_eq!(a.dependencies.len(), 1);
        let d = &a.dependencies[0];
        assert_eq!(d.performed_as_promised.as_deref(), Some("yes"));
        assert_eq!(d.our_use_was_right.as_deref(), Some("no: no backoff"));
        assert_eq!(d.failure_was_foreseeable, None);
    }
}
