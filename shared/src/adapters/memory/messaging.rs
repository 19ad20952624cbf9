//! Recording senders for unit tests, with a switch to make the next sends fail.

use crate::ports::messaging::{EmailSender, OutboundEmail, SendError, SmsOrigin, SmsSender};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEmail {
    pub to: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Default)]
pub struct MemoryEmail {
    pub sent: Mutex<Vec<SentEmail>>,
    fail_next: AtomicU32,
}

impl MemoryEmail {
    /// The next `count` sends fail with a transient error.
    pub fn fail_next(&self, count: u32) {
        self.fail_next.store(count, Ordering::SeqCst);
    }
    pub fn sent(&self) -> Vec<SentEmail> {
        self.sent.lock().expect("lock").clone()
    }
}

fn take_failure(counter: &AtomicU32) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

impl EmailSender for MemoryEmail {
    async fn send_email(&self, email: &OutboundEmail<'_>) -> Result<String, SendError> {
        if take_failure(&self.fail_next) {
            return Err(SendError::Transient("injected failure".into()));
        }
        let mut sent = self.sent.lock().expect("lock");
        sent.push(SentEmail {
            to: email.to.to_owned(),
            subject: email.subject.to_owned(),
            html: email.html.to_owned(),
            text: email.text.to_owned(),
            headers: email.headers.iter().map(|(n, v)| (n.to_string(), v.clone())).collect(),
        });
        Ok(format!("memory-email-{}", sent.len()))
    }
}

#[derive(Default)]
pub struct MemorySms {
    pub sent: Mutex<Vec<(String, String)>>,
    fail_next: AtomicU32,
}

impl MemorySms {
    pub fn fail_next(&self, count: u32) {
        self.fail_next.store(count, Ordering::SeqCst);
    }
    pub fn sent(&self) -> Vec<(String, String)> {
        self.sent.lock().expect("lock").clone()
    }
}

impl SmsSender for MemorySms {
    async fn send_sms(&self, to: &str, body: &str, _: SmsOrigin<'_>) -> Result<String, SendError> {
        if take_failure(&self.fail_next) {
            return Err(SendError::Transient("injected failure".into()));
        }
        let mut sent = self.sent.lock().expect("lock");
        sent.push((to.to_owned(), body.to_owned()));
        Ok(format!("memory-sms-{}", sent.len()))
    }
}

/// Records published events: `(topic, subject, json)`.
#[derive(Default)]
pub struct MemoryEvents {
    pub published: Mutex<Vec<(String, String, String)>>,
}

impl crate::ports::messaging::EventPublisher for MemoryEvents {
    async fn publish(&self, topic_arn: &str, subject: &str, json: &str) -> Result<String, SendError> {
        let mut published = self.published.lock().expect("lock");
        published.push((topic_arn.to_owned(), subject.to_owned(), json.to_owned()));
        Ok(format!("memory-event-{}", published.len()))
    }
}
