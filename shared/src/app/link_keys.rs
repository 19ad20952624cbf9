//! The customer links one cold start builds and opens: the link keys from the secret store
//! (beside the `PPX_LINK_SECRET` key, when set), kept for `PPX_SECRETS_TTL_SECS`. A link sealed
//! by a key made since they were loaded (`ppx keys rotate` elsewhere) reloads them first, at
//! most every [`RELOAD_FOR_UNKNOWN_KEY_SECS`]: a rotation never breaks a link, and links naming
//! made-up keys cost one read per that long.

use crate::app::config::AppConfig;
use crate::domain::link::{CustomerLinks, LinkKey, LinkKeyring};
use crate::ports::secrets::{SecretStore, SecretsError};
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

pub const RELOAD_FOR_UNKNOWN_KEY_SECS: i64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum LinksUnavailable {
    #[error("the link keys could not be read: {0}")]
    Secrets(#[from] SecretsError),
    #[error("there is no link key: run `ppx keys rotate` (or set PPX_LINK_SECRET)")]
    NoKey,
}

type Loaded = (DateTime<Utc>, Option<Arc<CustomerLinks>>);

pub struct LinkKeysCache {
    ttl: chrono::Duration,
    public_url: String,
    legacy: Option<LinkKey>,
    loaded: Mutex<Option<Loaded>>,
}

impl LinkKeysCache {
    pub fn new(config: &AppConfig) -> Self {
        Self {
            ttl: chrono::Duration::from_std(config.secrets_ttl).unwrap_or(chrono::Duration::seconds(300)),
            public_url: config.public_url.clone(),
            legacy: config.link_secret.as_ref().map(|secret| LinkKey::from_secret(secret.expose())),
            loaded: Mutex::new(None),
        }
    }

    fn cached(&self) -> Option<Loaded> {
        self.loaded.lock().expect("link keys lock").clone()
    }

    /// The links to build messages with: the keys loaded within their TTL, else read now.
    /// Having no key at all is re-asked as often as an unknown key.
    pub async fn current<K: SecretStore>(
        &self,
        secrets: &K,
        now: DateTime<Utc>,
    ) -> Result<Arc<CustomerLinks>, LinksUnavailable> {
        match self.cached() {
            Some((at, Some(links))) if now - at < self.ttl => Ok(links),
            Some((at, None)) if now - at < self.ttl.min(chrono::Duration::seconds(RELOAD_FOR_UNKNOWN_KEY_SECS)) => {
                Err(LinksUnavailable::NoKey)
            }
            _ => self.load(secrets, now).await,
        }
    }

    /// The links to open `token` with: reloaded first when it names a key they lack.
    pub async fn for_token<K: SecretStore>(
        &self,
        secrets: &K,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<CustomerLinks>, LinksUnavailable> {
        let links = self.current(secrets, now).await?;
        let loaded_at = self.cached().map_or(now, |(at, _)| at);
        if links.keys().lacks_key_of(token) && now - loaded_at >= chrono::Duration::seconds(RELOAD_FOR_UNKNOWN_KEY_SECS)
        {
            return self.load(secrets, now).await;
        }
        Ok(links)
    }

    async fn load<K: SecretStore>(
        &self,
        secrets: &K,
        now: DateTime<Utc>,
    ) -> Result<Arc<CustomerLinks>, LinksUnavailable> {
        let set = secrets.link_keys().await?;
        let links = LinkKeyring::new(set.as_ref(), self.legacy.clone())
            .map(|keys| Arc::new(CustomerLinks::new(keys, self.public_url.clone())));
        *self.loaded.lock().expect("link keys lock") = Some((now, links.clone()));
        links.ok_or(LinksUnavailable::NoKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::secrets::MemorySecrets;
    use crate::domain::ids::{OrderId, ShopId};
    use crate::domain::link::{LinkError, LinkPurpose};
    use crate::domain::link_keys::LinkKeySet;
    use crate::domain::settings::Secret;
    use chrono::TimeZone;

    fn config(link_secret: Option<&str>) -> AppConfig {
        let mut vars = vec![("PPX_TABLE", "ppx"), ("PPX_PUBLIC_URL", "https://t.example")];
        vars.extend(link_secret.map(|s| ("PPX_LINK_SECRET", s)));
        AppConfig::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())).unwrap()
    }

    fn token_of(url: &str) -> &str {
        url.rsplit('/').next().unwrap()
    }

    #[tokio::test]
    async fn a_link_of_a_key_rotated_in_elsewhere_opens_after_one_reload() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap();
        let (shop, order) = (ShopId::parse("s").unwrap(), OrderId::parse("1").unwrap());
        let secrets = MemorySecrets::new();
        let mut set = LinkKeySet::first(LinkKeySet::fresh_secret(), t0);
        secrets.put_link_keys(&set).await.unwrap();
        let pages = LinkKeysCache::new(&config(None));
        pages.current(&secrets, t0).await.unwrap();

        // Another function (or an operator) rotates: its links carry k2.
        set.rotate(LinkKeySet::fresh_secret(), t0).unwrap();
        secrets.put_link_keys(&set).await.unwrap();
        let sender = LinkKeysCache::new(&config(None));
        let url = sender.current(&secrets, t0).await.unwrap().for_order(&shop, &order, t0).tracking;
        let token = token_of(&url);
        assert!(token.starts_with("k2."), "{token}");

        // Within 10 s of its load, the pages function does not re-read for it...
        let stale = pages.for_token(&secrets, token, t0 + chrono::Duration::seconds(5)).await.unwrap();
        assert_eq!(stale.keys().open(token, LinkPurpose::Track, t0), Err(LinkError::UnknownKey));
        // ...after, it does, once, and the link opens.
        let later = t0 + chrono::Duration::seconds(11);
        let fresh = pages.for_token(&secrets, token, later).await.unwrap();
        assert_eq!(fresh.keys().open(token, LinkPurpose::Track, later).unwrap().order, order);
    }

    #[tokio::test]
    async fn without_a_key_set_the_link_secret_signs_and_without_either_nothing_does() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap();
        let secrets = MemorySecrets::new();
        let legacy = LinkKeysCache::new(&config(Some("0123456789abcdef0123456789abcdef")));
        let links = legacy.current(&secrets, t0).await.unwrap();
        let url = links.for_order(&ShopId::parse("s").unwrap(), &OrderId::parse("1").unwrap(), t0).tracking;
        assert!(!token_of(&url).contains('.'), "no key id: {url}");

        let none = LinkKeysCache::new(&config(None));
        assert!(matches!(none.current(&secrets, t0).await, Err(LinksUnavailable::NoKey)));
        // A key made now is found within seconds, not after the TTL.
        secrets.put_link_keys(&LinkKeySet::first(Secret::new("x".repeat(44)), t0)).await.unwrap();
        assert!(matches!(
            none.current(&secrets, t0 + chrono::Duration::seconds(5)).await,
            Err(LinksUnavailable::NoKey)
        ));
        assert!(none.current(&secrets, t0 + chrono::Duration::seconds(10)).await.is_ok());
    }
}
