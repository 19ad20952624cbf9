//! Deserialization helpers shared by the provider parsers: ids that are numbers or strings
//! (never f64), money as decimal strings, RFC 3339 timestamps, and bodies whose errors name the field.

use crate::domain::ids::OrderId;
use crate::domain::money::{Currency, Money};
use crate::domain::order::LineItem;
use crate::inbound::{ParseError, from_json};
use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeOwned, IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// [`from_json`], but a missing field is named by its full path (`id`,
/// `line_items[1].quantity`, where `from_json` says `.` and `line_items[1]`). The body must be a JSON object (serde would read a struct from an
/// array, position by position).
pub fn from_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ParseError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'{') && serde_json::from_slice::<IgnoredAny>(body).is_ok() {
        return Err(ParseError::Json("the body must be a JSON object".to_owned()));
    }
    match from_json::<T>(body) {
        Err(ParseError::Json(problem)) => match field_named_in(&problem) {
            Some(name) if serde_json::from_slice::<IgnoredAny>(body).is_ok() => {
                Err(ParseError::Field { field: name.to_owned(), problem })
            }
            _ => Err(ParseError::Json(problem)),
        },
        Err(ParseError::Field { field, problem }) => {
            let field = match field_named_in(&problem) {
                Some(name) => format!("{field}.{name}"),
                None => field,
            };
            Err(ParseError::Field { field, problem })
        }
        other => other,
    }
}

/// The field a serde "missing field `x`" message is about. (Unknown fields are already
/// in the path.)
fn field_named_in(problem: &str) -> Option<&str> {
    problem.strip_prefix("missing field `")?.split_once('`').map(|(name, _)| name)
}

/// An id sent as a JSON integer or string. Integers are read as `u64`/`i64`, never as
/// `f64`, so ids beyond 2^53 stay exact; floats are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlexId(pub String);

impl FlexId {
    /// The id, or `None` when it is an empty string.
    pub fn into_option(self) -> Option<String> {
        let trimmed = self.0.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }
}

impl<'de> Deserialize<'de> for FlexId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = FlexId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id (an integer or a string)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FlexId, E> {
                Ok(FlexId(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FlexId, E> {
                Ok(FlexId(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FlexId, E> {
                Ok(FlexId(v.to_owned()))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

pub fn order_id(path: &str, id: FlexId) -> Result<OrderId, ParseError> {
    OrderId::parse(&id.0).map_err(|e| ParseError::field(path, e))
}

pub fn currency(path: &str, raw: &str) -> Result<Currency, ParseError> {
    Currency::parse(raw).map_err(|e| ParseError::field(path, e))
}

/// Money as a decimal string (`"12.50"`). JSON numbers are refused: they are floats
/// to most senders and lose cents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalString(pub String);

pub const MONEY_NOT_NUMBER: &str = "money must be a decimal string such as \"12.50\", not a JSON number";

impl DecimalString {
    pub fn money(&self, path: &str, currency: Currency) -> Result<Money, ParseError> {
        Money::parse(&self.0, currency).map_err(|e| ParseError::field(path, e))
    }
}

impl<'de> Deserialize<'de> for DecimalString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MoneyVisitor;
        impl Visitor<'_> for MoneyVisitor {
            type Value = DecimalString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("money as a decimal string such as \"12.50\"")
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<DecimalString, E> {
                Err(E::custom(MONEY_NOT_NUMBER))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<DecimalString, E> {
                Err(E::custom(MONEY_NOT_NUMBER))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<DecimalString, E> {
                Err(E::custom(MONEY_NOT_NUMBER))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DecimalString, E> {
                Ok(DecimalString(v.to_owned()))
            }
        }
        deserializer.deserialize_any(MoneyVisitor)
    }
}

/// Most line items an order (or a shipment) may list: more than any real order (Shopify
/// checkouts stop at 500), so that an order's item stays well under DynamoDB's 400 KB.
pub const MAX_LINE_ITEMS: usize = 500;

/// A JSON array of at most `N` elements. More is refused while reading (naming the array's
/// path), so a huge array is never collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtMost<T, const N: usize>(pub Vec<T>);

impl<T, const N: usize> Default for AtMost<T, N> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T, const N: usize> std::ops::Deref for AtMost<T, N> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T, const N: usize> IntoIterator for AtMost<T, N> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for AtMost<T, N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeqVisitor<T, const N: usize>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for SeqVisitor<T, N> {
            type Value = AtMost<T, N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an array of at most {N} items")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(N));
                while let Some(item) = seq.next_element()? {
                    if items.len() == N {
                        return Err(de::Error::custom(format_args!("at most {N} items are accepted")));
                    }
                    items.push(item);
                }
                Ok(AtMost(items))
            }
        }
        deserializer.deserialize_seq(SeqVisitor(std::marker::PhantomData))
    }
}

/// An RFC 3339 timestamp with any offset, converted to UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimeVisitor;
        impl Visitor<'_> for TimeVisitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp such as \"2026-11-23T10:15:00-05:00\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                DateTime::parse_from_rfc3339(v.trim()).map(|t| Timestamp(t.with_timezone(&Utc))).map_err(|e| {
                    E::custom(format_args!(
                        "{v:?} is not an RFC 3339 timestamp such as \"2026-11-23T10:15:00-05:00\" ({e})"
                    ))
                })
            }
        }
        deserializer.deserialize_str(TimeVisitor)
    }
}

/// Tags as a list of strings or as Shopify's comma-separated string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Tags {
    List(Vec<String>),
    Text(String),
}

impl Tags {
    pub fn into_vec(self) -> Vec<String> {
        let tags = match self {
            Tags::List(list) => list,
            Tags::Text(text) => text.split(',').map(str::to_owned).collect(),
        };
        tags.into_iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect()
    }
}

/// Sum of the items' unit price times quantity, for a subtotal the platform left out.
pub fn sum_lines(items: &[LineItem], currency: Currency, path: &str) -> Result<Money, ParseError> {
    items.iter().try_fold(Money::zero(currency), |sum, item| {
        item.line_total().and_then(|line| sum.checked_add(line)).map_err(|e| ParseError::field(path, e))
    })
}
