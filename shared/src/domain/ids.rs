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
    #[error("shipment id must have 1-256 bytes of printable text")]
    Shipment,
    #[error("return id must be R and 16 lower-case hex digits")]
    Return,
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

/// A platform's fulfillment id, unique within its order. Free-form (`#` included): it comes
/// last in every key and scope it is part of. Control characters are removed, as from all text
/// from outside (`text`), and the rest must fit a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShipmentId(String);

impl ShipmentId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let printable: String = raw.chars().filter(|c| !c.is_control()).collect();
        let id = printable.trim();
        if (1..=256).contains(&id.len()) { Ok(Self(id.to_owned())) } else { Err(IdError::Shipment) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A return's id: `R` and 16 lower-case hex digits, derived from the shop, the order and the
/// request's idempotency key (`returns::return_id`), so a retried request finds the same return.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReturnId(String);

impl ReturnId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let hex = raw.strip_prefix('R').ok_or(IdError::Return)?;
        let ok = hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok { Ok(Self(raw.to_owned())) } else { Err(IdError::Return) }
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
string_newtype_impls!(ShopId, OrderId, TrackingNumber, ShipmentId, ReturnId);

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

    #[test]
    fn shipment_ids_are_free_form_but_printable_and_bounded() {
        assert_eq!(ShipmentId::parse(" 255858046 ").unwrap().as_str(), "255858046");
        assert_eq!(ShipmentId::parse("ful#1").unwrap().as_str(), "ful#1");
        assert_eq!(ShipmentId::parse(""), Err(IdError::Shipment));
        assert_eq!(ShipmentId::parse("a\u{0}b\u{9b}").unwrap().as_str(), "ab");
        assert_eq!(ShipmentId::parse("\u{0}"), Err(IdError::Shipment));
        assert_eq!(ShipmentId::parse(&"é".repeat(129)), Err(IdError::Shipment));
        assert!(ShipmentId::parse(&"é".repeat(128)).is_ok());
    }

    #[test]
    fn return_ids_have_one_form() {
        assert!(ReturnId::parse("R0123456789abcdef").is_ok());
        assert_eq!(ReturnId::parse("R0123456789ABCDEF"), Err(IdError::Return));
        assert_eq!(ReturnId::parse("0123456789abcdef0"), Err(IdError::Return));
        assert_eq!(ReturnId::parse("R0123"), Err(IdError::Return));
    }
}
