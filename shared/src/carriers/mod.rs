//! Inbound carrier and tracking-aggregator formats. One file per provider; each maps into
//! [`crate::tracking::CarrierUpdate`]. The status mapping table is `docs/tracking-status-mapping.md`.

pub mod aftership;
pub mod easypost;
pub mod generic_tracking;
pub mod shippo;
