//! Customer messages: what kinds exist, on which channels, and the per-order log of what was sent.

use crate::domain::ids::{ReturnId, ShipmentId};
use crate::domain::names::wire_enum;
use crate::domain::returns::ReturnState;
use crate::domain::situation::Situation;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

wire_enum! {
    /// One kind per customer-facing notice. Each goes out at most once per order and scope.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    pub enum MessageKind {
        OrderConfirmation = "order_confirmation",
        /// On its way: from the platform's fulfillment or the carrier's first transit scan.
        Shipped = "shipped",
        OutForDelivery = "out_for_delivery",
        DeliveryAttempted = "delivery_attempted",
        AvailableForPickup = "available_for_pickup",
        Delivered = "delivered",
        /// Something went wrong with the parcel.
        Exception = "exception",
        /// The carrier cannot deliver until the customer acts (information, a correct address).
        ActionNeeded = "action_needed",
        ReturnedToSender = "returned_to_sender",
        /// The carrier's estimate is later than the date promised at order time.
        Delayed = "delayed",
        /// Days after delivery: review the items, answer the NPS question. Not transactional.
        ReviewRequest = "review_request",
        /// A return entered a new state (decided, in transit, received, refunded...).
        ReturnUpdate = "return_update",
        /// A parcel on its way had no carrier scan for days: the shop is looking into it
        /// (`domain::watch`). Once per stall.
        Stalled = "stalled",
        /// A fulfillment's tracking number never had a carrier scan: to the shop only.
        Untracked = "untracked",
        /// The order did not leave by its ship-by date: it is taking longer. Once per order.
        NotShipped = "not_shipped",
    }
}

impl MessageKind {
    /// Transactional messages go even to customers who unsubscribed from marketing.
    pub fn is_transactional(self) -> bool {
        // Unsubscribing stops these; order and shipping news still go.
        self != Self::ReviewRequest
    }

    /// Whether the customer hears of it (else only the shop's topic does).
    pub fn is_for_customer(self) -> bool {
        self != Self::Untracked
    }
}

wire_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    pub enum Channel {
        Email = "email",
        Sms = "sms",
        /// A JSON event to the shop's own SNS topic (its back office, Slack, ERP).
        ShopEvent = "shop_event",
    }
}

/// What a message is about within its order. With the message's kind and channel it is the key
/// of "at most once": two requests that decide on the same history pick the same scope, so the
/// ledger's claim lets one of them send. Written as text only by [`fmt::Display`] (the ledger's key
/// builders) and read back by [`MessageScope::parse`], in the forms earlier versions stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageScope {
    /// The whole order (confirmation, review request): `""`.
    Order,
    /// One shipment, once: `{shipment}`.
    Shipment(ShipmentId),
    /// One shipment on one local day (out for delivery, an attempt): `{shipment}#{YYYY-MM-DD}`.
    ShipmentDay(ShipmentId, NaiveDate),
    /// A delay notice of a shipment.
    Delay(ShipmentId, DelayNotice),
    /// A return entering a state: `{return}#{state}`.
    Return(ReturnId, ReturnState),
    /// One situation of a shipment, once (action needed, a refusal, damage): `{shipment}#{situation}`.
    Situation(ShipmentId, Situation),
    /// A shipment's news again, once (out for delivery after a failed attempt): `{shipment}#again`.
    Again(ShipmentId),
    /// A stall of a shipment, named by the newest scan before it: `{shipment}#since-{YYYYMMDDTHHMMSSZ}`.
    Stall(ShipmentId, DateTime<Utc>),
}

/// Which delay notice of a shipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DelayNotice {
    /// The n-th, from 1: `{shipment}#delay-{n}`.
    Numbered(u32),
    /// Before notices were numbered, one per estimate announced: `{shipment}#{YYYY-MM-DD}`.
    ForEstimate(NaiveDate),
}

/// A delay notice's scope is `{shipment}#delay-{n}`.
const DELAY_NOTICE: &str = "delay-";
/// The scope of news told again is `{shipment}#again`.
const AGAIN: &str = "again";
/// A stall's scope is `{shipment}#since-{time of the newest scan}`.
const STALL_SINCE: &str = "since-";
const STALL_TIME: &str = "%Y%m%dT%H%M%SZ";

impl MessageScope {
    /// The scope a stored `kind` message was recorded under, in any form ppx ever wrote.
    pub fn parse(kind: MessageKind, raw: &str) -> Option<Self> {
        use MessageKind::*;
        let shipment_and = || raw.rsplit_once('#').and_then(|(id, tail)| Some((ShipmentId::parse(id).ok()?, tail)));
        Some(match kind {
            OrderConfirmation | ReviewRequest | NotShipped => raw.is_empty().then_some(Self::Order)?,
            Shipped | AvailableForPickup | Delivered | ReturnedToSender | Untracked => {
                Self::Shipment(ShipmentId::parse(raw).ok()?)
            }
            Stalled => {
                let (id, since) = shipment_and()?;
                let since = chrono::NaiveDateTime::parse_from_str(since.strip_prefix(STALL_SINCE)?, STALL_TIME).ok()?;
                Self::Stall(id, since.and_utc())
            }
            ActionNeeded => {
                let (id, situation) = shipment_and()?;
                Self::Situation(id, Situation::parse(situation)?)
            }
            // Once per shipment (`{shipment}`), or once per situation.
            Exception => match shipment_and().and_then(|(id, tail)| Some((id, Situation::parse(tail)?))) {
                Some((id, situation)) => Self::Situation(id, situation),
                None => Self::Shipment(ShipmentId::parse(raw).ok()?),
            },
            // Once per shipment (and out for delivery once more after an attempt); before the
            // notification policy, once per local day.
            OutForDelivery | DeliveryAttempted => match shipment_and() {
                Some((id, AGAIN)) if kind == OutForDelivery => Self::Again(id),
                Some((id, day)) if day.parse::<NaiveDate>().is_ok() => Self::ShipmentDay(id, day.parse().ok()?),
                _ => Self::Shipment(ShipmentId::parse(raw).ok()?),
            },
            Delayed => {
                let (id, notice) = shipment_and()?;
                let notice = match notice.strip_prefix(DELAY_NOTICE) {
                    Some(n) => DelayNotice::Numbered(n.parse().ok().filter(|n| *n > 0)?),
                    None => DelayNotice::ForEstimate(notice.parse().ok()?),
                };
                Self::Delay(id, notice)
            }
            ReturnUpdate => {
                let (id, state) = raw.rsplit_once('#')?;
                Self::Return(ReturnId::parse(id).ok()?, ReturnState::parse(state)?)
            }
        })
    }

    /// The shipment it is about, if any.
    pub fn shipment(&self) -> Option<&ShipmentId> {
        match self {
            Self::Shipment(id)
            | Self::ShipmentDay(id, _)
            | Self::Delay(id, _)
            | Self::Situation(id, _)
            | Self::Again(id)
            | Self::Stall(id, _) => Some(id),
            Self::Order | Self::Return(..) => None,
        }
    }
}

impl fmt::Display for MessageScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Order => Ok(()),
            Self::Shipment(id) => write!(f, "{id}"),
            Self::ShipmentDay(id, day) => write!(f, "{id}#{day}"),
            Self::Delay(id, DelayNotice::Numbered(n)) => write!(f, "{id}#{DELAY_NOTICE}{n}"),
            Self::Delay(id, DelayNotice::ForEstimate(day)) => write!(f, "{id}#{day}"),
            Self::Return(id, state) => write!(f, "{id}#{}", state.as_str()),
            Self::Situation(id, situation) => write!(f, "{id}#{situation}"),
            Self::Again(id) => write!(f, "{id}#{AGAIN}"),
            Self::Stall(id, since) => write!(f, "{id}#{STALL_SINCE}{}", since.format(STALL_TIME)),
        }
    }
}

/// A customer notice: what kind, about what. Sent on each channel the customer can be reached on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Notice {
    pub kind: MessageKind,
    pub scope: MessageScope,
}

impl Notice {
    pub fn new(kind: MessageKind, scope: MessageScope) -> Self {
        Self { kind, scope }
    }

    pub fn order_confirmation() -> Self {
        Self::new(MessageKind::OrderConfirmation, MessageScope::Order)
    }

    /// On its way: the platform's fulfillment and the carrier's first transit scan share it, so
    /// it never goes twice.
    pub fn shipped(shipment: &ShipmentId) -> Self {
        Self::new(MessageKind::Shipped, MessageScope::Shipment(shipment.clone()))
    }

    /// This notice on one channel.
    pub fn on(&self, channel: Channel) -> MessageKey {
        MessageKey { kind: self.kind, scope: self.scope.clone(), channel }
    }
}

/// `kind#scope`, as logs and the operator's tools show it.
impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.kind.as_str(), self.scope)
    }
}

/// Identifies one message of an order: its kind, what it is about and the channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageKey {
    pub kind: MessageKind,
    pub scope: MessageScope,
    pub channel: Channel,
}

impl MessageKey {
    pub fn new(kind: MessageKind, scope: MessageScope, channel: Channel) -> Self {
        Self { kind, scope, channel }
    }

    pub fn notice(&self) -> Notice {
        Notice::new(self.kind, self.scope.clone())
    }
}

wire_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum DeliveryState {
        /// Claimed by a sender whose lease has not run out.
        Sending = "sending",
        Sent = "sent",
        /// The provider refused it for good (e.g. an invalid address); not retried.
        Failed = "failed",
        /// Not sent: the address is on the shop's suppression list (it bounced for good or
        /// complained). `failure` says why.
        Suppressed = "suppressed",
    }
}

/// A line of the per-order message log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "wire::MessageRecord", into = "wire::MessageRecord")]
pub struct MessageRecord {
    pub kind: MessageKind,
    pub scope: MessageScope,
    pub channel: Channel,
    pub state: DeliveryState,
    /// When the claim was taken (state `sending`) or the provider accepted it (`sent`).
    pub at: DateTime<Utc>,
    /// SES or SNS message id once sent.
    pub provider_message_id: Option<String>,
    /// The address or number it went to (kept in the table for support; never logged).
    pub destination: Option<String>,
    pub subject: Option<String>,
    /// Why a message failed for good.
    #[serde(default)]
    pub failure: Option<String>,
    /// The carrier's estimate a delay notice announced: the next one goes only for a later date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_delivery: Option<NaiveDate>,
}

impl MessageRecord {
    pub fn key(&self) -> MessageKey {
        MessageKey::new(self.kind, self.scope.clone(), self.channel)
    }

    /// The log entry of a freshly claimed, not yet sent message.
    pub fn claimed(key: &MessageKey, at: DateTime<Utc>) -> Self {
        Self {
            kind: key.kind,
            scope: key.scope.clone(),
            channel: key.channel,
            state: DeliveryState::Sending,
            at,
            provider_message_id: None,
            destination: None,
            subject: None,
            failure: None,
            estimated_delivery: None,
        }
    }
}

/// The record as stored: its scope as text, read with its kind.
mod wire {
    use super::{Channel, DeliveryState, MessageKind, MessageScope};
    use chrono::{DateTime, NaiveDate, Utc};
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize)]
    pub(super) struct MessageRecord {
        kind: MessageKind,
        scope: String,
        channel: Channel,
        state: DeliveryState,
        at: DateTime<Utc>,
        provider_message_id: Option<String>,
        destination: Option<String>,
        subject: Option<String>,
        #[serde(default)]
        failure: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        estimated_delivery: Option<NaiveDate>,
    }

    impl TryFrom<MessageRecord> for super::MessageRecord {
        type Error = String;
        fn try_from(r: MessageRecord) -> Result<Self, String> {
            let scope = MessageScope::parse(r.kind, &r.scope)
                .ok_or_else(|| format!("a {} message's scope is not one ppx writes", r.kind.as_str()))?;
            Ok(Self {
                kind: r.kind,
                scope,
                channel: r.channel,
                state: r.state,
                at: r.at,
                provider_message_id: r.provider_message_id,
                destination: r.destination,
                subject: r.subject,
                failure: r.failure,
                estimated_delivery: r.estimated_delivery,
            })
        }
    }

    impl From<super::MessageRecord> for MessageRecord {
        fn from(r: super::MessageRecord) -> Self {
            Self {
                kind: r.kind,
                scope: r.scope.to_string(),
                channel: r.channel,
                state: r.state,
                at: r.at,
                provider_message_id: r.provider_message_id,
                destination: r.destination,
                subject: r.subject,
                failure: r.failure,
                estimated_delivery: r.estimated_delivery,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipment(id: &str) -> ShipmentId {
        ShipmentId::parse(id).unwrap()
    }

    /// Every scope ppx writes reads back as itself, and the text is the one earlier versions
    /// stored (deployed tables hold it).
    #[test]
    fn scopes_read_back_in_the_forms_stored() {
        let day = NaiveDate::from_ymd_opt(2026, 4, 21).unwrap();
        let ret = ReturnId::parse("R0123456789abcdef").unwrap();
        let cases = [
            (MessageKind::OrderConfirmation, MessageScope::Order, ""),
            (MessageKind::ReviewRequest, MessageScope::Order, ""),
            (MessageKind::Shipped, MessageScope::Shipment(shipment("ful#1")), "ful#1"),
            (MessageKind::Delivered, MessageScope::Shipment(shipment("255858046")), "255858046"),
            (MessageKind::OutForDelivery, MessageScope::ShipmentDay(shipment("ful#1"), day), "ful#1#2026-04-21"),
            (MessageKind::DeliveryAttempted, MessageScope::ShipmentDay(shipment("9"), day), "9#2026-04-21"),
            (MessageKind::Delayed, MessageScope::Delay(shipment("9"), DelayNotice::Numbered(2)), "9#delay-2"),
            (MessageKind::Delayed, MessageScope::Delay(shipment("9"), DelayNotice::ForEstimate(day)), "9#2026-04-21"),
            (
                MessageKind::ReturnUpdate,
                MessageScope::Return(ret, ReturnState::NeedsReview),
                "R0123456789abcdef#needs_review",
            ),
            (
                MessageKind::ActionNeeded,
                MessageScope::Situation(shipment("9"), Situation::AwaitingRecipient),
                "9#awaiting_recipient",
            ),
            (MessageKind::Exception, MessageScope::Situation(shipment("9"), Situation::Refused), "9#refused"),
            (MessageKind::Exception, MessageScope::Shipment(shipment("9")), "9"),
            (MessageKind::OutForDelivery, MessageScope::Shipment(shipment("9")), "9"),
            (MessageKind::OutForDelivery, MessageScope::Again(shipment("9")), "9#again"),
            (MessageKind::DeliveryAttempted, MessageScope::Shipment(shipment("ful#1")), "ful#1"),
            (
                MessageKind::Stalled,
                MessageScope::Stall(shipment("ful#1"), DateTime::from_timestamp(1_776_765_600, 0).unwrap()),
                "ful#1#since-20260421T100000Z",
            ),
            (MessageKind::Untracked, MessageScope::Shipment(shipment("ful#1")), "ful#1"),
            (MessageKind::NotShipped, MessageScope::Order, ""),
        ];
        for (kind, scope, text) in cases {
            assert_eq!(scope.to_string(), text, "{scope:?}");
            assert_eq!(MessageScope::parse(kind, text), Some(scope), "{kind:?} {text}");
        }
    }

    #[test]
    fn a_scope_of_another_form_is_refused() {
        assert_eq!(MessageScope::parse(MessageKind::OrderConfirmation, "9"), None);
        assert_eq!(MessageScope::parse(MessageKind::Shipped, ""), None);
        assert_eq!(MessageScope::parse(MessageKind::ActionNeeded, "9"), None);
        assert_eq!(MessageScope::parse(MessageKind::ActionNeeded, "9#gone_fishing"), None);
        assert_eq!(MessageScope::parse(MessageKind::Delayed, "9#delay-0"), None);
        assert_eq!(MessageScope::parse(MessageKind::Stalled, "9"), None);
        assert_eq!(MessageScope::parse(MessageKind::Stalled, "9#since-yesterday"), None);
        assert_eq!(MessageScope::parse(MessageKind::ReturnUpdate, "R0123456789abcdef#lost"), None);
    }

    #[test]
    fn a_record_keeps_its_stored_form() {
        let key = MessageKey::new(
            MessageKind::OutForDelivery,
            MessageScope::ShipmentDay(shipment("9"), NaiveDate::from_ymd_opt(2026, 4, 21).unwrap()),
            Channel::Sms,
        );
        let record = MessageRecord::claimed(&key, DateTime::from_timestamp(1_776_000_000, 0).unwrap());
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["scope"], "9#2026-04-21");
        assert_eq!(serde_json::from_value::<MessageRecord>(json).unwrap(), record);
        let corrupt = serde_json::json!({"kind": "shipped", "scope": "", "channel": "email", "state": "sent",
            "at": "2026-04-21T10:00:00Z", "provider_message_id": null, "destination": null, "subject": null});
        assert!(serde_json::from_value::<MessageRecord>(corrupt).is_err());
    }
}
