//! Returns: stored once per idempotency key, reserving quantities only at the order's returns
//! version they were decided from, moved on only from the state they were read in.

use super::StoreError;
use crate::domain::ids::{OrderId, ReturnId, ShopId, TrackingNumber};
use crate::domain::returns::{Return, ReturnState};
use std::future::Future;

/// Returns: stored once, reserving quantities only at the version they were decided from, moved from the state they were read in.
pub trait ReturnStore: Send + Sync {
    /// Stores a new return unless one with its id exists (then returns that one). A return that
    /// reserves quantities (`reserves`: the [`OrderView::returns_version`](super::OrderView::returns_version) its decision was read
    /// at) is stored only while that version is current, and bumps it in the same write: two
    /// returns decided from the same view can never both reserve the last unit.
    fn create_return(
        &self,
        shop: &ShopId,
        ret: &Return,
        reserves: Option<u64>,
    ) -> impl Future<Output = Result<ReturnCreated, StoreError>> + Send;
    /// Moves a return to `ret.state` if it is still in `from`; false when another request moved it.
    fn update_return(
        &self,
        shop: &ShopId,
        ret: &Return,
        from: ReturnState,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// A return by its id alone (what operators have).
    fn find_return(
        &self,
        shop: &ShopId,
        id: &ReturnId,
    ) -> impl Future<Output = Result<Option<Return>, StoreError>> + Send;
    fn returns_in_state(
        &self,
        shop: &ShopId,
        state: ReturnState,
    ) -> impl Future<Output = Result<Vec<Return>, StoreError>> + Send;
    /// Points a return parcel's tracking number at its return.
    fn register_return_parcel(
        &self,
        shop: &ShopId,
        number: &TrackingNumber,
        order: &OrderId,
        return_id: &ReturnId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What [`ReturnStore::create_return`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnCreated {
    Created,
    /// A return with this id was stored before (a retried request): it is left as it was.
    Exists(Box<Return>),
    /// Another return reserved quantities since the decision was read: read again, decide again.
    Stale,
}
