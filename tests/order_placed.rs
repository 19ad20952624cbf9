//! order-placed end to end: HTTP through `ppx serve`'s router, real SDK clients, moto server.

use ppx_e2e::{TestEnv, fixture_bytes, read_event};
use ppx_shared::domain::messages::{Channel, DeliveryState, MessageKind};
use serde_json::{Value, json};

const ORDER_ID: &str = "5550001001";

/// The sample Shopify order, addressed to this test's own customer.
fn shopify_order(env: &TestEnv, sms_consent: bool) -> (Value, String, String) {
    let email = env.customer_email("ada");
    let phone = env.customer_phone();
    let mut order = read_event("shopify-orders-create.json");
    order["email"] = json!(email);
    order["contact_email"] = json!(email);
    order["phone"] = json!(phone);
    order["customer"]["email"] = json!(email);
    order["customer"]["phone"] = json!(phone);
    if !sms_consent {
        order["customer"]["sms_marketing_consent"] = Value::Null;
    }
    (order, email, phone)
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

#[tokio::test]
async fn shopify_order_is_stored_and_confirmed_once_by_email_and_sms() {
    let env = TestEnv::start().await;
    let (order, email, phone) = shopify_order(&env, true);
    let reply = env.post_shopify("orders/create", &bytes(&order), "wh-1").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["messages_sent"], 2);

    let view = env.order_view(ORDER_ID).await;
    let stored = view.order.expect("order stored");
    assert_eq!(stored.number, "#1001");
    assert_eq!(stored.totals.total.minor, 12500);
    assert!(stored.promised_delivery.is_some());

    let emails = env.emails_to(&email).await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    let confirmation = &emails[0];
    assert!(confirmation.subject.contains("#1001"), "{}", confirmation.subject);
    for needle in ["#1001", "Linen shirt", "Canvas tote", "$125.00", "/track/", "/returns/"] {
        assert!(confirmation.body.contains(needle), "confirmation lacks {needle}");
    }
    let sms = env.sms_to(&phone).await;
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert!(sms[0].contains("#1001") && sms[0].contains("/track/"), "{}", sms[0]);

    // The message log answers "did the customer get this?".
    let log = env.order_view(ORDER_ID).await.messages;
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|m| m.kind == MessageKind::OrderConfirmation && m.state == DeliveryState::Sent));
    assert!(log.iter().any(|m| m.channel == Channel::Email && m.provider_message_id.is_some()));
}

#[tokio::test]
async fn the_same_webhook_five_times_concurrently_sends_one_confirmation() {
    let env = TestEnv::start().await;
    let (order, email, phone) = shopify_order(&env, true);
    let body = bytes(&order);
    // Platform retries carry the same webhook id; a resend by a person may not, so use both.
    let replies = futures::future::join_all((0..5).map(|i| {
        let id = if i % 2 == 0 { "wh-same".to_owned() } else { format!("wh-{i}") };
        let env = &env;
        let body = body.clone();
        async move { env.post_shopify("orders/create", &body, &id).await }
    }))
    .await;
    for reply in &replies {
        // A request that found the message being sent by another asks to be retried.
        assert!(reply.status == 200 || reply.status == 503, "{} {}", reply.status, reply.body);
    }
    // The platform retries whatever was not 2xx.
    for (i, reply) in replies.iter().enumerate() {
        if reply.status == 503 {
            let retry = env.post_shopify("orders/create", &body, &format!("wh-retry-{i}")).await;
            assert_eq!(retry.status, 200, "{}", retry.body);
        }
    }
    assert_eq!(env.emails_to(&email).await.len(), 1);
    assert_eq!(env.sms_to(&phone).await.len(), 1);
    assert_eq!(env.items_written().await.iter().filter(|k| k.ends_with("/ORDER")).count(), 1);
}

#[tokio::test]
async fn a_known_order_update_changes_it_and_sends_nothing() {
    let env = TestEnv::start().await;
    let (mut order, email, _) = shopify_order(&env, false);
    assert_eq!(env.post_shopify("orders/create", &bytes(&order), "wh-c").await.status, 200);
    order["updated_at"] = json!("2026-11-23T11:00:00-05:00");
    order["financial_status"] = json!("partially_refunded");
    let reply = env.post_shopify("orders/updated", &bytes(&order), "wh-u").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["messages_sent"], 0);
    let stored = env.order_view(ORDER_ID).await.order.unwrap();
    assert_eq!(stored.payment, ppx_shared::domain::order::PaymentStatus::PartiallyRefunded);
    // An older update arriving late never rolls the order back.
    order["updated_at"] = json!("2026-11-23T10:30:00-05:00");
    order["financial_status"] = json!("paid");
    assert_eq!(env.post_shopify("orders/updated", &bytes(&order), "wh-old").await.status, 200);
    let stored = env.order_view(ORDER_ID).await.order.unwrap();
    assert_eq!(stored.payment, ppx_shared::domain::order::PaymentStatus::PartiallyRefunded);
    assert_eq!(env.emails_to(&email).await.len(), 1);
}

#[tokio::test]
async fn a_fulfillment_sends_one_shipped_message_with_the_tracking_link() {
    let env = TestEnv::start().await;
    let (order, email, phone) = shopify_order(&env, true);
    assert_eq!(env.post_shopify("orders/create", &bytes(&order), "wh-o").await.status, 200);
    let fulfillment = bytes(&read_event("shopify-fulfillments-create.json"));
    let reply = env.post_shopify("fulfillments/create", &fulfillment, "wh-f").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // Delivered again under another id (a fulfillments/update with nothing new): no second message.
    let again = env.post_shopify("fulfillments/update", &fulfillment, "wh-f2").await;
    assert_eq!(again.status, 200, "{}", again.body);

    let emails = env.emails_to(&email).await;
    let shipped: Vec<_> = emails.iter().filter(|m| m.subject.contains("shipped")).collect();
    assert_eq!(shipped.len(), 1, "{emails:?}");
    for needle in ["1Z999AA10123456784", "UPS", "/track/", "Linen shirt"] {
        assert!(shipped[0].body.contains(needle), "shipped email lacks {needle}");
    }
    // "Shipped" is not worth a text (the notification policy): the confirmation's only.
    assert_eq!(env.sms_to(&phone).await.len(), 1, "the confirmation's text only");
    let view = env.order_view(ORDER_ID).await;
    assert_eq!(view.shipments.len(), 1);
    assert_eq!(view.shipments[0].tracking_number.as_ref().unwrap().as_str(), "1Z999AA10123456784");
}

#[tokio::test]
async fn a_fulfillment_before_its_order_is_announced_when_the_order_arrives() {
    let env = TestEnv::start().await;
    let (order, email, _) = shopify_order(&env, false);
    let fulfillment = bytes(&read_event("shopify-fulfillments-create.json"));
    let early = env.post_shopify("fulfillments/create", &fulfillment, "wh-f").await;
    assert_eq!(early.status, 202, "{}", early.body);
    assert!(env.emails_to(&email).await.is_empty());
    let reply = env.post_shopify("orders/create", &bytes(&order), "wh-o").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let subjects: Vec<String> = env.emails_to(&email).await.into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects.iter().any(|s| s.contains("confirmed")) && subjects.iter().any(|s| s.contains("shipped")));
}

#[tokio::test]
async fn sms_goes_only_with_consent() {
    let env = TestEnv::start().await;
    let (order, email, phone) = shopify_order(&env, false);
    let reply = env.post_shopify("orders/create", &bytes(&order), "wh-1").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(env.emails_to(&email).await.len(), 1);
    assert!(env.sms_to(&phone).await.is_empty());
}

#[tokio::test]
async fn the_real_shopify_fixture_is_stored_and_its_cancelled_order_gets_no_confirmation() {
    let env = TestEnv::start().await;
    let body = fixture_bytes("shopify-orders-create.json");
    let reply = env.post_shopify("orders/create", &body, "wh-fixture").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["messages_sent"], 0);
    let stored = env.order_view("820982911946154508").await.order.unwrap();
    assert_eq!(stored.status, ppx_shared::domain::order::OrderStatus::Cancelled);
    assert_eq!(stored.totals.total.minor, 40495);
}

#[tokio::test]
async fn forged_malformed_and_unknown_requests_are_refused_and_write_nothing() {
    let env = TestEnv::start().await;
    let (order, email, _) = shopify_order(&env, true);
    let body = bytes(&order);
    let path = format!("/webhooks/shopify/{}", env.shop());

    // Wrong signature.
    let mut headers = env.shopify_headers("orders/create", &body, "wh-x");
    headers[2].1 = ppx_shared::http::signature::sign_base64_hmac("not the secret", &body);
    let reply = env.post(&path, &headers, body.clone()).await;
    assert_eq!((reply.status, reply.body["error"].as_str()), (401, Some("invalid_signature")));
    // Signature of another body.
    let headers = env.shopify_headers("orders/create", b"{}", "wh-x");
    assert_eq!(env.post(&path, &headers, body.clone()).await.status, 401);
    // No signature.
    let headers: Vec<_> = env
        .shopify_headers("orders/create", &body, "wh-x")
        .into_iter()
        .filter(|(n, _)| *n != "x-shopify-hmac-sha256")
        .collect();
    let reply = env.post(&path, &headers, body.clone()).await;
    assert_eq!((reply.status, reply.body["error"].as_str()), (401, Some("missing_signature")));
    // Signed but not JSON.
    let reply = env.post_shopify("orders/create", b"{\"id\": ", "wh-y").await;
    assert_eq!((reply.status, reply.body["error"].as_str()), (400, Some("invalid_json")), "{}", reply.body);
    // Signed JSON with a required field missing: the field is named.
    let mut partial = order.clone();
    partial.as_object_mut().unwrap().remove("line_items");
    let reply = env.post_shopify("orders/create", &bytes(&partial), "wh-z").await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["error"], "invalid_field");
    assert!(reply.body["message"].as_str().unwrap().contains("line_items"), "{}", reply.body);
    // Unknown shop.
    let reply = env
        .post("/webhooks/shopify/no-such-shop", &env.shopify_headers("orders/create", &body, "a"), body.clone())
        .await;
    assert_eq!((reply.status, reply.body["error"].as_str()), (404, Some("unknown_shop")));
    // Over 1 MiB.
    let huge = vec![b' '; 1024 * 1024 + 1];
    let reply = env.post_shopify("orders/create", &huge, "wh-h").await;
    assert_eq!((reply.status, reply.body["error"].as_str()), (413, Some("payload_too_large")));
    // Another shop's domain header.
    let mut headers = env.shopify_headers("orders/create", &body, "wh-d");
    headers[3].1 = "someone-else.myshopify.com".to_owned();
    assert_eq!(env.post(&path, &headers, body.clone()).await.status, 403);
    // Wrong content type.
    let mut headers = env.shopify_headers("orders/create", &body, "wh-t");
    headers[0].1 = "text/plain".to_owned();
    assert_eq!(env.post(&path, &headers, body.clone()).await.status, 415);

    assert!(env.items_written().await.is_empty(), "{:?}", env.items_written().await);
    assert!(env.emails_to(&email).await.is_empty());
}

#[tokio::test]
async fn woocommerce_ping_and_order_created() {
    let env = TestEnv::start().await;
    let path = format!("/webhooks/woocommerce/{}", env.shop());
    let ping =
        env.post(&path, &[("content-type", "application/x-www-form-urlencoded".to_owned())], "webhook_id=12").await;
    assert_eq!(ping.status, 200, "{}", ping.body);
    assert!(env.items_written().await.is_empty());

    let email = env.customer_email("grace");
    let mut order = read_event("woocommerce-order-created.json");
    order["billing"]["email"] = json!(email);
    let reply = env.post_woocommerce("order.created", &bytes(&order), "wc-1").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let again = env.post_woocommerce("order.created", &bytes(&order), "wc-1").await;
    assert_eq!((again.status, again.body["status"].as_str()), (200, Some("duplicate")));
    let emails = env.emails_to(&email).await;
    assert_eq!(emails.len(), 1);
    assert!(emails[0].body.contains("#9001"));
}

#[tokio::test]
async fn generic_format_happy_path_and_stale_signature() {
    let env = TestEnv::start().await;
    let email = env.customer_email("alan");
    let phone = env.customer_phone();
    let mut order = read_event("generic-order-created.json");
    order["order"]["customer"]["email"] = json!(email);
    order["order"]["customer"]["phone"] = json!(phone);
    let body = bytes(&order);
    let reply = env.post_generic(&body, "g-1").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(env.emails_to(&email).await.len(), 1);
    assert_eq!(env.sms_to(&phone).await.len(), 1);
    let shipment = bytes(&read_event("generic-shipment-created.json"));
    assert_eq!(env.post_generic(&shipment, "g-2").await.status, 200);
    assert_eq!(env.emails_to(&email).await.len(), 2);

    // Replayed ten minutes later: the signature's timestamp is out of the window.
    let old = (env.clock_now() - chrono::Duration::minutes(10)).timestamp();
    let headers = vec![
        ("content-type", "application/json".to_owned()),
        (
            "ppx-signature",
            ppx_shared::http::signature::sign_timestamped(
                env.secret(ppx_shared::domain::settings::WebhookSource::Orders),
                &body,
                old,
            ),
        ),
    ];
    let reply = env.post(&format!("/webhooks/orders/{}", env.shop()), &headers, body).await;
    assert_eq!((reply.status, reply.body["error"].as_str()), (401, Some("stale_signature")));
}

#[tokio::test]
async fn control_characters_in_names_and_titles_never_reach_the_email_the_page_or_the_table() {
    let env = TestEnv::start().await;
    let (mut order, email, phone) = shopify_order(&env, true);
    // A NUL (mail relays reject it), a terminal escape, a C1 control, a line break in a name.
    order["customer"]["first_name"] = json!("Ad\u{0}a\u{1b}[31m");
    order["billing_address"]["first_name"] = json!("Ad\u{0}a\u{1b}[31m");
    order["shipping_address"]["first_name"] = json!("Ad\u{0}a\u{1b}[31m");
    order["line_items"][0]["title"] = json!("Linen\u{85} shirt\r\nBcc: x@evil.example");
    order["line_items"][0]["variant_title"] = json!("M /\u{9b}2J Sand");
    let reply = env.post_shopify("orders/create", &bytes(&order), "wh-controls").await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // Line ends (CRLF in MIME) and tabs are layout; any other control character came from the webhook.
    let controls = |text: &str| text.chars().filter(|c| c.is_control() && !matches!(c, '\r' | '\n' | '\t')).count();
    let stored = env.order_view(ORDER_ID).await.order.expect("order stored");
    let stored_json = serde_json::to_string(&stored).unwrap();
    assert!(!stored_json.contains("\\u00") && !stored_json.contains("\\r"), "{stored_json}");
    assert_eq!(stored.items[0].title, "Linen shirt  Bcc: x@evil.example");

    let emails = env.emails_to(&email).await;
    assert_eq!(emails.len(), 1);
    assert_eq!(controls(&emails[0].body) + controls(&emails[0].subject), 0, "{:?}", emails[0].body);
    assert!(emails[0].body.contains("Linen shirt  Bcc: x@evil.example"), "{}", emails[0].body);
    let sms = env.sms_to(&phone).await;
    assert_eq!(controls(&sms[0]), 0, "{:?}", sms[0]);
    // The tracking page of the email's link.
    let start = emails[0].body.find("/track/").expect("tracking link");
    let token: String = emails[0].body[start + 7..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let (status, page) = env.get(&format!("/track/{token}")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(controls(&page), 0, "{page:?}");
    assert!(page.contains("Linen shirt"), "{page}");
}

#[tokio::test]
async fn a_shop_template_that_does_not_render_still_confirms_the_order_with_the_default() {
    // Stored before `ppx shop put` checked overrides (or edited in the table by hand).
    let env = TestEnv::start_with(|s| {
        s.templates.insert("order_confirmation.html".into(), "Hi {{ order.numbr }}".into());
        s.templates.insert("order_confirmation.sms.txt".into(), "{% for x in %}".into());
    })
    .await;
    let (order, email, phone) = shopify_order(&env, true);
    let reply = env.post_shopify("orders/create", &bytes(&order), "wh-broken-template").await;
    // Not a 5xx the platform would retry for days: the customer hears from the shop now.
    assert_eq!((reply.status, reply.body["messages_sent"].as_u64()), (200, Some(2)), "{}", reply.body);
    let emails = env.emails_to(&email).await;
    assert_eq!(emails.len(), 1);
    assert!(emails[0].body.contains("Linen shirt") && emails[0].body.contains("/track/"), "{}", emails[0].body);
    assert!(env.sms_to(&phone).await[0].contains("#1001"));
}

#[tokio::test]
async fn an_order_too_large_to_store_is_refused_for_good_and_writes_nothing() {
    let env = TestEnv::start().await;
    let mut order = read_event("generic-order-created.json");
    order["order"]["customer"]["email"] = json!(env.customer_email("big"));
    // 240 lines with 1,800-character titles and tags: under the body limit and the line cap,
    // over DynamoDB's 400 KB for one item.
    let line = order["order"]["items"][0].clone();
    let lines: Vec<Value> = (0..240)
        .map(|i| {
            let mut line = line.clone();
            line["id"] = json!(format!("G-1001-{i}"));
            line["title"] = json!(format!("{i} {}", "Enigma puzzle box ".repeat(100)));
            line
        })
        .collect();
    order["order"]["items"] = json!(lines);
    order["order"]["totals"]["subtotal"] = json!("8376.00");
    order["order"]["totals"]["total"] = json!("8380.90");
    let body = bytes(&order);
    assert!(body.len() < 1024 * 1024, "{} bytes", body.len());
    let reply = env.post_generic(&body, "g-big").await;
    // Not a 5xx that the platform retries for days: the order can never be stored.
    assert_eq!((reply.status, reply.body["error"].as_str()), (422, Some("item_too_large")), "{}", reply.body);
    assert!(env.items_written().await.is_empty(), "{:?}", env.items_written().await);
}

#[tokio::test]
async fn an_order_before_the_first_link_key_is_confirmed_once_one_exists() {
    use ppx_shared::ports::secrets::SecretStore;
    let env = TestEnv::start().await;
    // A new stack before `ppx keys rotate`: no link keys, and no PPX_LINK_SECRET.
    let parameter = ppx_shared::adapters::ssm::link_keys_parameter_name(&env.table);
    aws_sdk_ssm::Client::new(&env.sdk).delete_parameter().name(parameter).send().await.unwrap();
    let (order, email, _) = shopify_order(&env, false);
    let reply = env.post_shopify("orders/create", &bytes(&order), "nk-1").await;
    assert_eq!((reply.status, reply.body["error"].as_str()), (500, Some("link_keys_unavailable")), "{}", reply.body);
    assert!(env.emails_to(&email).await.is_empty(), "nothing sent without links");

    // The operator makes the first key; the platform's retry (after the failed attempt's lease)
    // confirms the order, once.
    let keys = ppx_shared::domain::link_keys::LinkKeySet::first(
        ppx_shared::domain::link_keys::LinkKeySet::fresh_secret(),
        env.clock_now(),
    );
    let operator = ppx_shared::adapters::ssm::SsmSecrets::new(aws_sdk_ssm::Client::new(&env.sdk), env.table.clone());
    operator.put_link_keys(&keys).await.unwrap();
    env.clock.advance(chrono::Duration::seconds(61));
    let reply = env.post_shopify("orders/create", &bytes(&order), "nk-1").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["messages_sent"], 1);
    let sent = env.emails_to(&email).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body.contains("/track/k1."), "sealed with the new key");
    assert_eq!(env.post_shopify("orders/create", &bytes(&order), "nk-1").await.status, 200);
    assert_eq!(env.emails_to(&email).await.len(), 1, "and only once");
}
