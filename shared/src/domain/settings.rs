//! Per-shop settings, stored in the table and cached per cold start.

use crate::domain::delivery::DeliverySettings;
use crate::domain::ids::ShopId;
use crate::domain::mailbox::Mailbox;
use crate::domain::names::wire_enum;
use crate::domain::notification::{MAX_NOTICES_PER_SHIPMENT, NotificationSettings};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

wire_enum! {
    /// Every inbound integration that carries its own secret.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    pub enum WebhookSource {
        Shopify = "shopify",
        Woocommerce = "woocommerce",
        /// The documented generic order format.
        Orders = "orders",
        Easypost = "easypost",
        Shippo = "shippo",
        Aftership = "aftership",
        /// The documented generic tracking-event format.
        Tracking = "tracking",
    }
}

/// How Shippo's webhooks prove they are Shippo's. Shippo signs only when the account turns HMAC
/// signing on; otherwise the webhook URL carries a secret `?token=`. A URL token can leak (logs,
/// proxies, screenshots), so it is accepted only when the shop chose it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShippoAuth {
    /// `Shippo-Auth-Signature` with the `shippo` secret; a token alone is refused.
    #[default]
    Hmac,
    /// `?token=<shippo secret>` on the URL.
    Token,
}

/// A shared secret. Never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Who a text comes from: the shop's number or sender ID, each when set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SmsOrigin<'a> {
    pub number: Option<&'a str>,
    pub sender_id: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShopSettings {
    pub shop: ShopId,
    pub display_name: String,
    /// `#RRGGBB`, used in emails and pages.
    #[serde(default = "default_brand_color")]
    pub brand_color: String,
    /// `Name <address>`, `"Name, with specials" <address>` or a bare address; must be an
    /// SES-verified identity. Parsed when the settings are read: a malformed one refuses them.
    pub sender: Mailbox,
    #[serde(default)]
    pub reply_to: Option<Mailbox>,
    pub support_url: String,
    #[serde(default)]
    pub support_email: Option<String>,
    #[serde(default = "default_locale")]
    pub locale: String,
    #[serde(with = "tz_serde", default = "default_time_zone")]
    pub time_zone: Tz,
    /// The platform's shop domain when it differs from the shop id (Shopify's `X-Shopify-Shop-Domain`).
    #[serde(default)]
    pub platform_domain: Option<String>,
    /// How Shippo's webhooks authenticate with the `shippo` secret (default `hmac`).
    #[serde(default)]
    pub shippo_auth: ShippoAuth,
    #[serde(default)]
    pub delivery: DeliverySettings,
    #[serde(default = "default_review_delay_days")]
    pub review_delay_days: u32,
    /// Where a customer reviews a product: `{sku}`, `{product_id}` and `{handle}` (the title as a
    /// URL slug) are replaced per item, e.g. `https://shop.example/products/{handle}#reviews`.
    #[serde(default)]
    pub review_url_template: Option<String>,
    #[serde(default)]
    pub return_policy: crate::domain::returns::ReturnPolicy,
    #[serde(default)]
    pub ses_configuration_set: Option<String>,
    /// An SNS topic (name starting `ppx-`) that receives every return state change as JSON,
    /// for the shop's back office, Slack or ERP.
    #[serde(default)]
    pub return_events_topic_arn: Option<String>,
    /// SMS goes out only when the shop enables it and the customer consented.
    #[serde(default)]
    pub sms_enabled: bool,
    /// The shop's own number texts come from (E.164: a toll-free or 10DLC number, a short code
    /// registered in AWS End User Messaging); else the account's default.
    #[serde(default)]
    pub sms_origination_number: Option<String>,
    /// An alphanumeric sender ID (1-11 letters and digits, at least one letter) for the countries
    /// that show one instead of a number.
    #[serde(default)]
    pub sms_sender_id: Option<String>,
    /// Per-shop template overrides, by template name (e.g. `order_confirmation.html`).
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
    /// What customers hear about their parcels, and when (`domain::notification`).
    #[serde(default)]
    pub notifications: NotificationSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("settings are not valid JSON for a shop: {0}")]
    Json(String),
    #[error("brand_color must look like #RRGGBB")]
    BrandColor,
    /// `sender` or `reply_to` is not one mailbox.
    #[error("{field} must be `Name <address>` or an address: {reason}")]
    Mailbox { field: &'static str, reason: String },
    #[error("support_url must start with https:// or http://")]
    SupportUrl,
    /// An empty secret would let anyone sign.
    #[error("webhook_secrets.{0} must be at least 8 characters")]
    WeakSecret(&'static str),
    #[error("webhook_secrets take more than {MAX_SECRETS_BYTES} bytes")]
    SecretsTooLarge,
    /// The functions may publish only to `ppx-` topics of the stack's own account and region.
    #[error(
        "return_events_topic_arn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>) whose name starts with ppx-"
    )]
    ReturnEventsTopic,
    /// Promised dates are counted a day at a time: a runaway number would stall every order.
    #[error(
        "delivery days must be at most {MAX_DELIVERY_DAYS} (processing, transit and each method), and cutoff_hour below 24"
    )]
    DeliveryDays,
    /// Notices must be able to be fresh, and the caps to be caps.
    #[error(
        "notifications: stale_same_day_hours and stale_hours must be 1-720, stale_final_days 1-365, the caps at most {MAX_NOTICES_PER_SHIPMENT}, untracked_after_days and stalled_after_business_days at most 60, quiet hours 0-23"
    )]
    Notifications,
    #[error("sms_origination_number must be an E.164 number (+ and 8 to 15 digits)")]
    SmsOriginationNumber,
    #[error("sms_sender_id must be 1 to 11 letters and digits, at least one a letter")]
    SmsSenderId,
    /// A return policy amount (fee, auto-approval limit) that does not read as money.
    #[error(transparent)]
    PolicyAmount(#[from] crate::domain::returns::PolicyAmountError),
}

/// More business days than any real shipping promise.
pub const MAX_DELIVERY_DAYS: u32 = 120;

impl ShopSettings {
    pub fn from_json(raw: &str) -> Result<Self, SettingsError> {
        let mut json = serde_json::Deserializer::from_str(raw);
        let settings: Self = serde_path_to_error::deserialize(&mut json).map_err(|err| {
            let path = err.path().to_string();
            match ["sender", "reply_to"].into_iter().find(|field| *field == path) {
                Some(field) => SettingsError::Mailbox { field, reason: err.into_inner().to_string() },
                None => SettingsError::Json(err.into_inner().to_string()),
            }
        })?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        if !is_hex_color(&self.brand_color) {
            return Err(SettingsError::BrandColor);
        }
        if !(self.support_url.starts_with("https://") || self.support_url.starts_with("http://")) {
            return Err(SettingsError::SupportUrl);
        }
        if let Some(topic) = &self.return_events_topic_arn
            && !is_ppx_topic_arn(topic)
        {
            return Err(SettingsError::ReturnEventsTopic);
        }
        let delivery = &self.delivery;
        let days = [delivery.processing_days, delivery.default_transit_days];
        let methods = delivery.methods.iter().map(|m| m.transit_days);
        if days.into_iter().chain(methods).any(|d| d > MAX_DELIVERY_DAYS) || delivery.cutoff_hour > 23 {
            return Err(SettingsError::DeliveryDays);
        }
        let n = &self.notifications;
        let hours_ok = [n.stale_same_day_hours, n.stale_hours].iter().all(|h| (1..=720).contains(h));
        let caps_ok =
            [n.max_emails_per_shipment, n.max_sms_per_shipment].iter().all(|c| *c <= MAX_NOTICES_PER_SHIPMENT);
        let caps_ok = caps_ok && n.max_stall_notices <= MAX_NOTICES_PER_SHIPMENT;
        let watch_ok = n.untracked_after_days <= 60
            && n.stalled_after_business_days <= 60
            && n.quiet_hours_start <= 23
            && n.quiet_hours_end <= 23;
        if !hours_ok || !(1..=365).contains(&n.stale_final_days) || !caps_ok || !watch_ok {
            return Err(SettingsError::Notifications);
        }
        if let Some(number) = &self.sms_origination_number {
            let digits = number.strip_prefix('+').unwrap_or_default();
            if !((8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())) {
                return Err(SettingsError::SmsOriginationNumber);
            }
        }
        if let Some(id) = &self.sms_sender_id {
            let alphanumeric = id.bytes().all(|b| b.is_ascii_alphanumeric());
            if !((1..=11).contains(&id.len()) && alphanumeric && id.bytes().any(|b| b.is_ascii_alphabetic())) {
                return Err(SettingsError::SmsSenderId);
            }
        }
        self.return_policy.check_amounts()?;
        Ok(())
    }

    /// Who the shop's texts come from.
    pub fn sms_origin(&self) -> SmsOrigin<'_> {
        SmsOrigin { number: self.sms_origination_number.as_deref(), sender_id: self.sms_sender_id.as_deref() }
    }
}

/// Most bytes a shop's secrets may take once stored: a standard SSM parameter holds 4 KB.
pub const MAX_SECRETS_BYTES: usize = 4096;

/// A shop's secrets: what each webhook source signs with. Kept out of the table (SSM Parameter
/// Store, `adapters::ssm`), read only by the functions that verify signatures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopSecrets {
    #[serde(default)]
    pub webhook: BTreeMap<WebhookSource, Secret>,
}

impl ShopSecrets {
    pub fn webhook(&self, source: WebhookSource) -> Option<&Secret> {
        self.webhook.get(&source)
    }

    pub fn is_empty(&self) -> bool {
        self.webhook.is_empty()
    }

    /// The sources with a secret, for operators (never the secrets).
    pub fn sources(&self) -> Vec<WebhookSource> {
        self.webhook.keys().copied().collect()
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        if let Some((source, _)) = self.webhook.iter().find(|(_, secret)| secret.expose().trim().len() < 8) {
            return Err(SettingsError::WeakSecret(source.as_str()));
        }
        if self.to_json().len() > MAX_SECRETS_BYTES {
            return Err(SettingsError::SecretsTooLarge);
        }
        Ok(())
    }

    /// `other`'s secrets replace these source by source; sources it does not name are kept.
    pub fn merged_with(&self, other: &ShopSecrets) -> ShopSecrets {
        let mut webhook = self.webhook.clone();
        webhook.extend(other.webhook.iter().map(|(source, secret)| (*source, secret.clone())));
        ShopSecrets { webhook }
    }

    /// As stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("secrets serialize")
    }
}

/// A shop's settings file as an operator writes it (`events/shop.example.json`): the settings,
/// with the webhook secrets beside them under `webhook_secrets`. `ppx shop put` stores the two
/// apart: settings in the table, secrets in the secret store.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopSetup {
    pub settings: ShopSettings,
    pub secrets: ShopSecrets,
}

impl ShopSetup {
    pub fn from_json(raw: &str) -> Result<Self, SettingsError> {
        #[derive(Deserialize)]
        struct SecretsPart {
            #[serde(default)]
            webhook_secrets: BTreeMap<WebhookSource, Secret>,
        }
        let settings = ShopSettings::from_json(raw)?;
        let part: SecretsPart = serde_json::from_str(raw).map_err(|err| SettingsError::Json(err.to_string()))?;
        let secrets = ShopSecrets { webhook: part.webhook_secrets };
        secrets.validate()?;
        Ok(Self { settings, secrets })
    }
}

/// The account and region the stack runs in, when known: a shop's return-events topic must be
/// there (the functions are granted `ppx-` topics of their own account and region only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackHome {
    pub account: Option<String>,
    pub region: Option<String>,
}

impl StackHome {
    /// Why `topic_arn` is not a topic of this stack's account and region (None: it is, or the
    /// home is unknown, as in local runs).
    pub fn refuses(&self, topic_arn: &str) -> Option<String> {
        let mut parts = topic_arn.split(':');
        let (region, account) = (parts.nth(3).unwrap_or_default(), parts.next().unwrap_or_default());
        let foreign = |home: &Option<String>, value: &str| home.as_deref().is_some_and(|home| home != value);
        (foreign(&self.account, account) || foreign(&self.region, region)).then(|| {
            format!(
                "the topic is not in this stack's account {} and region {}",
                self.account.as_deref().unwrap_or("?"),
                self.region.as_deref().unwrap_or("?")
            )
        })
    }
}

/// `arn:<partition>:sns:<region>:<12-digit account>:ppx-<name>`: the only topics the template
/// lets the functions publish to (whose account and region are the stack's is checked where it
/// runs: `StackHome`).
fn is_ppx_topic_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    let name_ok = |name: &str| {
        name.strip_prefix("ppx-").is_some_and(|rest| !rest.is_empty())
            && name.len() <= 256
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    matches!(parts.as_slice(), ["arn", partition, "sns", region, account, name]
        if partition.starts_with("aws")
            && !region.is_empty()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && name_ok(name))
}

/// `#rrggbb` or `#RRGGBB`: the one form a shop's `brand_color` may take (checked when settings
/// are read; the customer pages and emails check again before using one).
pub fn is_hex_color(color: &str) -> bool {
    let b = color.as_bytes();
    b.len() == 7 && b[0] == b'#' && b[1..].iter().all(u8::is_ascii_hexdigit)
}

/// The brand colour of settings that name none, and what messages and pages use instead of a
/// malformed one.
pub const DEFAULT_BRAND_COLOR: &str = "#1a1a2e";

fn default_brand_color() -> String {
    DEFAULT_BRAND_COLOR.to_owned()
}
fn default_locale() -> String {
    "en-US".to_owned()
}
fn default_time_zone() -> Tz {
    Tz::UTC
}
fn default_review_delay_days() -> u32 {
    5
}

mod tz_serde {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse::<Tz>().map_err(|_| serde::de::Error::custom(format!("unknown time zone {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shops_sms_origin_must_be_a_number_or_a_sender_id() {
        let example = include_str!("../../../events/shop.example.json");
        let with = |field: &str, value: &str| {
            let mut json: serde_json::Value = serde_json::from_str(example).unwrap();
            json[field] = value.into();
            ShopSettings::from_json(&json.to_string())
        };
        let shop = with("sms_origination_number", "+18005550199").unwrap();
        assert_eq!(shop.sms_origin(), SmsOrigin { number: Some("+18005550199"), sender_id: None });
        for bad in ["18005550199", "+1800", "+1 800 555 0199", "+180055501990000000"] {
            assert!(matches!(with("sms_origination_number", bad), Err(SettingsError::SmsOriginationNumber)), "{bad}");
        }
        assert_eq!(with("sms_sender_id", "DemoShop").unwrap().sms_origin().sender_id, Some("DemoShop"));
        for bad in ["", "123456", "Demo Shop", "TwelveLetter"] {
            assert!(matches!(with("sms_sender_id", bad), Err(SettingsError::SmsSenderId)), "{bad}");
        }
    }
    use serde_json::json;

    const EXAMPLE: &str = include_str!("../../../events/shop.example.json");

    #[test]
    fn example_settings_file_is_valid() {
        let ShopSetup { settings, secrets } = ShopSetup::from_json(EXAMPLE).unwrap();
        assert_eq!(settings.shop.as_str(), "demo-shop");
        assert_eq!(settings.time_zone, chrono_tz::America::New_York);
        assert!(secrets.webhook(WebhookSource::Shopify).is_some());
        assert_eq!(settings.review_delay_days, 5);
    }

    #[test]
    fn secrets_never_print_and_never_join_the_settings() {
        let setup = ShopSetup::from_json(EXAMPLE).unwrap();
        let secret = setup.secrets.webhook(WebhookSource::Shopify).unwrap().expose();
        assert!(!format!("{setup:?}").contains(secret));
        // What goes to the table is the settings alone.
        assert!(!serde_json::to_string(&setup.settings).unwrap().contains(secret));
        assert!(serde_json::to_string(&setup.secrets).unwrap().contains(secret));
    }

    #[test]
    fn secrets_merge_source_by_source() {
        let stored = ShopSetup::from_json(EXAMPLE).unwrap().secrets;
        let mut update = ShopSecrets::default();
        update.webhook.insert(WebhookSource::Shopify, Secret::new("a new shopify secret"));
        let merged = stored.merged_with(&update);
        assert_eq!(merged.webhook(WebhookSource::Shopify).unwrap().expose(), "a new shopify secret");
        assert_eq!(merged.webhook(WebhookSource::Easypost), stored.webhook(WebhookSource::Easypost));
        assert_eq!(merged.sources(), stored.sources());
        let mut huge = ShopSecrets::default();
        huge.webhook.insert(WebhookSource::Orders, Secret::new("x".repeat(MAX_SECRETS_BYTES)));
        assert_eq!(huge.validate(), Err(SettingsError::SecretsTooLarge));
    }

    #[test]
    fn a_topic_of_another_account_or_region_is_refused() {
        let home = StackHome { account: Some("123456789012".into()), region: Some("us-east-1".into()) };
        assert_eq!(home.refuses("arn:aws:sns:us-east-1:123456789012:ppx-returns"), None);
        let other_account = home.refuses("arn:aws:sns:us-east-1:999999999999:ppx-returns").unwrap();
        assert!(other_account.contains("123456789012"), "{other_account}");
        assert!(home.refuses("arn:aws:sns:eu-west-1:123456789012:ppx-returns").is_some());
        assert!(home.refuses("not an arn").is_some());
        assert_eq!(StackHome::default().refuses("arn:aws:sns:eu-west-1:999999999999:ppx-x"), None, "local runs");
    }

    #[test]
    fn return_events_go_only_to_ppx_topics() {
        let mut settings = ShopSettings::from_json(EXAMPLE).unwrap();
        for good in ["arn:aws:sns:us-east-1:123456789012:ppx-returns", "arn:aws-cn:sns:cn-north-1:123456789012:ppx-a_b"]
        {
            settings.return_events_topic_arn = Some(good.into());
            assert_eq!(settings.validate(), Ok(()), "{good}");
        }
        for bad in [
            "arn:aws:sns:us-east-1:123456789012:billing-alerts",
            "arn:aws:sns:us-east-1:123456789012:ppx-",
            "arn:aws:sns:us-east-1:12345:ppx-returns",
            "arn:aws:sqs:us-east-1:123456789012:ppx-returns",
            "arn:aws:sns:us-east-1:123456789012:ppx-returns:extra",
            "ppx-returns",
        ] {
            settings.return_events_topic_arn = Some(bad.into());
            assert_eq!(settings.validate(), Err(SettingsError::ReturnEventsTopic), "{bad}");
        }
    }

    #[test]
    fn rejects_runaway_delivery_days() {
        let mut settings = ShopSettings::from_json(include_str!("../../../events/shop.example.json")).unwrap();
        settings.delivery.default_transit_days = u32::MAX;
        assert!(matches!(settings.validate(), Err(SettingsError::DeliveryDays)));
        settings.delivery.default_transit_days = 5;
        settings.delivery.methods[0].transit_days = MAX_DELIVERY_DAYS + 1;
        assert!(matches!(settings.validate(), Err(SettingsError::DeliveryDays)));
        settings.delivery.methods[0].transit_days = 2;
        settings.delivery.cutoff_hour = 24;
        assert!(matches!(settings.validate(), Err(SettingsError::DeliveryDays)));
    }

    #[test]
    fn notification_settings_default_to_what_shops_want_and_stay_in_bounds() {
        let settings = ShopSettings::from_json(include_str!("../../../events/shop.example.json")).unwrap();
        assert_eq!(settings.notifications, NotificationSettings::default());
        assert_eq!(settings.notifications.stale_same_day_hours, 12);
        type Setter = fn(&mut NotificationSettings);
        let out_of_bounds: [Setter; 10] = [
            |n| n.stale_same_day_hours = 0,
            |n| n.stale_hours = 721,
            |n| n.stale_final_days = 0,
            |n| n.max_emails_per_shipment = MAX_NOTICES_PER_SHIPMENT + 1,
            |n| n.max_sms_per_shipment = u32::MAX,
            |n| n.untracked_after_days = 61,
            |n| n.stalled_after_business_days = 365,
            |n| n.max_stall_notices = MAX_NOTICES_PER_SHIPMENT + 1,
            |n| n.quiet_hours_start = 24,
            |n| n.quiet_hours_end = 99,
        ];
        for set in out_of_bounds {
            let mut bad = settings.clone();
            set(&mut bad.notifications);
            assert!(matches!(bad.validate(), Err(SettingsError::Notifications)), "{:?}", bad.notifications);
        }
        let mut json: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
        json["notifications"] = serde_json::json!({ "max_sms_per_shipment": 2 });
        let custom = ShopSettings::from_json(&json.to_string()).unwrap();
        assert_eq!(custom.notifications.max_sms_per_shipment, 2);
        assert_eq!(custom.notifications.stale_hours, 72, "the others keep their defaults");
        json["notifications"] = serde_json::json!({ "max_texts": 2 });
        assert!(matches!(ShopSettings::from_json(&json.to_string()), Err(SettingsError::Json(_))), "unknown field");
    }

    #[test]
    fn rejects_bad_fields_with_their_name() {
        let mut value: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
        value["brand_color"] = "red".into();
        assert_eq!(ShopSettings::from_json(&value.to_string()), Err(SettingsError::BrandColor));
        value["brand_color"] = "#112233".into();
        value["webhook_secrets"]["shippo"] = "".into();
        assert_eq!(ShopSetup::from_json(&value.to_string()), Err(SettingsError::WeakSecret("shippo")));
        value["webhook_secrets"]["shippo"] = "long enough secret".into();
        value["time_zone"] = "Mars/Olympus".into();
        let err = ShopSettings::from_json(&value.to_string()).unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
    }

    #[test]
    fn policy_amounts_that_do_not_read_are_refused_with_their_path() {
        let with = |path: &[&str], amount: serde_json::Value| {
            let mut value: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
            let mut target = &mut value["return_policy"];
            for step in path {
                target = match step.parse::<usize>() {
                    Ok(i) => &mut target[i],
                    Err(_) => &mut target[*step],
                };
            }
            *target = amount;
            ShopSettings::from_json(&value.to_string())
        };
        let fee = ["reasons", "4", "fee"];
        for good in [json!("4.95"), json!("USD 4.95"), json!("EUR 4"), json!(" usd  4.95 ")] {
            assert!(with(&fee, good.clone()).is_ok(), "{good}");
        }
        let cases = [
            (&fee[..], json!("abc"), "return_policy.reasons[4].fee"),
            (&fee[..], json!("4.955"), "return_policy.reasons[4].fee"),
            (&fee[..], json!("-2"), "return_policy.reasons[4].fee"),
            (&fee[..], json!("JPY 4.95"), "return_policy.reasons[4].fee"),
            (&fee[..], json!("US 4.95"), "return_policy.reasons[4].fee"),
            (&fee[..], json!("dollars 4.95"), "return_policy.reasons[4].fee"),
            (&["auto_approve", "max_value"][..], json!("lots"), "return_policy.auto_approve.max_value"),
        ];
        for (path, bad, named) in cases {
            let err = with(path, bad.clone()).unwrap_err();
            assert!(matches!(err, SettingsError::PolicyAmount(_)), "{bad}: {err:?}");
            assert!(err.to_string().starts_with(named), "{bad}: {err}");
        }
        let err = with(&["currency"], json!("dollars")).unwrap_err();
        assert!(matches!(err, SettingsError::Json(_)), "{err:?}");
    }

    #[test]
    fn sender_and_reply_to_are_parsed_into_name_and_address() {
        let settings = ShopSettings::from_json(EXAMPLE).unwrap();
        assert_eq!(settings.sender.name(), Some("Demo Shop"));
        assert_eq!(settings.sender.address(), "orders@demo-shop.example");
        assert_eq!(settings.reply_to.as_ref().map(Mailbox::address), Some("support@demo-shop.example"));
        // Stored back in the form it was read.
        let stored = serde_json::to_value(&settings).unwrap();
        assert_eq!(stored["sender"], "Demo Shop <orders@demo-shop.example>");
        assert_eq!(stored["reply_to"], "support@demo-shop.example");

        let mut value: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
        value["sender"] = "\"Café Dupont, Paris\" <orders@demo-shop.example>".into();
        let settings = ShopSettings::from_json(&value.to_string()).unwrap();
        assert_eq!(settings.sender.name(), Some("Café Dupont, Paris"));

        for (field, bad) in [
            ("sender", "<Demo Shop <orders@demo-shop.example>>"),
            ("sender", "Demo Shop"),
            ("reply_to", "Support\r\nBcc: all@elsewhere.example <support@demo-shop.example>"),
        ] {
            let mut value: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
            value[field] = bad.into();
            match ShopSettings::from_json(&value.to_string()) {
                Err(SettingsError::Mailbox { field: named, .. }) => assert_eq!(named, field, "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
