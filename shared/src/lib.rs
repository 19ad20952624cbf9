//! ppx's shared crate, in layers (docs/architecture.md):
//! - `domain`: pure rules (no I/O, no AWS or HTTP types);
//! - `inbound`: one file per provider format, parsed into domain types;
//! - `ports`: the storage, messaging and clock traits the use cases run over;
//! - `app`: the use cases (the outbox, a parcel's journey, a return's life...);
//! - `render`: what customers read (emails, SMS, pages), from templates;
//! - `adapters`: DynamoDB, SES, SNS and in-memory fakes behind the ports;
//! - `http`: the edge (authentication, errors to status, the Lambda glue).

pub mod adapters;
pub mod app;
pub mod domain;
pub mod http;
pub mod inbound;
pub mod ports;
pub mod render;

#[cfg(feature = "dynamodb")]
pub use aws_sdk_dynamodb;
#[cfg(feature = "ses")]
pub use aws_sdk_sesv2;
#[cfg(feature = "sns")]
pub use aws_sdk_sns;
#[cfg(feature = "ssm")]
pub use aws_sdk_ssm;
