//! review-request end to end: orders delivered through the webhooks, review runs at moved clock
//! times (never sleeping), answers and unsubscribes through the pages, against moto.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ppx_e2e::{PUBLIC_URL, TestEnv, read_event};
use ppx_shared::ports::clock::{Clock, ManualClock};
use ppx_shared::ports::messaging::{EmailSender, OutboundEmail, SendError};
use ppx_shared::ports::store::roles::*;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, Ordering};

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// The sample order as `order_id`, for this test's own customer (no SMS consent), and its email.
fn customer_order(env: &TestEnv, order_id: &str, customer: &str) -> (Value, String) {
    let email = env.customer_email(customer);
    let mut order = env.sample_order_for(order_id.parse().unwrap(), &email);
    order["customer"]["sms_marketing_consent"] = Value::Null;
    (order, email)
}

/// The sample fulfillment of `order_id` with `tracking_number`, made at the env's clock.
async fn fulfill(env: &TestEnv, order_id: &str, fulfillment_id: u64, tracking_number: &str) {
    let mut fulfillment = read_event("shopify-fulfillments-create.json");
    fulfillment["id"] = json!(fulfillment_id);
    fulfillment["order_id"] = json!(order_id.parse::<u64>().unwrap());
    fulfillment["created_at"] = json!(env.clock_now().to_rfc3339());
    fulfillment["tracking_number"] = json!(tracking_number);
    fulfillment["tracking_numbers"] = json!([tracking_number]);
    let reply = env.post_shopify("fulfillments/create", &bytes(&fulfillment), &format!("f-{fulfillment_id}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// An order of this test's own customer, fulfilled and delivered at `delivered_at`.
async fn deliver_order(env: &TestEnv, order_id: &str, customer: &str, delivered_at: DateTime<Utc>) -> String {
    let (order, email) = customer_order(env, order_id, customer);
    let reply = env.post_shopify("orders/create", &bytes(&order), &format!("o-{order_id}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let tracking_number = format!("1ZREVIEW{order_id}");
    fulfill(env, order_id, order_id.parse::<u64>().unwrap() + 1, &tracking_number).await;

    let delivered = json!({
        "tracking_number": tracking_number,
        "carrier": "UPS",
        "events": [{ "status": "delivered", "occurred_at": delivered_at.to_rfc3339() }],
    });
    let reply = env.post_tracking(&bytes(&delivered)).await;
    assert_eq!(reply.body["tracking_status"], "delivered", "{}", reply.body);
    email
}

fn review_requests(raw: &[String]) -> Vec<&String> {
    raw.iter().filter(|m| m.contains("List-Unsubscribe-Post")).collect()
}

/// The first link in a raw review request email that starts with `prefix`, made local.
fn link(env: &TestEnv, raw: &str, prefix: &str) -> String {
    let message = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("MIME parses");
    let text = message.body_text(0).expect("text part").into_owned();
    let start = text.find(&format!("{PUBLIC_URL}{prefix}")).unwrap_or_else(|| panic!("no {prefix} link in {text}"));
    let url: String = text[start..].chars().take_while(|c| !c.is_whitespace() && *c != '>' && *c != ')').collect();
    url.replacen(PUBLIC_URL, &env.base_url, 1).replacen(&env.base_url, "", 1)
}

#[tokio::test]
async fn sent_once_at_delivered_plus_five_days_and_never_before_or_again() {
    let env = TestEnv::start().await;
    let delivered_at = env.clock_now() - Duration::hours(2);
    let email = deliver_order(&env, "7001", "rev", delivered_at).await;
    let clock = ManualClock::at(delivered_at + Duration::days(5) - Duration::minutes(1));
    let app = env.review_app(env.ses(), clock.clone());

    let early = app.run(None).await.unwrap();
    assert_eq!((early.due, early.sent), (0, 0), "{early:?}");
    assert!(review_requests(&env.raw_emails_to(&email).await).is_empty());

    clock.set(delivered_at + Duration::days(5));
    let due = app.run(None).await.unwrap();
    assert_eq!((due.due, due.sent), (1, 1), "{due:?}");
    let sent = env.raw_emails_to(&email).await;
    let requests = review_requests(&sent);
    assert_eq!(requests.len(), 1);
    let raw = requests[0];
    assert!(raw.contains("List-Unsubscribe: <https://track.test.example/unsubscribe/"), "{raw}");
    assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(raw.contains("Subject:") && raw.contains("#7001"));

    for later in [Duration::minutes(15), Duration::days(1), Duration::days(20)] {
        clock.set(delivered_at + Duration::days(5) + later);
        let report = app.run(None).await.unwrap();
        assert_eq!(report.sent, 0, "{report:?}");
    }
    assert_eq!(review_requests(&env.raw_emails_to(&email).await).len(), 1);
}

#[tokio::test]
async fn a_shops_own_delay_is_respected_and_cancelled_orders_are_skipped() {
    let env = TestEnv::start_with(|settings| settings.review_delay_days = 7).await;
    let delivered_at = env.clock_now() - Duration::hours(1);
    let kept = deliver_order(&env, "7101", "kept", delivered_at).await;
    let cancelled = deliver_order(&env, "7102", "gone", delivered_at).await;
    // The second order is cancelled after delivery.
    let mut order = read_event("shopify-orders-create.json");
    order["id"] = json!(7102);
    order["email"] = json!(cancelled);
    order["updated_at"] = json!((delivered_at + Duration::hours(1)).to_rfc3339());
    order["cancelled_at"] = json!((delivered_at + Duration::hours(1)).to_rfc3339());
    assert_eq!(env.post_shopify("orders/cancelled", &bytes(&order), "cancel-7102").await.status, 200);

    let clock = ManualClock::at(delivered_at + Duration::days(5));
    let app = env.review_app(env.ses(), clock.clone());
    assert_eq!(app.run(None).await.unwrap().due, 0, "not yet: this shop waits 7 days");
    clock.set(delivered_at + Duration::days(7));
    let report = app.run(None).await.unwrap();
    assert_eq!((report.sent, report.skipped.get("order_cancelled").copied()), (1, Some(1)), "{report:?}");
    assert_eq!(review_requests(&env.raw_emails_to(&kept).await).len(), 1);
    assert!(review_requests(&env.raw_emails_to(&cancelled).await).is_empty());
}

#[tokio::test]
async fn two_overlapping_runs_email_each_order_once() {
    let env = TestEnv::start().await;
    let delivered_at = env.clock_now() - Duration::hours(1);
    let mut emails = Vec::new();
    for (i, id) in ["7201", "7202", "7203", "7204"].iter().enumerate() {
        emails.push(deliver_order(&env, id, &format!("two{i}"), delivered_at).await);
    }
    let clock = ManualClock::at(delivered_at + Duration::days(5));
    let first = env.review_app(env.ses(), clock.clone());
    let second = env.review_app(env.ses(), clock.clone());
    let (a, b) = tokio::join!(first.run(None), second.run(None));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.sent + b.sent, 4, "{a:?} {b:?}");
    for email in &emails {
        assert_eq!(review_requests(&env.raw_emails_to(email).await).len(), 1, "{email}");
    }
    // Whatever one run found in flight, the other finished: a third run has nothing left.
    let third = env.review_app(env.ses(), clock).run(None).await.unwrap();
    assert_eq!(third.due, 0, "{third:?}");
}

/// SES that fails the first `n` sends the way a throttled or failing SES does.
struct Flaky<E> {
    inner: E,
    failures_left: AtomicU32,
}

impl<E: EmailSender> EmailSender for Flaky<E> {
    async fn send_email(&self, email: &OutboundEmail<'_>) -> Result<String, SendError> {
        if self.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(SendError::Transient("injected: throttled".into()));
        }
        self.inner.send_email(email).await
    }
}

#[tokio::test]
async fn a_failed_send_and_a_run_killed_after_its_claim_are_retried_once() {
    let env = TestEnv::start().await;
    let delivered_at = env.clock_now() - Duration::hours(1);
    let failing = deliver_order(&env, "7301", "fail", delivered_at).await;
    let killed = deliver_order(&env, "7302", "kill", delivered_at).await;
    let due_at = delivered_at + Duration::days(5);

    // A run died after claiming order 7302's email and before sending it.
    let shop = env.settings.shop.clone();
    let order = ppx_shared::domain::ids::OrderId::parse("7302").unwrap();
    let key = ppx_shared::domain::messages::MessageKey::new(
        ppx_shared::domain::messages::MessageKind::ReviewRequest,
        ppx_shared::domain::messages::MessageScope::Order,
        ppx_shared::domain::messages::Channel::Email,
    );
    let claim = ppx_shared::ports::store::Claim {
        token: "dead-run".into(),
        at: due_at,
        lease_until: due_at + Duration::seconds(ppx_shared::app::outbox::CLAIM_LEASE_SECS),
        email_to: None,
    };
    env.store.claim_messages(&shop, &order, std::slice::from_ref(&key), &claim, None).await.unwrap();

    let clock = ManualClock::at(due_at + Duration::seconds(10));
    let flaky = Flaky { inner: env.ses(), failures_left: AtomicU32::new(1) };
    let report = env.review_app(flaky, clock.clone()).run(None).await.unwrap();
    assert_eq!((report.sent, report.failed, report.in_flight), (0, 1, 1), "{report:?}");
    assert!(review_requests(&env.raw_emails_to(&failing).await).is_empty());
    assert!(review_requests(&env.raw_emails_to(&killed).await).is_empty());

    // The failed one waits out its backoff (longer than the dead run's lease): then the next run
    // sends both, once.
    clock.advance(review_request::retry_backoff(1));
    let report = env.review_app(env.ses(), clock.clone()).run(None).await.unwrap();
    assert_eq!(report.sent, 2, "{report:?}");
    clock.advance(Duration::minutes(15));
    assert_eq!(env.review_app(env.ses(), clock).run(None).await.unwrap().sent, 0);
    assert_eq!(review_requests(&env.raw_emails_to(&failing).await).len(), 1);
    assert_eq!(review_requests(&env.raw_emails_to(&killed).await).len(), 1);
}

#[tokio::test]
async fn nps_answers_comments_and_unsubscribe_through_the_links() {
    let env = TestEnv::start().await;
    let delivered_at = env.clock_now() - Duration::hours(1);
    let email = deliver_order(&env, "7401", "nps", delivered_at).await;
    let clock = ManualClock::at(delivered_at + Duration::days(5));
    env.review_app(env.ses(), clock.clone()).run(None).await.unwrap();
    let raw = env.raw_emails_to(&email).await;
    let request = review_requests(&raw)[0].clone();
    let survey = link(&env, &request, "/survey/");
    let (path, _) = survey.split_once('?').expect("score query");

    // A mail scanner opens every score link: that records nothing. Each shows its score to confirm.
    let now = env.clock_now();
    let answers = || async {
        env.store.survey_answers(&env.settings.shop, now - Duration::days(1), now + Duration::days(1)).await.unwrap()
    };
    for score in 0..=10 {
        let (status, page) = env.get(&format!("{path}?score={score}")).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains(&format!("You chose <strong class=\"score\">{score}</strong>")), "{page}");
        assert!(page.contains(&format!("<form method=\"post\" action=\"{path}\">")), "{page}");
    }
    assert!(answers().await.is_empty(), "a GET recorded an answer");
    // The customer confirms a 9, then adds a comment with a 10: the latest answer wins.
    let (status, page) = env.post_form(path, "score=9&comment=").await;
    assert_eq!(status, 200);
    assert!(page.contains("<textarea"), "the thank-you page offers a comment: {page}");
    assert_eq!((answers().await[0].score, answers().await[0].confirmed), (9, true));
    let (status, _) = env.post_form(path, "score=10&comment=Fast+and+friendly").await;
    assert_eq!(status, 200);
    let answers = answers().await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!((answers[0].score, answers[0].comment.as_deref()), (10, Some("Fast and friendly")));

    assert_eq!(env.get(&format!("{path}?score=11")).await.0, 400);
    assert_eq!(env.get(&format!("{path}?score=")).await.0, 400);
    let mut tampered = path.to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (status, page) = env.get(&format!("{tampered}?score=9")).await;
    assert_eq!(status, 404);
    assert!(!page.contains("7401") && !page.contains("shop-"), "a bad link leaks nothing");

    // Unsubscribe: GET asks, POST does it; the next request for this customer is skipped.
    let unsubscribe = link(&env, &request, "/unsubscribe/");
    let (status, page) = env.get(&unsubscribe).await;
    assert_eq!(status, 200);
    assert!(page.contains("<form"), "{page}");
    assert_eq!(env.post_form(&unsubscribe, "").await.0, 200);
    assert!(env.store.is_unsubscribed(&env.settings.shop, &email).await.unwrap());
}

#[tokio::test]
async fn one_click_unsubscribe_stops_the_next_request_but_not_shipping_news() {
    let env = TestEnv::start().await;
    let delivered_at = env.clock_now() - Duration::hours(1);
    let email = deliver_order(&env, "7501", "click", delivered_at).await;
    let clock = ManualClock::at(delivered_at + Duration::days(5));
    env.review_app(env.ses(), clock.clone()).run(None).await.unwrap();
    let raw = env.raw_emails_to(&email).await;
    let unsubscribe = link(&env, review_requests(&raw)[0], "/unsubscribe/");
    // What a mail client sends for RFC 8058.
    assert_eq!(env.post_form(&unsubscribe, "List-Unsubscribe=One-Click").await.0, 200);

    // The same customer orders again: order and shipping messages still go, the review request not.
    let later = env.clock_now();
    let emails_before = env.emails_to(&email).await.len();
    let mut order = read_event("shopify-orders-create.json");
    order["id"] = json!(7502);
    order["name"] = json!("#7502");
    order["email"] = json!(email);
    order["customer"]["email"] = json!(email);
    order["customer"]["sms_marketing_consent"] = Value::Null;
    assert_eq!(env.post_shopify("orders/create", &bytes(&order), "o-7502").await.status, 200);
    assert_eq!(env.emails_to(&email).await.len(), emails_before + 1, "the confirmation still goes");
    let mut fulfillment = read_event("shopify-fulfillments-create.json");
    fulfillment["id"] = json!(7503);
    fulfillment["order_id"] = json!(7502);
    fulfillment["tracking_number"] = json!("1ZREVIEW7502");
    fulfillment["tracking_numbers"] = json!(["1ZREVIEW7502"]);
    assert_eq!(env.post_shopify("fulfillments/create", &bytes(&fulfillment), "f-7502").await.status, 200);
    let delivered = json!({
        "tracking_number": "1ZREVIEW7502", "carrier": "UPS",
        "events": [{ "status": "delivered", "occurred_at": later.to_rfc3339() }],
    });
    assert_eq!(env.post_tracking(&bytes(&delivered)).await.status, 200);
    clock.set(later + Duration::days(5));
    let report = env.review_app(env.ses(), clock).run(None).await.unwrap();
    assert_eq!((report.sent, report.skipped.get("unsubscribed").copied()), (0, Some(1)), "{report:?}");
    assert_eq!(review_requests(&env.raw_emails_to(&email).await).len(), 1, "only the first one");
}

#[tokio::test]
async fn kpi_reports_nps_answers_and_outcomes_from_the_table() {
    let env = TestEnv::start().await;
    let delivered_at = env.clock_now() - Duration::hours(1);
    for (i, id) in ["7601", "7602", "7603"].iter().enumerate() {
        deliver_order(&env, id, &format!("kpi{i}"), delivered_at).await;
    }
    let clock = ManualClock::at(delivered_at + Duration::days(5));
    assert_eq!(env.review_app(env.ses(), clock.clone()).run(None).await.unwrap().sent, 3);
    let now = env.clock_now();
    // The fourth was recorded without confirmation (by a score link's GET, before that rule).
    for (id, score, confirmed) in [("7601", 10, true), ("7602", 9, true), ("7603", 3, true), ("7604", 0, false)] {
        let answer = ppx_shared::ports::store::SurveyAnswer {
            order_id: ppx_shared::domain::ids::OrderId::parse(id).unwrap(),
            score,
            comment: None,
            answered_at: now,
            confirmed,
        };
        env.store.record_survey_answer(&env.settings.shop, &answer).await.unwrap();
    }
    let from = now - Duration::days(30);
    let to = clock.now() + Duration::days(1);
    let report = ppx_cli::commands::kpi(&env.store, env.shop(), (from, to), false).await.unwrap();
    // (2 promoters - 1 detractor) / 3 answers = +33.3.
    assert!(report.contains("NPS               +33.3"), "{report}");
    assert!(report.contains("answers           3"), "{report}");
    assert!(report.contains("not counted       1 unconfirmed"), "{report}");
    assert!(report.contains("requests sent     3"), "{report}");
    assert!(report.contains("response rate     100.0%"), "{report}");
}

/// Fails every email to an address with `+fails` in it, as SES would while throttled, and
/// counts the attempts per address.
struct FailsSome<E> {
    inner: E,
    attempts: std::sync::Mutex<std::collections::BTreeMap<String, u32>>,
}

impl<E: EmailSender> EmailSender for FailsSome<E> {
    async fn send_email(&self, email: &OutboundEmail<'_>) -> Result<String, SendError> {
        if email.to.contains("+fails") {
            *self.attempts.lock().unwrap().entry(email.to.to_owned()).or_default() += 1;
            return Err(SendError::Transient("injected: throttled".into()));
        }
        self.inner.send_email(email).await
    }
}

/// Stores a delivered order of `shop` due for its review request at `due_at` (straight into the
/// table: the webhooks' part is tested elsewhere).
async fn stored_delivered_order(
    env: &TestEnv,
    shop: &ppx_shared::domain::ids::ShopId,
    id: u64,
    email: &str,
    due_at: DateTime<Utc>,
) {
    let mut body = read_event("shopify-orders-create.json");
    body["id"] = json!(id);
    body["email"] = json!(email);
    body["customer"]["email"] = json!(email);
    let ppx_shared::inbound::platforms::PlatformEvent::Order { order, .. } =
        ppx_shared::inbound::platforms::shopify::parse(shop, "orders/create", &bytes(&body)).unwrap()
    else {
        panic!("an order")
    };
    env.store.upsert_order(&order).await.unwrap();
    let record =
        ppx_shared::ports::store::DeliveryRecord { delivered_at: due_at - Duration::days(5), review_due_at: due_at };
    assert!(env.store.record_delivery(shop, &order.id, &record).await.unwrap());
}

#[tokio::test]
async fn a_failing_shop_never_starves_the_others_and_its_requests_are_given_up_after_five_runs() {
    let env = TestEnv::start().await;
    // A shop whose every send fails, and sorts first; and a healthy one.
    let failing = ppx_shared::domain::ids::ShopId::parse(&format!("a-{}", env.shop())).unwrap();
    let healthy = env.settings.shop.clone();
    env.store
        .put_settings(&ppx_shared::domain::settings::ShopSettings { shop: failing.clone(), ..env.settings.clone() })
        .await
        .unwrap();
    let due_at = env.clock_now() - Duration::days(1);
    for i in 0..12 {
        let email = env.customer_email(&format!("shopa{i}+fails"));
        // Older than the healthy shop's: oldest-first would serve all of them first.
        stored_delivered_order(&env, &failing, 8800 + i, &email, due_at - Duration::hours(1)).await;
    }
    let mut healthy_emails = Vec::new();
    for i in 0..3 {
        let email = env.customer_email(&format!("shopb{i}"));
        stored_delivered_order(&env, &healthy, 8900 + i, &email, due_at).await;
        healthy_emails.push(email);
    }
    let sender = FailsSome { inner: env.ses(), attempts: Default::default() };
    let config = review_request::ReviewConfig { batch: 10, max_age: Duration::days(30) };
    let clock = ManualClock::at(env.clock_now());
    let app = env.review_app_with(sender, clock.clone(), config);

    // The first run serves the healthy shop at once, whatever the other's backlog.
    let first = app.run(None).await.unwrap();
    assert_eq!((first.due, first.sent, first.failed), (10, 3, 7), "{first:?}");
    for email in &healthy_emails {
        assert_eq!(review_requests(&env.raw_emails_to(email).await).len(), 1, "{email}");
    }
    // Later runs (each past the longest backoff) retry the failing ones, five times each, then
    // give them up: skipped as failed and reported, never retried for the rest of the month.
    let (mut gave_up, mut runs) = (first.gave_up, 1);
    loop {
        clock.advance(Duration::hours(9));
        let report = app.run(None).await.unwrap();
        runs += 1;
        assert_eq!(report.sent, 0, "{report:?}");
        gave_up += report.gave_up;
        if report.due == 0 || runs > 10 {
            break;
        }
    }
    assert_eq!(gave_up, 12, "after {runs} runs");
    let attempts = app.email.attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 12);
    assert!(attempts.values().all(|n| *n == review_request::MAX_REVIEW_ATTEMPTS), "{attempts:?}");
    let outcomes = env.store.review_outcomes(&failing, due_at - Duration::days(1), clock.now()).await.unwrap();
    let failed = outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                ppx_shared::ports::store::ReviewOutcome::Skipped {
                    reason: ppx_shared::ports::store::SkipReason::Failed,
                    ..
                }
            )
        })
        .count();
    assert_eq!(failed, 12);
}

// The parcel watch, run by the same scheduled function.

/// An order of this test's own customer, fulfilled with `tracking_number`, at the env's clock.
async fn shipped_order(env: &TestEnv, order_id: &str, customer: &str, tracking_number: &str) -> String {
    let email = placed_order(env, order_id, customer).await;
    fulfill(env, order_id, order_id.parse::<u64>().unwrap() + 1, tracking_number).await;
    email
}

/// A carrier scan happening now (the env's clock), as the generic tracking webhook sends it.
async fn scan_now(env: &TestEnv, tracking_number: &str, status: &str, message: &str) {
    let body = json!({
        "tracking_number": tracking_number,
        "carrier": "FedEx",
        "events": [{ "status": status, "occurred_at": env.clock_now().to_rfc3339(), "message": message }],
    });
    let reply = env.post_tracking(&bytes(&body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

fn subjects_with(emails: &[ppx_e2e::SentEmail], words: &str) -> usize {
    emails.iter().filter(|m| m.subject.contains(words)).count()
}

async fn shop_with_topic(customize: impl FnOnce(&mut ppx_shared::domain::settings::ShopSettings)) -> (TestEnv, String) {
    let mut env = TestEnv::start_with(customize).await;
    let arn = env.create_topic().await;
    env.settings.return_events_topic_arn = Some(arn.clone());
    ppx_shared::ports::store::SettingsStore::put_settings(&env.store, &env.settings).await.unwrap();
    (env, arn)
}

#[tokio::test]
async fn a_parcel_that_goes_quiet_is_told_once_per_stall_up_to_the_cap_and_the_shop_hears_each() {
    let (env, topic) = shop_with_topic(|s| s.time_zone = "UTC".parse().unwrap()).await;
    // Monday 7 December 2026, 10:00 UTC: four business days on is Friday 10:00.
    env.clock.set(Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap());
    let email = shipped_order(&env, "7401", "stall", "794644790132").await;
    scan_now(&env, "794644790132", "in_transit", "Departed FedEx hub").await;
    let app = env.review_app(env.ses(), env.clock.clone());
    let stalls = |emails: &[ppx_e2e::SentEmail]| subjects_with(emails, "we're looking into it");

    // Thursday: scanned four days ago is not a stall; the first-scan watch ends without a word.
    env.clock.set(Utc.with_ymd_and_hms(2026, 12, 10, 10, 0, 0).unwrap());
    let quiet = app.run(None).await.unwrap();
    // Ended without a word: the first-scan watch, and the order's ship-by (it shipped).
    assert_eq!((quiet.watch.fine, quiet.watch.stalled, quiet.watch.messages_sent), (2, 0, 0), "{quiet:?}");
    assert_eq!(stalls(&env.emails_to(&email).await), 0);

    // Friday 10:00: stalled. The customer is told, and the shop's topic hears.
    env.clock.set(Utc.with_ymd_and_hms(2026, 12, 11, 10, 0, 0).unwrap());
    let stalled = app.run(None).await.unwrap();
    assert_eq!((stalled.watch.stalled, stalled.watch.messages_sent), (1, 2), "{stalled:?}");
    let emails = env.emails_to(&email).await;
    assert_eq!(stalls(&emails), 1);
    let notice = emails.iter().find(|m| m.subject.contains("we're looking into it")).unwrap();
    assert!(notice.body.contains("Departed FedEx hub"), "{}", notice.body);
    let events = env.topic_messages(&topic).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!((event["type"].as_str(), event["order_id"].as_str()), (Some("shipment.stalled"), Some("7401")));
    assert_eq!(
        (event["last_scan_at"].as_str(), event["customer_told"].as_bool()),
        (Some("2026-12-07T10:00:00Z"), Some(true))
    );
    assert!(!events[0].1.contains(&email), "no personal data in the shop's event");

    // Once per stall: the next runs find nothing.
    let again = app.run(None).await.unwrap();
    assert_eq!((again.watch.due, again.watch.messages_sent), (0, 0), "{again:?}");

    // A new scan, then quiet again: a second stall, told; a third reaches the shop only (cap 2).
    for (scan_day, stall_day, told) in [(14, 18, true), (21, 25, false)] {
        env.clock.set(Utc.with_ymd_and_hms(2026, 12, scan_day, 10, 0, 0).unwrap());
        scan_now(&env, "794644790132", "in_transit", "Arrived at FedEx location").await;
        env.clock.set(Utc.with_ymd_and_hms(2026, 12, stall_day, 10, 0, 0).unwrap());
        let run = app.run(None).await.unwrap();
        assert_eq!(run.watch.stalled, 1, "{run:?}");
        assert_eq!(run.watch.messages_sent, 1 + usize::from(told), "{run:?}");
    }
    assert_eq!(stalls(&env.emails_to(&email).await), 2, "at most max_stall_notices per shipment");
    let events = env.topic_messages(&topic).await;
    assert_eq!(events.len(), 3);
    assert!(events[2].1.contains(r#""customer_told":false"#), "{}", events[2].1);

    // Delivered: no longer watched, whatever the clock says.
    env.clock.set(Utc.with_ymd_and_hms(2026, 12, 28, 10, 0, 0).unwrap());
    scan_now(&env, "794644790132", "delivered", "Delivered").await;
    env.clock.set(Utc.with_ymd_and_hms(2027, 1, 15, 10, 0, 0).unwrap());
    let done = app.run(None).await.unwrap();
    assert_eq!((done.watch.stalled, done.watch.messages_sent), (0, 0), "{done:?}");
    let why = ppx_cli::commands::render_text(&env.order_view("7401").await);
    assert!(why.contains("stalled"), "ppx order show lists the stall notices: {why}");
}

#[tokio::test]
async fn a_tracking_number_never_scanned_is_reported_to_the_shop_once_and_not_to_the_customer() {
    let (env, topic) = shop_with_topic(|_| {}).await;
    let start = env.clock_now();
    let email = shipped_order(&env, "7402", "untracked", "1ZNEVERSCANNED").await;
    let scanned = shipped_order(&env, "7403", "scanned", "1ZSCANNEDONCE").await;
    scan_now(&env, "1ZSCANNEDONCE", "label_created", "Shipment information sent to UPS").await;
    let app = env.review_app(env.ses(), env.clock.clone());
    let before = env.emails_to(&email).await.len();

    // Due at once in the index, moved to the shop's three days by the first run.
    let first = app.run(None).await.unwrap();
    assert_eq!((first.watch.moved, first.watch.untracked), (2, 0), "{first:?}");
    env.clock.set(start + Duration::days(3) - Duration::minutes(1));
    let early = app.run(None).await.unwrap();
    assert_eq!((early.watch.due, early.watch.untracked), (0, 0), "{early:?}");

    env.clock.set(start + Duration::days(3) + Duration::minutes(1));
    let due = app.run(None).await.unwrap();
    assert_eq!((due.watch.untracked, due.watch.fine, due.watch.messages_sent), (1, 1, 1), "{due:?}");
    let events = env.topic_messages(&topic).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(
        (event["type"].as_str(), event["tracking_number"].as_str()),
        (Some("shipment.untracked"), Some("1ZNEVERSCANNED"))
    );
    assert_eq!(env.emails_to(&email).await.len(), before, "the customer is not told");
    assert_eq!(subjects_with(&env.emails_to(&scanned).await, "looking into it"), 0);

    env.clock.set(start + Duration::days(10));
    let later = app.run(None).await.unwrap();
    assert_eq!((later.watch.due, later.watch.messages_sent), (0, 0), "{later:?}");
    assert_eq!(env.topic_messages(&topic).await.len(), 1);
}

/// An order of this test's own customer, placed at the env's clock and not shipped.
async fn placed_order(env: &TestEnv, order_id: &str, customer: &str) -> String {
    let (mut order, email) = customer_order(env, order_id, customer);
    order["cancelled_at"] = Value::Null;
    order["created_at"] = json!(env.clock_now().to_rfc3339());
    order["updated_at"] = json!(env.clock_now().to_rfc3339());
    let reply = env.post_shopify("orders/create", &bytes(&order), &format!("o-{order_id}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    email
}

#[tokio::test]
async fn an_order_not_shipped_by_its_date_is_told_once_and_a_shipped_or_cancelled_one_is_not() {
    let (env, topic) = shop_with_topic(|s| s.time_zone = "UTC".parse().unwrap()).await;
    // Monday 7 December 2026, 10:00 UTC, before the 14:00 cut-off, one processing day: it must
    // leave by Tuesday, so it is late from Wednesday 00:00.
    env.clock.set(Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap());
    let late = placed_order(&env, "7501", "late").await;
    let shipped = placed_order(&env, "7502", "ontime").await;
    let cancelled = placed_order(&env, "7503", "cancelled").await;
    let app = env.review_app(env.ses(), env.clock.clone());
    let taking_longer = |emails: &[ppx_e2e::SentEmail]| subjects_with(emails, "is taking longer to ship");

    // Tuesday: 7502 ships, 7503 is cancelled.
    env.clock.set(Utc.with_ymd_and_hms(2026, 12, 8, 16, 0, 0).unwrap());
    fulfill(&env, "7502", 7_502_001, "1Z999AA10123456784").await;
    let mut cancel = read_event("shopify-orders-create.json");
    cancel["id"] = json!(7503);
    cancel["name"] = json!("#7503");
    cancel["email"] = json!(cancelled);
    cancel["updated_at"] = json!(env.clock_now().to_rfc3339());
    let reply = env.post_shopify("orders/cancelled", &bytes(&cancel), "c-7503").await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    env.clock.set(Utc.with_ymd_and_hms(2026, 12, 8, 23, 59, 0).unwrap());
    let early = app.run(None).await.unwrap();
    assert_eq!((early.watch.not_shipped, early.watch.messages_sent), (0, 0), "{early:?}");
    assert_eq!(taking_longer(&env.emails_to(&late).await), 0);

    env.clock.set(Utc.with_ymd_and_hms(2026, 12, 9, 0, 0, 0).unwrap());
    let due = app.run(None).await.unwrap();
    assert_eq!((due.watch.not_shipped, due.watch.messages_sent), (1, 2), "{due:?}");
    let emails = env.emails_to(&late).await;
    assert_eq!(taking_longer(&emails), 1);
    let notice = emails.iter().find(|m| m.subject.contains("taking longer")).unwrap();
    assert!(notice.body.contains("We first said it would arrive"), "{}", notice.body);
    assert_eq!(taking_longer(&env.emails_to(&shipped).await), 0);
    assert_eq!(taking_longer(&env.emails_to(&cancelled).await), 0);
    let events = env.topic_messages(&topic).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!((event["type"].as_str(), event["ship_by"].as_str()), (Some("order.not_shipped"), Some("2026-12-08")));

    env.clock.set(Utc.with_ymd_and_hms(2026, 12, 20, 0, 0, 0).unwrap());
    // (7502's tracking number, never scanned, is the shop's to hear of by now.)
    let later = app.run(None).await.unwrap();
    assert_eq!((later.watch.not_shipped, later.watch.untracked), (0, 1), "{later:?}");
    assert_eq!(taking_longer(&env.emails_to(&late).await), 1, "once per order");
}

#[tokio::test]
async fn a_text_at_night_waits_for_the_customers_morning_and_goes_once_if_still_true() {
    let (env, _) = shop_with_topic(|s| {
        s.sms_enabled = true;
        s.notifications.quiet_hours_start = 21;
        s.notifications.quiet_hours_end = 8;
        // The shop is in Paris; its customers (the sample's address) in New York.
        s.time_zone = "Europe/Paris".parse().unwrap();
    })
    .await;
    let phone = env.customer_phone();
    let with_phone = |order_id: &str| {
        let (mut order, email) = customer_order(&env, order_id, &format!("night{order_id}"));
        order["customer"]["sms_marketing_consent"] =
            read_event("shopify-orders-create.json")["customer"]["sms_marketing_consent"].clone();
        order["phone"] = json!(phone);
        order["customer"]["phone"] = json!(phone);
        (order, email)
    };
    // Monday 7 December 2026, 15:00 New York (20:00 UTC): two orders placed and shipped.
    env.clock.set(Utc.with_ymd_and_hms(2026, 12, 7, 20, 0, 0).unwrap());
    for (order_id, number) in [("7601", "1ZNIGHT7601"), ("7602", "1ZNIGHT7602")] {
        let (order, _) = with_phone(order_id);
        let reply = env.post_shopify("orders/create", &bytes(&order), &format!("o-{order_id}")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        fulfill(&env, order_id, order_id.parse::<u64>().unwrap() * 10, number).await;
    }
    let texts_about = |texts: &[String], words: &str| texts.iter().filter(|t| t.contains(words)).count();
    let before = env.sms_to(&phone).await.len();

    // 22:30 New York: 7601 is out for delivery (a late route), 7602 too. Emails go now; texts wait.
    env.clock.set(Utc.with_ymd_and_hms(2026, 12, 8, 3, 30, 0).unwrap());
    scan_now(&env, "1ZNIGHT7601", "out_for_delivery", "On FedEx vehicle for delivery").await;
    scan_now(&env, "1ZNIGHT7602", "out_for_delivery", "On FedEx vehicle for delivery").await;
    assert_eq!(env.sms_to(&phone).await.len(), before, "no text at 22:30 where the customer is");
    let (_, email) = with_phone("7601");
    assert_eq!(subjects_with(&env.emails_to(&email).await, "out for delivery"), 1, "the email goes at once");
    let shown = ppx_cli::commands::render_text(&env.order_view("7601").await);
    assert!(shown.contains("text deferred: quiet hours, sent at 2026-12-08 08:00 (America/New_York)"), "{shown}");

    // 06:00 New York: 7602 is delivered (still night: that text waits too).
    env.clock.set(Utc.with_ymd_and_hms(2026, 12, 8, 11, 0, 0).unwrap());
    scan_now(&env, "1ZNIGHT7602", "delivered", "Delivered, front door").await;
    let app = env.review_app(env.ses(), env.clock.clone());
    let night = app.run(None).await.unwrap();
    assert_eq!((night.watch.texts_sent, night.watch.texts_dropped), (0, 0), "{night:?}");
    assert_eq!(env.sms_to(&phone).await.len(), before);

    // 08:00 New York: 7601's text goes; 7602's "out for delivery" is no longer true, its "delivered" is.
    env.clock.set(Utc.with_ymd_and_hms(2026, 12, 8, 13, 0, 0).unwrap());
    let morning = app.run(None).await.unwrap();
    assert_eq!((morning.watch.texts_sent, morning.watch.texts_dropped), (2, 1), "{morning:?}");
    let texts: Vec<String> = env.sms_to(&phone).await.into_iter().skip(before).collect();
    assert_eq!(texts.len(), 2, "{texts:?} {morning:?} all: {:?}", env.sms_to(&phone).await);
    assert_eq!(texts_about(&texts, "7601"), 1, "{texts:?}");
    assert_eq!(texts_about(&texts, "7602"), 1, "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("7602") && t.to_lowercase().contains("delivered")), "{texts:?}");

    // Once: the next runs and a replay of the scan send nothing more.
    let again = app.run(None).await.unwrap();
    assert_eq!((again.watch.texts_sent, again.watch.messages_sent), (0, 0), "{again:?}");
    scan_now(&env, "1ZNIGHT7601", "out_for_delivery", "On FedEx vehicle for delivery").await;
    assert_eq!(env.sms_to(&phone).await.len(), before + 2);
}
