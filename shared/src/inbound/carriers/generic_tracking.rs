//! ppx's own tracking-event format for any carrier integration or 3PL, documented in
//! `docs/generic-tracking-format.md`. Sent to `POST /webhooks/tracking/{shop}`, signed like the
//! generic order format (`Ppx-Signature`, [`crate::http::signature::verify_timestamped`]) with the
//! shop's `tracking` secret.
//!
//! Strict on purpose, like the generic order format: unknown fields are refused and `status`
//! must be one of the canonical [`TrackingStatus`] names.
//!
//! This file also holds the small helpers the provider parsers of `carriers/` share.

use crate::domain::ids::TrackingNumber;
use crate::domain::tracking::{CarrierUpdate, TrackingEvent, TrackingStatus};
use crate::inbound::wire::{self, Timestamp};
use crate::inbound::{ParseError, non_empty};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::Deserialize;

/// Parses a body sent to `POST /webhooks/tracking/{shop}`. Never `Ok(None)`: every valid body
/// is about tracking (the `Option` keeps the signature of the other carrier parsers).
pub fn parse(body: &[u8]) -> Result<Option<CarrierUpdate>, ParseError> {
    let raw: RawUpdate = wire::from_body(body)?;
    let tracking_number = tracking_number("tracking_number", &raw.tracking_number)?;
    let carrier = non_empty(Some(raw.carrier)).ok_or_else(|| ParseError::field("carrier", "must not be empty"))?;
    let events = raw
        .events
        .into_iter()
        .map(|e| TrackingEvent {
            status: e.status,
            occurred_at: e.occurred_at.0,
            provider_status: e.status.as_str().to_owned(),
            message: non_empty(e.message),
            location: non_empty(e.location),
        })
        .collect();
    Ok(Some(CarrierUpdate {
        tracking_number,
        carrier: Some(carrier),
        events,
        estimated_delivery: raw.estimated_delivery,
        public_url: non_empty(raw.tracking_url),
        provider_reference: None,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpdate {
    tracking_number: String,
    carrier: String,
    estimated_delivery: Option<NaiveDate>,
    tracking_url: Option<String>,
    events: Vec<RawEvent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    status: TrackingStatus,
    occurred_at: Timestamp,
    message: Option<String>,
    location: Option<String>,
}

// ---- Helpers shared by the carrier parsers ------------------------------------------------

/// A tracking number through [`TrackingNumber::parse`]; a bad one is a field error at `path`.
pub(crate) fn tracking_number(path: &str, raw: &str) -> Result<TrackingNumber, ParseError> {
    TrackingNumber::parse(raw).map_err(|e| ParseError::field(path, e))
}

/// "City, ST, US" from the parts that are present and not blank; `None` when none is.
pub(crate) fn join_location<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> Option<String> {
    let parts: Vec<&str> = parts.into_iter().flatten().map(str::trim).filter(|p| !p.is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The provider's words for a status: `status/detail`, or `status` alone when there is no detail.
pub(crate) fn provider_status(status: &str, detail: Option<&str>) -> String {
    match detail.map(str::trim).filter(|d| !d.is_empty()) {
        Some(detail) => format!("{}/{detail}", status.trim()),
        None => status.trim().to_owned(),
    }
}

/// A calendar date from `2026-11-27`, or the date part of a timestamp as written
/// (`2026-11-27T00:00:00Z`, `2026-11-27T18:00:00-05:00`, `2026-11-27T18:00:00`): no time-zone
/// conversion, since carriers send estimates as the local date (EasyPost as UTC midnight).
pub(crate) fn calendar_date(path: &str, raw: &str) -> Result<NaiveDate, ParseError> {
    let raw = raw.trim();
    if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(date);
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(raw) {
        return Ok(time.date_naive());
    }
    if let Ok(time) = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f") {
        return Ok(time.date());
    }
    Err(ParseError::field(path, format!("{raw:?} is not a date such as \"2026-11-27\" or an RFC 3339 timestamp")))
}

/// An optional calendar date: absent, `null` and `""` are all "no estimate".
pub(crate) fn optional_date(path: &str, raw: Option<&str>) -> Result<Option<NaiveDate>, ParseError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        Some(raw) => calendar_date(path, raw).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::carriers::test_support::{field_error_of, parsed_by, read, statuses};

    fn parsed(body: &[u8]) -> CarrierUpdate {
        parsed_by(parse, body)
    }

    fn field_error(body: &Value) -> (String, String) {
        field_error_of(parse, body)
    }
    use chrono::{TimeZone, Utc};
    use serde_json::{Value, json};

    const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/generic-tracking-event.json");
    const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/generic-tracking-format.md");

    #[test]
    fn carriers_generic_sample_parses() {
        use TrackingStatus::*;
        let update = parsed(&read(SAMPLE));
        assert_eq!(update.tracking_number.as_str(), "1Z999AA10123456784");
        assert_eq!(update.carrier.as_deref(), Some("UPS"));
        assert_eq!(update.estimated_delivery, NaiveDate::from_ymd_opt(2026, 11, 27));
        assert!(update.public_url.as_deref().is_some_and(|u| u.contains("1Z999AA10123456784")));
        assert_eq!(update.provider_reference, None);
        assert_eq!(statuses(&update), [LabelCreated, InTransit, InTransit, OutForDelivery, DeliveryAttempted]);
        let attempt = &update.events[4];
        assert_eq!(attempt.occurred_at, Utc.with_ymd_and_hms(2026, 11, 26, 17, 42, 0).unwrap());
        assert_eq!(attempt.provider_status, "delivery_attempted");
        assert_eq!(attempt.message.as_deref(), Some("Customer not available. A notice was left."));
        assert_eq!(attempt.location.as_deref(), Some("Brooklyn, NY, US"));
        assert_eq!(update.events[0].location, None, "an absent location stays absent");
    }

    #[test]
    fn carriers_generic_minimal_and_every_status() {
        let minimal = json!({"tracking_number": "jd0146 0000-6281", "carrier": "DHL", "events": []});
        let update = parsed(minimal.to_string().as_bytes());
        assert_eq!(update.tracking_number.as_str(), "JD014600006281");
        assert!(update.events.is_empty());
        assert_eq!((update.estimated_delivery, update.public_url), (None, None));

        let all = [
            "label_created",
            "in_transit",
            "out_for_delivery",
            "delivery_attempted",
            "available_for_pickup",
            "delivered",
            "exception",
            "returned_to_sender",
            "unknown",
        ];
        let events: Vec<Value> =
            all.iter().map(|s| json!({"status": s, "occurred_at": "2026-11-24T09:00:00+01:00"})).collect();
        let body = json!({"tracking_number": "JD014600006281", "carrier": "DHL", "events": events,
            "estimated_delivery": null, "tracking_url": ""});
        let update = parsed(body.to_string().as_bytes());
        let names: Vec<&str> = update.events.iter().map(|e| e.status.as_str()).collect();
        assert_eq!(names, all);
        assert!(update.events.iter().all(|e| e.occurred_at == Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap()));
        assert_eq!(update.public_url, None);
    }

    #[test]
    fn carriers_generic_errors_name_the_field() {
        let good: Value = serde_json::from_slice(&read(SAMPLE)).unwrap();
        let with = |pointer: &str, value: Value| {
            let mut body = good.clone();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            match body.pointer_mut(parent).unwrap() {
                Value::Object(map) => {
                    map.insert(key.to_owned(), value);
                }
                Value::Array(list) => list[key.parse::<usize>().unwrap()] = value,
                other => panic!("{other}"),
            }
            body
        };
        let without = |key: &str| {
            let mut body = good.clone();
            body.as_object_mut().unwrap().remove(key);
            body
        };
        let cases = [
            (with("/events/1/status", json!("lost")), "events[1].status", "unknown variant"),
            (with("/events/1/status", json!("InTransit")), "events[1].status", "unknown variant"),
            (with("/events/2/occurred_at", json!("2026-11-25 10:00")), "events[2].occurred_at", "RFC 3339"),
            (with("/events/2/occurred_at", json!(null)), "events[2].occurred_at", "null"),
            (with("/events/0/when", json!("x")), "events[0].when", "unknown field"),
            (with("/estimated_delivery", json!("27/11/2026")), "estimated_delivery", ""),
            (with("/tracking_number", json!("AB/12")), "tracking_number", "4-64"),
            (with("/carrier", json!("  ")), "carrier", "empty"),
            (with("/events", json!({})), "events", "sequence"),
            (without("carrier"), "carrier", "missing field"),
            (without("events"), "events", "missing field"),
            (with("/status", json!("delivered")), "status", "unknown field"),
        ];
        for (body, field, problem) in cases {
            let (got_field, got_problem) = field_error(&body);
            assert_eq!(got_field, field, "{body}");
            assert!(got_problem.contains(problem), "{field}: {got_problem}");
        }
        let mut missing_time = good.clone();
        missing_time["events"][3].as_object_mut().unwrap().remove("occurred_at");
        assert_eq!(field_error(&missing_time).0, "events[3].occurred_at");
        for garbage in [&b"\xc3\x28"[..], b"", b"[]", b"42", b"{\"tracking_number\": ", b"{} {}"] {
            assert!(matches!(parse(garbage), Err(ParseError::Json(_))), "{garbage:?}");
        }
    }

    #[test]
    fn carriers_helpers() {
        assert_eq!(join_location([Some("Brooklyn"), None, Some(" US ")]).as_deref(), Some("Brooklyn, US"));
        assert_eq!(join_location([Some(" "), None]), None);
        assert_eq!(provider_status("failure", Some("delivery_attempt")), "failure/delivery_attempt");
        assert_eq!(provider_status("delivered", Some("")), "delivered");
        assert_eq!(provider_status("delivered", None), "delivered");
        let date = NaiveDate::from_ymd_opt(2024, 8, 5);
        for raw in ["2024-08-05", "2024-08-05T00:00:00Z", "2024-08-05T23:30:00-05:00", "2024-08-05T10:00:00"] {
            assert_eq!(calendar_date("d", raw).ok(), date, "{raw}");
        }
        assert!(matches!(calendar_date("a.b", "soon"), Err(ParseError::Field { field, .. }) if field == "a.b"));
        assert_eq!(optional_date("d", Some(" ")), Ok(None));
        assert_eq!(optional_date("d", None), Ok(None));
    }

    /// The ```json blocks of the format's documentation.
    fn doc_examples() -> Vec<String> {
        let doc = String::from_utf8(read(DOC)).unwrap();
        doc.split("```json\n").skip(1).map(|block| block.split("\n```").next().unwrap().to_owned()).collect()
    }

    #[test]
    fn carriers_generic_doc_examples_parse() {
        let examples = doc_examples();
        assert!(examples.len() >= 3, "{} examples", examples.len());
        for example in &examples {
            assert!(parse(example.as_bytes()).is_ok_and(|u| u.is_some()), "{example}: {:?}", parse(example.as_bytes()));
        }
        // The documented demo file is the one in events/.
        let file: Value = serde_json::from_slice(&read(SAMPLE)).unwrap();
        assert!(
            examples.iter().any(|e| serde_json::from_str::<Value>(e).unwrap() == file),
            "events/ sample not in the doc"
        );
    }

    #[test]
    fn carriers_generic_doc_signature_example_verifies() {
        let doc = String::from_utf8(read(DOC)).unwrap();
        let header = doc.lines().find_map(|l| l.strip_prefix("Ppx-Signature: t=1795698600")).unwrap();
        let header = format!("t=1795698600{header}");
        let body = doc_examples().into_iter().find(|e| !e.contains('\n')).expect("a one-line example");
        let now = Utc.timestamp_opt(1_795_698_600, 0).unwrap();
        crate::http::signature::verify_timestamped("ppx_demo_tracking_secret", body.as_bytes(), Some(&header), now)
            .unwrap();
        assert_eq!(now, Utc.with_ymd_and_hms(2026, 11, 26, 13, 10, 0).unwrap(), "the doc states this time");
        assert!(parse(body.as_bytes()).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn carriers_generic_never_panics_on_bytes(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse(&body);
        }

        #[test]
        fn carriers_generic_never_panics_on_mutated_sample(index in 0usize..100_000, byte in proptest::prelude::any::<u8>()) {
            let mut body = read(SAMPLE);
            let at = index % body.len();
            body[at] = byte;
            let _ = parse(&body);
        }
    }
}
