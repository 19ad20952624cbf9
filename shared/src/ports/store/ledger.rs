//! The message ledger, the core of "exactly once": a message is claimed before it is sent (in one
//! transaction with the state change that calls for it), recorded after, and given back only by
//! its holder.

use super::StoreError;
use super::orders::DeliveryRecord;
use crate::domain::ids::{OrderId, ShipmentId, ShopId, TrackingNumber};
use crate::domain::mail_feedback::Suppression;
use crate::domain::messages::{MessageKey, MessageRecord};
use crate::domain::order::{Order, Shipment};
use crate::domain::quiet_hours::DeferredText;
use crate::domain::tracking::{ShipmentTracking, TrackingStatus};
use chrono::{DateTime, Utc};
use std::future::Future;

/// The message ledger: claims taken before a send (with the state change they go with), records after it.
pub trait MessageLedger: Send + Sync {
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
    /// Taken, but its address is on the shop's suppression list: record it as skipped, never send.
    Suppressed(Suppression),
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
    pub shipment_id: &'a ShipmentId,
    pub tracking: &'a ShipmentTracking,
    pub expected: Option<u64>,
    /// Recorded with the change when it calls for no message (else with the messages' records).
    pub applied: Option<Applied<'a>>,
    /// Written with it when this change completes the order's delivery (once).
    pub delivery: Option<&'a DeliveryRecord>,
    /// The other shipments' tracking versions the delivery was decided from: if one moved,
    /// the change is stale (two parcels delivered at once must not both miss the delivery).
    pub others: &'a [(&'a ShipmentId, Option<u64>)],
    /// Parcel texts held back by quiet hours, written as watches due when they end.
    pub deferred: &'a [DeferredText],
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
    pub status: Option<TrackingStatus>,
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

/// What [`MessageLedger::claim_messages`] did: the change (if one was asked) and each claim, in order.
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
    /// The address the batch's emails go to: their claims come back
    /// [`ClaimOutcome::Suppressed`] while the shop's suppression list holds it.
    pub email_to: Option<String>,
}
