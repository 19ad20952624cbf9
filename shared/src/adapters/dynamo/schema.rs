//! The table's schema in one place: key builders, the attributes read back by name.

use super::*;

/// On a tracking number's item: carrier updates wait for its shipment.
pub(super) const PENDING_ATTRIBUTE: &str = "pending";

/// On a shipment's item: written with its tracking number's index while nothing waited for it
/// (`OrderView::indexed`).
pub(super) const INDEXED_ATTRIBUTE: &str = "indexed";

/// Key layout. Free-form parts (shipment ids, delivery ids, message scopes) always come last,
/// so a `#` inside them cannot collide with another key.
pub mod keys {
    use super::*;

    pub const SETTINGS: &str = "SETTINGS";
    pub const SHOPS: &str = "SHOPS";
    pub const ORDER: &str = "ORDER";
    pub const SHIPMENT_PREFIX: &str = "SHIPMENT#";
    pub const MESSAGE_PREFIX: &str = "MSG#";
    pub const TRACKING: &str = "TRACKING";
    pub const TRACKING_STATE_PREFIX: &str = "TRACKING#";
    pub const PENDING_PREFIX: &str = "PENDING#";
    pub const DELIVERY: &str = "DELIVERY";
    /// Marks an order whose shipment arrived before it.
    pub const SHIPMENTS_FIRST: &str = "SHIPMENTS_FIRST";

    pub fn shop(shop: &ShopId) -> String {
        format!("SHOP#{shop}")
    }
    pub fn order(shop: &ShopId, order: &OrderId) -> String {
        format!("SHOP#{shop}#ORDER#{order}")
    }
    /// The gsi1 partition of the orders with one number (`store::order_number_key`).
    pub fn order_number(shop: &ShopId, number_key: &str) -> String {
        format!("SHOP#{shop}#ORDERNO#{number_key}")
    }
    pub fn shipment(id: &str) -> String {
        format!("{SHIPMENT_PREFIX}{id}")
    }
    pub fn message(key: &MessageKey) -> String {
        format!("{MESSAGE_PREFIX}{}#{}#{}", key.kind.as_str(), key.channel.as_str(), key.scope)
    }
    pub fn tracking(shop: &ShopId, number: &TrackingNumber) -> String {
        format!("SHOP#{shop}#TRACKING#{number}")
    }
    pub fn tracking_state(shipment_id: &str) -> String {
        format!("{TRACKING_STATE_PREFIX}{shipment_id}")
    }
    pub const SURVEY: &str = "SURVEY";
    pub const RETURN_PREFIX: &str = "RETURN#";
    pub const RETURN_ID: &str = "RETURN";
    /// The order's returns version: bumped by every return that reserves quantities.
    pub const RETURNS_VERSION: &str = "RETURNS";

    pub fn return_item(id: &str) -> String {
        format!("{RETURN_PREFIX}{id}")
    }
    pub fn return_id(shop: &ShopId, id: &str) -> String {
        format!("SHOP#{shop}#RETURNID#{id}")
    }
    pub fn returns_in(shop: &ShopId, state: ReturnState) -> String {
        format!("SHOP#{shop}#RETURNS#{}", state.as_str())
    }
    pub const UNSUBSCRIBED: &str = "UNSUB";

    pub fn review_due(shop: &ShopId) -> String {
        format!("SHOP#{shop}#REVIEW_DUE")
    }
    pub fn review_sent(shop: &ShopId) -> String {
        format!("SHOP#{shop}#REVIEW_SENT")
    }
    pub fn review_skipped(shop: &ShopId) -> String {
        format!("SHOP#{shop}#REVIEW_SKIPPED")
    }
    pub fn nps(shop: &ShopId) -> String {
        format!("SHOP#{shop}#NPS")
    }
    pub fn unsubscribed(shop: &ShopId, email: &str) -> String {
        format!("SHOP#{shop}#UNSUB#{}", crate::ports::store::email_key(email))
    }
    /// Index sort keys sort by time (RFC 3339 UTC, fixed width), then order.
    pub fn by_time(at: DateTime<Utc>, order: &OrderId) -> String {
        format!("{}#{order}", time(at))
    }
    pub fn time(at: DateTime<Utc>) -> String {
        at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}
