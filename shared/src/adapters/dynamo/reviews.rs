//! Review requests through gsi1 (due, sent, skipped) and NPS answers.

use super::*;

impl ReviewStore for DynamoStore {
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
                    order_id: decode(item, attr::ORDER_ID)?,
                    delivery: decode(item, attr::DELIVERY)?,
                    attempts: item
                        .contains_key(attr::ATTEMPTS)
                        .then(|| decode(item, attr::ATTEMPTS))
                        .transpose()?
                        .unwrap_or(0),
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
        item.insert(attr::ORDER_ID.into(), s(due.order_id.as_str()));
        item.insert(attr::DELIVERY.into(), encode(&due.delivery));
        item.insert(attr::REVIEW.into(), encode(outcome));
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
                outcomes.push(decode(&item, attr::REVIEW)?);
            }
        }
        Ok(outcomes)
    }

    async fn record_survey_answer(&self, shop: &ShopId, answer: &SurveyAnswer) -> Result<bool, StoreError> {
        let millis = answer.answered_at.timestamp_millis();
        let mut item = key(keys::order(shop, &answer.order_id), keys::SURVEY);
        item.insert(attr::ANSWER.into(), encode(answer));
        item.insert(attr::ANSWERED_AT_MS.into(), n(millis));
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
        items.iter().map(|item| decode(item, attr::ANSWER)).collect()
    }
}
