//! `incidentctl evidence`: what was captured, and whether it is still what was captured.

use crate::cli::{EvidenceCommand, Output};
use crate::context::Ctx;
use crate::render::{emit, table};
use anyhow::{bail, Context as _, Result};
use incident_core::command::Command;
use incident_core::evidence::{self, Finding, Manifest};
use incident_core::ports::EvidenceStore;
use incident_core::IncidentId;
use serde_json::json;
use std::collections::BTreeMap;

pub fn incident_of(command: &EvidenceCommand) -> &str {
    match command {
        EvidenceCommand::List { id }
        | EvidenceCommand::Capture { id }
        | EvidenceCommand::Get { id, .. }
        | EvidenceCommand::Verify { id, .. } => id,
    }
}

pub async fn run(ctx: &Ctx, out: Output, id: &IncidentId, command: EvidenceCommand) -> Result<()> {
    ctx.store.incident(id).await?;
    let command = match command {
        EvidenceCommand::Capture { .. } => return capture(ctx, out, id).await,
        other => other,
    };
    let manifests = manifests(ctx, id).await?;
    match command {
        EvidenceCommand::Capture { .. } => unreachable!("answered before the manifests are read"),
        EvidenceCommand::List { .. } => emit(out, &manifests, |ms| {
            if ms.is_empty() {
                return format!("no evidence captured for {id} yet\n");
            }
            let rows: Vec<Vec<String>> = ms
                .iter()
                .map(|m| {
                    let objects: Vec<String> = m
                        .objects
                        .iter()
                        .map(|o| {
                            format!(
                                "{}:{}{}",
                                o.source,
                                o.items,
                                if o.truncated { "(truncated)" } else { "" }
                            )
                        })
                        .collect();
                    let failed: Vec<&str> = m.errors.iter().map(|e| e.source.as_str()).collect();
                    vec![
                        m.capture.clone(),
                        format!(
                            "{} → {}",
                            m.window.from.format("%m-%d %H:%M"),
                            m.window.to.format("%m-%d %H:%M")
                        ),
                        objects.join(" "),
                        if failed.is_empty() {
                            "-".into()
                        } else {
                            failed.join(",")
                        },
                    ]
                })
                .collect();
            table(&["CAPTURE", "WINDOW (UTC)", "OBJECTS (items)", "FAILED"], &rows)
        }),
        EvidenceCommand::Get { capture, source, .. } => {
            let manifest = pick(&manifests, capture.as_deref())?;
            match source {
                None => emit(out, manifest, |m| {
                    serde_json::to_string_pretty(m).unwrap_or_default() + "\n"
                }),
                Some(source) => {
                    let key = evidence::object_key(id, &manifest.capture, &source);
                    let bytes = ctx
                        .evidence
                        .get(&key)
                        .await?
                        .with_context(|| format!("{key} is missing"))?;
                    print!("{}", String::from_utf8_lossy(&bytes));
                    Ok(())
                }
            }
        }
        EvidenceCommand::Verify { capture, .. } => {
            let chosen: Vec<&Manifest> = match capture.as_deref() {
                Some(c) => vec![pick(&manifests, Some(c))?],
                None => manifests.iter().collect(),
            };
            if chosen.is_empty() {
                bail!("no evidence captured for {id} yet");
            }
            let mut findings = Vec::new();
            for m in chosen {
                let mut stored = BTreeMap::new();
                for o in &m.objects {
                    stored.insert(o.key.clone(), ctx.evidence.get(&o.key).await?);
                }
                findings.extend(evidence::verify(m, &stored));
            }
            let broken = findings.iter().filter(|f| !f.is_intact()).count();
            emit(out, &json!({ "intact": broken == 0, "findings": findings }), |_| {
                let rows: Vec<Vec<String>> = findings
                    .iter()
                    .map(|f| match f {
                        Finding::Intact { key } => vec!["intact".into(), key.clone()],
                        Finding::Changed { key, expected, actual } => {
                            vec!["CHANGED".into(), format!("{key} (manifest {expected}, now {actual})")]
                        }
                        Finding::Missing { key } => vec!["MISSING".into(), key.clone()],
                    })
                    .collect();
                table(&["STATUS", "OBJECT"], &rows)
            })?;
            if broken > 0 {
                bail!("{broken} evidence object(s) changed or missing since capture");
            }
            Ok(())
        }
    }
}

/// Every capture's manifest, oldest first.
async fn manifests(ctx: &Ctx, id: &IncidentId) -> Result<Vec<Manifest>> {
    Ok(incident_core::ports::manifests(&ctx.evidence, id).await?)
}

fn pick<'a>(manifests: &'a [Manifest], capture: Option<&str>) -> Result<&'a Manifest> {
    match capture {
        Some(c) => manifests
            .iter()
            .find(|m| m.capture == c)
            .with_context(|| format!("no capture named {c}")),
        None => manifests.last().context("no evidence captured yet"),
    }
}

/// The final capture, run now through the command API by the capture-evidence function itself
/// (it records it for the closing checklist).
async fn capture(ctx: &Ctx, out: Output, id: &IncidentId) -> Result<()> {
    let captured = ctx.api.command(id, &Command::CaptureEvidence).await?.data;
    emit(out, &captured, |c| {
        format!(
            "captured {} ({} objects{}): {}\n",
            c["capture"].as_str().unwrap_or("?"),
            c["objects"],
            match c["failed_sources"].as_array() {
                Some(f) if !f.is_empty() => format!(
                    "; FAILED: {}",
                    f.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ),
                _ => String::new(),
            },
            c["manifest"].as_str().unwrap_or("?")
        )
    })
}
