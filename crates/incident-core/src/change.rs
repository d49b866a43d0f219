//! Changes to a service — deployments and configuration changes — from whatever recorded them:
//! EventBridge events as they happen (ingest stores them per service), or CloudTrail looked up at
//! evidence capture, the fallback for what no event told. The mitigation planner reads both, the
//! events first.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A change in the window, normalised from whatever recorded it: the input the mitigation
/// planner uses to propose a rollback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub at: DateTime<Utc>,
    pub kind: ChangeKind,
    pub actor: String,
    /// What changed, as a person names it: `cluster/service`, `application/group`, a stack, a
    /// function, a parameter.
    pub resource: String,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Where the loop learnt of it.
    #[serde(default)]
    pub origin: Origin,
    /// The deployment (or change set, or API request) it belongs to: the events of one deployment
    /// (started, completed) share it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// How it ended, as far as is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ChangeOutcome>,
    /// The account and region it happened in, when an event told (CloudTrail's are the capture's
    /// own account's and region's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<crate::account::Location>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// An EventBridge event, as it happened.
    Event,
    /// CloudTrail's LookupEvents at evidence capture.
    #[default]
    CloudTrail,
}

impl Origin {
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Event => "as it happened",
            Origin::CloudTrail => "from CloudTrail",
        }
    }
}

/// The state a deployment or stack update reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOutcome {
    Started,
    Succeeded,
    Failed,
    /// Stopped, or rolled back by the deployment system itself.
    RolledBack,
}

impl ChangeOutcome {
    pub fn describe(self) -> &'static str {
        match self {
            ChangeOutcome::Started => "in progress",
            ChangeOutcome::Succeeded => "succeeded",
            ChangeOutcome::Failed => "failed",
            ChangeOutcome::RolledBack => "rolled back",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A CloudFormation stack update or change set execution.
    StackUpdate,
    /// Lambda code, alias or version change.
    LambdaDeployment,
    /// An ECS service update (new task definition, desired count).
    EcsDeployment,
    /// A CodeDeploy deployment.
    CodeDeployDeployment,
    /// A configuration change that is not a deployment: an SSM parameter.
    ConfigChange,
    /// Any other write API call.
    ApiCall,
}

impl ChangeKind {
    /// Classifies a CloudTrail event by its service and name.
    pub fn of(event_source: &str, event_name: &str) -> Self {
        match (event_source, event_name) {
            ("cloudformation.amazonaws.com", n) if n.starts_with("UpdateStack") || n == "ExecuteChangeSet" => {
                ChangeKind::StackUpdate
            }
            ("lambda.amazonaws.com", n) if LAMBDA_DEPLOYMENT_CALLS.iter().any(|c| n.starts_with(c)) => {
                ChangeKind::LambdaDeployment
            }
            ("ecs.amazonaws.com", "UpdateService") => ChangeKind::EcsDeployment,
            ("codedeploy.amazonaws.com", "CreateDeployment") => ChangeKind::CodeDeployDeployment,
            ("ssm.amazonaws.com", "PutParameter" | "DeleteParameter" | "LabelParameterVersion") => {
                ChangeKind::ConfigChange
            }
            _ => ChangeKind::ApiCall,
        }
    }

    /// What a rollback can undo: a deployment of code or infrastructure.
    pub fn is_deployment(self) -> bool {
        !matches!(self, ChangeKind::ApiCall | ChangeKind::ConfigChange)
    }

    pub fn describe(self) -> &'static str {
        match self {
            ChangeKind::StackUpdate => "CloudFormation stack update",
            ChangeKind::LambdaDeployment => "Lambda deployment",
            ChangeKind::EcsDeployment => "ECS deployment",
            ChangeKind::CodeDeployDeployment => "CodeDeploy deployment",
            ChangeKind::ConfigChange => "configuration change",
            ChangeKind::ApiCall => "API call",
        }
    }
}

/// The Lambda API calls that deploy (CloudTrail names them with a version suffix, such as
/// `UpdateFunctionCode20150331v2`).
pub const LAMBDA_DEPLOYMENT_CALLS: &[&str] = &[
    "UpdateFunctionCode",
    "UpdateAlias",
    "PublishVersion",
    "UpdateFunctionConfiguration",
];

/// Orders changes newest first, deployments before plain API calls at the same time.
pub fn sort_changes(changes: &mut [Change]) {
    changes.sort_by(|a, b| {
        b.at.cmp(&a.at)
            .then(b.kind.is_deployment().cmp(&a.kind.is_deployment()))
    });
}

/// One change per deployment: the events of one deployment (its start, its end) become one change
/// that starts when the first did and ends as the last did. Changes without an id stay as they
/// are. Newest first.
pub fn collapse(changes: Vec<Change>) -> Vec<Change> {
    let mut by_id: BTreeMap<(ChangeKind, String), Change> = BTreeMap::new();
    let mut out = Vec::new();
    for c in changes {
        let Some(id) = c.id.clone() else {
            out.push(c);
            continue;
        };
        match by_id.entry((c.kind, id)) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(c);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let kept = o.get_mut();
                let started = kept.at.min(c.at);
                if c.at >= kept.at {
                    *kept = c;
                }
                kept.at = started;
            }
        }
    }
    out.extend(by_id.into_values());
    sort_changes(&mut out);
    out
}

/// A capture stored before a kind existed classed its call as a plain API call: read it as the
/// rules classify it now (`PutParameter (ssm.amazonaws.com)` is a configuration change).
fn classified_again(mut c: Change) -> Change {
    if c.kind == ChangeKind::ApiCall {
        if let Some((name, source)) = c.summary.split_once(" (") {
            c.kind = ChangeKind::of(source.trim_end_matches(')'), name);
        }
    }
    c
}

/// How far apart an event and CloudTrail's record of the same change may lie.
const SAME_CHANGE: TimeDelta = TimeDelta::minutes(15);

/// The last segment of an ARN or path (`arn:…:service/shop/checkout-api` → `checkout-api`).
fn short_name(resource: &str) -> &str {
    resource.rsplit(['/', ':']).find(|s| !s.is_empty()).unwrap_or(resource)
}

fn same_change(event: &Change, trail: &Change) -> bool {
    event.kind == trail.kind
        && (event.at - trail.at).abs() <= SAME_CHANGE
        && short_name(&event.resource) == short_name(&trail.resource)
}

/// The changes the planner reads: those recorded as they happened first, then what CloudTrail has
/// that no event told (the fallback; captured where the incident happened). Newest first. Only the
/// recorded changes of the place the runbooks act in count: another account's deployment of a
/// same-named service is not this one's.
pub fn merged(
    recorded: Vec<Change>,
    captured: Vec<Change>,
    place: &crate::account::RunbookPlace,
    home: &crate::account::Home,
) -> Vec<Change> {
    let here = |c: &Change| place.holds(home, c.location.as_ref());
    let mut out = collapse(recorded.into_iter().filter(here).collect());
    let missed: Vec<Change> = captured
        .into_iter()
        .map(classified_again)
        .filter(|t| !out.iter().any(|e| e.origin == Origin::Event && same_change(e, t)))
        .collect();
    out.extend(missed);
    sort_changes(&mut out);
    out
}

#[cfg(test)]
pub(crate) fn change(kind: ChangeKind, at: DateTime<Utc>, resource: &str, summary: &str) -> Change {
    Change {
        at,
        kind,
        actor: "deployer".into(),
        resource: resource.into(),
        summary: summary.into(),
        link: None,
        origin: Origin::CloudTrail,
        id: None,
        outcome: None,
        location: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: ChangeKind, at: DateTime<Utc>, id: &str, outcome: ChangeOutcome) -> Change {
        Change {
            origin: Origin::Event,
            id: Some(id.into()),
            outcome: Some(outcome),
            location: None,
            ..change(kind, at, "shop/checkout-api", &format!("{id} {}", outcome.describe()))
        }
    }

    #[test]
    fn the_events_of_one_deployment_become_one_change_from_its_start_to_its_end() {
        let t = Utc::now();
        let got = collapse(vec![
            event(ChangeKind::EcsDeployment, t, "ecs-svc/1", ChangeOutcome::Started),
            event(
                ChangeKind::EcsDeployment,
                t + TimeDelta::minutes(4),
                "ecs-svc/1",
                ChangeOutcome::Failed,
            ),
            event(
                ChangeKind::EcsDeployment,
                t - TimeDelta::hours(1),
                "ecs-svc/0",
                ChangeOutcome::Succeeded,
            ),
        ]);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].at, got[0].outcome), (t, Some(ChangeOutcome::Failed)));
        assert_eq!(got[0].summary, "ecs-svc/1 failed");
        assert_eq!(got[1].id.as_deref(), Some("ecs-svc/0"));
    }

    #[test]
    fn cloudtrail_adds_only_what_no_event_told() {
        let t = Utc::now();
        let recorded = vec![event(ChangeKind::EcsDeployment, t, "ecs-svc/1", ChangeOutcome::Started)];
        let captured = vec![
            // The same update, as CloudTrail saw it (the ARN's last segment names the same service).
            change(
                ChangeKind::EcsDeployment,
                t - TimeDelta::seconds(20),
                "arn:aws:ecs:eu-west-1:1:service/shop/checkout-api",
                "UpdateService (ecs.amazonaws.com)",
            ),
            change(
                ChangeKind::ConfigChange,
                t - TimeDelta::minutes(30),
                "/checkout/flags",
                "PutParameter (ssm.amazonaws.com)",
            ),
        ];
        let got = merged(
            recorded,
            captured,
            &crate::account::RunbookPlace::Home,
            &crate::account::Home::default(),
        );
        let origins: Vec<(Origin, ChangeKind)> = got.iter().map(|c| (c.origin, c.kind)).collect();
        assert_eq!(
            origins,
            [
                (Origin::Event, ChangeKind::EcsDeployment),
                (Origin::CloudTrail, ChangeKind::ConfigChange)
            ]
        );
    }

    #[test]
    fn a_capture_stored_before_configuration_changes_existed_is_read_as_they_are_now() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let old = change(
            ChangeKind::ApiCall,
            t,
            "/checkout/flags",
            "PutParameter (ssm.amazonaws.com)",
        );
        let other = change(ChangeKind::ApiCall, t, "bucket", "PutBucketPolicy (s3.amazonaws.com)");
        let kinds: Vec<ChangeKind> = merged(
            vec![],
            vec![old, other],
            &crate::account::RunbookPlace::Home,
            &crate::account::Home::default(),
        )
        .iter()
        .map(|c| c.kind)
        .collect();
        assert_eq!(kinds, [ChangeKind::ConfigChange, ChangeKind::ApiCall]);
    }

    #[test]
    fn another_accounts_change_is_not_this_incidents() {
        use crate::account::Location;
        let t = DateTime::parse_from_rfc3339("2026-11-23T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |account: &str| Location::of(Some(account), Some("us-east-1")).unwrap();
        let mut staging = change(ChangeKind::EcsDeployment, t, "shop/checkout-api", "staging deploy");
        staging.origin = Origin::Event;
        staging.location = at("222222222222");
        let mut home = staging.clone();
        home.summary = "home deploy".into();
        home.location = at("000000000000");
        home.id = Some("ecs-svc/1".into());
        let stack = crate::account::Home::new(Some("000000000000".into()), Some("us-east-1".into()));
        let here = crate::account::RunbookPlace::Home;
        let got = merged(vec![staging.clone(), home.clone()], vec![], &here, &stack);
        assert_eq!(got, [home.clone()]);
        let member = crate::account::RunbookPlace::Member(staging.location.clone().unwrap());
        let got = merged(vec![staging.clone(), home.clone()], vec![], &member, &stack);
        assert_eq!(
            got,
            [staging.clone()],
            "a member account's incident: that account's changes"
        );
        let mut unplaced = staging;
        unplaced.location = None;
        assert_eq!(
            merged(vec![unplaced], vec![], &here, &stack).len(),
            1,
            "told without a place: this one's"
        );
    }

    #[test]
    fn parameter_writes_are_configuration_changes_not_deployments() {
        let k = ChangeKind::of("ssm.amazonaws.com", "PutParameter");
        assert_eq!(k, ChangeKind::ConfigChange);
        assert!(!k.is_deployment());
        for (source, name, kind) in [
            (
                "lambda.amazonaws.com",
                "UpdateFunctionCode20150331v2",
                ChangeKind::LambdaDeployment,
            ),
            (
                "lambda.amazonaws.com",
                "UpdateAlias20150331",
                ChangeKind::LambdaDeployment,
            ),
            ("cloudformation.amazonaws.com", "UpdateStack", ChangeKind::StackUpdate),
            ("ecs.amazonaws.com", "UpdateService", ChangeKind::EcsDeployment),
            (
                "codedeploy.amazonaws.com",
                "CreateDeployment",
                ChangeKind::CodeDeployDeployment,
            ),
        ] {
            assert_eq!(ChangeKind::of(source, name), kind);
            assert!(kind.is_deployment());
        }
        assert_eq!(ChangeKind::of("s3.amazonaws.com", "PutObject"), ChangeKind::ApiCall);
    }
}
