//! `woocommerce::parse(shop, topic, body)` for `order.created` / `order.updated` (and any other
//! text). Input: `[topic selector][body]`, see `ppx_fuzz::split_topic`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ppx_fuzz::{array_len, check_error, check_event, json, money_at, shop, split_topic};
use ppx_shared::domain::money::Money;
use ppx_shared::domain::order::{OrderStatus, Platform};
use ppx_shared::inbound::platforms::{OrderTopic, PlatformEvent, woocommerce};

const TOPICS: &[&str] = &["order.created", "order.updated"];

fuzz_target!(|data: &[u8]| {
    let Some((topic, body)) = split_topic(data, TOPICS) else { return };
    let result = woocommerce::parse(&shop(), &topic, body);
    assert_eq!(result, woocommerce::parse(&shop(), &topic, body), "parsing is deterministic");
    let event = match result {
        Ok(event) => event,
        Err(err) => return check_error(&err),
    };
    check_event(&event);
    let PlatformEvent::Order { topic: parsed, order } = &event else { panic!("WooCommerce only sends orders") };
    let expected = match topic.trim() {
        "order.created" => OrderTopic::Created,
        "order.updated" => OrderTopic::Updated,
        other => panic!("topic {other:?} gave an order"),
    };
    assert_eq!(*parsed, expected);
    assert_eq!(order.platform, Platform::Woocommerce);
    assert!(order.number.starts_with('#'), "{:?}", order.number);
    let Some(v) = json(body) else { return };
    let status = v["status"].as_str().unwrap_or_default().trim();
    let cancelled = matches!(status, "cancelled" | "refunded" | "failed");
    assert_eq!(order.status == OrderStatus::Cancelled, cancelled, "status {status:?}");

    assert_eq!(Some(order.totals.total), money_at(&v["total"], order));
    // The subtotal is the sum of the line subtotals; a unit price times its quantity is the
    // line subtotal whenever that divides exactly.
    assert_eq!(order.items.len(), array_len(&v["line_items"]), "no line item is dropped");
    let mut sum = Money::zero(order.currency);
    for (item, raw) in order.items.iter().zip(v["line_items"].as_array().into_iter().flatten()) {
        let line = money_at(&raw["subtotal"], order).expect("line subtotals are required");
        sum = sum.checked_add(line).expect("the parser summed these");
        assert_eq!(Some(u64::from(item.quantity)), raw["quantity"].as_u64());
        let quantity = i64::from(item.quantity);
        if quantity > 0 && line.minor % quantity == 0 {
            assert_eq!(item.line_total(), Ok(line), "unit price x quantity = line subtotal");
        }
    }
    assert_eq!(order.totals.subtotal, sum, "subtotal is the sum of the line subtotals");
});
