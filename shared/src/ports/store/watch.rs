//! Orders and parcels watched (`domain::watch`): an order waits to ship, a shipment with a
//! tracking number waits for its first scan, a parcel on its way for its next one. The time to look again is written with
//! the shipment and with its tracking state (no request of its own); the sweep reads the due
//! ones by time, moves a watch that is not due after all, and ends the ones it handled.

use super::StoreError;
use crate::domain::ids::{OrderId, ShipmentId, ShopId};
use crate::domain::messages::Notice;
use crate::domain::watch::Watch;
use chrono::{DateTime, Utc};
use std::future::Future;

/// Watches coming due, and what the sweep does with them.
pub trait WatchStore: Send + Sync {
    /// Watches due between `from` and `to` (inclusive), oldest first, at most `limit`. A
    /// shipment's first-scan watch is written due at its fulfillment: the sweep knows the
    /// shop's number of days, and moves it ([`WatchStore::retime_watch`]).
    fn due_watches(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueWatch>, StoreError>> + Send;
    /// Moves a watch to `until`, if it is still due at `due.at`. False when a write moved or
    /// ended it meanwhile (that write's time stays).
    fn retime_watch(
        &self,
        shop: &ShopId,
        due: &DueWatch,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Ends a watch, if it is still due at `due.at`: a scan since then set a new one, which stays.
    fn finish_watch(&self, shop: &ShopId, due: &DueWatch) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Watches an order for its shipping, due at `at` (idempotent). A new order's watch is
    /// written with it (`StateChange::NewOrder`); this is for an order stored another way.
    fn watch_order(
        &self,
        shop: &ShopId,
        order: &OrderId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A watch whose time has come (to the second): a shipment's, or the order's own (`ShipBy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueWatch {
    pub order_id: OrderId,
    pub shipment_id: Option<ShipmentId>,
    pub watch: Watch,
    pub at: DateTime<Utc>,
    /// The text a [`Watch::Text`] holds back.
    pub text: Option<Notice>,
}
