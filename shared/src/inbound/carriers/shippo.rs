//! Shippo `track_updated` webhooks. Authenticated either by `Shippo-Auth-Signature`
//! (`t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`, the scheme of
//! [`crate::http::signature::verify_timestamped`]) or, when HMAC is off, by a `?token=` on the
//! webhook URL ([`crate::http::signature::verify_url_token`]).
//!
//! Mapping: `docs/tracking-status-mapping.md`, section Shippo.

use super::generic_tracking::{join_location, optional_date, provider_status, tracking_number};
use crate::domain::tracking::{CarrierUpdate, TrackingEvent, TrackingStatus};
use crate::inbound::wire::{self, Timestamp};
use crate::inbound::{ParseError, non_empty};
use serde::Deserialize;

/// Parses a Shippo webhook body. `Ok(None)` for events other than `track_updated`
/// (`transaction_created`, `batch_purchased`...): acknowledge and ignore those.
pub fn parse(body: &[u8]) -> Result<Option<CarrierUpdate>, ParseError> {
    if !super::is_event(body, "track_updated")? {
        return Ok(None);
    }
    let event: TrackUpdated = wire::from_body(body)?;
    let track = event.data.ok_or_else(|| ParseError::field("data", "required for track_updated events"))?;
    track.into_update().map(Some)
}

#[derive(Deserialize)]
struct TrackUpdated {
    data: Option<Track>,
}

#[derive(Deserialize)]
struct Track {
    tracking_number: String,
    carrier: Option<String>,
    eta: Option<String>,
    tracking_status: Option<Status>,
    tracking_history: Option<Vec<Status>>,
}

#[derive(Deserialize)]
struct Status {
    status: String,
    substatus: Option<Substatus>,
    status_details: Option<String>,
    status_date: Timestamp,
    location: Option<Location>,
}

#[derive(Deserialize)]
struct Substatus {
    code: Option<String>,
}

#[derive(Deserialize)]
struct Location {
    city: Option<String>,
    state: Option<String>,
    country: Option<String>,
}

impl Status {
    fn into_event(self) -> TrackingEvent {
        let code = self.substatus.and_then(|s| non_empty(s.code));
        TrackingEvent {
            status: map_status(&self.status, code.as_deref()),
            occurred_at: self.status_date.0,
            provider_status: provider_status(&self.status, code.as_deref()),
            message: non_empty(self.status_details),
            location: self
                .location
                .and_then(|l| join_location([l.city.as_deref(), l.state.as_deref(), l.country.as_deref()])),
        }
    }
}

impl Track {
    fn into_update(self) -> Result<CarrierUpdate, ParseError> {
        let tracking_number = tracking_number("data.tracking_number", &self.tracking_number)?;
        let mut events: Vec<TrackingEvent> =
            self.tracking_history.unwrap_or_default().into_iter().map(Status::into_event).collect();
        // The current status is usually also the last history entry; add it when it is not.
        if let Some(current) = self.tracking_status.map(Status::into_event)
            && !events.contains(&current)
        {
            events.push(current);
        }
        Ok(CarrierUpdate {
            tracking_number,
            carrier: non_empty(self.carrier).map(display_carrier),
            events,
            estimated_delivery: optional_date("data.eta", self.eta.as_deref())?,
            public_url: None,
            provider_reference: None,
        })
    }
}

/// Shippo's status (UPPER case) refined by its substatus code to ours. The substatus only
/// refines `TRANSIT` and `FAILURE`; a contradicting substatus (`DELIVERED` with
/// `information_received`, as in Shippo's docs sample) leaves the status as it is. Unknown
/// values map to `Unknown` (TRANSIT: `InTransit`; FAILURE: `Exception`).
fn map_status(status: &str, substatus: Option<&str>) -> TrackingStatus {
    use TrackingStatus::*;
    let code = substatus.map(|c| c.trim().to_ascii_lowercase()).unwrap_or_default();
    let attempt = matches!(code.as_str(), "delivery_attempted" | "notice_left");
    let returned = matches!(code.as_str(), "return_to_sender" | "package_returned");
    match status.trim().to_ascii_uppercase().as_str() {
        "PRE_TRANSIT" => LabelCreated,
        "TRANSIT" if attempt => DeliveryAttempted,
        "TRANSIT" if returned => ReturnedToSender,
        "TRANSIT" => match code.as_str() {
            "out_for_delivery" => OutForDelivery,
            "pickup_available" => AvailableForPickup,
            "address_issue"
            | "contact_carrier"
            | "location_inaccessible"
            | "package_held"
            | "reschedule_delivery"
            | "package_damaged"
            | "package_lost"
            | "package_disposed"
            | "package_undeliverable" => Exception,
            // package_accepted, package_arrived, package_departed, package_processing,
            // package_processed, package_forwarded, delivery_scheduled, delivery_rescheduled,
            // delayed (the new `eta` carries the delay), none, or a code we do not know.
            _ => InTransit,
        },
        "DELIVERED" => Delivered,
        "RETURNED" => ReturnedToSender,
        "FAILURE" if attempt => DeliveryAttempted,
        "FAILURE" if returned => ReturnedToSender,
        "FAILURE" => Exception,
        _ => Unknown,
    }
}

/// Shippo's carrier tokens to the names customers know.
fn display_carrier(token: String) -> String {
    let name = match token.to_ascii_lowercase().as_str() {
        "usps" => "USPS",
        "ups" => "UPS",
        "fedex" => "FedEx",
        "dhl_express" => "DHL Express",
        "dhl_ecommerce" => "DHL eCommerce",
        "canada_post" => "Canada Post",
        "royal_mail" => "Royal Mail",
        "australia_post" => "Australia Post",
        "ontrac" => "OnTrac",
        "lasership" => "LaserShip",
        "purolator" => "Purolator",
        _ => return token,
    };
    name.to_owned()
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

    const DOCS_SAMPLE: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/shippo-track_updated-docs-sample.json");
    const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/shippo-track-updated.json");

    #[test]
    fn carriers_shippo_sample_maps() {
        let update = parsed(&read(SAMPLE));
        assert_eq!(update.tracking_number.as_str(), "9400111899223197428490");
        assert_eq!(update.carrier.as_deref(), Some("USPS"));
        assert_eq!(update.estimated_delivery, NaiveDate::from_ymd_opt(2026, 11, 27));
        assert_eq!((update.public_url.as_deref(), update.provider_reference.as_deref()), (None, None));
        assert_eq!(
            statuses(&update),
            [
                LabelCreated,
                InTransit,
                InTransit,
                InTransit,
                OutForDelivery,
                DeliveryAttempted,
                AvailableForPickup,
                Delivered
            ],
            "the current status repeats the last history entry and is not added twice"
        );
        let attempt = &update.events[5];
        assert_eq!(attempt.provider_status, "TRANSIT/delivery_attempted");
        assert_eq!(attempt.occurred_at, Utc.with_ymd_and_hms(2026, 11, 26, 17, 42, 0).unwrap());
        assert_eq!(attempt.location.as_deref(), Some("Brooklyn, NY, US"));
        assert!(attempt.message.as_deref().is_some_and(|m| m.contains("Notice Left")));
        assert_eq!(update.events[0].provider_status, "PRE_TRANSIT/information_received");
        assert_eq!(update.events[7].provider_status, "DELIVERED/delivered");
    }

    #[test]
    fn carriers_shippo_docs_sample_is_handled_cleanly() {
        // The docs sample has placeholders ("string") only where ppx does not look
        // (object_id, transaction, servicelevel.terms, messages); what it reads is well formed.
        let update = parsed(&read(DOCS_SAMPLE));
        assert_eq!(update.tracking_number.as_str(), "9205590164917312751089");
        assert_eq!(update.carrier.as_deref(), Some("USPS"));
        assert_eq!(update.estimated_delivery, NaiveDate::from_ymd_opt(2019, 8, 24));
        assert_eq!(update.events.len(), 1, "tracking_status equals the single history entry");
        let event = &update.events[0];
        // DELIVERED with the contradicting substatus `information_received`: the status wins.
        assert_eq!((event.status, event.provider_status.as_str()), (Delivered, "DELIVERED/information_received"));
        assert_eq!(event.occurred_at, Utc.with_ymd_and_hms(2016, 7, 23, 0, 0, 0).unwrap());
        assert_eq!(event.location.as_deref(), Some("Las Vegas, NV, US"));

        // Placeholders where ppx does look give clean field errors, never a panic.
        let sample: Value = serde_json::from_slice(&read(DOCS_SAMPLE)).unwrap();
        let with = |pointer: &str, value: Value| {
            let mut body = sample.clone();
            *body.pointer_mut(pointer).unwrap() = value;
            body
        };
        let cases = [
            ("/data/tracking_history/0/status_date", json!("string"), "data.tracking_history[0].status_date"),
            ("/data/tracking_status/status_date", json!("string"), "data.tracking_status.status_date"),
            ("/data/tracking_status/status_date", json!(null), "data.tracking_status.status_date"),
            ("/data/eta", json!("string"), "data.eta"),
            ("/data/tracking_number", json!("str"), "data.tracking_number"),
            ("/data/tracking_number", json!("9205590164917312751089/1"), "data.tracking_number"),
            ("/data/tracking_history", json!("string"), "data.tracking_history"),
        ];
        for (pointer, value, field) in cases {
            assert_eq!(field_error(&with(pointer, value)), field, "{pointer}");
        }
        let mut missing = sample.clone();
        missing["data"]["tracking_history"][0].as_object_mut().unwrap().remove("status_date");
        assert_eq!(field_error(&missing), "data.tracking_history[0].status_date");
        let mut missing = sample.clone();
        missing["data"].as_object_mut().unwrap().remove("tracking_number");
        assert_eq!(field_error(&missing), "data.tracking_number");
    }

    #[test]
    fn carriers_shippo_other_events_and_envelopes() {
        for event in ["transaction_created", "transaction_updated", "batch_created", "batch_purchased"] {
            let body = json!({"event": event, "test": false, "data": {"object_id": "abc", "status": "SUCCESS"}});
            assert_eq!(parse(body.to_string().as_bytes()), Ok(None), "{event}");
        }
        assert_eq!(field_error(&json!({"event": "track_updated"})), "data");
        assert_eq!(field_error(&json!({"event": "track_updated", "data": null})), "data");
        assert_eq!(field_error(&json!({"data": {}})), "event");
        // A fresh tracker: no status, no history yet.
        let fresh = json!({"event": "track_updated", "data": {"tracking_number": "1Z999AA10123456784",
            "carrier": "ups", "eta": null, "tracking_status": null, "tracking_history": []}});
        let update = parsed(fresh.to_string().as_bytes());
        assert!(update.events.is_empty());
        assert_eq!((update.carrier.as_deref(), update.estimated_delivery), (Some("UPS"), None));
        for garbage in [&b"\xc3\x28"[..], b"", b"[]", b"42", b"{\"event\": ", b"{} {}"] {
            assert!(matches!(parse(garbage), Err(ParseError::Json(_))), "{garbage:?}");
        }
    }

    #[test]
    fn carriers_shippo_status_mapping() {
        let cases = [
            ("PRE_TRANSIT", Some("information_received"), LabelCreated),
            ("TRANSIT", None, InTransit),
            ("TRANSIT", Some("package_departed"), InTransit),
            ("TRANSIT", Some("delayed"), InTransit),
            ("TRANSIT", Some("something_new"), InTransit),
            ("TRANSIT", Some("out_for_delivery"), OutForDelivery),
            ("TRANSIT", Some("delivery_attempted"), DeliveryAttempted),
            ("TRANSIT", Some("notice_left"), DeliveryAttempted),
            ("TRANSIT", Some("pickup_available"), AvailableForPickup),
            ("TRANSIT", Some("return_to_sender"), ReturnedToSender),
            ("TRANSIT", Some("package_returned"), ReturnedToSender),
            ("TRANSIT", Some("address_issue"), Exception),
            ("TRANSIT", Some("contact_carrier"), Exception),
            ("TRANSIT", Some("location_inaccessible"), Exception),
            ("TRANSIT", Some("package_held"), Exception),
            ("TRANSIT", Some("reschedule_delivery"), Exception),
            ("TRANSIT", Some("package_damaged"), Exception),
            ("DELIVERED", Some("delivered"), Delivered),
            ("DELIVERED", Some("information_received"), Delivered),
            ("RETURNED", Some("return_to_sender"), ReturnedToSender),
            ("RETURNED", None, ReturnedToSender),
            ("FAILURE", Some("package_lost"), Exception),
            ("FAILURE", Some("package_undeliverable"), Exception),
            ("FAILURE", None, Exception),
            ("FAILURE", Some("delivery_attempted"), DeliveryAttempted),
            ("FAILURE", Some("return_to_sender"), ReturnedToSender),
            ("UNKNOWN", None, Unknown),
            ("LOST_IN_SPACE", None, Unknown),
            ("transit", Some("OUT_FOR_DELIVERY"), OutForDelivery),
        ];
        for (status, code, expected) in cases {
            assert_eq!(map_status(status, code), expected, "{status}/{code:?}");
        }
    }

    #[test]
    fn carriers_shippo_hmac_is_the_timestamped_scheme() {
        let body = read(SAMPLE);
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 16, 30, 0).unwrap();
        let header = crate::http::signature::sign_timestamped("ppx_demo_shippo_secret", &body, now.timestamp());
        assert_eq!(
            crate::http::signature::verify_timestamped("ppx_demo_shippo_secret", &body, Some(&header), now),
            Ok(())
        );
    }

    proptest::proptest! {
        #[test]
        fn carriers_shippo_never_panics_on_bytes(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse(&body);
        }

        #[test]
        fn carriers_shippo_never_panics_on_mutated_samples(
            index in 0usize..100_000,
            byte in proptest::prelude::any::<u8>(),
            docs in proptest::prelude::any::<bool>(),
        ) {
            let mut body = read(if docs { DOCS_SAMPLE } else { SAMPLE });
            let at = index % body.len();
            body[at] = byte;
            let _ = parse(&body);
        }
    }
}
