//! The secrets kept apart from the table: the webhook secrets each shop's sources sign with, and
//! the deployment's link keys.
//! The deployed adapter is SSM Parameter Store (`adapters::ssm`), one SecureString per shop,
//! readable only by the functions that verify signatures; tests of pure rules use the memory
//! fake (`adapters::memory::secrets`).

use crate::domain::ids::ShopId;
use crate::domain::link_keys::LinkKeySet;
use crate::domain::settings::ShopSecrets;
use std::future::Future;

pub trait SecretStore: Send + Sync {
    /// The shop's secrets; `None` when it has none stored.
    fn shop_secrets(&self, shop: &ShopId) -> impl Future<Output = Result<Option<ShopSecrets>, SecretsError>> + Send;
    /// Stores the shop's secrets whole (a new version of its parameter).
    fn put_shop_secrets(
        &self,
        shop: &ShopId,
        secrets: &ShopSecrets,
    ) -> impl Future<Output = Result<(), SecretsError>> + Send;
    /// Forgets the shop's secrets; `false` when there were none.
    fn delete_shop_secrets(&self, shop: &ShopId) -> impl Future<Output = Result<bool, SecretsError>> + Send;
    /// The deployment's link keys; `None` before the first `ppx keys rotate`.
    fn link_keys(&self) -> impl Future<Output = Result<Option<LinkKeySet>, SecretsError>> + Send;
    /// Stores the link keys whole (`ppx keys rotate|retire`; the functions only read them).
    fn put_link_keys(&self, keys: &LinkKeySet) -> impl Future<Output = Result<(), SecretsError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Throttling, 5xx, timeouts: the caller answers 5xx and the sender retries.
    #[error("the secret store is unavailable: {0}")]
    Unavailable(String),
    /// Access denied, a key that cannot decrypt: the deployment's problem, not the request's.
    #[error("the secret store refused: {0}")]
    Refused(String),
    /// A stored value that does not decode: a manual edit; needs an operator.
    #[error("the secrets stored as {name} do not decode")]
    Corrupt { name: String },
}

/// For functions that verify no signature and build no customer link (mail feedback): they are
/// granted no secret, so they hold no client for them.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSecrets;

impl SecretStore for NoSecrets {
    async fn shop_secrets(&self, _: &ShopId) -> Result<Option<ShopSecrets>, SecretsError> {
        Err(SecretsError::Refused("this function reads no secrets".into()))
    }
    async fn put_shop_secrets(&self, _: &ShopId, _: &ShopSecrets) -> Result<(), SecretsError> {
        Err(SecretsError::Refused("this function writes no secrets".into()))
    }
    async fn delete_shop_secrets(&self, _: &ShopId) -> Result<bool, SecretsError> {
        Err(SecretsError::Refused("this function deletes no secrets".into()))
    }
    async fn link_keys(&self) -> Result<Option<LinkKeySet>, SecretsError> {
        Err(SecretsError::Refused("this function reads no link keys".into()))
    }
    async fn put_link_keys(&self, _: &LinkKeySet) -> Result<(), SecretsError> {
        Err(SecretsError::Refused("this function writes no link keys".into()))
    }
}
