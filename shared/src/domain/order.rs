//! The normalized order and shipment every provider format maps into.

use crate::domain::ids::{OrderId, ShipmentId, ShopId, TrackingNumber};
use crate::domain::money::{Currency, Money};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Where an order came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Shopify,
    Woocommerce,
    Generic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Open,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Paid,
    PartiallyRefunded,
    Refunded,
    Voided,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// E.164 when the platform gave a usable number.
    pub phone: Option<String>,
    pub sms_consent: bool,
    pub marketing_consent: bool,
    pub locale: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub id: Option<String>,
    pub product_id: Option<String>,
    pub sku: Option<String>,
    pub title: String,
    pub variant: Option<String>,
    pub quantity: u32,
    pub unit_price: Money,
    pub product_type: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl LineItem {
    pub fn line_total(&self) -> Result<Money, crate::domain::money::MoneyError> {
        self.unit_price.checked_mul(self.quantity)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub subtotal: Money,
    pub shipping: Money,
    pub tax: Money,
    pub discount: Money,
    pub total: Money,
}

/// Only what delivery dates and returns need; street and name stay with the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingAddress {
    /// ISO 3166-1 alpha-2 when known.
    pub country: String,
    pub region: Option<String>,
    pub postal_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub shop: ShopId,
    pub id: OrderId,
    /// What the customer sees, e.g. `#1234`.
    pub number: String,
    pub platform: Platform,
    pub customer: Customer,
    pub items: Vec<LineItem>,
    pub currency: Currency,
    pub totals: Totals,
    pub shipping_address: Option<ShippingAddress>,
    pub shipping_method: Option<String>,
    pub placed_at: DateTime<Utc>,
    /// The platform's own update time; newer wins, older is ignored.
    pub updated_at: DateTime<Utc>,
    pub status: OrderStatus,
    pub payment: PaymentStatus,
    #[serde(default)]
    pub test: bool,
    /// Set by ppx when the order is first stored.
    #[serde(default)]
    pub promised_delivery: Option<NaiveDate>,
}

/// A parcel of an order, registered by the platform's fulfillment webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    /// The platform's fulfillment id (unique within the order).
    pub id: ShipmentId,
    pub order_id: OrderId,
    pub tracking_number: Option<TrackingNumber>,
    pub carrier: Option<String>,
    pub tracking_url: Option<String>,
    pub items: Vec<ShipmentItem>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentItem {
    pub line_item_id: Option<String>,
    pub title: String,
    pub quantity: u32,
}
