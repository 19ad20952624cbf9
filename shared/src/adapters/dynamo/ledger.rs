//! The message ledger: claims, records and the state changes written with them, in one
//! transaction per decision.

use super::*;
use crate::domain::mail_feedback::Suppression;
use crate::domain::messages::Channel;

/// A claim may be taken when none exists, or when its holder's lease ran out before sending.
pub(super) const CLAIM_CONDITION: &str = "attribute_not_exists(pk) OR (#state = :sending AND lease_until_ms < :now)";

pub(super) fn claim_item(shop: &ShopId, order: &OrderId, message: &MessageKey, claim: &Claim) -> Item {
    let mut item = key(keys::order(shop, order), keys::message(message));
    item.insert(attr::STATE.into(), s(SENDING));
    item.insert(attr::CLAIM_TOKEN.into(), s(claim.token.as_str()));
    item.insert(attr::LEASE_UNTIL_MS.into(), n(claim.lease_until.timestamp_millis()));
    item.insert(attr::RECORD.into(), encode(&MessageRecord::claimed(message, claim.at)));
    item
}

pub(super) fn record_item(shop: &ShopId, order: &OrderId, record: &MessageRecord) -> Item {
    let mut item = key(keys::order(shop, order), keys::message(&record.key()));
    item.insert(attr::STATE.into(), s(record.state.as_str()));
    item.insert(attr::RECORD.into(), encode(record));
    item
}

/// The claims of emails taken while their address is suppressed, as such.
fn suppressed(
    mut claims: Vec<ClaimOutcome>,
    keys: &[MessageKey],
    suppression: Option<&Suppression>,
) -> Vec<ClaimOutcome> {
    if let Some(suppression) = suppression {
        for (outcome, key) in claims.iter_mut().zip(keys) {
            if key.channel == Channel::Email && *outcome == ClaimOutcome::Claimed {
                *outcome = ClaimOutcome::Suppressed(suppression.clone());
            }
        }
    }
    claims
}

/// Why a claim was refused, from the item that refused it. A retry of our own claim whose
/// response was lost finds its own token: that claim is ours.
pub(super) fn claim_refused(stored: Option<&Item>, claim: &Claim) -> ClaimOutcome {
    let text = |name: &str| stored.and_then(|i| i.get(name)).and_then(|v| v.as_s().ok()).map(String::as_str);
    match (text(attr::STATE), text(attr::CLAIM_TOKEN)) {
        (Some(SENDING), Some(token)) if token == claim.token => ClaimOutcome::Claimed,
        (Some(SENDING), _) => ClaimOutcome::InFlight,
        _ => ClaimOutcome::AlreadyDone,
    }
}

impl DynamoStore {
    /// The transaction items of a state change, each with what its refusal means.
    pub(super) fn change_items(
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
        // A put whose item decides nothing (a watch): the change's other writes do.
        let unconditional = |item: Item| {
            let put = Put::builder().table_name(&self.table).set_item(Some(item)).build();
            TransactWriteItem::builder().put(put.expect("table and item are set")).build()
        };
        // A put that wins only over an older version (or nothing).
        let newer = |mut item: Item, updated_at: DateTime<Utc>| {
            let updated_at = n(updated_at.timestamp_millis());
            item.insert(attr::UPDATED_AT_MS.into(), updated_at.clone());
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
                let mut items = vec![
                    (newer(item, new.updated_at), ChangeOutcome::Stale),
                    (absent(keys::SHIPMENTS_FIRST.to_owned()), ChangeOutcome::ShipmentsFirst),
                ];
                // Watched for its shipping: due at once, the sweep knows the shop's days.
                if new.status != crate::domain::order::OrderStatus::Cancelled {
                    items.push((unconditional(ship_by_item(shop, order, new.placed_at)), ChangeOutcome::Stale));
                }
                // Found by its customer's address when the customer is to be forgotten.
                if let Some(item) = orders::customer_item(shop, new) {
                    items.push((unconditional(item), ChangeOutcome::Stale));
                }
                items
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
                        .expression_attribute_names("#pending", attr::PENDING)
                        .build()
                        .expect("table, key and expression are set");
                    items.push((TransactWriteItem::builder().update(index).build(), ChangeOutcome::UpdatesWaiting));
                }
                let mut item = shipment_item(shop, shipment);
                item.insert(attr::INDEXED.into(), AttributeValue::Bool(true));
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
                // The same text deferred twice is one item.
                for text in change.deferred {
                    items.push((unconditional(deferred_text_item(shop, order, text)), ChangeOutcome::Stale));
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
    pub(super) fn applied_update(&self, shop: &ShopId, applied: Applied<'_>) -> Option<Update> {
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
    pub(super) async fn claim_one(&self, item: Item, claim: &Claim) -> Result<ClaimOutcome, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_names("#state", attr::STATE)
            .expression_attribute_values(":sending", s(SENDING))
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

impl MessageLedger for DynamoStore {
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
        // The emails' address is checked against the suppression list in the claim's request;
        // once found there, the claims are taken without the check and come back suppressed.
        let email_to = claim.email_to.as_deref();
        let mut suppression: Option<Suppression> = None;
        loop {
            let check =
                email_to.filter(|_| suppression.is_none() && open.iter().any(|&i| keys[i].channel == Channel::Email));
            if change_items.is_empty() && open.len() <= 1 && check.is_none() {
                if let Some(&i) = open.first() {
                    claims[i] = self.claim_one(claim_item(shop, order, &keys[i], claim), claim).await?;
                }
                return Ok(ClaimBatch { change: None, claims: suppressed(claims, keys, suppression.as_ref()) });
            }
            let mut items: Vec<TransactWriteItem> = change_items.iter().map(|(item, _)| item.clone()).collect();
            for &i in &open {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(claim_item(shop, order, &keys[i], claim)))
                    .condition_expression(CLAIM_CONDITION)
                    .expression_attribute_names("#state", attr::STATE)
                    .expression_attribute_values(":sending", s(SENDING))
                    .expression_attribute_values(":now", n(claim.at.timestamp_millis()))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .expect("table and item are set");
                items.push(TransactWriteItem::builder().put(put).build());
            }
            if let Some(address) = check {
                items.push(mail::unsuppressed_check(&self.table, shop, address));
            }
            let Err(reasons) = self.transact(items).await? else {
                for &i in &open {
                    claims[i] = ClaimOutcome::Claimed;
                }
                let change = change.map(|_| ChangeOutcome::Written);
                return Ok(ClaimBatch { change, claims: suppressed(claims, keys, suppression.as_ref()) });
            };
            let claimed_from = change_items.len();
            if reasons.len() != claimed_from + open.len() + usize::from(check.is_some()) {
                return Err(StoreError::Unavailable(format!("transaction cancelled with {} reasons", reasons.len())));
            }
            let said: Vec<Cancellation> = reasons.iter().map(|r| Cancellation::of(Some(r))).collect();
            if said.contains(&Cancellation::Conflict) {
                // Another transaction on the same items: try again, a few times.
                conflicts += 1;
                if conflicts < 3 {
                    continue;
                }
                return Err(StoreError::Unavailable("transaction conflicts on the order's items".into()));
            }
            if let Some(Cancellation::Other(other)) = said.iter().find(|c| matches!(c, Cancellation::Other(_))) {
                return Err(StoreError::Unavailable(format!("transaction cancelled: {other}")));
            }
            if let Some(address) = check.filter(|_| said.last() == Some(&Cancellation::ConditionFailed)) {
                let refused = reasons.last().and_then(CancellationReason::item);
                suppression = Some(mail::suppression_of(self, shop, address, refused).await?);
            }
            let refused = change_items.iter().zip(&said).find(|(_, c)| **c == Cancellation::ConditionFailed);
            let mut still_open = Vec::new();
            for (position, &i) in open.iter().enumerate() {
                let reason = &reasons[claimed_from + position];
                if said[claimed_from + position] == Cancellation::ConditionFailed {
                    claims[i] = claim_refused(reason.item(), claim);
                } else {
                    still_open.push(i);
                }
            }
            if let Some(((_, refused), _)) = refused {
                let claims = suppressed(claims, keys, suppression.as_ref());
                return Ok(ClaimBatch { change: Some(*refused), claims });
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
        let requests: Vec<WriteRequest> = records
            .iter()
            .map(|record| {
                let put = PutRequest::builder().set_item(Some(record_item(shop, order, record))).build();
                WriteRequest::builder().put_request(put.expect("item is set")).build()
            })
            .collect();
        self.write_batch(requests).await
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
            .expression_attribute_names("#state", attr::STATE)
            .expression_attribute_values(":token", s(claim_token))
            .expression_attribute_values(":sending", s(SENDING))
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
