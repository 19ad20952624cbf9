//! Lambda wiring only: configuration, the DynamoDB client (built once per cold start), the runtime.

use pages::Pages;
use ppx_shared::adapters::aws;
use ppx_shared::adapters::dynamo::DynamoStore;
use ppx_shared::adapters::ssm::SsmSecrets;
use ppx_shared::app::config::AppConfig;
use ppx_shared::app::context::{Adapters, App, PortsOf};
use ppx_shared::aws_sdk_dynamodb;
use ppx_shared::http::{lambda, telemetry};
use ppx_shared::ports::clock::SystemClock;
use ppx_shared::ports::messaging::{NoEmail, NoEvents, NoSms};

/// The pages read and answer: they link DynamoDB, and SSM for the link keys (no sender).
type Aws = PortsOf<DynamoStore, SsmSecrets, NoEmail, NoSms, NoEvents, SystemClock>;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json_logs();
    let config = AppConfig::from_env()?;
    let sdk = aws::sdk_config().await?;
    let adapters = Adapters::<Aws> {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone()),
        secrets: SsmSecrets::lazy(&sdk, config.table.clone()),
        email: NoEmail,
        sms: NoSms,
        events: NoEvents,
        clock: SystemClock,
    };
    let app = Pages::new(App::new(adapters, &config));
    let app = &app;
    lambda::run_http(|request, request_id| async move { app.handle(request, &request_id).await }).await
}
