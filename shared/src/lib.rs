//! The ppx domain: pure rules (no AWS types, no I/O) and the ports with their AWS adapters.

#[cfg(feature = "aws")]
pub mod aws;
pub mod carriers;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod edge;
pub mod ids;
pub mod journey;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod link;
pub mod messages;
pub mod messaging;
pub mod money;
pub mod notify;
pub mod nps;
pub mod order;
pub mod providers;
pub mod return_flow;
pub mod returns;
pub mod settings;
pub mod settings_cache;
pub mod signature;
pub mod store;
pub mod table;
pub mod telemetry;
pub mod templates;
pub mod tracking;

#[cfg(feature = "dynamodb")]
pub use aws_sdk_dynamodb;
#[cfg(feature = "ses")]
pub use aws_sdk_sesv2;
#[cfg(feature = "sns")]
pub use aws_sdk_sns;
