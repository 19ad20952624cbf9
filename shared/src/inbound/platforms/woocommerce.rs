//! WooCommerce webhooks (`order.created`, `order.updated`): the body is the REST v3 order.
//!
//! Quirks handled here: `_gmt` dates are UTC without a `Z`, money is strings except
//! `line_items[].price` (a JSON number, and after discounts), unset addresses are empty
//! strings, and line item names carry HTML entities (`&ndash;`).

use super::{OrderTopic, PlatformEvent};
use crate::domain::ids::ShopId;
use crate::domain::money::{Currency, Money, MoneyError};
use crate::domain::order::{Customer, LineItem, Order, OrderStatus, PaymentStatus, Platform, ShippingAddress, Totals};
use crate::inbound::wire::{self, AtMost, DecimalString, FlexId, MAX_LINE_ITEMS};
use crate::inbound::{ParseError, non_empty, normalize_phone};
use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// Parses a WooCommerce webhook body for the topic in its `X-WC-Webhook-Topic` header.
pub fn parse(shop: &ShopId, topic: &str, body: &[u8]) -> Result<PlatformEvent, ParseError> {
    let topic = match topic.trim() {
        "order.created" => OrderTopic::Created,
        // A cancellation arrives as an update whose status is "cancelled".
        "order.updated" => OrderTopic::Updated,
        other => return Err(ParseError::UnsupportedTopic(other.to_owned())),
    };
    let raw: RawOrder = wire::from_body(body)?;
    Ok(PlatformEvent::Order { topic, order: Box::new(raw.into_order(shop)?) })
}

#[derive(Deserialize)]
struct RawOrder {
    id: FlexId,
    number: Option<FlexId>,
    status: Option<String>,
    currency: String,
    date_created_gmt: GmtTime,
    date_modified_gmt: Option<GmtTime>,
    discount_total: Option<DecimalString>,
    shipping_total: Option<DecimalString>,
    total_tax: Option<DecimalString>,
    total: DecimalString,
    billing: Option<RawAddress>,
    shipping: Option<RawAddress>,
    line_items: AtMost<RawLineItem, MAX_LINE_ITEMS>,
    shipping_lines: Option<Vec<RawShippingLine>>,
}

#[derive(Deserialize)]
struct RawAddress {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    country: Option<String>,
    state: Option<String>,
    postcode: Option<String>,
}

#[derive(Deserialize)]
struct RawLineItem {
    id: Option<FlexId>,
    name: Option<String>,
    product_id: Option<FlexId>,
    variation_id: Option<FlexId>,
    quantity: u32,
    subtotal: DecimalString,
    sku: Option<String>,
    /// A JSON number (`total / quantity`, so after discounts); only a fallback.
    price: Option<serde_json::Value>,
    meta_data: Option<Vec<RawMeta>>,
}

#[derive(Deserialize)]
struct RawMeta {
    key: Option<String>,
    value: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawShippingLine {
    method_title: Option<String>,
}

/// WooCommerce's `_gmt` timestamps: UTC without an offset (`2017-03-22T19:28:02`). A
/// timestamp with an offset is accepted too.
struct GmtTime(DateTime<Utc>);

impl<'de> Deserialize<'de> for GmtTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct GmtVisitor;
        impl Visitor<'_> for GmtVisitor {
            type Value = GmtTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a UTC date and time such as \"2017-03-22T19:28:02\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GmtTime, E> {
                let raw = v.trim();
                raw.parse::<NaiveDateTime>()
                    .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S"))
                    .map(|naive| naive.and_utc())
                    .or_else(|_| DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc)))
                    .map(GmtTime)
                    .map_err(|_| {
                        E::custom(format_args!("{raw:?} is not a date and time such as \"2017-03-22T19:28:02\""))
                    })
            }
        }
        deserializer.deserialize_str(GmtVisitor)
    }
}

impl RawOrder {
    fn into_order(self, shop: &ShopId) -> Result<Order, ParseError> {
        let currency = wire::currency("currency", &self.currency)?;
        let money = |path: &str, value: Option<&DecimalString>| match value {
            Some(v) => v.money(path, currency),
            None => Ok(Money::zero(currency)),
        };

        let mut items = Vec::with_capacity(self.line_items.len());
        let mut subtotal = Money::zero(currency);
        for (i, item) in self.line_items.into_iter().enumerate() {
            let line_subtotal = item.subtotal.money(&format!("line_items[{i}].subtotal"), currency)?;
            subtotal = subtotal
                .checked_add(line_subtotal)
                .map_err(|e| ParseError::field(format!("line_items[{i}].subtotal"), e))?;
            let unit_price = unit_price(line_subtotal, item.quantity, item.price.as_ref(), currency)
                .map_err(|e| ParseError::field(format!("line_items[{i}].price"), e))?;
            let title = non_empty(item.name.map(|n| decode_entities(&n)))
                .ok_or_else(|| ParseError::field(format!("line_items[{i}].name"), "missing line item name"))?;
            let is_variation = item.variation_id.and_then(woo_id).is_some();
            let variant = is_variation.then(|| variant_of(item.meta_data.unwrap_or_default())).flatten();
            items.push(LineItem {
                id: item.id.and_then(FlexId::into_option),
                product_id: item.product_id.and_then(woo_id),
                sku: non_empty(item.sku),
                title,
                variant,
                quantity: item.quantity,
                unit_price,
                product_type: None,
                tags: Vec::new(),
            });
        }

        let totals = Totals {
            subtotal,
            shipping: money("shipping_total", self.shipping_total.as_ref())?,
            tax: money("total_tax", self.total_tax.as_ref())?,
            discount: money("discount_total", self.discount_total.as_ref())?,
            total: self.total.money("total", currency)?,
        };

        let billing = self.billing.as_ref();
        let shipping_address = [self.shipping.as_ref(), billing].into_iter().flatten().find_map(|a| {
            let country = non_empty(a.country.clone())?.to_ascii_uppercase();
            Some(ShippingAddress {
                country,
                region: non_empty(a.state.clone()),
                postal_code: non_empty(a.postcode.clone()),
            })
        });
        let phone = [billing, self.shipping.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|a| a.phone.as_deref())
            .find_map(normalize_phone);

        let status = non_empty(self.status).unwrap_or_default();
        let id = wire::order_id("id", self.id)?;
        let number = match self.number.and_then(FlexId::into_option) {
            Some(n) if n.starts_with('#') => n,
            Some(n) => format!("#{n}"),
            None => format!("#{id}"),
        };
        let placed_at = self.date_created_gmt.0;

        Ok(Order {
            shop: shop.clone(),
            id,
            number,
            platform: Platform::Woocommerce,
            customer: Customer {
                first_name: non_empty(billing.and_then(|b| b.first_name.clone())),
                last_name: non_empty(billing.and_then(|b| b.last_name.clone())),
                email: non_empty(billing.and_then(|b| b.email.clone())),
                phone,
                // WooCommerce core records neither SMS nor marketing consent.
                sms_consent: false,
                marketing_consent: false,
                locale: None,
            },
            items,
            currency,
            totals,
            shipping_address,
            shipping_method: non_empty(
                self.shipping_lines.unwrap_or_default().into_iter().next().and_then(|l| l.method_title),
            ),
            placed_at,
            updated_at: self.date_modified_gmt.map_or(placed_at, |t| t.0),
            status: match status.as_str() {
                "cancelled" | "refunded" | "failed" => OrderStatus::Cancelled,
                _ => OrderStatus::Open,
            },
            payment: match status.as_str() {
                "processing" | "completed" => PaymentStatus::Paid,
                "pending" | "on-hold" => PaymentStatus::Pending,
                "refunded" => PaymentStatus::Refunded,
                _ => PaymentStatus::Unknown,
            },
            test: false,
            promised_delivery: None,
        })
    }
}

/// WooCommerce uses `0` for "no product" / "not a variation".
fn woo_id(id: FlexId) -> Option<String> {
    id.into_option().filter(|id| id != "0")
}

/// The unit price before discounts: the line subtotal divided by the quantity when that is
/// exact in minor units, else the `price` number's decimal text (rounded half away from
/// zero to minor units when it has more decimals, e.g. `3.3333333333333335`).
fn unit_price(
    subtotal: Money,
    quantity: u32,
    price: Option<&serde_json::Value>,
    currency: Currency,
) -> Result<Money, String> {
    let quantity = i64::from(quantity);
    if quantity > 0 && subtotal.minor % quantity == 0 {
        return Ok(Money { minor: subtotal.minor / quantity, currency });
    }
    let text = match price {
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        _ => {
            return Err("a number is needed: the subtotal does not divide by the quantity".to_owned());
        }
    };
    let rounded = || -> Result<Money, MoneyError> {
        let trimmed = text.trim();
        let decimal = Decimal::from_str_exact(trimmed)
            .or_else(|_| Decimal::from_scientific(trimmed))
            .map_err(|_| MoneyError::NotDecimal(trimmed.to_owned()))?;
        Money::from_decimal(
            decimal.round_dp_with_strategy(currency.exponent(), RoundingStrategy::MidpointAwayFromZero),
            currency,
        )
    };
    match Money::parse(&text, currency) {
        Err(MoneyError::TooPrecise { .. } | MoneyError::NotDecimal(_)) => rounded(),
        other => other,
    }
    .map_err(|e| e.to_string())
}

/// A variation's attributes, e.g. `black, M Test`: the visible (`_`-less) meta values.
fn variant_of(meta: Vec<RawMeta>) -> Option<String> {
    let values: Vec<String> = meta
        .into_iter()
        .filter(|m| !m.key.as_deref().unwrap_or_default().starts_with('_'))
        .filter_map(|m| match m.value? {
            serde_json::Value::String(s) => non_empty(Some(decode_entities(&s))),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// Decodes the HTML entities WordPress puts in product names (`&ndash;`, `&amp;`, `&#039;`,
/// numeric `&#8211;` / `&#x2013;`). Unknown entities are kept as they are; decoding is a
/// single pass, so `&amp;lt;` becomes `&lt;`.
fn decode_entities(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp + 1..];
        let decoded = tail.find(';').filter(|&end| end <= 10).and_then(|end| entity(&tail[..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| !c.is_control());
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "hellip" => '…',
        "times" => '×',
        "trade" => '™',
        "reg" => '®',
        "copy" => '©',
        "deg" => '°',
        "euro" => '€',
        "pound" => '£',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    const ORDER_CREATED: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/woocommerce-order-created-docs.json");
    const EVENT_ORDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/woocommerce-order-created.json");

    fn shop() -> ShopId {
        ShopId::parse("demo-shop").unwrap()
    }

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn fixture_value() -> serde_json::Value {
        serde_json::from_slice(&read(ORDER_CREATED)).unwrap()
    }

    fn parse_order(topic: &str, body: &[u8]) -> (OrderTopic, Order) {
        match parse(&shop(), topic, body).unwrap() {
            PlatformEvent::Order { topic, order } => (topic, *order),
            other => panic!("expected an order, got {other:?}"),
        }
    }

    fn usd(minor: i64) -> Money {
        Money { minor, currency: Currency::parse("USD").unwrap() }
    }

    fn field_error(body: &[u8]) -> (String, String) {
        match parse(&shop(), "order.created", body) {
            Err(ParseError::Field { field, problem }) => (field, problem),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn woocommerce_fixture_order_created() {
        let (topic, order) = parse_order("order.created", &read(ORDER_CREATED));
        assert_eq!(topic, OrderTopic::Created);
        assert_eq!(order.id.as_str(), "727");
        assert_eq!(order.number, "#727");
        assert_eq!(order.platform, Platform::Woocommerce);
        assert_eq!(order.currency.code(), "USD");
        assert_eq!(
            order.totals,
            Totals { subtotal: usd(1800), shipping: usd(1000), tax: usd(135), discount: usd(0), total: usd(2935) }
        );
        assert_eq!(order.items.len(), 2);
        let [first, second] = [&order.items[0], &order.items[1]];
        assert_eq!(first.title, "Woo Single #1");
        assert_eq!((first.unit_price, first.quantity), (usd(300), 2));
        assert_eq!(first.sku, None, "empty sku");
        assert_eq!(first.variant, None, "variation_id 0");
        assert_eq!(first.id.as_deref(), Some("315"));
        assert_eq!(first.product_id.as_deref(), Some("93"));
        assert_eq!(second.title, "Ship Your Idea – Color: Black, Size: M Test");
        assert_eq!((second.unit_price, second.quantity), (usd(1200), 1));
        assert_eq!(second.variant.as_deref(), Some("black, M Test"));
        assert_eq!(second.sku.as_deref(), Some("Bar3"));

        assert_eq!(order.customer.email.as_deref(), Some("john.doe@example.com"));
        assert_eq!(order.customer.first_name.as_deref(), Some("John"));
        assert_eq!(order.customer.last_name.as_deref(), Some("Doe"));
        assert_eq!(order.customer.phone, None, "(555) 555-5555 has no country code");
        assert!(!order.customer.sms_consent && !order.customer.marketing_consent);
        assert_eq!(order.customer.locale, None);
        assert_eq!(
            order.shipping_address,
            Some(ShippingAddress {
                country: "US".into(),
                region: Some("CA".into()),
                postal_code: Some("94103".into())
            })
        );
        assert_eq!(order.shipping_method.as_deref(), Some("Flat Rate"));
        assert_eq!(order.placed_at, Utc.with_ymd_and_hms(2017, 3, 22, 19, 28, 2).unwrap());
        assert_eq!(order.updated_at, Utc.with_ymd_and_hms(2017, 3, 22, 19, 28, 8).unwrap());
        assert_eq!(order.status, OrderStatus::Open);
        assert_eq!(order.payment, PaymentStatus::Paid);
        assert!(!order.test);
        assert_eq!(order.promised_delivery, None);
    }

    #[test]
    fn woocommerce_event_sample_parses() {
        let (topic, order) = parse_order("order.created", &read(EVENT_ORDER));
        assert_eq!(topic, OrderTopic::Created);
        assert_eq!(order.id.as_str(), "9001");
        assert_eq!(order.number, "#9001");
        assert_eq!(order.customer.email.as_deref(), Some("grace@example.com"));
        assert_eq!(order.customer.phone.as_deref(), Some("+12125550199"));
        assert_eq!(order.payment, PaymentStatus::Paid);
        assert_eq!(order.status, OrderStatus::Open);
        assert_eq!(order.items.len(), 2);
        assert_eq!(order.items[1].title, "Merino scarf – Color: Navy");
        assert_eq!(order.items[1].variant.as_deref(), Some("navy"));
        assert_eq!(order.totals.total, usd(8450));
        let line_sum = order.items.iter().try_fold(usd(0), |acc, i| acc.checked_add(i.line_total()?)).unwrap();
        assert_eq!(line_sum, order.totals.subtotal);
        assert_eq!(order.placed_at, Utc.with_ymd_and_hms(2026, 11, 23, 14, 30, 0).unwrap());
        assert_eq!(order.shipping_address.as_ref().map(|a| a.country.as_str()), Some("US"));
    }

    #[test]
    fn woocommerce_topics_and_statuses() {
        let body = read(ORDER_CREATED);
        assert_eq!(parse_order("order.updated", &body).0, OrderTopic::Updated);
        for topic in ["order.deleted", "order.restored", "product.created", "orders/create", ""] {
            assert_eq!(parse(&shop(), topic, &body), Err(ParseError::UnsupportedTopic(topic.into())), "{topic}");
        }
        for (status, expected_status, expected_payment) in [
            ("cancelled", OrderStatus::Cancelled, PaymentStatus::Unknown),
            ("refunded", OrderStatus::Cancelled, PaymentStatus::Refunded),
            ("failed", OrderStatus::Cancelled, PaymentStatus::Unknown),
            ("completed", OrderStatus::Open, PaymentStatus::Paid),
            ("pending", OrderStatus::Open, PaymentStatus::Pending),
            ("on-hold", OrderStatus::Open, PaymentStatus::Pending),
            ("checkout-draft", OrderStatus::Open, PaymentStatus::Unknown),
        ] {
            let mut v = fixture_value();
            v["status"] = status.into();
            let (topic, order) = parse_order("order.updated", v.to_string().as_bytes());
            assert_eq!(topic, OrderTopic::Updated, "a cancellation stays an update");
            assert_eq!((order.status, order.payment), (expected_status, expected_payment), "{status}");
        }
    }

    #[test]
    fn woocommerce_unit_price_fallbacks_stay_exact() {
        let mut v = fixture_value();
        // 10.00 / 3 does not divide: the price number is used, rounded to cents.
        v["line_items"][0]["quantity"] = 3.into();
        v["line_items"][0]["subtotal"] = "10.00".into();
        v["line_items"][0]["price"] = json!(3.3333333333333335);
        // 0.30 / 3 divides: 0.1 exactly, whatever float the price is.
        v["line_items"][1]["quantity"] = 3.into();
        v["line_items"][1]["subtotal"] = "0.30".into();
        v["line_items"][1]["price"] = json!(0.30000000000000004);
        let (_, order) = parse_order("order.created", v.to_string().as_bytes());
        assert_eq!(order.items[0].unit_price, usd(333));
        assert_eq!(order.items[1].unit_price, usd(10));
        assert_eq!(order.totals.subtotal, usd(1030));

        v["line_items"][0]["price"] = json!(19.99);
        let (_, order) = parse_order("order.created", v.to_string().as_bytes());
        assert_eq!(order.items[0].unit_price, usd(1999));
        v["line_items"][0]["price"] = json!("4.25");
        assert_eq!(parse_order("order.created", v.to_string().as_bytes()).1.items[0].unit_price, usd(425));
        v["line_items"][0]["price"] = json!(1e300);
        assert_eq!(field_error(v.to_string().as_bytes()).0, "line_items[0].price");
        v["line_items"][0].as_object_mut().unwrap().remove("price");
        assert_eq!(field_error(v.to_string().as_bytes()).0, "line_items[0].price");

        // Quantity 0 never divides by zero.
        let mut v = fixture_value();
        v["line_items"][0]["quantity"] = 0.into();
        assert_eq!(parse_order("order.created", v.to_string().as_bytes()).1.items[0].unit_price, usd(300));
    }

    #[test]
    fn woocommerce_addresses_fall_back_to_billing() {
        let mut v = fixture_value();
        for key in ["country", "state", "postcode"] {
            v["shipping"][key] = "".into();
        }
        v["billing"]["state"] = "".into();
        v["billing"]["phone"] = "+1 415 555 0100".into();
        v["number"] = json!(null);
        v["line_items"][0]["product_id"] = 0.into();
        let (_, order) = parse_order("order.created", v.to_string().as_bytes());
        assert_eq!(
            order.shipping_address,
            Some(ShippingAddress { country: "US".into(), region: None, postal_code: Some("94103".into()) })
        );
        assert_eq!(order.customer.phone.as_deref(), Some("+14155550100"));
        assert_eq!(order.number, "#727", "falls back to the id");
        assert_eq!(order.items[0].product_id, None, "product 0 is no product");
        v["billing"]["country"] = "".into();
        assert_eq!(parse_order("order.created", v.to_string().as_bytes()).1.shipping_address, None);
    }

    #[test]
    fn woocommerce_errors_name_the_field() {
        let mut v = fixture_value();
        v.as_object_mut().unwrap().remove("id");
        let (field, problem) = field_error(v.to_string().as_bytes());
        assert_eq!(field, "id");
        assert!(problem.contains("missing field `id`"), "{problem}");

        let mut v = fixture_value();
        v["total"] = "29,35".into();
        let (field, problem) = field_error(v.to_string().as_bytes());
        assert_eq!(field, "total");
        assert!(problem.contains("not a decimal"), "{problem}");

        let mut v = fixture_value();
        v["line_items"][1]["subtotal"] = 12.into();
        let (field, problem) = field_error(v.to_string().as_bytes());
        assert_eq!(field, "line_items[1].subtotal");
        assert!(problem.contains("decimal string"), "{problem}");

        let mut v = fixture_value();
        v["date_created_gmt"] = "22/03/2017".into();
        assert_eq!(field_error(v.to_string().as_bytes()).0, "date_created_gmt");

        let mut v = fixture_value();
        v["line_items"][0]["quantity"] = (-1).into();
        assert_eq!(field_error(v.to_string().as_bytes()).0, "line_items[0].quantity");

        for garbage in [&b"\x00\x01\x02"[..], b"", b"{\"id\": 727,", b"\"order\"", b"<html></html>"] {
            assert!(matches!(parse(&shop(), "order.created", garbage), Err(ParseError::Json(_))), "{garbage:?}");
        }
    }

    #[test]
    fn woocommerce_html_entities_decode_once() {
        assert_eq!(
            decode_entities("A &amp; B &ndash; C &mdash; &quot;D&quot; &#039;E&#039; &lt;F&gt;"),
            "A & B – C — \"D\" 'E' <F>"
        );
        assert_eq!(decode_entities("&#8211; &#x2013; &amp;lt; &bogus; & alone &"), "– – &lt; &bogus; & alone &");
        assert_eq!(decode_entities("&#0; &#xFFFFFFFF; &#; &ndash"), "&#0; &#xFFFFFFFF; &#; &ndash");
        assert_eq!(decode_entities("Café &hellip; 日本&trade;"), "Café … 日本™");
    }

    proptest::proptest! {
        #[test]
        fn woocommerce_never_panics_on_bytes(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse(&shop(), "order.created", &body);
        }

        #[test]
        fn woocommerce_never_panics_on_mutated_fixture(index in 0usize..100_000, byte in proptest::prelude::any::<u8>()) {
            let mut body = read(ORDER_CREATED);
            let at = index % body.len();
            body[at] = byte;
            let _ = parse(&shop(), "order.updated", &body);
        }

        #[test]
        fn woocommerce_entities_never_panic(text in "\\PC{0,40}") {
            let _ = decode_entities(&text);
            let _ = decode_entities(&format!("&{text};&#{text};"));
        }
    }
}
