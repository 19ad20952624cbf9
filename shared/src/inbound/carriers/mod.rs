//! Inbound carrier and tracking-aggregator formats. One file per provider; each maps into
//! [`crate::domain::tracking::CarrierUpdate`]. The status mapping table is `docs/tracking-status-mapping.md`.

pub mod aftership;
pub mod easypost;
pub mod generic_tracking;
pub mod shippo;

use crate::inbound::ParseError;

/// Whether a body's top-level `event` names `expected` (Shippo, AfterShip); other events are
/// authentic but not about a parcel, and are acknowledged and ignored.
pub(crate) fn is_event(body: &[u8], expected: &str) -> Result<bool, ParseError> {
    #[derive(serde::Deserialize)]
    struct Head {
        event: String,
    }
    let head: Head = crate::inbound::from_json_object(body)?;
    Ok(head.event.trim() == expected)
}

/// Helpers the carrier parsers' tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::domain::tracking::{CarrierUpdate, TrackingStatus};
    use crate::inbound::ParseError;
    use serde_json::Value;

    pub type Parser = fn(&[u8]) -> Result<Option<CarrierUpdate>, ParseError>;

    pub fn read(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub fn parsed_by(parse: Parser, body: &[u8]) -> CarrierUpdate {
        parse(body).unwrap().expect("a tracking update")
    }

    pub fn statuses(update: &CarrierUpdate) -> Vec<TrackingStatus> {
        update.events.iter().map(|e| e.status).collect()
    }

    /// The field and problem of the error `parse` gives for `body`.
    pub fn field_error_of(parse: Parser, body: &Value) -> (String, String) {
        match parse(body.to_string().as_bytes()) {
            Err(ParseError::Field { field, problem }) => (field, problem),
            other => panic!("expected a field error for {body}, got {other:?}"),
        }
    }
}
