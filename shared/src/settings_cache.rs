//! Shop settings cached per cold start for a short time, so a webhook costs no settings read.

use crate::ids::ShopId;
use crate::settings::ShopSettings;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Entry = (DateTime<Utc>, Option<Arc<ShopSettings>>);

pub struct SettingsCache {
    ttl: chrono::Duration,
    entries: Mutex<HashMap<ShopId, Entry>>,
}

impl SettingsCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60)),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Unknown shops are cached too, so a flood of requests for them costs one read per TTL.
    pub async fn get<S: Store>(
        &self,
        store: &S,
        shop: &ShopId,
        now: DateTime<Utc>,
    ) -> Result<Option<Arc<ShopSettings>>, StoreError> {
        if let Some((loaded_at, settings)) = self.entries.lock().expect("cache lock").get(shop)
            && now - *loaded_at < self.ttl
        {
            return Ok(settings.clone());
        }
        let settings = store.get_settings(shop).await?.map(Arc::new);
        self.entries.lock().expect("cache lock").insert(shop.clone(), (now, settings.clone()));
        Ok(settings)
    }
}

impl SettingsCache {
    /// The settings of the shop named in a URL; unknown and malformed ids are both "unknown shop".
    pub async fn resolve<S: Store>(
        &self,
        store: &S,
        raw_shop: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<ShopSettings>, crate::edge::EdgeError> {
        let shop = ShopId::parse(raw_shop).map_err(|_| crate::edge::EdgeError::UnknownShop)?;
        self.get(store, &shop, now).await?.ok_or(crate::edge::EdgeError::UnknownShop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn caches_within_ttl_and_reloads_after() {
        let store = MemoryStore::new();
        let settings = ShopSettings::from_json(include_str!("../../events/shop.example.json")).unwrap();
        let shop = settings.shop.clone();
        let cache = SettingsCache::new(Duration::from_secs(60));
        let t0 = Utc::now();
        assert!(cache.get(&store, &shop, t0).await.unwrap().is_none());
        store.put_settings(&settings).await.unwrap();
        // Still the cached "unknown" within the TTL...
        assert!(cache.get(&store, &shop, t0 + chrono::Duration::seconds(59)).await.unwrap().is_none());
        // ...and the stored settings after it.
        let loaded = cache.get(&store, &shop, t0 + chrono::Duration::seconds(61)).await.unwrap();
        assert_eq!(loaded.as_deref(), Some(&settings));
    }
}
