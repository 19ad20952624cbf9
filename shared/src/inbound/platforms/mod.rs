//! Inbound platform formats (order and fulfillment webhooks). One file per provider; each maps
//! into [`PlatformEvent`].

pub mod generic_order;
pub mod shopify;
pub mod shopify_privacy;
pub mod woocommerce;

use crate::domain::order::{Order, Shipment};
use crate::domain::text::CleanText;

/// What an order webhook tells us.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum PlatformEvent {
    Order {
        topic: OrderTopic,
        order: Box<Order>,
    },
    /// A shipment of an order was created or updated (tracking number, carrier, items).
    Fulfillment {
        shipment: Shipment,
    },
    /// A privacy request (Shopify's mandatory compliance topics).
    #[serde(skip)]
    Privacy(crate::domain::privacy::PrivacyRequest),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum OrderTopic {
    Created,
    Updated,
    Cancelled,
}

impl CleanText for PlatformEvent {
    fn clean_text(&mut self) {
        match self {
            Self::Order { order, .. } => order.clean_text(),
            Self::Fulfillment { shipment } => shipment.clean_text(),
            // Read for the ids and the address only; nothing of it is shown or sent.
            Self::Privacy(_) => {}
        }
    }
}
