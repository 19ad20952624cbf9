//! The review request run: every shop's due requests (a time-range query on the due index,
//! never a scan), each skipped with a reason or sent exactly once, in batches within a deadline.
//! Generic over the ports; the scheduled Lambda and `ppx review run` call the same code.

use chrono::{DateTime, Utc};
use ppx_shared::app::context::{App, Ports};
use ppx_shared::app::outbox::{Delivery, NotifyError};
use ppx_shared::app::watch::WatchReport;
use ppx_shared::domain::ids::OrderId;
use ppx_shared::domain::messages::{Channel, DeliveryState, MessageKind, MessageScope, Notice};
use ppx_shared::domain::order::{OrderStatus, PaymentStatus};
use ppx_shared::domain::returns::ReturnState;
use ppx_shared::domain::settings::ShopSettings;
use ppx_shared::ports::clock::Clock;
use ppx_shared::ports::store::{ConsentStore, OrderStore, ReviewStore, SettingsStore};
use ppx_shared::ports::store::{DueReview, ReviewOutcome, SkipReason, Store, StoreError};
use ppx_shared::render::MessageContext;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewConfig {
    /// Most orders handled in one run; the rest wait for the next (`PPX_REVIEW_BATCH`, 200).
    pub batch: usize,
    /// Requests due longer ago than this are not sent any more (`PPX_REVIEW_MAX_AGE_DAYS`, 30).
    pub max_age: chrono::Duration,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        Self { batch: 200, max_age: chrono::Duration::days(30) }
    }
}

impl ReviewConfig {
    pub fn from_env() -> Self {
        let default = Self::default();
        let number = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
        Self {
            batch: number("PPX_REVIEW_BATCH").map_or(default.batch, |n| n.max(1) as usize),
            max_age: number("PPX_REVIEW_MAX_AGE_DAYS").map_or(default.max_age, |d| chrono::Duration::days(d.into())),
        }
    }
}

/// What one run did; also the scheduled function's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    pub now: Option<DateTime<Utc>>,
    pub shops: usize,
    pub due: usize,
    pub sent: usize,
    pub skipped: BTreeMap<&'static str, usize>,
    /// Being sent by an overlapping run; that run finishes it.
    pub in_flight: usize,
    /// Failed this time (logged): deferred behind the others, or given up.
    pub failed: usize,
    /// Failed for the last time: skipped as `failed`, reported here and in `ppx kpi`.
    pub gave_up: usize,
    /// The batch or the deadline ended the run with due requests left.
    pub more_due: bool,
    /// The parcel watch's pass over the same shops (stalls, numbers never scanned).
    pub watch: WatchReport,
}

enum Handled {
    Finished(ReviewOutcome),
    InFlight,
}

/// Runs that may fail a review request before it is given up: with [`retry_backoff`], about
/// eight hours of retries.
pub const MAX_REVIEW_ATTEMPTS: u32 = 5;

/// How long a request that failed `attempts` times waits: 30 minutes, doubling (30 min, 1 h,
/// 2 h, 4 h), so a passing outage is waited out and a broken one stops costing runs.
pub fn retry_backoff(attempts: u32) -> chrono::Duration {
    chrono::Duration::minutes(30 << attempts.saturating_sub(1).min(8))
}

/// One shop's turn in a run: its due requests fetched so far, and whether the index may hold more.
struct ShopTurn {
    settings: ShopSettings,
    due: VecDeque<DueReview>,
    /// Orders taken this run: the index still lists those in flight, never take them twice.
    seen: BTreeSet<OrderId>,
    more: bool,
}

impl ShopTurn {
    /// Fetches up to `share` requests not taken yet in this run.
    async fn refill<S: Store>(
        &mut self,
        store: &S,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        share: usize,
    ) -> Result<(), StoreError> {
        let limit = self.seen.len() + share + 1;
        let fetched = store.due_reviews(&self.settings.shop, from, to, limit).await?;
        self.more = fetched.len() == limit;
        for request in fetched {
            if self.due.len() < share && self.seen.insert(request.order_id.clone()) {
                self.due.push_back(request);
            }
        }
        // Nothing new among them: whatever is left is in flight elsewhere.
        self.more &= !self.due.is_empty();
        Ok(())
    }
}

/// The scheduled run over its application context: review requests by email, and the parcel
/// watch (stall emails, texts held back by quiet hours, events to the shops' topics).
pub struct ReviewRequest<P: Ports> {
    app: App<P>,
    config: ReviewConfig,
}

impl<P: Ports> std::ops::Deref for ReviewRequest<P> {
    type Target = App<P>;
    fn deref(&self) -> &App<P> {
        &self.app
    }
}

impl<P: Ports> ReviewRequest<P> {
    pub fn new(app: App<P>, config: ReviewConfig) -> Self {
        Self { app, config }
    }

    /// One run over every shop. `deadline`: stop taking new orders after it (the Lambda's time).
    ///
    /// Shops take turns, one request each, with an equal share of the batch (what a shop leaves
    /// unused goes to the others in later rounds), so one shop's backlog or failures never starve
    /// the rest. A request that fails waits behind the others (deferred with a growing backoff)
    /// and, after [`MAX_REVIEW_ATTEMPTS`] failed runs, is given up and reported.
    pub async fn run(&self, deadline: Option<Instant>) -> Result<RunReport, StoreError> {
        let now = self.clock.now();
        let mut report = RunReport { now: Some(now), ..RunReport::default() };
        let shops = self.store.list_shops().await?;
        report.shops = shops.len();
        let mut turns = Vec::with_capacity(shops.len());
        for shop in shops {
            if let Some(settings) = self.store.get_settings(&shop).await? {
                turns.push(ShopTurn { settings, due: VecDeque::new(), seen: BTreeSet::new(), more: true });
            }
        }
        // Parcels first: a stall is news today, a review request can wait for the next run.
        for turn in &turns {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                report.watch.more_due = true;
                break;
            }
            let watch = self.parcel_watch();
            if let Err(err) = watch.run_shop(&turn.settings, self.config.batch, &mut report.watch).await {
                tracing::warn!(shop = %turn.settings.shop, error = %err, "parcel watch of a shop failed; due again next run");
                report.watch.failed += 1;
            }
        }
        loop {
            let budget = self.config.batch.saturating_sub(report.due);
            let waiting: Vec<&mut ShopTurn> = turns.iter_mut().filter(|t| t.more && t.due.is_empty()).collect();
            if budget == 0 || waiting.is_empty() {
                break;
            }
            let share = budget.div_ceil(waiting.len());
            for turn in waiting {
                turn.refill(&self.store, now - self.config.max_age, now, share).await?;
            }
            while report.due < self.config.batch && turns.iter().any(|t| !t.due.is_empty()) {
                for turn in turns.iter_mut() {
                    let Some(request) = turn.due.pop_front() else { continue };
                    if report.due >= self.config.batch {
                        turn.due.push_front(request);
                        break;
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        report.more_due = true;
                        tracing::info!(?report, "review run stopped at its deadline");
                        return Ok(report);
                    }
                    report.due += 1;
                    self.take(&turn.settings, &request, now, &mut report).await;
                }
            }
        }
        report.more_due = turns.iter().any(|t| t.more || !t.due.is_empty());
        tracing::info!(?report, "review run done");
        Ok(report)
    }

    /// Handles one due request and counts what became of it. One order's failure does not stop
    /// the others: it is deferred, or given up after its last attempt.
    async fn take(&self, settings: &ShopSettings, request: &DueReview, now: DateTime<Utc>, report: &mut RunReport) {
        let span = tracing::info_span!("review_request", shop = %settings.shop, order_id = %request.order_id);
        let _enter = span.enter();
        let error = match self.handle(settings, request, now).await {
            Ok(Handled::Finished(ReviewOutcome::Sent { .. })) => return report.sent += 1,
            Ok(Handled::Finished(ReviewOutcome::Skipped { reason, .. })) => {
                tracing::info!(reason = reason.as_str(), "review request skipped");
                return *report.skipped.entry(reason.as_str()).or_default() += 1;
            }
            Ok(Handled::InFlight) => return report.in_flight += 1,
            Err(err) => err,
        };
        report.failed += 1;
        let attempts = request.attempts + 1;
        let settled = if attempts >= MAX_REVIEW_ATTEMPTS {
            tracing::error!(error = %error, attempts, "review request failed on every attempt; given up");
            let outcome = ReviewOutcome::Skipped { at: now, reason: SkipReason::Failed };
            self.store.finish_review(&settings.shop, request, &outcome).await.map(|_| report.gave_up += 1)
        } else {
            let until = now + retry_backoff(attempts);
            tracing::error!(error = %error, attempts, retry_at = %until, "review request failed; deferred");
            self.store.defer_review(&settings.shop, request, until).await.map(|_| ())
        };
        if let Err(err) = settled {
            // Left where it was: the next run takes it again.
            tracing::error!(error = %err, "could not defer a failed review request");
        }
    }

    async fn handle(
        &self,
        settings: &ShopSettings,
        due: &DueReview,
        now: DateTime<Utc>,
    ) -> Result<Handled, NotifyError> {
        let view = self.store.order_view(&settings.shop, &due.order_id).await?;
        let skip = |reason| ReviewOutcome::Skipped { at: now, reason };
        let previous =
            view.messages.iter().find(|m| m.kind == MessageKind::ReviewRequest && m.channel == Channel::Email);
        let outcome = match (&view.order, previous.map(|m| (m.state, m.at))) {
            // A run that sent but died before finishing: finish it, never send again.
            (_, Some((DeliveryState::Sent, at))) => Some(ReviewOutcome::Sent { at }),
            (_, Some((DeliveryState::Failed, _))) => Some(skip(SkipReason::Rejected)),
            (_, Some((DeliveryState::Suppressed, _))) => Some(skip(SkipReason::Suppressed)),
            (None, _) => Some(skip(SkipReason::OrderMissing)),
            (Some(order), _) if order.status == OrderStatus::Cancelled => Some(skip(SkipReason::OrderCancelled)),
            (Some(order), _) if order.payment == PaymentStatus::Refunded => Some(skip(SkipReason::Refunded)),
            (Some(order), _) if order.customer.email.is_none() => Some(skip(SkipReason::NoEmail)),
            // A return open or done says enough about how it went; no review request then.
            (Some(_), _) if view.returns.iter().any(|r| r.state != ReturnState::Rejected) => {
                Some(skip(SkipReason::ReturnRequested))
            }
            (Some(order), _) => {
                let email = order.customer.email.as_deref().unwrap_or_default();
                self.store.is_unsubscribed(&settings.shop, email).await?.then(|| skip(SkipReason::Unsubscribed))
            }
        };
        let outcome = match (outcome, &view.order) {
            (Some(outcome), _) => outcome,
            (None, Some(order)) => {
                let customer_links = self.outbox().links().await?;
                let links = customer_links.for_order(&order.shop, &order.id, now);
                let review = customer_links.for_review(&order.shop, &order.id, now);
                let ctx =
                    MessageContext { review: Some(&review), ..MessageContext::about_order(settings, order, &links) };
                match self.outbox().send_once(&ctx, &Notice::new(MessageKind::ReviewRequest, MessageScope::Order)).await
                {
                    Ok(deliveries) => match deliveries.first() {
                        Some(Delivery::Failed { .. }) => skip(SkipReason::Rejected),
                        Some(Delivery::Suppressed { .. }) => skip(SkipReason::Suppressed),
                        Some(Delivery::AlreadyDone { .. }) => skip(SkipReason::AlreadySent),
                        _ => ReviewOutcome::Sent { at: self.clock.now() },
                    },
                    Err(NotifyError::InFlight { .. }) => return Ok(Handled::InFlight),
                    Err(err) => return Err(err),
                }
            }
            (None, None) => skip(SkipReason::OrderMissing),
        };
        self.store.finish_review(&settings.shop, due, &outcome).await?;
        // A skip is counted here (a send was counted by the outbox).
        if let ReviewOutcome::Skipped { at, reason } = &outcome {
            let outcome = format!("skipped_{}", reason.as_str());
            ppx_shared::app::metrics::count_message(*at, MessageKind::ReviewRequest.as_str(), "email", &outcome);
        }
        Ok(Handled::Finished(outcome))
    }
}
