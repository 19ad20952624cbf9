//! Orders, their shipments and the delivery record. A newer version wins; the order view is the
//! one read that handlers decide from.

use super::{StoreError, Upsert, Versioned};
use crate::domain::ids::{OrderId, ShipmentId, ShopId};
use crate::domain::messages::{Channel, DeliveryState, MessageKind, MessageRecord, MessageScope};
use crate::domain::order::{Order, Shipment};
use crate::domain::tracking::ShipmentTracking;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

/// Orders, their shipments and delivery: newer versions win.
pub trait OrderStore: Send + Sync {
    /// Stores the order unless the stored one has the same or a newer `updated_at`.
    fn upsert_order(&self, order: &Order) -> impl Future<Output = Result<Upsert<Order>, StoreError>> + Send;
    fn get_order(&self, shop: &ShopId, id: &OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;
    /// The order, its shipments and its message log, in one query.
    fn order_view(&self, shop: &ShopId, id: &OrderId) -> impl Future<Output = Result<OrderView, StoreError>> + Send;
    /// Orders whose number, as the customer sees it, has the [`order_number_key`] of `number`
    /// (one Query on gsi1; operators only, never a webhook path). Platforms reuse numbers
    /// across test orders, so there may be several.
    fn orders_by_number(
        &self,
        shop: &ShopId,
        number: &str,
    ) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send;
    /// Stores the shipment unless the stored one is as new or newer, and indexes its tracking number.
    fn upsert_shipment(
        &self,
        shop: &ShopId,
        shipment: &Shipment,
    ) -> impl Future<Output = Result<Upsert<Shipment>, StoreError>> + Send;
    /// Notes that a shipment of an order came before the order itself (see `StateChange::NewOrder`).
    fn mark_shipments_first(
        &self,
        shop: &ShopId,
        order: &OrderId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records the order's delivery and queues its review request, once. Returns false if it
    /// was already recorded.
    fn record_delivery(
        &self,
        shop: &ShopId,
        order: &OrderId,
        record: &DeliveryRecord,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// An order with everything recorded about it, as operators see it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrderView {
    pub order: Option<Order>,
    pub shipments: Vec<Shipment>,
    pub messages: Vec<MessageRecord>,
    /// Carrier tracking per shipment id, with the version its next write must match.
    pub tracking: BTreeMap<ShipmentId, Versioned<ShipmentTracking>>,
    pub delivery: Option<DeliveryRecord>,
    pub returns: Vec<crate::domain::returns::Return>,
    /// Shipments (ids) stored in one transaction with their tracking number's index, while no
    /// carrier update waited for the number (`StateChange::NewShipment`): nothing was left to
    /// apply to them, and nothing can be since (an update is kept only for a number no shipment
    /// claims).
    pub indexed: BTreeSet<ShipmentId>,
    /// How many returns that reserve quantities were stored for the order: a new one is stored
    /// only at the version its decision was read at ([`ReturnStore::create_return`](super::ReturnStore::create_return)).
    pub returns_version: u64,
    /// What SES said of the order's emails, by their SES message id (`MessageRecord::provider_message_id`).
    pub mail_feedback: Vec<crate::domain::mail_feedback::MailFeedback>,
}

impl OrderView {
    /// Each stored shipment with its carrier tracking, if any came.
    pub fn shipments_with_tracking(&self) -> Vec<(&Shipment, Option<&ShipmentTracking>)> {
        self.shipments.iter().map(|s| (s, self.tracking.get(&s.id).map(|v| &v.value))).collect()
    }

    /// Whether applying `shipment` would change nothing: a version as new is stored and was
    /// indexed with nothing waiting, and its "shipped" notice went out (or failed for good) on
    /// each of `channels`. Each of these stays true once true, so a read may tell it; anything
    /// else goes on to the conditional writes.
    pub fn already_applied(&self, shipment: &Shipment, channels: &[Channel]) -> bool {
        let stored_as_new = self.shipments.iter().any(|stored| {
            stored.id == shipment.id && stored.updated_at.timestamp_millis() >= shipment.updated_at.timestamp_millis()
        });
        let done = |channel: &Channel| {
            self.messages.iter().any(|record| {
                record.kind == MessageKind::Shipped
                    && matches!(&record.scope, MessageScope::Shipment(id) if *id == shipment.id)
                    && record.channel == *channel
                    && record.state != DeliveryState::Sending
            })
        };
        stored_as_new && self.indexed.contains(&shipment.id) && channels.iter().all(done)
    }
}

/// Written once, when every item of an order has been delivered; queues the review request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub delivered_at: DateTime<Utc>,
    pub review_due_at: DateTime<Utc>,
}

/// An order number as it is indexed and looked up: `#1001`, ` 1001` and `1001` are one number,
/// and so are `G-1001` and `g-1001` (ASCII case). `None` when nothing is left, or more than an
/// index key should carry (such an order is found by its id only).
pub fn order_number_key(number: &str) -> Option<String> {
    const MAX_BYTES: usize = 128;
    let key = number.trim().trim_start_matches('#').trim().to_ascii_lowercase();
    (!key.is_empty() && key.len() <= MAX_BYTES).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::messages::MessageKey;
    use chrono::TimeZone;

    fn shipment(updated_at_ms: i64) -> Shipment {
        let at = Utc.timestamp_millis_opt(updated_at_ms).unwrap();
        Shipment {
            id: ShipmentId::parse("f1").unwrap(),
            order_id: OrderId::parse("1001").unwrap(),
            tracking_number: None,
            carrier: None,
            tracking_url: None,
            items: Vec::new(),
            created_at: at,
            updated_at: at,
        }
    }

    fn record(kind: MessageKind, channel: Channel, state: DeliveryState) -> MessageRecord {
        let key = MessageKey::new(kind, MessageScope::Shipment(ShipmentId::parse("f1").unwrap()), channel);
        MessageRecord { state, ..MessageRecord::claimed(&key, Utc::now()) }
    }

    #[test]
    fn an_order_number_is_one_key_with_or_without_its_hash_sign_and_case() {
        assert_eq!(order_number_key("#1001").as_deref(), Some("1001"));
        assert_eq!(order_number_key(" 1001 ").as_deref(), Some("1001"));
        assert_eq!(order_number_key("# 1001").as_deref(), Some("1001"));
        assert_eq!(order_number_key("G-1001"), order_number_key("g-1001"));
        assert_eq!(order_number_key("#"), None);
        assert_eq!(order_number_key("  "), None);
        assert_eq!(order_number_key(&"9".repeat(129)), None, "too long for an index key");
        assert!(order_number_key(&"9".repeat(128)).is_some());
    }

    #[test]
    fn a_fulfillment_is_already_applied_only_when_stored_as_new_indexed_and_announced_everywhere() {
        let both = [Channel::Email, Channel::Sms];
        let done = OrderView {
            shipments: vec![shipment(2_000)],
            indexed: BTreeSet::from([ShipmentId::parse("f1").unwrap()]),
            messages: vec![
                record(MessageKind::Shipped, Channel::Email, DeliveryState::Sent),
                record(MessageKind::Shipped, Channel::Sms, DeliveryState::Failed),
            ],
            ..OrderView::default()
        };
        assert!(done.already_applied(&shipment(2_000), &both));
        assert!(done.already_applied(&shipment(1_000), &both), "an older version changes nothing either");
        assert!(!done.already_applied(&shipment(2_001), &both), "a newer version is written");
        let slow_path = OrderView { indexed: BTreeSet::new(), ..done.clone() };
        assert!(!slow_path.already_applied(&shipment(2_000), &both), "kept updates may wait for it");
        assert!(!OrderView { shipments: Vec::new(), ..done.clone() }.already_applied(&shipment(2_000), &both));

        let email_only = OrderView { messages: done.messages[..1].to_vec(), ..done.clone() };
        assert!(email_only.already_applied(&shipment(2_000), &[Channel::Email]));
        assert!(!email_only.already_applied(&shipment(2_000), &both), "the SMS is still to send");
        let in_flight = OrderView {
            messages: vec![
                record(MessageKind::Shipped, Channel::Email, DeliveryState::Sent),
                record(MessageKind::Shipped, Channel::Sms, DeliveryState::Sending),
            ],
            ..done.clone()
        };
        assert!(!in_flight.already_applied(&shipment(2_000), &both), "a claim is not a send");
        let other_kind = OrderView {
            messages: vec![
                record(MessageKind::Shipped, Channel::Email, DeliveryState::Sent),
                record(MessageKind::OutForDelivery, Channel::Sms, DeliveryState::Sent),
            ],
            ..done
        };
        assert!(!other_kind.already_applied(&shipment(2_000), &both));
    }
}
