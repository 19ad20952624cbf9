//! return-submitted end to end: the customer's returns link or the shop's portal, the policy's
//! decision, a message per state, the shop's SNS events, return parcels scanned by carriers, and
//! operators deciding through the same code as `ppx return`, against moto.

use ppx_e2e::{Reply, TestEnv, read_event};
use ppx_shared::domain::returns::ReturnState;
use serde_json::{Value, json};

const ORDER_ID: &str = "5550001001";
/// The sample order's lines: 2 linen shirts at $49.00, 1 canvas tote at $19.50.
const SHIRT: &str = "6660001001";
const TOTE: &str = "6660001002";

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// The sample order for this test's customer, fulfilled and delivered an hour ago.
async fn delivered_order(env: &TestEnv) -> String {
    let email = env.customer_email("ret");
    let mut order = read_event("shopify-orders-create.json");
    order["email"] = json!(email);
    order["customer"]["email"] = json!(email);
    order["customer"]["sms_marketing_consent"] = Value::Null;
    assert_eq!(env.post_shopify("orders/create", &bytes(&order), "o").await.status, 200);
    let fulfillment = bytes(&read_event("shopify-fulfillments-create.json"));
    assert_eq!(env.post_shopify("fulfillments/create", &fulfillment, "f").await.status, 200);
    let delivered_at = env.clock_now() - chrono::Duration::hours(1);
    let scan = json!({
        "tracking_number": "1Z999AA10123456784", "carrier": "UPS",
        "events": [{ "status": "delivered", "occurred_at": delivered_at.to_rfc3339() }],
    });
    assert_eq!(env.post_tracking(&bytes(&scan)).await.body["tracking_status"], "delivered");
    email
}

fn request(items: Value, resolution: Value) -> Vec<u8> {
    bytes(&json!({ "order_id": ORDER_ID, "items": items, "resolution": resolution }))
}

async fn submit_as_customer(env: &TestEnv, token: &str, body: &[u8], key: &str) -> Reply {
    let headers = vec![
        ("content-type", "application/json".to_owned()),
        ("authorization", format!("Bearer {token}")),
        ("idempotency-key", key.to_owned()),
    ];
    env.post(&format!("/returns/{}", env.shop()), &headers, body.to_vec()).await
}

fn return_emails(emails: &[ppx_e2e::SentEmail]) -> Vec<String> {
    let about_returns =
        |subject: &str| ["return", "refund", "store credit", "exchange"].iter().any(|w| subject.contains(w));
    emails.iter().filter(|m| about_returns(&m.subject.to_lowercase())).map(|m| m.subject.clone()).collect()
}

#[tokio::test]
async fn a_customer_return_is_decided_told_once_and_published_to_the_shop() {
    let mut env = TestEnv::start().await;
    let arn = env.create_topic().await;
    // No request has loaded the settings yet, so the functions will see the topic.
    env.settings.return_events_topic_arn = Some(arn.clone());
    ppx_shared::ports::store::SettingsStore::put_settings(&env.store, &env.settings).await.unwrap();
    let email = delivered_order(&env).await;

    // The returns link of the confirmation email is the customer's token.
    let confirmation = env.emails_to(&email).await.into_iter().find(|m| m.subject.contains("confirmed")).unwrap();
    let start = confirmation.body.find("/returns/").expect("returns link") + "/returns/".len();
    let token: String = confirmation.body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();

    let body = request(
        json!([{ "line_item": SHIRT, "quantity": 1, "reason": "doesnt_fit" }]),
        json!({ "type": "store_credit" }),
    );
    let reply = submit_as_customer(&env, &token, &body, "key-1").await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!((reply.body["state"].as_str(), reply.body["verdict"].as_str()), (Some("approved"), Some("approved")));
    // $49.00 plus the shop's 10% store credit bonus.
    assert_eq!(reply.body["amount"], "$53.90", "{}", reply.body);
    let again = submit_as_customer(&env, &token, &body, "key-1").await;
    assert_eq!((again.status, &again.body["return_id"]), (200, &reply.body["return_id"]));

    let sent = return_emails(&env.emails_to(&email).await);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("approved"), "{sent:?}");
    let events = env.topic_messages(&arn).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(
        (event["state"].as_str(), event["return_id"].as_str()),
        (Some("approved"), reply.body["return_id"].as_str())
    );
    assert!(!events[0].1.contains(&email), "no personal data in shop events");
}

#[tokio::test]
async fn excluded_items_out_of_quantity_and_fees_are_explained() {
    let env = TestEnv::start_with(|s| s.return_policy.excluded.skus = vec!["TOTE-NAT".into()]).await;
    let email = delivered_order(&env).await;
    let token = env.return_token(ORDER_ID);
    let body = request(
        json!([
            { "line_item": SHIRT, "quantity": 3, "reason": "changed_mind" },
            { "line_item": TOTE, "quantity": 1, "reason": "changed_mind" },
        ]),
        json!({ "type": "refund" }),
    );
    let reply = submit_as_customer(&env, &token, &body, "k").await;
    assert_eq!(reply.body["verdict"], "rejected", "{}", reply.body);
    let reasons = reply.body["items"].to_string();
    assert!(reasons.contains("Only 2 of these can still be returned"), "{reasons}");
    assert!(reasons.contains("can't be returned"), "{reasons}");
    let sent = return_emails(&env.emails_to(&email).await);
    assert_eq!(sent.len(), 1, "{sent:?}");

    // Two shirts are fine, less the $4.95 fee for changing one's mind.
    let body =
        request(json!([{ "line_item": SHIRT, "quantity": 2, "reason": "changed_mind" }]), json!({ "type": "refund" }));
    let reply = submit_as_customer(&env, &token, &body, "k2").await;
    assert_eq!((reply.status, reply.body["amount"].as_str()), (201, Some("$93.05")), "{}", reply.body);
    // And now nothing is left to return.
    let body =
        request(json!([{ "line_item": SHIRT, "quantity": 1, "reason": "doesnt_fit" }]), json!({ "type": "refund" }));
    let reply = submit_as_customer(&env, &token, &body, "k3").await;
    assert_eq!(reply.body["verdict"], "rejected", "{}", reply.body);
}

#[tokio::test]
async fn wrong_token_bad_input_and_unknown_orders_are_refused_and_write_nothing() {
    let env = TestEnv::start().await;
    let body =
        request(json!([{ "line_item": SHIRT, "quantity": 1, "reason": "doesnt_fit" }]), json!({ "type": "refund" }));
    // No order yet at all: with a valid shop signature, 404.
    let now = env.clock_now().timestamp();
    let signature = ppx_shared::http::signature::sign_timestamped(
        env.secret(ppx_shared::domain::settings::WebhookSource::Orders),
        &body,
        now,
    );
    let signed = vec![("content-type", "application/json".to_owned()), ("ppx-signature", signature)];
    let reply = env.post(&format!("/returns/{}", env.shop()), &signed, body.clone()).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert!(env.items_written().await.is_empty());

    delivered_order(&env).await;
    let written = env.items_written().await;
    // A token for another order.
    let other = submit_as_customer(&env, &env.return_token("999"), &body, "a").await;
    assert_eq!(other.status, 401, "{}", other.body);
    // A forged token, and no authentication at all.
    assert_eq!(submit_as_customer(&env, "not-a-token", &body, "b").await.status, 401);
    let none = env
        .post(&format!("/returns/{}", env.shop()), &[("content-type", "application/json".to_owned())], body.clone())
        .await;
    assert_eq!((none.status, none.body["error"].as_str()), (401, Some("missing_signature")));
    // Bad input names the field.
    let token = env.return_token(ORDER_ID);
    let unknown_reason =
        request(json!([{ "line_item": SHIRT, "quantity": 1, "reason": "bored" }]), json!({ "type": "refund" }));
    let reply = submit_as_customer(&env, &token, &unknown_reason, "c").await;
    assert_eq!((reply.status, reply.body["field"].as_str()), (400, Some("items[0].reason")), "{}", reply.body);
    let zero =
        request(json!([{ "line_item": SHIRT, "quantity": 0, "reason": "doesnt_fit" }]), json!({ "type": "refund" }));
    assert_eq!(submit_as_customer(&env, &token, &zero, "d").await.body["field"], "items[0].quantity");
    let garbage = submit_as_customer(&env, &token, b"{\"order_id\":", "e").await;
    assert_eq!(garbage.status, 400);
    assert_eq!(env.items_written().await, written, "refused requests store nothing");
}

#[tokio::test]
async fn a_return_in_review_is_decided_by_an_operator_then_its_parcel_is_scanned_to_received() {
    let env = TestEnv::start().await;
    let email = delivered_order(&env).await;
    let token = env.return_token(ORDER_ID);
    // "Damaged" needs a photo: without one it goes to review.
    let body =
        request(json!([{ "line_item": SHIRT, "quantity": 1, "reason": "damaged" }]), json!({ "type": "refund" }));
    let reply = submit_as_customer(&env, &token, &body, "k").await;
    assert_eq!(reply.body["state"], "needs_review", "{}", reply.body);
    let id = reply.body["return_id"].as_str().unwrap().to_owned();

    let app = env.returns_app();
    let listed = ppx_cli::commands::return_list(&app.store, env.shop(), "needs_review", false).await.unwrap();
    assert!(listed.contains(&id), "{listed}");
    let said = ppx_cli::commands::return_move(
        &app,
        env.shop(),
        &id,
        ReturnState::Approved,
        Some("Photo sent by email".into()),
    )
    .await
    .unwrap();
    assert!(said.contains("approved"), "{said}");
    // Deciding twice changes nothing and sends nothing new.
    ppx_cli::commands::return_move(&app, env.shop(), &id, ReturnState::Approved, None).await.unwrap();
    // A decided return cannot go back to review.
    assert!(ppx_cli::commands::return_move(&app, env.shop(), &id, ReturnState::Rejected, None).await.is_err());

    ppx_cli::commands::return_parcel(
        &app,
        env.shop(),
        &id,
        "1ZRETURN0001",
        Some("https://labels.example/1ZRETURN0001.pdf".into()),
    )
    .await
    .unwrap();
    let scan = |status: &str, hours_ago: i64| {
        let at = env.clock_now() - chrono::Duration::hours(hours_ago);
        bytes(&json!({
            "tracking_number": "1ZRETURN0001", "carrier": "UPS",
            "events": [{ "status": status, "occurred_at": at.to_rfc3339() }],
        }))
    };
    assert_eq!(env.post_tracking(&scan("label_created", 5)).await.status, 200);
    assert_eq!(env.post_tracking(&scan("in_transit", 4)).await.status, 200);
    assert_eq!(env.post_tracking(&scan("in_transit", 3)).await.status, 200);
    assert_eq!(env.post_tracking(&scan("delivered", 1)).await.status, 200);
    assert_eq!(env.post_tracking(&scan("delivered", 1)).await.status, 200);
    ppx_cli::commands::return_move(&app, env.shop(), &id, ReturnState::Refunded, None).await.unwrap();

    let sent = return_emails(&env.emails_to(&email).await);
    assert_eq!(sent.len(), 5, "review, approved, in transit, received, refunded: {sent:?}");
    let view = env.order_view(ORDER_ID).await;
    assert_eq!(view.returns[0].state, ReturnState::Refunded);
}

#[tokio::test]
async fn an_order_with_a_return_gets_no_review_request() {
    let env = TestEnv::start().await;
    let email = delivered_order(&env).await;
    let token = env.return_token(ORDER_ID);
    // Three days after delivery the customer starts a return...
    env.clock.advance(chrono::Duration::days(3));
    let body =
        request(json!([{ "line_item": TOTE, "quantity": 1, "reason": "doesnt_fit" }]), json!({ "type": "refund" }));
    assert_eq!(submit_as_customer(&env, &token, &body, "k").await.status, 201);
    // ...so at delivered + 5 days there is no review request.
    let clock = ppx_shared::ports::clock::ManualClock::at(env.clock_now() + chrono::Duration::days(2));
    let report = env.review_app(env.ses(), clock).run(None).await.unwrap();
    assert_eq!((report.sent, report.skipped.get("return_requested").copied()), (0, Some(1)), "{report:?}");
    assert!(env.raw_emails_to(&email).await.iter().all(|raw| !raw.contains("List-Unsubscribe")));
}

/// Units of each line that the order's stored returns hold (every return not rejected, its
/// items not rejected): never more than was bought.
async fn reserved(env: &TestEnv, line: &str) -> u32 {
    let view = env.order_view(ORDER_ID).await;
    view.returns
        .iter()
        .filter(|r| r.state != ReturnState::Rejected)
        .flat_map(|r| &r.decision.items)
        .filter(|item| item.line_item == line && item.verdict != ppx_shared::domain::returns::Verdict::Rejected)
        .map(|item| item.quantity)
        .sum()
}

#[tokio::test]
async fn concurrent_returns_with_different_keys_never_return_more_than_was_bought() {
    let env = TestEnv::start().await;
    delivered_order(&env).await;
    let token = env.return_token(ORDER_ID);
    let submit_all = |line: &'static str, count: usize, prefix: &'static str| {
        let (env, token) = (&env, &token);
        futures::future::join_all((0..count).map(move |i| async move {
            let body = request(
                json!([{ "line_item": line, "quantity": 1, "reason": "doesnt_fit" }]),
                json!({ "type": "refund" }),
            );
            // Two portal tabs, a double click, a script: every request with its own key.
            submit_as_customer(env, token, &body, &format!("{prefix}-{i}")).await
        }))
    };

    // 20 at once for the one tote that was bought, and 5 at once for one of the 2 shirts each.
    let (totes, shirts) = tokio::join!(submit_all(TOTE, 20, "tote"), submit_all(SHIRT, 5, "shirt"));
    for (replies, line, bought) in [(&totes, TOTE, 1_usize), (&shirts, SHIRT, 2)] {
        assert!(replies.iter().all(|r| r.status == 201), "{:?}", replies.iter().map(|r| &r.body).collect::<Vec<_>>());
        let accepted = replies.iter().filter(|r| r.body["verdict"] != "rejected").count();
        assert_eq!(accepted, bought, "{line}: accepted {accepted} of {} requests", replies.len());
        // The others hear what a request after them hears: nothing is left to return.
        for refused in replies.iter().filter(|r| r.body["verdict"] == "rejected") {
            let reasons = refused.body["items"][0]["reasons"].to_string();
            assert!(reasons.contains("already part of a return"), "{reasons}");
        }
        assert_eq!(reserved(&env, line).await as usize, bought);
    }
    assert_eq!(env.order_view(ORDER_ID).await.returns.len(), 25, "every request stored its return, once");
}

#[tokio::test]
async fn return_events_for_a_topic_of_another_account_are_recorded_as_failed_never_published() {
    // Stored before `ppx shop put` checked it (or by hand): a topic in another account.
    let foreign = format!("arn:aws:sns:us-east-1:999999999999:ppx-returns-{}", ppx_e2e::unique());
    let topic = foreign.clone();
    let env = TestEnv::start_with(move |s| s.return_events_topic_arn = Some(topic)).await;
    let email = delivered_order(&env).await;
    let body =
        request(json!([{ "line_item": TOTE, "quantity": 1, "reason": "doesnt_fit" }]), json!({ "type": "refund" }));
    let reply = submit_as_customer(&env, &env.return_token(ORDER_ID), &body, "k").await;
    // The customer's return goes through, and is told; the event is not retried for days.
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(return_emails(&env.emails_to(&email).await).len(), 1);
    let records = env.order_view(ORDER_ID).await.messages;
    let event = records
        .iter()
        .find(|m| m.channel == ppx_shared::domain::messages::Channel::ShopEvent)
        .expect("an event record");
    assert_eq!(event.state, ppx_shared::domain::messages::DeliveryState::Failed, "{event:?}");
    assert!(event.failure.as_deref().unwrap_or_default().contains("not in this stack's account"), "{event:?}");
    assert!(env.topic_messages(&foreign).await.is_empty());
}
