//! Lambda wiring only: an EventBridge schedule invokes one run (review requests and the parcel
//! watch); SDK clients built once per cold start.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use ppx_shared::adapters::aws;
use ppx_shared::adapters::dynamo::DynamoStore;
use ppx_shared::adapters::ses::SesEmail;
use ppx_shared::adapters::sns::{SnsEvents, SnsSms};
use ppx_shared::adapters::ssm::SsmSecrets;
use ppx_shared::app::config::AppConfig;
use ppx_shared::app::context::{Adapters, App, PortsOf};
use ppx_shared::http::telemetry;
use ppx_shared::ports::clock::SystemClock;
use ppx_shared::{aws_sdk_dynamodb, aws_sdk_sesv2, aws_sdk_sns};
use review_request::{ReviewConfig, ReviewRequest};
use std::time::{Duration, Instant, SystemTime};

/// Stop taking new orders this long before the Lambda's deadline.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// Customers by email (review requests, stall notices) and SMS (texts held back by quiet
/// hours); the shops' topics by SNS.
type Aws = PortsOf<DynamoStore, SsmSecrets, SesEmail, SnsSms, SnsEvents, SystemClock>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_json_logs();
    let config = AppConfig::from_env()?;
    let sdk = aws::sdk_config().await?;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let adapters = Adapters::<Aws> {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone()),
        secrets: SsmSecrets::lazy(&sdk, config.table.clone()),
        email: SesEmail::new(aws_sdk_sesv2::Client::new(&sdk))
            .with_configuration_set(config.ses_configuration_set.clone()),
        sms: SnsSms::new(sns.clone()),
        events: SnsEvents::new(sns, config.home.clone()),
        clock: SystemClock,
    };
    let app = ReviewRequest::new(App::new(adapters, &config), ReviewConfig::from_env());
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let remaining = event.context.deadline().duration_since(SystemTime::now()).unwrap_or_default();
        let deadline = Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN);
        let report = app.run(Some(deadline)).await?;
        Ok::<_, Error>(serde_json::to_value(report)?)
    }))
    .await
}
