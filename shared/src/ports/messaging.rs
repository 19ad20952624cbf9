//! The messaging ports: email, SMS and shop events. Adapters: `adapters::{ses, sns}`, and
//! recording fakes in `adapters::memory::messaging`.

use crate::domain::mailbox::Mailbox;
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
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Throttling, 5xx or a timeout: try again later.
    #[error("the provider is unavailable: {0}")]
    Transient(String),
    /// The provider will never accept this message (bad address, unverified sender).
    #[error("the provider rejected the message: {0}")]
    Rejected(String),
}

pub trait EmailSender: Send + Sync {
    /// Returns the provider's message id.
    fn send_email(&self, email: &OutboundEmail<'_>) -> impl Future<Output = Result<String, SendError>> + Send;
}

pub trait SmsSender: Send + Sync {
    /// `to` is E.164. Returns the provider's message id.
    fn send_sms(&self, to: &str, body: &str) -> impl Future<Output = Result<String, SendError>> + Send;
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
    async fn send_sms(&self, _: &str, _: &str) -> Result<String, SendError> {
        Err(SendError::Rejected("this function sends no SMS".into()))
    }
}
