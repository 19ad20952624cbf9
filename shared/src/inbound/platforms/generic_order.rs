//! ppx's own order format for custom platforms, documented in `docs/generic-order-format.md`.
//!
//! Strict on purpose: unknown fields are refused (a typo must not silently drop data) and
//! money must be a decimal string, never a JSON number.

use super::{OrderTopic, PlatformEvent};
use crate::domain::ids::{ShipmentId, ShopId, TrackingNumber};
use crate::domain::money::Money;
use crate::domain::order::{
    Customer, LineItem, Order, OrderStatus, PaymentStatus, Platform, Shipment, ShipmentItem, ShippingAddress, Totals,
};
use crate::inbound::wire::{self, AtMost, DecimalString, FlexId, MAX_LINE_ITEMS, Timestamp};
use crate::inbound::{ParseError, non_empty, normalize_phone};
use serde::Deserialize;

/// Parses a body sent to `POST /webhooks/orders/{shop}`.
pub fn parse(shop: &ShopId, body: &[u8]) -> Result<PlatformEvent, ParseError> {
    let envelope: Envelope = wire::from_body(body)?;
    let kind = match envelope.event.as_str() {
        "order.created" => Kind::Order(OrderTopic::Created),
        "order.updated" => Kind::Order(OrderTopic::Updated),
        "order.cancelled" => Kind::Order(OrderTopic::Cancelled),
        "shipment.created" | "shipment.updated" => Kind::Shipment,
        other => return Err(ParseError::UnsupportedTopic(other.to_owned())),
    };
    let event = &envelope.event;
    match (kind, envelope.order, envelope.shipment) {
        (Kind::Order(topic), Some(order), None) => {
            Ok(PlatformEvent::Order { topic, order: Box::new(order.into_order(shop, topic)?) })
        }
        (Kind::Shipment, None, Some(shipment)) => {
            Ok(PlatformEvent::Fulfillment { shipment: shipment.into_shipment()? })
        }
        (Kind::Order(_), None, _) => Err(ParseError::field("order", format!("required for {event:?} events"))),
        (Kind::Order(_), Some(_), Some(_)) => {
            Err(ParseError::field("shipment", format!("not allowed in {event:?} events; send a shipment event")))
        }
        (Kind::Shipment, _, None) => Err(ParseError::field("shipment", format!("required for {event:?} events"))),
        (Kind::Shipment, Some(_), Some(_)) => {
            Err(ParseError::field("order", format!("not allowed in {event:?} events; send an order event")))
        }
    }
}

enum Kind {
    Order(OrderTopic),
    Shipment,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    event: String,
    order: Option<RawOrder>,
    shipment: Option<RawShipment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrder {
    id: FlexId,
    number: Option<String>,
    placed_at: Timestamp,
    updated_at: Timestamp,
    currency: String,
    status: Option<RawStatus>,
    payment_status: Option<RawPayment>,
    customer: RawCustomer,
    items: AtMost<RawItem, MAX_LINE_ITEMS>,
    totals: RawTotals,
    shipping_address: Option<RawAddress>,
    shipping_method: Option<String>,
    test: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawStatus {
    Open,
    Cancelled,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawPayment {
    Pending,
    Paid,
    PartiallyRefunded,
    Refunded,
    Voided,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustomer {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    sms_consent: Option<bool>,
    marketing_consent: Option<bool>,
    locale: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: Option<FlexId>,
    product_id: Option<FlexId>,
    sku: Option<String>,
    title: String,
    variant: Option<String>,
    quantity: u32,
    unit_price: DecimalString,
    product_type: Option<String>,
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTotals {
    subtotal: DecimalString,
    shipping: Option<DecimalString>,
    tax: Option<DecimalString>,
    discount: Option<DecimalString>,
    total: DecimalString,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAddress {
    country: String,
    region: Option<String>,
    postal_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShipment {
    id: FlexId,
    order_id: FlexId,
    tracking_number: Option<String>,
    carrier: Option<String>,
    tracking_url: Option<String>,
    items: Option<AtMost<RawShipmentItem, MAX_LINE_ITEMS>>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShipmentItem {
    line_item_id: Option<FlexId>,
    title: String,
    quantity: u32,
}

fn positive(path: String, quantity: u32) -> Result<u32, ParseError> {
    if quantity >= 1 { Ok(quantity) } else { Err(ParseError::field(path, "quantity must be at least 1")) }
}

fn title(path: String, title: String) -> Result<String, ParseError> {
    non_empty(Some(title)).ok_or_else(|| ParseError::field(path, "title must not be empty"))
}

impl RawOrder {
    fn into_order(self, shop: &ShopId, topic: OrderTopic) -> Result<Order, ParseError> {
        let currency = wire::currency("order.currency", &self.currency)?;
        let money = |path: &str, value: Option<&DecimalString>| match value {
            Some(v) => v.money(path, currency),
            None => Ok(Money::zero(currency)),
        };
        if self.items.is_empty() {
            return Err(ParseError::field("order.items", "an order needs at least one item"));
        }
        let mut items = Vec::with_capacity(self.items.len());
        for (i, item) in self.items.into_iter().enumerate() {
            let path = |field: &str| format!("order.items[{i}].{field}");
            items.push(LineItem {
                id: item.id.and_then(FlexId::into_option),
                product_id: item.product_id.and_then(FlexId::into_option),
                sku: non_empty(item.sku),
                title: title(path("title"), item.title)?,
                variant: non_empty(item.variant),
                quantity: positive(path("quantity"), item.quantity)?,
                unit_price: item.unit_price.money(&path("unit_price"), currency)?,
                product_type: non_empty(item.product_type),
                tags: item.tags.unwrap_or_default().into_iter().filter_map(|t| non_empty(Some(t))).collect(),
            });
        }
        let t = self.totals;
        let totals = Totals {
            subtotal: t.subtotal.money("order.totals.subtotal", currency)?,
            shipping: money("order.totals.shipping", t.shipping.as_ref())?,
            tax: money("order.totals.tax", t.tax.as_ref())?,
            discount: money("order.totals.discount", t.discount.as_ref())?,
            total: t.total.money("order.totals.total", currency)?,
        };
        let shipping_address = self.shipping_address.and_then(|a| {
            Some(ShippingAddress {
                country: non_empty(Some(a.country))?.to_ascii_uppercase(),
                region: non_empty(a.region),
                postal_code: non_empty(a.postal_code),
            })
        });
        let c = self.customer;
        let id = wire::order_id("order.id", self.id)?;
        let cancelled = matches!(self.status, Some(RawStatus::Cancelled)) || topic == OrderTopic::Cancelled;
        Ok(Order {
            shop: shop.clone(),
            number: non_empty(self.number).unwrap_or_else(|| id.to_string()),
            id,
            platform: Platform::Generic,
            customer: Customer {
                first_name: non_empty(c.first_name),
                last_name: non_empty(c.last_name),
                email: non_empty(c.email),
                // As on every platform, a number without a country code is dropped, not fatal.
                phone: c.phone.as_deref().and_then(normalize_phone),
                sms_consent: c.sms_consent.unwrap_or(false),
                marketing_consent: c.marketing_consent.unwrap_or(false),
                locale: non_empty(c.locale),
            },
            items,
            currency,
            totals,
            shipping_address,
            shipping_method: non_empty(self.shipping_method),
            placed_at: self.placed_at.0,
            updated_at: self.updated_at.0,
            status: if cancelled { OrderStatus::Cancelled } else { OrderStatus::Open },
            payment: match self.payment_status.unwrap_or(RawPayment::Paid) {
                RawPayment::Pending => PaymentStatus::Pending,
                RawPayment::Paid => PaymentStatus::Paid,
                RawPayment::PartiallyRefunded => PaymentStatus::PartiallyRefunded,
                RawPayment::Refunded => PaymentStatus::Refunded,
                RawPayment::Voided => PaymentStatus::Voided,
            },
            test: self.test.unwrap_or(false),
            promised_delivery: None,
        })
    }
}

impl RawShipment {
    fn into_shipment(self) -> Result<Shipment, ParseError> {
        let id = self.id.into_option().ok_or_else(|| ParseError::field("shipment.id", "must not be empty"))?;
        let id = ShipmentId::parse(&id).map_err(|e| ParseError::field("shipment.id", e))?;
        let order_id = wire::order_id("shipment.order_id", self.order_id)?;
        let tracking_number = match non_empty(self.tracking_number) {
            Some(raw) => {
                Some(TrackingNumber::parse(&raw).map_err(|e| ParseError::field("shipment.tracking_number", e))?)
            }
            None => None,
        };
        let mut items = Vec::new();
        for (i, item) in self.items.unwrap_or_default().into_iter().enumerate() {
            let path = |field: &str| format!("shipment.items[{i}].{field}");
            items.push(ShipmentItem {
                line_item_id: item.line_item_id.and_then(FlexId::into_option),
                title: title(path("title"), item.title)?,
                quantity: positive(path("quantity"), item.quantity)?,
            });
        }
        Ok(Shipment {
            id,
            order_id,
            tracking_number,
            carrier: non_empty(self.carrier),
            tracking_url: non_empty(self.tracking_url),
            items,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;
    use chrono::{TimeZone, Utc};
    use serde_json::{Value, json};

    const EVENT_ORDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/generic-order-created.json");
    const EVENT_SHIPMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/generic-shipment-created.json");

    fn shop() -> ShopId {
        ShopId::parse("demo-shop").unwrap()
    }

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn sample(path: &str) -> Value {
        serde_json::from_slice(&read(path)).unwrap()
    }

    fn eur(minor: i64) -> Money {
        Money { minor, currency: Currency::parse("EUR").unwrap() }
    }

    fn parse_order(body: &Value) -> (OrderTopic, Order) {
        match parse(&shop(), body.to_string().as_bytes()).unwrap() {
            PlatformEvent::Order { topic, order } => (topic, *order),
            other => panic!("expected an order, got {other:?}"),
        }
    }

    fn parse_shipment(body: &Value) -> Shipment {
        match parse(&shop(), body.to_string().as_bytes()).unwrap() {
            PlatformEvent::Fulfillment { shipment } => shipment,
            other => panic!("expected a shipment, got {other:?}"),
        }
    }

    fn field_error(body: &Value) -> (String, String) {
        match parse(&shop(), body.to_string().as_bytes()) {
            Err(ParseError::Field { field, problem }) => (field, problem),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn generic_event_samples_parse() {
        let (topic, order) = match parse(&shop(), &read(EVENT_ORDER)).unwrap() {
            PlatformEvent::Order { topic, order } => (topic, *order),
            other => panic!("{other:?}"),
        };
        assert_eq!(topic, OrderTopic::Created);
        assert_eq!(order.id.as_str(), "G-1001");
        assert_eq!(order.number, "G-1001");
        assert_eq!(order.platform, Platform::Generic);
        assert_eq!(order.shop, shop());
        assert_eq!(order.currency.code(), "EUR");
        assert_eq!(
            order.customer,
            Customer {
                first_name: Some("Alan".into()),
                last_name: Some("Turing".into()),
                email: Some("alan@example.com".into()),
                phone: Some("+447700900123".into()),
                sms_consent: true,
                marketing_consent: false,
                locale: Some("en-GB".into()),
            }
        );
        assert_eq!(order.items.len(), 2);
        assert_eq!(order.items[0].title, "Enigma puzzle box");
        assert_eq!(order.items[0].unit_price, eur(3490));
        assert_eq!(order.items[0].tags, ["gift"]);
        assert_eq!((order.items[1].unit_price, order.items[1].quantity), (eur(850), 2));
        assert_eq!(
            order.totals,
            Totals { subtotal: eur(5190), shipping: eur(490), tax: eur(0), discount: eur(0), total: eur(5680) }
        );
        let line_sum = order.items.iter().try_fold(eur(0), |acc, i| acc.checked_add(i.line_total()?)).unwrap();
        assert_eq!(line_sum, order.totals.subtotal);
        assert_eq!(
            order.shipping_address,
            Some(ShippingAddress {
                country: "GB".into(),
                region: Some("ENG".into()),
                postal_code: Some("MK3 6EB".into())
            })
        );
        assert_eq!(order.shipping_method.as_deref(), Some("Standard"));
        assert_eq!(order.placed_at, Utc.with_ymd_and_hms(2026, 11, 23, 15, 20, 0).unwrap());
        assert_eq!((order.status, order.payment, order.test), (OrderStatus::Open, PaymentStatus::Paid, false));

        let shipment = match parse(&shop(), &read(EVENT_SHIPMENT)).unwrap() {
            PlatformEvent::Fulfillment { shipment } => shipment,
            other => panic!("{other:?}"),
        };
        assert_eq!(shipment.id.as_str(), "S-1001-1");
        assert_eq!(shipment.order_id, order.id);
        assert_eq!(shipment.tracking_number.as_ref().map(TrackingNumber::as_str), Some("JD014600006281230704"));
        assert_eq!(shipment.carrier.as_deref(), Some("DHL"));
        assert!(shipment.tracking_url.as_deref().is_some_and(|u| u.contains("JD014600006281230704")));
        let shipped: Vec<_> = shipment.items.iter().map(|i| (i.line_item_id.clone(), i.quantity)).collect();
        let ordered: Vec<_> = order.items.iter().map(|i| (i.id.clone(), i.quantity)).collect();
        assert_eq!(shipped, ordered);
        assert_eq!(shipment.created_at, Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap());
    }

    #[test]
    fn generic_events_and_defaults() {
        let minimal = json!({
            "event": "order.updated",
            "order": {
                "id": 1001,
                "placed_at": "2026-11-23T10:15:00-05:00",
                "updated_at": "2026-11-23T10:20:00-05:00",
                "currency": "eur",
                "customer": {"email": "alan@example.com", "phone": "07700 900123"},
                "items": [{"title": "Tea", "quantity": 1, "unit_price": "4"}],
                "totals": {"subtotal": "4", "total": "4.00"}
            }
        });
        let (topic, order) = parse_order(&minimal);
        assert_eq!(topic, OrderTopic::Updated);
        assert_eq!(order.id.as_str(), "1001", "numeric ids are accepted");
        assert_eq!(order.number, "1001", "number defaults to the id");
        assert_eq!((order.status, order.payment, order.test), (OrderStatus::Open, PaymentStatus::Paid, false));
        assert_eq!(order.customer.phone, None, "no country code");
        assert!(!order.customer.sms_consent && !order.customer.marketing_consent);
        assert_eq!(order.totals.shipping, eur(0));
        assert_eq!(order.totals.tax, eur(0));
        assert_eq!(order.totals.discount, eur(0));
        assert_eq!(order.totals.total, eur(400));
        assert_eq!(order.items[0].sku, None);
        assert!(order.items[0].tags.is_empty());
        assert_eq!(order.shipping_address, None);
        assert_eq!(order.updated_at, Utc.with_ymd_and_hms(2026, 11, 23, 15, 20, 0).unwrap());

        let mut cancelled = minimal.clone();
        cancelled["event"] = "order.cancelled".into();
        let (topic, order) = parse_order(&cancelled);
        assert_eq!((topic, order.status), (OrderTopic::Cancelled, OrderStatus::Cancelled));
        let mut created = minimal.clone();
        created["event"] = "order.created".into();
        created["order"]["status"] = "cancelled".into();
        created["order"]["payment_status"] = "partially_refunded".into();
        created["order"]["test"] = true.into();
        let (topic, order) = parse_order(&created);
        assert_eq!(topic, OrderTopic::Created);
        assert_eq!(
            (order.status, order.payment, order.test),
            (OrderStatus::Cancelled, PaymentStatus::PartiallyRefunded, true)
        );

        let mut shipment = sample(EVENT_SHIPMENT);
        shipment["event"] = "shipment.updated".into();
        shipment["shipment"]["tracking_number"] = "jd 0146 0000 6281 2307 04".into();
        shipment["shipment"].as_object_mut().unwrap().remove("items");
        let shipment = parse_shipment(&shipment);
        assert_eq!(shipment.tracking_number.as_ref().map(TrackingNumber::as_str), Some("JD014600006281230704"));
        assert!(shipment.items.is_empty());
    }

    #[test]
    fn generic_errors_name_the_field() {
        let order = sample(EVENT_ORDER);

        let mut v = order.clone();
        v["order"]["items"][0]["unit_price"] = json!(34.90);
        let (field, problem) = field_error(&v);
        assert_eq!(field, "order.items[0].unit_price");
        assert!(problem.contains("money must be a decimal string"), "{problem}");

        let mut v = order.clone();
        v["order"]["totals"]["shipping"] = json!(5);
        let (field, problem) = field_error(&v);
        assert_eq!(field, "order.totals.shipping");
        assert!(problem.contains("money must be a decimal string"), "{problem}");

        let mut v = order.clone();
        v["order"]["items"][1]["title"] = json!(42);
        assert_eq!(field_error(&v).0, "order.items[1].title");

        let mut v = order.clone();
        v["order"]["totals"]["total"] = "56.80 EUR".into();
        let (field, problem) = field_error(&v);
        assert_eq!(field, "order.totals.total");
        assert!(problem.contains("not a decimal"), "{problem}");

        let mut v = order.clone();
        v["order"].as_object_mut().unwrap().remove("id");
        let (field, problem) = field_error(&v);
        assert_eq!(field, "order.id");
        assert!(problem.contains("missing field `id`"), "{problem}");

        let mut v = order.clone();
        v["order"]["customer"]["emial"] = "typo@example.com".into();
        let (field, problem) = field_error(&v);
        assert_eq!(field, "order.customer.emial");
        assert!(problem.contains("unknown field"), "{problem}");

        let mut v = order.clone();
        v["evnt"] = "order.created".into();
        assert_eq!(field_error(&v).0, "evnt");

        let mut v = order.clone();
        v.as_object_mut().unwrap().remove("event");
        assert_eq!(field_error(&v).0, "event");

        let mut v = order.clone();
        v["order"]["items"][0]["quantity"] = 0.into();
        assert_eq!(field_error(&v).0, "order.items[0].quantity");
        v["order"]["items"][0]["quantity"] = json!(1.5);
        assert_eq!(field_error(&v).0, "order.items[0].quantity");

        let mut v = order.clone();
        v["order"]["items"] = json!([]);
        assert_eq!(field_error(&v).0, "order.items");

        let mut v = order.clone();
        v["order"]["placed_at"] = "2026-11-23 15:20".into();
        assert_eq!(field_error(&v).0, "order.placed_at");

        let mut v = order.clone();
        v["order"]["status"] = "shipped".into();
        assert_eq!(field_error(&v).0, "order.status");

        let mut v = order.clone();
        v["order"]["items"][0]["unit_price"] = "1.001".into();
        assert_eq!(field_error(&v).0, "order.items[0].unit_price", "EUR has two decimals");

        let mut v = order.clone();
        v["event"] = "shipment.created".into();
        assert_eq!(field_error(&v).0, "shipment");
        let mut v = order.clone();
        v["shipment"] = sample(EVENT_SHIPMENT)["shipment"].clone();
        assert_eq!(field_error(&v).0, "shipment");

        let mut v = sample(EVENT_SHIPMENT);
        v["shipment"]["tracking_number"] = "??".into();
        assert_eq!(field_error(&v).0, "shipment.tracking_number");
        let mut v = sample(EVENT_SHIPMENT);
        v["shipment"]["order_id"] = "#G-1001".into();
        assert_eq!(field_error(&v).0, "shipment.order_id");

        let mut v = order.clone();
        v["event"] = "order.deleted".into();
        assert_eq!(parse(&shop(), v.to_string().as_bytes()), Err(ParseError::UnsupportedTopic("order.deleted".into())));

        for garbage in [&b"\xc3\x28"[..], b"", b"{\"event\": \"order.created\"", b"[]", b"42", b"{} {}"] {
            assert!(matches!(parse(&shop(), garbage), Err(ParseError::Json(_))), "{garbage:?}");
        }
    }

    const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/generic-order-format.md");

    /// The ```json blocks of the format's documentation.
    fn doc_examples() -> Vec<String> {
        let doc = String::from_utf8(read(DOC)).unwrap();
        doc.split("```json\n").skip(1).map(|block| block.split("\n```").next().unwrap().to_owned()).collect()
    }

    #[test]
    fn generic_doc_examples_parse() {
        let examples = doc_examples();
        assert!(examples.len() >= 6, "{} examples", examples.len());
        let mut events = std::collections::BTreeSet::new();
        for example in &examples {
            let value: Value = serde_json::from_str(example).unwrap();
            events.insert(value["event"].as_str().unwrap().to_owned());
            assert!(parse(&shop(), example.as_bytes()).is_ok(), "{example}: {:?}", parse(&shop(), example.as_bytes()));
        }
        let expected = ["order.cancelled", "order.created", "order.updated", "shipment.created", "shipment.updated"];
        assert!(events.iter().eq(expected.iter()), "{events:?}");
        // The documented demo files are the ones in events/.
        let files = [sample(EVENT_ORDER), sample(EVENT_SHIPMENT)];
        for file in files {
            let documented = examples.iter().any(|e| serde_json::from_str::<Value>(e).unwrap() == file);
            assert!(documented, "events/ sample is not in the doc: {file}");
        }
    }

    #[test]
    fn generic_doc_signature_example_verifies() {
        let doc = String::from_utf8(read(DOC)).unwrap();
        let header = doc.lines().find_map(|l| l.strip_prefix("Ppx-Signature: t=1795515000")).unwrap();
        let header = format!("t=1795515000{header}");
        let body = doc_examples().into_iter().find(|e| !e.contains('\n')).expect("a one-line example");
        let now = Utc.timestamp_opt(1_795_515_000, 0).unwrap();
        crate::http::signature::verify_timestamped("ppx_demo_orders_secret", body.as_bytes(), Some(&header), now)
            .unwrap();
        assert_eq!(now, Utc.with_ymd_and_hms(2026, 11, 24, 10, 10, 0).unwrap(), "the doc states this time");
        assert!(parse(&shop(), body.as_bytes()).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn generic_never_panics_on_bytes(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse(&shop(), &body);
        }

        #[test]
        fn generic_never_panics_on_mutated_samples(
            index in 0usize..100_000,
            byte in proptest::prelude::any::<u8>(),
            shipment in proptest::prelude::any::<bool>(),
        ) {
            let mut body = read(if shipment { EVENT_SHIPMENT } else { EVENT_ORDER });
            let at = index % body.len();
            body[at] = byte;
            let _ = parse(&shop(), &body);
        }
    }
}
