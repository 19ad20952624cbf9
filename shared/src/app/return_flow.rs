//! A return's life: submitted and decided by the policy, moved on by operators and by its
//! parcel's carrier scans; every state it enters is told to the customer and to the shop's
//! event topic, each once.

use crate::app::context::Ports;
use crate::app::outbox::{Delivery, NotifyError, Outbox};
use crate::domain::ids::{OrderId, ReturnId, ShopId, TrackingNumber};
use crate::domain::messages::{Channel, MessageKind, MessageScope, Notice};
use crate::domain::order::Order;
use crate::domain::returns::{Decision, RequestError, Return, ReturnRequest, ReturnState, Verdict, decide, return_id};
use crate::domain::settings::ShopSettings;
use crate::domain::text::CleanText;
use crate::domain::tracking::TrackingStatus;
use crate::ports::clock::Clock;
use crate::ports::messaging::EventPublisher;
use crate::ports::store::{OrderStore, ReturnCreated, ReturnStore, StoreError};
use crate::render::MessageContext;
use serde_json::json;

/// Reads and decisions a return request may take when other returns of its order keep
/// reserving quantities first (each round, one of the concurrent requests wins).
const MAX_SUBMIT_ATTEMPTS: u32 = 10;

/// A short, jittered pause before deciding again, so that concurrent losers do not all read
/// at the same instant (5-35 ms, growing with the attempt).
async fn contention_pause(attempt: u32) {
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 20);
    let millis = 5 + jitter + 5 * u64::from(attempt.min(3));
    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
}

#[derive(Debug, thiserror::Error)]
pub enum ReturnError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("order not found")]
    OrderNotFound,
    #[error("return not found")]
    ReturnNotFound,
    #[error("a return that is {from} cannot become {to}")]
    Transition { from: &'static str, to: &'static str },
    /// The return changed while it was being updated, or other returns of the order kept
    /// reserving quantities first: retry.
    #[error("the order's returns changed while this request was decided; retry")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

/// A submitted return and whether this request created it (false: a retry found it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub ret: Return,
    pub created: bool,
}

pub struct ReturnFlow<'a, P: Ports> {
    pub outbox: Outbox<'a, P>,
    pub events: &'a P::Events,
}

fn first_state(decision: &Decision) -> ReturnState {
    match decision.verdict {
        Verdict::Approved => ReturnState::Approved,
        Verdict::NeedsReview => ReturnState::NeedsReview,
        Verdict::Rejected => ReturnState::Rejected,
    }
}

impl<P: Ports> ReturnFlow<'_, P> {
    fn store(&self) -> &P::Store {
        self.outbox.store
    }

    /// Decides and stores a return; a retry with the same idempotency key finds the same return
    /// and sends nothing new. A return that reserves quantities is stored only if no other did
    /// since its decision was read (else it is decided again from a fresh read), so concurrent
    /// requests never return more than was bought.
    pub async fn submit(
        &self,
        settings: &ShopSettings,
        mut request: ReturnRequest,
        idempotency_key: &str,
    ) -> Result<Submitted, ReturnError> {
        let shop = &settings.shop;
        // The portal's form and the JSON API alike: no control character gets further.
        request.clean_text();
        for attempt in 0..MAX_SUBMIT_ATTEMPTS {
            if attempt > 0 {
                contention_pause(attempt).await;
            }
            let view = self.store().order_view(shop, &request.order_id).await?;
            let order = view.order.as_ref().ok_or(ReturnError::OrderNotFound)?;
            let id = return_id(shop, &order.id, idempotency_key);
            if let Some(existing) = view.returns.iter().find(|r| r.id == id) {
                // Finish what a crashed first attempt may have left unsent.
                self.announce(settings, order, existing).await?;
                return Ok(Submitted { ret: existing.clone(), created: false });
            }
            let now = self.outbox.clock.now();
            let delivered_at = view.delivery.as_ref().map(|d| d.delivered_at);
            let decision =
                decide(&settings.return_policy, order, delivered_at, &view.returns, &request, now, settings.time_zone)?;
            let reserves = decision.reserves_quantities().then_some(view.returns_version);
            let ret = Return {
                id,
                state: first_state(&decision),
                request: request.clone(),
                decision,
                created_at: now,
                updated_at: now,
                tracking_number: None,
                label_url: None,
                operator_note: None,
            };
            let (ret, created) = match self.store().create_return(shop, &ret, reserves).await? {
                ReturnCreated::Created => (ret, true),
                ReturnCreated::Exists(existing) => (*existing, false),
                ReturnCreated::Stale => continue,
            };
            self.announce(settings, order, &ret).await?;
            return Ok(Submitted { ret, created });
        }
        Err(ReturnError::Contended)
    }

    /// Moves a return on (an operator's decision, received, refunded...). Asking for the state it
    /// is already in finishes any announcement left unsent and changes nothing else.
    pub async fn transition(
        &self,
        settings: &ShopSettings,
        id: &ReturnId,
        next: ReturnState,
        note: Option<String>,
    ) -> Result<Return, ReturnError> {
        let shop = &settings.shop;
        let current = self.store().find_return(shop, id).await?.ok_or(ReturnError::ReturnNotFound)?;
        let order = self.order(shop, &current.request.order_id).await?;
        if current.state == next {
            self.announce(settings, &order, &current).await?;
            return Ok(current);
        }
        if !current.state.can_move_to(next) {
            return Err(ReturnError::Transition { from: current.state.as_str(), to: next.as_str() });
        }
        let moved = Return {
            state: next,
            updated_at: self.outbox.clock.now(),
            operator_note: note.or_else(|| current.operator_note.clone()),
            ..current.clone()
        };
        if !self.store().update_return(shop, &moved, current.state).await? {
            return Err(ReturnError::Contended);
        }
        tracing::info!(return_id = %id, from = current.state.as_str(), to = next.as_str(), "return moved");
        self.announce(settings, &order, &moved).await?;
        Ok(moved)
    }

    /// Registers the return parcel's tracking number (and label), so carrier scans move it on.
    pub async fn attach_parcel(
        &self,
        settings: &ShopSettings,
        id: &ReturnId,
        number: &TrackingNumber,
        label_url: Option<String>,
    ) -> Result<Return, ReturnError> {
        let shop = &settings.shop;
        let current = self.store().find_return(shop, id).await?.ok_or(ReturnError::ReturnNotFound)?;
        let updated = Return {
            tracking_number: Some(number.clone()),
            label_url: label_url.or_else(|| current.label_url.clone()),
            updated_at: self.outbox.clock.now(),
            ..current.clone()
        };
        if !self.store().update_return(shop, &updated, current.state).await? {
            return Err(ReturnError::Contended);
        }
        self.store().register_return_parcel(shop, number, &current.request.order_id, id).await?;
        Ok(updated)
    }

    /// A carrier scan of a return parcel: on its way, then received.
    pub async fn parcel_scanned(
        &self,
        settings: &ShopSettings,
        id: &ReturnId,
        status: TrackingStatus,
    ) -> Result<Option<Return>, ReturnError> {
        let next = match status {
            TrackingStatus::Delivered => ReturnState::Received,
            TrackingStatus::InTransit
            | TrackingStatus::OutForDelivery
            | TrackingStatus::DeliveryAttempted
            | TrackingStatus::AvailableForPickup => ReturnState::InTransit,
            _ => return Ok(None),
        };
        let current = self.store().find_return(&settings.shop, id).await?.ok_or(ReturnError::ReturnNotFound)?;
        // Scans never move a return back, and late ones are no news.
        if current.state != next && !current.state.can_move_to(next) {
            return Ok(None);
        }
        Ok(Some(self.transition(settings, id, next, None).await?))
    }

    async fn order(&self, shop: &ShopId, id: &OrderId) -> Result<Order, ReturnError> {
        self.store().get_order(shop, id).await?.ok_or(ReturnError::OrderNotFound)
    }

    /// The customer's message and the shop's event for the state the return is in, each once.
    async fn announce(&self, settings: &ShopSettings, order: &Order, ret: &Return) -> Result<usize, ReturnError> {
        let notice = Notice::new(MessageKind::ReturnUpdate, MessageScope::Return(ret.id.clone(), ret.state));
        let links = self.outbox.links().await?.for_order(&order.shop, &order.id, self.outbox.clock.now());
        let ctx = MessageContext { return_update: Some(ret), ..MessageContext::about_order(settings, order, &links) };
        let deliveries = self.outbox.send_once(&ctx, &notice).await?;
        let mut sent = deliveries.iter().filter(|d| d.is_new_send()).count();
        if let Some(topic) = settings.return_events_topic_arn.as_deref() {
            let event = json!({
                "type": "return.state_changed",
                "shop": order.shop,
                "order_id": order.id,
                "order_number": order.number,
                "return_id": ret.id,
                "state": ret.state,
                "verdict": ret.decision.verdict,
                "resolution": ret.request.resolution,
                "amount": { "minor": ret.decision.amount.minor, "currency": ret.decision.amount.currency },
                "items": ret.decision.items.iter().map(|i| json!({
                    "line_item": i.line_item, "quantity": i.quantity, "reason": i.reason, "verdict": i.verdict,
                })).collect::<Vec<_>>(),
                "tracking_number": ret.tracking_number,
                "at": ret.updated_at,
            })
            .to_string();
            let subject = format!("return.{}", ret.state.as_str());
            let key = notice.on(Channel::ShopEvent);
            let delivery = self
                .outbox
                .deliver_once(&order.shop, &order.id, &key, topic, None, || {
                    self.events.publish(topic, &subject, &event)
                })
                .await?;
            sent += usize::from(matches!(delivery, Delivery::Sent { .. }));
        }
        Ok(sent)
    }
}
