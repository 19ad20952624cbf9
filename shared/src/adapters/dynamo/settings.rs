//! Shops and their settings: one item per shop, listed through gsi1.

use super::*;

impl SettingsStore for DynamoStore {
    async fn get_settings(&self, shop: &ShopId) -> Result<Option<ShopSettings>, StoreError> {
        let item = self.get(keys::shop(shop), keys::SETTINGS, false).await?;
        item.map(|item| decode(&item, attr::SETTINGS)).transpose()
    }

    async fn put_settings(&self, settings: &ShopSettings) -> Result<(), StoreError> {
        let mut item = key(keys::shop(&settings.shop), keys::SETTINGS);
        item.insert(GSI1_PARTITION_KEY.into(), s(keys::SHOPS));
        item.insert(GSI1_SORT_KEY.into(), s(settings.shop.as_str()));
        item.insert(attr::SETTINGS.into(), encode(settings));
        self.put(item).await
    }

    async fn list_shops(&self) -> Result<Vec<ShopId>, StoreError> {
        let items = self.query_partition(keys::SHOPS.to_owned(), Some(GSI1)).await?;
        items.iter().map(|item| decode(item, GSI1_SORT_KEY)).collect()
    }
}
