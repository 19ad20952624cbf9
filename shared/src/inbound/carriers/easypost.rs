//! EasyPost tracker webhooks: an `Event` whose `description` is `tracker.created` or
//! `tracker.updated` and whose `result` is a `Tracker`. Signed with `X-Hmac-Signature`
//! ([`crate::http::signature::verify_easypost_hmac`]).
//!
//! Mapping: `docs/tracking-status-mapping.md`, section EasyPost.

use super::generic_tracking::{join_location, optional_date, provider_status, tracking_number};
use crate::domain::tracking::{CarrierUpdate, TrackingEvent, TrackingStatus};
use crate::inbound::wire::{self, Timestamp};
use crate::inbound::{ParseError, non_empty};
use serde::Deserialize;

/// Parses an EasyPost webhook body. `Ok(None)` for an event that is not about a tracker
/// (`batch.created`, `shipment.invoice.created`...) and for a tracker event without `result`
/// (EasyPost's minimal envelope): acknowledge and ignore those.
pub fn parse(body: &[u8]) -> Result<Option<CarrierUpdate>, ParseError> {
    let head: Head = wire::from_body(body)?;
    if !matches!(head.description.trim(), "tracker.created" | "tracker.updated") {
        return Ok(None);
    }
    let event: TrackerEvent = wire::from_body(body)?;
    match event.result {
        Some(tracker) => tracker.into_update().map(Some),
        None => Ok(None),
    }
}

#[derive(Deserialize)]
struct Head {
    description: String,
}

#[derive(Deserialize)]
struct TrackerEvent {
    result: Option<Tracker>,
}

#[derive(Deserialize)]
struct Tracker {
    id: Option<String>,
    tracking_code: String,
    carrier: Option<String>,
    status: Option<String>,
    status_detail: Option<String>,
    est_delivery_date: Option<String>,
    public_url: Option<String>,
    updated_at: Option<Timestamp>,
    tracking_details: Option<Vec<Detail>>,
}

#[derive(Deserialize)]
struct Detail {
    status: String,
    status_detail: Option<String>,
    message: Option<String>,
    datetime: Timestamp,
    tracking_location: Option<Location>,
}

#[derive(Deserialize)]
struct Location {
    city: Option<String>,
    state: Option<String>,
    country: Option<String>,
}

impl Tracker {
    fn into_update(self) -> Result<CarrierUpdate, ParseError> {
        let tracking_number = tracking_number("result.tracking_code", &self.tracking_code)?;
        let mut events: Vec<TrackingEvent> = self
            .tracking_details
            .unwrap_or_default()
            .into_iter()
            .map(|d| TrackingEvent {
                status: map_status(&d.status, d.status_detail.as_deref(), d.message.as_deref()),
                occurred_at: d.datetime.0,
                provider_status: provider_status(&d.status, d.status_detail.as_deref()),
                message: non_empty(d.message),
                location: d
                    .tracking_location
                    .and_then(|l| join_location([l.city.as_deref(), l.state.as_deref(), l.country.as_deref()])),
            })
            .collect();
        if events.is_empty() {
            // No details yet: the tracker's own status, as of its last update.
            let required = |field: &str| ParseError::field(field, "required when `tracking_details` is empty");
            let status = non_empty(self.status).ok_or_else(|| required("result.status"))?;
            let at = self.updated_at.ok_or_else(|| required("result.updated_at"))?;
            events.push(TrackingEvent {
                status: map_status(&status, self.status_detail.as_deref(), None),
                occurred_at: at.0,
                provider_status: provider_status(&status, self.status_detail.as_deref()),
                message: None,
                location: None,
            });
        }
        Ok(CarrierUpdate {
            tracking_number,
            carrier: non_empty(self.carrier).map(display_carrier),
            events,
            estimated_delivery: optional_date("result.est_delivery_date", self.est_delivery_date.as_deref())?,
            public_url: non_empty(self.public_url),
            provider_reference: non_empty(self.id),
        })
    }
}

/// EasyPost's status (lower snake_case) to ours. Only `failure` looks at the detail and the
/// message, to tell a missed delivery attempt from a real exception. Unknown values map to
/// `Unknown` (EasyPost may add statuses; the webhook must not fail for that).
fn map_status(status: &str, detail: Option<&str>, message: Option<&str>) -> TrackingStatus {
    use TrackingStatus::*;
    match status.trim().to_ascii_lowercase().as_str() {
        "pre_transit" => LabelCreated,
        "in_transit" => InTransit,
        "out_for_delivery" => OutForDelivery,
        "delivered" => Delivered,
        "available_for_pickup" => AvailableForPickup,
        "return_to_sender" => ReturnedToSender,
        "failure" if is_attempt(detail, message) => DeliveryAttempted,
        "failure" | "error" | "cancelled" | "canceled" => Exception,
        _ => Unknown,
    }
}

/// `delivery_attempt`, `attempted_delivery`..., or a message that speaks of an attempt.
fn is_attempt(detail: Option<&str>, message: Option<&str>) -> bool {
    let mentions = |text: Option<&str>| text.is_some_and(|t| t.to_lowercase().contains("attempt"));
    mentions(detail) || mentions(message)
}

/// EasyPost writes some carriers as one word.
fn display_carrier(carrier: String) -> String {
    match carrier.as_str() {
        "DHLExpress" => "DHL Express".to_owned(),
        "CanadaPost" => "Canada Post".to_owned(),
        "RoyalMail" => "Royal Mail".to_owned(),
        "AustraliaPost" => "Australia Post".to_owned(),
        _ => carrier,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::carriers::test_support::{field_error_of, parsed_by, read, statuses};

    fn parsed(body: &[u8]) -> CarrierUpdate {
        parsed_by(parse, body)
    }

    fn field_error(body: &Value) -> String {
        field_error_of(parse, body).0
    }
    use TrackingStatus::*;
    use chrono::{NaiveDate, TimeZone, Utc};
    use serde_json::{Value, json};

    const SIGNED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/easypost-tracker-updated-in_transit-signed-fixture.json"
    );
    const DELIVERED: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/easypost-tracker-updated-delivered.json");
    const MINIMAL: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/easypost-event-envelope-minimal.json");
    const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/easypost-tracker-updated.json");

    #[test]
    fn carriers_easypost_signed_fixture_maps() {
        // The fixture's tracking code is EasyPost's anonymized "1", which is not a tracking
        // number (4-64 letters or digits): a clean field error, never a panic.
        let file = read(SIGNED);
        let err = parse(&file).unwrap_err();
        assert!(matches!(&err, ParseError::Field { field, .. } if field == "result.tracking_code"), "{err:?}");

        // Everything else maps; the tracking code is replaced in memory only.
        let mut body: Value = serde_json::from_slice(&file).unwrap();
        body["result"]["tracking_code"] = json!("7701 2345 6789");
        let update = parsed(body.to_string().as_bytes());
        assert_eq!(update.tracking_number.as_str(), "770123456789");
        assert_eq!(update.carrier.as_deref(), Some("FedEx"));
        assert_eq!(update.estimated_delivery, NaiveDate::from_ymd_opt(2024, 8, 5));
        assert_eq!(update.public_url.as_deref(), Some("https://track.easypost.com/1"));
        assert_eq!(update.provider_reference.as_deref(), Some("trk_1"));
        assert_eq!(update.events.len(), 7);
        assert_eq!(statuses(&update), [LabelCreated, InTransit, InTransit, InTransit, InTransit, InTransit, InTransit]);
        let provider: Vec<&str> = update.events.iter().map(|e| e.provider_status.as_str()).collect();
        assert_eq!(
            provider,
            [
                "pre_transit/label_created",
                "in_transit/arrived_at_facility",
                "in_transit/arrived_at_facility",
                "in_transit/departed_facility",
                "in_transit/unknown",
                "in_transit/unknown",
                "in_transit/arrived_at_facility",
            ]
        );
        let first = &update.events[0];
        assert_eq!(first.occurred_at, Utc.with_ymd_and_hms(2024, 7, 31, 15, 0, 0).unwrap());
        assert_eq!(first.message.as_deref(), Some("Shipment information sent to FedEx"));
        assert_eq!(first.location.as_deref(), Some("US"), "only the country is known; the zip is not shown");
        assert_eq!(update.events[1].location.as_deref(), Some("ORLANDO, FL, US"));
        assert_eq!(update.events[3].occurred_at, Utc.with_ymd_and_hms(2024, 8, 1, 14, 42, 13).unwrap());
    }

    #[test]
    fn carriers_easypost_delivered_fixture_maps() {
        let update = parsed(&read(DELIVERED));
        assert_eq!(update.tracking_number.as_str(), "EZ4000000004");
        assert_eq!(update.carrier.as_deref(), Some("UPS"));
        assert_eq!(update.estimated_delivery, NaiveDate::from_ymd_opt(2014, 11, 27));
        assert_eq!(update.provider_reference.as_deref(), Some("trk_..."));
        assert_eq!(update.events.len(), 6);
        assert_eq!(statuses(&update), [LabelCreated, InTransit, InTransit, InTransit, OutForDelivery, Delivered]);
        assert_eq!(update.events[0].location, None, "all location parts are null");
        assert_eq!(update.events[1].location.as_deref(), Some("SOUTH SAN FRANCISCO, CA, US"));
        assert_eq!(update.events[5].provider_status, "delivered", "no status_detail in this payload");
        // Kept as sent: the delivery scan is dated before the first scan (the state machine copes).
        let delivered = &update.events[5];
        assert_eq!(delivered.occurred_at, Utc.with_ymd_and_hms(2014, 11, 19, 10, 51, 54).unwrap());
        assert!(delivered.occurred_at < update.events[0].occurred_at);
    }

    #[test]
    fn carriers_easypost_demo_sample_maps() {
        let update = parsed(&read(DEMO));
        assert_eq!(update.tracking_number.as_str(), "770123456789");
        assert_eq!(update.carrier.as_deref(), Some("FedEx"));
        assert_eq!(
            statuses(&update),
            [
                LabelCreated,
                InTransit,
                InTransit,
                InTransit,
                OutForDelivery,
                Exception,
                InTransit,
                OutForDelivery,
                Delivered
            ]
        );
        assert_eq!(update.events[5].provider_status, "failure/delivery_exception");
        assert_eq!(update.estimated_delivery, NaiveDate::from_ymd_opt(2026, 11, 27));
    }

    #[test]
    fn carriers_easypost_envelopes_without_a_tracker_are_ignored() {
        assert_eq!(parse(&read(MINIMAL)), Ok(None));
        for body in [
            json!({"description": "batch.created", "object": "Event", "result": {"object": "Batch", "id": "batch_1"}}),
            json!({"description": "shipment.invoice.created", "result": {"object": "ShipmentInvoice"}}),
            json!({"description": "tracker.updated", "result": null}),
            json!({"description": "tracker.created"}),
        ] {
            assert_eq!(parse(body.to_string().as_bytes()), Ok(None), "{body}");
        }
    }

    #[test]
    fn carriers_easypost_status_mapping() {
        let cases = [
            ("pre_transit", None, None, LabelCreated),
            ("in_transit", Some("unknown"), None, InTransit),
            ("in_transit", Some("weather_delay"), None, InTransit),
            ("out_for_delivery", None, None, OutForDelivery),
            ("delivered", Some("arrived_at_destination"), None, Delivered),
            ("available_for_pickup", None, None, AvailableForPickup),
            ("return_to_sender", Some("return"), None, ReturnedToSender),
            ("failure", Some("delivery_attempt"), None, DeliveryAttempted),
            ("failure", Some("attempted_delivery"), None, DeliveryAttempted),
            (
                "failure",
                Some("unknown"),
                Some("Delivery Attempted - No Access to Delivery Location"),
                DeliveryAttempted,
            ),
            ("failure", Some("delivery_exception"), Some("Customer not available or business closed"), Exception),
            ("failure", None, None, Exception),
            ("error", None, None, Exception),
            ("cancelled", None, None, Exception),
            ("unknown", None, None, Unknown),
            ("teleported", None, None, Unknown),
            ("DELIVERED", None, None, Delivered),
        ];
        for (status, detail, message, expected) in cases {
            assert_eq!(map_status(status, detail, message), expected, "{status}/{detail:?}/{message:?}");
        }
    }

    fn tracker(details: Value) -> Value {
        json!({
            "description": "tracker.updated",
            "result": {
                "id": "trk_9",
                "tracking_code": "9400 1000 0000 0000 0000 00",
                "carrier": "DHLExpress",
                "status": "failure",
                "status_detail": "delivery_attempt",
                "updated_at": "2026-11-26T18:00:00Z",
                "est_delivery_date": null,
                "public_url": "",
                "tracking_details": details,
            }
        })
    }

    #[test]
    fn carriers_easypost_without_details_uses_the_tracker_status() {
        for details in [json!([]), json!(null)] {
            let update = parsed(tracker(details).to_string().as_bytes());
            assert_eq!(update.tracking_number.as_str(), "9400100000000000000000");
            assert_eq!(update.carrier.as_deref(), Some("DHL Express"));
            assert_eq!((update.estimated_delivery, update.public_url.as_deref()), (None, None));
            assert_eq!(update.events.len(), 1);
            let event = &update.events[0];
            assert_eq!((event.status, event.provider_status.as_str()), (DeliveryAttempted, "failure/delivery_attempt"));
            assert_eq!(event.occurred_at, Utc.with_ymd_and_hms(2026, 11, 26, 18, 0, 0).unwrap());
        }
        let mut body = tracker(json!([]));
        body["result"].as_object_mut().unwrap().remove("updated_at");
        assert_eq!(field_error(&body), "result.updated_at");
        let mut body = tracker(json!([]));
        body["result"]["status"] = json!(null);
        assert_eq!(field_error(&body), "result.status");
    }

    #[test]
    fn carriers_easypost_errors_name_the_field() {
        let detail = |datetime: Value| {
            json!([
                {"status": "in_transit", "datetime": "2026-11-25T10:00:00Z", "tracking_location": null},
                {"status": "in_transit", "message": "x", "datetime": datetime},
            ])
        };
        assert_eq!(field_error(&tracker(detail(json!("yesterday")))), "result.tracking_details[1].datetime");
        assert_eq!(field_error(&tracker(detail(json!(null)))), "result.tracking_details[1].datetime");
        assert_eq!(field_error(&tracker(detail(json!("2026-11-25 10:00:00")))), "result.tracking_details[1].datetime");
        let mut missing = tracker(detail(json!("x")));
        missing["result"]["tracking_details"][1].as_object_mut().unwrap().remove("datetime");
        assert_eq!(field_error(&missing), "result.tracking_details[1].datetime");
        let mut no_status = tracker(detail(json!("2026-11-25T10:00:00Z")));
        no_status["result"]["tracking_details"][0].as_object_mut().unwrap().remove("status");
        assert_eq!(field_error(&no_status), "result.tracking_details[0].status");
        let mut body = tracker(json!([]));
        body["result"]["est_delivery_date"] = json!("next week");
        assert_eq!(field_error(&body), "result.est_delivery_date");
        let mut body = tracker(json!([]));
        body["result"]["tracking_code"] = json!("12");
        assert_eq!(field_error(&body), "result.tracking_code");
        let mut body = tracker(json!([]));
        body["result"].as_object_mut().unwrap().remove("tracking_code");
        assert_eq!(field_error(&body), "result.tracking_code");
        assert_eq!(field_error(&json!({"object": "Event"})), "description");
        for garbage in [&b"\xc3\x28"[..], b"", b"[]", b"42", b"{\"description\": ", b"{} {}"] {
            assert!(matches!(parse(garbage), Err(ParseError::Json(_))), "{garbage:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn carriers_easypost_never_panics_on_bytes(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse(&body);
        }

        #[test]
        fn carriers_easypost_never_panics_on_mutated_fixtures(
            index in 0usize..100_000,
            byte in proptest::prelude::any::<u8>(),
            delivered in proptest::prelude::any::<bool>(),
        ) {
            let mut body = read(if delivered { DELIVERED } else { SIGNED });
            let at = index % body.len();
            body[at] = byte;
            let _ = parse(&body);
        }
    }
}
