//! Chat notifications for incidents with hostile text: the text stays inert here, and the samples
//! are written for `scripts/test_chat_notifications.py`, which checks them against the documented
//! schema (tests/schemas/chat-custom-notification.schema.json).

use incident_core::chat::{self, ChatChannel};
use incident_core::engagement::{self, Channel, Recipient};
use incident_core::incident::{Incident, Scope};
use incident_core::severity::Severity;
use incident_core::{IncidentId, SignalKey};

fn checkout(severity: Severity) -> Incident {
    let id = IncidentId::for_service("checkout", &SignalKey::new("t", "chat"));
    let mut i = Incident::open(id, Scope::SingleService, vec!["checkout".into()], chrono::Utc::now());
    i.severity = Some(severity);
    i.owner = Some("payments".into());
    i.commander = Some("hana".into());
    i
}

const HOSTILE: [&str; 4] = [
    "<!channel> <script>alert(1)</script>",
    "*bold* _it_ ~strike~ `code` [click](https://evil.example)",
    "<https://evil.example|your bank>",
    "line one\nline two\u{0007}",
];

#[test]
fn notifications_keep_hostile_text_inert_and_are_written_for_the_schema_check() {
    let channel = ChatChannel {
        topic: "arn:aws:sns:us-east-1:000000000000:incident-loop-incidents-chat".into(),
        channel: "#incidents".into(),
    };
    let paged = engagement::people_paged(&[Recipient {
        team: "payments".into(),
        person: Some("ana".into()),
        why: "primary on call, rotation primary".into(),
        channel: Channel::Sms,
        address: "+15555550101".into(),
    }]);
    let mut samples = Vec::new();
    for (n, hostile) in HOSTILE.iter().enumerate() {
        let mut i = checkout(Severity::Sev1);
        i.title = format!("checkout: {hostile}");
        i.first_signal = hostile.to_string();
        i.aws_events = vec![hostile.to_string()];
        i.exercise = n % 2 == 0;
        if n == 3 {
            i.scope = Scope::MultiService;
        }
        for (event, headline) in [("Incident Engaged", "paged"), ("Incident Escalated", "ESCALATION 2")] {
            let note = chat::notification(&i, event, headline, &paged, Some(&channel));
            let text = format!(
                "{} {} {} {}",
                note.content.title,
                note.content.description,
                note.metadata.summary,
                note.content.keywords.join(" ")
            );
            assert!(
                !text.contains("<!") && !text.contains("<script") && !text.contains("<https"),
                "{text}"
            );
            assert!(!note.content.description.contains('\u{0007}'));
            assert!(
                note.content.description.contains("*Incident channel* `#incidents`"),
                "SEV1 names the channel"
            );
            assert_eq!(note.metadata.thread_id, i.id.as_str(), "one thread per incident");
            assert!(note.content.next_steps[0].contains(&format!("incidentctl ack {}", i.id)));
            samples.push(serde_json::to_value(&note).unwrap());
        }
    }
    let mut quiet = checkout(Severity::Sev4);
    quiet.commander = None;
    let note = chat::notification(&quiet, "Incident Engaged", "paged", &[], Some(&channel));
    assert!(
        !note.content.description.contains("Incident channel"),
        "a SEV4 stays in the team's channel"
    );
    samples.push(serde_json::to_value(&note).unwrap());
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("chat-notifications.json");
    std::fs::write(&path, serde_json::to_string_pretty(&samples).unwrap()).unwrap();
}
