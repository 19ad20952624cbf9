//! The storage port's contract: one suite of rules, run against the in-memory store (the fake
//! behind the handlers' unit tests) and the DynamoDB adapter on moto, so the fake is proven to
//! decide as DynamoDB does. Each rule is a function generic over the port; the macro at the end
//! runs it once per store. A rule that holds for one store and not the other is a defect of the
//! one it fails on.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ppx_e2e::{fixture_bytes, repo_path, sdk_config, unique};
use ppx_shared::adapters::dynamo::{DynamoStore, create_table_if_missing};
use ppx_shared::adapters::memory::store::MemoryStore;
use ppx_shared::domain::ids::{OrderId, ReturnId, ShipmentId, ShopId, TrackingNumber};
use ppx_shared::domain::mail_feedback::{MailFeedback, MailOutcome, Suppression, SuppressionReason};
use ppx_shared::domain::messages::{
    Channel, DeliveryState, MessageKey, MessageKind, MessageRecord, MessageScope, Notice,
};
use ppx_shared::domain::order::{Order, Shipment};
use ppx_shared::domain::privacy::{PrivacyAction, PrivacyRecord};
use ppx_shared::domain::quiet_hours::DeferredText;
use ppx_shared::domain::returns::{RequestedItem, Resolution, Return, ReturnRequest, ReturnState, decide, return_id};
use ppx_shared::domain::settings::ShopSettings;
use ppx_shared::domain::situation::Situation;
use ppx_shared::domain::tracking::{CarrierUpdate, ShipmentTracking, TrackingStatus};
use ppx_shared::domain::watch::Watch;
use ppx_shared::inbound::platforms::PlatformEvent;
use ppx_shared::ports::store::{
    Applied, ChangeOutcome, Claim, ClaimOutcome, DeliveryRecord, DueWatch, Parcel, ReturnCreated, ReviewOutcome,
    SkipReason, StateChange, Store, SurveyAnswer, TrackingChange, TrackingTarget, Unannounced, Upsert,
};

/// A shop of its own for each rule (the DynamoDB rules may share a table).
struct Shop {
    settings: ShopSettings,
    now: DateTime<Utc>,
}

impl Shop {
    fn new() -> Self {
        let json = std::fs::read_to_string(repo_path("events/shop.example.json")).unwrap();
        let mut settings = ShopSettings::from_json(&json).unwrap();
        settings.shop = ShopId::parse(&format!("contract-{}", unique())).unwrap();
        // Whole milliseconds: what the store keeps of an instant.
        let now = Utc.timestamp_millis_opt(1_800_000_000_123).unwrap();
        Self { settings, now }
    }

    fn id(&self) -> &ShopId {
        &self.settings.shop
    }

    /// The Shopify sample order, as `id`, last updated `minutes` after `now`.
    fn order(&self, id: &str, minutes: i64) -> Order {
        let body = fixture_bytes("shopify-orders-create.json");
        let event = ppx_shared::inbound::platforms::shopify::parse(self.id(), "orders/create", &body).unwrap();
        let PlatformEvent::Order { order, .. } = event else { panic!("{event:?}") };
        let mut order = *order;
        order.id = OrderId::parse(id).unwrap();
        order.updated_at = self.now + Duration::minutes(minutes);
        order
    }

    fn shipment(&self, order: &str, id: &str, number: &str, minutes: i64) -> Shipment {
        let body = fixture_bytes("shopify-fulfillments-create.json");
        let event = ppx_shared::inbound::platforms::shopify::parse(self.id(), "fulfillments/create", &body).unwrap();
        let PlatformEvent::Fulfillment { mut shipment } = event else { panic!("{event:?}") };
        shipment.id = sid(id);
        shipment.order_id = OrderId::parse(order).unwrap();
        shipment.tracking_number = Some(TrackingNumber::parse(number).unwrap());
        shipment.updated_at = self.now + Duration::minutes(minutes);
        shipment
    }

    fn update(&self, number: &str, status: &str) -> CarrierUpdate {
        let body = serde_json::json!({
            "tracking_number": number,
            "carrier": "UPS",
            "events": [{ "status": status, "occurred_at": self.now.to_rfc3339(), "message": "Scanned" }],
        });
        let body = serde_json::to_vec(&body).unwrap();
        ppx_shared::inbound::carriers::generic_tracking::parse(&body).unwrap().unwrap()
    }

    fn claim(&self, token: &str, at: DateTime<Utc>) -> Claim {
        Claim { token: token.to_owned(), at, lease_until: at + Duration::minutes(5), email_to: None }
    }

    /// A return of `quantity` of the order's first item, decided from `earlier`.
    fn new_return(&self, order: &Order, key: &str, quantity: u32, earlier: &[Return]) -> Return {
        let line = order.items[0].id.clone().unwrap();
        let request = ReturnRequest {
            order_id: order.id.clone(),
            items: vec![RequestedItem {
                line_item: line,
                quantity,
                reason: self.settings.return_policy.reasons[0].code.clone(),
                comment: None,
                photo_urls: Vec::new(),
            }],
            resolution: Resolution::Refund,
            comment: None,
        };
        let policy = &self.settings.return_policy;
        let decision =
            decide(policy, order, Some(self.now), earlier, &request, self.now, self.settings.time_zone).unwrap();
        Return {
            id: return_id(self.id(), &order.id, key),
            request,
            decision,
            state: ReturnState::Approved,
            created_at: self.now,
            updated_at: self.now,
            tracking_number: None,
            label_url: None,
            operator_note: None,
        }
    }
}

fn key(kind: MessageKind, scope: MessageScope) -> MessageKey {
    MessageKey::new(kind, scope, Channel::Email)
}

fn sid(id: &str) -> ShipmentId {
    ShipmentId::parse(id).unwrap()
}

fn sent(key: &MessageKey, at: DateTime<Utc>) -> MessageRecord {
    MessageRecord {
        state: DeliveryState::Sent,
        provider_message_id: Some("ses-1".into()),
        ..MessageRecord::claimed(key, at)
    }
}

async fn settings_are_kept_per_shop_and_listed<S: Store>(store: &S) {
    let shop = Shop::new();
    assert_eq!(store.get_settings(shop.id()).await.unwrap(), None);
    store.put_settings(&shop.settings).await.unwrap();
    assert_eq!(store.get_settings(shop.id()).await.unwrap().as_ref(), Some(&shop.settings));
    let mut changed = shop.settings.clone();
    changed.display_name = "Renamed".into();
    store.put_settings(&changed).await.unwrap();
    assert_eq!(store.get_settings(shop.id()).await.unwrap().map(|s| s.display_name), Some("Renamed".into()));
    assert!(store.list_shops().await.unwrap().contains(shop.id()));
}

async fn a_newer_order_replaces_an_older_one_and_never_the_reverse<S: Store>(store: &S) {
    let shop = Shop::new();
    let first = shop.order("1001", 0);
    assert_eq!(store.upsert_order(&first).await.unwrap(), Upsert::Created);
    assert_eq!(store.upsert_order(&first).await.unwrap(), Upsert::Stale(Box::new(first.clone())), "a replay");
    let newer = Order { number: "1001-b".into(), ..shop.order("1001", 5) };
    assert_eq!(store.upsert_order(&newer).await.unwrap(), Upsert::Updated);
    let late = shop.order("1001", 1);
    assert_eq!(store.upsert_order(&late).await.unwrap(), Upsert::Stale(Box::new(newer.clone())), "late and older");
    assert_eq!(store.get_order(shop.id(), &first.id).await.unwrap(), Some(newer.clone()));
    assert_eq!(store.order_view(shop.id(), &first.id).await.unwrap().order, Some(newer));
    assert_eq!(store.get_order(shop.id(), &OrderId::parse("1002").unwrap()).await.unwrap(), None);
}

async fn an_order_is_found_by_the_number_the_customer_sees<S: Store>(store: &S) {
    let shop = Shop::new();
    let order = Order { number: "#G-1001".into(), ..shop.order("5001", 0) };
    store.upsert_order(&order).await.unwrap();
    for asked in ["#G-1001", "g-1001", " G-1001 "] {
        let found = store.orders_by_number(shop.id(), asked).await.unwrap();
        assert_eq!(found.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["5001"], "{asked}");
    }
    assert!(store.orders_by_number(shop.id(), "1001").await.unwrap().is_empty());
    assert!(store.orders_by_number(shop.id(), "#").await.unwrap().is_empty());
}

async fn a_message_is_claimed_once_until_done_or_given_back<S: Store>(store: &S) {
    let shop = Shop::new();
    let order = OrderId::parse("2001").unwrap();
    let confirmation = key(MessageKind::OrderConfirmation, MessageScope::Order);
    let take = async |token: &str, at| {
        let keys = [confirmation.clone()];
        store.claim_messages(shop.id(), &order, &keys, &shop.claim(token, at), None).await.unwrap().claims
    };
    assert_eq!(take("a", shop.now).await, [ClaimOutcome::Claimed]);
    assert_eq!(take("b", shop.now + Duration::minutes(1)).await, [ClaimOutcome::InFlight], "within the lease");
    // Only the holder gives it back.
    store.release_message(shop.id(), &order, &confirmation, "b").await.unwrap();
    assert_eq!(take("b", shop.now + Duration::minutes(1)).await, [ClaimOutcome::InFlight]);
    store.release_message(shop.id(), &order, &confirmation, "a").await.unwrap();
    assert_eq!(take("b", shop.now + Duration::minutes(1)).await, [ClaimOutcome::Claimed]);
    // A crashed sender's claim is taken over once its lease ran out.
    assert_eq!(take("c", shop.now + Duration::minutes(7)).await, [ClaimOutcome::Claimed]);
    let record = sent(&confirmation, shop.now + Duration::minutes(7));
    store.complete_messages(shop.id(), &order, std::slice::from_ref(&record), None).await.unwrap();
    assert_eq!(take("d", shop.now + Duration::days(1)).await, [ClaimOutcome::AlreadyDone], "sent: never again");
    store.complete_messages(shop.id(), &order, std::slice::from_ref(&record), None).await.unwrap();
    let view = store.order_view(shop.id(), &order).await.unwrap();
    assert_eq!(view.messages, [record], "one record, completed idempotently");
}

async fn a_failed_send_is_never_retried_and_claims_are_independent<S: Store>(store: &S) {
    let shop = Shop::new();
    let order = OrderId::parse("2002").unwrap();
    let shipped = Notice::shipped(&sid("f1"));
    let (email, sms) = (shipped.on(Channel::Email), shipped.on(Channel::Sms));
    let first = shop.claim("a", shop.now);
    let batch = store.claim_messages(shop.id(), &order, std::slice::from_ref(&email), &first, None).await.unwrap();
    assert_eq!((batch.change, batch.claims), (None, vec![ClaimOutcome::Claimed]));
    let failed = MessageRecord {
        state: DeliveryState::Failed,
        failure: Some("invalid address".into()),
        ..MessageRecord::claimed(&email, shop.now)
    };
    store.complete_messages(shop.id(), &order, &[failed], None).await.unwrap();
    // A done claim does not stop the others in the same batch.
    let later = shop.claim("b", shop.now + Duration::hours(1));
    let keys = [email.clone(), sms.clone()];
    let batch = store.claim_messages(shop.id(), &order, &keys, &later, None).await.unwrap();
    assert_eq!(batch.claims, [ClaimOutcome::AlreadyDone, ClaimOutcome::Claimed]);
    let view = store.order_view(shop.id(), &order).await.unwrap();
    let states: Vec<_> = view.messages.iter().map(|m| (m.channel, m.state)).collect();
    assert!(states.contains(&(Channel::Email, DeliveryState::Failed)), "{states:?}");
    assert!(states.contains(&(Channel::Sms, DeliveryState::Sending)), "{states:?}");
}

async fn a_refused_change_takes_no_claim<S: Store>(store: &S) {
    let shop = Shop::new();
    let newer = shop.order("3001", 10);
    store.upsert_order(&newer).await.unwrap();
    let older = shop.order("3001", 0);
    let confirmation = [key(MessageKind::OrderConfirmation, MessageScope::Order)];
    let claim = shop.claim("a", shop.now);
    let change = Some(StateChange::NewOrder(&older));
    let batch = store.claim_messages(shop.id(), &older.id, &confirmation, &claim, change).await.unwrap();
    assert_eq!((batch.change, batch.claims), (Some(ChangeOutcome::Stale), vec![ClaimOutcome::NotAttempted]));
    assert!(store.order_view(shop.id(), &older.id).await.unwrap().messages.is_empty());
    assert_eq!(store.get_order(shop.id(), &older.id).await.unwrap(), Some(newer));
}

async fn a_new_order_is_written_with_its_claims_unless_shipments_came_first<S: Store>(store: &S) {
    let shop = Shop::new();
    let order = shop.order("3002", 0);
    let confirmation = [key(MessageKind::OrderConfirmation, MessageScope::Order)];
    let claim = shop.claim("a", shop.now);
    let batch =
        store.claim_messages(shop.id(), &order.id, &confirmation, &claim, Some(StateChange::NewOrder(&order))).await;
    assert_eq!(batch.unwrap().change, Some(ChangeOutcome::Written));
    let view = store.order_view(shop.id(), &order.id).await.unwrap();
    assert_eq!((view.order.as_ref(), view.messages.len()), (Some(&order), 1));

    let early = shop.order("3003", 0);
    store.mark_shipments_first(shop.id(), &early.id).await.unwrap();
    let batch = store.claim_messages(shop.id(), &early.id, &[], &claim, Some(StateChange::NewOrder(&early))).await;
    assert_eq!(batch.unwrap().change, Some(ChangeOutcome::ShipmentsFirst));
    assert_eq!(store.get_order(shop.id(), &early.id).await.unwrap(), None, "the caller takes the slow path");
}

async fn a_shipment_indexes_its_number_and_a_kept_update_waits_for_it<S: Store>(store: &S) {
    let shop = Shop::new();
    let claim = shop.claim("a", shop.now);
    let expires = shop.now + Duration::days(1);

    // Update first: kept (idempotently), and the new shipment hears that it waits.
    let early = shop.update("CONTRACT0001", "in_transit");
    assert!(store.keep_pending_update(shop.id(), &early, expires).await.unwrap());
    assert!(store.keep_pending_update(shop.id(), &early, expires).await.unwrap());
    let first = shop.shipment("4001", "s1", "CONTRACT0001", 0);
    let batch = store.claim_messages(shop.id(), &first.order_id, &[], &claim, Some(StateChange::NewShipment(&first)));
    assert_eq!(batch.await.unwrap().change, Some(ChangeOutcome::UpdatesWaiting));
    let lookup = store.lookup_tracking(shop.id(), &early.tracking_number).await.unwrap();
    assert_eq!((lookup.target, lookup.pending), (None, vec![early.clone()]));
    assert_eq!(store.upsert_shipment(shop.id(), &first).await.unwrap(), Upsert::Created);
    let lookup = store.lookup_tracking(shop.id(), &early.tracking_number).await.unwrap();
    assert_eq!(
        lookup.target,
        Some(TrackingTarget { order_id: first.order_id.clone(), parcel: Parcel::Shipment(sid("s1")) })
    );
    assert_eq!(store.upsert_shipment(shop.id(), &first).await.unwrap(), Upsert::Stale(Box::new(first.clone())));
    let view = store.order_view(shop.id(), &first.order_id).await.unwrap();
    assert!(view.shipments.contains(&first) && !view.indexed.contains(&sid("s1")), "{view:?}");

    // Shipment first: indexed with nothing waiting, and a later update is not kept.
    let second = shop.shipment("4002", "s2", "CONTRACT0002", 0);
    let batch = store.claim_messages(shop.id(), &second.order_id, &[], &claim, Some(StateChange::NewShipment(&second)));
    assert_eq!(batch.await.unwrap().change, Some(ChangeOutcome::Written));
    assert!(!store.keep_pending_update(shop.id(), &shop.update("CONTRACT0002", "in_transit"), expires).await.unwrap());
    let view = store.order_view(shop.id(), &second.order_id).await.unwrap();
    assert!(view.indexed.contains(&sid("s2")), "{view:?}");
    let replay =
        store.claim_messages(shop.id(), &second.order_id, &[], &claim, Some(StateChange::NewShipment(&second)));
    assert_eq!(replay.await.unwrap().change, Some(ChangeOutcome::Stale));
    let unknown = store.lookup_tracking(shop.id(), &TrackingNumber::parse("CONTRACT0404").unwrap()).await.unwrap();
    assert_eq!(unknown, Default::default());
}

async fn tracking_is_written_only_at_the_version_it_was_read<S: Store>(store: &S) {
    let shop = Shop::new();
    let order = OrderId::parse("4101").unwrap();
    let moving = ShipmentTracking::default().merge(&shop.update("CONTRACT0009", "in_transit"));
    assert!(store.put_tracking(shop.id(), &order, &sid("s1"), &moving, None).await.unwrap());
    assert!(!store.put_tracking(shop.id(), &order, &sid("s1"), &moving, None).await.unwrap(), "written since");
    let version = store.order_view(shop.id(), &order).await.unwrap().tracking[&sid("s1")].version;
    let delivered = moving.merge(&shop.update("CONTRACT0009", "delivered"));
    assert!(store.put_tracking(shop.id(), &order, &sid("s1"), &delivered, Some(version)).await.unwrap());
    assert!(!store.put_tracking(shop.id(), &order, &sid("s1"), &moving, Some(version)).await.unwrap(), "stale version");
    let stored = &store.order_view(shop.id(), &order).await.unwrap().tracking[&sid("s1")];
    assert_eq!((stored.value.status, stored.version > version), (Some(TrackingStatus::Delivered), true));
}

async fn a_tracking_change_commits_with_its_claims_and_notes_the_applied_update<S: Store>(store: &S) {
    let shop = Shop::new();
    let shipment = shop.shipment("4201", "s1", "CONTRACT0005", 0);
    store.upsert_order(&shop.order("4201", 0)).await.unwrap();
    store.upsert_shipment(shop.id(), &shipment).await.unwrap();
    let update = shop.update("CONTRACT0005", "out_for_delivery");
    let tracking = ShipmentTracking::default().merge(&update);
    let s1 = sid("s1");
    let change = |expected| TrackingChange {
        order: &shipment.order_id,
        shipment_id: &s1,
        tracking: &tracking,
        expected,
        applied: None,
        delivery: None,
        deferred: &[],
        others: &[],
        unannounced: Unannounced::default(),
    };
    let notice = [key(MessageKind::OutForDelivery, MessageScope::ShipmentDay(sid("s1"), Utc::now().date_naive()))];
    let claim = shop.claim("a", shop.now);
    let batch =
        store.claim_messages(shop.id(), &shipment.order_id, &notice, &claim, Some(StateChange::Tracking(change(None))));
    assert_eq!(
        batch.await.unwrap(),
        ppx_shared::ports::store::ClaimBatch {
            change: Some(ChangeOutcome::Written),
            claims: vec![ClaimOutcome::Claimed]
        }
    );
    // The same change again (a concurrent twin read the same version): refused, and the claim
    // is not taken (the first holder has it).
    let twin = shop.claim("b", shop.now);
    let batch =
        store.claim_messages(shop.id(), &shipment.order_id, &notice, &twin, Some(StateChange::Tracking(change(None))));
    let batch = batch.await.unwrap();
    assert_eq!((batch.change, batch.claims), (Some(ChangeOutcome::Stale), vec![ClaimOutcome::InFlight]));
    // A refused change with a free claim leaves it free.
    let other = [key(MessageKind::Delivered, MessageScope::Shipment(sid("s1")))];
    let batch =
        store.claim_messages(shop.id(), &shipment.order_id, &other, &twin, Some(StateChange::Tracking(change(None))));
    assert_eq!(batch.await.unwrap().claims, [ClaimOutcome::NotAttempted]);
    let free = store.claim_messages(shop.id(), &shipment.order_id, &other, &twin, None).await.unwrap();
    assert_eq!(free.claims, [ClaimOutcome::Claimed]);

    let digests = update.digests();
    let applied =
        Applied { number: &update.tracking_number, digests: &digests, status: Some(TrackingStatus::OutForDelivery) };
    let record = sent(&notice[0], shop.now);
    store.complete_messages(shop.id(), &shipment.order_id, &[record], Some(applied)).await.unwrap();
    let lookup = store.lookup_tracking(shop.id(), &update.tracking_number).await.unwrap();
    assert!(digests.iter().all(|d| lookup.digests.contains(d)), "{lookup:?}");
    assert_eq!(lookup.status, Some(TrackingStatus::OutForDelivery));
}

async fn a_delivery_is_recorded_once_and_its_review_comes_due<S: Store>(store: &S) {
    let shop = Shop::new();
    let order = OrderId::parse("5101").unwrap();
    let due_at = shop.now + Duration::days(5);
    let record = DeliveryRecord { delivered_at: shop.now, review_due_at: due_at };
    assert!(store.record_delivery(shop.id(), &order, &record).await.unwrap());
    let again =
        DeliveryRecord { delivered_at: shop.now + Duration::hours(1), review_due_at: due_at + Duration::hours(1) };
    assert!(!store.record_delivery(shop.id(), &order, &again).await.unwrap());
    assert_eq!(store.order_view(shop.id(), &order).await.unwrap().delivery, Some(record.clone()));

    assert!(store.due_reviews(shop.id(), shop.now, due_at - Duration::seconds(1), 10).await.unwrap().is_empty());
    let due = store.due_reviews(shop.id(), shop.now, due_at, 10).await.unwrap();
    assert_eq!(due.iter().map(|d| (&d.order_id, &d.delivery, d.attempts)).collect::<Vec<_>>(), [(&order, &record, 0)]);
    let outcome = ReviewOutcome::Sent { at: due_at };
    assert!(store.finish_review(shop.id(), &due[0], &outcome).await.unwrap());
    assert!(!store.finish_review(shop.id(), &due[0], &outcome).await.unwrap(), "once");
    assert!(store.due_reviews(shop.id(), shop.now, due_at + Duration::days(30), 10).await.unwrap().is_empty());
    let outcomes = store.review_outcomes(shop.id(), due_at, due_at).await.unwrap();
    assert_eq!(outcomes, [outcome]);
    assert!(
        store
            .review_outcomes(shop.id(), due_at + Duration::seconds(1), due_at + Duration::days(1))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn due_reviews_come_oldest_first_within_the_limit_and_a_deferred_one_waits<S: Store>(store: &S) {
    let shop = Shop::new();
    for (order, days) in [("5201", 3), ("5202", 1), ("5203", 2)] {
        let record = DeliveryRecord { delivered_at: shop.now, review_due_at: shop.now + Duration::days(days) };
        assert!(store.record_delivery(shop.id(), &OrderId::parse(order).unwrap(), &record).await.unwrap());
    }
    let until = shop.now + Duration::days(3);
    let due = store.due_reviews(shop.id(), shop.now, until, 10).await.unwrap();
    assert_eq!(due.iter().map(|d| d.order_id.as_str()).collect::<Vec<_>>(), ["5202", "5203", "5201"]);
    let two = store.due_reviews(shop.id(), shop.now, until, 2).await.unwrap();
    assert_eq!(two.iter().map(|d| d.order_id.as_str()).collect::<Vec<_>>(), ["5202", "5203"]);

    let later = shop.now + Duration::days(4);
    assert!(store.defer_review(shop.id(), &due[0], later).await.unwrap());
    assert!(!store.defer_review(shop.id(), &due[0], later).await.unwrap(), "deferred already");
    let due = store.due_reviews(shop.id(), shop.now, later, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|d| (d.order_id.as_str(), d.attempts)).collect::<Vec<_>>(),
        [("5203", 0), ("5201", 0), ("5202", 1)]
    );
    let skipped = ReviewOutcome::Skipped { at: later, reason: SkipReason::Failed };
    assert!(store.finish_review(shop.id(), &due[2], &skipped).await.unwrap());
    assert_eq!(store.review_outcomes(shop.id(), shop.now, later).await.unwrap(), [skipped]);
}

async fn an_unsubscribe_holds_for_the_address_in_any_case_and_that_shop_only<S: Store>(store: &S) {
    let shop = Shop::new();
    let other = Shop::new();
    assert!(!store.is_unsubscribed(shop.id(), "jane@example.com").await.unwrap());
    store.unsubscribe(shop.id(), " Jane@Example.com ", shop.now).await.unwrap();
    store.unsubscribe(shop.id(), "jane@example.com", shop.now).await.unwrap();
    assert!(store.is_unsubscribed(shop.id(), "JANE@example.com").await.unwrap());
    assert!(!store.is_unsubscribed(other.id(), "jane@example.com").await.unwrap());
    assert!(!store.is_unsubscribed(shop.id(), "john@example.com").await.unwrap());
}

async fn the_latest_survey_answer_wins<S: Store>(store: &S) {
    let shop = Shop::new();
    let order = OrderId::parse("6001").unwrap();
    let answer = |score, minutes| SurveyAnswer {
        order_id: order.clone(),
        score,
        comment: None,
        answered_at: shop.now + Duration::minutes(minutes),
        confirmed: true,
    };
    assert!(store.record_survey_answer(shop.id(), &answer(6, 10)).await.unwrap());
    assert!(!store.record_survey_answer(shop.id(), &answer(9, 5)).await.unwrap(), "an older answer");
    assert!(store.record_survey_answer(shop.id(), &answer(10, 20)).await.unwrap());
    let all = store.survey_answers(shop.id(), shop.now, shop.now + Duration::hours(1)).await.unwrap();
    assert_eq!(all, [answer(10, 20)]);
    assert!(store.survey_answers(shop.id(), shop.now, shop.now + Duration::minutes(19)).await.unwrap().is_empty());
}

async fn a_return_is_stored_once_and_reserves_only_at_the_version_it_was_decided<S: Store>(store: &S) {
    let shop = Shop::new();
    let order = shop.order("7001", 0);
    store.upsert_order(&order).await.unwrap();
    let version = store.order_view(shop.id(), &order.id).await.unwrap().returns_version;
    let first = shop.new_return(&order, "key-1", 1, &[]);
    assert_eq!(store.create_return(shop.id(), &first, Some(version)).await.unwrap(), ReturnCreated::Created);
    // A retried request finds it, whatever it reserves.
    let retry = store.create_return(shop.id(), &first, Some(version)).await.unwrap();
    assert_eq!(retry, ReturnCreated::Exists(Box::new(first.clone())));
    // A second return decided from the same read is refused: read again, decide again.
    let racing = shop.new_return(&order, "key-2", 1, &[]);
    assert_eq!(store.create_return(shop.id(), &racing, Some(version)).await.unwrap(), ReturnCreated::Stale);
    let view = store.order_view(shop.id(), &order.id).await.unwrap();
    assert_eq!((view.returns.clone(), view.returns_version > version), (vec![first.clone()], true));
    let again = shop.new_return(&order, "key-2", 1, &view.returns);
    let created = store.create_return(shop.id(), &again, Some(view.returns_version)).await.unwrap();
    assert_eq!(created, ReturnCreated::Created);
    // One that reserves nothing (e.g. rejected) is stored whatever the version.
    let unreserved = shop.new_return(&order, "key-3", 1, &[]);
    assert_eq!(store.create_return(shop.id(), &unreserved, None).await.unwrap(), ReturnCreated::Created);
    assert_eq!(store.order_view(shop.id(), &order.id).await.unwrap().returns.len(), 3);
}

async fn a_return_moves_only_from_the_state_it_was_read_in<S: Store>(store: &S) {
    let shop = Shop::new();
    let order = shop.order("7002", 0);
    store.upsert_order(&order).await.unwrap();
    let ret = shop.new_return(&order, "key-1", 1, &[]);
    store.create_return(shop.id(), &ret, None).await.unwrap();
    assert_eq!(store.find_return(shop.id(), &ret.id).await.unwrap(), Some(ret.clone()));
    assert_eq!(store.find_return(shop.id(), &ReturnId::parse("R0000000000000000").unwrap()).await.unwrap(), None);
    let received = Return { state: ReturnState::Received, updated_at: shop.now + Duration::days(1), ..ret.clone() };
    assert!(store.update_return(shop.id(), &received, ReturnState::Approved).await.unwrap());
    let refunded = Return { state: ReturnState::Refunded, ..received.clone() };
    assert!(!store.update_return(shop.id(), &refunded, ReturnState::Approved).await.unwrap(), "moved meanwhile");
    assert_eq!(store.find_return(shop.id(), &ret.id).await.unwrap(), Some(received.clone()));
    assert_eq!(store.returns_in_state(shop.id(), ReturnState::Received).await.unwrap(), [received]);
    assert!(store.returns_in_state(shop.id(), ReturnState::Approved).await.unwrap().is_empty());

    let number = TrackingNumber::parse("RET-7002").unwrap();
    store.register_return_parcel(shop.id(), &number, &order.id, &ret.id).await.unwrap();
    let target = store.lookup_tracking(shop.id(), &number).await.unwrap().target.unwrap();
    assert_eq!((target.order_id, target.parcel), (order.id, Parcel::Return(ret.id)));
}

async fn a_shipment_with_a_number_is_watched_for_its_first_scan_and_the_sweep_moves_or_ends_it<S: Store>(store: &S) {
    let shop = Shop::new();
    let claim = shop.claim("t1", shop.now);
    let mut first = shop.shipment("4301", "s1", "CONTRACT4301", 0);
    first.created_at = shop.now;
    store
        .claim_messages(shop.id(), &first.order_id, &[], &claim, Some(StateChange::NewShipment(&first)))
        .await
        .unwrap();
    let mut untracked = shop.shipment("4302", "s2", "CONTRACT4302", 0);
    untracked.tracking_number = None;
    store.upsert_shipment(shop.id(), &untracked).await.unwrap();
    let mut later = shop.shipment("4303", "s3", "CONTRACT4303", 0);
    later.created_at = shop.now + Duration::hours(1);
    store.upsert_shipment(shop.id(), &later).await.unwrap();

    let window = |to: DateTime<Utc>| store.due_watches(shop.id(), shop.now - Duration::days(1), to, 10);
    let due = window(shop.now + Duration::days(1)).await.unwrap();
    let seen: Vec<(&str, Watch)> = due.iter().map(|d| (shipment_of(d), d.watch)).collect();
    assert_eq!(seen, [("s1", Watch::FirstScan), ("s3", Watch::FirstScan)], "oldest first; none without a number");
    assert_eq!(due[0].at.timestamp(), shop.now.timestamp(), "to the second");
    assert_eq!(window(shop.now + Duration::minutes(1)).await.unwrap().len(), 1, "s3 is not due yet");
    assert_eq!(
        store
            .due_watches(shop.id(), shop.now - Duration::days(1), shop.now + Duration::days(1), 1)
            .await
            .unwrap()
            .len(),
        1
    );

    // Moved to its real time, once: the second sweep read the old time.
    let until = shop.now + Duration::days(3);
    assert!(store.retime_watch(shop.id(), &due[0], until).await.unwrap());
    assert!(!store.retime_watch(shop.id(), &due[0], until).await.unwrap(), "moved since it was read");
    assert_eq!(window(shop.now + Duration::days(1)).await.unwrap().len(), 1, "s1 moved out of the window");
    let moved = window(until).await.unwrap().into_iter().find(|d| shipment_of(d) == "s1").unwrap();
    assert_eq!(moved.at.timestamp(), until.timestamp());
    assert!(!store.finish_watch(shop.id(), &due[0]).await.unwrap(), "ended only at the time it was read");
    assert!(store.finish_watch(shop.id(), &moved).await.unwrap());
    assert!(!store.finish_watch(shop.id(), &moved).await.unwrap(), "ended once");
    assert_eq!(window(until).await.unwrap().len(), 1, "only s3 is left");
}

async fn a_tracking_state_is_watched_while_it_says_so_and_each_write_moves_it<S: Store>(store: &S) {
    let shop = Shop::new();
    let order = OrderId::parse("4401").unwrap();
    let mut moving = ShipmentTracking::default().merge(&shop.update("CONTRACT4401", "in_transit"));
    moving.watch_at = Some(shop.now + Duration::days(4));
    assert!(store.put_tracking(shop.id(), &order, &sid("s1"), &moving, None).await.unwrap());
    let window = |to: DateTime<Utc>| store.due_watches(shop.id(), shop.now, to, 10);
    let due = window(shop.now + Duration::days(5)).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].watch, shipment_of(&due[0]), due[0].order_id.as_str()), (Watch::NextScan, "s1", "4401"));

    // A new scan moves it: what the sweep read before can no longer end it.
    let mut later = moving.clone();
    later.watch_at = Some(shop.now + Duration::days(6));
    assert!(store.put_tracking(shop.id(), &order, &sid("s1"), &later, Some(1)).await.unwrap());
    assert!(!store.finish_watch(shop.id(), &due[0]).await.unwrap(), "a newer scan set a new time");
    assert!(window(shop.now + Duration::days(5)).await.unwrap().is_empty());
    // Delivered: no longer watched.
    let mut delivered = later.merge(&shop.update("CONTRACT4401", "delivered"));
    delivered.watch_at = None;
    assert!(store.put_tracking(shop.id(), &order, &sid("s1"), &delivered, Some(2)).await.unwrap());
    assert!(window(shop.now + Duration::days(60)).await.unwrap().is_empty());
    // Another shop's watches are its own.
    let other = Shop::new();
    assert!(store.put_tracking(other.id(), &order, &sid("s1"), &moving, None).await.unwrap());
    assert!(window(shop.now + Duration::days(60)).await.unwrap().is_empty());
}

fn shipment_of(due: &DueWatch) -> &str {
    due.shipment_id.as_ref().map_or("", |id| id.as_str())
}

async fn a_new_order_is_watched_for_its_shipping_unless_cancelled_or_refused<S: Store>(store: &S) {
    let shop = Shop::new();
    let claim = shop.claim("t1", shop.now);
    let mut order = shop.order("4501", 0);
    // The public sample is a cancelled order.
    order.status = ppx_shared::domain::order::OrderStatus::Open;
    order.placed_at = shop.now;
    let written = store.claim_messages(shop.id(), &order.id, &[], &claim, Some(StateChange::NewOrder(&order)));
    assert_eq!(written.await.unwrap().change, Some(ChangeOutcome::Written));
    let mut cancelled = shop.order("4502", 0);
    cancelled.status = ppx_shared::domain::order::OrderStatus::Cancelled;
    store.claim_messages(shop.id(), &cancelled.id, &[], &claim, Some(StateChange::NewOrder(&cancelled))).await.unwrap();
    // A refused (stale) order writes no watch either.
    let mut stale = shop.order("4503", 5);
    store.upsert_order(&stale).await.unwrap();
    stale.updated_at = shop.now;
    let refused = store.claim_messages(shop.id(), &stale.id, &[], &claim, Some(StateChange::NewOrder(&stale)));
    assert_eq!(refused.await.unwrap().change, Some(ChangeOutcome::Stale));

    let window = || store.due_watches(shop.id(), shop.now - Duration::days(1), shop.now + Duration::days(1), 10);
    let due = window().await.unwrap();
    let seen: Vec<(&str, &str, Watch)> = due.iter().map(|d| (d.order_id.as_str(), shipment_of(d), d.watch)).collect();
    assert_eq!(seen, [("4501", "", Watch::ShipBy)]);
    // Watched another way (an order stored before its create arrived): once, idempotent.
    store.watch_order(shop.id(), &stale.id, shop.now + Duration::hours(1)).await.unwrap();
    store.watch_order(shop.id(), &stale.id, shop.now + Duration::hours(1)).await.unwrap();
    assert_eq!(window().await.unwrap().len(), 2);
    assert!(store.retime_watch(shop.id(), &due[0], shop.now + Duration::days(2)).await.unwrap());
    let moved = store.due_watches(shop.id(), shop.now, shop.now + Duration::days(3), 10).await.unwrap();
    let moved = moved.into_iter().find(|d| d.order_id.as_str() == "4501").unwrap();
    assert!(store.finish_watch(shop.id(), &moved).await.unwrap());
    let left: Vec<String> = window().await.unwrap().iter().map(|d| d.order_id.to_string()).collect();
    assert_eq!(left, ["4503"]);
}

async fn a_text_held_back_by_quiet_hours_is_written_with_its_change_and_due_at_their_end<S: Store>(store: &S) {
    let shop = Shop::new();
    let order = OrderId::parse("4601").unwrap();
    let tracking = ShipmentTracking::default().merge(&shop.update("CONTRACT4601", "out_for_delivery"));
    let s1 = sid("s1");
    let morning = shop.now + Duration::hours(9);
    let texts = [
        DeferredText {
            notice: Notice::new(MessageKind::OutForDelivery, MessageScope::Shipment(sid("s1"))),
            until: morning,
        },
        DeferredText {
            notice: Notice::new(
                MessageKind::ActionNeeded,
                MessageScope::Situation(sid("s1"), Situation::AwaitingRecipient),
            ),
            until: morning,
        },
    ];
    let change = |expected, deferred| TrackingChange {
        order: &order,
        shipment_id: &s1,
        tracking: &tracking,
        expected,
        applied: None,
        delivery: None,
        deferred,
        others: &[],
        unannounced: Unannounced::default(),
    };
    let claim = shop.claim("a", shop.now);
    // A refused change writes none of its texts.
    let stale =
        store.claim_messages(shop.id(), &order, &[], &claim, Some(StateChange::Tracking(change(Some(7), &texts))));
    assert_eq!(stale.await.unwrap().change, Some(ChangeOutcome::Stale));
    let window = || store.due_watches(shop.id(), shop.now, morning, 10);
    assert!(window().await.unwrap().is_empty());
    let written =
        store.claim_messages(shop.id(), &order, &[], &claim, Some(StateChange::Tracking(change(None, &texts))));
    assert_eq!(written.await.unwrap().change, Some(ChangeOutcome::Written));
    let due = window().await.unwrap();
    let texts_due: Vec<(Watch, Option<String>)> =
        due.iter().map(|d| (d.watch, d.text.as_ref().map(ToString::to_string))).collect();
    assert!(texts_due.contains(&(Watch::Text, Some("out_for_delivery#s1".into()))), "{texts_due:?}");
    assert!(texts_due.contains(&(Watch::Text, Some("action_needed#s1#awaiting_recipient".into()))), "{texts_due:?}");
    assert!(due.iter().filter(|d| d.watch == Watch::Text).all(|d| shipment_of(d) == "s1"));
    let text = due.iter().find(|d| d.watch == Watch::Text).unwrap();
    assert!(store.finish_watch(shop.id(), text).await.unwrap());
    assert!(!store.finish_watch(shop.id(), text).await.unwrap(), "sent once");
    assert_eq!(window().await.unwrap().iter().filter(|d| d.watch == Watch::Text).count(), 1);
}

fn suppression(reason: SuppressionReason, at: DateTime<Utc>) -> Suppression {
    Suppression {
        address: Some("ada@example.com".into()),
        reason,
        at,
        detail: Some("Permanent/General 5.1.1".into()),
        order: None,
    }
}

async fn an_email_claim_comes_back_suppressed_while_its_address_is_on_the_list<S: Store>(store: &S) {
    let shop = Shop::new();
    let other = Shop::new();
    let bounced = suppression(SuppressionReason::HardBounce, shop.now);
    assert!(store.suppress(shop.id(), "ada@example.com", &bounced).await.unwrap());
    // The first reason stays.
    let complaint = suppression(SuppressionReason::Complaint, shop.now + Duration::days(1));
    assert!(!store.suppress(shop.id(), "Ada@Example.com", &complaint).await.unwrap());
    assert_eq!(store.suppression(shop.id(), "ADA@example.com").await.unwrap(), Some(bounced.clone()));

    // With a state change: the change is written, the email's claim taken as suppressed, the
    // text's claimed as usual.
    let order = shop.order("3003", 0);
    let confirmation = Notice::order_confirmation();
    let keys = [confirmation.on(Channel::Email), confirmation.on(Channel::Sms)];
    let claim = Claim { email_to: Some("ADA@example.com".into()), ..shop.claim("a", shop.now) };
    let batch = store.claim_messages(shop.id(), &order.id, &keys, &claim, Some(StateChange::NewOrder(&order)));
    let batch = batch.await.unwrap();
    assert_eq!(batch.change, Some(ChangeOutcome::Written));
    assert_eq!(batch.claims, [ClaimOutcome::Suppressed(bounced.clone()), ClaimOutcome::Claimed]);
    assert!(store.get_order(shop.id(), &order.id).await.unwrap().is_some());
    // Recorded as skipped, it is done: never claimed again.
    let skipped = MessageRecord {
        state: DeliveryState::Suppressed,
        failure: Some(bounced.describe()),
        ..MessageRecord::claimed(&keys[0], shop.now)
    };
    store.complete_messages(shop.id(), &order.id, &[skipped], None).await.unwrap();
    let again = store.claim_messages(shop.id(), &order.id, &keys[..1], &shop.claim("b", shop.now), None).await;
    assert_eq!(again.unwrap().claims, [ClaimOutcome::AlreadyDone]);

    // Alone, without a change; and the same address in another shop is mailed.
    let shipped = Notice::shipped(&sid("f1")).on(Channel::Email);
    let alone = Claim { email_to: Some("ada@example.com".into()), ..shop.claim("c", shop.now) };
    let batch = store.claim_messages(shop.id(), &order.id, std::slice::from_ref(&shipped), &alone, None).await;
    assert_eq!(batch.unwrap().claims, [ClaimOutcome::Suppressed(bounced.clone())]);
    let elsewhere = Claim { email_to: Some("ada@example.com".into()), ..other.claim("d", other.now) };
    let batch = store.claim_messages(other.id(), &order.id, std::slice::from_ref(&shipped), &elsewhere, None).await;
    assert_eq!(batch.unwrap().claims, [ClaimOutcome::Claimed]);

    let listed = store.suppressions(shop.id()).await.unwrap();
    assert_eq!(listed, [bounced]);
    assert!(store.unsuppress(shop.id(), "ada@EXAMPLE.com").await.unwrap());
    assert!(!store.unsuppress(shop.id(), "ada@example.com").await.unwrap());
    let delivered = Notice::new(MessageKind::Delivered, MessageScope::Shipment(sid("f1"))).on(Channel::Email);
    let lifted = Claim { email_to: Some("ada@example.com".into()), ..shop.claim("e", shop.now) };
    let batch = store.claim_messages(shop.id(), &order.id, std::slice::from_ref(&delivered), &lifted, None).await;
    assert_eq!(batch.unwrap().claims, [ClaimOutcome::Claimed]);
}

async fn mail_feedback_is_noted_only_when_graver_than_what_was_noted<S: Store>(store: &S) {
    let shop = Shop::new();
    let order = OrderId::parse("3004").unwrap();
    let feedback = |id: &str, outcome: MailOutcome, hours: i64| MailFeedback {
        provider_message_id: id.into(),
        outcome,
        at: shop.now + Duration::hours(hours),
        detail: None,
    };
    assert!(store.note_mail_feedback(shop.id(), &order, &feedback("m1", MailOutcome::Delivered, 1)).await.unwrap());
    assert!(!store.note_mail_feedback(shop.id(), &order, &feedback("m1", MailOutcome::Delayed, 0)).await.unwrap());
    assert!(!store.note_mail_feedback(shop.id(), &order, &feedback("m1", MailOutcome::Delivered, 1)).await.unwrap());
    assert!(store.note_mail_feedback(shop.id(), &order, &feedback("m1", MailOutcome::Complained, 48)).await.unwrap());
    assert!(!store.note_mail_feedback(shop.id(), &order, &feedback("m1", MailOutcome::Bounced, 2)).await.unwrap());
    assert!(store.note_mail_feedback(shop.id(), &order, &feedback("m2", MailOutcome::Delayed, 3)).await.unwrap());
    let view = store.order_view(shop.id(), &order).await.unwrap();
    let mut noted: Vec<_> = view.mail_feedback.iter().map(|f| (f.provider_message_id.as_str(), f.outcome)).collect();
    noted.sort();
    assert_eq!(noted, [("m1", MailOutcome::Complained), ("m2", MailOutcome::Delayed)]);
}

async fn a_forgotten_customer_is_found_by_the_address_then_by_nothing<S: Store>(store: &S) {
    let shop = Shop::new();
    let order = shop.order("3005", 0);
    let email = order.customer.email.clone().expect("the sample has an address");
    let confirmation = Notice::order_confirmation().on(Channel::Email);
    let claim = shop.claim("a", shop.now);
    let change = Some(StateChange::NewOrder(&order));
    store.claim_messages(shop.id(), &order.id, std::slice::from_ref(&confirmation), &claim, change).await.unwrap();
    let record = MessageRecord {
        destination: Some(email.clone()),
        subject: Some("Thank you, Jane".into()),
        ..sent(&confirmation, shop.now)
    };
    store.complete_messages(shop.id(), &order.id, &[record], None).await.unwrap();
    // An order stored another way is indexed too.
    let other = shop.order("3006", 0);
    store.upsert_order(&other).await.unwrap();
    let mut found = store.customer_orders(shop.id(), &email.to_uppercase()).await.unwrap();
    found.sort();
    assert_eq!(found, [order.id.clone(), other.id.clone()]);

    assert!(store.redact_order(shop.id(), &order.id).await.unwrap());
    let view = store.order_view(shop.id(), &order.id).await.unwrap();
    let stored = view.order.unwrap();
    assert_eq!((stored.customer.email, stored.customer.first_name), (None, None));
    assert_eq!(stored.items, order.items);
    assert_eq!((view.messages[0].destination.as_ref(), view.messages[0].subject.as_ref()), (None, None));
    assert_eq!(view.messages[0].state, DeliveryState::Sent);
    assert_eq!(store.customer_orders(shop.id(), &email).await.unwrap(), std::slice::from_ref(&other.id));
    assert!(!store.redact_order(shop.id(), &OrderId::parse("no-such-order").unwrap()).await.unwrap());

    let record = PrivacyRecord { action: PrivacyAction::CustomerRedacted, at: shop.now, orders: 1, request_id: None };
    store.note_privacy(shop.id(), &record).await.unwrap();
    assert_eq!(store.privacy_records(shop.id()).await.unwrap(), [record]);
    store.put_settings(&shop.settings).await.unwrap();
    store.forget_shop(shop.id()).await.unwrap();
    assert!(store.get_settings(shop.id()).await.unwrap().is_none());
}

async fn dynamo_store() -> DynamoStore {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let table = format!("ppx-contract-{}", unique());
    create_table_if_missing(&client, &table).await.expect("moto is running (make test starts it)");
    DynamoStore::new(client, table)
}

/// Each rule, once per store.
macro_rules! contract {
    ($($rule:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $rule() { super::$rule(&super::MemoryStore::new()).await })*
        }
        mod dynamodb {
            $(#[tokio::test] async fn $rule() { super::$rule(&super::dynamo_store().await).await })*
        }
    };
}

contract!(
    settings_are_kept_per_shop_and_listed,
    a_newer_order_replaces_an_older_one_and_never_the_reverse,
    an_order_is_found_by_the_number_the_customer_sees,
    a_message_is_claimed_once_until_done_or_given_back,
    a_failed_send_is_never_retried_and_claims_are_independent,
    a_refused_change_takes_no_claim,
    a_new_order_is_written_with_its_claims_unless_shipments_came_first,
    a_shipment_indexes_its_number_and_a_kept_update_waits_for_it,
    tracking_is_written_only_at_the_version_it_was_read,
    a_tracking_change_commits_with_its_claims_and_notes_the_applied_update,
    a_delivery_is_recorded_once_and_its_review_comes_due,
    due_reviews_come_oldest_first_within_the_limit_and_a_deferred_one_waits,
    an_unsubscribe_holds_for_the_address_in_any_case_and_that_shop_only,
    the_latest_survey_answer_wins,
    a_return_is_stored_once_and_reserves_only_at_the_version_it_was_decided,
    a_return_moves_only_from_the_state_it_was_read_in,
    a_shipment_with_a_number_is_watched_for_its_first_scan_and_the_sweep_moves_or_ends_it,
    a_tracking_state_is_watched_while_it_says_so_and_each_write_moves_it,
    a_new_order_is_watched_for_its_shipping_unless_cancelled_or_refused,
    a_text_held_back_by_quiet_hours_is_written_with_its_change_and_due_at_their_end,
    an_email_claim_comes_back_suppressed_while_its_address_is_on_the_list,
    mail_feedback_is_noted_only_when_graver_than_what_was_noted,
    a_forgotten_customer_is_found_by_the_address_then_by_nothing,
);
