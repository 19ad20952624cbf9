//! Chaos replay: hundreds of orders with realistic journeys (orders and updates, fulfillments,
//! carrier histories with failed attempts, pickups, exceptions, delays, split parcels,
//! cancellations, returns), every webhook delivered 1-5 times, shuffled across orders, older
//! histories replayed late, 32 requests in flight, through `ppx serve`'s router against moto;
//! then the review schedule with the clock moved. Every order must end with exactly the customer
//! messages its journey calls for, in the right final state.
//!
//! A journey's stages happen in order (a parcel is not delivered before it ships); within a
//! stage, everything of every order is shuffled and duplicated. The second test runs the same
//! replay with a share of AWS request attempts failing (`faults.rs`); the "platform" re-delivers
//! whatever got a 5xx, as Shopify and the carriers do.
//!
//! `PPX_CHAOS_ORDERS` (default 200) and `PPX_CHAOS_SEED` change the run; the summary line says
//! what was done.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::StreamExt;
use ppx_e2e::faults::{FaultInjector, FaultKind, serve_rejections};
use ppx_e2e::{TestEnv, fixture_bytes, read_event};
use ppx_shared::adapters::aws::SharedInterceptor;
use ppx_shared::domain::messages::MessageKind;
use ppx_shared::domain::tracking::TrackingStatus;
use ppx_shared::ports::clock::ManualClock;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const IN_FLIGHT: usize = 32;
/// Re-delivery rounds after a stage; each moves the clock past the message claim lease.
const MAX_PLATFORM_ROUNDS: usize = 20;
const SHIRT: &str = "6660001001";

/// 200 orders by default; the fault run takes half as many (each of its requests costs more).
fn orders(default: usize) -> usize {
    std::env::var("PPX_CHAOS_ORDERS").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

fn seed(default: u64) -> u64 {
    std::env::var("PPX_CHAOS_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Shopify,
    Generic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Delivered,
    Attempted,
    Pickup,
    Exception,
    Late,
    Cancelled,
    Split,
    InTransit,
}

const VARIANTS: [Variant; 10] = [
    Variant::Delivered,
    Variant::Delivered,
    Variant::Attempted,
    Variant::Pickup,
    Variant::Exception,
    Variant::Late,
    Variant::Cancelled,
    Variant::Split,
    Variant::InTransit,
    Variant::Delivered,
];

/// One webhook as its sender would post it; duplicates are the same value sent again.
#[derive(Debug, Clone)]
enum Webhook {
    Shopify { topic: &'static str, body: Vec<u8>, id: String },
    Generic { body: Vec<u8>, id: String },
    EasyPost { body: Vec<u8> },
    Tracking { body: Vec<u8> },
    Return { order_id: String, body: Vec<u8>, key: String },
}

#[derive(Debug, Clone, Copy)]
struct Checkpoint {
    status: TrackingStatus,
    at: DateTime<Utc>,
}

struct Parcel {
    shipment_id: String,
    tracking_number: String,
    /// Cumulative carrier history per stage (2..): what the carrier's webhook of that stage says.
    histories: Vec<Vec<Checkpoint>>,
    final_status: TrackingStatus,
}

struct Journey {
    n: usize,
    source: Source,
    variant: Variant,
    order_id: String,
    email: String,
    phone: String,
    sms: bool,
    returns: bool,
    parcels: Vec<Parcel>,
    /// Emails of each kind the customer must get, exactly.
    expected: BTreeMap<MessageKind, usize>,
    /// Texts, when the customer takes them: only the moments that justify one.
    expected_sms: BTreeMap<MessageKind, usize>,
}

impl Journey {
    fn delivered(&self) -> bool {
        !self.parcels.is_empty() && self.parcels.iter().all(|p| p.final_status == TrackingStatus::Delivered)
    }
}

/// The replay's clock: all journeys happen in the days before the test's "now".
struct Timeline {
    day0: DateTime<Utc>,
    /// When the scheduled runs (review requests, the parcel watch) happen.
    review_at: DateTime<Utc>,
}

impl Timeline {
    fn at(&self, day: i64, hour: i64) -> DateTime<Utc> {
        self.day0 + Duration::days(day) + Duration::hours(hour)
    }
    fn late_estimate(&self) -> NaiveDate {
        self.at(20, 0).date_naive()
    }
}

fn journey(env: &TestEnv, n: usize, time: &Timeline) -> Journey {
    let source = if n.is_multiple_of(2) { Source::Shopify } else { Source::Generic };
    let variant = VARIANTS[(n / 2) % VARIANTS.len()];
    let order_id = match source {
        Source::Shopify => (5_551_000_000 + n).to_string(),
        Source::Generic => format!("G-{n}"),
    };
    let cp = |status, day, hour| Checkpoint { status, at: time.at(day, hour) };
    let in_transit = vec![
        cp(TrackingStatus::LabelCreated, 0, 14),
        cp(TrackingStatus::InTransit, 0, 20),
        cp(TrackingStatus::InTransit, 1, 3),
    ];
    let grow = |steps: &[Checkpoint]| {
        let mut histories = vec![in_transit.clone()];
        for step in steps {
            let mut next = histories.last().unwrap().clone();
            next.push(*step);
            histories.push(next);
        }
        histories
    };
    use TrackingStatus as T;
    let delivered = [cp(T::OutForDelivery, 1, 13), cp(T::Delivered, 1, 19)];
    let (steps, final_status): (Vec<Checkpoint>, TrackingStatus) = match variant {
        Variant::Delivered | Variant::Late | Variant::Split => (delivered.to_vec(), T::Delivered),
        Variant::Attempted => (
            vec![
                cp(T::OutForDelivery, 1, 13),
                cp(T::DeliveryAttempted, 1, 18),
                cp(T::OutForDelivery, 2, 13),
                cp(T::Delivered, 2, 18),
            ],
            T::Delivered,
        ),
        Variant::Pickup => (vec![cp(T::AvailableForPickup, 1, 15), cp(T::Delivered, 2, 16)], T::Delivered),
        Variant::Exception => (vec![cp(T::Exception, 1, 9)], T::Exception),
        Variant::InTransit | Variant::Cancelled => (Vec::new(), T::InTransit),
    };
    let parcel_count = match variant {
        Variant::Cancelled => 0,
        Variant::Split => 2,
        _ => 1,
    };
    let parcels = (0..parcel_count)
        .map(|k| Parcel {
            shipment_id: match source {
                Source::Shopify => (7_771_000_000 + n * 10 + k).to_string(),
                Source::Generic => format!("S-{n}-{k}"),
            },
            tracking_number: format!("1Z{n:08}X{k}"),
            histories: grow(&steps),
            final_status,
        })
        .collect::<Vec<_>>();

    let returns = variant == Variant::Delivered && n.is_multiple_of(3);
    let mut expected = BTreeMap::new();
    let mut expect = |kind, count: usize| {
        if count > 0 {
            *expected.entry(kind).or_insert(0) += count;
        }
    };
    let p = parcels.len();
    expect(MessageKind::OrderConfirmation, 1);
    expect(MessageKind::Shipped, p);
    match variant {
        Variant::Delivered | Variant::Late | Variant::Split => {
            expect(MessageKind::OutForDelivery, p);
            expect(MessageKind::Delivered, p);
        }
        Variant::Attempted => {
            expect(MessageKind::OutForDelivery, 2);
            expect(MessageKind::DeliveryAttempted, 1);
            expect(MessageKind::Delivered, 1);
        }
        Variant::Pickup => {
            expect(MessageKind::AvailableForPickup, 1);
            expect(MessageKind::Delivered, 1);
        }
        Variant::Exception => expect(MessageKind::Exception, 1),
        Variant::InTransit | Variant::Cancelled => {}
    }
    // Still on its way days later, with no scan since: one stall notice per parcel (the watch).
    expect(MessageKind::Stalled, if matches!(variant, Variant::Exception | Variant::InTransit) { p } else { 0 });
    expect(MessageKind::Delayed, usize::from(variant == Variant::Late));
    // Competing returns (two tabs, a double click): each is decided and told once.
    expect(MessageKind::ReturnUpdate, usize::from(returns) * COMPETING_RETURNS);
    // Texts: the confirmation, the first time out for delivery, an attempt, ready for pickup,
    // delivered, and the returns' news; never "shipped", a problem, a delay or "out again".
    let mut expected_sms = BTreeMap::new();
    let mut text = |kind, count: usize| {
        if count > 0 {
            *expected_sms.entry(kind).or_insert(0) += count;
        }
    };
    text(MessageKind::OrderConfirmation, 1);
    match variant {
        Variant::Delivered | Variant::Late | Variant::Split => {
            text(MessageKind::OutForDelivery, p);
            text(MessageKind::Delivered, p);
        }
        Variant::Attempted => {
            text(MessageKind::OutForDelivery, 1);
            text(MessageKind::DeliveryAttempted, 1);
            text(MessageKind::Delivered, 1);
        }
        Variant::Pickup => {
            text(MessageKind::AvailableForPickup, 1);
            text(MessageKind::Delivered, 1);
        }
        Variant::Exception | Variant::InTransit | Variant::Cancelled => {}
    }
    text(MessageKind::ReturnUpdate, usize::from(returns) * COMPETING_RETURNS);
    let mut journey = Journey {
        n,
        source,
        variant,
        order_id,
        email: env.customer_email(&format!("c{n}")),
        phone: env.customer_phone_numbered(n),
        sms: n % 3 != 1,
        returns,
        parcels,
        expected,
        expected_sms,
    };
    if journey.delivered() && !journey.returns {
        *journey.expected.entry(MessageKind::ReviewRequest).or_insert(0) += 1;
    }
    // The oracle follows the notification policy: what it gives the parcels' histories is what
    // the hand-written tables above say, journey by journey.
    let (email, sms) = policy_notices(&journey, time);
    let by_policy = |want: &BTreeMap<MessageKind, usize>| -> BTreeMap<MessageKind, usize> {
        want.iter().filter(|(kind, _)| is_a_parcels(**kind)).map(|(k, n)| (*k, *n)).collect()
    };
    assert_eq!(email, by_policy(&journey.expected), "order {n} ({variant:?}): emails by the policy");
    assert_eq!(sms, by_policy(&journey.expected_sms), "order {n} ({variant:?}): texts by the policy");
    journey
}

/// Notices the notification policy decides from a parcel's carrier history.
fn is_a_parcels(kind: MessageKind) -> bool {
    !matches!(
        kind,
        MessageKind::OrderConfirmation | MessageKind::Delayed | MessageKind::ReviewRequest | MessageKind::ReturnUpdate
    )
}

/// The parcels' notices by the notification policy itself, per channel: each stage's carrier
/// webhook parsed by its real parser, merged and decided in turn, after the platform's "shipped".
fn policy_notices(j: &Journey, time: &Timeline) -> (BTreeMap<MessageKind, usize>, BTreeMap<MessageKind, usize>) {
    use ppx_shared::domain::ids::ShipmentId;
    use ppx_shared::domain::messages::{Channel, DeliveryState, MessageKey, MessageRecord, Notice};
    use ppx_shared::domain::notification::{Decision, Told, decide};
    use ppx_shared::domain::tracking::ShipmentTracking;
    use ppx_shared::domain::watch::{Finding, Watch, examine};
    use ppx_shared::inbound::carriers::{easypost, generic_tracking};
    let mut settings = ppx_shared::domain::settings::ShopSettings::from_json(
        &std::fs::read_to_string(ppx_e2e::repo_path("events/shop.example.json")).unwrap(),
    )
    .unwrap();
    chaos_templates(&mut settings);
    let (mut email, mut sms) = (BTreeMap::new(), BTreeMap::new());
    for (k, parcel) in j.parcels.iter().enumerate() {
        let id = ShipmentId::parse(&parcel.shipment_id).unwrap();
        let sent =
            |key: MessageKey, at| MessageRecord { state: DeliveryState::Sent, ..MessageRecord::claimed(&key, at) };
        *email.entry(MessageKind::Shipped).or_insert(0) += 1;
        let mut records = vec![sent(Notice::shipped(&id).on(Channel::Email), time.at(0, 0))];
        let mut tracking = ShipmentTracking::default();
        for (stage, history) in parcel.histories.iter().enumerate() {
            let update = match carrier_webhook(j, time, k, history, stage + 2) {
                Webhook::EasyPost { body } => easypost::parse(&body),
                Webhook::Tracking { body } => generic_tracking::parse(&body),
                other => unreachable!("{other:?}"),
            };
            tracking = tracking.merge(&update.unwrap().unwrap());
            let now = history.last().unwrap().at + Duration::minutes(5);
            let told = Told::recall(&id, &records, &records);
            if let Decision::Announce { notice, email: by_email, sms: by_text } =
                decide(&tracking, &id, &told, now, &settings.notifications)
            {
                for (channel, on, counts) in [(Channel::Email, by_email, &mut email), (Channel::Sms, by_text, &mut sms)]
                {
                    if on {
                        *counts.entry(notice.kind).or_insert(0) += 1;
                        records.push(sent(notice.on(channel), now));
                    }
                }
            }
        }
        // The parcel watch at the scheduled run: a parcel quiet for the shop's business days stalled.
        let watch = settings.notifications.watch();
        let finding = examine(Watch::NextScan, None, Some(&tracking), time.review_at, &watch, settings.time_zone);
        if matches!(finding, Finding::Stalled { .. }) {
            *email.entry(MessageKind::Stalled).or_insert(0) += 1;
        }
    }
    (email, sms)
}

fn shopify_order(j: &Journey, time: &Timeline, updated: Option<DateTime<Utc>>, cancelled: bool) -> Vec<u8> {
    let placed = time.at(-1, 15);
    let mut order = read_event("shopify-orders-create.json");
    order["id"] = json!(j.order_id.parse::<u64>().unwrap());
    order["name"] = json!(format!("#{}", 1000 + j.n));
    order["order_number"] = json!(1000 + j.n);
    for field in ["email", "contact_email"] {
        order[field] = json!(j.email);
    }
    order["customer"]["email"] = json!(j.email);
    order["phone"] = json!(j.phone);
    order["customer"]["phone"] = json!(j.phone);
    if !j.sms {
        order["sms_marketing_consent"] = Value::Null;
        order["customer"]["sms_marketing_consent"] = Value::Null;
    }
    for field in ["created_at", "processed_at"] {
        order[field] = json!(placed.to_rfc3339());
    }
    order["updated_at"] = json!(updated.unwrap_or(placed).to_rfc3339());
    if cancelled {
        order["cancelled_at"] = json!(updated.unwrap().to_rfc3339());
        order["cancel_reason"] = json!("customer");
    }
    bytes(&order)
}

fn generic_order(j: &Journey, time: &Timeline, event: &str, updated: Option<DateTime<Utc>>) -> Vec<u8> {
    let placed = time.at(-1, 15);
    let mut body = read_event("generic-order-created.json");
    body["event"] = json!(event);
    let order = &mut body["order"];
    order["id"] = json!(j.order_id);
    order["number"] = json!(j.order_id);
    order["customer"]["email"] = json!(j.email);
    order["customer"]["phone"] = json!(j.phone);
    order["customer"]["sms_consent"] = json!(j.sms);
    order["placed_at"] = json!(placed.to_rfc3339());
    order["updated_at"] = json!(updated.unwrap_or(placed).to_rfc3339());
    if event == "order.cancelled" {
        order["status"] = json!("cancelled");
    }
    bytes(&body)
}

/// Line items `(id, quantity)` of each parcel: a split order ships its two lines apart.
fn parcel_items(j: &Journey, k: usize) -> Vec<(&'static str, u32)> {
    let lines: [(&str, u32); 2] = match j.source {
        Source::Shopify => [(SHIRT, 2), ("6660001002", 1)],
        Source::Generic => [("G-1001-1", 1), ("G-1001-2", 2)],
    };
    if j.parcels.len() == 1 { lines.to_vec() } else { vec![lines[k]] }
}

fn fulfillment(j: &Journey, time: &Timeline, k: usize) -> Webhook {
    let parcel = &j.parcels[k];
    let at = time.at(0, 10).to_rfc3339();
    let url = format!("https://www.ups.com/track?tracknum={}", parcel.tracking_number);
    let items = parcel_items(j, k);
    match j.source {
        Source::Shopify => {
            let mut body = read_event("shopify-fulfillments-create.json");
            body["id"] = json!(parcel.shipment_id.parse::<u64>().unwrap());
            body["order_id"] = json!(j.order_id.parse::<u64>().unwrap());
            body["email"] = json!(j.email);
            body["tracking_number"] = json!(parcel.tracking_number);
            body["tracking_numbers"] = json!([parcel.tracking_number]);
            body["tracking_url"] = json!(url);
            body["tracking_urls"] = json!([url]);
            body["created_at"] = json!(at);
            body["updated_at"] = json!(at);
            let template = body["line_items"][0].clone();
            body["line_items"] = items
                .iter()
                .map(|(id, quantity)| {
                    let mut line = template.clone();
                    line["id"] = json!(id.parse::<u64>().unwrap());
                    line["quantity"] = json!(quantity);
                    line
                })
                .collect();
            Webhook::Shopify { topic: "fulfillments/create", body: bytes(&body), id: format!("f-{}-{k}", j.n) }
        }
        Source::Generic => {
            let mut body = read_event("generic-shipment-created.json");
            let shipment = &mut body["shipment"];
            shipment["id"] = json!(parcel.shipment_id);
            shipment["order_id"] = json!(j.order_id);
            shipment["tracking_number"] = json!(parcel.tracking_number);
            shipment["carrier"] = json!("UPS");
            shipment["tracking_url"] = json!(url);
            shipment["created_at"] = json!(at);
            shipment["updated_at"] = json!(at);
            shipment["items"] = items
                .iter()
                .map(|(id, quantity)| json!({ "line_item_id": id, "title": "Item", "quantity": quantity }))
                .collect();
            Webhook::Generic { body: bytes(&body), id: format!("f-{}-{k}", j.n) }
        }
    }
}

fn easypost_status(status: TrackingStatus) -> (&'static str, &'static str) {
    match status {
        TrackingStatus::LabelCreated => ("pre_transit", "status_update"),
        TrackingStatus::InTransit => ("in_transit", "arrived_at_facility"),
        TrackingStatus::OutForDelivery => ("out_for_delivery", "out_for_delivery"),
        TrackingStatus::DeliveryAttempted => ("failure", "delivery_attempt"),
        TrackingStatus::AvailableForPickup => ("available_for_pickup", "arrived_at_pickup_location"),
        TrackingStatus::Delivered => ("delivered", "arrived_at_destination"),
        TrackingStatus::Exception => ("failure", "delivery_exception"),
        TrackingStatus::ReturnedToSender => ("return_to_sender", "return"),
        TrackingStatus::Unknown => ("unknown", "unknown"),
    }
}

fn generic_status(status: TrackingStatus) -> &'static str {
    match status {
        TrackingStatus::LabelCreated => "label_created",
        TrackingStatus::InTransit => "in_transit",
        TrackingStatus::OutForDelivery => "out_for_delivery",
        TrackingStatus::DeliveryAttempted => "delivery_attempted",
        TrackingStatus::AvailableForPickup => "available_for_pickup",
        TrackingStatus::Delivered => "delivered",
        TrackingStatus::Exception => "exception",
        TrackingStatus::ReturnedToSender => "returned_to_sender",
        TrackingStatus::Unknown => "unknown",
    }
}

/// The carrier's webhook of one stage: the parcel's whole history so far (as EasyPost and the
/// aggregators send it), through EasyPost for Shopify orders and the generic format otherwise.
fn carrier_webhook(j: &Journey, time: &Timeline, k: usize, history: &[Checkpoint], stage: usize) -> Webhook {
    let parcel = &j.parcels[k];
    let estimate = (j.variant == Variant::Late).then(|| time.late_estimate());
    let last = history.last().unwrap();
    match j.source {
        Source::Shopify => {
            let mut event: Value =
                serde_json::from_slice(&fixture_bytes("easypost-tracker-updated-delivered.json")).unwrap();
            event["id"] = json!(format!("evt_{}_{k}_{stage}", j.n));
            let result = &mut event["result"];
            result["id"] = json!(format!("trk_{}_{k}", j.n));
            result["tracking_code"] = json!(parcel.tracking_number);
            result["status"] = json!(easypost_status(last.status).0);
            result["updated_at"] = json!(last.at.to_rfc3339());
            result["est_delivery_date"] = estimate.map_or(Value::Null, |d| json!(format!("{d}T00:00:00Z")));
            result["tracking_details"] = history
                .iter()
                .map(|c| {
                    let (status, detail) = easypost_status(c.status);
                    json!({
                        "object": "TrackingDetail",
                        "message": format!("{status} {detail}"),
                        "status": status,
                        "status_detail": detail,
                        "datetime": c.at.to_rfc3339(),
                        "tracking_location": { "object": "TrackingLocation", "city": "Brooklyn", "state": "NY", "country": "US", "zip": null },
                    })
                })
                .collect();
            Webhook::EasyPost { body: bytes(&event) }
        }
        Source::Generic => {
            let mut body = json!({
                "tracking_number": parcel.tracking_number,
                "carrier": "UPS",
                "events": history
                    .iter()
                    .map(|c| json!({ "status": generic_status(c.status), "occurred_at": c.at.to_rfc3339(), "message": "Scan" }))
                    .collect::<Vec<_>>(),
            });
            if let Some(estimate) = estimate {
                body["estimated_delivery"] = json!(estimate.to_string());
            }
            Webhook::Tracking { body: bytes(&body) }
        }
    }
}

/// Returns a customer asks for at once, each with its own key, for one unit each of a line of 2.
const COMPETING_RETURNS: usize = 3;
/// Units bought of the line they return (`parcel_items`).
const RETURNABLE_UNITS: u32 = 2;

/// The line a journey's returns ask for.
fn returned_line(j: &Journey) -> &'static str {
    match j.source {
        Source::Shopify => SHIRT,
        Source::Generic => "G-1001-2",
    }
}

/// The competing return requests: every one is decided, only as many as were bought accepted.
fn return_requests(j: &Journey) -> Vec<Webhook> {
    let body = json!({
        "order_id": j.order_id,
        "items": [{ "line_item": returned_line(j), "quantity": 1, "reason": "doesnt_fit" }],
        "resolution": { "type": "store_credit" },
    });
    (0..COMPETING_RETURNS)
        .map(|tab| Webhook::Return {
            order_id: j.order_id.clone(),
            body: bytes(&body),
            key: format!("return-{}-{tab}", j.n),
        })
        .collect()
}

/// Every stage's new webhooks per journey, and the older ones a carrier may still replay late.
fn stages(journeys: &[Journey], time: &Timeline) -> Vec<(Vec<Webhook>, Vec<Webhook>)> {
    const STAGES: usize = 8;
    let mut stages: Vec<(Vec<Webhook>, Vec<Webhook>)> = (0..STAGES).map(|_| Default::default()).collect();
    for j in journeys {
        let placed = |updated: Option<DateTime<Utc>>, cancelled: bool| match j.source {
            Source::Shopify => Webhook::Shopify {
                topic: if cancelled {
                    "orders/cancelled"
                } else if updated.is_some() {
                    "orders/updated"
                } else {
                    "orders/create"
                },
                body: shopify_order(j, time, updated, cancelled),
                id: format!("o-{}-{}", j.n, updated.map_or(0, |t| t.timestamp())),
            },
            Source::Generic => {
                let event = match (cancelled, updated.is_some()) {
                    (true, _) => "order.cancelled",
                    (false, true) => "order.updated",
                    (false, false) => "order.created",
                };
                Webhook::Generic {
                    body: generic_order(j, time, event, updated),
                    id: format!("o-{}-{}", j.n, updated.map_or(0, |t| t.timestamp())),
                }
            }
        };
        stages[0].0.push(placed(None, false));
        // Some orders are updated before their creation is delivered.
        if j.n % 5 == 1 {
            stages[0].0.push(placed(Some(time.at(-1, 16)), false));
        }
        if j.variant == Variant::Cancelled {
            stages[1].0.push(placed(Some(time.at(-1, 18)), true));
        }
        // Some fulfillments race their order's creation.
        let fulfillment_stage = if j.n % 7 == 3 { 0 } else { 1 };
        for k in 0..j.parcels.len() {
            stages[fulfillment_stage].0.push(fulfillment(j, time, k));
        }
        for (k, parcel) in j.parcels.iter().enumerate() {
            let mut previous: Option<Webhook> = None;
            for (stage, (fresh, older)) in stages.iter_mut().enumerate().take(STAGES - 1).skip(2) {
                // A journey with no more news keeps repeating its latest history.
                let history = &parcel.histories[(stage - 2).min(parcel.histories.len() - 1)];
                let webhook = carrier_webhook(j, time, k, history, stage);
                fresh.push(webhook.clone());
                if let Some(replay) = previous.replace(webhook) {
                    older.push(replay);
                }
            }
        }
        if j.returns {
            stages[STAGES - 1].0.extend(return_requests(j));
        }
    }
    stages
}

#[derive(Default, Debug)]
struct Tally {
    distinct: usize,
    deliveries: usize,
    duplicates: usize,
    late: usize,
    redelivered: usize,
    client_errors: Vec<String>,
}

async fn send(env: &TestEnv, webhook: &Webhook) -> (u16, Value) {
    let reply = match webhook {
        Webhook::Shopify { topic, body, id } => env.post_shopify(topic, body, id).await,
        Webhook::Generic { body, id } => env.post_generic(body, id).await,
        Webhook::EasyPost { body } => env.post_easypost(body).await,
        Webhook::Tracking { body } => env.post_tracking(body).await,
        Webhook::Return { order_id, body, key } => {
            let headers = vec![
                ("content-type", "application/json".to_owned()),
                ("authorization", format!("Bearer {}", env.return_token(order_id))),
                ("idempotency-key", key.clone()),
            ];
            env.post(&format!("/returns/{}", env.shop()), &headers, body.clone()).await
        }
    };
    (reply.status, reply.body)
}

/// Delivers one stage: each new webhook 1-5 times and some older ones late, shuffled, 32 at a
/// time; then re-delivers whatever got a 5xx, moving the clock past the claim lease each round.
async fn deliver_stage(env: &TestEnv, rng: &mut StdRng, fresh: &[Webhook], older: &[Webhook], tally: &mut Tally) {
    let mut queue = Vec::new();
    for webhook in fresh {
        let copies = rng.random_range(1..=5);
        tally.distinct += 1;
        tally.duplicates += copies - 1;
        queue.extend(std::iter::repeat_n(webhook, copies));
    }
    for webhook in older {
        if rng.random_bool(0.5) {
            tally.late += 1;
            queue.push(webhook);
        }
    }
    queue.shuffle(rng);
    for round in 0..=MAX_PLATFORM_ROUNDS {
        if queue.is_empty() {
            return;
        }
        if round > 0 {
            tally.redelivered += queue.len();
            env.clock.advance(Duration::seconds(61));
        }
        tally.deliveries += queue.len();
        let replies: Vec<(&Webhook, u16, Value)> = futures::stream::iter(queue.iter().copied())
            .map(|webhook| async move {
                let (status, body) = send(env, webhook).await;
                (webhook, status, body)
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        queue.clear();
        for (webhook, status, body) in replies {
            match status {
                200..=299 => {}
                500..=599 => queue.push(webhook),
                _ => tally.client_errors.push(format!("{status} {body} for {webhook:?}")),
            }
        }
    }
    panic!("{} deliveries still failing after {MAX_PLATFORM_ROUNDS} rounds", queue.len());
}

/// What moto sent: `(recipient, "CHAOS <kind>")` for every email (simple or raw) and SMS.
async fn sent_messages() -> (Vec<(String, String)>, Vec<(String, String)>) {
    let state: Value =
        reqwest::get(format!("{}/moto-api/data.json", ppx_e2e::moto_url())).await.unwrap().json().await.unwrap();
    let mut emails = Vec::new();
    for m in state["ses"]["Message"].as_array().into_iter().flatten() {
        let subject = m["subject"].as_str().unwrap_or_default().to_owned();
        for to in m["destinations"]["ToAddresses"].as_array().into_iter().flatten() {
            emails.push((to.as_str().unwrap_or_default().to_owned(), subject.clone()));
        }
    }
    for m in state["ses"]["RawMessage"].as_array().into_iter().flatten() {
        let raw = m["raw_data"].as_str().unwrap_or_default();
        let message = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("raw MIME");
        let subject = message.subject().unwrap_or_default().to_owned();
        for to in message.to().into_iter().flat_map(|a| a.iter()) {
            emails.push((to.address().unwrap_or_default().to_owned(), subject.clone()));
        }
    }
    let sms = state["sns"]["SMS"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["phone_number"].as_str().unwrap_or_default().to_owned(),
                m["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (emails, sms)
}

fn kinds_in(messages: &[(String, String)], recipient: &str) -> BTreeMap<MessageKind, usize> {
    let mut kinds = BTreeMap::new();
    for (to, text) in messages.iter().filter(|(to, _)| to == recipient) {
        let kind = text
            .strip_prefix("CHAOS ")
            .and_then(|k| MessageKind::parse(k.trim()))
            .unwrap_or_else(|| panic!("unexpected message to {to}: {text}"));
        *kinds.entry(kind).or_insert(0) += 1;
    }
    kinds
}

/// Every message says only its kind, so what moto sent can be told apart exactly. The replay
/// delivers days of scans within minutes, all of them days after they happened: no scan is too
/// old to announce here (the notification policy's own tests cover staleness).
fn chaos_templates(settings: &mut ppx_shared::domain::settings::ShopSettings) {
    settings.notifications.stale_same_day_hours = 720;
    settings.notifications.stale_hours = 720;
    settings.notifications.stale_final_days = 365;
    for kind in MessageKind::ALL.into_iter().filter(|k| k.is_for_customer()) {
        settings.templates.insert(format!("{}.subject.txt", kind.as_str()), format!("CHAOS {}", kind.as_str()));
        if ppx_shared::render::has_sms(kind) {
            settings.templates.insert(format!("{}.sms.txt", kind.as_str()), format!("CHAOS {}", kind.as_str()));
        }
    }
}

/// Appends a summary line to `target/chaos-summary.txt`, which `make test` prints.
fn note_summary(line: &str) {
    use std::io::Write;
    let path = ppx_e2e::repo_path("target/chaos-summary.txt");
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "{line}");
    }
}

struct Outcome {
    summary: String,
    /// Messages sent beyond the expected ones (only possible through an injected lost response).
    extra: usize,
}

/// `PPX_CHAOS_LOG=<file>`: the functions' JSON logs, for reading a failure.
fn log_to_file() {
    if let Some(path) = std::env::var_os("PPX_CHAOS_LOG") {
        let file = std::sync::Mutex::new(std::fs::File::create(path).expect("log file"));
        let _ =
            tracing_subscriber::fmt().json().with_current_span(true).with_span_list(false).with_writer(file).try_init();
    }
}

async fn replay(name: &str, faults: Option<FaultInjector>, seed: u64, orders: usize) -> Outcome {
    log_to_file();
    let extra = faults.iter().map(|f| SharedInterceptor::new(f.clone())).collect();
    let env = TestEnv::start_custom(chaos_templates, extra).await;
    let mut rng = StdRng::seed_from_u64(seed);
    let now = env.clock_now();
    let day0 = (now - Duration::days(3)).date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let time = Timeline { day0, review_at: now + Duration::days(10) };
    let journeys: Vec<Journey> = (0..orders).map(|n| journey(&env, n, &time)).collect();
    let mut tally = Tally::default();
    for (fresh, older) in stages(&journeys, &time) {
        deliver_stage(&env, &mut rng, &fresh, &older, &mut tally).await;
    }
    assert!(tally.client_errors.is_empty(), "{name}: 4xx answers to valid webhooks: {:#?}", tally.client_errors);

    // The schedule runs after every review is due; overlapping runs and failed sends are retried.
    let review_clock = ManualClock::at(time.review_at);
    let review = env.review_app(env.ses(), review_clock.clone());
    let mut review_runs = 0;
    loop {
        review_runs += 1;
        let (a, b) = tokio::join!(review.run(None), review.run(None));
        let (a, b) = (a.expect("review run"), b.expect("review run"));
        let watch_left = |r: &review_request::RunReport| r.watch.more_due || r.watch.failed > 0;
        let left = a.more_due || b.more_due || a.failed + b.failed + a.in_flight + b.in_flight > 0;
        if !(left || watch_left(&a) || watch_left(&b)) {
            break;
        }
        assert!(review_runs < 20, "{name}: review requests still due after {review_runs} runs: {a:?} {b:?}");
        review_clock.advance(Duration::seconds(61));
    }
    if let Some(faults) = &faults {
        faults.disable();
    }

    let (emails, sms) = sent_messages().await;
    let mut violations = Vec::new();
    let (mut expected_total, mut sent_total, mut extra) = (0, 0, 0);
    // Messages each order's customer got, per channel (texts: customers who take them).
    let (mut per_order_email, mut per_order_sms) = (Vec::new(), Vec::new());
    for j in &journeys {
        let got_email = kinds_in(&emails, &j.email);
        let got_sms = kinds_in(&sms, &j.phone);
        per_order_email.push(got_email.values().sum::<usize>());
        if j.sms {
            per_order_sms.push(got_sms.values().sum::<usize>());
        }
        let want_sms = if j.sms { j.expected_sms.clone() } else { BTreeMap::new() };
        for (channel, want, got) in [("email", &j.expected, &got_email), ("sms", &want_sms, &got_sms)] {
            expected_total += want.values().sum::<usize>();
            sent_total += got.values().sum::<usize>();
            for kind in MessageKind::ALL {
                let (w, g) = (want.get(&kind).copied().unwrap_or(0), got.get(&kind).copied().unwrap_or(0));
                if g > w && faults.is_some() {
                    extra += g - w;
                    if std::env::var_os("PPX_CHAOS_VERBOSE").is_some() {
                        eprintln!("extra: order {} {channel} {kind:?}: want {w}, sent {g}", j.order_id);
                    }
                } else if g != w {
                    violations.push(format!(
                        "order {} ({:?}, {:?}) {channel} {kind:?}: want {w}, sent {g}",
                        j.order_id, j.source, j.variant
                    ));
                }
            }
        }
        let view = env.order_view(&j.order_id).await;
        let Some(order) = view.order.as_ref() else {
            violations.push(format!("order {} ({:?}, {:?}) was not stored", j.order_id, j.source, j.variant));
            continue;
        };
        let cancelled = order.status == ppx_shared::domain::order::OrderStatus::Cancelled;
        if cancelled != (j.variant == Variant::Cancelled) {
            violations.push(format!("order {}: cancelled = {cancelled}", j.order_id));
        }
        for parcel in &j.parcels {
            let status = view
                .tracking
                .get(&ppx_shared::domain::ids::ShipmentId::parse(&parcel.shipment_id).unwrap())
                .and_then(|t| t.value.status);
            if status != Some(parcel.final_status) {
                violations.push(format!(
                    "order {} parcel {}: status {status:?}, want {:?}",
                    j.order_id, parcel.shipment_id, parcel.final_status
                ));
            }
        }
        if view.delivery.is_some() != j.delivered() {
            violations.push(format!("order {}: delivery recorded = {}", j.order_id, view.delivery.is_some()));
        }
        if view.returns.len() != usize::from(j.returns) * COMPETING_RETURNS {
            violations.push(format!("order {}: {} returns", j.order_id, view.returns.len()));
        }
        // Never more given back than was bought, whatever raced.
        let accepted: u32 = view
            .returns
            .iter()
            .filter(|r| r.state != ppx_shared::domain::returns::ReturnState::Rejected)
            .flat_map(|r| &r.decision.items)
            .filter(|i| i.line_item == returned_line(j) && i.verdict != ppx_shared::domain::returns::Verdict::Rejected)
            .map(|i| i.quantity)
            .sum();
        if accepted != if j.returns { RETURNABLE_UNITS } else { 0 } {
            violations.push(format!("order {}: {accepted} units accepted for return", j.order_id));
        }
    }
    let fault_line = faults.as_ref().map_or_else(String::new, |f| {
        let counts = f.counts();
        let by_kind = |kind| counts.iter().filter(|((_, _, k), _)| *k == kind).map(|(_, n)| *n).sum::<u32>();
        format!(
            ", faults injected {} of {} AWS attempts ({} refused, {} throttled/5xx, {} lost responses)",
            counts.values().sum::<u32>(),
            f.attempts(),
            by_kind(FaultKind::Refused),
            by_kind(FaultKind::Rejected),
            by_kind(FaultKind::LostResponse),
        )
    });
    let spread = |counts: &mut Vec<usize>| {
        counts.sort_unstable();
        let at = |q: f64| counts.get(((counts.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0);
        format!("median {} p95 {} max {}", at(0.5), at(0.95), at(1.0))
    };
    let per_order = format!("per order: emails {}, texts {}", spread(&mut per_order_email), spread(&mut per_order_sms));
    let summary = format!(
        "chaos {name}: {} orders, {} webhooks, {} deliveries ({} duplicates, {} late replays, {} re-deliveries after 5xx), \
         {review_runs} review runs, messages expected {expected_total} sent {sent_total} (extra {extra}; {per_order}){fault_line}, violations {}",
        journeys.len(),
        tally.distinct,
        tally.deliveries,
        tally.duplicates,
        tally.late,
        tally.redelivered,
        violations.len()
    );
    println!("{summary}");
    note_summary(&summary);
    if let (Some(f), Some(_)) = (&faults, std::env::var_os("PPX_CHAOS_VERBOSE")) {
        eprintln!("{:#?}", f.counts());
    }
    assert!(violations.is_empty(), "{summary}\n{}", violations.join("\n"));
    Outcome { summary, extra }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_gets_exactly_its_messages_under_duplicates_reordering_and_concurrency() {
    let outcome = replay("clean", None, seed(20261127), orders(200)).await;
    assert_eq!(outcome.extra, 0, "{}", outcome.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_gets_its_messages_when_aws_calls_fail() {
    let seed = seed(7);
    let faults = FaultInjector::new(150, seed, serve_rejections().await);
    let outcome = replay("faults", Some(faults.clone()), seed, orders(100)).await;
    // A send whose response was lost is retried by the SDK, and SES and SNS have no idempotency
    // key: only those can send twice.
    let lost_sends: u32 = faults
        .counts()
        .iter()
        .filter(|((service, operation, kind), _)| {
            *kind == FaultKind::LostResponse
                && matches!((service.as_str(), operation.as_str()), ("SESv2", "SendEmail") | ("SNS", "Publish"))
        })
        .map(|(_, n)| *n)
        .sum();
    let line =
        format!("chaos faults: {} extra messages, {lost_sends} SES/SNS responses lost after sending", outcome.extra);
    println!("{line}");
    note_summary(&line);
    assert!(outcome.extra <= lost_sends as usize, "{} extra messages, {lost_sends} lost send responses", outcome.extra);
}
