//! `shopify::parse(shop, topic, body)` for every `X-Shopify-Topic` (and any other text).
//! Input: `[topic selector][body]`, see `ppx_fuzz::split_topic`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ppx_fuzz::{array_len, check_error, check_event, json, money_at, shop, split_topic};
use ppx_shared::domain::money::Money;
use ppx_shared::domain::order::{OrderStatus, Platform};
use ppx_shared::inbound::platforms::{OrderTopic, PlatformEvent, shopify};

const TOPICS: &[&str] =
    &["orders/create", "orders/updated", "orders/cancelled", "fulfillments/create", "fulfillments/update"];

fuzz_target!(|data: &[u8]| {
    let Some((topic, body)) = split_topic(data, TOPICS) else { return };
    let result = shopify::parse(&shop(), &topic, body);
    assert_eq!(result, shopify::parse(&shop(), &topic, body), "parsing is deterministic");
    let event = match result {
        Ok(event) => event,
        Err(err) => return check_error(&err),
    };
    check_event(&event);
    let Some(v) = json(body) else { return };
    match &event {
        PlatformEvent::Order { topic: parsed, order } => {
            let expected = match topic.trim() {
                "orders/create" => OrderTopic::Created,
                "orders/updated" => OrderTopic::Updated,
                "orders/cancelled" => OrderTopic::Cancelled,
                other => panic!("topic {other:?} gave an order"),
            };
            assert_eq!(*parsed, expected);
            assert_eq!(order.platform, Platform::Shopify);
            let cancelled = expected == OrderTopic::Cancelled || !v["cancelled_at"].is_null();
            assert_eq!(order.status == OrderStatus::Cancelled, cancelled, "cancelled_at or orders/cancelled");

            // Money: the body's amounts, exactly; a missing subtotal or shipping set is the sum of its lines.
            assert_eq!(Some(order.totals.total), money_at(&v["total_price"], order));
            let zero = Money::zero(order.currency);
            match money_at(&v["subtotal_price"], order) {
                Some(subtotal) => assert_eq!(order.totals.subtotal, subtotal),
                None => {
                    let sum = order.items.iter().try_fold(zero, |acc, i| acc.checked_add(i.line_total()?));
                    assert_eq!(Ok(order.totals.subtotal), sum, "subtotal is the sum of the lines");
                }
            }
            match money_at(&v["total_shipping_price_set"]["shop_money"]["amount"], order) {
                Some(shipping) => assert_eq!(order.totals.shipping, shipping),
                None => {
                    let lines = v["shipping_lines"].as_array().into_iter().flatten();
                    let sum = lines.filter_map(|l| money_at(&l["price"], order)).try_fold(zero, Money::checked_add);
                    assert_eq!(Ok(order.totals.shipping), sum, "shipping is the sum of the shipping lines");
                }
            }
            assert_eq!(order.items.len(), array_len(&v["line_items"]), "no line item is dropped");
            for (item, raw) in order.items.iter().zip(v["line_items"].as_array().into_iter().flatten()) {
                assert_eq!(Some(u64::from(item.quantity)), raw["quantity"].as_u64());
                assert_eq!(Some(item.unit_price), money_at(&raw["price"], order));
            }
        }
        PlatformEvent::Fulfillment { shipment } => {
            assert!(matches!(topic.trim(), "fulfillments/create" | "fulfillments/update"), "{topic:?}");
            assert_eq!(shipment.items.len(), array_len(&v["line_items"]), "no shipped line is dropped");
        }
    }
});
