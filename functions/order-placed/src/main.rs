//! Lambda wiring only: configuration, SDK clients (built once per cold start), and the runtime.

use bytes::Bytes;
use lambda_http::{Body, Error, Request, RequestExt, service_fn};
use order_placed::OrderPlaced;
use ppx_shared::clock::SystemClock;
use ppx_shared::config::AppConfig;
use ppx_shared::messaging::{ses::SesEmail, sns::SnsSms};
use ppx_shared::store::dynamo::DynamoStore;
use ppx_shared::{aws, aws_sdk_dynamodb, aws_sdk_sesv2, aws_sdk_sns, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_json_logs();
    let config = AppConfig::from_env()?;
    let sdk = aws::sdk_config().await;
    let app = OrderPlaced::new(
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone()),
        SesEmail::new(aws_sdk_sesv2::Client::new(&sdk)),
        SnsSms::new(aws_sdk_sns::Client::new(&sdk)),
        SystemClock,
        &config,
    );
    let app = &app;
    lambda_http::run(service_fn(move |event: Request| async move {
        let request_id = event.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default();
        let (parts, body) = event.into_parts();
        let body = match body {
            Body::Empty => Bytes::new(),
            Body::Text(text) => Bytes::from(text),
            Body::Binary(bytes) => Bytes::from(bytes),
            _ => Bytes::new(),
        };
        let response = app.handle(http::Request::from_parts(parts, body), &request_id).await;
        Ok::<_, Error>(response.map(Body::from))
    }))
    .await
}
