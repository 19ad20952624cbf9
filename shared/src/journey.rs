//! A parcel's journey: applies carrier updates to the shipment they belong to (or keeps them
//! until it is known), and sends what the new state calls for, once.

use crate::clock::Clock;
use crate::messaging::{EmailSender, SmsSender};
use crate::notify::{NotifyError, Outbox};
use crate::order::{OrderStatus, Shipment};
use crate::settings::ShopSettings;
use crate::store::{DeliveryRecord, OrderView, Store, StoreError, TrackingTarget};
use crate::tracking::{CarrierUpdate, ShipmentTracking, TrackingStatus};

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
        return_id: String,
        status: Option<TrackingStatus>,
    },
}

pub struct Journey<'a, S, E, T, C> {
    pub outbox: Outbox<'a, S, E, T, C>,
}

impl<S: Store, E: EmailSender, T: SmsSender, C: Clock> Journey<'_, S, E, T, C> {
    fn store(&self) -> &S {
        self.outbox.store
    }

    pub async fn apply_update(
        &self,
        settings: &ShopSettings,
        update: &CarrierUpdate,
    ) -> Result<TrackingOutcome, JourneyError> {
        let lookup = self.store().lookup_tracking(&settings.shop, &update.tracking_number).await?;
        if let Some(target) = &lookup.target {
            // The caller's span declares `order_id`; it is known only now.
            tracing::Span::current().record("order_id", target.order_id.as_str());
        }
        let Some(target) = lookup.target else {
            let expires_at = self.outbox.clock.now() + chrono::Duration::days(PENDING_UPDATE_TTL_DAYS);
            self.store().keep_pending_update(&settings.shop, update, expires_at).await?;
            return Ok(TrackingOutcome::AwaitingShipment);
        };
        if let Some(return_id) = target.return_id {
            let status = ShipmentTracking::default().merge(update).status;
            return Ok(TrackingOutcome::ReturnParcel { return_id, status });
        }
        let mut updates = lookup.pending;
        updates.push(update.clone());
        self.apply_to(settings, &target, &updates).await
    }

    /// Applies updates kept for a shipment's tracking number, when its fulfillment arrives.
    pub async fn apply_pending(
        &self,
        settings: &ShopSettings,
        shipment: &Shipment,
    ) -> Result<Option<TrackingOutcome>, JourneyError> {
        let Some(number) = &shipment.tracking_number else { return Ok(None) };
        let lookup = self.store().lookup_tracking(&settings.shop, number).await?;
        if lookup.pending.is_empty() {
            return Ok(None);
        }
        let target =
            TrackingTarget { order_id: shipment.order_id.clone(), shipment_id: shipment.id.clone(), return_id: None };
        Ok(Some(self.apply_to(settings, &target, &lookup.pending).await?))
    }

    async fn apply_to(
        &self,
        settings: &ShopSettings,
        target: &TrackingTarget,
        updates: &[CarrierUpdate],
    ) -> Result<TrackingOutcome, JourneyError> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let view = self.store().order_view(&settings.shop, &target.order_id).await?;
            let stored = view.tracking.get(&target.shipment_id);
            let before = stored.map(|v| v.value.clone()).unwrap_or_default();
            let mut version = stored.map(|v| v.version);
            let after = updates.iter().fold(before.clone(), |state, update| state.merge(update));
            if !after.same_journey(&before) {
                let written = self
                    .store()
                    .put_tracking(&settings.shop, &target.order_id, &target.shipment_id, &after, version)
                    .await?;
                if !written {
                    continue;
                }
                version = Some(version.map_or(1, |v| v + 1));
            }
            return self.announce(settings, &view, &target.shipment_id, after, version).await;
        }
        Err(JourneyError::Contended)
    }

    /// Sends what a shipment's tracking state calls for and has not been sent yet.
    pub async fn announce(
        &self,
        settings: &ShopSettings,
        view: &OrderView,
        shipment_id: &str,
        mut tracking: ShipmentTracking,
        version: Option<u64>,
    ) -> Result<TrackingOutcome, JourneyError> {
        let status = tracking.status;
        let shipment = view.shipments.iter().find(|s| s.id == shipment_id);
        // Without the order there is no one to tell yet: the order webhook announces it.
        let (Some(order), Some(shipment)) = (&view.order, shipment) else {
            return Ok(TrackingOutcome::Applied { status, messages_sent: 0 });
        };
        if order.status == OrderStatus::Cancelled {
            return Ok(TrackingOutcome::Applied { status, messages_sent: 0 });
        }
        let due = [
            tracking.announcement(shipment_id, settings.time_zone),
            tracking.delay_announcement(shipment_id, order.promised_delivery),
        ];
        let mut messages_sent = 0;
        let mut marked = false;
        for announcement in due.into_iter().flatten() {
            messages_sent += self
                .outbox
                .notify(settings, order, Some(shipment), Some(&tracking), announcement.kind, &announcement.scope)
                .await?;
            tracking.mark_announced(&announcement);
            marked = true;
        }
        if marked {
            // Only saves a claim attempt next time; losing this race costs nothing else.
            let _ = self.store().put_tracking(&settings.shop, &order.id, shipment_id, &tracking, version).await?;
        }
        if status == Some(TrackingStatus::Delivered) {
            self.record_delivery_when_complete(settings, view, shipment_id, &tracking).await?;
        }
        Ok(TrackingOutcome::Applied { status, messages_sent })
    }

    /// When every item has been delivered: record it and queue the review request.
    async fn record_delivery_when_complete(
        &self,
        settings: &ShopSettings,
        view: &OrderView,
        shipment_id: &str,
        tracking: &ShipmentTracking,
    ) -> Result<(), JourneyError> {
        let Some(order) = &view.order else { return Ok(()) };
        if view.delivery.is_some() {
            return Ok(());
        }
        let ordered: u32 = order.items.iter().map(|i| i.quantity).sum();
        let mut shipped = 0;
        let mut last_delivery = tracking.delivered_at;
        for shipment in &view.shipments {
            let state = if shipment.id == shipment_id {
                Some(tracking)
            } else {
                view.tracking.get(&shipment.id).map(|v| &v.value)
            };
            let Some(delivered_at) = state.and_then(|s| s.delivered_at) else { return Ok(()) };
            last_delivery = last_delivery.max(Some(delivered_at));
            // A shipment that lists no items carries the whole order.
            shipped +=
                if shipment.items.is_empty() { ordered } else { shipment.items.iter().map(|i| i.quantity).sum() };
        }
        let Some(delivered_at) = last_delivery else { return Ok(()) };
        if shipped < ordered {
            return Ok(());
        }
        let review_due_at = delivered_at + chrono::Duration::days(i64::from(settings.review_delay_days));
        let record = DeliveryRecord { delivered_at, review_due_at };
        if self.store().record_delivery(&settings.shop, &order.id, &record).await? {
            tracing::info!(review_due_at = %review_due_at, "order delivered; review request queued");
        }
        Ok(())
    }
}
