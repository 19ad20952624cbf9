//! Sending a customer message at most once per order, kind, scope and channel:
//! claim with a conditional write, send, then record; release the claim when the send fails
//! so that the sender's retry can send it.

use crate::clock::Clock;
use crate::ids::{OrderId, ShopId};
use crate::link::CustomerLinks;
use crate::messages::{Channel, DeliveryState, MessageKey, MessageKind, MessageRecord};
use crate::messaging::{EmailSender, OutboundEmail, SendError, SmsSender};
use crate::order::{Order, Shipment};
use crate::settings::ShopSettings;
use crate::store::{Claim, ClaimOutcome, Store, StoreError};
use crate::templates::{MessageContext, TemplateError, render_email, render_sms};
use crate::tracking::ShipmentTracking;

/// A claim older than this is presumed dead (its Lambda timed out) and may be taken over.
/// It must exceed the longest send; functions time out after 10 s.
pub const CLAIM_LEASE_SECS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{channel:?} send failed: {source}")]
    Send { channel: Channel, source: SendError },
    /// Another request is sending this very message now.
    #[error("{channel:?} message is being sent by another request")]
    InFlight { channel: Channel },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent {
        channel: Channel,
        provider_message_id: String,
    },
    AlreadyDone {
        channel: Channel,
    },
    /// Refused for good by the provider; recorded, never retried.
    Failed {
        channel: Channel,
    },
}

impl Delivery {
    pub fn is_new_send(&self) -> bool {
        matches!(self, Self::Sent { .. })
    }
}

pub struct Outbox<'a, S, E, T, C> {
    pub store: &'a S,
    pub email: &'a E,
    pub sms: &'a T,
    pub clock: &'a C,
    pub links: &'a CustomerLinks,
}

impl<S: Store, E: EmailSender, T: SmsSender, C: Clock> Outbox<'_, S, E, T, C> {
    /// Sends `kind` about an order (and one of its shipments) with fresh customer links;
    /// returns how many messages actually went out now.
    pub async fn notify(
        &self,
        settings: &ShopSettings,
        order: &Order,
        shipment: Option<&Shipment>,
        tracking: Option<&ShipmentTracking>,
        kind: MessageKind,
        scope: &str,
    ) -> Result<usize, NotifyError> {
        let links = self.links.for_order(&order.shop, &order.id, self.clock.now());
        let ctx = MessageContext {
            settings,
            order,
            shipment,
            tracking,
            tracking_url: &links.tracking,
            returns_url: &links.returns,
            review: None,
            return_update: None,
        };
        let deliveries = self.send_once(&ctx, kind, scope).await?;
        Ok(deliveries.iter().filter(|d| d.is_new_send()).count())
    }

    /// Sends `kind` about `scope` (a shipment id, or "" for the order) on every channel the
    /// customer can be reached on and agreed to.
    pub async fn send_once(
        &self,
        ctx: &MessageContext<'_>,
        kind: MessageKind,
        scope: &str,
    ) -> Result<Vec<Delivery>, NotifyError> {
        let mut deliveries = Vec::with_capacity(2);
        if let Some(to) = ctx.order.customer.email.as_deref() {
            let email = render_email(kind, ctx)?;
            // RFC 8058 one-click unsubscribe for everything a customer can unsubscribe from.
            let headers: Vec<(&'static str, String)> = match ctx.review {
                Some(review) => vec![
                    ("List-Unsubscribe", format!("<{}>", review.unsubscribe)),
                    ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_owned()),
                ],
                None => Vec::new(),
            };
            let outbound = OutboundEmail {
                from: &ctx.settings.sender,
                reply_to: ctx.settings.reply_to.as_deref(),
                to,
                subject: &email.subject,
                html: &email.html,
                text: &email.text,
                configuration_set: ctx.settings.ses_configuration_set.as_deref(),
                headers: &headers,
            };
            let key = MessageKey::new(kind, scope, Channel::Email);
            let (shop, order) = (&ctx.order.shop, &ctx.order.id);
            let delivery = self
                .deliver_once(shop, order, &key, to, Some(&email.subject), || self.email.send_email(&outbound))
                .await?;
            deliveries.push(delivery);
        }
        let sms_allowed = kind.goes_by_sms() && ctx.settings.sms_enabled && ctx.order.customer.sms_consent;
        if let (true, Some(to)) = (sms_allowed, ctx.order.customer.phone.as_deref()) {
            let body = render_sms(kind, ctx)?;
            let key = MessageKey::new(kind, scope, Channel::Sms);
            let (shop, order) = (&ctx.order.shop, &ctx.order.id);
            deliveries.push(self.deliver_once(shop, order, &key, to, None, || self.sms.send_sms(to, &body)).await?);
        }
        Ok(deliveries)
    }

    /// The claim-send-record protocol for one message of an order, whatever carries it.
    pub async fn deliver_once<F, Fut>(
        &self,
        shop: &ShopId,
        order: &OrderId,
        key: &MessageKey,
        destination: &str,
        subject: Option<&str>,
        send: F,
    ) -> Result<Delivery, NotifyError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<String, SendError>>,
    {
        let now = self.clock.now();
        let claim = Claim {
            token: uuid::Uuid::new_v4().to_string(),
            at: now,
            lease_until: now + chrono::Duration::seconds(CLAIM_LEASE_SECS),
        };
        match self.store.claim_message(shop, order, key, &claim).await? {
            ClaimOutcome::Claimed => {}
            ClaimOutcome::AlreadyDone => return Ok(Delivery::AlreadyDone { channel: key.channel }),
            ClaimOutcome::InFlight => return Err(NotifyError::InFlight { channel: key.channel }),
        }
        let mut record = MessageRecord {
            state: DeliveryState::Sent,
            destination: Some(destination.to_owned()),
            subject: subject.map(str::to_owned),
            ..MessageRecord::claimed(key, now)
        };
        let delivery = match send().await {
            Ok(message_id) => {
                record.provider_message_id = Some(message_id.clone());
                Delivery::Sent { channel: key.channel, provider_message_id: message_id }
            }
            Err(SendError::Rejected(reason)) => {
                tracing::warn!(kind = key.kind.as_str(), channel = key.channel.as_str(), %reason, "message rejected for good");
                record.state = DeliveryState::Failed;
                record.failure = Some(reason);
                Delivery::Failed { channel: key.channel }
            }
            Err(source) => {
                // Give the claim back so the platform's retry sends it; a failed release only
                // delays that retry until the lease runs out.
                if let Err(err) = self.store.release_message(shop, order, key, &claim.token).await {
                    tracing::error!(error = %err, "could not release message claim");
                }
                return Err(NotifyError::Send { channel: key.channel, source });
            }
        };
        record.at = self.clock.now();
        if !self.store.complete_message(shop, order, key, &claim.token, &record).await? {
            // Only possible when this send outlived its lease and another request took over.
            tracing::error!(kind = key.kind.as_str(), channel = key.channel.as_str(), "message claim lost after send");
        }
        if let Delivery::Sent { provider_message_id, .. } = &delivery {
            tracing::info!(
                kind = key.kind.as_str(),
                channel = key.channel.as_str(),
                scope = key.scope,
                provider_message_id,
                "message sent"
            );
        }
        Ok(delivery)
    }
}
