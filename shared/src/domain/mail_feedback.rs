//! What became of an email after SES took it (delivered, delayed, bounced, complained about),
//! and the addresses a shop must stop mailing. SES suspends an account whose bounce rate passes
//! 5% or complaint rate 0.1%: an address that bounced for good or complained is never mailed
//! again by that shop.

use crate::domain::ids::{OrderId, ShopId};
use crate::domain::names::wire_enum;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

wire_enum! {
    /// What the receiving side did with an email, as SES reports it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    pub enum MailOutcome {
        /// The recipient's server deferred it; SES keeps trying.
        Delayed = "delayed",
        Delivered = "delivered",
        /// The recipient's server refused it for now (a full mailbox) and SES gave up.
        SoftBounced = "soft_bounced",
        /// SES would not send it (it found a virus).
        Rejected = "rejected",
        /// The address does not exist or refuses all mail: never mail it again.
        Bounced = "bounced",
        /// The recipient marked it as spam: never mail them again.
        Complained = "complained",
    }
}

impl MailOutcome {
    /// Later news never takes back graver news: a delivery after a delay replaces it, a delay
    /// after the delivery does not, and a complaint (days later) replaces the delivery.
    pub fn rank(self) -> u8 {
        match self {
            Self::Delayed => 1,
            Self::Delivered => 2,
            Self::SoftBounced | Self::Rejected => 3,
            Self::Bounced => 4,
            Self::Complained => 5,
        }
    }

    /// Why the address must not be mailed again, when it must not.
    pub fn suppresses(self) -> Option<SuppressionReason> {
        match self {
            Self::Bounced => Some(SuppressionReason::HardBounce),
            Self::Complained => Some(SuppressionReason::Complaint),
            _ => None,
        }
    }
}

wire_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub enum SuppressionReason {
        HardBounce = "hard_bounce",
        Complaint = "complaint",
        /// Put there by the shop's operator (`ppx suppression add`).
        Operator = "operator",
    }
}

/// What SES said about one email: kept beside its message record (by the SES message id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailFeedback {
    /// SES's message id: what `SendEmail` returned, what the message record keeps.
    pub provider_message_id: String,
    pub outcome: MailOutcome,
    /// When it happened, by SES's clock.
    pub at: DateTime<Utc>,
    /// SES's words, for support: bounce type and subtype with the SMTP status, the complaint's
    /// feedback type, the delay type, the reject reason. Never the address.
    #[serde(default)]
    pub detail: Option<String>,
}

/// An address a shop no longer mails, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// The address as it bounced or complained (None once the customer's data was erased: the
    /// key, a hash of it, still suppresses).
    pub address: Option<String>,
    pub reason: SuppressionReason,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub detail: Option<String>,
    /// The order of the email that bounced or was complained about.
    #[serde(default)]
    pub order: Option<OrderId>,
}

impl Suppression {
    /// One line for a skipped message's record and the operator's tools.
    pub fn describe(&self) -> String {
        let at = self.at.format("%Y-%m-%d");
        match &self.detail {
            Some(detail) => format!("suppressed: {} on {at} ({detail})", self.reason),
            None => format!("suppressed: {} on {at}", self.reason),
        }
    }
}

/// The SES message tags every email carries, so that its feedback finds its order. SES allows
/// only ASCII letters, digits, `_` and `-` in a tag's value, at most 256 characters: the ids go
/// as unpadded base64url (a shop id of 100 characters is 136, an order id of 128 is 171).
pub mod tags {
    use super::*;

    pub const SHOP: &str = "ppx-shop";
    pub const ORDER: &str = "ppx-order";

    /// The tags of an email about `order` of `shop`.
    pub fn for_order(shop: &ShopId, order: &OrderId) -> [(&'static str, String); 2] {
        [(SHOP, URL_SAFE_NO_PAD.encode(shop.as_str())), (ORDER, URL_SAFE_NO_PAD.encode(order.as_str()))]
    }

    /// The shop and order named by the tags SES sent back (`name -> values`), if both are
    /// there and read as ids.
    pub fn read<'a>(mut value_of: impl FnMut(&str) -> Option<&'a str>) -> Option<(ShopId, OrderId)> {
        let decode = |raw: &str| String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok();
        let shop = ShopId::parse(&decode(value_of(SHOP)?)?).ok()?;
        let order = OrderId::parse(&decode(value_of(ORDER)?)?).ok()?;
        Some((shop, order))
    }

    /// Whether SES takes `value` as a tag's value.
    pub fn is_valid_value(value: &str) -> bool {
        (1..=256).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn tags_take_every_id_as_ses_allows_and_read_back() {
        let longest_shop = ShopId::parse(&"a.b-c_".repeat(17)[..100]).unwrap();
        let cases = [
            (ShopId::parse("demo-shop.myshopify.com").unwrap(), OrderId::parse("450789469").unwrap()),
            (longest_shop, OrderId::parse(&"x/+=é".repeat(21)).unwrap()),
            (ShopId::parse("w").unwrap(), OrderId::parse(&"é".repeat(64)).unwrap()),
        ];
        for (shop, order) in cases {
            let tags = tags::for_order(&shop, &order);
            for (_, value) in &tags {
                assert!(tags::is_valid_value(value), "{value}");
            }
            let map: HashMap<&str, &str> = tags.iter().map(|(n, v)| (*n, v.as_str())).collect();
            assert_eq!(tags::read(|name| map.get(name).copied()), Some((shop, order)));
        }
    }

    #[test]
    fn tags_missing_or_garbled_name_nothing() {
        assert_eq!(tags::read(|_| None), None);
        assert_eq!(tags::read(|name| (name == tags::SHOP).then_some("ZGVtbw")), None);
        // Not base64, and base64 of an id no shop can have.
        assert_eq!(tags::read(|_| Some("***")), None);
        assert_eq!(tags::read(|_| Some("REVNTw")), None, "DEMO is upper case");
    }

    #[test]
    fn graver_news_outranks_and_only_a_hard_bounce_or_a_complaint_suppresses() {
        use MailOutcome::*;
        assert!(Delayed.rank() < Delivered.rank());
        assert!(Delivered.rank() < Bounced.rank() && Delivered.rank() < Complained.rank());
        assert!(SoftBounced.rank() < Bounced.rank());
        let suppressing: Vec<_> = MailOutcome::ALL.into_iter().filter(|o| o.suppresses().is_some()).collect();
        assert_eq!(suppressing, [Bounced, Complained]);
    }

    #[test]
    fn a_suppression_says_why_without_the_address() {
        let suppression = Suppression {
            address: Some("ada@example.com".into()),
            reason: SuppressionReason::HardBounce,
            at: DateTime::from_timestamp(1_776_765_600, 0).unwrap(),
            detail: Some("Permanent/General 5.1.1".into()),
            order: None,
        };
        let line = suppression.describe();
        assert_eq!(line, "suppressed: hard_bounce on 2026-04-21 (Permanent/General 5.1.1)");
        assert!(!line.contains('@'));
    }
}
