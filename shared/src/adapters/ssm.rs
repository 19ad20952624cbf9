//! The secrets in SSM Parameter Store: one SecureString parameter per shop,
//! `/ppx/<table>/shops/<shop>/secrets`, and one for the link keys, `/ppx/<table>/link-keys`,
//! encrypted with the account's `aws/ssm` key.
//!
//! SSM rather than Secrets Manager (argued in `infra/README.md`): a standard parameter costs
//! nothing to keep and its reads cost nothing at standard throughput, where a secret is $0.40 a
//! month each; webhook secrets are set by the platforms, so Secrets Manager's rotation has
//! nothing to rotate; and a path per table grants the verifying functions exactly their stack's
//! shops with one IAM resource.

use crate::adapters::aws::SdkConfig;
use crate::domain::ids::ShopId;
use crate::domain::link_keys::LinkKeySet;
use crate::domain::settings::ShopSecrets;
use crate::ports::secrets::{SecretStore, SecretsError};
use aws_sdk_ssm::Client;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::operation::delete_parameter::DeleteParameterError;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use aws_sdk_ssm::types::{ParameterTier, ParameterType};
use std::sync::OnceLock;

/// The parameter holding one shop's secrets, under `/ppx/<table>/shops/`: the template grants
/// the verifying functions `parameter/ppx/<table>/shops/*` and nothing else.
pub fn parameter_name(table: &str, shop: &ShopId) -> String {
    format!("/ppx/{table}/shops/{}/secrets", shop.as_str())
}

/// The parameter holding the link keys: the template grants the functions that build or open
/// customer links `parameter/ppx/<table>/link-keys`.
pub fn link_keys_parameter_name(table: &str) -> String {
    format!("/ppx/{table}/link-keys")
}

/// The secrets of a table's shops and its link keys. Its SDK client is built at the first read, not at start-up:
/// a cold start reads secrets once per shop and five minutes at most, and building a client is
/// a fifth of a function's init.
#[derive(Debug)]
pub struct SsmSecrets {
    client: OnceLock<Client>,
    sdk: Option<SdkConfig>,
    table: String,
}

impl SsmSecrets {
    /// Over `client`, built already.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client: OnceLock::from(client), sdk: None, table: table.into() }
    }

    /// Over a client built from `sdk` when first needed.
    pub fn lazy(sdk: &SdkConfig, table: impl Into<String>) -> Self {
        Self { client: OnceLock::new(), sdk: Some(sdk.clone()), table: table.into() }
    }

    fn client(&self) -> &Client {
        self.client.get_or_init(|| Client::new(self.sdk.as_ref().expect("a lazy client has its configuration")))
    }
}

/// Access and key problems are the deployment's (a missing grant, a disabled key): retrying the
/// request cannot help. The rest (throttling, 5xx, timeouts) may pass.
fn classify<E, R>(err: SdkError<E, R>) -> SecretsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let refused = err.as_service_error().and_then(ProvideErrorMetadata::code).is_some_and(|code| {
        code.starts_with("AccessDenied") || code.starts_with("InvalidKeyId") || code.contains("KMS")
    });
    let detail = DisplayErrorContext(&err).to_string();
    if refused { SecretsError::Refused(detail) } else { SecretsError::Unavailable(detail) }
}

impl SsmSecrets {
    /// The decrypted value of parameter `name`, decoded by `decode`; `None` when there is none.
    async fn read<T, E>(
        &self,
        name: String,
        decode: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, SecretsError> {
        let result = self.client().get_parameter().name(&name).with_decryption(true).send().await;
        let value = match result {
            Ok(out) => out.parameter.and_then(|parameter| parameter.value).unwrap_or_default(),
            Err(err) if matches!(err.as_service_error(), Some(GetParameterError::ParameterNotFound(_))) => {
                return Ok(None);
            }
            Err(err) => return Err(classify(err)),
        };
        // The value is never quoted back: a decoding error could echo it.
        decode(&value).map(Some).map_err(|_| SecretsError::Corrupt { name })
    }

    /// Writes parameter `name` whole, as a new version of a standard SecureString.
    async fn write(&self, name: String, description: String, value: String) -> Result<(), SecretsError> {
        self.client()
            .put_parameter()
            .name(name)
            .description(description)
            .value(value)
            .r#type(ParameterType::SecureString)
            .tier(ParameterTier::Standard)
            .overwrite(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

impl SecretStore for SsmSecrets {
    async fn shop_secrets(&self, shop: &ShopId) -> Result<Option<ShopSecrets>, SecretsError> {
        self.read(parameter_name(&self.table, shop), |value| serde_json::from_str(value)).await
    }

    async fn put_shop_secrets(&self, shop: &ShopId, secrets: &ShopSecrets) -> Result<(), SecretsError> {
        let description = format!("ppx: webhook secrets of the shop {}", shop.as_str());
        self.write(parameter_name(&self.table, shop), description, secrets.to_json()).await
    }

    async fn link_keys(&self) -> Result<Option<LinkKeySet>, SecretsError> {
        self.read(link_keys_parameter_name(&self.table), LinkKeySet::from_json).await
    }

    async fn put_link_keys(&self, keys: &LinkKeySet) -> Result<(), SecretsError> {
        let description = "ppx: the keys of the customer links (ppx keys rotate|retire)".to_owned();
        self.write(link_keys_parameter_name(&self.table), description, keys.to_json()).await
    }

    async fn delete_shop_secrets(&self, shop: &ShopId) -> Result<bool, SecretsError> {
        match self.client().delete_parameter().name(parameter_name(&self.table, shop)).send().await {
            Ok(_) => Ok(true),
            Err(err) if matches!(err.as_service_error(), Some(DeleteParameterError::ParameterNotFound(_))) => Ok(false),
            Err(err) => Err(classify(err)),
        }
    }
}
