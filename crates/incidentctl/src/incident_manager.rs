//! `incidentctl import incident-manager`: a way in from AWS Systems Manager Incident Manager. It
//! reads response plans (`ssm-incidents`) and contacts, their channels, on-call schedules with
//! their rotations, and escalation plans (`ssm-contacts`), and writes the catalog's equivalent:
//! people, each response plan a team with its rotations, escalation plan and chat channel, merged
//! into a catalog file. What has no equivalent is said, one line each, never dropped silently.

use crate::cli::Output;
use anyhow::{Context as _, Result};
use aws_sdk_ssmcontacts::types::{ChannelType, ContactType, RecurrenceSettings};
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use incident_core::catalog::{Catalog, Team};
use incident_core::chat::ChatChannel;
use incident_core::oncall::{Hours, Person, Rotation, Stage};
use std::collections::BTreeMap;
use std::path::Path;

/// What Incident Manager holds, read whole, in plain terms.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub contacts: Vec<Contact>,
    pub rotations: Vec<ImRotation>,
    pub plans: Vec<ResponsePlan>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Contact {
    pub arn: String,
    pub alias: String,
    pub kind: ContactType,
    /// Escalation plans: each stage's wait and the contacts (ARNs) it engages.
    pub stages: Vec<(i32, Vec<String>)>,
    /// On-call schedules: their rotations (ARNs).
    pub rotation_ids: Vec<String>,
    pub channels: Vec<(ChannelType, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ImRotation {
    pub arn: String,
    pub name: String,
    pub contact_arns: Vec<String>,
    pub start: Option<DateTime<Utc>>,
    pub time_zone: String,
    pub recurrence: Option<RecurrenceSettings>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResponsePlan {
    pub name: String,
    pub display_name: Option<String>,
    pub engagements: Vec<String>,
    pub chat_topics: Vec<String>,
}

fn time_of(at: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(at.secs(), at.subsec_nanos())
}

/// Reads everything through the two APIs (every page of every list).
pub async fn read(
    contacts: &aws_sdk_ssmcontacts::Client,
    incidents: &aws_sdk_ssmincidents::Client,
) -> Result<Snapshot> {
    let mut snapshot = Snapshot::default();
    let mut pages = contacts.list_contacts().into_paginator().send();
    while let Some(page) = pages.next().await {
        for c in page.context("ssm-contacts ListContacts")?.contacts() {
            let got = contacts
                .get_contact()
                .contact_id(c.contact_arn())
                .send()
                .await
                .with_context(|| format!("ssm-contacts GetContact {}", c.contact_arn()))?;
            let plan = got.plan();
            let stages = plan
                .map(|p| {
                    p.stages()
                        .iter()
                        .map(|s| {
                            let targets = s
                                .targets()
                                .iter()
                                .filter_map(|t| t.contact_target_info()?.contact_id().map(str::to_string))
                                .collect();
                            (s.duration_in_minutes(), targets)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut channels = Vec::new();
            if *got.r#type() == ContactType::Personal {
                let mut listed = contacts
                    .list_contact_channels()
                    .contact_id(c.contact_arn())
                    .into_paginator()
                    .send();
                while let Some(page) = listed.next().await {
                    for ch in page.context("ssm-contacts ListContactChannels")?.contact_channels() {
                        if let (Some(kind), Some(address)) =
                            (ch.r#type(), ch.delivery_address().and_then(|a| a.simple_address()))
                        {
                            channels.push((kind.clone(), address.to_string()));
                        }
                    }
                }
            }
            snapshot.contacts.push(Contact {
                arn: got.contact_arn().to_string(),
                alias: got.alias().to_string(),
                kind: got.r#type().clone(),
                stages,
                rotation_ids: plan.map(|p| p.rotation_ids().to_vec()).unwrap_or_default(),
                channels,
            });
        }
    }
    let mut pages = contacts.list_rotations().into_paginator().send();
    while let Some(page) = pages.next().await {
        for r in page.context("ssm-contacts ListRotations")?.rotations() {
            snapshot.rotations.push(ImRotation {
                arn: r.rotation_arn().to_string(),
                name: r.name().to_string(),
                contact_arns: r.contact_ids().to_vec(),
                start: r.start_time().and_then(time_of),
                time_zone: r.time_zone_id().unwrap_or("UTC").to_string(),
                recurrence: r.recurrence().cloned(),
            });
        }
    }
    let mut pages = incidents.list_response_plans().into_paginator().send();
    while let Some(page) = pages.next().await {
        for p in page
            .context("ssm-incidents ListResponsePlans")?
            .response_plan_summaries()
        {
            let got = incidents
                .get_response_plan()
                .arn(p.arn())
                .send()
                .await
                .with_context(|| format!("ssm-incidents GetResponsePlan {}", p.arn()))?;
            let chat_topics = got
                .chat_channel()
                .and_then(|c| c.as_chatbot_sns().ok())
                .cloned()
                .unwrap_or_default();
            snapshot.plans.push(ResponsePlan {
                name: got.name().to_string(),
                display_name: got.display_name().map(str::to_string),
                engagements: got.engagements().to_vec(),
                chat_topics,
            });
        }
    }
    Ok(snapshot)
}

/// A rotation's recurrence as shifts: hours per shift, the hand-off time and the weekday the
/// first shift starts on (weekly), or why it cannot be said exactly.
fn shifts(r: &RecurrenceSettings) -> (u32, (i32, i32), Option<chrono::Weekday>, Vec<String>) {
    let mut notes = Vec::new();
    let every = r.recurrence_multiplier().max(1) as u32;
    if r.number_of_on_calls() > 1 {
        notes.push(format!(
            "{} people on call at once: the catalog puts one on call per layer",
            r.number_of_on_calls()
        ));
    }
    let time = |h: Option<&aws_sdk_ssmcontacts::types::HandOffTime>| h.map(|h| (h.hour_of_day(), h.minute_of_hour()));
    if let Some(w) = r.weekly_settings().first() {
        if r.weekly_settings().len() > 1 {
            notes.push("several weekly hand-offs: the first is kept".into());
        }
        let day = match w.day_of_week().as_str() {
            "MON" => chrono::Weekday::Mon,
            "TUE" => chrono::Weekday::Tue,
            "WED" => chrono::Weekday::Wed,
            "THU" => chrono::Weekday::Thu,
            "FRI" => chrono::Weekday::Fri,
            "SAT" => chrono::Weekday::Sat,
            _ => chrono::Weekday::Sun,
        };
        return (168 * every, time(w.hand_off_time()).unwrap_or((9, 0)), Some(day), notes);
    }
    if let Some(d) = r.daily_settings().first() {
        if r.daily_settings().len() > 1 {
            notes.push("several daily hand-offs: the first is kept".into());
        }
        return (24 * every, (d.hour_of_day(), d.minute_of_hour()), None, notes);
    }
    if let Some(m) = r.monthly_settings().first() {
        notes.push(format!(
            "monthly hand-offs (day {}) have no equivalent: written as four-week shifts",
            m.day_of_month()
        ));
        return (24 * 28, time(m.hand_off_time()).unwrap_or((9, 0)), None, notes);
    }
    notes.push("no recurrence: written as weekly shifts".into());
    (168, (9, 0), None, notes)
}

/// The hours a rotation covers, when every day it covers has the same single window.
fn hours(r: &RecurrenceSettings, notes: &mut Vec<String>) -> Option<Hours> {
    let coverages = r.shift_coverages()?;
    let windows: Vec<(String, String)> = coverages
        .values()
        .flatten()
        .filter_map(|c| {
            let hhmm = |h: &aws_sdk_ssmcontacts::types::HandOffTime| {
                format!("{:02}:{:02}", h.hour_of_day(), h.minute_of_hour())
            };
            Some((hhmm(c.start()?), hhmm(c.end()?)))
        })
        .collect();
    let mut windows = windows;
    windows.sort();
    let first = windows.first()?.clone();
    if coverages.len() < 7 || windows.iter().any(|w| *w != first) {
        notes.push("coverage differs by day: the first day's hours are kept for every day".into());
    }
    Some(Hours {
        from: first.0,
        to: first.1,
    })
}

/// Incident Manager's setup as catalog entries, merged into `base` (a person or team of the same
/// name is replaced in what Incident Manager says of it, and keeps the rest), with what could not
/// be carried over exactly.
pub fn to_catalog(snapshot: &Snapshot, base: &Catalog) -> (Catalog, Vec<String>) {
    let mut notes = Vec::new();
    let mut catalog = base.clone();
    let alias: BTreeMap<&str, &Contact> = snapshot.contacts.iter().map(|c| (c.arn.as_str(), c)).collect();
    let name_of = |arn: &str| alias.get(arn).map(|c| c.alias.clone());
    let rotation_of: BTreeMap<&str, &ImRotation> = snapshot.rotations.iter().map(|r| (r.arn.as_str(), r)).collect();

    for c in snapshot.contacts.iter().filter(|c| c.kind == ContactType::Personal) {
        let channel = |kind: ChannelType| c.channels.iter().find(|(k, _)| *k == kind).map(|(_, a)| a.clone());
        let previous = catalog.person(&c.alias).cloned();
        let kept = |f: fn(&Person) -> Option<String>| previous.as_ref().and_then(f);
        let zone = snapshot
            .rotations
            .iter()
            .find(|r| r.contact_arns.contains(&c.arn))
            .map(|r| r.time_zone.clone())
            .or(previous.as_ref().map(|p| p.time_zone.clone()));
        if zone.is_none() {
            notes.push(format!("{}: in no rotation, so no time zone: UTC written", c.alias));
        }
        let person = Person {
            name: c.alias.clone(),
            email: channel(ChannelType::Email).or(kept(|p| p.email.clone())),
            sms: channel(ChannelType::Sms).or(kept(|p| p.sms.clone())),
            voice: channel(ChannelType::Voice).or(kept(|p| p.voice.clone())),
            chat: kept(|p| p.chat.clone()),
            time_zone: zone.unwrap_or_else(|| "UTC".into()),
            iam: kept(|p| p.iam.clone()),
        };
        if person.sms.is_none() {
            notes.push(format!("{}: no SMS channel, so they cannot be texted", c.alias));
        }
        catalog.people.retain(|p| p.name != person.name);
        catalog.people.push(person);
    }

    // An on-call schedule is a layer: its rotations, named after it.
    let layer_rotations = |schedule: &Contact, notes: &mut Vec<String>| -> Vec<Rotation> {
        let mut out = Vec::new();
        for id in &schedule.rotation_ids {
            let Some(r) = rotation_of.get(id.as_str()) else {
                notes.push(format!("{}: rotation {id} not found", schedule.alias));
                continue;
            };
            let (shift_hours, (h, m), weekday, mut said) = match &r.recurrence {
                Some(rec) => shifts(rec),
                None => (
                    168,
                    (9, 0),
                    None,
                    vec!["no recurrence: written as weekly shifts".to_string()],
                ),
            };
            let hours = r.recurrence.as_ref().and_then(|rec| hours(rec, &mut said));
            // The first contact holds the rotation from its start: member 0's shift is the one
            // the start falls in, which began at the latest hand-off at or before it.
            let zone: chrono_tz::Tz = r.time_zone.parse().unwrap_or(chrono_tz::UTC);
            let local = r.start.unwrap_or_else(Utc::now).with_timezone(&zone).naive_local();
            let handoff =
                chrono::NaiveTime::from_hms_opt(h.clamp(0, 23) as u32, m.clamp(0, 59) as u32, 0).unwrap_or_default();
            let mut start: NaiveDate = local.date();
            if let Some(day) = weekday {
                while start.weekday() != day {
                    start -= TimeDelta::days(1);
                }
            }
            if start.and_time(handoff) > local {
                start -= TimeDelta::days(if weekday.is_some() { 7 } else { 1 });
            }
            notes.extend(said.into_iter().map(|n| format!("rotation {}: {n}", r.name)));
            out.push(Rotation {
                name: r.name.clone(),
                layer: Some(schedule.alias.clone()),
                members: r.contact_arns.iter().filter_map(|a| name_of(a)).collect(),
                shift_hours,
                handoff: format!("{h:02}:{m:02}"),
                time_zone: r.time_zone.clone(),
                start,
                hours,
            });
        }
        out
    };

    for plan in &snapshot.plans {
        let mut rotations = Vec::new();
        let mut escalation = Vec::new();
        let entry = |arn: &str, rotations: &mut Vec<Rotation>, notes: &mut Vec<String>| -> Option<String> {
            let c = alias.get(arn)?;
            match c.kind {
                ContactType::Escalation => {
                    notes.push(format!(
                        "response plan {}: escalation plan {} is a stage of another: engage its contacts instead",
                        plan.name, c.alias
                    ));
                    return None;
                }
                ContactType::OncallSchedule if !rotations.iter().any(|r: &Rotation| r.layer() == c.alias) => {
                    rotations.extend(layer_rotations(c, notes));
                }
                _ => {}
            }
            Some(c.alias.clone())
        };
        // Incident Manager engages a plan's engagements at once: the contacts and schedules it
        // names directly, and stage 1 of each escalation plan, then each plan's next stages side by
        // side. A stage of 0 minutes engages the next at once: it joins the next.
        for arn in &plan.engagements {
            match alias.get(arn.as_str()) {
                Some(c) if c.kind == ContactType::Escalation => {
                    let mut index = 0;
                    for (n, (wait, targets)) in c.stages.iter().enumerate() {
                        if escalation.len() <= index {
                            escalation.push(Stage {
                                page: Vec::new(),
                                wait_minutes: None,
                            });
                        }
                        let stage = &mut escalation[index];
                        for t in targets {
                            match entry(t, &mut rotations, &mut notes) {
                                Some(name) if !stage.page.contains(&name) => stage.page.push(name),
                                Some(_) => {}
                                None if !alias.contains_key(t.as_str()) => notes.push(format!(
                                    "escalation plan {}: stage {}: target {t} is not a contact (a contact channel?): not carried over",
                                    c.alias,
                                    n + 1
                                )),
                                None => {}
                            }
                        }
                        let last = n + 1 == c.stages.len();
                        if *wait > 0 && !last {
                            let wait = *wait as u32;
                            stage.wait_minutes = Some(stage.wait_minutes.map_or(wait, |w| w.min(wait)));
                            index += 1;
                        }
                    }
                }
                Some(_) => {
                    if let Some(name) = entry(arn, &mut rotations, &mut notes) {
                        if escalation.is_empty() {
                            escalation.push(Stage {
                                page: Vec::new(),
                                wait_minutes: None,
                            });
                        }
                        if !escalation[0].page.contains(&name) {
                            escalation[0].page.push(name);
                        }
                    }
                }
                None => notes.push(format!("response plan {}: engagement {arn} not found", plan.name)),
            }
        }
        escalation.retain(|s| !s.page.is_empty());
        if plan.chat_topics.len() > 1 {
            notes.push(format!(
                "response plan {}: several chat topics, the first is kept",
                plan.name
            ));
        }
        let chat = plan.chat_topics.first().map(|topic| ChatChannel {
            topic: topic.clone(),
            channel: plan.display_name.clone().unwrap_or_else(|| plan.name.clone()),
        });
        let previous = catalog.team(&plan.name).cloned();
        let team = Team {
            name: plan.name.clone(),
            notification_target: previous.as_ref().and_then(|t| t.notification_target.clone()),
            members: previous.as_ref().map(|t| t.members.clone()).unwrap_or_default(),
            rotations,
            escalation,
            chat: chat.or(previous.and_then(|t| t.chat)),
        };
        catalog.teams.retain(|t| t.name != team.name);
        catalog.teams.push(team);
    }
    (catalog, notes)
}

/// A line diff of two texts (`-` removed, `+` added, two lines of context around each change).
pub fn diff(old: &str, new: &str) -> String {
    let (old, new): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    // What both share at the start and the end is not compared line by line.
    let head = old.iter().zip(&new).take_while(|(x, y)| x == y).count();
    let tail = old[head..]
        .iter()
        .rev()
        .zip(new[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&old[head..old.len() - tail], &new[head..new.len() - tail]);
    // Longest common subsequence, table from the end.
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut lines: Vec<(char, &str)> = old[head.saturating_sub(2)..head].iter().map(|l| (' ', *l)).collect();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push((' ', a[i]));
            (i, j) = (i + 1, j + 1);
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            lines.push(('+', b[j]));
            j += 1;
        } else {
            lines.push(('-', a[i]));
            i += 1;
        }
    }
    lines.extend(old[old.len() - tail..].iter().take(2).map(|l| (' ', *l)));
    let near = |k: usize| {
        lines[k.saturating_sub(2)..(k + 3).min(lines.len())]
            .iter()
            .any(|(c, _)| *c != ' ')
    };
    lines
        .iter()
        .enumerate()
        .filter(|(k, _)| near(*k))
        .map(|(_, (c, l))| format!("{c} {l}\n"))
        .collect()
}

/// Reads Incident Manager, merges it into `file` and writes it (or, with `dry_run`, prints what
/// would change). The catalog is written as YAML without the file's comments.
pub async fn import(out: Output, config: &aws_config::SdkConfig, file: &Path, dry_run: bool) -> Result<()> {
    let before = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    };
    let base: Catalog = if before.trim().is_empty() {
        Catalog::default()
    } else {
        serde_yaml::from_str(&before).with_context(|| format!("{} is not a valid catalog", file.display()))?
    };
    let snapshot = read(
        &aws_sdk_ssmcontacts::Client::new(config),
        &aws_sdk_ssmincidents::Client::new(config),
    )
    .await?;
    let (catalog, notes) = to_catalog(&snapshot, &base);
    let after = serde_yaml::to_string(&catalog)?;
    let problems = catalog.validate().err().map(|e| e.0).unwrap_or_default();
    let summary = serde_json::json!({
        "file": file.display().to_string(),
        "people": snapshot.contacts.iter().filter(|c| c.kind == ContactType::Personal).count(),
        "teams": snapshot.plans.len(),
        "rotations": snapshot.rotations.len(),
        "notes": notes,
        "problems": problems,
        "written": !dry_run,
    });
    if !dry_run {
        std::fs::write(file, &after).with_context(|| format!("cannot write {}", file.display()))?;
    }
    crate::render::emit(out, &summary, |_| {
        let mut text = if dry_run { diff(&before, &after) } else { String::new() };
        text.push_str(&format!(
            "{} {}: {} people, {} teams from response plans, {} rotations{}\n",
            if dry_run { "would write" } else { "wrote" },
            file.display(),
            summary["people"],
            summary["teams"],
            summary["rotations"],
            if dry_run { " (dry run: nothing written)" } else { "" }
        ));
        for n in &notes {
            text.push_str(&format!("note: {n}\n"));
        }
        for p in &problems {
            text.push_str(&format!("to fix before `catalog import`: {p}\n"));
        }
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ssmcontacts::operation::get_contact::{GetContactInput, GetContactOutput};
    use aws_sdk_ssmcontacts::operation::list_contact_channels::{ListContactChannelsInput, ListContactChannelsOutput};
    use aws_sdk_ssmcontacts::operation::list_contacts::ListContactsOutput;
    use aws_sdk_ssmcontacts::operation::list_rotations::ListRotationsOutput;
    use aws_sdk_ssmcontacts::types as c;
    use aws_sdk_ssmincidents::operation::get_response_plan::GetResponsePlanOutput;
    use aws_sdk_ssmincidents::operation::list_response_plans::ListResponsePlansOutput;
    use aws_sdk_ssmincidents::types as i;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    const ACCOUNT: &str = "arn:aws:ssm-contacts:us-east-1:111122223333:contact";

    fn arn(alias: &str) -> String {
        format!("{ACCOUNT}/{alias}")
    }

    fn contact(alias: &str, kind: c::ContactType) -> c::Contact {
        c::Contact::builder()
            .contact_arn(arn(alias))
            .alias(alias)
            .r#type(kind)
            .build()
            .unwrap()
    }

    fn hand_off(h: i32, m: i32) -> c::HandOffTime {
        c::HandOffTime::builder().hour_of_day(h).minute_of_hour(m).build()
    }

    fn target(alias: &str) -> c::Target {
        c::Target::builder()
            .contact_target_info(
                c::ContactTargetInfo::builder()
                    .contact_id(arn(alias))
                    .is_essential(false)
                    .build()
                    .unwrap(),
            )
            .build()
    }

    /// Incident Manager as the two APIs answer: ana and bilal with their channels; a follow-the-
    /// sun on-call schedule of two rotations; an escalation plan (the schedule, then bilal); and a
    /// response plan that engages it with a chat channel.
    fn clients() -> (aws_sdk_ssmcontacts::Client, aws_sdk_ssmincidents::Client) {
        let list = mock!(aws_sdk_ssmcontacts::Client::list_contacts).then_output(|| {
            ListContactsOutput::builder()
                .contacts(contact("ana", c::ContactType::Personal))
                .contacts(contact("bilal", c::ContactType::Personal))
                .contacts(contact("payments-oncall", c::ContactType::OncallSchedule))
                .contacts(contact("payments-escalation", c::ContactType::Escalation))
                .build()
        });
        let get = |alias: &'static str, kind: c::ContactType, plan: c::Plan| {
            mock!(aws_sdk_ssmcontacts::Client::get_contact)
                .match_requests(move |r: &GetContactInput| r.contact_id() == Some(arn(alias).as_str()))
                .then_output(move || {
                    GetContactOutput::builder()
                        .contact_arn(arn(alias))
                        .alias(alias)
                        .r#type(kind.clone())
                        .plan(plan.clone())
                        .build()
                        .unwrap()
                })
        };
        let empty = || c::Plan::builder().build();
        let get_ana = get("ana", c::ContactType::Personal, empty());
        let get_bilal = get("bilal", c::ContactType::Personal, empty());
        let get_schedule = get(
            "payments-oncall",
            c::ContactType::OncallSchedule,
            c::Plan::builder()
                .rotation_ids(format!("{ACCOUNT}/../rotation/emea"))
                .rotation_ids(format!("{ACCOUNT}/../rotation/amer"))
                .build(),
        );
        let get_escalation = get(
            "payments-escalation",
            c::ContactType::Escalation,
            c::Plan::builder()
                .stages(
                    c::Stage::builder()
                        .duration_in_minutes(5)
                        .targets(target("payments-oncall"))
                        .build()
                        .unwrap(),
                )
                .stages(
                    c::Stage::builder()
                        .duration_in_minutes(10)
                        .targets(target("bilal"))
                        .build()
                        .unwrap(),
                )
                .build(),
        );
        let channels = |alias: &'static str, sms: &'static str| {
            mock!(aws_sdk_ssmcontacts::Client::list_contact_channels)
                .match_requests(move |r: &ListContactChannelsInput| r.contact_id() == Some(arn(alias).as_str()))
                .then_output(move || {
                    let channel = |kind: c::ChannelType, address: &str| {
                        c::ContactChannel::builder()
                            .contact_channel_arn(format!("{}/{address}", arn(alias)))
                            .contact_arn(arn(alias))
                            .name(kind.as_str())
                            .r#type(kind)
                            .delivery_address(c::ContactChannelAddress::builder().simple_address(address).build())
                            .activation_status(c::ActivationStatus::Activated)
                            .build()
                            .unwrap()
                    };
                    ListContactChannelsOutput::builder()
                        .contact_channels(channel(c::ChannelType::Sms, sms))
                        .contact_channels(channel(c::ChannelType::Email, &format!("{alias}@example.com")))
                        .build()
                        .unwrap()
                })
        };
        let ana_channels = channels("ana", "+15555550101");
        let bilal_channels = channels("bilal", "+15555550102");
        let rotations = mock!(aws_sdk_ssmcontacts::Client::list_rotations).then_output(|| {
            let coverage = |from: (i32, i32), to: (i32, i32)| {
                let window = c::CoverageTime::builder()
                    .start(hand_off(from.0, from.1))
                    .end(hand_off(to.0, to.1))
                    .build();
                [
                    c::DayOfWeek::Mon,
                    c::DayOfWeek::Tue,
                    c::DayOfWeek::Wed,
                    c::DayOfWeek::Thu,
                    c::DayOfWeek::Fri,
                    c::DayOfWeek::Sat,
                    c::DayOfWeek::Sun,
                ]
                .into_iter()
                .map(|d| (d, vec![window.clone()]))
                .collect()
            };
            let rotation = |name: &str, zone: &str, members: &[&str], from, to| {
                c::Rotation::builder()
                    .rotation_arn(format!("{ACCOUNT}/../rotation/{name}"))
                    .name(name)
                    .set_contact_ids(Some(members.iter().map(|m| arn(m)).collect()))
                    .start_time(aws_smithy_types::DateTime::from_secs(1_764_576_000)) // 2025-12-01 08:00 UTC
                    .time_zone_id(zone)
                    .recurrence(
                        c::RecurrenceSettings::builder()
                            .weekly_settings(
                                c::WeeklySetting::builder()
                                    .day_of_week(c::DayOfWeek::Mon)
                                    .hand_off_time(hand_off(9, 0))
                                    .build()
                                    .unwrap(),
                            )
                            .number_of_on_calls(1)
                            .recurrence_multiplier(1)
                            .set_shift_coverages(Some(coverage(from, to)))
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap()
            };
            ListRotationsOutput::builder()
                .rotations(rotation("emea", "Europe/Dublin", &["ana", "bilal"], (7, 0), (19, 0)))
                .rotations(rotation(
                    "amer",
                    "America/Los_Angeles",
                    &["bilal", "ana"],
                    (10, 0),
                    (0, 0),
                ))
                .build()
                .unwrap()
        });
        let plans = mock!(aws_sdk_ssmincidents::Client::list_response_plans).then_output(|| {
            ListResponsePlansOutput::builder()
                .response_plan_summaries(
                    i::ResponsePlanSummary::builder()
                        .arn("arn:aws:ssm-incidents::111122223333:response-plan/payments")
                        .name("payments")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        });
        let plan = mock!(aws_sdk_ssmincidents::Client::get_response_plan).then_output(|| {
            GetResponsePlanOutput::builder()
                .arn("arn:aws:ssm-incidents::111122223333:response-plan/payments")
                .name("payments")
                .display_name("#payments-oncall")
                .incident_template(
                    i::IncidentTemplate::builder()
                        .title("payments")
                        .impact(3)
                        .build()
                        .unwrap(),
                )
                .engagements(arn("payments-escalation"))
                .chat_channel(i::ChatChannel::ChatbotSns(vec![
                    "arn:aws:sns:us-east-1:111122223333:payments-chat".into(),
                ]))
                .build()
                .unwrap()
        });
        let contacts = mock_client!(
            aws_sdk_ssmcontacts,
            RuleMode::MatchAny,
            [
                &list,
                &get_ana,
                &get_bilal,
                &get_schedule,
                &get_escalation,
                &ana_channels,
                &bilal_channels,
                &rotations
            ]
        );
        let incidents = mock_client!(aws_sdk_ssmincidents, RuleMode::MatchAny, [&plans, &plan]);
        (contacts, incidents)
    }

    #[tokio::test]
    async fn incident_managers_contacts_schedules_and_plans_become_people_rotations_and_a_team() {
        let (contacts, incidents) = clients();
        let snapshot = read(&contacts, &incidents).await.unwrap();
        assert_eq!(snapshot.contacts.len(), 4);
        let base: Catalog = serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap();
        let (catalog, notes) = to_catalog(&snapshot, &base);

        let ana = catalog.person("ana").unwrap();
        assert_eq!(ana.sms.as_deref(), Some("+15555550101"));
        assert_eq!(ana.email.as_deref(), Some("ana@example.com"));
        assert_eq!(ana.time_zone, "Europe/Dublin", "from her first rotation");
        assert_eq!(
            ana.iam.as_deref(),
            Some("ana"),
            "what Incident Manager does not know is kept"
        );

        let team = catalog.team("payments").unwrap();
        assert!(team.notification_target.is_some(), "the team's topic is kept");
        let names: Vec<(&str, Option<&str>, &str)> = team
            .rotations
            .iter()
            .map(|r| (r.name.as_str(), r.layer.as_deref(), r.handoff.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("emea", Some("payments-oncall"), "09:00"),
                ("amer", Some("payments-oncall"), "09:00")
            ]
        );
        let emea = &team.rotations[0];
        assert_eq!(
            (emea.shift_hours, emea.members.clone()),
            (168, vec!["ana".to_string(), "bilal".into()])
        );
        assert_eq!(emea.start.weekday(), chrono::Weekday::Mon);
        assert_eq!(
            emea.hours.as_ref().map(|h| (h.from.as_str(), h.to.as_str())),
            Some(("07:00", "19:00"))
        );
        let stages: Vec<(Vec<String>, Option<u32>)> = team
            .escalation
            .iter()
            .map(|s| (s.page.clone(), s.wait_minutes))
            .collect();
        assert_eq!(
            stages,
            [
                (vec!["payments-oncall".to_string()], Some(5)),
                (vec!["bilal".into()], None)
            ]
        );
        let chat = team.chat.as_ref().unwrap();
        assert_eq!(
            (chat.topic.as_str(), chat.channel.as_str()),
            ("arn:aws:sns:us-east-1:111122223333:payments-chat", "#payments-oncall")
        );
        assert!(notes.is_empty(), "{notes:?}");
        // The file's override names payments' old layer: the import says so before any import.
        let problems = catalog.validate().unwrap_err().0;
        assert_eq!(
            problems,
            ["override of team 'payments' by 'chen': 'primary' is not a layer of its rotations"]
        );

        // The dry run's diff names what changes, and only that.
        let before = serde_yaml::to_string(&base).unwrap();
        let after = serde_yaml::to_string(&catalog).unwrap();
        let d = diff(&before, &after);
        assert!(d.contains("+ ") && d.contains("payments-oncall"), "{d}");
        assert!(
            !d.contains("checkout-api-fn"),
            "unchanged services are not in the diff: {d}"
        );
        assert_eq!(diff(&before, &before), "");
    }

    #[test]
    fn a_plans_engagements_start_together_and_their_stages_run_side_by_side() {
        let person = |alias: &str| Contact {
            arn: arn(alias),
            alias: alias.into(),
            kind: c::ContactType::Personal,
            stages: Vec::new(),
            rotation_ids: Vec::new(),
            channels: vec![(c::ChannelType::Sms, "+15555550100".into())],
        };
        let plan = |alias: &str, stages: Vec<(i32, Vec<String>)>| Contact {
            kind: c::ContactType::Escalation,
            stages,
            channels: Vec::new(),
            ..person(alias)
        };
        let snapshot = Snapshot {
            contacts: vec![
                person("ana"),
                person("bilal"),
                person("chen"),
                person("dara"),
                // A 0-minute stage engages the next at once: ana and bilal together.
                plan(
                    "first",
                    vec![(0, vec![arn("ana")]), (10, vec![arn("bilal")]), (5, vec![arn("chen")])],
                ),
                plan("second", vec![(15, vec![arn("dara")]), (5, vec![arn("first")])]),
            ],
            rotations: Vec::new(),
            plans: vec![ResponsePlan {
                name: "payments".into(),
                display_name: None,
                engagements: vec![arn("first"), arn("second"), arn("kai-is-gone"), arn("chen")],
                chat_topics: Vec::new(),
            }],
        };
        let base: Catalog = serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap();
        let (catalog, notes) = to_catalog(&snapshot, &base);
        let stages: Vec<(Vec<String>, Option<u32>)> = catalog
            .team("payments")
            .unwrap()
            .escalation
            .iter()
            .map(|s| (s.page.clone(), s.wait_minutes))
            .collect();
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            stages,
            [
                (names(&["ana", "bilal", "dara", "chen"]), Some(10)),
                (names(&["chen"]), None)
            ],
            "stage 1 of both plans and the direct contact at once, the shorter wait first"
        );
        assert!(
            notes
                .iter()
                .any(|n| n.contains("escalation plan first is a stage of another")),
            "{notes:?}"
        );
        assert!(notes.iter().any(|n| n.contains("kai-is-gone not found")), "{notes:?}");
        // What Incident Manager does not say is kept from the file.
        let ana = catalog.person("ana").unwrap();
        assert_eq!(
            (ana.time_zone.as_str(), ana.email.as_deref()),
            ("Europe/Lisbon", Some("ana@example.com"))
        );
    }

    #[test]
    fn the_first_contacts_shift_is_the_one_the_rotation_starts_in() {
        // Weekly hand-offs on Monday 09:00; the rotation starts on Wednesday: the first contact
        // holds the shift that began the Monday before.
        let weekly = c::RecurrenceSettings::builder()
            .weekly_settings(
                c::WeeklySetting::builder()
                    .day_of_week(c::DayOfWeek::Mon)
                    .hand_off_time(hand_off(9, 0))
                    .build()
                    .unwrap(),
            )
            .number_of_on_calls(1)
            .recurrence_multiplier(1)
            .build()
            .unwrap();
        let schedule = Contact {
            arn: arn("oncall"),
            alias: "oncall".into(),
            kind: c::ContactType::OncallSchedule,
            stages: Vec::new(),
            rotation_ids: vec!["r".into()],
            channels: Vec::new(),
        };
        let snapshot = Snapshot {
            contacts: vec![schedule],
            rotations: vec![ImRotation {
                arn: "r".into(),
                name: "r".into(),
                contact_arns: Vec::new(),
                start: Some("2026-12-02T12:00:00Z".parse().unwrap()),
                time_zone: "UTC".into(),
                recurrence: Some(weekly),
            }],
            plans: vec![ResponsePlan {
                name: "t".into(),
                display_name: None,
                engagements: vec![arn("oncall")],
                chat_topics: Vec::new(),
            }],
        };
        let base: Catalog = serde_yaml::from_str("{}").unwrap();
        let (catalog, _) = to_catalog(&snapshot, &base);
        let r = &catalog.team("t").unwrap().rotations[0];
        assert_eq!(r.start, "2026-11-30".parse::<NaiveDate>().unwrap());
    }

    #[test]
    fn what_has_no_equivalent_is_said() {
        let monthly = c::RecurrenceSettings::builder()
            .monthly_settings(
                c::MonthlySetting::builder()
                    .day_of_month(1)
                    .hand_off_time(hand_off(9, 0))
                    .build()
                    .unwrap(),
            )
            .number_of_on_calls(2)
            .recurrence_multiplier(1)
            .build()
            .unwrap();
        let (hours, _, _, notes) = shifts(&monthly);
        assert_eq!(hours, 24 * 28);
        assert!(notes.iter().any(|n| n.contains("monthly hand-offs")), "{notes:?}");
        assert!(
            notes.iter().any(|n| n.contains("2 people on call at once")),
            "{notes:?}"
        );
    }
}
