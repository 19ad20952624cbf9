//! An in-memory [`Store`](crate::ports::store::Store) for unit tests of handler logic. Same rules as the DynamoDB adapter,
//! decided under one lock.

use crate::domain::ids::{OrderId, ReturnId, ShipmentId, ShopId, TrackingNumber};
use crate::domain::mail_feedback::{MailFeedback, Suppression};
use crate::domain::messages::{Channel, DeliveryState, MessageKey, MessageRecord, Notice};
use crate::domain::order::{Order, Shipment};
use crate::domain::privacy::{PrivacyRecord, redact_message, redact_order, redact_return};
use crate::domain::returns::{Return, ReturnState};
use crate::domain::settings::ShopSettings;
use crate::domain::tracking::{CarrierUpdate, ShipmentTracking, TrackingStatus};
use crate::domain::watch::Watch;
use crate::ports::store::roles::*;
use crate::ports::store::{
    Applied, ChangeOutcome, Claim, ClaimBatch, ClaimOutcome, DeliveryRecord, DueReview, DueWatch, OrderView, Parcel,
    ReturnCreated, ReviewOutcome, StateChange, StoreError, SurveyAnswer, TrackingLookup, TrackingTarget, Upsert,
    Versioned, email_key,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

type OrderKey = (ShopId, OrderId);
/// A watch: its order, its shipment (none for the order's own), what it waits for, and the text
/// it holds back (a deferred text's).
type WatchKey = (ShopId, OrderId, Option<ShipmentId>, Watch, Option<Notice>);
/// A message log entry with the claim token and lease of its current holder.
type LogEntry = (MessageRecord, Option<String>, DateTime<Utc>);

#[derive(Default)]
struct State {
    settings: HashMap<ShopId, ShopSettings>,
    orders: HashMap<OrderKey, Order>,
    shipments: HashMap<OrderKey, BTreeMap<ShipmentId, Shipment>>,
    /// Shipments written with their number's index while nothing waited (`OrderView::indexed`).
    indexed: HashMap<OrderKey, BTreeSet<ShipmentId>>,
    messages: HashMap<OrderKey, BTreeMap<MessageKey, LogEntry>>,
    tracking_index: HashMap<(ShopId, TrackingNumber), TrackingTarget>,
    pending: HashMap<(ShopId, TrackingNumber), Vec<CarrierUpdate>>,
    tracking: HashMap<OrderKey, BTreeMap<ShipmentId, Versioned<ShipmentTracking>>>,
    deliveries: HashMap<OrderKey, DeliveryRecord>,
    shipments_first: HashSet<OrderKey>,
    /// Per tracking number: digests of applied updates and the latest status.
    applied: HashMap<(ShopId, TrackingNumber), (BTreeSet<String>, Option<TrackingStatus>)>,
    review_outcomes: HashMap<OrderKey, ReviewOutcome>,
    unsubscribed: HashSet<(ShopId, String)>,
    surveys: HashMap<OrderKey, SurveyAnswer>,
    returns: HashMap<(ShopId, ReturnId), Return>,
    returns_versions: HashMap<OrderKey, u64>,
    /// Deferred review requests: failed attempts and the time they are due again.
    review_retries: HashMap<OrderKey, (u32, DateTime<Utc>)>,
    /// Watched parcels and when each is due, as the items' index attributes in DynamoDB.
    watches: BTreeMap<WatchKey, DateTime<Utc>>,
    /// What SES said of each email, by its SES message id.
    mail_feedback: HashMap<OrderKey, BTreeMap<String, MailFeedback>>,
    /// Suppressed addresses, by the hash of each (`email_key`).
    suppressed: HashMap<(ShopId, String), Suppression>,
    /// Each address's orders, by the hash of the address.
    customers: HashMap<(ShopId, String), BTreeSet<OrderId>>,
    privacy: HashMap<ShopId, Vec<PrivacyRecord>>,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().expect("memory store lock"))
    }

    pub fn order_count(&self) -> usize {
        self.with(|s| s.orders.len())
    }
}

fn note_applied(s: &mut State, shop: &ShopId, applied: Applied<'_>) {
    let noted = s.applied.entry((shop.clone(), applied.number.clone())).or_default();
    noted.0.extend(applied.digests.iter().cloned());
    noted.1 = applied.status.or(noted.1);
}

/// The order under its customer's address (by its hash), as the DynamoDB index item.
fn index_customer(s: &mut State, order: &Order) {
    if let Some(email) = &order.customer.email {
        s.customers.entry((order.shop.clone(), email_key(email))).or_default().insert(order.id.clone());
    }
}

/// A shipment's item is written whole: watched for its first scan while it has a number.
fn watch_shipment(s: &mut State, shop: &ShopId, shipment: &Shipment) {
    let key = (shop.clone(), shipment.order_id.clone(), Some(shipment.id.clone()), Watch::FirstScan, None);
    match shipment.tracking_number {
        Some(_) => s.watches.insert(key, shipment.created_at),
        None => s.watches.remove(&key),
    };
}

/// A tracking state's item is written whole: watched for the next scan while `watch_at` says so.
fn watch_tracking(
    s: &mut State,
    shop: &ShopId,
    order: &OrderId,
    shipment_id: &ShipmentId,
    tracking: &ShipmentTracking,
) {
    let key = (shop.clone(), order.clone(), Some(shipment_id.clone()), Watch::NextScan, None);
    match tracking.watch_at {
        Some(at) => s.watches.insert(key, at),
        None => s.watches.remove(&key),
    };
}

fn index_shipment(s: &mut State, shop: &ShopId, shipment: &Shipment) {
    if let Some(number) = &shipment.tracking_number {
        let target = TrackingTarget::shipment(shipment.order_id.clone(), shipment.id.clone());
        s.tracking_index.insert((shop.clone(), number.clone()), target);
    }
}

impl SettingsStore for MemoryStore {
    async fn get_settings(&self, shop: &ShopId) -> Result<Option<ShopSettings>, StoreError> {
        Ok(self.with(|s| s.settings.get(shop).cloned()))
    }

    async fn put_settings(&self, settings: &ShopSettings) -> Result<(), StoreError> {
        self.with(|s| s.settings.insert(settings.shop.clone(), settings.clone()));
        Ok(())
    }

    async fn list_shops(&self) -> Result<Vec<ShopId>, StoreError> {
        let mut shops: Vec<ShopId> = self.with(|s| s.settings.keys().cloned().collect());
        shops.sort();
        Ok(shops)
    }
}

impl OrderStore for MemoryStore {
    async fn upsert_order(&self, order: &Order) -> Result<Upsert<Order>, StoreError> {
        Ok(self.with(|s| match s.orders.get(&(order.shop.clone(), order.id.clone())) {
            Some(stored) if stored.updated_at >= order.updated_at => Upsert::Stale(Box::new(stored.clone())),
            previous => {
                let outcome = if previous.is_some() { Upsert::Updated } else { Upsert::Created };
                s.orders.insert((order.shop.clone(), order.id.clone()), order.clone());
                index_customer(s, order);
                outcome
            }
        }))
    }

    async fn get_order(&self, shop: &ShopId, id: &OrderId) -> Result<Option<Order>, StoreError> {
        Ok(self.with(|s| s.orders.get(&(shop.clone(), id.clone())).cloned()))
    }

    async fn order_view(&self, shop: &ShopId, id: &OrderId) -> Result<OrderView, StoreError> {
        let key = (shop.clone(), id.clone());
        Ok(self.with(|s| OrderView {
            order: s.orders.get(&key).cloned(),
            shipments: s.shipments.get(&key).map(|m| m.values().cloned().collect()).unwrap_or_default(),
            messages: s.messages.get(&key).map(|m| m.values().map(|(r, _, _)| r.clone()).collect()).unwrap_or_default(),
            tracking: s.tracking.get(&key).cloned().unwrap_or_default(),
            delivery: s.deliveries.get(&key).cloned(),
            indexed: s.indexed.get(&key).cloned().unwrap_or_default(),
            returns_version: s.returns_versions.get(&key).copied().unwrap_or_default(),
            returns: s
                .returns
                .iter()
                .filter(|((sh, _), r)| sh == shop && r.request.order_id == *id)
                .map(|(_, r)| r.clone())
                .collect(),
            mail_feedback: s.mail_feedback.get(&key).map(|m| m.values().cloned().collect()).unwrap_or_default(),
        }))
    }

    async fn orders_by_number(&self, shop: &ShopId, number: &str) -> Result<Vec<Order>, StoreError> {
        let Some(number) = crate::ports::store::order_number_key(number) else { return Ok(Vec::new()) };
        let mut found: Vec<Order> = self.with(|s| {
            let matches = |order: &&Order| {
                crate::ports::store::order_number_key(&order.number).as_deref() == Some(number.as_str())
            };
            s.orders.iter().filter(|((sh, _), _)| sh == shop).map(|(_, order)| order).filter(matches).cloned().collect()
        });
        found.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        Ok(found)
    }

    async fn upsert_shipment(&self, shop: &ShopId, shipment: &Shipment) -> Result<Upsert<Shipment>, StoreError> {
        Ok(self.with(|s| {
            index_shipment(s, shop, shipment);
            let slot = s.shipments.entry((shop.clone(), shipment.order_id.clone())).or_default();
            match slot.get(&shipment.id) {
                Some(stored) if stored.updated_at >= shipment.updated_at => Upsert::Stale(Box::new(stored.clone())),
                previous => {
                    let outcome = if previous.is_some() { Upsert::Updated } else { Upsert::Created };
                    slot.insert(shipment.id.clone(), shipment.clone());
                    watch_shipment(s, shop, shipment);
                    // The item is replaced whole, without the mark.
                    let key = (shop.clone(), shipment.order_id.clone());
                    s.indexed.entry(key).or_default().remove(&shipment.id);
                    outcome
                }
            }
        }))
    }

    async fn mark_shipments_first(&self, shop: &ShopId, order: &OrderId) -> Result<(), StoreError> {
        self.with(|s| s.shipments_first.insert((shop.clone(), order.clone())));
        Ok(())
    }

    async fn record_delivery(
        &self,
        shop: &ShopId,
        order: &OrderId,
        record: &DeliveryRecord,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let key = (shop.clone(), order.clone());
            if s.deliveries.contains_key(&key) {
                return false;
            }
            s.deliveries.insert(key, record.clone());
            true
        }))
    }
}

impl TrackingStore for MemoryStore {
    async fn lookup_tracking(&self, shop: &ShopId, number: &TrackingNumber) -> Result<TrackingLookup, StoreError> {
        let key = (shop.clone(), number.clone());
        Ok(self.with(|s| {
            let (digests, status) = s.applied.get(&key).cloned().unwrap_or_default();
            TrackingLookup {
                target: s.tracking_index.get(&key).cloned(),
                pending: s.pending.get(&key).cloned().unwrap_or_default(),
                digests,
                status,
            }
        }))
    }

    async fn keep_pending_update(
        &self,
        shop: &ShopId,
        update: &CarrierUpdate,
        _: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let key = (shop.clone(), update.tracking_number.clone());
            if s.tracking_index.contains_key(&key) {
                return false;
            }
            let kept = s.pending.entry(key).or_default();
            if !kept.contains(update) {
                kept.push(update.clone());
            }
            true
        }))
    }

    async fn put_tracking(
        &self,
        shop: &ShopId,
        order: &OrderId,
        shipment_id: &ShipmentId,
        tracking: &ShipmentTracking,
        expected: Option<u64>,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let slot = s.tracking.entry((shop.clone(), order.clone())).or_default();
            let current = slot.get(shipment_id).map(|v| v.version);
            if current != expected {
                return false;
            }
            let version = expected.map_or(1, |v| v + 1);
            slot.insert(shipment_id.clone(), Versioned { value: tracking.clone(), version });
            watch_tracking(s, shop, order, shipment_id, tracking);
            true
        }))
    }
}

impl MessageLedger for MemoryStore {
    async fn claim_messages(
        &self,
        shop: &ShopId,
        order: &OrderId,
        keys: &[MessageKey],
        claim: &Claim,
        change: Option<StateChange<'_>>,
    ) -> Result<ClaimBatch, StoreError> {
        let order_key = (shop.clone(), order.clone());
        Ok(self.with(|s| {
            let log = s.messages.entry(order_key.clone()).or_default();
            let mut claims: Vec<ClaimOutcome> = keys
                .iter()
                .map(|key| match log.get(&key.clone()) {
                    Some((record, _, _)) if record.state != DeliveryState::Sending => ClaimOutcome::AlreadyDone,
                    Some((_, token, _)) if token.as_deref() == Some(claim.token.as_str()) => ClaimOutcome::Claimed,
                    Some((_, _, lease_until)) if *lease_until >= claim.at => ClaimOutcome::InFlight,
                    _ => ClaimOutcome::NotAttempted,
                })
                .collect();
            let refused = change.and_then(|change| match change {
                StateChange::NewOrder(new) => {
                    if s.orders.get(&order_key).is_some_and(|stored| stored.updated_at >= new.updated_at) {
                        Some(ChangeOutcome::Stale)
                    } else if s.shipments_first.contains(&order_key) {
                        Some(ChangeOutcome::ShipmentsFirst)
                    } else {
                        None
                    }
                }
                StateChange::NewShipment(new) => {
                    let number = new.tracking_number.as_ref().map(|n| (shop.clone(), n.clone()));
                    let stored = s.shipments.get(&order_key).and_then(|m| m.get(&new.id));
                    if number.is_some_and(|key| s.pending.get(&key).is_some_and(|kept| !kept.is_empty())) {
                        Some(ChangeOutcome::UpdatesWaiting)
                    } else if stored.is_some_and(|stored| stored.updated_at >= new.updated_at) {
                        Some(ChangeOutcome::Stale)
                    } else {
                        None
                    }
                }
                StateChange::Tracking(t) => {
                    let stored = s.tracking.get(&order_key);
                    let version = |id: &ShipmentId| stored.and_then(|m| m.get(id)).map(|v| v.version);
                    let delivered_before = t.delivery.is_some() && s.deliveries.contains_key(&order_key);
                    let others_moved = t.others.iter().any(|(id, expected)| version(id) != *expected);
                    let order_came = t.unannounced.order_missing && s.orders.contains_key(&order_key);
                    let shipment_came = t.unannounced.shipment_missing
                        && s.shipments.get(&order_key).is_some_and(|m| m.contains_key(t.shipment_id));
                    let audience_came = order_came || shipment_came;
                    (version(t.shipment_id) != t.expected || delivered_before || others_moved || audience_came)
                        .then_some(ChangeOutcome::Stale)
                }
            });
            if let Some(outcome) = refused {
                return ClaimBatch { change: Some(outcome), claims };
            }
            match change {
                Some(StateChange::NewOrder(new)) => {
                    s.orders.insert(order_key.clone(), new.clone());
                    index_customer(s, new);
                    if new.status != crate::domain::order::OrderStatus::Cancelled {
                        s.watches.insert((shop.clone(), order.clone(), None, Watch::ShipBy, None), new.placed_at);
                    }
                }
                Some(StateChange::NewShipment(new)) => {
                    index_shipment(s, shop, new);
                    s.shipments.entry(order_key.clone()).or_default().insert(new.id.clone(), new.clone());
                    s.indexed.entry(order_key.clone()).or_default().insert(new.id.clone());
                    watch_shipment(s, shop, new);
                }
                Some(StateChange::Tracking(t)) => {
                    let version = t.expected.map_or(1, |v| v + 1);
                    let slot = s.tracking.entry(order_key.clone()).or_default();
                    slot.insert(t.shipment_id.clone(), Versioned { value: t.tracking.clone(), version });
                    watch_tracking(s, shop, order, t.shipment_id, t.tracking);
                    for text in t.deferred {
                        let shipment = text.notice.scope.shipment().cloned();
                        let key = (shop.clone(), order.clone(), shipment, Watch::Text, Some(text.notice.clone()));
                        s.watches.insert(key, text.until);
                    }
                    if let Some(applied) = t.applied {
                        note_applied(s, shop, applied);
                    }
                    if let Some(record) = t.delivery {
                        s.deliveries.insert(order_key.clone(), record.clone());
                    }
                }
                None => {}
            }
            let suppression = claim.email_to.as_ref().and_then(|to| s.suppressed.get(&(shop.clone(), email_key(to))));
            let suppression = suppression.cloned();
            let log = s.messages.entry(order_key).or_default();
            for (key, outcome) in keys.iter().zip(claims.iter_mut()) {
                if *outcome == ClaimOutcome::NotAttempted {
                    let record = MessageRecord::claimed(key, claim.at);
                    log.insert(key.clone(), (record, Some(claim.token.clone()), claim.lease_until));
                    *outcome = match &suppression {
                        Some(suppression) if key.channel == Channel::Email => {
                            ClaimOutcome::Suppressed(suppression.clone())
                        }
                        _ => ClaimOutcome::Claimed,
                    };
                }
            }
            ClaimBatch { change: change.map(|_| ChangeOutcome::Written), claims }
        }))
    }

    async fn complete_messages(
        &self,
        shop: &ShopId,
        order: &OrderId,
        records: &[MessageRecord],
        applied: Option<Applied<'_>>,
    ) -> Result<(), StoreError> {
        self.with(|s| {
            if let Some(applied) = applied {
                note_applied(s, shop, applied);
            }
            let log = s.messages.entry((shop.clone(), order.clone())).or_default();
            for record in records {
                let key = record.key();
                let lease = log.get(&key).map_or(record.at, |e| e.2);
                log.insert(key, (record.clone(), None, lease));
            }
        });
        Ok(())
    }

    async fn release_message(
        &self,
        shop: &ShopId,
        order: &OrderId,
        key: &MessageKey,
        claim_token: &str,
    ) -> Result<(), StoreError> {
        self.with(|s| {
            if let Some(log) = s.messages.get_mut(&(shop.clone(), order.clone())) {
                let slot = key.clone();
                if log.get(&slot).is_some_and(|e| e.1.as_deref() == Some(claim_token)) {
                    log.remove(&slot);
                }
            }
        });
        Ok(())
    }
}

impl ReviewStore for MemoryStore {
    async fn due_reviews(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueReview>, StoreError> {
        Ok(self.with(|s| {
            let due_at = |key: &OrderKey, record: &DeliveryRecord| {
                s.review_retries.get(key).map_or((0, record.review_due_at), |(attempts, at)| (*attempts, *at))
            };
            let mut due: Vec<(DateTime<Utc>, DueReview)> = s
                .deliveries
                .iter()
                .filter(|(key, record)| {
                    key.0 == *shop
                        && (from..=to).contains(&due_at(key, record).1)
                        && !s.review_outcomes.contains_key(key)
                })
                .map(|(key, record)| {
                    let (attempts, at) = due_at(key, record);
                    (at, DueReview { order_id: key.1.clone(), delivery: record.clone(), attempts })
                })
                .collect();
            due.sort_by(|(a_at, a), (b_at, b)| (a_at, &a.order_id).cmp(&(b_at, &b.order_id)));
            due.truncate(limit);
            due.into_iter().map(|(_, due)| due).collect()
        }))
    }

    async fn defer_review(&self, shop: &ShopId, due: &DueReview, until: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let key = (shop.clone(), due.order_id.clone());
            let attempts = s.review_retries.get(&key).map_or(0, |(attempts, _)| *attempts);
            if s.review_outcomes.contains_key(&key) || attempts != due.attempts {
                return false;
            }
            s.review_retries.insert(key, (due.attempts + 1, until));
            true
        }))
    }

    async fn finish_review(&self, shop: &ShopId, due: &DueReview, outcome: &ReviewOutcome) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let key = (shop.clone(), due.order_id.clone());
            if s.review_outcomes.contains_key(&key) {
                return false;
            }
            s.review_outcomes.insert(key, outcome.clone());
            true
        }))
    }

    async fn review_outcomes(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ReviewOutcome>, StoreError> {
        Ok(self.with(|s| {
            s.review_outcomes
                .iter()
                .filter(|((sh, _), outcome)| sh == shop && (from..=to).contains(&outcome.at()))
                .map(|(_, outcome)| outcome.clone())
                .collect()
        }))
    }

    async fn record_survey_answer(&self, shop: &ShopId, answer: &SurveyAnswer) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let key = (shop.clone(), answer.order_id.clone());
            match s.surveys.get(&key) {
                Some(stored) if stored.answered_at > answer.answered_at => false,
                _ => {
                    s.surveys.insert(key, answer.clone());
                    true
                }
            }
        }))
    }

    async fn survey_answers(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SurveyAnswer>, StoreError> {
        Ok(self.with(|s| {
            s.surveys
                .iter()
                .filter(|((sh, _), a)| sh == shop && (from..=to).contains(&a.answered_at))
                .map(|(_, a)| a.clone())
                .collect()
        }))
    }
}

impl PrivacyStore for MemoryStore {
    async fn customer_orders(&self, shop: &ShopId, email: &str) -> Result<Vec<OrderId>, StoreError> {
        let key = (shop.clone(), email_key(email));
        Ok(self.with(|s| s.customers.get(&key).map(|ids| ids.iter().cloned().collect()).unwrap_or_default()))
    }

    async fn redact_order(&self, shop: &ShopId, order: &OrderId) -> Result<bool, StoreError> {
        let key = (shop.clone(), order.clone());
        Ok(self.with(|s| {
            let Some(stored) = s.orders.get_mut(&key) else { return false };
            if let Some(email) = stored.customer.email.take()
                && let Some(ids) = s.customers.get_mut(&(shop.clone(), email_key(&email)))
            {
                ids.remove(order);
            }
            let stored = s.orders.get_mut(&key).expect("read above");
            redact_order(stored);
            for (record, _, _) in s.messages.get_mut(&key).into_iter().flat_map(|log| log.values_mut()) {
                redact_message(record);
            }
            if let Some(answer) = s.surveys.get_mut(&key) {
                answer.redact();
            }
            for ret in s.returns.iter_mut().filter(|((sh, _), r)| sh == shop && r.request.order_id == *order) {
                redact_return(ret.1);
            }
            true
        }))
    }

    async fn redact_suppression(&self, shop: &ShopId, email: &str) -> Result<(), StoreError> {
        self.with(|s| {
            if let Some(suppression) = s.suppressed.get_mut(&(shop.clone(), email_key(email))) {
                suppression.address = None;
            }
        });
        Ok(())
    }

    async fn forget_shop(&self, shop: &ShopId) -> Result<(), StoreError> {
        self.with(|s| s.settings.remove(shop));
        Ok(())
    }

    async fn note_privacy(&self, shop: &ShopId, record: &PrivacyRecord) -> Result<(), StoreError> {
        self.with(|s| s.privacy.entry(shop.clone()).or_default().push(record.clone()));
        Ok(())
    }

    async fn privacy_records(&self, shop: &ShopId) -> Result<Vec<PrivacyRecord>, StoreError> {
        let mut records = self.with(|s| s.privacy.get(shop).cloned().unwrap_or_default());
        records.sort_by_key(|r| r.at);
        Ok(records)
    }
}

impl MailStore for MemoryStore {
    async fn note_mail_feedback(
        &self,
        shop: &ShopId,
        order: &OrderId,
        feedback: &MailFeedback,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let noted = s.mail_feedback.entry((shop.clone(), order.clone())).or_default();
            let graver =
                noted.get(&feedback.provider_message_id).is_none_or(|n| n.outcome.rank() < feedback.outcome.rank());
            if graver {
                noted.insert(feedback.provider_message_id.clone(), feedback.clone());
            }
            graver
        }))
    }

    async fn suppress(&self, shop: &ShopId, address: &str, suppression: &Suppression) -> Result<bool, StoreError> {
        Ok(self.with(|s| match s.suppressed.entry((shop.clone(), email_key(address))) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(suppression.clone());
                true
            }
        }))
    }

    async fn unsuppress(&self, shop: &ShopId, address: &str) -> Result<bool, StoreError> {
        Ok(self.with(|s| s.suppressed.remove(&(shop.clone(), email_key(address))).is_some()))
    }

    async fn suppression(&self, shop: &ShopId, address: &str) -> Result<Option<Suppression>, StoreError> {
        Ok(self.with(|s| s.suppressed.get(&(shop.clone(), email_key(address))).cloned()))
    }

    async fn suppressions(&self, shop: &ShopId) -> Result<Vec<Suppression>, StoreError> {
        Ok(self.with(|s| s.suppressed.iter().filter(|((sh, _), _)| sh == shop).map(|(_, v)| v.clone()).collect()))
    }
}

impl ConsentStore for MemoryStore {
    async fn is_unsubscribed(&self, shop: &ShopId, email: &str) -> Result<bool, StoreError> {
        Ok(self.with(|s| s.unsubscribed.contains(&(shop.clone(), email_key(email)))))
    }

    async fn unsubscribe(&self, shop: &ShopId, email: &str, _: DateTime<Utc>) -> Result<(), StoreError> {
        self.with(|s| s.unsubscribed.insert((shop.clone(), email_key(email))));
        Ok(())
    }
}

impl ReturnStore for MemoryStore {
    async fn create_return(
        &self,
        shop: &ShopId,
        ret: &Return,
        reserves: Option<u64>,
    ) -> Result<ReturnCreated, StoreError> {
        Ok(self.with(|s| {
            let key = (shop.clone(), ret.id.clone());
            if let Some(existing) = s.returns.get(&key) {
                return ReturnCreated::Exists(Box::new(existing.clone()));
            }
            if let Some(read_at) = reserves {
                let version = s.returns_versions.entry((shop.clone(), ret.request.order_id.clone())).or_default();
                if *version != read_at {
                    return ReturnCreated::Stale;
                }
                *version += 1;
            }
            s.returns.insert(key, ret.clone());
            ReturnCreated::Created
        }))
    }

    async fn update_return(&self, shop: &ShopId, ret: &Return, from: ReturnState) -> Result<bool, StoreError> {
        Ok(self.with(|s| match s.returns.get_mut(&(shop.clone(), ret.id.clone())) {
            Some(stored) if stored.state == from => {
                *stored = ret.clone();
                true
            }
            _ => false,
        }))
    }

    async fn find_return(&self, shop: &ShopId, id: &ReturnId) -> Result<Option<Return>, StoreError> {
        Ok(self.with(|s| s.returns.get(&(shop.clone(), id.clone())).cloned()))
    }

    async fn returns_in_state(&self, shop: &ShopId, state: ReturnState) -> Result<Vec<Return>, StoreError> {
        Ok(self.with(|s| {
            s.returns.iter().filter(|((sh, _), r)| sh == shop && r.state == state).map(|(_, r)| r.clone()).collect()
        }))
    }

    async fn register_return_parcel(
        &self,
        shop: &ShopId,
        number: &TrackingNumber,
        order: &OrderId,
        return_id: &ReturnId,
    ) -> Result<(), StoreError> {
        let target = TrackingTarget { order_id: order.clone(), parcel: Parcel::Return(return_id.clone()) };
        self.with(|s| s.tracking_index.insert((shop.clone(), number.clone()), target));
        Ok(())
    }
}

impl WatchStore for MemoryStore {
    async fn due_watches(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueWatch>, StoreError> {
        // To the second, as the index's sort key keeps them.
        let second = |at: DateTime<Utc>| DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at);
        Ok(self.with(|s| {
            let mut due: Vec<DueWatch> = s
                .watches
                .iter()
                .filter(|((watched, ..), at)| watched == shop && (second(from)..=to).contains(&second(**at)))
                .map(|((_, order, shipment, watch, text), at)| DueWatch {
                    order_id: order.clone(),
                    shipment_id: shipment.clone(),
                    watch: *watch,
                    at: second(*at),
                    text: text.clone(),
                })
                .collect();
            due.sort_by(|a, b| (a.at, a.order_id.as_str()).cmp(&(b.at, b.order_id.as_str())));
            due.truncate(limit);
            due
        }))
    }

    async fn retime_watch(&self, shop: &ShopId, due: &DueWatch, until: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let key = (shop.clone(), due.order_id.clone(), due.shipment_id.clone(), due.watch, due.text.clone());
            match s.watches.get_mut(&key) {
                Some(at) if at.timestamp() == due.at.timestamp() => {
                    *at = until;
                    true
                }
                _ => false,
            }
        }))
    }

    async fn finish_watch(&self, shop: &ShopId, due: &DueWatch) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let key = (shop.clone(), due.order_id.clone(), due.shipment_id.clone(), due.watch, due.text.clone());
            match s.watches.get(&key) {
                Some(at) if at.timestamp() == due.at.timestamp() => s.watches.remove(&key).is_some(),
                _ => false,
            }
        }))
    }

    async fn watch_order(&self, shop: &ShopId, order: &OrderId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.with(|s| s.watches.insert((shop.clone(), order.clone(), None, Watch::ShipBy, None), at));
        Ok(())
    }
}
