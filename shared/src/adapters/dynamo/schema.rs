//! The table's schema in one place: key builders, the names of the attributes items are written
//! and read back by, the values of a message's state, and what a cancelled transaction's reasons
//! mean. Condition and update expressions name their attributes inline, beside the write they
//! guard; the contract suite (`tests/store_contract.rs`) runs each of them against DynamoDB
//! (moto).

use super::*;

/// Attribute names (beside the keys of [`crate::adapters::dynamo::table`]).
pub(super) mod attr {
    /// A domain value, serialized whole (serde_dynamo), one attribute per kind of item.
    pub const SETTINGS: &str = "settings";
    pub const ORDER: &str = "order";
    pub const SHIPMENT: &str = "shipment";
    pub const TRACKING: &str = "tracking";
    pub const DELIVERY: &str = "delivery";
    pub const RECORD: &str = "record";
    pub const RETURN: &str = "ret";
    pub const REVIEW: &str = "review";
    pub const ANSWER: &str = "answer";
    pub const UPDATE: &str = "update";
    /// Conditions: a newer version wins, a tracking state or returns version moves on once.
    pub const UPDATED_AT_MS: &str = "updated_at_ms";
    pub const ANSWERED_AT_MS: &str = "answered_at_ms";
    pub const VERSION: &str = "version";
    /// A message's claim: its state ([`SENDING`], or the record's `DeliveryState`), holder and lease.
    pub const STATE: &str = "state";
    pub const CLAIM_TOKEN: &str = "claim_token";
    pub const LEASE_UNTIL_MS: &str = "lease_until_ms";
    /// A tracking number's index item: where it leads, what was applied.
    pub const ORDER_ID: &str = "order_id";
    pub const SHIPMENT_ID: &str = "shipment_id";
    pub const RETURN_ID: &str = "return_id";
    pub const DIGESTS: &str = "digests";
    pub const TRACKING_STATUS: &str = "tracking_status";
    /// On a tracking number's item: carrier updates wait for its shipment.
    pub const PENDING: &str = "pending";
    /// On a shipment's item: written with its tracking number's index while nothing waited for
    /// it (`OrderView::indexed`).
    pub const INDEXED: &str = "indexed";
    /// A review request's failed runs.
    pub const ATTEMPTS: &str = "attempts";
    /// When an address unsubscribed.
    pub const AT: &str = "at";
    /// On a shipment's or tracking state's item while the sweep watches it (`domain::watch::Watch`).
    pub const WATCH: &str = "watch";
    /// A deferred text's notice.
    pub const KIND: &str = "kind";
    pub const SCOPE: &str = "scope";
    /// An address's suppression (`domain::mail_feedback::Suppression`).
    pub const SUPPRESSION: &str = "suppression";
    /// What SES said of an email, and how grave it is (`MailOutcome::rank`): graver news only
    /// replaces it.
    pub const FEEDBACK: &str = "feedback";
    pub const RANK: &str = "feedback_rank";
    /// A privacy request carried out (`domain::privacy::PrivacyRecord`).
    pub const PRIVACY: &str = "privacy";
}

/// A message item's `state` while it is a claim; a record's is its [`DeliveryState`]'s name.
pub(super) const SENDING: &str = DeliveryState::Sending.as_str();

/// What one item's reason in a cancelled transaction says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cancellation<'a> {
    /// This item was fine; another one cancelled the transaction.
    Passed,
    /// Its condition was false (with `ReturnValuesOnConditionCheckFailure`, the item is in the reason).
    ConditionFailed,
    /// Another transaction was writing the item at the same moment: try again.
    Conflict,
    /// Throttling, validation, capacity...: the caller answers 5xx.
    Other(&'a str),
}

impl<'a> Cancellation<'a> {
    pub(super) fn of(reason: Option<&'a CancellationReason>) -> Self {
        match reason.and_then(CancellationReason::code) {
            None | Some("None") => Self::Passed,
            Some("ConditionalCheckFailed") => Self::ConditionFailed,
            Some("TransactionConflict") => Self::Conflict,
            Some(other) => Self::Other(other),
        }
    }
}

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
    /// An order's ship-by watch (`domain::watch::Watch::ShipBy`).
    pub const SHIP_BY: &str = "SHIP_BY";
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
    pub fn shipment(id: &ShipmentId) -> String {
        format!("{SHIPMENT_PREFIX}{id}")
    }
    pub fn message(key: &MessageKey) -> String {
        format!("{MESSAGE_PREFIX}{}#{}#{}", key.kind.as_str(), key.channel.as_str(), key.scope)
    }
    pub fn tracking(shop: &ShopId, number: &TrackingNumber) -> String {
        format!("SHOP#{shop}#TRACKING#{number}")
    }
    pub fn tracking_state(shipment_id: &ShipmentId) -> String {
        format!("{TRACKING_STATE_PREFIX}{shipment_id}")
    }
    pub const SURVEY: &str = "SURVEY";
    pub const RETURN_PREFIX: &str = "RETURN#";
    pub const RETURN_ID: &str = "RETURN";
    /// The order's returns version: bumped by every return that reserves quantities.
    pub const RETURNS_VERSION: &str = "RETURNS";

    pub fn return_item(id: &ReturnId) -> String {
        format!("{RETURN_PREFIX}{id}")
    }
    pub fn return_id(shop: &ShopId, id: &ReturnId) -> String {
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
    /// A parcel text held back by quiet hours (in the order's partition; free-form scope last).
    pub fn deferred_text(notice: &Notice) -> String {
        format!("TEXT#{}#{}", notice.kind.as_str(), notice.scope)
    }
    /// The gsi1 partition of the watched parcels, by the time they are due.
    pub fn watch(shop: &ShopId) -> String {
        format!("SHOP#{shop}#WATCH")
    }
    pub fn nps(shop: &ShopId) -> String {
        format!("SHOP#{shop}#NPS")
    }
    /// The partition of a shop's suppressed addresses; each one's sort key is a hash of it
    /// (`store::email_key`), so a send checks it in its claim and an erased address still counts.
    pub fn suppressed(shop: &ShopId) -> String {
        format!("SHOP#{shop}#SUPPRESSED")
    }
    /// What SES said of one email of the order, by its SES message id (in the order's partition).
    pub const FEEDBACK_PREFIX: &str = "FEEDBACK#";
    pub fn feedback(provider_message_id: &str) -> String {
        format!("{FEEDBACK_PREFIX}{provider_message_id}")
    }
    /// The orders of one customer's address, by a hash of it (sort key: the order id), to find
    /// them when the customer is to be forgotten.
    pub fn customer(shop: &ShopId, email: &str) -> String {
        format!("SHOP#{shop}#CUSTOMER#{}", crate::ports::store::email_key(email))
    }
    /// The shop's privacy requests carried out, by time.
    pub fn privacy(shop: &ShopId) -> String {
        format!("SHOP#{shop}#PRIVACY")
    }
    pub fn unsubscribed(shop: &ShopId, email: &str) -> String {
        format!("SHOP#{shop}#UNSUB#{}", crate::ports::store::email_key(email))
    }
    /// Index sort keys sort by time (RFC 3339 UTC, fixed width), then order.
    pub fn by_time(at: DateTime<Utc>, order: &OrderId) -> String {
        format!("{}#{order}", time(at))
    }
    pub fn time(at: DateTime<Utc>) -> String {
        at.format(TIME).to_string()
    }
    /// The time at the start of an index sort key [`by_time`] wrote.
    pub fn time_of(sort_key: &str) -> Option<DateTime<Utc>> {
        let time = sort_key.split('#').next()?;
        chrono::NaiveDateTime::parse_from_str(time, TIME).ok().map(|t| t.and_utc())
    }
    const TIME: &str = "%Y-%m-%dT%H:%M:%SZ";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancellation_reason_is_read_by_its_code() {
        let reason = |code: Option<&str>| CancellationReason::builder().set_code(code.map(str::to_owned)).build();
        assert_eq!(Cancellation::of(None), Cancellation::Passed);
        let cases = [
            (None, Cancellation::Passed),
            (Some("None"), Cancellation::Passed),
            (Some("ConditionalCheckFailed"), Cancellation::ConditionFailed),
            (Some("TransactionConflict"), Cancellation::Conflict),
            (Some("ThrottlingError"), Cancellation::Other("ThrottlingError")),
        ];
        for (code, expected) in cases {
            let reason = reason(code);
            assert_eq!(Cancellation::of(Some(&reason)), expected, "{code:?}");
        }
    }
}
