//! The returns portal behind the customer's returns link: the page (served by the pages
//! function) and its plain form post (handled by the return function).

use crate::domain::ids::OrderId;
use crate::domain::returns::{RequestedItem, Resolution, ReturnRequest, returnable_items};
use crate::domain::settings::ShopSettings;
use crate::ports::store::{Store, StoreError};
use crate::render::{TemplateError, or_default_templates, render_returns_portal};
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("order not found")]
    OrderNotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// The portal page for an order, with an optional message about the last attempt.
pub async fn portal_page<S: Store>(
    store: &S,
    settings: &ShopSettings,
    order_id: &OrderId,
    action: &str,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, PortalError> {
    let view = store.order_view(&settings.shop, order_id).await?;
    let order = view.order.as_ref().ok_or(PortalError::OrderNotFound)?;
    let delivered_at = view.delivery.as_ref().map(|d| d.delivered_at);
    let items = returnable_items(&settings.return_policy, order, delivered_at, &view.returns, now, settings.time_zone);
    // The form carries its own idempotency key: a double submit is one return.
    let form_key = uuid::Uuid::new_v4().simple().to_string();
    Ok(or_default_templates(settings, "returns_portal.html", |settings| {
        render_returns_portal(settings, order, &items, &view.returns, action, &form_key, error)
    })?)
}

/// The portal's form (`qty_{line}`, `reason_{line}`, `comment_{line}`, `photo_{line}`,
/// `resolution`, `exchange_variant`, `idempotency_key`) as a return request and its key.
/// `Err` is a sentence for the customer.
pub fn request_from_form(order_id: &OrderId, form: &[u8]) -> Result<(ReturnRequest, Option<String>), &'static str> {
    let fields: Vec<(String, String)> = form_urlencoded::parse(form).into_owned().collect();
    let field =
        |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned()).filter(|v| !v.is_empty());
    let mut items = Vec::new();
    for (name, value) in &fields {
        let Some(line_item) = name.strip_prefix("qty_") else { continue };
        let quantity: u32 = value.trim().parse().map_err(|_| "Please choose how many of each item to return.")?;
        if quantity == 0 {
            continue;
        }
        let reason = field(&format!("reason_{line_item}")).ok_or("Please choose a reason for each item.")?;
        items.push(RequestedItem {
            line_item: line_item.to_owned(),
            quantity,
            reason,
            comment: field(&format!("comment_{line_item}")),
            photo_urls: field(&format!("photo_{line_item}")).into_iter().collect(),
        });
    }
    if items.is_empty() {
        return Err("Choose at least one item to return.");
    }
    let resolution = match field("resolution").as_deref() {
        Some("refund") | None => Resolution::Refund,
        Some("store_credit") => Resolution::StoreCredit,
        Some("exchange") => Resolution::Exchange {
            variant: field("exchange_variant").ok_or("Tell us which size or colour you would like instead.")?,
        },
        Some(_) => return Err("Please choose a refund, store credit or an exchange."),
    };
    let request = ReturnRequest { order_id: order_id.clone(), items, resolution, comment: None };
    Ok((request, field("idempotency_key").filter(|k| k.len() <= 200)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> OrderId {
        OrderId::parse("1001").unwrap()
    }

    #[test]
    fn a_filled_form_becomes_a_request() {
        let form = b"qty_L1=2&reason_L1=doesnt_fit&comment_L1=Too+small&photo_L1=&qty_L2=0&reason_L2=damaged\
&resolution=exchange&exchange_variant=L+%2F+Sand&idempotency_key=abc";
        let (request, key) = request_from_form(&order(), form).unwrap();
        assert_eq!(key.as_deref(), Some("abc"));
        assert_eq!(request.items.len(), 1);
        assert_eq!(request.items[0].line_item, "L1");
        assert_eq!(request.items[0].quantity, 2);
        assert_eq!(request.items[0].comment.as_deref(), Some("Too small"));
        assert!(request.items[0].photo_urls.is_empty());
        assert_eq!(request.resolution, Resolution::Exchange { variant: "L / Sand".into() });
    }

    #[test]
    fn incomplete_forms_say_what_is_missing() {
        assert!(request_from_form(&order(), b"qty_L1=0").is_err());
        assert!(request_from_form(&order(), b"qty_L1=1").unwrap_err().contains("reason"));
        assert!(request_from_form(&order(), b"qty_L1=x&reason_L1=a").is_err());
        let exchange = b"qty_L1=1&reason_L1=a&resolution=exchange";
        assert!(request_from_form(&order(), exchange).unwrap_err().contains("size or colour"));
        assert!(request_from_form(&order(), b"qty_L1=1&reason_L1=a&resolution=cash").is_err());
    }
}
