//! On call as the catalog writes it: people and their contacts, rotations per team (follow the sun
//! with several rotations of one layer), overrides, and escalation plans; and the schedule
//! arithmetic of who is on call when. Shifts are counted in each rotation's own time zone, so a
//! 09:00 hand-off stays at 09:00 across daylight-saving changes.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A person who can be paged: how to reach them, and who they are to AWS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164 (`+15555550100`): pages go to it by SMS, and SMS replies from it acknowledge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<String>,
    /// E.164, for the record (no voice calls are placed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    /// A chat handle (`@ana`), named in chat messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<String>,
    /// IANA name (`Europe/Lisbon`): for off-hours figures and how times are shown to them.
    pub time_zone: String,
    /// The IAM identity they act as (an IAM user name, `Role/session` or an ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam: Option<String>,
}

impl Person {
    /// The name they act under, as a request signed by their IAM identity would be named
    /// ([`crate::record::Caller::from_arn`]'s name for an ARN), so that approvers and owners apply
    /// alike whether they sign in to the console, reply to a page or use the CLI.
    pub fn acts_as(&self) -> String {
        match self.iam.as_deref() {
            Some(arn) if arn.starts_with("arn:") => crate::record::Caller::from_arn(arn).name,
            Some(name) => name.to_string(),
            None => self.name.clone(),
        }
    }
}

/// Hours of the day a rotation covers, `HH:MM` in its time zone (`to` before `from` runs past
/// midnight; equal: the whole day).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    pub from: String,
    pub to: String,
}

fn week() -> u32 {
    168
}

/// Members take turns, `shift_hours` each, the first from `start` at `handoff`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    pub name: String,
    /// The layer it serves (`primary`, `secondary` …; default its name). Several rotations of one
    /// layer, each with its `hours`, follow the sun.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    pub members: Vec<String>,
    /// Hours per shift (default 168: a week), counted on the local clock.
    #[serde(default = "week")]
    pub shift_hours: u32,
    /// `HH:MM` in `time_zone`.
    pub handoff: String,
    pub time_zone: String,
    /// The day the first member's first shift begins.
    pub start: NaiveDate,
    /// Only these hours of each day (follow the sun); absent: all day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<Hours>,
}

impl Rotation {
    pub fn layer(&self) -> &str {
        self.layer.as_deref().unwrap_or(&self.name)
    }
}

/// One stage of a team's escalation plan: whom it pages (layers of the team's rotations, people by
/// name, or `team` for the team's own topic) and how long it waits for an acknowledgement before
/// the next stage (default, and at most: the severity's acknowledgement time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub page: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_minutes: Option<u32>,
}

/// Someone else takes a layer's shift for a while: in the catalog file (a reviewed commit) or
/// through the command API (`incidentctl oncall override`, which records who added it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub team: String,
    /// Default: the team's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    pub user: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Set by the command API: `ovr-` and 12 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Who added it through the command API (the verified caller), and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_at: Option<DateTime<Utc>>,
    /// Who ended it early through the command API (its `to` is then when).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted_by: Option<String>,
}

/// Who holds a layer at an instant, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OnCall {
    pub person: String,
    pub layer: String,
    /// The rotation, or `override`.
    pub via: String,
}

pub(crate) fn parse_time_zone(name: &str) -> Option<Tz> {
    name.parse().ok()
}

pub(crate) fn parse_hhmm(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M").ok()
}

/// The instant a wall-clock time names in `tz`: the earlier of an ambiguous hour (clocks going
/// back), and for a time the clocks skip (going forward) the same time an hour on.
pub fn local_instant(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    let mut candidate = naive;
    for _ in 0..4 {
        if let Some(t) = tz.from_local_datetime(&candidate).earliest() {
            return t.with_timezone(&Utc);
        }
        candidate += TimeDelta::hours(1);
    }
    Utc.from_utc_datetime(&naive)
}

/// A rotation with its text fields parsed; `None` when the catalog's validation would refuse it.
struct Schedule<'a> {
    rotation: &'a Rotation,
    tz: Tz,
    origin: NaiveDateTime,
    hours: Option<(NaiveTime, NaiveTime)>,
}

impl<'a> Schedule<'a> {
    fn of(rotation: &'a Rotation) -> Option<Self> {
        let hours = match &rotation.hours {
            Some(h) => Some((parse_hhmm(&h.from)?, parse_hhmm(&h.to)?)),
            None => None,
        };
        (rotation.shift_hours > 0 && !rotation.members.is_empty()).then_some(())?;
        Some(Self {
            rotation,
            tz: parse_time_zone(&rotation.time_zone)?,
            origin: rotation.start.and_time(parse_hhmm(&rotation.handoff)?),
            hours,
        })
    }

    fn shift_length(&self) -> TimeDelta {
        TimeDelta::hours(i64::from(self.rotation.shift_hours))
    }

    /// Where shift `k` begins.
    fn boundary(&self, k: i64) -> DateTime<Utc> {
        local_instant(self.tz, self.origin + self.shift_length() * k as i32)
    }

    /// The shift `at` falls in: counted on the local clock, then checked against the instants.
    fn shift(&self, at: DateTime<Utc>) -> i64 {
        let local = at.with_timezone(&self.tz).naive_local();
        let mut k = (local - self.origin)
            .num_minutes()
            .div_euclid(self.shift_length().num_minutes());
        while self.boundary(k) > at {
            k -= 1;
        }
        while self.boundary(k + 1) <= at {
            k += 1;
        }
        k
    }

    fn member(&self, at: DateTime<Utc>) -> &'a str {
        let members = &self.rotation.members;
        &members[self.shift(at).rem_euclid(members.len() as i64) as usize]
    }

    fn covers(&self, at: DateTime<Utc>) -> bool {
        let Some((from, to)) = self.hours else {
            return true;
        };
        let t = at.with_timezone(&self.tz).time();
        match from.cmp(&to) {
            std::cmp::Ordering::Less => from <= t && t < to,
            std::cmp::Ordering::Greater => t >= from || t < to,
            std::cmp::Ordering::Equal => true,
        }
    }

    /// The instants after `at` (within a few days) where who this rotation puts on call may change.
    fn changes_after(&self, at: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = vec![self.boundary(self.shift(at) + 1)];
        if let Some((from, to)) = self.hours {
            let today = at.with_timezone(&self.tz).date_naive();
            for day in 0..3 {
                let date = today + TimeDelta::days(day);
                for t in [from, to] {
                    out.push(local_instant(self.tz, date.and_time(t)));
                }
            }
        }
        out.retain(|c| *c > at);
        out
    }
}

/// The layers of a team's rotations, in the order they first appear.
pub fn layers(rotations: &[Rotation]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for r in rotations {
        if !out.contains(&r.layer()) {
            out.push(r.layer());
        }
    }
    out
}

/// The schedule of one team: its rotations and the overrides that apply to it.
pub struct TeamSchedule<'a> {
    pub team: &'a str,
    pub rotations: &'a [Rotation],
    pub overrides: Vec<&'a Override>,
}

impl<'a> TeamSchedule<'a> {
    /// The layer an override without one applies to.
    pub fn default_layer(&self) -> Option<&'a str> {
        self.rotations.first().map(Rotation::layer)
    }

    fn override_layer(&self, o: &'a Override) -> Option<&'a str> {
        o.layer.as_deref().or(self.default_layer())
    }

    /// Who holds `layer` at `at`: an override that covers it (of several, the one added through
    /// the command API last, then the file's that starts last: never an accident of order), else
    /// the first of the layer's rotations whose hours cover it.
    pub fn on_call(&self, layer: &str, at: DateTime<Utc>) -> Option<OnCall> {
        let held = self
            .overrides
            .iter()
            .filter(|o| self.override_layer(o) == Some(layer) && o.from <= at && at < o.to)
            .max_by_key(|o| (o.added_at, o.from));
        if let Some(o) = held {
            return Some(OnCall {
                person: o.user.clone(),
                layer: layer.to_string(),
                via: "override".into(),
            });
        }
        self.rotations
            .iter()
            .filter(|r| r.layer() == layer)
            .filter_map(Schedule::of)
            .find(|s| s.covers(at))
            .map(|s| OnCall {
                person: s.member(at).to_string(),
                layer: layer.to_string(),
                via: s.rotation.name.clone(),
            })
    }

    /// When `layer` next changes hands after `at`, and to whom (nobody: a gap), looking up to
    /// `horizon` ahead.
    pub fn next_change(
        &self,
        layer: &str,
        at: DateTime<Utc>,
        horizon: TimeDelta,
    ) -> Option<(DateTime<Utc>, Option<OnCall>)> {
        let now = self.on_call(layer, at).map(|o| o.person);
        let end = at + horizon;
        let mut t = at;
        while t < end {
            let mut candidates: Vec<DateTime<Utc>> = self
                .rotations
                .iter()
                .filter(|r| r.layer() == layer)
                .filter_map(Schedule::of)
                .flat_map(|s| s.changes_after(t))
                .collect();
            for o in self.overrides.iter().filter(|o| self.override_layer(o) == Some(layer)) {
                candidates.extend([o.from, o.to].into_iter().filter(|c| *c > t));
            }
            t = candidates.into_iter().min()?;
            let then = self.on_call(layer, t);
            if then.as_ref().map(|o| &o.person) != now.as_ref() {
                return (t < end).then_some((t, then));
            }
        }
        None
    }

    /// The first instant within a year from `from` at which nobody holds `layer` (overrides
    /// aside): coverage can only end where some rotation's hours end.
    pub fn first_gap(&self, layer: &str, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let schedules: Vec<Schedule> = self
            .rotations
            .iter()
            .filter(|r| r.layer() == layer)
            .filter_map(Schedule::of)
            .collect();
        let covered = |t: DateTime<Utc>| schedules.iter().any(|s| s.covers(t));
        if schedules.is_empty() {
            return Some(from);
        }
        let mut edges: Vec<DateTime<Utc>> = Vec::new();
        for s in &schedules {
            if let Some((_, to)) = s.hours {
                let first = from.with_timezone(&s.tz).date_naive();
                edges.extend((0..=366).map(|d| local_instant(s.tz, (first + TimeDelta::days(d)).and_time(to))));
            }
        }
        edges.sort();
        if !covered(from) {
            return Some(from);
        }
        edges.into_iter().find(|t| *t >= from && !covered(*t))
    }
}

/// A stage entry that pages the team's own topic.
pub const TEAM: &str = "team";

/// The longest shift a rotation may have (four weeks).
const MAX_SHIFT_HOURS: u32 = 24 * 28;

fn is_e164(number: &str) -> bool {
    number
        .strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

impl crate::catalog::Catalog {
    /// What the catalog's on-call part gets wrong: unknown people, gaps in a layer's coverage,
    /// stages that name nobody, overrides of nobody.
    pub(crate) fn oncall_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.people {
            let who = format!("person '{}'", p.name);
            if !seen.insert(p.name.as_str()) {
                problems.push(format!("{who} is listed twice"));
            }
            if parse_time_zone(&p.time_zone).is_none() {
                problems.push(format!("{who}: time zone '{}' is not an IANA name", p.time_zone));
            }
            for (what, number) in [("sms", &p.sms), ("voice", &p.voice)] {
                if let Some(n) = number.as_deref().filter(|n| !is_e164(n)) {
                    problems.push(format!(
                        "{who}: {what} '{n}' is not an E.164 number (+ and 8–15 digits)"
                    ));
                }
            }
            if let Some(e) = p.email.as_deref().filter(|e| !e.contains('@')) {
                problems.push(format!("{who}: email '{e}' is not an address"));
            }
        }
        for t in &self.teams {
            problems.extend(self.team_problems(t));
            if let Some(c) = &t.chat {
                problems.extend(c.problems(&format!("team '{}'", t.name)));
            }
        }
        if let Some(c) = &self.settings.incident_channel {
            problems.extend(c.problems("settings.incident_channel"));
        }
        // The command API's overrides (with an id) were checked when they were added, and an
        // import leaves them as stored: only the file's are the file's problems.
        for o in self.overrides.iter().filter(|o| o.id.is_none()) {
            let what = format!("override of team '{}' by '{}'", o.team, o.user);
            match self.person(&o.user) {
                None => problems.push(format!("{what}: '{}' is not in people", o.user)),
                Some(p) if p.sms.is_none() => problems.push(format!("{what}: '{}' has no sms number", o.user)),
                Some(_) => {}
            }
            if o.by.is_some() || o.added_at.is_some() || o.lifted_by.is_some() {
                problems.push(format!("{what}: by, added_at and lifted_by are set by the command API"));
            }
            if o.from >= o.to {
                problems.push(format!("{what}: it ends before it starts"));
            }
            match self.team(&o.team) {
                None => problems.push(format!("{what}: team '{}' is not in teams", o.team)),
                Some(t) => {
                    let layers = layers(&t.rotations);
                    match o.layer.as_deref() {
                        _ if layers.is_empty() => problems.push(format!("{what}: the team has no rotations")),
                        Some(l) if !layers.contains(&l) => {
                            problems.push(format!("{what}: '{l}' is not a layer of its rotations"))
                        }
                        _ => {}
                    }
                }
            }
        }
        problems
    }

    fn team_problems(&self, t: &crate::catalog::Team) -> Vec<String> {
        let mut problems = Vec::new();
        let team = format!("team '{}'", t.name);
        let mut names = std::collections::BTreeSet::new();
        for r in &t.rotations {
            let at = format!("{team}: rotation '{}'", r.name);
            if !names.insert(r.name.as_str()) {
                problems.push(format!("{at} is listed twice"));
            }
            if r.members.is_empty() {
                problems.push(format!("{at} has no members"));
            }
            for m in &r.members {
                match self.person(m) {
                    None => problems.push(format!("{at}: '{m}' is not in people")),
                    Some(p) if p.sms.is_none() => problems.push(format!(
                        "{at}: '{m}' has no sms number: on call, they could not be paged"
                    )),
                    Some(_) => {}
                }
            }
            if parse_time_zone(&r.time_zone).is_none() {
                problems.push(format!("{at}: time zone '{}' is not an IANA name", r.time_zone));
            }
            if parse_hhmm(&r.handoff).is_none() {
                problems.push(format!("{at}: handoff '{}' is not HH:MM", r.handoff));
            }
            if !(1..=MAX_SHIFT_HOURS).contains(&r.shift_hours) {
                problems.push(format!(
                    "{at}: shift_hours {} is not 1–{MAX_SHIFT_HOURS}",
                    r.shift_hours
                ));
            }
            if let Some(h) = &r.hours {
                if parse_hhmm(&h.from).is_none() || parse_hhmm(&h.to).is_none() {
                    problems.push(format!("{at}: hours '{}'–'{}' are not HH:MM", h.from, h.to));
                }
            }
        }
        let layers = layers(&t.rotations);
        let valid = t.rotations.iter().all(|r| Schedule::of(r).is_some());
        if let (true, Some(schedule)) = (valid, self.schedule(&t.name)) {
            for layer in &layers {
                let start = t
                    .rotations
                    .iter()
                    .filter(|r| r.layer() == *layer)
                    .map(|r| r.start)
                    .max()
                    .unwrap_or_default();
                let from = Utc.from_utc_datetime(&start.and_time(NaiveTime::MIN));
                if let Some(gap) = schedule.first_gap(layer, from) {
                    problems.push(format!(
                        "{team}: layer '{layer}' has nobody on call at {} (the rotations' hours leave a gap)",
                        gap.format("%Y-%m-%d %H:%M UTC")
                    ));
                }
            }
        }
        for layer in layers.iter().filter(|l| self.person(l).is_some() || **l == TEAM) {
            problems.push(format!(
                "{team}: layer '{layer}' is also a person's name or `team`: rename it"
            ));
        }
        for (i, stage) in t.escalation.iter().enumerate() {
            let at = format!("{team}: escalation stage {}", i + 1);
            if stage.page.is_empty() {
                problems.push(format!("{at} pages nobody"));
            }
            if stage.wait_minutes == Some(0) {
                problems.push(format!("{at}: wait_minutes must be at least 1"));
            }
            for p in &stage.page {
                if p != TEAM && !layers.contains(&p.as_str()) {
                    match self.person(p) {
                        None => problems.push(format!(
                            "{at}: '{p}' is not a layer of its rotations, a person or `team`"
                        )),
                        Some(person) if person.sms.is_none() => {
                            problems.push(format!("{at}: '{p}' has no sms number: the stage could not page them"))
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        problems
    }
}

/// The longest override one request may add.
pub const MAX_OVERRIDE: TimeDelta = TimeDelta::days(31);

/// `POST /oncall/overrides`: add one, or lift one added before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OverrideCommand {
    Add(OverrideRequest),
    Lift { id: String },
}

/// `incidentctl oncall override`: someone takes a team's layer for a while.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    pub team: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    pub user: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Decides an override request against the catalog: the override to store, as the caller's.
pub fn decide_override(
    request: &OverrideRequest,
    catalog: &crate::catalog::Catalog,
    caller: &crate::record::Caller,
    now: DateTime<Utc>,
) -> Result<Override, crate::command::Refusal> {
    use crate::command::Refusal;
    use crate::text::line;
    let Some(team) = catalog.team(&request.team) else {
        let known: Vec<&str> = catalog.teams.iter().map(|t| t.name.as_str()).collect();
        return Err(Refusal::NotFound(format!(
            "no team '{}' in the catalog (teams: {})",
            line(&request.team, 64),
            known.join(", ")
        )));
    };
    let layers = layers(&team.rotations);
    let layer = match request.layer.as_deref() {
        None => match layers.first() {
            Some(l) => l.to_string(),
            None => {
                return Err(Refusal::Refused(format!(
                    "team {} has no rotations to override",
                    team.name
                )))
            }
        },
        Some(l) if layers.contains(&l) => l.to_string(),
        Some(l) => {
            return Err(Refusal::NotFound(format!(
                "team {} has no layer '{}' (layers: {})",
                team.name,
                line(l, 64),
                layers.join(", ")
            )))
        }
    };
    match catalog.person(&request.user) {
        None => {
            return Err(Refusal::NotFound(format!(
                "no person '{}' in the catalog's people",
                line(&request.user, 64)
            )))
        }
        Some(p) if p.sms.is_none() => {
            return Err(Refusal::Refused(format!(
                "{} has no sms number in the catalog: on call, they could not be paged",
                p.name
            )))
        }
        Some(_) => {}
    }
    if request.from >= request.to {
        return Err(Refusal::Invalid(
            "an override ends after it starts (--from before --to)".into(),
        ));
    }
    if request.to <= now {
        return Err(Refusal::Invalid("that override would be over already".into()));
    }
    if request.to - request.from > MAX_OVERRIDE {
        return Err(Refusal::Invalid(format!(
            "an override lasts at most {} days: change the rotation in the catalog instead",
            MAX_OVERRIDE.num_days()
        )));
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!(
        "{}\n{layer}\n{}\n{}\n{}\n{}",
        team.name,
        request.user,
        request.from.timestamp(),
        caller.arn,
        now.timestamp_micros()
    ));
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    Ok(Override {
        team: team.name.clone(),
        layer: Some(layer),
        user: request.user.clone(),
        from: request.from,
        to: request.to,
        id: Some(format!("ovr-{hex}")),
        by: Some(caller.name.clone()),
        added_at: Some(now),
        lifted_by: None,
    })
}

/// Decides ending an override added through the command API now (one not begun yet never
/// begins): the override to store back, as the caller's.
pub fn decide_lift(
    id: &str,
    catalog: &crate::catalog::Catalog,
    caller: &crate::record::Caller,
    now: DateTime<Utc>,
) -> Result<Override, crate::command::Refusal> {
    use crate::command::Refusal;
    let Some(o) = catalog.overrides.iter().find(|o| o.id.as_deref() == Some(id)) else {
        return Err(Refusal::NotFound(format!(
            "no override {} added through the command API (those of the catalog file change with it)",
            crate::text::line(id, 64)
        )));
    };
    if o.to <= now {
        return Err(Refusal::Refused(format!("{id} is over already")));
    }
    Ok(Override {
        to: now.max(o.from),
        lifted_by: Some(caller.name.clone()),
        ..o.clone()
    })
}

/// One line of `incidentctl oncall`: a team's layer, who holds it at the instant asked, and who
/// is next from when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RosterRow {
    pub team: String,
    pub layer: String,
    pub now: Option<OnCall>,
    pub next_at: Option<DateTime<Utc>>,
    pub next: Option<OnCall>,
}

/// Who is on call at `at` in every layer of `team` (or of every team with rotations), and next.
pub fn roster(catalog: &crate::catalog::Catalog, team: Option<&str>, at: DateTime<Utc>) -> Vec<RosterRow> {
    let mut rows = Vec::new();
    for t in catalog.teams.iter().filter(|t| team.is_none_or(|n| n == t.name)) {
        let Some(schedule) = catalog.schedule(&t.name) else {
            continue;
        };
        for layer in layers(&t.rotations) {
            let next = schedule.next_change(layer, at, TimeDelta::days(62));
            rows.push(RosterRow {
                team: t.name.clone(),
                layer: layer.to_string(),
                now: schedule.on_call(layer, at),
                next_at: next.as_ref().map(|(when, _)| *when),
                next: next.and_then(|(_, who)| who),
            });
        }
    }
    rows
}

/// What being on call cost one person over a window, from the pages incidents recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Load {
    pub person: String,
    /// Texts to them (every round counts).
    pub pages: usize,
    /// Pages outside 08:00–18:00 Monday to Friday, in their time zone.
    pub off_hours: usize,
    /// Pages between 22:00 and 07:00, in their time zone.
    pub sleep_hours: usize,
    /// The incidents they were paged for, and those they acknowledged.
    pub incidents: usize,
    pub acknowledged: usize,
    /// From their first page of an incident to their acknowledgement of it: median and longest.
    pub ack_median_secs: Option<i64>,
    pub ack_max_secs: Option<i64>,
}

/// Whether `person` is who acknowledged: their name or the IAM identity the catalog gives them.
fn acknowledged_by(catalog: &crate::catalog::Catalog, person: &str, by: &str) -> bool {
    let iam = catalog.person(person).and_then(|p| p.iam.as_deref());
    by == person
        || iam.is_some_and(|i| i == by || (i.starts_with("arn:") && crate::record::Caller::from_arn(i).name == by))
}

/// Everyone's on-call load from `incidents`' pages sent at or after `since`, most paged first.
pub fn load(
    catalog: &crate::catalog::Catalog,
    incidents: &[crate::incident::Incident],
    since: DateTime<Utc>,
) -> Vec<Load> {
    use chrono::{Datelike, Timelike, Weekday};
    use std::collections::BTreeMap;
    let mut by_person: BTreeMap<String, (Load, Vec<i64>)> = BTreeMap::new();
    for incident in incidents {
        let mut first_page: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
        let texts = incident
            .pages
            .iter()
            .filter(|p| p.channel == crate::engagement::Channel::Sms && p.at >= since && p.failed.is_none());
        for page in texts {
            let tz = catalog
                .person(&page.to)
                .and_then(|p| parse_time_zone(&p.time_zone))
                .unwrap_or(chrono_tz::UTC);
            let local = page.at.with_timezone(&tz);
            let (hour, weekend) = (local.hour(), matches!(local.weekday(), Weekday::Sat | Weekday::Sun));
            let (load, _) = by_person.entry(page.to.clone()).or_insert_with(|| {
                (
                    Load {
                        person: page.to.clone(),
                        pages: 0,
                        off_hours: 0,
                        sleep_hours: 0,
                        incidents: 0,
                        acknowledged: 0,
                        ack_median_secs: None,
                        ack_max_secs: None,
                    },
                    Vec::new(),
                )
            });
            load.pages += 1;
            load.off_hours += usize::from(weekend || !(8..18).contains(&hour));
            load.sleep_hours += usize::from(!(7..22).contains(&hour));
            let first = first_page.entry(page.to.as_str()).or_insert(page.at);
            *first = (*first).min(page.at);
        }
        for (person, first) in first_page {
            let Some((load, acks)) = by_person.get_mut(person) else {
                continue;
            };
            load.incidents += 1;
            let by = incident
                .acknowledged_by
                .as_deref()
                .filter(|by| acknowledged_by(catalog, person, by));
            if let (Some(_), Some(at)) = (by, incident.acknowledged_at) {
                load.acknowledged += 1;
                acks.push((at - first).num_seconds().max(0));
            }
        }
    }
    let mut out: Vec<Load> = by_person
        .into_values()
        .map(|(mut load, mut acks)| {
            acks.sort_unstable();
            load.ack_median_secs = acks.get(acks.len() / 2).copied();
            load.ack_max_secs = acks.last().copied();
            load
        })
        .collect();
    out.sort_by(|a, b| b.pages.cmp(&a.pages).then_with(|| a.person.cmp(&b.person)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rotation(members: &[&str], shift_hours: u32, handoff: &str, tz: &str, start: &str) -> Rotation {
        Rotation {
            name: "primary".into(),
            layer: None,
            members: members.iter().map(|m| m.to_string()).collect(),
            shift_hours,
            handoff: handoff.into(),
            time_zone: tz.into(),
            start: start.parse().unwrap(),
            hours: None,
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn who(schedule: &TeamSchedule, t: &str) -> Option<String> {
        schedule.on_call("primary", at(t)).map(|o| o.person)
    }

    #[test]
    fn weekly_shifts_hand_off_at_the_local_time_across_daylight_saving() {
        // Lisbon: UTC+0 in winter, UTC+1 from the last Sunday of March (2026-03-29).
        let rotations = [rotation(&["ana", "bilal"], 168, "09:00", "Europe/Lisbon", "2026-03-23")];
        let s = TeamSchedule {
            team: "payments",
            rotations: &rotations,
            overrides: vec![],
        };
        assert_eq!(who(&s, "2026-03-23T09:00:00Z").as_deref(), Some("ana"));
        assert_eq!(who(&s, "2026-03-30T07:59:00Z").as_deref(), Some("ana"));
        // 09:00 in Lisbon on 30 March is 08:00 UTC: the hand-off follows the local clock.
        assert_eq!(who(&s, "2026-03-30T08:00:00Z").as_deref(), Some("bilal"));
        assert_eq!(who(&s, "2026-04-06T08:00:00Z").as_deref(), Some("ana"));
        // Before the start the turns run backwards.
        assert_eq!(who(&s, "2026-03-20T12:00:00Z").as_deref(), Some("bilal"));
        let (when, next) = s
            .next_change("primary", at("2026-03-24T00:00:00Z"), TimeDelta::days(14))
            .unwrap();
        assert_eq!(when, at("2026-03-30T08:00:00Z"));
        assert_eq!(next.unwrap().person, "bilal");
    }

    #[test]
    fn a_hand_off_in_the_hour_the_clocks_skip_happens_an_hour_on_and_one_they_repeat_the_first_time() {
        // New York skips 02:00–03:00 on 2026-03-08 and repeats 01:00–02:00 on 2026-11-01.
        let rotations = [rotation(&["a", "b"], 24, "02:30", "America/New_York", "2026-03-07")];
        let s = TeamSchedule {
            team: "t",
            rotations: &rotations,
            overrides: vec![],
        };
        // 02:30 does not exist on 8 March: 03:30 EDT = 07:30 UTC.
        assert_eq!(who(&s, "2026-03-08T07:29:00Z").as_deref(), Some("a"));
        assert_eq!(who(&s, "2026-03-08T07:30:00Z").as_deref(), Some("b"));
        let back = [rotation(&["a", "b"], 24, "01:30", "America/New_York", "2026-10-31")];
        let s = TeamSchedule {
            team: "t",
            rotations: &back,
            overrides: vec![],
        };
        // 01:30 happens twice on 1 November: the first, 01:30 EDT = 05:30 UTC.
        assert_eq!(who(&s, "2026-11-01T05:29:00Z").as_deref(), Some("a"));
        assert_eq!(who(&s, "2026-11-01T05:30:00Z").as_deref(), Some("b"));
        assert_eq!(who(&s, "2026-11-01T06:30:00Z").as_deref(), Some("b"));
    }

    #[test]
    fn an_override_inside_a_shift_and_one_across_a_hand_off_take_the_layer_then_give_it_back() {
        let rotations = [rotation(&["ana", "bilal"], 168, "09:00", "UTC", "2026-11-30")];
        let inside = Override {
            team: "payments".into(),
            layer: None,
            user: "chen".into(),
            from: at("2026-12-02T18:00:00Z"),
            to: at("2026-12-03T06:00:00Z"),
            id: None,
            by: None,
            added_at: None,
            lifted_by: None,
        };
        let across = Override {
            from: at("2026-12-06T20:00:00Z"),
            to: at("2026-12-07T12:00:00Z"),
            user: "dara".into(),
            ..inside.clone()
        };
        let s = TeamSchedule {
            team: "payments",
            rotations: &rotations,
            overrides: vec![&inside, &across],
        };
        assert_eq!(who(&s, "2026-12-02T17:59:00Z").as_deref(), Some("ana"));
        assert_eq!(
            s.on_call("primary", at("2026-12-02T18:00:00Z")).unwrap().via,
            "override"
        );
        assert_eq!(who(&s, "2026-12-03T06:00:00Z").as_deref(), Some("ana"));
        assert_eq!(
            who(&s, "2026-12-07T09:00:00Z").as_deref(),
            Some("dara"),
            "the override outlasts the hand-off"
        );
        assert_eq!(who(&s, "2026-12-07T12:00:00Z").as_deref(), Some("bilal"));
        let (when, next) = s
            .next_change("primary", at("2026-12-02T12:00:00Z"), TimeDelta::days(7))
            .unwrap();
        assert_eq!(
            (when, next.unwrap().person.as_str()),
            (at("2026-12-02T18:00:00Z"), "chen")
        );
    }

    fn follow_the_sun(amer_to: &str) -> Vec<Rotation> {
        let mut emea = rotation(&["ana", "bilal"], 168, "08:00", "Europe/Dublin", "2026-01-05");
        emea.name = "emea".into();
        emea.layer = Some("primary".into());
        emea.hours = Some(Hours {
            from: "08:00".into(),
            to: "20:00".into(),
        });
        let mut amer = rotation(&["chen", "dara"], 168, "15:00", "America/Los_Angeles", "2026-01-05");
        amer.name = "amer".into();
        amer.layer = Some("primary".into());
        amer.hours = Some(Hours {
            from: "12:00".into(),
            to: amer_to.into(),
        });
        vec![emea, amer]
    }

    #[test]
    fn follow_the_sun_hands_the_layer_between_regions_and_finds_the_gap_daylight_saving_opens() {
        // EMEA 08–20 Dublin, AMER 12:00–00:00 Los Angeles: in winter AMER's midnight is 08:00 UTC,
        // exactly EMEA's start. In the weeks Los Angeles is on summer time and Dublin is not yet
        // (8–29 March 2026), AMER ends at 07:00 UTC and nobody covers 07:00–08:00.
        let rotations = follow_the_sun("00:00");
        let s = TeamSchedule {
            team: "t",
            rotations: &rotations,
            overrides: vec![],
        };
        let on = |t: &str| s.on_call("primary", at(t)).map(|o| o.via);
        assert_eq!(on("2026-01-06T10:00:00Z").as_deref(), Some("emea"));
        assert_eq!(on("2026-01-06T22:00:00Z").as_deref(), Some("amer"));
        assert_eq!(
            s.first_gap("primary", at("2026-01-06T00:00:00Z")),
            Some(at("2026-03-09T07:00:00Z"))
        );
        // AMER until 01:00 closes it.
        let rotations = follow_the_sun("01:00");
        let s = TeamSchedule {
            team: "t",
            rotations: &rotations,
            overrides: vec![],
        };
        assert_eq!(s.first_gap("primary", at("2026-01-06T00:00:00Z")), None);
    }

    proptest! {
        #[test]
        fn every_instant_has_exactly_the_member_of_its_shift_and_turns_go_in_order(
            members in 1usize..6,
            shift_hours in prop::sample::select(vec![8u32, 12, 24, 72, 168]),
            handoff_hour in 0u32..24,
            tz in prop::sample::select(vec!["UTC", "Europe/Lisbon", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]),
            offset_minutes in 0i64..(400 * 24 * 60),
        ) {
            let names: Vec<String> = (0..members).map(|i| format!("m{i}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let r = rotation(&refs, shift_hours, &format!("{handoff_hour:02}:00"), tz, "2026-01-01");
            let s = Schedule::of(&r).unwrap();
            let t = at("2026-01-01T00:00:00Z") + TimeDelta::minutes(offset_minutes);
            let k = s.shift(t);
            prop_assert!(s.boundary(k) <= t && t < s.boundary(k + 1));
            // A shift is its length give or take the hour daylight saving adds or takes.
            let length = s.boundary(k + 1) - s.boundary(k);
            prop_assert!((length - s.shift_length()).num_minutes().abs() <= 60);
            let next = s.member(s.boundary(k + 1));
            let index = |m: &str| names.iter().position(|n| n == m).unwrap();
            prop_assert_eq!(index(next), (index(s.member(t)) + 1) % members);
        }
    }
}

#[cfg(test)]
mod catalog_tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::record::Caller;

    const EXAMPLE: &str = include_str!("../../../catalog.example.yaml");

    fn example() -> Catalog {
        serde_yaml::from_str(EXAMPLE).unwrap()
    }

    #[test]
    fn the_example_has_two_rotations_follow_the_sun_an_override_and_a_plan_and_validates() {
        let c = example();
        c.validate().unwrap();
        assert_eq!(layers(&c.team("payments").unwrap().rotations), ["primary", "secondary"]);
        assert_eq!(layers(&c.team("incident-response").unwrap().rotations), ["primary"]);
        assert_eq!(c.team("payments").unwrap().plan().len(), 3);
        // The override takes payments' primary over the holidays.
        let s = c.schedule("payments").unwrap();
        let christmas = "2026-12-25T12:00:00Z".parse().unwrap();
        assert_eq!(s.on_call("primary", christmas).unwrap().person, "chen");
        let rows = roster(&c, Some("payments"), "2026-12-23T12:00:00Z".parse().unwrap());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].next.as_ref().unwrap().person, "chen");
        assert_eq!(rows[0].next_at, Some("2026-12-24T09:00:00Z".parse().unwrap()));
    }

    #[test]
    fn validation_refuses_unknown_people_gaps_and_stages_that_name_nobody_each_with_its_line() {
        let text = EXAMPLE
            .replace(
                "members: [ana, bilal], shift_hours: 168",
                "members: [ana, zoe], shift_hours: 168",
            )
            .replace(
                r#"hours: { from: "10:00", to: "00:00" }"#,
                r#"hours: { from: "10:00", to: "22:00" }"#,
            )
            .replace(
                "page: [secondary], wait_minutes: 10",
                "page: [tertiary], wait_minutes: 10",
            )
            .replace("user: chen, from: 2026-12-24", "user: nobody, from: 2026-12-24");
        let c: Catalog = serde_yaml::from_str(&text).unwrap();
        let problems = c.validate().unwrap_err().located(&text);
        let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let expect = |fragment: &str, line: usize| {
            assert!(
                problems
                    .iter()
                    .any(|p| p.contains(fragment) && p.starts_with(&format!("line {line}: "))),
                "{fragment} at line {line}: {problems:#?}"
            )
        };
        expect(
            "rotation 'primary': 'zoe' is not in people",
            line_of("members: [ana, zoe]"),
        );
        expect(
            "layer 'primary' has nobody on call at 2026-11-30 06:00 UTC",
            line_of("name: emea, layer: primary"),
        );
        expect(
            "escalation stage 2: 'tertiary' is not a layer",
            line_of("page: [tertiary]"),
        );
        expect("'nobody' is not in people", line_of("user: nobody"));
    }

    #[test]
    fn load_counts_each_persons_texts_off_hours_and_sleep_in_their_time_zone_and_their_acknowledgements() {
        use crate::engagement::{Channel, PageRecord};
        use crate::incident::{Incident, Scope};
        let c = example();
        let page = |to: &str, at: &str, round: u32| PageRecord {
            at: at.parse().unwrap(),
            round,
            team: "payments".into(),
            to: to.into(),
            channel: Channel::Sms,
            failed: None,
        };
        let open = |key: &str| {
            let id = crate::IncidentId::for_service("checkout", &crate::SignalKey::new("t", key));
            Incident::open(id, Scope::SingleService, vec!["checkout".into()], Utc::now())
        };
        // Ana (Lisbon, UTC+0 in December): paged at 03:00 on a Wednesday (sleep, off hours) and
        // acknowledged 4 minutes later; at 10:00 the next day (working hours), not acknowledged.
        let mut night = open("a");
        night.pages = vec![
            page("ana", "2026-12-02T03:00:00Z", 0),
            page("bilal", "2026-12-02T03:05:00Z", 1),
        ];
        night.acknowledged_by = Some("ana".into());
        night.acknowledged_at = Some("2026-12-02T03:04:00Z".parse().unwrap());
        let mut day = open("b");
        day.pages = vec![page("ana", "2026-12-03T10:00:00Z", 0)];
        // Chen (Los Angeles): 20:00 UTC on Saturday is 12:00 there: a weekend, not sleep.
        let mut weekend = open("c");
        weekend.pages = vec![page("chen", "2026-12-05T20:00:00Z", 0)];
        let mut old = open("d");
        old.pages = vec![page("ana", "2026-10-01T03:00:00Z", 0)];
        let rows = load(&c, &[night, day, weekend, old], "2026-11-01T00:00:00Z".parse().unwrap());
        let ana = rows.iter().find(|r| r.person == "ana").unwrap();
        assert_eq!((ana.pages, ana.off_hours, ana.sleep_hours), (2, 1, 1), "{rows:#?}");
        assert_eq!(
            (ana.incidents, ana.acknowledged, ana.ack_median_secs),
            (2, 1, Some(240))
        );
        let chen = rows.iter().find(|r| r.person == "chen").unwrap();
        assert_eq!((chen.off_hours, chen.sleep_hours), (1, 0));
        let bilal = rows.iter().find(|r| r.person == "bilal").unwrap();
        assert_eq!((bilal.pages, bilal.acknowledged, bilal.ack_median_secs), (1, 0, None));
        assert_eq!(rows[0].person, "ana", "most paged first");
    }

    #[test]
    fn an_override_added_through_the_api_beats_the_files_whatever_the_order_until_it_is_lifted() {
        let mut c = example();
        let kai = Caller::from_arn("arn:aws:iam::000000000000:user/kai");
        let christmas: DateTime<Utc> = "2026-12-25T12:00:00Z".parse().unwrap();
        let now: DateTime<Utc> = "2026-12-20T12:00:00Z".parse().unwrap();
        let request = OverrideRequest {
            team: "payments".into(),
            layer: None,
            user: "kai".into(),
            from: christmas - TimeDelta::hours(2),
            to: christmas + TimeDelta::hours(2),
        };
        let added = decide_override(&request, &c, &kai, now).unwrap();
        // Stored first or last, the command API's override holds the layer over the file's.
        for at_front in [true, false] {
            let mut catalog = c.clone();
            match at_front {
                true => catalog.overrides.insert(0, added.clone()),
                false => catalog.overrides.push(added.clone()),
            }
            let s = catalog.schedule("payments").unwrap();
            assert_eq!(s.on_call("primary", christmas).unwrap().person, "kai");
        }
        c.overrides.push(added.clone());
        let lifted = decide_lift(added.id.as_deref().unwrap(), &c, &kai, christmas).unwrap();
        assert_eq!((lifted.to, lifted.lifted_by.as_deref()), (christmas, Some("kai")));
        c.overrides.retain(|o| o.id != added.id);
        c.overrides.push(lifted.clone());
        assert_eq!(
            c.schedule("payments")
                .unwrap()
                .on_call("primary", christmas)
                .unwrap()
                .person,
            "chen"
        );
        let again = decide_lift(added.id.as_deref().unwrap(), &c, &kai, christmas).unwrap_err();
        assert!(again.to_string().contains("over already"), "{again}");
        assert!(decide_lift("ovr-000000000000", &c, &kai, now).is_err());
    }

    #[test]
    fn nobody_goes_on_call_without_a_number_to_text() {
        let text = EXAMPLE.replace(r#"{ name: kai, sms: "+15555550111", "#, "{ name: kai, ");
        assert!(text != EXAMPLE, "the example names kai's number");
        let mut c: Catalog = serde_yaml::from_str(&text).unwrap();
        c.validate().unwrap();
        c.teams[0].rotations[0].members.push("kai".into());
        let problems = c.validate().unwrap_err().0;
        assert!(
            problems.iter().any(|p| p.contains("'kai' has no sms number")),
            "{problems:#?}"
        );
        let now: DateTime<Utc> = "2026-12-02T12:00:00Z".parse().unwrap();
        let request = OverrideRequest {
            team: "payments".into(),
            layer: None,
            user: "kai".into(),
            from: now,
            to: now + TimeDelta::hours(1),
        };
        let refused = decide_override(&request, &c, &Caller::from_arn("arn:aws:iam::0:user/ana"), now);
        assert!(refused.unwrap_err().to_string().contains("kai has no sms number"));
    }

    #[test]
    fn an_override_is_the_callers_for_a_known_person_and_layer_within_a_month() {
        let c = example();
        let ana = Caller::from_arn("arn:aws:iam::000000000000:user/ana");
        let now: DateTime<Utc> = "2026-12-02T12:00:00Z".parse().unwrap();
        let request = OverrideRequest {
            team: "payments".into(),
            layer: None,
            user: "chen".into(),
            from: now,
            to: now + TimeDelta::hours(8),
        };
        let o = decide_override(&request, &c, &ana, now).unwrap();
        assert_eq!((o.layer.as_deref(), o.by.as_deref()), (Some("primary"), Some("ana")));
        assert!(o.id.as_deref().unwrap().starts_with("ovr-"));
        let refused = |r: OverrideRequest| decide_override(&r, &c, &ana, now).unwrap_err().to_string();
        assert!(refused(OverrideRequest {
            user: "zoe".into(),
            ..request.clone()
        })
        .contains("no person 'zoe'"));
        assert!(refused(OverrideRequest {
            layer: Some("tertiary".into()),
            ..request.clone()
        })
        .contains("layers: primary, secondary"));
        assert!(refused(OverrideRequest {
            to: now + TimeDelta::days(40),
            ..request.clone()
        })
        .contains("at most 31 days"));
        assert!(refused(OverrideRequest {
            team: "analytics".into(),
            ..request.clone()
        })
        .contains("no rotations"));
        assert!(refused(OverrideRequest {
            from: now - TimeDelta::hours(9),
            to: now - TimeDelta::hours(1),
            ..request
        })
        .contains("over already"));
    }
}
