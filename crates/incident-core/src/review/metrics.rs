//! One row per incident, for a spreadsheet or a notebook (`incidentctl metrics`): its times and
//! the figures the review computes from them, what detected it, who owned it.

use super::FIGURES;
use crate::incident::{Incident, Status};
use crate::signal::{Health, Signal};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub incident: String,
    pub title: String,
    pub severity: Option<String>,
    pub scope: String,
    pub services: Vec<String>,
    pub team: Option<String>,
    pub status: String,
    pub exercise: bool,
    pub customer_facing: bool,
    pub customer_detected: bool,
    /// The source of the earliest impairing signal (the COE's rule): alarm, canary,
    /// customer_report, aws_health, deployment.
    pub detection_source: Option<String>,
    pub impact_started_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
    pub engaged_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub time_to_detect_secs: Option<i64>,
    pub time_to_engage_secs: Option<i64>,
    pub time_to_acknowledge_secs: Option<i64>,
    pub time_to_mitigate_secs: Option<i64>,
    pub time_to_resolve_secs: Option<i64>,
    pub escalations: u32,
    pub pages: usize,
}

/// The rows of `incidents` (each with its signals), oldest first. A merged incident, or one linked
/// into a multi-service event, is part of that one (as in the review) and has no row.
pub fn rows(incidents: &[(Incident, Vec<Signal>)]) -> Vec<Row> {
    let mut out: Vec<Row> = incidents
        .iter()
        .filter(|(i, _)| i.status != Status::Merged && i.parent.is_none())
        .map(|(i, signals)| {
            let time = |name: &str| {
                FIGURES
                    .iter()
                    .find(|f| f.0 == name)
                    .and_then(|f| (f.2)(i))
                    .map(|s| s.max(0))
            };
            let source = signals
                .iter()
                .filter(|s| s.health == Health::Impaired)
                .min_by_key(|s| s.at)
                .map(|s| {
                    serde_json::to_value(s.source)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                });
            Row {
                incident: i.id.to_string(),
                title: i.title.clone(),
                severity: i.severity.map(|s| s.to_string()),
                scope: serde_json::to_value(i.scope)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                services: i.services.clone(),
                team: i.owner.clone(),
                status: i.status.to_string(),
                exercise: i.exercise,
                customer_facing: i.customer_facing,
                customer_detected: i.customer_detected,
                detection_source: source,
                impact_started_at: i.impact_started_at,
                detected_at: i.detected_at,
                engaged_at: i.engaged_at,
                acknowledged_at: i.acknowledged_at,
                mitigated_at: i.mitigated_at,
                resolved_at: i.resolved_at,
                time_to_detect_secs: time("detect"),
                time_to_engage_secs: time("engage"),
                time_to_acknowledge_secs: time("acknowledge"),
                time_to_mitigate_secs: time("mitigate"),
                time_to_resolve_secs: time("resolve"),
                escalations: i.escalations,
                pages: i.pages.len(),
            }
        })
        .collect();
    out.sort_by(|a, b| (a.detected_at, &a.incident).cmp(&(b.detected_at, &b.incident)));
    out
}

const HEADER: [&str; 24] = [
    "incident",
    "title",
    "severity",
    "scope",
    "services",
    "team",
    "status",
    "exercise",
    "customer_facing",
    "customer_detected",
    "detection_source",
    "impact_started_at",
    "detected_at",
    "engaged_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "time_to_detect_secs",
    "time_to_engage_secs",
    "time_to_acknowledge_secs",
    "time_to_mitigate_secs",
    "time_to_resolve_secs",
    "escalations",
    "pages",
];

/// A CSV cell (RFC 4180 quoting). A cell a spreadsheet would read as a formula (`=`, `+`, `-`,
/// `@`, a tab or a carriage return first) is prefixed with `'`, so incident text cannot run one.
pub fn cell(text: &str) -> String {
    let text = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    };
    match text.contains([',', '"', '\n', '\r']) {
        true => format!("\"{}\"", text.replace('"', "\"\"")),
        false => text,
    }
}

pub fn csv(rows: &[Row]) -> String {
    let at = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    let n = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out = HEADER.join(",");
    out.push('\n');
    for r in rows {
        let cells = [
            cell(&r.incident),
            cell(&r.title),
            cell(r.severity.as_deref().unwrap_or_default()),
            cell(&r.scope),
            cell(&r.services.join(";")),
            cell(r.team.as_deref().unwrap_or_default()),
            cell(&r.status),
            r.exercise.to_string(),
            r.customer_facing.to_string(),
            r.customer_detected.to_string(),
            cell(r.detection_source.as_deref().unwrap_or_default()),
            at(Some(r.impact_started_at)),
            at(Some(r.detected_at)),
            at(r.engaged_at),
            at(r.acknowledged_at),
            at(r.mitigated_at),
            at(r.resolved_at),
            n(r.time_to_detect_secs),
            n(r.time_to_engage_secs),
            n(r.time_to_acknowledge_secs),
            n(r.time_to_mitigate_secs),
            n(r.time_to_resolve_secs),
            r.escalations.to_string(),
            r.pages.to_string(),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Scope;
    use crate::signal::SignalSource;
    use crate::{IncidentId, SignalKey};

    fn incident(title: &str) -> Incident {
        let at: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap();
        let id = IncidentId::for_service("checkout", &SignalKey::new("m", title));
        let mut i = Incident::open_at(
            id,
            Scope::SingleService,
            vec!["checkout".into()],
            at,
            at + chrono::TimeDelta::minutes(2),
        );
        i.title = title.into();
        i.acknowledged_at = Some(at + chrono::TimeDelta::minutes(7));
        i
    }

    #[test]
    fn a_row_carries_its_times_figures_and_what_detected_it() {
        let i = incident("checkout: 5xx");
        let report = Signal::new(
            SignalKey::new("r", "1"),
            SignalSource::CustomerReport,
            Health::Impaired,
            "r",
            i.impact_started_at,
            "x",
        );
        let alarm = Signal::new(
            SignalKey::new("a", "1"),
            SignalSource::Alarm,
            Health::Impaired,
            "a",
            i.detected_at,
            "x",
        );
        let mut merged = incident("merged");
        merged.status = Status::Merged;
        let rows = rows(&[(i, vec![alarm, report]), (merged, vec![])]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].detection_source.as_deref(), Some("customer_report"));
        assert_eq!(
            (rows[0].time_to_detect_secs, rows[0].time_to_acknowledge_secs),
            (Some(120), Some(300))
        );
        assert_eq!(
            (rows[0].scope.as_str(), rows[0].time_to_resolve_secs),
            ("single_service", None)
        );
    }

    #[test]
    fn csv_quotes_what_it_must_and_defuses_formulas() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a, \"b\""), "\"a, \"\"b\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(cell("-1+2"), "'-1+2");
        let out = csv(&rows(&[(incident("=cmd|' /C calc'!A0, x"), vec![])]));
        let mut lines = out.lines();
        assert_eq!(lines.next().unwrap().split(',').count(), 24);
        let row = lines.next().unwrap();
        assert!(row.contains(",\"'=cmd|' /C calc'!A0, x\","), "{row}");
    }
}
