//! The secret store in memory, for unit tests.

use crate::domain::ids::ShopId;
use crate::domain::link_keys::LinkKeySet;
use crate::domain::settings::ShopSecrets;
use crate::ports::secrets::{SecretStore, SecretsError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct MemorySecrets {
    shops: Arc<Mutex<HashMap<ShopId, ShopSecrets>>>,
    link_keys: Arc<Mutex<Option<LinkKeySet>>>,
}

impl MemorySecrets {
    pub fn new() -> Self {
        Self::default()
    }
}

impl SecretStore for MemorySecrets {
    async fn shop_secrets(&self, shop: &ShopId) -> Result<Option<ShopSecrets>, SecretsError> {
        Ok(self.shops.lock().expect("secrets lock").get(shop).cloned())
    }

    async fn put_shop_secrets(&self, shop: &ShopId, secrets: &ShopSecrets) -> Result<(), SecretsError> {
        self.shops.lock().expect("secrets lock").insert(shop.clone(), secrets.clone());
        Ok(())
    }

    async fn delete_shop_secrets(&self, shop: &ShopId) -> Result<bool, SecretsError> {
        Ok(self.shops.lock().expect("secrets lock").remove(shop).is_some())
    }

    async fn link_keys(&self) -> Result<Option<LinkKeySet>, SecretsError> {
        Ok(self.link_keys.lock().expect("secrets lock").clone())
    }

    async fn put_link_keys(&self, keys: &LinkKeySet) -> Result<(), SecretsError> {
        *self.link_keys.lock().expect("secrets lock") = Some(keys.clone());
        Ok(())
    }
}
