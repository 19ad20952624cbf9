//! Sending a customer message at most once per order, kind, scope and channel:
//! claim with a conditional write, send, then record; release the claim when the send fails
//! so that the sender's retry can send it.

use crate::app::context::Ports;
use crate::app::link_keys::{LinkKeysCache, LinksUnavailable};
use crate::app::metrics;
use crate::domain::ids::{OrderId, ShopId};
use crate::domain::link::CustomerLinks;
use crate::domain::messages::{Channel, DeliveryState, MessageKey, MessageKind, MessageRecord, Notice};
use crate::domain::order::{Order, Shipment};
use crate::domain::settings::ShopSettings;
use crate::domain::tracking::ShipmentTracking;
use crate::ports::clock::Clock;
use crate::ports::messaging::{EmailSender, OutboundEmail, SendError, SmsSender};
use crate::ports::store::{Applied, ChangeOutcome, Claim, ClaimOutcome, MessageLedger, StateChange, StoreError};
use crate::render::{MessageContext, RenderedEmail, TemplateError, or_default_templates, render_email, render_sms};

/// A claim older than this is presumed dead (its Lambda timed out) and may be taken over.
/// It must exceed the longest send; functions time out after 10 s.
pub const CLAIM_LEASE_SECS: i64 = 60;
/// The `alarm` field of the log line of a send the account refused (`SendError::Account`): the
/// template's metric filter counts these lines and alarms on the first.
pub const ACCOUNT_ALARM: &str = "sending_account";
/// Extra attempts (100, 200, 400 ms apart) at recording sent messages.
const RECORD_RETRIES: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// No key to seal the message's links with.
    #[error(transparent)]
    Links(#[from] LinksUnavailable),
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
    /// Not sent: the address is on the shop's suppression list. Recorded, never retried.
    Suppressed {
        channel: Channel,
    },
}

impl Delivery {
    pub fn is_new_send(&self) -> bool {
        matches!(self, Self::Sent { .. })
    }
}

/// The channels a customer gets `notice` on: email when there is an address, a text when the
/// notice justifies one, the shop sends texts and the customer agreed to them.
pub fn message_channels(settings: &ShopSettings, order: &Order, notice: &Notice) -> Vec<Channel> {
    let customer = &order.customer;
    let mut channels = Vec::with_capacity(2);
    if customer.email.is_some() {
        channels.push(Channel::Email);
    }
    if notice.goes_by_sms() && settings.sms_enabled && customer.sms_consent && customer.phone.is_some() {
        channels.push(Channel::Sms);
    }
    channels
}

impl Claim {
    /// A fresh claim taken at `now`, with the lease a send must finish within, of messages
    /// whose emails (if any) go to `email_to`.
    fn new(now: chrono::DateTime<chrono::Utc>, email_to: Option<&str>) -> Self {
        Self {
            token: uuid::Uuid::new_v4().to_string(),
            at: now,
            lease_until: now + chrono::Duration::seconds(CLAIM_LEASE_SECS),
            email_to: email_to.map(str::to_owned),
        }
    }
}

/// One message handed to a provider: which, to whom, under which subject.
struct Sending<'a> {
    key: &'a MessageKey,
    to: &'a str,
    subject: Option<&'a str>,
}

pub struct Outbox<'a, P: Ports> {
    pub store: &'a P::Store,
    pub email: &'a P::Email,
    pub sms: &'a P::Sms,
    pub clock: &'a P::Clock,
    pub secrets: &'a P::Secrets,
    pub link_keys: &'a LinkKeysCache,
}

impl<P: Ports> Outbox<'_, P> {
    /// The customer links messages carry, with the current signing key.
    pub async fn links(&self) -> Result<std::sync::Arc<CustomerLinks>, NotifyError> {
        Ok(self.link_keys.current(self.secrets, self.clock.now()).await?)
    }

    /// Renders `notice` about an order (and one of its shipments) with fresh customer links and
    /// sends it as [`Outbox::send`] does, claimed together with `change`.
    pub async fn send_about(
        &self,
        settings: &ShopSettings,
        order: &Order,
        (shipment, tracking): (Option<&Shipment>, Option<&ShipmentTracking>),
        notice: &Notice,
        change: Option<StateChange<'_>>,
    ) -> Result<Batch, NotifyError> {
        let links = self.links().await?.for_order(&order.shop, &order.id, self.clock.now());
        let ctx = MessageContext { shipment, tracking, ..MessageContext::about_order(settings, order, &links) };
        let prepared = self.prepare(&ctx, notice)?;
        self.send(settings, &order.id, prepared, change, None).await
    }

    /// As [`Outbox::send_about`] with no state change, on one channel only (what the scheduled
    /// sweep sends: a stall by email, a text held back by quiet hours).
    pub async fn send_about_on(
        &self,
        settings: &ShopSettings,
        order: &Order,
        (shipment, tracking): (&Shipment, &ShipmentTracking),
        notice: &Notice,
        channel: Channel,
    ) -> Result<usize, NotifyError> {
        let links = self.links().await?.for_order(&order.shop, &order.id, self.clock.now());
        let ctx = MessageContext {
            shipment: Some(shipment),
            tracking: Some(tracking),
            ..MessageContext::about_order(settings, order, &links)
        };
        let prepared = self.prepare_on(&ctx, notice, |c| c == channel)?;
        Ok(self.send(settings, &order.id, prepared, None, None).await?.new_sends())
    }

    /// Renders `notice` for every channel the customer can be reached on and agreed to.
    pub fn prepare<'c>(&self, ctx: &MessageContext<'c>, notice: &Notice) -> Result<Vec<Prepared<'c>>, NotifyError> {
        self.prepare_on(ctx, notice, |_| true)
    }

    /// As [`Outbox::prepare`], on the channels `allowed` keeps (the notification policy's caps).
    pub fn prepare_on<'c>(
        &self,
        ctx: &MessageContext<'c>,
        notice: &Notice,
        allowed: impl Fn(Channel) -> bool,
    ) -> Result<Vec<Prepared<'c>>, NotifyError> {
        let kind = notice.kind;
        let mut prepared = Vec::with_capacity(2);
        // A delay notice's record keeps the estimate it announced.
        let estimated_delivery =
            ctx.tracking.and_then(|t| t.estimated_delivery).filter(|_| kind == MessageKind::Delayed);
        for channel in message_channels(ctx.settings, ctx.order, notice).into_iter().filter(|c| allowed(*c)) {
            let key = notice.on(channel);
            let customer = &ctx.order.customer;
            match channel {
                Channel::Email => {
                    let email = or_default_templates(ctx.settings, kind.as_str(), |settings| {
                        render_email(kind, &MessageContext { settings, ..*ctx })
                    })?;
                    // RFC 8058 one-click unsubscribe for everything a customer can unsubscribe from.
                    let headers: Vec<(&'static str, String)> = match ctx.review {
                        Some(review) => vec![
                            ("List-Unsubscribe", format!("<{}>", review.unsubscribe)),
                            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_owned()),
                        ],
                        None => Vec::new(),
                    };
                    let to = customer.email.as_deref().expect("a channel only with an address");
                    prepared.push(Prepared { key, to, payload: Payload::Email { email, headers }, estimated_delivery });
                }
                _ => {
                    let body = or_default_templates(ctx.settings, kind.as_str(), |settings| {
                        render_sms(kind, &MessageContext { settings, ..*ctx })
                    })?;
                    let to = customer.phone.as_deref().expect("a channel only with a number");
                    prepared.push(Prepared { key, to, payload: Payload::Sms(body), estimated_delivery });
                }
            }
        }
        Ok(prepared)
    }

    /// Sends `notice` on every channel, each at most once.
    pub async fn send_once(&self, ctx: &MessageContext<'_>, notice: &Notice) -> Result<Vec<Delivery>, NotifyError> {
        let prepared = self.prepare(ctx, notice)?;
        Ok(self.send(ctx.settings, &ctx.order.id, prepared, None, None).await?.deliveries)
    }

    /// Claims every prepared message (with `change`, in the same request), sends what was
    /// claimed, then records what went out (one more request), with `applied` when every
    /// message is done. When the change is refused, nothing is claimed or sent: the caller reads
    /// again and decides again.
    pub async fn send(
        &self,
        settings: &ShopSettings,
        order: &OrderId,
        prepared: Vec<Prepared<'_>>,
        change: Option<StateChange<'_>>,
        applied: Option<Applied<'_>>,
    ) -> Result<Batch, NotifyError> {
        let shop = &settings.shop;
        let now = self.clock.now();
        let email_to = prepared.iter().find(|p| matches!(p.payload, Payload::Email { .. })).map(|p| p.to);
        let claim = Claim::new(now, email_to);
        let tags = crate::domain::mail_feedback::tags::for_order(shop, order);
        let keys: Vec<MessageKey> = prepared.iter().map(|p| p.key.clone()).collect();
        let claimed = self.store.claim_messages(shop, order, &keys, &claim, change).await?;
        if claimed.change.is_some_and(|c| c != ChangeOutcome::Written) {
            let settled = claimed.claims.iter().all(|c| *c == ClaimOutcome::AlreadyDone);
            return Ok(Batch { change: claimed.change, deliveries: Vec::new(), settled });
        }
        let mut deliveries = Vec::with_capacity(prepared.len());
        let mut records = Vec::with_capacity(prepared.len());
        let (mut in_flight, mut failure) = (None, None);
        for (message, outcome) in prepared.iter().zip(claimed.claims) {
            let channel = message.key.channel;
            match outcome {
                ClaimOutcome::Claimed => {}
                ClaimOutcome::Suppressed(suppression) => {
                    let sending = Sending { key: &message.key, to: message.to, subject: message.subject() };
                    deliveries.push(Delivery::Suppressed { channel });
                    records.push(skipped(sending, &suppression, now));
                    continue;
                }
                ClaimOutcome::AlreadyDone => {
                    deliveries.push(Delivery::AlreadyDone { channel });
                    continue;
                }
                ClaimOutcome::InFlight | ClaimOutcome::NotAttempted => {
                    in_flight = Some(channel);
                    continue;
                }
            }
            let result = match &message.payload {
                Payload::Email { email, headers } => {
                    let outbound = OutboundEmail {
                        from: &settings.sender,
                        reply_to: settings.reply_to.as_ref(),
                        to: message.to,
                        subject: &email.subject,
                        html: &email.html,
                        text: &email.text,
                        configuration_set: settings.ses_configuration_set.as_deref(),
                        date: now,
                        headers,
                        tags: &tags,
                    };
                    self.email.send_email(&outbound).await
                }
                Payload::Sms(body) => self.sms.send_sms(message.to, body, settings.sms_origin()).await,
            };
            let subject = message.subject();
            match self
                .outcome((shop, order), Sending { key: &message.key, to: message.to, subject }, &claim, result)
                .await
            {
                Ok((delivery, record)) => {
                    deliveries.push(delivery);
                    records.push(MessageRecord { estimated_delivery: message.estimated_delivery, ..record });
                }
                Err(err) => failure = Some(err),
            }
        }
        let complete = failure.is_none() && in_flight.is_none();
        self.record(shop, order, &mut records, applied.filter(|_| complete)).await?;
        if let Some(err) = failure {
            return Err(err);
        }
        if let Some(channel) = in_flight {
            return Err(NotifyError::InFlight { channel });
        }
        Ok(Batch { change: claimed.change, deliveries, settled: true })
    }

    /// What a send did: the delivery and its record, or (after giving the claim back) the error.
    async fn outcome(
        &self,
        (shop, order): (&ShopId, &OrderId),
        Sending { key, to, subject }: Sending<'_>,
        claim: &Claim,
        result: Result<String, SendError>,
    ) -> Result<(Delivery, MessageRecord), NotifyError> {
        let mut record = MessageRecord {
            state: DeliveryState::Sent,
            destination: Some(to.to_owned()),
            subject: subject.map(str::to_owned),
            ..MessageRecord::claimed(key, claim.at)
        };
        match result {
            Ok(message_id) => {
                tracing::info!(
                    kind = key.kind.as_str(),
                    channel = key.channel.as_str(),
                    scope = %key.scope,
                    provider_message_id = message_id,
                    "message sent"
                );
                record.provider_message_id = Some(message_id.clone());
                metrics::count_message(claim.at, key.kind.as_str(), key.channel.as_str(), "sent");
                Ok((Delivery::Sent { channel: key.channel, provider_message_id: message_id }, record))
            }
            Err(SendError::Rejected(reason)) => {
                tracing::warn!(kind = key.kind.as_str(), channel = key.channel.as_str(), %reason, "message rejected for good");
                record.state = DeliveryState::Failed;
                record.failure = Some(reason);
                metrics::count_message(claim.at, key.kind.as_str(), key.channel.as_str(), "failed");
                Ok((Delivery::Failed { channel: key.channel }, record))
            }
            Err(SendError::Account(reason)) => {
                // Not a retry loop: every retry would fail the same way until the operator acts.
                // The `alarm` field is what the template's metric filter counts.
                tracing::error!(
                    alarm = ACCOUNT_ALARM,
                    kind = key.kind.as_str(),
                    channel = key.channel.as_str(),
                    %reason,
                    "the sending account cannot send; the message failed for good"
                );
                record.state = DeliveryState::Failed;
                record.failure = Some(format!("account: {reason}"));
                metrics::count_message(claim.at, key.kind.as_str(), key.channel.as_str(), "account_refused");
                Ok((Delivery::Failed { channel: key.channel }, record))
            }
            Err(source) => {
                // Give the claim back so the platform's retry sends it; a failed release only
                // delays that retry until the lease runs out.
                if let Err(err) = self.store.release_message(shop, order, key, &claim.token).await {
                    tracing::error!(error = %err, "could not release message claim");
                }
                Err(NotifyError::Send { channel: key.channel, source })
            }
        }
    }

    /// Records what went out. Until this is written a retry after the lease would send again,
    /// so a failed write is retried here for a few seconds before giving up.
    async fn record(
        &self,
        shop: &ShopId,
        order: &OrderId,
        records: &mut [MessageRecord],
        applied: Option<Applied<'_>>,
    ) -> Result<(), StoreError> {
        if records.is_empty() && applied.is_none() {
            return Ok(());
        }
        let at = self.clock.now();
        for record in records.iter_mut() {
            record.at = at;
        }
        let mut attempt = 0;
        loop {
            match self.store.complete_messages(shop, order, records, applied).await {
                Ok(()) => return Ok(()),
                Err(err) if attempt < RECORD_RETRIES => {
                    attempt += 1;
                    tracing::warn!(error = %err, attempt, "could not record sent messages; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
                }
                Err(err) => {
                    tracing::error!(error = %err, "sent messages left unrecorded; a retry after the lease may send again");
                    return Err(err);
                }
            }
        }
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
        let claim = Claim::new(now, (key.channel == Channel::Email).then_some(destination));
        let claimed = self.store.claim_messages(shop, order, std::slice::from_ref(key), &claim, None).await?;
        match claimed.claims.first() {
            Some(ClaimOutcome::Claimed) => {}
            Some(ClaimOutcome::AlreadyDone) => return Ok(Delivery::AlreadyDone { channel: key.channel }),
            Some(ClaimOutcome::Suppressed(suppression)) => {
                let record = skipped(Sending { key, to: destination, subject }, suppression, now);
                self.record(shop, order, &mut [record], None).await?;
                return Ok(Delivery::Suppressed { channel: key.channel });
            }
            _ => return Err(NotifyError::InFlight { channel: key.channel }),
        }
        let (delivery, record) =
            self.outcome((shop, order), Sending { key, to: destination, subject }, &claim, send().await).await?;
        self.record(shop, order, &mut [record], None).await?;
        Ok(delivery)
    }
}

/// The record of an email claimed but not sent, its address being suppressed; counted.
fn skipped(
    Sending { key, to, subject }: Sending<'_>,
    suppression: &crate::domain::mail_feedback::Suppression,
    at: chrono::DateTime<chrono::Utc>,
) -> MessageRecord {
    tracing::info!(kind = key.kind.as_str(), channel = key.channel.as_str(), scope = %key.scope,
        reason = suppression.reason.as_str(), "message skipped: the address is suppressed");
    metrics::count_message(at, key.kind.as_str(), key.channel.as_str(), "suppressed");
    MessageRecord {
        state: DeliveryState::Suppressed,
        destination: Some(to.to_owned()),
        subject: subject.map(str::to_owned),
        failure: Some(suppression.describe()),
        ..MessageRecord::claimed(key, at)
    }
}

/// A message rendered for one channel, ready to claim and send.
pub struct Prepared<'a> {
    pub key: MessageKey,
    to: &'a str,
    payload: Payload,
    /// What a delay notice announced, for its record.
    estimated_delivery: Option<chrono::NaiveDate>,
}

impl Prepared<'_> {
    fn subject(&self) -> Option<&str> {
        match &self.payload {
            Payload::Email { email, .. } => Some(email.subject.as_str()),
            Payload::Sms(_) => None,
        }
    }
}

enum Payload {
    Email { email: RenderedEmail, headers: Vec<(&'static str, String)> },
    Sms(String),
}

/// What [`Outbox::send`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub change: Option<ChangeOutcome>,
    pub deliveries: Vec<Delivery>,
    /// Every message is done (sent now or before); false when a refused change left some untaken.
    pub settled: bool,
}

impl Batch {
    pub fn new_sends(&self) -> usize {
        self.deliveries.iter().filter(|d| d.is_new_send()).count()
    }
}
