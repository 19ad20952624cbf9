//! Shop settings cached per cold start for a short time, so a webhook costs no settings read.

use crate::domain::ids::ShopId;
use crate::domain::settings::ShopSettings;
use crate::ports::store::{SettingsStore, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Entry = (DateTime<Utc>, Option<Arc<ShopSettings>>);

/// Most shops one cold start keeps settings for. A function serves a handful of shops; URLs with
/// made-up shop names (a scanner, a flood) must not grow its memory without bound.
pub const MAX_CACHED_SHOPS: usize = 256;
/// How long an unknown shop is remembered: a flood of requests for one costs a read per this
/// long, and a shop added meanwhile is found soon after.
const UNKNOWN_SHOP_TTL_SECS: i64 = 10;

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

    fn ttl_of(&self, settings: &Option<Arc<ShopSettings>>) -> chrono::Duration {
        match settings {
            Some(_) => self.ttl,
            None => self.ttl.min(chrono::Duration::seconds(UNKNOWN_SHOP_TTL_SECS)),
        }
    }

    /// Settings loaded within their TTL come from the cache; unknown shops are cached briefly.
    pub async fn get<S: SettingsStore>(
        &self,
        store: &S,
        shop: &ShopId,
        now: DateTime<Utc>,
    ) -> Result<Option<Arc<ShopSettings>>, StoreError> {
        if let Some((loaded_at, settings)) = self.entries.lock().expect("cache lock").get(shop)
            && now - *loaded_at < self.ttl_of(settings)
        {
            return Ok(settings.clone());
        }
        let settings = store.get_settings(shop).await?.map(Arc::new);
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= MAX_CACHED_SHOPS && !entries.contains_key(shop) {
            // Expired entries go first, then the oldest unknown shop (a flood of made-up names
            // must not push out the real shops), then the oldest load.
            entries.retain(|_, (loaded_at, settings)| now - *loaded_at < self.ttl_of(settings));
            if entries.len() >= MAX_CACHED_SHOPS
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, (loaded_at, settings))| (settings.is_some(), *loaded_at))
                    .map(|(shop, _)| shop.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(shop.clone(), (now, settings.clone()));
        Ok(settings)
    }

    /// How many shops are cached (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.lock().expect("cache lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SettingsCache {
    /// The settings of the shop named in a URL; unknown and malformed ids are both "unknown shop".
    pub async fn resolve<S: SettingsStore>(
        &self,
        store: &S,
        raw_shop: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<ShopSettings>, ShopError> {
        let shop = ShopId::parse(raw_shop).map_err(|_| ShopError::Unknown)?;
        self.get(store, &shop, now).await?.ok_or(ShopError::Unknown)
    }
}

/// Why a shop named in a URL has no settings to work with.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    #[error("unknown shop")]
    Unknown,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::store::MemoryStore;

    #[tokio::test]
    async fn caches_within_ttl_and_reloads_after() {
        let store = MemoryStore::new();
        let settings = ShopSettings::from_json(include_str!("../../../events/shop.example.json")).unwrap();
        let shop = settings.shop.clone();
        let cache = SettingsCache::new(Duration::from_secs(60));
        let t0 = Utc::now();
        store.put_settings(&settings).await.unwrap();
        let loaded = cache.get(&store, &shop, t0).await.unwrap();
        assert_eq!(loaded.as_deref(), Some(&settings));
        let mut changed = settings.clone();
        changed.display_name = "Renamed".into();
        store.put_settings(&changed).await.unwrap();
        // Still the cached settings within the TTL...
        let cached = cache.get(&store, &shop, t0 + chrono::Duration::seconds(59)).await.unwrap();
        assert_eq!(cached.as_deref(), Some(&settings));
        // ...and the stored ones after it.
        let loaded = cache.get(&store, &shop, t0 + chrono::Duration::seconds(61)).await.unwrap();
        assert_eq!(loaded.as_deref(), Some(&changed));
    }

    #[tokio::test]
    async fn unknown_shops_are_cached_briefly_and_a_flood_of_names_stays_bounded() {
        let store = MemoryStore::new();
        let settings = ShopSettings::from_json(include_str!("../../../events/shop.example.json")).unwrap();
        let cache = SettingsCache::new(Duration::from_secs(60));
        let t0 = Utc::now();
        // A shop added right after a request for it is found within seconds, not a minute.
        assert!(cache.get(&store, &settings.shop, t0).await.unwrap().is_none());
        store.put_settings(&settings).await.unwrap();
        assert!(cache.get(&store, &settings.shop, t0 + chrono::Duration::seconds(5)).await.unwrap().is_none());
        assert!(cache.get(&store, &settings.shop, t0 + chrono::Duration::seconds(11)).await.unwrap().is_some());

        // 10,000 made-up shop names: the cache keeps at most its bound, and the real shop.
        let mut changed = settings.clone();
        changed.display_name = "Renamed".into();
        store.put_settings(&changed).await.unwrap();
        for i in 0..10_000 {
            let made_up = ShopId::parse(&format!("made-up-{i}")).unwrap();
            let at = t0 + chrono::Duration::seconds(12) + chrono::Duration::milliseconds(i);
            assert!(cache.get(&store, &made_up, at).await.unwrap().is_none());
            assert!(cache.len() <= MAX_CACHED_SHOPS, "{} entries", cache.len());
        }
        assert_eq!(cache.len(), MAX_CACHED_SHOPS);
        let still_cached = cache.get(&store, &settings.shop, t0 + chrono::Duration::seconds(30)).await.unwrap();
        assert_eq!(still_cached.as_deref(), Some(&settings), "the flood pushed the real shop out");
    }
}
