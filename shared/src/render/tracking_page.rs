//! The tracking page of an order. Like the other order pages (`portal.rs`), a complete document in
//! `page_layout.html` that always carries the shop's look.

use super::email::{CheckpointView, ShipmentView, ShopView, checkpoint_for};
use super::format::{Times, item_label, local_date_time, non_empty, one_line, page_date};
use super::page::{PageOrderView, html_lang};
use super::{TemplateError, environment, render};
use crate::domain::messages::MessageKind;
use crate::domain::notification::current_situation;
use crate::domain::order::{Order, Shipment};
use crate::domain::settings::ShopSettings;
use crate::domain::situation::Situation;
use crate::domain::tracking::{ShipmentTracking, TrackingEvent, TrackingStatus};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use minijinja::value::{Serde, Value};
use serde::Serialize;

/// Most checkpoints a shipment's timeline lists (the newest); older ones are counted instead.
pub const TIMELINE_MAX_CHECKPOINTS: usize = 25;

/// Longest carrier message or location a page shows, in characters.
const PAGE_TEXT_MAX_CHARS: usize = 200;

/// The steps of the progress bar, in order.
const STEPS: [&str; 4] = ["Ordered", "Shipped", "Out for delivery", "Delivered"];

/// Renders the tracking page of an order (`tracking_page.html`): one card per shipment with its
/// status at a glance (a progress bar Ordered, Shipped, Out for delivery, Delivered; or what to
/// do after a failed attempt, at a pickup point, after a problem or a return to sender), the
/// carrier's estimate, the items, the carrier's link and the checkpoints newest first, in the
/// shop's time zone. Units no shipment holds are listed as not shipped yet; before anything
/// shipped, the order shows as being prepared. `now` tells today from tomorrow.
///
/// # Errors
/// A shop override that does not compile or fails to render, a template that renders nothing,
pub fn render_tracking_page(
    settings: &ShopSettings,
    tracked: &TrackedOrder<'_>,
    now: DateTime<Utc>,
) -> Result<String, TemplateError> {
    let page = TrackingPageView::build(settings, tracked, now);
    let env = environment(&super::Family::PAGE, &settings.templates)?;
    render(&env, "tracking_page.html", &Value::from(Serde(page)))
}

#[derive(Serialize)]
struct TrackingPageView<'a> {
    lang: String,
    shop: ShopView<'a>,
    order: PageOrderView,
    /// One card per shipment, oldest first; empty before anything shipped.
    shipments: Vec<ShipmentCardView<'a>>,
    /// The progress bar of the order itself, shown when nothing shipped yet (Ordered current).
    steps: Vec<StepView>,
    /// Units no shipment holds yet: "1 × Canvas tote". Empty for a cancelled order.
    not_shipped: Vec<String>,
    /// The shop's time zone, as people read it: "America/New York".
    time_zone: String,
}

#[derive(Serialize)]
struct ShipmentCardView<'a> {
    /// 1, 2, ...: for element ids.
    number: usize,
    /// "Shipment 1 of 2", or "Your shipment" when it is the only one.
    heading: String,
    /// `shipped` (no carrier scan yet), `label_created`, `in_transit`, `out_for_delivery`,
    /// `delivered`, `delivery_attempted`, `available_for_pickup`, `exception` or
    /// `returned_to_sender`.
    status: &'static str,
    /// What the customer reads first: "In transit", "Delivery attempted", ...
    headline: &'static str,
    /// The progress bar; empty when `panel` says what happened instead.
    steps: Vec<StepView>,
    /// For a failed attempt, a pickup, a problem or a return to sender: what to do.
    panel: Option<PanelView>,
    /// The carrier's name, else "the carrier"; `carrier_start` capitalises the fallback.
    carrier_name: &'a str,
    carrier_start: &'a str,
    carrier: Option<&'a str>,
    tracking_number: Option<&'a str>,
    /// The carrier's own tracking page (http/https only).
    carrier_tracking_url: Option<&'a str>,
    /// The carrier's estimate, while it still matters: "Tuesday, December 1 (tomorrow)".
    estimated_delivery: Option<String>,
    /// "Friday, November 27 at 2:30 PM EST".
    delivered_at: Option<String>,
    /// "2 × Linen shirt (M / Sand)".
    items: Vec<String>,
    /// Newest first, at most [`TIMELINE_MAX_CHECKPOINTS`].
    timeline: Vec<TimelineEntryView>,
    /// Checkpoints older than those listed.
    earlier_updates: usize,
    /// When the carrier's older history is no longer kept (a shipment keeps its newest
    /// checkpoints): the time of the newest one left out, "Nov 20, 8:00 AM".
    omitted_until: Option<String>,
}

#[derive(Serialize)]
struct StepView {
    label: &'static str,
    /// `done`, `current` or `todo`.
    state: &'static str,
}

#[derive(Serialize)]
struct PanelView {
    /// `attempt`, `pickup`, `exception` or `returned`.
    kind: &'static str,
    /// The checkpoint it is about (the attempt, the pickup notice, ...), or the latest one.
    checkpoint: Option<CheckpointView>,
}

#[derive(Serialize)]
struct TimelineEntryView {
    /// For `<time datetime>`: local, with its offset ("2026-11-27T11:18-05:00").
    datetime: String,
    /// In the shop's time zone: "Nov 27, 11:18 AM".
    at: String,
    /// The carrier's message, else what the status means: "Out for delivery".
    text: String,
    location: Option<String>,
}

/// An order as its tracking page shows it.
#[derive(Debug, Clone)]
pub struct TrackedOrder<'a> {
    pub order: &'a Order,
    /// Its shipments, in any order, each with its carrier tracking if any came.
    pub shipments: Vec<(&'a Shipment, Option<&'a ShipmentTracking>)>,
}

impl<'a> TrackingPageView<'a> {
    fn build(settings: &'a ShopSettings, tracked: &TrackedOrder<'a>, now: DateTime<Utc>) -> Self {
        let order = tracked.order;
        let time_zone = settings.time_zone;
        let today = now.with_timezone(&time_zone).date_naive();
        let order_view = PageOrderView::build(order, settings, Some(today));
        let mut shipments: Vec<(&Shipment, Option<&ShipmentTracking>)> =
            tracked.shipments.iter().copied().filter(|(s, _)| s.order_id == order.id).collect();
        shipments.sort_by(|(a, _), (b, _)| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let cards_of = CardsOf {
            order,
            order_units: order.items.iter().map(|i| u64::from(i.quantity)).sum(),
            count: shipments.len(),
            time_zone,
            today,
        };
        let cards = shipments
            .iter()
            .enumerate()
            .map(|(i, (shipment, tracking))| ShipmentCardView::build(&cards_of, i + 1, shipment, *tracking))
            .collect();
        let shipments: Vec<&Shipment> = shipments.into_iter().map(|(s, _)| s).collect();
        Self {
            lang: html_lang(&settings.locale),
            shop: ShopView::build(settings),
            not_shipped: if order_view.cancelled { Vec::new() } else { not_shipped(order, &shipments) },
            order: order_view,
            shipments: cards,
            steps: steps(0),
            time_zone: time_zone.name().replace('_', " "),
        }
    }
}

/// What every shipment card of one page shares.
struct CardsOf<'a> {
    order: &'a Order,
    /// Units ordered, all lines together.
    order_units: u64,
    /// Shipments on the page.
    count: usize,
    time_zone: Tz,
    today: NaiveDate,
}

impl<'a> ShipmentCardView<'a> {
    /// The card of shipment `number` (from 1) of the page.
    fn build(
        cards: &CardsOf<'a>,
        number: usize,
        shipment: &'a Shipment,
        tracking: Option<&'a ShipmentTracking>,
    ) -> Self {
        use TrackingStatus as S;
        let CardsOf { order, order_units, count, time_zone, today } = *cards;
        let heading = if count > 1 { format!("Shipment {number} of {count}") } else { "Your shipment".to_owned() };
        let details = ShipmentView::build(shipment, tracking, order, order_units);
        let status = tracking.and_then(|t| t.status).filter(|s| *s != S::Unknown);
        // What the carrier needs from the customer comes first, whatever its status says.
        let needs_action = tracking.is_some_and(|t| {
            matches!(current_situation(t), Situation::AwaitingRecipient | Situation::AddressProblem)
                && matches!(status, Some(S::Exception | S::DeliveryAttempted))
        });
        let (code, headline, step, panel) = match status {
            _ if needs_action => ("action_needed", "Action needed", None, Some(("action", MessageKind::ActionNeeded))),
            None => ("shipped", "Shipped", Some(1), None),
            Some(S::LabelCreated) => ("label_created", "Label created", Some(1), None),
            Some(S::InTransit) => ("in_transit", "In transit", Some(1), None),
            Some(S::OutForDelivery) => ("out_for_delivery", "Out for delivery", Some(2), None),
            Some(S::Delivered) => ("delivered", "Delivered", Some(3), None),
            Some(S::DeliveryAttempted) => {
                ("delivery_attempted", "Delivery attempted", None, Some(("attempt", MessageKind::DeliveryAttempted)))
            }
            Some(S::AvailableForPickup) => {
                ("available_for_pickup", "Ready for pickup", None, Some(("pickup", MessageKind::AvailableForPickup)))
            }
            Some(S::Exception) => ("exception", "Delivery problem", None, Some(("exception", MessageKind::Exception))),
            Some(S::ReturnedToSender) => {
                ("returned_to_sender", "Returned to sender", None, Some(("returned", MessageKind::ReturnedToSender)))
            }
            Some(S::Unknown) => unreachable!("filtered out above"),
        };
        let panel = panel.map(|(kind, message)| PanelView {
            kind,
            checkpoint: tracking
                .and_then(|t| checkpoint_for(message, t).or_else(|| t.timeline().next()))
                .map(|event| page_checkpoint(event, time_zone)),
        });
        // An estimate means nothing once the parcel arrived, waits at a pickup point, hit a
        // problem or goes back.
        let estimate_matters = matches!(code, "shipped" | "label_created" | "in_transit" | "out_for_delivery")
            || code == "delivery_attempted";
        let checkpoints: Vec<&TrackingEvent> = tracking.map(|t| t.timeline().collect()).unwrap_or_default();
        let carrier = details.carrier;
        Self {
            number,
            heading,
            status: code,
            headline,
            steps: step.map(steps).unwrap_or_default(),
            panel,
            carrier_name: carrier.unwrap_or("the carrier"),
            carrier_start: carrier.unwrap_or("The carrier"),
            carrier,
            tracking_number: details.tracking_number,
            carrier_tracking_url: details.carrier_tracking_url,
            estimated_delivery: tracking
                .and_then(|t| t.estimated_delivery)
                .filter(|_| estimate_matters)
                .map(|date| page_date(date, Some(today))),
            delivered_at: tracking
                .and_then(|t| t.delivered_at)
                .filter(|_| code == "delivered")
                .map(|at| local_date_time(at, time_zone)),
            items: details
                .items
                .iter()
                .map(|item| item_label(item.quantity, item.title.trim(), item.variant, Times::Sign))
                .collect(),
            timeline: checkpoints
                .iter()
                .take(TIMELINE_MAX_CHECKPOINTS)
                .map(|event| TimelineEntryView::build(event, time_zone))
                .collect(),
            earlier_updates: checkpoints.len().saturating_sub(TIMELINE_MAX_CHECKPOINTS),
            omitted_until: tracking.and_then(|t| t.omitted_until).map(|at| timeline_time(at, time_zone)),
        }
    }
}

/// A checkpoint's time in the shop's time zone, as the timeline shows it: "Nov 27, 11:18 AM".
fn timeline_time(at: DateTime<Utc>, time_zone: Tz) -> String {
    at.with_timezone(&time_zone).format("%b %-d, %-I:%M %p").to_string()
}

impl TimelineEntryView {
    fn build(event: &TrackingEvent, time_zone: Tz) -> Self {
        let local = event.occurred_at.with_timezone(&time_zone);
        Self {
            datetime: local.format("%Y-%m-%dT%H:%M%:z").to_string(),
            at: timeline_time(event.occurred_at, time_zone),
            text: page_text(event.message.as_deref()).unwrap_or_else(|| status_label(event.status).to_owned()),
            location: page_text(event.location.as_deref()),
        }
    }
}

/// The steps with `current` (an index of [`STEPS`]) highlighted and those before it done.
fn steps(current: usize) -> Vec<StepView> {
    STEPS
        .iter()
        .enumerate()
        .map(|(i, label)| StepView {
            label,
            state: match i.cmp(&current) {
                std::cmp::Ordering::Less => "done",
                std::cmp::Ordering::Equal => "current",
                std::cmp::Ordering::Greater => "todo",
            },
        })
        .collect()
}

/// What a status means to a customer, for checkpoints without a message of their own.
fn status_label(status: TrackingStatus) -> &'static str {
    match status {
        TrackingStatus::LabelCreated => "Label created",
        TrackingStatus::InTransit => "In transit",
        TrackingStatus::OutForDelivery => "Out for delivery",
        TrackingStatus::DeliveryAttempted => "Delivery attempted",
        TrackingStatus::AvailableForPickup => "Ready for pickup",
        TrackingStatus::Delivered => "Delivered",
        TrackingStatus::Exception => "Delivery problem",
        TrackingStatus::ReturnedToSender => "Returned to sender",
        TrackingStatus::Unknown => "Update from the carrier",
    }
}

/// Carrier words on one line, at most [`PAGE_TEXT_MAX_CHARS`]; None when there are none.
fn page_text(text: Option<&str>) -> Option<String> {
    let text = one_line(text?);
    if text.is_empty() {
        return None;
    }
    if text.chars().count() <= PAGE_TEXT_MAX_CHARS {
        return Some(text);
    }
    let mut clipped: String = text.chars().take(PAGE_TEXT_MAX_CHARS - 1).collect();
    clipped.push('…');
    Some(clipped)
}

fn page_checkpoint(event: &TrackingEvent, time_zone: Tz) -> CheckpointView {
    CheckpointView {
        message: page_text(event.message.as_deref()),
        location: page_text(event.location.as_deref()),
        at: local_date_time(event.occurred_at, time_zone),
    }
}

/// The units of the order no shipment holds yet. A shipment without items covers the whole
/// order; shipped items without a line id count against the first line of the same title.
fn not_shipped(order: &Order, shipments: &[&Shipment]) -> Vec<String> {
    if shipments.iter().any(|shipment| shipment.items.is_empty()) {
        return Vec::new();
    }
    let mut left: Vec<u32> = order.items.iter().map(|line| line.quantity).collect();
    for shipped in shipments.iter().flat_map(|shipment| &shipment.items) {
        let line = match shipped.line_item_id.as_deref() {
            Some(id) => order.items.iter().position(|line| line.id.as_deref() == Some(id)),
            None => order
                .items
                .iter()
                .enumerate()
                .position(|(i, line)| left[i] > 0 && line.title.trim() == shipped.title.trim()),
        };
        if let Some(i) = line {
            left[i] = left[i].saturating_sub(shipped.quantity);
        }
    }
    order
        .items
        .iter()
        .zip(left)
        .filter(|(_, left)| *left > 0)
        .map(|(line, left)| item_label(left, line.title.trim(), non_empty(line.variant.as_deref()), Times::Sign))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{ShipmentId, TrackingNumber};
    use crate::render::check_overrides;
    use crate::render::fixtures::*;
    use crate::render::format::contrast_with_white;

    /// An order and its shipments, owned, as a test builds them.
    struct PageData {
        order: Order,
        shipments: Vec<(Shipment, Option<ShipmentTracking>)>,
    }

    impl PageData {
        fn tracked(&self) -> TrackedOrder<'_> {
            TrackedOrder {
                order: &self.order,
                shipments: self.shipments.iter().map(|(s, t)| (s, t.as_ref())).collect(),
            }
        }
    }

    fn store_view(order: Order, shipments: Vec<(Shipment, Option<ShipmentTracking>)>) -> PageData {
        PageData { order, shipments }
    }

    /// Monday 2026-11-30, noon UTC: 7 AM in New York.
    fn page_now() -> DateTime<Utc> {
        at("2026-11-30T12:00:00Z")
    }

    fn december(day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2026, 12, day)
    }

    fn current_step(html: &str) -> Vec<&str> {
        html.split("aria-current=\"step\">")
            .skip(1)
            .filter_map(|rest| rest.split("</li>").next())
            .map(|li| li.rsplit("</span>").next().unwrap_or(li))
            .collect()
    }

    #[test]
    fn tracking_page_shows_every_shipment_state() {
        use TrackingStatus as S;
        let (settings, order) = (settings(), order());
        let label = checkpoint(S::LabelCreated, "2026-11-25T15:00:00Z", "Shipper created a label", "");
        let with_estimate = |mut tracking: ShipmentTracking| {
            tracking.estimated_delivery = december(1);
            tracking
        };
        /// Name, tracking, headline, the current step (None: a panel instead), phrases, whether the
        /// carrier's estimate shows.
        type Case =
            (&'static str, Option<ShipmentTracking>, &'static str, Option<&'static str>, Vec<&'static str>, bool);
        let cases: Vec<Case> = vec![
            ("shipped", None, "Shipped", Some("Shipped"), vec!["as soon as UPS scans it"], false),
            (
                "label-created",
                Some(tracked_by(vec![label], december(1))),
                "Label created",
                Some("Shipped"),
                vec!["packed and labelled, waiting for UPS to pick it up"],
                true,
            ),
            (
                "in-transit",
                Some(journey(Vec::new(), december(1))),
                "In transit",
                Some("Shipped"),
                vec!["on its way with UPS"],
                true,
            ),
            (
                "out-for-delivery",
                Some(with_estimate(tracking_for(MessageKind::OutForDelivery))),
                "Out for delivery",
                Some("Out for delivery"),
                vec!["should arrive today"],
                true,
            ),
            (
                "delivery-attempted",
                Some(with_estimate(tracking_for(MessageKind::DeliveryAttempted))),
                "Delivery attempted",
                None,
                vec![
                    "UPS tried to deliver your parcel on Friday, November 27 at 2:30 PM EST, but couldn't.",
                    "UPS says: “No one available to sign. A notice was left.”",
                    "<strong>What happens next:</strong> UPS usually tries again the next business day.",
                    "To reschedule or choose another delivery option, <a href=\"https://www.ups.com/track?tracknum=1Z999AA10123456784&amp;loc=en_US\">use the UPS tracking page</a>",
                ],
                true,
            ),
            (
                "available-for-pickup",
                Some(with_estimate(tracking_for(MessageKind::AvailableForPickup))),
                "Ready for pickup",
                None,
                vec![
                    "waiting for you to pick it up at:",
                    "<strong>Held at The UPS Store #4521, 200 Court St<br>Brooklyn, NY, US</strong>",
                    "bring a photo ID and your tracking number",
                    "held for about a week",
                ],
                false,
            ),
            (
                "delivered",
                Some(with_estimate(tracking_for(MessageKind::Delivered))),
                "Delivered",
                Some("Delivered"),
                vec![
                    "delivered on <strong>Friday, November 27 at 2:30 PM EST</strong>",
                    "Not received it?",
                    "<a href=\"https://demo-shop.example/help\">contact our support team</a>",
                ],
                false,
            ),
            (
                "exception",
                Some(with_estimate(tracking_for(MessageKind::Exception))),
                "Delivery problem",
                None,
                vec![
                    "UPS reported a problem delivering your parcel: “Shipment exception: sorting error at the facility” (Memphis, TN, US)",
                    "Don't worry, we're on it.",
                    "<a href=\"https://demo-shop.example/help\">Contact our support team</a> or email",
                ],
                false,
            ),
            (
                "action-needed",
                Some(with_estimate(tracking_for(MessageKind::ActionNeeded))),
                "Action needed",
                None,
                vec![
                    "UPS can't deliver your parcel until it hears from you: “Delivery exception (Awaiting additional delivery information from recipient)”",
                    "<strong>What to do:</strong> <a href=\"https://www.ups.com/track?tracknum=1Z999AA10123456784&amp;loc=en_US\">open the UPS tracking page</a>",
                ],
                false,
            ),
            (
                "returned-to-sender",
                Some(with_estimate(tracking_for(MessageKind::ReturnedToSender))),
                "Returned to sender",
                None,
                vec![
                    "UPS couldn't deliver your parcel and is returning it to us.",
                    "“Returned to shipper: address could not be corrected”",
                    "we'll send it to you again or refund you",
                    "<a href=\"https://demo-shop.example/help\">Contact our support team</a>",
                ],
                false,
            ),
        ];
        for (name, tracking, headline, step, phrases, estimate_shown) in cases {
            let view = store_view(order.clone(), vec![(whole_order(), tracking)]);
            let html = render_tracking_page(&settings, &view.tracked(), page_now()).unwrap();
            assert_order_page(&html, name);
            write_page(&format!("tracking-{name}"), &html);
            assert!(html.contains(&format!("<p class=\"status\">{headline}</p>")), "{name}:\n{html}");
            assert!(html.contains("<h2 id=\"shipment-1\">Your shipment</h2>"), "{name}");
            match step {
                Some(step) => {
                    assert_eq!(current_step(&html), vec![step], "{name}:\n{html}");
                    assert!(html.contains("<ol class=\"steps\" aria-label=\"Delivery progress\">"), "{name}");
                    assert!(!html.contains("class=\"panel"), "{name}");
                    // Done steps say so in words too.
                    let done = STEPS.iter().position(|s| *s == step).unwrap();
                    assert_eq!(html.matches("<span class=\"vh\"> (done)</span>").count(), done, "{name}");
                }
                None => {
                    assert!(current_step(&html).is_empty() && !html.contains("class=\"steps\""), "{name}:\n{html}");
                    assert!(html.contains("<div class=\"panel"), "{name}:\n{html}");
                }
            }
            for phrase in phrases {
                assert!(html.contains(phrase), "{name}: missing {phrase:?} in\n{html}");
            }
            // A calendar date is shown as it is: December 1 is tomorrow in New York.
            assert_eq!(
                html.contains("<dt>Carrier's estimate:</dt> <dd>Tuesday, December 1 (tomorrow)</dd>"),
                estimate_shown,
                "{name}:\n{html}"
            );
            assert!(html.contains("<dt>Promised delivery:</dt> <dd>Friday, December 4</dd>"), "{name}");
            for expected in [
                "<h1>Order #1001</h1>",
                "<dt>Placed:</dt> <dd>November 23, 2026</dd>",
                "<dt>Carrier:</dt> <dd>UPS</dd>",
                "<dt>Tracking number:</dt> <dd>1Z999AA10123456784</dd>",
                "<li>2 × Linen shirt (M / Sand)</li>",
                "<li>1 × Canvas tote</li>",
                "Track on the UPS website</a>",
            ] {
                assert!(html.contains(expected), "{name}: missing {expected:?} in\n{html}");
            }
            assert!(!html.contains("Not shipped yet"), "{name}");
            assert!(html.len() < 30 * 1024, "{name}: {} bytes", html.len());
        }
    }

    #[test]
    fn tracking_page_dates_are_calendar_dates_whatever_the_time_zone() {
        let mut settings = settings();
        let order = order();
        let tracking = journey(Vec::new(), december(1));
        for (zone, suffix) in [
            (chrono_tz::America::New_York, " (tomorrow)"),
            // Monday noon UTC is already Tuesday 2 AM at UTC+14 (1 AM at UTC+13), still Monday 1 AM at
            // UTC-11 and 9 PM at UTC+9.
            (chrono_tz::Pacific::Kiritimati, " (today)"),
            (chrono_tz::Pacific::Pago_Pago, " (tomorrow)"),
            (chrono_tz::UTC, " (tomorrow)"),
            (chrono_tz::Asia::Tokyo, " (tomorrow)"),
            (chrono_tz::Pacific::Auckland, " (today)"),
        ] {
            settings.time_zone = zone;
            let view = store_view(order.clone(), vec![(whole_order(), Some(tracking.clone()))]);
            let html = render_tracking_page(&settings, &view.tracked(), page_now()).unwrap();
            assert!(html.contains(&format!("<dd>Tuesday, December 1{suffix}</dd>")), "{zone}:\n{html}");
            assert!(html.contains("<dd>Friday, December 4</dd>"), "{zone}");
            assert!(!html.contains("November 30</dd>") && !html.contains("December 2"), "{zone}");
        }
        // Just after midnight UTC on the day itself, New York is still on the evening before.
        settings.time_zone = chrono_tz::America::New_York;
        let view = store_view(order, vec![(whole_order(), Some(tracking))]);
        let html = render_tracking_page(&settings, &view.tracked(), at("2026-12-01T00:30:00Z")).unwrap();
        assert!(html.contains("<dd>Tuesday, December 1 (tomorrow)</dd>"), "{html}");
    }

    #[test]
    fn tracking_history_is_newest_first_in_the_shop_time_zone() {
        use TrackingStatus as S;
        let mut settings = settings();
        let tracking = journey(
            vec![
                checkpoint(S::InTransit, "2026-11-27T16:18:00Z", "Arrived at facility", "Newark, NJ, US"),
                checkpoint(S::OutForDelivery, "2026-11-28T12:05:00Z", "", "Brooklyn, NY, US"),
            ],
            None,
        );
        let view = store_view(order(), vec![(whole_order(), Some(tracking))]);
        let html = render_tracking_page(&settings, &view.tracked(), page_now()).unwrap();
        write_page("tracking-history", &html);
        assert!(html.contains("Newest first; times in America/New York time."), "{html}");
        let entry = "<li><time datetime=\"2026-11-27T11:18-05:00\">Nov 27, 11:18 AM</time>Arrived at facility\
                     <span class=\"loc\">Newark, NJ, US</span></li>";
        assert!(html.contains(entry), "{html}");
        // Without a message, the status says what happened.
        assert!(html.contains("Nov 28, 7:05 AM</time>Out for delivery<span"), "{html}");
        let order_of = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("{needle:?} missing"));
        let (newest, middle, oldest) =
            (order_of("Nov 28, 7:05 AM"), order_of("Nov 27, 11:18 AM"), order_of("Shipper created a label"));
        assert!(newest < middle && middle < order_of("Departed from facility") && order_of("Departed") < oldest);
        assert!(html.contains("<time datetime=\"2026-11-25T10:00-05:00\">Nov 25, 10:00 AM</time>"), "{html}");

        settings.time_zone = chrono_tz::Europe::Berlin;
        let html = render_tracking_page(&settings, &view.tracked(), page_now()).unwrap();
        assert!(html.contains("<time datetime=\"2026-11-27T17:18+01:00\">Nov 27, 5:18 PM</time>"), "{html}");
        assert!(html.contains("times in Europe/Berlin time"), "{html}");
    }

    #[test]
    fn a_multi_shipment_order_has_a_card_per_shipment_and_lists_what_has_not_shipped() {
        let settings = settings();
        let order = return_order();
        let mut first = shipment(vec![shipped("li-1", "Linen shirt", 2)]);
        first.created_at = at("2026-11-24T15:00:00Z");
        let mut second = shipment(vec![shipped("li-2", "", 1)]);
        second.id = ShipmentId::parse("f-2").unwrap();
        second.carrier = Some("USPS".to_owned());
        second.tracking_number = Some(TrackingNumber::parse("9400111899223197428490").unwrap());
        second.tracking_url = Some("javascript:alert(1)".to_owned());
        // Stored in another order than they were created.
        let view = store_view(order, vec![(second, None), (first, Some(tracking_for(MessageKind::Delivered)))]);
        let html = render_tracking_page(&settings, &view.tracked(), page_now()).unwrap();
        assert_order_page(&html, "multi");
        write_page("tracking-multi", &html);
        let one = html.find("<h2 id=\"shipment-1\">Shipment 1 of 2</h2>").expect(&html);
        let two = html.find("<h2 id=\"shipment-2\">Shipment 2 of 2</h2>").expect(&html);
        let rest = html.find("<h2 id=\"not-shipped\">Not shipped yet</h2>").expect(&html);
        assert!(one < two && two < rest, "{html}");
        let (card_one, card_two, unshipped) = (&html[one..two], &html[two..rest], &html[rest..]);
        assert!(
            card_one.contains("<p class=\"status\">Delivered</p>") && card_one.contains("2 × Linen shirt (M / Sand)")
        );
        assert!(!card_one.contains("Canvas tote") && !card_one.contains("Wool scarf"), "{card_one}");
        assert!(card_two.contains("<p class=\"status\">Shipped</p>"), "{card_two}");
        // The item's title comes from the order when the fulfillment has none.
        assert!(card_two.contains("<li>1 × Canvas tote</li>") && card_two.contains("<dd>USPS</dd>"), "{card_two}");
        assert!(!card_two.contains("Track on the") && !html.contains("javascript:"), "{card_two}");
        assert!(unshipped.contains("<li>1 × Wool scarf</li>") && !unshipped.contains("Linen shirt"), "{unshipped}");
        assert_eq!(current_step(&html), vec!["Delivered", "Shipped"]);
        assert_eq!(html.matches("<section class=\"card\"").count(), 3);
    }

    #[test]
    fn an_order_not_shipped_yet_is_being_prepared() {
        let settings = settings();
        let view = store_view(order(), Vec::new());
        let html = render_tracking_page(&settings, &view.tracked(), page_now()).unwrap();
        assert_order_page(&html, "ordered");
        write_page("tracking-ordered", &html);
        assert!(html.contains("<h2 id=\"order-status\" class=\"status\">Ordered — we're preparing your order</h2>"));
        assert_eq!(current_step(&html), vec!["Ordered"], "{html}");
        assert!(html.contains("We promised delivery by <strong>Friday, December 4</strong>"), "{html}");
        assert!(html.contains("<li>2 × Linen shirt (M / Sand)</li>") && html.contains("<li>1 × Canvas tote</li>"));
        assert!(!html.contains("Not shipped yet") && !html.contains("Tracking history"), "{html}");

        let mut cancelled = order();
        cancelled.status = crate::domain::order::OrderStatus::Cancelled;
        let html = render_tracking_page(&settings, &store_view(cancelled, Vec::new()).tracked(), page_now()).unwrap();
        assert!(html.contains("This order was cancelled.") && !html.contains("preparing"), "{html}");
    }

    #[test]
    fn a_big_order_tracking_page_stays_small() {
        use TrackingStatus as S;
        let settings = settings();
        let mut order = return_order();
        for (i, line) in order.items.iter_mut().enumerate() {
            line.title = format!("Organic cotton heavyweight crew-neck sweatshirt, style {i}");
            line.variant = Some("XL / Heather charcoal grey".to_owned());
        }
        let start = at("2026-11-20T08:00:00Z");
        let busy = |n: i64| {
            let events = (0..20)
                .map(|i| {
                    let status = if i == 0 { S::LabelCreated } else { S::InTransit };
                    let when = (start + chrono::Duration::hours(n * 7 + i * 5)).to_rfc3339();
                    checkpoint(
                        status,
                        &when,
                        "Arrived at the regional sort facility and is being processed for onward transit",
                        "Memphis International Hub, Memphis, TN, US",
                    )
                })
                .collect();
            tracked_by(events, december(3))
        };
        let shipments = (0..3)
            .map(|n| {
                let mut s = shipment(vec![shipped(&format!("li-{}", n + 1), "", 1)]);
                s.id = ShipmentId::parse(&format!("f-{n}")).unwrap();
                (s, Some(busy(i64::from(n))))
            })
            .collect();
        let html = render_tracking_page(&settings, &store_view(order, shipments).tracked(), page_now()).unwrap();
        write_page("tracking-big", &html);
        assert_eq!(html.matches("<li><time datetime=").count(), 60);
        assert!(html.contains("<h2 id=\"shipment-3\">Shipment 3 of 3</h2>"), "{html}");
        assert!(html.len() < 30 * 1024, "{} bytes", html.len());

        // A runaway carrier: the newest checkpoints, and a count of the rest.
        let events = (0..60)
            .map(|i| checkpoint(S::InTransit, &(start + chrono::Duration::hours(i)).to_rfc3339(), &"x".repeat(500), ""))
            .collect();
        let view = store_view(return_order(), vec![(whole_order(), Some(tracked_by(events, None)))]);
        let html = render_tracking_page(&settings, &view.tracked(), page_now()).unwrap();
        assert_eq!(html.matches("<li><time datetime=").count(), TIMELINE_MAX_CHECKPOINTS);
        assert!(html.contains("35 earlier updates not shown; see them on the carrier's website."), "{html}");
        assert!(html.contains(&format!("{}…", "x".repeat(PAGE_TEXT_MAX_CHARS - 1))));
        assert!(html.len() < 30 * 1024, "{} bytes", html.len());
        // The newest one is listed first.
        assert!(html.contains("<time datetime=\"2026-11-22T02:00-05:00\">Nov 22, 2:00 AM</time>"), "{html}");
    }

    #[test]
    fn a_tracking_page_says_when_the_carriers_older_history_is_no_longer_kept() {
        use crate::domain::tracking::MAX_CHECKPOINTS;
        let start = at("2026-11-20T08:00:00Z");
        let events = (0..MAX_CHECKPOINTS + 40)
            .map(|i| {
                let when = (start + chrono::Duration::minutes(i as i64)).to_rfc3339();
                checkpoint(TrackingStatus::InTransit, &when, &format!("Scan {i}"), "")
            })
            .collect();
        let tracking = tracked_by(events, None);
        assert_eq!(tracking.checkpoints.len(), MAX_CHECKPOINTS);
        let view = store_view(return_order(), vec![(whole_order(), Some(tracking))]);
        let html = render_tracking_page(&settings(), &view.tracked(), page_now()).unwrap();
        let shown_not = MAX_CHECKPOINTS - TIMELINE_MAX_CHECKPOINTS;
        // The 40th scan (index 39), 8:39 AM UTC, is the newest left out: 3:39 AM in New York.
        assert!(
            html.contains(&format!(
                "{shown_not} earlier updates not shown, and older ones (up to Nov 20, 3:39 AM) are no longer kept; \
                 see them on the carrier's website."
            )),
            "{html}"
        );
        // A short history says nothing of the kind.
        let view = store_view(return_order(), vec![(whole_order(), Some(journey(Vec::new(), None)))]);
        let html = render_tracking_page(&settings(), &view.tracked(), page_now()).unwrap();
        assert!(!html.contains("no longer kept") && !html.contains("not shown"), "{html}");
    }

    #[test]
    fn carrier_words_are_escaped_on_the_tracking_page() {
        use TrackingStatus as S;
        let settings = settings();
        let mut order = order();
        order.items[1].title = "Tote <b>bold</b>".to_owned();
        // No title from the fulfillment: the order's is shown.
        let mut ship = whole_order();
        ship.items[1].title = String::new();
        for status in [S::InTransit, S::Exception, S::AvailableForPickup, S::DeliveryAttempted, S::ReturnedToSender] {
            let tracking = journey(
                vec![checkpoint(
                    status,
                    "2026-11-28T10:00:00Z",
                    "<script>alert('x')</script> & \"more\"",
                    "<i>Memphis</i>",
                )],
                None,
            );
            let view = store_view(order.clone(), vec![(ship.clone(), Some(tracking))]);
            let html = render_tracking_page(&settings, &view.tracked(), page_now()).unwrap();
            assert_order_page(&html, status.as_str());
            assert!(!html.contains("<b>") && !html.contains("<i>"), "{status:?}:\n{html}");
            assert!(
                html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;more&quot;"),
                "{status:?}:\n{html}"
            );
            assert!(html.contains("&lt;i&gt;Memphis&lt;/i&gt;") && html.contains("Tote &lt;b&gt;bold&lt;/b&gt;"));
        }
    }

    #[test]
    fn tracking_page_can_be_overridden() {
        let mut custom = settings();
        custom.templates.insert(
            "tracking_page.html".to_owned(),
            "{% extends \"page_layout.html\" %}{% block content %}<h1>{{ order.number }}: \
             {% for s in shipments %}{{ s.headline }}{% endfor %}</h1>{% endblock %}"
                .to_owned(),
        );
        assert!(check_overrides(&custom.templates).is_ok());
        let view = store_view(order(), vec![(whole_order(), Some(tracking_for(MessageKind::Delivered)))]);
        let html = render_tracking_page(&custom, &view.tracked(), page_now()).unwrap();
        assert!(html.contains("<h1>#1001: Delivered</h1>") && html.contains("<main>"), "{html}");
    }

    #[test]
    fn light_brand_colours_get_a_dark_accent_for_lines_and_marks() {
        let mut settings = settings();
        settings.brand_color = "#FDE047".to_owned();
        let view = store_view(order(), vec![(whole_order(), Some(tracking_for(MessageKind::OutForDelivery)))]);
        let html = render_tracking_page(&settings, &view.tracked(), page_now()).unwrap();
        write_page("tracking-light-brand", &html);
        // Filled marks keep the brand colour with dark text; their outline and the bar are dark.
        assert!(html.contains("border-color:#111827;background:#fde047;color:#111827"), "{html}");
        assert!(html.contains(".steps .done::before,.steps .current::before{background:#111827}"), "{html}");
        assert!(html.contains("background:#fde047;color:#111827"), "{html}");
        assert!(contrast_with_white("#0f766e") >= 3.0 && contrast_with_white("#fde047") < 3.0);
    }
}
