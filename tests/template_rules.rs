//! The rules that route events to ingest, kept in step: what the home stack's rules take on the
//! default bus, what it takes from member accounts on its own bus, what the forwarder template
//! forwards, and what the core parses; and what a console sign-in may reach. No stack needed: this
//! reads the templates.

use serde_yaml::Value;
use std::collections::BTreeSet;

fn template(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).expect("template");
    serde_yaml::from_str(&text).expect("template YAML")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| s.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Every (source, detail-type) a pattern matches, with the detail filter of each branch.
fn routes(pattern: &Value) -> BTreeSet<(String, String, String)> {
    let sources = strings(&pattern["source"]);
    let branches: Vec<Value> = match pattern.get("$or").and_then(Value::as_sequence) {
        Some(or) => or.clone(),
        None => vec![pattern.clone()],
    };
    let mut out = BTreeSet::new();
    for b in branches {
        let detail = b
            .get("detail")
            .map(|d| serde_yaml::to_string(d).unwrap())
            .unwrap_or_default();
        for t in strings(&b["detail-type"]) {
            for s in &sources {
                out.insert((s.clone(), t.clone(), detail.clone()));
            }
        }
    }
    out
}

/// Only the pairs a source really emits (a pattern's sources and types multiply out).
fn emitted(routes: BTreeSet<(String, String, String)>) -> BTreeSet<(String, String, String)> {
    let emits = |source: &str, detail_type: &str| match detail_type {
        "CloudWatch Alarm State Change" | "CloudWatch Alarm Contributor State Change" => source == "aws.cloudwatch",
        "Synthetics Canary TestRun Failure" | "Synthetics Canary TestRun Successful" => source == "aws.synthetics",
        "AWS Health Event" => source == "aws.health",
        "CodeDeploy Deployment State-change Notification" => source == "aws.codedeploy",
        "ECS Deployment State Change" => source == "aws.ecs",
        "Parameter Store Change" => source == "aws.ssm",
        "CloudFormation Stack Status Change" => source == "aws.cloudformation",
        "AWS API Call via CloudTrail" => source == "aws.lambda",
        _ => true,
    };
    routes.into_iter().filter(|(s, t, _)| emits(s, t)).collect()
}

fn ingest_rule(home: &Value, name: &str) -> Value {
    home["Resources"]["IngestFunction"]["Properties"]["Events"][name]["Properties"]["Pattern"].clone()
}

#[test]
fn the_forwarder_forwards_exactly_what_the_home_stack_takes_and_the_core_parses() {
    let home = template("template.yaml");
    let forwarder = template("forwarder/template.yaml");
    let mut at_home = BTreeSet::new();
    for rule in ["Signals", "Changes", "StackChanges", "LambdaChanges"] {
        let pattern = ingest_rule(&home, rule);
        assert!(pattern.is_mapping(), "rule {rule} is missing");
        at_home.extend(emitted(routes(&pattern)));
    }
    let from_members = emitted(routes(&ingest_rule(&home, "MemberSignals")));
    let forwarded = emitted(routes(
        &forwarder["Resources"]["ForwardToLoop"]["Properties"]["EventPattern"],
    ));
    assert_eq!(
        from_members, at_home,
        "MemberSignals takes what the default-bus rules take"
    );
    assert_eq!(forwarded, at_home, "the forwarder forwards what the home stack takes");

    // Every detail-type routed is one the core parses from that source, and every one it parses
    // from AWS is routed.
    let routed: BTreeSet<(String, String)> = at_home.iter().map(|(s, t, _)| (s.clone(), t.clone())).collect();
    let parsed: BTreeSet<(String, String)> = [
        "aws.cloudwatch",
        "aws.synthetics",
        "aws.health",
        "aws.codedeploy",
        "aws.ecs",
        "aws.ssm",
        "aws.cloudformation",
        "aws.lambda",
    ]
    .into_iter()
    .flat_map(|s| {
        incident_core::event::accepted_types(s)
            .into_iter()
            .map(move |t| (s.to_string(), t.to_string()))
    })
    .collect();
    assert_eq!(routed, parsed);

    // The Lambda calls routed are the ones the core counts as deployments.
    let lambda = ingest_rule(&home, "LambdaChanges");
    let prefixes: BTreeSet<String> = lambda["detail"]["eventName"]
        .as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|p| p["prefix"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let calls: BTreeSet<String> = incident_core::change::LAMBDA_DEPLOYMENT_CALLS
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(prefixes, calls);

    // And the game-day source takes every one of them (on the loop's own bus).
    let own = ingest_rule(&home, "OwnSignals");
    let game_day: BTreeSet<String> = strings(&own["detail-type"]).into_iter().collect();
    for (_, t) in &routed {
        assert!(game_day.contains(t), "OwnSignals does not take {t}");
    }
}

#[test]
fn a_member_accounts_runbook_status_reaches_the_mitigate_function_as_this_accounts_does() {
    let home = template("template.yaml");
    let forwarder = template("forwarder/template.yaml");
    let events = &home["Resources"]["MitigateFunction"]["Properties"]["Events"];
    let here = &events["RunbookStatusChanged"]["Properties"];
    let members = &events["MemberRunbookStatusChanged"]["Properties"];
    let forwarded = &forwarder["Resources"]["ForwardRunbookStatus"]["Properties"];
    assert!(here["Pattern"].is_mapping(), "RunbookStatusChanged is missing");
    assert_eq!(
        members["Pattern"], here["Pattern"],
        "the member rule takes what the home rule takes"
    );
    assert_eq!(
        forwarded["EventPattern"], here["Pattern"],
        "the forwarder forwards exactly that"
    );
    assert_eq!(members["InputPath"], here["InputPath"]);
    assert!(
        here.get("EventBusName").is_none(),
        "SSM's own events arrive on the default bus"
    );
    let is_ref_to = |v: &Value, name: &str| matches!(v, Value::Tagged(t) if t.tag == "!Ref" && t.value == name);
    assert!(
        is_ref_to(&members["EventBusName"], "IncidentBus"),
        "member accounts' arrive on the loop's bus: {:?}",
        members["EventBusName"]
    );
    let rule = &forwarder["Resources"]["ForwardRunbookStatus"];
    assert_eq!(rule["Condition"], "CreatesRunbookRole");
    let target = serde_yaml::to_string(&forwarded["Targets"]).unwrap();
    assert!(
        target.contains("event-bus/${HomeStackName}-events") && target.contains("ForwardRole"),
        "{target}"
    );
    let trust = &forwarder["Resources"]["RunbookRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    let principal = serde_yaml::to_string(&trust["Condition"]["ArnLike"]["aws:PrincipalArn"]).unwrap();
    assert!(principal.contains("-MitigateFunction*"), "{principal}");
    assert!(
        is_ref_to(&trust["Condition"]["StringEquals"]["sts:ExternalId"], "ExternalId"),
        "{trust:?}"
    );
    // The forwarder's runbook role is assumable only by the mitigate function, naming the external
    // id, and passes SSM only the runbooks stack's role named for it there.
    let role = serde_yaml::to_string(&forwarder["Resources"]["RunbookRole"]).unwrap();
    for needed in [
        "-runbooks-${AWS::Region}",
        "-ssm-${AWS::Region}",
        "iam:PassedToService: ssm.amazonaws.com",
        "automation-definition/IncidentLoop-*",
    ] {
        assert!(
            role.contains(needed),
            "the forwarder's RunbookRole lacks {needed}: {role}"
        );
    }
    let runbooks: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/../runbooks/stack.json", env!("CARGO_MANIFEST_DIR"))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        runbooks["Resources"]["IncidentLoopRunbookRole"]["Properties"]["RoleName"]["Fn::If"][1]["Fn::Sub"],
        "${RoleName}-${AWS::Region}",
        "the runbooks stack names its role for the region where the forwarder passes it"
    );
}

#[test]
fn the_operations_dashboard_charts_every_metric_the_functions_emit() {
    let home = template("template.yaml");
    let body = match &home["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"] {
        Value::Tagged(sub) => sub.value.as_str().expect("a !Sub string").to_string(),
        other => panic!("DashboardBody is not a !Sub: {other:?}"),
    };
    let body = body
        .replace("${AWS::Region}", "us-east-1")
        .replace("${PostmortemBucket}", "bucket");
    // `${!…}` is how a !Sub writes a literal `${…}` (the dashboard's own label variables).
    assert!(
        !body.replace("${!", "").contains("${"),
        "an unresolved substitution: {body}"
    );
    let body = body.replace("${!", "${");
    let dashboard: serde_json::Value = serde_json::from_str(&body).expect("the dashboard body is JSON");
    let widgets = dashboard["widgets"].as_array().expect("widgets");
    let charted = serde_json::to_string(widgets).unwrap();
    let sources: String = ["engage", "commands", "mitigate", "reconcile"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(format!(
                "{}/../functions/{f}/src/handler.rs",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        })
        .collect();
    for metric in [
        "TimeToDetect",
        "TimeToEngage",
        "TimeToAcknowledge",
        "TimeToMitigate",
        "LifecycleRestarts",
    ] {
        assert!(
            sources.contains(&format!("\"{metric}\"")),
            "no function emits {metric} any more"
        );
        assert!(charted.contains(metric), "the dashboard does not chart {metric}");
    }
    assert!(charted.contains(incident_aws::metrics::NAMESPACE));
}

#[test]
fn a_console_sign_in_reaches_only_the_incident_routes_and_the_server_knows_the_pool() {
    let home = template("template.yaml");
    let r = &home["Resources"];
    let is_tagged = |v: &Value, tag: &str, name: &str| matches!(v, Value::Tagged(t) if t.tag == tag && t.value.as_str().is_some_and(|s| s.contains(name)));
    let role = &r["ConsoleRole"]["Properties"];
    let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["Federated"], "cognito-identity.amazonaws.com");
    assert_eq!(trust["Action"], "sts:AssumeRoleWithWebIdentity");
    assert!(is_tagged(
        &trust["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"],
        "!Ref",
        "ConsoleIdentityPool"
    ));
    assert_eq!(
        trust["Condition"]["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"],
        "authenticated"
    );
    let statements = role["Policies"][0]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap();
    assert_eq!(statements.len(), 1, "one statement: the command API");
    assert_eq!(statements[0]["Action"], "execute-api:Invoke");
    let routes: Vec<String> = statements[0]["Resource"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| match v {
            Value::Tagged(t) => t.value.as_str().unwrap().rsplit("}/*/").next().unwrap().to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        routes,
        [
            "GET/incidents",
            "GET/incidents/*",
            "GET/oncall",
            "GET/review",
            "POST/incidents/*"
        ]
    );

    let declared: BTreeSet<String> = r
        .as_mapping()
        .unwrap()
        .values()
        .filter(|v| v["Type"] == "AWS::ApiGatewayV2::Route")
        .filter_map(|v| v["Properties"]["RouteKey"].as_str().map(str::to_string))
        .collect();
    for key in [
        "GET /incidents",
        "GET /incidents/{id}",
        "GET /incidents/{id}/evidence",
        "GET /oncall",
        "GET /review",
        "POST /incidents/{id}",
    ] {
        assert!(declared.contains(key), "route {key} is declared");
    }
    assert_eq!(
        r["ConsoleIdentityPool"]["Properties"]["AllowUnauthenticatedIdentities"],
        false
    );
    assert_eq!(
        r["ConsoleUserPool"]["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"],
        true
    );
    assert!(is_tagged(
        &r["CommandsFunction"]["Properties"]["Environment"]["Variables"]["CONSOLE_USER_POOL_ID"],
        "!Ref",
        "ConsoleUserPool"
    ));
    let block = &r["ConsoleBucket"]["Properties"]["PublicAccessBlockConfiguration"];
    for k in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[k], true, "{k}");
    }
    let read = &r["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(read["Principal"]["Service"], "cloudfront.amazonaws.com");
    assert!(is_tagged(
        &read["Condition"]["StringEquals"]["AWS:SourceArn"],
        "!Sub",
        "distribution/${ConsoleDistribution}"
    ));
}

#[test]
fn every_function_that_lists_the_evidence_bucket_lists_only_evidence() {
    fn statements<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        match v {
            Value::Mapping(m) => {
                if m.contains_key("Effect") && m.contains_key("Action") {
                    out.push(v);
                }
                m.values().for_each(|x| statements(x, out));
            }
            Value::Sequence(s) => s.iter().for_each(|x| statements(x, out)),
            Value::Tagged(t) => statements(&t.value, out),
            _ => {}
        }
    }
    let home = template("template.yaml");
    let mut listing = Vec::new();
    for (name, resource) in home["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let mut found = Vec::new();
        statements(&resource["Properties"]["Policies"], &mut found);
        for s in found.into_iter().filter(|s| s["Action"] == "s3:ListBucket") {
            let on_evidence = matches!(&s["Resource"], Value::Tagged(t) if t.value == "EvidenceBucket.Arn");
            if on_evidence {
                listing.push(name.as_str().unwrap().to_string());
                assert_eq!(
                    s["Condition"]["StringLike"]["s3:prefix"], "evidence/*",
                    "{name:?} lists the evidence bucket beyond evidence/"
                );
            }
        }
    }
    assert!(
        listing.len() >= 2,
        "the mitigate and commands functions list evidence: {listing:?}"
    );
}
