//! Privacy requests (a copy of a customer's data, forgetting a customer, forgetting a shop) and
//! what forgetting removes: the customer's name, address, phone and email from the orders, the
//! addresses and subjects the messages went to, the free text they wrote (survey and return
//! comments). What stays is what the shop's figures need and names nobody: items, amounts,
//! dates, statuses, survey scores, the country and region deliveries were promised for, and the hash of an
//! address that must never be mailed again.

use crate::domain::ids::OrderId;
use crate::domain::messages::MessageRecord;
use crate::domain::names::wire_enum;
use crate::domain::order::Order;
use crate::domain::returns::Return;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a platform (Shopify's mandatory compliance webhooks) or the operator asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivacyRequest {
    /// The shop owes the customer a copy of what it holds about them.
    CustomerData { customer: CustomerRef, request_id: Option<String> },
    /// Forget the customer: the orders named, and every order found by the address.
    RedactCustomer { customer: CustomerRef },
    /// The shop uninstalled the app (Shopify sends it 48 hours after): forget the shop.
    RedactShop,
}

/// Whom a request is about: the address, and the orders the platform names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerRef {
    pub email: Option<String>,
    pub orders: Vec<OrderId>,
}

wire_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum PrivacyAction {
        DataRequested = "data_requested",
        CustomerRedacted = "customer_redacted",
        ShopRedacted = "shop_redacted",
    }
}

/// That a request was carried out, kept for the shop's records of processing. Names no one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyRecord {
    pub action: PrivacyAction,
    pub at: DateTime<Utc>,
    /// How many orders it covered.
    pub orders: usize,
    /// The platform's id of the request, when it gave one.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// What forgetting leaves of an order: no name, address, phone or consent, no postal code.
pub fn redact_order(order: &mut Order) {
    let customer = &mut order.customer;
    customer.first_name = None;
    customer.last_name = None;
    customer.email = None;
    customer.phone = None;
    customer.sms_consent = false;
    customer.marketing_consent = false;
    if let Some(address) = &mut order.shipping_address {
        address.postal_code = None;
    }
}

/// A message's record without where it went and what its subject said (a subject may greet
/// the customer by name).
pub fn redact_message(record: &mut MessageRecord) {
    record.destination = None;
    record.subject = None;
}

/// A return keeps its items and amounts and loses the customer's and the operator's words.
pub fn redact_return(ret: &mut Return) {
    ret.request.comment = None;
    ret.operator_note = None;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::ShopId;

    fn order() -> Order {
        let body = include_bytes!("../../../tests/fixtures/shopify-orders-create.json");
        let shop = ShopId::parse("demo-shop").unwrap();
        match crate::inbound::platforms::shopify::parse(&shop, "orders/create", body).unwrap() {
            crate::inbound::platforms::PlatformEvent::Order { order, .. } => *order,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_redacted_order_names_nobody_and_keeps_what_the_figures_need() {
        let original = order();
        let mut redacted = original.clone();
        redact_order(&mut redacted);
        let json = serde_json::to_string(&redacted).unwrap();
        let customer = &original.customer;
        for value in [&customer.email, &customer.first_name, &customer.last_name].into_iter().flatten() {
            assert!(!json.contains(value.as_str()), "{value} left in {json}");
        }
        assert_eq!(redacted.customer.phone, None);
        assert!(!redacted.customer.sms_consent);
        assert_eq!((redacted.items.clone(), redacted.totals.clone()), (original.items, original.totals));
        let country = |o: &Order| o.shipping_address.as_ref().map(|a| a.country.clone());
        assert_eq!(country(&redacted), country(&order()));
        assert!(redacted.shipping_address.as_ref().is_none_or(|a| a.postal_code.is_none()));
    }
}
