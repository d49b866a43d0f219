//! Telling the world: the app's own EventBridge bus, the teams' SNS topics, texts (SNS) and
//! e-mails (SES) to people.

use crate::lazy_client::Lazy;
use crate::AwsError;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use incident_core::app_event::AppEvent;
use incident_core::event::{CustomerReport, CUSTOMER_REPORT, CUSTOMER_SOURCE};
use incident_core::ports::{PortResult, ReportIntake};
use serde_json::Value;

/// The `source` of every event the app emits.
pub const APP_SOURCE: &str = "incident-loop";

#[derive(Clone, Debug)]
pub struct Bus {
    events: Lazy<aws_sdk_eventbridge::Client>,
    sns: Lazy<aws_sdk_sns::Client>,
    bus_name: String,
    /// The number texts are sent from (`SMS_ORIGINATION_NUMBER`): the one whose two-way channel
    /// delivers replies to the replies topic. Unset, SNS picks one, and replies may go nowhere.
    sms_origination: Option<String>,
    ses: Lazy<aws_sdk_sesv2::Client>,
    /// The verified address e-mail pages are sent from (`PAGE_FROM_ADDRESS`). Unset, nobody is
    /// paged by e-mail.
    pub(crate) page_from: Option<String>,
}

impl Bus {
    pub fn new(config: &aws_config::SdkConfig, bus_name: impl Into<String>) -> Self {
        Self {
            events: Lazy::new(config, aws_sdk_eventbridge::Client::new),
            sns: Lazy::new(config, aws_sdk_sns::Client::new),
            sms_origination: non_empty_env("SMS_ORIGINATION_NUMBER"),
            ses: Lazy::new(config, aws_sdk_sesv2::Client::new),
            page_from: non_empty_env("PAGE_FROM_ADDRESS"),
            bus_name: bus_name.into(),
        }
    }

    /// Publishes one app event; a partial failure reported by PutEvents is an error, not a shrug.
    pub async fn emit(&self, event: &AppEvent) -> Result<(), AwsError> {
        self.put(&self.bus_name, APP_SOURCE, event.detail_type(), &event.detail())
            .await
    }

    /// Puts one event on `bus` (a name, or `default`).
    pub(crate) async fn put(&self, bus: &str, source: &str, detail_type: &str, detail: &Value) -> Result<(), AwsError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source(source)
            .detail_type(detail_type)
            .detail(detail.to_string())
            .build();
        let out = self
            .events
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| AwsError::sdk("PutEvents", e))?;
        if out.failed_entry_count() > 0 {
            let why = out
                .entries()
                .iter()
                .filter_map(|e| e.error_message())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(AwsError::Service {
                operation: "PutEvents",
                message: why,
                code: None,
            });
        }
        Ok(())
    }

    /// Pages a team through its SNS topic. The subject is made one line under 100 characters
    /// whatever the caller built, as SNS requires.
    pub async fn page(&self, topic_arn: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        let subject = incident_core::text::subject(subject);
        self.sns
            .publish()
            .topic_arn(topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(|e| AwsError::sdk("Publish", e))?;
        Ok(())
    }

    /// Texts a person's phone through SNS, as a transactional message (delivered at once, even to
    /// numbers that opted out of promotional ones).
    pub async fn text(&self, number: &str, message: &str) -> Result<(), AwsError> {
        use aws_sdk_sns::types::MessageAttributeValue;
        let transactional = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .map_err(|e| AwsError::Rejected(format!("SMS attribute: {e}")))?;
        let mut publish = self
            .sns
            .publish()
            .phone_number(number)
            .message(message)
            .message_attributes("AWS.SNS.SMS.SMSType", transactional);
        if let Some(origination) = &self.sms_origination {
            let from = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(origination)
                .build()
                .map_err(|e| AwsError::Rejected(format!("SMS attribute: {e}")))?;
            publish = publish.message_attributes("AWS.MM.SMS.OriginationNumber", from);
        }
        publish.send().await.map_err(|e| AwsError::sdk("Publish", e))?;
        Ok(())
    }

    /// E-mails a person through SES from the page sender, in plain text only (nothing in it is
    /// rendered, nothing is a link to follow).
    pub async fn email(&self, address: &str, subject: &str, body: &str) -> Result<(), AwsError> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let from = self
            .page_from
            .as_deref()
            .ok_or_else(|| AwsError::Rejected("no sender for e-mail pages (PageFromAddress)".into()))?;
        let text = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| AwsError::Rejected(format!("e-mail content: {e}")))
        };
        let message = Message::builder()
            .subject(text(subject)?)
            .body(Body::builder().text(text(body)?).build())
            .build();
        self.ses
            .send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses(address).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| AwsError::sdk("SendEmail", e))?;
        Ok(())
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Customer reports go on the loop's own bus, where only the loop may put them and ingest's second
/// rule reads them.
impl ReportIntake for Bus {
    async fn submit(&self, report: &CustomerReport) -> PortResult<()> {
        let detail = serde_json::to_value(report).map_err(|e| AwsError::decode("customer report", e))?;
        Ok(self
            .put(&self.bus_name, CUSTOMER_SOURCE, CUSTOMER_REPORT, &detail)
            .await?)
    }
}
