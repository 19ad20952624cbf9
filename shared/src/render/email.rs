//! Customer messages: the email (subject, HTML, text) and the SMS of each [`MessageKind`], and
//! the view model their templates see. Every value is display-ready.
//!
//! A return update's return is viewed as in `return_notice.rs`; the shop's look ([`ShopView`])
//! and a shipment's items and checkpoints are shown by the order pages too.

use super::format::{
    Times, contrast_with_white, deduction, display_order_number, item_label, local_date_time, long_date, non_empty,
    one_line, percent_encode, plural, return_policy, slug, text_color_on, web_url,
};
use super::return_notice::ReturnView;
use super::{TEMPLATE_NAMES, TemplateError, environment, render, write_html_escaped};
use crate::domain::ids::TrackingNumber;
use crate::domain::link::ReviewLinks;
use crate::domain::messages::MessageKind;
use crate::domain::order::{LineItem, Order, Shipment};
use crate::domain::settings::{DEFAULT_BRAND_COLOR, ShopSettings, is_hex_color};
use crate::domain::situation::{Situation, pickup_deadline, situation};
use crate::domain::tracking::{ShipmentTracking, TrackingEvent, TrackingStatus};
use chrono_tz::Tz;
use minijinja::value::{Serde, Value};
use serde::Serialize;

/// Everything a message is rendered from. Holds personal data: deliberately not `Debug`.
#[derive(Clone, Copy)]
pub struct MessageContext<'a> {
    pub settings: &'a ShopSettings,
    pub order: &'a Order,
    /// The shipment a shipping message is about; None for order-wide messages.
    pub shipment: Option<&'a Shipment>,
    /// The carrier's view of that shipment (status, estimate, checkpoints), when known.
    pub tracking: Option<&'a crate::domain::tracking::ShipmentTracking>,
    pub tracking_url: &'a str,
    pub returns_url: &'a str,
    /// For the review request: the one-click NPS answers and the unsubscribe link.
    pub review: Option<&'a ReviewLinks>,
    /// For return updates: the return (request, decision, state) and the shop's policy.
    pub return_update: Option<&'a crate::domain::returns::Return>,
}

impl<'a> MessageContext<'a> {
    /// An order-wide message (no shipment, no return) with the order's customer links.
    pub fn about_order(
        settings: &'a ShopSettings,
        order: &'a Order,
        links: &'a crate::domain::link::OrderLinks,
    ) -> Self {
        Self {
            settings,
            order,
            shipment: None,
            tracking: None,
            tracking_url: &links.tracking,
            returns_url: &links.returns,
            review: None,
            return_update: None,
        }
    }
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

/// Hard limit for a rendered SMS (two concatenated GSM-7 segments hold 306).
pub const SMS_MAX_CHARS: usize = 300;

/// Renders the email of `kind`: subject (one line), HTML and plain-text parts.
///
/// # Errors
/// A shop override that does not compile or fails to render, a template that renders nothing,
/// a message about a shipment (any kind but the order confirmation, the review request and the
/// return update) without `ctx.shipment`, a return update without `ctx.return_update` (or with
/// the return of another order: [`TemplateError::MissingReturn`]), a review request without
/// `ctx.review` ([`TemplateError::MissingReviewLinks`]) or whose parts lost the unsubscribe
/// link to an override ([`TemplateError::MissingUnsubscribe`]), or an amount that overflows.
pub fn render_email(kind: MessageKind, ctx: &MessageContext<'_>) -> Result<RenderedEmail, TemplateError> {
    let view = View::build(kind, ctx)?;
    let unsubscribe_url = view.review.as_ref().map(|review| review.unsubscribe_url);
    let view = Value::from(Serde(view));
    let env = environment(super::Family::of(kind), &ctx.settings.templates)?;
    let kind = kind.as_str();
    // A subject is a mail header: never let a line break through.
    let subject = one_line(&render(&env, &format!("{kind}.subject.txt"), &view)?);
    let html = render(&env, &format!("{kind}.html"), &view)?;
    let mut text = render(&env, &format!("{kind}.txt"), &view)?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    if let Some(url) = unsubscribe_url {
        let mut escaped = String::with_capacity(url.len() + 16);
        // Writing into a String cannot fail.
        let _ = write_html_escaped(&mut escaped, url);
        if !html.contains(&escaped) {
            return Err(TemplateError::MissingUnsubscribe { template: format!("{kind}.html") });
        }
        if !text.contains(url) {
            return Err(TemplateError::MissingUnsubscribe { template: format!("{kind}.txt") });
        }
    }
    Ok(RenderedEmail { subject, html, text })
}

/// Whether messages of `kind` have an SMS at all (the review request goes by email only).
pub fn has_sms(kind: MessageKind) -> bool {
    let name = format!("{}.sms.txt", kind.as_str());
    TEMPLATE_NAMES.contains(&name.as_str())
}

/// Renders the SMS of `kind` as one line of at most [`SMS_MAX_CHARS`] characters.
///
/// # Errors
/// As [`render_email`], plus [`TemplateError::SmsTooLong`], and [`TemplateError::NoSmsForKind`]
/// for a kind that goes by email only (see [`has_sms`]).
pub fn render_sms(kind: MessageKind, ctx: &MessageContext<'_>) -> Result<String, TemplateError> {
    if !has_sms(kind) {
        return Err(TemplateError::NoSmsForKind(kind.as_str()));
    }
    let view = Value::from(Serde(View::build(kind, ctx)?));
    let env = environment(super::Family::of(kind), &ctx.settings.templates)?;
    let template = format!("{}.sms.txt", kind.as_str());
    let sms = one_line(&render(&env, &template, &view)?);
    let chars = sms.chars().count();
    if chars > SMS_MAX_CHARS {
        return Err(TemplateError::SmsTooLong { template, chars, max: SMS_MAX_CHARS });
    }
    Ok(sms)
}

#[derive(Serialize)]
struct View<'a> {
    shop: ShopView<'a>,
    customer: CustomerView<'a>,
    order: MessageOrderView<'a>,
    /// Present for shipping messages.
    shipment: Option<ShipmentView<'a>>,
    /// What the carrier says; every field is empty when there is no tracking state.
    tracking: TrackingView,
    tracking_url: &'a str,
    returns_url: &'a str,
    /// One or two sentences; None when the shop has neither a summary nor a return window.
    return_policy: Option<String>,
    /// Present for the review request only.
    review: Option<ReviewView<'a>>,
    /// Present for the return update only.
    return_update: Option<ReturnView<'a>>,
}

#[derive(Serialize)]
struct ReviewView<'a> {
    /// What was bought, once per product (variants of one product share a review page).
    items: Vec<ReviewItemView<'a>>,
    /// True when at least one item has a review link; otherwise the NPS question is the only
    /// call to action.
    has_review_links: bool,
    /// The eleven one-click answers, 0 to 10.
    survey: Vec<SurveyChoiceView<'a>>,
    unsubscribe_url: &'a str,
}

#[derive(Serialize)]
struct ReviewItemView<'a> {
    title: &'a str,
    /// From the shop's `review_url_template`; None without a template or when the template
    /// needs a value the item lacks (e.g. `{sku}` on an item without one).
    review_url: Option<String>,
}

#[derive(Serialize)]
struct SurveyChoiceView<'a> {
    score: u8,
    url: &'a str,
}

#[derive(Serialize)]
pub(super) struct ShopView<'a> {
    name: &'a str,
    /// `#rrggbb`; the default colour when the setting is malformed.
    brand_color: String,
    /// Black or white, whichever reads better on the brand colour.
    brand_text_color: &'static str,
    /// For lines and marks on white: the brand colour when it contrasts at least 3:1 with white,
    /// else near-black.
    accent_color: String,
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

/// The order as a message shows it (named apart from the store's `OrderView`; the pages show
/// theirs as [`PageOrderView`](super::page::PageOrderView)).
#[derive(Serialize)]
struct MessageOrderView<'a> {
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
pub(super) struct ShipmentView<'a> {
    pub(super) carrier: Option<&'a str>,
    pub(super) tracking_number: Option<&'a str>,
    /// The carrier's own tracking page (http/https only).
    pub(super) carrier_tracking_url: Option<&'a str>,
    pub(super) items: Vec<ShipmentItemView<'a>>,
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
    /// What that checkpoint says beyond its status (`awaiting_recipient`, `address_problem`,
    /// `refused`, ...; `plain` when nothing).
    situation: Option<&'static str>,
    /// The last day a parcel held for pickup waits, when the carrier says: "Saturday, December 12".
    pickup_by: Option<String>,
}

#[derive(Serialize)]
pub(super) struct CheckpointView {
    /// The carrier's words on one line: "No one available to sign".
    pub(super) message: Option<String>,
    /// "Springfield, IL, US" as far as the carrier says.
    pub(super) location: Option<String>,
    /// In the shop's time zone: "Friday, November 27 at 2:30 PM EST".
    pub(super) at: String,
}

#[derive(Serialize)]
pub(super) struct ShipmentItemView<'a> {
    pub(super) title: &'a str,
    pub(super) variant: Option<&'a str>,
    pub(super) quantity: u32,
    /// "2 x Linen shirt (M / Sand)".
    label: String,
}

impl<'a> View<'a> {
    fn build(kind: MessageKind, ctx: &MessageContext<'a>) -> Result<Self, TemplateError> {
        let settings = ctx.settings;
        let order = ctx.order;
        if ctx.shipment.is_none() && is_about_a_shipment(kind) {
            return Err(TemplateError::MissingShipment(kind.as_str()));
        }
        let order_view = MessageOrderView::build(order, settings)?;
        let shipment = ctx.shipment.map(|s| ShipmentView::build(s, ctx.tracking, order, order_view.item_count));
        let tracking = ctx.tracking.map(|t| TrackingView::build(kind, t, order, settings.time_zone)).unwrap_or_else(
            // Without a tracking state the order's promise is all there is to say about dates.
            || TrackingView { promised_delivery: order.promised_delivery.map(long_date), ..TrackingView::default() },
        );
        let review = match kind {
            MessageKind::ReviewRequest => {
                Some(ReviewView::build(ctx.review.ok_or(TemplateError::MissingReviewLinks)?, settings, order)?)
            }
            _ => None,
        };
        let return_update = match kind {
            MessageKind::ReturnUpdate => {
                let ret = ctx.return_update.filter(|ret| ret.request.order_id == order.id);
                Some(ReturnView::build(ret.ok_or(TemplateError::MissingReturn)?, settings, order))
            }
            _ => None,
        };
        let first_name = non_empty(order.customer.first_name.as_deref());
        Ok(Self {
            shop: ShopView::build(settings),
            customer: CustomerView { first_name, greeting_name: first_name.unwrap_or("there") },
            order: order_view,
            shipment,
            tracking,
            tracking_url: ctx.tracking_url,
            returns_url: ctx.returns_url,
            return_policy: return_policy(settings),
            review,
            return_update,
        })
    }
}

impl<'a> ShopView<'a> {
    pub(super) fn build(settings: &'a ShopSettings) -> Self {
        let brand_color = if is_hex_color(&settings.brand_color) {
            settings.brand_color.to_ascii_lowercase()
        } else {
            DEFAULT_BRAND_COLOR.to_owned()
        };
        Self {
            name: settings.display_name.trim(),
            brand_text_color: text_color_on(&brand_color),
            accent_color: if contrast_with_white(&brand_color) >= 3.0 {
                brand_color.clone()
            } else {
                "#111827".to_owned()
            },
            brand_color,
            support_url: web_url(Some(&settings.support_url)).unwrap_or_default(),
            support_email: non_empty(settings.support_email.as_deref()),
        }
    }
}

impl<'a> ReviewView<'a> {
    fn build(links: &'a ReviewLinks, settings: &ShopSettings, order: &'a Order) -> Result<Self, TemplateError> {
        let unsubscribe_url = web_url(Some(&links.unsubscribe)).ok_or(TemplateError::MissingReviewLinks)?;
        let survey = (0u8..)
            .zip(&links.survey)
            .map(|(score, url)| {
                Ok(SurveyChoiceView { score, url: web_url(Some(url)).ok_or(TemplateError::MissingReviewLinks)? })
            })
            .collect::<Result<Vec<_>, TemplateError>>()?;
        let template = settings.review_url_template.as_deref();
        let mut items: Vec<ReviewItemView<'a>> = Vec::with_capacity(order.items.len());
        for item in order.items.iter().filter(|item| item.quantity > 0) {
            let title = item.title.trim();
            let review_url = template.and_then(|template| review_url(template, item));
            // Two sizes of one shirt are one product to review.
            if !items.iter().any(|seen| seen.title == title && seen.review_url == review_url) {
                items.push(ReviewItemView { title, review_url });
            }
        }
        Ok(Self {
            has_review_links: items.iter().any(|item| item.review_url.is_some()),
            items,
            survey,
            unsubscribe_url,
        })
    }
}

impl<'a> MessageOrderView<'a> {
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
            label: item_label(item.quantity, &item.title, variant, Times::Letter),
        })
    }
}

impl<'a> ShipmentView<'a> {
    /// Carrier name and link come from the platform's fulfillment, else from the carrier's
    /// tracking state.
    pub(super) fn build(
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
                        label: item_label(item.quantity, &item.title, variant, Times::Letter),
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
                        label: item_label(shipped.quantity, title, variant, Times::Letter),
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
            situation: event.map(|e| situation(e).as_str()),
            pickup_by: event
                .filter(|_| kind == MessageKind::AvailableForPickup)
                .and_then(pickup_deadline)
                .map(long_date),
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
        MessageKind::OrderConfirmation
        | MessageKind::ReviewRequest
        | MessageKind::ReturnUpdate
        | MessageKind::NotShipped => false,
        MessageKind::Shipped
        | MessageKind::OutForDelivery
        | MessageKind::DeliveryAttempted
        | MessageKind::AvailableForPickup
        | MessageKind::Delivered
        | MessageKind::Exception
        | MessageKind::ActionNeeded
        | MessageKind::ReturnedToSender
        | MessageKind::Delayed
        | MessageKind::Stalled
        | MessageKind::Untracked => true,
    }
}

/// The checkpoint a message of `kind` is about: the newest one with the kind's status, or for
/// messages not tied to one status, the newest one that says something.
pub(super) fn checkpoint_for(kind: MessageKind, tracking: &ShipmentTracking) -> Option<&TrackingEvent> {
    let status = match kind {
        MessageKind::OrderConfirmation
        | MessageKind::ReviewRequest
        | MessageKind::ReturnUpdate
        | MessageKind::Untracked
        | MessageKind::NotShipped => return None,
        MessageKind::Shipped | MessageKind::Delayed | MessageKind::Stalled => {
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
        MessageKind::ActionNeeded => {
            return tracking
                .timeline()
                .find(|e| matches!(situation(e), Situation::AwaitingRecipient | Situation::AddressProblem));
        }
        MessageKind::OutForDelivery => TrackingStatus::OutForDelivery,
        MessageKind::AvailableForPickup => TrackingStatus::AvailableForPickup,
        MessageKind::Delivered => TrackingStatus::Delivered,
        MessageKind::Exception => TrackingStatus::Exception,
        MessageKind::ReturnedToSender => TrackingStatus::ReturnedToSender,
    };
    tracking.timeline().find(|e| e.status == status)
}

/// The item's review page from the shop's template: `{handle}` becomes the title as a URL slug,
/// `{sku}` and `{product_id}` the item's values, percent-encoded. None when the template is not
/// an http(s) URL or needs a value the item lacks.
fn review_url(template: &str, item: &LineItem) -> Option<String> {
    let mut url = web_url(Some(template))?.to_owned();
    if url.contains("{handle}") {
        let handle = slug(&item.title);
        if handle.is_empty() {
            return None;
        }
        url = url.replace("{handle}", &handle);
    }
    for (placeholder, value) in [("{sku}", &item.sku), ("{product_id}", &item.product_id)] {
        if url.contains(placeholder) {
            let value = non_empty(value.as_deref()).filter(|v| !v.bytes().all(|b| b == b'.'))?;
            url = url.replace(placeholder, &percent_encode(value));
        }
    }
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::check_overrides;
    use crate::render::fixtures::*;
    use chrono::NaiveDate;
    use std::collections::BTreeMap;

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
        use crate::domain::link::{LinkClaims, LinkKey, LinkPurpose};
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

    fn tracked<'a>(
        settings: &'a ShopSettings,
        order: &'a Order,
        shipment: &'a Shipment,
        tracking: &'a ShipmentTracking,
    ) -> MessageContext<'a> {
        MessageContext { tracking: Some(tracking), ..ctx(settings, order, Some(shipment)) }
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
                    "Shipment exception: sorting error at the facility",
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
    fn a_pickup_notice_gives_the_last_day_when_the_carrier_does() {
        let (settings, order, ship) = (settings(), order(), whole_order());
        let held = |text: &str| {
            journey(
                vec![checkpoint(TrackingStatus::AvailableForPickup, "2026-11-28T14:00:00Z", text, "Brooklyn, NY, US")],
                None,
            )
        };
        let dated = held("Held at The UPS Store #4521 until 12/05/2026");
        let context = tracked(&settings, &order, &ship, &dated);
        let email = render_email(MessageKind::AvailableForPickup, &context).unwrap();
        assert!(email.text.contains("Please pick it up by Saturday, December 5"), "{}", email.text);
        assert!(email.html.contains("Pick it up by Saturday, December 5."), "{}", email.html);
        assert!(!email.text.contains("about a week"), "{}", email.text);
        let sms = render_sms(MessageKind::AvailableForPickup, &context).unwrap();
        assert!(sms.contains("Pick it up by Saturday, December 5."), "{sms}");
        let undated = held("Held at The UPS Store #4521");
        let email =
            render_email(MessageKind::AvailableForPickup, &tracked(&settings, &order, &ship, &undated)).unwrap();
        assert!(email.text.contains("usually held for about a week"), "{}", email.text);
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
        use crate::domain::link::{LinkClaims, LinkKey, LinkPurpose};
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

    // --- Review request --------------------------------------------------------------------------

    /// Sealed-looking links with a query string, so HTML escaping shows.
    fn review_links() -> ReviewLinks {
        ReviewLinks {
            survey: std::array::from_fn(|score| format!("https://t.ppx.example/s/Nq4v8Tz?score={score}&v=1")),
            unsubscribe: "https://t.ppx.example/u/Nq4v8Tz?list=reviews&v=1".to_owned(),
        }
    }

    fn review_ctx<'a>(settings: &'a ShopSettings, order: &'a Order, links: &'a ReviewLinks) -> MessageContext<'a> {
        MessageContext { review: Some(links), ..ctx(settings, order, None) }
    }

    #[test]
    fn review_request_links_each_item_to_its_review_page_and_asks_the_nps_question() {
        let (settings, links) = (settings(), review_links());
        let mut order = order();
        order.items.push(item("li-3", "Tote / Bag  2-pack", None, 1, "20.00"));
        order.items.push(item("li-4", "Café crème mug", None, 1, "12.00"));
        let email = render_email(MessageKind::ReviewRequest, &review_ctx(&settings, &order, &links)).unwrap();
        assert_eq!(email.subject, "How was your Demo Shop order #1001?");

        let reviews = [
            ("Linen shirt", "https://demo-shop.example/products/linen-shirt#reviews"),
            ("Canvas tote", "https://demo-shop.example/products/canvas-tote#reviews"),
            ("Tote / Bag  2-pack", "https://demo-shop.example/products/tote-bag-2-pack#reviews"),
            ("Café crème mug", "https://demo-shop.example/products/cafe-creme-mug#reviews"),
        ];
        for (title, url) in reviews {
            assert!(email.html.contains(&format!("<strong>{title}</strong>")), "missing {title:?} in\n{}", email.html);
            assert!(email.html.contains(&format!("href=\"{url}\"")), "missing {url:?} in\n{}", email.html);
            assert!(email.text.contains(&format!("{title}\nWrite a review: {url}\n")), "{}", email.text);
        }
        assert_eq!(email.html.matches(">Write a review</a>").count(), 4);

        let question = "How likely are you to recommend Demo Shop to a friend?";
        for part in [&email.html, &email.text] {
            for expected in ["Hi Ada,", "#1001", question] {
                assert!(part.contains(expected), "missing {expected:?} in\n{part}");
            }
            for personal in ["Lovelace", "ada@example.com", "+15555550100"] {
                assert!(!part.contains(personal), "{personal:?} leaked");
            }
        }
        for (score, url) in links.survey.iter().enumerate() {
            let escaped = url.replace('&', "&amp;");
            assert!(email.html.contains(&format!("href=\"{escaped}\"")), "score {score} missing in\n{}", email.html);
            assert!(email.html.contains(&format!(">{score}</a></td>")), "score {score} label");
            assert!(email.text.contains(&format!("\n{score}: {url}\n")), "score {score} missing in\n{}", email.text);
        }
        assert!(!email.html.contains("?score=3&v=1"), "unescaped ampersand in HTML");
        assert_eq!(email.html.matches(" out of 10\" style=").count(), 11, "one button per score");
        assert!(email.html.contains("Not likely</td>") && email.html.contains("Very likely</td>"));
        assert!(email.html.contains("table-layout:fixed"));

        let unsubscribe_html = "href=\"https://t.ppx.example/u/Nq4v8Tz?list=reviews&amp;v=1\"";
        assert!(email.html.contains(unsubscribe_html), "{}", email.html);
        assert!(email.html.contains("You received this because you ordered from Demo Shop."));
        assert!(email.html.contains(">Unsubscribe from review requests</a>"));
        assert!(email.text.trim_end().ends_with(
            "You received this because you ordered from Demo Shop. Unsubscribe from review requests: \
             https://t.ppx.example/u/Nq4v8Tz?list=reviews&v=1"
        ));
        assert!(email.html.contains("background-color:#0f766e") && email.html.contains("max-width:600px"));
        assert!(!email.text.contains('<'), "{}", email.text);
        assert!(!email.text.contains("\n\n\n"), "stray blank lines:\n{}", email.text);
        assert!(!email.text.contains("none") && !email.html.contains("none<"));

        // For eyeballing: /tmp/ppx-review_request.{html,txt} on Linux.
        let dir = std::env::temp_dir();
        let _ = std::fs::write(dir.join("ppx-review_request.html"), &email.html);
        let _ = std::fs::write(dir.join("ppx-review_request.txt"), &email.text);
    }

    #[test]
    fn review_links_encode_sku_and_product_id_and_skip_items_without_them() {
        let mut settings = settings();
        settings.review_url_template = Some("https://reviews.example/{product_id}/write?sku={sku}".to_owned());
        let links = review_links();
        let mut order = order();
        order.items[0].sku = Some("LS/M SAND&1".to_owned());
        order.items[0].product_id = Some("gid://shopify/Product/42".to_owned());
        order.items[1].sku = None;
        order.items[1].product_id = Some("43".to_owned());
        let email = render_email(MessageKind::ReviewRequest, &review_ctx(&settings, &order, &links)).unwrap();
        let url = "https://reviews.example/gid%3A%2F%2Fshopify%2FProduct%2F42/write?sku=LS%2FM%20SAND%261";
        assert!(email.text.contains(&format!("Linen shirt\nWrite a review: {url}\n")), "{}", email.text);
        assert!(email.html.contains(&format!("href=\"{url}\"")), "{}", email.html);
        // No sku: listed, but no link rather than a broken one.
        assert!(email.text.contains("Canvas tote\n\n"), "{}", email.text);
        assert_eq!(email.html.matches(">Write a review</a>").count(), 1);

        let item = |sku: Option<&str>| LineItem { sku: sku.map(str::to_owned), ..order.items[1].clone() };
        assert_eq!(review_url("https://s.example/r/{sku}", &item(Some(".."))), None);
        assert_eq!(review_url("https://s.example/r/{sku}", &item(Some(" "))), None);
        assert_eq!(review_url("javascript:alert('{sku}')", &item(Some("a"))), None);
        assert_eq!(
            review_url(" https://s.example/reviews ", &item(None)).as_deref(),
            Some("https://s.example/reviews")
        );
        let mut untitled = item(None);
        untitled.title = "★★★".to_owned();
        assert_eq!(review_url("https://s.example/p/{handle}", &untitled), None);
    }

    #[test]
    fn without_a_review_template_the_nps_question_is_the_call_to_action() {
        let mut settings = settings();
        settings.review_url_template = None;
        let (order, links) = (order(), review_links());
        let email = render_email(MessageKind::ReviewRequest, &review_ctx(&settings, &order, &links)).unwrap();
        for part in [&email.html, &email.text] {
            assert!(!part.contains("Write a review") && !part.contains("/products/"), "{part}");
            assert!(!part.contains("One more question") && !part.contains("ONE MORE QUESTION"), "{part}");
            assert!(part.contains("Linen shirt") && part.contains("Canvas tote"), "{part}");
            assert!(part.contains("How likely are you to recommend Demo Shop to a friend?"), "{part}");
            assert!(part.contains("https://t.ppx.example/u/Nq4v8Tz?list=reviews"), "{part}");
        }
        assert!(email.text.contains("- Linen shirt\n- Canvas tote\n"), "{}", email.text);
        assert!(email.text.contains(&format!("10: {}", links.survey[10])), "{}", email.text);
        assert!(!email.text.contains("\n\n\n"), "stray blank lines:\n{}", email.text);
    }

    #[test]
    fn variants_of_one_product_are_reviewed_once() {
        let (settings, links) = (settings(), review_links());
        let mut order = order();
        order.items.push(item("li-3", "Linen shirt", Some("L / Navy"), 1, "45.00"));
        order.items.push(item("li-4", "Gift wrap", None, 0, "0"));
        let email = render_email(MessageKind::ReviewRequest, &review_ctx(&settings, &order, &links)).unwrap();
        assert_eq!(email.text.matches("Linen shirt").count(), 1, "{}", email.text);
        assert!(!email.text.contains("Gift wrap"), "{}", email.text);
    }

    #[test]
    fn review_requests_go_by_email_only_and_need_their_links() {
        let (settings, order, links) = (settings(), order(), review_links());
        for context in [review_ctx(&settings, &order, &links), ctx(&settings, &order, None)] {
            assert!(matches!(
                render_sms(MessageKind::ReviewRequest, &context),
                Err(TemplateError::NoSmsForKind("review_request"))
            ));
        }
        assert!(matches!(
            render_email(MessageKind::ReviewRequest, &ctx(&settings, &order, None)),
            Err(TemplateError::MissingReviewLinks)
        ));
        let mut bad = review_links();
        bad.unsubscribe = "  ".to_owned();
        assert!(matches!(
            render_email(MessageKind::ReviewRequest, &review_ctx(&settings, &order, &bad)),
            Err(TemplateError::MissingReviewLinks)
        ));
        let mut bad = review_links();
        bad.survey[7] = "javascript:alert(1)".to_owned();
        assert!(matches!(
            render_email(MessageKind::ReviewRequest, &review_ctx(&settings, &order, &bad)),
            Err(TemplateError::MissingReviewLinks)
        ));
        // Other kinds ignore review links.
        let email = render_email(MessageKind::OrderConfirmation, &review_ctx(&settings, &order, &links)).unwrap();
        assert!(!email.html.contains("Unsubscribe"));

        // No SMS template to override either.
        let sms = BTreeMap::from([("review_request.sms.txt".to_owned(), "{{ shop.name }}".to_owned())]);
        assert!(matches!(check_overrides(&sms), Err(TemplateError::UnknownTemplate { .. })));
    }

    #[test]
    fn an_override_cannot_drop_the_unsubscribe_link() {
        let (order, links) = (order(), review_links());
        for name in ["review_request.html", "review_request.txt"] {
            let mut custom = settings();
            custom.templates.insert(name.to_owned(), "Hi {{ customer.greeting_name }}, rate us!".to_owned());
            let err = render_email(MessageKind::ReviewRequest, &review_ctx(&custom, &order, &links)).unwrap_err();
            assert!(matches!(&err, TemplateError::MissingUnsubscribe { template } if template == name), "{err}");
        }
        let mut custom = settings();
        custom.templates.insert(
            "review_request.txt".to_owned(),
            "Rate us: {{ review.survey[10].url }}\nStop these: {{ review.unsubscribe_url }}".to_owned(),
        );
        let email = render_email(MessageKind::ReviewRequest, &review_ctx(&custom, &order, &links)).unwrap();
        assert!(email.text.starts_with("Rate us: https://t.ppx.example/s/Nq4v8Tz?score=10&v=1\n"), "{}", email.text);
    }
}
