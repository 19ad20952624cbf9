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
