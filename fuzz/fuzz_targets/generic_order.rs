//! `generic_order::parse(shop, body)`: ppx's own strict order/shipment format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ppx_fuzz::{array_len, check_error, check_event, json, money_at, shop, top_str};
use ppx_shared::domain::order::{OrderStatus, Platform};
use ppx_shared::inbound::platforms::{OrderTopic, PlatformEvent, generic_order};

fuzz_target!(|body: &[u8]| {
    let result = generic_order::parse(&shop(), body);
    assert_eq!(result, generic_order::parse(&shop(), body), "parsing is deterministic");
    let event = match result {
        Ok(event) => event,
        Err(err) => return check_error(&err),
    };
    check_event(&event);
    let Some(v) = json(body) else { return };
    let name = top_str(&v, "event");
    match &event {
        PlatformEvent::Order { topic, order } => {
            let expected = match name.as_str() {
                "order.created" => OrderTopic::Created,
                "order.updated" => OrderTopic::Updated,
                "order.cancelled" => OrderTopic::Cancelled,
                other => panic!("event {other:?} gave an order"),
            };
            assert_eq!(*topic, expected);
            assert!(v["shipment"].is_null(), "an order event carries no shipment");
            assert_eq!(order.platform, Platform::Generic);
            assert!(!order.items.is_empty(), "an order has at least one item");
            assert!(order.items.iter().all(|i| i.quantity >= 1), "quantities are at least 1");
            assert_eq!(order.items.len(), array_len(&v["order"]["items"]));
            let cancelled = expected == OrderTopic::Cancelled || v["order"]["status"] == "cancelled";
            assert_eq!(order.status == OrderStatus::Cancelled, cancelled);
            let totals = &v["order"]["totals"];
            assert_eq!(Some(order.totals.subtotal), money_at(&totals["subtotal"], order));
            assert_eq!(Some(order.totals.total), money_at(&totals["total"], order));
            for (item, raw) in order.items.iter().zip(v["order"]["items"].as_array().into_iter().flatten()) {
                assert_eq!(Some(item.unit_price), money_at(&raw["unit_price"], order));
                assert_eq!(Some(u64::from(item.quantity)), raw["quantity"].as_u64());
            }
        }
        PlatformEvent::Fulfillment { shipment } => {
            assert!(matches!(name.as_str(), "shipment.created" | "shipment.updated"), "{name:?}");
            assert!(v["order"].is_null(), "a shipment event carries no order");
            assert!(shipment.items.iter().all(|i| i.quantity >= 1), "quantities are at least 1");
            assert_eq!(shipment.items.len(), array_len(&v["shipment"]["items"]));
        }
    }
});
