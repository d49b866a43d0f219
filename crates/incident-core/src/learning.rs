//! Lessons that escalate until the system changes. A learning names a recurring kind of
//! contributing factor, the incidents behind it and how far it has been taken, in three steps,
//! each taken when the one below was not enough: *education* (a tenet or practice, and where it
//! was taught), *distributed change* (a question every service in the catalog must answer in its
//! operational readiness review), *central change* (a default changed for everyone, tracked as a
//! long-term action item with an owner, closed only with proof). Kept beside the catalog and
//! changed only through the command API; the weekly review proposes the next step when the factor
//! recurs after the last one.

use crate::actions::{ActionItem, Term};
use crate::approval::Caller;
use crate::catalog::Catalog;
use crate::category::Category;
use crate::command::Refusal;
use crate::IncidentId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Education,
    DistributedChange,
    CentralChange,
}

impl Level {
    pub fn next(self) -> Option<Self> {
        match self {
            Level::Education => Some(Level::DistributedChange),
            Level::DistributedChange => Some(Level::CentralChange),
            Level::CentralChange => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Education => "education",
            Level::DistributedChange => "distributed change",
            Level::CentralChange => "central change",
        })
    }
}

/// One step of a learning's ladder: what was done at that level, by whom, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub level: Level,
    /// Education: where it was taught. Distributed change: the readiness-review question. Central
    /// change: the default changed for everyone.
    pub what: String,
    pub by: String,
    /// The verified identity behind `by`.
    #[serde(default)]
    pub by_arn: String,
    pub at: DateTime<Utc>,
    /// A central change's long-term action item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionItem>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Learning {
    /// `learn-` and eight hex digits of its category and text: the same lesson is not added twice.
    pub id: String,
    pub category: Category,
    pub text: String,
    pub incidents: Vec<IncidentId>,
    /// Oldest first; the last is the level it stands at.
    pub steps: Vec<Step>,
    /// Counts its changes: one is stored only over the version it was decided from.
    #[serde(default)]
    pub version: u64,
}

impl Learning {
    pub fn level(&self) -> Level {
        self.steps.last().map(|s| s.level).unwrap_or(Level::Education)
    }

    /// When its last step was taken: a factor of its category after that is a recurrence.
    pub fn since(&self) -> Option<DateTime<Utc>> {
        self.steps.last().map(|s| s.at)
    }

    /// The readiness-review question, once it is a distributed change.
    pub fn question(&self) -> Option<&str> {
        self.steps
            .iter()
            .find(|s| s.level == Level::DistributedChange)
            .map(|s| s.what.as_str())
    }

    /// The central change's action item.
    pub fn action(&self) -> Option<&ActionItem> {
        self.steps.iter().find_map(|s| s.action.as_ref())
    }
}

/// A service's answer to a learning's readiness-review question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrrAnswer {
    pub service: String,
    pub learning: String,
    pub text: String,
    pub by: String,
    #[serde(default)]
    pub by_arn: String,
    pub at: DateTime<Utc>,
}

/// What people ask of learnings through the command API (`POST /learnings`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum LearningCommand {
    /// A new learning at the education level.
    Add {
        category: String,
        text: String,
        incidents: Vec<String>,
        /// Where it was taught: a tenet, the weekly meeting, a shared practice.
        shared: String,
    },
    /// Up one level: `what` is the readiness-review question, or the default changed for
    /// everyone (which needs an `owner` team; `due` defaults to the long-term horizon).
    Escalate {
        id: String,
        what: String,
        #[serde(default)]
        owner: Option<String>,
        #[serde(default)]
        due: Option<DateTime<Utc>>,
    },
    /// A central change's action item is done, with the proof.
    Done { id: String, validation: String },
    /// A service answers a learning's readiness-review question.
    Answer {
        service: String,
        learning: String,
        text: String,
    },
}

/// What a learning command changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decided {
    Learning(Learning),
    Answer(OrrAnswer),
}

fn required(text: &str, what: &str) -> Result<String, Refusal> {
    let line = crate::text::line(text, crate::text::REASON_MAX);
    match line.trim().len() < 10 {
        true => Err(Refusal::Invalid(format!(
            "{what} needs a sentence (at least 10 characters)"
        ))),
        false => Ok(line.trim().to_string()),
    }
}

fn learning<'a>(catalog: &'a Catalog, id: &str) -> Result<&'a Learning, Refusal> {
    catalog.learnings.iter().find(|l| l.id == id).ok_or_else(|| {
        Refusal::NotFound(format!(
            "no learning {} (incidentctl learning list)",
            crate::text::line(id, 40)
        ))
    })
}

pub fn learning_id(category: Category, text: &str) -> String {
    let digest = Sha256::digest(format!("{category}\n{}", text.trim().to_lowercase()).as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("learn-{hex}")
}

/// Decides a learning command as `caller`, against the learnings and answers the catalog holds.
pub fn decide(
    command: &LearningCommand,
    catalog: &Catalog,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<Decided, Refusal> {
    let step = |level, what: String, action| Step {
        level,
        what,
        by: caller.name.clone(),
        by_arn: caller.arn.clone(),
        at: now,
        action,
    };
    match command {
        LearningCommand::Add {
            category,
            text,
            incidents,
            shared,
        } => {
            let category = Category::parse(category).map_err(Refusal::Invalid)?;
            let text = required(text, "a learning")?;
            let shared = required(shared, "where it was taught")?;
            if incidents.is_empty() {
                return Err(Refusal::Invalid("a learning names the incidents behind it".into()));
            }
            let incidents = incidents
                .iter()
                .map(|i| IncidentId::parse(i).map_err(|e| Refusal::Invalid(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            let id = learning_id(category, &text);
            if let Ok(existing) = learning(catalog, &id) {
                return Err(Refusal::Refused(format!(
                    "{id} is this learning already, at {}",
                    existing.level()
                )));
            }
            Ok(Decided::Learning(Learning {
                id,
                category,
                text,
                incidents,
                steps: vec![step(Level::Education, shared, None)],
                version: 1,
            }))
        }
        LearningCommand::Escalate { id, what, owner, due } => {
            let mut l = learning(catalog, id)?.clone();
            let next = l
                .level()
                .next()
                .ok_or_else(|| Refusal::Refused(format!("{id} is a central change already: nothing is above it")))?;
            let what = required(what, "the step")?;
            let action = match next {
                Level::CentralChange => {
                    let owner = owner.as_deref().filter(|o| catalog.team(o).is_some()).ok_or_else(|| {
                        Refusal::Invalid("a central change needs --owner, a team of the catalog".into())
                    })?;
                    let item = ActionItem::new(format!("{id}.a1"), Term::Long, owner, &what, *due, now)
                        .map_err(|e| Refusal::Invalid(e.to_string()))?;
                    Some(item)
                }
                _ if owner.is_some() || due.is_some() => {
                    return Err(Refusal::Invalid(format!(
                        "--owner and --due belong to a central change; {id} goes to {next} next"
                    )))
                }
                _ => None,
            };
            l.steps.push(step(next, what, action));
            l.version += 1;
            Ok(Decided::Learning(l))
        }
        LearningCommand::Done { id, validation } => {
            let mut l = learning(catalog, id)?.clone();
            let item = l
                .steps
                .iter_mut()
                .find_map(|s| s.action.as_mut())
                .ok_or_else(|| Refusal::Refused(format!("{id} has no central change to close")))?;
            item.close(validation, &caller.name, now)
                .map_err(|e| Refusal::Refused(e.to_string()))?;
            l.version += 1;
            Ok(Decided::Learning(l))
        }
        LearningCommand::Answer {
            service,
            learning: id,
            text,
        } => {
            if catalog.service(service).is_none() {
                return Err(Refusal::NotFound(format!(
                    "no service {} in the catalog",
                    crate::text::line(service, 64)
                )));
            }
            let l = learning(catalog, id)?;
            if l.question().is_none() {
                return Err(Refusal::Refused(format!(
                    "{id} is not a readiness-review question yet (it is at {})",
                    l.level()
                )));
            }
            Ok(Decided::Answer(OrrAnswer {
                service: service.clone(),
                learning: id.clone(),
                text: required(text, "an answer")?,
                by: caller.name.clone(),
                by_arn: caller.arn.clone(),
                at: now,
            }))
        }
    }
}

/// One question of a service's operational readiness review, with its answer if it has one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrrLine {
    pub learning: String,
    pub category: Category,
    pub question: String,
    pub answer: Option<OrrAnswer>,
}

/// `service`'s readiness-review checklist: every learning's question, answered or not, unanswered
/// first.
pub fn orr(catalog: &Catalog, service: &str) -> Vec<OrrLine> {
    let mut out: Vec<OrrLine> = catalog
        .learnings
        .iter()
        .filter_map(|l| {
            Some(OrrLine {
                learning: l.id.clone(),
                category: l.category,
                question: l.question()?.to_string(),
                answer: catalog
                    .orr_answers
                    .iter()
                    .rfind(|a| a.service == service && a.learning == l.id)
                    .cloned(),
            })
        })
        .collect();
    out.sort_by_key(|l| (l.answer.is_some(), l.learning.clone()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap()
    }

    fn caller() -> Caller {
        Caller::from_arn("arn:aws:iam::1:user/lena")
    }

    fn add(catalog: &Catalog) -> Learning {
        let command = LearningCommand::Add {
            category: "configuration".into(),
            text: "Rename a flag only with a migration".into(),
            incidents: vec![IncidentId::for_service("checkout", &crate::SignalKey::new("t", "1")).to_string()],
            shared: "the weekly operational review of 2026-W48".into(),
        };
        match decide(&command, catalog, &caller(), Utc::now()).unwrap() {
            Decided::Learning(l) => l,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_learning_climbs_from_education_to_a_question_to_a_central_change_closed_with_proof() {
        let mut c = catalog();
        let l = add(&c);
        assert_eq!((l.level(), l.steps[0].by.as_str()), (Level::Education, "lena"));
        c.learnings.push(l.clone());
        let again = decide(
            &LearningCommand::Add {
                category: "configuration".into(),
                text: "rename a flag only with a migration ".into(),
                incidents: vec![l.incidents[0].to_string()],
                shared: "somewhere else entirely".into(),
            },
            &c,
            &caller(),
            Utc::now(),
        );
        assert!(
            matches!(again, Err(Refusal::Refused(ref why)) if why.contains("already")),
            "{again:?}"
        );
        let escalate = |c: &Catalog, what: &str, owner: Option<&str>| {
            decide(
                &LearningCommand::Escalate {
                    id: l.id.clone(),
                    what: what.into(),
                    owner: owner.map(str::to_string),
                    due: None,
                },
                c,
                &caller(),
                Utc::now(),
            )
        };
        let Decided::Learning(asked) = escalate(&c, "Does every flag rename ship with a migration?", None).unwrap()
        else {
            panic!()
        };
        assert_eq!(asked.question(), Some("Does every flag rename ship with a migration?"));
        c.learnings = vec![asked];
        let refused = escalate(&c, "Flags are renamed by the platform only", None).unwrap_err();
        assert!(refused.to_string().contains("needs --owner"), "{refused}");
        let Decided::Learning(central) =
            escalate(&c, "Flags are renamed by the platform only", Some("platform-oncall")).unwrap()
        else {
            panic!()
        };
        let item = central.action().unwrap();
        assert_eq!((item.term, item.owner.as_str()), (Term::Long, "platform-oncall"));
        c.learnings = vec![central];
        assert!(escalate(&c, "anything at all here", Some("payments"))
            .unwrap_err()
            .to_string()
            .contains("nothing is above it"));
        let done = |validation: &str| {
            decide(
                &LearningCommand::Done {
                    id: l.id.clone(),
                    validation: validation.into(),
                },
                &c,
                &caller(),
                Utc::now(),
            )
        };
        assert!(done("ok").is_err(), "closed only with proof");
        let Decided::Learning(closed) = done("the platform's rename API rejects a rename without a migration").unwrap()
        else {
            panic!()
        };
        assert!(closed.action().unwrap().done.is_some());
    }

    #[test]
    fn the_catalog_as_a_file_leaves_out_what_the_command_api_keeps_and_imports_again() {
        let mut c = catalog();
        c.learnings.push(add(&c));
        assert!(c.validate().is_err(), "a file may not carry learnings");
        let file = serde_yaml::to_string(&c.as_file()).unwrap();
        let again: Catalog = serde_yaml::from_str(&file).unwrap();
        assert_eq!(again.validate(), Ok(()));
        assert!(again.learnings.is_empty());
    }

    #[test]
    fn an_owner_or_a_due_date_belongs_to_a_central_change_only() {
        let mut c = catalog();
        let l = add(&c);
        c.learnings.push(l.clone());
        let early = decide(
            &LearningCommand::Escalate {
                id: l.id.clone(),
                what: "Does every flag rename ship with a migration?".into(),
                owner: Some("payments".into()),
                due: None,
            },
            &c,
            &caller(),
            Utc::now(),
        );
        assert!(
            matches!(early, Err(Refusal::Invalid(ref why)) if why.contains("goes to distributed change next")),
            "{early:?}"
        );
    }

    #[test]
    fn every_service_answers_the_questions_and_its_checklist_shows_what_is_unanswered() {
        let mut c = catalog();
        let mut l = add(&c);
        let answer = |c: &Catalog| {
            decide(
                &LearningCommand::Answer {
                    service: "checkout".into(),
                    learning: l.id.clone(),
                    text: "Yes: the deploy pipeline checks it".into(),
                },
                c,
                &caller(),
                Utc::now(),
            )
        };
        c.learnings.push(l.clone());
        assert!(answer(&c)
            .unwrap_err()
            .to_string()
            .contains("not a readiness-review question yet"));
        l.steps.push(Step {
            level: Level::DistributedChange,
            what: "Does every flag rename ship with a migration?".into(),
            by: "lena".into(),
            by_arn: String::new(),
            at: Utc::now(),
            action: None,
        });
        c.learnings = vec![l.clone()];
        assert_eq!(orr(&c, "checkout")[0].answer, None);
        let Decided::Answer(a) = answer(&c).unwrap() else {
            panic!()
        };
        c.orr_answers.push(a);
        assert_eq!(orr(&c, "checkout")[0].answer.as_ref().unwrap().by, "lena");
        assert_eq!(orr(&c, "orders")[0].answer, None, "every service answers for itself");
    }
}
