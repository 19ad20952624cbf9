//! The DynamoDB adapter. One table; keys are documented in the README ("Table design").

pub mod table;

use crate::adapters::dynamo::table::{GSI1, GSI1_PARTITION_KEY, GSI1_SORT_KEY, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
use crate::domain::ids::{OrderId, ShopId, TrackingNumber};
use crate::domain::messages::{DeliveryState, MessageKey, MessageRecord};
use crate::domain::order::{Order, Shipment};
use crate::domain::returns::{Return, ReturnState};
use crate::domain::settings::ShopSettings;
use crate::domain::tracking::{CarrierUpdate, ShipmentTracking};
use crate::ports::store::{
    Applied, ChangeOutcome, Claim, ClaimBatch, ClaimOutcome, DeliveryRecord, DueReview, OrderView, ReturnCreated,
    ReviewOutcome, StateChange, Store, StoreError, SurveyAnswer, TrackingLookup, TrackingTarget, Upsert, Versioned,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Put, PutRequest, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update, WriteRequest,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

/// On a tracking number's item: carrier updates wait for its shipment.
const PENDING_ATTRIBUTE: &str = "pending";
/// On a shipment's item: written with its tracking number's index while nothing waited for it
/// (`OrderView::indexed`).
const INDEXED_ATTRIBUTE: &str = "indexed";

/// Key layout. Free-form parts (shipment ids, delivery ids, message scopes) always come last,
/// so a `#` inside them cannot collide with another key.
pub mod keys {
    use super::*;

    pub const SETTINGS: &str = "SETTINGS";
    pub const SHOPS: &str = "SHOPS";
    pub const ORDER: &str = "ORDER";
    pub const SHIPMENT_PREFIX: &str = "SHIPMENT#";
    pub const MESSAGE_PREFIX: &str = "MSG#";
    pub const TRACKING: &str = "TRACKING";
    pub const TRACKING_STATE_PREFIX: &str = "TRACKING#";
    pub const PENDING_PREFIX: &str = "PENDING#";
    pub const DELIVERY: &str = "DELIVERY";
    /// Marks an order whose shipment arrived before it.
    pub const SHIPMENTS_FIRST: &str = "SHIPMENTS_FIRST";

    pub fn shop(shop: &ShopId) -> String {
        format!("SHOP#{shop}")
    }
    pub fn order(shop: &ShopId, order: &OrderId) -> String {
        format!("SHOP#{shop}#ORDER#{order}")
    }
    /// The gsi1 partition of the orders with one number (`store::order_number_key`).
    pub fn order_number(shop: &ShopId, number_key: &str) -> String {
        format!("SHOP#{shop}#ORDERNO#{number_key}")
    }
    pub fn shipment(id: &str) -> String {
        format!("{SHIPMENT_PREFIX}{id}")
    }
    pub fn message(key: &MessageKey) -> String {
        format!("{MESSAGE_PREFIX}{}#{}#{}", key.kind.as_str(), key.channel.as_str(), key.scope)
    }
    pub fn tracking(shop: &ShopId, number: &TrackingNumber) -> String {
        format!("SHOP#{shop}#TRACKING#{number}")
    }
    pub fn tracking_state(shipment_id: &str) -> String {
        format!("{TRACKING_STATE_PREFIX}{shipment_id}")
    }
    pub const SURVEY: &str = "SURVEY";
    pub const RETURN_PREFIX: &str = "RETURN#";
    pub const RETURN_ID: &str = "RETURN";
    /// The order's returns version: bumped by every return that reserves quantities.
    pub const RETURNS_VERSION: &str = "RETURNS";

    pub fn return_item(id: &str) -> String {
        format!("{RETURN_PREFIX}{id}")
    }
    pub fn return_id(shop: &ShopId, id: &str) -> String {
        format!("SHOP#{shop}#RETURNID#{id}")
    }
    pub fn returns_in(shop: &ShopId, state: ReturnState) -> String {
        format!("SHOP#{shop}#RETURNS#{}", state.as_str())
    }
    pub const UNSUBSCRIBED: &str = "UNSUB";

    pub fn review_due(shop: &ShopId) -> String {
        format!("SHOP#{shop}#REVIEW_DUE")
    }
    pub fn review_sent(shop: &ShopId) -> String {
        format!("SHOP#{shop}#REVIEW_SENT")
    }
    pub fn review_skipped(shop: &ShopId) -> String {
        format!("SHOP#{shop}#REVIEW_SKIPPED")
    }
    pub fn nps(shop: &ShopId) -> String {
        format!("SHOP#{shop}#NPS")
    }
    pub fn unsubscribed(shop: &ShopId, email: &str) -> String {
        format!("SHOP#{shop}#UNSUB#{}", crate::ports::store::email_key(email))
    }
    /// Index sort keys sort by time (RFC 3339 UTC, fixed width), then order.
    pub fn by_time(at: DateTime<Utc>, order: &OrderId) -> String {
        format!("{}#{order}", time(at))
    }
    pub fn time(at: DateTime<Utc>) -> String {
        at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(err: SdkError<E, R>) -> StoreError {
    StoreError::Unavailable(DisplayErrorContext(&err).to_string())
}

/// DynamoDB's limit on one item.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// An item's size as DynamoDB counts it (developer guide, "Item sizes"): attribute names and
/// strings in UTF-8 bytes, binary in bytes, a number about one byte per two digits plus one, a
/// boolean or null one byte, a list or map three bytes plus one per element.
fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number.len().div_ceil(2) + 1,
        AttributeValue::B(bytes) => bytes.as_ref().len(),
        AttributeValue::Ss(texts) => texts.iter().map(String::len).sum(),
        AttributeValue::Ns(numbers) => numbers.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(blobs) => blobs.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(values) => 3 + values.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(fields) => 3 + fields.iter().map(|(name, v)| 1 + name.len() + value_size(v)).sum::<usize>(),
        _ => 1,
    }
}

/// Refuses an item DynamoDB would refuse for its size: no retry could ever store it, so the
/// caller answers for good instead of failing on every retry.
fn fits(item: &Item) -> Result<(), StoreError> {
    let bytes = item_size(item);
    if bytes <= MAX_ITEM_BYTES {
        return Ok(());
    }
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map_or("?", String::as_str);
    Err(StoreError::TooLarge {
        key: format!("{}/{}", text(PARTITION_KEY), text(SORT_KEY)),
        bytes,
        limit: MAX_ITEM_BYTES,
    })
}

fn encode<T: Serialize>(value: &T) -> AttributeValue {
    serde_dynamo::to_attribute_value(value).expect("domain types serialize to DynamoDB")
}

fn decode<T: DeserializeOwned>(item: &Item, attribute: &str) -> Result<T, StoreError> {
    let key = || {
        format!(
            "{}/{}",
            item.get(PARTITION_KEY).and_then(|v| v.as_s().ok()).map_or("?", String::as_str),
            item.get(SORT_KEY).and_then(|v| v.as_s().ok()).map_or("?", String::as_str)
        )
    };
    let value = item
        .get(attribute)
        .ok_or_else(|| StoreError::Corrupt { key: key(), detail: format!("missing {attribute}") })?;
    serde_dynamo::from_attribute_value(value.clone())
        .map_err(|e| StoreError::Corrupt { key: key(), detail: e.to_string() })
}

fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(PARTITION_KEY.to_owned(), s(pk)), (SORT_KEY.to_owned(), s(sk))])
}

impl DynamoStore {
    /// A put that only replaces an older `updated_at_ms`. Returns the stored item when it lost.
    async fn put_if_newer(&self, mut item: Item, updated_at: DateTime<Utc>) -> Result<Result<bool, Item>, StoreError> {
        item.insert("updated_at_ms".into(), n(updated_at.timestamp_millis()));
        fits(&item)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR updated_at_ms < :u")
            .expression_attribute_values(":u", n(updated_at.timestamp_millis()))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Ok(out.attributes.is_some_and(|a| !a.is_empty()))),
            Err(err) => match err.as_service_error() {
                Some(e) if e.is_conditional_check_failed_exception() => {
                    let stored = match e {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                            c.item.clone()
                        }
                        _ => None,
                    };
                    Ok(Err(stored.unwrap_or_default()))
                }
                _ => Err(unavailable(err)),
            },
        }
    }
}

impl DynamoStore {
    /// Items of one gsi1 partition whose sort key falls in `[from, to]` by time, oldest first.
    async fn index_range(
        &self,
        partition: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("gsi1pk = :pk AND gsi1sk BETWEEN :lo AND :hi")
                .expression_attribute_values(":pk", s(partition.clone()))
                .expression_attribute_values(":lo", s(keys::time(from)))
                .expression_attribute_values(":hi", s(format!("{}#{}", keys::time(to), char::MAX)))
                .set_limit(limit.map(|l| (l - items.len()).min(1000) as i32))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() || limit.is_some_and(|l| items.len() >= l) {
                return Ok(items);
            }
        }
    }

    /// One item by its key. Reads that decide something are consistent; cached ones need not be.
    async fn get(&self, pk: String, sk: &str, consistent: bool) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    /// Whether an item exists, reading only its key.
    async fn exists(&self, pk: String, sk: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .projection_expression(PARTITION_KEY)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item.is_some())
    }

    /// An unconditional write (idempotent items: settings, indexes, receipts).
    async fn put(&self, item: Item) -> Result<(), StoreError> {
        fits(&item)?;
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    /// Every item of one partition, of the table (consistent) or of gsi1.
    async fn query_partition(&self, partition: String, index: Option<&str>) -> Result<Vec<Item>, StoreError> {
        let (key_name, consistent) = match index {
            Some(_) => (GSI1_PARTITION_KEY, false),
            None => (PARTITION_KEY, true),
        };
        self.client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", key_name)
            .expression_attribute_values(":pk", s(partition))
            .consistent_read(consistent)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(unavailable)
    }

    /// One transaction: written, or cancelled with a reason per item; anything else is an error.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Result<(), Vec<CancellationReason>>, StoreError> {
        for put in items.iter().filter_map(TransactWriteItem::put) {
            fits(put.item())?;
        }
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(Ok(())),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                    Ok(Err(e.cancellation_reasons().to_vec()))
                }
                _ => Err(unavailable(err)),
            },
        }
    }

    /// A put that must not fail its condition for any reason but "already done".
    async fn put_conditional(&self, item: Item, condition: &str, values: Item) -> Result<bool, StoreError> {
        fits(&item)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }
}

/// A claim may be taken when none exists, or when its holder's lease ran out before sending.
const CLAIM_CONDITION: &str = "attribute_not_exists(pk) OR (#state = :sending AND lease_until_ms < :now)";

fn claim_item(shop: &ShopId, order: &OrderId, message: &MessageKey, claim: &Claim) -> Item {
    let mut item = key(keys::order(shop, order), keys::message(message));
    item.insert("state".into(), s("sending"));
    item.insert("claim_token".into(), s(claim.token.as_str()));
    item.insert("lease_until_ms".into(), n(claim.lease_until.timestamp_millis()));
    item.insert("record".into(), encode(&MessageRecord::claimed(message, claim.at)));
    item
}

fn record_item(shop: &ShopId, order: &OrderId, record: &MessageRecord) -> Item {
    let message = MessageKey::new(record.kind, &record.scope, record.channel);
    let state = match record.state {
        DeliveryState::Sending => "sending",
        DeliveryState::Sent => "sent",
        DeliveryState::Failed => "failed",
    };
    let mut item = key(keys::order(shop, order), keys::message(&message));
    item.insert("state".into(), s(state));
    item.insert("record".into(), encode(record));
    item
}

/// Why a claim was refused, from the item that refused it. A retry of our own claim whose
/// response was lost finds its own token: that claim is ours.
fn claim_refused(stored: Option<&Item>, claim: &Claim) -> ClaimOutcome {
    let text = |name: &str| stored.and_then(|i| i.get(name)).and_then(|v| v.as_s().ok()).map(String::as_str);
    match (text("state"), text("claim_token")) {
        (Some("sending"), Some(token)) if token == claim.token => ClaimOutcome::Claimed,
        (Some("sending"), _) => ClaimOutcome::InFlight,
        _ => ClaimOutcome::AlreadyDone,
    }
}

impl DynamoStore {
    /// The transaction items of a state change, each with what its refusal means.
    fn change_items(
        &self,
        shop: &ShopId,
        order: &OrderId,
        change: StateChange<'_>,
    ) -> Vec<(TransactWriteItem, ChangeOutcome)> {
        let put = |item: Item, condition: &str, values: Item| {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(condition)
                .set_expression_attribute_values((!values.is_empty()).then_some(values))
                .build()
                .expect("table and item are set");
            TransactWriteItem::builder().put(put).build()
        };
        // A put that wins only over an older version (or nothing).
        let newer = |mut item: Item, updated_at: DateTime<Utc>| {
            let updated_at = n(updated_at.timestamp_millis());
            item.insert("updated_at_ms".into(), updated_at.clone());
            let values = HashMap::from([(":u".to_owned(), updated_at)]);
            put(item, "attribute_not_exists(pk) OR updated_at_ms < :u", values)
        };
        // A check that an item of the order is (still) absent.
        let absent = |sort_key: String| {
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::order(shop, order), sort_key)))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("table, key and condition are set");
            TransactWriteItem::builder().condition_check(check).build()
        };
        match change {
            StateChange::NewOrder(new) => {
                let item = order_item(shop, order, new);
                vec![
                    (newer(item, new.updated_at), ChangeOutcome::Stale),
                    (absent(keys::SHIPMENTS_FIRST.to_owned()), ChangeOutcome::ShipmentsFirst),
                ]
            }
            StateChange::NewShipment(shipment) => {
                let mut items = Vec::with_capacity(2);
                // The number first: when updates wait for it, that is what the caller must hear
                // (a stale shipment, a duplicate, must still get them applied).
                if let Some(number) = &shipment.tracking_number {
                    let (key, expression, values) = shipment_index(shop, number, shipment);
                    let index = Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key))
                        .update_expression(expression)
                        .set_expression_attribute_values(Some(values))
                        .condition_expression("attribute_not_exists(#pending)")
                        .expression_attribute_names("#pending", PENDING_ATTRIBUTE)
                        .build()
                        .expect("table, key and expression are set");
                    items.push((TransactWriteItem::builder().update(index).build(), ChangeOutcome::UpdatesWaiting));
                }
                let mut item = key(keys::order(shop, order), keys::shipment(&shipment.id));
                item.insert("shipment".into(), encode(shipment));
                item.insert(INDEXED_ATTRIBUTE.into(), AttributeValue::Bool(true));
                items.push((newer(item, shipment.updated_at), ChangeOutcome::Stale));
                items
            }
            StateChange::Tracking(change) => {
                let mut items = Vec::with_capacity(3);
                let (item, condition, values) =
                    tracking_write(shop, order, change.shipment_id, change.tracking, change.expected);
                items.push((put(item, condition, values), ChangeOutcome::Stale));
                if let Some(applied) = change.applied.and_then(|a| self.applied_update(shop, a)) {
                    items.push((TransactWriteItem::builder().update(applied).build(), ChangeOutcome::Stale));
                }
                if let Some(record) = change.delivery {
                    let item = delivery_item(shop, order, record);
                    items.push((put(item, "attribute_not_exists(pk)", HashMap::new()), ChangeOutcome::Stale));
                }
                let missing = [
                    (change.unannounced.order_missing, keys::ORDER.to_owned()),
                    (change.unannounced.shipment_missing, keys::shipment(change.shipment_id)),
                ];
                for (_, sort_key) in missing.into_iter().filter(|(missing, _)| *missing) {
                    items.push((absent(sort_key), ChangeOutcome::Stale));
                }
                for (shipment_id, version) in change.others {
                    let Some(version) = version else {
                        items.push((absent(keys::tracking_state(shipment_id)), ChangeOutcome::Stale));
                        continue;
                    };
                    let check = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(keys::order(shop, order), keys::tracking_state(shipment_id))))
                        .condition_expression("version = :v")
                        .expression_attribute_values(":v", n(*version as i64))
                        .build()
                        .expect("table, key and condition are set");
                    items.push((TransactWriteItem::builder().condition_check(check).build(), ChangeOutcome::Stale));
                }
                items
            }
        }
    }

    /// The update that notes a carrier update as applied (nothing when it has no digests).
    fn applied_update(&self, shop: &ShopId, applied: Applied<'_>) -> Option<Update> {
        if applied.digests.is_empty() {
            return None;
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::tracking(shop, applied.number), keys::TRACKING)))
            .expression_attribute_values(":d", AttributeValue::Ss(applied.digests.to_vec()));
        let update = match applied.status {
            Some(status) => update
                .update_expression("ADD digests :d SET tracking_status = :s")
                .expression_attribute_values(":s", s(status.as_str())),
            None => update.update_expression("ADD digests :d"),
        };
        Some(update.build().expect("table, key and expression are set"))
    }

    /// A claim without a state change: one conditional put.
    async fn claim_one(&self, item: Item, claim: &Claim) -> Result<ClaimOutcome, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":now", n(claim.at.timestamp_millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(ClaimOutcome::Claimed),
            Err(err) => match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                    Ok(claim_refused(c.item.as_ref(), claim))
                }
                _ => Err(unavailable(err)),
            },
        }
    }
}

/// Points a tracking number at its shipment: key, update expression and values. An update, so
/// that what carrier updates recorded on the number stays.
fn shipment_index(shop: &ShopId, number: &TrackingNumber, shipment: &Shipment) -> (Item, &'static str, Item) {
    let values =
        HashMap::from([(":o".to_owned(), s(shipment.order_id.as_str())), (":s".to_owned(), s(shipment.id.as_str()))]);
    (key(keys::tracking(shop, number), keys::TRACKING), "SET order_id = :o, shipment_id = :s", values)
}

/// A shipment's tracking item with the condition on its version.
fn tracking_write(
    shop: &ShopId,
    order: &OrderId,
    shipment_id: &str,
    tracking: &ShipmentTracking,
    expected: Option<u64>,
) -> (Item, &'static str, Item) {
    let mut item = key(keys::order(shop, order), keys::tracking_state(shipment_id));
    item.insert("tracking".into(), encode(tracking));
    item.insert("version".into(), n(expected.map_or(1, |v| v as i64 + 1)));
    match expected {
        None => (item, "attribute_not_exists(pk)", HashMap::new()),
        Some(version) => (item, "version = :v", HashMap::from([(":v".to_owned(), n(version as i64))])),
    }
}

/// The order's item, indexed by its number in the same write (so finding an order by the number
/// a customer quotes costs the webhooks nothing).
fn order_item(shop: &ShopId, id: &OrderId, order: &Order) -> Item {
    let mut item = key(keys::order(shop, id), keys::ORDER);
    item.insert("order".into(), encode(order));
    if let Some(number) = crate::ports::store::order_number_key(&order.number) {
        item.insert(GSI1_PARTITION_KEY.into(), s(keys::order_number(shop, &number)));
        item.insert(GSI1_SORT_KEY.into(), s(id.as_str()));
    }
    item
}

fn delivery_item(shop: &ShopId, order: &OrderId, record: &DeliveryRecord) -> Item {
    let mut item = key(keys::order(shop, order), keys::DELIVERY);
    item.insert(GSI1_PARTITION_KEY.into(), s(keys::review_due(shop)));
    item.insert(GSI1_SORT_KEY.into(), s(keys::by_time(record.review_due_at, order)));
    item.insert("order_id".into(), s(order.as_str()));
    item.insert("delivery".into(), encode(record));
    item
}

impl DynamoStore {
    fn return_item(shop: &ShopId, ret: &Return) -> Item {
        let mut item = key(keys::order(shop, &ret.request.order_id), keys::return_item(&ret.id));
        item.insert("ret".into(), encode(ret));
        item.insert("state".into(), s(ret.state.as_str()));
        item.insert(GSI1_PARTITION_KEY.into(), s(keys::returns_in(shop, ret.state)));
        item.insert(GSI1_SORT_KEY.into(), s(keys::by_time(ret.created_at, &ret.request.order_id)));
        item
    }
}

impl Store for DynamoStore {
    async fn get_settings(&self, shop: &ShopId) -> Result<Option<ShopSettings>, StoreError> {
        let item = self.get(keys::shop(shop), keys::SETTINGS, false).await?;
        item.map(|item| decode(&item, "settings")).transpose()
    }

    async fn put_settings(&self, settings: &ShopSettings) -> Result<(), StoreError> {
        let mut item = key(keys::shop(&settings.shop), keys::SETTINGS);
        item.insert(GSI1_PARTITION_KEY.into(), s(keys::SHOPS));
        item.insert(GSI1_SORT_KEY.into(), s(settings.shop.as_str()));
        item.insert("settings".into(), encode(settings));
        self.put(item).await
    }

    async fn upsert_order(&self, order: &Order) -> Result<Upsert<Order>, StoreError> {
        let item = order_item(&order.shop, &order.id, order);
        match self.put_if_newer(item, order.updated_at).await? {
            Ok(true) => Ok(Upsert::Updated),
            Ok(false) => Ok(Upsert::Created),
            Err(stored) => Ok(Upsert::Stale(Box::new(decode(&stored, "order")?))),
        }
    }

    async fn get_order(&self, shop: &ShopId, id: &OrderId) -> Result<Option<Order>, StoreError> {
        let item = self.get(keys::order(shop, id), keys::ORDER, true).await?;
        item.map(|item| decode(&item, "order")).transpose()
    }

    async fn order_view(&self, shop: &ShopId, id: &OrderId) -> Result<OrderView, StoreError> {
        let items = self.query_partition(keys::order(shop, id), None).await?;
        let mut view = OrderView::default();
        for item in &items {
            let sk = item.get(SORT_KEY).and_then(|v| v.as_s().ok()).map_or("", String::as_str);
            if sk == keys::ORDER {
                view.order = Some(decode(item, "order")?);
            } else if let Some(shipment_id) = sk.strip_prefix(keys::SHIPMENT_PREFIX) {
                view.shipments.push(decode(item, "shipment")?);
                if item.get(INDEXED_ATTRIBUTE).is_some_and(|v| v.as_bool() == Ok(&true)) {
                    view.indexed.insert(shipment_id.to_owned());
                }
            } else if sk.starts_with(keys::MESSAGE_PREFIX) {
                view.messages.push(decode(item, "record")?);
            } else if let Some(shipment_id) = sk.strip_prefix(keys::TRACKING_STATE_PREFIX) {
                let versioned = Versioned { value: decode(item, "tracking")?, version: decode(item, "version")? };
                view.tracking.insert(shipment_id.to_owned(), versioned);
            } else if sk == keys::DELIVERY {
                view.delivery = Some(decode(item, "delivery")?);
            } else if sk.starts_with(keys::RETURN_PREFIX) {
                view.returns.push(decode(item, "ret")?);
            } else if sk == keys::RETURNS_VERSION {
                view.returns_version = decode(item, "version")?;
            }
        }
        view.messages.sort_by_key(|m| m.at);
        Ok(view)
    }

    async fn orders_by_number(&self, shop: &ShopId, number: &str) -> Result<Vec<Order>, StoreError> {
        let Some(number) = crate::ports::store::order_number_key(number) else { return Ok(Vec::new()) };
        let items = self.query_partition(keys::order_number(shop, &number), Some(GSI1)).await?;
        items.iter().map(|item| decode(item, "order")).collect()
    }

    async fn upsert_shipment(&self, shop: &ShopId, shipment: &Shipment) -> Result<Upsert<Shipment>, StoreError> {
        // The index goes first and is idempotent: a crash after it leaves nothing a retry would skip.
        if let Some(number) = &shipment.tracking_number {
            let (key, expression, values) = shipment_index(shop, number, shipment);
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression(expression)
                .set_expression_attribute_values(Some(values))
                .send()
                .await
                .map_err(unavailable)?;
        }
        let mut item = key(keys::order(shop, &shipment.order_id), keys::shipment(&shipment.id));
        item.insert("shipment".into(), encode(shipment));
        match self.put_if_newer(item, shipment.updated_at).await? {
            Ok(true) => Ok(Upsert::Updated),
            Ok(false) => Ok(Upsert::Created),
            Err(stored) => Ok(Upsert::Stale(Box::new(decode(&stored, "shipment")?))),
        }
    }

    async fn lookup_tracking(&self, shop: &ShopId, number: &TrackingNumber) -> Result<TrackingLookup, StoreError> {
        let items = self.query_partition(keys::tracking(shop, number), None).await?;
        let mut lookup = TrackingLookup::default();
        for item in &items {
            let sk = item.get(SORT_KEY).and_then(|v| v.as_s().ok()).map_or("", String::as_str);
            if sk == keys::TRACKING {
                // Without an order the item only marks updates waiting for their shipment.
                if item.contains_key("order_id") {
                    lookup.target = Some(TrackingTarget {
                        order_id: decode(item, "order_id")?,
                        shipment_id: decode(item, "shipment_id")?,
                        return_id: item.contains_key("return_id").then(|| decode(item, "return_id")).transpose()?,
                    });
                }
                if let Some(AttributeValue::Ss(digests)) = item.get("digests") {
                    lookup.digests = digests.iter().cloned().collect();
                }
                if item.contains_key("tracking_status") {
                    lookup.status = Some(decode(item, "tracking_status")?);
                }
            } else if sk.starts_with(keys::PENDING_PREFIX) {
                lookup.pending.push(decode(item, "update")?);
            }
        }
        Ok(lookup)
    }

    async fn keep_pending_update(
        &self,
        shop: &ShopId,
        update: &CarrierUpdate,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        use sha2::Digest;
        // Keyed by content, so the same webhook delivered again overwrites itself.
        let digest = sha2::Sha256::digest(serde_json::to_vec(update).expect("updates serialize"));
        let sk = format!("{}{}", keys::PENDING_PREFIX, hex::encode(&digest[..16]));
        let mut item = key(keys::tracking(shop, &update.tracking_number), sk);
        item.insert("update".into(), encode(update));
        item.insert(TTL_ATTRIBUTE.into(), n(expires_at.timestamp()));
        let kept = Put::builder().table_name(&self.table).set_item(Some(item)).build().expect("table and item are set");
        // The mark and the shipment's index write (`StateChange::NewShipment`) meet on one item:
        // either the shipment sees updates waiting, or this sees the shipment and keeps nothing.
        let mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::tracking(shop, &update.tracking_number), keys::TRACKING)))
            .update_expression("SET #pending = :t")
            .condition_expression("attribute_not_exists(order_id)")
            .expression_attribute_names("#pending", PENDING_ATTRIBUTE)
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .build()
            .expect("table, key and expression are set");
        let items =
            vec![TransactWriteItem::builder().put(kept).build(), TransactWriteItem::builder().update(mark).build()];
        for _ in 0..3 {
            let Err(reasons) = self.transact(items.clone()).await? else { return Ok(true) };
            match reasons.iter().find_map(|r| r.code().filter(|c| *c != "None")) {
                Some("ConditionalCheckFailed") => return Ok(false),
                Some("TransactionConflict") => continue,
                other => return Err(StoreError::Unavailable(format!("transaction cancelled: {other:?}"))),
            }
        }
        Err(StoreError::Unavailable("transaction conflicts on the tracking number".into()))
    }

    async fn put_tracking(
        &self,
        shop: &ShopId,
        order: &OrderId,
        shipment_id: &str,
        tracking: &ShipmentTracking,
        expected: Option<u64>,
    ) -> Result<bool, StoreError> {
        let (item, condition, values) = tracking_write(shop, order, shipment_id, tracking, expected);
        self.put_conditional(item, condition, values).await
    }

    async fn record_delivery(
        &self,
        shop: &ShopId,
        order: &OrderId,
        record: &DeliveryRecord,
    ) -> Result<bool, StoreError> {
        self.put_conditional(delivery_item(shop, order, record), "attribute_not_exists(pk)", HashMap::new()).await
    }

    async fn mark_shipments_first(&self, shop: &ShopId, order: &OrderId) -> Result<(), StoreError> {
        self.put(key(keys::order(shop, order), keys::SHIPMENTS_FIRST)).await
    }

    async fn list_shops(&self) -> Result<Vec<ShopId>, StoreError> {
        let items = self.query_partition(keys::SHOPS.to_owned(), Some(GSI1)).await?;
        items.iter().map(|item| decode(item, GSI1_SORT_KEY)).collect()
    }

    async fn due_reviews(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueReview>, StoreError> {
        let items = self.index_range(keys::review_due(shop), from, to, Some(limit)).await?;
        items
            .iter()
            .map(|item| {
                Ok(DueReview {
                    order_id: decode(item, "order_id")?,
                    delivery: decode(item, "delivery")?,
                    attempts: item.contains_key("attempts").then(|| decode(item, "attempts")).transpose()?.unwrap_or(0),
                })
            })
            .collect()
    }

    async fn defer_review(&self, shop: &ShopId, due: &DueReview, until: DateTime<Utc>) -> Result<bool, StoreError> {
        // Only while it is still due and no other run counted this attempt.
        let condition = match due.attempts {
            0 => "gsi1pk = :due AND attribute_not_exists(attempts)",
            _ => "gsi1pk = :due AND attempts = :previous",
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::order(shop, &due.order_id), keys::DELIVERY)))
            .update_expression("SET gsi1sk = :sk, attempts = :attempts")
            .condition_expression(condition)
            .expression_attribute_values(":due", s(keys::review_due(shop)))
            .expression_attribute_values(":sk", s(keys::by_time(until, &due.order_id)))
            .expression_attribute_values(":attempts", n(i64::from(due.attempts) + 1));
        if due.attempts > 0 {
            update = update.expression_attribute_values(":previous", n(i64::from(due.attempts)));
        }
        match update.send().await {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn finish_review(&self, shop: &ShopId, due: &DueReview, outcome: &ReviewOutcome) -> Result<bool, StoreError> {
        let partition = match outcome {
            ReviewOutcome::Sent { .. } => keys::review_sent(shop),
            ReviewOutcome::Skipped { .. } => keys::review_skipped(shop),
        };
        let mut item = key(keys::order(shop, &due.order_id), keys::DELIVERY);
        item.insert("order_id".into(), s(due.order_id.as_str()));
        item.insert("delivery".into(), encode(&due.delivery));
        item.insert("review".into(), encode(outcome));
        item.insert(GSI1_PARTITION_KEY.into(), s(partition));
        item.insert(GSI1_SORT_KEY.into(), s(keys::by_time(outcome.at(), &due.order_id)));
        let values = HashMap::from([(":due".to_owned(), s(keys::review_due(shop)))]);
        self.put_conditional(item, "gsi1pk = :due", values).await
    }

    async fn review_outcomes(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ReviewOutcome>, StoreError> {
        let mut outcomes = Vec::new();
        for partition in [keys::review_sent(shop), keys::review_skipped(shop)] {
            for item in self.index_range(partition, from, to, None).await? {
                outcomes.push(decode(&item, "review")?);
            }
        }
        Ok(outcomes)
    }

    async fn is_unsubscribed(&self, shop: &ShopId, email: &str) -> Result<bool, StoreError> {
        self.exists(keys::unsubscribed(shop, email), keys::UNSUBSCRIBED).await
    }

    async fn unsubscribe(&self, shop: &ShopId, email: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut item = key(keys::unsubscribed(shop, email), keys::UNSUBSCRIBED);
        item.insert("at".into(), s(keys::time(at)));
        self.put(item).await
    }

    async fn record_survey_answer(&self, shop: &ShopId, answer: &SurveyAnswer) -> Result<bool, StoreError> {
        let millis = answer.answered_at.timestamp_millis();
        let mut item = key(keys::order(shop, &answer.order_id), keys::SURVEY);
        item.insert("answer".into(), encode(answer));
        item.insert("answered_at_ms".into(), n(millis));
        item.insert(GSI1_PARTITION_KEY.into(), s(keys::nps(shop)));
        item.insert(GSI1_SORT_KEY.into(), s(keys::by_time(answer.answered_at, &answer.order_id)));
        let values = HashMap::from([(":t".to_owned(), n(millis))]);
        self.put_conditional(item, "attribute_not_exists(pk) OR answered_at_ms <= :t", values).await
    }

    async fn survey_answers(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SurveyAnswer>, StoreError> {
        let items = self.index_range(keys::nps(shop), from, to, None).await?;
        items.iter().map(|item| decode(item, "answer")).collect()
    }

    async fn create_return(
        &self,
        shop: &ShopId,
        ret: &Return,
        reserves: Option<u64>,
    ) -> Result<ReturnCreated, StoreError> {
        // The id index first: idempotent, and harmless if the return write then loses.
        let mut index = key(keys::return_id(shop, &ret.id), keys::RETURN_ID);
        index.insert("order_id".into(), s(ret.request.order_id.as_str()));
        self.put(index).await?;
        let item = Self::return_item(shop, ret);
        fits(&item)?;
        let existing = |item: Option<&Item>| -> Result<ReturnCreated, StoreError> {
            let existing = item.cloned().unwrap_or_default();
            Ok(ReturnCreated::Exists(Box::new(decode(&existing, "ret")?)))
        };
        let Some(read_at) = reserves else {
            // Reserves nothing (every item rejected): stored whatever else happened meanwhile.
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            return match result {
                Ok(_) => Ok(ReturnCreated::Created),
                Err(err) => match err.as_service_error() {
                    Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                        existing(c.item.as_ref())
                    }
                    _ => Err(unavailable(err)),
                },
            };
        };
        // The version the decision was read at moves on in the same transaction: of two returns
        // decided from one view, only the first is stored; the other reads again.
        let version = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::order(shop, &ret.request.order_id), keys::RETURNS_VERSION)))
            .update_expression("SET version = :next")
            .expression_attribute_values(":next", n(read_at as i64 + 1));
        let version = match read_at {
            0 => version.condition_expression("attribute_not_exists(version)"),
            _ => {
                version.condition_expression("version = :read").expression_attribute_values(":read", n(read_at as i64))
            }
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .expect("table and item are set");
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(version.build().expect("table, key and expression are set")).build(),
        ];
        let Err(reasons) = self.transact(items).await? else { return Ok(ReturnCreated::Created) };
        let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
        match (code(0), code(1)) {
            ("ConditionalCheckFailed", _) => existing(reasons[0].item()),
            // Moved on, or being moved by another transaction right now: read again.
            (_, "ConditionalCheckFailed") | ("TransactionConflict", _) | (_, "TransactionConflict") => {
                Ok(ReturnCreated::Stale)
            }
            other => Err(StoreError::Unavailable(format!("return transaction cancelled: {other:?}"))),
        }
    }

    async fn update_return(&self, shop: &ShopId, ret: &Return, from: ReturnState) -> Result<bool, StoreError> {
        let item = Self::return_item(shop, ret);
        fits(&item)?;
        let values = HashMap::from([(":from".to_owned(), s(from.as_str()))]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#state = :from")
            .expression_attribute_names("#state", "state")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn find_return(&self, shop: &ShopId, id: &str) -> Result<Option<Return>, StoreError> {
        let Some(index) = self.get(keys::return_id(shop, id), keys::RETURN_ID, true).await? else { return Ok(None) };
        let order: OrderId = decode(&index, "order_id")?;
        let item = self.get(keys::order(shop, &order), &keys::return_item(id), true).await?;
        item.map(|item| decode(&item, "ret")).transpose()
    }

    async fn returns_in_state(&self, shop: &ShopId, state: ReturnState) -> Result<Vec<Return>, StoreError> {
        let items = self.query_partition(keys::returns_in(shop, state), Some(GSI1)).await?;
        items.iter().map(|item| decode(item, "ret")).collect()
    }

    async fn register_return_parcel(
        &self,
        shop: &ShopId,
        number: &TrackingNumber,
        order: &OrderId,
        return_id: &str,
    ) -> Result<(), StoreError> {
        let mut index = key(keys::tracking(shop, number), keys::TRACKING);
        index.insert("order_id".into(), s(order.as_str()));
        index.insert("shipment_id".into(), s(""));
        index.insert("return_id".into(), s(return_id));
        self.put(index).await
    }

    async fn claim_messages(
        &self,
        shop: &ShopId,
        order: &OrderId,
        keys: &[MessageKey],
        claim: &Claim,
        change: Option<StateChange<'_>>,
    ) -> Result<ClaimBatch, StoreError> {
        let change_items = change.map(|c| self.change_items(shop, order, c)).unwrap_or_default();
        let mut claims = vec![ClaimOutcome::NotAttempted; keys.len()];
        let mut open: Vec<usize> = (0..keys.len()).collect();
        let mut conflicts = 0;
        loop {
            if change_items.is_empty() && open.len() <= 1 {
                if let Some(&i) = open.first() {
                    claims[i] = self.claim_one(claim_item(shop, order, &keys[i], claim), claim).await?;
                }
                return Ok(ClaimBatch { change: None, claims });
            }
            let mut items: Vec<TransactWriteItem> = change_items.iter().map(|(item, _)| item.clone()).collect();
            for &i in &open {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(claim_item(shop, order, &keys[i], claim)))
                    .condition_expression(CLAIM_CONDITION)
                    .expression_attribute_names("#state", "state")
                    .expression_attribute_values(":sending", s("sending"))
                    .expression_attribute_values(":now", n(claim.at.timestamp_millis()))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .expect("table and item are set");
                items.push(TransactWriteItem::builder().put(put).build());
            }
            let Err(reasons) = self.transact(items).await? else {
                for &i in &open {
                    claims[i] = ClaimOutcome::Claimed;
                }
                return Ok(ClaimBatch { change: change.map(|_| ChangeOutcome::Written), claims });
            };
            if reasons.len() != change_items.len() + open.len() {
                return Err(StoreError::Unavailable(format!("transaction cancelled with {} reasons", reasons.len())));
            }
            let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
            if (0..reasons.len()).any(|i| code(i) == "TransactionConflict") {
                // Another transaction on the same items: try again, a few times.
                conflicts += 1;
                if conflicts < 3 {
                    continue;
                }
                return Err(StoreError::Unavailable("transaction conflicts on the order's items".into()));
            }
            if let Some(other) = (0..reasons.len()).map(code).find(|c| !matches!(*c, "None" | "ConditionalCheckFailed"))
            {
                return Err(StoreError::Unavailable(format!("transaction cancelled: {other}")));
            }
            let refused = change_items.iter().enumerate().find(|(i, _)| code(*i) == "ConditionalCheckFailed");
            let mut still_open = Vec::new();
            for (position, &i) in open.iter().enumerate() {
                let reason = &reasons[change_items.len() + position];
                if reason.code() == Some("ConditionalCheckFailed") {
                    claims[i] = claim_refused(reason.item(), claim);
                } else {
                    still_open.push(i);
                }
            }
            if let Some((_, (_, outcome))) = refused {
                return Ok(ClaimBatch { change: Some(*outcome), claims });
            }
            open = still_open;
        }
    }

    async fn complete_messages(
        &self,
        shop: &ShopId,
        order: &OrderId,
        records: &[MessageRecord],
        applied: Option<Applied<'_>>,
    ) -> Result<(), StoreError> {
        if let Some(update) = applied.and_then(|a| self.applied_update(shop, a)) {
            let mut items: Vec<TransactWriteItem> = records
                .iter()
                .map(|record| {
                    let put = Put::builder().table_name(&self.table).set_item(Some(record_item(shop, order, record)));
                    TransactWriteItem::builder().put(put.build().expect("table and item are set")).build()
                })
                .collect();
            items.push(TransactWriteItem::builder().update(update).build());
            self.client.transact_write_items().set_transact_items(Some(items)).send().await.map_err(unavailable)?;
            return Ok(());
        }
        if records.is_empty() {
            return Ok(());
        }
        if let [record] = records {
            return self.put(record_item(shop, order, record)).await;
        }
        let mut requests: Vec<WriteRequest> = records
            .iter()
            .map(|record| {
                let put = PutRequest::builder().set_item(Some(record_item(shop, order, record))).build();
                WriteRequest::builder().put_request(put.expect("item is set")).build()
            })
            .collect();
        // Throttled parts come back unprocessed; they are retried here, briefly.
        for attempt in 0..5 {
            if requests.is_empty() {
                return Ok(());
            }
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
            }
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(unavailable)?;
            requests = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
        }
        Err(StoreError::Unavailable(format!("{} message records left unprocessed", requests.len())))
    }

    async fn release_message(
        &self,
        shop: &ShopId,
        order: &OrderId,
        message: &MessageKey,
        claim_token: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::order(shop, order), keys::message(message))))
            .condition_expression("claim_token = :token AND #state = :sending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":token", s(claim_token))
            .expression_attribute_values(":sending", s("sending"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Someone else took the claim over after our lease: nothing of ours to release.
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }
}

/// Creates the table from [`crate::adapters::dynamo::table::table_def`] unless it exists. For local runs and tests;
/// in AWS the SAM template creates it. Returns true when it was created.
pub async fn create_table_if_missing(client: &Client, table: &str) -> Result<bool, StoreError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType, TimeToLiveSpecification,
    };
    let def = crate::adapters::dynamo::table::table_def();
    let key_schema = |keys: &crate::adapters::dynamo::table::KeyDef| {
        vec![
            KeySchemaElement::builder().attribute_name(keys.partition).key_type(KeyType::Hash).build(),
            KeySchemaElement::builder().attribute_name(keys.sort).key_type(KeyType::Range).build(),
        ]
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .expect("key schema elements are complete")
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&def.keys)));
    for name in &def.string_attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(*name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition is complete"),
        );
    }
    for index in &def.global_indexes {
        let projection = if index.projection_all { ProjectionType::All } else { ProjectionType::KeysOnly };
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .set_key_schema(Some(key_schema(&index.keys)))
                .projection(Projection::builder().projection_type(projection).build())
                .build()
                .expect("index definition is complete"),
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => return Ok(false),
        Err(err) => return Err(unavailable(err)),
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(def.ttl_attribute)
                .build()
                .expect("ttl specification is complete"),
        )
        .send()
        .await
        .map_err(unavailable)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_sizes_are_counted_as_dynamodb_counts_them() {
        let item = key("SHOP#a".into(), "ORDER");
        assert_eq!(item_size(&item), "pk".len() + 6 + "sk".len() + 5);
        let value = encode(&serde_json::json!({ "n": 12345, "ok": true, "list": ["ab", "c"] }));
        // A map: 3 + per field 1 + name + value; the list 3 + per element 1 + value.
        assert_eq!(value_size(&value), 3 + (1 + 1 + 4) + (1 + 2 + 1) + (1 + 4 + (3 + 3 + 2)));
        let mut big = key("SHOP#a".into(), "ORDER");
        big.insert("order".into(), s("x".repeat(MAX_ITEM_BYTES)));
        let Err(StoreError::TooLarge { key, bytes, .. }) = fits(&big) else { panic!("a 400 KB string fits") };
        assert_eq!((key.as_str(), bytes), ("SHOP#a/ORDER", MAX_ITEM_BYTES + 20));
        big.insert("order".into(), s("x".repeat(MAX_ITEM_BYTES - 20)));
        assert!(fits(&big).is_ok());
    }
}
