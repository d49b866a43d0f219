//! The weekly operational review, as data: what a week's incidents, COEs, action items and pages
//! say, and what recurs across them, computed from the incidents' records. Rendered as Markdown
//! ([`markdown`]) and as a self-contained HTML page with inline SVG charts ([`html`]).

pub mod html;
pub mod markdown;
pub mod metrics;

use crate::actions::Term;
use crate::catalog::Catalog;
use crate::category::Category;
use crate::coe::Record;
use crate::incident::{Incident, Status};
use crate::signal::SignalSource;
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Weeks of history each time figure's trend shows, this week included.
pub const TREND_WEEKS: i64 = 12;
/// An alarm or a service seen again this soon after an earlier incident is a repeat.
pub const REPEAT_DAYS: i64 = 30;
/// How far before its week the review reads incidents: the trend, repeats, and earlier COEs whose
/// factors may recur.
pub const LOOKBACK_DAYS: i64 = crate::catalog::ReviewSettings::LOOKBACK_DAYS;

/// An ISO week, `2026-W48`: Monday 00:00 UTC to the next Monday.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Week {
    pub year: i32,
    pub week: u32,
}

impl Week {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("'{}' is not an ISO week like 2026-W48", crate::text::line(text, 20));
        let (year, week) = text.trim().split_once("-W").ok_or_else(bad)?;
        let (year, week) = (year.parse().map_err(|_| bad())?, week.parse().map_err(|_| bad())?);
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?;
        Ok(Self { year, week })
    }

    /// The week `at` falls in.
    pub fn of(at: DateTime<Utc>) -> Self {
        let iso = at.iso_week();
        Self {
            year: iso.year(),
            week: iso.week(),
        }
    }

    /// The last whole week before `now`: what a Monday-morning review looks back on.
    pub fn last_before(now: DateTime<Utc>) -> Self {
        Self::of(now).previous()
    }

    pub fn start(self) -> DateTime<Utc> {
        let monday = NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon).unwrap_or_default();
        Utc.from_utc_datetime(&monday.and_time(chrono::NaiveTime::MIN))
    }

    pub fn end(self) -> DateTime<Utc> {
        self.start() + TimeDelta::days(7)
    }

    pub fn previous(self) -> Self {
        Self::of(self.start() - TimeDelta::days(1))
    }

    pub fn contains(self, at: DateTime<Utc>) -> bool {
        self.start() <= at && at < self.end()
    }

    /// The days (`YYYY-MM-DD`) whose incidents a review of this week reads.
    pub fn days_to_read(self) -> Vec<String> {
        let start = self.start() - TimeDelta::days(LOOKBACK_DAYS);
        (0..LOOKBACK_DAYS + 7)
            .map(|d| (start + TimeDelta::days(d)).format("%Y-%m-%d").to_string())
            .collect()
    }
}

impl fmt::Display for Week {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

/// Where a review's documents are kept in the postmortem bucket.
pub fn report_key(week: Week, extension: &str) -> String {
    format!("reviews/{week}/review.{extension}")
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub week: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    /// The week's incidents (by detection), exercises included; merged ones are left out.
    pub incidents: Vec<Listed>,
    /// Real incidents (not exercises) by severity, service and owning team.
    pub by_severity: BTreeMap<String, usize>,
    pub by_service: BTreeMap<String, usize>,
    pub by_team: BTreeMap<String, usize>,
    pub exercises: usize,
    pub times: Vec<Figure>,
    pub detection: Detection,
    pub coes: Vec<CoeLine>,
    pub actions: ActionFigures,
    pub oncall: Vec<crate::oncall::Load>,
    pub repeats: Vec<Repeat>,
    pub recurring: Vec<Recurring>,
    /// Learnings whose factor recurred after their last step: the next step is proposed.
    pub proposals: Vec<Proposal>,
    /// Incidents whose records could not be read, with why: the figures leave them out.
    pub unreadable: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Listed {
    pub id: String,
    pub title: String,
    pub severity: Option<String>,
    pub services: Vec<String>,
    pub team: Option<String>,
    pub status: String,
    pub exercise: bool,
    pub customer_detected: bool,
}

/// One time figure of the week's real incidents, with its weekly trend.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figure {
    pub name: String,
    /// From what to what it is measured.
    pub measured: String,
    pub count: usize,
    pub p50_secs: Option<i64>,
    pub p90_secs: Option<i64>,
    /// The p50 of each of the last [`TREND_WEEKS`] weeks, oldest first.
    pub trend: Vec<Point>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    pub week: String,
    pub p50_secs: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Detection {
    /// Real incidents of the week.
    pub incidents: usize,
    /// Those customers told us of before our monitoring did.
    pub customer_first: Vec<CustomerFirst>,
    /// Those no alarm or canary of ours ever saw, each with a proposed detection action item.
    pub no_alarm: Vec<NoAlarm>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomerFirst {
    pub incident: String,
    /// How long customers were ahead of our monitoring; `None`: it never saw it.
    pub lead_secs: Option<i64>,
}

impl CustomerFirst {
    /// `customers were 12m ahead of our monitoring`, or `our monitoring never saw it`.
    pub fn lead(&self) -> String {
        match self.lead_secs {
            Some(s) => format!("customers were {} ahead of our monitoring", duration(s)),
            None => "our monitoring never saw it".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NoAlarm {
    pub incident: String,
    pub owner: Option<String>,
    pub proposed: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CoeState {
    /// Due later; still has gaps.
    Due,
    /// Past its due date and not complete.
    Late,
}

impl CoeState {
    pub fn label(self) -> &'static str {
        match self {
            CoeState::Late => "LATE",
            CoeState::Due => "due",
        }
    }
}

/// A COE not complete yet, with what `coe check` finds missing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoeLine {
    pub owner: String,
    pub incident: String,
    pub state: CoeState,
    pub due: DateTime<Utc>,
    pub gaps: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionFigures {
    /// Open items past their due date at the week's end, by owning team.
    pub overdue: Vec<ActionLine>,
    /// Items closed during the week, with their validation.
    pub closed: Vec<ClosedLine>,
    /// Of the items due by the week's end, how many were closed, per term.
    pub closure: Vec<Closure>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionLine {
    pub team: String,
    pub id: String,
    pub term: Term,
    pub due: DateTime<Utc>,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClosedLine {
    pub id: String,
    pub team: String,
    pub term: Term,
    pub text: String,
    pub evidence: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Closure {
    pub term: Term,
    pub due: usize,
    pub closed: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RepeatKind {
    /// A factor of the same category, on a shared service, whose earlier action item was closed:
    /// the fix did not prevent it.
    FixDidNotPrevent,
    /// A factor of the same category, on a shared service, whose earlier action item is still open.
    FixStillOpen,
    /// The same alarm fired within [`REPEAT_DAYS`] of an earlier incident.
    SameAlarm,
    /// The same service had an incident within [`REPEAT_DAYS`].
    SameService,
}

impl RepeatKind {
    /// How the review says it: `the fix did not prevent it`, `same alarm within 30 days`.
    pub fn describe(self) -> String {
        match self {
            RepeatKind::FixDidNotPrevent => "the fix did not prevent it".into(),
            RepeatKind::FixStillOpen => "its fix is still open".into(),
            RepeatKind::SameAlarm => format!("same alarm within {REPEAT_DAYS} days"),
            RepeatKind::SameService => format!("same service within {REPEAT_DAYS} days"),
        }
    }

    /// A repeat that an earlier COE's action item was meant to prevent: said loudest.
    pub fn is_fix(self) -> bool {
        matches!(self, RepeatKind::FixDidNotPrevent | RepeatKind::FixStillOpen)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Repeat {
    pub kind: RepeatKind,
    pub incident: String,
    pub earlier: String,
    /// What repeated, in a line.
    pub what: String,
}

/// A learning to take a level further: its factor recurred after its last step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Proposal {
    pub learning: String,
    pub category: Category,
    pub text: String,
    pub level: crate::learning::Level,
    pub next: crate::learning::Level,
    pub since: DateTime<Utc>,
    pub recurred_in: Vec<String>,
}

/// A factor category seen in several incidents, or across teams, within the recurrence window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recurring {
    pub category: Category,
    pub incidents: Vec<String>,
    pub teams: Vec<String>,
}

/// The figures of the week `week` from `records` (the incidents detected in the days
/// [`Week::days_to_read`] names), as of `now`. An incident merged into another, or linked into a
/// multi-service event, counts as part of that one; a linked incident's own COE, action items,
/// factors and pages still count.
pub fn compute(records: &[Record], catalog: &Catalog, week: Week, now: DateTime<Utc>) -> Report {
    let mut all: Vec<&Record> = records.iter().filter(|r| !r.incident.exercise).collect();
    all.sort_by(|a, b| (a.incident.detected_at, &a.incident.id).cmp(&(b.incident.detected_at, &b.incident.id)));
    let all = dedup_by_id(all);
    let mut records: Vec<&Record> = records
        .iter()
        .filter(|r| r.incident.status != Status::Merged && r.incident.parent.is_none())
        .collect();
    records.sort_by(|a, b| (a.incident.detected_at, &a.incident.id).cmp(&(b.incident.detected_at, &b.incident.id)));
    let records = dedup_by_id(records);
    let this_week: Vec<&Record> = records
        .iter()
        .copied()
        .filter(|r| week.contains(r.incident.detected_at))
        .collect();
    let real: Vec<&Record> = this_week.iter().copied().filter(|r| !r.incident.exercise).collect();
    let mut by_severity = BTreeMap::new();
    let mut by_service = BTreeMap::new();
    let mut by_team = BTreeMap::new();
    for r in &real {
        let i = &r.incident;
        *by_severity
            .entry(i.severity.map(|s| s.to_string()).unwrap_or_else(|| "untriaged".into()))
            .or_insert(0) += 1;
        for s in &i.services {
            *by_service.entry(s.clone()).or_insert(0) += 1;
        }
        *by_team.entry(team_of(i)).or_insert(0) += 1;
    }
    // Real incidents, those linked into a multi-service event included (not merged ones).
    let linked: Vec<&Record> = all
        .iter()
        .copied()
        .filter(|r| r.incident.status != Status::Merged)
        .collect();
    let week_incidents: Vec<Incident> = linked
        .iter()
        .filter(|r| week.contains(r.incident.detected_at))
        .map(|r| r.incident.clone())
        .collect();
    Report {
        week: week.to_string(),
        from: week.start(),
        to: week.end(),
        generated_at: now,
        incidents: this_week.iter().map(|r| listed(&r.incident)).collect(),
        by_severity,
        by_service,
        by_team,
        exercises: this_week.len() - real.len(),
        times: times(&records, week),
        detection: detection(&real),
        coes: coes(&all, week, now),
        actions: actions(&all, catalog, week),
        oncall: crate::oncall::load(catalog, &week_incidents, week.start()),
        repeats: repeats(&records, &real),
        recurring: recurring(&linked, catalog, week),
        proposals: proposals(&linked, catalog, week),
        unreadable: Vec::new(),
    }
}

fn dedup_by_id(records: Vec<&Record>) -> Vec<&Record> {
    let mut seen = BTreeSet::new();
    records
        .into_iter()
        .filter(|r| seen.insert(r.incident.id.as_str().to_string()))
        .collect()
}

fn team_of(i: &Incident) -> String {
    i.owner.clone().unwrap_or_else(|| "unowned".into())
}

fn listed(i: &Incident) -> Listed {
    Listed {
        id: i.id.to_string(),
        title: i.title.clone(),
        severity: i.severity.map(|s| s.to_string()),
        services: i.services.clone(),
        team: i.owner.clone(),
        status: i.status.to_string(),
        exercise: i.exercise,
        customer_detected: i.customer_detected,
    }
}

/// The nearest-rank percentile `p` (0–100) of `values`.
pub fn percentile(values: &[i64], p: u32) -> Option<i64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted.get(rank - 1).copied()
}

type Measure = fn(&Incident) -> Option<i64>;

/// The time figures: each from detection (detect: from impact start), as the functions' metrics.
const FIGURES: [(&str, &str, Measure); 5] = [
    ("detect", "impact start to detection", |i| Some(i.time_to_detect_secs())),
    ("engage", "detection to the first page", |i| i.time_to_engage_secs()),
    ("acknowledge", "detection to acknowledgement", |i| {
        i.time_to_acknowledge_secs()
    }),
    ("mitigate", "detection to mitigation", |i| i.time_to_mitigate_secs()),
    ("resolve", "detection to resolution", |i| {
        i.resolved_at.map(|t| (t - i.detected_at).num_seconds())
    }),
];

fn times(records: &[&Record], week: Week) -> Vec<Figure> {
    let real_of = |w: Week| -> Vec<&Incident> {
        records
            .iter()
            .map(|r| &r.incident)
            .filter(|i| !i.exercise && w.contains(i.detected_at))
            .collect()
    };
    let mut weeks = vec![week];
    for _ in 1..TREND_WEEKS {
        let earliest = *weeks.last().unwrap_or(&week);
        weeks.push(earliest.previous());
    }
    weeks.reverse();
    FIGURES
        .iter()
        .map(|(name, measured, measure)| {
            let values =
                |w: Week| -> Vec<i64> { real_of(w).into_iter().filter_map(measure).map(|s| s.max(0)).collect() };
            let now = values(week);
            Figure {
                name: name.to_string(),
                measured: measured.to_string(),
                count: now.len(),
                p50_secs: percentile(&now, 50),
                p90_secs: percentile(&now, 90),
                trend: weeks
                    .iter()
                    .map(|w| Point {
                        week: w.to_string(),
                        p50_secs: percentile(&values(*w), 50),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn detection(real: &[&Record]) -> Detection {
    let customer_first = real
        .iter()
        .filter(|r| r.incident.customer_detected)
        .map(|r| {
            let (reported, seen) = crate::coe::detection_lead(r);
            CustomerFirst {
                incident: r.incident.id.to_string(),
                lead_secs: seen.map(|s| (s - reported).num_seconds().max(0)),
            }
        })
        .collect();
    let no_alarm = real
        .iter()
        .filter(|r| crate::coe::detection_lead(r).1.is_none())
        .map(|r| {
            let i = &r.incident;
            let what = match i.customer_detected {
                true => "what customers saw",
                false => "what opened it",
            };
            NoAlarm {
                incident: i.id.to_string(),
                owner: i.owner.clone(),
                proposed: format!(
                    "Add an alarm on {} that fires for {what}: {}",
                    i.services.join(", "),
                    crate::text::line(&i.first_signal, 120)
                ),
            }
        })
        .collect();
    Detection {
        incidents: real.len(),
        customer_first,
        no_alarm,
    }
}

fn coes(records: &[&Record], week: Week, now: DateTime<Utc>) -> Vec<CoeLine> {
    let mut out: Vec<CoeLine> = records
        .iter()
        .filter(|r| r.incident.detected_at < week.end())
        .filter_map(|r| {
            let pm = r.incident.postmortem.as_ref()?;
            if pm.completed.is_some() {
                return None;
            }
            Some(CoeLine {
                owner: team_of(&r.incident),
                incident: r.incident.id.to_string(),
                state: if pm.due < now { CoeState::Late } else { CoeState::Due },
                due: pm.due,
                gaps: crate::coe::gaps(r, now),
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.owner, a.state, a.due).cmp(&(&b.owner, b.state, b.due)));
    out
}

fn actions(records: &[&Record], catalog: &Catalog, week: Week) -> ActionFigures {
    let end = week.end();
    // The incidents' items, and the central changes of learnings.
    let items = || {
        records
            .iter()
            .flat_map(|r| r.actions.iter())
            .chain(catalog.learnings.iter().filter_map(|l| l.action()))
    };
    let mut overdue: Vec<ActionLine> = items()
        .filter(|a| a.done.is_none() && a.due < end)
        .map(|a| ActionLine {
            team: a.owner.clone(),
            id: a.id.clone(),
            term: a.term,
            due: a.due,
            text: a.text.clone(),
        })
        .collect();
    overdue.sort_by(|a, b| (&a.team, a.due, &a.id).cmp(&(&b.team, b.due, &b.id)));
    let closed = items()
        .filter_map(|a| {
            let done = a.done.as_ref().filter(|d| week.contains(d.at))?;
            Some(ClosedLine {
                id: a.id.clone(),
                team: a.owner.clone(),
                term: a.term,
                text: a.text.clone(),
                evidence: done.evidence.clone(),
                by: done.by.clone(),
                at: done.at,
            })
        })
        .collect();
    let closure = [Term::Short, Term::Mid, Term::Long]
        .into_iter()
        .map(|term| {
            let due: Vec<_> = items().filter(|a| a.term == term && a.due < end).collect();
            Closure {
                term,
                due: due.len(),
                closed: due
                    .iter()
                    .filter(|a| a.done.as_ref().is_some_and(|d| d.at < end))
                    .count(),
            }
        })
        .collect();
    ActionFigures {
        overdue,
        closed,
        closure,
    }
}

fn alarms(r: &Record) -> BTreeSet<&str> {
    r.signals
        .iter()
        .filter(|s| s.source == SignalSource::Alarm)
        .map(|s| s.resource.as_str())
        .collect()
}

/// The categories of a record's factors, with the node ids of each.
fn factors(r: &Record) -> BTreeMap<Category, Vec<&str>> {
    let mut out: BTreeMap<Category, Vec<&str>> = BTreeMap::new();
    for n in &r.whys.nodes {
        if let Some(c) = n.category {
            out.entry(c).or_default().push(n.id.as_str());
        }
    }
    out
}

fn repeats(records: &[&Record], real: &[&Record]) -> Vec<Repeat> {
    let mut out = Vec::new();
    for r in real {
        let i = &r.incident;
        // Latest first, so that a repeat names the last time it happened.
        let earlier: Vec<&Record> = records
            .iter()
            .rev()
            .copied()
            .filter(|e| !e.incident.exercise && e.incident.detected_at < i.detected_at && e.incident.id != i.id)
            .collect();
        let shares_service = |e: &Record| i.services.iter().any(|s| e.incident.services.contains(s));
        let mine = factors(r);
        for e in earlier.iter().filter(|e| shares_service(e)) {
            let earlier_factors = factors(e);
            for (category, nodes) in &mine {
                let Some(theirs) = earlier_factors.get(category) else {
                    continue;
                };
                let fixes = e
                    .actions
                    .iter()
                    .filter(|a| a.why.as_deref().is_some_and(|w| theirs.contains(&w)));
                for fix in fixes {
                    let (kind, how) = match &fix.done {
                        Some(d) if d.at <= i.detected_at => (
                            RepeatKind::FixDidNotPrevent,
                            format!(
                                "closed {} ({})",
                                d.at.format("%Y-%m-%d"),
                                crate::text::line(&d.evidence, 80)
                            ),
                        ),
                        Some(d) => (
                            RepeatKind::FixStillOpen,
                            format!("was still open then (closed {})", d.at.format("%Y-%m-%d")),
                        ),
                        None => (RepeatKind::FixStillOpen, "is still open".to_string()),
                    };
                    out.push(Repeat {
                        kind,
                        incident: i.id.to_string(),
                        earlier: e.incident.id.to_string(),
                        what: format!(
                            "{category} factor ({}) again; {}'s action item {} \"{}\" {how}",
                            nodes.join(", "),
                            e.incident.id,
                            fix.id,
                            crate::text::line(&fix.text, 80)
                        ),
                    });
                }
            }
        }
        let recent: Vec<&Record> = earlier
            .iter()
            .copied()
            .filter(|e| i.detected_at - e.incident.detected_at <= TimeDelta::days(REPEAT_DAYS))
            .collect();
        let mine = alarms(r);
        let same_alarm: Vec<&Record> = recent
            .iter()
            .copied()
            .filter(|e| alarms(e).intersection(&mine).next().is_some())
            .collect();
        let same_service: Vec<&Record> = recent.iter().copied().filter(|e| shares_service(e)).collect();
        let (kind, matching, what) = match (same_alarm.first(), same_service.first()) {
            (Some(last), _) => {
                let names: Vec<&str> = alarms(last).intersection(&mine).copied().collect();
                (
                    RepeatKind::SameAlarm,
                    same_alarm.len(),
                    format!("alarm {}", names.join(", ")),
                )
            }
            (None, Some(last)) => {
                let names: Vec<&str> = i
                    .services
                    .iter()
                    .filter(|s| last.incident.services.contains(s))
                    .map(String::as_str)
                    .collect();
                (RepeatKind::SameService, same_service.len(), names.join(", "))
            }
            (None, None) => continue,
        };
        let last = same_alarm
            .first()
            .or(same_service.first())
            .map(|e| e.incident.id.to_string());
        let plural = if matching == 1 { "" } else { "s" };
        out.push(Repeat {
            kind,
            incident: i.id.to_string(),
            earlier: last.unwrap_or_default(),
            what: format!("{what} again ({matching} earlier incident{plural} in {REPEAT_DAYS} days)"),
        });
    }
    out.sort_by(|a, b| (a.kind, &a.incident, &a.earlier).cmp(&(b.kind, &b.incident, &b.earlier)));
    out
}

fn recurring(records: &[&Record], catalog: &Catalog, week: Week) -> Vec<Recurring> {
    let settings = &catalog.settings.review;
    let from = week.end() - TimeDelta::days(i64::from(settings.recurrence_days));
    let mut by_category: BTreeMap<Category, (Vec<String>, BTreeSet<String>)> = BTreeMap::new();
    for r in records
        .iter()
        .filter(|r| !r.incident.exercise && r.incident.detected_at >= from && r.incident.detected_at < week.end())
    {
        for category in factors(r).into_keys() {
            let (incidents, teams) = by_category.entry(category).or_default();
            incidents.push(r.incident.id.to_string());
            if let Some(team) = &r.incident.owner {
                teams.insert(team.clone());
            }
        }
    }
    by_category
        .into_iter()
        .filter(|(_, (incidents, teams))| incidents.len() >= settings.recurrence_incidents || teams.len() >= 2)
        .map(|(category, (incidents, teams))| Recurring {
            category,
            incidents,
            teams: teams.into_iter().collect(),
        })
        .collect()
}

/// `5 incidents, 1 exercise`.
pub fn headline(r: &Report) -> String {
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        count(r.incidents.len() - r.exercises, "incident"),
        count(r.exercises, "exercise")
    )
}

fn proposals(records: &[&Record], catalog: &Catalog, week: Week) -> Vec<Proposal> {
    catalog
        .learnings
        .iter()
        .filter_map(|l| {
            let next = l.level().next()?;
            let since = l.since()?;
            let recurred_in: Vec<String> = records
                .iter()
                .filter(|r| {
                    let i = &r.incident;
                    !i.exercise
                        && i.detected_at > since
                        && i.detected_at < week.end()
                        && !l.incidents.contains(&i.id)
                        && factors(r).contains_key(&l.category)
                })
                .map(|r| r.incident.id.to_string())
                .collect();
            (!recurred_in.is_empty()).then(|| Proposal {
                learning: l.id.clone(),
                category: l.category,
                text: l.text.clone(),
                level: l.level(),
                next,
                since,
                recurred_in,
            })
        })
        .collect()
}

/// A duration for people: `45s`, `12m`, `3h 05m`, `2d 4h`.
pub fn duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_parse_print_and_span_monday_to_monday() {
        let w = Week::parse("2026-W48").unwrap();
        assert_eq!(w.to_string(), "2026-W48");
        assert_eq!(w.start().to_rfc3339(), "2026-11-23T00:00:00+00:00");
        assert_eq!(w.previous().to_string(), "2026-W47");
        assert_eq!(Week::parse("2027-W01").unwrap().previous().to_string(), "2026-W53");
        assert!(Week::parse("2026-W54").is_err() && Week::parse("48").is_err());
        let sunday_night = "2026-11-29T23:59:59Z".parse().unwrap();
        assert_eq!(Week::of(sunday_night), w);
        assert_eq!(Week::last_before("2026-11-30T06:00:00Z".parse().unwrap()), w);
    }

    #[test]
    fn percentiles_are_nearest_rank_and_durations_read_well() {
        let v = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!((percentile(&v, 50), percentile(&v, 90)), (Some(50), Some(90)));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(
            [duration(45), duration(720), duration(11_100), duration(187_200)],
            ["45s", "12m", "3h 05m", "2d 4h"]
        );
    }
}
