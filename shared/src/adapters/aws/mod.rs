//! Loading the AWS SDK configuration once per cold start, from the environment Lambda gives a
//! function (`AWS_REGION`, the role's credentials), with `AWS_ENDPOINT_URL` for a local
//! endpoint such as moto, `AWS_CA_BUNDLE` and `HTTPS_PROXY`.

mod http_client;

use aws_credential_types::provider::SharedCredentialsProvider;

pub use http_client::{AWS_ROOTS_PEM, CaBundleError, http_client, http_client_trusting, read_ca_bundle};

/// A function's configuration, from what Lambda puts in its environment: the role's credentials
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), `AWS_REGION`, and
/// `AWS_ENDPOINT_URL` when a local endpoint such as moto stands in for AWS; [`http_client`] for
/// every SDK client built from it. Fails only when `AWS_CA_BUNDLE` names a bundle it cannot use.
///
/// Not `aws_config::defaults(..).load()`: its credentials chain (profiles, SSO, IMDS, ECS, web
/// identity with an STS client) and the profile files it reads for every setting are linked
/// into the binary whether used or not, about 470 KB of each function's 8 MB budget, for
/// credentials Lambda always hands over in the environment. What the SDK clients take from that
/// loader otherwise (retries, timeouts, the identity cache, the sleep and time sources) are
/// their own defaults when the config leaves them unset. `ppx` on a workstation, which needs
/// the chain, builds its configuration with the loader.
pub async fn sdk_config() -> Result<aws_config::SdkConfig, CaBundleError> {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let mut builder = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .http_client(http_client()?)
        .credentials_provider(SharedCredentialsProvider::new(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        ))
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .time_source(aws_smithy_async::time::SystemTimeSource::new());
    if let Some(region) = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")) {
        builder = builder.region(aws_config::Region::new(region));
    }
    if let Some(url) = env("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    Ok(builder.build())
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
