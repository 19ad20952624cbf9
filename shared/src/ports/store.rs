//! The storage port. Every decision that must hold under concurrency (a newer order wins, a
//! message is claimed once) is a conditional write inside the adapter, never a read-then-write.

use crate::domain::ids::{OrderId, ShopId, TrackingNumber};
use crate::domain::messages::{Channel, DeliveryState, MessageKey, MessageKind, MessageRecord};
use crate::domain::order::{Order, Shipment};
use crate::domain::settings::ShopSettings;
use crate::domain::tracking::{CarrierUpdate, ShipmentTracking};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, 5xx, timeouts: the caller answers 5xx and the sender retries.
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    /// A stored item does not decode: a bug or a manual edit; needs an operator.
    #[error("stored item {key} is corrupt: {detail}")]
    Corrupt { key: String, detail: String },
    /// The item would be larger than the store takes (DynamoDB: 400 KB): refused before it is
    /// sent, since no retry can ever store it.
    #[error("item {key} would take {bytes} bytes; at most {limit} can be stored")]
    TooLarge { key: String, bytes: usize, limit: usize },
}

/// What a conditional upsert did.
#[derive(Debug, Clone, PartialEq)]
pub enum Upsert<T> {
    /// Nothing was stored before.
    Created,
    /// An older version was replaced.
    Updated,
    /// The stored version is as new or newer; it is returned and was left alone.
    Stale(Box<T>),
}

/// The outcome of trying to claim a message before sending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    Claimed,
    /// It went out (or failed permanently) before: never send again.
    AlreadyDone,
    /// Someone else holds an unexpired claim; retry later.
    InFlight,
    /// Free, but not taken: the state change it went with was refused.
    NotAttempted,
}

/// A state change written in one transaction with the claims of the messages it calls for, so
/// that one request both records what happened and reserves what must be said about it.
#[derive(Debug, Clone, Copy)]
pub enum StateChange<'a> {
    /// A new order, unless a version as new or newer is stored, and only while no shipment of
    /// it came first (then the caller needs the whole order view).
    NewOrder(&'a Order),
    /// A shipment of a stored order, unless a version as new or newer is stored; its tracking
    /// number is indexed with it, only while no carrier update waits for the number (then the
    /// caller applies those too).
    NewShipment(&'a Shipment),
    Tracking(TrackingChange<'a>),
}

/// A shipment's tracking, written if its stored version is still `expected` (`None`: never written).
#[derive(Debug, Clone, Copy)]
pub struct TrackingChange<'a> {
    pub order: &'a OrderId,
    pub shipment_id: &'a str,
    pub tracking: &'a ShipmentTracking,
    pub expected: Option<u64>,
    /// Recorded with the change when it calls for no message (else with the messages' records).
    pub applied: Option<Applied<'a>>,
    /// Written with it when this change completes the order's delivery (once).
    pub delivery: Option<&'a DeliveryRecord>,
    /// The other shipments' tracking versions the delivery was decided from: if one moved,
    /// the change is stale (two parcels delivered at once must not both miss the delivery).
    pub others: &'a [(&'a str, Option<u64>)],
    /// Written unannounced because the order or the shipment was not stored yet: if it is
    /// stored meanwhile, the change is stale (read again and announce), so that what arrives
    /// next (the order, the fulfillment) finds this state to announce.
    pub unannounced: Unannounced,
}

/// What a tracking change written without messages found missing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unannounced {
    pub order_missing: bool,
    pub shipment_missing: bool,
}

/// A carrier update whose every effect is done, noted on its tracking number: its digests
/// (`CarrierUpdate::digests`), so that a replay costs one read, and the status it led to.
#[derive(Debug, Clone, Copy)]
pub struct Applied<'a> {
    pub number: &'a TrackingNumber,
    pub digests: &'a [String],
    pub status: Option<crate::domain::tracking::TrackingStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    Written,
    /// A newer order is stored, the tracking moved on, or the delivery was recorded meanwhile.
    Stale,
    /// Shipments of this new order arrived before it.
    ShipmentsFirst,
    /// Carrier updates for this new shipment's tracking number arrived before it.
    UpdatesWaiting,
}

/// What [`Store::claim_messages`] did: the change (if one was asked) and each claim, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimBatch {
    pub change: Option<ChangeOutcome>,
    pub claims: Vec<ClaimOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Random; only the holder may complete or release the claim.
    pub token: String,
    pub at: DateTime<Utc>,
    /// After this a crashed sender's claim may be taken over.
    pub lease_until: DateTime<Utc>,
}

/// An order with everything recorded about it, as operators see it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrderView {
    pub order: Option<Order>,
    pub shipments: Vec<Shipment>,
    pub messages: Vec<MessageRecord>,
    /// Carrier tracking per shipment id, with the version its next write must match.
    pub tracking: BTreeMap<String, Versioned<ShipmentTracking>>,
    pub delivery: Option<DeliveryRecord>,
    pub returns: Vec<crate::domain::returns::Return>,
    /// Shipments (ids) stored in one transaction with their tracking number's index, while no
    /// carrier update waited for the number (`StateChange::NewShipment`): nothing was left to
    /// apply to them, and nothing can be since (an update is kept only for a number no shipment
    /// claims).
    pub indexed: BTreeSet<String>,
    /// How many returns that reserve quantities were stored for the order: a new one is stored
    /// only at the version its decision was read at ([`Store::create_return`]).
    pub returns_version: u64,
}

impl OrderView {
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
                    && record.scope == shipment.id
                    && record.channel == *channel
                    && record.state != DeliveryState::Sending
            })
        };
        stored_as_new && self.indexed.contains(&shipment.id) && channels.iter().all(done)
    }
}

/// What [`Store::create_return`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnCreated {
    Created,
    /// A return with this id was stored before (a retried request): it is left as it was.
    Exists(Box<crate::domain::returns::Return>),
    /// Another return reserved quantities since the decision was read: read again, decide again.
    Stale,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// Where a tracking number leads, and carrier updates that came before its shipment did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrackingLookup {
    pub target: Option<TrackingTarget>,
    pub pending: Vec<CarrierUpdate>,
    /// Digests of every carrier update applied to the number (`CarrierUpdate::digests`).
    pub digests: BTreeSet<String>,
    /// The shipment's status as of the last applied update.
    pub status: Option<crate::domain::tracking::TrackingStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingTarget {
    pub order_id: OrderId,
    pub shipment_id: String,
    /// Set when the number is a return parcel's (then `shipment_id` is empty).
    #[serde(default)]
    pub return_id: Option<String>,
}

/// A review request whose time has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueReview {
    pub order_id: OrderId,
    pub delivery: DeliveryRecord,
    /// Runs that failed to handle it so far ([`Store::defer_review`]).
    pub attempts: u32,
}

/// Why a review request was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    OrderCancelled,
    Refunded,
    ReturnRequested,
    Unsubscribed,
    NoEmail,
    OrderMissing,
    /// A request for this order went out before (found by its message claim).
    AlreadySent,
    /// The provider refused the email for good.
    Rejected,
    /// Every run that tried it failed, a few times over hours: given up and reported.
    Failed,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderCancelled => "order_cancelled",
            Self::Refunded => "refunded",
            Self::ReturnRequested => "return_requested",
            Self::Unsubscribed => "unsubscribed",
            Self::NoEmail => "no_email",
            Self::OrderMissing => "order_missing",
            Self::AlreadySent => "already_sent",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }
}

/// What became of a review request; moves it out of the due index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReviewOutcome {
    Sent { at: DateTime<Utc> },
    Skipped { at: DateTime<Utc>, reason: SkipReason },
}

impl ReviewOutcome {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Sent { at } | Self::Skipped { at, .. } => *at,
        }
    }
}

/// One customer's answer to the NPS question of one order; the latest answer wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyAnswer {
    pub order_id: OrderId,
    pub score: u8,
    pub comment: Option<String>,
    pub answered_at: DateTime<Utc>,
    /// Given by the page's form POST. Answers stored before that rule (a score link's GET
    /// recorded them, and mail scanners open every link) read as unconfirmed and never count.
    #[serde(default)]
    pub confirmed: bool,
}

/// Written once, when every item of an order has been delivered; queues the review request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub delivered_at: DateTime<Utc>,
    pub review_due_at: DateTime<Utc>,
}

pub trait Store: Send + Sync {
    fn get_settings(&self, shop: &ShopId) -> impl Future<Output = Result<Option<ShopSettings>, StoreError>> + Send;
    fn put_settings(&self, settings: &ShopSettings) -> impl Future<Output = Result<(), StoreError>> + Send;

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

    /// One query: the shipment a tracking number belongs to, and updates kept for it.
    fn lookup_tracking(
        &self,
        shop: &ShopId,
        number: &TrackingNumber,
    ) -> impl Future<Output = Result<TrackingLookup, StoreError>> + Send;
    /// Keeps an update for a number no shipment claims yet (idempotent for the same update), and
    /// marks the number as having updates waiting. False, keeping nothing, when a shipment or
    /// return claimed the number meanwhile: then the caller looks it up again.
    fn keep_pending_update(
        &self,
        shop: &ShopId,
        update: &CarrierUpdate,
        expires_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Writes a shipment's tracking state if its version is still `expected` (`None`: not yet
    /// written). Returns false when another writer got there first.
    fn put_tracking(
        &self,
        shop: &ShopId,
        order: &OrderId,
        shipment_id: &str,
        tracking: &ShipmentTracking,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
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

    /// Every shop with settings (a Query on the shops index).
    fn list_shops(&self) -> impl Future<Output = Result<Vec<ShopId>, StoreError>> + Send;
    /// Review requests due between `from` and `to` (inclusive), oldest first, at most `limit`.
    fn due_reviews(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueReview>, StoreError>> + Send;
    /// Moves a review request that a run failed to handle later in the due index, counting the
    /// attempt (`due.attempts` + 1), so that it waits behind the others instead of coming first
    /// again. False when another run finished or deferred it meanwhile.
    fn defer_review(
        &self,
        shop: &ShopId,
        due: &DueReview,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Takes a review request out of the due index with its outcome (once; false if already done).
    fn finish_review(
        &self,
        shop: &ShopId,
        due: &DueReview,
        outcome: &ReviewOutcome,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Finished review requests of a shop whose outcome falls between `from` and `to`.
    fn review_outcomes(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<ReviewOutcome>, StoreError>> + Send;

    fn is_unsubscribed(&self, shop: &ShopId, email: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn unsubscribe(
        &self,
        shop: &ShopId,
        email: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores an answer unless a later one is stored already.
    fn record_survey_answer(
        &self,
        shop: &ShopId,
        answer: &SurveyAnswer,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Answers given between `from` and `to`.
    fn survey_answers(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<SurveyAnswer>, StoreError>> + Send;

    /// Stores a new return unless one with its id exists (then returns that one). A return that
    /// reserves quantities (`reserves`: the [`OrderView::returns_version`] its decision was read
    /// at) is stored only while that version is current, and bumps it in the same write: two
    /// returns decided from the same view can never both reserve the last unit.
    fn create_return(
        &self,
        shop: &ShopId,
        ret: &crate::domain::returns::Return,
        reserves: Option<u64>,
    ) -> impl Future<Output = Result<ReturnCreated, StoreError>> + Send;
    /// Moves a return to `ret.state` if it is still in `from`; false when another request moved it.
    fn update_return(
        &self,
        shop: &ShopId,
        ret: &crate::domain::returns::Return,
        from: crate::domain::returns::ReturnState,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// A return by its id alone (what operators have).
    fn find_return(
        &self,
        shop: &ShopId,
        id: &str,
    ) -> impl Future<Output = Result<Option<crate::domain::returns::Return>, StoreError>> + Send;
    fn returns_in_state(
        &self,
        shop: &ShopId,
        state: crate::domain::returns::ReturnState,
    ) -> impl Future<Output = Result<Vec<crate::domain::returns::Return>, StoreError>> + Send;
    /// Points a return parcel's tracking number at its return.
    fn register_return_parcel(
        &self,
        shop: &ShopId,
        number: &TrackingNumber,
        order: &OrderId,
        return_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Claims messages of an order, together with a state change in one transaction when one is
    /// given. A refused change leaves every claim untaken; a claim that is done or in flight does
    /// not stop the others or the change.
    fn claim_messages(
        &self,
        shop: &ShopId,
        order: &OrderId,
        keys: &[MessageKey],
        claim: &Claim,
        change: Option<StateChange<'_>>,
    ) -> impl Future<Output = Result<ClaimBatch, StoreError>> + Send;
    /// Records claimed messages as sent (or failed for good), with the carrier update they came
    /// from when it is now fully applied, in one request. Unconditional and idempotent: a record
    /// only ever says that a message went out or never will.
    fn complete_messages(
        &self,
        shop: &ShopId,
        order: &OrderId,
        records: &[MessageRecord],
        applied: Option<Applied<'_>>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Gives a claim back after a failed send, so a retry can send.
    fn release_message(
        &self,
        shop: &ShopId,
        order: &OrderId,
        key: &MessageKey,
        claim_token: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// An order number as it is indexed and looked up: `#1001`, ` 1001` and `1001` are one number,
/// and so are `G-1001` and `g-1001` (ASCII case). `None` when nothing is left, or more than an
/// index key should carry (such an order is found by its id only).
pub fn order_number_key(number: &str) -> Option<String> {
    const MAX_BYTES: usize = 128;
    let key = number.trim().trim_start_matches('#').trim().to_ascii_lowercase();
    (!key.is_empty() && key.len() <= MAX_BYTES).then_some(key)
}

/// Unsubscribes are kept by a hash of the normalised address, not the address itself.
pub fn email_key(email: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(email.trim().to_lowercase().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn shipment(updated_at_ms: i64) -> Shipment {
        let at = Utc.timestamp_millis_opt(updated_at_ms).unwrap();
        Shipment {
            id: "f1".into(),
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
        let key = MessageKey::new(kind, "f1", channel);
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
            indexed: BTreeSet::from(["f1".to_owned()]),
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
