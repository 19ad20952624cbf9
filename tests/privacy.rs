//! Privacy end to end: Shopify's mandatory compliance webhooks (signed as every Shopify webhook)
//! and the operator's `ppx customer` commands, against moto. After a customer is forgotten no
//! item of the table holds their name, address, phone or email, and an address that bounced
//! is still never mailed (its hash stays on the suppression list).

use chrono::Duration;
use ppx_e2e::{TestEnv, read_event};
use ppx_shared::domain::mail_feedback::{Suppression, SuppressionReason};
use ppx_shared::domain::messages::Notice;
use ppx_shared::domain::privacy::PrivacyAction;
use ppx_shared::ports::store::roles::*;
use ppx_shared::ports::store::{Claim, ClaimOutcome};
use serde_json::{Value, json};

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// Every attribute of every item of the test's table, as text.
async fn table_text(env: &TestEnv) -> String {
    let client = aws_sdk_dynamodb::Client::new(&env.sdk);
    let out = client.scan().table_name(&env.table).send().await.unwrap();
    format!("{:?}", out.items())
}

/// The sample order as `order_id` for this test's customer, with a phone and SMS consent.
async fn place(env: &TestEnv, order_id: u64) -> (String, String) {
    let email = env.customer_email("private");
    let phone = env.customer_phone();
    let mut order = env.sample_order_for(order_id, &email);
    order["phone"] = json!(phone);
    order["customer"]["phone"] = json!(phone);
    let reply = env.post_shopify("orders/create", &bytes(&order), &format!("o-{order_id}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut fulfillment = read_event("shopify-fulfillments-create.json");
    fulfillment["order_id"] = json!(order_id);
    fulfillment["created_at"] = json!(env.clock_now().to_rfc3339());
    let reply = env.post_shopify("fulfillments/create", &bytes(&fulfillment), &format!("f-{order_id}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    (email, phone)
}

fn compliance_body(env: &TestEnv, email: &str, orders: &[u64], orders_field: &str) -> Value {
    let mut body = json!({
        "shop_id": 954889,
        "shop_domain": format!("{}.myshopify.com", env.shop()),
        "customer": { "id": 191167, "email": email, "phone": "555-625-1199" },
    });
    body[orders_field] = json!(orders);
    body
}

#[tokio::test]
async fn a_forgotten_customer_leaves_no_trace_but_stays_unmailable_if_they_bounced() {
    let env = TestEnv::start().await;
    let order_id = 8_200_001;
    let (email, phone) = place(&env, order_id).await;
    let view = env.order_view(&order_id.to_string()).await;
    let first_name = view.order.as_ref().unwrap().customer.first_name.clone().expect("the sample has a name");
    assert!(view.messages.iter().any(|m| m.destination.as_deref() == Some(email.as_str())));
    let bounced = Suppression {
        address: Some(email.clone()),
        reason: SuppressionReason::HardBounce,
        at: env.clock_now(),
        detail: None,
        order: None,
    };
    env.store.suppress(&env.settings.shop, &email, &bounced).await.unwrap();

    // A copy first: the customer's request, and the operator's export.
    let request = compliance_body(&env, &email, &[order_id], "orders_requested");
    let mut request = request;
    request["data_request"] = json!({ "id": 9999 });
    let reply = env.post_shopify("customers/data_request", &bytes(&request), "privacy-1").await;
    assert_eq!(
        (reply.status, &reply.body["status"], &reply.body["orders"]),
        (200, &json!("data_requested"), &json!(1))
    );
    let export = ppx_cli::commands::customer_export(&env.store, env.shop(), &email, &[]).await.unwrap();
    let export: Value = serde_json::from_str(&export).unwrap();
    assert_eq!(export["orders"][0]["order"]["id"], order_id.to_string());
    assert_eq!(export["orders"][0]["order"]["customer"]["email"], email);
    assert_eq!(export["suppression"]["reason"], "hard_bounce");
    assert!(export["orders"][0]["messages"].as_array().is_some_and(|m| !m.is_empty()));

    // Forged: refused before anything is read or written.
    let redact = compliance_body(&env, &email, &[order_id], "orders_to_redact");
    let mut headers = env.shopify_headers("customers/redact", &bytes(&redact), "privacy-2");
    headers.retain(|(name, _)| *name != "x-shopify-hmac-sha256");
    headers.push(("x-shopify-hmac-sha256", "bm90IGEgc2lnbmF0dXJl".to_owned()));
    let before = env.items_written().await;
    let forged = env.post(&format!("/webhooks/shopify/{}", env.shop()), &headers, bytes(&redact)).await;
    assert_eq!(forged.status, 401, "{}", forged.body);
    assert_eq!(env.items_written().await, before);

    // Forgotten, by the address alone (the order is found by it), a day later.
    env.clock.advance(Duration::days(1));
    let by_address = compliance_body(&env, &email, &[], "orders_to_redact");
    let reply = env.post_shopify("customers/redact", &bytes(&by_address), "privacy-3").await;
    assert_eq!(
        (reply.status, &reply.body["status"], &reply.body["orders"]),
        (200, &json!("customer_redacted"), &json!(1))
    );
    let everything = table_text(&env).await;
    let local_part = email.split('@').next().unwrap();
    for personal in [local_part, phone.trim_start_matches('+'), first_name.as_str()] {
        assert!(!everything.contains(personal), "{personal:?} is still in the table");
    }
    let view = env.order_view(&order_id.to_string()).await;
    let order = view.order.unwrap();
    assert_eq!((order.customer.email, order.customer.phone, order.customer.first_name), (None, None, None));
    assert!(!order.items.is_empty(), "the figures stay");
    let shown = ppx_cli::commands::order_show(&env.store, env.shop(), &order_id.to_string(), false).await.unwrap();
    assert!(!shown.contains(local_part), "{shown}");

    // Still never mailed: the claim finds the address by its hash.
    let suppression = env.store.suppression(&env.settings.shop, &email).await.unwrap().unwrap();
    assert_eq!(suppression.address, None);
    let claim = Claim {
        token: "after".into(),
        at: env.clock_now(),
        lease_until: env.clock_now() + Duration::minutes(1),
        email_to: Some(email.clone()),
    };
    let key = Notice::new(
        ppx_shared::domain::messages::MessageKind::ReviewRequest,
        ppx_shared::domain::messages::MessageScope::Order,
    )
    .on(ppx_shared::domain::messages::Channel::Email);
    let later = ppx_shared::domain::ids::OrderId::parse("8200002").unwrap();
    let batch = env.store.claim_messages(&env.settings.shop, &later, &[key], &claim, None).await.unwrap();
    assert!(matches!(batch.claims[..], [ClaimOutcome::Suppressed(_)]), "{batch:?}");

    // What was done is on record, naming nobody.
    let records = env.store.privacy_records(&env.settings.shop).await.unwrap();
    let actions: Vec<_> = records.iter().map(|r| (r.action, r.orders)).collect();
    assert_eq!(actions, [(PrivacyAction::DataRequested, 1), (PrivacyAction::CustomerRedacted, 1)]);
    let listed = ppx_cli::commands::customer_requests(&env.store, env.shop(), false).await.unwrap();
    assert!(listed.contains("customer_redacted · 1 order(s)") && listed.contains("request 9999"), "{listed}");
}

#[tokio::test]
async fn a_shop_that_left_is_forgotten_and_its_webhooks_refused() {
    let env = TestEnv::start().await;
    let body = json!({ "shop_id": 954889, "shop_domain": format!("{}.myshopify.com", env.shop()) });
    let reply = env.post_shopify("shop/redact", &bytes(&body), "privacy-shop").await;
    assert_eq!((reply.status, &reply.body["status"]), (200, &json!("shop_redacted")), "{}", reply.body);
    assert!(env.store.get_settings(&env.settings.shop).await.unwrap().is_none());
    let records = env.store.privacy_records(&env.settings.shop).await.unwrap();
    assert_eq!(records.iter().map(|r| r.action).collect::<Vec<_>>(), [PrivacyAction::ShopRedacted]);
}

#[tokio::test]
async fn the_operator_erases_a_customer_of_any_platform_by_the_address() {
    let env = TestEnv::start().await;
    let order_id = 8_200_003;
    let (email, _) = place(&env, order_id).await;
    let erased =
        ppx_cli::commands::customer_erase(&env.store, env.shop(), &email.to_uppercase(), &[], env.clock_now()).await;
    assert_eq!(
        erased.unwrap(),
        format!("erased the customer's personal data from 1 order(s) of shop {}\n", env.shop())
    );
    assert!(!table_text(&env).await.contains(email.split('@').next().unwrap()));
    // Found by nothing any more: a second erasure has nothing to do.
    let again = ppx_cli::commands::customer_erase(&env.store, env.shop(), &email, &[], env.clock_now()).await;
    assert!(again.unwrap().contains("from 0 order(s)"));
}
