//! The HTTP edge: authenticating webhooks, errors mapped to a status and a JSON body, responses,
//! the Lambda runtime glue and the functions' logs.

pub mod edge;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod signature;
pub mod telemetry;
