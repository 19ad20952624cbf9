//! Shopify webhooks (`orders/*`, `fulfillments/*`), REST Admin API shape; the compliance topics
//! are read by [`super::shopify_privacy`].
//!
//! Quirks handled here: ids beyond 2^53 (kept as strings, never f64), money as decimal
//! strings, timestamps with the shop's UTC offset, the order's `email` winning over
//! `customer.email`, and lower-case tracking numbers.

use super::{OrderTopic, PlatformEvent};
use crate::domain::ids::{ShipmentId, ShopId, TrackingNumber};
use crate::domain::money::Money;
use crate::domain::order::{
    Customer, LineItem, Order, OrderStatus, PaymentStatus, Platform, Shipment, ShipmentItem, ShippingAddress, Totals,
};
use crate::inbound::wire::{self, AtMost, DecimalString, FlexId, MAX_LINE_ITEMS, Timestamp};
use crate::inbound::{ParseError, non_empty, normalize_phone};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// Parses a Shopify webhook body for the topic in its `X-Shopify-Topic` header.
pub fn parse(shop: &ShopId, topic: &str, body: &[u8]) -> Result<PlatformEvent, ParseError> {
    if let Some(request) = super::shopify_privacy::parse(topic, body)? {
        return Ok(PlatformEvent::Privacy(request));
    }
    let topic = match topic.trim() {
        "orders/create" => Some(OrderTopic::Created),
        "orders/updated" => Some(OrderTopic::Updated),
        "orders/cancelled" => Some(OrderTopic::Cancelled),
        "fulfillments/create" | "fulfillments/update" => None,
        other => return Err(ParseError::UnsupportedTopic(other.to_owned())),
    };
    match topic {
        Some(topic) => {
            let raw: RawOrder = wire::from_body(body)?;
            let order = raw.into_order(shop, topic)?;
            Ok(PlatformEvent::Order { topic, order: Box::new(order) })
        }
        None => {
            let raw: RawFulfillment = wire::from_body(body)?;
            Ok(PlatformEvent::Fulfillment { shipment: raw.into_shipment()? })
        }
    }
}

#[derive(Deserialize)]
struct RawOrder {
    id: FlexId,
    name: Option<String>,
    order_number: Option<FlexId>,
    email: Option<String>,
    contact_email: Option<String>,
    phone: Option<String>,
    buyer_accepts_marketing: Option<bool>,
    sms_marketing_consent: Option<RawConsent>,
    customer: Option<RawCustomer>,
    customer_locale: Option<String>,
    currency: String,
    total_price: DecimalString,
    subtotal_price: Option<DecimalString>,
    total_tax: Option<DecimalString>,
    total_discounts: Option<DecimalString>,
    total_shipping_price_set: Option<RawPriceSet>,
    shipping_lines: Option<Vec<RawShippingLine>>,
    line_items: AtMost<RawLineItem, MAX_LINE_ITEMS>,
    shipping_address: Option<RawAddress>,
    billing_address: Option<RawAddress>,
    created_at: Timestamp,
    updated_at: Option<Timestamp>,
    cancelled_at: Option<IgnoredAny>,
    financial_status: Option<String>,
    test: Option<bool>,
}

#[derive(Deserialize)]
struct RawConsent {
    state: Option<String>,
}

impl RawConsent {
    fn subscribed(consent: Option<&RawConsent>) -> bool {
        consent.and_then(|c| c.state.as_deref()).is_some_and(|s| s.trim().eq_ignore_ascii_case("subscribed"))
    }
}

#[derive(Deserialize)]
struct RawCustomer {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    sms_marketing_consent: Option<RawConsent>,
    email_marketing_consent: Option<RawConsent>,
}

#[derive(Deserialize)]
struct RawAddress {
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    country_code: Option<String>,
    province_code: Option<String>,
    zip: Option<String>,
}

#[derive(Deserialize)]
struct RawPriceSet {
    shop_money: Option<RawAmount>,
}

#[derive(Deserialize)]
struct RawAmount {
    amount: DecimalString,
}

#[derive(Deserialize)]
struct RawShippingLine {
    title: Option<String>,
    price: Option<DecimalString>,
}

#[derive(Deserialize)]
struct RawLineItem {
    id: Option<FlexId>,
    product_id: Option<FlexId>,
    sku: Option<String>,
    title: Option<String>,
    name: Option<String>,
    variant_title: Option<String>,
    quantity: u32,
    price: DecimalString,
    product_type: Option<String>,
    tags: Option<wire::Tags>,
}

impl RawOrder {
    fn into_order(self, shop: &ShopId, topic: OrderTopic) -> Result<Order, ParseError> {
        let currency = wire::currency("currency", &self.currency)?;
        let money = |path: &str, value: Option<&DecimalString>| match value {
            Some(v) => v.money(path, currency),
            None => Ok(Money::zero(currency)),
        };

        let mut items = Vec::with_capacity(self.line_items.len());
        for (i, item) in self.line_items.into_iter().enumerate() {
            let title = non_empty(item.title)
                .or_else(|| non_empty(item.name))
                .ok_or_else(|| ParseError::field(format!("line_items[{i}].title"), "missing line item title"))?;
            items.push(LineItem {
                id: item.id.and_then(FlexId::into_option),
                product_id: item.product_id.and_then(FlexId::into_option),
                sku: non_empty(item.sku),
                title,
                variant: non_empty(item.variant_title),
                quantity: item.quantity,
                unit_price: item.price.money(&format!("line_items[{i}].price"), currency)?,
                product_type: non_empty(item.product_type),
                tags: item.tags.map(wire::Tags::into_vec).unwrap_or_default(),
            });
        }

        let shipping_lines = self.shipping_lines.unwrap_or_default();
        let shipping = match self.total_shipping_price_set.and_then(|set| set.shop_money) {
            Some(amount) => amount.amount.money("total_shipping_price_set.shop_money.amount", currency)?,
            None => {
                let mut sum = Money::zero(currency);
                for (i, line) in shipping_lines.iter().enumerate() {
                    let path = format!("shipping_lines[{i}].price");
                    let price = money(&path, line.price.as_ref())?;
                    sum = sum.checked_add(price).map_err(|e| ParseError::field(path, e))?;
                }
                sum
            }
        };
        let subtotal = match &self.subtotal_price {
            Some(value) => value.money("subtotal_price", currency)?,
            None => wire::sum_lines(&items, currency, "subtotal_price")?,
        };
        let totals = Totals {
            subtotal,
            shipping,
            tax: money("total_tax", self.total_tax.as_ref())?,
            discount: money("total_discounts", self.total_discounts.as_ref())?,
            total: self.total_price.money("total_price", currency)?,
        };

        let customer = self.customer.as_ref();
        let billing = self.billing_address.as_ref();
        let email = non_empty(self.email)
            .or_else(|| non_empty(self.contact_email))
            .or_else(|| non_empty(customer.and_then(|c| c.email.clone())));
        let phone = [
            self.phone.as_deref(),
            customer.and_then(|c| c.phone.as_deref()),
            self.shipping_address.as_ref().and_then(|a| a.phone.as_deref()),
        ]
        .into_iter()
        .flatten()
        .find_map(normalize_phone);
        let sms_consent = RawConsent::subscribed(customer.and_then(|c| c.sms_marketing_consent.as_ref()))
            || RawConsent::subscribed(self.sms_marketing_consent.as_ref());
        let marketing_consent = self.buyer_accepts_marketing.unwrap_or(false)
            || RawConsent::subscribed(customer.and_then(|c| c.email_marketing_consent.as_ref()));
        // Guest checkouts may come without a customer: the billing name is the buyer's.
        let first_name = non_empty(customer.and_then(|c| c.first_name.clone()))
            .or_else(|| non_empty(billing.and_then(|b| b.first_name.clone())));
        let last_name = non_empty(customer.and_then(|c| c.last_name.clone()))
            .or_else(|| non_empty(billing.and_then(|b| b.last_name.clone())));

        let shipping_address = self.shipping_address.and_then(|a| {
            let country = non_empty(a.country_code)?.to_ascii_uppercase();
            Some(ShippingAddress { country, region: non_empty(a.province_code), postal_code: non_empty(a.zip) })
        });

        let id = wire::order_id("id", self.id)?;
        let number = non_empty(self.name)
            .or_else(|| self.order_number.and_then(FlexId::into_option).map(|n| format!("#{n}")))
            .unwrap_or_else(|| format!("#{id}"));
        let placed_at = self.created_at.0;
        let cancelled = self.cancelled_at.is_some() || topic == OrderTopic::Cancelled;

        Ok(Order {
            shop: shop.clone(),
            id,
            number,
            platform: Platform::Shopify,
            customer: Customer {
                first_name,
                last_name,
                email,
                phone,
                sms_consent,
                marketing_consent,
                locale: non_empty(self.customer_locale),
            },
            items,
            currency,
            totals,
            shipping_address,
            shipping_method: non_empty(shipping_lines.into_iter().next().and_then(|l| l.title)),
            placed_at,
            updated_at: self.updated_at.map_or(placed_at, |t| t.0),
            status: if cancelled { OrderStatus::Cancelled } else { OrderStatus::Open },
            payment: payment_status(self.financial_status.as_deref()),
            test: self.test.unwrap_or(false),
            promised_delivery: None,
        })
    }
}

fn payment_status(financial_status: Option<&str>) -> PaymentStatus {
    match financial_status.map(str::trim).unwrap_or_default() {
        "pending" | "authorized" | "partially_paid" => PaymentStatus::Pending,
        "paid" => PaymentStatus::Paid,
        "partially_refunded" => PaymentStatus::PartiallyRefunded,
        "refunded" => PaymentStatus::Refunded,
        "voided" => PaymentStatus::Voided,
        _ => PaymentStatus::Unknown,
    }
}

#[derive(Deserialize)]
struct RawFulfillment {
    id: FlexId,
    order_id: FlexId,
    tracking_company: Option<String>,
    tracking_number: Option<String>,
    tracking_numbers: Option<Vec<Option<String>>>,
    tracking_url: Option<String>,
    tracking_urls: Option<Vec<Option<String>>>,
    line_items: Option<AtMost<RawFulfillmentLine, MAX_LINE_ITEMS>>,
    created_at: Timestamp,
    updated_at: Option<Timestamp>,
}

#[derive(Deserialize)]
struct RawFulfillmentLine {
    id: Option<FlexId>,
    title: Option<String>,
    name: Option<String>,
    quantity: u32,
}

impl RawFulfillment {
    fn into_shipment(self) -> Result<Shipment, ParseError> {
        let id = self.id.into_option().ok_or_else(|| ParseError::field("id", "fulfillment id is empty"))?;
        let id = ShipmentId::parse(&id).map_err(|e| ParseError::field("id", e))?;
        let order_id = wire::order_id("order_id", self.order_id)?;
        let tracking_number = self
            .tracking_numbers
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .chain(self.tracking_number)
            .find_map(|raw| TrackingNumber::parse(&raw).ok());
        let tracking_url =
            self.tracking_urls.unwrap_or_default().into_iter().chain([self.tracking_url]).find_map(non_empty);
        let mut items = Vec::new();
        for (i, line) in self.line_items.unwrap_or_default().into_iter().enumerate() {
            let title = non_empty(line.title)
                .or_else(|| non_empty(line.name))
                .ok_or_else(|| ParseError::field(format!("line_items[{i}].title"), "missing line item title"))?;
            items.push(ShipmentItem {
                line_item_id: line.id.and_then(FlexId::into_option),
                title,
                quantity: line.quantity,
            });
        }
        let created_at = self.created_at.0;
        Ok(Shipment {
            id,
            order_id,
            tracking_number,
            carrier: non_empty(self.tracking_company),
            tracking_url,
            items,
            created_at,
            updated_at: self.updated_at.map_or(created_at, |t| t.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;
    use chrono::{TimeZone, Utc};

    const ORDERS_CREATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/shopify-orders-create.json");
    const FULFILLMENTS_CREATE: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/shopify-fulfillments-create.json");
    const EVENT_ORDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/shopify-orders-create.json");
    const EVENT_FULFILLMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/shopify-fulfillments-create.json");

    fn shop() -> ShopId {
        ShopId::parse("jsmith.myshopify.com").unwrap()
    }

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn parse_order(topic: &str, body: &[u8]) -> (OrderTopic, Order) {
        match parse(&shop(), topic, body).unwrap() {
            PlatformEvent::Order { topic, order } => (topic, *order),
            other => panic!("expected an order, got {other:?}"),
        }
    }

    fn parse_shipment(body: &[u8]) -> Shipment {
        match parse(&shop(), "fulfillments/create", body).unwrap() {
            PlatformEvent::Fulfillment { shipment } => shipment,
            other => panic!("expected a fulfillment, got {other:?}"),
        }
    }

    fn usd(minor: i64) -> Money {
        Money { minor, currency: Currency::parse("USD").unwrap() }
    }

    #[test]
    fn an_order_of_more_line_items_than_any_real_one_is_refused_naming_them() {
        let mut order = fixture_value();
        let line = order["line_items"][0].clone();
        order["line_items"] = serde_json::Value::Array(vec![line.clone(); wire::MAX_LINE_ITEMS]);
        assert!(parse(&shop(), "orders/create", order.to_string().as_bytes()).is_ok());
        order["line_items"] = serde_json::Value::Array(vec![line; wire::MAX_LINE_ITEMS + 1]);
        let err = parse(&shop(), "orders/create", order.to_string().as_bytes()).unwrap_err();
        assert!(
            matches!(&err, ParseError::Field { field, problem } if field == "line_items" && problem.contains("at most 500")),
            "{err:?}"
        );
    }

    /// The fixture as a JSON value, to derive variants from.
    fn fixture_value() -> serde_json::Value {
        serde_json::from_slice(&read(ORDERS_CREATE)).unwrap()
    }

    #[test]
    fn shopify_fixture_orders_create() {
        let (topic, order) = parse_order("orders/create", &read(ORDERS_CREATE));
        assert_eq!(topic, OrderTopic::Created);
        assert_eq!(order.id.as_str(), "820982911946154508");
        assert_eq!(order.number, "#9999");
        assert_eq!(order.platform, Platform::Shopify);
        assert_eq!(order.shop, shop());
        assert_eq!(order.currency.code(), "USD");
        assert_eq!(
            order.totals,
            Totals { subtotal: usd(40495), shipping: usd(1000), tax: usd(0), discount: usd(2000), total: usd(40495) }
        );
        let items: Vec<(&str, i64, u32)> =
            order.items.iter().map(|i| (i.title.as_str(), i.unit_price.minor, i.quantity)).collect();
        assert_eq!(
            items,
            [
                ("Aviator sunglasses", 8999, 1),
                ("Lens Protection Plan (2 Year)", 1999, 1),
                ("Premium Leather Case", 2499, 1),
                ("Mid-century lounger", 15999, 1),
                ("Coffee table", 11999, 1),
            ]
        );
        let first = &order.items[0];
        assert_eq!(first.id.as_deref(), Some("487817672276298554"));
        assert_eq!(first.product_id.as_deref(), Some("788032119674292922"));
        assert_eq!(first.sku.as_deref(), Some("SKU2006-001"));
        assert_eq!(first.variant, None);
        assert_eq!(first.product_type, None);
        assert!(first.tags.is_empty(), "order tags are not item tags");
        assert_eq!(order.items[1].product_id, None, "null product ids stay None");

        // The order's email wins over customer.email (john@example.com).
        assert_eq!(order.customer.email.as_deref(), Some("jon@example.com"));
        assert_eq!(order.customer.first_name.as_deref(), Some("John"));
        assert_eq!(order.customer.last_name.as_deref(), Some("Smith"));
        // Order and customer phones are null; the shipping address has "555-555-SHIP".
        assert_eq!(order.customer.phone, None);
        assert!(!order.customer.sms_consent);
        assert!(order.customer.marketing_consent, "buyer_accepts_marketing");
        assert_eq!(order.customer.locale.as_deref(), Some("en"));

        assert_eq!(
            order.shipping_address,
            Some(ShippingAddress {
                country: "US".into(),
                region: Some("KY".into()),
                postal_code: Some("40003".into())
            })
        );
        assert_eq!(order.shipping_method.as_deref(), Some("Generic Shipping"));
        let placed = Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(order.placed_at, placed, "-05:00 offset converted to UTC");
        assert_eq!(order.updated_at, placed);
        assert_eq!(order.status, OrderStatus::Cancelled);
        assert_eq!(order.payment, PaymentStatus::Voided);
        assert!(order.test);
        assert_eq!(order.promised_delivery, None);
    }

    #[test]
    fn shopify_fixture_fulfillments_create() {
        let shipment = parse_shipment(&read(FULFILLMENTS_CREATE));
        assert_eq!(shipment.id.as_str(), "123456");
        assert_eq!(shipment.order_id.as_str(), "820982911946154508");
        assert_eq!(shipment.tracking_number.as_ref().map(TrackingNumber::as_str), Some("1Z827WK74630"));
        assert_eq!(shipment.carrier.as_deref(), Some("UPS"));
        assert_eq!(
            shipment.tracking_url.as_deref(),
            Some("https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630")
        );
        assert_eq!(shipment.items.len(), 5);
        assert_eq!(
            shipment.items[0],
            ShipmentItem {
                line_item_id: Some("487817672276298554".into()),
                title: "Aviator sunglasses".into(),
                quantity: 1
            }
        );
        assert_eq!(shipment.items[4].title, "Coffee table");
        let at = Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap();
        assert_eq!((shipment.created_at, shipment.updated_at), (at, at));
        // fulfillments/update parses the same way.
        let again = parse(&shop(), "fulfillments/update", &read(FULFILLMENTS_CREATE)).unwrap();
        assert_eq!(again, PlatformEvent::Fulfillment { shipment });
    }

    #[test]
    fn shopify_topics_map_to_order_topics() {
        let body = read(ORDERS_CREATE);
        assert_eq!(parse_order("orders/updated", &body).0, OrderTopic::Updated);
        assert_eq!(parse_order("orders/cancelled", &body).0, OrderTopic::Cancelled);
        for topic in ["orders/delete", "orders/paid", "app/uninstalled", "", "ORDERS/CREATE"] {
            assert_eq!(parse(&shop(), topic, &body), Err(ParseError::UnsupportedTopic(topic.into())), "{topic}");
        }
    }

    #[test]
    fn shopify_event_samples_parse() {
        let (topic, order) = parse_order("orders/create", &read(EVENT_ORDER));
        assert_eq!(topic, OrderTopic::Created);
        assert_eq!(order.id.as_str(), "5550001001");
        assert_eq!(order.number, "#1001");
        assert_eq!(order.status, OrderStatus::Open);
        assert_eq!(order.payment, PaymentStatus::Paid);
        assert!(!order.test);
        assert_eq!(order.customer.email.as_deref(), Some("ada@example.com"));
        assert_eq!(order.customer.phone.as_deref(), Some("+15555550123"));
        assert_eq!(order.customer.first_name.as_deref(), Some("Ada"));
        assert_eq!(order.customer.last_name.as_deref(), Some("Lovelace"));
        assert!(order.customer.sms_consent);
        assert_eq!(
            order.totals,
            Totals { subtotal: usd(11750), shipping: usd(750), tax: usd(0), discount: usd(0), total: usd(12500) }
        );
        assert_eq!(order.items.len(), 2);
        assert_eq!(order.items[0].title, "Linen shirt");
        assert_eq!(order.items[0].variant.as_deref(), Some("M / Sand"));
        assert_eq!(order.items[0].sku.as_deref(), Some("LS-M-SAND"));
        assert_eq!((order.items[0].unit_price, order.items[0].quantity), (usd(4900), 2));
        assert_eq!(order.items[1].title, "Canvas tote");
        assert_eq!(order.items[1].sku.as_deref(), Some("TOTE-NAT"));
        assert_eq!((order.items[1].unit_price, order.items[1].quantity), (usd(1950), 1));
        let line_sum = order.items.iter().try_fold(usd(0), |acc, i| acc.checked_add(i.line_total()?)).unwrap();
        assert_eq!(line_sum, order.totals.subtotal);
        assert_eq!(order.shipping_method.as_deref(), Some("Standard"));
        assert_eq!(
            order.shipping_address,
            Some(ShippingAddress {
                country: "US".into(),
                region: Some("NY".into()),
                postal_code: Some("10001".into())
            })
        );
        assert_eq!(order.placed_at, Utc.with_ymd_and_hms(2026, 11, 23, 15, 15, 0).unwrap());

        let shipment = parse_shipment(&read(EVENT_FULFILLMENT));
        assert_eq!(shipment.id.as_str(), "7770001");
        assert_eq!(shipment.order_id, order.id);
        assert_eq!(shipment.tracking_number.as_ref().map(TrackingNumber::as_str), Some("1Z999AA10123456784"));
        assert_eq!(shipment.carrier.as_deref(), Some("UPS"));
        assert_eq!(shipment.tracking_url.as_deref(), Some("https://www.ups.com/track?tracknum=1Z999AA10123456784"));
        let shipped: Vec<_> = shipment.items.iter().map(|i| i.line_item_id.clone()).collect();
        let ordered: Vec<_> = order.items.iter().map(|i| i.id.clone()).collect();
        assert_eq!(shipped, ordered, "the fulfillment ships both line items");
        assert_eq!(shipment.created_at, Utc.with_ymd_and_hms(2026, 11, 24, 14, 0, 0).unwrap());
    }

    #[test]
    fn shopify_open_order_and_fallbacks() {
        let mut v = fixture_value();
        v["cancelled_at"] = serde_json::Value::Null;
        v["financial_status"] = "authorized".into();
        v["email"] = "".into();
        v["phone"] = "not a phone".into();
        v["customer"]["phone"] = "+1 (312) 555-1212".into();
        v["customer"]["sms_marketing_consent"] = serde_json::json!({"state": "subscribed"});
        v["buyer_accepts_marketing"] = false.into();
        v.as_object_mut().unwrap().remove("total_shipping_price_set");
        v["shipping_lines"][0]["price"] = "12.34".into();
        v["shipping_address"]["country_code"] = "".into();
        v["line_items"][0]["sku"] = "".into();
        v["line_items"][0]["tags"] = "gift, sale".into();
        v["line_items"][0]["product_type"] = "Sunglasses".into();
        let (_, order) = parse_order("orders/updated", v.to_string().as_bytes());
        assert_eq!(order.status, OrderStatus::Open);
        assert_eq!(order.payment, PaymentStatus::Pending);
        assert_eq!(order.customer.email.as_deref(), Some("jon@example.com"), "falls back to contact_email");
        assert_eq!(order.customer.phone.as_deref(), Some("+13125551212"), "first usable phone");
        assert!(order.customer.sms_consent);
        assert!(!order.customer.marketing_consent);
        assert_eq!(order.totals.shipping, usd(1234), "sum of shipping_lines when the set is absent");
        assert_eq!(order.shipping_address, None, "no country, no address");
        assert_eq!(order.items[0].sku, None);
        assert_eq!(order.items[0].tags, ["gift", "sale"]);
        assert_eq!(order.items[0].product_type.as_deref(), Some("Sunglasses"));

        // orders/cancelled is a cancellation even before cancelled_at is set.
        let (_, order) = parse_order("orders/cancelled", v.to_string().as_bytes());
        assert_eq!(order.status, OrderStatus::Cancelled);

        // Ids as strings, and ids beyond 2^53 as numbers, both stay exact.
        v["id"] = "9007199254740993".into();
        let (_, order) = parse_order("orders/create", v.to_string().as_bytes());
        assert_eq!(order.id.as_str(), "9007199254740993");
        let body = v.to_string().replace("\"9007199254740993\"", "18446744073709551615");
        assert_eq!(parse_order("orders/create", body.as_bytes()).1.id.as_str(), "18446744073709551615");
    }

    #[test]
    fn shopify_guest_order_without_customer() {
        let mut v = fixture_value();
        v["customer"] = serde_json::Value::Null;
        v["email"] = serde_json::Value::Null;
        v["contact_email"] = serde_json::Value::Null;
        v["shipping_address"]["phone"] = "+44 20 7946 0958".into();
        let (_, order) = parse_order("orders/create", v.to_string().as_bytes());
        assert_eq!(order.customer.email, None);
        assert_eq!(order.customer.first_name.as_deref(), Some("Steve"), "billing name for guests");
        assert_eq!(order.customer.phone.as_deref(), Some("+442079460958"));
    }

    fn field_error(topic: &str, body: &[u8]) -> (String, String) {
        match parse(&shop(), topic, body) {
            Err(ParseError::Field { field, problem }) => (field, problem),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn shopify_errors_name_the_field() {
        let mut v = fixture_value();
        v.as_object_mut().unwrap().remove("id");
        let (field, problem) = field_error("orders/create", v.to_string().as_bytes());
        assert_eq!(field, "id");
        assert!(problem.contains("missing field `id`"), "{problem}");

        let mut v = fixture_value();
        v["line_items"][2]["price"] = "24,99".into();
        let (field, problem) = field_error("orders/create", v.to_string().as_bytes());
        assert_eq!(field, "line_items[2].price");
        assert!(problem.contains("not a decimal"), "{problem}");

        let mut v = fixture_value();
        v["total_price"] = 404.95.into();
        assert_eq!(field_error("orders/create", v.to_string().as_bytes()).0, "total_price");

        let mut v = fixture_value();
        v["line_items"][1].as_object_mut().unwrap().remove("quantity");
        assert_eq!(field_error("orders/create", v.to_string().as_bytes()).0, "line_items[1].quantity");

        let mut v = fixture_value();
        v["created_at"] = "yesterday".into();
        assert_eq!(field_error("orders/create", v.to_string().as_bytes()).0, "created_at");

        let mut v = fixture_value();
        v["currency"] = "dollars".into();
        assert_eq!(field_error("orders/create", v.to_string().as_bytes()).0, "currency");

        let mut v = fixture_value();
        v["id"] = 8.209829119461545e17.into();
        assert_eq!(field_error("orders/create", v.to_string().as_bytes()).0, "id", "float ids are refused");

        let mut v = fixture_value();
        v["line_items"][0]["price"] = "1.005".into();
        assert_eq!(field_error("orders/create", v.to_string().as_bytes()).0, "line_items[0].price");

        let (field, _) =
            field_error("fulfillments/create", br#"{"order_id": 1, "created_at": "2021-12-31T19:00:00-05:00"}"#);
        assert_eq!(field, "id");
        let (field, _) = field_error(
            "fulfillments/create",
            br#"{"id": 1, "order_id": "a#b", "created_at": "2021-12-31T19:00:00-05:00"}"#,
        );
        assert_eq!(field, "order_id");

        for garbage in [&b"\xff\xfe garbage"[..], b"", b"{\"id\": ", b"[1, 2]", b"null"] {
            assert!(matches!(parse(&shop(), "orders/create", garbage), Err(ParseError::Json(_))), "{garbage:?}");
            assert!(matches!(parse(&shop(), "fulfillments/create", garbage), Err(ParseError::Json(_))), "{garbage:?}");
        }
    }

    #[test]
    fn shopify_fulfillment_without_tracking() {
        let body = br#"{"id": 99, "order_id": 820982911946154508, "created_at": "2021-12-31T19:00:00-05:00",
            "tracking_number": "x", "tracking_numbers": [], "tracking_urls": [null], "tracking_url": "",
            "tracking_company": "", "line_items": null}"#;
        let shipment = parse_shipment(body);
        assert_eq!(shipment.tracking_number, None, "invalid numbers are dropped, not fatal");
        assert_eq!(shipment.tracking_url, None);
        assert_eq!(shipment.carrier, None);
        assert!(shipment.items.is_empty());
        assert_eq!(shipment.updated_at, shipment.created_at);
    }

    proptest::proptest! {
        #[test]
        fn shopify_never_panics_on_bytes(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse(&shop(), "orders/create", &body);
            let _ = parse(&shop(), "fulfillments/update", &body);
        }

        #[test]
        fn shopify_never_panics_on_mutated_fixtures(
            index in 0usize..100_000,
            byte in proptest::prelude::any::<u8>(),
            fulfillment in proptest::prelude::any::<bool>(),
        ) {
            let (topic, path) = if fulfillment { ("fulfillments/create", FULFILLMENTS_CREATE) } else { ("orders/create", ORDERS_CREATE) };
            let mut body = read(path);
            let at = index % body.len();
            body[at] = byte;
            let _ = parse(&shop(), topic, &body);
        }
    }
}
