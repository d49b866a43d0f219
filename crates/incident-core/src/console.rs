//! The web console's people and pages. A console user signs in to the stack's Cognito user pool and
//! calls the command API with identity-pool credentials; those credentials name only the pool's
//! role (`…/CognitoIdentityCredentials`), so who is asking is decided here from the sign-in the
//! API Gateway verified (the `amr` of the request's Cognito identity) and the catalog's people.
//! What the read routes answer is shaped here too, so the console shows what the CLI shows.

use crate::actions::ActionItem;
use crate::approval::{approvers_of, Approval};
use crate::catalog::Catalog;
use crate::coe::{self, Authored, Record};
use crate::evidence::{Finding, Manifest, METRIC_DATA};
use crate::incident::Incident;
use crate::record::Caller;
use crate::resolution::{self, Item};
use crate::signal::Signal;
use crate::timeline::Entry;
use crate::whys::Tree;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The user-pool group whose members may change incidents from the console; everyone else signed
/// in may look.
pub const RESPONDERS: &str = "responders";

/// A console user as the user pool knows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub username: String,
    pub groups: Vec<String>,
}

/// Why a console request is not let through.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("the console credentials carry no sign-in to this stack's user pool")]
    NoSignIn,
    #[error("the console credentials come from another identity pool than this stack's")]
    OtherIdentityPool,
    #[error("the signed-in console user is not known to the user pool")]
    UnknownUser,
    #[error("{0} is signed in but is not one of the catalog's people; ask a catalog owner to add them")]
    NotInCatalog(String),
    #[error("{0} may look but not act: only the user pool's {RESPONDERS} group changes incidents")]
    ReadOnly(String),
}

/// Whether credentials of identity pool `seen` are the stack's console's (`ours`).
pub fn from_our_pool(seen: Option<&str>, ours: &str) -> Result<(), Denied> {
    (seen == Some(ours)).then_some(()).ok_or(Denied::OtherIdentityPool)
}

/// The user-pool subject (`sub`) of a verified console sign-in: the `amr` entry
/// `cognito-idp.<region>.amazonaws.com/<pool>:CognitoSignIn:<sub>` for this stack's `provider`
/// (`cognito-idp.<region>.amazonaws.com/<pool>`). A sign-in through any other provider is none.
pub fn subject<'a>(amr: &'a [String], provider: &str) -> Result<&'a str, Denied> {
    amr.iter()
        .filter_map(|entry| entry.strip_prefix(provider)?.strip_prefix(":CognitoSignIn:"))
        .find(|sub| !sub.is_empty())
        .ok_or(Denied::NoSignIn)
}

/// Who a console user acts as: the catalog person of their user name, with that person's IAM
/// identity as their name (so the approvers and owners the catalog names apply to them as they
/// do on the CLI) and the verified credentials' ARN. A change needs the responders group.
pub fn caller(user: &SignedIn, catalog: &Catalog, verified_arn: &str, changes: bool) -> Result<Caller, Denied> {
    let person = catalog
        .people
        .iter()
        .find(|p| p.name == user.username)
        .ok_or_else(|| Denied::NotInCatalog(user.username.clone()))?;
    if changes && !user.groups.iter().any(|g| g == RESPONDERS) {
        return Err(Denied::ReadOnly(user.username.clone()));
    }
    Ok(Caller {
        arn: verified_arn.to_string(),
        name: person.acts_as(),
    })
}

/// The incidents board, each once: open incidents first (most severe, untriaged last, then
/// newest), then resolved and merged ones, newest first.
pub fn board(incidents: Vec<Incident>) -> Vec<Incident> {
    let mut seen = std::collections::HashSet::new();
    let mut incidents: Vec<Incident> = incidents.into_iter().filter(|i| seen.insert(i.id.clone())).collect();
    let rank = |i: &Incident| {
        let open = !i.status.is_closed();
        (!open, open.then_some((i.severity.is_none(), i.severity)))
    };
    incidents.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| b.detected_at.cmp(&a.detected_at)));
    incidents
}

/// One incident as the console shows it: the record, the approval waiting (its candidates,
/// rationale and evidence; never a task token, which approvals do not hold), who may approve,
/// the closing checklist and what the COE still lacks.
#[derive(Debug, Serialize)]
pub struct Page {
    pub incident: Incident,
    pub timeline: Vec<Entry>,
    pub signals: Vec<Signal>,
    pub whys: Tree,
    pub actions: Vec<ActionItem>,
    pub authored: Authored,
    pub dependencies: Vec<String>,
    pub approval: Option<Approval>,
    pub approvers: Vec<String>,
    pub checklist: Vec<Item>,
    pub coe_gaps: Vec<String>,
    /// The dependency review's questions, in the order of its answers.
    pub dependency_questions: [&'static str; 4],
    /// The contributors among the signals (a Contributor Insights alarm's members), each in one line.
    pub contributors: Vec<String>,
    /// Customer updates: the loop's first draft, and where the cadence stands.
    pub update_draft: String,
    pub update_due: String,
}

pub fn page(record: Record, approval: Option<Approval>, catalog: &Catalog, now: DateTime<Utc>) -> Page {
    let coe_gaps = coe::gaps(&record, now);
    let checklist = resolution::checklist(&record.incident, &record.actions);
    let approvers = approvers_of(catalog, &record.incident);
    let update_draft = crate::updates::first_draft(&record.incident);
    let update_due = crate::updates::due(&record.incident, now).to_string();
    let contributors = crate::signal::contributors(&record.signals)
        .iter()
        .map(|c| c.describe())
        .collect();
    Page {
        contributors,
        update_draft,
        update_due,
        approval,
        approvers,
        checklist,
        coe_gaps,
        dependency_questions: coe::DEPENDENCY_QUESTIONS,
        incident: record.incident,
        timeline: record.timeline,
        signals: record.signals,
        whys: record.whys,
        actions: record.actions,
        authored: record.authored,
        dependencies: record.dependencies,
    }
}

/// An incident's evidence as the console shows it: every capture, oldest first, with what
/// verifying its objects against the bytes stored now found; and each alarm metric's points over
/// all captures, read only from objects that are still what was captured.
#[derive(Debug, Serialize)]
pub struct Evidence {
    pub captures: Vec<Capture>,
    pub series: Vec<Series>,
}

#[derive(Debug, Serialize)]
pub struct Capture {
    pub manifest: Manifest,
    pub findings: Vec<Finding>,
    pub intact: bool,
}

/// One metric of one alarm: `(time, value)`, oldest first, each time once.
#[derive(Debug, PartialEq, Serialize)]
pub struct Series {
    pub alarm: String,
    pub label: String,
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// `stored` holds the current bytes of every object the manifests name (`None`: gone).
pub fn evidence(manifests: Vec<Manifest>, stored: &BTreeMap<String, Option<Vec<u8>>>) -> Evidence {
    #[derive(Deserialize)]
    struct Point {
        t: DateTime<Utc>,
        v: f64,
    }
    #[derive(Deserialize)]
    struct Result {
        alarm: String,
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        label: Option<String>,
        #[serde(default)]
        points: Vec<Point>,
    }
    #[derive(Deserialize)]
    struct Object {
        items: Vec<Result>,
    }
    /// Label and points of each (alarm, metric id).
    type Points = (String, BTreeMap<DateTime<Utc>, f64>);
    let mut series: BTreeMap<(String, String), Points> = BTreeMap::new();
    let captures = manifests
        .into_iter()
        .map(|manifest| {
            let findings = crate::evidence::verify(&manifest, stored);
            for (object, finding) in manifest.objects.iter().zip(&findings) {
                let bytes = stored.get(&object.key).and_then(|b| b.as_deref());
                let (true, Some(bytes)) = (object.source == METRIC_DATA && finding.is_intact(), bytes) else {
                    continue;
                };
                for r in serde_json::from_slice::<Object>(bytes)
                    .map(|o| o.items)
                    .unwrap_or_default()
                {
                    let label = r.label.clone().or(r.id.clone()).unwrap_or_default();
                    let key = (r.alarm.clone(), r.id.unwrap_or_default());
                    let entry = series.entry(key).or_insert_with(|| (label, BTreeMap::new()));
                    entry.1.extend(r.points.into_iter().map(|p| (p.t, p.v)));
                }
            }
            let intact = findings.iter().all(Finding::is_intact);
            Capture {
                manifest,
                findings,
                intact,
            }
        })
        .collect();
    Evidence {
        captures,
        series: series
            .into_iter()
            .map(|((alarm, _), (label, points))| Series {
                alarm,
                label,
                points: points.into_iter().collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{Scope, Status};
    use crate::severity::Severity;
    use crate::{IncidentId, SignalKey};

    const POOL: &str = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool";

    fn catalog() -> Catalog {
        serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap()
    }

    fn user(name: &str, groups: &[&str]) -> SignedIn {
        SignedIn {
            username: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn the_subject_comes_only_from_this_pools_sign_in() {
        let amr = |entries: &[&str]| entries.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        let ours = amr(&["authenticated", POOL, &format!("{POOL}:CognitoSignIn:sub-1")]);
        assert_eq!(subject(&ours, POOL), Ok("sub-1"));
        let other = amr(&[
            "authenticated",
            "cognito-idp.us-east-1.amazonaws.com/us-east-1_Other:CognitoSignIn:sub-2",
        ]);
        assert_eq!(subject(&other, POOL), Err(Denied::NoSignIn));
        let prefix_only = amr(&[
            &format!("{POOL}x:CognitoSignIn:sub-3"),
            &format!("{POOL}:CognitoSignIn:"),
        ]);
        assert_eq!(subject(&prefix_only, POOL), Err(Denied::NoSignIn));
        assert_eq!(subject(&amr(&["unauthenticated"]), POOL), Err(Denied::NoSignIn));
        assert_eq!(from_our_pool(Some("us-east-1:ours"), "us-east-1:ours"), Ok(()));
        assert_eq!(
            from_our_pool(Some("us-east-1:theirs"), "us-east-1:ours"),
            Err(Denied::OtherIdentityPool)
        );
        assert_eq!(from_our_pool(None, "us-east-1:ours"), Err(Denied::OtherIdentityPool));
    }

    #[test]
    fn a_console_user_acts_as_their_catalog_person_and_only_responders_change() {
        let arn = "arn:aws:sts::1:assumed-role/Console/CognitoIdentityCredentials";
        let ana = caller(&user("ana", &[RESPONDERS]), &catalog(), arn, true).unwrap();
        assert_eq!((ana.name.as_str(), ana.arn.as_str()), ("ana", arn));
        assert!(ana.is_named_by("ana"));
        assert!(!ana.is_named_by("Console"), "the pool's role is not the person");

        let rita = user("dara", &["readers"]);
        assert_eq!(
            caller(&rita, &catalog(), arn, true),
            Err(Denied::ReadOnly("dara".into()))
        );
        assert_eq!(caller(&rita, &catalog(), arn, false).unwrap().name, "dara");
        assert_eq!(
            caller(&user("mallory", &[RESPONDERS]), &catalog(), arn, false),
            Err(Denied::NotInCatalog("mallory".into()))
        );
        let mut named_by_arn = catalog();
        named_by_arn.people.iter_mut().find(|p| p.name == "ana").unwrap().iam =
            Some("arn:aws:iam::000000000000:user/ana".into());
        let ana = caller(&user("ana", &[RESPONDERS]), &named_by_arn, arn, true).unwrap();
        assert_eq!(
            ana.name, "ana",
            "an ARN in the catalog names the person as the CLI would"
        );
        assert_eq!(
            Denied::ReadOnly("dara".into()).to_string(),
            "dara may look but not act: only the user pool's responders group changes incidents"
        );
    }

    #[test]
    fn the_board_shows_live_incidents_first_most_severe_first_and_each_once() {
        let at = |minutes: i64| Utc::now() - chrono::Duration::minutes(minutes);
        let open = |service: &str, severity: Option<Severity>, minutes: i64, status: Status| {
            let id = IncidentId::for_service(service, &SignalKey::new("t", service));
            let mut i = Incident::open(id, Scope::SingleService, vec![service.into()], at(minutes));
            i.severity = severity;
            i.status = status;
            i
        };
        let resolved_new = open("search", Some(Severity::Sev1), 1, Status::Resolved);
        let sev3_new = open("checkout", Some(Severity::Sev3), 2, Status::Engaged);
        let sev2_old = open("payments", Some(Severity::Sev2), 50, Status::Engaged);
        let untriaged = open("reporting", None, 3, Status::Open);
        let board = board(vec![
            resolved_new.clone(),
            sev3_new.clone(),
            untriaged.clone(),
            sev2_old.clone(),
            sev3_new.clone(),
        ]);
        let ids: Vec<_> = board.iter().map(|i| i.id.clone()).collect();
        assert_eq!(ids, vec![sev2_old.id, sev3_new.id, untriaged.id, resolved_new.id]);
    }

    #[test]
    fn evidence_is_verified_and_charted_only_from_what_is_still_as_captured() {
        use crate::evidence::{render, Collected, Moment, Window};
        let id = IncidentId::for_service("checkout", &SignalKey::new("t", "e"));
        let t0 = Utc::now() - chrono::Duration::minutes(30);
        let at = |m: i64| t0 + chrono::Duration::minutes(m);
        let window = Window { from: t0, to: at(30) };
        let capture = |name: &str, points: &[(i64, f64)], alarm: &str| {
            let mut c = Collected::new("GetMetricData", 100_000);
            let points: Vec<_> = points
                .iter()
                .map(|(m, v)| serde_json::json!({"t": at(*m), "v": v}))
                .collect();
            c.push(
                serde_json::json!({"alarm": alarm, "id": "m1", "label": "5xx", "status": "Complete", "points": points}),
            );
            let (bytes, object) = render(&id, name, METRIC_DATA, &window, &c);
            let manifest = Manifest {
                incident: id.clone(),
                capture: name.into(),
                moment: Moment::Opening,
                window,
                created_at: at(30),
                size_cap_bytes: 100_000,
                objects: vec![object],
                errors: vec![],
            };
            (manifest, bytes)
        };
        let (first, first_bytes) = capture("c1", &[(2, 1.0), (1, 0.0)], "checkout-api-5xx");
        let (second, second_bytes) = capture("c2", &[(2, 1.0), (3, 4.0)], "checkout-api-5xx");
        let (tampered, _) = capture("c3", &[(4, 99.0)], "checkout-api-5xx");
        let stored = BTreeMap::from([
            (first.objects[0].key.clone(), Some(first_bytes)),
            (second.objects[0].key.clone(), Some(second_bytes)),
            (tampered.objects[0].key.clone(), Some(b"{\"items\": []}".to_vec())),
        ]);
        let view = evidence(vec![first, second, tampered], &stored);
        let intact: Vec<bool> = view.captures.iter().map(|c| c.intact).collect();
        assert_eq!(intact, [true, true, false]);
        assert!(matches!(view.captures[2].findings[0], Finding::Changed { .. }));
        assert_eq!(
            view.series,
            [Series {
                alarm: "checkout-api-5xx".into(),
                label: "5xx".into(),
                points: vec![(at(1), 0.0), (at(2), 1.0), (at(3), 4.0)],
            }],
            "merged over captures, each time once, the tampered capture left out"
        );
    }
}
