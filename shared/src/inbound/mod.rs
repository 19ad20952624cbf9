//! The inbound edge: what platforms and carriers post, parsed into domain types. One file per
//! provider format; the JSON helpers they share (ids that are numbers or strings, money as
//! decimal strings, errors that name the field's path) are here and in [`wire`].

pub mod carriers;
pub mod platforms;
pub mod ses_events;
pub(crate) mod wire;

use serde::de::DeserializeOwned;

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

/// Every parsed event goes through `CleanText` in the handlers: no string field of any provider's
/// payload keeps a control character.
#[cfg(test)]
mod clean_text {
    use crate::domain::ids::ShopId;
    use crate::domain::returns::{Resolution, ReturnRequest};
    use crate::domain::text::CleanText;
    use crate::inbound::ParseError;
    use serde_json::Value;

    /// Every string leaf of `payload`, by its path of keys and indexes.
    fn string_paths(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
        match value {
            Value::String(_) => out.push(path.clone()),
            Value::Array(items) => items.iter().enumerate().for_each(|(i, item)| {
                path.push(Value::from(i));
                string_paths(item, path, out);
                path.pop();
            }),
            Value::Object(fields) => fields.iter().for_each(|(key, item)| {
                path.push(Value::from(key.as_str()));
                string_paths(item, path, out);
                path.pop();
            }),
            _ => {}
        }
    }

    fn at<'v>(value: &'v mut Value, path: &[Value]) -> &'v mut Value {
        path.iter().fold(value, |value, step| match step {
            Value::String(key) => &mut value[key.as_str()],
            index => &mut value[index.as_u64().unwrap() as usize],
        })
    }

    const CONTROLS: &str = "\u{0}\u{1b}[2J\u{7}\u{85}\u{9b}\r\n";

    /// Injects control characters into each string of a published payload in turn: the parser
    /// either refuses it naming a field (400) or gives a value with no control character left.
    fn no_string_field_keeps_a_control<T: serde::Serialize + CleanText>(
        fixture: &str,
        parse: impl Fn(&[u8]) -> Result<Option<T>, ParseError>,
    ) {
        // A provider's published payload (tests/fixtures) or our own sample (events/).
        let path = format!("{}/../{fixture}", env!("CARGO_MANIFEST_DIR"));
        let payload: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let mut paths = Vec::new();
        string_paths(&payload, &mut Vec::new(), &mut paths);
        let mut cleaned = 0;
        for path in &paths {
            let mut tainted = payload.clone();
            let leaf = at(&mut tainted, path);
            *leaf = Value::from(format!("{}{CONTROLS}x", leaf.as_str().unwrap()));
            match parse(tainted.to_string().as_bytes()) {
                Ok(Some(mut parsed)) => {
                    // What the handlers do with every parsed event.
                    parsed.clean_text();
                    let out = serde_json::to_string(&parsed).unwrap();
                    let text: String = serde_json::from_str::<Value>(&out).unwrap().to_string();
                    // Escapes in the JSON text are what controls become: none may be left.
                    assert!(
                        !text.contains("\\u00") && !text.contains("\\n") && !text.contains("\\r"),
                        "{path:?}: {out}"
                    );
                    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{path:?}: {out}");
                    cleaned += 1;
                }
                Ok(None) | Err(ParseError::Field { .. }) | Err(ParseError::UnsupportedTopic(_)) => {}
                Err(other) => panic!("{fixture} {path:?}: {other:?}"),
            }
        }
        assert!(cleaned > 5, "{fixture}: only {cleaned} of {} strings parsed with controls", paths.len());
    }

    #[test]
    fn platform_payloads_come_out_without_control_characters() {
        use crate::inbound::platforms::{generic_order, shopify, woocommerce};
        let shop = ShopId::parse("demo-shop").unwrap();
        no_string_field_keeps_a_control("tests/fixtures/shopify-orders-create.json", |body| {
            shopify::parse(&shop, "orders/create", body).map(Some)
        });
        no_string_field_keeps_a_control("tests/fixtures/shopify-fulfillments-create.json", |body| {
            shopify::parse(&shop, "fulfillments/create", body).map(Some)
        });
        no_string_field_keeps_a_control("tests/fixtures/woocommerce-order-created-docs.json", |body| {
            woocommerce::parse(&shop, "order.created", body).map(Some)
        });
        no_string_field_keeps_a_control("events/generic-order-created.json", |body| {
            generic_order::parse(&shop, body).map(Some)
        });
        no_string_field_keeps_a_control("events/generic-shipment-created.json", |body| {
            generic_order::parse(&shop, body).map(Some)
        });
    }

    #[test]
    fn carrier_payloads_come_out_without_control_characters() {
        use crate::inbound::carriers::{aftership, easypost, generic_tracking, shippo};
        no_string_field_keeps_a_control("tests/fixtures/easypost-tracker-updated-delivered.json", easypost::parse);
        no_string_field_keeps_a_control("events/easypost-tracker-updated.json", easypost::parse);
        no_string_field_keeps_a_control("tests/fixtures/shippo-track_updated-docs-sample.json", shippo::parse);
        no_string_field_keeps_a_control("events/shippo-track-updated.json", shippo::parse);
        no_string_field_keeps_a_control("events/aftership-tracking-update.json", aftership::parse);
        no_string_field_keeps_a_control("events/generic-tracking-event.json", generic_tracking::parse);
    }

    #[test]
    fn return_requests_keep_comment_lines_and_lose_every_other_control() {
        let body = serde_json::json!({
            "order_id": "5550001001",
            "items": [{ "line_item": "66600\u{0}1001", "quantity": 1, "reason": "doesnt_fit\u{1b}",
                        "comment": "Too\r\nsmall\u{7}" }],
            "resolution": { "type": "exchange", "variant": "L\n/ Sand\u{9b}" },
            "comment": "Line one\nLine two\u{0}",
        });
        let mut request: ReturnRequest = crate::inbound::from_json_object(body.to_string().as_bytes()).unwrap();
        request.clean_text();
        assert_eq!(request.items[0].line_item, "666001001");
        assert_eq!(request.items[0].reason, "doesnt_fit");
        assert_eq!(request.items[0].comment.as_deref(), Some("Too\nsmall"));
        assert_eq!(request.resolution, Resolution::Exchange { variant: "L / Sand".to_owned() });
        assert_eq!(request.comment.as_deref(), Some("Line one\nLine two"));
    }
}
