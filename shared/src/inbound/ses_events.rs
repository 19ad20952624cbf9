//! Amazon SES event publishing records, as a configuration set's event destination publishes
//! them to SNS (the SNS message is the record's JSON). Field reference: SES developer guide,
//! "Contents of event data that Amazon SES publishes to Amazon SNS"; the samples in
//! `tests/fixtures/ses-*.json` follow its examples. A record without event publishing names
//! its type `notificationType` instead of `eventType`: read the same.

use crate::domain::ids::{OrderId, ShopId};
use crate::domain::mail_feedback::{MailFeedback, MailOutcome, tags};
use crate::inbound::{ParseError, from_json};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::HashMap;

/// What one SES record says that ppx keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SesRecord {
    Feedback(SesFeedback),
    /// Send, Open, Click, Rendering Failure, Subscription: nothing of the delivery; its type.
    Ignored(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesFeedback {
    /// The shop and order the email's tags name (`None`: not an email ppx tagged).
    pub order: Option<(ShopId, OrderId)>,
    pub feedback: MailFeedback,
    /// The recipients the news is about (a bounce's or a complaint's).
    pub recipients: Vec<String>,
}

pub fn parse(body: &[u8]) -> Result<SesRecord, ParseError> {
    let record: Record = from_json(body)?;
    let (outcome, at, detail, recipients) = match record.event_type.as_str() {
        "Bounce" => {
            let bounce = record.bounce.ok_or_else(|| ParseError::field("bounce", "missing for a Bounce"))?;
            let outcome =
                if bounce.bounce_type == "Permanent" { MailOutcome::Bounced } else { MailOutcome::SoftBounced };
            let status = bounce.bounced_recipients.iter().find_map(|r| r.status.as_deref());
            let mut detail = format!("{}/{}", bounce.bounce_type, bounce.bounce_sub_type);
            if let Some(status) = status {
                detail = format!("{detail} {status}");
            }
            (outcome, bounce.timestamp, Some(detail), addresses(bounce.bounced_recipients))
        }
        "Complaint" => {
            let complaint =
                record.complaint.ok_or_else(|| ParseError::field("complaint", "missing for a Complaint"))?;
            let detail = complaint.complaint_feedback_type.or(complaint.complaint_sub_type);
            (MailOutcome::Complained, complaint.timestamp, detail, addresses(complaint.complained_recipients))
        }
        "Delivery" => {
            let delivery = record.delivery.ok_or_else(|| ParseError::field("delivery", "missing for a Delivery"))?;
            (MailOutcome::Delivered, delivery.timestamp, None, delivery.recipients)
        }
        "DeliveryDelay" => {
            let delay = record
                .delivery_delay
                .ok_or_else(|| ParseError::field("deliveryDelay", "missing for a DeliveryDelay"))?;
            (MailOutcome::Delayed, delay.timestamp, Some(delay.delay_type), addresses(delay.delayed_recipients))
        }
        "Reject" => {
            let reject = record.reject.ok_or_else(|| ParseError::field("reject", "missing for a Reject"))?;
            (MailOutcome::Rejected, record.mail.timestamp, Some(reject.reason), Vec::new())
        }
        other => return Ok(SesRecord::Ignored(other.to_owned())),
    };
    let tags = &record.mail.tags;
    let order = tags::read(|name| tags.get(name).and_then(|values| values.first()).map(String::as_str));
    let feedback = MailFeedback { provider_message_id: record.mail.message_id, outcome, at, detail };
    Ok(SesRecord::Feedback(SesFeedback { order, feedback, recipients }))
}

fn addresses(recipients: Vec<Recipient>) -> Vec<String> {
    recipients.into_iter().map(|r| r.email_address).collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(alias = "notificationType")]
    event_type: String,
    mail: Mail,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
    delivery: Option<Delivery>,
    reject: Option<Reject>,
    delivery_delay: Option<DeliveryDelay>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    message_id: String,
    timestamp: DateTime<Utc>,
    /// Tag name to values; only with event publishing through a configuration set.
    #[serde(default)]
    tags: HashMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
    /// The SMTP enhanced status code (`5.1.1`).
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    /// `Permanent`, `Transient` or `Undetermined`.
    bounce_type: String,
    bounce_sub_type: String,
    bounced_recipients: Vec<Recipient>,
    timestamp: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    complained_recipients: Vec<Recipient>,
    timestamp: DateTime<Utc>,
    #[serde(default)]
    complaint_feedback_type: Option<String>,
    #[serde(default)]
    complaint_sub_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    timestamp: DateTime<Utc>,
    recipients: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reject {
    reason: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryDelay {
    timestamp: DateTime<Utc>,
    delay_type: String,
    #[serde(default)]
    delayed_recipients: Vec<Recipient>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name);
        std::fs::read(path).expect("fixture")
    }

    fn feedback(name: &str) -> SesFeedback {
        match parse(&fixture(name)).unwrap() {
            SesRecord::Feedback(feedback) => feedback,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn the_documented_records_read_as_their_outcomes() {
        let bounce = feedback("ses-bounce.json");
        assert_eq!(bounce.feedback.outcome, MailOutcome::Bounced);
        assert_eq!(bounce.feedback.detail.as_deref(), Some("Permanent/General 5.1.1"));
        assert_eq!(bounce.feedback.provider_message_id, "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000");
        assert_eq!(bounce.recipients, ["recipient@example.com"]);
        assert_eq!(bounce.feedback.at.to_rfc3339(), "2017-08-05T00:41:02.669+00:00");

        let complaint = feedback("ses-complaint.json");
        assert_eq!(complaint.feedback.outcome, MailOutcome::Complained);
        assert_eq!(complaint.feedback.detail.as_deref(), Some("abuse"));

        let delivery = feedback("ses-delivery.json");
        assert_eq!(delivery.feedback.outcome, MailOutcome::Delivered);
        assert_eq!(delivery.recipients, ["recipient@example.com"]);

        let delay = feedback("ses-delivery-delay.json");
        assert_eq!(delay.feedback.outcome, MailOutcome::Delayed);
        assert_eq!(delay.feedback.detail.as_deref(), Some("TransientCommunicationFailure"));

        let reject = feedback("ses-reject.json");
        assert_eq!(reject.feedback.outcome, MailOutcome::Rejected);
        assert_eq!(reject.feedback.detail.as_deref(), Some("Bad content"));
        // The documentation's samples carry SES's own tags only: no order of ours.
        assert_eq!(bounce.order, None);
    }

    #[test]
    fn a_soft_bounce_is_not_a_hard_one_and_send_or_open_say_nothing() {
        let mut record: serde_json::Value = serde_json::from_slice(&fixture("ses-bounce.json")).unwrap();
        record["bounce"]["bounceType"] = "Transient".into();
        record["bounce"]["bounceSubType"] = "MailboxFull".into();
        let SesRecord::Feedback(soft) = parse(&serde_json::to_vec(&record).unwrap()).unwrap() else { panic!() };
        assert_eq!(soft.feedback.outcome, MailOutcome::SoftBounced);
        assert_eq!(soft.feedback.outcome.suppresses(), None);

        record["eventType"] = "Send".into();
        assert_eq!(parse(&serde_json::to_vec(&record).unwrap()).unwrap(), SesRecord::Ignored("Send".into()));
    }

    #[test]
    fn our_tags_name_the_order_and_a_notification_type_reads_as_an_event_type() {
        let shop = ShopId::parse("demo-shop.myshopify.com").unwrap();
        let order = OrderId::parse("450789469").unwrap();
        let mut record: serde_json::Value = serde_json::from_slice(&fixture("ses-delivery.json")).unwrap();
        for (name, value) in tags::for_order(&shop, &order) {
            record["mail"]["tags"][name] = serde_json::json!([value]);
        }
        let text = serde_json::to_string(&record).unwrap().replace("\"eventType\"", "\"notificationType\"");
        let SesRecord::Feedback(delivered) = parse(text.as_bytes()).unwrap() else { panic!() };
        assert_eq!(delivered.order, Some((shop, order)));
    }

    #[test]
    fn a_record_that_is_not_one_is_an_error_naming_the_field() {
        assert!(matches!(parse(b"not json"), Err(ParseError::Json(_))));
        let no_bounce = br#"{"eventType":"Bounce","mail":{"messageId":"m","timestamp":"2026-01-01T00:00:00Z"}}"#;
        assert!(matches!(parse(no_bounce), Err(ParseError::Field { field, .. }) if field == "bounce"));
        let no_mail = br#"{"eventType":"Delivery"}"#;
        assert!(parse(no_mail).is_err());
    }
}
