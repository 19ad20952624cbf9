//! The ppx domain: pure rules (no AWS types, no I/O) and the ports with their AWS adapters.

pub mod clock;
pub mod delivery;
pub mod ids;
pub mod link;
pub mod money;
pub mod order;
pub mod providers;
pub mod settings;
pub mod signature;
pub mod messages;
pub mod table;
pub mod templates;
pub mod store;
pub mod messaging;
#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod edge;
pub mod notify;
pub mod settings_cache;
pub mod telemetry;

#[cfg(feature = "dynamodb")]
pub use aws_sdk_dynamodb;
#[cfg(feature = "ses")]
pub use aws_sdk_sesv2;
#[cfg(feature = "sns")]
pub use aws_sdk_sns;
