//! The baseline for cold starts: the smallest function on the same Lambda runtime (tokio,
//! lambda_runtime), answering every event with `null`. No logging, no SDK, no settings.

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| async { Ok::<_, Error>(()) })).await
}
