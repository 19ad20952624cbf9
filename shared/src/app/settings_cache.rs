//! What a cold start keeps per shop for a short time: its settings (so a webhook costs no
//! settings read) and its secrets (so a webhook costs no secret-store read).

use crate::domain::ids::ShopId;
use crate::domain::settings::{ShopSecrets, ShopSettings};
use crate::ports::store::{SettingsStore, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Entry<T> = (DateTime<Utc>, Option<Arc<T>>);

/// Most shops one cold start keeps settings for. A function serves a handful of shops; URLs with
/// made-up shop names (a scanner, a flood) must not grow its memory without bound.
pub const MAX_CACHED_SHOPS: usize = 256;
/// How long an unknown shop is remembered: a flood of requests for one costs a read per this
/// long, and a shop added meanwhile is found soon after.
const UNKNOWN_SHOP_TTL_SECS: i64 = 10;

/// Per-shop values loaded within their TTL, at most [`MAX_CACHED_SHOPS`] of them.
pub struct ShopCache<T> {
    ttl: chrono::Duration,
    entries: Mutex<HashMap<ShopId, Entry<T>>>,
}

/// The shops' settings, from the table.
pub type SettingsCache = ShopCache<ShopSettings>;
/// The shops' secrets, from the secret store.
pub type SecretsCache = ShopCache<ShopSecrets>;

impl<T> ShopCache<T> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60)),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn ttl_of(&self, value: &Option<Arc<T>>) -> chrono::Duration {
        match value {
            Some(_) => self.ttl,
            None => self.ttl.min(chrono::Duration::seconds(UNKNOWN_SHOP_TTL_SECS)),
        }
    }

    /// The shop's value loaded within its TTL, else `load`ed now; unknown shops are cached briefly.
    pub async fn get_or_load<E, F>(&self, shop: &ShopId, now: DateTime<Utc>, load: F) -> Result<Option<Arc<T>>, E>
    where
        F: Future<Output = Result<Option<T>, E>>,
    {
        if let Some((loaded_at, value)) = self.entries.lock().expect("cache lock").get(shop)
            && now - *loaded_at < self.ttl_of(value)
        {
            return Ok(value.clone());
        }
        let value = load.await?.map(Arc::new);
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= MAX_CACHED_SHOPS && !entries.contains_key(shop) {
            // Expired entries go first, then the oldest unknown shop (a flood of made-up names
            // must not push out the real shops), then the oldest load.
            entries.retain(|_, (loaded_at, value)| now - *loaded_at < self.ttl_of(value));
            if entries.len() >= MAX_CACHED_SHOPS
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, (loaded_at, value))| (value.is_some(), *loaded_at))
                    .map(|(shop, _)| shop.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(shop.clone(), (now, value.clone()));
        Ok(value)
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
    /// The shop's settings, from the cache within their TTL.
    pub async fn get<S: SettingsStore>(
        &self,
        store: &S,
        shop: &ShopId,
        now: DateTime<Utc>,
    ) -> Result<Option<Arc<ShopSettings>>, StoreError> {
        self.get_or_load(shop, now, store.get_settings(shop)).await
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
