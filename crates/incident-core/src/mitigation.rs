//! Mitigation first: which runbook to propose, in which order, and why.
//!
//! During an incident the goal is to end customer impact; root cause comes later. The safest and
//! most common mitigations come first: shift away from the failure, roll back a recent change;
//! scaling up buys time; restarting (with some nodes kept aside for investigation), reverting a
//! configuration change and rolling forward come last, and rolling forward only with an explicit
//! confirmation.

use crate::account::{Home, Location, RunbookPlace};
use crate::catalog::{Catalog, Service};
use crate::change::{Change, ChangeKind};
use crate::incident::Incident;
use crate::signal::Signal;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Mitigation kinds in preference order (the derive order is the ranking).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    ShiftAway,
    Rollback,
    ScaleUp,
    RestartWithIsolation,
    RevertConfig,
    RollForward,
}

impl Kind {
    /// The SSM Automation document (in `runbooks/`) that carries it out.
    pub fn runbook(self, change: Option<ChangeKind>) -> &'static str {
        match (self, change) {
            (Kind::ShiftAway, _) => "IncidentLoop-ShiftAwayFromZone",
            (Kind::Rollback, Some(ChangeKind::LambdaDeployment)) => "IncidentLoop-RollbackLambdaAlias",
            (Kind::Rollback, Some(ChangeKind::EcsDeployment)) => "IncidentLoop-RollbackEcsService",
            (Kind::Rollback, Some(ChangeKind::CodeDeployDeployment)) => "IncidentLoop-StopCodeDeployWithRollback",
            (Kind::Rollback, _) => "IncidentLoop-RollbackStack",
            (Kind::ScaleUp, _) => "IncidentLoop-ScaleUpEcsService",
            (Kind::RestartWithIsolation, _) => "IncidentLoop-RestartWithIsolation",
            (Kind::RevertConfig, _) => "IncidentLoop-RevertParameter",
            (Kind::RollForward, _) => "IncidentLoop-RollForwardEcsService",
        }
    }
}

/// One proposed mitigation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub kind: Kind,
    pub runbook: String,
    /// Runbook parameters; values a person must supply are left as `<…>` placeholders.
    pub parameters: BTreeMap<String, String>,
    pub rationale: String,
    /// What it rests on: the signals and changes that point to it.
    pub evidence: Vec<String>,
    /// Roll-forward: runs only when the approver confirms explicitly.
    pub requires_confirmation: bool,
}

/// The planner's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub candidates: Vec<Candidate>,
    /// The deployment or change the impact most likely follows, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlated_change: Option<Change>,
    /// Whether anything correlated; when nothing did, the plan says so and offers the generic list.
    pub correlated: bool,
    pub summary: String,
}

/// Where a runbook execution stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunbookStatus {
    /// Pending, in progress, waiting or cancelling: poll again.
    Running {
        detail: String,
    },
    Success {
        outputs: BTreeMap<String, Vec<String>>,
    },
    Failed {
        reason: String,
    },
    TimedOut {
        reason: String,
    },
    Cancelled {
        reason: String,
    },
}

/// Game days rehearse their approved runbooks unless they asked for real ones: nothing starts,
/// the rehearsal's id says so, and its wait ends at once as a success.
pub fn rehearses(incident: &crate::incident::Incident) -> bool {
    incident.exercise && !incident.live_runbooks
}

const REHEARSAL: &str = "rehearsal-";

/// The execution id of a rehearsed runbook (from the start's client token: the same approval
/// rehearses once).
pub fn rehearsal_id(client_token: &str) -> String {
    format!("{REHEARSAL}{client_token}")
}

pub fn is_rehearsal(execution_id: &str) -> bool {
    execution_id.starts_with(REHEARSAL)
}

/// What a rehearsed runbook ended as: a success that ran nothing.
pub fn rehearsal_status(execution_id: &str) -> Option<RunbookStatus> {
    is_rehearsal(execution_id).then(|| RunbookStatus::Success {
        outputs: BTreeMap::from([("Rehearsed".to_string(), vec!["nothing ran: a game day".to_string()])]),
    })
}

impl RunbookStatus {
    /// What the lifecycle reads once a runbook ended, whether the runbook wait was completed by
    /// SSM's event or its fallback poll answered: `status` and the whole `result`.
    pub fn lifecycle_output(&self) -> serde_json::Value {
        let result = serde_json::to_value(self).unwrap_or_default();
        serde_json::json!({ "status": result["status"], "result": result })
    }

    pub fn is_finished(&self) -> bool {
        !matches!(self, RunbookStatus::Running { .. })
    }
}

/// The idempotency token of a runbook start: one per approval and candidate, so that a retried
/// start (Lambda or state-machine retry) cannot run the runbook twice. SSM allows 36 characters.
pub fn client_token(approval_id: &str, candidate: usize) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{approval_id}/{candidate}").as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// How far before impact start a change still counts as its likely trigger.
pub const CHANGE_WINDOW: TimeDelta = TimeDelta::minutes(60);

/// Metrics that mean "out of capacity": scaling up buys time.
const SATURATION_METRICS: [&str; 8] = [
    "CPUUtilization",
    "MemoryUtilization",
    "ConcurrentExecutions",
    "Throttles",
    "ThrottledRequests",
    "RequestCountPerTarget",
    "SurgeQueueLength",
    "ApproximateAgeOfOldestMessage",
];

fn placeholder(name: &str) -> String {
    format!("<{name}>")
}

/// True for a value the plan left for the approver to supply (`<…>`).
pub fn is_placeholder(value: &str) -> bool {
    value.starts_with('<') && value.ends_with('>')
}

/// What is planned for an incident mitigated or closed already (a restarted lifecycle reaches
/// planning again): nothing to approve.
pub fn nothing_to_plan(incident: &crate::incident::Incident) -> Option<Plan> {
    let why = if incident.status.is_closed() {
        format!("the incident is {}", incident.status)
    } else if incident.mitigated_at.is_some() {
        format!(
            "mitigated already ({})",
            incident.mitigated_by.as_deref().unwrap_or("recorded")
        )
    } else {
        "an earlier run of the lifecycle applied its mitigation; waiting for recovery".to_string()
    };
    let done =
        incident.status.is_closed() || incident.mitigated_at.is_some() || incident.recovery_watch_since.is_some();
    done.then(|| Plan {
        candidates: Vec::new(),
        correlated_change: None,
        correlated: false,
        summary: format!("nothing to plan: {why}"),
    })
}

/// Where an incident's runbooks would act — where it opened and where every one of its signals
/// happened — or the plan that offers none and says why. Runbooks act in one place only: the
/// stack's own account and region, or one member account and region the catalog opens to them
/// (`accounts: … runbooks: true`) when the stack can reach members (`members`: a member role and
/// external id are configured). Anything else would act on a same-named resource of the wrong
/// account, or on nothing, so the engineers mitigate by hand.
pub fn runbook_place(
    incident: &Incident,
    signals: &[Signal],
    home: &Home,
    catalog: &Catalog,
    members: bool,
) -> Result<RunbookPlace, Box<Plan>> {
    let mut places: Vec<&Location> = Vec::new();
    for at in std::iter::once(incident.location.as_ref())
        .chain(signals.iter().map(|s| s.location.as_ref()))
        .flatten()
    {
        if !places.iter().any(|p| p.same_place(at)) {
            places.push(at);
        }
    }
    let away: Vec<&&Location> = places.iter().filter(|l| !home.holds(Some(l))).collect();
    let Some(at) = away.first() else {
        return Ok(RunbookPlace::Home);
    };
    // An incident that names no place is the stack's own (its runbook would be asked after here).
    let unplaced = incident.location.is_none();
    let why = if places.len() > 1 || unplaced {
        let mut all: Vec<String> = places.iter().map(|l| l.describe()).collect();
        if unplaced {
            all.push("the loop's own account and region".into());
        }
        format!(
            "runbooks act in one account and region, and this incident's signals come from {}",
            all.join(" and ")
        )
    } else if home.is_home_account(&at.account) {
        format!(
            "runbooks run in this account only in the loop's own region, and this incident happened in {}",
            at.describe()
        )
    } else if !catalog.account(at).is_some_and(|a| a.runbooks) {
        format!(
            "this incident happened in {}, which the catalog does not open to runbooks (accounts: runbooks: true)",
            at.describe()
        )
    } else if !members {
        format!(
            "this incident happened in {}, and the stack has no member role to reach it (MemberExternalId)",
            at.describe()
        )
    } else {
        return Ok(RunbookPlace::Member((**at).clone()));
    };
    Err(Box::new(Plan {
        candidates: Vec::new(),
        correlated_change: None,
        correlated: false,
        summary: format!("nothing to plan: {why}; mitigate by hand and record it (incidentctl mitigate)"),
    }))
}

impl Plan {
    /// The plan, saying where its runbooks would act when that is a member account.
    pub fn placed(mut self, place: &RunbookPlace) -> Self {
        if let (RunbookPlace::Member(at), false) = (place, self.candidates.is_empty()) {
            self.summary = format!("{} (runbooks run in {})", self.summary, at.describe());
        }
        self
    }
}

/// Where an incident's started runbook runs, for asking how it stands: its member account when it
/// opened in one (a runbook starts only where the incident and all its signals are), else here.
pub fn runbook_account<'a>(incident: &'a Incident, home: &Home) -> Option<&'a Location> {
    incident.location.as_ref().filter(|l| !home.holds(Some(l)))
}

/// Plans mitigations for an incident of `service` whose impact started at `impact_start`.
pub fn plan(service: Option<&Service>, impact_start: DateTime<Utc>, signals: &[Signal], changes: &[Change]) -> Plan {
    let mut candidates = Vec::new();
    let mut correlated = false;

    // 1. Shift away: an Availability Zone named by an alarm's metric dimensions, or by the failing
    // contributor of a multi-time-series alarm.
    let zonal: Vec<(&Signal, &str)> = signals
        .iter()
        .filter_map(|s| {
            let alarm = s.alarm.as_ref()?;
            let failing_contributor = alarm
                .contributor
                .as_ref()
                .filter(|_| s.health == crate::signal::Health::Impaired)
                .and_then(|c| c.attributes.get("AvailabilityZone"));
            let az = failing_contributor
                .or_else(|| alarm.metrics.iter().find_map(|m| m.dimensions.get("AvailabilityZone")))?;
            Some((s, az.as_str()))
        })
        .collect();
    if let Some((_, az)) = zonal.first() {
        correlated = true;
        let resource = service.and_then(|s| s.mitigation.zonal_shift_resource.clone());
        candidates.push(Candidate {
            kind: Kind::ShiftAway,
            runbook: Kind::ShiftAway.runbook(None).into(),
            parameters: BTreeMap::from([
                (
                    "ResourceIdentifier".into(),
                    resource.unwrap_or_else(|| placeholder("load balancer ARN")),
                ),
                ("AwayFrom".into(), az.to_string()),
                ("ExpiresIn".into(), "2h".into()),
            ]),
            rationale: format!("impact is scoped to Availability Zone {az}: shift traffic away from it"),
            evidence: zonal
                .iter()
                .map(|(s, az)| format!("{} ({az})", s.watched().unwrap_or_else(|| s.resource.clone())))
                .collect(),
            requires_confirmation: false,
        });
    }

    // 2. Roll back: the latest deployment shortly before impact start, if a runbook can still undo
    // it (an older one is what is running once the latest was rolled back: never offered instead).
    let deployment = changes
        .iter()
        .filter(|c| c.kind.is_deployment() && c.at <= impact_start && impact_start - c.at <= CHANGE_WINDOW)
        .max_by_key(|c| c.at)
        .filter(|c| can_roll_back(c));
    if let Some(change) = deployment {
        correlated = true;
        let minutes = (impact_start - change.at).num_minutes();
        candidates.push(Candidate {
            kind: Kind::Rollback,
            runbook: Kind::Rollback.runbook(Some(change.kind)).into(),
            parameters: rollback_parameters(change),
            rationale: format!(
                "{} by {} on {} {minutes} min before impact start: roll it back",
                change.summary, change.actor, change.resource
            ),
            evidence: vec![change_evidence(change)],
            requires_confirmation: false,
        });
    }

    // 3. Scale up: saturation metrics in alarm.
    let saturated: Vec<&Signal> = signals
        .iter()
        .filter(|s| {
            s.alarm.as_ref().is_some_and(|a| {
                a.metrics
                    .iter()
                    .any(|m| m.name.as_deref().is_some_and(|n| SATURATION_METRICS.contains(&n)))
            })
        })
        .collect();
    if !saturated.is_empty() {
        correlated = true;
    }

    // 5. Revert a configuration change (a write that is not a deployment) before impact.
    let config_change = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::ConfigChange && c.at <= impact_start && impact_start - c.at <= CHANGE_WINDOW)
        .max_by_key(|c| c.at);

    let ecs = |name: &str| {
        service
            .and_then(|s| s.mitigation.ecs_service.clone())
            .unwrap_or_else(|| placeholder(name))
    };
    let cluster = || {
        service
            .and_then(|s| s.mitigation.ecs_cluster.clone())
            .unwrap_or_else(|| placeholder("cluster"))
    };
    candidates.push(Candidate {
        kind: Kind::ScaleUp,
        runbook: Kind::ScaleUp.runbook(None).into(),
        parameters: BTreeMap::from([
            ("Cluster".into(), cluster()),
            ("Service".into(), ecs("service")),
            ("DesiredCount".into(), placeholder("twice the current count")),
        ]),
        rationale: if saturated.is_empty() {
            "generic: add capacity to buy time".into()
        } else {
            format!("saturation alarms ({}): add capacity to buy time", names(&saturated))
        },
        evidence: saturated.iter().map(|s| s.resource.clone()).collect(),
        requires_confirmation: false,
    });
    candidates.push(Candidate {
        kind: Kind::RestartWithIsolation,
        runbook: Kind::RestartWithIsolation.runbook(None).into(),
        parameters: BTreeMap::from([
            ("Cluster".into(), cluster()),
            ("Service".into(), ecs("service")),
            ("KeepAside".into(), "1".into()),
        ]),
        rationale: "last resort: replace the tasks, keeping one aside untouched for investigation".into(),
        evidence: Vec::new(),
        requires_confirmation: false,
    });
    if let Some(change) = config_change {
        correlated = true;
        candidates.push(Candidate {
            kind: Kind::RevertConfig,
            runbook: Kind::RevertConfig.runbook(None).into(),
            parameters: BTreeMap::from([
                ("ParameterName".into(), change.resource.clone()),
                ("ToVersion".into(), placeholder("previous version")),
            ]),
            rationale: format!("{} by {} before impact: revert it", change.summary, change.actor),
            evidence: vec![change_evidence(change)],
            requires_confirmation: false,
        });
    }
    candidates.push(Candidate {
        kind: Kind::RollForward,
        runbook: Kind::RollForward.runbook(None).into(),
        parameters: BTreeMap::from([
            ("Cluster".into(), cluster()),
            ("Service".into(), ecs("service")),
            ("TaskDefinition".into(), placeholder("fixed task definition")),
        ]),
        rationale: "last resort: deploy a fix forward — only with an explicit confirmation".into(),
        evidence: Vec::new(),
        requires_confirmation: true,
    });
    candidates.sort_by_key(|c| c.kind);

    let summary = if correlated {
        format!("{} candidates; first: {}", candidates.len(), candidates[0].rationale)
    } else {
        "nothing correlates with the impact (no zonal signal, no deployment or config change in the hour before, \
         no saturation): generic candidates only"
            .to_string()
    };
    Plan {
        candidates,
        correlated_change: deployment.cloned(),
        correlated,
        summary,
    }
}

fn names(signals: &[&Signal]) -> String {
    signals
        .iter()
        .map(|s| s.resource.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a candidate rests on: the change, when, and how the loop learnt of it.
fn change_evidence(change: &Change) -> String {
    format!(
        "change {} at {} ({})",
        change.summary,
        change.at.to_rfc3339(),
        change.origin.describe()
    )
}

/// Whether the rollback runbook of a change can act on it: nothing rolled back already, and a
/// CodeDeploy deployment only while it runs (its runbook stops it with rollback; a finished one
/// cannot be stopped).
fn can_roll_back(change: &Change) -> bool {
    use crate::change::ChangeOutcome;
    match (change.kind, change.outcome) {
        (_, Some(ChangeOutcome::RolledBack)) => false,
        (ChangeKind::CodeDeployDeployment, outcome) => matches!(outcome, None | Some(ChangeOutcome::Started)),
        _ => true,
    }
}

fn rollback_parameters(change: &Change) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    match change.kind {
        ChangeKind::LambdaDeployment => {
            p.insert("FunctionName".into(), change.resource.clone());
            p.insert("AliasName".into(), placeholder("alias"));
            p.insert("ToVersion".into(), placeholder("previous version"));
        }
        ChangeKind::EcsDeployment => {
            // Events name it `cluster/service`; CloudTrail by the service alone (or its ARN).
            let (cluster, service) = match change.resource.rsplit_once('/') {
                Some((c, s)) if !c.contains(':') => (c.to_string(), s.to_string()),
                _ => (placeholder("cluster"), change.resource.clone()),
            };
            p.insert("Service".into(), service);
            p.insert("Cluster".into(), cluster);
            p.insert("TaskDefinition".into(), placeholder("previous task definition"));
        }
        ChangeKind::CodeDeployDeployment => {
            // Events name the deployment by its id (`d-…`); CloudTrail's record may not: then the
            // approver names it.
            let id = change.id.clone().filter(|id| id.starts_with("d-"));
            p.insert(
                "DeploymentId".into(),
                id.unwrap_or_else(|| placeholder("deployment id")),
            );
        }
        _ => {
            p.insert("StackName".into(), change.resource.clone());
        }
    }
    p
}

/// The incident once recovery is confirmed: mitigated now (the first time), by whatever mitigated
/// it already (a person's manual mitigation) or by the alarms returning to OK, with the
/// risk-of-recurrence questions still to answer before closing.
pub fn record_mitigated(incident: &mut Incident, checks: Vec<String>, now: DateTime<Utc>) {
    incident.mitigated_at.get_or_insert(now);
    incident.mitigated_by.get_or_insert_with(|| "alarms back to OK".into());
    if !incident.status.is_closed() {
        incident.status = crate::incident::Status::Mitigated;
    }
    incident.open_checks = checks;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::{AlarmDetails, AlarmKind, AlarmMetric, Health, SignalSource};
    use crate::SignalKey;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn alarm(name: &str, metric: &str, dims: &[(&str, &str)]) -> Signal {
        Signal {
            key: SignalKey::new("t", name),
            source: SignalSource::Alarm,
            health: Health::Impaired,
            resource: name.into(),
            at: t0(),
            reason: "r".into(),
            service_hint: None,
            exercise: false,
            live_runbooks: false,
            location: None,
            alarm: Some(AlarmDetails {
                kind: AlarmKind::SingleMetric,
                arn: None,
                metrics: vec![AlarmMetric {
                    id: "m1".into(),
                    namespace: Some("AWS/ApplicationELB".into()),
                    name: Some(metric.into()),
                    dimensions: dims.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                    expression: None,
                    stat: Some("Sum".into()),
                    period: Some(60),
                }],
                alarm_rule: None,
                actions_suppressed_by: None,
                tags: Default::default(),
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

    fn change(kind: ChangeKind, minutes_before: i64, summary: &str) -> Change {
        crate::change::change(kind, t0() - TimeDelta::minutes(minutes_before), "checkout-api", summary)
    }

    fn kinds(plan: &Plan) -> Vec<Kind> {
        plan.candidates.iter().map(|c| c.kind).collect()
    }

    #[test]
    fn a_rolled_back_or_finished_codedeploy_deployment_is_not_offered_for_rollback() {
        use crate::change::{ChangeOutcome, Origin};
        let mut running = change(
            ChangeKind::CodeDeployDeployment,
            5,
            "CodeDeploy deployment d-9PZ3M1KQT in progress",
        );
        running.origin = Origin::Event;
        running.resource = "AppECS-shop-checkout-api/DgpECS-shop-checkout-api".into();
        running.id = Some("d-9PZ3M1KQT".into());
        running.outcome = Some(ChangeOutcome::Started);
        let p = plan(None, t0(), &[], std::slice::from_ref(&running));
        assert_eq!(p.candidates[0].kind, Kind::Rollback);
        assert_eq!(p.candidates[0].parameters["DeploymentId"], "d-9PZ3M1KQT");
        for finished in [ChangeOutcome::Succeeded, ChangeOutcome::RolledBack] {
            let done = Change {
                outcome: Some(finished),
                ..running.clone()
            };
            assert!(
                !kinds(&plan(None, t0(), &[], &[done])).contains(&Kind::Rollback),
                "{finished:?}"
            );
        }
        let mut ecs = change(ChangeKind::EcsDeployment, 5, "ECS deployment rolled back");
        ecs.outcome = Some(ChangeOutcome::RolledBack);
        assert!(!kinds(&plan(None, t0(), &[], std::slice::from_ref(&ecs))).contains(&Kind::Rollback));
        // The older deployment is what runs once the latest was rolled back: never offered instead.
        let older = change(ChangeKind::EcsDeployment, 30, "the deployment before");
        assert!(!kinds(&plan(None, t0(), &[], &[older, ecs])).contains(&Kind::Rollback));
        // CloudTrail's record names no `d-` id: the approver supplies it.
        let mut trail = change(
            ChangeKind::CodeDeployDeployment,
            5,
            "CreateDeployment (codedeploy.amazonaws.com)",
        );
        trail.id = Some("9a3c-request-id".into());
        let p = plan(None, t0(), &[], &[trail]);
        assert_eq!(p.candidates[0].parameters["DeploymentId"], "<deployment id>");
    }

    #[test]
    fn runbooks_act_here_or_in_one_member_account_the_catalog_opens_to_them() {
        let home = Home::new(Some("000000000000".into()), Some("us-east-1".into()));
        let at = |a: &str, r: &str| Location::of(Some(a), Some(r)).unwrap();
        let mut catalog = crate::catalog::tests::example();
        catalog.accounts.iter_mut().for_each(|a| a.runbooks = false);
        let member = at("111111111111", "us-east-1");
        let mut incident = crate::incident::checkout(crate::severity::Severity::Sev2, true);
        let place = |i: &Incident, s: &[Signal], c: &Catalog, members: bool| runbook_place(i, s, &home, c, members);
        let why = |r: Result<RunbookPlace, Box<Plan>>| {
            let plan = r.expect_err("no runbook");
            assert!(plan.candidates.is_empty());
            plan.summary
        };
        assert_eq!(
            place(&incident, &[], &catalog, true),
            Ok(RunbookPlace::Home),
            "no location: here"
        );
        incident.location = at("000000000000", "us-east-1");
        assert_eq!(place(&incident, &[], &catalog, true), Ok(RunbookPlace::Home));

        // A member account the catalog has not opened to runbooks, then one it has.
        incident.location = member.clone();
        assert_eq!(
            why(place(&incident, &[], &catalog, true)),
            "nothing to plan: this incident happened in 111111111111 in us-east-1, which the catalog does not \
             open to runbooks (accounts: runbooks: true); mitigate by hand and record it (incidentctl mitigate)"
        );
        catalog.accounts.iter_mut().for_each(|a| a.runbooks = true);
        assert_eq!(
            place(&incident, &[], &catalog, true),
            Ok(RunbookPlace::Member(member.clone().unwrap()))
        );
        assert!(why(place(&incident, &[], &catalog, false)).contains("no member role to reach it (MemberExternalId)"));
        assert_eq!(runbook_account(&incident, &home), member.as_ref());

        // A signal of another place joined it: a runbook would act on one of the two only.
        let mut joined = alarm("checkout-api-5xx", "HTTPCode_Target_5XX_Count", &[]);
        joined.location = at("000000000000", "us-east-1");
        let mixed = why(place(&incident, &[joined.clone()], &catalog, true));
        assert!(
            mixed.contains("signals come from 111111111111 in us-east-1 and 000000000000 in us-east-1"),
            "{mixed}"
        );
        joined.location = member.clone();
        assert!(
            place(&incident, &[joined.clone()], &catalog, true).is_ok(),
            "the same place twice"
        );
        // An incident that names no place is this stack's: a member's signal on it is a second place.
        let mut unplaced = incident.clone();
        unplaced.location = None;
        let two = why(place(&unplaced, &[joined], &catalog, true));
        assert!(
            two.contains("come from 111111111111 in us-east-1 and the loop's own account and region"),
            "{two}"
        );

        // Another region of the stack's own account: its runbooks live in the stack's region only.
        incident.location = at("000000000000", "eu-west-1");
        assert!(why(place(&incident, &[], &catalog, true)).contains("only in the loop's own region"));
        assert_eq!(runbook_account(&incident, &home), incident.location.as_ref());

        // Changes count where the runbooks act.
        let there = RunbookPlace::Member(member.clone().unwrap());
        assert!(there.holds(&home, member.as_ref()) && !there.holds(&home, None));
        assert!(RunbookPlace::Home.holds(&home, None) && !RunbookPlace::Home.holds(&home, member.as_ref()));
    }

    #[test]
    fn a_deployment_five_minutes_before_impact_puts_rollback_first() {
        let changes = [change(ChangeKind::LambdaDeployment, 5, "UpdateFunctionCode20150331v2")];
        let p = plan(
            None,
            t0(),
            &[alarm("checkout-5xx", "HTTPCode_Target_5XX_Count", &[])],
            &changes,
        );
        assert_eq!(p.candidates[0].kind, Kind::Rollback);
        assert_eq!(p.candidates[0].runbook, "IncidentLoop-RollbackLambdaAlias");
        assert_eq!(p.candidates[0].parameters["FunctionName"], "checkout-api");
        assert!(
            p.candidates[0].rationale.contains("5 min before impact"),
            "{}",
            p.candidates[0].rationale
        );
        assert!(p.correlated);
        assert_eq!(
            p.correlated_change.as_ref().map(|c| c.kind),
            Some(ChangeKind::LambdaDeployment)
        );
    }

    #[test]
    fn a_deployment_recorded_as_it_happened_names_its_cluster_and_service_and_says_where_it_came_from() {
        let mut c = change(ChangeKind::EcsDeployment, 8, "ECS deployment ecs-svc/1 failed");
        c.resource = "shop/checkout-api".into();
        c.origin = crate::change::Origin::Event;
        let p = plan(None, t0(), &[], &[c]);
        let rollback = &p.candidates[0];
        assert_eq!(rollback.kind, Kind::Rollback);
        assert_eq!(
            (
                rollback.parameters["Cluster"].as_str(),
                rollback.parameters["Service"].as_str()
            ),
            ("shop", "checkout-api")
        );
        assert!(
            rollback.evidence[0].ends_with("(as it happened)"),
            "{:?}",
            rollback.evidence
        );
    }

    #[test]
    fn an_az_scoped_signal_puts_shift_away_first_even_before_a_rollback() {
        let signals = [alarm(
            "checkout-5xx-az",
            "HTTPCode_Target_5XX_Count",
            &[("AvailabilityZone", "use1-az2")],
        )];
        let changes = [change(ChangeKind::EcsDeployment, 10, "UpdateService")];
        let p = plan(None, t0(), &signals, &changes);
        assert_eq!(&kinds(&p)[..2], [Kind::ShiftAway, Kind::Rollback]);
        assert_eq!(p.candidates[0].parameters["AwayFrom"], "use1-az2");
    }

    #[test]
    fn a_failing_contributor_in_one_zone_puts_shift_away_first() {
        let mut s = alarm("checkout-latency-by-az", "TargetResponseTime", &[]);
        s.alarm.as_mut().unwrap().contributor = Some(crate::signal::Contributor {
            id: "c1".into(),
            attributes: BTreeMap::from([("AvailabilityZone".to_string(), "euw1-az1".to_string())]),
        });
        let p = plan(None, t0(), &[s.clone()], &[]);
        assert_eq!(kinds(&p)[0], Kind::ShiftAway);
        assert_eq!(p.candidates[0].parameters["AwayFrom"], "euw1-az1");
        assert_eq!(
            p.candidates[0].evidence,
            ["checkout-latency-by-az [AvailabilityZone=euw1-az1] (euw1-az1)"]
        );
        s.health = crate::signal::Health::Recovered;
        assert_ne!(
            kinds(&plan(None, t0(), &[s], &[]))[0],
            Kind::ShiftAway,
            "a recovered contributor is no reason"
        );
    }

    #[test]
    fn nothing_correlated_says_so_and_offers_the_generic_list_with_roll_forward_last_and_confirmed() {
        let p = plan(
            None,
            t0(),
            &[alarm("checkout-5xx", "HTTPCode_Target_5XX_Count", &[])],
            &[],
        );
        assert!(!p.correlated);
        assert!(p.summary.contains("nothing correlates"));
        assert_eq!(
            kinds(&p),
            [Kind::ScaleUp, Kind::RestartWithIsolation, Kind::RollForward]
        );
        assert!(p.candidates.last().unwrap().requires_confirmation);
    }

    #[test]
    fn deployments_long_before_or_after_impact_do_not_correlate() {
        let changes = [
            change(ChangeKind::LambdaDeployment, 180, "UpdateFunctionCode"),
            change(ChangeKind::LambdaDeployment, -5, "UpdateFunctionCode"),
        ];
        let p = plan(None, t0(), &[], &changes);
        assert!(!kinds(&p).contains(&Kind::Rollback));
    }

    #[test]
    fn saturation_alarms_explain_scale_up_and_a_config_change_offers_a_revert() {
        let changes = [
            change(ChangeKind::ConfigChange, 20, "PutParameter (ssm.amazonaws.com)"),
            change(ChangeKind::ApiCall, 10, "PutObject (s3.amazonaws.com)"),
        ];
        let p = plan(None, t0(), &[alarm("checkout-cpu", "CPUUtilization", &[])], &changes);
        assert!(p.correlated);
        let scale = p.candidates.iter().find(|c| c.kind == Kind::ScaleUp).unwrap();
        assert!(scale.rationale.contains("checkout-cpu"));
        let revert = p.candidates.iter().find(|c| c.kind == Kind::RevertConfig).unwrap();
        assert!(revert.rationale.starts_with("PutParameter"), "{}", revert.rationale);
        let mut sorted = kinds(&p);
        sorted.sort();
        assert_eq!(kinds(&p), sorted, "always in preference order");
    }

    #[test]
    fn client_tokens_are_stable_per_approval_and_candidate_and_fit_ssm() {
        let a = client_token("apr-1", 0);
        assert_eq!(a, client_token("apr-1", 0));
        assert_ne!(a, client_token("apr-1", 1));
        assert_eq!(a.len(), 36);
    }

    #[test]
    fn the_catalog_fills_in_what_it_knows() {
        let mut service: Service = serde_yaml::from_str("{name: checkout, owner: payments, tier: 1}").unwrap();
        service.mitigation.ecs_cluster = Some("shop".into());
        service.mitigation.ecs_service = Some("checkout-api".into());
        let p = plan(Some(&service), t0(), &[], &[]);
        assert_eq!(p.candidates[0].parameters["Cluster"], "shop");
        assert_eq!(p.candidates[0].parameters["Service"], "checkout-api");
    }
}

/// Whether an incident has recovered: every alarm that impaired it is back to OK (every contributor
/// of a multi-time-series alarm, every canary passing again), and has stayed so for the
/// stabilisation period. An incident with nothing to watch (a customer report) has nothing to
/// confirm against: it counts as recovered once someone recorded a manual mitigation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    pub recovered: bool,
    /// Alarms still in ALARM (or never seen back to OK).
    pub still_alarming: Vec<String>,
    /// Alarms back to OK but not yet for the whole stabilisation period.
    pub stabilising: Vec<String>,
    /// Recovered on a person's word: no alarm to confirm it.
    #[serde(default)]
    pub by_hand: bool,
    /// When nothing is alarming any more but some alarms are stabilising: the seconds until the
    /// last of them has been OK for the whole stabilisation period (0 otherwise).
    #[serde(default)]
    pub stable_in_seconds: i64,
}

pub fn recovery(
    signals: &[Signal],
    now: DateTime<Utc>,
    stabilisation: TimeDelta,
    manually_mitigated: bool,
) -> Recovery {
    use crate::signal::Health;
    // Each alarm (a multi-time-series alarm's contributors each on their own) and each canary.
    let mut latest: BTreeMap<String, &Signal> = BTreeMap::new();
    for s in signals.iter().filter(|s| s.health != Health::InsufficientData) {
        let Some(watched) = s.watched() else { continue };
        let entry = latest.entry(watched).or_insert(s);
        if (s.at, &s.key) > (entry.at, &entry.key) {
            *entry = s;
        }
    }
    let mut still_alarming = Vec::new();
    let mut stabilising = Vec::new();
    let mut stable_in = TimeDelta::zero();
    for (alarm, s) in &latest {
        match s.health {
            Health::Recovered if now - s.at >= stabilisation => {}
            Health::Recovered => {
                stabilising.push(alarm.to_string());
                stable_in = stable_in.max(stabilisation - (now - s.at));
            }
            _ => still_alarming.push(alarm.to_string()),
        }
    }
    let has_alarms = !latest.is_empty();
    // Rounded up, so that the check after the wait finds it stable.
    let stable_in_seconds = if still_alarming.is_empty() {
        (stable_in.num_milliseconds() + 999) / 1000
    } else {
        0
    };
    Recovery {
        recovered: if has_alarms {
            still_alarming.is_empty() && stabilising.is_empty()
        } else {
            manually_mitigated
        },
        still_alarming,
        stabilising,
        by_hand: !has_alarms && manually_mitigated,
        stable_in_seconds,
    }
}

/// Whether the lifecycle's recovery wait is over: nothing is alarming any more (stabilisation is
/// waited for after), or there is no alarm and someone recorded a manual mitigation, or the incident
/// is mitigated or closed already.
pub fn recovery_wait_over(incident: &crate::incident::Incident, signals: &[Signal], now: DateTime<Utc>) -> bool {
    incident.status.is_closed()
        || incident.mitigated_at.is_some()
        || recovery(signals, now, TimeDelta::zero(), incident.mitigated_by.is_some()).recovered
}

/// The questions to answer before a temporary fix can be trusted, recorded as open items when the
/// incident is mitigated.
pub fn recurrence_checks(service: Option<&Service>, kind: Option<Kind>) -> Vec<String> {
    let mut checks = vec![
        "Could a pipeline, scheduled job or auto-scaling action undo the temporary fix? Pause or pin it.".to_string(),
    ];
    match service.map(|s| s.dependencies.as_slice()) {
        Some(deps) if !deps.is_empty() => checks.push(format!(
            "Do other services share the suspected component? Check the dependencies: {}.",
            deps.join(", ")
        )),
        _ => checks.push("Do other services share the suspected component?".to_string()),
    }
    if kind == Some(Kind::Rollback) {
        checks.push("Is the rolled-back change blocked from redeploying until it is fixed?".to_string());
    }
    if kind == Some(Kind::ShiftAway) {
        checks.push("The zonal shift expires by itself: is the zone healthy before it does?".to_string());
    }
    checks
}

#[cfg(test)]
mod recovery_tests {
    use super::*;
    use crate::signal::Health;
    use crate::SignalKey;

    fn s(alarm: &str, health: Health, minutes_ago: i64, now: DateTime<Utc>) -> Signal {
        let key = SignalKey::new("t", &format!("{alarm}-{minutes_ago}"));
        Signal::bare_alarm(key, alarm, health, now - TimeDelta::minutes(minutes_ago))
    }

    #[test]
    fn recovered_only_when_every_alarm_is_ok_for_the_stabilisation_period() {
        let now = Utc::now();
        let stable = TimeDelta::minutes(5);
        let a_ok = [s("a", Health::Impaired, 30, now), s("a", Health::Recovered, 10, now)];
        assert!(recovery(&a_ok, now, stable, false).recovered);

        let b_alarming = [a_ok[0].clone(), a_ok[1].clone(), s("b", Health::Impaired, 20, now)];
        let r = recovery(&b_alarming, now, stable, false);
        assert_eq!(
            (r.recovered, r.still_alarming.as_slice()),
            (false, ["b".to_string()].as_slice())
        );

        let too_recent = [s("a", Health::Impaired, 30, now), s("a", Health::Recovered, 2, now)];
        let r = recovery(&too_recent, now, stable, false);
        assert_eq!(
            (r.recovered, r.stabilising.as_slice()),
            (false, ["a".to_string()].as_slice())
        );

        let flapped_back = [s("a", Health::Recovered, 10, now), s("a", Health::Impaired, 1, now)];
        assert!(
            !recovery(&flapped_back, now, stable, false).recovered,
            "the latest state counts"
        );
    }

    #[test]
    fn the_wait_ends_when_nothing_alarms_and_the_stabilisation_left_is_said() {
        let now = Utc::now();
        let stable = TimeDelta::minutes(5);
        let mut incident = crate::incident::checkout(crate::severity::Severity::Sev2, false);
        let alarming = [s("a", Health::Impaired, 30, now)];
        assert!(!recovery_wait_over(&incident, &alarming, now));
        let back = [alarming[0].clone(), s("a", Health::Recovered, 2, now)];
        assert!(recovery_wait_over(&incident, &back, now), "OK again: the wait is over");
        let r = recovery(&back, now, stable, false);
        assert_eq!(
            (r.recovered, r.stable_in_seconds),
            (false, 180),
            "three more minutes to be stable"
        );
        let other = [back[0].clone(), back[1].clone(), s("b", Health::Impaired, 1, now)];
        assert_eq!(
            recovery(&other, now, stable, false).stable_in_seconds,
            0,
            "b still alarms"
        );
        incident.mitigated_at = Some(now);
        assert!(recovery_wait_over(&incident, &alarming, now), "mitigated already");
    }

    #[test]
    fn an_incident_without_alarms_recovers_only_by_a_recorded_manual_mitigation() {
        assert!(!recovery(&[], Utc::now(), TimeDelta::minutes(5), false).recovered);
        assert!(recovery(&[], Utc::now(), TimeDelta::minutes(5), true).recovered);
    }

    #[test]
    fn a_manual_mitigation_does_not_override_alarms_still_firing() {
        let now = Utc::now();
        let alarming = [s("a", Health::Impaired, 1, now)];
        assert!(!recovery(&alarming, now, TimeDelta::minutes(5), true).recovered);
    }

    #[test]
    fn recurrence_checks_name_the_dependencies_and_the_mitigation() {
        let service: Service = serde_yaml::from_str("{name: c, owner: p, tier: 1, dependencies: [auth, db]}").unwrap();
        let checks = recurrence_checks(Some(&service), Some(Kind::Rollback));
        assert!(checks.iter().any(|c| c.contains("auth, db")));
        assert!(checks.iter().any(|c| c.contains("redeploying")));
    }
}
