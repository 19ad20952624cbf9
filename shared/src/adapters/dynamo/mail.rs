//! Mail feedback beside the order's messages, and each shop's suppressed addresses.

use super::*;
use crate::domain::mail_feedback::{MailFeedback, Suppression};
use crate::ports::store::email_key;

/// The condition that keeps an email's claim only while its address is not suppressed, with
/// the suppression returned when it is.
pub(super) fn unsuppressed_check(table: &str, shop: &ShopId, address: &str) -> TransactWriteItem {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key(keys::suppressed(shop), email_key(address))))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .expect("table, key and condition are set");
    TransactWriteItem::builder().condition_check(check).build()
}

/// The suppression a refused check returned (its item), else as read back.
pub(super) async fn suppression_of(
    store: &DynamoStore,
    shop: &ShopId,
    address: &str,
    refused: Option<&Item>,
) -> Result<Suppression, StoreError> {
    if let Some(item) = refused.filter(|item| item.contains_key(attr::SUPPRESSION)) {
        return decode(item, attr::SUPPRESSION);
    }
    // Removed between the check and this read: the claim was made under it all the same.
    store.suppression(shop, address).await?.ok_or_else(|| StoreError::Unavailable("suppression moved".into()))
}

impl MailStore for DynamoStore {
    async fn note_mail_feedback(
        &self,
        shop: &ShopId,
        order: &OrderId,
        feedback: &MailFeedback,
    ) -> Result<bool, StoreError> {
        let mut item = key(keys::order(shop, order), keys::feedback(&feedback.provider_message_id));
        item.insert(attr::FEEDBACK.into(), encode(feedback));
        item.insert(attr::RANK.into(), n(feedback.outcome.rank().into()));
        let values = HashMap::from([(":rank".to_owned(), n(feedback.outcome.rank().into()))]);
        self.put_conditional(item, "attribute_not_exists(pk) OR feedback_rank < :rank", values).await
    }

    async fn suppress(&self, shop: &ShopId, address: &str, suppression: &Suppression) -> Result<bool, StoreError> {
        let mut item = key(keys::suppressed(shop), email_key(address));
        item.insert(attr::SUPPRESSION.into(), encode(suppression));
        self.put_conditional(item, "attribute_not_exists(pk)", HashMap::new()).await
    }

    async fn unsuppress(&self, shop: &ShopId, address: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::suppressed(shop), email_key(address))))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_some_and(|old| !old.is_empty()))
    }

    async fn suppression(&self, shop: &ShopId, address: &str) -> Result<Option<Suppression>, StoreError> {
        let item = self.get(keys::suppressed(shop), &email_key(address), true).await?;
        item.map(|item| decode(&item, attr::SUPPRESSION)).transpose()
    }

    async fn suppressions(&self, shop: &ShopId) -> Result<Vec<Suppression>, StoreError> {
        let items = self.query_partition(keys::suppressed(shop), None).await?;
        items.iter().map(|item| decode(item, attr::SUPPRESSION)).collect()
    }
}
