//! The storage port, split by role: settings, orders, tracking, the message ledger, reviews,
//! consent, returns, watched parcels and mail feedback. Each role is a trait; [`Store`] is all of them, which every adapter
//! (DynamoDB, the in-memory fake) implements and one contract suite (`tests/store_contract.rs`)
//! checks against both. Every decision that must hold under concurrency (a newer order wins, a
//! message is claimed once) is a conditional write inside the adapter, never a read-then-write.

mod consent;
mod ledger;
mod mail;
mod orders;
mod privacy;
mod returns;
mod reviews;
mod settings;
mod tracking;
mod watch;

pub use consent::{ConsentStore, email_key};
pub use ledger::{
    Applied, ChangeOutcome, Claim, ClaimBatch, ClaimOutcome, MessageLedger, StateChange, TrackingChange, Unannounced,
};
pub use mail::MailStore;
pub use orders::{DeliveryRecord, OrderStore, OrderView, order_number_key};
pub use privacy::PrivacyStore;
pub use returns::{ReturnCreated, ReturnStore};
pub use reviews::{DueReview, ReviewOutcome, ReviewStore, SkipReason, SurveyAnswer};
pub use settings::SettingsStore;
pub use tracking::{Parcel, TrackingLookup, TrackingStore, TrackingTarget};
pub use watch::{DueWatch, WatchStore};

/// The role traits, for code that calls a store's methods on a concrete adapter
/// (`use ppx_shared::ports::store::roles::*`); generic code bound by [`Store`] needs no import.
pub mod roles {
    pub use super::{
        ConsentStore, MailStore, MessageLedger, OrderStore, PrivacyStore, ReturnStore, ReviewStore, SettingsStore,
        TrackingStore, WatchStore,
    };
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, 5xx, timeouts: the caller answers 5xx and the sender retries.
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    /// A stored item does not decode: a bug or a manual edit; needs an operator.
    #[error("stored item {key} is corrupt: {detail}")]
    Corrupt { key: String, detail: String },
    /// The item would be larger than the store takes (DynamoDB: 400 KB): refused before it is
    /// sent, since no retry can ever store it.
    #[error("item {key} would take {bytes} bytes; at most {limit} can be stored")]
    TooLarge { key: String, bytes: usize, limit: usize },
}

/// What a conditional upsert did.
#[derive(Debug, Clone, PartialEq)]
pub enum Upsert<T> {
    /// Nothing was stored before.
    Created,
    /// An older version was replaced.
    Updated,
    /// The stored version is as new or newer; it is returned and was left alone.
    Stale(Box<T>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// Every role: what a function's ports name as their store.
pub trait Store:
    SettingsStore
    + OrderStore
    + TrackingStore
    + MessageLedger
    + ReviewStore
    + ConsentStore
    + ReturnStore
    + WatchStore
    + MailStore
    + PrivacyStore
{
}

impl<T> Store for T where
    T: SettingsStore
        + OrderStore
        + TrackingStore
        + MessageLedger
        + ReviewStore
        + ConsentStore
        + ReturnStore
        + WatchStore
        + MailStore
        + PrivacyStore
{
}
