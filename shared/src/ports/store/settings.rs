//! Shops and their settings.

use super::StoreError;
use crate::domain::ids::ShopId;
use crate::domain::settings::ShopSettings;
use std::future::Future;

/// Shops and their settings.
pub trait SettingsStore: Send + Sync {
    fn get_settings(&self, shop: &ShopId) -> impl Future<Output = Result<Option<ShopSettings>, StoreError>> + Send;
    fn put_settings(&self, settings: &ShopSettings) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every shop with settings (a Query on the shops index).
    fn list_shops(&self) -> impl Future<Output = Result<Vec<ShopId>, StoreError>> + Send;
}
