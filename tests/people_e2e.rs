//! People act only through the command API, and only as themselves: IAM is enforced by the local
//! stack (AUTH=true), and the people here are IAM users holding the template's own responder and
//! read-only policies. Run by `scripts/test`, which deploys the stack and sets INCIDENT_LOOP_E2E=1.

use anyhow::Result;
use chrono::Utc;
use e2e::*;
use incident_core::catalog::Catalog;
use incident_core::effects::Waiting;
use incident_core::incident::Status;
use std::fmt::Debug;

/// The call failed, and IAM is why.
fn denied<T: Debug, E: std::fmt::Display + Debug>(what: &str, result: std::result::Result<T, E>) {
    match result {
        Ok(v) => panic!("{what} was allowed: {v:?}"),
        Err(e) => {
            let text = format!("{e:?}");
            assert!(
                text.contains("AccessDenied") || text.contains("not authorized"),
                "{what} failed, but not for lack of permission: {text}"
            );
        }
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn people_change_incidents_only_through_the_command_api_and_only_as_themselves() -> Result<()> {
    let stack = setup().await?;
    // checkout's approvers in the example catalog are ana and bilal.
    let ana = stack.person("ana", "ResponderPolicyArn")?;
    let eve = stack.person("eve", "ResponderPolicyArn")?;
    let rita = stack.person("rita", "ReadOnlyPolicyArn")?;
    let incident = open_checkout_game_day(&stack, "people-a1", era(110)).await?;
    let id = incident.id.to_string();
    let short = &id[4..10];
    let approval = pending_offer(&stack, &incident.id, 0).await?;

    // Read-only: lists and shows (by a typed prefix of the id), changes nothing.
    assert_eq!(rita.incidentctl(&["list"])?.code, Some(0));
    let shown = rita.incidentctl(&["show", short])?;
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    assert!(shown.stdout.contains(&id), "{}", shown.stdout);
    let ack = rita.incidentctl(&["ack", &id])?;
    assert_eq!(ack.code, Some(3), "refused: {} {}", ack.stdout, ack.stderr);
    assert!(ack.stderr.contains("not allowed"), "{}", ack.stderr);

    // A responder who is not an approver is refused by the rule, in words, and nothing changes.
    let refused = eve.incidentctl(&["approve", short, "--param", "DesiredCount=4"])?;
    assert_eq!(refused.code, Some(3), "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("eve is not an approver for checkout (approvers: ana, bilal)"),
        "{}",
        refused.stderr
    );
    let still = pending(&stack, &incident.id).await?.expect("still pending");
    assert_eq!(
        (still.id.as_str(), still.decision.as_ref()),
        (approval.id.as_str(), None)
    );

    // Nor can a responder go around the API: no table write, no token read, no SendTaskSuccess,
    // no direct call of the command function with a caller of their choosing.
    let as_eve = eve.sdk().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&as_eve);
    let item = serde_json::json!({ "pk": format!("INCIDENT#{id}"), "sk": "META", "status": "resolved" });
    let item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> = item
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                aws_sdk_dynamodb::types::AttributeValue::S(v.as_str().unwrap().into()),
            )
        })
        .collect();
    denied(
        "a responder's PutItem",
        dynamodb_put(&dynamo, &stack.outputs["TableName"], item.clone()).await,
    );
    let token_key = Waiting::Approval(approval.id.clone()).key();
    let key = std::collections::HashMap::from([
        (
            "pk".to_string(),
            aws_sdk_dynamodb::types::AttributeValue::S(format!("INCIDENT#{id}")),
        ),
        (
            "sk".to_string(),
            aws_sdk_dynamodb::types::AttributeValue::S(format!("TOKEN#{token_key}")),
        ),
    ]);
    denied(
        "a responder reading a task token",
        dynamo
            .get_item()
            .table_name(&stack.outputs["DecisionsTableName"])
            .set_key(Some(key.clone()))
            .send()
            .await,
    );
    // The token itself, read as the account's root, is still useless to the responder.
    let token = aws_sdk_dynamodb::Client::new(&stack.config)
        .get_item()
        .table_name(&stack.outputs["DecisionsTableName"])
        .set_key(Some(key))
        .send()
        .await?
        .item
        .and_then(|i| i.get("token").and_then(|t| t.as_s().ok()).cloned())
        .expect("the approval's token is kept");
    denied(
        "a responder's SendTaskSuccess",
        aws_sdk_sfn::Client::new(&as_eve)
            .send_task_success()
            .task_token(&token)
            .output(r#"{"approved": true, "candidate": 0}"#)
            .send()
            .await,
    );
    denied(
        "a responder invoking the command function directly",
        aws_sdk_lambda::Client::new(&as_eve)
            .invoke()
            .function_name(&stack.outputs["CommandsFunctionName"])
            .send()
            .await,
    );
    assert_eq!(
        pending(&stack, &incident.id).await?.map(|a| a.id),
        Some(approval.id.clone())
    );

    // The approver approves, recorded with her verified identity; a second decision is refused.
    ssm_script(r#"{"IncidentLoop-ScaleUpEcsService": "Success"}"#)?;
    let approved = ana.incidentctl(&["approve", short, "--param", "DesiredCount=4", "--reason", "buy time"])?;
    assert_eq!(approved.code, Some(0), "{}", approved.stderr);
    assert!(approved.stdout.contains("approved candidate 0"), "{}", approved.stdout);
    deliver_runbook_ended(&stack, &incident.id, "Success").await?;
    let decided = {
        use incident_core::ports::Approvals;
        stack
            .store
            .get(&incident.id, &approval.id)
            .await?
            .and_then(|a| a.decision)
    }
    .expect("decided");
    assert_eq!(
        (decided.by.as_str(), decided.by_arn.as_str()),
        ("ana", ana.arn.as_str())
    );
    let again = ana.incidentctl(&["approve", &id, "--param", "DesiredCount=4"])?;
    assert_eq!(again.code, Some(3));
    assert!(again.stderr.contains("already approved by ana at "), "{}", again.stderr);

    // Resolution with the checklist unmet is refused through the API, saying what is missing;
    // an override goes through and is recorded with the caller's ARN.
    let unmet = eve.incidentctl(&["resolve", &id])?;
    assert_eq!(unmet.code, Some(3), "{}", unmet.stderr);
    assert!(
        unmet.stderr.contains("closing checklist is not met"),
        "{}",
        unmet.stderr
    );
    assert!(unmet.stderr.contains("--force --reason"), "{}", unmet.stderr);
    let forced = eve.incidentctl(&["resolve", &id, "--force", "--reason", "e2e: the exercise ends here"])?;
    assert_eq!(forced.code, Some(0), "{}", forced.stderr);
    let resolved = stack.store.incident(&incident.id).await?;
    assert_eq!(resolved.status, Status::Resolved);
    let o = resolved.resolution_override.expect("the override is recorded");
    assert_eq!((o.reason.by.as_str(), o.by_arn.as_str()), ("eve", eve.arn.as_str()));
    lifecycle_succeeded(&stack, &id).await?;

    // Still nothing direct for the read-only user; a missing incident is "not found" (exit 4).
    denied(
        "a read-only user's PutItem",
        dynamodb_put(
            &aws_sdk_dynamodb::Client::new(&rita.sdk().await),
            &stack.outputs["TableName"],
            item,
        )
        .await,
    );
    assert_eq!(rita.incidentctl(&["show", "inc-00000000000000000000"])?.code, Some(4));
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn following_a_timeline_prints_each_new_entry_as_it_arrives() -> Result<()> {
    use std::io::BufRead;
    let stack = setup().await?;
    let incident = open_checkout_game_day(&stack, "follow-a1", era(130)).await?;
    let id = incident.id.to_string();
    let mut follower = incidentctl_spawn(&["timeline", &id[4..12], "--follow", "--output", "json"])?;
    let lines = std::io::BufReader::new(follower.stdout.take().expect("piped"));
    let (seen, watched) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.lines().map_while(std::result::Result::ok) {
            if seen.send(line).is_err() {
                return;
            }
        }
    });
    // The entries so far come first, each a JSON object on its own line.
    let first: serde_json::Value = serde_json::from_str(&watched.recv_timeout(WAIT)?)?;
    assert_eq!(first["kind"], "opened", "{first}");
    incidentctl(&["note", &id, "following along from the bridge"])?;
    let arrived = loop {
        let line = watched.recv_timeout(WAIT)?;
        if line.contains("following along from the bridge") {
            break line;
        }
    };
    let note: serde_json::Value = serde_json::from_str(&arrived)?;
    assert_eq!(
        (note["kind"].as_str(), note["actor"].as_str()),
        (Some("note"), Some("root"))
    );
    follower.kill()?;
    follower.wait()?;
    Ok(())
}

async fn dynamodb_put(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> std::result::Result<(), aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError>> {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .map(|_| ())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn the_dynamodb_store_keeps_the_command_store_contract() -> Result<()> {
    let stack = setup().await?;
    let catalog: Catalog = serde_yaml::from_str(&std::fs::read_to_string(format!(
        "{}/../catalog.example.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))?)?;
    // Each run its own hour, so that a stack reused by later runs never correlates them.
    let run = Utc::now().timestamp_millis();
    let at = era(120) - chrono::TimeDelta::hours(run % 1000);
    incident_core::store_contract::command_store_contract(&stack.store, &catalog, at, &format!("dynamodb-{run}")).await;
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn the_dynamodb_store_keeps_the_change_log_contract() -> Result<()> {
    let stack = setup().await?;
    let run = Utc::now().timestamp_millis();
    incident_core::store_contract::change_log_contract(
        &stack.store,
        Utc::now() - chrono::TimeDelta::days(2),
        &format!("dynamodb-{run}"),
    )
    .await;
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn the_primary_is_texted_the_secondary_next_and_only_a_reply_from_the_paged_number_acknowledges() -> Result<()> {
    use incident_core::engagement::Channel;
    let stack = setup().await?;
    let file = format!("{}/../catalog.example.yaml", env!("CARGO_MANIFEST_DIR"));
    let catalog: Catalog = serde_yaml::from_str(&std::fs::read_to_string(file)?)?;
    let chat = stack
        .capture_pages("incident-loop-payments-chat", "oncall-chat")
        .await?;
    let incident = open_checkout_rehearsal(&stack, "oncall-a1", era(170)).await?;
    let id = incident.id.to_string();
    let at = incident.engaged_at.expect("engaged");
    let schedule = catalog.schedule("payments").expect("payments has rotations");
    let primary = schedule.on_call("primary", at).expect("a primary").person;
    let secondary = schedule.on_call("secondary", at).expect("a secondary").person;
    let number = |p: &str| catalog.person(p).and_then(|p| p.sms.clone()).expect("an SMS number");

    // The primary's text names the incident and carries a code to reply with.
    let text = eventually("the primary's text", WAIT, || async {
        Ok(texts_to(&number(&primary))?.into_iter().find(|m| m.contains(&id)))
    })
    .await?;
    let code = text
        .split("Reply ACK ")
        .nth(1)
        .and_then(|rest| rest.get(..6))
        .unwrap_or_else(|| panic!("no code in the text: {text}"))
        .to_string();
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{text}");

    // And by e-mail, from the page sender (SES), in plain text with the command that acknowledges.
    let address = catalog
        .person(&primary)
        .and_then(|p| p.email.clone())
        .expect("an e-mail address");
    let (from, subject, body) = eventually("the primary's e-mail", WAIT, || async {
        Ok(emails_to(&address)?.into_iter().find(|(_, _, body)| body.contains(&id)))
    })
    .await?;
    assert_eq!(from, stack.outputs["PageFromAddress"]);
    assert!(subject.contains("GAME DAY") && !subject.contains('\n'), "{subject}");
    assert!(body.contains(&format!("incidentctl ack {id}")), "{body}");

    // The team's chat channel got the page as a custom notification of Amazon Q Developer.
    let card = eventually("the chat notification", WAIT, || async {
        let cards: Vec<serde_json::Value> = stack
            .drain(&chat)
            .await?
            .iter()
            .filter_map(|m| serde_json::from_str(m["Message"].as_str()?).ok())
            .collect();
        Ok(cards.into_iter().find(|c| c["metadata"]["threadId"] == id.as_str()))
    })
    .await?;
    assert_eq!(
        (card["version"].as_str(), card["source"].as_str()),
        (Some("1.0"), Some("custom"))
    );
    assert_eq!(card["content"]["textType"], "client-markdown");
    assert!(
        card["content"]["description"]
            .as_str()
            .unwrap_or_default()
            .contains(&primary),
        "{card}"
    );
    assert_eq!(
        card["content"]["nextSteps"][0],
        format!("Acknowledge: `incidentctl ack {id}`")
    );

    // Nobody acknowledges: the plan's second stage texts the secondary after its wait.
    eventually("the secondary's text", WAIT, || async {
        let texts = texts_to(&number(&secondary))?;
        Ok(texts
            .into_iter()
            .find(|m| m.contains(&id) && m.contains("ESCALATION 1")))
    })
    .await?;

    // Nobody but the SMS service may put a reply there, not even a principal who may publish to
    // any topic (as the engage function's role may, to text people).
    let mallory = stack.person_also_allowed(
        "mallory",
        "ResponderPolicyArn",
        serde_json::json!({ "Effect": "Allow", "Action": "sns:Publish", "Resource": "*" }),
    )?;
    let forged = aws_sdk_sns::Client::new(&mallory.sdk().await)
        .publish()
        .topic_arn(&stack.outputs["SmsRepliesTopicArn"])
        .message(inbound_sms(&number(&primary), &format!("ACK {code}")))
        .send()
        .await;
    denied("a reply forged by a principal who may publish anywhere", forged);

    // The primary's code from another number: refused, and the refusal is on the timeline.
    reply_by_sms(&stack, "+15555550999", &format!("ACK {code}")).await?;
    eventually("the refusal on the timeline", WAIT, || async {
        let timeline = stack.store.timeline(&incident.id).await?;
        let refused = "acknowledgement by SMS refused: the reply came from …0999, not";
        Ok(timeline.iter().any(|e| e.text.contains(refused)).then_some(()))
    })
    .await?;
    assert!(stack.store.incident(&incident.id).await?.acknowledged_at.is_none());

    // From the primary's number: acknowledged as the primary's IAM identity.
    reply_by_sms(&stack, &number(&primary), &format!("ACK {code}")).await?;
    let acknowledged = eventually("the acknowledgement by SMS", WAIT, || async {
        let i = stack.store.incident(&incident.id).await?;
        Ok(i.acknowledged_by.is_some().then_some(i))
    })
    .await?;
    let iam = catalog.person(&primary).and_then(|p| p.iam.clone());
    assert_eq!(acknowledged.acknowledged_by, iam);
    let pages = &acknowledged.pages;
    assert!(
        pages
            .iter()
            .any(|p| p.round == 0 && p.to == primary && p.channel == Channel::Sms),
        "{pages:#?}"
    );
    assert!(pages.iter().any(|p| p.round == 1 && p.to == secondary), "{pages:#?}");
    let shown = incidentctl(&["show", &id])?;
    assert!(
        shown.contains(&format!("{primary} by SMS (payments, engagement)")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("{secondary} by SMS (payments, escalation 1)")),
        "{shown}"
    );
    force_resolved(&stack, &id, "e2e: the on-call exercise ends here").await
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn an_override_goes_through_the_command_api_as_the_caller_and_changes_who_is_on_call() -> Result<()> {
    let stack = setup().await?;
    let ana = stack.person("ana", "ResponderPolicyArn")?;
    let rita = stack.person("rita", "ReadOnlyPolicyArn")?;
    // Two months ahead, so that no other test's pages change.
    let from = (Utc::now() + chrono::TimeDelta::days(60))
        .format("%Y-%m-%dT%H:00:00Z")
        .to_string();
    let to = (Utc::now() + chrono::TimeDelta::days(61))
        .format("%Y-%m-%dT%H:00:00Z")
        .to_string();
    let args = [
        "oncall", "override", "payments", "--user", "kai", "--from", &from, "--to", &to,
    ];
    let refused = rita.incidentctl(&args)?;
    assert_eq!(refused.code, Some(3), "{} {}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("not allowed"), "{}", refused.stderr);
    let added = ana.incidentctl(&args)?;
    assert_eq!(added.code, Some(0), "{}", added.stderr);
    assert!(
        added.stdout.contains("kai holds payments's primary from"),
        "{}",
        added.stdout
    );
    let unknown = ana.incidentctl(&[
        "oncall", "override", "payments", "--user", "zed", "--from", &from, "--to", &to,
    ])?;
    assert_eq!(unknown.code, Some(4), "{}", unknown.stderr);
    assert!(unknown.stderr.contains("no person 'zed'"), "{}", unknown.stderr);

    // Anyone who may read sees it: on call in the override's window, and in the catalog export.
    let mid = (Utc::now() + chrono::TimeDelta::days(60) + chrono::TimeDelta::hours(12))
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let shown = rita.incidentctl(&["oncall", "payments", "--at", &mid])?;
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    let primary = shown
        .stdout
        .lines()
        .find(|l| l.contains(" primary "))
        .unwrap_or_default();
    assert!(primary.contains("kai (override)"), "{}", shown.stdout);
    let exported = rita.incidentctl(&["catalog", "show"])?;
    assert!(exported.stdout.contains("by: ana"), "{}", exported.stdout);
    // A new import of the file keeps it: it came through the command API, not the file.
    setup().await?;
    let again = rita.incidentctl(&["oncall", "payments", "--at", &mid])?;
    assert!(again.stdout.contains("kai (override)"), "{}", again.stdout);
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn a_learning_climbs_its_ladder_through_the_command_api_and_every_service_sees_its_question() -> Result<()> {
    let stack = setup().await?;
    let ana = stack.person("ana", "ResponderPolicyArn")?;
    let rita = stack.person("rita", "ReadOnlyPolicyArn")?;
    let behind = incident_core::IncidentId::for_service("checkout", &incident_core::SignalKey::new("e2e", "learning"))
        .to_string();
    // Its own text each run: a learning is added once.
    let text = format!(
        "Rename a flag only with a migration ({})",
        Utc::now().timestamp_millis()
    );
    let add = [
        "learning",
        "add",
        "--category",
        "configuration",
        "--incident",
        &behind,
        "--shared",
        "the weekly operational review",
        &text,
    ];
    let refused = rita.incidentctl(&add)?;
    assert_eq!(refused.code, Some(3), "read-only: {}", refused.stderr);
    let added = ana.incidentctl(&[&add[..], &["--output", "json"]].concat())?;
    assert_eq!(added.code, Some(0), "{}", added.stderr);
    let learning: serde_json::Value = serde_json::from_str(&added.stdout)?;
    let id = learning["id"].as_str().expect("an id").to_string();
    assert_eq!(learning["steps"][0]["by"], "ana");

    let question = "Does every flag rename ship with a migration?";
    let asked = ana.incidentctl(&["learning", "escalate", &id, "--what", question])?;
    assert!(asked.stdout.contains("is at distributed change"), "{}", asked.stdout);
    let checklist = rita.incidentctl(&["orr", "orders"])?;
    assert!(
        checklist.stdout.contains(question) && checklist.stdout.contains("UNANSWERED"),
        "{}",
        checklist.stdout
    );
    let answered = ana.incidentctl(&["orr", "orders", "answer", &id, "Yes: the deploy pipeline checks it"])?;
    assert_eq!(answered.code, Some(0), "{}", answered.stderr);
    let checklist = rita.incidentctl(&["orr", "orders", "--output", "json"])?;
    let lines: serde_json::Value = serde_json::from_str(&checklist.stdout)?;
    let mine = lines
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["learning"] == id.as_str())
        .expect("the question is on orders' checklist");
    assert_eq!(mine["answer"]["by"], "ana");
    // Decided from what it was then, a change lands only over that version: a second decision made
    // from the same read (two people escalating at once) is refused by the table, as is a second add.
    let catalog = incident_aws::catalog_store::CatalogStore::new(
        aws_sdk_dynamodb::Client::new(&stack.config),
        stack.outputs["CatalogTableName"].clone(),
    );
    let stored = catalog.load().await?;
    let now = stored.learnings.iter().find(|l| l.id == id).expect("stored").clone();
    assert_eq!(now.version, 2);
    assert!(!catalog.put_learning(&now).await?, "a change decided from a stale read");
    let first = incident_core::learning::Learning {
        version: 1,
        ..now.clone()
    };
    assert!(
        !catalog.put_learning(&first).await?,
        "a second add of the same learning"
    );
    // The file's next import leaves it: it came through the command API.
    setup().await?;
    let listed = rita.incidentctl(&["learning", "list"])?;
    assert!(listed.stdout.contains(&id), "{}", listed.stdout);
    Ok(())
}
