//! Watched orders and parcels on gsi1 (`SHOP#{shop}#WATCH`, by time): the attributes go on an
//! order's ship-by item (written with the new order), the shipment's item (its first scan) and on
//! its tracking state's item (its next scan) as they are written;
//! the sweep moves or ends them with a condition on the time it read.

use super::*;
use crate::domain::messages::{MessageKind, MessageScope, Notice};
use crate::domain::quiet_hours::DeferredText;
use crate::domain::watch::Watch;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;

/// Makes `item` (a shipment's, or its tracking state's) a watch due at `at`.
pub(super) fn watch_attributes(
    item: &mut Item,
    shop: &ShopId,
    order: &OrderId,
    shipment_id: Option<&ShipmentId>,
    watch: Watch,
    at: DateTime<Utc>,
) {
    item.insert(GSI1_PARTITION_KEY.into(), s(keys::watch(shop)));
    item.insert(GSI1_SORT_KEY.into(), s(keys::by_time(at, order)));
    item.insert(attr::WATCH.into(), s(watch.as_str()));
    item.insert(attr::ORDER_ID.into(), s(order.as_str()));
    if let Some(id) = shipment_id {
        item.insert(attr::SHIPMENT_ID.into(), s(id.as_str()));
    }
}

/// An order's ship-by watch: an item of its own, since the order's item is on gsi1 by number.
pub(super) fn ship_by_item(shop: &ShopId, order: &OrderId, at: DateTime<Utc>) -> Item {
    let mut item = key(keys::order(shop, order), keys::SHIP_BY);
    watch_attributes(&mut item, shop, order, None, Watch::ShipBy, at);
    item
}

/// A parcel text held back by quiet hours, due when they end: an item per text.
pub(super) fn deferred_text_item(shop: &ShopId, order: &OrderId, text: &DeferredText) -> Item {
    let notice = &text.notice;
    let mut item = key(keys::order(shop, order), keys::deferred_text(notice));
    watch_attributes(&mut item, shop, order, notice.scope.shipment(), Watch::Text, text.until);
    item.insert(attr::KIND.into(), s(notice.kind.as_str()));
    item.insert(attr::SCOPE.into(), s(notice.scope.to_string()));
    item
}

/// The item a watch lives on.
fn watched_item(shop: &ShopId, due: &DueWatch) -> Item {
    let sort_key = match (due.watch, &due.shipment_id, &due.text) {
        (Watch::Text, _, Some(notice)) => keys::deferred_text(notice),
        (Watch::FirstScan, Some(id), _) => keys::shipment(id),
        (Watch::NextScan, Some(id), _) => keys::tracking_state(id),
        _ => keys::SHIP_BY.to_owned(),
    };
    key(keys::order(shop, &due.order_id), sort_key)
}

/// The notice a deferred text's item holds.
fn deferred_notice(item: &Item) -> Result<Notice, StoreError> {
    let (kind, scope): (String, String) = (decode(item, attr::KIND)?, decode(item, attr::SCOPE)?);
    let corrupt = || StoreError::Corrupt { key: format!("{kind}#{scope}"), detail: "not a notice".into() };
    let kind = MessageKind::parse(&kind).ok_or_else(corrupt)?;
    Ok(Notice::new(kind, MessageScope::parse(kind, &scope).ok_or_else(corrupt)?))
}

/// The time a watch's index sort key names (`keys::by_time`).
fn due_time(item: &Item) -> Result<DateTime<Utc>, StoreError> {
    let sort_key: String = decode(item, GSI1_SORT_KEY)?;
    keys::time_of(&sort_key).ok_or_else(|| StoreError::Corrupt { key: sort_key, detail: "not a time".into() })
}

impl DynamoStore {
    /// An update of a watch's item that applies only while it is still due at `due.at`.
    fn update_while_due(&self, shop: &ShopId, due: &DueWatch) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(watched_item(shop, due)))
            .condition_expression("gsi1pk = :watch AND gsi1sk = :due")
            .expression_attribute_values(":watch", s(keys::watch(shop)))
            .expression_attribute_values(":due", s(keys::by_time(due.at, &due.order_id)))
    }
}

impl WatchStore for DynamoStore {
    async fn due_watches(
        &self,
        shop: &ShopId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueWatch>, StoreError> {
        let items = self.index_range(keys::watch(shop), from, to, Some(limit)).await?;
        items
            .iter()
            .map(|item| {
                let watch: String = decode(item, attr::WATCH)?;
                Ok(DueWatch {
                    order_id: decode(item, attr::ORDER_ID)?,
                    shipment_id: item
                        .contains_key(attr::SHIPMENT_ID)
                        .then(|| decode(item, attr::SHIPMENT_ID))
                        .transpose()?,
                    watch: Watch::parse(&watch)
                        .ok_or_else(|| StoreError::Corrupt { key: watch.clone(), detail: "not a watch".into() })?,
                    at: due_time(item)?,
                    text: match item.contains_key(attr::KIND) {
                        true => Some(deferred_notice(item)?),
                        false => None,
                    },
                })
            })
            .collect()
    }

    async fn retime_watch(&self, shop: &ShopId, due: &DueWatch, until: DateTime<Utc>) -> Result<bool, StoreError> {
        let update = self
            .update_while_due(shop, due)
            .update_expression("SET gsi1sk = :until")
            .expression_attribute_values(":until", s(keys::by_time(until, &due.order_id)));
        conditional(update.send().await)
    }

    async fn finish_watch(&self, shop: &ShopId, due: &DueWatch) -> Result<bool, StoreError> {
        let update = self
            .update_while_due(shop, due)
            .update_expression("REMOVE gsi1pk, gsi1sk, #watch")
            .expression_attribute_names("#watch", attr::WATCH);
        conditional(update.send().await)
    }

    async fn watch_order(&self, shop: &ShopId, order: &OrderId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.put(ship_by_item(shop, order, at)).await
    }
}

/// A conditional update's outcome: done, or its condition was false.
fn conditional<T>(
    result: Result<T, SdkError<UpdateItemError, aws_sdk_dynamodb::config::http::HttpResponse>>,
) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
        Err(err) => Err(unavailable(err)),
    }
}
