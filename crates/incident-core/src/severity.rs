//! Severity, by explainable rules: every adjustment carries the sentence that goes on the timeline.

use crate::signal::{AlarmKind, SignalSource};
use serde::{Deserialize, Serialize};
use std::fmt;

/// SEV1 is the most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    #[serde(rename = "SEV1")]
    Sev1,
    #[serde(rename = "SEV2")]
    Sev2,
    #[serde(rename = "SEV3")]
    Sev3,
    #[serde(rename = "SEV4")]
    Sev4,
    #[serde(rename = "SEV5")]
    Sev5,
}

impl Severity {
    const ALL: [Severity; 5] = [
        Severity::Sev1,
        Severity::Sev2,
        Severity::Sev3,
        Severity::Sev4,
        Severity::Sev5,
    ];

    pub fn level(self) -> u8 {
        self as u8 + 1
    }

    fn from_level(level: i32) -> Self {
        Self::ALL[(level.clamp(1, 5) - 1) as usize]
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.to_string().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SEV{}", self.level())
    }
}

/// What severity is decided from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The most critical tier involved; `None` when no service is in the catalog.
    pub tier: Option<u8>,
    pub customer_facing: bool,
    pub customer_detected: bool,
    pub multi_service: bool,
    /// The opening signal's source and, for alarms, kind.
    pub source: Option<SignalSource>,
    pub alarm_kind: Option<AlarmKind>,
    pub exercise: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    pub severity: Severity,
    pub reasons: Vec<String>,
}

/// Applies the rules in a fixed order: base from tier, then customer impact, signal type and scope.
pub fn assess(facts: &Facts) -> Assessment {
    let mut reasons = Vec::new();
    let mut level: i32 = match facts.tier {
        Some(1) => 3,
        Some(2) => 4,
        Some(t) => {
            reasons.push(format!("tier {t} service: base SEV5"));
            5
        }
        None => {
            reasons.push("service not in the catalog: treated as tier 2 (base SEV4) until catalogued".into());
            4
        }
    };
    if let Some(t @ (1 | 2)) = facts.tier {
        reasons.push(format!("tier {t} service: base SEV{level}"));
    }
    if facts.customer_facing {
        level -= 1;
        reasons.push("customer-facing: one level more severe".into());
    }
    if facts.customer_detected {
        level -= 1;
        reasons.push("customers detected it before our alarms did: one level more severe".into());
    }
    match (facts.source, facts.alarm_kind) {
        (Some(SignalSource::Canary), _) => {
            level -= 1;
            reasons.push("a synthetic customer journey (canary) is failing: one level more severe".into());
        }
        (_, Some(AlarmKind::AnomalyDetection)) => {
            level += 1;
            reasons.push("anomaly-detection alarm alone is a weaker signal: one level less severe".into());
        }
        _ => {}
    }
    if facts.multi_service {
        let floor = if facts.tier == Some(1) && facts.customer_facing {
            1
        } else {
            2
        };
        if level > floor {
            level = floor;
            reasons.push(format!("multi-service event: at least SEV{floor}"));
        }
    }
    let severity = Severity::from_level(level);
    if level != severity.level() as i32 {
        reasons.push(format!("clamped to {severity}"));
    }
    if facts.exercise {
        reasons.push("game-day exercise: severity computed as if real".into());
    }
    Assessment { severity, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(tier: Option<u8>) -> Facts {
        Facts {
            tier,
            source: Some(SignalSource::Alarm),
            alarm_kind: Some(AlarmKind::SingleMetric),
            ..Facts::default()
        }
    }

    #[test]
    fn tier_sets_the_base() {
        assert_eq!(assess(&facts(Some(1))).severity, Severity::Sev3);
        assert_eq!(assess(&facts(Some(2))).severity, Severity::Sev4);
        assert_eq!(assess(&facts(Some(3))).severity, Severity::Sev5);
        assert_eq!(assess(&facts(None)).severity, Severity::Sev4);
    }

    #[test]
    fn customer_facing_and_customer_detected_each_raise_one_level_with_a_reason() {
        let a = assess(&Facts {
            customer_facing: true,
            customer_detected: true,
            ..facts(Some(1))
        });
        assert_eq!(a.severity, Severity::Sev1);
        assert!(
            a.reasons.iter().any(|r| r.contains("customers detected it")),
            "{:?}",
            a.reasons
        );
    }

    #[test]
    fn multi_service_events_are_at_least_sev2_and_sev1_with_a_customer_facing_tier_1() {
        assert_eq!(
            assess(&Facts {
                multi_service: true,
                ..facts(Some(3))
            })
            .severity,
            Severity::Sev2
        );
        let a = assess(&Facts {
            multi_service: true,
            customer_facing: true,
            ..facts(Some(1))
        });
        assert_eq!(a.severity, Severity::Sev1);
    }

    #[test]
    fn anomaly_alarms_lower_and_canaries_raise() {
        let anomaly = Facts {
            alarm_kind: Some(AlarmKind::AnomalyDetection),
            ..facts(Some(2))
        };
        assert_eq!(assess(&anomaly).severity, Severity::Sev5);
        let canary = Facts {
            source: Some(SignalSource::Canary),
            alarm_kind: None,
            ..facts(Some(2))
        };
        assert_eq!(assess(&canary).severity, Severity::Sev3);
    }

    #[test]
    fn severity_never_leaves_sev1_to_sev5() {
        let worst = Facts {
            customer_facing: true,
            customer_detected: true,
            source: Some(SignalSource::Canary),
            ..facts(Some(1))
        };
        let a = assess(&worst);
        assert_eq!(a.severity, Severity::Sev1);
        assert!(a.reasons.last().unwrap().contains("clamped"));
    }

    #[test]
    fn severities_parse_and_print() {
        assert_eq!(Severity::parse("sev2"), Some(Severity::Sev2));
        assert_eq!(Severity::Sev2.to_string(), "SEV2");
        assert_eq!(serde_json::to_string(&Severity::Sev3).unwrap(), "\"SEV3\"");
    }
}
