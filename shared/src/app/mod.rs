//! The use cases, over the ports: the outbox (claim, send, record each message once), a parcel's
//! journey, a return's life, the returns portal, the settings cache, and the checks `ppx shop put`
//! runs before saving settings.

pub mod config;
pub mod context;
pub mod journey;
pub mod link_keys;
pub mod metrics;
pub mod outbox;
pub mod portal;
pub mod privacy;
pub mod return_flow;
pub mod settings_cache;
pub mod template_check;
pub mod watch;
