//! Customer messages rendered from templates: the email (subject, HTML, text) and the SMS of each
//! [`MessageKind`].
//!
//! The default templates live in `shared/templates/` and are embedded in the binary. A shop can
//! override any of them through [`ShopSettings::templates`], keyed by the same file names
//! (`order_confirmation.html`, `layout.html`, ...). Templates receive a view model whose values
//! are already formatted for customers (money, dates, labels); they never see the raw order.
//! Calendar dates (estimates, promises) are shown as they are; instants (carrier checkpoints,
//! the delivery scan) in the shop's time zone.
//!
//! HTML templates (`.html`) are auto-escaped, text templates (`.txt`) are not. Nothing here logs:
//! the context holds personal data.

use crate::ids::TrackingNumber;
use crate::messages::MessageKind;
use crate::money::{Money, MoneyError};
use crate::order::{LineItem, Order, Shipment};
use crate::settings::ShopSettings;
use crate::tracking::{ShipmentTracking, TrackingEvent, TrackingStatus};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
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

/// Embeds the shared templates, then the four templates of each kind: `{kind}.subject.txt`,
/// `{kind}.html`, `{kind}.txt` and `{kind}.sms.txt`.
macro_rules! embedded_templates {
    (shared: [$($file:literal),* $(,)?], kinds: [$($kind:literal),* $(,)?]) => {
        &[
            $(($file, include_str!(concat!("../templates/", $file))),)*
            $(
                (concat!($kind, ".subject.txt"), include_str!(concat!("../templates/", $kind, ".subject.txt"))),
                (concat!($kind, ".html"), include_str!(concat!("../templates/", $kind, ".html"))),
                (concat!($kind, ".txt"), include_str!(concat!("../templates/", $kind, ".txt"))),
                (concat!($kind, ".sms.txt"), include_str!(concat!("../templates/", $kind, ".sms.txt"))),
            )*
        ]
    };
}

/// `layout.html` wraps every HTML part; `shipment_details.{html,txt}` (carrier, tracking number,
/// "Track your order" and the shipment's items) is included by the shipment kinds after `shipped`.
const DEFAULT_TEMPLATES: &[(&str, &str)] = embedded_templates!(
    shared: ["layout.html", "shipment_details.html", "shipment_details.txt"],
    kinds: [
        "order_confirmation",
        "shipped",
        "out_for_delivery",
        "delivery_attempted",
        "available_for_pickup",
        "delivered",
        "exception",
        "returned_to_sender",
        "delayed",
    ]
);

/// The names a shop may override.
pub const TEMPLATE_NAMES: [&str; DEFAULT_TEMPLATES.len()] = {
    let mut names = [""; DEFAULT_TEMPLATES.len()];
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
    for &(name, source) in DEFAULT_TEMPLATES {
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
/// a message about a shipment (any kind but the order confirmation) without `ctx.shipment`, or
/// an amount that overflows.
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
    /// What the carrier says; every field is empty when there is no tracking state.
    tracking: TrackingView,
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

#[derive(Serialize, Default)]
struct TrackingView {
    /// The shipment's tracking status (`out_for_delivery`, `delivered`, ...), when known.
    status: Option<&'static str>,
    /// The carrier's current estimate: "Tuesday, December 8".
    estimated_delivery: Option<String>,
    /// The date promised when the order was placed ("Friday, December 4"), when the carrier's
    /// estimate differs from it or there is none.
    promised_delivery: Option<String>,
    /// When it was delivered, in the shop's time zone: "Friday, November 27 at 2:30 PM EST".
    delivered_at: Option<String>,
    /// The checkpoint the message is about: the newest one of the message's status (the failed
    /// attempt, the pickup notice, the delivery scan, ...); for `delayed`, the latest update.
    checkpoint: Option<CheckpointView>,
}

#[derive(Serialize)]
struct CheckpointView {
    /// The carrier's words on one line: "No one available to sign".
    message: Option<String>,
    /// "Springfield, IL, US" as far as the carrier says.
    location: Option<String>,
    /// In the shop's time zone: "Friday, November 27 at 2:30 PM EST".
    at: String,
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
        if ctx.shipment.is_none() && is_about_a_shipment(kind) {
            return Err(TemplateError::MissingShipment(kind.as_str()));
        }
        let order_view = OrderView::build(order, settings)?;
        let shipment = ctx.shipment.map(|s| ShipmentView::build(s, ctx.tracking, order, order_view.item_count));
        let tracking = ctx.tracking.map(|t| TrackingView::build(kind, t, order, settings.time_zone)).unwrap_or_else(
            // Without a tracking state the order's promise is all there is to say about dates.
            || TrackingView { promised_delivery: order.promised_delivery.map(long_date), ..TrackingView::default() },
        );
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
            tracking,
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
            estimated_delivery: order.promised_delivery.map(long_date),
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
    /// Carrier name and link come from the platform's fulfillment, else from the carrier's
    /// tracking state.
    fn build(
        shipment: &'a Shipment,
        tracking: Option<&'a ShipmentTracking>,
        order: &'a Order,
        order_units: u64,
    ) -> Self {
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
            carrier: non_empty(shipment.carrier.as_deref())
                .or_else(|| non_empty(tracking.and_then(|t| t.carrier.as_deref()))),
            tracking_number: shipment.tracking_number.as_ref().map(TrackingNumber::as_str),
            carrier_tracking_url: web_url(shipment.tracking_url.as_deref())
                .or_else(|| web_url(tracking.and_then(|t| t.public_url.as_deref()))),
            items,
            item_count,
            partial,
            partial_summary: partial.then(|| format!("{item_count} of {order_units} {}", plural(order_units, "item"))),
        }
    }
}

impl TrackingView {
    fn build(kind: MessageKind, tracking: &ShipmentTracking, order: &Order, time_zone: Tz) -> Self {
        let event = checkpoint_for(kind, tracking);
        // `delivered_at` is cleared once the state moves past delivered (a later return to
        // sender); the delivered message still says when the delivery scan happened.
        let delivered_at = tracking.delivered_at.or_else(|| {
            event
                .filter(|e| kind == MessageKind::Delivered && e.status == TrackingStatus::Delivered)
                .map(|e| e.occurred_at)
        });
        Self {
            status: tracking.status.map(TrackingStatus::as_str),
            estimated_delivery: tracking.estimated_delivery.map(long_date),
            promised_delivery: order
                .promised_delivery
                .filter(|promised| Some(*promised) != tracking.estimated_delivery)
                .map(long_date),
            delivered_at: delivered_at.map(|at| local_date_time(at, time_zone)),
            checkpoint: event.map(|e| CheckpointView::build(e, time_zone)),
        }
    }
}

impl CheckpointView {
    fn build(event: &TrackingEvent, time_zone: Tz) -> Self {
        Self {
            message: event.message.as_deref().map(one_line).filter(|s| !s.is_empty()),
            location: event.location.as_deref().map(one_line).filter(|s| !s.is_empty()),
            at: local_date_time(event.occurred_at, time_zone),
        }
    }
}

/// Whether a message of `kind` is about one shipment (and cannot be rendered without it).
fn is_about_a_shipment(kind: MessageKind) -> bool {
    match kind {
        MessageKind::OrderConfirmation => false,
        MessageKind::Shipped
        | MessageKind::OutForDelivery
        | MessageKind::DeliveryAttempted
        | MessageKind::AvailableForPickup
        | MessageKind::Delivered
        | MessageKind::Exception
        | MessageKind::ReturnedToSender
        | MessageKind::Delayed => true,
    }
}

/// The checkpoint a message of `kind` is about: the newest one with the kind's status, or for
/// messages not tied to one status, the newest one that says something.
fn checkpoint_for(kind: MessageKind, tracking: &ShipmentTracking) -> Option<&TrackingEvent> {
    let status = match kind {
        MessageKind::OrderConfirmation => return None,
        MessageKind::Shipped | MessageKind::Delayed => {
            return tracking.timeline().find(|e| e.status != TrackingStatus::Unknown);
        }
        MessageKind::DeliveryAttempted => {
            // As in the tracking state: a failure right after going out for delivery is an attempt.
            let mut previous = None;
            let mut attempt = None;
            for event in tracking.checkpoints.iter().filter(|e| e.status != TrackingStatus::Unknown) {
                let failed_on_the_way =
                    event.status == TrackingStatus::Exception && previous == Some(TrackingStatus::OutForDelivery);
                if event.status == TrackingStatus::DeliveryAttempted || failed_on_the_way {
                    attempt = Some(event);
                }
                previous = Some(event.status);
            }
            return attempt;
        }
        MessageKind::OutForDelivery => TrackingStatus::OutForDelivery,
        MessageKind::AvailableForPickup => TrackingStatus::AvailableForPickup,
        MessageKind::Delivered => TrackingStatus::Delivered,
        MessageKind::Exception => TrackingStatus::Exception,
        MessageKind::ReturnedToSender => TrackingStatus::ReturnedToSender,
    };
    tracking.timeline().find(|e| e.status == status)
}

/// A calendar date as customers read it: "Tuesday, December 8". Never converted: the dates
/// formatted here are already local to where the parcel goes.
fn long_date(date: NaiveDate) -> String {
    date.format("%A, %B %-d").to_string()
}

/// An instant in the shop's time zone: "Friday, November 27 at 2:30 PM EST". Zones without an
/// abbreviation (chrono-tz prints an offset such as "-03") get none.
fn local_date_time(at: DateTime<Utc>, time_zone: Tz) -> String {
    let local = at.with_timezone(&time_zone);
    let mut out = local.format("%A, %B %-d at %-I:%M %p").to_string();
    let zone = local.format("%Z").to_string();
    if zone.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.push(' ');
        out.push_str(&zone);
    }
    out
}

/// An http(s) link, or None: nothing else goes into an `href`.
fn web_url(url: Option<&str>) -> Option<&str> {
    url.map(str::trim).filter(|url| url.starts_with("https://") || url.starts_with("http://"))
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
    use crate::tracking::{ShipmentTracking, TrackingEvent, TrackingStatus};
    use chrono::TimeZone;

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
        for shared in ["layout.html", "shipment_details.html", "shipment_details.txt"] {
            assert!(TEMPLATE_NAMES.contains(&shared), "{shared}");
        }
        for kind in MessageKind::ALL {
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

    // --- Tracking messages ---------------------------------------------------------------------

    const SHIPPING_KINDS: [MessageKind; 7] = [
        MessageKind::OutForDelivery,
        MessageKind::DeliveryAttempted,
        MessageKind::AvailableForPickup,
        MessageKind::Delivered,
        MessageKind::Exception,
        MessageKind::ReturnedToSender,
        MessageKind::Delayed,
    ];

    fn checkpoint(status: TrackingStatus, at: &str, message: &str, location: &str) -> TrackingEvent {
        TrackingEvent {
            status,
            occurred_at: at.parse().unwrap(),
            provider_status: status.as_str().to_owned(),
            message: Some(message.to_owned()).filter(|m| !m.is_empty()),
            location: Some(location.to_owned()).filter(|l| !l.is_empty()),
        }
    }

    /// Label and first scans, then `last`, through the real merge.
    fn journey(last: Vec<TrackingEvent>, estimate: Option<NaiveDate>) -> ShipmentTracking {
        use crate::tracking::CarrierUpdate;
        let mut events = vec![
            checkpoint(TrackingStatus::LabelCreated, "2026-11-25T15:00:00Z", "Shipper created a label", ""),
            checkpoint(TrackingStatus::InTransit, "2026-11-26T03:12:00Z", "Departed from facility", "Columbus, OH, US"),
        ];
        events.extend(last);
        ShipmentTracking::default().merge(&CarrierUpdate {
            tracking_number: TrackingNumber::parse("1Z999AA10123456784").unwrap(),
            carrier: Some("UPS".to_owned()),
            events,
            estimated_delivery: estimate,
            public_url: Some("https://www.ups.com/track?tracknum=1Z999AA10123456784".to_owned()),
            provider_reference: None,
        })
    }

    fn out_for_delivery_scan() -> TrackingEvent {
        checkpoint(TrackingStatus::OutForDelivery, "2026-11-27T12:05:00Z", "Out for delivery", "Brooklyn, NY, US")
    }

    /// A plausible tracking state for each kind.
    fn tracking_for(kind: MessageKind) -> ShipmentTracking {
        use TrackingStatus as S;
        match kind {
            MessageKind::OutForDelivery => journey(vec![out_for_delivery_scan()], None),
            MessageKind::DeliveryAttempted => journey(
                vec![
                    out_for_delivery_scan(),
                    checkpoint(
                        S::DeliveryAttempted,
                        "2026-11-27T19:30:00Z",
                        "No one available to sign. A notice was left.",
                        "Brooklyn, NY, US",
                    ),
                ],
                None,
            ),
            MessageKind::AvailableForPickup => journey(
                vec![
                    out_for_delivery_scan(),
                    checkpoint(S::DeliveryAttempted, "2026-11-27T19:30:00Z", "No one available to sign", ""),
                    checkpoint(
                        S::AvailableForPickup,
                        "2026-11-28T14:00:00Z",
                        "Held at The UPS Store #4521, 200 Court St",
                        "Brooklyn, NY, US",
                    ),
                ],
                None,
            ),
            MessageKind::Delivered => journey(
                vec![
                    out_for_delivery_scan(),
                    checkpoint(S::Delivered, "2026-11-27T19:30:00Z", "Delivered, front door", "Brooklyn, NY, US"),
                ],
                None,
            ),
            MessageKind::Exception => journey(
                vec![checkpoint(
                    S::Exception,
                    "2026-11-27T09:15:00Z",
                    "The address is incomplete; the carrier is contacting the sender",
                    "Memphis, TN, US",
                )],
                None,
            ),
            MessageKind::ReturnedToSender => journey(
                vec![
                    checkpoint(S::Exception, "2026-11-27T09:15:00Z", "The address is incomplete", "Memphis, TN, US"),
                    checkpoint(
                        S::ReturnedToSender,
                        "2026-12-02T16:40:00Z",
                        "Returned to shipper: address could not be corrected",
                        "Memphis, TN, US",
                    ),
                ],
                None,
            ),
            MessageKind::Delayed => journey(
                vec![checkpoint(S::InTransit, "2026-11-30T14:12:00Z", "Delayed by severe weather", "Memphis, TN, US")],
                NaiveDate::from_ymd_opt(2026, 12, 8),
            ),
            MessageKind::OrderConfirmation | MessageKind::Shipped => ShipmentTracking::default(),
        }
    }

    fn tracked<'a>(
        settings: &'a ShopSettings,
        order: &'a Order,
        shipment: &'a Shipment,
        tracking: &'a ShipmentTracking,
    ) -> MessageContext<'a> {
        MessageContext { tracking: Some(tracking), ..ctx(settings, order, Some(shipment)) }
    }

    fn whole_order() -> Shipment {
        shipment(vec![shipped("li-1", "Linen shirt", 2), shipped("li-2", "Canvas tote", 1)])
    }

    fn two_of_three() -> Shipment {
        shipment(vec![shipped("li-1", "Linen shirt", 2)])
    }

    /// Checks shared by every tracking email.
    fn assert_well_formed(kind: MessageKind, email: &RenderedEmail) {
        for part in [&email.html, &email.text] {
            for expected in
                ["Hi Ada,", "#1001", "UPS", "1Z999AA10123456784", "2 x Linen shirt (M / Sand)", TRACKING_URL]
            {
                assert!(part.contains(expected), "{kind:?}: missing {expected:?} in\n{part}");
            }
            for personal in ["Lovelace", "ada@example.com", "+15555550100"] {
                assert!(!part.contains(personal), "{kind:?}: {personal:?} leaked");
            }
        }
        assert!(email.html.contains("Track your order"), "{kind:?}");
        assert!(email.html.contains(&format!("href=\"{TRACKING_URL}\"")), "{kind:?}");
        assert!(email.html.contains("href=\"https://www.ups.com/track?tracknum=1Z999AA10123456784&amp;loc=en_US\""));
        assert!(email.html.contains("background-color:#0f766e") && email.html.contains("max-width:600px"));
        assert!(email.text.contains(&format!("Track your order: {TRACKING_URL}")), "{kind:?}");
        assert!(
            email.text.contains("Carrier tracking: https://www.ups.com/track?tracknum=1Z999AA10123456784&loc=en_US")
        );
        assert!(!email.text.contains('<'), "{kind:?}:\n{}", email.text);
        assert!(!email.text.contains("\n\n\n"), "{kind:?}: stray blank lines:\n{}", email.text);
        assert!(!email.text.contains("none") && !email.html.contains("none<"), "{kind:?}:\n{}", email.text);
    }

    #[test]
    fn every_tracking_message_has_its_subject_content_and_a_short_sms() {
        let (settings, order, ship) = (settings(), order(), whole_order());
        let cases: [(MessageKind, &str, &[&str], &str); 7] = [
            (
                MessageKind::OutForDelivery,
                "Your Demo Shop order #1001 is out for delivery",
                &["is out for delivery and arrives today"],
                "Demo Shop: order #1001 is out for delivery and arrives today.",
            ),
            (
                MessageKind::DeliveryAttempted,
                "Delivery attempt for your Demo Shop order #1001",
                &[
                    "UPS tried to deliver your order",
                    "Friday, November 27 at 2:30 PM EST",
                    "No one available to sign. A notice was left.",
                    "try again the next business day",
                    "To reschedule",
                ],
                "Demo Shop: order #1001 couldn't be delivered. Usually retried next business day:",
            ),
            (
                MessageKind::AvailableForPickup,
                "Your Demo Shop order #1001 is ready for pickup",
                &[
                    "waiting for you to pick it up",
                    "Brooklyn, NY, US",
                    "Held at The UPS Store #4521, 200 Court St",
                    "Saturday, November 28 at 9:00 AM EST",
                    "held for about a week",
                    "photo ID",
                ],
                "Demo Shop: order #1001 is ready for pickup. It's held for about a week.",
            ),
            (
                MessageKind::Delivered,
                "Your Demo Shop order #1001 was delivered",
                &[
                    "was delivered",
                    "Friday, November 27 at 2:30 PM EST",
                    "Delivered, front door",
                    "contact our support team",
                    "https://demo-shop.example/help",
                    RETURNS_URL,
                    "Free returns within 30 days of delivery.",
                ],
                "Demo Shop: order #1001 was delivered.",
            ),
            (
                MessageKind::Exception,
                "A problem with your Demo Shop order #1001",
                &[
                    "UPS reported a problem delivering your order",
                    "The address is incomplete; the carrier is contacting the sender",
                    "Memphis, TN, US",
                    "Friday, November 27 at 4:15 AM EST",
                    "Don't worry",
                    "We're on it",
                    "Contact our support team",
                    "https://demo-shop.example/help",
                ],
                "Demo Shop: there's a delivery problem with order #1001. We're on it.",
            ),
            (
                MessageKind::ReturnedToSender,
                "Your Demo Shop order #1001 is being returned to us",
                &[
                    "couldn't deliver your order",
                    "returning it to us",
                    "Returned to shipper: address could not be corrected",
                    "send it to you again or refund you",
                    "contact our support team",
                    "https://demo-shop.example/help",
                ],
                "Demo Shop: order #1001 is being returned to us. We'll resend or refund it.",
            ),
            (
                MessageKind::Delayed,
                "Your Demo Shop order #1001 will arrive later than planned",
                &[
                    "We're sorry",
                    "Tuesday, December 8",
                    "(we first said Friday, December 4)",
                    "Delayed by severe weather",
                    "Monday, November 30 at 9:12 AM EST",
                    "We apologize for the wait",
                ],
                "Demo Shop: sorry, order #1001 is delayed, now expected Tuesday, December 8.",
            ),
        ];
        for (kind, subject, phrases, sms_start) in cases {
            let tracking = tracking_for(kind);
            let context = tracked(&settings, &order, &ship, &tracking);
            let email = render_email(kind, &context).unwrap();
            assert_eq!(email.subject, subject);
            assert_well_formed(kind, &email);
            for part in [&email.html, &email.text] {
                for expected in phrases {
                    assert!(part.contains(expected), "{kind:?}: missing {expected:?} in\n{part}");
                }
                assert!(!part.contains(" of 3 items"), "{kind:?}: {part}");
            }
            let sms = render_sms(kind, &context).unwrap();
            assert!(sms.starts_with(sms_start), "{kind:?}: {sms}");
            assert!(sms.ends_with(TRACKING_URL), "{kind:?}: {sms}");
            assert!(sms.chars().count() < 160, "{kind:?}: {} chars: {sms}", sms.chars().count());
            assert!(!sms.contains("Ada") && !sms.contains('\n'), "{kind:?}: {sms}");
            // GSM-7 only, so one segment holds 160 characters.
            assert!(sms.chars().all(|c| c.is_ascii() && !c.is_ascii_control()), "{kind:?}: {sms}");

            // For eyeballing: /tmp/ppx-{kind}.{html,txt} on Linux.
            let dir = std::env::temp_dir();
            let _ = std::fs::write(dir.join(format!("ppx-{}.html", kind.as_str())), &email.html);
            let _ = std::fs::write(dir.join(format!("ppx-{}.txt", kind.as_str())), &email.text);
        }
    }

    #[test]
    fn delayed_text_reads_naturally() {
        let (settings, order, ship) = (settings(), order(), whole_order());
        let tracking = tracking_for(MessageKind::Delayed);
        let email = render_email(MessageKind::Delayed, &tracked(&settings, &order, &ship, &tracking)).unwrap();
        assert!(
            email.text.contains("It's now expected Tuesday, December 8 (we first said Friday, December 4)."),
            "{}",
            email.text
        );
        assert!(
            email
                .html
                .contains("It's now expected <strong>Tuesday, December 8</strong> (we first said Friday, December 4).")
        );
        assert!(email.text.contains(
            "Latest update from UPS: \"Delayed by severe weather\" (Memphis, TN, US), Monday, November 30 at 9:12 AM EST."
        ));
    }

    #[test]
    fn delivered_says_when_and_where_to_turn_if_it_is_not_there() {
        let (settings, order, ship) = (settings(), order(), whole_order());
        let tracking = tracking_for(MessageKind::Delivered);
        assert_eq!(tracking.delivered_at, Some("2026-11-27T19:30:00Z".parse().unwrap()));
        let email = render_email(MessageKind::Delivered, &tracked(&settings, &order, &ship, &tracking)).unwrap();
        assert!(email.text.contains("Delivered: Friday, November 27 at 2:30 PM EST"), "{}", email.text);
        assert!(email.html.contains("Delivered: <strong>Friday, November 27 at 2:30 PM EST</strong>"));
        assert!(email.html.contains("Not received it?") && email.text.contains("NOT RECEIVED IT?"));
        assert!(email.html.contains("href=\"https://demo-shop.example/help\" target=\"_blank\""), "{}", email.html);
        assert!(email.text.contains("contact our support team and we'll sort it out: https://demo-shop.example/help"));
        assert!(email.html.contains(&format!("href=\"{RETURNS_URL}\"")) && email.html.contains("Start a return"));
        assert!(email.text.contains(&format!("Start a return: {RETURNS_URL}")));
    }

    #[test]
    fn delayed_without_a_new_date_says_what_was_promised() {
        let (settings, order, ship) = (settings(), order(), whole_order());
        let tracking = journey(Vec::new(), None);
        let email = render_email(MessageKind::Delayed, &tracked(&settings, &order, &ship, &tracking)).unwrap();
        for part in [&email.html, &email.text] {
            assert!(part.contains("It won't arrive by Friday, December 4 as we first said."), "{part}");
            assert!(!part.contains("now expected"), "{part}");
        }
        // The same estimate as promised is no news: no "we first said" with the same date.
        let tracking = journey(Vec::new(), NaiveDate::from_ymd_opt(2026, 12, 4));
        let email = render_email(MessageKind::Delayed, &tracked(&settings, &order, &ship, &tracking)).unwrap();
        assert!(email.text.contains("It's now expected Friday, December 4."), "{}", email.text);
        assert!(!email.text.contains("we first said"), "{}", email.text);
    }

    #[test]
    fn times_are_shown_in_the_shop_time_zone_and_dates_are_never_converted() {
        let mut settings = settings();
        let order = order();
        let ship = whole_order();
        let mut tracking = tracking_for(MessageKind::Delivered);
        let view = TrackingView::build(MessageKind::Delivered, &tracking, &order, settings.time_zone);
        assert_eq!(view.delivered_at.as_deref(), Some("Friday, November 27 at 2:30 PM EST"));
        // Summer time, and a zone abbreviation chrono-tz knows.
        tracking.delivered_at = Some("2026-07-15T16:05:00Z".parse().unwrap());
        let view = TrackingView::build(MessageKind::Delivered, &tracking, &order, settings.time_zone);
        assert_eq!(view.delivered_at.as_deref(), Some("Wednesday, July 15 at 12:05 PM EDT"));
        // A zone without an abbreviation shows the local time alone.
        settings.time_zone = chrono_tz::America::Sao_Paulo;
        let view = TrackingView::build(MessageKind::Delivered, &tracking, &order, settings.time_zone);
        assert_eq!(view.delivered_at.as_deref(), Some("Wednesday, July 15 at 1:05 PM"));

        // Calendar dates read the same whatever the shop's zone.
        settings.time_zone = chrono_tz::Pacific::Kiritimati;
        let tracking = tracking_for(MessageKind::Delayed);
        let email = render_email(MessageKind::Delayed, &tracked(&settings, &order, &ship, &tracking)).unwrap();
        assert!(email.text.contains("Tuesday, December 8 (we first said Friday, December 4)"), "{}", email.text);
    }

    #[test]
    fn partial_shipments_say_which_items_the_message_is_about() {
        let settings = settings();
        let order = order();
        let ship = two_of_three();
        for kind in SHIPPING_KINDS {
            let tracking = tracking_for(kind);
            let context = tracked(&settings, &order, &ship, &tracking);
            let email = render_email(kind, &context).unwrap();
            for part in [&email.html, &email.text] {
                assert!(part.contains("2 of 3 items"), "{kind:?}: {part}");
                assert!(part.contains("2 x Linen shirt (M / Sand)"), "{kind:?}: {part}");
                assert!(!part.contains("Canvas tote"), "{kind:?}: {part}");
            }
            let sms = render_sms(kind, &context).unwrap();
            assert!(sms.contains("2 of 3 items") && sms.ends_with(TRACKING_URL), "{kind:?}: {sms}");
            assert!(sms.chars().count() < 160, "{kind:?}: {} chars: {sms}", sms.chars().count());
        }
        let tracking = tracking_for(MessageKind::Delivered);
        let context = tracked(&settings, &order, &ship, &tracking);
        let email = render_email(MessageKind::Delivered, &context).unwrap();
        assert!(email.text.contains("Part of your order #1001 has arrived: 2 of 3 items delivered."), "{}", email.text);
        assert_eq!(
            render_sms(MessageKind::Delivered, &context).unwrap(),
            format!("Demo Shop: order #1001, 2 of 3 items delivered. Details: {TRACKING_URL}")
        );
    }

    #[test]
    fn carrier_messages_are_escaped_in_html_and_verbatim_in_text() {
        let (settings, order, ship) = (settings(), order(), whole_order());
        let message = "Address <b>incomplete</b> & \"unit\" missing";
        for (kind, status) in [
            (MessageKind::DeliveryAttempted, TrackingStatus::DeliveryAttempted),
            (MessageKind::AvailableForPickup, TrackingStatus::AvailableForPickup),
            (MessageKind::Delivered, TrackingStatus::Delivered),
            (MessageKind::Exception, TrackingStatus::Exception),
            (MessageKind::ReturnedToSender, TrackingStatus::ReturnedToSender),
            (MessageKind::Delayed, TrackingStatus::InTransit),
        ] {
            let tracking = journey(vec![checkpoint(status, "2026-11-28T10:00:00Z", message, "<i>Memphis</i>")], None);
            let context = tracked(&settings, &order, &ship, &tracking);
            let email = render_email(kind, &context).unwrap();
            assert!(!email.html.contains("<b>") && !email.html.contains("<i>"), "{kind:?}: {}", email.html);
            assert!(
                email.html.contains("Address &lt;b&gt;incomplete&lt;/b&gt; &amp; &quot;unit&quot; missing"),
                "{kind:?}: {}",
                email.html
            );
            assert!(email.text.contains(message), "{kind:?}: {}", email.text);
            // The SMS leaves carrier words out.
            assert!(!render_sms(kind, &context).unwrap().contains("incomplete"), "{kind:?}");
        }
    }

    #[test]
    fn a_failure_right_after_going_out_for_delivery_is_the_attempt_shown() {
        let (settings, order, ship) = (settings(), order(), whole_order());
        let tracking = journey(
            vec![
                checkpoint(TrackingStatus::Exception, "2026-11-26T20:00:00Z", "Weather delay", "Memphis, TN, US"),
                out_for_delivery_scan(),
                checkpoint(TrackingStatus::Exception, "2026-11-27T21:10:00Z", "Business closed", "Brooklyn, NY, US"),
            ],
            None,
        );
        assert_eq!(tracking.status, Some(TrackingStatus::DeliveryAttempted));
        let email =
            render_email(MessageKind::DeliveryAttempted, &tracked(&settings, &order, &ship, &tracking)).unwrap();
        assert!(email.text.contains("UPS says: \"Business closed\""), "{}", email.text);
        assert!(email.text.contains("Friday, November 27 at 4:10 PM EST"), "{}", email.text);
        assert!(!email.text.contains("Weather delay"), "{}", email.text);
    }

    #[test]
    fn tracking_messages_render_without_a_tracking_state_or_carrier_details() {
        let (settings, order) = (settings(), order());
        let mut bare = whole_order();
        bare.carrier = None;
        bare.tracking_number = None;
        bare.tracking_url = None;
        for kind in SHIPPING_KINDS {
            for ship in [&whole_order(), &bare] {
                let context = ctx(&settings, &order, Some(ship));
                let email = render_email(kind, &context).unwrap();
                assert!(email.html.contains(&format!("href=\"{TRACKING_URL}\"")), "{kind:?}");
                assert!(email.text.contains(&format!("Track your order: {TRACKING_URL}")), "{kind:?}");
                assert!(!email.text.contains("none") && !email.text.contains(" on ,"), "{kind:?}:\n{}", email.text);
                assert!(!email.text.contains("\n\n\n"), "{kind:?}: stray blank lines:\n{}", email.text);
                assert!(!email.html.contains("Carrier:") || ship.carrier.is_some(), "{kind:?}");
                let sms = render_sms(kind, &context).unwrap();
                assert!(sms.ends_with(TRACKING_URL) && sms.chars().count() < 160, "{kind:?}: {sms}");
            }
            // Where a sentence names the carrier, it still reads without one.
            if matches!(
                kind,
                MessageKind::OutForDelivery
                    | MessageKind::DeliveryAttempted
                    | MessageKind::Exception
                    | MessageKind::ReturnedToSender
            ) {
                let email = render_email(kind, &ctx(&settings, &order, Some(&bare))).unwrap();
                assert!(email.text.contains("The carrier") || email.text.contains("the carrier"), "{kind:?}");
            }
        }
    }

    #[test]
    fn carrier_name_and_link_fall_back_to_the_tracking_state() {
        let (settings, order) = (settings(), order());
        let mut ship = whole_order();
        ship.carrier = Some(" ".to_owned());
        ship.tracking_url = Some("javascript:alert(1)".to_owned());
        let tracking = tracking_for(MessageKind::OutForDelivery);
        let email = render_email(MessageKind::OutForDelivery, &tracked(&settings, &order, &ship, &tracking)).unwrap();
        assert!(email.html.contains("Carrier: <strong>UPS</strong>"), "{}", email.html);
        assert!(email.html.contains("href=\"https://www.ups.com/track?tracknum=1Z999AA10123456784\""));
        assert!(!email.html.contains("javascript:"));
    }

    #[test]
    fn tracking_messages_need_their_shipment() {
        let (settings, order) = (settings(), order());
        let tracking = tracking_for(MessageKind::Delivered);
        for kind in SHIPPING_KINDS {
            let context = MessageContext { tracking: Some(&tracking), ..ctx(&settings, &order, None) };
            assert!(matches!(render_email(kind, &context), Err(TemplateError::MissingShipment(_))), "{kind:?}");
            assert!(matches!(render_sms(kind, &context), Err(TemplateError::MissingShipment(_))), "{kind:?}");
        }
    }

    #[test]
    fn tracking_sms_with_a_real_sealed_link_stays_under_the_hard_limit() {
        use crate::link::{LinkClaims, LinkKey, LinkPurpose};
        let (mut settings, order, ship) = (settings(), order(), two_of_three());
        // The sealed link takes about 180 characters: the text around it has to stay short.
        settings.display_name = "Northwind Outdoor Supply".to_owned();
        let claims = LinkClaims {
            shop: order.shop.clone(),
            order: order.id.clone(),
            purpose: LinkPurpose::Track,
            expires_at: 1_900_000_000,
        };
        let url = LinkKey::from_secret("test").url("https://track.ppx.example", &claims);
        for kind in SHIPPING_KINDS {
            let mut tracking = tracking_for(kind);
            tracking.estimated_delivery = NaiveDate::from_ymd_opt(2026, 9, 30);
            let context = MessageContext { tracking_url: &url, ..tracked(&settings, &order, &ship, &tracking) };
            let sms = render_sms(kind, &context).unwrap();
            assert!(sms.chars().count() <= SMS_MAX_CHARS && sms.ends_with(&url), "{kind:?}: {sms}");
        }
    }

    #[test]
    fn tracking_templates_can_be_overridden() {
        let (order, ship) = (order(), whole_order());
        let tracking = tracking_for(MessageKind::Delivered);
        let mut custom = settings();
        custom.templates.insert(
            "delivered.subject.txt".to_owned(),
            "Arrived: {{ order.number }} at {{ tracking.delivered_at }}".to_owned(),
        );
        custom.templates.insert("shipment_details.txt".to_owned(), "Follow it: {{ tracking_url }}".to_owned());
        assert!(check_overrides(&custom.templates).is_ok());
        let email = render_email(MessageKind::Delivered, &tracked(&custom, &order, &ship, &tracking)).unwrap();
        assert_eq!(email.subject, "Arrived: #1001 at Friday, November 27 at 2:30 PM EST");
        assert!(email.text.contains(&format!("Follow it: {TRACKING_URL}")), "{}", email.text);
        assert!(!email.text.contains("IN THIS SHIPMENT"), "{}", email.text);
        // Other kinds using the partial pick up the override too; the HTML partial is untouched.
        let email = render_email(MessageKind::Delayed, &tracked(&custom, &order, &ship, &tracking)).unwrap();
        assert!(email.text.contains("Follow it:") && email.html.contains("In this shipment"));
    }
}
