//! In-memory adapters for unit tests: the same rules as the AWS adapters, decided under a lock.

pub mod messaging;
pub mod secrets;
pub mod store;
