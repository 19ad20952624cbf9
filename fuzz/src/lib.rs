//! Input splitting and the invariants the fuzz targets share.
//!
//! Every check here is something the parsers promise in their docs or code: a panic in one
//! of them is a finding, the same as a panic in the parser.

use chrono::{DateTime, Utc};
use ppx_shared::domain::ids::{OrderId, ShopId, TrackingNumber};
use ppx_shared::domain::money::Money;
use ppx_shared::domain::order::{Order, Shipment};
use ppx_shared::inbound::ParseError;
use ppx_shared::inbound::platforms::{OrderTopic, PlatformEvent};
use ppx_shared::domain::tracking::CarrierUpdate;
use serde_json::Value;

/// The shop every order target parses for.
pub fn shop() -> ShopId {
    ShopId::parse("fuzz-shop").expect("a valid shop id")
}

/// Splits `[selector][rest]` into a topic and a body: a selector below 0x80 picks one of
/// `known` (so seeds are `\x00` + a fixture), otherwise the topic is the rest up to its first
/// newline (any text, to fuzz the topic match too) and the body follows it.
pub fn split_topic<'a>(data: &'a [u8], known: &[&'static str]) -> Option<(String, &'a [u8])> {
    let (&selector, rest) = data.split_first()?;
    if selector < 0x80 {
        return Some((known[usize::from(selector) % known.len()].to_owned(), rest));
    }
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let body = rest.get(end + 1..).unwrap_or_default();
    Some((String::from_utf8_lossy(&rest[..end]).into_owned(), body))
}

/// A `now` for the checks that take one, from any i64 (clamped to chrono's range).
pub fn now_from(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0)
        .or_else(|| DateTime::from_timestamp(secs % 8_000_000_000_000, 0))
        .expect("in chrono's range")
}

/// The body as JSON, for the invariants that compare the result with the input. `None` when
/// `serde_json::Value` refuses a body the parser accepted: serde_json does not check the UTF-8
/// or `\u` escapes of strings it skips (unknown fields, `IgnoredAny`), and a body may hold
/// such junk where the parser does not look. Invalid UTF-8 is replaced first, so only bodies
/// with a lone surrogate escape in a skipped string go unchecked.
pub fn json(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok().or_else(|| serde_json::from_str(&String::from_utf8_lossy(body)).ok())
}

/// `Some(s)` only when `s` is what `non_empty` promises: not blank, trimmed.
pub fn assert_trimmed(what: &str, value: Option<&str>) {
    if let Some(v) = value {
        assert!(!v.is_empty() && v.trim() == v, "{what} must be trimmed and not empty: {v:?}");
    }
}

/// A money string of the body (`"12.50"`), as the parsers read it; `None` for null/absent.
pub fn money_at(value: &Value, order: &Order) -> Option<Money> {
    value.as_str().map(|s| Money::parse(s, order.currency).expect("the parser accepted this amount"))
}

/// Parse errors name something: the field, the JSON problem or the topic.
pub fn check_error(err: &ParseError) {
    match err {
        ParseError::Json(problem) => assert!(!problem.is_empty()),
        // `field` is the JSON path; it is empty only for an unknown key that is itself "".
        ParseError::Field { field, problem } => {
            assert!(!problem.is_empty(), "{err:?}");
            assert!(!field.is_empty() || problem.starts_with("unknown field ``"), "{err:?}");
        }
        ParseError::UnsupportedTopic(_) => {}
    }
    assert!(!err.to_string().is_empty());
}

/// What every parsed order guarantees, whatever the platform.
pub fn check_order(order: &Order, topic: OrderTopic) {
    assert_eq!(order.shop, shop());
    assert_eq!(OrderId::parse(order.id.as_str()).as_ref(), Ok(&order.id), "order ids are normalized");
    assert!(!order.number.trim().is_empty(), "an order has a number to show");
    let c = &order.customer;
    for (what, value) in [
        ("first_name", &c.first_name),
        ("last_name", &c.last_name),
        ("email", &c.email),
        ("locale", &c.locale),
        ("shipping_method", &order.shipping_method),
    ] {
        assert_trimmed(what, value.as_deref());
    }
    if let Some(phone) = &c.phone {
        let digits = phone.strip_prefix('+').expect("E.164 starts with +");
        assert!((8..=15).contains(&digits.len()), "E.164 has 8-15 digits: {phone}");
        assert!(digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0'), "{phone}");
    }
    for item in &order.items {
        assert_trimmed("item title", Some(&item.title));
        assert_eq!(item.unit_price.currency, order.currency, "one currency per order");
        for (what, value) in [
            ("item id", &item.id),
            ("product_id", &item.product_id),
            ("sku", &item.sku),
            ("variant", &item.variant),
            ("product_type", &item.product_type),
        ] {
            assert_trimmed(what, value.as_deref());
        }
        for tag in &item.tags {
            assert_trimmed("tag", Some(tag));
        }
    }
    let t = &order.totals;
    for money in [t.subtotal, t.shipping, t.tax, t.discount, t.total] {
        assert_eq!(money.currency, order.currency, "one currency per order");
    }
    if let Some(address) = &order.shipping_address {
        assert_trimmed("country", Some(&address.country));
        assert!(!address.country.bytes().any(|b| b.is_ascii_lowercase()), "countries are upper case");
        assert_trimmed("region", address.region.as_deref());
        assert_trimmed("postal_code", address.postal_code.as_deref());
    }
    if topic == OrderTopic::Cancelled {
        assert_eq!(order.status, ppx_shared::domain::order::OrderStatus::Cancelled, "orders/cancelled cancels");
    }
    // What the store writes is what it reads back.
    let stored = serde_json::to_string(order).expect("orders serialize");
    let back: Order = serde_json::from_str(&stored).expect("stored orders deserialize");
    assert_eq!(&back, order, "order JSON round trip");
}

/// What every parsed shipment guarantees.
pub fn check_shipment(shipment: &Shipment) {
    assert_trimmed("shipment id", Some(&shipment.id));
    assert_eq!(OrderId::parse(shipment.order_id.as_str()).as_ref(), Ok(&shipment.order_id));
    if let Some(number) = &shipment.tracking_number {
        assert_eq!(TrackingNumber::parse(number.as_str()).as_ref(), Ok(number), "tracking numbers are normalized");
    }
    assert_trimmed("carrier", shipment.carrier.as_deref());
    assert_trimmed("tracking_url", shipment.tracking_url.as_deref());
    for item in &shipment.items {
        assert_trimmed("shipment item title", Some(&item.title));
        assert_trimmed("line_item_id", item.line_item_id.as_deref());
    }
    let stored = serde_json::to_string(shipment).expect("shipments serialize");
    let back: Shipment = serde_json::from_str(&stored).expect("stored shipments deserialize");
    assert_eq!(&back, shipment, "shipment JSON round trip");
}

/// Order and shipment checks for a platform event, plus determinism.
pub fn check_event(event: &PlatformEvent) {
    match event {
        PlatformEvent::Order { topic, order } => check_order(order, *topic),
        PlatformEvent::Fulfillment { shipment } => check_shipment(shipment),
    }
}

/// What every carrier update guarantees.
pub fn check_update(update: &CarrierUpdate) {
    let number = &update.tracking_number;
    assert_eq!(TrackingNumber::parse(number.as_str()).as_ref(), Ok(number), "tracking numbers are normalized");
    assert_trimmed("carrier", update.carrier.as_deref());
    assert_trimmed("public_url", update.public_url.as_deref());
    assert_trimmed("provider_reference", update.provider_reference.as_deref());
    for event in &update.events {
        assert_trimmed("message", event.message.as_deref());
        assert_trimmed("location", event.location.as_deref());
    }
    let stored = serde_json::to_string(update).expect("updates serialize");
    let back: CarrierUpdate = serde_json::from_str(&stored).expect("stored updates deserialize");
    assert_eq!(&back, update, "update JSON round trip");
}

/// The top-level string at `key`, trimmed (`event`, `description`).
pub fn top_str(v: &Value, key: &str) -> String {
    v[key].as_str().map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// The length of the JSON array at `value` (0 for null or absent).
pub fn array_len(value: &Value) -> usize {
    value.as_array().map_or(0, Vec::len)
}
