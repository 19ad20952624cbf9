//! Orders, shipments and the delivery record: one partition per order, newer versions win.

use super::*;

/// The order's item, indexed by its number in the same write (so finding an order by the number
/// a customer quotes costs the webhooks nothing).
pub(super) fn order_item(shop: &ShopId, id: &OrderId, order: &Order) -> Item {
    let mut item = key(keys::order(shop, id), keys::ORDER);
    item.insert(attr::ORDER.into(), encode(order));
    if let Some(number) = crate::ports::store::order_number_key(&order.number) {
        item.insert(GSI1_PARTITION_KEY.into(), s(keys::order_number(shop, &number)));
        item.insert(GSI1_SORT_KEY.into(), s(id.as_str()));
    }
    item
}

/// The order's entry in its customer's index (none without an address).
pub(super) fn customer_item(shop: &ShopId, order: &Order) -> Option<Item> {
    let email = order.customer.email.as_deref()?;
    Some(key(keys::customer(shop, email), order.id.as_str()))
}

pub(super) fn delivery_item(shop: &ShopId, order: &OrderId, record: &DeliveryRecord) -> Item {
    let mut item = key(keys::order(shop, order), keys::DELIVERY);
    item.insert(GSI1_PARTITION_KEY.into(), s(keys::review_due(shop)));
    item.insert(GSI1_SORT_KEY.into(), s(keys::by_time(record.review_due_at, order)));
    item.insert(attr::ORDER_ID.into(), s(order.as_str()));
    item.insert(attr::DELIVERY.into(), encode(record));
    item
}

impl OrderStore for DynamoStore {
    async fn upsert_order(&self, order: &Order) -> Result<Upsert<Order>, StoreError> {
        let item = order_item(&order.shop, &order.id, order);
        let upsert = match self.put_if_newer(item, order.updated_at).await? {
            Ok(true) => Upsert::Updated,
            Ok(false) => Upsert::Created,
            Err(stored) => return Ok(Upsert::Stale(Box::new(decode(&stored, attr::ORDER)?))),
        };
        if let Some(item) = customer_item(&order.shop, order) {
            self.put(item).await?;
        }
        Ok(upsert)
    }

    async fn get_order(&self, shop: &ShopId, id: &OrderId) -> Result<Option<Order>, StoreError> {
        let item = self.get(keys::order(shop, id), keys::ORDER, true).await?;
        item.map(|item| decode(&item, attr::ORDER)).transpose()
    }

    async fn order_view(&self, shop: &ShopId, id: &OrderId) -> Result<OrderView, StoreError> {
        let items = self.query_partition(keys::order(shop, id), None).await?;
        let mut view = OrderView::default();
        for item in &items {
            let sk = item.get(SORT_KEY).and_then(|v| v.as_s().ok()).map_or("", String::as_str);
            if sk == keys::ORDER {
                view.order = Some(decode(item, attr::ORDER)?);
            } else if sk.starts_with(keys::SHIPMENT_PREFIX) {
                let shipment: Shipment = decode(item, attr::SHIPMENT)?;
                if item.get(attr::INDEXED).is_some_and(|v| v.as_bool() == Ok(&true)) {
                    view.indexed.insert(shipment.id.clone());
                }
                view.shipments.push(shipment);
            } else if sk.starts_with(keys::MESSAGE_PREFIX) {
                view.messages.push(decode(item, attr::RECORD)?);
            } else if let Some(shipment_id) = sk.strip_prefix(keys::TRACKING_STATE_PREFIX) {
                let versioned =
                    Versioned { value: decode(item, attr::TRACKING)?, version: decode(item, attr::VERSION)? };
                let shipment_id = ShipmentId::parse(shipment_id)
                    .map_err(|e| StoreError::Corrupt { key: sk.to_owned(), detail: e.to_string() })?;
                view.tracking.insert(shipment_id, versioned);
            } else if sk == keys::DELIVERY {
                view.delivery = Some(decode(item, attr::DELIVERY)?);
            } else if sk.starts_with(keys::RETURN_PREFIX) {
                view.returns.push(decode(item, attr::RETURN)?);
            } else if sk.starts_with(keys::FEEDBACK_PREFIX) {
                view.mail_feedback.push(decode(item, attr::FEEDBACK)?);
            } else if sk == keys::RETURNS_VERSION {
                view.returns_version = decode(item, attr::VERSION)?;
            }
        }
        view.messages.sort_by_key(|m| m.at);
        Ok(view)
    }

    async fn orders_by_number(&self, shop: &ShopId, number: &str) -> Result<Vec<Order>, StoreError> {
        let Some(number) = crate::ports::store::order_number_key(number) else { return Ok(Vec::new()) };
        let items = self.query_partition(keys::order_number(shop, &number), Some(GSI1)).await?;
        items.iter().map(|item| decode(item, attr::ORDER)).collect()
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
        let item = shipment_item(shop, shipment);
        match self.put_if_newer(item, shipment.updated_at).await? {
            Ok(true) => Ok(Upsert::Updated),
            Ok(false) => Ok(Upsert::Created),
            Err(stored) => Ok(Upsert::Stale(Box::new(decode(&stored, attr::SHIPMENT)?))),
        }
    }

    async fn mark_shipments_first(&self, shop: &ShopId, order: &OrderId) -> Result<(), StoreError> {
        self.put(key(keys::order(shop, order), keys::SHIPMENTS_FIRST)).await
    }

    async fn record_delivery(
        &self,
        shop: &ShopId,
        order: &OrderId,
        record: &DeliveryRecord,
    ) -> Result<bool, StoreError> {
        self.put_conditional(delivery_item(shop, order, record), "attribute_not_exists(pk)", HashMap::new()).await
    }
}
