//! The DynamoDB adapter. One table; keys are documented in the README ("Table design").

mod consent;
mod ledger;
mod mail;
mod orders;
mod privacy;
mod returns;
mod reviews;
mod schema;
mod settings;
pub mod table;
mod tracking;
mod watch;

use crate::adapters::dynamo::table::{GSI1, GSI1_PARTITION_KEY, GSI1_SORT_KEY, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
use crate::domain::ids::{OrderId, ReturnId, ShipmentId, ShopId, TrackingNumber};
use crate::domain::messages::{DeliveryState, MessageKey, MessageRecord, Notice};
use crate::domain::order::{Order, Shipment};
use crate::domain::returns::{Return, ReturnState};
use crate::domain::settings::ShopSettings;
use crate::domain::tracking::{CarrierUpdate, ShipmentTracking};
use crate::ports::store::roles::*;
use crate::ports::store::{
    Applied, ChangeOutcome, Claim, ClaimBatch, ClaimOutcome, DeliveryRecord, DueReview, DueWatch, OrderView, Parcel,
    ReturnCreated, ReviewOutcome, StateChange, StoreError, SurveyAnswer, TrackingLookup, TrackingTarget, Upsert,
    Versioned,
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

use orders::{delivery_item, order_item};
pub use schema::keys;
use schema::{Cancellation, SENDING, attr};
use tracking::{shipment_index, shipment_item, tracking_write};
use watch::{deferred_text_item, ship_by_item, watch_attributes};

type Item = HashMap<String, AttributeValue>;

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
        item.insert(attr::UPDATED_AT_MS.into(), n(updated_at.timestamp_millis()));
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

    /// Up to 25 writes in one request; throttled parts come back unprocessed and are retried
    /// here, briefly.
    async fn write_batch(&self, mut requests: Vec<WriteRequest>) -> Result<(), StoreError> {
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
        Err(StoreError::Unavailable(format!("{} writes left unprocessed", requests.len())))
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
        big.insert(attr::ORDER.into(), s("x".repeat(MAX_ITEM_BYTES)));
        let Err(StoreError::TooLarge { key, bytes, .. }) = fits(&big) else { panic!("a 400 KB string fits") };
        assert_eq!((key.as_str(), bytes), ("SHOP#a/ORDER", MAX_ITEM_BYTES + 20));
        big.insert(attr::ORDER.into(), s("x".repeat(MAX_ITEM_BYTES - 20)));
        assert!(fits(&big).is_ok());
    }
}
