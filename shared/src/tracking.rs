//! The canonical tracking model every carrier format maps into.

use crate::ids::TrackingNumber;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One status vocabulary for all providers. See `docs/tracking-status-mapping.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackingStatus {
    LabelCreated,
    InTransit,
    OutForDelivery,
    /// The carrier tried and failed; it will usually try again.
    DeliveryAttempted,
    AvailableForPickup,
    Delivered,
    /// Something went wrong (damage, address problem, customs hold...).
    Exception,
    ReturnedToSender,
    /// Says nothing: never changes the state.
    Unknown,
}

impl TrackingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LabelCreated => "label_created",
            Self::InTransit => "in_transit",
            Self::OutForDelivery => "out_for_delivery",
            Self::DeliveryAttempted => "delivery_attempted",
            Self::AvailableForPickup => "available_for_pickup",
            Self::Delivered => "delivered",
            Self::Exception => "exception",
            Self::ReturnedToSender => "returned_to_sender",
            Self::Unknown => "unknown",
        }
    }
}

/// One checkpoint of a parcel's journey, as the carrier reported it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TrackingEvent {
    pub status: TrackingStatus,
    /// When it happened, by the carrier's clock (never when we heard of it).
    pub occurred_at: DateTime<Utc>,
    /// The provider's own words for the status, e.g. `failure/delivery_attempt` (for support).
    pub provider_status: String,
    /// The carrier's message, e.g. "Delivered, front door".
    pub message: Option<String>,
    /// "City, Region, Country" as far as known.
    pub location: Option<String>,
}

/// What one carrier webhook says about one parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierUpdate {
    pub tracking_number: TrackingNumber,
    pub carrier: Option<String>,
    /// Zero or more checkpoints, in any order, possibly repeated.
    pub events: Vec<TrackingEvent>,
    /// The carrier's estimated delivery date (a calendar date at the destination).
    pub estimated_delivery: Option<NaiveDate>,
    /// The carrier's public tracking page, when the provider gives one.
    pub public_url: Option<String>,
    /// A provider id for the tracker, for support (EasyPost `trk_...`).
    pub provider_reference: Option<String>,
}
