//! Text from outside (platforms, carriers, customers) made safe to store, mail and show: control
//! characters (C0 and C1, NUL and DEL included) never get past the edge. Mail relays reject NUL,
//! escape sequences would drive an operator's terminal, and a line break in a name has no place
//! in an email header. Removing them, rather than refusing the webhook, still confirms the
//! customer's order: a platform would retry a refused one for days and then give up.
//!
//! Every inbound parser ends with [`CleanText::clean_text`]; `tests` below prove on the
//! providers' published payloads that no string field is left out.

use crate::order::{Customer, LineItem, Order, Shipment, ShipmentItem, ShippingAddress};
use crate::providers::PlatformEvent;
use crate::returns::{RequestedItem, Resolution, ReturnRequest};
use crate::tracking::{CarrierUpdate, TrackingEvent};

/// Text that is one line: tabs and line breaks become spaces, other controls are removed.
pub fn one_line(text: &mut String) {
    if text.chars().any(char::is_control) {
        *text = text.chars().filter_map(|c| if c.is_control() { one_line_char(c) } else { Some(c) }).collect();
    }
}

fn one_line_char(c: char) -> Option<char> {
    matches!(c, '\t' | '\n' | '\r').then_some(' ')
}

/// Text that may have lines (a customer's comment): line feeds and tabs stay, a CR LF becomes a
/// line feed, other controls are removed.
pub fn multi_line(text: &mut String) {
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t')) {
        *text = text.replace("\r\n", "\n").chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).collect();
    }
}

/// A value read from outside whose text is cleaned in place, field by field.
pub trait CleanText {
    fn clean_text(&mut self);
}

impl CleanText for String {
    fn clean_text(&mut self) {
        one_line(self);
    }
}

impl<T: CleanText> CleanText for Option<T> {
    fn clean_text(&mut self) {
        if let Some(value) = self {
            value.clean_text();
        }
    }
}

impl<T: CleanText> CleanText for Vec<T> {
    fn clean_text(&mut self) {
        self.iter_mut().for_each(CleanText::clean_text);
    }
}

/// `clean_text` on each named field, for the structs below.
macro_rules! clean_fields {
    ($value:expr, $($field:ident),+) => {{
        $($value.$field.clean_text();)+
    }};
}

impl CleanText for Order {
    fn clean_text(&mut self) {
        clean_fields!(self, number, customer, items, shipping_address, shipping_method);
    }
}

impl CleanText for Customer {
    fn clean_text(&mut self) {
        clean_fields!(self, first_name, last_name, email, phone, locale);
    }
}

impl CleanText for LineItem {
    fn clean_text(&mut self) {
        clean_fields!(self, id, product_id, sku, title, variant, product_type, tags);
    }
}

impl CleanText for ShippingAddress {
    fn clean_text(&mut self) {
        clean_fields!(self, country, region, postal_code);
    }
}

impl CleanText for Shipment {
    fn clean_text(&mut self) {
        clean_fields!(self, id, carrier, tracking_url, items);
    }
}

impl CleanText for ShipmentItem {
    fn clean_text(&mut self) {
        clean_fields!(self, line_item_id, title);
    }
}

impl CleanText for PlatformEvent {
    fn clean_text(&mut self) {
        match self {
            Self::Order { order, .. } => order.clean_text(),
            Self::Fulfillment { shipment } => shipment.clean_text(),
        }
    }
}

impl CleanText for CarrierUpdate {
    fn clean_text(&mut self) {
        clean_fields!(self, carrier, events, public_url, provider_reference);
    }
}

impl CleanText for TrackingEvent {
    fn clean_text(&mut self) {
        clean_fields!(self, provider_status, message, location);
    }
}

impl CleanText for ReturnRequest {
    fn clean_text(&mut self) {
        clean_fields!(self, items, resolution);
        if let Some(comment) = &mut self.comment {
            multi_line(comment);
        }
    }
}

impl CleanText for RequestedItem {
    fn clean_text(&mut self) {
        clean_fields!(self, line_item, reason, photo_urls);
        if let Some(comment) = &mut self.comment {
            multi_line(comment);
        }
    }
}

impl CleanText for Resolution {
    fn clean_text(&mut self) {
        if let Self::Exchange { variant } = self {
            variant.clean_text();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ShopId;
    use crate::providers::ParseError;
    use serde_json::Value;

    #[test]
    fn one_line_text_keeps_its_words_and_loses_every_control() {
        let mut name = "Ann\u{0}a\u{1b}[31m\tMarie\r\nO\u{85}'Brien\u{7f}\u{9b}".to_owned();
        one_line(&mut name);
        assert_eq!(name, "Anna[31m Marie  O'Brien");
        let mut plain = "Zoë Ünal 李".to_owned();
        one_line(&mut plain);
        assert_eq!(plain, "Zoë Ünal 李");
    }

    #[test]
    fn multi_line_text_keeps_lines_and_tabs_only() {
        let mut comment = "Too small.\r\nSleeves\tshort.\u{0}\u{7}\u{1b}\u{9f}\nThanks".to_owned();
        multi_line(&mut comment);
        assert_eq!(comment, "Too small.\nSleeves\tshort.\nThanks");
    }

    /// Every string leaf of `payload`, by its path of keys and indexes.
    fn string_paths(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
        match value {
            Value::String(_) => out.push(path.clone()),
            Value::Array(items) => items.iter().enumerate().for_each(|(i, item)| {
                path.push(Value::from(i));
                string_paths(item, path, out);
                path.pop();
            }),
            Value::Object(fields) => fields.iter().for_each(|(key, item)| {
                path.push(Value::from(key.as_str()));
                string_paths(item, path, out);
                path.pop();
            }),
            _ => {}
        }
    }

    fn at<'v>(value: &'v mut Value, path: &[Value]) -> &'v mut Value {
        path.iter().fold(value, |value, step| match step {
            Value::String(key) => &mut value[key.as_str()],
            index => &mut value[index.as_u64().unwrap() as usize],
        })
    }

    const CONTROLS: &str = "\u{0}\u{1b}[2J\u{7}\u{85}\u{9b}\r\n";

    /// Injects control characters into each string of a published payload in turn: the parser
    /// either refuses it naming a field (400) or gives a value with no control character left.
    fn no_string_field_keeps_a_control<T: serde::Serialize + CleanText>(
        fixture: &str,
        parse: impl Fn(&[u8]) -> Result<Option<T>, ParseError>,
    ) {
        // A provider's published payload (tests/fixtures) or our own sample (events/).
        let path = format!("{}/../{fixture}", env!("CARGO_MANIFEST_DIR"));
        let payload: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let mut paths = Vec::new();
        string_paths(&payload, &mut Vec::new(), &mut paths);
        let mut cleaned = 0;
        for path in &paths {
            let mut tainted = payload.clone();
            let leaf = at(&mut tainted, path);
            *leaf = Value::from(format!("{}{CONTROLS}x", leaf.as_str().unwrap()));
            match parse(tainted.to_string().as_bytes()) {
                Ok(Some(mut parsed)) => {
                    // What the handlers do with every parsed event.
                    parsed.clean_text();
                    let out = serde_json::to_string(&parsed).unwrap();
                    let text: String = serde_json::from_str::<Value>(&out).unwrap().to_string();
                    // Escapes in the JSON text are what controls become: none may be left.
                    assert!(
                        !text.contains("\\u00") && !text.contains("\\n") && !text.contains("\\r"),
                        "{path:?}: {out}"
                    );
                    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{path:?}: {out}");
                    cleaned += 1;
                }
                Ok(None) | Err(ParseError::Field { .. }) | Err(ParseError::UnsupportedTopic(_)) => {}
                Err(other) => panic!("{fixture} {path:?}: {other:?}"),
            }
        }
        assert!(cleaned > 5, "{fixture}: only {cleaned} of {} strings parsed with controls", paths.len());
    }

    #[test]
    fn platform_payloads_come_out_without_control_characters() {
        use crate::providers::{generic_order, shopify, woocommerce};
        let shop = ShopId::parse("demo-shop").unwrap();
        no_string_field_keeps_a_control("tests/fixtures/shopify-orders-create.json", |body| {
            shopify::parse(&shop, "orders/create", body).map(Some)
        });
        no_string_field_keeps_a_control("tests/fixtures/shopify-fulfillments-create.json", |body| {
            shopify::parse(&shop, "fulfillments/create", body).map(Some)
        });
        no_string_field_keeps_a_control("tests/fixtures/woocommerce-order-created-docs.json", |body| {
            woocommerce::parse(&shop, "order.created", body).map(Some)
        });
        no_string_field_keeps_a_control("events/generic-order-created.json", |body| {
            generic_order::parse(&shop, body).map(Some)
        });
        no_string_field_keeps_a_control("events/generic-shipment-created.json", |body| {
            generic_order::parse(&shop, body).map(Some)
        });
    }

    #[test]
    fn carrier_payloads_come_out_without_control_characters() {
        use crate::carriers::{aftership, easypost, generic_tracking, shippo};
        no_string_field_keeps_a_control("tests/fixtures/easypost-tracker-updated-delivered.json", easypost::parse);
        no_string_field_keeps_a_control("events/easypost-tracker-updated.json", easypost::parse);
        no_string_field_keeps_a_control("tests/fixtures/shippo-track_updated-docs-sample.json", shippo::parse);
        no_string_field_keeps_a_control("events/shippo-track-updated.json", shippo::parse);
        no_string_field_keeps_a_control("events/aftership-tracking-update.json", aftership::parse);
        no_string_field_keeps_a_control("events/generic-tracking-event.json", generic_tracking::parse);
    }

    #[test]
    fn return_requests_keep_comment_lines_and_lose_every_other_control() {
        let body = serde_json::json!({
            "order_id": "5550001001",
            "items": [{ "line_item": "66600\u{0}1001", "quantity": 1, "reason": "doesnt_fit\u{1b}",
                        "comment": "Too\r\nsmall\u{7}" }],
            "resolution": { "type": "exchange", "variant": "L\n/ Sand\u{9b}" },
            "comment": "Line one\nLine two\u{0}",
        });
        let mut request: ReturnRequest = crate::providers::from_json_object(body.to_string().as_bytes()).unwrap();
        request.clean_text();
        assert_eq!(request.items[0].line_item, "666001001");
        assert_eq!(request.items[0].reason, "doesnt_fit");
        assert_eq!(request.items[0].comment.as_deref(), Some("Too\nsmall"));
        assert_eq!(request.resolution, Resolution::Exchange { variant: "L / Sand".to_owned() });
        assert_eq!(request.comment.as_deref(), Some("Line one\nLine two"));
    }
}
