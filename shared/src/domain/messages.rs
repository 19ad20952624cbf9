//! Customer messages: what kinds exist, on which channels, and the per-order log of what was sent.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One kind per customer-facing notice. Each goes out at most once per order and scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    OrderConfirmation,
    /// On its way: from the platform's fulfillment or the carrier's first transit scan.
    Shipped,
    OutForDelivery,
    DeliveryAttempted,
    AvailableForPickup,
    Delivered,
    /// Something went wrong with the parcel.
    Exception,
    ReturnedToSender,
    /// The carrier's estimate is later than the date promised at order time.
    Delayed,
    /// Days after delivery: review the items, answer the NPS question. Not transactional.
    ReviewRequest,
    /// A return entered a new state (decided, in transit, received, refunded...).
    ReturnUpdate,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderConfirmation => "order_confirmation",
            Self::Shipped => "shipped",
            Self::OutForDelivery => "out_for_delivery",
            Self::DeliveryAttempted => "delivery_attempted",
            Self::AvailableForPickup => "available_for_pickup",
            Self::Delivered => "delivered",
            Self::Exception => "exception",
            Self::ReturnedToSender => "returned_to_sender",
            Self::Delayed => "delayed",
            Self::ReviewRequest => "review_request",
            Self::ReturnUpdate => "return_update",
        }
    }

    pub const ALL: [MessageKind; 11] = [
        Self::OrderConfirmation,
        Self::Shipped,
        Self::OutForDelivery,
        Self::DeliveryAttempted,
        Self::AvailableForPickup,
        Self::Delivered,
        Self::Exception,
        Self::ReturnedToSender,
        Self::Delayed,
        Self::ReviewRequest,
        Self::ReturnUpdate,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// Review requests go by email only.
    pub fn goes_by_sms(self) -> bool {
        self != Self::ReviewRequest
    }

    /// Transactional messages go even to customers who unsubscribed from marketing.
    pub fn is_transactional(self) -> bool {
        // Unsubscribing stops these; order and shipping news still go.
        self != Self::ReviewRequest
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    /// A JSON event to the shop's own SNS topic (its back office, Slack, ERP).
    ShopEvent,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::ShopEvent => "shop_event",
        }
    }
}

/// Identifies one message of an order: its kind, what it is about (e.g. a shipment id; empty
/// for order-wide messages) and the channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageKey {
    pub kind: MessageKind,
    pub scope: String,
    pub channel: Channel,
}

impl MessageKey {
    pub fn new(kind: MessageKind, scope: impl Into<String>, channel: Channel) -> Self {
        Self { kind, scope: scope.into(), channel }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Claimed by a sender whose lease has not run out.
    Sending,
    Sent,
    /// The provider refused it for good (e.g. an invalid address); not retried.
    Failed,
}

/// A line of the per-order message log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub kind: MessageKind,
    pub scope: String,
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
