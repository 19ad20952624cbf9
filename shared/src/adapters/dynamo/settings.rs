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

/// Where versions before 0.3 kept a shop's webhook secrets: inside its settings item. For
/// `ppx shop migrate-secrets`, which moves them to the secret store; the functions never read
/// them there.
impl DynamoStore {
    /// The webhook secrets still inside the shop's settings item, if any.
    pub async fn legacy_webhook_secrets(
        &self,
        shop: &ShopId,
    ) -> Result<Option<crate::domain::settings::ShopSecrets>, StoreError> {
        let Some(item) = self.get(keys::shop(shop), keys::SETTINGS, true).await? else { return Ok(None) };
        let Some(AttributeValue::M(settings)) = item.get(attr::SETTINGS) else { return Ok(None) };
        let Some(value) = settings.get(LEGACY_SECRETS) else { return Ok(None) };
        // Never quoted back: the detail of a decoding error could echo a secret.
        let webhook = serde_dynamo::from_attribute_value(value.clone()).map_err(|_| StoreError::Corrupt {
            key: format!("{}/{}", keys::shop(shop), keys::SETTINGS),
            detail: format!("{}.{LEGACY_SECRETS} does not decode", attr::SETTINGS),
        })?;
        Ok(Some(crate::domain::settings::ShopSecrets { webhook }))
    }

    /// Removes them from the item (once they are in the secret store).
    pub async fn remove_legacy_webhook_secrets(&self, shop: &ShopId) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::shop(shop), keys::SETTINGS)))
            .update_expression("REMOVE #settings.#secrets")
            .expression_attribute_names("#settings", attr::SETTINGS)
            .expression_attribute_names("#secrets", LEGACY_SECRETS)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

const LEGACY_SECRETS: &str = "webhook_secrets";
