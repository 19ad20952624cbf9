//! Every email of every kind, as it leaves us for SES, read by a strict RFC 5322 parser.
//!
//! One shop whose sender and reply-to have display names with non-ASCII and a comma in them
//! (`"Café Dupont, Paris" <orders@…>`, also its display name, so every subject has them too),
//! orders taken through each journey by the webhooks, the review run and a return, all
//! through the real SES client against moto; then every email the message log records is
//! looked up by its SES message id in what moto received, and checked byte for byte: From,
//! To, Reply-To, Subject, Date, Message-ID, the MIME structure, List-Unsubscribe (review
//! request only) and the `FromEmailAddress` parameter.
//!
//! The parser: Python's `email` package with `policy.strict`, run over the bytes by
//! `tests/support/strict_mime.py`. It parses every header by its RFC 5322 grammar (address
//! lists, date-time, msg-id, unstructured text with RFC 2047 encoded words) and names what does
//! not fit as defects, and the script fails on any, plus what the package leaves unchecked
//! (7-bit headers, CRLF, line lengths, field counts, encoded-word lengths, the non-obsolete
//! date and msg-id forms). python3 is already a prerequisite (moto runs on it), and the package
//! is the standard library's. The alternatives fall short: mail-parser, our dev-dependency, is
//! lenient on purpose (it reads `<Demo Shop <orders@…>>` as an address and says nothing); the
//! Rust crates that validate strictly (email_address, which the settings use) check one
//! addr-spec, not a header, an encoded word or a MIME tree.
//!
//! Every email goes out as raw MIME built by us (shared/src/adapters/ses.rs), so there is no
//! message here whose headers SES writes: an email found only among moto's Simple messages is a
//! failure.

use chrono::Duration;
use ppx_e2e::{RawEmail, TestEnv, raw_emails, read_event, repo_path};
use ppx_shared::domain::messages::{Channel, DeliveryState, MessageKind, MessageRecord};
use ppx_shared::ports::clock::ManualClock;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};

const SHOP_NAME: &str = "Café Dupont, Paris";
const SENDER: (&str, &str) = ("Café Dupont, Paris", "orders@demo-shop.example");
const REPLY_TO: (&str, &str) = ("Service client, Café Dupont", "support@demo-shop.example");
/// The sample order's canvas tote.
const TOTE: &str = "6660001002";

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// The shop's settings as its operator would write them, through their JSON form.
fn cafe_dupont(settings: &mut ppx_shared::domain::settings::ShopSettings) {
    let mut json = serde_json::to_value(&*settings).unwrap();
    json["display_name"] = json!(SHOP_NAME);
    json["sender"] = json!(format!("\"{}\" <{}>", SENDER.0, SENDER.1));
    json["reply_to"] = json!(format!("\"{}\" <{}>", REPLY_TO.0, REPLY_TO.1));
    json["sms_enabled"] = json!(false);
    *settings = serde_json::from_value(json).unwrap();
}

/// The sample order as `order_id` for its own customer, fulfilled with its own tracking number.
async fn shipped_order(env: &TestEnv, order_id: u64) -> String {
    let email = placed_order(env, order_id).await;
    let mut fulfillment = read_event("shopify-fulfillments-create.json");
    fulfillment["id"] = json!(order_id + 1);
    fulfillment["order_id"] = json!(order_id);
    fulfillment["tracking_number"] = json!(tracking_number(order_id));
    fulfillment["tracking_numbers"] = json!([tracking_number(order_id)]);
    let reply = env.post_shopify("fulfillments/create", &bytes(&fulfillment), &format!("f-{order_id}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    email
}

async fn placed_order(env: &TestEnv, order_id: u64) -> String {
    let email = env.customer_email(&format!("mime{order_id}"));
    let mut order = env.sample_order_for(order_id, &email);
    order["customer"]["first_name"] = json!("Zoë");
    let reply = env.post_shopify("orders/create", &bytes(&order), &format!("o-{order_id}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    email
}

fn tracking_number(order_id: u64) -> String {
    format!("1ZMIME{order_id}")
}

/// One carrier scan of `status`, `hours_ago`, with an optional new estimate.
async fn scan(env: &TestEnv, order_id: u64, status: &str, hours_ago: i64, estimate: Option<chrono::NaiveDate>) {
    scan_saying(env, order_id, (status, "Scan, Montréal"), hours_ago, estimate).await
}

/// The same, with the carrier's words.
async fn scan_saying(
    env: &TestEnv,
    order_id: u64,
    (status, message): (&str, &str),
    hours_ago: i64,
    estimate: Option<chrono::NaiveDate>,
) {
    let at = env.clock_now() - Duration::hours(hours_ago);
    let mut body = json!({
        "tracking_number": tracking_number(order_id),
        "carrier": "UPS",
        "events": [{ "status": status, "occurred_at": at.to_rfc3339(), "message": message, "location": "Montréal, QC, CA" }],
    });
    if let Some(estimate) = estimate {
        body["estimated_delivery"] = json!(estimate.to_string());
    }
    let reply = env.post_tracking(&bytes(&body)).await;
    assert_eq!(reply.status, 200, "{status}: {}", reply.body);
}

/// The emails of `order_id` that the message log says went out, with their raw MIME.
async fn sent_emails_of(
    env: &TestEnv,
    order_id: u64,
    moto: &BTreeMap<String, RawEmail>,
) -> Vec<(MessageRecord, Option<RawEmail>)> {
    let view = env.order_view(&order_id.to_string()).await;
    view.messages
        .into_iter()
        .filter(|record| record.channel == Channel::Email && record.state == DeliveryState::Sent)
        .map(|record| {
            let raw = record.provider_message_id.as_ref().and_then(|id| moto.get(id)).cloned();
            (record, raw)
        })
        .collect()
}

#[tokio::test]
async fn every_email_of_every_kind_is_well_formed_for_a_sender_with_a_comma_and_an_accent() {
    let env = TestEnv::start_with(cafe_dupont).await;

    // Confirmation and "shipped" for each; then one milestone per parcel.
    let milestones = [
        (8001, "out_for_delivery"),
        (8002, "delivery_attempted"),
        (8003, "available_for_pickup"),
        (8004, "exception"),
        (8005, "returned_to_sender"),
        (8007, "delivered"),
        (8008, "delivered"),
    ];
    let mut customers = BTreeMap::new();
    for (order_id, status) in milestones {
        customers.insert(order_id, shipped_order(&env, order_id).await);
        scan(&env, order_id, status, 2, None).await;
    }
    // The carrier needs the customer.
    customers.insert(8009, shipped_order(&env, 8009).await);
    let awaiting = ("exception", "Awaiting additional delivery information from recipient");
    scan_saying(&env, 8009, awaiting, 2, None).await;
    // A later estimate than promised.
    customers.insert(8006, shipped_order(&env, 8006).await);
    let promised = env.order_view("8006").await.order.unwrap().promised_delivery.unwrap();
    scan(&env, 8006, "in_transit", 2, Some(promised + Duration::days(2))).await;
    // Never shipped: by the review run it is late.
    customers.insert(8010, placed_order(&env, 8010).await);
    // A return for 8008 (so no review request for it), then the review run for 8007.
    let token = env.return_token("8008");
    let body = json!({ "order_id": "8008", "items": [{ "line_item": TOTE, "quantity": 1, "reason": "doesnt_fit" }], "resolution": { "type": "refund" } });
    let headers = vec![
        ("content-type", "application/json".to_owned()),
        ("authorization", format!("Bearer {token}")),
        ("idempotency-key", "mime-return".to_owned()),
    ];
    let reply = env.post(&format!("/returns/{}", env.shop()), &headers, bytes(&body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let review_clock = ManualClock::at(env.clock_now() + Duration::days(6));
    let report = env.review_app(env.ses(), review_clock).run(None).await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");

    let moto: BTreeMap<String, RawEmail> =
        raw_emails().await.into_iter().map(|email| (email.id.clone(), email)).collect();
    let mut kinds = BTreeSet::new();
    let mut missing = Vec::new();
    let mut checks = Vec::new();
    for (order_id, customer) in &customers {
        for (record, raw) in sent_emails_of(&env, *order_id, &moto).await {
            let label = format!("{} of order {order_id}", record.kind.as_str());
            kinds.insert(record.kind);
            let Some(raw) = raw else {
                missing.push(format!("{label}: not among the raw MIME messages (sent as SES's Simple content?)"));
                continue;
            };
            checks.push(json!({
                "label": label,
                "raw": raw.raw,
                "from_email_address": raw.source,
                "from": [SENDER.0, SENDER.1],
                "reply_to": [REPLY_TO.0, REPLY_TO.1],
                "to": customer,
                "subject": record.subject.clone().unwrap_or_default(),
                "list_unsubscribe": record.kind == MessageKind::ReviewRequest,
            }));
        }
    }
    let every_kind: BTreeSet<MessageKind> = MessageKind::ALL.into_iter().filter(|k| k.is_for_customer()).collect();
    assert_eq!(kinds, every_kind, "every kind of message has an email here");
    assert!(checks.iter().all(|check| check["subject"].as_str().unwrap().contains(SHOP_NAME)
        || check["label"].as_str().unwrap().starts_with("return_update")));

    let mut python = Command::new("python3")
        .arg(repo_path("tests/support/strict_mime.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (a prerequisite: moto runs on it)");
    python.stdin.take().unwrap().write_all(&bytes(&Value::Array(checks))).unwrap();
    let output = python.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && missing.is_empty(), "{}\n{report}{errors}", missing.join("\n"));
    assert!(report.contains("0 problems"), "{report}");
}
