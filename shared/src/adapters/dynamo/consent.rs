//! Unsubscribes, keyed by a hash of the address.

use super::*;

impl ConsentStore for DynamoStore {
    async fn is_unsubscribed(&self, shop: &ShopId, email: &str) -> Result<bool, StoreError> {
        self.exists(keys::unsubscribed(shop, email), keys::UNSUBSCRIBED).await
    }

    async fn unsubscribe(&self, shop: &ShopId, email: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut item = key(keys::unsubscribed(shop, email), keys::UNSUBSCRIBED);
        item.insert(attr::AT.into(), s(keys::time(at)));
        self.put(item).await
    }
}
