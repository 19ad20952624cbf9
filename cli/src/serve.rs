//! `ppx serve`: every HTTP function of the bundle behind one local server, under the same
//! routes as the deployed HTTP API, calling the same handler code.

use axum::Extension;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, any, on};
use carrier_webhook::CarrierWebhook;
use order_placed::OrderPlaced;
use pages::Pages;
use ppx_shared::adapters::aws::SharedInterceptor;
use ppx_shared::adapters::dynamo::DynamoStore;
use ppx_shared::adapters::ses::SesEmail;
use ppx_shared::adapters::sns::{SnsEvents, SnsSms};
use ppx_shared::adapters::ssm::SsmSecrets;
use ppx_shared::app::config::AppConfig;
use ppx_shared::app::context::{Adapters, App, PortsOf};
use ppx_shared::aws_sdk_dynamodb;
use ppx_shared::aws_sdk_sesv2;
use ppx_shared::aws_sdk_sns;
use ppx_shared::aws_sdk_ssm;
use ppx_shared::http::edge::{EdgeError, MAX_BODY_BYTES};
use ppx_shared::http::routes::{Function, Method, ROUTES, Route};
use ppx_shared::ports::clock::AnyClock;
use return_submitted::ReturnSubmitted;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The ports of every function served locally: the AWS (or local) endpoints, and a clock that
/// may be frozen (`ppx serve --now`).
pub type Local = PortsOf<DynamoStore, SsmSecrets, SesEmail, SnsSms, SnsEvents, AnyClock>;

/// The functions served locally, each wired to the AWS (or local) endpoints.
pub struct Functions {
    pub order_placed: OrderPlaced<Local>,
    pub carrier_webhook: CarrierWebhook<Local>,
    pub pages: Pages<Local>,
    pub return_submitted: ReturnSubmitted<Local>,
}

impl Functions {
    pub fn new(sdk: &ppx_shared::adapters::aws::SdkConfig, config: &AppConfig, clock: AnyClock) -> Self {
        Self::with_interceptors(sdk, config, clock, |_| Vec::new())
    }

    /// The same, each function with its own SDK clients carrying `interceptors(its binary's
    /// name)`: request counting in tests and benchmarks, injected faults in the chaos tests, the
    /// template's IAM statements in the end-to-end tests.
    pub fn with_interceptors(
        sdk: &ppx_shared::adapters::aws::SdkConfig,
        config: &AppConfig,
        clock: AnyClock,
        interceptors: impl Fn(&'static str) -> Vec<SharedInterceptor>,
    ) -> Self {
        let app = |function| App::new(adapters(sdk, config, clock.clone(), &interceptors(function)), config);
        Self {
            order_placed: OrderPlaced::new(app("order-placed")),
            carrier_webhook: CarrierWebhook::new(app("carrier-webhook")),
            pages: Pages::new(app("pages")),
            return_submitted: ReturnSubmitted::new(app("return-submitted")),
        }
    }
}

/// One function's adapters over its own SDK clients.
fn adapters(
    sdk: &ppx_shared::adapters::aws::SdkConfig,
    config: &AppConfig,
    clock: AnyClock,
    interceptors: &[SharedInterceptor],
) -> Adapters<Local> {
    let mut dynamo = aws_sdk_dynamodb::config::Builder::from(sdk);
    let mut ses = aws_sdk_sesv2::config::Builder::from(sdk);
    let mut sns = aws_sdk_sns::config::Builder::from(sdk);
    let mut ssm = aws_sdk_ssm::config::Builder::from(sdk);
    for interceptor in interceptors {
        dynamo.push_interceptor(interceptor.clone());
        ssm.push_interceptor(interceptor.clone());
        ses.push_interceptor(interceptor.clone());
        sns.push_interceptor(interceptor.clone());
    }
    let sns = aws_sdk_sns::Client::from_conf(sns.build());
    Adapters {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(dynamo.build()), config.table.clone()),
        secrets: SsmSecrets::new(aws_sdk_ssm::Client::from_conf(ssm.build()), config.table.clone()),
        email: SesEmail::new(aws_sdk_sesv2::Client::from_conf(ses.build()))
            .with_configuration_set(config.ses_configuration_set.clone()),
        sms: SnsSms::new(sns.clone()),
        events: SnsEvents::new(sns, config.home.clone()),
        clock,
    }
}

/// The routes of `ppx serve`: those of the deployed HTTP API, from the one table. A path served
/// by one function reaches it under any method (it answers a wrong one itself, as on Lambda);
/// a path shared by two (`/returns/{..}`: GET the portal page, POST the return) is split by
/// method.
pub fn router(functions: Arc<Functions>) -> Router {
    // Grouped by prefix: the router matches any parameter name, and the table names the shared
    // path's parameter differently per method (`{shop}` for the API, `{token}` for the page).
    let mut paths: BTreeMap<&str, Vec<&Route>> = BTreeMap::new();
    for route in &ROUTES {
        paths.entry(route.prefix).or_default().push(route);
    }
    let mut router = Router::new();
    for routes in paths.into_values() {
        let path = routes[0].path();
        let function = routes[0].function;
        let methods = if routes.iter().all(|r| r.function == function) {
            any(dispatch).layer(Extension(function))
        } else {
            routes.iter().fold(MethodRouter::new(), |methods, route| {
                let filter = match route.method {
                    Method::Get => MethodFilter::GET,
                    Method::Post => MethodFilter::POST,
                };
                methods.merge(on(filter, dispatch).layer(Extension(route.function)))
            })
        };
        router = router.route(&path, methods);
    }
    router.fallback(|| async { into_axum(EdgeError::NoRoute.into_response()) }).with_state(functions)
}

fn into_axum(response: http::Response<String>) -> Response {
    response.map(Body::from).into_response()
}

/// The request as a Lambda function sees it (`http` types with the whole body, a request id),
/// handed to the route's function.
async fn dispatch(
    State(functions): State<Arc<Functions>>,
    Extension(function): Extension<Function>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    // One byte over the limit is enough to know the body is too large.
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES + 1).await else {
        return into_axum(EdgeError::PayloadTooLarge.into_response());
    };
    let request = http::Request::from_parts(parts, body);
    let id = uuid::Uuid::new_v4().to_string();
    into_axum(match function {
        Function::OrderPlaced => functions.order_placed.handle(request, &id).await,
        Function::CarrierWebhook => functions.carrier_webhook.handle(request, &id).await,
        Function::ReturnSubmitted => functions.return_submitted.handle(request, &id).await,
        Function::Pages => functions.pages.handle(request, &id).await,
    })
}

pub async fn run(addr: std::net::SocketAddr, functions: Functions) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "ppx serve listening");
    axum::serve(listener, router(Arc::new(functions)))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
