//! The review request run: every shop's due requests (a time-range query on the due index,
//! never a scan), each skipped with a reason or sent exactly once, in batches within a deadline.
//! Generic over the ports; the scheduled Lambda and `ppx review run` call the same code.

use chrono::{DateTime, Utc};
use ppx_shared::clock::Clock;
use ppx_shared::config::AppConfig;
use ppx_shared::link::{CustomerLinks, LinkKey};
use ppx_shared::messages::{Channel, DeliveryState, MessageKind};
use ppx_shared::messaging::{EmailSender, NoSms};
use ppx_shared::notify::{Delivery, NotifyError, Outbox};
use ppx_shared::order::{OrderStatus, PaymentStatus};
use ppx_shared::returns::ReturnState;
use ppx_shared::settings::ShopSettings;
use ppx_shared::store::{DueReview, ReviewOutcome, SkipReason, Store, StoreError};
use ppx_shared::templates::MessageContext;
use serde::Serialize;
use std::collections::BTreeMap;
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
    /// Failed this time (logged); retried by a later run.
    pub failed: usize,
    /// The batch or the deadline ended the run with due requests left.
    pub more_due: bool,
}

enum Handled {
    Finished(ReviewOutcome),
    InFlight,
}

pub struct ReviewRequest<S, E, C> {
    pub store: S,
    pub email: E,
    pub clock: C,
    links: CustomerLinks,
    config: ReviewConfig,
}

impl<S: Store, E: EmailSender, C: Clock> ReviewRequest<S, E, C> {
    pub fn new(store: S, email: E, clock: C, app: &AppConfig, config: ReviewConfig) -> Self {
        let links = CustomerLinks::new(LinkKey::from_secret(app.link_secret.expose()), app.public_url.clone());
        Self { store, email, clock, links, config }
    }

    /// One run over every shop. `deadline`: stop taking new orders after it (the Lambda's time).
    pub async fn run(&self, deadline: Option<Instant>) -> Result<RunReport, StoreError> {
        let now = self.clock.now();
        let mut report = RunReport { now: Some(now), ..RunReport::default() };
        let shops = self.store.list_shops().await?;
        report.shops = shops.len();
        for shop in shops {
            let budget = self.config.batch.saturating_sub(report.due);
            if budget == 0 {
                report.more_due = true;
                break;
            }
            let Some(settings) = self.store.get_settings(&shop).await? else { continue };
            // One more than the budget tells whether anything is left for the next run.
            let due = self.store.due_reviews(&shop, now - self.config.max_age, now, budget + 1).await?;
            if due.len() > budget {
                report.more_due = true;
            }
            for request in due.iter().take(budget) {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    report.more_due = true;
                    return Ok(report);
                }
                report.due += 1;
                let span = tracing::info_span!("review_request", shop = %shop, order_id = %request.order_id);
                let _enter = span.enter();
                match self.handle(&settings, request, now).await {
                    Ok(Handled::Finished(ReviewOutcome::Sent { .. })) => report.sent += 1,
                    Ok(Handled::Finished(ReviewOutcome::Skipped { reason, .. })) => {
                        tracing::info!(reason = reason.as_str(), "review request skipped");
                        *report.skipped.entry(reason.as_str()).or_default() += 1;
                    }
                    Ok(Handled::InFlight) => report.in_flight += 1,
                    // One order's failure does not stop the others.
                    Err(err) => {
                        tracing::error!(error = %err, "review request failed; a later run retries it");
                        report.failed += 1;
                    }
                }
            }
        }
        tracing::info!(?report, "review run done");
        Ok(report)
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
                let links = self.links.for_order(&order.shop, &order.id, now);
                let review = self.links.for_review(&order.shop, &order.id, now);
                let ctx =
                    MessageContext { review: Some(&review), ..MessageContext::about_order(settings, order, &links) };
                let outbox = Outbox {
                    store: &self.store,
                    email: &self.email,
                    sms: &NoSms,
                    clock: &self.clock,
                    links: &self.links,
                };
                match outbox.send_once(&ctx, MessageKind::ReviewRequest, "").await {
                    Ok(deliveries) => match deliveries.first() {
                        Some(Delivery::Failed { .. }) => skip(SkipReason::Rejected),
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
        Ok(Handled::Finished(outcome))
    }
}
