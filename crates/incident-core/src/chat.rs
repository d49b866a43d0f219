//! Chat: pages and escalations as custom notifications of Amazon Q Developer in chat applications
//! (Slack, Microsoft Teams), published to the SNS topic a channel configuration subscribes. The
//! documented event format: `version` 1.0, `source` custom, `content` (title, description, next
//! steps, keywords) and `metadata` (a thread per incident). Every piece of incident text is shown
//! as inline code, so that an alarm name cannot mention the channel, format or hide a link.

use crate::incident::Incident;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A chat channel: the SNS topic its Amazon Q Developer channel configuration subscribes, and its
/// name as people know it (`#payments-oncall`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatChannel {
    pub topic: String,
    pub channel: String,
}

impl ChatChannel {
    pub fn problems(&self, at: &str) -> Vec<String> {
        let mut out = Vec::new();
        if !is_topic_arn(&self.topic) {
            out.push(format!(
                "{at}: chat topic '{}' is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
                self.topic
            ));
        }
        if self.channel.trim().is_empty() {
            out.push(format!("{at}: the chat channel has no name"));
        }
        out
    }
}

/// `arn:<partition>:sns:<region>:<12-digit account>:<name>`.
fn is_topic_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    matches!(parts.as_slice(), ["arn", partition, "sns", region, account, name]
        if partition.starts_with("aws")
            && !region.is_empty()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && crate::text::is_identifier(name, 256))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub version: String,
    pub source: String,
    pub id: String,
    pub content: Content,
    pub metadata: Metadata,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub text_type: String,
    pub title: String,
    pub description: String,
    pub next_steps: Vec<String>,
    pub keywords: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub thread_id: String,
    pub summary: String,
    pub event_type: String,
    pub related_resources: Vec<String>,
    pub additional_context: BTreeMap<String, String>,
}

/// Text for fields shown without markdown (the summary, keywords): one line, with what chat
/// would still read as a mention or a link (`&`, `<`, `>`) escaped.
pub fn plain(text: &str, max: usize) -> String {
    crate::text::line(text, max)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Incident text as the chat shows it in markdown: one plain line as inline code (backticks in it
/// made quotes), so that nothing in it formats, mentions or links.
pub fn literal(text: &str, max: usize) -> String {
    format!("`{}`", plain(text, max).replace('`', "'"))
}

/// The notification of a page (`Incident Engaged`) or an escalation round (`Incident Escalated`):
/// what happened, who was paged (`people`: `ana (primary on call, rotation primary)`), where the
/// call is, and the commands to run.
pub fn notification(
    incident: &Incident,
    event_type: &str,
    headline: &str,
    people: &[String],
    incident_channel: Option<&ChatChannel>,
) -> Notification {
    let id = incident.id.as_str();
    let severity = incident
        .severity
        .map(|s| s.to_string())
        .unwrap_or_else(|| "SEV?".into());
    let exercise = if incident.exercise { " GAME DAY" } else { "" };
    let title = format!(
        ":rotating_light: *{severity}{exercise}* {} {}",
        literal(headline, 80),
        literal(&incident.title, 160)
    );
    let mut lines = vec![
        format!("*Incident* {}", literal(id, 40)),
        format!("*Services* {}", literal(&incident.services.join(", "), 200)),
        format!("*First signal* {}", literal(&incident.first_signal, 200)),
    ];
    if let Some(owner) = &incident.owner {
        lines.push(format!("*Owner* {}", literal(owner, 64)));
    }
    if let Some(c) = &incident.commander {
        lines.push(format!("*Commander* {}", literal(c, 64)));
    }
    if !people.is_empty() {
        lines.push(format!("*Paged* {}", literal(&people.join("; "), 300)));
    }
    if let Some(l) = &incident.location {
        lines.push(format!("*Account* {}", literal(&l.describe(), 120)));
    }
    for e in &incident.aws_events {
        lines.push(format!("*AWS-side* {}", literal(e, 200)));
    }
    if let Some(c) = incident_channel.filter(|_| incident.is_major()) {
        lines.push(format!("*Incident channel* {}", literal(&c.channel, 80)));
    }
    let mut keywords = vec![severity.clone()];
    keywords.extend(incident.services.iter().map(|s| plain(s, 40)));
    if incident.exercise {
        keywords.push("game day".into());
    }
    Notification {
        version: "1.0".into(),
        source: "custom".into(),
        id: format!("{id}-{}", event_type.to_ascii_lowercase().replace(' ', "-")),
        content: Content {
            text_type: "client-markdown".into(),
            title,
            description: lines.join("\n"),
            next_steps: vec![
                format!("Acknowledge: `incidentctl ack {id}`"),
                format!("Follow: `incidentctl timeline {id} --follow`"),
                format!("Look: `incidentctl show {id}`"),
            ],
            keywords,
        },
        metadata: Metadata {
            thread_id: id.to_string(),
            summary: plain(&format!("{severity}{exercise} {headline}: {}", incident.title), 200),
            event_type: event_type.to_string(),
            related_resources: vec![id.to_string()],
            additional_context: BTreeMap::from([
                ("incident_id".to_string(), id.to_string()),
                ("severity".to_string(), severity),
            ]),
        },
    }
}
