//! What became of the emails sent (SES's feedback) and the addresses each shop no longer mails.
//! The suppression list is also read where it decides: a claim of an email holds only while its
//! address is not on it (`Claim::email_to`), in the claim's own request.

use super::StoreError;
use crate::domain::ids::{OrderId, ShopId};
use crate::domain::mail_feedback::{MailFeedback, Suppression};
use std::future::Future;

pub trait MailStore: Send + Sync {
    /// Notes what SES said of an email of an order, unless as grave news or graver is already
    /// noted for it (`MailOutcome::rank`). True when it was noted.
    fn note_mail_feedback(
        &self,
        shop: &ShopId,
        order: &OrderId,
        feedback: &MailFeedback,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Stops `shop` mailing `address`; the first reason stays. True when it was not suppressed.
    fn suppress(
        &self,
        shop: &ShopId,
        address: &str,
        suppression: &Suppression,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Lets `shop` mail `address` again. True when it was suppressed.
    fn unsuppress(&self, shop: &ShopId, address: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn suppression(
        &self,
        shop: &ShopId,
        address: &str,
    ) -> impl Future<Output = Result<Option<Suppression>, StoreError>> + Send;
    /// Every address the shop does not mail, in no particular order.
    fn suppressions(&self, shop: &ShopId) -> impl Future<Output = Result<Vec<Suppression>, StoreError>> + Send;
}
