//! Link keys with key ids, so that keys can be rotated without breaking the links already sent.
//!
//! A token sealed by a key of the set carries its id in front (`k2.<sealed>`, the id bound to
//! the ciphertext as associated data, so it cannot be swapped); one key signs, the others still
//! open the links they sealed until an operator retires them (`ppx keys rotate|retire`). A
//! deployment that still sets `PPX_LINK_SECRET` keeps opening the id-less tokens that key sealed,
//! and signs with it until a key set exists.

use crate::domain::link::{LinkClaims, LinkError, LinkKey, LinkPurpose};
use crate::domain::settings::Secret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{KeyInit, OsRng};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Keys a set may hold at once: a signing key and the ones whose links are still out there.
pub const MAX_LINK_KEYS: usize = 8;
const MAX_KEY_ID_LEN: usize = 16;
/// A key's secret is 32 random bytes, base64: at least this long when read back.
const MIN_KEY_SECRET_LEN: usize = 32;

/// A link key's name, carried in the tokens it seals: `k1`, `k2`... (lowercase letters, digits
/// and `-`, never `.`, which ends it in a token).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(raw: &str) -> Option<Self> {
        let valid = (1..=MAX_KEY_ID_LEN).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for KeyId {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw).ok_or_else(|| format!("{raw:?} is not a key id"))
    }
}

impl From<KeyId> for String {
    fn from(id: KeyId) -> String {
        id.0
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One key as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLinkKey {
    pub id: KeyId,
    pub secret: Secret,
    pub created_at: DateTime<Utc>,
}

/// What `ppx keys list` shows of a key: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkKeyInfo {
    pub id: KeyId,
    pub created_at: DateTime<Utc>,
    pub signing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkKeySetError {
    #[error("key {0} signs the links sent now: rotate first, then retire it")]
    RetiringTheSigningKey(KeyId),
    #[error("there is no key {0}")]
    NoSuchKey(KeyId),
    #[error("{MAX_LINK_KEYS} keys are active: retire one before making another")]
    Full,
    #[error("the stored link keys are inconsistent: {0}")]
    Inconsistent(&'static str),
}

/// The deployment's link keys as stored (in the secret store, never in the table): the keys
/// that open links, the one that signs, and how many were ever made (ids are never reused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkKeySet {
    signing: KeyId,
    keys: Vec<StoredLinkKey>,
    issued: u32,
}

impl LinkKeySet {
    /// 32 random bytes, base64: the secret of a new key.
    pub fn fresh_secret() -> Secret {
        Secret::new(STANDARD.encode(XChaCha20Poly1305::generate_key(&mut OsRng)))
    }

    /// The first set: one key, signing.
    pub fn first(secret: Secret, now: DateTime<Utc>) -> Self {
        let id = KeyId("k1".to_owned());
        Self { signing: id.clone(), keys: vec![StoredLinkKey { id, secret, created_at: now }], issued: 1 }
    }

    /// Adds a key that signs from now on; the others still open their links.
    pub fn rotate(&mut self, secret: Secret, now: DateTime<Utc>) -> Result<KeyId, LinkKeySetError> {
        if self.keys.len() >= MAX_LINK_KEYS {
            return Err(LinkKeySetError::Full);
        }
        self.issued += 1;
        let id = KeyId(format!("k{}", self.issued));
        self.keys.push(StoredLinkKey { id: id.clone(), secret, created_at: now });
        self.signing = id.clone();
        Ok(id)
    }

    /// Forgets a key: the links it sealed stop opening. The signing key cannot be retired.
    pub fn retire(&mut self, id: &KeyId) -> Result<(), LinkKeySetError> {
        if *id == self.signing {
            return Err(LinkKeySetError::RetiringTheSigningKey(id.clone()));
        }
        let before = self.keys.len();
        self.keys.retain(|key| key.id != *id);
        if self.keys.len() == before {
            return Err(LinkKeySetError::NoSuchKey(id.clone()));
        }
        Ok(())
    }

    pub fn signing(&self) -> &KeyId {
        &self.signing
    }

    pub fn list(&self) -> Vec<LinkKeyInfo> {
        self.keys
            .iter()
            .map(|key| LinkKeyInfo { id: key.id.clone(), created_at: key.created_at, signing: key.id == self.signing })
            .collect()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("link keys serialize")
    }

    /// Reads a stored set back, checking what a hand edit could break. Errors never quote it.
    pub fn from_json(raw: &str) -> Result<Self, LinkKeySetError> {
        let set: Self = serde_json::from_str(raw).map_err(|_| LinkKeySetError::Inconsistent("not a key set"))?;
        if set.keys.is_empty() || set.keys.len() > MAX_LINK_KEYS {
            return Err(LinkKeySetError::Inconsistent("no keys, or too many"));
        }
        if !set.keys.iter().any(|key| key.id == set.signing) {
            return Err(LinkKeySetError::Inconsistent("the signing key is not among the keys"));
        }
        let mut ids: Vec<&KeyId> = set.keys.iter().map(|key| &key.id).collect();
        ids.sort();
        ids.dedup();
        if ids.len() != set.keys.len() {
            return Err(LinkKeySetError::Inconsistent("two keys share an id"));
        }
        if set.keys.iter().any(|key| key.secret.expose().len() < MIN_KEY_SECRET_LEN) {
            return Err(LinkKeySetError::Inconsistent("a key's secret is too short"));
        }
        Ok(set)
    }
}

/// The keys one cold start seals and opens links with.
#[derive(Debug, Clone)]
pub struct LinkKeyring {
    /// `None`: no key set yet, the `PPX_LINK_SECRET` key signs (tokens without a key id).
    signing: Option<KeyId>,
    keys: Vec<(KeyId, LinkKey)>,
    /// From `PPX_LINK_SECRET`: opens the tokens without a key id.
    legacy: Option<LinkKey>,
}

impl LinkKeyring {
    /// Only the key from `PPX_LINK_SECRET` (tokens without a key id).
    pub fn legacy(key: LinkKey) -> Self {
        Self { signing: None, keys: Vec::new(), legacy: Some(key) }
    }

    /// The set's keys, beside the `PPX_LINK_SECRET` key when there is one; `None` when there is
    /// no key to sign with at all.
    pub fn new(set: Option<&LinkKeySet>, legacy: Option<LinkKey>) -> Option<Self> {
        match set {
            Some(set) => Some(Self {
                signing: Some(set.signing.clone()),
                keys: set.keys.iter().map(|key| (key.id.clone(), LinkKey::from_secret(key.secret.expose()))).collect(),
                legacy,
            }),
            None => legacy.map(Self::legacy),
        }
    }

    fn key(&self, id: &str) -> Option<&LinkKey> {
        self.keys.iter().find(|(key_id, _)| key_id.as_str() == id).map(|(_, key)| key)
    }

    pub fn seal(&self, claims: &LinkClaims) -> String {
        match &self.signing {
            Some(id) => {
                let key = self.key(id.as_str()).expect("the signing key is in the ring");
                format!("{id}.{}", key.seal_bound(claims, id.as_str().as_bytes()))
            }
            None => self.legacy.as_ref().expect("a ring without a key set has the legacy key").seal(claims),
        }
    }

    pub fn open(&self, token: &str, purpose: LinkPurpose, now: DateTime<Utc>) -> Result<LinkClaims, LinkError> {
        match token.split_once('.') {
            Some((id, sealed)) => {
                let key = self.key(id).ok_or(LinkError::UnknownKey)?;
                key.open_bound(sealed, id.as_bytes(), purpose, now)
            }
            None => self.legacy.as_ref().ok_or(LinkError::Invalid)?.open(token, purpose, now),
        }
    }

    /// Whether the token names a key this ring lacks (one made since the ring was loaded): the
    /// caller reloads the keys before calling it invalid.
    pub fn lacks_key_of(&self, token: &str) -> bool {
        token.split_once('.').is_some_and(|(id, _)| KeyId::parse(id).is_some() && self.key(id).is_none())
    }

    /// A full customer URL under the deployment's public base URL.
    pub fn url(&self, base_url: &str, claims: &LinkClaims) -> String {
        format!("{}/{}/{}", base_url.trim_end_matches('/'), claims.purpose.path(), self.seal(claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{OrderId, ShopId};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap()
    }

    fn claims() -> LinkClaims {
        LinkClaims {
            shop: ShopId::parse("demo-shop").unwrap(),
            order: OrderId::parse("1001").unwrap(),
            purpose: LinkPurpose::Track,
            expires_at: now().timestamp() + 3600,
        }
    }

    fn ring(set: &LinkKeySet) -> LinkKeyring {
        LinkKeyring::new(Some(set), None).unwrap()
    }

    #[test]
    fn a_rotated_set_signs_with_the_new_key_and_still_opens_the_old_links_until_retired() {
        let mut set = LinkKeySet::first(LinkKeySet::fresh_secret(), now());
        let old = ring(&set).seal(&claims());
        assert!(old.starts_with("k1."), "{old}");

        let id = set.rotate(LinkKeySet::fresh_secret(), now()).unwrap();
        assert_eq!(id.as_str(), "k2");
        let rotated = ring(&set);
        let new = rotated.seal(&claims());
        assert!(new.starts_with("k2."), "{new}");
        assert_eq!(rotated.open(&old, LinkPurpose::Track, now()), Ok(claims()));
        assert_eq!(rotated.open(&new, LinkPurpose::Track, now()), Ok(claims()));

        assert_eq!(set.retire(&id), Err(LinkKeySetError::RetiringTheSigningKey(id.clone())));
        set.retire(&KeyId::parse("k1").unwrap()).unwrap();
        let retired = ring(&set);
        assert_eq!(retired.open(&old, LinkPurpose::Track, now()), Err(LinkError::UnknownKey));
        assert_eq!(retired.open(&new, LinkPurpose::Track, now()), Ok(claims()));
        assert_eq!(
            set.retire(&KeyId::parse("k1").unwrap()),
            Err(LinkKeySetError::NoSuchKey(KeyId::parse("k1").unwrap()))
        );
        // Ids are never reused, even after a retirement.
        assert_eq!(set.rotate(LinkKeySet::fresh_secret(), now()).unwrap().as_str(), "k3");
    }

    #[test]
    fn the_key_id_is_bound_to_the_token() {
        let mut set = LinkKeySet::first(LinkKeySet::fresh_secret(), now());
        // Two keys with the same secret: only the id differs, and moving a token to the other
        // id must not open it.
        let secret = set.keys[0].secret.clone();
        set.rotate(secret, now()).unwrap();
        let ring = ring(&set);
        let token = ring.seal(&claims());
        let (_, sealed) = token.split_once('.').unwrap();
        assert_eq!(ring.open(&format!("k1.{sealed}"), LinkPurpose::Track, now()), Err(LinkError::Invalid));
        assert_eq!(ring.open(sealed, LinkPurpose::Track, now()), Err(LinkError::Invalid), "no legacy key");
        assert_eq!(ring.open(&token, LinkPurpose::Return, now()), Err(LinkError::WrongPurpose));
    }

    #[test]
    fn the_link_secret_keeps_opening_its_links_beside_a_key_set() {
        let legacy = LinkKey::from_secret("0123456789abcdef0123456789abcdef");
        let before = LinkKeyring::legacy(legacy.clone());
        let old = before.seal(&claims());
        assert!(!old.contains('.'), "no key id: {old}");

        let set = LinkKeySet::first(LinkKeySet::fresh_secret(), now());
        let both = LinkKeyring::new(Some(&set), Some(legacy)).unwrap();
        assert_eq!(both.open(&old, LinkPurpose::Track, now()), Ok(claims()));
        assert!(both.seal(&claims()).starts_with("k1."), "the set signs once there is one");
        assert_eq!(ring(&set).open(&old, LinkPurpose::Track, now()), Err(LinkError::Invalid), "secret removed");
        assert!(LinkKeyring::new(None, None).is_none(), "nothing to sign with");
    }

    #[test]
    fn a_token_of_a_key_made_since_the_ring_was_loaded_asks_for_a_reload() {
        let mut set = LinkKeySet::first(LinkKeySet::fresh_secret(), now());
        let loaded = ring(&set);
        set.rotate(LinkKeySet::fresh_secret(), now()).unwrap();
        let token = ring(&set).seal(&claims());
        assert!(loaded.lacks_key_of(&token));
        assert!(!loaded.lacks_key_of(&loaded.seal(&claims())));
        assert!(!loaded.lacks_key_of("no-key-id-here"));
        assert!(!loaded.lacks_key_of("K9!.xyz"), "not a key id: nothing to reload for");
    }

    #[test]
    fn a_set_is_bounded_and_checked_when_read_back() {
        let mut set = LinkKeySet::first(LinkKeySet::fresh_secret(), now());
        for _ in 1..MAX_LINK_KEYS {
            set.rotate(LinkKeySet::fresh_secret(), now()).unwrap();
        }
        assert_eq!(set.rotate(LinkKeySet::fresh_secret(), now()), Err(LinkKeySetError::Full));
        assert_eq!(LinkKeySet::from_json(&set.to_json()), Ok(set.clone()));
        assert_eq!(set.list().iter().filter(|key| key.signing).count(), 1);
        assert!(!serde_json::to_string(&set.list()).unwrap().contains(set.keys[0].secret.expose()));

        let mut bad = set.clone();
        bad.signing = KeyId::parse("k99").unwrap();
        assert!(matches!(LinkKeySet::from_json(&bad.to_json()), Err(LinkKeySetError::Inconsistent(_))));
        let mut bad = set.clone();
        bad.keys[1].id = bad.keys[0].id.clone();
        assert!(matches!(LinkKeySet::from_json(&bad.to_json()), Err(LinkKeySetError::Inconsistent(_))));
        let mut bad = set.clone();
        bad.keys[0].secret = Secret::new("short");
        assert!(matches!(LinkKeySet::from_json(&bad.to_json()), Err(LinkKeySetError::Inconsistent(_))));
        assert!(LinkKeySet::from_json(r#"{"signing":"K.1","keys":[],"issued":1}"#).is_err());
        let secret = LinkKeySet::fresh_secret();
        assert!(secret.expose().len() >= MIN_KEY_SECRET_LEN);
        assert_ne!(secret, LinkKeySet::fresh_secret());
    }
}
