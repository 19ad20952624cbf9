//! AfterShip tracking webhooks: `{"event": "tracking_update", "msg": <tracking>, ...}`, signed
//! with `aftership-hmac-sha256` = base64 HMAC-SHA256 of the raw body
//! ([`crate::http::signature::verify_base64_hmac`]).
//!
//! Mapping: `docs/tracking-status-mapping.md`, section AfterShip.

use super::generic_tracking::{calendar_date, join_location, provider_status, tracking_number};
use crate::domain::tracking::{CarrierUpdate, TrackingEvent, TrackingStatus};
use crate::inbound::{ParseError, non_empty, wire};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;

/// Parses an AfterShip webhook body. `Ok(None)` for events other than `tracking_update`:
/// acknowledge and ignore those.
pub fn parse(body: &[u8]) -> Result<Option<CarrierUpdate>, ParseError> {
    if !super::is_event(body, "tracking_update")? {
        return Ok(None);
    }
    let event: TrackingUpdate = wire::from_body(body)?;
    let tracking = event.msg.ok_or_else(|| ParseError::field("msg", "required for tracking_update events"))?;
    tracking.into_update().map(Some)
}

#[derive(Deserialize)]
struct TrackingUpdate {
    msg: Option<Tracking>,
}

#[derive(Deserialize)]
struct Tracking {
    id: Option<String>,
    tracking_number: String,
    slug: Option<String>,
    expected_delivery: Option<String>,
    courier_estimated_delivery_date: Option<EstimatedDelivery>,
    aftership_estimated_delivery_date: Option<EstimatedDelivery>,
    courier_tracking_link: Option<String>,
    checkpoints: Option<Vec<Checkpoint>>,
}

#[derive(Deserialize)]
struct EstimatedDelivery {
    estimated_delivery_date: Option<String>,
}

#[derive(Deserialize)]
struct Checkpoint {
    checkpoint_time: String,
    tag: Option<String>,
    subtag: Option<String>,
    message: Option<String>,
    city: Option<String>,
    state: Option<String>,
    country_iso3: Option<String>,
    country_name: Option<String>,
    location: Option<String>,
}

impl Tracking {
    fn into_update(self) -> Result<CarrierUpdate, ParseError> {
        let tracking_number = tracking_number("msg.tracking_number", &self.tracking_number)?;
        let mut events = Vec::new();
        for (i, c) in self.checkpoints.unwrap_or_default().into_iter().enumerate() {
            let occurred_at = timestamp(&format!("msg.checkpoints[{i}].checkpoint_time"), &c.checkpoint_time)?;
            let tag = non_empty(c.tag).unwrap_or_default();
            let subtag = non_empty(c.subtag);
            let country = non_empty(c.country_iso3).or(non_empty(c.country_name));
            let location = join_location([c.city.as_deref(), c.state.as_deref(), country.as_deref()])
                .or_else(|| non_empty(c.location));
            events.push(TrackingEvent {
                status: map_status(&tag, subtag.as_deref()),
                occurred_at,
                provider_status: provider_status(&tag, subtag.as_deref()),
                message: non_empty(c.message),
                location,
            });
        }
        Ok(CarrierUpdate {
            tracking_number,
            carrier: non_empty(self.slug).map(display_carrier),
            events,
            estimated_delivery: estimated_delivery(
                self.expected_delivery,
                self.courier_estimated_delivery_date,
                self.aftership_estimated_delivery_date,
            )?,
            public_url: non_empty(self.courier_tracking_link),
            provider_reference: non_empty(self.id),
        })
    }
}

/// The carrier's own estimate first (`expected_delivery`, or `courier_estimated_delivery_date`
/// in newer API versions), else AfterShip's prediction.
fn estimated_delivery(
    expected: Option<String>,
    courier: Option<EstimatedDelivery>,
    aftership: Option<EstimatedDelivery>,
) -> Result<Option<NaiveDate>, ParseError> {
    let candidates = [
        ("msg.expected_delivery", expected),
        (
            "msg.courier_estimated_delivery_date.estimated_delivery_date",
            courier.and_then(|e| e.estimated_delivery_date),
        ),
        (
            "msg.aftership_estimated_delivery_date.estimated_delivery_date",
            aftership.and_then(|e| e.estimated_delivery_date),
        ),
    ];
    for (path, raw) in candidates {
        if let Some(raw) = non_empty(raw) {
            return calendar_date(path, &raw).map(Some);
        }
    }
    Ok(None)
}

/// AfterShip passes the courier's time through: RFC 3339, or without an offset (then UTC is
/// assumed, as documented), with `T` or a space, optionally with fractions of a second.
fn timestamp(path: &str, raw: &str) -> Result<DateTime<Utc>, ParseError> {
    let raw = raw.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(raw) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(time) = DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Ok(time.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(raw, format) {
            return Ok(time.and_utc());
        }
    }
    Err(ParseError::field(path, format!("{raw:?} is not a timestamp such as \"2026-11-26T08:05:00-05:00\"")))
}

/// AfterShip's tag (and subtag) to ours. Exceptions stay exceptions except the
/// returned-to-sender subtags and the pure delays, which need no action (the new estimate
/// carries them, and an exception right after out-for-delivery would read as an attempt).
fn map_status(tag: &str, subtag: Option<&str>) -> TrackingStatus {
    use TrackingStatus::*;
    match tag.trim().to_ascii_lowercase().as_str() {
        "inforeceived" => LabelCreated,
        "intransit" => InTransit,
        "outfordelivery" => OutForDelivery,
        "attemptfail" => DeliveryAttempted,
        "availableforpickup" => AvailableForPickup,
        "delivered" => Delivered,
        "exception" => match subtag.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            // Returning to sender, returned to sender.
            Some("exception_010" | "exception_011") => ReturnedToSender,
            // Delayed: customs clearance, external factors, processing issue, extreme weather.
            Some("exception_004" | "exception_005" | "exception_016" | "exception_017") => InTransit,
            _ => Exception,
        },
        // Expired, Pending, or a tag we do not know.
        _ => Unknown,
    }
}

/// AfterShip's courier slugs to the names customers know.
fn display_carrier(slug: String) -> String {
    let name = match slug.to_ascii_lowercase().as_str() {
        "usps" => "USPS",
        "ups" => "UPS",
        "fedex" => "FedEx",
        "dhl" => "DHL Express",
        "dhl-global-mail" => "DHL eCommerce",
        "canada-post" => "Canada Post",
        "royal-mail" => "Royal Mail",
        "australia-post" => "Australia Post",
        "ontrac" => "OnTrac",
        "lasership" => "LaserShip",
        "purolator" => "Purolator",
        _ => return slug,
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
    use chrono::TimeZone;
    use serde_json::{Value, json};

    const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/aftership-tracking-update.json");

    fn sample() -> Value {
        serde_json::from_slice(&read(SAMPLE)).unwrap()
    }

    #[test]
    fn carriers_aftership_sample_maps() {
        let update = parsed(&read(SAMPLE));
        assert_eq!(update.tracking_number.as_str(), "1Z4F37E20390123456");
        assert_eq!(update.carrier.as_deref(), Some("UPS"));
        assert_eq!(update.estimated_delivery, NaiveDate::from_ymd_opt(2026, 11, 27));
        assert!(update.public_url.as_deref().is_some_and(|u| u.contains("1Z4F37E20390123456")));
        assert_eq!(update.provider_reference.as_deref(), Some("r8n5y2fk0ckpvlt1qw3xj6zd"));
        assert_eq!(
            statuses(&update),
            [
                LabelCreated,
                InTransit,
                InTransit,
                InTransit,
                InTransit,
                OutForDelivery,
                DeliveryAttempted,
                OutForDelivery,
                Delivered
            ]
        );
        let provider: Vec<&str> = update.events.iter().map(|e| e.provider_status.as_str()).collect();
        assert_eq!(provider[4], "Exception/Exception_005", "a weather delay is still in transit");
        assert_eq!(provider[6], "AttemptFail/AttemptFail_002");
        assert_eq!(provider[8], "Delivered/Delivered_001");
        // The first checkpoint has no offset: UTC.
        assert_eq!(update.events[0].occurred_at, Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap());
        assert_eq!(update.events[0].location.as_deref(), Some("USA"));
        let attempt = &update.events[6];
        assert_eq!(attempt.occurred_at, Utc.with_ymd_and_hms(2026, 11, 26, 17, 42, 0).unwrap());
        assert_eq!(attempt.location.as_deref(), Some("Brooklyn, NY, USA"));
        assert!(attempt.message.as_deref().is_some_and(|m| m.contains("second attempt")));
    }

    #[test]
    fn carriers_aftership_status_mapping() {
        let cases = [
            ("InfoReceived", Some("InfoReceived_001"), LabelCreated),
            ("InTransit", Some("InTransit_007"), InTransit),
            ("OutForDelivery", Some("OutForDelivery_001"), OutForDelivery),
            ("AttemptFail", Some("AttemptFail_001"), DeliveryAttempted),
            ("AttemptFail", None, DeliveryAttempted),
            ("AvailableForPickup", Some("AvailableForPickup_001"), AvailableForPickup),
            ("Delivered", Some("Delivered_003"), Delivered),
            ("Exception", Some("Exception_010"), ReturnedToSender),
            ("Exception", Some("Exception_011"), ReturnedToSender),
            ("Exception", Some("Exception_004"), InTransit),
            ("Exception", Some("Exception_005"), InTransit),
            ("Exception", Some("Exception_016"), InTransit),
            ("Exception", Some("Exception_017"), InTransit),
            ("Exception", Some("Exception_003"), Exception),
            ("Exception", Some("Exception_007"), Exception),
            ("Exception", Some("Exception_012"), Exception),
            ("Exception", Some("Exception_013"), Exception),
            ("Exception", None, Exception),
            ("Expired", Some("Expired_001"), Unknown),
            ("Pending", Some("Pending_001"), Unknown),
            ("", None, Unknown),
            ("Teleported", None, Unknown),
        ];
        for (tag, subtag, expected) in cases {
            assert_eq!(map_status(tag, subtag), expected, "{tag}/{subtag:?}");
        }
    }

    #[test]
    fn carriers_aftership_timestamps_and_estimates() {
        let utc = |h, m| Utc.with_ymd_and_hms(2026, 11, 26, h, m, 0).unwrap();
        for (raw, expected) in [
            ("2026-11-26T08:05:00-05:00", utc(13, 5)),
            ("2026-11-26T08:05:00-0500", utc(13, 5)),
            ("2026-11-26T13:05:00Z", utc(13, 5)),
            ("2026-11-26T13:05:00", utc(13, 5)),
            ("2026-11-26 13:05:00", utc(13, 5)),
            ("2026-11-26T13:05:00.000", utc(13, 5)),
        ] {
            assert_eq!(timestamp("t", raw), Ok(expected), "{raw}");
        }
        for bad in ["", "2026-11-26", "26/11/2026 13:05", "string"] {
            assert!(matches!(timestamp("t", bad), Err(ParseError::Field { .. })), "{bad}");
        }

        let estimate = |expected: Value, courier: Value, aftership: Value| {
            let mut body = sample();
            body["msg"]["expected_delivery"] = expected;
            body["msg"]["courier_estimated_delivery_date"] = courier;
            body["msg"]["aftership_estimated_delivery_date"] = aftership;
            parsed(body.to_string().as_bytes()).estimated_delivery
        };
        let date = |d| NaiveDate::from_ymd_opt(2026, 11, d);
        let edd = |d: &str| json!({"estimated_delivery_date": d, "confidence_score": null});
        assert_eq!(estimate(json!("2026-11-27T20:00:00-05:00"), json!(null), edd("2026-11-29")), date(27));
        assert_eq!(estimate(json!(null), edd("2026-11-28"), edd("2026-11-29")), date(28));
        assert_eq!(estimate(json!(""), json!(null), edd("2026-11-29")), date(29));
        assert_eq!(estimate(json!(null), json!({"estimated_delivery_date": null}), json!(null)), None);
    }

    #[test]
    fn carriers_aftership_errors_name_the_field() {
        let mut body = sample();
        body["msg"]["checkpoints"][3]["checkpoint_time"] = json!("yesterday");
        assert_eq!(field_error(&body), "msg.checkpoints[3].checkpoint_time");
        let mut body = sample();
        body["msg"]["checkpoints"][2]["checkpoint_time"] = json!(null);
        assert_eq!(field_error(&body), "msg.checkpoints[2].checkpoint_time");
        let mut body = sample();
        body["msg"]["checkpoints"][1].as_object_mut().unwrap().remove("checkpoint_time");
        assert_eq!(field_error(&body), "msg.checkpoints[1].checkpoint_time");
        let mut body = sample();
        body["msg"]["expected_delivery"] = json!("soon");
        assert_eq!(field_error(&body), "msg.expected_delivery");
        let mut body = sample();
        body["msg"]["tracking_number"] = json!("1Z#");
        assert_eq!(field_error(&body), "msg.tracking_number");
        let mut body = sample();
        body["msg"].as_object_mut().unwrap().remove("tracking_number");
        assert_eq!(field_error(&body), "msg.tracking_number");
        assert_eq!(field_error(&json!({"event": "tracking_update"})), "msg");
        assert_eq!(field_error(&json!({"msg": {}})), "event");
        for garbage in [&b"\xc3\x28"[..], b"", b"[]", b"42", b"{\"event\": ", b"{} {}"] {
            assert!(matches!(parse(garbage), Err(ParseError::Json(_))), "{garbage:?}");
        }
    }

    #[test]
    fn carriers_aftership_other_events_and_sparse_trackings() {
        let other = json!({"event": "estimated_delivery_date_update", "msg": {"id": "x"}});
        assert_eq!(parse(other.to_string().as_bytes()), Ok(None));
        let pending = json!({"event": "tracking_update", "msg": {"tracking_number": "JD014600006281230704",
            "slug": "dhl-germany", "tag": "Pending", "checkpoints": [], "expected_delivery": null}});
        let update = parsed(pending.to_string().as_bytes());
        assert!(update.events.is_empty());
        assert_eq!(update.carrier.as_deref(), Some("dhl-germany"), "unknown slugs are kept as sent");
        let free_text = json!({"event": "tracking_update", "msg": {"tracking_number": "JD014600006281230704",
            "checkpoints": [{"checkpoint_time": "2026-11-24T10:00:00+01:00", "tag": "InTransit",
                "location": "Leipzig Hub", "city": null, "country_iso3": ""}]}});
        let update = parsed(free_text.to_string().as_bytes());
        assert_eq!(update.events[0].location.as_deref(), Some("Leipzig Hub"));
        assert_eq!(update.events[0].provider_status, "InTransit");
        assert_eq!(update.carrier, None);
    }

    #[test]
    fn carriers_aftership_signature_is_base64_hmac() {
        let body = read(SAMPLE);
        let header = crate::http::signature::sign_base64_hmac("ppx_demo_aftership_secret", &body);
        assert_eq!(
            crate::http::signature::verify_base64_hmac("ppx_demo_aftership_secret", &body, Some(&header)),
            Ok(())
        );
    }

    proptest::proptest! {
        #[test]
        fn carriers_aftership_never_panics_on_bytes(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse(&body);
        }

        #[test]
        fn carriers_aftership_never_panics_on_mutated_sample(index in 0usize..100_000, byte in proptest::prelude::any::<u8>()) {
            let mut body = read(SAMPLE);
            let at = index % body.len();
            body[at] = byte;
            let _ = parse(&body);
        }
    }
}
