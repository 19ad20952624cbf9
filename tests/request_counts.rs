//! AWS requests per event, counted by an interceptor on the functions' SDK clients (each attempt
//! counts). These bounds are what an event costs; a change that adds a request fails here.

use ppx_e2e::{TestEnv, read_event};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// `service operation` -> count, for readable failures.
fn counts(env: &TestEnv) -> BTreeMap<String, u32> {
    env.requests.take().into_iter().map(|((service, op), n)| (format!("{service} {op}"), n)).collect()
}

fn of(counts: &BTreeMap<String, u32>, prefix: &str) -> u32 {
    counts.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, n)| n).sum()
}

#[tokio::test]
async fn requests_per_event_stay_within_their_bounds() {
    let env = TestEnv::start().await;
    let email = env.customer_email("count");
    let phone = env.customer_phone();
    let mut order = read_event("shopify-orders-create.json");
    order["email"] = json!(email);
    order["phone"] = json!(phone);
    order["customer"]["email"] = json!(email);
    let body = bytes(&order);

    // A new order: the settings (GetItem, then cached for the cold start), then the hot path,
    // two requests: one transaction writes the order (if newer), checks that no shipment came
    // first and claims the confirmation's email and SMS; after sending, one batch records both.
    assert_eq!(env.post_shopify("orders/create", &body, "count-1").await.status, 200);
    let first = counts(&env);
    assert_eq!(of(&first, "DynamoDB GetItem"), 1, "{first:?}");
    assert_eq!(of(&first, "DynamoDB TransactWriteItems"), 1, "{first:?}");
    assert_eq!(of(&first, "DynamoDB BatchWriteItem"), 1, "{first:?}");
    assert_eq!(of(&first, "DynamoDB"), 3, "{first:?}");
    assert_eq!((of(&first, "SESv2"), of(&first, "SNS")), (1, 1), "{first:?}");
    // The shop's webhook secrets and the link keys, once per cold start (then cached).
    assert_eq!(of(&first, "SSM GetParameter"), 2, "{first:?}");

    // The same delivery again: the same transaction, refused (the order is not newer, both
    // messages are done). One request, nothing sent.
    assert_eq!(env.post_shopify("orders/create", &body, "count-1").await.status, 200);
    let duplicate = counts(&env);
    assert_eq!(duplicate.values().sum::<u32>(), 1, "{duplicate:?}");
    assert_eq!(of(&duplicate, "DynamoDB TransactWriteItems"), 1, "{duplicate:?}");

    // The fulfillment: one read (Query of the order's partition: who to tell, and what is stored
    // of the shipment and its notice), one transaction (the shipment if newer, its tracking number
    // unless carrier updates wait for it, the claim of the shipped notice), then one write of its
    // record. "Shipped" goes by email only (not worth a text).
    let fulfillment = bytes(&read_event("shopify-fulfillments-create.json"));
    assert_eq!(env.post_shopify("fulfillments/create", &fulfillment, "count-2").await.status, 200);
    let shipped = counts(&env);
    assert_eq!(of(&shipped, "DynamoDB Query"), 1, "{shipped:?}");
    assert_eq!(of(&shipped, "DynamoDB TransactWriteItems"), 1, "{shipped:?}");
    assert_eq!(of(&shipped, "DynamoDB PutItem") + of(&shipped, "DynamoDB BatchWriteItem"), 1, "{shipped:?}");
    assert_eq!(of(&shipped, "DynamoDB"), 3, "{shipped:?}");
    assert_eq!((of(&shipped, "SESv2"), of(&shipped, "SNS")), (1, 0), "{shipped:?}");

    // The same fulfillment again: the same read shows it stored as new, indexed with nothing
    // waiting, and announced on its channel. One request, nothing written or sent.
    assert_eq!(env.post_shopify("fulfillments/create", &fulfillment, "count-2").await.status, 200);
    let shipped_again = counts(&env);
    assert_eq!(of(&shipped_again, "DynamoDB Query"), 1, "{shipped_again:?}");
    assert_eq!(shipped_again.values().sum::<u32>(), 1, "{shipped_again:?}");

    // A carrier scan that changes the state: the tracking number's partition and the order's
    // (2 Query); one transaction writes the versioned state and claims the messages; after
    // sending, one more records them and notes the update as applied on the tracking number.
    let scan = |status: &str, hours_ago: i64| {
        let at = env.clock_now() - chrono::Duration::hours(hours_ago);
        bytes(&json!({
            "tracking_number": "1Z999AA10123456784", "carrier": "UPS",
            "events": [{ "status": status, "occurred_at": at.to_rfc3339() }],
        }))
    };
    assert_eq!(env.post_tracking(&scan("out_for_delivery", 2)).await.status, 200);
    let changed = counts(&env);
    assert_eq!(of(&changed, "DynamoDB Query"), 2, "{changed:?}");
    assert_eq!(of(&changed, "DynamoDB TransactWriteItems"), 2, "{changed:?}");
    // (and this function's first request reads the settings: GetItem, cached afterwards)
    assert_eq!(of(&changed, "DynamoDB GetItem"), 1, "{changed:?}");
    assert_eq!(of(&changed, "DynamoDB"), 5, "{changed:?}");
    assert_eq!((of(&changed, "SESv2"), of(&changed, "SNS")), (1, 1), "{changed:?}");

    // The same scan again: one read of the tracking number shows it applied. Nothing else.
    assert_eq!(env.post_tracking(&scan("out_for_delivery", 2)).await.status, 200);
    let unchanged = counts(&env);
    assert_eq!(unchanged.values().sum::<u32>(), 1, "{unchanged:?}");
    assert_eq!(of(&unchanged, "DynamoDB Query"), 1, "{unchanged:?}");

    // An older scan arriving late: the state stays, the timeline gains a checkpoint (one
    // transaction with the version condition), nothing is sent.
    assert_eq!(env.post_tracking(&scan("in_transit", 20)).await.status, 200);
    let late = counts(&env);
    assert_eq!((of(&late, "DynamoDB Query"), of(&late, "DynamoDB TransactWriteItems")), (2, 1), "{late:?}");
    assert_eq!(late.values().sum::<u32>(), 3, "{late:?}");

    // The late scan once more: one read.
    assert_eq!(env.post_tracking(&scan("in_transit", 20)).await.status, 200);
    let replay = counts(&env);
    assert_eq!(replay.values().sum::<u32>(), 1, "{replay:?}");
}
