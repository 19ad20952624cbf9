//! Customer messages rendered from templates: the email (subject, HTML, text) and the SMS of each
//! [`MessageKind`].
//!
//! The default templates live in `shared/templates/` and are embedded in the binary. A shop can
//! override any of them through [`ShopSettings::templates`], keyed by the same file names
//! (`order_confirmation.html`, `layout.html`, ...). Templates receive a view model whose values
//! are already formatted for customers (money, dates, labels); they never see the raw order.
//!
//! HTML templates (`.html`) are auto-escaped, text templates (`.txt`) are not. Nothing here logs:
//! the context holds personal data.

use crate::ids::TrackingNumber;
use crate::messages::MessageKind;
use crate::money::{Money, MoneyError};
use crate::order::{LineItem, Order, Shipment};
use crate::settings::ShopSettings;
use minijinja::value::{Serde, Value};
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

/// Everything a message is rendered from. Holds personal data: deliberately not `Debug`.
#[derive(Clone, Copy)]
pub struct MessageContext<'a> {
    pub settings: &'a ShopSettings,
    pub order: &'a Order,
    /// The shipment a shipping message is about; None for order-wide messages.
    pub shipment: Option<&'a Shipment>,
    /// The carrier's view of that shipment (status, estimate, checkpoints), when known.
    pub tracking: Option<&'a crate::tracking::ShipmentTracking>,
    pub tracking_url: &'a str,
    pub returns_url: &'a str,
}

/// `Debug` shows the subject and the body sizes only: the bodies greet the customer by name.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// One line, no line breaks.
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl std::fmt::Debug for RenderedEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedEmail")
            .field("subject", &self.subject)
            .field("html", &format_args!("<{} bytes>", self.html.len()))
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .finish()
    }
}

/// Errors carry template names and engine messages, never context values.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {template:?} failed: {detail}")]
    Render { template: String, detail: String },
    #[error("template {template:?} rendered nothing")]
    Empty { template: String },
    #[error("{name:?} is not a template name; expected one of {}", TEMPLATE_NAMES.join(", "))]
    UnknownTemplate { name: String },
    #[error("the SMS is {chars} characters long; at most {max} are allowed")]
    SmsTooLong { chars: usize, max: usize },
    #[error("a {0} message needs the shipment it is about")]
    MissingShipment(&'static str),
    #[error("cannot format an amount: {0}")]
    Money(#[from] MoneyError),
}

/// Hard limit for a rendered SMS (two concatenated GSM-7 segments hold 306).
pub const SMS_MAX_CHARS: usize = 300;

/// Instruction budget for renders with shop overrides, so a runaway loop fails instead of
/// running until the Lambda times out. The default templates use a few thousand per render.
const OVERRIDE_FUEL: u64 = 2_000_000;

const DEFAULT_TEMPLATES: [(&str, &str); 9] = [
    ("layout.html", include_str!("../templates/layout.html")),
    ("order_confirmation.subject.txt", include_str!("../templates/order_confirmation.subject.txt")),
    ("order_confirmation.html", include_str!("../templates/order_confirmation.html")),
    ("order_confirmation.txt", include_str!("../templates/order_confirmation.txt")),
    ("order_confirmation.sms.txt", include_str!("../templates/order_confirmation.sms.txt")),
    ("shipped.subject.txt", include_str!("../templates/shipped.subject.txt")),
    ("shipped.html", include_str!("../templates/shipped.html")),
    ("shipped.txt", include_str!("../templates/shipped.txt")),
    ("shipped.sms.txt", include_str!("../templates/shipped.sms.txt")),
];

/// The names a shop may override.
pub const TEMPLATE_NAMES: [&str; 9] = {
    let mut names = [""; 9];
    let mut i = 0;
    while i < DEFAULT_TEMPLATES.len() {
        names[i] = DEFAULT_TEMPLATES[i].0;
        i += 1;
    }
    names
};

/// Built once per process. Holds an error instead of panicking should a default not compile
/// (a unit test makes sure they all do).
static DEFAULT_ENV: LazyLock<Result<Environment<'static>, minijinja::Error>> = LazyLock::new(|| {
    let mut env = base_environment();
    for (name, source) in DEFAULT_TEMPLATES {
        env.add_template(name, source)?;
    }
    Ok(env)
});

fn base_environment() -> Environment<'static> {
    let mut env = Environment::new();
    // `{% if %}` on its own line leaves no blank line behind, which the text parts rely on.
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("default delimiters are valid"),
    );
    // A misspelled variable in an override fails the render rather than sending a blank.
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    // Escaping by file name: `.html` is HTML-escaped, `.txt` is not (minijinja's default callback).
    env.set_auto_escape_callback(minijinja::default_auto_escape_callback);
    env.set_formatter(format_value);
    env
}

/// Like minijinja's default formatter, except that `none` prints as nothing and HTML escaping
/// leaves `/` alone, so URLs stay readable for link checkers and click tracking.
fn format_value(out: &mut Output, state: &mut State, value: &Value) -> Result<(), minijinja::Error> {
    if value.is_none() {
        return Ok(());
    }
    if matches!(state.auto_escape(), AutoEscape::Html)
        && !value.is_safe()
        && let Some(s) = value.as_str()
    {
        return write_html_escaped(out, s).map_err(minijinja::Error::from);
    }
    minijinja::escape_formatter(out, state, value)
}

fn write_html_escaped(out: &mut Output, s: &str) -> std::fmt::Result {
    let mut rest = s;
    while let Some(i) = rest.find(['<', '>', '&', '"', '\'']) {
        out.write_str(&rest[..i])?;
        out.write_str(match rest.as_bytes()[i] {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'"' => "&quot;",
            _ => "&#x27;",
        })?;
        rest = &rest[i + 1..];
    }
    out.write_str(rest)
}

/// The default environment, or one with the shop's overrides on top of the defaults.
fn environment(
    overrides: &BTreeMap<String, String>,
) -> Result<std::borrow::Cow<'static, Environment<'static>>, TemplateError> {
    let defaults = DEFAULT_ENV.as_ref().map_err(|e| render_error(e.name().unwrap_or("default templates"), e))?;
    let overrides: Vec<_> = overrides.iter().filter(|(name, _)| TEMPLATE_NAMES.contains(&name.as_str())).collect();
    if overrides.is_empty() {
        return Ok(std::borrow::Cow::Borrowed(defaults));
    }
    let mut env = defaults.clone();
    env.set_fuel(Some(OVERRIDE_FUEL));
    for (name, source) in overrides {
        env.add_template_owned(name.clone(), source.clone()).map_err(|e| render_error(name, &e))?;
    }
    Ok(std::borrow::Cow::Owned(env))
}

/// Checks a shop's overrides before they are saved: known names, and each one compiles.
///
/// # Errors
/// [`TemplateError::UnknownTemplate`] for a name that is not in [`TEMPLATE_NAMES`] (at render
/// time such entries are ignored), [`TemplateError::Render`] for a syntax error. Rendering can
/// still fail later, e.g. on a misspelled variable.
pub fn check_overrides(overrides: &BTreeMap<String, String>) -> Result<(), TemplateError> {
    if let Some(name) = overrides.keys().find(|name| !TEMPLATE_NAMES.contains(&name.as_str())) {
        return Err(TemplateError::UnknownTemplate { name: name.clone() });
    }
    environment(overrides).map(|_| ())
}

fn render_error(template: &str, error: &minijinja::Error) -> TemplateError {
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let _ = write!(detail, ": {cause}");
        source = cause.source();
    }
    TemplateError::Render { template: template.to_owned(), detail }
}

fn render(env: &Environment<'_>, name: &str, view: &Value) -> Result<String, TemplateError> {
    let rendered = env
        .get_template(name)
        .and_then(|template| template.render(view.clone()))
        .map_err(|e| render_error(name, &e))?;
    if rendered.trim().is_empty() {
        return Err(TemplateError::Empty { template: name.to_owned() });
    }
    Ok(rendered)
}

/// Collapses all whitespace (line breaks included) into single spaces.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Renders the email of `kind`: subject (one line), HTML and plain-text parts.
///
/// # Errors
/// A shop override that does not compile or fails to render, a template that renders nothing,
/// a [`MessageKind::Shipped`] message without `ctx.shipment`, or an amount that overflows.
pub fn render_email(kind: MessageKind, ctx: &MessageContext<'_>) -> Result<RenderedEmail, TemplateError> {
    let view = Value::from(Serde(View::build(kind, ctx)?));
    let env = environment(&ctx.settings.templates)?;
    let kind = kind.as_str();
    // A subject is a mail header: never let a line break through.
    let subject = one_line(&render(&env, &format!("{kind}.subject.txt"), &view)?);
    let html = render(&env, &format!("{kind}.html"), &view)?;
    let mut text = render(&env, &format!("{kind}.txt"), &view)?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(RenderedEmail { subject, html, text })
}

/// Renders the SMS of `kind` as one line of at most [`SMS_MAX_CHARS`] characters.
///
/// # Errors
/// As [`render_email`], plus [`TemplateError::SmsTooLong`].
pub fn render_sms(kind: MessageKind, ctx: &MessageContext<'_>) -> Result<String, TemplateError> {
    let view = Value::from(Serde(View::build(kind, ctx)?));
    let env = environment(&ctx.settings.templates)?;
    let sms = one_line(&render(&env, &format!("{}.sms.txt", kind.as_str()), &view)?);
    let chars = sms.chars().count();
    if chars > SMS_MAX_CHARS {
        return Err(TemplateError::SmsTooLong { chars, max: SMS_MAX_CHARS });
    }
    Ok(sms)
}

// ---------------------------------------------------------------------------------------------
// The view model: what templates see. Every value is display-ready.

#[derive(Serialize)]
struct View<'a> {
    shop: ShopView<'a>,
    customer: CustomerView<'a>,
    order: OrderView<'a>,
    /// Present for shipping messages.
    shipment: Option<ShipmentView<'a>>,
    tracking_url: &'a str,
    returns_url: &'a str,
    /// One or two sentences; None when the shop has neither a summary nor a return window.
    return_policy: Option<String>,
}

#[derive(Serialize)]
struct ShopView<'a> {
    name: &'a str,
    /// `#rrggbb`; the default colour when the setting is malformed.
    brand_color: String,
    /// Black or white, whichever reads better on the brand colour.
    brand_text_color: &'static str,
    support_url: &'a str,
    support_email: Option<&'a str>,
}

#[derive(Serialize)]
struct CustomerView<'a> {
    /// The customer's first name, if known.
    first_name: Option<&'a str>,
    /// The first name, or "there" ("Hi there,").
    greeting_name: &'a str,
}

#[derive(Serialize)]
struct OrderView<'a> {
    /// `#1001`.
    number: String,
    /// The day the order was placed, in the shop's time zone: "November 23, 2026".
    placed_on: String,
    /// "Friday, November 27".
    estimated_delivery: Option<String>,
    items: Vec<ItemView<'a>>,
    /// Units across all lines.
    item_count: u64,
    totals: TotalsView,
}

#[derive(Serialize)]
struct ItemView<'a> {
    title: &'a str,
    variant: Option<&'a str>,
    quantity: u32,
    unit_price: String,
    line_total: String,
    /// "2 x Linen shirt (M / Sand)".
    label: String,
}

#[derive(Serialize)]
struct TotalsView {
    subtotal: String,
    /// "Free" when zero.
    shipping: String,
    /// Shown as a deduction ("-$10.00"); None when zero.
    discount: Option<String>,
    /// None when zero.
    tax: Option<String>,
    total: String,
}

#[derive(Serialize)]
struct ShipmentView<'a> {
    carrier: Option<&'a str>,
    tracking_number: Option<&'a str>,
    /// The carrier's own tracking page (http/https only).
    carrier_tracking_url: Option<&'a str>,
    items: Vec<ShipmentItemView<'a>>,
    /// Units in this shipment.
    item_count: u64,
    /// True when the shipment holds only some of the order's units.
    partial: bool,
    /// "1 of 2 items" when partial.
    partial_summary: Option<String>,
}

#[derive(Serialize)]
struct ShipmentItemView<'a> {
    title: &'a str,
    variant: Option<&'a str>,
    quantity: u32,
    /// "2 x Linen shirt (M / Sand)".
    label: String,
}

const DEFAULT_BRAND_COLOR: &str = "#1a1a2e";

impl<'a> View<'a> {
    fn build(kind: MessageKind, ctx: &MessageContext<'a>) -> Result<Self, TemplateError> {
        let settings = ctx.settings;
        let order = ctx.order;
        let shipment = match (kind, ctx.shipment) {
            (MessageKind::Shipped, None) => {
                return Err(TemplateError::MissingShipment(kind.as_str()));
            }
            (_, shipment) => shipment,
        };
        let order_view = OrderView::build(order, settings)?;
        let shipment = shipment.map(|s| ShipmentView::build(s, order, order_view.item_count));
        let brand_color = if is_hex_color(&settings.brand_color) {
            settings.brand_color.to_ascii_lowercase()
        } else {
            DEFAULT_BRAND_COLOR.to_owned()
        };
        let first_name = non_empty(order.customer.first_name.as_deref());
        Ok(Self {
            shop: ShopView {
                name: settings.display_name.trim(),
                brand_text_color: text_color_on(&brand_color),
                brand_color,
                support_url: &settings.support_url,
                support_email: non_empty(settings.support_email.as_deref()),
            },
            customer: CustomerView { first_name, greeting_name: first_name.unwrap_or("there") },
            order: order_view,
            shipment,
            tracking_url: ctx.tracking_url,
            returns_url: ctx.returns_url,
            return_policy: return_policy(settings),
        })
    }
}

impl<'a> OrderView<'a> {
    fn build(order: &'a Order, settings: &ShopSettings) -> Result<Self, TemplateError> {
        let items = order.items.iter().map(ItemView::build).collect::<Result<Vec<_>, _>>()?;
        let totals = &order.totals;
        Ok(Self {
            number: display_order_number(&order.number),
            placed_on: order.placed_at.with_timezone(&settings.time_zone).format("%B %-d, %Y").to_string(),
            // Already the shop's local calendar date: formatted, never converted.
            estimated_delivery: order.promised_delivery.map(|d| d.format("%A, %B %-d").to_string()),
            item_count: order.items.iter().map(|i| u64::from(i.quantity)).sum(),
            items,
            totals: TotalsView {
                subtotal: totals.subtotal.to_string(),
                shipping: if totals.shipping.minor == 0 { "Free".to_owned() } else { totals.shipping.to_string() },
                discount: (totals.discount.minor != 0).then(|| deduction(totals.discount)).transpose()?,
                tax: (totals.tax.minor != 0).then(|| totals.tax.to_string()),
                total: totals.total.to_string(),
            },
        })
    }
}

impl<'a> ItemView<'a> {
    fn build(item: &'a LineItem) -> Result<Self, TemplateError> {
        let variant = non_empty(item.variant.as_deref());
        Ok(Self {
            title: &item.title,
            variant,
            quantity: item.quantity,
            unit_price: item.unit_price.to_string(),
            line_total: item.line_total()?.to_string(),
            label: item_label(item.quantity, &item.title, variant),
        })
    }
}

impl<'a> ShipmentView<'a> {
    fn build(shipment: &'a Shipment, order: &'a Order, order_units: u64) -> Self {
        let items: Vec<_> = if shipment.items.is_empty() {
            // A fulfillment without line items covers the whole order.
            order
                .items
                .iter()
                .map(|item| {
                    let variant = non_empty(item.variant.as_deref());
                    ShipmentItemView {
                        title: &item.title,
                        variant,
                        quantity: item.quantity,
                        label: item_label(item.quantity, &item.title, variant),
                    }
                })
                .collect()
        } else {
            shipment
                .items
                .iter()
                .map(|shipped| {
                    let line = shipped
                        .line_item_id
                        .as_deref()
                        .and_then(|id| order.items.iter().find(|item| item.id.as_deref() == Some(id)));
                    let title = match (shipped.title.trim(), line) {
                        ("", Some(line)) => line.title.as_str(),
                        _ => shipped.title.as_str(),
                    };
                    let variant = line.and_then(|line| non_empty(line.variant.as_deref()));
                    ShipmentItemView {
                        title,
                        variant,
                        quantity: shipped.quantity,
                        label: item_label(shipped.quantity, title, variant),
                    }
                })
                .collect()
        };
        let item_count: u64 = items.iter().map(|i| u64::from(i.quantity)).sum();
        let partial = item_count < order_units;
        Self {
            carrier: non_empty(shipment.carrier.as_deref()),
            tracking_number: shipment.tracking_number.as_ref().map(TrackingNumber::as_str),
            carrier_tracking_url: shipment
                .tracking_url
                .as_deref()
                .map(str::trim)
                .filter(|url| url.starts_with("https://") || url.starts_with("http://")),
            items,
            item_count,
            partial,
            partial_summary: partial.then(|| format!("{item_count} of {order_units} {}", plural(order_units, "item"))),
        }
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn item_label(quantity: u32, title: &str, variant: Option<&str>) -> String {
    match variant {
        Some(variant) => format!("{quantity} x {title} ({variant})"),
        None => format!("{quantity} x {title}"),
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 { word.to_owned() } else { format!("{word}s") }
}

/// `#1001` for a bare number; anything else as the platform sent it.
fn display_order_number(number: &str) -> String {
    let number = number.trim();
    if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
        format!("#{number}")
    } else {
        number.to_owned()
    }
}

/// A discount is a reduction whatever sign the platform used: always shown as "-$10.00".
fn deduction(discount: Money) -> Result<String, MoneyError> {
    let minor = discount.minor.checked_abs().ok_or(MoneyError::Overflow)?;
    Ok(Money { minor: -minor, currency: discount.currency }.to_string())
}

fn return_policy(settings: &ShopSettings) -> Option<String> {
    let policy = &settings.return_policy;
    if let Some(summary) = non_empty(policy.summary.as_deref()) {
        return Some(summary.to_owned());
    }
    (policy.window_days > 0).then(|| {
        format!(
            "You can return items within {} {} of delivery.",
            policy.window_days,
            plural(u64::from(policy.window_days), "day")
        )
    })
}

fn is_hex_color(color: &str) -> bool {
    let b = color.as_bytes();
    b.len() == 7 && b[0] == b'#' && b[1..].iter().all(u8::is_ascii_hexdigit)
}

/// White or near-black text, whichever contrasts more with `#rrggbb` (WCAG relative luminance).
fn text_color_on(color: &str) -> &'static str {
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&color[i..i + 2], 16).unwrap_or(0)) / 255.0;
        if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    };
    let luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    // #111827 has a relative luminance of about 0.012.
    let on_white = 1.05 / (luminance + 0.05);
    let on_dark = (luminance + 0.05) / (0.012 + 0.05);
    if on_white >= on_dark { "#ffffff" } else { "#111827" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{OrderId, ShopId};
    use crate::money::Currency;
    use crate::order::{Customer, OrderStatus, PaymentStatus, Platform, ShipmentItem, Totals};
    use chrono::{NaiveDate, TimeZone, Utc};

    const TRACKING_URL: &str = "https://t.ppx.example/track/Xk2b9Qw";
    const RETURNS_URL: &str = "https://t.ppx.example/returns/Pq7Lm3z";

    fn settings() -> ShopSettings {
        ShopSettings::from_json(include_str!("../../events/shop.example.json")).unwrap()
    }

    fn usd(amount: &str) -> Money {
        Money::parse(amount, Currency::parse("USD").unwrap()).unwrap()
    }

    fn item(id: &str, title: &str, variant: Option<&str>, quantity: u32, price: &str) -> LineItem {
        LineItem {
            id: Some(id.to_owned()),
            product_id: None,
            sku: None,
            title: title.to_owned(),
            variant: variant.map(str::to_owned),
            quantity,
            unit_price: usd(price),
            product_type: None,
            tags: Vec::new(),
        }
    }

    fn order() -> Order {
        Order {
            shop: ShopId::parse("demo-shop").unwrap(),
            id: OrderId::parse("820982911946154508").unwrap(),
            number: "#1001".to_owned(),
            platform: Platform::Shopify,
            customer: Customer {
                first_name: Some("Ada".to_owned()),
                last_name: Some("Lovelace".to_owned()),
                email: Some("ada@example.com".to_owned()),
                phone: Some("+15555550100".to_owned()),
                sms_consent: true,
                marketing_consent: false,
                locale: None,
            },
            items: vec![
                item("li-1", "Linen shirt", Some("M / Sand"), 2, "45.00"),
                item("li-2", "Canvas tote", None, 1, "299.95"),
            ],
            currency: Currency::parse("USD").unwrap(),
            totals: Totals {
                subtotal: usd("389.95"),
                shipping: usd("0"),
                tax: usd("25.00"),
                discount: usd("10.00"),
                total: usd("404.95"),
            },
            shipping_address: None,
            shipping_method: Some("Standard".to_owned()),
            // 02:30 UTC on the 24th is still the 23rd in New York.
            placed_at: Utc.with_ymd_and_hms(2026, 11, 24, 2, 30, 0).unwrap(),
            updated_at: Utc.with_ymd_and_hms(2026, 11, 24, 2, 30, 0).unwrap(),
            status: OrderStatus::Open,
            payment: PaymentStatus::Paid,
            test: false,
            promised_delivery: Some(NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()),
        }
    }

    fn shipment(items: Vec<ShipmentItem>) -> Shipment {
        Shipment {
            id: "f-1".to_owned(),
            order_id: OrderId::parse("820982911946154508").unwrap(),
            tracking_number: Some(TrackingNumber::parse("1Z999AA10123456784").unwrap()),
            carrier: Some("UPS".to_owned()),
            tracking_url: Some("https://www.ups.com/track?tracknum=1Z999AA10123456784&loc=en_US".to_owned()),
            items,
            created_at: Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap(),
            updated_at: Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap(),
        }
    }

    fn shipped(line_item_id: &str, title: &str, quantity: u32) -> ShipmentItem {
        ShipmentItem { line_item_id: Some(line_item_id.to_owned()), title: title.to_owned(), quantity }
    }

    fn ctx<'a>(settings: &'a ShopSettings, order: &'a Order, shipment: Option<&'a Shipment>) -> MessageContext<'a> {
        MessageContext {
            settings,
            order,
            shipment,
            tracking: None,
            tracking_url: TRACKING_URL,
            returns_url: RETURNS_URL,
        }
    }

    #[test]
    fn default_templates_compile_and_are_all_overridable() {
        assert!(DEFAULT_ENV.is_ok(), "{:?}", DEFAULT_ENV.as_ref().err());
        assert!(TEMPLATE_NAMES.contains(&"layout.html"));
        for kind in [MessageKind::OrderConfirmation, MessageKind::Shipped] {
            for suffix in ["subject.txt", "html", "txt", "sms.txt"] {
                let name = format!("{}.{suffix}", kind.as_str());
                assert!(TEMPLATE_NAMES.contains(&name.as_str()), "{name}");
            }
        }
    }

    #[test]
    fn confirmation_email_carries_the_whole_order() {
        let (settings, order) = (settings(), order());
        let email = render_email(MessageKind::OrderConfirmation, &ctx(&settings, &order, None)).unwrap();
        assert_eq!(email.subject, "Your Demo Shop order #1001 is confirmed");
        for part in [&email.html, &email.text] {
            for expected in [
                "#1001",
                "Linen shirt",
                "M / Sand",
                "Canvas tote",
                "$90.00",
                "$299.95",
                "$404.95",
                "Estimated delivery",
                "Friday, December 4",
                "November 23, 2026",
                TRACKING_URL,
                RETURNS_URL,
                "Free returns within 30 days of delivery.",
                "https://demo-shop.example/help",
                "support@demo-shop.example",
                "Hi Ada,",
                "-$10.00",
                "$25.00",
            ] {
                assert!(part.contains(expected), "missing {expected:?} in\n{part}");
            }
            // First name only: nothing else personal.
            for personal in ["Lovelace", "ada@example.com", "+15555550100"] {
                assert!(!part.contains(personal), "{personal:?} leaked");
            }
        }
        assert!(email.html.contains("Track your order"));
        assert!(email.html.contains(&format!("href=\"{TRACKING_URL}\"")));
        assert!(email.html.contains(&format!("href=\"{RETURNS_URL}\"")));
        assert!(email.html.contains("Start a return"));
        assert!(email.html.contains("background-color:#0f766e"));
        assert!(email.html.contains("max-width:600px"));
        assert!(email.text.contains(&format!("Track your order: {TRACKING_URL}")));
        assert!(email.text.contains(&format!("Start a return: {RETURNS_URL}")));
        assert!(email.text.contains("2 x Linen shirt (M / Sand)"));
        assert!(!email.text.contains('<'), "{}", email.text);
        assert!(!email.text.contains("\n\n\n"), "stray blank lines:\n{}", email.text);

        // For eyeballing the layout: /tmp/confirmation-example.{html,txt} on Linux.
        let dir = std::env::temp_dir();
        let _ = std::fs::write(dir.join("confirmation-example.html"), &email.html);
        let _ = std::fs::write(dir.join("confirmation-example.txt"), &email.text);
    }

    #[test]
    fn zero_rows_are_hidden_and_defaults_fill_in() {
        let mut settings = settings();
        settings.return_policy.summary = None;
        settings.support_email = None;
        let mut order = order();
        order.totals.discount = usd("0");
        order.totals.tax = usd("0");
        order.customer.first_name = Some("  ".to_owned());
        order.promised_delivery = None;
        let email = render_email(MessageKind::OrderConfirmation, &ctx(&settings, &order, None)).unwrap();
        for part in [&email.html, &email.text] {
            assert!(!part.contains("Discount"), "{part}");
            assert!(!part.contains("Tax"), "{part}");
            assert!(!part.contains("Estimated delivery"), "{part}");
            assert!(!part.contains("or email"), "{part}");
            assert!(part.contains("Hi there,"));
            assert!(part.contains("You can return items within 30 days of delivery."));
        }
        // A missing value prints as nothing, not "none".
        assert!(!email.text.contains("none"), "{}", email.text);
    }

    #[test]
    fn markup_in_titles_is_escaped_in_html_and_verbatim_in_text() {
        let settings = settings();
        let mut order = order();
        order.items[0].title = "<script>alert('x')</script> & \"friends\"".to_owned();
        let email = render_email(MessageKind::OrderConfirmation, &ctx(&settings, &order, None)).unwrap();
        assert!(!email.html.contains("<script>"));
        assert!(email.html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;friends&quot;"));
        assert!(email.text.contains("<script>alert('x')</script> & \"friends\""));
    }

    #[test]
    fn urls_keep_their_slashes_but_ampersands_are_escaped_in_html() {
        let settings = settings();
        let order = order();
        let ship = shipment(vec![shipped("li-1", "Linen shirt", 2), shipped("li-2", "Canvas tote", 1)]);
        let email = render_email(MessageKind::Shipped, &ctx(&settings, &order, Some(&ship))).unwrap();
        assert!(email.html.contains("href=\"https://www.ups.com/track?tracknum=1Z999AA10123456784&amp;loc=en_US\""));
        assert!(email.text.contains("https://www.ups.com/track?tracknum=1Z999AA10123456784&loc=en_US"));
    }

    #[test]
    fn a_shop_override_applies_to_that_shop_only() {
        let order = order();
        let mut custom = settings();
        custom.templates.insert(
            "order_confirmation.subject.txt".to_owned(),
            "Thanks!\n{{ shop.name }} got order {{ order.number }}".to_owned(),
        );
        let email = render_email(MessageKind::OrderConfirmation, &ctx(&custom, &order, None)).unwrap();
        assert_eq!(email.subject, "Thanks! Demo Shop got order #1001");
        // The rest still comes from the defaults.
        assert!(email.html.contains("Track your order"));

        let plain = settings();
        let email = render_email(MessageKind::OrderConfirmation, &ctx(&plain, &order, None)).unwrap();
        assert_eq!(email.subject, "Your Demo Shop order #1001 is confirmed");
    }

    #[test]
    fn a_layout_override_is_used_by_the_default_html() {
        let order = order();
        let mut custom = settings();
        custom.templates.insert(
            "layout.html".to_owned(),
            "<main>{{ shop.name }}{% block content %}{% endblock %}</main>".to_owned(),
        );
        let email = render_email(MessageKind::OrderConfirmation, &ctx(&custom, &order, None)).unwrap();
        assert!(email.html.starts_with("<main>Demo Shop"), "{}", email.html);
        assert!(email.html.contains("Linen shirt"));
    }

    #[test]
    fn broken_overrides_are_errors_not_panics() {
        let order = order();
        let cases = [
            ("order_confirmation.html", "{% for item in order.items %}"),
            ("order_confirmation.subject.txt", "{{ order.numbr }}"),
            ("order_confirmation.txt", "{{ order.items.0.title.nope.deeper }}"),
            ("order_confirmation.subject.txt", "   "),
            (
                "order_confirmation.sms.txt",
                "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            ),
        ];
        for (name, source) in cases {
            let mut custom = settings();
            custom.templates.insert(name.to_owned(), source.to_owned());
            let result = if name.ends_with(".sms.txt") {
                render_sms(MessageKind::OrderConfirmation, &ctx(&custom, &order, None)).map(|_| ())
            } else {
                render_email(MessageKind::OrderConfirmation, &ctx(&custom, &order, None)).map(|_| ())
            };
            let err = result.expect_err(source);
            assert!(matches!(err, TemplateError::Render { .. } | TemplateError::Empty { .. }), "{err}");
            assert!(err.to_string().contains(name), "{err}");
        }
        let broken = BTreeMap::from([("shipped.html".to_owned(), "{% if %}".to_owned())]);
        assert!(matches!(check_overrides(&broken), Err(TemplateError::Render { .. })));
        let unknown = BTreeMap::from([("order_confirmaton.html".to_owned(), "hi".to_owned())]);
        assert!(matches!(check_overrides(&unknown), Err(TemplateError::UnknownTemplate { .. })));
        assert!(check_overrides(&BTreeMap::new()).is_ok());
    }

    #[test]
    fn sms_is_one_short_line_with_the_link() {
        let (settings, order) = (settings(), order());
        let sms = render_sms(MessageKind::OrderConfirmation, &ctx(&settings, &order, None)).unwrap();
        assert_eq!(sms, format!("Demo Shop: order #1001 is confirmed. Track it: {TRACKING_URL}"));
        assert!(sms.chars().count() < 160, "{sms}");
        assert!(!sms.contains("Ada"));

        let ship = shipment(vec![shipped("li-1", "Linen shirt", 2)]);
        let sms = render_sms(MessageKind::Shipped, &ctx(&settings, &order, Some(&ship))).unwrap();
        assert!(sms.chars().count() < 160, "{sms}");
        assert!(sms.contains(TRACKING_URL) && sms.contains("2 of 3 items"), "{sms}");
    }

    #[test]
    fn sms_with_a_real_sealed_link_stays_under_the_hard_limit() {
        use crate::link::{LinkClaims, LinkKey, LinkPurpose};
        let (settings, order) = (settings(), order());
        let claims = LinkClaims {
            shop: order.shop.clone(),
            order: order.id.clone(),
            purpose: LinkPurpose::Track,
            expires_at: 1_900_000_000,
        };
        let url = LinkKey::from_secret("test").url("https://track.ppx.example", &claims);
        let context = MessageContext { tracking_url: &url, ..ctx(&settings, &order, None) };
        let sms = render_sms(MessageKind::OrderConfirmation, &context).unwrap();
        assert!(sms.chars().count() <= SMS_MAX_CHARS && sms.ends_with(&url), "{sms}");

        let mut long = settings.clone();
        long.templates.insert("order_confirmation.sms.txt".to_owned(), "{{ tracking_url }} ".repeat(3));
        let context = MessageContext { tracking_url: &url, ..ctx(&long, &order, None) };
        assert!(matches!(render_sms(MessageKind::OrderConfirmation, &context), Err(TemplateError::SmsTooLong { .. })));
    }

    #[test]
    fn shipped_email_names_carrier_tracking_and_the_shipment_items() {
        let (settings, order) = (settings(), order());
        let ship = shipment(vec![shipped("li-2", "Canvas tote", 1), shipped("li-1", "Linen shirt", 2)]);
        let email = render_email(MessageKind::Shipped, &ctx(&settings, &order, Some(&ship))).unwrap();
        assert_eq!(email.subject, "Your Demo Shop order #1001 has shipped");
        for part in [&email.html, &email.text] {
            for expected in ["UPS", "1Z999AA10123456784", "2 x Linen shirt (M / Sand)", "1 x Canvas tote", TRACKING_URL]
            {
                assert!(part.contains(expected), "missing {expected:?} in\n{part}");
            }
            assert!(!part.contains("Part of your order"), "{part}");
            assert!(!part.contains(" of 3 items"), "{part}");
        }
    }

    #[test]
    fn partial_shipment_says_how_much_is_on_its_way() {
        let settings = settings();
        let mut order = order();
        order.items[0].quantity = 1;
        let ship = shipment(vec![shipped("li-2", "Canvas tote", 1)]);
        let email = render_email(MessageKind::Shipped, &ctx(&settings, &order, Some(&ship))).unwrap();
        for part in [&email.html, &email.text] {
            assert!(part.contains("Part of your order"), "{part}");
            assert!(part.contains("1 of 2 items"), "{part}");
            assert!(part.contains("1 x Canvas tote"), "{part}");
            assert!(!part.contains("Linen shirt"), "{part}");
        }
    }

    #[test]
    fn shipped_needs_a_shipment_and_ignores_unsafe_carrier_links() {
        let (settings, order) = (settings(), order());
        assert!(matches!(
            render_email(MessageKind::Shipped, &ctx(&settings, &order, None)),
            Err(TemplateError::MissingShipment(_))
        ));
        let mut ship = shipment(Vec::new());
        ship.tracking_url = Some("javascript:alert(1)".to_owned());
        let email = render_email(MessageKind::Shipped, &ctx(&settings, &order, Some(&ship))).unwrap();
        assert!(!email.html.contains("javascript:"));
        // No item list from the platform: the whole order shipped.
        assert!(email.text.contains("2 x Linen shirt (M / Sand)") && email.text.contains("1 x Canvas tote"));
        assert!(!email.text.contains("Part of your order"));
    }

    #[test]
    fn brand_text_colour_contrasts() {
        assert_eq!(text_color_on("#0f766e"), "#ffffff");
        assert_eq!(text_color_on("#1a1a2e"), "#ffffff");
        assert_eq!(text_color_on("#fde047"), "#111827");
        assert_eq!(text_color_on("#ffffff"), "#111827");
    }

    #[test]
    fn bare_order_numbers_get_a_hash() {
        assert_eq!(display_order_number("1001"), "#1001");
        assert_eq!(display_order_number("#1001"), "#1001");
        assert_eq!(display_order_number("DS-1001"), "DS-1001");
    }
}
