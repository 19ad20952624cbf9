//! Returns: a shop's policy, a customer's request, and the explainable decision between them.
//! Pure rules: no I/O, no AWS types, no clock of their own.

use crate::domain::ids::{OrderId, ReturnId, ShopId, TrackingNumber};
use crate::domain::money::{Currency, Money, MoneyError};
use crate::domain::names::wire_enum;
use crate::domain::order::{LineItem, Order};
use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A shop's return policy, part of its settings (`return_policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReturnPolicy {
    /// Days to request a return, counted from delivery (calendar days in the shop's time zone).
    pub window_days: u32,
    /// When an order never reported delivered, the window starts this many days after the order.
    pub grace_days_without_delivery: u32,
    /// One or two customer-facing sentences shown in emails.
    pub summary: Option<String>,
    pub excluded: Exclusions,
    /// The reasons a customer may choose, with their rules. Empty: the defaults.
    pub reasons: Vec<ReasonRule>,
    pub resolutions: Resolutions,
    pub auto_approve: AutoApprove,
    /// Where approved returns go, shown in the approval message.
    pub return_address: Option<String>,
    pub packing_instructions: Option<String>,
    /// The currency of the amounts below written without one (`"4.95"`, as settings said
    /// before amounts stated their currency). Default USD.
    #[serde(default = "default_policy_currency")]
    pub currency: Currency,
}

fn default_policy_currency() -> Currency {
    Currency::parse("USD").expect("USD is a currency code")
}

impl Default for ReturnPolicy {
    fn default() -> Self {
        Self {
            window_days: 30,
            grace_days_without_delivery: 14,
            summary: None,
            excluded: Exclusions::default(),
            reasons: Vec::new(),
            resolutions: Resolutions::default(),
            auto_approve: AutoApprove::default(),
            return_address: None,
            packing_instructions: None,
            currency: default_policy_currency(),
        }
    }
}

impl Default for Resolutions {
    fn default() -> Self {
        Self { refund: true, store_credit: true, store_credit_bonus_percent: 0, exchange: true }
    }
}

impl Default for AutoApprove {
    fn default() -> Self {
        Self { enabled: true, max_value: None }
    }
}

impl ReturnPolicy {
    /// The shop's reasons, or these when it lists none.
    pub fn effective_reasons(&self) -> Vec<ReasonRule> {
        if !self.reasons.is_empty() {
            return self.reasons.clone();
        }
        let rule = |code: &str, label: &str, requires_photo| ReasonRule {
            code: code.to_owned(),
            label: label.to_owned(),
            requires_photo,
            fee: None,
        };
        vec![
            rule("damaged", "Arrived damaged", true),
            rule("wrong_item", "Wrong item sent", true),
            rule("doesnt_fit", "Doesn't fit", false),
            rule("not_as_described", "Not as described", false),
            rule("changed_mind", "Changed my mind", false),
        ]
    }
}

/// Items that cannot be returned (final sale, hygiene, gift cards...). Matched case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Exclusions {
    pub tags: Vec<String>,
    pub product_types: Vec<String>,
    pub skus: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonRule {
    /// Stable code sent by the portal, e.g. `damaged`.
    pub code: String,
    /// What the customer sees, e.g. "Arrived damaged".
    pub label: String,
    /// The request needs at least one photo URL for this reason, or goes to review.
    #[serde(default)]
    pub requires_photo: bool,
    /// A fee kept from the refund for this reason (e.g. `"USD 4.95"`); none when absent. Kept
    /// once per requested item, whatever its quantity, from orders in its currency; for an order
    /// in another currency it is not converted: the item goes to review
    /// ([`RuleOutcome::FeeInOtherCurrency`]). One that does not parse is refused by the
    /// settings' validation (and, in settings stored before, ignored and logged).
    #[serde(default)]
    pub fee: Option<PolicyAmount>,
}

/// An amount of a return policy in the currency it states, ISO code first: `"USD 4.95"`. A
/// bare `"4.95"` (settings from before amounts stated their currency) is in the policy's
/// [`ReturnPolicy::currency`]. Kept as written, so that a stored policy always loads;
/// [`PolicyAmount::money`] reads it, the settings' validation refuses what does not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PolicyAmount(String);

impl PolicyAmount {
    /// The amount in its stated currency, or `base` when it states none; None when blank.
    pub fn money(&self, base: Currency) -> Result<Option<Money>, MoneyError> {
        let text = self.0.trim();
        let (amount, currency) = match text.split_once(char::is_whitespace) {
            Some((code, amount)) => (amount.trim(), Currency::parse(code)?),
            None => (text, base),
        };
        if amount.is_empty() {
            return Ok(None);
        }
        Money::parse(amount, currency).map(Some)
    }
}

impl From<&str> for PolicyAmount {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

/// A policy amount that does not read, or is negative, named by its path in the settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("return_policy.{field}: {problem}")]
pub struct PolicyAmountError {
    pub field: String,
    pub problem: String,
}

impl ReturnPolicy {
    /// Every amount reads as money (`"USD 4.95"`, or a bare decimal in [`ReturnPolicy::currency`])
    /// and none is negative.
    pub fn check_amounts(&self) -> Result<(), PolicyAmountError> {
        let amounts = self
            .reasons
            .iter()
            .enumerate()
            .map(|(i, reason)| (format!("reasons[{i}].fee"), reason.fee.as_ref()))
            .chain([("auto_approve.max_value".to_owned(), self.auto_approve.max_value.as_ref())]);
        for (field, amount) in amounts {
            let Some(amount) = amount else { continue };
            let problem = match amount.money(self.currency) {
                Ok(Some(money)) if money.minor < 0 => "must not be negative".to_owned(),
                Ok(_) => continue,
                Err(err) => format!("{err} (write e.g. \"USD 4.95\")"),
            };
            return Err(PolicyAmountError { field, problem });
        }
        Ok(())
    }

    /// The fee of `rule`, when it has a usable one: positive, in its own currency. One that
    /// does not read (or is negative) is a settings bug: logged, and no fee is kept.
    pub fn reason_fee(&self, rule: &ReasonRule) -> Option<Money> {
        let amount = rule.fee.as_ref()?;
        match amount.money(self.currency) {
            Ok(Some(fee)) if fee.minor > 0 => Some(fee),
            Ok(Some(fee)) if fee.minor < 0 => {
                tracing::warn!(reason = %rule.code, fee = %fee, "negative return fee in settings; no fee applied");
                None
            }
            Ok(_) => None,
            Err(err) => {
                tracing::warn!(reason = %rule.code, error = %err, "bad return fee in settings; no fee applied");
                None
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resolutions {
    pub refund: bool,
    pub store_credit: bool,
    /// Extra store credit over the refundable value, in whole percent (the "turn refunds into
    /// store credit" nudge).
    pub store_credit_bonus_percent: u32,
    pub exchange: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoApprove {
    pub enabled: bool,
    /// Approve automatically only up to this refundable value (e.g. `"USD 200.00"`); none: no
    /// limit. Returns of orders in another currency go to review
    /// ([`RuleOutcome::AutoApproveLimitInOtherCurrency`]).
    pub max_value: Option<PolicyAmount>,
}

/// What the customer wants back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Resolution {
    Refund,
    StoreCredit,
    /// Another variant of the same product, named by the request (e.g. "L / Sand").
    Exchange {
        variant: String,
    },
}

/// One line of a return request, already parsed at the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedItem {
    /// The order's line item id (or its sku when the platform gives no line ids).
    pub line_item: String,
    pub quantity: u32,
    pub reason: String,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub photo_urls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRequest {
    pub order_id: OrderId,
    pub items: Vec<RequestedItem>,
    pub resolution: Resolution,
    #[serde(default)]
    pub comment: Option<String>,
}

/// Why a rule said what it said; the customer-facing text is derived from these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum RuleOutcome {
    /// Past the window; `last_day` is the last local calendar day it was open.
    OutsideWindow {
        last_day: chrono::NaiveDate,
    },
    ExcludedItem {
        matched: String,
    },
    /// More than was bought, less what earlier returns already claim.
    QuantityExceeded {
        requested: u32,
        available: u32,
    },
    PhotoRequired {
        reason: String,
    },
    ResolutionNotOffered {
        resolution: String,
    },
    /// Within policy, but over the shop's auto-approval limit.
    OverAutoApproveLimit {
        limit: Money,
        value: Money,
    },
    AutoApproveOff,
    FeeApplied {
        reason: String,
        fee: Money,
    },
    /// The reason's fee is in another currency than the order's: never converted nor kept as
    /// if it were the order's; a person decides.
    FeeInOtherCurrency {
        reason: String,
        fee: Money,
        order_currency: Currency,
    },
    /// The auto-approval limit is in another currency than the order's: the value cannot be
    /// compared, so a person decides.
    AutoApproveLimitInOtherCurrency {
        limit: Money,
        value: Money,
    },
}

wire_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    pub enum Verdict {
        Approved = "approved",
        NeedsReview = "needs_review",
        Rejected = "rejected",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemDecision {
    pub line_item: String,
    pub title: String,
    pub quantity: u32,
    pub reason: String,
    pub verdict: Verdict,
    /// Every rule that spoke about this item, in the order they were checked.
    pub rules: Vec<RuleOutcome>,
    /// Unit price x quantity.
    pub value: Money,
    pub fee: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Rejected only when every item is; approved only when every other item is approved.
    pub verdict: Verdict,
    pub items: Vec<ItemDecision>,
    /// Rules about the request as a whole (auto-approval limit, resolution not offered...).
    pub rules: Vec<RuleOutcome>,
    /// What the customer gets back for the items not rejected: value less fees; for store
    /// credit, plus the bonus.
    pub amount: Money,
}

impl Decision {
    /// Whether storing it takes quantities of the order's lines (any item not rejected): such a
    /// return must be stored only if no other took them since it was decided.
    pub fn reserves_quantities(&self) -> bool {
        self.items.iter().any(|item| item.verdict != Verdict::Rejected)
    }
}

wire_enum! {
    /// The life of a return. One customer message per state it enters.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    pub enum ReturnState {
        Approved = "approved",
        NeedsReview = "needs_review",
        Rejected = "rejected",
        InTransit = "in_transit",
        Received = "received",
        Refunded = "refunded",
        Credited = "credited",
        Exchanged = "exchanged",
        Closed = "closed",
    }
}

impl ReturnState {
    /// Whether `next` may follow; states only move forward.
    pub fn can_move_to(self, next: ReturnState) -> bool {
        use ReturnState::*;
        matches!(
            (self, next),
            (NeedsReview, Approved | Rejected)
                | (Approved, InTransit | Received | Closed)
                | (InTransit, Received | Closed)
                | (Received, Refunded | Credited | Exchanged | Closed)
        )
    }
}

/// A stored return: the request, its decision and where it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Return {
    /// Derived from the idempotency key, so a retried request finds the same return.
    pub id: ReturnId,
    pub request: ReturnRequest,
    pub decision: Decision,
    pub state: ReturnState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The return parcel, when the shop provides a label.
    #[serde(default)]
    pub tracking_number: Option<TrackingNumber>,
    #[serde(default)]
    pub label_url: Option<String>,
    /// Why an operator approved or rejected it.
    #[serde(default)]
    pub operator_note: Option<String>,
}

impl RuleOutcome {
    /// What the customer reads about this rule.
    pub fn customer_text(&self) -> String {
        match self {
            Self::OutsideWindow { last_day } => {
                format!("The return window for this item closed on {}.", last_day.format("%B %-d, %Y"))
            }
            Self::ExcludedItem { .. } => "This item can't be returned (final sale, hygiene or gift card).".to_owned(),
            Self::QuantityExceeded { requested, available: 0 } => {
                format!("All of these items are already part of a return (you asked to return {requested}).")
            }
            Self::QuantityExceeded { requested, available } => {
                format!("Only {available} of these can still be returned (you asked to return {requested}).")
            }
            Self::PhotoRequired { .. } => {
                "Please add a photo showing the problem; our team will review the request.".to_owned()
            }
            Self::ResolutionNotOffered { resolution } => {
                format!("This shop doesn't offer {resolution} for returns; our team will contact you.")
            }
            Self::OverAutoApproveLimit { .. } | Self::AutoApproveOff | Self::AutoApproveLimitInOtherCurrency { .. } => {
                "Our team reviews this return and will get back to you within two business days.".to_owned()
            }
            Self::FeeApplied { fee, .. } => format!("A return fee of {fee} applies for this reason."),
            Self::FeeInOtherCurrency { fee, order_currency, .. } => format!(
                "The return fee for this reason ({fee}) is set in another currency than your order's ({order_currency}); our team will review the request."
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The decision engine.
// ---------------------------------------------------------------------------------------------

/// A return request the edge answers with 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Bad input naming the field (JSON path), e.g. `items[1].reason`: the edge answers 400.
    #[error("field `{field}`: {problem}")]
    Field { field: String, problem: String },
}

impl RequestError {
    fn field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Field { field: field.into(), problem: problem.into() }
    }

    /// The JSON path of the offending field.
    pub fn field_name(&self) -> &str {
        match self {
            Self::Field { field, .. } => field,
        }
    }
}

/// Most photo URLs one requested item may carry.
pub const MAX_PHOTOS_PER_ITEM: usize = 5;
/// Longest photo URL accepted.
pub const MAX_PHOTO_URL_LEN: usize = 2048;
/// Longest exchange variant accepted.
pub const MAX_VARIANT_LEN: usize = 200;

impl Resolution {
    /// How customers read it: "refund", "store credit", "exchange".
    pub fn label(&self) -> &'static str {
        match self {
            Self::Refund => "refund",
            Self::StoreCredit => "store credit",
            Self::Exchange { .. } => "exchange",
        }
    }

    fn offered_by(&self, resolutions: &Resolutions) -> bool {
        match self {
            Self::Refund => resolutions.refund,
            Self::StoreCredit => resolutions.store_credit,
            Self::Exchange { .. } => resolutions.exchange,
        }
    }
}

/// The key a request uses for an order line: its id, or its sku when the platform gives no id.
fn line_key(line: &LineItem) -> Option<&str> {
    line.id.as_deref().or(line.sku.as_deref())
}

/// A requested item that passed the input checks, matched to its order line and reason rule.
struct CheckedItem<'a> {
    request: &'a RequestedItem,
    line: &'a LineItem,
    key: &'a str,
    reason: ReasonRule,
}

/// Decides a return request against the policy. `delivered_at`: when the whole order was
/// delivered (None if it never reported delivered). `earlier`: the order's earlier returns
/// (their non-rejected items count against the quantities still returnable).
///
/// Input problems come back as [`RequestError`] (first problem found, in request order); every
/// policy outcome is a [`Decision`] whose rules explain it. Per item, the first rule that rejects
/// it (exclusion, then window, then quantity) is its only rule; the reason rules (photo, fee)
/// speak only about items not rejected.
pub fn decide(
    policy: &ReturnPolicy,
    order: &Order,
    delivered_at: Option<DateTime<Utc>>,
    earlier: &[Return],
    request: &ReturnRequest,
    now: DateTime<Utc>,
    time_zone: Tz,
) -> Result<Decision, RequestError> {
    let checked = validate(policy, order, request)?;
    let today = now.with_timezone(&time_zone).date_naive();
    let last_day = last_open_day(policy, order, delivered_at, time_zone);

    let items = checked
        .iter()
        .enumerate()
        .map(|(i, item)| decide_item(policy, order, earlier, item, i, today, last_day))
        .collect::<Result<Vec<_>, _>>()?;

    let currency = order.currency;
    let kept: Vec<&ItemDecision> = items.iter().filter(|item| item.verdict != Verdict::Rejected).collect();
    let refundable = refundable_value(&kept, currency).map_err(|err| RequestError::field("items", err.to_string()))?;

    let mut rules = Vec::new();
    let verdict = if kept.is_empty() {
        Verdict::Rejected
    } else {
        let offered = request.resolution.offered_by(&policy.resolutions);
        if !offered {
            rules.push(RuleOutcome::ResolutionNotOffered { resolution: request.resolution.label().to_owned() });
        }
        if !offered || kept.iter().any(|item| item.verdict == Verdict::NeedsReview) {
            Verdict::NeedsReview
        } else {
            auto_approval(policy, refundable, &mut rules)
        }
    };

    let amount = match request.resolution {
        Resolution::StoreCredit => with_bonus(refundable, policy.resolutions.store_credit_bonus_percent)
            .map_err(|err| RequestError::field("items", err.to_string()))?,
        Resolution::Refund | Resolution::Exchange { .. } => refundable,
    };

    Ok(Decision { verdict, items, rules, amount })
}

/// A short, stable, URL-safe id for a return: `R` and 16 lower-case hex digits of the SHA-256 of
/// the shop, order and idempotency key, so a retried request finds the same return. The parts are
/// joined by a newline, which neither a shop id nor an order id may contain (the key, last, may
/// contain anything), so distinct inputs never hash the same bytes.
pub fn return_id(shop: &ShopId, order: &OrderId, idempotency_key: &str) -> ReturnId {
    let mut hasher = Sha256::new();
    hasher.update(shop.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(order.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(idempotency_key.as_bytes());
    let digest = hasher.finalize();
    ReturnId::parse(&format!("R{}", hex::encode(&digest[..8]))).expect("R and 16 hex digits")
}

/// One line of an order as the returns portal offers it: what can still be asked back, or why
/// nothing can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemEligibility {
    /// The key a request names the line by ([`RequestedItem::line_item`]): its id, or its sku
    /// when the platform gives no line ids.
    pub line_item: String,
    pub title: String,
    /// None when the line has none (or a blank one).
    pub variant: Option<String>,
    pub unit_price: Money,
    /// Units that can still be asked back: bought, less what the order's live returns claim.
    /// 0 exactly when `blocked` is set.
    pub max_quantity: u32,
    /// Why it cannot be returned (excluded, window closed, all already returned), None when it can.
    /// All already returned is [`RuleOutcome::QuantityExceeded`] with `available: 0` and
    /// `requested` the quantity bought.
    pub blocked: Option<RuleOutcome>,
}

/// What of the order a customer may still return, line by line, by the same rules as [`decide`]
/// (arguments as there): a request for up to `max_quantity` units of a line that is not
/// `blocked` passes exclusion, window and quantity; any request for a blocked line is rejected
/// with that rule (exclusion first, then window, then quantity).
///
/// In the order's line order. Lines a request cannot name are left out: no id and no sku, a
/// blank key, a key an earlier line already uses (a request names the first), nothing bought.
pub fn returnable_items(
    policy: &ReturnPolicy,
    order: &Order,
    delivered_at: Option<DateTime<Utc>>,
    earlier: &[Return],
    now: DateTime<Utc>,
    time_zone: Tz,
) -> Vec<ItemEligibility> {
    let today = now.with_timezone(&time_zone).date_naive();
    let last_day = last_open_day(policy, order, delivered_at, time_zone);
    let mut seen: Vec<&str> = Vec::with_capacity(order.items.len());
    let mut items = Vec::with_capacity(order.items.len());
    for line in &order.items {
        // A request's key is trimmed before it is matched: a blank or padded key names nothing.
        let Some(key) = line_key(line).filter(|key| !key.is_empty() && key.trim() == *key) else {
            continue;
        };
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        if line.quantity == 0 {
            continue;
        }
        let available = available_quantity(order, earlier, line, key);
        let blocked = line_rejection(policy, line, today, last_day).or_else(|| {
            (available == 0).then_some(RuleOutcome::QuantityExceeded { requested: line.quantity, available })
        });
        items.push(ItemEligibility {
            line_item: key.to_owned(),
            title: line.title.clone(),
            variant: line.variant.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned),
            unit_price: line.unit_price,
            max_quantity: if blocked.is_some() { 0 } else { available },
            blocked,
        });
    }
    items
}

fn validate<'a>(
    policy: &ReturnPolicy,
    order: &'a Order,
    request: &'a ReturnRequest,
) -> Result<Vec<CheckedItem<'a>>, RequestError> {
    if request.order_id != order.id {
        return Err(RequestError::field("order_id", "does not match the order"));
    }
    if request.items.is_empty() {
        return Err(RequestError::field("items", "at least one item is required"));
    }
    let reasons = policy.effective_reasons();
    let mut checked: Vec<CheckedItem<'a>> = Vec::with_capacity(request.items.len());
    for (i, item) in request.items.iter().enumerate() {
        let wanted = item.line_item.trim();
        let line =
            order.items.iter().find(|line| !wanted.is_empty() && line_key(line) == Some(wanted)).ok_or_else(|| {
                RequestError::field(format!("items[{i}].line_item"), "is not a line item of this order")
            })?;
        let key = line_key(line).unwrap_or_default();
        if checked.iter().any(|earlier| std::ptr::eq(earlier.line, line)) {
            return Err(RequestError::field(
                format!("items[{i}].line_item"),
                "is already part of this request; list each line item once",
            ));
        }
        if item.quantity == 0 {
            return Err(RequestError::field(format!("items[{i}].quantity"), "must be at least 1"));
        }
        let wanted_reason = item.reason.trim();
        let reason =
            reasons.iter().find(|rule| rule.code.trim().eq_ignore_ascii_case(wanted_reason)).cloned().ok_or_else(
                || {
                    let codes: Vec<&str> = reasons.iter().map(|rule| rule.code.as_str()).collect();
                    RequestError::field(format!("items[{i}].reason"), format!("must be one of: {}", codes.join(", ")))
                },
            )?;
        if item.photo_urls.len() > MAX_PHOTOS_PER_ITEM {
            return Err(RequestError::field(
                format!("items[{i}].photo_urls"),
                format!("at most {MAX_PHOTOS_PER_ITEM} photos per item"),
            ));
        }
        if let Some(j) = item.photo_urls.iter().position(|url| !is_photo_url(url)) {
            return Err(RequestError::field(
                format!("items[{i}].photo_urls"),
                format!("photo {j} must be an http(s) URL of at most {MAX_PHOTO_URL_LEN} characters"),
            ));
        }
        checked.push(CheckedItem { request: item, line, key, reason });
    }
    if let Resolution::Exchange { variant } = &request.resolution {
        let variant = variant.trim();
        if variant.is_empty() {
            return Err(RequestError::field("resolution.variant", "an exchange needs the variant wanted"));
        }
        if variant.chars().count() > MAX_VARIANT_LEN {
            return Err(RequestError::field(
                "resolution.variant",
                format!("must be at most {MAX_VARIANT_LEN} characters"),
            ));
        }
    }
    Ok(checked)
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// `http://` or `https://`, a host, no whitespace or control characters, not too long.
fn is_photo_url(url: &str) -> bool {
    let Some(rest) = strip_prefix_ignore_case(url, "https://").or_else(|| strip_prefix_ignore_case(url, "http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    url.len() <= MAX_PHOTO_URL_LEN && !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn add_days(day: NaiveDate, days: u32) -> NaiveDate {
    day.checked_add_days(Days::new(u64::from(days))).unwrap_or(NaiveDate::MAX)
}

/// The last local calendar day a return may be requested: the window starts on the local date of
/// delivery (or of the order plus the grace days when it never reported delivered).
fn last_open_day(
    policy: &ReturnPolicy,
    order: &Order,
    delivered_at: Option<DateTime<Utc>>,
    time_zone: Tz,
) -> NaiveDate {
    let start = match delivered_at {
        Some(delivered_at) => delivered_at.with_timezone(&time_zone).date_naive(),
        None => add_days(order.placed_at.with_timezone(&time_zone).date_naive(), policy.grace_days_without_delivery),
    };
    add_days(start, policy.window_days)
}

fn normalized(text: &str) -> String {
    text.trim().to_lowercase()
}

/// The entry of `list` that equals `value`, ignoring case and surrounding blanks.
fn matching_entry<'a>(list: &'a [String], value: &str) -> Option<&'a str> {
    let value = normalized(value);
    list.iter().map(|entry| entry.trim()).find(|entry| !entry.is_empty() && normalized(entry) == value)
}

/// What of the policy's exclusions matches the line, e.g. `tag final-sale`.
fn excluded_by(exclusions: &Exclusions, line: &LineItem) -> Option<String> {
    if let Some(tag) = line.tags.iter().find_map(|tag| matching_entry(&exclusions.tags, tag)) {
        return Some(format!("tag {tag}"));
    }
    if let Some(kind) = line.product_type.as_deref().and_then(|kind| matching_entry(&exclusions.product_types, kind)) {
        return Some(format!("product type {kind}"));
    }
    line.sku.as_deref().and_then(|sku| matching_entry(&exclusions.skus, sku)).map(|sku| format!("sku {sku}"))
}

/// Bought less what the order's other live returns already claim of the same line.
fn available_quantity(order: &Order, earlier: &[Return], line: &LineItem, key: &str) -> u32 {
    let claimed = earlier
        .iter()
        .filter(|earlier| earlier.state != ReturnState::Rejected && earlier.request.order_id == order.id)
        .flat_map(|earlier| &earlier.decision.items)
        .filter(|item| item.verdict != Verdict::Rejected && item.line_item == key)
        .fold(0_u32, |sum, item| sum.saturating_add(item.quantity));
    line.quantity.saturating_sub(claimed)
}

/// Why nothing of `line` can be returned, whatever the quantity: the first of its exclusion and
/// the closed window.
fn line_rejection(
    policy: &ReturnPolicy,
    line: &LineItem,
    today: NaiveDate,
    last_day: NaiveDate,
) -> Option<RuleOutcome> {
    excluded_by(&policy.excluded, line)
        .map(|matched| RuleOutcome::ExcludedItem { matched })
        .or_else(|| (today > last_day).then_some(RuleOutcome::OutsideWindow { last_day }))
}

fn decide_item(
    policy: &ReturnPolicy,
    order: &Order,
    earlier: &[Return],
    item: &CheckedItem<'_>,
    index: usize,
    today: NaiveDate,
    last_day: NaiveDate,
) -> Result<ItemDecision, RequestError> {
    let requested = item.request.quantity;
    let value = item
        .line
        .unit_price
        .checked_mul(requested)
        .map_err(|err| RequestError::field(format!("items[{index}].quantity"), err.to_string()))?;
    let mut decision = ItemDecision {
        line_item: item.key.to_owned(),
        title: item.line.title.clone(),
        quantity: requested,
        reason: item.reason.code.clone(),
        verdict: Verdict::Approved,
        rules: Vec::new(),
        value,
        fee: None,
    };

    let rejection = line_rejection(policy, item.line, today, last_day).or_else(|| {
        let available = available_quantity(order, earlier, item.line, item.key);
        (requested > available).then_some(RuleOutcome::QuantityExceeded { requested, available })
    });
    if let Some(rule) = rejection {
        decision.verdict = Verdict::Rejected;
        decision.rules.push(rule);
        return Ok(decision);
    }

    if item.reason.requires_photo && item.request.photo_urls.is_empty() {
        decision.verdict = Verdict::NeedsReview;
        decision.rules.push(RuleOutcome::PhotoRequired { reason: item.reason.code.clone() });
    }
    if let Some(fee) = policy.reason_fee(&item.reason) {
        let reason = item.reason.code.clone();
        if fee.currency == order.currency {
            decision.fee = Some(fee);
            decision.rules.push(RuleOutcome::FeeApplied { reason, fee });
        } else {
            decision.verdict = Verdict::NeedsReview;
            decision.rules.push(RuleOutcome::FeeInOtherCurrency { reason, fee, order_currency: order.currency });
        }
    }
    Ok(decision)
}

/// The value of the items kept, less their fees, never below zero.
fn refundable_value(kept: &[&ItemDecision], currency: Currency) -> Result<Money, MoneyError> {
    let mut value = Money::zero(currency);
    let mut fees = Money::zero(currency);
    for item in kept {
        value = value.checked_add(item.value)?;
        if let Some(fee) = item.fee {
            fees = fees.checked_add(fee)?;
        }
    }
    let minor = value.minor.checked_sub(fees.minor).ok_or(MoneyError::Overflow)?.max(0);
    Ok(Money { minor, currency })
}

/// `amount` plus `percent` % of it, the bonus rounded half-up to the minor unit (exact integers).
fn with_bonus(amount: Money, percent: u32) -> Result<Money, MoneyError> {
    let scaled = i128::from(amount.minor) * i128::from(percent);
    let bonus = (scaled.abs() + 50) / 100 * scaled.signum();
    let minor = i64::try_from(bonus).map_err(|_| MoneyError::Overflow)?;
    amount.checked_add(Money { minor, currency: amount.currency })
}

/// The verdict for a request every rule let through, recording why it is not automatic.
fn auto_approval(policy: &ReturnPolicy, refundable: Money, rules: &mut Vec<RuleOutcome>) -> Verdict {
    let auto = &policy.auto_approve;
    if !auto.enabled {
        rules.push(RuleOutcome::AutoApproveOff);
        return Verdict::NeedsReview;
    }
    let Some(limit) = auto.max_value.as_ref() else {
        return Verdict::Approved;
    };
    match limit.money(policy.currency) {
        Ok(None) => Verdict::Approved,
        Ok(Some(limit)) if limit.currency != refundable.currency => {
            rules.push(RuleOutcome::AutoApproveLimitInOtherCurrency { limit, value: refundable });
            Verdict::NeedsReview
        }
        Ok(Some(limit)) if refundable.minor > limit.minor => {
            rules.push(RuleOutcome::OverAutoApproveLimit { limit, value: refundable });
            Verdict::NeedsReview
        }
        Ok(Some(_)) => Verdict::Approved,
        Err(err) => {
            // A settings bug: fail closed, a person looks at it.
            tracing::warn!(error = %err, "bad auto-approval limit in settings; review instead");
            rules.push(RuleOutcome::AutoApproveOff);
            Verdict::NeedsReview
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::{Customer, OrderStatus, PaymentStatus, Platform, Totals};
    use chrono::TimeZone;
    use chrono_tz::America::Los_Angeles;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    fn money(amount: &str) -> Money {
        Money::parse(amount, usd()).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn line(
        id: Option<&str>,
        sku: &str,
        title: &str,
        quantity: u32,
        price: &str,
        kind: &str,
        tags: &[&str],
    ) -> LineItem {
        LineItem {
            id: id.map(str::to_owned),
            product_id: None,
            sku: Some(sku.to_owned()),
            title: title.to_owned(),
            variant: None,
            quantity,
            unit_price: money(price),
            product_type: Some(kind.to_owned()),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    fn order_in(currency: Currency, items: Vec<LineItem>) -> Order {
        let zero = Money::zero(currency);
        Order {
            shop: ShopId::parse("demo-shop").unwrap(),
            id: OrderId::parse("1001").unwrap(),
            number: "#1001".into(),
            platform: Platform::Shopify,
            customer: Customer {
                first_name: Some("Ada".into()),
                last_name: None,
                email: Some("ada@example.com".into()),
                phone: None,
                sms_consent: false,
                marketing_consent: false,
                locale: None,
            },
            items,
            currency,
            totals: Totals { subtotal: zero, shipping: zero, tax: zero, discount: zero, total: zero },
            shipping_address: None,
            shipping_method: None,
            // 2026-02-28 19:00 in Los Angeles (PST).
            placed_at: utc(2026, 3, 1, 3, 0),
            updated_at: utc(2026, 3, 1, 3, 0),
            status: OrderStatus::Open,
            payment: PaymentStatus::Paid,
            test: false,
            promised_delivery: None,
        }
    }

    /// Tee x3 at 25.00, Socks x2 at 9.99 (tag Final-Sale), a gift card without line id, Mug, Lamp.
    fn order() -> Order {
        order_in(
            usd(),
            vec![
                line(Some("L1"), "TEE-1", "Tee", 3, "25.00", "Shirts", &["summer"]),
                line(Some("L2"), "SOCK-1", "Socks", 2, "9.99", "Socks", &["Final-Sale"]),
                line(None, "GC-50", "Gift card", 1, "50.00", "Gift Card", &[]),
                line(Some("L4"), "MUG-1", "Mug", 1, "12.50", "Kitchen", &[]),
                line(Some("L5"), "LAMP-1", "Lamp", 1, "12.25", "Home", &[]),
            ],
        )
    }

    fn policy() -> ReturnPolicy {
        ReturnPolicy {
            excluded: Exclusions {
                tags: vec!["final-sale".into()],
                product_types: vec![" gift card ".into()],
                skus: vec!["mug-1".into()],
            },
            ..ReturnPolicy::default()
        }
    }

    /// 2026-03-09 19:00 in Los Angeles (PDT), already 2026-03-10 in UTC.
    fn delivered() -> Option<DateTime<Utc>> {
        Some(utc(2026, 3, 10, 2, 0))
    }

    /// Well inside the window.
    fn soon() -> DateTime<Utc> {
        utc(2026, 3, 15, 18, 0)
    }

    fn item(line_item: &str, quantity: u32, reason: &str) -> RequestedItem {
        RequestedItem {
            line_item: line_item.into(),
            quantity,
            reason: reason.into(),
            comment: None,
            photo_urls: Vec::new(),
        }
    }

    fn with_photo(mut item: RequestedItem) -> RequestedItem {
        item.photo_urls.push("https://cdn.example.com/p/1.jpg".into());
        item
    }

    fn request(items: Vec<RequestedItem>, resolution: Resolution) -> ReturnRequest {
        ReturnRequest { order_id: OrderId::parse("1001").unwrap(), items, resolution, comment: None }
    }

    fn refund(items: Vec<RequestedItem>) -> ReturnRequest {
        request(items, Resolution::Refund)
    }

    fn decide_at(policy: &ReturnPolicy, request: &ReturnRequest, now: DateTime<Utc>) -> Decision {
        decide(policy, &order(), delivered(), &[], request, now, Los_Angeles).unwrap()
    }

    fn decide_soon(policy: &ReturnPolicy, request: &ReturnRequest) -> Decision {
        decide_at(policy, request, soon())
    }

    fn earlier_return(state: ReturnState, items: &[(&str, u32, Verdict)]) -> Return {
        let decision = Decision {
            verdict: Verdict::Approved,
            items: items
                .iter()
                .map(|(line_item, quantity, verdict)| ItemDecision {
                    line_item: (*line_item).into(),
                    title: "Tee".into(),
                    quantity: *quantity,
                    reason: "doesnt_fit".into(),
                    verdict: *verdict,
                    rules: Vec::new(),
                    value: money("25.00").checked_mul(*quantity).unwrap(),
                    fee: None,
                })
                .collect(),
            rules: Vec::new(),
            amount: money("0"),
        };
        Return {
            id: ReturnId::parse("R00000000000000ea").unwrap(),
            request: refund(items.iter().map(|(l, q, _)| item(l, *q, "doesnt_fit")).collect()),
            decision,
            state,
            created_at: utc(2026, 3, 11, 0, 0),
            updated_at: utc(2026, 3, 11, 0, 0),
            tracking_number: None,
            label_url: None,
            operator_note: None,
        }
    }

    fn fee_policy(fee: &str) -> ReturnPolicy {
        let mut policy = policy();
        policy.reasons = vec![
            ReasonRule { code: "damaged".into(), label: "Arrived damaged".into(), requires_photo: true, fee: None },
            ReasonRule {
                code: "changed_mind".into(),
                label: "Changed my mind".into(),
                requires_photo: false,
                fee: Some(fee.into()),
            },
        ];
        policy
    }

    // --- window ---------------------------------------------------------------------------

    #[test]
    fn window_closes_after_day_n_in_the_shops_time_zone() {
        // Delivered 2026-03-09 local (03-10 UTC); 30 days: last open day 2026-04-08 local.
        let cases = [
            ("day N, 02:00 UTC is still the evening before in LA", utc(2026, 4, 9, 2, 0), true),
            ("day N, last local minute", utc(2026, 4, 9, 6, 59), true),
            ("day N+1, first local minute", utc(2026, 4, 9, 7, 0), false),
            ("day N+1, 02:00 UTC", utc(2026, 4, 10, 2, 0), false),
            ("delivery day itself", utc(2026, 3, 10, 2, 30), true),
        ];
        let request = refund(vec![item("L1", 1, "doesnt_fit")]);
        for (case, now, open) in cases {
            let decision = decide_at(&policy(), &request, now);
            if open {
                assert_eq!(decision.verdict, Verdict::Approved, "{case}");
                assert!(decision.items[0].rules.is_empty(), "{case}");
            } else {
                assert_eq!(decision.verdict, Verdict::Rejected, "{case}");
                assert_eq!(
                    decision.items[0].rules,
                    vec![RuleOutcome::OutsideWindow { last_day: date(2026, 4, 8) }],
                    "{case}"
                );
            }
        }
    }

    #[test]
    fn the_same_instants_in_utc_give_other_days() {
        // In UTC the delivery date is 03-10, so the last day is 04-09 and 04-09 02:00 UTC is open...
        let request = refund(vec![item("L1", 1, "doesnt_fit")]);
        let open = decide(&policy(), &order(), delivered(), &[], &request, utc(2026, 4, 9, 23, 59), Tz::UTC).unwrap();
        assert_eq!(open.verdict, Verdict::Approved);
        // ...while in Los Angeles 04-09 23:59 UTC is 04-09 local: closed.
        assert_eq!(decide_at(&policy(), &request, utc(2026, 4, 9, 23, 59)).verdict, Verdict::Rejected);
        let closed = decide(&policy(), &order(), delivered(), &[], &request, utc(2026, 4, 10, 0, 0), Tz::UTC).unwrap();
        assert_eq!(closed.items[0].rules, vec![RuleOutcome::OutsideWindow { last_day: date(2026, 4, 9) }]);
    }

    #[test]
    fn without_delivery_the_window_starts_after_the_grace_days() {
        // Placed 2026-02-28 local (03-01 UTC); +14 grace = 03-14; +30 = last day 04-13.
        let request = refund(vec![item("L1", 1, "doesnt_fit")]);
        let cases = [
            (utc(2026, 4, 14, 3, 0), Verdict::Approved),  // 04-13 20:00 local
            (utc(2026, 4, 14, 6, 59), Verdict::Approved), // 04-13 23:59 local
            (utc(2026, 4, 14, 7, 0), Verdict::Rejected),  // 04-14 00:00 local
            (utc(2026, 3, 2, 12, 0), Verdict::Approved),  // before the window even starts
        ];
        for (now, verdict) in cases {
            let decision = decide(&policy(), &order(), None, &[], &request, now, Los_Angeles).unwrap();
            assert_eq!(decision.verdict, verdict, "{now}");
            if verdict == Verdict::Rejected {
                assert_eq!(decision.items[0].rules, vec![RuleOutcome::OutsideWindow { last_day: date(2026, 4, 13) }]);
            }
        }
        // The grace days come from the policy.
        let short = ReturnPolicy { grace_days_without_delivery: 0, window_days: 7, ..policy() };
        let decision = decide(&short, &order(), None, &[], &request, utc(2026, 3, 8, 7, 59), Los_Angeles).unwrap();
        assert_eq!(decision.verdict, Verdict::Approved); // 03-07 23:59 PST = 02-28 + 7
        let decision = decide(&short, &order(), None, &[], &request, utc(2026, 3, 8, 8, 0), Los_Angeles).unwrap();
        assert_eq!(decision.items[0].rules, vec![RuleOutcome::OutsideWindow { last_day: date(2026, 3, 7) }]);
    }

    #[test]
    fn a_zero_day_window_is_open_on_the_delivery_day_only() {
        let policy = ReturnPolicy { window_days: 0, ..policy() };
        let request = refund(vec![item("L1", 1, "doesnt_fit")]);
        assert_eq!(decide_at(&policy, &request, utc(2026, 3, 10, 6, 59)).verdict, Verdict::Approved);
        assert_eq!(decide_at(&policy, &request, utc(2026, 3, 10, 7, 0)).verdict, Verdict::Rejected);
    }

    // --- exclusions -----------------------------------------------------------------------

    #[test]
    fn excluded_items_are_rejected_case_insensitively() {
        let cases = [
            ("L2", Some("tag final-sale")),            // order tag "Final-Sale", policy "final-sale"
            ("GC-50", Some("product type gift card")), // "Gift Card" vs " gift card "
            ("L4", Some("sku mug-1")),                 // "MUG-1" vs "mug-1"
            ("L1", None),
        ];
        for (line_item, matched) in cases {
            let decision = decide_soon(&policy(), &refund(vec![item(line_item, 1, "doesnt_fit")]));
            match matched {
                Some(matched) => {
                    assert_eq!(decision.verdict, Verdict::Rejected, "{line_item}");
                    assert_eq!(decision.items[0].verdict, Verdict::Rejected);
                    assert_eq!(decision.items[0].rules, vec![RuleOutcome::ExcludedItem { matched: matched.into() }]);
                    assert_eq!(decision.amount, money("0"));
                }
                None => assert_eq!(decision.verdict, Verdict::Approved, "{line_item}"),
            }
        }
    }

    #[test]
    fn blank_exclusions_match_nothing_and_exclusion_wins_over_other_rules() {
        let mut policy = policy();
        policy.excluded = Exclusions { tags: vec!["  ".into()], product_types: vec![String::new()], skus: vec![] };
        let mut order = order();
        order.items[0].tags.push(String::new());
        order.items[0].product_type = Some(" ".into());
        let request = refund(vec![item("L1", 1, "doesnt_fit")]);
        let decision = decide(&policy, &order, delivered(), &[], &request, soon(), Los_Angeles).unwrap();
        assert_eq!(decision.verdict, Verdict::Approved);

        // Excluded and past the window and too many: the exclusion is the one reason given.
        let request = refund(vec![item("L2", 9, "doesnt_fit")]);
        let decision = decide_at(&self::policy(), &request, utc(2027, 1, 1, 0, 0));
        assert_eq!(decision.items[0].rules, vec![RuleOutcome::ExcludedItem { matched: "tag final-sale".into() }]);
    }

    // --- quantities -----------------------------------------------------------------------

    #[test]
    fn earlier_live_returns_reduce_what_is_returnable() {
        let partial = earlier_return(ReturnState::Approved, &[("L1", 2, Verdict::Approved)]);
        let rejected = earlier_return(ReturnState::Rejected, &[("L1", 3, Verdict::Rejected)]);
        let operator_rejected = earlier_return(ReturnState::Rejected, &[("L1", 3, Verdict::NeedsReview)]);
        let item_rejected = earlier_return(ReturnState::Approved, &[("L1", 3, Verdict::Rejected)]);
        let pending = earlier_return(ReturnState::NeedsReview, &[("L1", 1, Verdict::NeedsReview)]);
        let other_line = earlier_return(ReturnState::Refunded, &[("L4", 1, Verdict::Approved)]);
        let mut other_order = earlier_return(ReturnState::Approved, &[("L1", 3, Verdict::Approved)]);
        other_order.request.order_id = OrderId::parse("999").unwrap();

        let cases: Vec<(&str, Vec<Return>, u32, Option<u32>)> = vec![
            ("nothing earlier", vec![], 3, None),
            ("more than bought", vec![], 4, Some(3)),
            ("after a partial return, 1 left", vec![partial.clone()], 1, None),
            ("after a partial return, 2 is too many", vec![partial.clone()], 2, Some(1)),
            ("a rejected return does not count", vec![rejected.clone()], 3, None),
            ("an operator-rejected return does not count", vec![operator_rejected], 3, None),
            ("rejected items of a live return do not count", vec![item_rejected], 3, None),
            ("a pending return counts", vec![partial.clone(), pending], 1, Some(0)),
            ("other lines do not count", vec![other_line], 3, None),
            ("other orders do not count", vec![other_order], 3, None),
            ("partial plus rejected", vec![partial, rejected], 2, Some(1)),
        ];
        for (case, earlier, requested, exceeded) in cases {
            let request = refund(vec![item("L1", requested, "doesnt_fit")]);
            let decision = decide(&policy(), &order(), delivered(), &earlier, &request, soon(), Los_Angeles).unwrap();
            match exceeded {
                None => assert_eq!(decision.verdict, Verdict::Approved, "{case}"),
                Some(available) => {
                    assert_eq!(decision.verdict, Verdict::Rejected, "{case}");
                    assert_eq!(
                        decision.items[0].rules,
                        vec![RuleOutcome::QuantityExceeded { requested, available }],
                        "{case}"
                    );
                }
            }
        }
    }

    #[test]
    fn lines_without_ids_are_named_and_counted_by_sku() {
        let policy = ReturnPolicy::default();
        let earlier = [earlier_return(ReturnState::Approved, &[("GC-50", 1, Verdict::Approved)])];
        let request = refund(vec![item("GC-50", 1, "changed_mind")]);
        let decision = decide(&policy, &order(), delivered(), &[], &request, soon(), Los_Angeles).unwrap();
        assert_eq!(decision.verdict, Verdict::Approved);
        assert_eq!(decision.items[0].line_item, "GC-50");
        assert_eq!(decision.items[0].title, "Gift card");
        let decision = decide(&policy, &order(), delivered(), &earlier, &request, soon(), Los_Angeles).unwrap();
        assert_eq!(decision.items[0].rules, vec![RuleOutcome::QuantityExceeded { requested: 1, available: 0 }]);
    }

    // --- portal eligibility ---------------------------------------------------------------

    fn eligible(policy: &ReturnPolicy, earlier: &[Return], now: DateTime<Utc>) -> Vec<ItemEligibility> {
        returnable_items(policy, &order(), delivered(), earlier, now, Los_Angeles)
    }

    #[test]
    fn returnable_items_list_every_line_with_what_is_left_or_why_not() {
        let items = eligible(&policy(), &[], soon());
        let summary: Vec<(&str, &str, u32, Option<&RuleOutcome>)> = items
            .iter()
            .map(|item| (item.line_item.as_str(), item.title.as_str(), item.max_quantity, item.blocked.as_ref()))
            .collect();
        let excluded = |matched: &str| RuleOutcome::ExcludedItem { matched: matched.into() };
        assert_eq!(
            summary,
            vec![
                ("L1", "Tee", 3, None),
                ("L2", "Socks", 0, Some(&excluded("tag final-sale"))),
                ("GC-50", "Gift card", 0, Some(&excluded("product type gift card"))),
                ("L4", "Mug", 0, Some(&excluded("sku mug-1"))),
                ("L5", "Lamp", 1, None),
            ]
        );
        assert_eq!(items[0].unit_price, money("25.00"));
        assert_eq!(items[0].variant, None);
        // Without exclusions, the gift card (no line id) is offered under its sku.
        let items = eligible(&ReturnPolicy::default(), &[], soon());
        assert!(items.iter().all(|item| item.blocked.is_none() && item.max_quantity > 0), "{items:?}");
        assert_eq!(items[2].line_item, "GC-50");
    }

    #[test]
    fn returnable_quantities_count_the_earlier_live_returns() {
        let partial = earlier_return(ReturnState::Approved, &[("L1", 2, Verdict::Approved)]);
        let pending = earlier_return(ReturnState::NeedsReview, &[("L1", 1, Verdict::NeedsReview)]);
        let rejected = earlier_return(ReturnState::Rejected, &[("L1", 3, Verdict::NeedsReview)]);
        let lamp = earlier_return(ReturnState::Refunded, &[("L5", 1, Verdict::Approved)]);
        let cases: Vec<(&str, Vec<Return>, u32, Option<RuleOutcome>)> = vec![
            ("nothing earlier", vec![], 3, None),
            ("after a partial return", vec![partial.clone()], 1, None),
            ("a rejected return does not count", vec![rejected.clone(), partial.clone()], 1, None),
            (
                "everything claimed",
                vec![partial, pending, rejected],
                0,
                Some(RuleOutcome::QuantityExceeded { requested: 3, available: 0 }),
            ),
            ("other lines do not count", vec![lamp.clone()], 3, None),
        ];
        for (case, earlier, max, blocked) in cases {
            let tee = eligible(&policy(), &earlier, soon()).remove(0);
            assert_eq!((tee.max_quantity, tee.blocked), (max, blocked), "{case}");
        }
        let lamp_line = eligible(&policy(), &[lamp], soon()).remove(4);
        assert_eq!(lamp_line.blocked, Some(RuleOutcome::QuantityExceeded { requested: 1, available: 0 }));
        // The customer reads that all of them are already part of a return.
        assert!(
            lamp_line.blocked.unwrap().customer_text().starts_with("All of these items are already part of a return")
        );
    }

    #[test]
    fn returnable_items_close_with_the_window_in_the_shops_time_zone() {
        // Last open day 2026-04-08 in Los Angeles: 04-09 06:59 UTC is still open, 07:00 is not.
        let open = eligible(&policy(), &[], utc(2026, 4, 9, 6, 59));
        assert_eq!(open[0].blocked, None);
        let closed = eligible(&policy(), &[], utc(2026, 4, 9, 7, 0));
        let window = RuleOutcome::OutsideWindow { last_day: date(2026, 4, 8) };
        for item in &closed {
            assert_eq!(item.max_quantity, 0, "{item:?}");
            // An exclusion still comes first, as in `decide`.
            match item.line_item.as_str() {
                "L1" | "L5" => assert_eq!(item.blocked.as_ref(), Some(&window), "{item:?}"),
                _ => assert!(matches!(item.blocked, Some(RuleOutcome::ExcludedItem { .. })), "{item:?}"),
            }
        }
        // Never delivered: the window starts after the grace days (last day 04-13).
        let items = returnable_items(&policy(), &order(), None, &[], utc(2026, 4, 14, 6, 59), Los_Angeles);
        assert_eq!(items[0].blocked, None);
        let items = returnable_items(&policy(), &order(), None, &[], utc(2026, 4, 14, 7, 0), Los_Angeles);
        assert_eq!(items[0].blocked, Some(RuleOutcome::OutsideWindow { last_day: date(2026, 4, 13) }));
    }

    #[test]
    fn returnable_items_agree_with_decide() {
        let partial =
            earlier_return(ReturnState::Approved, &[("L1", 2, Verdict::Approved), ("L5", 1, Verdict::Approved)]);
        let everything = earlier_return(ReturnState::Received, &[("L1", 3, Verdict::Approved)]);
        let histories = [vec![], vec![partial], vec![everything]];
        let moments = [soon(), utc(2026, 4, 9, 6, 59), utc(2026, 4, 9, 7, 0), utc(2027, 1, 1, 0, 0)];
        for policy in [policy(), ReturnPolicy::default(), ReturnPolicy { window_days: 0, ..policy() }] {
            for earlier in &histories {
                for now in moments {
                    let what = format!("{now} {earlier:?}");
                    for item in eligible(&policy, earlier, now) {
                        let decide_quantity = |quantity| {
                            let request = refund(vec![self::item(&item.line_item, quantity, "doesnt_fit")]);
                            decide(&policy, &order(), delivered(), earlier, &request, now, Los_Angeles)
                                .unwrap()
                                .items
                                .remove(0)
                        };
                        match &item.blocked {
                            None => {
                                let most = decide_quantity(item.max_quantity);
                                assert_eq!(most.verdict, Verdict::Approved, "{what}: {item:?}");
                                let over = decide_quantity(item.max_quantity + 1);
                                let exceeded = RuleOutcome::QuantityExceeded {
                                    requested: item.max_quantity + 1,
                                    available: item.max_quantity,
                                };
                                assert_eq!(over.rules, vec![exceeded], "{what}: {item:?}");
                            }
                            Some(blocked) => {
                                assert_eq!(item.max_quantity, 0, "{what}: {item:?}");
                                let one = decide_quantity(1);
                                assert_eq!(one.verdict, Verdict::Rejected, "{what}: {item:?}");
                                let expected = match blocked {
                                    RuleOutcome::QuantityExceeded { .. } => {
                                        RuleOutcome::QuantityExceeded { requested: 1, available: 0 }
                                    }
                                    rule => rule.clone(),
                                };
                                assert_eq!(one.rules, vec![expected], "{what}: {item:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn lines_a_request_cannot_name_are_left_out() {
        let mut order = order();
        let nameless = LineItem { id: None, sku: None, ..order.items[0].clone() };
        let padded = LineItem { id: Some(" L7".into()), ..order.items[0].clone() };
        let blank = LineItem { id: Some(String::new()), ..order.items[0].clone() };
        let twin = LineItem { title: "Tee again".into(), ..order.items[0].clone() };
        let none_bought = LineItem { id: Some("L8".into()), quantity: 0, ..order.items[0].clone() };
        let mut shirt = LineItem { id: Some("L9".into()), ..order.items[0].clone() };
        shirt.variant = Some(" M / Sand ".into());
        order.items.extend([nameless, padded, blank, twin, none_bought, shirt]);
        order.items[4].variant = Some("  ".into());
        let items = returnable_items(&policy(), &order, delivered(), &[], soon(), Los_Angeles);
        let keys: Vec<&str> = items.iter().map(|item| item.line_item.as_str()).collect();
        assert_eq!(keys, vec!["L1", "L2", "GC-50", "L4", "L5", "L9"]);
        assert_eq!(items[4].variant, None);
        assert_eq!(items[5].variant.as_deref(), Some("M / Sand"));
        assert_eq!(items[0].title, "Tee");
    }

    // --- reason rules ---------------------------------------------------------------------

    #[test]
    fn photo_required_reasons_go_to_review_without_a_photo() {
        let cases = [
            (item("L1", 1, "damaged"), Verdict::NeedsReview),
            (with_photo(item("L1", 1, "damaged")), Verdict::Approved),
            (item("L1", 1, "wrong_item"), Verdict::NeedsReview),
            (item("L1", 1, "doesnt_fit"), Verdict::Approved),
            (item("L1", 1, " Damaged "), Verdict::NeedsReview), // codes are matched leniently
        ];
        for (requested, verdict) in cases {
            let decision = decide_soon(&policy(), &refund(vec![requested.clone()]));
            assert_eq!(decision.verdict, verdict, "{requested:?}");
            assert_eq!(decision.items[0].verdict, verdict);
            if verdict == Verdict::NeedsReview {
                let code = requested.reason.trim().to_lowercase();
                assert_eq!(decision.items[0].reason, code);
                assert_eq!(decision.items[0].rules, vec![RuleOutcome::PhotoRequired { reason: code }]);
                assert!(decision.rules.is_empty(), "no auto-approval rule when an item asks for review");
            }
            // Review or not, the amount is what the customer would get.
            assert_eq!(decision.amount, money("25.00"));
        }
    }

    #[test]
    fn fees_are_applied_and_subtracted() {
        let policy = fee_policy("4.95");
        let decision = decide_soon(&policy, &refund(vec![item("L1", 2, "changed_mind")]));
        assert_eq!(decision.verdict, Verdict::Approved);
        let tee = &decision.items[0];
        assert_eq!(tee.verdict, Verdict::Approved);
        assert_eq!(tee.value, money("50.00"));
        assert_eq!(tee.fee, Some(money("4.95")));
        assert_eq!(tee.rules, vec![RuleOutcome::FeeApplied { reason: "changed_mind".into(), fee: money("4.95") }]);
        assert_eq!(decision.amount, money("45.05"));

        // Photo and fee both speak, in the order checked.
        let mut policy = fee_policy("1");
        policy.reasons[1].requires_photo = true;
        let decision = decide_soon(&policy, &refund(vec![item("L1", 1, "changed_mind")]));
        assert_eq!(decision.verdict, Verdict::NeedsReview);
        assert_eq!(
            decision.items[0].rules,
            vec![
                RuleOutcome::PhotoRequired { reason: "changed_mind".into() },
                RuleOutcome::FeeApplied { reason: "changed_mind".into(), fee: money("1.00") },
            ]
        );
        assert_eq!(decision.amount, money("24.00"));
    }

    #[test]
    fn unusable_fees_are_ignored_and_the_amount_never_goes_negative() {
        for fee in ["abc", "4.955", "-2", "0", "", "1e3"] {
            let decision = decide_soon(&fee_policy(fee), &refund(vec![item("L1", 1, "changed_mind")]));
            assert_eq!(decision.verdict, Verdict::Approved, "{fee:?}");
            assert_eq!(decision.items[0].fee, None, "{fee:?}");
            assert!(decision.items[0].rules.is_empty(), "{fee:?}");
            assert_eq!(decision.amount, money("25.00"), "{fee:?}");
        }
        let decision = decide_soon(&fee_policy("30"), &refund(vec![item("L1", 1, "changed_mind")]));
        assert_eq!(decision.items[0].fee, Some(money("30")));
        assert_eq!(decision.amount, money("0"));
    }

    #[test]
    fn custom_reasons_replace_the_defaults() {
        let policy = fee_policy("4.95");
        let err = decide(
            &policy,
            &order(),
            delivered(),
            &[],
            &refund(vec![item("L1", 1, "doesnt_fit")]),
            soon(),
            Los_Angeles,
        )
        .unwrap_err();
        assert_eq!(err.field_name(), "items[0].reason");
        assert!(err.to_string().contains("damaged, changed_mind"), "{err}");
    }

    // --- amounts in their currency -----------------------------------------------------

    #[test]
    fn policy_amounts_state_their_currency_or_are_in_the_policys() {
        let eur = Currency::parse("EUR").unwrap();
        let read = |json: &str, base: Currency| serde_json::from_str::<PolicyAmount>(json).unwrap().money(base);
        assert_eq!(read(r#""USD 4.95""#, eur), Ok(Some(money("4.95"))));
        assert_eq!(read(r#"" usd   4.95 ""#, eur), Ok(Some(money("4.95"))));
        // A bare amount, as settings said before: in the policy's currency.
        assert_eq!(read(r#""4.95""#, eur), Ok(Some(Money::parse("4.95", eur).unwrap())));
        assert_eq!(read(r#""  ""#, eur), Ok(None));
        assert!(matches!(read(r#""JPY 4.95""#, eur), Err(MoneyError::TooPrecise { .. })));
        assert_eq!(read(r#""4.95 USD""#, eur), Err(MoneyError::Currency));
        assert!(matches!(read(r#""USD lots""#, eur), Err(MoneyError::NotDecimal(_))));
        assert!(serde_json::from_str::<PolicyAmount>(r#"{"amount": "4.95", "currency": "USD"}"#).is_err());
        // Stored as written.
        for json in [r#""USD 4.95""#, r#""4.95""#] {
            let amount: PolicyAmount = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&amount).unwrap(), json);
        }
        // Policies stored without a currency read their bare amounts in USD.
        let stored: ReturnPolicy =
            serde_json::from_str(r#"{"reasons": [{"code": "c", "label": "C", "fee": "4.95"}]}"#).unwrap();
        assert_eq!((stored.currency, stored.reason_fee(&stored.reasons[0])), (usd(), Some(money("4.95"))));
    }

    /// A yen order with a tee at ¥2,500 (the `order()` lines, priced in yen).
    fn yen_order() -> Order {
        let jpy = Currency::parse("JPY").unwrap();
        let mut order = order_in(jpy, order().items);
        for line in &mut order.items {
            line.unit_price = Money::parse("2500", jpy).unwrap();
        }
        order
    }

    fn decide_for(policy: &ReturnPolicy, order: &Order, request: &ReturnRequest) -> Decision {
        decide(policy, order, delivered(), &[], request, soon(), Los_Angeles).unwrap()
    }

    #[test]
    fn a_fee_in_another_currency_than_the_orders_is_never_kept_and_sends_the_item_to_review() {
        let jpy = Currency::parse("JPY").unwrap();
        let yen = |amount: &str| Money::parse(amount, jpy).unwrap();
        let order = yen_order();
        let request = refund(vec![item("L1", 1, "changed_mind")]);
        // "5" in a USD policy is $5.00, not ¥5; "4.95" is $4.95, not unreadable yen.
        for (fee, stated) in [("5", money("5")), ("4.95", money("4.95")), ("USD 4.95", money("4.95"))] {
            let decision = decide_for(&fee_policy(fee), &order, &request);
            let tee = &decision.items[0];
            assert_eq!(tee.verdict, Verdict::NeedsReview, "{fee}");
            assert_eq!(tee.fee, None, "{fee}: nothing is kept from the refund");
            assert_eq!(
                tee.rules,
                vec![RuleOutcome::FeeInOtherCurrency {
                    reason: "changed_mind".into(),
                    fee: stated,
                    order_currency: jpy
                }],
                "{fee}"
            );
            assert_eq!((decision.verdict, decision.amount), (Verdict::NeedsReview, yen("2500")), "{fee}");
        }
        // A fee in the order's currency is kept, whatever the policy's currency.
        let decision = decide_for(&fee_policy("JPY 500"), &order, &request);
        assert_eq!(
            decision.items[0].rules,
            vec![RuleOutcome::FeeApplied { reason: "changed_mind".into(), fee: yen("500") }]
        );
        assert_eq!((decision.verdict, decision.amount), (Verdict::Approved, yen("2000")));
        let yen_policy = ReturnPolicy { currency: jpy, ..fee_policy("500") };
        assert_eq!(decide_for(&yen_policy, &order, &request).amount, yen("2000"));
        // And the yen policy's fee on a dollar order is the other way round.
        let decision = decide_soon(&yen_policy, &request);
        assert_eq!(decision.items[0].fee, None);
        assert_eq!(
            decision.items[0].rules,
            vec![RuleOutcome::FeeInOtherCurrency {
                reason: "changed_mind".into(),
                fee: yen("500"),
                order_currency: usd()
            }]
        );
    }

    #[test]
    fn an_auto_approval_limit_in_another_currency_than_the_orders_sends_the_return_to_review() {
        let jpy = Currency::parse("JPY").unwrap();
        let yen = |amount: &str| Money::parse(amount, jpy).unwrap();
        let order = yen_order();
        let request = refund(vec![item("L1", 1, "doesnt_fit")]); // ¥2,500
        let with_limit = |limit: &str| ReturnPolicy {
            auto_approve: AutoApprove { enabled: true, max_value: Some(limit.into()) },
            ..policy()
        };
        // $50.00 is not ¥50 (which would refuse) nor ¥5,000 (which would approve): not comparable.
        for (limit, stated) in [("50", money("50")), ("USD 50.00", money("50"))] {
            let decision = decide_for(&with_limit(limit), &order, &request);
            assert_eq!(decision.verdict, Verdict::NeedsReview, "{limit}");
            assert_eq!(
                decision.rules,
                vec![RuleOutcome::AutoApproveLimitInOtherCurrency { limit: stated, value: yen("2500") }],
                "{limit}"
            );
        }
        let decision = decide_for(&with_limit("JPY 3000"), &order, &request);
        assert_eq!((decision.verdict, decision.rules.is_empty()), (Verdict::Approved, true));
        let decision = decide_for(&with_limit("JPY 2000"), &order, &request);
        assert_eq!(decision.rules, vec![RuleOutcome::OverAutoApproveLimit { limit: yen("2000"), value: yen("2500") }]);
        // The dollar order under a dollar limit, as before.
        assert_eq!(decide_soon(&with_limit("50"), &request).verdict, Verdict::Approved);
    }

    #[test]
    fn amounts_that_do_not_read_are_named_by_their_path() {
        let mut policy = fee_policy("4.95");
        policy.auto_approve.max_value = Some("USD 200".into());
        assert_eq!(policy.check_amounts(), Ok(()));
        for (fee, problem) in
            [("abc", "not a decimal"), ("-2", "negative"), ("USD 4.955", "more decimals"), ("XX 1", "currency")]
        {
            let err = fee_policy(fee).check_amounts().unwrap_err();
            assert_eq!(err.field, "reasons[1].fee", "{fee}");
            assert!(err.problem.contains(problem), "{fee}: {err}");
        }
        policy.auto_approve.max_value = Some("USD -1".into());
        assert_eq!(policy.check_amounts().unwrap_err().field, "auto_approve.max_value");
    }

    // --- resolutions ----------------------------------------------------------------------

    #[test]
    fn each_resolution_has_its_amount() {
        let mut policy = fee_policy("4.95");
        policy.resolutions.store_credit_bonus_percent = 10;
        let items = || vec![item("L1", 2, "changed_mind"), with_photo(item("L5", 1, "damaged"))];
        // Values 50.00 + 12.25, fee 4.95: refundable 57.30.
        let cases = [
            (Resolution::Refund, "57.30"),
            (Resolution::StoreCredit, "63.03"), // + 5.730 -> 5.73
            (Resolution::Exchange { variant: "L / Sand".into() }, "57.30"),
        ];
        for (resolution, amount) in cases {
            let decision = decide_soon(&policy, &request(items(), resolution.clone()));
            assert_eq!(decision.verdict, Verdict::Approved, "{resolution:?}");
            assert_eq!(decision.amount, money(amount), "{resolution:?}");
            assert!(decision.rules.is_empty());
        }
    }

    #[test]
    fn store_credit_bonus_rounds_half_up_exactly() {
        let cases = [
            ("L5", 10, "13.48"), // 12.25 + 1.225 -> 1.23 (banker's rounding would give 1.22)
            ("L1", 10, "27.50"), // 25.00 + 2.50
            ("L4", 0, "12.50"),  // no bonus
            ("L4", 15, "14.38"), // 12.50 + 1.875 -> 1.88
            ("L1", 3, "25.75"),
        ];
        let mut order = order();
        order.items[3].sku = Some("MUG-2".into()); // not excluded here
        for (line_item, percent, amount) in cases {
            let mut policy = policy();
            policy.resolutions.store_credit_bonus_percent = percent;
            let request = request(vec![item(line_item, 1, "doesnt_fit")], Resolution::StoreCredit);
            let decision = decide(&policy, &order, delivered(), &[], &request, soon(), Los_Angeles).unwrap();
            assert_eq!(decision.amount, money(amount), "{line_item} {percent}%");
        }
        // Currencies without minor units round to whole units: 15 JPY + 1.5 -> 17.
        let jpy = Currency::parse("JPY").unwrap();
        let mut order = order_in(jpy, vec![line(Some("J1"), "J-1", "Fan", 1, "1", "Home", &[])]);
        order.items[0].unit_price = Money::parse("15", jpy).unwrap();
        let mut policy = policy();
        policy.resolutions.store_credit_bonus_percent = 10;
        let request = request(vec![item("J1", 1, "doesnt_fit")], Resolution::StoreCredit);
        let decision = decide(&policy, &order, delivered(), &[], &request, soon(), Los_Angeles).unwrap();
        assert_eq!(decision.amount, Money::parse("17", jpy).unwrap());
    }

    #[test]
    fn a_resolution_the_shop_does_not_offer_goes_to_review() {
        let cases = [
            (Resolutions { refund: false, ..Resolutions::default() }, Resolution::Refund, "refund"),
            (Resolutions { store_credit: false, ..Resolutions::default() }, Resolution::StoreCredit, "store credit"),
            (
                Resolutions { exchange: false, ..Resolutions::default() },
                Resolution::Exchange { variant: "M".into() },
                "exchange",
            ),
        ];
        for (resolutions, resolution, label) in cases {
            let policy = ReturnPolicy { resolutions, ..policy() };
            let decision = decide_soon(&policy, &request(vec![item("L1", 1, "doesnt_fit")], resolution.clone()));
            assert_eq!(decision.verdict, Verdict::NeedsReview, "{label}");
            assert_eq!(decision.rules, vec![RuleOutcome::ResolutionNotOffered { resolution: label.into() }]);
            assert_eq!(decision.items[0].verdict, Verdict::Approved);
            // Everything rejected: rejected, and no promise that the team will get in touch.
            let decision = decide_soon(&policy, &request(vec![item("L2", 1, "doesnt_fit")], resolution));
            assert_eq!(decision.verdict, Verdict::Rejected, "{label}");
            assert!(decision.rules.is_empty());
        }
    }

    // --- auto-approval --------------------------------------------------------------------

    #[test]
    fn auto_approval_limit_and_switch() {
        let items = || vec![item("L1", 2, "changed_mind")]; // 50.00 less a 4.95 fee = 45.05
        let cases: Vec<(bool, Option<&str>, Verdict, Vec<RuleOutcome>)> = vec![
            (true, None, Verdict::Approved, vec![]),
            (true, Some("45.05"), Verdict::Approved, vec![]), // the limit itself is allowed
            (true, Some(" "), Verdict::Approved, vec![]),     // blank: no limit
            (
                true,
                Some("45.04"),
                Verdict::NeedsReview,
                vec![RuleOutcome::OverAutoApproveLimit { limit: money("45.04"), value: money("45.05") }],
            ),
            (true, Some("lots"), Verdict::NeedsReview, vec![RuleOutcome::AutoApproveOff]), // settings bug: review
            (false, None, Verdict::NeedsReview, vec![RuleOutcome::AutoApproveOff]),
            (false, Some("1000"), Verdict::NeedsReview, vec![RuleOutcome::AutoApproveOff]),
        ];
        for (enabled, max_value, verdict, rules) in cases {
            let mut policy = fee_policy("4.95");
            policy.auto_approve = AutoApprove { enabled, max_value: max_value.map(PolicyAmount::from) };
            let decision = decide_soon(&policy, &refund(items()));
            assert_eq!(decision.verdict, verdict, "{enabled} {max_value:?}");
            assert_eq!(decision.rules, rules, "{enabled} {max_value:?}");
            assert_eq!(decision.amount, money("45.05"));
            assert!(decision.items.iter().all(|item| item.verdict == Verdict::Approved));
        }
    }

    #[test]
    fn the_limit_is_on_the_refundable_value_not_the_store_credit_bonus() {
        let mut policy = policy();
        policy.resolutions.store_credit_bonus_percent = 10;
        policy.auto_approve.max_value = Some("25".into());
        let decision = decide_soon(&policy, &request(vec![item("L1", 1, "doesnt_fit")], Resolution::StoreCredit));
        assert_eq!(decision.verdict, Verdict::Approved);
        assert_eq!(decision.amount, money("27.50"));
    }

    #[test]
    fn every_item_rejected_rejects_the_request() {
        let mut policy = policy();
        policy.auto_approve.enabled = false;
        let request = refund(vec![item("L2", 1, "doesnt_fit"), item("L4", 1, "damaged"), item("L1", 4, "doesnt_fit")]);
        let decision = decide_soon(&policy, &request);
        assert_eq!(decision.verdict, Verdict::Rejected);
        assert!(decision.items.iter().all(|item| item.verdict == Verdict::Rejected));
        assert!(decision.rules.is_empty(), "auto-approval does not speak about a rejected request");
        assert_eq!(decision.amount, money("0"));
        // Values stay informative even on rejected items.
        assert_eq!(decision.items[2].value, money("100.00"));
    }

    #[test]
    fn partly_rejected_requests_are_decided_by_the_rest() {
        let mut limited = policy();
        limited.auto_approve.max_value = Some("20".into());
        let cases: Vec<(&str, ReturnPolicy, Vec<RequestedItem>, Verdict, &str)> = vec![
            (
                "excluded + fine",
                policy(),
                vec![item("L2", 1, "doesnt_fit"), item("L1", 1, "doesnt_fit")],
                Verdict::Approved,
                "25.00",
            ),
            (
                "excluded + photo missing",
                policy(),
                vec![item("L2", 1, "doesnt_fit"), item("L1", 1, "damaged")],
                Verdict::NeedsReview,
                "25.00",
            ),
            (
                "too many + fine",
                policy(),
                vec![item("L1", 5, "doesnt_fit"), item("L5", 1, "doesnt_fit")],
                Verdict::Approved,
                "12.25",
            ),
            // Rejected values do not count against the limit: 12.25 <= 20.
            (
                "limit on the rest only",
                limited.clone(),
                vec![item("L1", 5, "doesnt_fit"), item("L5", 1, "doesnt_fit")],
                Verdict::Approved,
                "12.25",
            ),
            (
                "rest over the limit",
                limited,
                vec![item("L2", 1, "doesnt_fit"), item("L1", 1, "doesnt_fit")],
                Verdict::NeedsReview,
                "25.00",
            ),
        ];
        for (case, policy, items, verdict, amount) in cases {
            let decision = decide_soon(&policy, &refund(items));
            assert_eq!(decision.verdict, verdict, "{case}");
            assert_eq!(decision.items[0].verdict, Verdict::Rejected, "{case}: rejected items stay rejected");
            assert_eq!(decision.amount, money(amount), "{case}");
        }
    }

    #[test]
    fn item_decisions_describe_the_lines() {
        let decision =
            decide_soon(&policy(), &refund(vec![item(" L1 ", 3, "doesnt_fit"), item("L5", 1, "changed_mind")]));
        let tee = &decision.items[0];
        assert_eq!((tee.line_item.as_str(), tee.title.as_str(), tee.quantity), ("L1", "Tee", 3));
        assert_eq!((tee.reason.as_str(), tee.value, tee.fee), ("doesnt_fit", money("75.00"), None));
        assert_eq!(decision.amount, money("87.25"));
        // Decisions survive storage.
        let json = serde_json::to_string(&decision).unwrap();
        assert_eq!(serde_json::from_str::<Decision>(&json).unwrap(), decision);
    }

    // --- input errors ---------------------------------------------------------------------

    #[test]
    fn input_errors_name_their_fields() {
        let photos = |urls: &[&str]| {
            let mut item = item("L1", 1, "damaged");
            item.photo_urls = urls.iter().map(|u| (*u).to_owned()).collect();
            item
        };
        let ok = || item("L1", 1, "doesnt_fit");
        let exchange = |variant: &str| Resolution::Exchange { variant: variant.into() };
        let mut wrong_order = refund(vec![ok()]);
        wrong_order.order_id = OrderId::parse("1002").unwrap();
        let cases: Vec<(ReturnRequest, &str)> = vec![
            (refund(vec![]), "items"),
            (wrong_order, "order_id"),
            (refund(vec![item("L9", 1, "doesnt_fit")]), "items[0].line_item"),
            (refund(vec![item("", 1, "doesnt_fit")]), "items[0].line_item"),
            (refund(vec![ok(), item("TEE-1", 1, "doesnt_fit")]), "items[1].line_item"), // sku of a line with an id
            (refund(vec![ok(), item("L1", 1, "damaged")]), "items[1].line_item"),       // same line twice
            (refund(vec![item("GC-50", 1, "doesnt_fit"), item(" GC-50", 1, "damaged")]), "items[1].line_item"),
            (refund(vec![item("L1", 0, "doesnt_fit")]), "items[0].quantity"),
            (refund(vec![ok(), item("L4", 1, "too_expensive")]), "items[1].reason"),
            (refund(vec![item("L1", 1, "")]), "items[0].reason"),
            (request(vec![ok()], exchange("")), "resolution.variant"),
            (request(vec![ok()], exchange("   ")), "resolution.variant"),
            (request(vec![ok()], exchange(&"x".repeat(MAX_VARIANT_LEN + 1))), "resolution.variant"),
            (refund(vec![photos(&["ftp://cdn.example.com/a.jpg"])]), "items[0].photo_urls"),
            (refund(vec![photos(&["javascript:alert(1)"])]), "items[0].photo_urls"),
            (refund(vec![photos(&["https://"])]), "items[0].photo_urls"),
            (refund(vec![photos(&["https://cdn.example.com/a b.jpg"])]), "items[0].photo_urls"),
            (refund(vec![photos(&["/relative.jpg"])]), "items[0].photo_urls"),
            (
                refund(vec![item("L5", 1, "doesnt_fit"), photos(&["https://a.example/1", "http://a.example/2", "x"])]),
                "items[1].photo_urls",
            ),
            (refund(vec![photos(&["https://a.example/p"; 6])]), "items[0].photo_urls"),
            (
                refund(vec![photos(&[&format!("https://a.example/{}", "p".repeat(MAX_PHOTO_URL_LEN))])]),
                "items[0].photo_urls",
            ),
        ];
        for (request, field) in cases {
            let err = decide(&policy(), &order(), delivered(), &[], &request, soon(), Los_Angeles).unwrap_err();
            assert_eq!(err.field_name(), field, "{request:?}");
            let RequestError::Field { problem, .. } = &err;
            assert!(!problem.is_empty());
            assert!(err.to_string().starts_with(&format!("field `{field}`: ")), "{err}");
        }
        // The valid forms pass.
        let fine = refund(vec![photos(&["https://a.example/1"; 5]), item("GC-50", 1, "doesnt_fit")]);
        let mut fine = fine;
        fine.items[0].photo_urls[1] = "HTTP://A.example/2?x=1#y".into();
        assert!(decide(&policy(), &order(), delivered(), &[], &fine, soon(), Los_Angeles).is_ok());
        let fine = request(vec![ok()], exchange(" L / Sand "));
        assert!(decide(&policy(), &order(), delivered(), &[], &fine, soon(), Los_Angeles).is_ok());
    }

    #[test]
    fn input_errors_come_before_policy_outcomes() {
        // Past the window and excluded, but the request itself is malformed: 400, not a rejection.
        let request = refund(vec![item("L2", 1, "doesnt_fit"), item("L1", 0, "doesnt_fit")]);
        let err = decide(&policy(), &order(), delivered(), &[], &request, utc(2030, 1, 1, 0, 0), Los_Angeles);
        assert_eq!(err.unwrap_err().field_name(), "items[1].quantity");
    }

    #[test]
    fn absurd_quantities_do_not_overflow() {
        let request = refund(vec![item("L1", u32::MAX, "doesnt_fit")]);
        let mut order = order();
        order.items[0].unit_price = Money { minor: i64::MAX / 2, currency: usd() };
        let err = decide(&policy(), &order, delivered(), &[], &request, soon(), Los_Angeles).unwrap_err();
        assert_eq!(err.field_name(), "items[0].quantity");
        // Within range: simply more than bought.
        let decision = decide_soon(&policy(), &request);
        assert_eq!(decision.items[0].rules, vec![RuleOutcome::QuantityExceeded { requested: u32::MAX, available: 3 }]);
    }

    // --- customer text --------------------------------------------------------------------

    #[test]
    fn every_rule_explains_itself_with_its_figures() {
        let cases: Vec<(RuleOutcome, Vec<&str>)> = vec![
            (RuleOutcome::OutsideWindow { last_day: date(2026, 4, 8) }, vec!["April 8, 2026"]),
            (RuleOutcome::ExcludedItem { matched: "tag final-sale".into() }, vec![]),
            (RuleOutcome::QuantityExceeded { requested: 3, available: 1 }, vec!["1", "3"]),
            (RuleOutcome::QuantityExceeded { requested: 2, available: 0 }, vec!["2"]),
            (RuleOutcome::PhotoRequired { reason: "damaged".into() }, vec!["photo"]),
            (RuleOutcome::ResolutionNotOffered { resolution: "store credit".into() }, vec!["store credit"]),
            (RuleOutcome::OverAutoApproveLimit { limit: money("100"), value: money("120") }, vec![]),
            (RuleOutcome::AutoApproveOff, vec![]),
            (RuleOutcome::FeeApplied { reason: "changed_mind".into(), fee: money("4.95") }, vec!["$4.95"]),
            (
                RuleOutcome::FeeInOtherCurrency {
                    reason: "changed_mind".into(),
                    fee: money("4.95"),
                    order_currency: Currency::parse("JPY").unwrap(),
                },
                vec!["$4.95", "JPY", "review"],
            ),
            (RuleOutcome::AutoApproveLimitInOtherCurrency { limit: money("50"), value: money("45") }, vec!["review"]),
        ];
        for (rule, figures) in cases {
            let text = rule.customer_text();
            assert!(!text.trim().is_empty(), "{rule:?}");
            for figure in figures {
                assert!(text.contains(figure), "{rule:?}: {text}");
            }
        }
    }

    // --- states ---------------------------------------------------------------------------

    #[test]
    fn return_states_only_move_forward() {
        use ReturnState::*;
        let all = ReturnState::ALL;
        // Nothing reaches itself again, directly or through other states.
        for start in all {
            let mut reachable: Vec<ReturnState> = all.into_iter().filter(|next| start.can_move_to(*next)).collect();
            let mut i = 0;
            while i < reachable.len() {
                let from = reachable[i];
                for next in all {
                    if from.can_move_to(next) && !reachable.contains(&next) {
                        reachable.push(next);
                    }
                }
                i += 1;
            }
            assert!(!reachable.contains(&start), "{start:?} can come back to itself");
        }
        // The expected forward moves exist; final states go nowhere.
        assert!(NeedsReview.can_move_to(Approved) && NeedsReview.can_move_to(Rejected));
        assert!(Approved.can_move_to(InTransit) && InTransit.can_move_to(Received) && Received.can_move_to(Refunded));
        for done in [Rejected, Refunded, Credited, Exchanged, Closed] {
            assert!(all.iter().all(|next| !done.can_move_to(*next)), "{done:?}");
        }
        assert!(!Approved.can_move_to(NeedsReview) && !Received.can_move_to(InTransit));
        for state in all {
            assert_eq!(ReturnState::parse(state.as_str()), Some(state));
        }
        assert_eq!(ReturnState::parse("lost"), None);
    }

    // --- ids ------------------------------------------------------------------------------

    #[test]
    fn return_ids_are_stable_short_and_distinct() {
        let shop = ShopId::parse("demo-shop").unwrap();
        let other_shop = ShopId::parse("other-shop").unwrap();
        let order = OrderId::parse("1001").unwrap();
        let other_order = OrderId::parse("1002").unwrap();
        let id = return_id(&shop, &order, "key-1");
        assert_eq!(id, return_id(&shop, &order, "key-1"));
        assert_eq!(id.as_str().len(), 17, "R and 16 hex digits, or it would not parse");
        let others = [
            return_id(&shop, &order, "key-2"),
            return_id(&shop, &order, ""),
            return_id(&shop, &other_order, "key-1"),
            return_id(&other_shop, &order, "key-1"),
        ];
        for other in &others {
            assert_ne!(&id, other);
        }
        // The separator cannot be smuggled through the order id.
        let a = return_id(&shop, &OrderId::parse("1|2").unwrap(), "x");
        let b = return_id(&shop, &OrderId::parse("1").unwrap(), "2|x");
        assert_ne!(a, b);
    }
}
