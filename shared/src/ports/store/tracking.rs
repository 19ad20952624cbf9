//! Tracking numbers: the shipment (or return parcel) each leads to, carrier updates kept until
//! their shipment arrives, and each shipment's tracking state, written at a version.

use super::StoreError;
use crate::domain::ids::{OrderId, ReturnId, ShipmentId, ShopId, TrackingNumber};
use crate::domain::tracking::{CarrierUpdate, ShipmentTracking, TrackingStatus};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::future::Future;

/// Tracking numbers: where each leads, updates kept until their shipment comes, and each shipment's tracking state at a version.
pub trait TrackingStore: Send + Sync {
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
        shipment_id: &ShipmentId,
        tracking: &ShipmentTracking,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Where a tracking number leads, and carrier updates that came before its shipment did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrackingLookup {
    pub target: Option<TrackingTarget>,
    pub pending: Vec<CarrierUpdate>,
    /// Digests of every carrier update applied to the number (`CarrierUpdate::digests`).
    pub digests: BTreeSet<String>,
    /// The shipment's status as of the last applied update.
    pub status: Option<TrackingStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingTarget {
    pub order_id: OrderId,
    pub parcel: Parcel,
}

/// What a tracked parcel is: a shipment of the order, or a return of it on its way back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parcel {
    Shipment(ShipmentId),
    Return(ReturnId),
}

impl TrackingTarget {
    pub fn shipment(order_id: OrderId, shipment: ShipmentId) -> Self {
        Self { order_id, parcel: Parcel::Shipment(shipment) }
    }
}
