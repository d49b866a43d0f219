//! Acknowledging from the page: every text carries a short single-use code bound to the person
//! and the incident, and a reply with it from that person's number acknowledges as them. The
//! code is kept only as its hash; a reply from any other number is refused and recorded.

use crate::catalog::Catalog;
use crate::command::Refusal;
use crate::record::Caller;
use crate::IncidentId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The digits of a code.
pub const CODE_DIGITS: usize = 6;

/// What a code was issued for (stored under the code's hash, never the code).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCode {
    pub incident: IncidentId,
    pub person: String,
}

/// A code from four random bytes: six digits.
pub fn code_from(random: [u8; 4]) -> String {
    format!("{:06}", u32::from_be_bytes(random) % 1_000_000)
}

/// How a code is stored and looked up.
pub fn code_hash(code: &str) -> String {
    let digest = Sha256::digest(format!("incident-loop page code\n{code}"));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The line a text ends with.
pub fn reply_line(code: &str) -> String {
    format!("Reply ACK {code} to acknowledge")
}

/// An inbound text as AWS End User Messaging SMS publishes it to the replies topic (two-way SMS).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsReply {
    pub origination_number: String,
    #[serde(default)]
    pub message_body: String,
}

impl SmsReply {
    pub fn parse(message: &str) -> Result<Self, String> {
        serde_json::from_str(message).map_err(|e| format!("not an inbound SMS notification: {e}"))
    }

    /// The first run of exactly six digits in the reply (`ACK 123456`, `123456`, `ack 123456 on it`).
    pub fn code(&self) -> Option<String> {
        self.message_body
            .split(|c: char| !c.is_ascii_digit())
            .find(|run| run.len() == CODE_DIGITS)
            .map(str::to_string)
    }
}

/// A phone number as the timeline shows it: its last four digits.
pub fn masked(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("…{tail}")
}

/// Whether the reply came from the number of the person the code was issued to: the caller the
/// acknowledgement is made as (the person's IAM identity when the catalog names one), or why not.
pub fn sender(reply: &SmsReply, issued: &IssuedCode, catalog: &Catalog) -> Result<Caller, Refusal> {
    let person = catalog.person(&issued.person);
    match person {
        Some(p) if p.sms.as_deref() == Some(reply.origination_number.as_str()) => Ok(Caller {
            arn: format!("sms:{}", masked(&reply.origination_number)),
            // Named as a signed request by the same identity would be.
            name: p.acts_as(),
        }),
        _ => Err(Refusal::Refused(format!(
            "acknowledgement by SMS refused: the reply came from {}, not {}'s number",
            masked(&reply.origination_number),
            issued.person
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        serde_yaml::from_str(include_str!("../../../catalog.example.yaml")).unwrap()
    }

    #[test]
    fn codes_are_six_digits_and_found_in_a_reply_whatever_surrounds_them() {
        assert_eq!(code_from([0, 0, 0, 7]), "000007");
        assert_eq!(code_from([255; 4]).len(), CODE_DIGITS);
        let reply = |body: &str| SmsReply {
            origination_number: "+15555550101".into(),
            message_body: body.into(),
        };
        assert_eq!(reply("ACK 482913").code().as_deref(), Some("482913"));
        assert_eq!(reply("ack482913 on it").code().as_deref(), Some("482913"));
        assert_eq!(reply("call me at 5550101234").code(), None, "ten digits are not a code");
        assert_eq!(reply("ok").code(), None);
        assert_ne!(code_hash("482913"), code_hash("482914"));
        assert!(!code_hash("482913").contains("482913"));
    }

    #[test]
    fn an_inbound_text_parses_from_end_user_messagings_notification() {
        let message = r#"{"originationNumber":"+15555550101","destinationNumber":"+15555550199","messageKeyword":"ACK","messageBody":"ACK 123456","inboundMessageId":"cae173d2-66b9-564c-8309-21f858e9fb84","previousPublishedMessageId":"wJalrXUtnFEMI"}"#;
        let reply = SmsReply::parse(message).unwrap();
        assert_eq!(reply.origination_number, "+15555550101");
        assert_eq!(reply.code().as_deref(), Some("123456"));
        assert!(SmsReply::parse("ACK 123456")
            .unwrap_err()
            .starts_with("not an inbound SMS"));
    }

    #[test]
    fn only_the_paged_persons_number_acknowledges_and_as_their_identity() {
        let c = catalog();
        let issued = IssuedCode {
            incident: IncidentId::parse("inc-0123456789abcdef0123").unwrap(),
            person: "ana".into(),
        };
        let from = |n: &str| SmsReply {
            origination_number: n.into(),
            message_body: "ACK 123456".into(),
        };
        let ana = c.person("ana").unwrap().sms.clone().unwrap();
        let caller = sender(&from(&ana), &issued, &c).unwrap();
        assert_eq!(caller.name, "ana");
        assert!(
            !caller.arn.contains(&ana),
            "the number is not written out: {}",
            caller.arn
        );
        let refused = sender(&from("+15555550999"), &issued, &c).unwrap_err().to_string();
        assert_eq!(
            refused,
            "acknowledgement by SMS refused: the reply came from …0999, not ana's number"
        );
    }
}
