//! Identifier newtypes: parsed once at the edge, trusted everywhere after.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("shop id must be 1-100 characters of a-z, 0-9, '.', '-' or '_'")]
    Shop,
    #[error("order id must be 1-128 printable characters without '#'")]
    Order,
    #[error("tracking number must have 4-64 letters or digits")]
    Tracking,
}

/// A shop's id as it appears in URLs and keys, e.g. `demo-shop` or `jsmith.myshopify.com`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShopId(String);

impl ShopId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let ok = (1..=100).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'));
        if ok { Ok(Self(raw.to_owned())) } else { Err(IdError::Shop) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A platform's order id. Kept as a string: Shopify ids exceed 2^53.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderId(String);

impl OrderId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let raw = raw.trim();
        let ok = (1..=128).contains(&raw.len()) && raw.chars().all(|c| !c.is_control() && c != '#');
        if ok { Ok(Self(raw.to_owned())) } else { Err(IdError::Order) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A carrier tracking number, normalized: upper case, no spaces or dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingNumber(String);

impl TrackingNumber {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let normalized: String =
            raw.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
        let ok = (4..=64).contains(&normalized.len()) && normalized.chars().all(|c| c.is_ascii_alphanumeric());
        if ok { Ok(Self(normalized)) } else { Err(IdError::Tracking) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype_impls {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $t {
            type Error = IdError;
            fn try_from(raw: String) -> Result<Self, IdError> {
                Self::parse(&raw)
            }
        }
        impl From<$t> for String {
            fn from(id: $t) -> String {
                id.0
            }
        }
    )*};
}
string_newtype_impls!(ShopId, OrderId, TrackingNumber);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shop_ids_are_url_and_key_safe() {
        assert!(ShopId::parse("demo-shop").is_ok());
        assert!(ShopId::parse("jsmith.myshopify.com").is_ok());
        assert_eq!(ShopId::parse(""), Err(IdError::Shop));
        assert_eq!(ShopId::parse("Demo"), Err(IdError::Shop));
        assert_eq!(ShopId::parse("a#b"), Err(IdError::Shop));
        assert_eq!(ShopId::parse(&"a".repeat(101)), Err(IdError::Shop));
    }

    #[test]
    fn order_ids_reject_key_separators() {
        assert_eq!(OrderId::parse("820982911946154508").unwrap().as_str(), "820982911946154508");
        assert_eq!(OrderId::parse("a#b"), Err(IdError::Order));
        assert_eq!(OrderId::parse("  "), Err(IdError::Order));
    }

    #[test]
    fn tracking_numbers_normalize_case_and_spaces() {
        let a = TrackingNumber::parse("1z827wk74630").unwrap();
        let b = TrackingNumber::parse(" 1Z 827-WK7 4630 ").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "1Z827WK74630");
        assert_eq!(TrackingNumber::parse("ab"), Err(IdError::Tracking));
        assert_eq!(TrackingNumber::parse("abc/def"), Err(IdError::Tracking));
    }
}
