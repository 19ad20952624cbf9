//! Unsubscribes: per shop, by a hash of the address.

use super::StoreError;
use crate::domain::ids::ShopId;
use chrono::{DateTime, Utc};
use std::future::Future;

/// Who asked to hear nothing more from a shop.
pub trait ConsentStore: Send + Sync {
    fn is_unsubscribed(&self, shop: &ShopId, email: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn unsubscribe(
        &self,
        shop: &ShopId,
        email: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Unsubscribes are kept by a hash of the normalised address, not the address itself.
pub fn email_key(email: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(email.trim().to_lowercase().as_bytes()))
}
