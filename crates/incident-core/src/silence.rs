//! Silences and maintenance windows as records: what the catalog and the silence store keep, and
//! the time arithmetic of when they cover a signal. The rules that use them decide elsewhere, on
//! top of the catalog.

use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, Utc, Weekday};
use serde::{Deserialize, Serialize};

/// The longest silence one request may set.
pub const MAX_SILENCE: TimeDelta = TimeDelta::days(7);

/// A silence of one service, set by a person through the command API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// `sil-` and 12 hex digits, derived from the service, the caller and the time it was set.
    pub id: String,
    pub service: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub reason: String,
    /// Who set it: the verified caller's name, and ARN.
    pub by: String,
    pub by_arn: String,
    /// Who lifted it early, if anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted_by: Option<String>,
}

impl Silence {
    pub fn active_at(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.until
    }

    /// `active`, `lifted` or `expired`.
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        if self.active_at(now) {
            "active"
        } else if self.lifted_by.is_some() {
            "lifted"
        } else {
            "expired"
        }
    }

    /// One line for `incidentctl silence list` and replies.
    pub fn describe(&self, now: DateTime<Utc>) -> String {
        let until = self.until.format("%Y-%m-%d %H:%M UTC");
        let state = match (self.state(now), &self.lifted_by) {
            ("lifted", Some(by)) => format!("lifted by {by} at {until}"),
            ("expired", _) => format!("expired {until}"),
            _ => format!("until {until}"),
        };
        format!(
            "{} {}: {state}, set by {} ({})",
            self.id, self.service, self.by, self.reason
        )
    }
}

/// A maintenance window of a service in the catalog: one-off (`from`/`until`) or weekly (`weekly`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<Weekly>,
}

/// Every week on `days`, from `start_utc` for `minutes` (a window may run past midnight).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weekly {
    /// `mon` … `sun`.
    pub days: Vec<String>,
    /// `HH:MM`, UTC.
    pub start_utc: String,
    pub minutes: u32,
}

fn weekday(name: &str) -> Option<Weekday> {
    name.parse::<Weekday>().ok()
}

impl MaintenanceWindow {
    /// What is wrong with it, if anything (for catalog validation).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        match (&self.from, &self.until, &self.weekly) {
            (Some(from), Some(until), None) if from < until => {}
            (Some(_), Some(_), None) => out.push("`from` must be before `until`".into()),
            (None, None, Some(w)) => {
                if w.days.is_empty() || w.days.iter().any(|d| weekday(d).is_none()) {
                    out.push(format!("weekly.days {:?} must name days (mon … sun)", w.days));
                }
                if NaiveTime::parse_from_str(&w.start_utc, "%H:%M").is_err() {
                    out.push(format!("weekly.start_utc '{}' is not HH:MM", w.start_utc));
                }
                if w.minutes == 0 || i64::from(w.minutes) > MAX_SILENCE.num_minutes() {
                    out.push(format!(
                        "weekly.minutes {} must be 1 … {}",
                        w.minutes,
                        MAX_SILENCE.num_minutes()
                    ));
                }
            }
            _ => out.push("give either `from` and `until`, or `weekly`".into()),
        }
        out
    }

    /// The end of the window covering `at`, if one does.
    pub fn covering(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if let (Some(from), Some(until)) = (self.from, self.until) {
            return (from <= at && at < until).then_some(until);
        }
        let w = self.weekly.as_ref()?;
        let start = NaiveTime::parse_from_str(&w.start_utc, "%H:%M").ok()?;
        let length = TimeDelta::minutes(i64::from(w.minutes));
        // A window that covers `at` started at most `length` before it: look back day by day.
        (0..=length.num_days() + 1).find_map(|back| {
            let day = (at - TimeDelta::days(back)).date_naive();
            let begins = day.and_time(start).and_utc();
            let listed = w.days.iter().filter_map(|d| weekday(d)).any(|d| d == day.weekday());
            (listed && begins <= at && at < begins + length).then_some(begins + length)
        })
    }
}
