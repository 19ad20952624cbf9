//! Fault injection for the chaos tests: an SDK interceptor on the served functions' clients that
//! makes a share of AWS request attempts fail the ways AWS calls fail, and a local endpoint that
//! answers with each service's own throttling and 5xx errors.
//!
//! Three kinds of fault, drawn per attempt:
//! - `Refused`: the connection fails; the request never reaches AWS (moto).
//! - `Rejected`: AWS answers throttling or 500 without doing anything (DynamoDB
//!   `ProvisionedThroughputExceededException`, SES `TooManyRequestsException`, SNS `Throttling`).
//! - `LostResponse`: AWS does the work, then the response is lost (a timeout after commit); the
//!   client sees a 500. Only this kind can make a send happen twice.
//!
//! The SDK's own retries (standard mode) apply, as in production.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    Refused,
    Rejected,
    LostResponse,
}

/// What was injected, by `(service, operation, kind)`.
pub type FaultCounts = BTreeMap<(String, String, FaultKind), u32>;

#[derive(Clone, Debug)]
pub struct FaultInjector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Out of 1,000 attempts.
    per_mille: u32,
    rng: Mutex<StdRng>,
    /// Where `Rejected` attempts go: [`serve_rejections`].
    rejecting_endpoint: String,
    enabled: Mutex<bool>,
    counts: Mutex<FaultCounts>,
    attempts: Mutex<u64>,
}

/// Marks the current attempt for a lost response (the request itself goes through).
#[derive(Debug, Clone, Copy)]
struct LoseThisResponse(bool);

impl Storable for LoseThisResponse {
    type Storer = StoreReplace<Self>;
}

/// Every port below 1024 on loopback is closed here: a refused connection.
const REFUSING_ENDPOINT: &str = "http://127.0.0.1:9";

impl FaultInjector {
    pub fn new(per_mille: u32, seed: u64, rejecting_endpoint: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                per_mille,
                rng: Mutex::new(StdRng::seed_from_u64(seed)),
                rejecting_endpoint,
                enabled: Mutex::new(true),
                counts: Mutex::default(),
                attempts: Mutex::default(),
            }),
        }
    }

    /// Faults stop (the test reads its results back through the same clients).
    pub fn disable(&self) {
        *self.inner.enabled.lock().unwrap() = false;
    }

    pub fn counts(&self) -> FaultCounts {
        self.inner.counts.lock().unwrap().clone()
    }

    pub fn attempts(&self) -> u64 {
        *self.inner.attempts.lock().unwrap()
    }

    fn draw(&self) -> Option<FaultKind> {
        *self.inner.attempts.lock().unwrap() += 1;
        if !*self.inner.enabled.lock().unwrap() {
            return None;
        }
        let mut rng = self.inner.rng.lock().unwrap();
        if rng.random_range(0..1000) >= self.inner.per_mille {
            return None;
        }
        Some(match rng.random_range(0..3) {
            0 => FaultKind::Refused,
            1 => FaultKind::Rejected,
            _ => FaultKind::LostResponse,
        })
    }

    fn count(&self, cfg: &ConfigBag, kind: FaultKind) {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
            .unwrap_or_else(|| ("?".into(), "?".into()));
        *self.inner.counts.lock().unwrap().entry((service, operation, kind)).or_default() += 1;
    }
}

fn redirect(context: &mut BeforeTransmitInterceptorContextMut<'_>, endpoint: &str) -> Result<(), BoxError> {
    let request = context.request_mut();
    let uri: http::Uri = request.uri().parse()?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    request.set_uri(format!("{endpoint}{path}"))?;
    Ok(())
}

impl Intercept for FaultInjector {
    fn name(&self) -> &'static str {
        "FaultInjector"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let fault = self.draw();
        cfg.interceptor_state().store_put(LoseThisResponse(fault == Some(FaultKind::LostResponse)));
        let Some(kind) = fault else { return Ok(()) };
        self.count(cfg, kind);
        match kind {
            FaultKind::Refused => redirect(context, REFUSING_ENDPOINT),
            FaultKind::Rejected => redirect(context, &self.inner.rejecting_endpoint),
            FaultKind::LostResponse => Ok(()),
        }
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<LoseThisResponse>().is_some_and(|lose| lose.0) {
            let response = context.response_mut();
            *response.status_mut() = 500u16.try_into()?;
            *response.body_mut() = SdkBody::from("");
        }
        Ok(())
    }
}

/// A local endpoint that answers every request with its service's throttling error (or a 500),
/// as AWS does when it refuses work. Returns its base URL.
pub async fn serve_rejections() -> String {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use std::sync::atomic::{AtomicU64, Ordering};

    let served = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new().fallback(move |headers: HeaderMap, uri: axum::http::Uri| {
        let served = served.clone();
        async move {
            // Alternate between throttling and an internal error.
            let throttle = served.fetch_add(1, Ordering::Relaxed).is_multiple_of(2);
            if headers.get("x-amz-target").is_some_and(|t| t.as_bytes().starts_with(b"DynamoDB_")) {
                let error = if throttle { "ProvisionedThroughputExceededException" } else { "InternalServerError" };
                let status = if throttle { StatusCode::BAD_REQUEST } else { StatusCode::INTERNAL_SERVER_ERROR };
                let body = format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{error}","message":"injected"}}"#);
                return (status, [("content-type", "application/x-amz-json-1.0")], body).into_response();
            }
            if uri.path().starts_with("/v2/email") {
                let (status, error) = if throttle {
                    (StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException")
                } else {
                    (StatusCode::INTERNAL_SERVER_ERROR, "InternalServiceErrorException")
                };
                let body = r#"{"message":"injected"}"#;
                return (status, [("content-type", "application/json"), ("x-amzn-errortype", error)], body)
                    .into_response();
            }
            // SNS speaks the query protocol.
            let (status, code) =
                if throttle { (StatusCode::BAD_REQUEST, "Throttling") } else { (StatusCode::INTERNAL_SERVER_ERROR, "InternalError") };
            let body = format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected</Message></Error><RequestId>f</RequestId></ErrorResponse>"
            );
            (status, [("content-type", "text/xml")], body).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
