//! Reliability proof: every webhook route against a matrix of bad input, 50 identical webhooks
//! at once per state-changing route kind, and JSON logs that carry ids but no personal data.

use ppx_e2e::{Reply, TestEnv, fixture_bytes, read_event};
use ppx_shared::domain::settings::WebhookSource;
use ppx_shared::http::signature::{sign_base64_hmac, sign_timestamped};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

const ORDER_ID: &str = "5550001001";
const TRACKING_NUMBER: &str = "1Z999AA10123456784";
const SHIRT: &str = "6660001001";

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Captured logs: one JSON formatter writing to memory, the global default of this test binary.

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The same formatter as `ppx_shared::http::telemetry::init_json_logs` (JSON, current span, INFO),
/// writing to [`LOGS`]. Every test calls it, so whichever runs first installs it.
fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_current_span(true)
            .with_span_list(false)
            .with_target(false)
            .without_time()
            .with_writer(|| LogWriter)
            .try_init()
            .expect("no other global subscriber in this binary");
    });
}

fn captured_logs() -> String {
    String::from_utf8(LOGS.lock().unwrap().clone()).expect("logs are UTF-8")
}

// ---------------------------------------------------------------------------------------------
// Bad input matrix.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Shopify,
    Woocommerce,
    Orders,
    Easypost,
    Shippo,
    Aftership,
    Tracking,
    Returns,
}

const ROUTES: [Route; 8] = [
    Route::Shopify,
    Route::Woocommerce,
    Route::Orders,
    Route::Easypost,
    Route::Shippo,
    Route::Aftership,
    Route::Tracking,
    Route::Returns,
];

impl Route {
    fn path(self, shop: &str) -> String {
        match self {
            Self::Shopify => format!("/webhooks/shopify/{shop}"),
            Self::Woocommerce => format!("/webhooks/woocommerce/{shop}"),
            Self::Orders => format!("/webhooks/orders/{shop}"),
            Self::Easypost => format!("/webhooks/easypost/{shop}"),
            Self::Shippo => format!("/webhooks/shippo/{shop}"),
            Self::Aftership => format!("/webhooks/aftership/{shop}"),
            Self::Tracking => format!("/webhooks/tracking/{shop}"),
            Self::Returns => format!("/returns/{shop}"),
        }
    }

    fn source(self) -> WebhookSource {
        match self {
            Self::Shopify => WebhookSource::Shopify,
            Self::Woocommerce => WebhookSource::Woocommerce,
            Self::Orders | Self::Returns => WebhookSource::Orders,
            Self::Easypost => WebhookSource::Easypost,
            Self::Shippo => WebhookSource::Shippo,
            Self::Aftership => WebhookSource::Aftership,
            Self::Tracking => WebhookSource::Tracking,
        }
    }

    /// The signature header carries a timestamp checked against a 5-minute window.
    fn timestamped(self) -> bool {
        matches!(self, Self::Orders | Self::Shippo | Self::Tracking | Self::Returns)
    }

    /// A valid body of the route's format.
    fn valid_body(self) -> Value {
        match self {
            Self::Shopify => read_event("shopify-orders-create.json"),
            Self::Woocommerce => read_event("woocommerce-order-created.json"),
            Self::Orders => read_event("generic-order-created.json"),
            Self::Easypost => read_event("easypost-tracker-updated.json"),
            Self::Shippo => read_event("shippo-track-updated.json"),
            Self::Aftership => read_event("aftership-tracking-update.json"),
            Self::Tracking => read_event("generic-tracking-event.json"),
            Self::Returns => json!({
                "order_id": ORDER_ID,
                "items": [{ "line_item": SHIRT, "quantity": 1, "reason": "doesnt_fit" }],
                "resolution": { "type": "refund" },
            }),
        }
    }

    /// The answer to `{"a": [[[...10,000...]]]}`: the formats that ignore unknown fields miss
    /// their first required one, the strict ones name `a`.
    fn deep_field(self) -> (u16, &'static str, Option<&'static str>) {
        match self {
            Self::Shopify | Self::Woocommerce => (400, "invalid_field", Some("id")),
            Self::Orders | Self::Tracking => (400, "invalid_field", Some("a")),
            Self::Easypost => (400, "invalid_field", Some("description")),
            Self::Shippo | Self::Aftership => (400, "invalid_field", Some("event")),
            Self::Returns => (400, "invalid_field", Some("order_id")),
        }
    }

    /// `(JSON pointer, replacement, field the error must name)`: a number where a string is
    /// expected, then a string (or a string where a list is expected) where a number is.
    fn wrong_types(self) -> [(&'static str, Value, &'static str); 2] {
        match self {
            Self::Shopify => {
                [("/email", json!(12345), "email"), ("/line_items/0/quantity", json!("two"), "line_items[0].quantity")]
            }
            Self::Woocommerce => [
                ("/billing/email", json!(12345), "billing.email"),
                ("/line_items/0/quantity", json!("two"), "line_items[0].quantity"),
            ],
            Self::Orders => [
                ("/order/currency", json!(978), "order.currency"),
                ("/order/items/0/quantity", json!("two"), "order.items[0].quantity"),
            ],
            Self::Easypost => [
                ("/result/tracking_code", json!(770123456789_u64), "result.tracking_code"),
                ("/result/tracking_details", json!("none"), "result.tracking_details"),
            ],
            Self::Shippo => [
                ("/data/tracking_number", json!(9205590164917312751089_f64), "data.tracking_number"),
                ("/data/tracking_history", json!("none"), "data.tracking_history"),
            ],
            Self::Aftership => [
                ("/msg/tracking_number", json!(12345), "msg.tracking_number"),
                ("/msg/checkpoints", json!("none"), "msg.checkpoints"),
            ],
            Self::Tracking => {
                [("/tracking_number", json!(12345), "tracking_number"), ("/events", json!("none"), "events")]
            }
            Self::Returns => [
                ("/items/0/reason", json!(7), "items[0].reason"),
                ("/items/0/quantity", json!("one"), "items[0].quantity"),
            ],
        }
    }

    /// The authentication header(s) the provider would send for `body` at unix time `at`.
    fn signature(self, secret: &str, body: &[u8], at: i64) -> Vec<(&'static str, String)> {
        match self {
            Self::Shopify => vec![("x-shopify-hmac-sha256", sign_base64_hmac(secret, body))],
            Self::Woocommerce => vec![("x-wc-webhook-signature", sign_base64_hmac(secret, body))],
            Self::Orders | Self::Tracking | Self::Returns => {
                vec![("ppx-signature", sign_timestamped(secret, body, at))]
            }
            Self::Easypost => vec![("x-hmac-signature", ppx_shared::http::signature::sign_easypost_hmac(secret, body))],
            Self::Shippo => vec![("shippo-auth-signature", sign_timestamped(secret, body, at))],
            Self::Aftership => vec![("aftership-hmac-sha256", sign_base64_hmac(secret, body))],
        }
    }

    /// Headers every delivery of the provider carries besides the signature.
    fn other_headers(self, env: &TestEnv) -> Vec<(&'static str, String)> {
        match self {
            Self::Shopify => vec![
                ("x-shopify-topic", "orders/create".to_owned()),
                ("x-shopify-shop-domain", format!("shop-{}.myshopify.com", env.suffix)),
                ("x-shopify-webhook-id", format!("wh-{}", ppx_e2e::unique())),
            ],
            Self::Woocommerce => vec![
                ("x-wc-webhook-topic", "order.created".to_owned()),
                ("x-wc-webhook-delivery-id", ppx_e2e::unique()),
            ],
            Self::Orders => vec![("ppx-delivery-id", ppx_e2e::unique())],
            Self::Returns => vec![("idempotency-key", ppx_e2e::unique())],
            _ => vec![],
        }
    }
}

struct Case {
    name: String,
    route: Route,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// `(status, error code or answer status, field)`.
    expect: (u16, &'static str, Option<&'static str>),
}

struct Builder<'a> {
    env: &'a TestEnv,
    cases: Vec<Case>,
}

impl Builder<'_> {
    fn now(&self) -> i64 {
        self.env.clock_now().timestamp()
    }

    /// A case signed correctly for its body, with the provider's usual headers.
    fn signed(&mut self, route: Route, name: &str, body: Vec<u8>, expect: (u16, &'static str, Option<&'static str>)) {
        let secret = self.env.secret(route.source()).to_owned();
        let mut headers = vec![("content-type", "application/json".to_owned())];
        headers.extend(route.other_headers(self.env));
        headers.extend(route.signature(&secret, &body, self.now()));
        self.custom(route, name, headers, body, expect);
    }

    fn custom(
        &mut self,
        route: Route,
        name: &str,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
        expect: (u16, &'static str, Option<&'static str>),
    ) {
        let path = route.path(self.env.shop());
        self.cases.push(Case { name: name.to_owned(), route, path, headers, body, expect });
    }

    fn route_cases(&mut self, route: Route) {
        let env = self.env;
        let secret = env.secret(route.source()).to_owned();
        let valid = bytes(&route.valid_body());
        let base = |with_signature: Vec<(&'static str, String)>| {
            let mut headers = vec![("content-type", "application/json".to_owned())];
            headers.extend(route.other_headers(env));
            headers.extend(with_signature);
            headers
        };
        let bad_json = (400, "invalid_json", None);

        // The body: signed correctly, so only the body is wrong.
        self.signed(route, "empty body", Vec::new(), bad_json);
        self.signed(route, "invalid UTF-8", b"{\"\xc3\x28\": \"\xff\xfe\"}".to_vec(), bad_json);
        self.signed(route, "not JSON", b"order please".to_vec(), bad_json);
        self.signed(route, "truncated JSON", valid[..valid.len() / 2].to_vec(), bad_json);
        self.signed(route, "a JSON array", b"[1, 2, 3]".to_vec(), bad_json);
        self.signed(route, "a JSON string", b"\"hello\"".to_vec(), bad_json);
        self.signed(route, "JSON null", b"null".to_vec(), bad_json);
        let mut huge = valid.clone();
        huge.truncate(huge.len() - 1);
        huge.extend_from_slice(b",\"padding\":\"");
        huge.resize(ppx_shared::http::edge::MAX_BODY_BYTES + 10, b'x');
        huge.extend_from_slice(b"\"}");
        self.signed(route, "over 1 MiB", huge, (413, "payload_too_large", None));
        let depth = 10_000;
        let nested = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        // Valid JSON whose deep part sits in a field the format ignores or refuses: the parser
        // skips it without recursing (no stack overflow) and names the field that is wrong.
        self.signed(route, "10,000 nested arrays in a field", nested.into_bytes(), route.deep_field());
        // A deep array as the whole body: valid JSON of the wrong shape.
        let bare = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        self.signed(route, "10,000 nested arrays as the body", bare.into_bytes(), bad_json);
        for (pointer, replacement, field) in route.wrong_types() {
            let mut body = route.valid_body();
            *body.pointer_mut(pointer).unwrap_or_else(|| panic!("{route:?} {pointer}")) = replacement.clone();
            let name = format!("{pointer} = {replacement}");
            self.signed(route, &name, bytes(&body), (400, "invalid_field", Some(field)));
        }

        // The authentication.
        self.custom(route, "missing signature", base(vec![]), valid.clone(), (401, "missing_signature", None));
        let wrong_secret = "not-the-shops-secret-0123456789";
        let wrong = route.signature(wrong_secret, &valid, self.now());
        self.custom(route, "wrong signature", base(wrong), valid.clone(), (401, "invalid_signature", None));
        let other = route.signature(&secret, b"{\"another\":\"body\"}", self.now());
        self.custom(route, "signature of another body", base(other), valid.clone(), (401, "invalid_signature", None));
        let header = route.signature(&secret, &valid, self.now())[0].0;
        let garbage = vec![(header, "!!not a signature!!".to_owned())];
        self.custom(route, "malformed signature", base(garbage), valid.clone(), (401, "malformed_signature", None));
        if route.timestamped() {
            for (name, offset) in [("stale timestamp", -600), ("timestamp from the future", 600)] {
                let stale = route.signature(&secret, &valid, self.now() + offset);
                self.custom(route, name, base(stale), valid.clone(), (401, "stale_signature", None));
            }
        }

        // The shop and the content type.
        let mut unknown = Case {
            name: "unknown shop".to_owned(),
            route,
            path: route.path("shop-nosuchshop0"),
            headers: base(route.signature(&secret, &valid, self.now())),
            body: valid.clone(),
            expect: (404, "unknown_shop", None),
        };
        if route == Route::Shopify {
            unknown.headers.retain(|(name, _)| *name != "x-shopify-shop-domain");
            unknown.headers.push(("x-shopify-shop-domain", "shop-nosuchshop0.myshopify.com".to_owned()));
        }
        self.cases.push(unknown);
        for content_type in ["text/plain", "application/xml", "multipart/form-data; boundary=x"] {
            let mut headers = base(route.signature(&secret, &valid, self.now()));
            headers[0].1 = content_type.to_owned();
            let name = format!("content type {content_type}");
            self.custom(route, &name, headers, valid.clone(), (415, "unsupported_media_type", None));
        }
        // (`GET /returns/{token}` is the returns portal page, so only the webhooks answer 405.)
        if route != Route::Returns {
            self.custom(route, "method GET", base(vec![]), Vec::new(), (405, "method_not_allowed", None));
        }
    }

    /// Checks only some providers have.
    fn provider_cases(&mut self) {
        let env = self.env;
        let shopify = bytes(&Route::Shopify.valid_body());
        let shopify_headers = |topic: Option<&str>, domain: Option<String>| {
            let mut headers = env.shopify_headers(topic.unwrap_or("orders/create"), &shopify, "wh-matrix");
            headers.retain(|(name, _)| *name != "x-shopify-topic" && *name != "x-shopify-shop-domain");
            if let Some(topic) = topic {
                headers.push(("x-shopify-topic", topic.to_owned()));
            }
            if let Some(domain) = domain {
                headers.push(("x-shopify-shop-domain", domain));
            }
            headers
        };
        let domain = Some(format!("shop-{}.myshopify.com", env.suffix));
        let cases = [
            (
                "another shop's domain",
                shopify_headers(Some("orders/create"), Some("evil.myshopify.com".to_owned())),
                (403, "shop_mismatch", None),
            ),
            ("no shop domain", shopify_headers(Some("orders/create"), None), (400, "missing_header", None)),
            ("no topic", shopify_headers(None, domain.clone()), (400, "missing_header", None)),
            ("unsupported topic", shopify_headers(Some("products/create"), domain), (422, "unsupported_topic", None)),
        ];
        for (name, headers, expect) in cases {
            self.custom(Route::Shopify, name, headers, shopify.clone(), expect);
        }

        // WooCommerce's unsigned ping when a webhook is created: acknowledged, nothing stored.
        let ping = vec![("content-type", "application/x-www-form-urlencoded".to_owned())];
        self.custom(Route::Woocommerce, "unsigned ping", ping, b"webhook_id=42".to_vec(), (200, "ping", None));
        // ...but only that exact shape goes unsigned.
        let not_ping = vec![("content-type", "application/x-www-form-urlencoded".to_owned())];
        let body = b"webhook_id=42&x=1".to_vec();
        self.custom(Route::Woocommerce, "unsigned almost-ping", not_ping, body, (401, "missing_signature", None));

        // EasyPost's authentic envelope without a tracker (and events about other objects) are
        // acknowledged with 200 "ignored" so EasyPost stops retrying; nothing is stored.
        let envelope = fixture_bytes("easypost-event-envelope-minimal.json");
        self.signed(Route::Easypost, "envelope without a tracker", envelope, (200, "ignored", None));
        let batch = bytes(&json!({ "description": "batch.created", "result": { "id": "batch_1" } }));
        self.signed(Route::Easypost, "batch.created event", batch, (200, "ignored", None));
        // Shippo and AfterShip events other than tracking updates: likewise acknowledged.
        let shippo = bytes(&json!({ "event": "transaction_created", "data": {} }));
        self.signed(Route::Shippo, "transaction_created event", shippo, (200, "ignored", None));
        let aftership = bytes(&json!({ "event": "other_event", "msg": {} }));
        self.signed(Route::Aftership, "other event", aftership, (200, "ignored", None));
        // A tracking update without its parcel is refused and names the field.
        let shippo = bytes(&json!({ "event": "track_updated" }));
        self.signed(Route::Shippo, "track_updated without data", shippo, (400, "invalid_field", Some("data")));

        // The shop signs Shippo's webhooks with HMAC (the default): a `?token=` alone, wrong or
        // even right, is no signature. (Token mode: tests/carrier_webhook.rs.)
        let shippo = bytes(&Route::Shippo.valid_body());
        let path = |query: &str| format!("{}{query}", Route::Shippo.path(env.shop()));
        let json_only = vec![("content-type", "application/json".to_owned())];
        let right = format!("?token={}", env.secret(ppx_shared::domain::settings::WebhookSource::Shippo));
        for (name, query, expect) in [
            ("wrong ?token=", "?token=wrong", (401, "missing_signature", None)),
            ("empty ?token=", "?token=", (401, "missing_signature", None)),
            ("the right ?token= without the signature", right.as_str(), (401, "missing_signature", None)),
        ] {
            let case = Case {
                name: name.to_owned(),
                route: Route::Shippo,
                path: path(query),
                headers: json_only.clone(),
                body: shippo.clone(),
                expect,
            };
            self.cases.push(case);
        }

        // The customer's returns link: a token that is not one, or not a Bearer at all.
        let returns = bytes(&Route::Returns.valid_body());
        for (name, authorization, expect) in [
            ("a forged Bearer token", "Bearer not-a-sealed-link", (401, "invalid_signature", None)),
            ("Basic credentials", "Basic dXNlcjpwYXNz", (401, "malformed_signature", None)),
        ] {
            let headers =
                vec![("content-type", "application/json".to_owned()), ("authorization", authorization.to_owned())];
            self.custom(Route::Returns, name, headers, returns.clone(), expect);
        }
        // A genuine link for another order opens nothing.
        let headers = vec![
            ("content-type", "application/json".to_owned()),
            ("authorization", format!("Bearer {}", env.return_token("5550009999"))),
        ];
        self.custom(Route::Returns, "another order's link", headers, returns, (401, "invalid_signature", None));
    }
}

/// Sends a case without trusting the server: a dropped connection or a hang is a finding.
async fn send(env: &TestEnv, case: &Case) -> Result<(u16, Value), String> {
    let url = format!("{}{}", env.base_url, case.path);
    let mut request = if case.name == "method GET" { env.http.get(url) } else { env.http.post(url) };
    request = request.body(case.body.clone());
    for (name, value) in &case.headers {
        request = request.header(*name, value);
    }
    let response = tokio::time::timeout(Duration::from_secs(20), request.send())
        .await
        .map_err(|_| "no answer within 20 s (hang)".to_owned())?
        .map_err(|err| format!("connection failed (handler panic?): {err}"))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|err| format!("body unreadable: {err}"))?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

#[tokio::test]
async fn bad_input_on_every_webhook_route_is_refused_precisely_and_stores_nothing() {
    capture_logs();
    let env = TestEnv::start().await;
    let mut builder = Builder { env: &env, cases: Vec::new() };
    for route in ROUTES {
        builder.route_cases(route);
    }
    builder.provider_cases();
    let cases = builder.cases;

    let started = std::time::Instant::now();
    let mut failures = Vec::new();
    for case in &cases {
        let label = format!("{:?} {} ({} bytes)", case.route, case.name, case.body.len());
        match send(&env, case).await {
            Err(problem) => failures.push(format!("{label}: {problem}")),
            Ok((status, body)) => {
                let (want_status, want_code, want_field) = case.expect;
                let code = body.get("error").or_else(|| body.get("status")).and_then(Value::as_str);
                let field = body.get("field").and_then(Value::as_str);
                if (status, code, field) != (want_status, Some(want_code), want_field) {
                    failures.push(format!(
                        "{label}: expected {want_status} {want_code} {want_field:?}, got {status} {body}"
                    ));
                }
                if status >= 400 && body.get("message").and_then(Value::as_str).is_none_or(str::is_empty) {
                    failures.push(format!("{label}: error without a message: {body}"));
                }
            }
        }
    }
    assert_eq!(env.items_written().await, Vec::<String>::new(), "refused requests wrote nothing");
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    assert!(cases.len() > 150, "{} cases", cases.len());
    eprintln!("{} bad-input cases in {:?}", cases.len(), started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// Concurrency: 50 identical deliveries at once.

const AT_ONCE: usize = 50;

/// The sample order for this test's customer (no SMS consent, so email is the only channel).
fn sample_order(env: &TestEnv) -> (Vec<u8>, String) {
    let email = env.customer_email("burst");
    let mut order = read_event("shopify-orders-create.json");
    order["email"] = json!(email);
    order["contact_email"] = json!(email);
    order["customer"]["email"] = json!(email);
    order["customer"]["sms_marketing_consent"] = Value::Null;
    (bytes(&order), email)
}

/// Every reply is 2xx, or 503 with Retry-After (found the message being sent); a 503 is
/// retried once, like the platform would, and must then succeed.
async fn burst<F, Fut>(send: F) -> Vec<Reply>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (Reply, bool)>,
{
    let replies = futures::future::join_all((0..AT_ONCE).map(|_| send())).await;
    let mut finals = Vec::new();
    for (reply, retry_after) in replies {
        if reply.status == 503 {
            assert!(retry_after, "503 without Retry-After: {}", reply.body);
            assert_eq!(reply.body["error"], "in_progress", "{}", reply.body);
            let (retry, _) = send().await;
            assert!(matches!(retry.status, 200 | 201), "retry: {} {}", retry.status, retry.body);
            finals.push(retry);
        } else {
            assert!(matches!(reply.status, 200 | 201), "{} {}", reply.status, reply.body);
            finals.push(reply);
        }
    }
    finals
}

/// Like `TestEnv::post`, but also reports whether a 503 carried `Retry-After`.
async fn post_raw(env: &TestEnv, path: &str, headers: &[(&'static str, String)], body: &[u8]) -> (Reply, bool) {
    let mut request = env.http.post(format!("{}{path}", env.base_url)).body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("server reachable");
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (Reply { status, body }, retry_after)
}

#[tokio::test]
async fn fifty_identical_order_webhooks_store_one_order_and_send_one_confirmation() {
    capture_logs();
    let env = TestEnv::start().await;
    let (order, email) = sample_order(&env);
    let headers = env.shopify_headers("orders/create", &order, "wh-burst");
    let path = format!("/webhooks/shopify/{}", env.shop());
    let finals = burst(|| post_raw(&env, &path, &headers, &order)).await;
    // Deliveries racing the first one may each upsert the same order (an idempotent write);
    // only one sends the confirmation.
    for reply in &finals {
        assert!(["processed", "duplicate"].contains(&reply.body["status"].as_str().unwrap()), "{}", reply.body);
    }
    let sent: u64 = finals.iter().filter_map(|r| r.body["messages_sent"].as_u64()).sum();
    assert_eq!(sent, 1, "one request sent the confirmation");
    let orders = env.items_written().await.into_iter().filter(|k| k.ends_with("/ORDER")).count();
    assert_eq!(orders, 1);
    let emails = env.emails_to(&email).await;
    assert_eq!(emails.len(), 1, "{:?}", emails.iter().map(|m| &m.subject).collect::<Vec<_>>());
}

#[tokio::test]
async fn fifty_identical_delivered_trackers_send_one_delivered_message() {
    capture_logs();
    let env = TestEnv::start().await;
    let (order, email) = sample_order(&env);
    assert_eq!(env.post_shopify("orders/create", &order, "wh-o").await.status, 200);
    let fulfillment = bytes(&read_event("shopify-fulfillments-create.json"));
    assert_eq!(env.post_shopify("fulfillments/create", &fulfillment, "wh-f").await.status, 200);
    let before = env.items_written().await.len();

    let mut tracker: Value = serde_json::from_slice(&fixture_bytes("easypost-tracker-updated-delivered.json")).unwrap();
    tracker["result"]["tracking_code"] = json!(TRACKING_NUMBER);
    ppx_e2e::moved_to(&mut tracker, env.clock_now() - chrono::Duration::minutes(10));
    let tracker = bytes(&tracker);
    let headers = vec![
        ("content-type", "application/json".to_owned()),
        (
            "x-hmac-signature",
            ppx_shared::http::signature::sign_easypost_hmac(env.secret(WebhookSource::Easypost), &tracker),
        ),
    ];
    let path = format!("/webhooks/easypost/{}", env.shop());
    let finals = burst(|| post_raw(&env, &path, &headers, &tracker)).await;
    for reply in &finals {
        assert_eq!(reply.body["tracking_status"], "delivered", "{}", reply.body);
    }
    let sent: u64 = finals.iter().filter_map(|r| r.body["messages_sent"].as_u64()).sum();
    assert_eq!(sent, 1, "one request announced the delivery");

    let subjects: Vec<String> = env.emails_to(&email).await.into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects.iter().filter(|s| s.contains("delivered")).count(), 1, "{subjects:?}");
    assert_eq!(subjects.len(), 3, "confirmation, shipped, delivered: {subjects:?}");
    let view = env.order_view(ORDER_ID).await;
    assert!(view.delivery.is_some(), "the delivery is recorded");
    // The tracking state and the delivery were written once, not once per request.
    let after = env.items_written().await;
    assert!(after.len() <= before + 4, "{before} items before, after: {after:?}");
}

#[tokio::test]
async fn fifty_identical_return_requests_create_one_return_and_one_message() {
    capture_logs();
    let env = TestEnv::start().await;
    let (order, email) = sample_order(&env);
    assert_eq!(env.post_shopify("orders/create", &order, "o").await.status, 200);
    let fulfillment = bytes(&read_event("shopify-fulfillments-create.json"));
    assert_eq!(env.post_shopify("fulfillments/create", &fulfillment, "f").await.status, 200);
    let delivered_at = env.clock_now() - chrono::Duration::hours(1);
    let scan = json!({
        "tracking_number": TRACKING_NUMBER, "carrier": "UPS",
        "events": [{ "status": "delivered", "occurred_at": delivered_at.to_rfc3339() }],
    });
    assert_eq!(env.post_tracking(&bytes(&scan)).await.body["tracking_status"], "delivered");
    let before = env.emails_to(&email).await.len();

    let body = bytes(&Route::Returns.valid_body());
    let headers = vec![
        ("content-type", "application/json".to_owned()),
        ("authorization", format!("Bearer {}", env.return_token(ORDER_ID))),
        ("idempotency-key", "same-key".to_owned()),
    ];
    let path = format!("/returns/{}", env.shop());
    let finals = burst(|| post_raw(&env, &path, &headers, &body)).await;
    // The request that created the return may itself have answered 503 (another one was
    // sending the message) and its retry then found the return: at most one 201.
    let created = finals.iter().filter(|r| r.status == 201).count();
    assert!(created <= 1, "{created} requests claim to have created the return");
    let id = &finals[0].body["return_id"];
    assert!(id.is_string(), "{}", finals[0].body);
    assert!(finals.iter().all(|r| &r.body["return_id"] == id), "every answer names the same return");

    let returns: Vec<String> = env.items_written().await.into_iter().filter(|k| k.contains("RETURN#")).collect();
    assert_eq!(returns.len(), 1, "{returns:?}");
    let subjects: Vec<String> = env.emails_to(&email).await.into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects.len(), before + 1, "one return message: {subjects:?}");
}

// ---------------------------------------------------------------------------------------------
// Privacy: logs carry ids, never personal data.

#[tokio::test]
async fn logs_are_json_with_ids_and_no_personal_data() {
    capture_logs();
    let env = TestEnv::start().await;
    let tag = &env.suffix;
    let email = env.customer_email(&format!("privzq{tag}"));
    let phone = env.customer_phone();
    let first = format!("Quilmarine{tag}");
    let last = format!("Vantrebolt{tag}");
    let street = format!("{tag} Zyzzogeton Parade");

    let mut order = read_event("shopify-orders-create.json");
    order["email"] = json!(email);
    order["contact_email"] = json!(email);
    order["phone"] = json!(phone);
    for pointer in ["/customer", "/customer/default_address"] {
        let customer = order.pointer_mut(pointer).unwrap();
        customer["first_name"] = json!(first);
        customer["last_name"] = json!(last);
    }
    order["customer"]["email"] = json!(email);
    order["customer"]["phone"] = json!(phone);
    order["customer"]["default_address"]["address1"] = json!(street);
    order["customer"]["default_address"]["phone"] = json!(phone);
    for address in ["shipping_address", "billing_address"] {
        let address = &mut order[address];
        address["first_name"] = json!(first);
        address["last_name"] = json!(last);
        address["name"] = json!(format!("{first} {last}"));
        address["address1"] = json!(street);
        address["phone"] = json!(phone);
    }
    let reply = env.post_shopify("orders/create", &bytes(&order), "wh-private-o").await;
    assert_eq!((reply.status, reply.body["messages_sent"].as_u64()), (200, Some(2)), "{}", reply.body);
    let fulfillment = bytes(&read_event("shopify-fulfillments-create.json"));
    assert_eq!(env.post_shopify("fulfillments/create", &fulfillment, "wh-private-f").await.status, 200);
    for (status, hours_ago) in [("in_transit", 30), ("out_for_delivery", 3), ("delivered", 1)] {
        let at = env.clock_now() - chrono::Duration::hours(hours_ago);
        let scan = json!({
            "tracking_number": TRACKING_NUMBER, "carrier": "UPS",
            "events": [{ "status": status, "occurred_at": at.to_rfc3339(), "location": "New York, NY, US" }],
        });
        let reply = env.post_tracking(&bytes(&scan)).await;
        assert_eq!((reply.status, reply.body["tracking_status"].as_str()), (200, Some(status)), "{}", reply.body);
    }
    // The messages went out, addressed with the personal data the logs must not repeat.
    let emails = env.emails_to(&email).await;
    assert_eq!(emails.len(), 4, "{:?}", emails.iter().map(|m| &m.subject).collect::<Vec<_>>());
    // Texts: the confirmation, out for delivery, delivered.
    assert_eq!(env.sms_to(&phone).await.len(), 3);

    let logs = captured_logs();
    let national = phone.trim_start_matches("+1");
    for secret in [&email, &phone, national, &first, &last, &street, &format!("{first} {last}")] {
        for needle in [secret.to_owned(), secret.to_lowercase()] {
            assert!(!logs.contains(&needle), "the logs contain {needle:?}");
        }
    }

    // Every line is a JSON object; the webhook spans carry shop, order id and request id.
    let lines: Vec<Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect();
    let ours: Vec<&Value> = lines.iter().filter(|l| l["span"]["shop"] == env.shop()).collect();
    assert!(!ours.is_empty(), "no log line names the shop");
    for span_name in ["webhook", "carrier_webhook"] {
        let line = ours
            .iter()
            .find(|l| l["span"]["name"] == span_name && l["span"]["order_id"] == ORDER_ID)
            .unwrap_or_else(|| panic!("no {span_name} line with the order id in {ours:#?}"));
        assert!(line["level"].is_string(), "{line}");
        assert!(line["fields"]["message"].is_string(), "{line}");
        let request_id = line["span"]["request_id"].as_str().unwrap_or_else(|| panic!("no request_id: {line}"));
        assert!(uuid::Uuid::parse_str(request_id).is_ok(), "{line}");
    }
}
