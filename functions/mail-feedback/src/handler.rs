//! What SES says became of each email, from the stack's configuration set through SNS: noted
//! beside the email's record (delivered, delayed, bounced, complained...), and a hard bounce or
//! a complaint puts the address on the shop's suppression list, which every sender's claim
//! checks. The records reach this function only from the SNS topic SES publishes to (no route
//! of the HTTP API leads here).
//!
//! A record that does not parse, names no order of ours or no email of that order is logged and
//! dropped: no retry can make it mean more. Only a store error or an email whose record is
//! still being written fails the invocation, so that Lambda tries again (twice, then the
//! dead-letter queue).

use aws_lambda_events::event::sns::SnsEvent;
use ppx_shared::domain::mail_feedback::{MailOutcome, Suppression};
use ppx_shared::domain::messages::{Channel, DeliveryState};
use ppx_shared::inbound::ses_events::{self, SesFeedback, SesRecord};
use ppx_shared::ports::store::{MailStore, OrderStore, StoreError};
use serde::Serialize;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The email was sent but its record is not written yet (a send a moment ago, or one
    /// whose sender is still retrying the write): try again shortly.
    #[error("the email's record is not written yet")]
    NotRecordedYet,
}

/// What became of one SES record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Handled {
    Noted {
        outcome: MailOutcome,
        /// False when as grave news or graver was noted before (a duplicate, a late delay).
        new: bool,
        /// The address was put on the shop's suppression list now.
        suppressed: bool,
    },
    /// Send, Open, Click...: nothing of the delivery.
    Ignored,
    Dropped {
        reason: DropReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Not an SES event record.
    Unparsed,
    /// No ppx tags: an email not sent by ppx through this configuration set.
    Untagged,
    /// The tags name an order, but no email of it has this SES message id.
    UnknownMessage,
}

/// The function's logic, over any store.
pub struct MailFeedback<S> {
    pub store: S,
}

impl<S: OrderStore + MailStore> MailFeedback<S> {
    /// Every record of an SNS delivery (SNS hands Lambda one at a time); an error of one
    /// does not stop the others, and is returned after them.
    pub async fn handle_event(&self, event: &SnsEvent) -> Result<Vec<Handled>, FeedbackError> {
        let mut handled = Vec::with_capacity(event.records.len());
        let mut failure = None;
        for record in &event.records {
            let span = tracing::info_span!("sns_record", sns_message_id = %record.sns.message_id);
            match self.handle_record(&record.sns.message).instrument(span).await {
                Ok(done) => handled.push(done),
                Err(err) => failure = Some(err),
            }
        }
        match failure {
            Some(err) => Err(err),
            None => Ok(handled),
        }
    }

    /// One SES event record (the SNS message's text).
    pub async fn handle_record(&self, body: &str) -> Result<Handled, FeedbackError> {
        let feedback = match ses_events::parse(body.as_bytes()) {
            Ok(SesRecord::Feedback(feedback)) => feedback,
            Ok(SesRecord::Ignored(event_type)) => {
                tracing::info!(event_type, "SES event ignored: it says nothing of the delivery");
                return Ok(Handled::Ignored);
            }
            Err(err) => {
                tracing::warn!(error = %err, "SES record does not parse; dropped");
                return Ok(Handled::Dropped { reason: DropReason::Unparsed });
            }
        };
        let Some((shop, order)) = feedback.order.clone() else {
            tracing::warn!(
                provider_message_id = feedback.feedback.provider_message_id,
                "SES record names no order of ours; dropped"
            );
            return Ok(Handled::Dropped { reason: DropReason::Untagged });
        };
        let span = tracing::info_span!("feedback", shop = %shop, order_id = %order);
        self.note(&shop, &order, feedback).instrument(span).await
    }

    async fn note(
        &self,
        shop: &ppx_shared::domain::ids::ShopId,
        order: &ppx_shared::domain::ids::OrderId,
        SesFeedback { feedback, .. }: SesFeedback,
    ) -> Result<Handled, FeedbackError> {
        let view = self.store.order_view(shop, order).await?;
        let id = feedback.provider_message_id.as_str();
        let emails = || view.messages.iter().filter(|m| m.channel == Channel::Email);
        let Some(message) = emails().find(|m| m.provider_message_id.as_deref() == Some(id)) else {
            if emails().any(|m| m.state == DeliveryState::Sending) {
                return Err(FeedbackError::NotRecordedYet);
            }
            tracing::warn!(provider_message_id = id, "SES record names no email of the order; dropped");
            return Ok(Handled::Dropped { reason: DropReason::UnknownMessage });
        };
        let new = self.store.note_mail_feedback(shop, order, &feedback).await?;
        // The address the email went to: the record says which (the event's recipients are
        // that one address, as SES reports it).
        let suppressed = match (feedback.outcome.suppresses(), message.destination.as_deref()) {
            (Some(reason), Some(address)) => {
                let suppression = Suppression {
                    address: Some(address.to_owned()),
                    reason,
                    at: feedback.at,
                    detail: feedback.detail.clone(),
                    order: Some(order.clone()),
                };
                self.store.suppress(shop, address, &suppression).await?
            }
            _ => false,
        };
        tracing::info!(
            kind = message.kind.as_str(),
            outcome = feedback.outcome.as_str(),
            new,
            suppressed,
            "mail feedback noted"
        );
        Ok(Handled::Noted { outcome: feedback.outcome, new, suppressed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ppx_shared::adapters::memory::store::MemoryStore;
    use ppx_shared::domain::ids::{OrderId, ShopId};
    use ppx_shared::domain::mail_feedback::tags;
    use ppx_shared::domain::messages::{MessageKey, MessageKind, MessageRecord, MessageScope};
    use ppx_shared::ports::store::{Claim, MessageLedger};

    const RECORD: &str = include_str!("../../../tests/fixtures/ses-bounce.json");

    fn shop() -> ShopId {
        ShopId::parse("demo-shop").unwrap()
    }

    fn order() -> OrderId {
        OrderId::parse("1001").unwrap()
    }

    /// The documented bounce, about `message_id` of our order, as `event_type`.
    fn record(event_type: &str, message_id: &str) -> String {
        let mut record: serde_json::Value = serde_json::from_str(RECORD).unwrap();
        record["eventType"] = event_type.into();
        record["mail"]["messageId"] = message_id.into();
        record["complaint"] = serde_json::json!({"complainedRecipients": [{"emailAddress": "ada@example.com"}],
            "timestamp": "2017-08-06T00:00:00Z", "complaintFeedbackType": "abuse"});
        record["delivery"] =
            serde_json::json!({"timestamp": "2017-08-05T00:40:03Z", "recipients": ["ada@example.com"]});
        for (name, value) in tags::for_order(&shop(), &order()) {
            record["mail"]["tags"][name] = serde_json::json!([value]);
        }
        record.to_string()
    }

    /// A store where order 1001's confirmation went to ada@example.com as SES message `m-1`.
    async fn store_with_sent_email() -> MemoryStore {
        let store = MemoryStore::new();
        let key = MessageKey::new(MessageKind::OrderConfirmation, MessageScope::Order, Channel::Email);
        let at = chrono::DateTime::from_timestamp(1_501_893_600, 0).unwrap();
        let claim = Claim { token: "t".into(), at, lease_until: at, email_to: None };
        store.claim_messages(&shop(), &order(), std::slice::from_ref(&key), &claim, None).await.unwrap();
        let record = MessageRecord {
            state: DeliveryState::Sent,
            provider_message_id: Some("m-1".into()),
            destination: Some("ada@example.com".into()),
            ..MessageRecord::claimed(&key, at)
        };
        store.complete_messages(&shop(), &order(), &[record], None).await.unwrap();
        store
    }

    #[tokio::test]
    async fn a_hard_bounce_is_noted_once_and_suppresses_the_address() {
        let handler = MailFeedback { store: store_with_sent_email().await };
        let bounce = record("Bounce", "m-1");
        let first = handler.handle_record(&bounce).await.unwrap();
        assert_eq!(first, Handled::Noted { outcome: MailOutcome::Bounced, new: true, suppressed: true });
        let again = handler.handle_record(&bounce).await.unwrap();
        assert_eq!(again, Handled::Noted { outcome: MailOutcome::Bounced, new: false, suppressed: false });
        let suppression = handler.store.suppression(&shop(), "ADA@example.com").await.unwrap().unwrap();
        assert_eq!(suppression.order, Some(order()));
        // A delivery reported late takes nothing back.
        let late = handler.handle_record(&record("Delivery", "m-1")).await.unwrap();
        assert_eq!(late, Handled::Noted { outcome: MailOutcome::Delivered, new: false, suppressed: false });
        let view = handler.store.order_view(&shop(), &order()).await.unwrap();
        assert_eq!(view.mail_feedback.len(), 1);
        assert_eq!(view.mail_feedback[0].outcome, MailOutcome::Bounced);
    }

    #[tokio::test]
    async fn a_complaint_after_the_delivery_replaces_it_and_suppresses() {
        let handler = MailFeedback { store: store_with_sent_email().await };
        let delivered = handler.handle_record(&record("Delivery", "m-1")).await.unwrap();
        assert_eq!(delivered, Handled::Noted { outcome: MailOutcome::Delivered, new: true, suppressed: false });
        assert_eq!(handler.store.suppression(&shop(), "ada@example.com").await.unwrap(), None);
        let complained = handler.handle_record(&record("Complaint", "m-1")).await.unwrap();
        assert_eq!(complained, Handled::Noted { outcome: MailOutcome::Complained, new: true, suppressed: true });
    }

    #[tokio::test]
    async fn what_names_nothing_of_ours_is_dropped_and_writes_nothing() {
        let handler = MailFeedback { store: store_with_sent_email().await };
        let unknown = handler.handle_record(&record("Bounce", "m-other")).await.unwrap();
        assert_eq!(unknown, Handled::Dropped { reason: DropReason::UnknownMessage });
        let untagged = handler.handle_record(RECORD).await.unwrap();
        assert_eq!(untagged, Handled::Dropped { reason: DropReason::Untagged });
        let garbage = handler.handle_record("{\"Type\": \"SubscriptionConfirmation\"}").await.unwrap();
        assert_eq!(garbage, Handled::Dropped { reason: DropReason::Unparsed });
        assert_eq!(handler.handle_record(&record("Open", "m-1")).await.unwrap(), Handled::Ignored);
        assert!(handler.store.suppressions(&shop()).await.unwrap().is_empty());
        assert!(handler.store.order_view(&shop(), &order()).await.unwrap().mail_feedback.is_empty());
    }

    #[tokio::test]
    async fn feedback_on_an_email_still_being_recorded_is_tried_again() {
        let store = MemoryStore::new();
        let key = MessageKey::new(MessageKind::OrderConfirmation, MessageScope::Order, Channel::Email);
        let at = chrono::Utc::now();
        let claim = Claim { token: "t".into(), at, lease_until: at, email_to: None };
        store.claim_messages(&shop(), &order(), std::slice::from_ref(&key), &claim, None).await.unwrap();
        let handler = MailFeedback { store };
        let early = handler.handle_record(&record("Delivery", "m-1")).await;
        assert!(matches!(early, Err(FeedbackError::NotRecordedYet)), "{early:?}");
    }
}
