//! Lambda wiring only: configuration, SDK clients (built once per cold start), the runtime.

use order_placed::OrderPlaced;
use ppx_shared::adapters::aws;
use ppx_shared::adapters::dynamo::DynamoStore;
use ppx_shared::adapters::ssm::SsmSecrets;
use ppx_shared::adapters::{ses::SesEmail, sns::SnsSms};
use ppx_shared::app::config::AppConfig;
use ppx_shared::app::context::{Adapters, App, PortsOf};
use ppx_shared::http::{lambda, telemetry};
use ppx_shared::ports::clock::SystemClock;
use ppx_shared::ports::messaging::NoEvents;
use ppx_shared::{aws_sdk_dynamodb, aws_sdk_sesv2, aws_sdk_sns};

/// Orders, fulfillments and their messages: no shop events.
type Aws = PortsOf<DynamoStore, SsmSecrets, SesEmail, SnsSms, NoEvents, SystemClock>;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json_logs();
    let config = AppConfig::from_env()?;
    let sdk = aws::sdk_config().await?;
    let adapters = Adapters::<Aws> {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone()),
        secrets: SsmSecrets::lazy(&sdk, config.table.clone()),
        email: SesEmail::new(aws_sdk_sesv2::Client::new(&sdk))
            .with_configuration_set(config.ses_configuration_set.clone()),
        sms: SnsSms::new(aws_sdk_sns::Client::new(&sdk)),
        events: NoEvents,
        clock: SystemClock,
    };
    let app = OrderPlaced::new(App::new(adapters, &config));
    let app = &app;
    lambda::run_http(|request, request_id| async move { app.handle(request, &request_id).await }).await
}
