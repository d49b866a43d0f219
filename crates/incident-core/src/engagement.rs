//! Who to engage, who leads, and how long to wait for an acknowledgement.

use crate::catalog::Catalog;
use crate::incident::{Incident, Scope, Status};
use crate::oncall::TEAM;
use crate::severity::Severity;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How a page reaches someone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A text to the person's `sms` number (SNS).
    Sms,
    /// An e-mail to the person's `email` address (SES), when the deployment has a sender.
    Email,
    /// A team's SNS topic (its subscribers: e-mail lists, a pager bridge).
    Topic,
    /// A chat channel's topic (Amazon Q Developer in chat applications): a custom notification.
    Chat,
}

/// The channels a deployment can page people by beyond SMS, topics and chat: e-mail needs a
/// verified sender (the template's `PageFromAddress`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    pub email: bool,
}

/// One page to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub team: String,
    /// The person paged; `None` for a team's topic.
    pub person: Option<String>,
    /// Why them, for the timeline: `primary on call (rotation primary)`.
    pub why: String,
    pub channel: Channel,
    /// The phone number, the e-mail address or the topic ARN.
    pub address: String,
}

impl Recipient {
    /// Who it reaches and how, in a line: `ana (primary on call, rotation primary) by SMS`.
    pub fn describe(&self) -> String {
        match (&self.person, self.channel) {
            (Some(p), Channel::Email) => format!("{p} ({}) by e-mail", self.why),
            (Some(p), _) => format!("{p} ({}) by SMS", self.why),
            (None, Channel::Chat) => format!("in chat {}", self.why),
            (None, _) => format!("via {}", self.address),
        }
    }
}

/// A page as the incident keeps it: to whom, by which channel, when, in which round; whether it
/// failed. Acknowledgement is the incident's (`acknowledged_by`, `acknowledged_at`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRecord {
    pub at: DateTime<Utc>,
    /// 0 for the engagement, then the escalation round.
    pub round: u32,
    pub team: String,
    /// The person, or the topic's ARN.
    pub to: String,
    pub channel: Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

impl PageRecord {
    /// One line for `incidentctl show`: `12:03:04 ana by SMS (payments, engagement)`.
    pub fn describe(&self) -> String {
        let how = match self.channel {
            Channel::Sms => format!("{} by SMS", self.to),
            Channel::Email => format!("{} by e-mail", self.to),
            Channel::Topic => format!("via {}", self.to),
            Channel::Chat => format!("chat via {}", self.to),
        };
        let when = match self.round {
            0 => "engagement".to_string(),
            r => format!("escalation {r}"),
        };
        let failed = self
            .failed
            .as_ref()
            .map(|e| format!(": FAILED {e}"))
            .unwrap_or_default();
        format!(
            "{} {how} ({}, {when}){failed}",
            self.at.format("%Y-%m-%d %H:%M:%S"),
            self.team
        )
    }
}

/// What one stage of a team's plan pages now, and for how long it waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagePages {
    pub recipients: Vec<Recipient>,
    /// What the stage names but cannot reach, one line each (`secondary: nobody on call`).
    pub unreachable: Vec<String>,
    pub wait_minutes: Option<u32>,
}

/// How `person` is paged for `team`: by SMS to their number, and by e-mail to their address when
/// the deployment can send e-mail; why they cannot be, when neither.
fn person_pages(
    catalog: &Catalog,
    reach: Reach,
    team: &str,
    person: &str,
    why: &str,
) -> Result<Vec<Recipient>, String> {
    let contact = catalog.person(person);
    let sms = contact.and_then(|p| p.sms.clone());
    let email = contact.and_then(|p| p.email.clone());
    let to = |channel, address| Recipient {
        team: team.into(),
        person: Some(person.into()),
        why: why.into(),
        channel,
        address,
    };
    let mut out: Vec<Recipient> = sms.map(|n| to(Channel::Sms, n)).into_iter().collect();
    match email {
        Some(address) if reach.email => out.push(to(Channel::Email, address)),
        Some(_) if out.is_empty() => {
            return Err(format!(
                "{person} ({why}) has no SMS number, and e-mail pages are off (no PageFromAddress)"
            ))
        }
        None if out.is_empty() => return Err(format!("{person} ({why}) has no SMS number or e-mail address")),
        _ => {}
    }
    Ok(out)
}

/// Stage `index` (0 first) of `team`'s escalation plan, resolved at `at`: layers to whoever holds
/// them, people to their SMS number and e-mail address, `team` to its topic. `None` past the
/// plan's last stage, or for a team the catalog does not know.
pub fn stage(catalog: &Catalog, reach: Reach, team: &str, index: usize, at: DateTime<Utc>) -> Option<StagePages> {
    let t = catalog.team(team)?;
    let plan = t.plan();
    let stage = plan.get(index)?;
    let schedule = catalog.schedule(team)?;
    let mut out = StagePages {
        recipients: Vec::new(),
        unreachable: Vec::new(),
        wait_minutes: stage.wait_minutes,
    };
    for entry in &stage.page {
        if entry == TEAM {
            match &t.notification_target {
                Some(topic) => out.recipients.push(Recipient {
                    team: team.into(),
                    person: None,
                    why: format!("{team}'s topic"),
                    channel: Channel::Topic,
                    address: topic.clone(),
                }),
                None => out.unreachable.push(format!("{team} has no notification target")),
            }
            continue;
        }
        let (person, why) = if catalog.person(entry).is_some() {
            (entry.clone(), "named by the plan".to_string())
        } else {
            match schedule.on_call(entry, at) {
                Some(o) if o.via == "override" => (o.person, format!("{entry} on call, override")),
                Some(o) => (o.person, format!("{entry} on call, rotation {}", o.via)),
                None => {
                    out.unreachable.push(format!("{entry}: nobody on call"));
                    continue;
                }
            }
        };
        match person_pages(catalog, reach, team, &person, &why) {
            Ok(pages) => out.recipients.extend(pages),
            Err(why_not) => out.unreachable.push(why_not),
        }
    }
    Some(out)
}

/// The people among `recipients`, once each however many channels reach them, with why they were
/// paged: `ana (primary on call, rotation primary)`.
pub fn people_paged(recipients: &[Recipient]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in recipients
        .iter()
        .filter_map(|r| r.person.as_ref().map(|p| format!("{p} ({})", r.why)))
    {
        if !out.contains(&line) {
            out.push(line);
        }
    }
    out
}

/// Keeps the first recipient of each address not in `sent`, and adds the kept ones to it.
fn once_per_address(recipients: &mut Vec<Recipient>, sent: &mut Vec<String>) {
    recipients.retain(|r| {
        let fresh = !sent.contains(&r.address);
        sent.push(r.address.clone());
        fresh
    });
}

/// The chat channels a page of `teams` reaches: each team's, and for SEV1–2 and multi-service
/// events the incident channel.
pub fn chat_recipients(catalog: &Catalog, incident: &Incident, teams: &[String]) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = Vec::new();
    let mut add = |team: &str, c: &crate::chat::ChatChannel| {
        if !out.iter().any(|r| r.address == c.topic) {
            out.push(Recipient {
                team: team.to_string(),
                person: None,
                why: crate::text::line(&c.channel, 80),
                channel: Channel::Chat,
                address: c.topic.clone(),
            });
        }
    };
    for team in teams {
        if let Some(c) = catalog.team(team).and_then(|t| t.chat.as_ref()) {
            add(team, c);
        }
    }
    if let Some(c) = catalog
        .settings
        .incident_channel
        .as_ref()
        .filter(|_| incident.is_major())
    {
        add(teams.first().map(String::as_str).unwrap_or_default(), c);
    }
    out
}

/// The e-mail of a page: its subject, and the page with how to acknowledge. Plain text, and no
/// link: a mail scanner that follows links acknowledges nothing.
pub fn email_message(page: &Page, by_sms_too: bool) -> (String, String) {
    let also = match by_sms_too {
        true => "\nOr reply to the SMS page with its code.",
        false => "",
    };
    (page.subject.clone(), format!("{}{also}\n", page.message))
}

/// The text message of a page: the subject line, and how to acknowledge (by replying with the
/// code, when it has one, or from a terminal).
pub fn text_message(page: &Page, incident: &Incident, code: Option<&str>) -> String {
    let reply = code
        .map(|c| format!("{}, or: ", crate::page_reply::reply_line(c)))
        .unwrap_or_else(|| "Acknowledge: ".into());
    format!("{}\n{reply}incidentctl ack {}", page.subject, incident.id)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngagedTeam {
    pub team: String,
    /// Why this team, for the timeline.
    pub reason: String,
    /// The SNS topic to page, when the catalog has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub teams: Vec<EngagedTeam>,
    /// The incident commander (call leader), for SEV1–2 and multi-service events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commander: Option<String>,
    /// The first wait for an acknowledgement: the severity's, or a shorter first stage's.
    pub ack_minutes: u32,
    /// Who is paged when nobody acknowledges in time.
    pub escalation_team: String,
}

impl Plan {
    /// The first stage of every engaged team's plan, with each team's own topic (the service's,
    /// when it names one) and chat channel (and the incident channel, for SEV1–2 and multi-service
    /// events), once per address.
    pub fn first_pages(
        &self,
        catalog: &Catalog,
        reach: Reach,
        incident: &Incident,
        at: DateTime<Utc>,
    ) -> Vec<(EngagedTeam, StagePages)> {
        let mut sent: Vec<String> = Vec::new();
        let mut out = Vec::new();
        let names: Vec<String> = self.teams.iter().map(|t| t.team.clone()).collect();
        let chats = chat_recipients(catalog, incident, &names);
        for team in &self.teams {
            let mut pages = stage(catalog, reach, &team.team, 0, at).unwrap_or(StagePages {
                recipients: Vec::new(),
                unreachable: Vec::new(),
                wait_minutes: None,
            });
            if let Some(topic) = &team.target {
                pages.recipients.retain(|r| r.channel != Channel::Topic);
                pages.recipients.insert(
                    0,
                    Recipient {
                        team: team.team.clone(),
                        person: None,
                        why: format!("{}'s topic", team.team),
                        channel: Channel::Topic,
                        address: topic.clone(),
                    },
                );
            }
            pages
                .recipients
                .extend(chats.iter().filter(|c| c.team == team.team).cloned());
            once_per_address(&mut pages.recipients, &mut sent);
            out.push((team.clone(), pages));
        }
        out
    }
}

/// What escalation round `round` (1 first) pages: the next stage of every engaged team's plan
/// that has one; once every plan is spent, the incident-response team's first stage and the
/// commander. With the wait before the next round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Escalation {
    pub recipients: Vec<Recipient>,
    pub unreachable: Vec<String>,
    /// The teams whose stage this is, or the incident-response team.
    pub to: Vec<String>,
    /// Whether the plans are spent and this is the incident-response team.
    pub incident_response: bool,
    pub wait_minutes: u32,
}

pub fn escalation(catalog: &Catalog, reach: Reach, incident: &Incident, round: u32, at: DateTime<Utc>) -> Escalation {
    let plan = plan(catalog, incident);
    let severity_wait = severity_ack_minutes(catalog, incident);
    let mut out = Escalation {
        recipients: Vec::new(),
        unreachable: Vec::new(),
        to: Vec::new(),
        incident_response: false,
        wait_minutes: severity_wait,
    };
    let mut waits = Vec::new();
    for team in &plan.teams {
        if let Some(pages) = stage(catalog, reach, &team.team, round as usize, at) {
            out.to.push(team.team.clone());
            out.recipients.extend(pages.recipients);
            out.unreachable.extend(pages.unreachable);
            waits.extend(pages.wait_minutes);
        }
    }
    if out.to.is_empty() {
        out.incident_response = true;
        out.to.push(plan.escalation_team.clone());
        if let Some(pages) = stage(catalog, reach, &plan.escalation_team, 0, at) {
            out.recipients.extend(pages.recipients);
            out.unreachable.extend(pages.unreachable);
        }
        if let Some(topic) = catalog.team_target(&plan.escalation_team) {
            if !out.recipients.iter().any(|r| r.address == topic) {
                out.recipients.insert(
                    0,
                    Recipient {
                        team: plan.escalation_team.clone(),
                        person: None,
                        why: format!("{}'s topic", plan.escalation_team),
                        channel: Channel::Topic,
                        address: topic.to_string(),
                    },
                );
            }
        }
        let commander = incident.commander.as_deref().or(plan.commander.as_deref());
        if let Some(c) = commander {
            match person_pages(catalog, reach, &plan.escalation_team, c, "the commander") {
                Ok(pages) => out.recipients.extend(pages),
                Err(why_not) => out.unreachable.push(why_not),
            }
        }
    }
    out.recipients.extend(chat_recipients(catalog, incident, &out.to));
    // One page per address a round, however many teams' stages name it.
    once_per_address(&mut out.recipients, &mut Vec::new());
    out.wait_minutes = waits
        .into_iter()
        .min()
        .unwrap_or(severity_wait)
        .clamp(1, severity_wait.max(1));
    out
}

/// How long nobody acknowledged before escalation round `round`: the first wait, or the last
/// round's.
pub fn wait_before(catalog: &Catalog, incident: &Incident, round: u32, at: DateTime<Utc>) -> u32 {
    match round {
        0 | 1 => plan(catalog, incident).ack_minutes,
        r => escalation(catalog, Reach::default(), incident, r - 1, at).wait_minutes,
    }
}

/// The timeline's and the page's line for an escalation round.
pub fn escalation_line(escalation: &Escalation, round: u32, waited_minutes: u32) -> String {
    let to = escalation.to.join(", ");
    let whom = match escalation.incident_response {
        true => format!("{to}: every team's plan is spent"),
        false => format!("the next stage of {to}"),
    };
    format!("no acknowledgement within {waited_minutes} minutes: escalation {round} to {whom}")
}

fn severity_ack_minutes(catalog: &Catalog, incident: &Incident) -> u32 {
    let severity = incident.severity.unwrap_or(Severity::Sev3);
    // At least a minute: the acknowledgement wait's timeout must be positive.
    catalog
        .settings
        .ack_minutes
        .get(&severity.to_string())
        .copied()
        .unwrap_or(15)
        .max(1)
}

/// What a paged person receives: an SNS subject (one line, under 100 characters) and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub subject: String,
    pub message: String,
}

fn exercise_line(incident: &Incident) -> &'static str {
    if incident.exercise {
        "GAME DAY: a rehearsal, not a real incident.\n"
    } else {
        ""
    }
}

/// What a paged person must know beyond the title: where it happened, what flaps, what AWS says.
fn context_lines(incident: &Incident) -> String {
    let mut text = String::new();
    if let Some(l) = &incident.location {
        text.push_str(&format!("Account: {}\n", l.describe()));
    }
    if !incident.flapping.is_empty() {
        text.push_str(&format!(
            "Flapping: {} (their further state changes page nobody)\n",
            incident.flapping.join(", ")
        ));
    }
    for e in &incident.aws_events {
        text.push_str(&format!("AWS-side: {e}\n"));
    }
    text
}

/// The page of an engagement: severity, title, the first signal, the commander and the command
/// that acknowledges. Game days say so in the subject and first line.
pub fn page(incident: &Incident, commander: Option<&str>) -> Page {
    let head = format!(
        "[{}{}] {}",
        incident.severity.map(|s| s.to_string()).unwrap_or_default(),
        if incident.exercise { " GAME DAY" } else { "" },
        incident.title
    );
    let message = format!(
        "{head}\n{}Incident: {}\nFirst signal: {}\n{}Commander: {}\nAcknowledge: incidentctl ack {}",
        exercise_line(incident),
        incident.id,
        incident.first_signal,
        context_lines(incident),
        commander.unwrap_or("none"),
        incident.id
    );
    Page {
        subject: crate::text::subject(&head),
        message,
    }
}

/// The page of escalation round `round`, saying `why`.
pub fn escalation_page(incident: &Incident, round: u32, why: &str) -> Page {
    let exercise = if incident.exercise { " GAME DAY" } else { "" };
    Page {
        subject: crate::text::subject(&format!(
            "ESCALATION {round}{exercise}: {} unacknowledged",
            incident.title
        )),
        message: format!(
            "{}{why}\n{}Acknowledge: incidentctl ack {}",
            exercise_line(incident),
            context_lines(incident),
            incident.id
        ),
    }
}

/// Plans engagement for a triaged incident.
pub fn plan(catalog: &Catalog, incident: &Incident) -> Plan {
    let settings = &catalog.settings;
    let mut teams: Vec<EngagedTeam> = Vec::new();
    let mut add = |team: &str, reason: String, target: Option<&str>| {
        if !teams.iter().any(|t| t.team == team) {
            let target = target.or_else(|| catalog.team_target(team)).map(str::to_string);
            teams.push(EngagedTeam {
                team: team.to_string(),
                reason,
                target,
            });
        }
    };
    match incident.scope {
        Scope::SingleService => {
            let service = incident.services.first().and_then(|s| catalog.service(s));
            let owner = incident.owner.clone().unwrap_or_else(|| settings.default_owner.clone());
            let reason = match service {
                Some(s) => format!("owns {}", s.name),
                None => "default owner: the service is not in the catalog".to_string(),
            };
            add(&owner, reason, service.and_then(|s| s.notification_target.as_deref()));
            if incident.customer_facing || incident.customer_detected {
                add(&settings.support_team, "customers are affected".into(), None);
            }
        }
        Scope::MultiService => {
            add(&settings.incident_response_team, "multi-service event".into(), None);
            add(
                &settings.support_team,
                "multi-service event: customers are likely affected".into(),
                None,
            );
            for suspect in &settings.usual_suspects {
                if let Some(s) = catalog.service(suspect) {
                    add(
                        &s.owner,
                        format!("usual suspect: owns {}", s.name),
                        s.notification_target.as_deref(),
                    );
                }
            }
        }
    }
    let commander = incident.is_major().then(|| pick_commander(catalog, incident)).flatten();
    let severity_wait = severity_ack_minutes(catalog, incident);
    let first_waits = teams
        .iter()
        .filter_map(|t| catalog.team(&t.team))
        .filter_map(|t| t.plan().first().and_then(|s| s.wait_minutes));
    let ack_minutes = first_waits.min().unwrap_or(severity_wait).clamp(1, severity_wait);
    Plan {
        teams,
        commander,
        ack_minutes,
        escalation_team: settings.incident_response_team.clone(),
    }
}

/// Draws a commander from the incident-response team, spread by incident id so that a storm of
/// incidents does not land on one person, and stable so that a retried triage picks the same one.
fn pick_commander(catalog: &Catalog, incident: &Incident) -> Option<String> {
    let members = &catalog.team(&catalog.settings.incident_response_team)?.members;
    if members.is_empty() {
        return None;
    }
    let digest = Sha256::digest(incident.id.as_str().as_bytes());
    let index = u64::from_be_bytes(digest[..8].try_into().ok()?) % members.len() as u64;
    members.get(index as usize).cloned()
}

/// The incident once its teams were paged: who was engaged, when first, and engaged unless someone
/// already acknowledged it or it closed.
pub fn record_engaged(incident: &mut Incident, teams: &[String], now: chrono::DateTime<chrono::Utc>) {
    incident.engaged_teams = teams.to_vec();
    incident.engaged_at.get_or_insert(now);
    if matches!(incident.status, Status::Open | Status::Triaged) {
        incident.status = Status::Engaged;
    }
}

/// Whether an earlier attempt or run of the lifecycle engaged the incident's teams already, or it
/// closed: nobody is paged again (escalation still does).
pub fn engaged_before(incident: &Incident) -> bool {
    incident.engaged_at.is_some() || incident.status.is_closed()
}

/// Escalation rounds after which nobody is paged again for an unacknowledged incident (the
/// lifecycle's `KeepEscalating?` stops its loop at the same count; a continued run waits once more
/// and stops there).
pub const MAX_ESCALATIONS: u32 = 12;

/// Whether an escalation still has a reason to page: nobody acknowledged, the incident is open
/// (an acknowledgement can land just as the wait times out) and the rounds are not spent.
pub fn needs_escalation(incident: &Incident) -> bool {
    incident.acknowledged_at.is_none() && !incident.status.is_closed() && incident.escalations < MAX_ESCALATIONS
}

/// The round an escalation step is to send, from the rounds its lifecycle run has seen (`after`,
/// which a retried step repeats): `None` when the incident records that round already, so that a
/// retry neither pages again nor skips the next stage's wait. A run starts from the rounds the
/// incident had when it was triaged, so a restarted run goes on from them; a caller that does not
/// say continues from the incident's own count.
pub fn round_to_send(incident: &Incident, after: Option<u32>) -> Option<u32> {
    let round = after.unwrap_or(incident.escalations) + 1;
    (round > incident.escalations).then_some(round)
}

/// Escalation round `round` went out (a retried round counts once).
pub fn record_escalation(incident: &mut Incident, round: u32) {
    incident.escalations = incident.escalations.max(round);
}

/// The pages of round `round` went out (a retried round replaces its own).
pub fn record_pages(incident: &mut Incident, round: u32, pages: &[PageRecord]) {
    incident.pages.retain(|p| p.round != round);
    incident.pages.extend(pages.iter().cloned());
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::incident::Status;
    use crate::{IncidentId, SignalKey};

    fn catalog() -> Catalog {
        serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap()
    }

    fn incident(scope: Scope, service: &str, severity: Severity, customer_facing: bool) -> Incident {
        let id = IncidentId::for_service(service, &SignalKey::new("t", service));
        let mut incident = Incident::open(id, scope, vec![service.into()], chrono::Utc::now());
        incident.status = Status::Triaged;
        incident.owner = catalog().service(service).map(|s| s.owner.clone());
        incident.severity = Some(severity);
        incident.customer_facing = customer_facing;
        incident
    }

    fn team_names(plan: &Plan) -> Vec<&str> {
        plan.teams.iter().map(|t| t.team.as_str()).collect()
    }

    #[test]
    fn a_customer_facing_single_service_incident_engages_its_owner_and_support() {
        let p = plan(
            &catalog(),
            &incident(Scope::SingleService, "checkout", Severity::Sev3, true),
        );
        assert_eq!(team_names(&p), ["payments", "customer-support"]);
        assert_eq!(p.commander, None);
        assert!(p.teams[0].target.as_deref().unwrap().starts_with("arn:aws:sns:"));
    }

    #[test]
    fn an_internal_single_service_incident_engages_only_its_owner() {
        let p = plan(
            &catalog(),
            &incident(Scope::SingleService, "reporting", Severity::Sev4, false),
        );
        assert_eq!(team_names(&p), ["analytics"]);
    }

    #[test]
    fn multi_service_events_engage_incident_response_support_and_the_usual_suspects_with_a_commander() {
        let p = plan(
            &catalog(),
            &incident(Scope::MultiService, "checkout", Severity::Sev2, true),
        );
        assert_eq!(
            team_names(&p),
            ["incident-response", "customer-support", "identity", "network"]
        );
        let catalog = catalog();
        let commanders = &catalog.team("incident-response").unwrap().members;
        assert!(commanders.contains(p.commander.as_ref().unwrap()));
    }

    #[test]
    fn sev1_and_sev2_get_a_commander_and_a_stable_one() {
        let i = incident(Scope::SingleService, "checkout", Severity::Sev1, true);
        let (a, b) = (plan(&catalog(), &i), plan(&catalog(), &i));
        assert!(a.commander.is_some());
        assert_eq!(a.commander, b.commander);
        assert_eq!(a.ack_minutes, 5);
    }

    #[test]
    fn a_person_is_paged_by_each_channel_they_list_that_the_deployment_can_send() {
        let mut catalog = catalog();
        let at = chrono::Utc::now();
        let on_call = catalog
            .schedule("payments")
            .unwrap()
            .on_call("primary", at)
            .unwrap()
            .person;
        let channels = |catalog: &Catalog, reach| {
            let pages = stage(catalog, reach, "payments", 0, at).unwrap();
            let mine: Vec<(Channel, String)> = pages
                .recipients
                .iter()
                .filter(|r| r.person.as_deref() == Some(on_call.as_str()))
                .map(|r| (r.channel, r.describe()))
                .collect();
            (mine, pages.unreachable)
        };
        let (sms_only, _) = channels(&catalog, Reach::default());
        assert_eq!(sms_only.iter().map(|c| c.0).collect::<Vec<_>>(), [Channel::Sms]);
        let (both, _) = channels(&catalog, Reach { email: true });
        assert_eq!(
            both.iter().map(|c| c.0).collect::<Vec<_>>(),
            [Channel::Sms, Channel::Email]
        );
        assert!(both[1].1.ends_with("by e-mail"), "{}", both[1].1);
        // Without a number, e-mail alone reaches them; without a sender, the stage says why not.
        let person = catalog.people.iter_mut().find(|p| p.name == on_call).unwrap();
        person.sms = None;
        let (email_only, _) = channels(&catalog, Reach { email: true });
        assert_eq!(email_only.iter().map(|c| c.0).collect::<Vec<_>>(), [Channel::Email]);
        let (none, unreachable) = channels(&catalog, Reach::default());
        assert!(none.is_empty());
        assert_eq!(
            unreachable,
            [format!(
                "{on_call} (primary on call, rotation primary) has no SMS number, and e-mail pages are off (no PageFromAddress)"
            )]
        );
        let person = catalog.people.iter_mut().find(|p| p.name == on_call).unwrap();
        person.email = None;
        let (_, unreachable) = channels(&catalog, Reach { email: true });
        assert!(
            unreachable[0].ends_with("has no SMS number or e-mail address"),
            "{unreachable:?}"
        );
    }

    #[test]
    fn the_commander_is_e_mailed_too_once_the_plans_are_spent_and_people_are_named_once() {
        let catalog = catalog();
        let mut i = incident(Scope::SingleService, "checkout", Severity::Sev1, true);
        i.commander = Some("hana".into());
        let at = chrono::Utc::now();
        let spent = (1..10)
            .map(|r| escalation(&catalog, Reach { email: true }, &i, r, at))
            .find(|e| e.incident_response)
            .unwrap();
        let hana: Vec<Channel> = spent
            .recipients
            .iter()
            .filter(|r| r.person.as_deref() == Some("hana"))
            .map(|r| r.channel)
            .collect();
        assert!(
            hana.contains(&Channel::Email) && hana.contains(&Channel::Sms),
            "{hana:?}"
        );
        let named = people_paged(&spent.recipients);
        assert_eq!(named.iter().filter(|n| n.starts_with("hana ")).count(), 1, "{named:?}");
        let (subject, body) = email_message(&page(&i, Some("hana")), false);
        assert!(!subject.contains('\n') && body.contains(&format!("incidentctl ack {}", i.id)));
        assert!(!body.contains("reply to the SMS"), "{body}");
    }

    #[test]
    fn a_page_fits_sns_and_says_when_it_is_a_rehearsal_and_what_flaps() {
        let mut i = crate::incident::checkout(Severity::Sev2, true);
        i.title = format!("checkout: {}\nInjected line", "x".repeat(300));
        i.exercise = true;
        i.flapping = vec!["checkout-api-5xx".into()];
        i.location = crate::account::Location::of(Some("111111111111"), Some("eu-west-1")).unwrap();
        let p = page(&i, Some("carol"));
        assert!(
            p.message.contains("\nAccount: 111111111111 in eu-west-1\n"),
            "{}",
            p.message
        );
        assert!(
            p.subject.chars().count() < 100 && !p.subject.contains('\n'),
            "{}",
            p.subject
        );
        assert!(p.subject.starts_with("[SEV2 GAME DAY]"), "{}", p.subject);
        assert!(p.message.contains("GAME DAY: a rehearsal, not a real incident."));
        assert!(p.message.contains("Flapping: checkout-api-5xx"));
        let e = escalation_page(&i, 2, "no acknowledgement within 10 minutes");
        assert!(e.subject.starts_with("ESCALATION 2 GAME DAY:") && e.subject.chars().count() < 100);
        i.exercise = false;
        i.flapping.clear();
        let real = page(&i, None);
        assert!(!real.message.contains("GAME DAY") && !real.message.contains("Flapping"));
    }
}
