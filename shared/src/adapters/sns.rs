//! SMS through SNS `Publish` to a phone number.

use crate::ports::messaging::{SendError, SmsOrigin, SmsSender, without_recipients};
use aws_sdk_sns::Client;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::operation::publish::PublishError;
use aws_sdk_sns::types::MessageAttributeValue;

/// SNS's message attributes for SMS (SNS developer guide, "Publishing to a mobile phone").
pub const SMS_TYPE: &str = "AWS.SNS.SMS.SMSType";
pub const ORIGINATION_NUMBER: &str = "AWS.MM.SMS.OriginationNumber";
pub const SENDER_ID: &str = "AWS.SNS.SMS.SenderID";

#[derive(Clone, Debug)]
pub struct SnsSms {
    client: Client,
}

impl SnsSms {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl SmsSender for SnsSms {
    async fn send_sms(&self, to: &str, body: &str, from: SmsOrigin<'_>) -> Result<String, SendError> {
        let text = |value: &str| {
            MessageAttributeValue::builder().data_type("String").string_value(value).build().expect("a data type")
        };
        // Transactional: SNS favours delivery over price, and it is not marketing.
        let mut publish =
            self.client.publish().phone_number(to).message(body).message_attributes(SMS_TYPE, text("Transactional"));
        if let Some(number) = from.number {
            publish = publish.message_attributes(ORIGINATION_NUMBER, text(number));
        }
        if let Some(sender_id) = from.sender_id {
            publish = publish.message_attributes(SENDER_ID, text(sender_id));
        }
        let result = publish.send().await;
        match result {
            Ok(out) => Ok(out.message_id.unwrap_or_default()),
            Err(err) => {
                let permanent = err.as_service_error().is_some_and(|e| {
                    matches!(
                        e,
                        PublishError::InvalidParameterException(_) | PublishError::InvalidParameterValueException(_)
                    )
                });
                let detail = without_recipients(&DisplayErrorContext(&err).to_string());
                Err(if permanent { SendError::Rejected(detail) } else { SendError::Transient(detail) })
            }
        }
    }
}

/// Shop events through SNS `Publish` to a topic of the stack's own account and region.
#[derive(Clone, Debug)]
pub struct SnsEvents {
    client: Client,
    home: crate::domain::settings::StackHome,
}

impl SnsEvents {
    pub fn new(client: Client, home: crate::domain::settings::StackHome) -> Self {
        Self { client, home }
    }
}

impl crate::ports::messaging::EventPublisher for SnsEvents {
    async fn publish(&self, topic_arn: &str, subject: &str, json: &str) -> Result<String, SendError> {
        // Refused for good, not retried: the function may publish to nothing else.
        if let Some(reason) = self.home.refuses(topic_arn) {
            return Err(SendError::Rejected(reason));
        }
        let string = |value: &str| {
            MessageAttributeValue::builder().data_type("String").string_value(value).build().expect("has a type")
        };
        let result = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .subject(subject)
            .message(json)
            .message_attributes("event", string(subject))
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.message_id.unwrap_or_default()),
            Err(err) => {
                let permanent = err.as_service_error().is_some_and(|e| {
                    matches!(e, PublishError::NotFoundException(_) | PublishError::InvalidParameterException(_))
                });
                let detail = without_recipients(&DisplayErrorContext(&err).to_string());
                Err(if permanent { SendError::Rejected(detail) } else { SendError::Transient(detail) })
            }
        }
    }
}
