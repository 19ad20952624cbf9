//! Inbound platform formats. One file per provider; each maps into [`PlatformEvent`].

pub mod generic_order;
pub mod shopify;
pub(crate) mod wire;
pub mod woocommerce;

use crate::order::{Order, Shipment};
use serde::de::DeserializeOwned;

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum OrderTopic {
    Created,
    Updated,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("body is not valid JSON: {0}")]
    Json(String),
    /// A field is missing or has the wrong type or value; `field` is its JSON path.
    #[error("field `{field}`: {problem}")]
    Field { field: String, problem: String },
    #[error("unsupported topic {0:?}")]
    UnsupportedTopic(String),
}

impl ParseError {
    pub fn field(field: impl Into<String>, problem: impl ToString) -> Self {
        Self::Field { field: field.into(), problem: problem.to_string() }
    }
}

/// Deserializes a body, naming the JSON path of the first problem.
pub fn from_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let problem = without_values(&inner.to_string());
        if inner.is_syntax() || inner.is_eof() || path == "." {
            ParseError::Json(problem)
        } else {
            ParseError::Field { field: path, problem }
        }
    })?;
    de.end().map_err(|e| ParseError::Json(e.to_string()))?;
    Ok(value)
}

/// serde's message without the value it quotes: `invalid type: integer `5551234567`, expected a
/// string` names a customer's phone number, and these messages are logged and answered. What
/// was expected stays (it comes from our types, never from the sender).
fn without_values(problem: &str) -> String {
    for (prefix, end) in [("invalid type: ", ", expected"), ("invalid value: ", ", expected"), ("invalid length ", ",")]
    {
        if let Some(rest) = problem.strip_prefix(prefix) {
            let (found, expected) = rest.split_once(end).unwrap_or((rest, ""));
            // `integer `5551234567`` or `string "ada@example.com"`: keep the kind only.
            let kind = found.split([' ', '`', '"']).next().unwrap_or_default();
            return format!("{prefix}{kind}{end}{expected}");
        }
    }
    if let Some(rest) = problem.strip_prefix("unknown variant `") {
        let expected = rest.split_once("`, ").map_or("", |(_, expected)| expected);
        return format!("unknown variant, {expected}");
    }
    problem.to_owned()
}

/// [`from_json`] for bodies that must be a JSON object (as every webhook body is), naming a
/// missing field by its full path.
pub fn from_json_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ParseError> {
    wire::from_body(body)
}

/// An E.164 number (`+` and 8-15 digits) from what a customer typed, or `None` when the
/// number has no country code and so cannot be texted safely.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let plus = trimmed.starts_with('+') || trimmed.starts_with("00");
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let digits = if trimmed.starts_with("00") { digits[2..].to_owned() } else { digits };
    let only_phone_chars = trimmed.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    (plus && only_phone_chars && (8..=15).contains(&digits.len()) && !digits.starts_with('0'))
        .then(|| format!("+{digits}"))
}

/// Empty strings, which some platforms send for unset fields, become `None`.
pub fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_need_a_country_code() {
        assert_eq!(normalize_phone("+1 (312) 555-1212").as_deref(), Some("+13125551212"));
        assert_eq!(normalize_phone("0044 20 7946 0958").as_deref(), Some("+442079460958"));
        assert_eq!(normalize_phone("(555) 555-5555"), None);
        assert_eq!(normalize_phone("555-555-SHIP"), None);
        assert_eq!(normalize_phone("+1"), None);
        assert_eq!(normalize_phone(""), None);
    }

    #[test]
    fn serde_problems_never_carry_the_value_they_refused() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Customer {
            phone: Option<String>,
            kind: Option<Kind>,
            tags: Option<[String; 2]>,
        }
        #[derive(serde::Deserialize, Debug)]
        #[serde(rename_all = "snake_case")]
        enum Kind {
            Person,
        }
        for (body, field, value) in [
            (r#"{"phone": 5551234567}"#, "phone", "5551234567"),
            (r#"{"phone": -15551234567}"#, "phone", "15551234567"),
            (r#"{"phone": 555.1234}"#, "phone", "555.1234"),
            (r#"{"phone": true}"#, "phone", "true"),
            (r#"{"kind": "ada@example.com"}"#, "kind", "ada@example.com"),
            (r#"{"tags": ["ada@example.com"]}"#, "tags", "ada@example.com"),
        ] {
            let err = from_json::<Customer>(body.as_bytes()).unwrap_err();
            let ParseError::Field { field: named, problem } = &err else { panic!("{body}: {err:?}") };
            assert_eq!(named, field, "{body}");
            assert!(!err.to_string().contains(value), "{body}: {err}");
            assert!(problem.contains("expected") || problem.contains("invalid length"), "{body}: {problem}");
        }
        let err = from_json::<Customer>(br#"{"phone": 5551234567}"#).unwrap_err();
        assert_eq!(err.to_string(), "field `phone`: invalid type: integer, expected a string at line 1 column 20");
    }

    #[test]
    fn json_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Outer {
            items: Vec<Inner>,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Inner {
            quantity: u32,
        }
        let err = from_json::<Outer>(br#"{"items":[{"quantity":"two"}]}"#).unwrap_err();
        assert!(matches!(&err, ParseError::Field { field, .. } if field == "items[0].quantity"), "{err:?}");
        let err = from_json::<Outer>(br#"{"items":[{}]}"#).unwrap_err();
        assert!(
            matches!(&err, ParseError::Field { field, problem } if field == "items[0]" && problem.contains("quantity")),
            "{err:?}"
        );
        assert!(matches!(from_json::<Outer>(b"{not json"), Err(ParseError::Json(_))));
        assert!(matches!(from_json::<Outer>(b""), Err(ParseError::Json(_))));
        assert!(matches!(from_json::<Outer>(br#"{"items":[]} trailing"#), Err(ParseError::Json(_))));
    }
}
