//! Returns: in their order's partition, found by id through an index item, listed by state on gsi1.

use super::*;

impl DynamoStore {
    pub(super) fn return_item(shop: &ShopId, ret: &Return) -> Item {
        let mut item = key(keys::order(shop, &ret.request.order_id), keys::return_item(&ret.id));
        item.insert(attr::RETURN.into(), encode(ret));
        item.insert(attr::STATE.into(), s(ret.state.as_str()));
        item.insert(GSI1_PARTITION_KEY.into(), s(keys::returns_in(shop, ret.state)));
        item.insert(GSI1_SORT_KEY.into(), s(keys::by_time(ret.created_at, &ret.request.order_id)));
        item
    }
}

impl ReturnStore for DynamoStore {
    async fn create_return(
        &self,
        shop: &ShopId,
        ret: &Return,
        reserves: Option<u64>,
    ) -> Result<ReturnCreated, StoreError> {
        // The id index first: idempotent, and harmless if the return write then loses.
        let mut index = key(keys::return_id(shop, &ret.id), keys::RETURN_ID);
        index.insert(attr::ORDER_ID.into(), s(ret.request.order_id.as_str()));
        self.put(index).await?;
        let item = Self::return_item(shop, ret);
        fits(&item)?;
        let existing = |item: Option<&Item>| -> Result<ReturnCreated, StoreError> {
            let existing = item.cloned().unwrap_or_default();
            Ok(ReturnCreated::Exists(Box::new(decode(&existing, attr::RETURN)?)))
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
        let said = |i: usize| Cancellation::of(reasons.get(i));
        match (said(0), said(1)) {
            (Cancellation::ConditionFailed, _) => existing(reasons[0].item()),
            // Moved on, or being moved by another transaction right now: read again.
            (_, Cancellation::ConditionFailed) | (Cancellation::Conflict, _) | (_, Cancellation::Conflict) => {
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
            .expression_attribute_names("#state", attr::STATE)
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn find_return(&self, shop: &ShopId, id: &ReturnId) -> Result<Option<Return>, StoreError> {
        let Some(index) = self.get(keys::return_id(shop, id), keys::RETURN_ID, true).await? else { return Ok(None) };
        let order: OrderId = decode(&index, attr::ORDER_ID)?;
        let item = self.get(keys::order(shop, &order), &keys::return_item(id), true).await?;
        item.map(|item| decode(&item, attr::RETURN)).transpose()
    }

    async fn returns_in_state(&self, shop: &ShopId, state: ReturnState) -> Result<Vec<Return>, StoreError> {
        let items = self.query_partition(keys::returns_in(shop, state), Some(GSI1)).await?;
        items.iter().map(|item| decode(item, attr::RETURN)).collect()
    }

    async fn register_return_parcel(
        &self,
        shop: &ShopId,
        number: &TrackingNumber,
        order: &OrderId,
        return_id: &ReturnId,
    ) -> Result<(), StoreError> {
        let mut index = key(keys::tracking(shop, number), keys::TRACKING);
        index.insert(attr::ORDER_ID.into(), s(order.as_str()));
        index.insert(attr::SHIPMENT_ID.into(), s(""));
        index.insert(attr::RETURN_ID.into(), s(return_id.as_str()));
        self.put(index).await
    }
}
