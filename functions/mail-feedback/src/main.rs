//! Lambda wiring only: SNS (the stack's SES configuration set publishes there) invokes it with
//! one SES event record; the DynamoDB client is built once per cold start.

// The SDK's request futures nest deeper than the default limit allows to lay out.
#![recursion_limit = "256"]

use aws_lambda_events::event::sns::SnsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use mail_feedback::MailFeedback;
use ppx_shared::adapters::aws;
use ppx_shared::adapters::dynamo::DynamoStore;
use ppx_shared::app::config::ConfigError;
use ppx_shared::aws_sdk_dynamodb;
use ppx_shared::http::telemetry;
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_json_logs();
    // The table is all it needs: no link key, no sender.
    let table = std::env::var("PPX_TABLE").ok().filter(|t| !t.is_empty()).ok_or(ConfigError::Missing("PPX_TABLE"))?;
    let sdk = aws::sdk_config().await?;
    let app = MailFeedback { store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table) };
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SnsEvent>| async move {
        let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
        let handled = app.handle_event(&event.payload).instrument(span).await?;
        Ok::<_, Error>(serde_json::to_value(handled)?)
    }))
    .await
}
