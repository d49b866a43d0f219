//! The taxonomy of contributing factors: a five-whys node may carry one, so that the weekly review
//! can find the same kind of cause across incidents and teams. Suggested from the factor's text
//! and the incident's signals; always the author's choice.

use crate::signal::{Signal, SignalSource};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// A change reached production unsafely: no canary, no bake time, no automatic rollback.
    DeploymentSafety,
    /// A configuration, flag, parameter or permission was wrong or changed without a check.
    Configuration,
    /// Limits, quotas, throttling, scaling or load beyond what was provisioned.
    Capacity,
    /// A dependency (another team's service, AWS, a third party) failed or behaved unexpectedly.
    Dependency,
    /// We did not see it, or saw it late: a missing or wrong alarm, metric, log or dashboard.
    Observability,
    /// The runbook, automation or tooling was missing, wrong or too slow.
    RunbookTooling,
    /// A review, hand-off, escalation or communication did not happen as it should.
    Process,
    /// A defect in our code.
    CodeDefect,
    /// A test that would have caught it did not exist or did not run.
    Testing,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::DeploymentSafety,
        Category::Configuration,
        Category::Capacity,
        Category::Dependency,
        Category::Observability,
        Category::RunbookTooling,
        Category::Process,
        Category::CodeDefect,
        Category::Testing,
    ];

    /// Its name in commands and documents: `deployment-safety`.
    pub fn name(self) -> &'static str {
        match self {
            Category::DeploymentSafety => "deployment-safety",
            Category::Configuration => "configuration",
            Category::Capacity => "capacity",
            Category::Dependency => "dependency",
            Category::Observability => "observability",
            Category::RunbookTooling => "runbook-tooling",
            Category::Process => "process",
            Category::CodeDefect => "code-defect",
            Category::Testing => "testing",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let wanted = text.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|c| c.name() == wanted).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|c| c.name()).collect();
            format!(
                "no factor category '{}': one of {}",
                crate::text::line(text, 40),
                names.join(", ")
            )
        })
    }

    /// The category a factor's text suggests, else what the incident's signals suggest (a
    /// deployment's failure, an AWS Health event, a customer who saw it first); `None` when
    /// nothing does.
    pub fn suggest(text: &str, signals: &[Signal]) -> Option<Self> {
        // Whole words, matched by their start: `throttl` finds "throttled", `scal` "scaling", never
        // "escalation".
        let text = text.to_lowercase();
        let words: Vec<&str> = text
            .split(|c: char| !(c.is_alphanumeric() || c == '-'))
            .filter(|w| !w.is_empty())
            .collect();
        let said = |w: &str| match w.contains(' ') {
            true => text.contains(w),
            false => words.iter().any(|word| word.starts_with(w)),
        };
        let by_words: [(Category, &[&str]); 9] = [
            (
                Category::DeploymentSafety,
                &["deploy", "rollout", "roll out", "release", "canary", "rollback", "bake"],
            ),
            (
                Category::Configuration,
                &["config", "flag", "parameter", "setting", "permission", "policy"],
            ),
            (
                Category::Capacity,
                &["capacity", "throttl", "quota", "limit", "scal", "load", "exhaust"],
            ),
            (
                Category::Dependency,
                &[
                    "dependency",
                    "upstream",
                    "downstream",
                    "third-party",
                    "third party",
                    "vendor",
                    "aws",
                ],
            ),
            (
                Category::Observability,
                &["alarm", "monitor", "metric", "dashboard", "detect", "alert", "log"],
            ),
            (Category::RunbookTooling, &["runbook", "automation", "script", "tool"]),
            (
                Category::Process,
                &[
                    "review",
                    "hand-off",
                    "handoff",
                    "escalat",
                    "communicat",
                    "process",
                    "checklist",
                ],
            ),
            (Category::Testing, &["test"]),
            (
                Category::CodeDefect,
                &["bug", "defect", "null", "exception", "panic", "race", "leak", "code"],
            ),
        ];
        let words = by_words
            .iter()
            .find(|(_, words)| words.iter().any(|w| said(w)))
            .map(|(c, _)| *c);
        words.or_else(|| {
            let from = |source| signals.iter().any(|s| s.source == source);
            if from(SignalSource::Deployment) {
                Some(Category::DeploymentSafety)
            } else if from(SignalSource::AwsHealth) {
                Some(Category::Dependency)
            } else if signals
                .first()
                .is_some_and(|s| s.source == SignalSource::CustomerReport)
            {
                Some(Category::Observability)
            } else {
                None
            }
        })
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_parses_from_its_own_name_and_a_wrong_one_lists_them_all() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.name()), Ok(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
        let refused = Category::parse("luck").unwrap_err();
        assert!(
            refused.starts_with("no factor category 'luck': one of deployment-safety, "),
            "{refused}"
        );
    }

    #[test]
    fn the_text_suggests_first_then_the_signals() {
        let suggest = |t: &str| Category::suggest(t, &[]);
        assert_eq!(
            suggest("because the deploy skipped the canary"),
            Some(Category::DeploymentSafety)
        );
        assert_eq!(
            suggest("because a config flag was renamed"),
            Some(Category::Configuration)
        );
        assert_eq!(
            suggest("because DynamoDB throttled the writes"),
            Some(Category::Capacity)
        );
        assert_eq!(
            suggest("because no alarm watched the queue age"),
            Some(Category::Observability)
        );
        assert_eq!(suggest("because nobody knew"), None);
        assert_eq!(
            suggest("because the escalation reached nobody"),
            Some(Category::Process)
        );
        assert_eq!(suggest("because the catalog named the wrong owner"), None);
    }
}
