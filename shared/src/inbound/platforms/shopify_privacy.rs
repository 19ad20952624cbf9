//! Shopify's mandatory compliance webhooks (`customers/data_request`, `customers/redact`,
//! `shop/redact`), signed as every Shopify webhook (the caller verifies the HMAC first). Shapes
//! from shopify.dev, "Privacy law compliance": the customer may come with only an email, and the
//! orders as numeric ids.

use crate::domain::privacy::{CustomerRef, PrivacyRequest};
use crate::inbound::ParseError;
use crate::inbound::wire::{self, AtMost, FlexId};
use serde::Deserialize;

/// Most orders one request names (a customer with more is found by the address as well).
const MAX_ORDERS: usize = 1000;

/// The request of a compliance topic; `None` for any other topic.
pub fn parse(topic: &str, body: &[u8]) -> Result<Option<PrivacyRequest>, ParseError> {
    Ok(Some(match topic.trim() {
        "customers/data_request" => {
            let raw: RawDataRequest = wire::from_body(body)?;
            let customer = customer(raw.customer, raw.orders_requested, "orders_requested")?;
            PrivacyRequest::CustomerData { customer, request_id: raw.data_request.and_then(|r| r.id.into_option()) }
        }
        "customers/redact" => {
            let raw: RawRedact = wire::from_body(body)?;
            PrivacyRequest::RedactCustomer {
                customer: customer(raw.customer, raw.orders_to_redact, "orders_to_redact")?,
            }
        }
        "shop/redact" => {
            let _: RawShop = wire::from_body(body)?;
            PrivacyRequest::RedactShop
        }
        _ => return Ok(None),
    }))
}

fn customer(raw: RawCustomer, orders: AtMost<FlexId, MAX_ORDERS>, path: &str) -> Result<CustomerRef, ParseError> {
    let email = raw.email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    let orders = orders.0.into_iter().map(|id| wire::order_id(path, id)).collect::<Result<Vec<_>, _>>()?;
    if email.is_none() && orders.is_empty() {
        return Err(ParseError::field("customer.email", "neither an email nor orders name the customer"));
    }
    Ok(CustomerRef { email, orders })
}

#[derive(Deserialize)]
struct RawCustomer {
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct RawDataRequestId {
    id: FlexId,
}

#[derive(Deserialize)]
struct RawDataRequest {
    customer: RawCustomer,
    #[serde(default)]
    orders_requested: AtMost<FlexId, MAX_ORDERS>,
    #[serde(default)]
    data_request: Option<RawDataRequestId>,
}

#[derive(Deserialize)]
struct RawRedact {
    customer: RawCustomer,
    #[serde(default)]
    orders_to_redact: AtMost<FlexId, MAX_ORDERS>,
}

#[derive(Deserialize)]
struct RawShop {
    #[allow(dead_code)]
    shop_domain: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::OrderId;

    fn ids(raw: &[&str]) -> Vec<OrderId> {
        raw.iter().map(|id| OrderId::parse(id).unwrap()).collect()
    }

    #[test]
    fn the_documented_payloads_read_as_requests() {
        let data =
            br#"{"shop_id":954889,"shop_domain":"{shop}.myshopify.com","orders_requested":[299938,280263,220458],
            "customer":{"id":191167,"email":"john@example.com","phone":"555-625-1199"},"data_request":{"id":9999}}"#;
        let customer =
            CustomerRef { email: Some("john@example.com".into()), orders: ids(&["299938", "280263", "220458"]) };
        assert_eq!(
            parse("customers/data_request", data).unwrap(),
            Some(PrivacyRequest::CustomerData { customer: customer.clone(), request_id: Some("9999".into()) })
        );
        let redact = br#"{"shop_id":954889,"shop_domain":"{shop}.myshopify.com",
            "customer":{"id":191167,"email":"john@example.com","phone":"555-625-1199"},"orders_to_redact":[299938,280263,220458]}"#;
        assert_eq!(parse("customers/redact", redact).unwrap(), Some(PrivacyRequest::RedactCustomer { customer }));
        let shop = br#"{"shop_id":954889,"shop_domain":"{shop}.myshopify.com"}"#;
        assert_eq!(parse("shop/redact", shop).unwrap(), Some(PrivacyRequest::RedactShop));
        assert_eq!(parse("orders/create", shop).unwrap(), None);
    }

    #[test]
    fn a_customer_named_by_the_email_alone_or_by_nothing() {
        let email_only = br#"{"shop_domain":"s.myshopify.com","customer":{"email":"john@example.com"}}"#;
        let Some(PrivacyRequest::RedactCustomer { customer }) = parse("customers/redact", email_only).unwrap() else {
            panic!()
        };
        assert_eq!((customer.email.as_deref(), customer.orders.len()), (Some("john@example.com"), 0));
        let nobody = br#"{"shop_domain":"s.myshopify.com","customer":{"id":1},"orders_to_redact":[]}"#;
        assert!(matches!(parse("customers/redact", nobody), Err(ParseError::Field { .. })));
        assert!(parse("customers/redact", b"[]").is_err());
    }
}
