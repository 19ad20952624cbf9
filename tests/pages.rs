//! Customer pages end to end: the links of the emails open the tracking page and the returns
//! portal through `ppx serve`'s router; the portal's plain form post decides a return.

use ppx_e2e::{PUBLIC_URL, TestEnv, read_event};
use serde_json::{Value, json};

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// The sample order for this test's customer, fulfilled, with a missed delivery attempt.
async fn order_with_an_attempt(env: &TestEnv) -> String {
    let email = env.customer_email("page");
    let mut order = read_event("shopify-orders-create.json");
    order["email"] = json!(email);
    order["customer"]["email"] = json!(email);
    order["customer"]["sms_marketing_consent"] = Value::Null;
    assert_eq!(env.post_shopify("orders/create", &bytes(&order), "o").await.status, 200);
    let fulfillment = bytes(&read_event("shopify-fulfillments-create.json"));
    assert_eq!(env.post_shopify("fulfillments/create", &fulfillment, "f").await.status, 200);
    let scans = json!({
        "tracking_number": "1Z999AA10123456784", "carrier": "UPS",
        "events": [
            { "status": "in_transit", "occurred_at": (env.clock_now() - chrono::Duration::hours(30)).to_rfc3339(), "message": "Departed facility", "location": "Secaucus, NJ, US" },
            { "status": "out_for_delivery", "occurred_at": (env.clock_now() - chrono::Duration::hours(6)).to_rfc3339(), "message": "Out for delivery" },
            { "status": "delivery_attempted", "occurred_at": (env.clock_now() - chrono::Duration::hours(2)).to_rfc3339(), "message": "Customer not available" },
        ],
    });
    assert_eq!(env.post_tracking(&bytes(&scans)).await.status, 200);
    email
}

/// A link of the confirmation email, made relative to the local server.
async fn link(env: &TestEnv, email: &str, page: &str) -> String {
    let confirmation = env.emails_to(email).await.into_iter().find(|m| m.subject.contains("confirmed")).unwrap();
    let start = confirmation.body.find(&format!("{PUBLIC_URL}/{page}/")).expect("link in the email");
    let url: String = confirmation.body[start..].chars().take_while(|c| *c != '"').collect();
    url.replacen(PUBLIC_URL, "", 1)
}

#[tokio::test]
async fn the_tracking_link_shows_the_journey_and_a_tampered_one_shows_nothing() {
    let env = TestEnv::start().await;
    let email = order_with_an_attempt(&env).await;
    let track = link(&env, &email, "track").await;
    let (status, page) = env.get(&track).await;
    assert_eq!(status, 200);
    assert!(page.len() < 30 * 1024, "{} bytes", page.len());
    for needle in ["#1001", "Customer not available", "Departed facility", "1Z999AA10123456784", "Linen shirt"] {
        assert!(page.contains(needle), "tracking page lacks {needle}");
    }
    assert!(page.find("Customer not available").unwrap() < page.find("Departed facility").unwrap(), "newest first");
    assert!(!page.contains(&email), "no email address on the page");

    let mut tampered = track.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (status, page) = env.get(&tampered).await;
    assert_eq!(status, 404);
    assert!(!page.contains("1001") && !page.contains("Linen"), "a bad link leaks nothing");
}

#[tokio::test]
async fn the_returns_portal_form_decides_a_return_once() {
    let env = TestEnv::start().await;
    let email = order_with_an_attempt(&env).await;
    let portal = link(&env, &email, "returns").await;
    let (status, page) = env.get(&portal).await;
    assert_eq!(status, 200);
    assert!(page.contains("name=\"qty_6660001001\"") && page.contains("name=\"reason_6660001001\""), "{page}");
    assert!(page.contains("value=\"store_credit\""), "store credit is offered");

    let form = "qty_6660001001=1&reason_6660001001=doesnt_fit&qty_6660001002=0&reason_6660001002=\
&resolution=refund&idempotency_key=form-1";
    let (status, result) = env.post_form(&portal, form).await;
    assert_eq!(status, 200, "{result}");
    assert!(result.to_lowercase().contains("approved"), "{result}");
    // The same form submitted twice (a double click) is one return.
    assert_eq!(env.post_form(&portal, form).await.0, 200);
    let view = env.order_view("5550001001").await;
    assert_eq!(view.returns.len(), 1);

    // An empty choice comes back to the form with a message, and stores nothing more.
    let (status, page) = env.post_form(&portal, "qty_6660001001=0&resolution=refund&idempotency_key=form-2").await;
    assert_eq!(status, 400);
    assert!(page.contains("role=\"alert\""), "{page}");
    assert_eq!(env.order_view("5550001001").await.returns.len(), 1);
}
