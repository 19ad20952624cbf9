//! Lambda wiring only: configuration, the DynamoDB client (built once per cold start), the runtime.

use pages::Pages;
use ppx_shared::clock::SystemClock;
use ppx_shared::config::AppConfig;
use ppx_shared::store::dynamo::DynamoStore;
use ppx_shared::{aws, aws_sdk_dynamodb, lambda, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json_logs();
    let config = AppConfig::from_env()?;
    let sdk = aws::sdk_config().await?;
    let app =
        Pages::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone()), SystemClock, &config);
    let app = &app;
    lambda::run_http(|request, request_id| async move { app.handle(request, &request_id).await }).await
}
