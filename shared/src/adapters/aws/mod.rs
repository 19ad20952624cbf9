//! Loading the AWS SDK configuration once per cold start. Honours the standard environment
//! (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL` for a local endpoint such as moto,
//! `AWS_CA_BUNDLE`, `HTTPS_PROXY`).

mod http_client;

pub use http_client::{AWS_ROOTS_PEM, CaBundleError, http_client, http_client_trusting, read_ca_bundle};

/// The standard configuration, with [`http_client`] for every SDK client built from it and for
/// the credentials chain. Fails only when `AWS_CA_BUNDLE` names a bundle it cannot use.
///
/// Lambda gives a function its role's credentials in `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, where the default chain looks first; when
/// they are there, naming the environment provider skips building the rest of the chain (its
/// web-identity provider builds an STS client) for the same credentials. Without them (`ppx` on
/// a workstation: profiles, SSO, instance roles) the default chain.
pub async fn sdk_config() -> Result<aws_config::SdkConfig, CaBundleError> {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http_client()?);
    let loader = if credentials_in_env() {
        loader.credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new())
    } else {
        loader
    };
    Ok(loader.load().await)
}

fn credentials_in_env() -> bool {
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

pub use aws_config::SdkConfig;
pub use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Counts every request an SDK client sends (each attempt, so retries count), by service and
/// operation. Attached to the clients in tests and benchmarks; what cost and bounds are made of.
#[derive(Clone, Debug, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<(String, String), u32>>>,
}

impl RequestCounter {
    /// `(service, operation) -> requests` since the last call, and starts counting afresh.
    pub fn take(&self) -> BTreeMap<(String, String), u32> {
        std::mem::take(&mut *self.counts.lock().expect("counter lock"))
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            let key = (metadata.service().to_owned(), metadata.name().to_owned());
            *self.counts.lock().expect("counter lock").entry(key).or_default() += 1;
        }
        Ok(())
    }
}
