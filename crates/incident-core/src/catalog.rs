//! The service catalog: who owns what, how to reach them, and how alarms map to services.
//!
//! It is written by people as YAML (see `catalog.example.yaml` at the repository root), imported
//! with `incidentctl catalog import`, and read by ingest (to name a signal's service) and triage
//! (owner, tier, commander).

use crate::account::{Account, Location};
use crate::oncall::{Override, Person, Rotation, Stage, TeamSchedule};
use crate::signal::Signal;
use crate::silence::{MaintenanceWindow, Silence};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a catalog import changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub services: usize,
    pub teams: usize,
    pub removed: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub teams: Vec<Team>,
    #[serde(default)]
    pub services: Vec<Service>,
    /// The accounts the loop hears from (an organisation's, through forwarder/template.yaml): their
    /// names, environments and the services whose accounts they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<Account>,
    /// The people who can be paged, with their contacts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<Person>,
    /// Someone else on call for a while: from the file, and those added through the command API
    /// (`incidentctl oncall override`, stored beside the catalog, with who added them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Override>,
    /// Silences set through the command API (`incidentctl silence`), stored beside the catalog and
    /// loaded with it; never part of the catalog file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub silences: Vec<Silence>,
    /// Learnings and their ladder (`incidentctl learning`), kept beside the catalog like silences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learnings: Vec<crate::learning::Learning>,
    /// Services' answers to the learnings' readiness-review questions (`incidentctl orr`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orr_answers: Vec<crate::learning::OrrAnswer>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Team engaged for signals that map to no catalog service.
    pub default_owner: String,
    /// Engaged for every multi-service event; incident commanders are drawn from its members.
    pub incident_response_team: String,
    /// Engaged when customers are affected.
    pub support_team: String,
    /// Foundational services whose owners join every multi-service event (auth, DNS, networking).
    #[serde(default)]
    pub usual_suspects: Vec<String>,
    /// The alarm tag whose value names the service directly.
    #[serde(default = "default_service_tag")]
    pub service_tag: String,
    /// Minutes to wait for an acknowledgement before escalating, by severity (`SEV1` …).
    #[serde(default = "default_ack_minutes")]
    pub ack_minutes: BTreeMap<String, u32>,
    /// Where SEV1–2 and multi-service events are worked in chat: every page of one goes there too
    /// and names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_channel: Option<crate::chat::ChatChannel>,
    /// How the weekly review finds recurring contributing factors.
    #[serde(default, skip_serializing_if = "ReviewSettings::is_default")]
    pub review: ReviewSettings,
}

/// How the review finds recurring factors (`settings.review` in the catalog).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettings {
    /// The window, ending with the reviewed week, in which factors of a category are counted.
    #[serde(default = "default_recurrence_days")]
    pub recurrence_days: u32,
    /// Incidents with factors of one category that make it recurring (factors across two teams or
    /// more always do).
    #[serde(default = "default_recurrence_incidents")]
    pub recurrence_incidents: usize,
}

fn default_recurrence_days() -> u32 {
    90
}

fn default_recurrence_incidents() -> usize {
    3
}

impl ReviewSettings {
    /// How far before its week the review reads incidents: the trend, repeats, and earlier COEs
    /// whose factors may recur (the recurrence window fits in it).
    pub const LOOKBACK_DAYS: i64 = 182;

    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// What the catalog's validation refuses: a window the review does not read, a count of one.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(1..=Self::LOOKBACK_DAYS as u32).contains(&self.recurrence_days) {
            out.push(format!(
                "recurrence_days {} is not 1–{}",
                self.recurrence_days,
                Self::LOOKBACK_DAYS
            ));
        }
        if self.recurrence_incidents < 2 {
            out.push(format!(
                "recurrence_incidents {} is not 2 or more",
                self.recurrence_incidents
            ));
        }
        out
    }
}

impl Default for ReviewSettings {
    fn default() -> Self {
        Self {
            recurrence_days: default_recurrence_days(),
            recurrence_incidents: default_recurrence_incidents(),
        }
    }
}

fn default_service_tag() -> String {
    "service".into()
}

fn default_ack_minutes() -> BTreeMap<String, u32> {
    [("SEV1", 5), ("SEV2", 10), ("SEV3", 15), ("SEV4", 30), ("SEV5", 60)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_owner: "unowned".into(),
            incident_response_team: "incident-response".into(),
            support_team: "support".into(),
            usual_suspects: Vec::new(),
            service_tag: default_service_tag(),
            ack_minutes: default_ack_minutes(),
            incident_channel: None,
            review: ReviewSettings::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub name: String,
    /// Where the team is paged: an SNS topic ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_target: Option<String>,
    /// People on the team; for the incident-response team these are the commanders.
    #[serde(default)]
    pub members: Vec<String>,
    /// Who is on call, layer by layer (see `oncall`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rotations: Vec<Rotation>,
    /// Whom an unacknowledged page reaches next, stage by stage; absent: each layer in turn (or the
    /// team's topic when it has no rotations). After the last stage: the incident-response team.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalation: Vec<Stage>,
    /// The team's chat channel (Amazon Q Developer in chat applications): its pages as cards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<crate::chat::ChatChannel>,
}

impl Team {
    /// The escalation plan: the team's own, or each of its layers in turn, or its topic.
    pub fn plan(&self) -> Vec<Stage> {
        if !self.escalation.is_empty() {
            return self.escalation.clone();
        }
        let layers = crate::oncall::layers(&self.rotations);
        if layers.is_empty() {
            return vec![Stage {
                page: vec![crate::oncall::TEAM.into()],
                wait_minutes: None,
            }];
        }
        layers
            .into_iter()
            .map(|l| Stage {
                page: vec![l.to_string()],
                wait_minutes: None,
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    pub owner: String,
    /// Overrides the owner team's target for this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_target: Option<String>,
    /// 1 is the most critical.
    pub tier: u8,
    #[serde(default)]
    pub customer_facing: bool,
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// Principals allowed to approve mitigations (IAM ARNs or user names).
    #[serde(default)]
    pub approvers: Vec<String>,
    #[serde(default)]
    pub alarms: AlarmMapping,
    #[serde(default)]
    pub evidence: EvidenceConfig,
    #[serde(default)]
    pub mitigation: MitigationConfig,
    /// When this service's alarms page nobody (the noise rules read them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance: Vec<MaintenanceWindow>,
    /// The AWS services it runs on (as AWS Health names them: `EC2`, `ELASTICLOADBALANCING`,
    /// `DYNAMODB` …), so that AWS Health events about them reach this service's incidents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aws_services: Vec<String>,
    /// The regions it runs in (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Glob patterns (`*` and `?`) over what deploys to it, so that deployment and configuration
    /// events find it: ECS services as `cluster/service`, CodeDeploy groups as
    /// `application/group`, stack names, Lambda function names, SSM parameter names, or any ARN
    /// the event lists. Its ECS cluster and service (under `mitigation`) match without a pattern.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
}

impl Service {
    /// Whether an AWS Health event about `aws_service` in `region` concerns this service.
    pub fn uses_aws(&self, aws_service: &str, region: &str) -> bool {
        self.aws_services.iter().any(|a| a.eq_ignore_ascii_case(aws_service))
            && (self.regions.is_empty() || self.regions.iter().any(|r| r == region))
    }

    /// The resources the catalog names for this service (its mitigation targets).
    fn mitigation_targets(&self) -> impl Iterator<Item = &str> {
        let m = &self.mitigation;
        [&m.zonal_shift_resource, &m.ecs_cluster, &m.ecs_service]
            .into_iter()
            .filter_map(|r| r.as_deref())
    }
}

/// Resources the mitigation runbooks act on for this service, so that candidates come with their
/// parameters filled in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MitigationConfig {
    /// The load balancer (ARN) to shift traffic away from an impaired Availability Zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zonal_shift_resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_service: Option<String>,
}

/// What evidence capture reads for this service besides its alarms.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceConfig {
    /// CloudWatch Logs groups to query.
    #[serde(default)]
    pub log_groups: Vec<String>,
    /// Logs Insights queries; empty means the default error-count and top-errors queries.
    #[serde(default)]
    pub queries: Vec<String>,
}

/// How signals find this service when they do not name it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmMapping {
    /// Alarm tags that must all be present with these values.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Glob patterns (`*` and `?`) over alarm and canary names.
    #[serde(default)]
    pub name_patterns: Vec<String>,
}

/// The catalog failed validation: each problem is listed so that a person can fix them all at once.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid catalog:\n  - {}", .0.join("\n  - "))]
pub struct CatalogError(pub Vec<String>);

impl CatalogError {
    /// The problems, each with the line of `source` (the YAML file imported) it is about: the
    /// section its first word names, then the names it quotes, in turn.
    pub fn located(&self, source: &str) -> Vec<String> {
        self.0
            .iter()
            .map(|p| match line_of(source, p) {
                Some(n) => format!("line {n}: {p}"),
                None => p.clone(),
            })
            .collect()
    }
}

fn line_of(source: &str, problem: &str) -> Option<usize> {
    let lines: Vec<&str> = source
        .lines()
        .map(|l| match l.find(" #") {
            Some(i) => &l[..i],
            None if l.trim_start().starts_with('#') => "",
            None => l,
        })
        .collect();
    let section = match problem.split([' ', '.', ':']).next()? {
        "person" => "people:",
        "team" => "teams:",
        "service" => "services:",
        "account" => "accounts:",
        "override" => "overrides:",
        "settings" => "settings:",
        _ => return None,
    };
    let mut from = lines.iter().position(|l| l.starts_with(section))?;
    let mut found = from;
    let names = problem.split('\'').skip(1).step_by(2);
    for name in names {
        let word = |l: &str| {
            l.match_indices(name).any(|(i, _)| {
                let part = |c: char| c.is_alphanumeric() || "-_./".contains(c);
                !l[..i].ends_with(part) && !l[i + name.len()..].starts_with(part)
            })
        };
        let named = |l: &str| {
            let l = l.trim_start().trim_start_matches("- ").trim_start_matches("{ ");
            l.strip_prefix("name:").is_some_and(|v| {
                let v = v.trim_start().trim_start_matches(['"', '\'']);
                v.strip_prefix(name)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['"', '\'', ',', ' ', '}']))
            })
        };
        let hit = (from..lines.len())
            .find(|&i| named(lines[i]))
            .or_else(|| (from..lines.len()).find(|&i| word(lines[i])));
        match hit {
            Some(i) => (from, found) = (i, i),
            None => break,
        }
    }
    Some(found + 1)
}

/// Which service a signal belongs to, and whether the catalog knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceMatch {
    pub service: String,
    pub known: bool,
    /// How it was matched, for the timeline.
    pub how: String,
}

impl Catalog {
    /// Checks what YAML cannot: references between entries, tiers, duplicate names.
    /// The catalog as a file that imports again: without what the command API keeps beside it
    /// (silences, learnings, readiness answers; overrides it added stay, marked with their id).
    pub fn as_file(&self) -> Catalog {
        Catalog {
            silences: Vec::new(),
            learnings: Vec::new(),
            orr_answers: Vec::new(),
            ..self.clone()
        }
    }

    pub fn validate(&self) -> Result<(), CatalogError> {
        let mut problems = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.services {
            if !seen.insert(s.name.as_str()) {
                problems.push(format!("service '{}' is listed twice", s.name));
            }
            if !(1..=4).contains(&s.tier) {
                problems.push(format!("service '{}': tier {} is not 1–4", s.name, s.tier));
            }
            if self.team(&s.owner).is_none() {
                problems.push(format!(
                    "service '{}': owner team '{}' is not in teams",
                    s.name, s.owner
                ));
            }
            if !crate::text::is_identifier(&s.name, crate::event::ID_MAX) {
                problems.push(format!(
                    "service name '{}' must be letters, digits and . _ - / : @ + only",
                    crate::text::line(&s.name, 64)
                ));
            }
            for w in &s.maintenance {
                for p in w.problems() {
                    problems.push(format!("service '{}': maintenance window '{}': {p}", s.name, w.name));
                }
            }
        }
        let mut accounts = std::collections::BTreeSet::new();
        for a in &self.accounts {
            problems.extend(a.problems());
            if !accounts.insert(a.id.as_str()) {
                problems.push(format!("account {} is listed twice", a.id));
            }
            if let Some(service) = a.service.as_deref().filter(|s| self.service(s).is_none()) {
                problems.push(format!("account {}: service '{service}' is not in services", a.id));
            }
        }
        problems.extend(self.oncall_problems());
        if !self.silences.is_empty() {
            problems.push("silences are set with `incidentctl silence`, not in the catalog file".into());
        }
        if !self.learnings.is_empty() || !self.orr_answers.is_empty() {
            problems.push("learnings and readiness answers are kept with `incidentctl learning` and `orr`, not in the catalog file".into());
        }
        let st = &self.settings;
        for (what, team) in [
            ("default_owner", &st.default_owner),
            ("incident_response_team", &st.incident_response_team),
            ("support_team", &st.support_team),
        ] {
            if self.team(team).is_none() {
                problems.push(format!("settings.{what}: team '{team}' is not in teams"));
            }
        }
        problems.extend(
            st.review
                .problems()
                .into_iter()
                .map(|p| format!("settings.review: {p}")),
        );
        for suspect in &st.usual_suspects {
            if self.service(suspect).is_none() {
                problems.push(format!(
                    "settings.usual_suspects: service '{suspect}' is not in services"
                ));
            }
        }
        for sev in st.ack_minutes.keys() {
            if crate::severity::Severity::parse(sev).is_none() {
                problems.push(format!("settings.ack_minutes: '{sev}' is not SEV1–SEV5"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CatalogError(problems))
        }
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// What `pick` lists for each of `services` that the catalog knows, sorted and once each
    /// (the approvers of an incident's services, their dependencies).
    pub fn across(&self, services: &[String], pick: impl Fn(&Service) -> &[String]) -> Vec<String> {
        let mut out: Vec<String> = services
            .iter()
            .filter_map(|s| self.service(s))
            .flat_map(|s| pick(s).iter().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    pub fn team(&self, name: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.name == name)
    }

    pub fn person(&self, name: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.name == name)
    }

    /// A team's rotations with the overrides that apply to it.
    pub fn schedule(&self, team: &str) -> Option<TeamSchedule<'_>> {
        let t = self.team(team)?;
        Some(TeamSchedule {
            team: &t.name,
            rotations: &t.rotations,
            overrides: self.overrides.iter().filter(|o| o.team == t.name).collect(),
        })
    }

    /// Where to page `team`, if anywhere.
    pub fn team_target(&self, team: &str) -> Option<&str> {
        self.team(team).and_then(|t| t.notification_target.as_deref())
    }

    /// Names the service of a signal. Order: the service the event names itself (customer reports),
    /// the alarm's service tag, a service's tag matcher, a service's name pattern (first in catalog
    /// order). A signal that matches nothing belongs to an unknown service named after the tag value
    /// or, lacking one, after what fired, so that it still correlates with its own repeats.
    pub fn resolve(&self, signal: &Signal) -> ServiceMatch {
        let known = |name: &str, how: String| ServiceMatch {
            service: name.to_string(),
            known: true,
            how,
        };
        if let Some(aws) = &signal.aws {
            let users: Vec<&Service> = self
                .services
                .iter()
                .filter(|s| s.uses_aws(&aws.service, &aws.region))
                .collect();
            // The service whose own resource AWS names as affected, else the first that uses it.
            let named = users.iter().find(|s| {
                s.mitigation_targets()
                    .any(|r| aws.entities.iter().any(|e| e == r || e.ends_with(&format!("/{r}"))))
            });
            return match named.or(users.first()) {
                Some(s) => known(&s.name, format!("uses AWS {} in {}", aws.service, aws.region)),
                None => ServiceMatch {
                    service: format!("aws/{}", aws.service),
                    known: false,
                    how: format!("no catalog service uses AWS {} in {}", aws.service, aws.region),
                },
            };
        }
        let tags = signal.alarm.as_ref().map(|a| &a.tags);
        if let Some(hint) = &signal.service_hint {
            return match self.service(hint) {
                Some(s) => known(&s.name, "named by the report".into()),
                None => ServiceMatch {
                    service: hint.clone(),
                    known: false,
                    how: "named by the report".into(),
                },
            };
        }
        let tagged = tags.and_then(|t| t.get(&self.settings.service_tag));
        if let Some(s) = tagged.and_then(|name| self.service(name)) {
            return known(&s.name, format!("alarm tag {}={}", self.settings.service_tag, s.name));
        }
        if let Some(tags) = tags {
            let by_tags = self
                .services
                .iter()
                .find(|s| !s.alarms.tags.is_empty() && s.alarms.tags.iter().all(|(k, v)| tags.get(k) == Some(v)));
            if let Some(s) = by_tags {
                return known(&s.name, "alarm tags".into());
            }
        }
        for s in &self.services {
            if let Some(p) = s.alarms.name_patterns.iter().find(|p| glob_match(p, &signal.resource)) {
                return known(&s.name, format!("name pattern '{p}'"));
            }
        }
        if let Some(m) = signal.location.as_ref().and_then(|l| self.account_service(l)) {
            return m;
        }
        match tagged {
            Some(name) => ServiceMatch {
                service: name.clone(),
                known: false,
                how: format!("alarm tag {}={name}, not in the catalog", self.settings.service_tag),
            },
            None => ServiceMatch {
                service: format!("unmapped/{}", signal.resource),
                known: false,
                how: "no catalog service matches".into(),
            },
        }
    }
}

impl Catalog {
    /// The service whose account (and region) `location` is, for what names no service itself.
    fn account_service(&self, location: &Location) -> Option<ServiceMatch> {
        let account = self.account(location)?;
        let service = self.service(account.service.as_deref()?)?;
        Some(ServiceMatch {
            service: service.name.clone(),
            known: true,
            how: format!("the service of account {}", account.name),
        })
    }

    /// The catalog's entry for the account (and region) an event happened in.
    pub fn account(&self, location: &Location) -> Option<&Account> {
        self.accounts.iter().find(|a| a.covers(location))
    }

    /// Names the service a change belongs to from what names the changed resource (its name first,
    /// then the ARNs its event lists): the first service, in catalog order, with a `resources`
    /// pattern that matches one of them, or whose ECS cluster and service it is. A change that
    /// matches nothing is kept under `unmapped/NAME`.
    pub fn resolve_change(&self, names: &[String], location: Option<&Location>) -> ServiceMatch {
        for s in &self.services {
            let m = &s.mitigation;
            if let (Some(cluster), Some(service)) = (&m.ecs_cluster, &m.ecs_service) {
                let ecs = format!("{cluster}/{service}");
                if names.contains(&ecs) {
                    return ServiceMatch {
                        service: s.name.clone(),
                        known: true,
                        how: format!("its ECS service {ecs}"),
                    };
                }
            }
            let hit = s.resources.iter().find(|p| names.iter().any(|n| glob_match(p, n)));
            if let Some(p) = hit {
                return ServiceMatch {
                    service: s.name.clone(),
                    known: true,
                    how: format!("resource pattern '{p}'"),
                };
            }
        }
        if let Some(m) = location.and_then(|l| self.account_service(l)) {
            return m;
        }
        ServiceMatch {
            service: format!("unmapped/{}", names.first().map(String::as_str).unwrap_or("change")),
            known: false,
            how: "no catalog service names this resource".into(),
        }
    }
}

/// Matches `*` (any run) and `?` (one character); everything else literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::signal::{AlarmDetails, AlarmKind, Health, SignalSource};
    use crate::SignalKey;

    pub(crate) fn example() -> Catalog {
        serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).expect("example catalog parses")
    }

    fn alarm_signal(name: &str, tags: &[(&str, &str)]) -> Signal {
        Signal {
            key: SignalKey::new("aws.cloudwatch", name),
            source: SignalSource::Alarm,
            health: Health::Impaired,
            resource: name.into(),
            at: chrono::Utc::now(),
            reason: "r".into(),
            service_hint: None,
            exercise: false,
            live_runbooks: false,
            location: None,
            alarm: Some(AlarmDetails {
                kind: AlarmKind::SingleMetric,
                arn: None,
                metrics: vec![],
                alarm_rule: None,
                actions_suppressed_by: None,
                tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                previous_state: None,
                contributor: None,
            }),
            link: None,
            reporter: None,
            quiet: None,
            time_note: None,
            aws: None,
        }
    }

    #[test]
    fn a_signal_that_matches_no_service_belongs_to_its_accounts_service() {
        let c = example();
        let mut s = alarm_signal("queue-depth-high", &[]);
        assert_eq!(c.resolve(&s).service, "unmapped/queue-depth-high");
        s.location = Location::of(Some("111111111111"), Some("us-east-1")).unwrap();
        let m = c.resolve(&s);
        assert_eq!((m.service.as_str(), m.known), ("reporting", true));
        assert_eq!(m.how, "the service of account reporting-prod");
        // Outside the regions the catalog lists for it, the account is not that service's.
        s.location = Location::of(Some("111111111111"), Some("eu-west-1")).unwrap();
        assert_eq!(c.resolve(&s).service, "unmapped/queue-depth-high");
        // A name pattern still comes first.
        let mut named = alarm_signal("checkout-api-5xx", &[]);
        named.location = Location::of(Some("111111111111"), Some("us-east-1")).unwrap();
        assert_eq!(c.resolve(&named).service, "checkout");
    }

    #[test]
    fn accounts_are_validated_with_the_catalog() {
        let mut c = example();
        c.accounts.push(c.accounts[0].clone());
        c.accounts.push(Account {
            id: "222222222222".into(),
            name: "ghost".into(),
            environment: None,
            regions: vec![],
            service: Some("no-such-service".into()),
            runbooks: false,
        });
        let problems = c.validate().unwrap_err().to_string();
        assert!(problems.contains("account 000000000000 is listed twice"), "{problems}");
        assert!(
            problems.contains("account 222222222222: service 'no-such-service' is not in services"),
            "{problems}"
        );
    }

    #[test]
    fn changes_find_their_service_by_its_ecs_service_or_a_resource_pattern() {
        let c = example();
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ecs = c.resolve_change(&names(&["shop/checkout-api"]), None);
        assert_eq!((ecs.service.as_str(), ecs.known), ("checkout", true));
        assert_eq!(ecs.how, "its ECS service shop/checkout-api");
        let param = c.resolve_change(&names(&["/checkout/feature-flags"]), None);
        assert_eq!(param.service, "checkout");
        let by_arn = c.resolve_change(
            &names(&[
                "nothing-we-know",
                "arn:aws:codedeploy:eu-west-1:482913650274:deploymentgroup:AppECS-shop-checkout-api/DgpECS-shop-checkout-api",
            ]),
            None,
        );
        assert_eq!(by_arn.service, "checkout", "{}", by_arn.how);
        let unknown = c.resolve_change(&names(&["payroll-batch"]), None);
        assert_eq!(
            (unknown.service.as_str(), unknown.known),
            ("unmapped/payroll-batch", false)
        );
        // A change in a service's own account that names no service belongs to that service.
        let member = Location::of(Some("111111111111"), Some("us-east-1")).unwrap();
        let theirs = c.resolve_change(&names(&["payroll-batch"]), member.as_ref());
        assert_eq!((theirs.service.as_str(), theirs.known), ("reporting", true));
    }

    #[test]
    fn the_shipped_example_catalog_is_valid() {
        example().validate().unwrap();
    }

    #[test]
    fn the_service_tag_wins_over_name_patterns() {
        let c = example();
        let m = c.resolve(&alarm_signal("checkout-api-5xx", &[("service", "orders")]));
        assert_eq!((m.service.as_str(), m.known), ("orders", true));
    }

    #[test]
    fn name_patterns_map_untagged_alarms() {
        let m = example().resolve(&alarm_signal("checkout-api-5xx", &[]));
        assert_eq!((m.service.as_str(), m.known), ("checkout", true));
    }

    #[test]
    fn unknown_signals_are_flagged_and_keep_their_own_identity() {
        let c = example();
        let m = c.resolve(&alarm_signal("mystery-alarm", &[]));
        assert_eq!((m.service.as_str(), m.known), ("unmapped/mystery-alarm", false));
        let m = c.resolve(&alarm_signal("x", &[("service", "ghost")]));
        assert_eq!((m.service.as_str(), m.known), ("ghost", false));
    }

    #[test]
    fn validation_lists_every_problem() {
        let mut c = example();
        c.services[0].owner = "nobody".into();
        c.services[1].tier = 9;
        let err = c.validate().unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
    }

    #[test]
    fn globs_match_like_a_shell() {
        assert!(glob_match("checkout-*", "checkout-api-5xx"));
        assert!(glob_match("*-5xx", "checkout-api-5xx"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("checkout-*", "orders-api"));
        assert!(!glob_match("a?c", "ac"));
    }
}
