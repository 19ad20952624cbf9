//! Tracking numbers (one partition each: the index item and kept updates) and each shipment's
//! versioned tracking state in its order's partition.

use super::*;
use crate::domain::watch::Watch;

/// Points a tracking number at its shipment: key, update expression and values. An update, so
/// that what carrier updates recorded on the number stays.
pub(super) fn shipment_index(
    shop: &ShopId,
    number: &TrackingNumber,
    shipment: &Shipment,
) -> (Item, &'static str, Item) {
    let values =
        HashMap::from([(":o".to_owned(), s(shipment.order_id.as_str())), (":s".to_owned(), s(shipment.id.as_str()))]);
    (key(keys::tracking(shop, number), keys::TRACKING), "SET order_id = :o, shipment_id = :s", values)
}

/// A shipment's item, watched for its first scan when it has a tracking number (due at once:
/// the sweep knows the shop's number of days and moves it).
pub(super) fn shipment_item(shop: &ShopId, shipment: &Shipment) -> Item {
    let mut item = key(keys::order(shop, &shipment.order_id), keys::shipment(&shipment.id));
    item.insert(attr::SHIPMENT.into(), encode(shipment));
    if shipment.tracking_number.is_some() {
        watch_attributes(
            &mut item,
            shop,
            &shipment.order_id,
            Some(&shipment.id),
            Watch::FirstScan,
            shipment.created_at,
        );
    }
    item
}

/// A shipment's tracking item with the condition on its version.
pub(super) fn tracking_write(
    shop: &ShopId,
    order: &OrderId,
    shipment_id: &ShipmentId,
    tracking: &ShipmentTracking,
    expected: Option<u64>,
) -> (Item, &'static str, Item) {
    let mut item = key(keys::order(shop, order), keys::tracking_state(shipment_id));
    item.insert(attr::TRACKING.into(), encode(tracking));
    item.insert(attr::VERSION.into(), n(expected.map_or(1, |v| v as i64 + 1)));
    if let Some(at) = tracking.watch_at {
        watch_attributes(&mut item, shop, order, Some(shipment_id), Watch::NextScan, at);
    }
    match expected {
        None => (item, "attribute_not_exists(pk)", HashMap::new()),
        Some(version) => (item, "version = :v", HashMap::from([(":v".to_owned(), n(version as i64))])),
    }
}

impl TrackingStore for DynamoStore {
    async fn lookup_tracking(&self, shop: &ShopId, number: &TrackingNumber) -> Result<TrackingLookup, StoreError> {
        let items = self.query_partition(keys::tracking(shop, number), None).await?;
        let mut lookup = TrackingLookup::default();
        for item in &items {
            let sk = item.get(SORT_KEY).and_then(|v| v.as_s().ok()).map_or("", String::as_str);
            if sk == keys::TRACKING {
                // Without an order the item only marks updates waiting for their shipment.
                if item.contains_key(attr::ORDER_ID) {
                    // A return parcel's item has a return id (and an empty shipment id).
                    let parcel = match item.contains_key(attr::RETURN_ID) {
                        true => Parcel::Return(decode(item, attr::RETURN_ID)?),
                        false => Parcel::Shipment(decode(item, attr::SHIPMENT_ID)?),
                    };
                    lookup.target = Some(TrackingTarget { order_id: decode(item, attr::ORDER_ID)?, parcel });
                }
                if let Some(AttributeValue::Ss(digests)) = item.get(attr::DIGESTS) {
                    lookup.digests = digests.iter().cloned().collect();
                }
                if item.contains_key(attr::TRACKING_STATUS) {
                    lookup.status = Some(decode(item, attr::TRACKING_STATUS)?);
                }
            } else if sk.starts_with(keys::PENDING_PREFIX) {
                lookup.pending.push(decode(item, attr::UPDATE)?);
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
        item.insert(attr::UPDATE.into(), encode(update));
        item.insert(TTL_ATTRIBUTE.into(), n(expires_at.timestamp()));
        let kept = Put::builder().table_name(&self.table).set_item(Some(item)).build().expect("table and item are set");
        // The mark and the shipment's index write (`StateChange::NewShipment`) meet on one item:
        // either the shipment sees updates waiting, or this sees the shipment and keeps nothing.
        let mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::tracking(shop, &update.tracking_number), keys::TRACKING)))
            .update_expression("SET #pending = :t")
            .condition_expression("attribute_not_exists(order_id)")
            .expression_attribute_names("#pending", attr::PENDING)
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .build()
            .expect("table, key and expression are set");
        let items =
            vec![TransactWriteItem::builder().put(kept).build(), TransactWriteItem::builder().update(mark).build()];
        for _ in 0..3 {
            let Err(reasons) = self.transact(items.clone()).await? else { return Ok(true) };
            match reasons.iter().map(|r| Cancellation::of(Some(r))).find(|c| *c != Cancellation::Passed) {
                Some(Cancellation::ConditionFailed) => return Ok(false),
                Some(Cancellation::Conflict) => continue,
                other => return Err(StoreError::Unavailable(format!("transaction cancelled: {other:?}"))),
            }
        }
        Err(StoreError::Unavailable("transaction conflicts on the tracking number".into()))
    }

    async fn put_tracking(
        &self,
        shop: &ShopId,
        order: &OrderId,
        shipment_id: &ShipmentId,
        tracking: &ShipmentTracking,
        expected: Option<u64>,
    ) -> Result<bool, StoreError> {
        let (item, condition, values) = tracking_write(shop, order, shipment_id, tracking, expected);
        self.put_conditional(item, condition, values).await
    }
}
