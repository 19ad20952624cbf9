//! A parcel's journey: applies carrier updates to the shipment they belong to (or keeps them
//! until it is known), and sends what the new state calls for, once.

use crate::app::context::Ports;
use crate::app::outbox::{NotifyError, Outbox, message_channels};
use crate::domain::ids::{OrderId, ReturnId, ShipmentId, TrackingNumber};
use crate::domain::messages::{Channel, DeliveryState, MessageKind, MessageRecord, MessageScope};
use crate::domain::notification::{self, Decision, Quiet, Told};
use crate::domain::order::{Order, OrderStatus, Shipment};
use crate::domain::quiet_hours::{DeferredText, recipient_time_zone};
use crate::domain::settings::ShopSettings;
use crate::domain::tracking::{CarrierUpdate, ShipmentTracking, TrackingStatus};
use crate::domain::watch;
use crate::ports::clock::Clock;
use crate::ports::store::{
    Applied, ChangeOutcome, DeliveryRecord, OrderStore, OrderView, Parcel, StateChange, StoreError, TrackingChange,
    TrackingStore, Unannounced,
};
use crate::render::MessageContext;
use std::collections::{BTreeMap, BTreeSet};

/// Updates for unknown tracking numbers are kept this long for their fulfillment to arrive.
pub const PENDING_UPDATE_TTL_DAYS: i64 = 30;
/// Concurrent updates of one shipment retry their conditional write this often.
const MAX_WRITE_ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum JourneyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error("the shipment's tracking changed under {MAX_WRITE_ATTEMPTS} concurrent writes")]
    Contended,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackingOutcome {
    /// No shipment has this tracking number yet; the update is kept for when one does.
    AwaitingShipment,
    Applied {
        status: Option<TrackingStatus>,
        messages_sent: usize,
    },
    /// The number is a return parcel's: the return flow takes it from here.
    ReturnParcel {
        return_id: ReturnId,
        status: Option<TrackingStatus>,
    },
}

pub struct Journey<'a, P: Ports> {
    pub outbox: Outbox<'a, P>,
}

impl<P: Ports> Journey<'_, P> {
    fn store(&self) -> &P::Store {
        self.outbox.store
    }

    pub async fn apply_update(
        &self,
        settings: &ShopSettings,
        update: &CarrierUpdate,
    ) -> Result<TrackingOutcome, JourneyError> {
        let mut attempts = 0;
        let (lookup, target) = loop {
            let mut lookup = self.store().lookup_tracking(&settings.shop, &update.tracking_number).await?;
            if let Some(target) = lookup.target.take() {
                // The caller's span declares `order_id`; it is known only now.
                tracing::Span::current().record("order_id", target.order_id.as_str());
                break (lookup, target);
            }
            let expires_at = self.outbox.clock.now() + chrono::Duration::days(PENDING_UPDATE_TTL_DAYS);
            if self.store().keep_pending_update(&settings.shop, update, expires_at).await? {
                return Ok(TrackingOutcome::AwaitingShipment);
            }
            // Its shipment arrived since the lookup: look again.
            attempts += 1;
            if attempts == MAX_WRITE_ATTEMPTS {
                return Err(JourneyError::Contended);
            }
        };
        let shipment_id = match target.parcel {
            Parcel::Shipment(id) => id,
            Parcel::Return(return_id) => {
                let status = ShipmentTracking::default().merge(update).status;
                return Ok(TrackingOutcome::ReturnParcel { return_id, status });
            }
        };
        let mut updates = lookup.pending;
        updates.push(update.clone());
        let digests: BTreeSet<String> = updates.iter().flat_map(CarrierUpdate::digests).collect();
        if digests.is_subset(&lookup.digests) {
            // A duplicate or a late replay: everything in it was applied (and announced) before.
            return Ok(TrackingOutcome::Applied { status: lookup.status, messages_sent: 0 });
        }
        let digests: Vec<String> = digests.into_iter().collect();
        let number = Some((&update.tracking_number, digests.as_slice()));
        self.apply_to(settings, (&target.order_id, &shipment_id), &updates, number).await
    }

    /// When a fulfillment arrives the slow way: applies the updates kept for its tracking number,
    /// and announces what its stored tracking calls for (a callback that found the number before
    /// the shipment or the order was stored wrote its state unannounced).
    pub async fn apply_pending(
        &self,
        settings: &ShopSettings,
        shipment: &Shipment,
    ) -> Result<Option<TrackingOutcome>, JourneyError> {
        let Some(number) = &shipment.tracking_number else { return Ok(None) };
        let lookup = self.store().lookup_tracking(&settings.shop, number).await?;
        let digests: Vec<String> =
            lookup.pending.iter().flat_map(CarrierUpdate::digests).collect::<BTreeSet<_>>().into_iter().collect();
        let number = (!digests.is_empty()).then_some((number, digests.as_slice()));
        Ok(Some(self.apply_to(settings, (&shipment.order_id, &shipment.id), &lookup.pending, number).await?))
    }

    /// Sends what a shipment's stored tracking calls for and has not been sent yet (for an
    /// order that arrives after its shipments).
    pub async fn announce_stored(
        &self,
        settings: &ShopSettings,
        order: &OrderId,
        shipment_id: &ShipmentId,
    ) -> Result<TrackingOutcome, JourneyError> {
        self.apply_to(settings, (order, shipment_id), &[], None).await
    }

    /// Reads the order, merges the updates, and writes the new state together with the claims of
    /// what it calls for, in one transaction; then sends. A concurrent writer makes it read again.
    async fn apply_to(
        &self,
        settings: &ShopSettings,
        (order_id, shipment_id): (&OrderId, &ShipmentId),
        updates: &[CarrierUpdate],
        number: Option<(&TrackingNumber, &[String])>,
    ) -> Result<TrackingOutcome, JourneyError> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let view = self.store().order_view(&settings.shop, order_id).await?;
            let stored = view.tracking.get(shipment_id);
            let before = stored.map(|v| v.value.clone()).unwrap_or_default();
            let after = updates.iter().fold(before.clone(), |state, update| state.merge(update));
            let write = match stored {
                _ if after.same_journey(&before) => TrackingWrite::Keep,
                None => TrackingWrite::Create,
                Some(stored) => TrackingWrite::Replace { version: stored.version },
            };
            let shipment = (order_id, shipment_id);
            if let Some(outcome) = self.announce(settings, &view, shipment, after, write, number).await? {
                return Ok(outcome);
            }
        }
        Err(JourneyError::Contended)
    }

    /// Writes the state (when `write` holds the version it must replace) and claims what it
    /// calls for in one request, then sends. `None` when another request changed the order's
    /// tracking first.
    async fn announce(
        &self,
        settings: &ShopSettings,
        view: &OrderView,
        (order_id, shipment_id): (&OrderId, &ShipmentId),
        mut tracking: ShipmentTracking,
        write: TrackingWrite,
        number: Option<(&TrackingNumber, &[String])>,
    ) -> Result<Option<TrackingOutcome>, JourneyError> {
        let status = tracking.status;
        // When to look again if no scan comes: written with the state, so the watch costs nothing here.
        tracking.watch_at = watch::next_scan_due(&tracking, &settings.notifications.watch(), settings.time_zone);
        let shipment = view.shipments.iter().find(|s| s.id == *shipment_id);
        // Without the order there is no one to tell yet: the order webhook announces it.
        let audience = match (&view.order, shipment) {
            (Some(order), Some(shipment)) if order.status != OrderStatus::Cancelled => Some((order, shipment)),
            _ => None,
        };
        let links = match audience {
            Some((order, _)) => {
                Some(self.outbox.links().await?.for_order(&order.shop, &order.id, self.outbox.clock.now()))
            }
            None => None,
        };
        let mut prepared = Vec::new();
        let mut delivery = None;
        let mut deferred = Vec::new();
        if let (Some((order, shipment)), Some(links)) = (audience, &links) {
            let done = done_records(settings, order, view);
            tracking.recall(shipment_id, settings.time_zone, done.iter().copied());
            let told = Told::recall(shipment_id, done.iter().copied(), &view.messages);
            let now = self.outbox.clock.now();
            let policy = &settings.notifications;
            let today = now.with_timezone(&settings.time_zone).date_naive();
            let delay = tracking.delay_announcement(shipment_id, order.promised_delivery, today);
            let mut due = [
                notification::decide(&tracking, shipment_id, &told, now, policy),
                delay
                    .map_or(Decision::Quiet(Quiet::NothingNew), |notice| notification::channels(notice, &told, policy)),
            ];
            // No parcel text at night where the customer is: it waits for the morning. (The
            // zone is looked up only when something would be texted.)
            let texts = due.iter().any(|d| matches!(d, Decision::Announce { sms: true, .. }));
            let zone = texts.then(|| recipient_time_zone(order.shipping_address.as_ref(), settings.time_zone));
            if let Some((zone, until)) = zone.and_then(|zone| Some((zone, policy.quiet_hours().until(now, zone)?))) {
                for decision in &mut due {
                    if let Decision::Announce { notice, sms, .. } = decision
                        && *sms
                        && message_channels(settings, order, notice).contains(&Channel::Sms)
                    {
                        *sms = false;
                        let local = until.with_timezone(&zone).format("%Y-%m-%d %H:%M");
                        tracing::info!(notice = %notice, "text deferred: quiet hours");
                        tracking.note_quiet(format!("text deferred: quiet hours, sent at {local} ({zone})"));
                        deferred.push(DeferredText { notice: notice.clone(), until });
                    }
                }
            }
            // Why a state is not announced is kept with it, for the operator.
            for decision in &due {
                if let Decision::Quiet(why) = decision
                    && *why != Quiet::NothingNew
                {
                    tracing::info!(status = ?tracking.status.map(TrackingStatus::as_str), reason = %why, "no message");
                    tracking.note_quiet(why);
                }
            }
            let ctx = MessageContext {
                shipment: Some(shipment),
                tracking: Some(&tracking),
                ..MessageContext::about_order(settings, order, links)
            };
            for decision in due {
                if let Decision::Announce { notice, email, sms } = decision {
                    let allowed = |channel| match channel {
                        Channel::Email => email,
                        Channel::Sms => sms,
                        Channel::ShopEvent => false,
                    };
                    prepared.extend(self.outbox.prepare_on(&ctx, &notice, allowed)?);
                }
            }
            if status == Some(TrackingStatus::Delivered) && view.delivery.is_none() {
                delivery = delivery_record(settings, view, shipment_id, &tracking);
            }
        }
        if write == TrackingWrite::Keep
            && delivery.is_none()
            && deferred.is_empty()
            && prepared.is_empty()
            && number.is_none()
        {
            return Ok(Some(TrackingOutcome::Applied { status, messages_sent: 0 }));
        }
        // A delivery is decided from the other shipments' states: they must not move meanwhile,
        // or two parcels delivered at once could each miss the other.
        let others: Vec<(&ShipmentId, Option<u64>)> =
            match status == Some(TrackingStatus::Delivered) && view.delivery.is_none() {
                true => view
                    .shipments
                    .iter()
                    .filter(|s| s.id != *shipment_id)
                    .map(|s| (&s.id, view.tracking.get(&s.id).map(|v| v.version)))
                    .collect(),
                false => Vec::new(),
            };
        let applied = number.map(|(number, digests)| Applied { number, digests, status });
        // Claims of an unchanged state need no version check: concurrent copies of one update
        // then meet at the claims (one sends, the others find it in flight or done).
        // A deferred text is written with the state (at its version, like any change).
        let needs_change = write != TrackingWrite::Keep || delivery.is_some() || !deferred.is_empty();
        // What the update says is noted as applied with its last effect: the state change when it
        // calls for no message, else the messages' records (a failed send must not look done).
        let (with_change, after_sends) =
            if prepared.is_empty() && needs_change { (applied, None) } else { (None, applied) };
        let change = TrackingChange {
            order: order_id,
            shipment_id,
            tracking: &tracking,
            expected: match write {
                TrackingWrite::Create => None,
                TrackingWrite::Replace { version } => Some(version),
                TrackingWrite::Keep => view.tracking.get(shipment_id).map(|v| v.version),
            },
            applied: with_change,
            delivery: delivery.as_ref(),
            deferred: &deferred,
            others: &others,
            unannounced: Unannounced { order_missing: view.order.is_none(), shipment_missing: shipment.is_none() },
        };
        let change = needs_change.then_some(StateChange::Tracking(change));
        let batch = self.outbox.send(settings, order_id, prepared, change, after_sends).await?;
        if needs_change && batch.change != Some(ChangeOutcome::Written) {
            return Ok(None);
        }
        if let Some(record) = delivery {
            tracing::info!(review_due_at = %record.review_due_at, "order delivered; review request queued");
        }
        Ok(Some(TrackingOutcome::Applied { status, messages_sent: batch.new_sends() }))
    }
}

/// What an update does to a shipment's stored tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrackingWrite {
    /// The carrier said nothing new: only claims (and the update's digests) are written.
    Keep,
    /// The shipment's first state.
    Create,
    /// A new state, replacing the one stored at `version`.
    Replace { version: u64 },
}

/// Records of the order's messages that went out (or failed for good) on every channel their
/// kind goes to this customer on.
fn done_records<'v>(settings: &ShopSettings, order: &Order, view: &'v OrderView) -> Vec<&'v MessageRecord> {
    let mut channels_done: BTreeMap<(MessageKind, &MessageScope), BTreeSet<Channel>> = BTreeMap::new();
    let finished = || view.messages.iter().filter(|m| m.state != DeliveryState::Sending);
    for record in finished() {
        channels_done.entry((record.kind, &record.scope)).or_default().insert(record.channel);
    }
    let done = |record: &MessageRecord| {
        let channels = &channels_done[&(record.kind, &record.scope)];
        message_channels(settings, order, &record.key().notice()).iter().all(|c| channels.contains(c))
    };
    finished().filter(|record| done(record)).collect()
}

/// When every item has been delivered: the delivery record that queues the review request.
fn delivery_record(
    settings: &ShopSettings,
    view: &OrderView,
    shipment_id: &ShipmentId,
    tracking: &ShipmentTracking,
) -> Option<DeliveryRecord> {
    let order = view.order.as_ref()?;
    let ordered: u32 = order.items.iter().map(|i| i.quantity).sum();
    let mut shipped = 0;
    let mut last_delivery = tracking.delivered_at;
    for shipment in &view.shipments {
        let state = if shipment.id == *shipment_id {
            Some(tracking)
        } else {
            view.tracking.get(&shipment.id).map(|v| &v.value)
        };
        let delivered_at = state.and_then(|s| s.delivered_at)?;
        last_delivery = last_delivery.max(Some(delivered_at));
        // A shipment that lists no items carries the whole order.
        shipped += if shipment.items.is_empty() { ordered } else { shipment.items.iter().map(|i| i.quantity).sum() };
    }
    let delivered_at = last_delivery?;
    if shipped < ordered {
        return None;
    }
    let review_due_at = delivered_at + chrono::Duration::days(i64::from(settings.review_delay_days));
    Some(DeliveryRecord { delivered_at, review_due_at })
}
