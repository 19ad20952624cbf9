//! Review requests: queued when an order is delivered, due days later, deferred when a run fails
//! them, finished once with their outcome; and the customers' NPS answers.

use super::StoreError;
use super::orders::DeliveryRecord;
use crate::domain::ids::{OrderId, ShopId};
use crate::domain::names::wire_enum;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// Review requests coming due after delivery, their outcomes, and the NPS answers.
pub trait ReviewStore: Send + Sync {
    /// Review requests due between `from` and `to` (inclusive), oldest first, at most `limit`.
    fn due_reviews(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueReview>, StoreError>> + Send;
    /// Moves a review request that a run failed to handle later in the due index, counting the
    /// attempt (`due.attempts` + 1), so that it waits behind the others instead of coming first
    /// again. False when another run finished or deferred it meanwhile.
    fn defer_review(
        &self,
        shop: &ShopId,
        due: &DueReview,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Takes a review request out of the due index with its outcome (once; false if already done).
    fn finish_review(
        &self,
        shop: &ShopId,
        due: &DueReview,
        outcome: &ReviewOutcome,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Finished review requests of a shop whose outcome falls between `from` and `to`.
    fn review_outcomes(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<ReviewOutcome>, StoreError>> + Send;
    /// Stores an answer unless a later one is stored already.
    fn record_survey_answer(
        &self,
        shop: &ShopId,
        answer: &SurveyAnswer,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Answers given between `from` and `to`.
    fn survey_answers(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<SurveyAnswer>, StoreError>> + Send;
}

/// A review request whose time has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueReview {
    pub order_id: OrderId,
    pub delivery: DeliveryRecord,
    /// Runs that failed to handle it so far ([`ReviewStore::defer_review`]).
    pub attempts: u32,
}

wire_enum! {
    /// Why a review request was not sent.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    pub enum SkipReason {
        OrderCancelled = "order_cancelled",
        Refunded = "refunded",
        ReturnRequested = "return_requested",
        Unsubscribed = "unsubscribed",
        NoEmail = "no_email",
        OrderMissing = "order_missing",
        /// A request for this order went out before (found by its message claim).
        AlreadySent = "already_sent",
        /// The provider refused the email for good.
        Rejected = "rejected",
        /// The address bounced for good or complained before: the shop no longer mails it.
        Suppressed = "suppressed",
        /// Every run that tried it failed, a few times over hours: given up and reported.
        Failed = "failed",
    }
}

/// What became of a review request; moves it out of the due index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReviewOutcome {
    Sent { at: DateTime<Utc> },
    Skipped { at: DateTime<Utc>, reason: SkipReason },
}

impl ReviewOutcome {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Sent { at } | Self::Skipped { at, .. } => *at,
        }
    }
}

/// One customer's answer to the NPS question of one order; the latest answer wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyAnswer {
    pub order_id: OrderId,
    pub score: u8,
    pub comment: Option<String>,
    pub answered_at: DateTime<Utc>,
    /// Given by the page's form POST. Answers stored before that rule (a score link's GET
    /// recorded them, and mail scanners open every link) read as unconfirmed and never count.
    #[serde(default)]
    pub confirmed: bool,
}

impl SurveyAnswer {
    /// What forgetting the customer leaves (`domain::privacy`): the score, not the comment.
    pub fn redact(&mut self) {
        self.comment = None;
    }
}
