//! Privacy requests carried out: a copy of what the shop holds about a customer, forgetting a
//! customer (`domain::privacy` says what goes), forgetting a shop. Each is recorded, naming
//! nobody, so the shop can show what it did and when.

use crate::domain::ids::{OrderId, ShopId};
use crate::domain::mail_feedback::{MailFeedback, Suppression};
use crate::domain::messages::MessageRecord;
use crate::domain::order::{Order, Shipment};
use crate::domain::privacy::{CustomerRef, PrivacyAction, PrivacyRecord, PrivacyRequest};
use crate::domain::returns::Return;
use crate::ports::clock::Clock;
use crate::ports::store::{Store, StoreError};
use serde::Serialize;
use std::collections::BTreeSet;

/// Everything the shop holds about one customer, as JSON for them.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerExport {
    pub shop: ShopId,
    pub email: Option<String>,
    pub orders: Vec<ExportedOrder>,
    pub unsubscribed: bool,
    pub suppression: Option<Suppression>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportedOrder {
    pub order: Order,
    pub shipments: Vec<Shipment>,
    pub messages: Vec<MessageRecord>,
    pub mail_feedback: Vec<MailFeedback>,
    pub returns: Vec<Return>,
}

/// Over a store and a clock only: the operator's commands run it without the customer links'
/// key or a sender.
pub struct Privacy<'a, S, C> {
    pub store: &'a S,
    pub clock: &'a C,
}

impl<S: Store, C: Clock> Privacy<'_, S, C> {
    /// Carries out a platform's request and records it.
    pub async fn carry_out(&self, shop: &ShopId, request: &PrivacyRequest) -> Result<PrivacyRecord, StoreError> {
        match request {
            // The copy goes to the customer through the shop: recorded here for the operator
            // (`ppx customer requests`), who sends `ppx customer export`'s JSON.
            PrivacyRequest::CustomerData { customer, request_id } => {
                let orders = self.orders_of(shop, customer).await?.len();
                self.note(shop, PrivacyAction::DataRequested, orders, request_id.clone()).await
            }
            PrivacyRequest::RedactCustomer { customer } => self.redact_customer(shop, customer).await,
            PrivacyRequest::RedactShop => {
                self.store.forget_shop(shop).await?;
                self.note(shop, PrivacyAction::ShopRedacted, 0, None).await
            }
        }
    }

    /// The orders named, and those of the address.
    async fn orders_of(&self, shop: &ShopId, customer: &CustomerRef) -> Result<BTreeSet<OrderId>, StoreError> {
        let mut orders: BTreeSet<OrderId> = customer.orders.iter().cloned().collect();
        if let Some(email) = &customer.email {
            orders.extend(self.store.customer_orders(shop, email).await?);
        }
        Ok(orders)
    }

    /// Forgets the customer in each of their orders and in the suppression list (its hash
    /// stays, so an address that bounced is still never mailed).
    pub async fn redact_customer(&self, shop: &ShopId, customer: &CustomerRef) -> Result<PrivacyRecord, StoreError> {
        let mut redacted = 0;
        for order in self.orders_of(shop, customer).await? {
            if self.store.redact_order(shop, &order).await? {
                redacted += 1;
            }
        }
        if let Some(email) = &customer.email {
            self.store.redact_suppression(shop, email).await?;
        }
        tracing::info!(orders = redacted, "customer's personal data erased");
        self.note(shop, PrivacyAction::CustomerRedacted, redacted, None).await
    }

    /// What the shop holds about the customer.
    pub async fn export(&self, shop: &ShopId, customer: &CustomerRef) -> Result<CustomerExport, StoreError> {
        let mut orders = Vec::new();
        for id in self.orders_of(shop, customer).await? {
            let view = self.store.order_view(shop, &id).await?;
            let Some(order) = view.order else { continue };
            orders.push(ExportedOrder {
                order,
                shipments: view.shipments,
                messages: view.messages,
                mail_feedback: view.mail_feedback,
                returns: view.returns,
            });
        }
        let (unsubscribed, suppression) = match &customer.email {
            Some(email) => (self.store.is_unsubscribed(shop, email).await?, self.store.suppression(shop, email).await?),
            None => (false, None),
        };
        Ok(CustomerExport { shop: shop.clone(), email: customer.email.clone(), orders, unsubscribed, suppression })
    }

    async fn note(
        &self,
        shop: &ShopId,
        action: PrivacyAction,
        orders: usize,
        request_id: Option<String>,
    ) -> Result<PrivacyRecord, StoreError> {
        let record = PrivacyRecord { action, at: self.clock.now(), orders, request_id };
        self.store.note_privacy(shop, &record).await?;
        Ok(record)
    }
}
