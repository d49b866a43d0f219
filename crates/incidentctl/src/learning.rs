//! `incidentctl learning` and `incidentctl orr`: lessons and their ladder, changed through the
//! command API (`POST /learnings`), read from beside the catalog.

use crate::api::Refused;
use crate::cli::{LearningAction, Output};
use crate::context::Ctx;
use crate::render::{emit, said, table};
use anyhow::Result;
use incident_core::learning::{self, LearningCommand};

pub async fn run(ctx: &Ctx, out: Output, action: LearningAction) -> Result<()> {
    let command = match action {
        LearningAction::List => {
            let catalog = ctx.catalog.load().await?;
            return emit(out, &catalog.learnings, |ls| {
                if ls.is_empty() {
                    return "no learnings yet: incidentctl learning add\n".into();
                }
                let rows: Vec<Vec<String>> = ls
                    .iter()
                    .map(|l| {
                        vec![
                            l.id.clone(),
                            l.category.to_string(),
                            l.level().to_string(),
                            l.text.clone(),
                        ]
                    })
                    .collect();
                table(&["ID", "CATEGORY", "LEVEL", "LEARNING"], &rows)
            });
        }
        LearningAction::Show { id } => {
            let catalog = ctx.catalog.load().await?;
            let Some(l) = catalog.learnings.iter().find(|l| l.id == id) else {
                return Err(Refused::NotFound(format!("no learning {id} (incidentctl learning list)")).into());
            };
            return emit(out, l, |l| {
                let mut text = format!("{} ({}) at {}: {}\nincidents: ", l.id, l.category, l.level(), l.text);
                text.push_str(&l.incidents.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "));
                text.push('\n');
                for s in &l.steps {
                    text.push_str(&format!(
                        "{} {} by {}: {}\n",
                        s.at.format("%Y-%m-%d"),
                        s.level,
                        s.by,
                        s.what
                    ));
                    if let Some(a) = &s.action {
                        let state = match &a.done {
                            Some(v) => format!("done {} by {}: {}", v.at.format("%Y-%m-%d"), v.by, v.evidence),
                            None => format!("open, due {}", a.due.format("%Y-%m-%d")),
                        };
                        text.push_str(&format!("  action {} ({}, owner {}): {state}\n", a.id, a.term, a.owner));
                    }
                }
                text
            });
        }
        LearningAction::Add {
            category,
            incidents,
            shared,
            text,
        } => {
            let mut resolved = Vec::new();
            for typed in &incidents {
                resolved.push(ctx.resolve(typed).await?.to_string());
            }
            LearningCommand::Add {
                category,
                text,
                incidents: resolved,
                shared,
            }
        }
        LearningAction::Escalate { id, what, owner, due } => LearningCommand::Escalate {
            id,
            what,
            owner,
            due: due.as_deref().map(crate::oncall::instant).transpose()?,
        },
        LearningAction::Done { id, validation } => LearningCommand::Done { id, validation },
    };
    said(out, &ctx.api.learning(&command).await?)
}

/// `incidentctl orr SERVICE [answer LEARNING "…"]`: the service's readiness-review checklist.
pub async fn orr(ctx: &Ctx, out: Output, service: String, answer: Option<(String, String)>) -> Result<()> {
    if let Some((learning, text)) = answer {
        let command = LearningCommand::Answer {
            service,
            learning,
            text,
        };
        return said(out, &ctx.api.learning(&command).await?);
    }
    let catalog = ctx.catalog.load().await?;
    if catalog.service(&service).is_none() {
        return Err(Refused::NotFound(format!("no service {service} in the catalog")).into());
    }
    let lines = learning::orr(&catalog, &service);
    emit(out, &lines, |lines| {
        if lines.is_empty() {
            return format!("{service}'s readiness review has no questions from learnings yet\n");
        }
        let unanswered = lines.iter().filter(|l| l.answer.is_none()).count();
        let rows: Vec<Vec<String>> = lines
            .iter()
            .map(|l| {
                let answer = match &l.answer {
                    Some(a) => format!("{} ({}, {})", a.text, a.by, a.at.format("%Y-%m-%d")),
                    None => "UNANSWERED".into(),
                };
                vec![l.learning.clone(), l.question.clone(), answer]
            })
            .collect();
        format!(
            "{service}: {unanswered} of {} questions unanswered\n{}",
            lines.len(),
            table(&["LEARNING", "QUESTION", "ANSWER"], &rows)
        )
    })
}
