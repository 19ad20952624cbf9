//! The HTTP edge: the routes, authentication, errors mapped to a status and a JSON body,
//! responses, the Lambda runtime glue and the functions' logs.

pub mod auth;
pub mod edge;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod routes;
pub mod signature;
pub mod telemetry;
