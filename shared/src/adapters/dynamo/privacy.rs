//! Forgetting: each item of an order rewritten without the customer's data, the address's
//! index entries deleted, a suppression kept by its hash alone.

use super::*;
use crate::domain::mail_feedback::Suppression;
use crate::domain::privacy::{PrivacyRecord, redact_message, redact_order, redact_return};
use crate::ports::store::{SurveyAnswer, email_key};

/// An item of the order other than the order itself without its customer's data, if it holds
/// any (`None`: leave it as it is).
fn redacted(sort_key: &str, item: &Item) -> Result<Option<Item>, StoreError> {
    let mut item = item.clone();
    if sort_key.starts_with(keys::MESSAGE_PREFIX) {
        let mut record: MessageRecord = decode(&item, attr::RECORD)?;
        redact_message(&mut record);
        item.insert(attr::RECORD.into(), encode(&record));
    } else if sort_key == keys::SURVEY {
        let mut answer: SurveyAnswer = decode(&item, attr::ANSWER)?;
        answer.redact();
        item.insert(attr::ANSWER.into(), encode(&answer));
    } else if sort_key.starts_with(keys::RETURN_PREFIX) {
        let mut ret: Return = decode(&item, attr::RETURN)?;
        redact_return(&mut ret);
        item.insert(attr::RETURN.into(), encode(&ret));
    } else {
        return Ok(None);
    }
    Ok(Some(item))
}

impl PrivacyStore for DynamoStore {
    async fn customer_orders(&self, shop: &ShopId, email: &str) -> Result<Vec<OrderId>, StoreError> {
        let items = self.query_partition(keys::customer(shop, email), None).await?;
        let ids = items.iter().filter_map(|item| item.get(SORT_KEY).and_then(|v| v.as_s().ok()));
        ids.map(|id| OrderId::parse(id).map_err(|e| StoreError::Corrupt { key: id.clone(), detail: e.to_string() }))
            .collect()
    }

    async fn redact_order(&self, shop: &ShopId, order: &OrderId) -> Result<bool, StoreError> {
        let items = self.query_partition(keys::order(shop, order), None).await?;
        let mut rewritten = Vec::new();
        // The order's item, read once: whether there is one, and the address it is indexed by.
        let mut address = None;
        let mut found = false;
        for item in &items {
            let sort_key = item.get(SORT_KEY).and_then(|v| v.as_s().ok()).map_or("", String::as_str);
            if sort_key == keys::ORDER {
                let mut stored: Order = decode(item, attr::ORDER)?;
                found = true;
                address = stored.customer.email.clone();
                redact_order(&mut stored);
                let mut item = item.clone();
                item.insert(attr::ORDER.into(), encode(&stored));
                rewritten.push(item);
            } else {
                rewritten.extend(redacted(sort_key, item)?);
            }
        }
        if !found {
            return Ok(false);
        }
        // Each item written back whole, as read, but for the customer's data.
        for chunk in rewritten.chunks(25) {
            let requests = chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder().set_item(Some(item.clone())).build().expect("item is set");
                    WriteRequest::builder().put_request(put).build()
                })
                .collect();
            self.write_batch(requests).await?;
        }
        if let Some(email) = address {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::customer(shop, &email), order.as_str())))
                .send()
                .await
                .map_err(unavailable)?;
        }
        Ok(true)
    }

    async fn redact_suppression(&self, shop: &ShopId, email: &str) -> Result<(), StoreError> {
        let Some(mut item) = self.get(keys::suppressed(shop), &email_key(email), true).await? else { return Ok(()) };
        let mut suppression: Suppression = decode(&item, attr::SUPPRESSION)?;
        suppression.address = None;
        item.insert(attr::SUPPRESSION.into(), encode(&suppression));
        self.put(item).await
    }

    async fn forget_shop(&self, shop: &ShopId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::shop(shop), keys::SETTINGS)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn note_privacy(&self, shop: &ShopId, record: &PrivacyRecord) -> Result<(), StoreError> {
        // By time to the millisecond, then a random part (two requests in one millisecond).
        let sort_key = format!(
            "{}#{:03}#{}",
            keys::time(record.at),
            record.at.timestamp_subsec_millis(),
            uuid::Uuid::new_v4().simple()
        );
        let mut item = key(keys::privacy(shop), sort_key);
        item.insert(attr::PRIVACY.into(), encode(record));
        self.put(item).await
    }

    async fn privacy_records(&self, shop: &ShopId) -> Result<Vec<PrivacyRecord>, StoreError> {
        let items = self.query_partition(keys::privacy(shop), None).await?;
        items.iter().map(|item| decode(item, attr::PRIVACY)).collect()
    }
}
