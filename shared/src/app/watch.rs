//! The parcel watch: every shop's due watches (orders to ship, tracking numbers to scan,
//! parcels gone quiet) (a time-range query on the index, never a scan),
//! each examined against the shipment's stored state (`domain::watch`). A stall is told to the
//! customer (email, once per stall, up to the shop's cap) and to the shop's topic; a tracking
//! number never scanned, to the shop's topic only. Each message goes at most once (the ledger's
//! claims); a watch is ended only after what it called for is done, so a failed run leaves it
//! due for the next one.

use crate::app::context::Ports;
use crate::app::outbox::{Delivery, NotifyError, Outbox};
use crate::domain::messages::{Channel, DeliveryState, MessageKind, MessageScope, Notice};
use crate::domain::order::{OrderStatus, Shipment};
use crate::domain::settings::ShopSettings;
use crate::domain::tracking::ShipmentTracking;
use crate::domain::watch::{Finding, Watch, examine, examine_order, text_still_true};
use crate::ports::clock::Clock;
use crate::ports::messaging::EventPublisher;
use crate::ports::store::{DueWatch, OrderStore, OrderView, StoreError, WatchStore};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;

/// Watches due longer ago than this are ended unexamined: no one wants to hear of a stall of
/// two months ago, and a backlog must not grow without bound.
pub const MAX_WATCH_AGE_DAYS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

/// What became of one due watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Scanned, delivered, cancelled or gone: ended without a word.
    Fine,
    /// Not due after all: moved to its real time.
    Moved,
    /// A deferred text no longer true in the morning: not sent.
    Dropped,
    /// Told: the customer (`customer` messages sent now) and the shop's topic (`events`).
    Told { customer: usize, events: usize },
}

/// What one run did; part of the scheduled function's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WatchReport {
    pub due: usize,
    pub fine: usize,
    pub moved: usize,
    pub stalled: usize,
    pub untracked: usize,
    pub not_shipped: usize,
    /// Texts held back by quiet hours, sent now (or found sent).
    pub texts_sent: usize,
    /// Texts held back by quiet hours that were no longer true in the morning.
    pub texts_dropped: usize,
    /// Customer emails and shop events sent now.
    pub messages_sent: usize,
    /// Failed this time (logged); still due, tried again by the next run.
    pub failed: usize,
    /// The batch ended the run with watches left.
    pub more_due: bool,
}

pub struct ParcelWatch<'a, P: Ports> {
    pub outbox: Outbox<'a, P>,
    pub events: &'a P::Events,
}

impl<P: Ports> ParcelWatch<'_, P> {
    /// One shop's due watches, at most `batch` of them.
    pub async fn run_shop(
        &self,
        settings: &ShopSettings,
        batch: usize,
        report: &mut WatchReport,
    ) -> Result<(), StoreError> {
        let now = self.outbox.clock.now();
        let store = self.outbox.store;
        let shop = &settings.shop;
        // From the beginning: the oldest come first, and those past the age limit are ended.
        let due = store.due_watches(shop, DateTime::UNIX_EPOCH, now, batch).await?;
        report.due += due.len();
        report.more_due |= due.len() >= batch;
        for watch in &due {
            if watch.at < now - Duration::days(MAX_WATCH_AGE_DAYS) {
                store.finish_watch(shop, watch).await?;
                report.fine += 1;
                continue;
            }
            match self.handle(settings, watch).await {
                Ok(Handled::Fine) => report.fine += 1,
                Ok(Handled::Moved) => report.moved += 1,
                Ok(Handled::Dropped) => report.texts_dropped += 1,
                Ok(Handled::Told { customer, events }) => {
                    match watch.watch {
                        Watch::FirstScan => report.untracked += 1,
                        Watch::NextScan => report.stalled += 1,
                        Watch::ShipBy => report.not_shipped += 1,
                        Watch::Text => report.texts_sent += 1,
                    }
                    report.messages_sent += customer + events;
                }
                Err(err) => {
                    tracing::warn!(order_id = %watch.order_id, watch = watch.watch.as_str(), error = %err, "parcel watch failed; due again next run");
                    report.failed += 1;
                }
            }
        }
        Ok(())
    }

    /// Examines one due watch and does what it finds, then ends or moves it.
    pub async fn handle(&self, settings: &ShopSettings, due: &DueWatch) -> Result<Handled, WatchError> {
        let store = self.outbox.store;
        let now = self.outbox.clock.now();
        let shop = &settings.shop;
        let rules = settings.notifications.watch();
        let view = store.order_view(shop, &due.order_id).await?;
        if let (Watch::Text, Some(notice)) = (due.watch, &due.text) {
            let handled = self.deferred_text(settings, &view, notice, due.at, now).await?;
            store.finish_watch(shop, due).await?;
            return Ok(handled);
        }
        let shipment = view.shipments.iter().find(|s| Some(&s.id) == due.shipment_id.as_ref());
        let tracking = due.shipment_id.as_ref().and_then(|id| view.tracking.get(id)).map(|v| &v.value);
        let finding = match (&view.order, shipment) {
            (Some(order), _) if due.watch == Watch::ShipBy => {
                // Shipped (a fulfillment or a carrier scan) or cancelled: nothing to say.
                let settled = order.status == OrderStatus::Cancelled
                    || !view.shipments.is_empty()
                    || !view.tracking.is_empty()
                    || view.delivery.is_some();
                examine_order(order.placed_at, settled, now, &settings.delivery, &rules, settings.time_zone)
            }
            (Some(order), Some(shipment)) if order.status != OrderStatus::Cancelled => {
                let fulfilled = shipment.tracking_number.as_ref().map(|_| shipment.created_at);
                examine(due.watch, fulfilled, tracking, now, &rules, settings.time_zone)
            }
            _ => Finding::Fine,
        };
        let handled = match finding {
            Finding::Fine => Handled::Fine,
            Finding::NotYet(until) => {
                store.retime_watch(shop, due, until).await?;
                return Ok(Handled::Moved);
            }
            Finding::Untracked => {
                let shipment = shipment.expect("examined with its shipment");
                let events = self.untracked(settings, &view, shipment, now).await?;
                Handled::Told { customer: 0, events }
            }
            Finding::NotShipped { by } => self.not_shipped(settings, &view, by, now).await?,
            Finding::Stalled { since } => {
                let shipment = shipment.expect("examined with its shipment");
                let tracking = tracking.expect("a stall has a state");
                self.stalled(settings, &view, (shipment, tracking), since, now).await?
            }
        };
        store.finish_watch(shop, due).await?;
        Ok(handled)
    }

    /// A parcel text held back by quiet hours: sent now if still true (and not too late to be
    /// news), once, by the same claim it would have had at night.
    async fn deferred_text(
        &self,
        settings: &ShopSettings,
        view: &OrderView,
        notice: &Notice,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Handled, WatchError> {
        let shipment = notice.scope.shipment().and_then(|id| view.shipments.iter().find(|s| s.id == *id));
        let tracking = notice.scope.shipment().and_then(|id| view.tracking.get(id)).map(|v| &v.value);
        let late = now - due_at > Duration::hours(settings.notifications.stale_same_day_hours.into());
        let (Some(order), Some(shipment), Some(tracking)) = (&view.order, shipment, tracking) else {
            return Ok(Handled::Fine);
        };
        if order.status == OrderStatus::Cancelled || late || !text_still_true(notice.kind, tracking) {
            tracing::info!(order_id = %order.id, notice = %notice, late, "deferred text no longer true; not sent");
            return Ok(Handled::Dropped);
        }
        let customer = self.outbox.send_about_on(settings, order, (shipment, tracking), notice, Channel::Sms).await?;
        Ok(Handled::Told { customer, events: 0 })
    }

    /// An order that did not leave by its ship-by date: the customer hears once that it takes
    /// longer, the shop too.
    async fn not_shipped(
        &self,
        settings: &ShopSettings,
        view: &OrderView,
        by: chrono::NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Handled, WatchError> {
        let order = view.order.as_ref().expect("examined with its order");
        tracing::info!(order_id = %order.id, ship_by = %by, "order not shipped by its date");
        let notice = Notice::new(MessageKind::NotShipped, MessageScope::Order);
        let customer = self.outbox.send_about(settings, order, (None, None), &notice, None).await?.new_sends();
        let event = json!({
            "type": "order.not_shipped",
            "shop": order.shop,
            "order_id": order.id,
            "order_number": order.number,
            "placed_at": order.placed_at,
            "ship_by": by,
            "promised_delivery": order.promised_delivery,
            "at": now,
        });
        let events = self.shop_event(settings, view, &notice, &event).await?;
        Ok(Handled::Told { customer, events })
    }

    /// A tracking number no carrier scanned: the shop hears of it, once.
    async fn untracked(
        &self,
        settings: &ShopSettings,
        view: &OrderView,
        shipment: &Shipment,
        now: DateTime<Utc>,
    ) -> Result<usize, WatchError> {
        let order = view.order.as_ref().expect("examined with its order");
        tracing::info!(order_id = %order.id, shipment_id = %shipment.id, "tracking number never scanned");
        let notice = Notice::new(MessageKind::Untracked, MessageScope::Shipment(shipment.id.clone()));
        let event = json!({
            "type": "shipment.untracked",
            "shop": order.shop,
            "order_id": order.id,
            "order_number": order.number,
            "shipment_id": shipment.id,
            "tracking_number": shipment.tracking_number,
            "carrier": shipment.carrier,
            "fulfilled_at": shipment.created_at,
            "days": settings.notifications.untracked_after_days,
            "at": now,
        });
        self.shop_event(settings, view, &notice, &event).await
    }

    /// A parcel that went quiet: the customer hears once per stall (up to the shop's cap), the
    /// shop always.
    async fn stalled(
        &self,
        settings: &ShopSettings,
        view: &OrderView,
        (shipment, tracking): (&Shipment, &ShipmentTracking),
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Handled, WatchError> {
        let order = view.order.as_ref().expect("examined with its order");
        let notice = Notice::new(MessageKind::Stalled, MessageScope::Stall(shipment.id.clone(), since));
        // Stalls told before this one: the cap counts emails that went out.
        let told = view
            .messages
            .iter()
            .filter(|r| r.kind == MessageKind::Stalled && r.channel == Channel::Email)
            .filter(|r| r.scope.shipment() == Some(&shipment.id) && r.scope != notice.scope)
            .filter(|r| r.state == DeliveryState::Sent)
            .count();
        let tell_customer = told < settings.notifications.max_stall_notices as usize;
        tracing::info!(order_id = %order.id, shipment_id = %shipment.id, %since, tell_customer, "parcel stalled");
        let customer = match tell_customer {
            true => self.outbox.send_about_on(settings, order, (shipment, tracking), &notice, Channel::Email).await?,
            false => 0,
        };
        let event = json!({
            "type": "shipment.stalled",
            "shop": order.shop,
            "order_id": order.id,
            "order_number": order.number,
            "shipment_id": shipment.id,
            "tracking_number": shipment.tracking_number,
            "carrier": tracking.carrier.as_ref().or(shipment.carrier.as_ref()),
            "status": tracking.status,
            "last_scan_at": since,
            "business_days": settings.notifications.stalled_after_business_days,
            "customer_told": tell_customer,
            "at": now,
        });
        let events = self.shop_event(settings, view, &notice, &event).await?;
        Ok(Handled::Told { customer, events })
    }

    /// `event` to the shop's topic, once per notice; nothing when the shop has no topic.
    async fn shop_event(
        &self,
        settings: &ShopSettings,
        view: &OrderView,
        notice: &Notice,
        event: &serde_json::Value,
    ) -> Result<usize, WatchError> {
        let Some(topic) = settings.return_events_topic_arn.as_deref() else { return Ok(0) };
        let Some(order) = &view.order else { return Ok(0) };
        let subject = event["type"].as_str().unwrap_or_default().to_owned();
        let body = event.to_string();
        let delivery = self
            .outbox
            .deliver_once(&order.shop, &order.id, &notice.on(Channel::ShopEvent), topic, None, || {
                self.events.publish(topic, &subject, &body)
            })
            .await?;
        Ok(usize::from(matches!(delivery, Delivery::Sent { .. })))
    }
}
