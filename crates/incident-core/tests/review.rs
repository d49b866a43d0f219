//! The weekly review over a generated quarter: a deterministic generator seeds thirteen weeks of
//! incidents with COEs, five-whys trees and action items, with known findings planted (a repeated
//! alarm, a factor recurring across three teams, a fix that did not prevent a repeat, a late COE,
//! customers ahead of our monitoring, an incident no alarm saw, a game day). The report must show
//! exactly those; its Markdown and HTML are golden files (`UPDATE_GOLDEN=1 cargo test` rewrites
//! them: review the diff). The HTML page is also written to the target's tmp directory for the
//! browser check (`scripts/test_review_html.py`).

use chrono::{DateTime, TimeDelta, Utc};
use incident_core::actions::{ActionItem, Term};
use incident_core::catalog::Catalog;
use incident_core::category::Category;
use incident_core::coe::{Authored, Record};
use incident_core::incident::{Incident, Scope, Status};
use incident_core::learning::{Learning, Level, Step};
use incident_core::record::Postmortem;
use incident_core::review::{self, CoeState, RepeatKind, Week};
use incident_core::severity::Severity;
use incident_core::signal::{Health, Signal, SignalSource};
use incident_core::whys::Tree;
use incident_core::{IncidentId, SignalKey};

const WEEK: &str = "2026-W48";

/// The example catalog, with one learning: renaming a flag needs a migration, taught in W40 after
/// config-orders; the factor recurs after that.
fn catalog() -> Catalog {
    let mut c: Catalog = serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap();
    c.learnings.push(Learning {
        id: "learn-0c0ffee0".into(),
        category: Category::Configuration,
        text: "Rename a flag only with a migration".into(),
        incidents: vec![IncidentId::for_service(
            "orders",
            &SignalKey::new("review", "config-orders"),
        )],
        steps: vec![Step {
            level: Level::Education,
            what: "taught at the weekly operational review".into(),
            by: "lena".into(),
            by_arn: "arn:aws:iam::000000000000:user/lena".into(),
            at: at(8, 0),
            action: None,
        }],
        version: 1,
    });
    c
}

fn week() -> Week {
    Week::parse(WEEK).unwrap()
}

/// Monday 00:00 of the week `weeks_back` before the reviewed one, plus `hours`.
fn at(weeks_back: i64, hours: i64) -> DateTime<Utc> {
    week().start() - TimeDelta::weeks(weeks_back) + TimeDelta::hours(hours)
}

/// A small linear congruential generator: the same quarter on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

fn owner(service: &str) -> &'static str {
    match service {
        "checkout" => "payments",
        "orders" => "fulfilment",
        "search" => "discovery",
        _ => "analytics",
    }
}

fn signal(source: SignalSource, resource: &str, when: DateTime<Utc>) -> Signal {
    Signal::new(
        SignalKey::new("review", &format!("{resource}-{}", when.timestamp())),
        source,
        Health::Impaired,
        resource,
        when,
        "generated",
    )
}

struct Seed<'a> {
    name: &'a str,
    service: &'a str,
    detected: DateTime<Utc>,
    severity: Severity,
    /// Minutes from detection: engage, acknowledge, mitigate, resolve.
    minutes: [i64; 4],
}

fn record(s: Seed) -> Record {
    let id = IncidentId::for_service(s.service, &SignalKey::new("review", s.name));
    let mut i = Incident::open_at(
        id,
        Scope::SingleService,
        vec![s.service.into()],
        s.detected - TimeDelta::minutes(3),
        s.detected,
    );
    let m = |n: i64| Some(s.detected + TimeDelta::minutes(n));
    i.title = format!("{}: {}", s.service, s.name);
    i.owner = Some(owner(s.service).into());
    i.severity = Some(s.severity);
    i.engaged_at = m(s.minutes[0]);
    i.acknowledged_at = m(s.minutes[1]);
    i.mitigated_at = m(s.minutes[2]);
    i.resolved_at = m(s.minutes[3]);
    i.status = Status::Resolved;
    i.first_signal = format!("alarm in ALARM: {}-errors", s.service);
    let mut r = Record::of(i);
    r.signals = vec![signal(
        SignalSource::Alarm,
        &format!("{}-errors", s.service),
        s.detected,
    )];
    r
}

/// A COE with one categorised factor, its action item (closed on `closed`), published and complete.
fn with_coe(mut r: Record, factor: &str, category: Category, closed: Option<DateTime<Utc>>) -> Record {
    let detected = r.incident.detected_at;
    let mut tree = Tree::default();
    let w1 = tree.add(None, "because the service failed").unwrap();
    let leaf = tree.add_categorised(Some(&w1), factor, Some(category)).unwrap();
    r.whys = tree;
    let mut item = ActionItem::new(
        format!("{}-a1", r.incident.id),
        Term::Mid,
        r.incident.owner.as_deref().unwrap(),
        &format!("prevent: {factor}"),
        None,
        detected,
    )
    .unwrap();
    item.why = Some(leaf);
    if let Some(when) = closed {
        item.close("validated by a game day that now passes", "lead", when)
            .unwrap();
    }
    r.actions = vec![item];
    r.authored = Authored {
        impact_summary: Some("customers saw errors".into()),
        learnings: vec!["learned".into()],
        ..Authored::default()
    };
    r.incident.postmortem = Some(Postmortem {
        document: format!("s3://b/postmortems/{}/coe.md", r.incident.id),
        due: detected + TimeDelta::days(7),
        ticket: None,
        published_at: detected + TimeDelta::hours(2),
        announced: true,
        completed: Some(incident_core::record::Attested {
            text: "coe check found nothing missing".into(),
            by: "lead".into(),
            at: detected + TimeDelta::days(3),
        }),
    });
    r
}

/// The quarter: background incidents every week, then the planted findings.
fn quarter() -> Vec<Record> {
    let mut rng = Lcg(48);
    let mut out = Vec::new();
    for weeks_back in (1..13).rev() {
        for n in 0..(2 + rng.next(3)) {
            let service = ["orders", "search", "reporting"][rng.next(3) as usize];
            let ack = 2 + rng.next(12) as i64;
            let seed = Seed {
                name: &format!("background-{weeks_back}-{n}"),
                service,
                detected: at(weeks_back, 10 + 24 * rng.next(5) as i64 + rng.next(8) as i64),
                severity: [Severity::Sev3, Severity::Sev4][rng.next(2) as usize],
                minutes: [1, ack, ack + 20 + rng.next(40) as i64, ack + 90 + rng.next(200) as i64],
            };
            out.push(record(seed));
        }
    }
    // A fix that did not prevent it: checkout's deploy in W40 skipped the canary; the item closed
    // in W42; this week checkout's deploy skips it again.
    let first = record(Seed {
        name: "bad-deploy",
        service: "checkout",
        detected: at(8, 14),
        severity: Severity::Sev2,
        minutes: [1, 4, 30, 120],
    });
    out.push(with_coe(
        first,
        "because the deploy skipped the canary",
        Category::DeploymentSafety,
        Some(at(6, 12)),
    ));
    let again = record(Seed {
        name: "bad-deploy-again",
        service: "checkout",
        detected: at(0, 9),
        severity: Severity::Sev2,
        minutes: [1, 6, 25, 100],
    });
    out.push(with_coe(
        again,
        "because the deploy skipped the canary again",
        Category::DeploymentSafety,
        None,
    ));
    // The same alarm within 30 days: checkout-errors fired in W46 too.
    out.push(record(Seed {
        name: "errors-w46",
        service: "checkout",
        detected: at(2, 30),
        severity: Severity::Sev3,
        minutes: [1, 8, 40, 200],
    }));
    // A factor across three teams within 90 days: configuration.
    for (name, service, weeks_back) in [
        ("config-orders", "orders", 9),
        ("config-search", "search", 5),
        ("config-reporting", "reporting", 0),
    ] {
        let r = record(Seed {
            name,
            service,
            detected: at(weeks_back, 40),
            severity: Severity::Sev3,
            minutes: [1, 5, 30, 90],
        });
        out.push(with_coe(
            r,
            "because a config flag was renamed without a migration",
            Category::Configuration,
            Some(at(weeks_back, 100)),
        ));
    }
    // A late COE: W45's search incident, due a week later, still missing its learnings.
    let mut late = record(Seed {
        name: "late-coe",
        service: "search",
        detected: at(3, 20),
        severity: Severity::Sev2,
        minutes: [1, 3, 20, 60],
    });
    late.incident.postmortem = Some(Postmortem {
        document: "s3://b/postmortems/late/coe.md".into(),
        due: at(3, 20) + TimeDelta::days(7),
        ticket: None,
        published_at: at(3, 22),
        announced: true,
        completed: None,
    });
    out.push(late);
    // Customers first: a report 12 minutes before the alarm; and one no alarm ever saw.
    let mut ahead = record(Seed {
        name: "customers-ahead",
        service: "orders",
        detected: at(0, 50),
        severity: Severity::Sev2,
        minutes: [1, 5, 40, 120],
    });
    ahead.incident.customer_detected = true;
    ahead.signals = vec![
        signal(SignalSource::CustomerReport, "report-1", at(0, 50)),
        signal(
            SignalSource::Alarm,
            "orders-latency",
            at(0, 50) + TimeDelta::minutes(12),
        ),
    ];
    out.push(ahead);
    let mut unseen = record(Seed {
        name: "unseen",
        service: "search",
        detected: at(0, 60),
        severity: Severity::Sev3,
        minutes: [2, 9, 50, 150],
    });
    unseen.incident.customer_detected = true;
    unseen.incident.first_signal = "customer report: results are empty".into();
    unseen.signals = vec![signal(SignalSource::CustomerReport, "report-2", at(0, 60))];
    out.push(unseen);
    // A multi-service event this week, linked from three incidents: one incident, counted once.
    let mut event = record(Seed {
        name: "multi",
        service: "orders",
        detected: at(0, 90),
        severity: Severity::Sev1,
        minutes: [1, 2, 15, 45],
    });
    event.incident.scope = Scope::MultiService;
    event.incident.services = vec!["orders".into(), "search".into(), "reporting".into()];
    for (n, service) in ["orders", "search", "reporting"].into_iter().enumerate() {
        let mut member = record(Seed {
            name: &format!("multi-member-{n}"),
            service,
            detected: at(0, 89),
            severity: Severity::Sev2,
            minutes: [1, 2, 15, 45],
        });
        member.incident.parent = Some(event.incident.id.clone());
        event.incident.members.push(member.incident.id.clone());
        out.push(member);
    }
    out.push(event);
    // A game day, and an incident with hostile text.
    let mut gameday = record(Seed {
        name: "gameday",
        service: "checkout",
        detected: at(0, 70),
        severity: Severity::Sev2,
        minutes: [1, 2, 10, 20],
    });
    gameday.incident.exercise = true;
    out.push(gameday);
    let mut hostile = record(Seed {
        name: "hostile",
        service: "reporting",
        detected: at(0, 80),
        severity: Severity::Sev4,
        minutes: [1, 3, 10, 30],
    });
    hostile.incident.title = "reporting: <script>alert('x')</script> | **bold** [link](javascript:x)".into();
    out.push(hostile);
    out
}

fn report() -> review::Report {
    review::compute(&quarter(), &catalog(), week(), week().end() + TimeDelta::hours(6))
}

fn id(service: &str, name: &str) -> String {
    IncidentId::for_service(service, &SignalKey::new("review", name)).to_string()
}

#[test]
fn the_review_finds_exactly_the_planted_repeats_and_recurring_factors() {
    let r = report();
    let fix: Vec<(RepeatKind, String, String)> = r
        .repeats
        .iter()
        .filter(|p| matches!(p.kind, RepeatKind::FixDidNotPrevent | RepeatKind::FixStillOpen))
        .map(|p| (p.kind, p.incident.clone(), p.earlier.clone()))
        .collect();
    assert_eq!(
        fix,
        [(
            RepeatKind::FixDidNotPrevent,
            id("checkout", "bad-deploy-again"),
            id("checkout", "bad-deploy")
        )]
    );
    let alarms: Vec<(String, String, String)> = r
        .repeats
        .iter()
        .filter(|p| p.kind == RepeatKind::SameAlarm && p.incident == id("checkout", "bad-deploy-again"))
        .map(|p| (p.incident.clone(), p.earlier.clone(), p.what.clone()))
        .collect();
    assert_eq!(
        alarms,
        [(
            id("checkout", "bad-deploy-again"),
            id("checkout", "errors-w46"),
            "alarm checkout-errors again (1 earlier incident in 30 days)".to_string()
        )]
    );
    // The learning taught in W40 did not hold: the next step is proposed, with where it recurred.
    let proposed: Vec<(&str, Level, Vec<String>)> = r
        .proposals
        .iter()
        .map(|p| (p.learning.as_str(), p.next, p.recurred_in.clone()))
        .collect();
    assert_eq!(
        proposed,
        [(
            "learn-0c0ffee0",
            Level::DistributedChange,
            vec![id("search", "config-search"), id("reporting", "config-reporting")]
        )]
    );
    assert_eq!(r.recurring.len(), 1, "{:#?}", r.recurring);
    assert_eq!(r.recurring[0].category, Category::Configuration);
    assert_eq!(r.recurring[0].teams, ["analytics", "discovery", "fulfilment"]);
}

#[test]
fn the_review_counts_the_week_its_detection_gaps_and_its_late_coes() {
    let r = report();
    assert_eq!((r.incidents.len(), r.exercises), (7, 1));
    assert_eq!(
        (r.by_severity.get("SEV1"), r.by_severity.get("SEV2")),
        (Some(&1), Some(&2))
    );
    let multi = id("orders", "multi");
    assert!(r.incidents.iter().any(|i| i.id == multi));
    assert!(
        !r.incidents.iter().any(|i| i.title.contains("multi-member")),
        "members count as part of their event"
    );
    let customer: Vec<(String, Option<i64>)> = r
        .detection
        .customer_first
        .iter()
        .map(|c| (c.incident.clone(), c.lead_secs))
        .collect();
    assert_eq!(
        customer,
        [
            (id("orders", "customers-ahead"), Some(720)),
            (id("search", "unseen"), None)
        ]
    );
    let unseen: Vec<&str> = r.detection.no_alarm.iter().map(|n| n.incident.as_str()).collect();
    assert_eq!(unseen, [id("search", "unseen")]);
    assert!(r.detection.no_alarm[0].proposed.contains("results are empty"));
    let late: Vec<(&str, CoeState)> = r.coes.iter().map(|c| (c.incident.as_str(), c.state)).collect();
    assert_eq!(late, [(id("search", "late-coe").as_str(), CoeState::Late)]);
    assert!(
        r.coes[0].gaps.iter().any(|g| g == "no learnings recorded"),
        "{:?}",
        r.coes[0].gaps
    );
    // The reviewed week's time to acknowledge, and a twelve-week trend (exercises left out).
    let ack = r.times.iter().find(|f| f.name == "acknowledge").unwrap();
    // Acknowledged after 6, 5, 5, 9, 3 and 2 minutes (the multi-service event once, its members
    // not): nearest rank p50 the 3rd of 6, p90 the 6th.
    assert_eq!((ack.count, ack.p50_secs, ack.p90_secs), (6, Some(300), Some(540)));
    assert_eq!(ack.trend.len(), 12);
    assert!(
        ack.trend[..11].iter().all(|p| p.p50_secs.is_some()),
        "every background week has incidents"
    );
    // One action item closed this week (config-reporting's), and the open one of this week's.
    assert_eq!(
        r.actions.closed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [format!("{}-a1", id("reporting", "config-reporting"))]
    );
}

#[test]
fn the_report_renders_as_its_golden_markdown_and_html_with_hostile_text_inert() {
    let r = report();
    let markdown = review::markdown::render(&r);
    let html = review::html::render(&r);
    assert!(
        !html.contains("<script") && html.contains("&lt;script&gt;"),
        "hostile title not escaped"
    );
    assert!(!markdown.contains("<script") && markdown.contains("\\*\\*bold\\*\\*"));
    assert!(html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'\""));
    assert_eq!(
        html.matches("http://").count() + html.matches("https://").count(),
        html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count(),
        "no link or external asset but the SVG namespace"
    );
    assert_eq!(
        html.matches("<svg").count(),
        8,
        "five trends, two bar charts of incidents, one of closure"
    );
    // For the browser check that follows `cargo test` (scripts/test_review_html.py).
    let page = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("review-2026-W48.html");
    std::fs::write(page, &html).unwrap();
    golden("review-2026-W48.md", &markdown);
    golden("review-2026-W48.html", &html);
}

fn golden(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var("UPDATE_GOLDEN").is_ok() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)\n{actual}"
    );
}
