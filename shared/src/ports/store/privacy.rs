//! Forgetting customers and shops (`domain::privacy`), and the record that it was done.

use super::StoreError;
use crate::domain::ids::{OrderId, ShopId};
use crate::domain::privacy::PrivacyRecord;
use std::future::Future;

pub trait PrivacyStore: Send + Sync {
    /// The orders stored with `email` as their customer's address (each is indexed by a hash
    /// of the address when it is written).
    fn customer_orders(
        &self,
        shop: &ShopId,
        email: &str,
    ) -> impl Future<Output = Result<Vec<OrderId>, StoreError>> + Send;
    /// Removes the customer's personal data from every item of the order (`domain::privacy`)
    /// and the order from its address's index. False when no such order is stored.
    fn redact_order(&self, shop: &ShopId, order: &OrderId) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Keeps `email` suppressed (by its hash) without the address itself.
    fn redact_suppression(&self, shop: &ShopId, email: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes the shop's settings (its secrets, sender, templates): its webhooks are refused
    /// from then on.
    fn forget_shop(&self, shop: &ShopId) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn note_privacy(
        &self,
        shop: &ShopId,
        record: &PrivacyRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every privacy request carried out for the shop, oldest first.
    fn privacy_records(&self, shop: &ShopId) -> impl Future<Output = Result<Vec<PrivacyRecord>, StoreError>> + Send;
}
