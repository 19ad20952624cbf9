//! The messaging ports: email, SMS and shop events. Adapters: `adapters::{ses, sns}`, and
//! recording fakes in `adapters::memory::messaging`.

use crate::domain::mailbox::Mailbox;
pub use crate::domain::settings::SmsOrigin;
use chrono::{DateTime, Utc};
use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundEmail<'a> {
    pub from: &'a Mailbox,
    pub reply_to: Option<&'a Mailbox>,
    pub to: &'a str,
    pub subject: &'a str,
    pub html: &'a str,
    pub text: &'a str,
    pub configuration_set: Option<&'a str>,
    /// When the message was written (the sender's clock): its `Date` header, until SES stamps
    /// its own.
    pub date: DateTime<Utc>,
    /// Extra headers, e.g. `List-Unsubscribe`.
    pub headers: &'a [(&'static str, String)],
    /// Message tags the provider hands back with its feedback (`mail_feedback::tags`).
    pub tags: &'a [(&'static str, String)],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Throttling, 5xx or a timeout: try again later.
    #[error("the provider is unavailable: {0}")]
    Transient(String),
    /// The provider will never accept this message (a malformed address or message).
    #[error("the provider rejected the message: {0}")]
    Rejected(String),
    /// The sending account cannot send at all (access denied, sending paused or suspended, the
    /// sender's identity not verified): no retry helps until the operator acts, so the message
    /// fails for good and an alarm goes off.
    #[error("the sending account cannot send: {0}")]
    Account(String),
}

/// A provider's error text without the addresses and phone numbers it may quote (SES names
/// the unverified recipient, SNS the invalid number): it is logged and kept in records.
pub fn without_recipients(detail: &str) -> String {
    detail
        .split(' ')
        .map(|word| {
            let digits = word.bytes().filter(u8::is_ascii_digit).count();
            if word.contains('@') {
                "<address>"
            } else if digits >= 7 && !word.bytes().any(|b| b.is_ascii_alphabetic()) {
                // A phone number (ppx sends E.164, one word); ids with letters (request ids) stay.
                "<number>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub trait EmailSender: Send + Sync {
    /// Returns the provider's message id.
    fn send_email(&self, email: &OutboundEmail<'_>) -> impl Future<Output = Result<String, SendError>> + Send;
}

pub trait SmsSender: Send + Sync {
    /// `to` is E.164, from the shop's number or sender ID when it has one. Returns the
    /// provider's message id.
    fn send_sms(
        &self,
        to: &str,
        body: &str,
        from: SmsOrigin<'_>,
    ) -> impl Future<Output = Result<String, SendError>> + Send;
}

/// Publishes JSON events to a shop's SNS topic.
pub trait EventPublisher: Send + Sync {
    /// Returns the provider's message id.
    fn publish(
        &self,
        topic_arn: &str,
        subject: &str,
        json: &str,
    ) -> impl Future<Output = Result<String, SendError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_lose_the_recipients_they_quote() {
        let ses = "MessageRejected: Email address is not verified. The following identities failed the check in \
                   region US-EAST-1: ada@example.com, \"Ada\" <ada@example.com>";
        let clean = without_recipients(ses);
        assert!(!clean.contains('@') && clean.contains("MessageRejected") && clean.contains("US-EAST-1"), "{clean}");
        let sns = "InvalidParameter: Invalid parameter: PhoneNumber Reason: +15555550123 is not valid \
                   (request 5f2c1a9e-0b6d-4c1e-9a7f-3d2b1c0e9f8a)";
        let clean = without_recipients(sns);
        assert!(!clean.contains("5550123") && clean.contains("(request 5f2c1a9e-0b6d"), "{clean}");
    }
}

/// For functions that send no email (the customer pages), so they need not link the SES client.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEmail;

impl EmailSender for NoEmail {
    async fn send_email(&self, _: &OutboundEmail<'_>) -> Result<String, SendError> {
        Err(SendError::Rejected("this function sends no email".into()))
    }
}

/// For functions that publish no shop events.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl EventPublisher for NoEvents {
    async fn publish(&self, _: &str, _: &str, _: &str) -> Result<String, SendError> {
        Err(SendError::Rejected("this function publishes no events".into()))
    }
}

/// For functions that send email only, so they need not link the SNS client.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSms;

impl SmsSender for NoSms {
    async fn send_sms(&self, _: &str, _: &str, _: SmsOrigin<'_>) -> Result<String, SendError> {
        Err(SendError::Rejected("this function sends no SMS".into()))
    }
}
