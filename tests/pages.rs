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

/// `ppx keys ...` against this test's table in moto, as an operator runs it (no link secret).
async fn ppx_keys(env: &TestEnv, args: &[&str]) -> Result<String, ppx_cli::commands::CommandError> {
    let argv = ["ppx", "--table", &env.table, "keys"].into_iter().chain(args.iter().copied());
    let cli = <ppx_cli::app::Cli as clap::Parser>::try_parse_from(argv).unwrap();
    ppx_cli::app::run(cli, &env.sdk, &|_| None).await
}

#[tokio::test]
async fn links_of_a_rotated_key_keep_opening_until_it_is_retired() {
    let env = TestEnv::start().await;
    let email = order_with_an_attempt(&env).await;
    let old = link(&env, &email, "track").await;
    assert!(old.starts_with("/track/k1."), "the key id leads the token: {old}");
    assert_eq!(env.get(&old).await.0, 200);

    let rotated = ppx_keys(&env, &["rotate"]).await.unwrap();
    assert!(rotated.starts_with("key k2 signs") && rotated.contains("k1 still open"), "{rotated}");
    let listed = ppx_keys(&env, &["list"]).await.unwrap();
    assert!(listed.contains("k2 · made") && listed.contains("k1 · made"), "{listed}");

    // A link signed by k2 elsewhere (an operator's command, another function) while the pages
    // function still holds k1 only: it reloads the keys once and opens it.
    env.clock.advance(chrono::Duration::seconds(20));
    use ppx_shared::ports::secrets::SecretStore;
    let keys = env.secret_store("pages").link_keys().await.unwrap().expect("the rotated keys");
    let claims = ppx_shared::domain::link::LinkClaims {
        shop: env.settings.shop.clone(),
        order: ppx_shared::domain::ids::OrderId::parse("5550001001").unwrap(),
        purpose: ppx_shared::domain::link::LinkPurpose::Track,
        expires_at: (env.clock_now() + chrono::Duration::days(1)).timestamp(),
    };
    let sealed = ppx_shared::domain::link::LinkKeyring::new(Some(&keys), None).unwrap().seal(&claims);
    assert!(sealed.starts_with("k2."), "{sealed}");
    assert_eq!(env.get(&format!("/track/{sealed}")).await.0, 200, "a newer key's link opens at once");
    assert_eq!(env.get(&old).await.0, 200, "the old key still opens its links");

    // Once the functions' keys are older than their TTL, new messages carry k2.
    env.clock.advance(chrono::Duration::minutes(6));
    let delivered = json!({
        "tracking_number": "1Z999AA10123456784", "carrier": "UPS",
        "events": [{ "status": "delivered", "occurred_at": (env.clock_now() - chrono::Duration::minutes(5)).to_rfc3339() }],
    });
    assert_eq!(env.post_tracking(&bytes(&delivered)).await.status, 200);
    let notice = env.emails_to(&email).await.into_iter().find(|m| m.subject.contains("delivered")).expect("notice");
    assert!(notice.body.contains(&format!("{PUBLIC_URL}/track/k2.")), "signed by the new key");

    // Retiring the signing key is refused; retiring k1 needs --yes, then its links stop opening.
    let refused = ppx_keys(&env, &["retire", "k2", "--yes"]).await.unwrap_err();
    assert!(refused.to_string().contains("signs the links sent now"), "{refused}");
    assert!(ppx_keys(&env, &["retire", "k1"]).await.unwrap_err().to_string().contains("--yes"));
    assert_eq!(env.get(&old).await.0, 200, "not retired without --yes");
    let retired = ppx_keys(&env, &["retire", "k1", "--yes"]).await.unwrap();
    assert!(retired.contains("every function within 5 minutes"), "{retired}");
    // The functions' copy of the keys is older than their TTL after this long.
    env.clock.advance(chrono::Duration::minutes(6));
    assert_eq!(env.get(&old).await.0, 404, "a retired key's link opens nothing");
    assert_eq!(env.get(&format!("/track/{sealed}")).await.0, 200);
}

#[tokio::test]
async fn a_stack_upgraded_from_0_2_keeps_opening_the_links_its_secret_sealed() {
    use ppx_shared::domain::link::{LinkClaims, LinkKey, LinkPurpose};
    let env = TestEnv::start().await;
    let claims = LinkClaims {
        shop: env.settings.shop.clone(),
        order: ppx_shared::domain::ids::OrderId::parse("1001").unwrap(),
        purpose: LinkPurpose::Return,
        expires_at: (env.clock_now() + chrono::Duration::days(1)).timestamp(),
    };
    let sent_by_0_2 = LinkKey::from_secret(ppx_e2e::LINK_SECRET).seal(&claims);
    // The functions as the upgraded stack runs them: its PPX_LINK_SECRET beside the key set.
    let mut config = env.config();
    config.link_secret = Some(ppx_shared::domain::settings::Secret::new(ppx_e2e::LINK_SECRET));
    let upgraded = ppx_shared::app::context::App::new(env.returns_app_adapters(), &config);
    let links = upgraded.links_for(&sent_by_0_2).await.unwrap();
    assert_eq!(links.keys().open(&sent_by_0_2, LinkPurpose::Return, env.clock_now()), Ok(claims.clone()));
    assert!(upgraded.links().await.unwrap().keys().seal(&claims).starts_with("k1."), "the key set signs");
    // Without the secret (removed once its links expired), they no longer open.
    let without = env.returns_app();
    let links = without.links_for(&sent_by_0_2).await.unwrap();
    assert!(links.keys().open(&sent_by_0_2, LinkPurpose::Return, env.clock_now()).is_err());
}
