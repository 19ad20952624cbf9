//! carrier-webhook end to end: order and fulfillment through order-placed, then carrier
//! callbacks, all through `ppx serve`'s router against moto.

use ppx_e2e::{Reply, TestEnv, fixture_bytes, read_event};
use ppx_shared::domain::tracking::TrackingStatus;
use serde_json::{Value, json};

const ORDER_ID: &str = "5550001001";
const TRACKING_NUMBER: &str = "1Z999AA10123456784";

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// Places the sample order (this test's own customer, SMS consent) and returns email and phone.
async fn place_order(env: &TestEnv) -> (String, String) {
    let email = env.customer_email("ada");
    let phone = env.customer_phone();
    let mut order = read_event("shopify-orders-create.json");
    order["email"] = json!(email);
    order["contact_email"] = json!(email);
    order["phone"] = json!(phone);
    order["customer"]["email"] = json!(email);
    order["customer"]["phone"] = json!(phone);
    let reply = env.post_shopify("orders/create", &bytes(&order), "wh-order").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    (email, phone)
}

async fn fulfill(env: &TestEnv) -> Reply {
    let fulfillment = bytes(&read_event("shopify-fulfillments-create.json"));
    env.post_shopify("fulfillments/create", &fulfillment, "wh-fulfillment").await
}

/// One checkpoint in the generic tracking format, `hours_ago` before the test clock.
fn checkpoint(env: &TestEnv, status: &str, hours_ago: i64, message: &str) -> Vec<u8> {
    let at = env.clock_now() - chrono::Duration::hours(hours_ago);
    bytes(&json!({
        "tracking_number": TRACKING_NUMBER,
        "carrier": "UPS",
        "events": [{ "status": status, "occurred_at": at.to_rfc3339(), "message": message, "location": "New York, NY, US" }],
    }))
}

/// EasyPost's published UPS tracker (pre-transit to delivered), for our parcel, its newest
/// timestamp `minutes_ago` before the test clock.
fn easypost_delivered_history(env: &TestEnv, minutes_ago: i64) -> Vec<u8> {
    let mut event: Value = serde_json::from_slice(&fixture_bytes("easypost-tracker-updated-delivered.json")).unwrap();
    event["result"]["tracking_code"] = json!(TRACKING_NUMBER);
    ppx_e2e::moved_to(&mut event, env.clock_now() - chrono::Duration::minutes(minutes_ago));
    bytes(&event)
}

fn subjects(emails: &[ppx_e2e::SentEmail]) -> Vec<String> {
    emails.iter().map(|m| m.subject.clone()).collect()
}

#[tokio::test]
async fn a_journey_sends_each_milestone_once_and_queues_the_review_request() {
    let env = TestEnv::start().await;
    let (email, phone) = place_order(&env).await;
    assert_eq!(fulfill(&env).await.status, 200);

    // In transit: the "shipped" message already went with the fulfillment.
    let reply = env.post_tracking(&checkpoint(&env, "in_transit", 30, "Departed facility")).await;
    assert_eq!((reply.status, reply.body["messages_sent"].as_u64()), (200, Some(0)), "{}", reply.body);
    let reply = env.post_tracking(&checkpoint(&env, "out_for_delivery", 3, "Out for delivery")).await;
    assert_eq!((reply.status, reply.body["messages_sent"].as_u64()), (200, Some(2)), "{}", reply.body);
    // A late, older scan changes nothing.
    let reply = env.post_tracking(&checkpoint(&env, "in_transit", 20, "Arrived at facility")).await;
    assert_eq!(reply.body["tracking_status"], "out_for_delivery", "{}", reply.body);
    let reply = env.post_tracking(&checkpoint(&env, "delivered", 1, "Delivered, front door")).await;
    assert_eq!((reply.status, reply.body["tracking_status"].as_str()), (200, Some("delivered")), "{}", reply.body);
    // EasyPost then sends the whole history: nothing new to say.
    let reply = env.post_easypost(&easypost_delivered_history(&env, 30)).await;
    assert_eq!((reply.status, reply.body["messages_sent"].as_u64()), (200, Some(0)), "{}", reply.body);

    let sent = subjects(&env.emails_to(&email).await);
    assert_eq!(sent.len(), 4, "{sent:?}");
    for needle in ["confirmed", "shipped", "out for delivery", "delivered"] {
        assert_eq!(sent.iter().filter(|s| s.contains(needle)).count(), 1, "{needle} in {sent:?}");
    }
    // Texts: the confirmation, out for delivery, delivered ("shipped" is not worth one).
    assert_eq!(env.sms_to(&phone).await.len(), 3);

    let view = env.order_view(ORDER_ID).await;
    let tracking = &view.tracking.values().next().expect("tracking state").value;
    assert_eq!(tracking.status, Some(TrackingStatus::Delivered));
    let delivery = view.delivery.expect("delivery recorded");
    assert_eq!(delivery.review_due_at - delivery.delivered_at, chrono::Duration::days(5));
}

/// A week of FedEx-like scans, each posted minutes after it happened: the customer hears each
/// piece of news once, is asked to act when the carrier needs them, and is never told "out for
/// delivery today" about yesterday (the notification policy on the real path).
#[tokio::test]
async fn a_week_of_failed_attempts_is_told_once_and_what_the_carrier_needs_is_asked_for() {
    let env = TestEnv::start().await;
    let (email, phone) = place_order(&env).await;
    assert_eq!(fulfill(&env).await.status, 200);
    let post = |status: &'static str, message: &'static str| {
        let body = checkpoint(&env, status, 0, message);
        let env = &env;
        async move {
            env.clock.advance(chrono::Duration::minutes(5));
            let reply = env.post_tracking(&body).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            reply.body["messages_sent"].as_u64().unwrap()
        }
    };
    let mut sent = Vec::new();
    for _day in 0..3 {
        sent.push(post("out_for_delivery", "On FedEx vehicle for delivery").await);
        env.clock.advance(chrono::Duration::hours(8));
        sent.push(post("exception", "Delivery exception - Customer not available or business closed").await);
        env.clock.advance(chrono::Duration::hours(16));
    }
    sent.push(post("exception", "Delivery exception - Awaiting additional delivery information from recipient").await);
    env.clock.advance(chrono::Duration::hours(20));
    sent.push(post("delivered", "Delivered").await);
    // Out for delivery (email, text), the attempt (email, text), out again (email), then folded;
    // action needed (email, text); delivered (email, text).
    assert_eq!(sent, [2, 2, 1, 0, 0, 0, 2, 2]);
    let subjects = subjects(&env.emails_to(&email).await);
    assert_eq!(subjects.iter().filter(|s| s.contains("Action needed")).count(), 1, "{subjects:?}");
    assert_eq!(subjects.len(), 2 + 5, "confirmation, shipped and five: {subjects:?}");
    let texts = env.sms_to(&phone).await;
    assert_eq!(texts.len(), 1 + 4, "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("needs more information from you")), "{texts:?}");
    // What was not announced, and why, is kept with the state for `ppx order show`.
    let view = env.order_view(ORDER_ID).await;
    let tracking = &view.tracking.values().next().expect("tracking state").value;
    let reasons: Vec<&str> = tracking.quiet.iter().map(|note| note.reason.as_str()).collect();
    assert_eq!(reasons.iter().filter(|r| r.starts_with("folded: same as")).count(), 2, "{reasons:?}");
    assert_eq!(reasons.iter().filter(|r| r.starts_with("already told: out_for_delivery")).count(), 1, "{reasons:?}");
    let shown = ppx_cli::commands::render_text(&view);
    assert!(shown.contains("not announced: ") && shown.contains("folded: same as"), "{shown}");
}

#[tokio::test]
async fn a_first_webhook_with_the_whole_history_sends_only_delivered_even_five_times_at_once() {
    let env = TestEnv::start().await;
    let (email, _) = place_order(&env).await;
    assert_eq!(fulfill(&env).await.status, 200);
    let body = easypost_delivered_history(&env, 10);
    let replies = futures::future::join_all((0..5).map(|_| env.post_easypost(&body))).await;
    for reply in &replies {
        assert!(reply.status == 200 || reply.status == 503, "{} {}", reply.status, reply.body);
        if reply.status == 503 {
            assert_eq!(env.post_easypost(&body).await.status, 200);
        }
    }
    let sent = subjects(&env.emails_to(&email).await);
    assert_eq!(sent.iter().filter(|s| s.contains("delivered")).count(), 1, "{sent:?}");
    assert!(!sent.iter().any(|s| s.contains("out for delivery")), "{sent:?}");
    assert_eq!(sent.len(), 3, "confirmation, shipped, delivered: {sent:?}");
}

#[tokio::test]
async fn a_carrier_event_before_the_fulfillment_is_applied_when_it_arrives() {
    let env = TestEnv::start().await;
    let (email, _) = place_order(&env).await;
    let early = env.post_tracking(&checkpoint(&env, "out_for_delivery", 2, "Out for delivery")).await;
    assert_eq!((early.status, early.body["status"].as_str()), (202, Some("stored")), "{}", early.body);
    assert_eq!(env.emails_to(&email).await.len(), 1, "only the confirmation so far");

    let reply = fulfill(&env).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let sent = subjects(&env.emails_to(&email).await);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent.iter().any(|s| s.contains("out for delivery")), "{sent:?}");
    let view = env.order_view(ORDER_ID).await;
    assert_eq!(view.tracking.values().next().unwrap().value.status, Some(TrackingStatus::OutForDelivery));
}

/// The carrier's first scan and the shop's fulfillment arrive together: whichever comes first,
/// the scan is applied and announced once (the two meet on the tracking number's item).
#[tokio::test]
async fn a_carrier_event_racing_its_fulfillment_is_applied_once_either_way() {
    async fn race(env: TestEnv) {
        let (email, _) = place_order(&env).await;
        let scan = checkpoint(&env, "out_for_delivery", 2, "Out for delivery");
        let (carrier, shop) = tokio::join!(env.post_tracking(&scan), fulfill(&env));
        assert!(matches!(carrier.status, 200 | 202 | 503), "{} {}", carrier.status, carrier.body);
        assert!(matches!(shop.status, 200 | 503), "{} {}", shop.status, shop.body);
        // What got a 5xx is re-delivered, as the providers do.
        if carrier.status == 503 {
            assert_eq!(env.post_tracking(&scan).await.status, 200);
        }
        if shop.status == 503 {
            assert_eq!(fulfill(&env).await.status, 200);
        }
        let sent = subjects(&env.emails_to(&email).await);
        assert_eq!(sent.len(), 3, "confirmation, shipped, out for delivery: {sent:?}");
        assert_eq!(sent.iter().filter(|s| s.contains("out for delivery")).count(), 1, "{sent:?}");
        let view = env.order_view(ORDER_ID).await;
        assert_eq!(view.tracking.values().next().unwrap().value.status, Some(TrackingStatus::OutForDelivery));
    }
    let envs = futures::future::join_all((0..8).map(|_| TestEnv::start())).await;
    futures::future::join_all(envs.into_iter().map(race)).await;
}

/// The two orders of that race, one at a time, through the DynamoDB adapter itself; and a
/// callback's state written before its shipment.
#[tokio::test]
async fn a_kept_update_and_its_shipments_index_exclude_each_other() {
    use ppx_shared::ports::store::roles::*;
    use ppx_shared::ports::store::{ChangeOutcome, Claim, StateChange, TrackingChange, Unannounced, Upsert};
    let env = TestEnv::start().await;
    let shop = env.settings.shop.clone();
    let update = |number: &str| {
        let mut body: Value = serde_json::from_slice(&checkpoint(&env, "in_transit", 5, "Departed")).unwrap();
        body["tracking_number"] = json!(number);
        ppx_shared::inbound::carriers::generic_tracking::parse(&bytes(&body)).unwrap().unwrap()
    };
    let shipment = |number: &str| {
        let body = bytes(&read_event("shopify-fulfillments-create.json"));
        let event = ppx_shared::inbound::platforms::shopify::parse(&shop, "fulfillments/create", &body).unwrap();
        let ppx_shared::inbound::platforms::PlatformEvent::Fulfillment { mut shipment } = event else {
            panic!("{event:?}")
        };
        shipment.id = ppx_shared::domain::ids::ShipmentId::parse(&format!("{number}-shipment")).unwrap();
        shipment.tracking_number = Some(ppx_shared::domain::ids::TrackingNumber::parse(number).unwrap());
        shipment
    };
    let claim = Claim { token: "t".into(), at: env.clock_now(), lease_until: env.clock_now(), email_to: None };
    let expires = env.clock_now() + chrono::Duration::days(1);

    // The update first: kept, and the shipment then hears that updates wait for its number.
    let early = update("RACE-1");
    assert!(env.store.keep_pending_update(&shop, &early, expires).await.unwrap());
    let first = shipment("RACE-1");
    let batch = env.store.claim_messages(&shop, &first.order_id, &[], &claim, Some(StateChange::NewShipment(&first)));
    assert_eq!(batch.await.unwrap().change, Some(ChangeOutcome::UpdatesWaiting));
    let lookup = env.store.lookup_tracking(&shop, &early.tracking_number).await.unwrap();
    assert_eq!((lookup.target, lookup.pending.len()), (None, 1));
    // Stored the slow way, it is not marked as indexed with nothing waiting: its re-deliveries
    // are not taken for duplicates until the kept update is applied.
    assert!(matches!(env.store.upsert_shipment(&shop, &first).await.unwrap(), Upsert::Created));
    let view = env.store.order_view(&shop, &first.order_id).await.unwrap();
    assert!(view.shipments.iter().any(|s| s.id == first.id) && !view.indexed.contains(&first.id), "{view:?}");

    // The shipment first: indexed, and the update then finds it and keeps nothing.
    let second = shipment("RACE-2");
    let batch = env.store.claim_messages(&shop, &second.order_id, &[], &claim, Some(StateChange::NewShipment(&second)));
    assert_eq!(batch.await.unwrap().change, Some(ChangeOutcome::Written));
    let late = update("RACE-2");
    assert!(!env.store.keep_pending_update(&shop, &late, expires).await.unwrap());
    let lookup = env.store.lookup_tracking(&shop, &late.tracking_number).await.unwrap();
    let parcel = ppx_shared::ports::store::Parcel::Shipment(second.id.clone());
    assert_eq!(lookup.target.map(|t| t.parcel), Some(parcel));
    assert!(lookup.pending.is_empty());
    let view = env.store.order_view(&shop, &second.order_id).await.unwrap();
    assert!(view.indexed.contains(&second.id), "written with its index, nothing waiting: {view:?}");

    // A callback that found the number but not yet its shipment stores its state unannounced,
    // only while the shipment is still missing: else it must read again and announce.
    let state = ppx_shared::domain::tracking::ShipmentTracking::default().merge(&late);
    let unannounced = |shipment_id| TrackingChange {
        order: &second.order_id,
        shipment_id,
        tracking: &state,
        expected: None,
        applied: None,
        delivery: None,
        deferred: &[],
        others: &[],
        unannounced: Unannounced { order_missing: false, shipment_missing: true },
    };
    let change = Some(StateChange::Tracking(unannounced(&second.id)));
    let batch = env.store.claim_messages(&shop, &second.order_id, &[], &claim, change).await.unwrap();
    assert_eq!(batch.change, Some(ChangeOutcome::Stale), "the shipment is stored");
    let not_yet_stored = ppx_shared::domain::ids::ShipmentId::parse("not-yet-stored").unwrap();
    let change = Some(StateChange::Tracking(unannounced(&not_yet_stored)));
    let batch = env.store.claim_messages(&shop, &second.order_id, &[], &claim, change).await.unwrap();
    assert_eq!(batch.change, Some(ChangeOutcome::Written));
}

#[tokio::test]
async fn forged_malformed_and_envelope_only_callbacks_write_nothing() {
    let env = TestEnv::start().await;
    let body = easypost_delivered_history(&env, 10);
    let path = format!("/webhooks/easypost/{}", env.shop());
    let forged = vec![
        ("content-type", "application/json".to_owned()),
        ("x-hmac-signature", format!("hmac-sha256-hex={}", "00".repeat(32))),
    ];
    let reply = env.post(&path, &forged, body.clone()).await;
    assert_eq!((reply.status, reply.body["error"].as_str()), (401, Some("invalid_signature")), "{}", reply.body);
    let unsigned = env.post(&path, &[("content-type", "application/json".to_owned())], body).await;
    assert_eq!((unsigned.status, unsigned.body["error"].as_str()), (401, Some("missing_signature")));

    let envelope = env.post_easypost(&fixture_bytes("easypost-event-envelope-minimal.json")).await;
    assert_eq!((envelope.status, envelope.body["status"].as_str()), (200, Some("ignored")), "{}", envelope.body);
    let broken = env.post_easypost(b"{\"result\": ").await;
    assert_eq!((broken.status, broken.body["error"].as_str()), (400, Some("invalid_json")), "{}", broken.body);
    let no_events =
        env.post_tracking(br#"{"tracking_number": "1Z999AA10123456784", "events": [{"status": "teleported"}]}"#).await;
    assert_eq!(
        (no_events.status, no_events.body["error"].as_str()),
        (400, Some("invalid_field")),
        "{}",
        no_events.body
    );

    assert!(env.items_written().await.is_empty(), "{:?}", env.items_written().await);
}

#[tokio::test]
async fn shippo_token_and_aftership_signatures_authenticate() {
    let env = TestEnv::start_with(|s| s.shippo_auth = ppx_shared::domain::settings::ShippoAuth::Token).await;
    let shippo = bytes(&read_event("shippo-track-updated.json"));
    let path = format!("/webhooks/shippo/{}?token=", env.shop());
    let json_type = [("content-type", "application/json".to_owned())];
    let wrong = env.post(&format!("{path}wrong"), &json_type, shippo.clone()).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(env.items_written().await.is_empty());
    let secret = env.secret(ppx_shared::domain::settings::WebhookSource::Shippo).to_owned();
    let right = env.post(&format!("{path}{secret}"), &json_type, shippo).await;
    assert_eq!((right.status, right.body["status"].as_str()), (202, Some("stored")), "{}", right.body);

    let aftership = bytes(&read_event("aftership-tracking-update.json"));
    let signature = ppx_shared::http::signature::sign_base64_hmac(
        env.secret(ppx_shared::domain::settings::WebhookSource::Aftership),
        &aftership,
    );
    let headers = vec![("content-type", "application/json".to_owned()), ("aftership-hmac-sha256", signature)];
    let reply = env.post(&format!("/webhooks/aftership/{}", env.shop()), &headers, aftership).await;
    assert_eq!((reply.status, reply.body["status"].as_str()), (202, Some("stored")), "{}", reply.body);
}

/// A scan in the generic tracking format `seconds_ago` before the test clock, with the carrier's
/// estimate.
fn estimate_scan(env: &TestEnv, seconds_ago: i64, estimate: chrono::NaiveDate) -> Vec<u8> {
    let at = env.clock_now() - chrono::Duration::seconds(seconds_ago);
    bytes(&json!({
        "tracking_number": TRACKING_NUMBER,
        "carrier": "UPS",
        "estimated_delivery": estimate.to_string(),
        "events": [{ "status": "in_transit", "occurred_at": at.to_rfc3339(), "message": "Delayed by weather" }],
    }))
}

/// Noon in the shop's time zone (New York), today: a minute later is still the same local day.
fn midday(env: &TestEnv) {
    let noon = env.clock_now().date_naive().and_hms_opt(17, 0, 0).unwrap().and_utc();
    env.clock.set(noon);
}

async fn delay_emails(env: &TestEnv, email: &str) -> Vec<String> {
    subjects(&env.emails_to(email).await).into_iter().filter(|s| s.contains("later than planned")).collect()
}

async fn delay_sms(env: &TestEnv, phone: &str) -> Vec<String> {
    env.sms_to(phone).await.into_iter().filter(|body| body.contains("is delayed")).collect()
}

#[tokio::test]
async fn a_later_estimate_than_promised_sends_one_delay_and_another_only_when_it_slips_again_a_day_later() {
    let env = TestEnv::start().await;
    midday(&env);
    let (email, phone) = place_order(&env).await;
    assert_eq!(fulfill(&env).await.status, 200);
    let promised = env.order_view(ORDER_ID).await.order.unwrap().promised_delivery.unwrap();
    let later = promised + chrono::Duration::days(2);
    assert_eq!(env.post_tracking(&estimate_scan(&env, 600, promised)).await.body["messages_sent"], 0);
    assert_eq!(
        env.post_tracking(&estimate_scan(&env, 500, later)).await.body["messages_sent"],
        1,
        "an email (a delay is not worth a text)"
    );
    assert_eq!(env.post_tracking(&estimate_scan(&env, 400, later)).await.body["messages_sent"], 0, "same date");
    let further = later + chrono::Duration::days(1);
    assert_eq!(env.post_tracking(&estimate_scan(&env, 300, further)).await.body["messages_sent"], 0, "same day");
    // The next day (in the shop's time zone) the slip is news; the record kept what was said.
    env.clock.advance(chrono::Duration::days(1));
    assert_eq!(env.post_tracking(&estimate_scan(&env, 300, further)).await.body["messages_sent"], 1);
    assert_eq!(env.post_tracking(&estimate_scan(&env, 200, further)).await.body["messages_sent"], 0, "not later");
    assert_eq!(delay_emails(&env, &email).await.len(), 2);
    assert_eq!(delay_sms(&env, &phone).await.len(), 0);
    let view = env.order_view(ORDER_ID).await;
    let mut announced: Vec<_> = view
        .messages
        .iter()
        .filter(|m| m.kind == ppx_shared::domain::messages::MessageKind::Delayed)
        .map(|m| (m.scope.to_string(), m.channel, m.estimated_delivery))
        .collect();
    announced.sort();
    let shipment = view.shipments[0].id.as_str();
    use ppx_shared::domain::messages::Channel::Email;
    assert_eq!(
        announced,
        [(format!("{shipment}#delay-1"), Email, Some(later)), (format!("{shipment}#delay-2"), Email, Some(further))]
    );
}

/// Eight slips of the estimate within a minute, posted one after another or all at once
/// (retrying what answers 503 while another request sends): one delay email (and no text).
#[tokio::test]
async fn eight_slipping_estimates_within_a_minute_send_one_delay_notice_in_sequence_or_at_once() {
    for at_once in [false, true] {
        let env = TestEnv::start().await;
        midday(&env);
        let (email, phone) = place_order(&env).await;
        assert_eq!(fulfill(&env).await.status, 200);
        let promised = env.order_view(ORDER_ID).await.order.unwrap().promised_delivery.unwrap();
        // Scans a few seconds apart, each with an estimate a day later than the one before.
        let slips: Vec<Vec<u8>> =
            (0..8).map(|i| estimate_scan(&env, 60 - 7 * i, promised + chrono::Duration::days(i + 1))).collect();
        if at_once {
            let replies = futures::future::join_all(slips.iter().map(|body| env.post_tracking(body))).await;
            for (reply, body) in replies.iter().zip(&slips) {
                let mut reply = (reply.status, reply.body.clone());
                for _ in 0..5 {
                    if reply.0 != 503 {
                        break;
                    }
                    let again = env.post_tracking(body).await;
                    reply = (again.status, again.body);
                }
                assert_eq!(reply.0, 200, "{}", reply.1);
            }
        } else {
            for body in &slips {
                let reply = env.post_tracking(body).await;
                assert_eq!(reply.status, 200, "{}", reply.body);
                env.clock.advance(chrono::Duration::seconds(7));
            }
        }
        assert_eq!(delay_emails(&env, &email).await.len(), 1, "at once: {at_once}");
        assert_eq!(delay_sms(&env, &phone).await.len(), 0, "at once: {at_once}");
        let view = env.order_view(ORDER_ID).await;
        let tracking = &view.tracking.values().next().expect("tracking state").value;
        assert_eq!(tracking.estimated_delivery, Some(promised + chrono::Duration::days(8)));
    }
}

#[tokio::test]
async fn a_split_order_is_delivered_only_when_every_shipment_is() {
    let env = TestEnv::start().await;
    let (email, _) = place_order(&env).await;
    // Two parcels: the shirts, then the tote.
    let mut first = read_event("shopify-fulfillments-create.json");
    first["line_items"] = json!([first["line_items"][0].clone()]);
    let mut second = read_event("shopify-fulfillments-create.json");
    second["id"] = json!(7770002);
    second["tracking_number"] = json!("1Z999AA10123456785");
    second["tracking_numbers"] = json!(["1Z999AA10123456785"]);
    second["line_items"] = json!([second["line_items"][1].clone()]);
    assert_eq!(env.post_shopify("fulfillments/create", &bytes(&first), "f1").await.status, 200);
    assert_eq!(env.post_shopify("fulfillments/create", &bytes(&second), "f2").await.status, 200);

    let delivered = |number: &str, hours_ago: i64| {
        let at = env.clock_now() - chrono::Duration::hours(hours_ago);
        bytes(&json!({
            "tracking_number": number,
            "carrier": "UPS",
            "events": [{ "status": "delivered", "occurred_at": at.to_rfc3339() }],
        }))
    };
    assert_eq!(env.post_tracking(&delivered(TRACKING_NUMBER, 5)).await.status, 200);
    assert!(env.order_view(ORDER_ID).await.delivery.is_none(), "one parcel is still on its way");
    let emails = env.emails_to(&email).await;
    let first_delivered = emails.iter().find(|m| m.subject.contains("delivered")).expect("delivered email");
    assert!(first_delivered.body.contains("2 of 3 items"), "partial delivery is said");

    assert_eq!(env.post_tracking(&delivered("1Z999AA10123456785", 1)).await.status, 200);
    let delivery = env.order_view(ORDER_ID).await.delivery.expect("both parcels delivered");
    let expected = env.clock_now() - chrono::Duration::hours(1);
    assert!((delivery.delivered_at - expected).num_seconds().abs() < 1, "the later delivery counts");
}

#[tokio::test]
async fn a_shippo_url_token_alone_is_refused_when_the_shop_signs_with_hmac() {
    // HMAC is the default: the shop turned Shippo's signing on.
    let env = TestEnv::start().await;
    let shippo = bytes(&read_event("shippo-track-updated.json"));
    let secret = env.secret(ppx_shared::domain::settings::WebhookSource::Shippo).to_owned();
    let json_type = vec![("content-type", "application/json".to_owned())];
    let token_only =
        env.post(&format!("/webhooks/shippo/{}?token={secret}", env.shop()), &json_type, shippo.clone()).await;
    assert_eq!(
        (token_only.status, token_only.body["error"].as_str()),
        (401, Some("missing_signature")),
        "{}",
        token_only.body
    );
    assert!(env.items_written().await.is_empty());
    let now = env.clock_now().timestamp();
    let mut signed = json_type.clone();
    signed.push(("shippo-auth-signature", ppx_shared::http::signature::sign_timestamped(&secret, &shippo, now)));
    let reply = env.post(&format!("/webhooks/shippo/{}", env.shop()), &signed, shippo).await;
    assert_eq!((reply.status, reply.body["status"].as_str()), (202, Some("stored")), "{}", reply.body);
}
