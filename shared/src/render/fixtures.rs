//! The test fixtures every render test uses: the demo shop's settings, its order (#1001: two
//! linen shirts and a canvas tote), shipments, tracking journeys through the real merge, returns,
//! and the checks shared by the page tests. Helpers only one file's tests use stay in that file.

use super::email::MessageContext;
use super::format::one_line;
use crate::domain::ids::{OrderId, ReturnId, ShipmentId, ShopId, TrackingNumber};
use crate::domain::messages::MessageKind;
use crate::domain::money::{Currency, Money};
use crate::domain::order::{
    Customer, LineItem, Order, OrderStatus, PaymentStatus, Platform, Shipment, ShipmentItem, Totals,
};
use crate::domain::returns::{
    Decision, ItemDecision, ItemEligibility, RequestedItem, Resolution, Return, ReturnRequest, ReturnState,
    RuleOutcome, Verdict,
};
use crate::domain::settings::ShopSettings;
use crate::domain::tracking::{ShipmentTracking, TrackingEvent, TrackingStatus};
use chrono::TimeZone;
use chrono::{DateTime, NaiveDate, Utc};

pub(super) const TRACKING_URL: &str = "https://t.ppx.example/track/Xk2b9Qw";
pub(super) const RETURNS_URL: &str = "https://t.ppx.example/returns/Pq7Lm3z";

pub(super) fn settings() -> ShopSettings {
    ShopSettings::from_json(include_str!("../../../events/shop.example.json")).unwrap()
}

pub(super) fn usd(amount: &str) -> Money {
    Money::parse(amount, Currency::parse("USD").unwrap()).unwrap()
}

pub(super) fn item(id: &str, title: &str, variant: Option<&str>, quantity: u32, price: &str) -> LineItem {
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

pub(super) fn order() -> Order {
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

pub(super) fn shipment(items: Vec<ShipmentItem>) -> Shipment {
    Shipment {
        id: ShipmentId::parse("f-1").unwrap(),
        order_id: OrderId::parse("820982911946154508").unwrap(),
        tracking_number: Some(TrackingNumber::parse("1Z999AA10123456784").unwrap()),
        carrier: Some("UPS".to_owned()),
        tracking_url: Some("https://www.ups.com/track?tracknum=1Z999AA10123456784&loc=en_US".to_owned()),
        items,
        created_at: Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap(),
        updated_at: Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap(),
    }
}

pub(super) fn shipped(line_item_id: &str, title: &str, quantity: u32) -> ShipmentItem {
    ShipmentItem { line_item_id: Some(line_item_id.to_owned()), title: title.to_owned(), quantity }
}

pub(super) fn whole_order() -> Shipment {
    shipment(vec![shipped("li-1", "Linen shirt", 2), shipped("li-2", "Canvas tote", 1)])
}

pub(super) fn ctx<'a>(
    settings: &'a ShopSettings,
    order: &'a Order,
    shipment: Option<&'a Shipment>,
) -> MessageContext<'a> {
    MessageContext {
        settings,
        order,
        shipment,
        tracking: None,
        tracking_url: TRACKING_URL,
        returns_url: RETURNS_URL,
        review: None,
        return_update: None,
    }
}

pub(super) fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}

// Tracking: carrier checkpoints and a parcel's journey.

pub(super) fn checkpoint(status: TrackingStatus, at: &str, message: &str, location: &str) -> TrackingEvent {
    TrackingEvent {
        status,
        occurred_at: at.parse().unwrap(),
        provider_status: status.as_str().to_owned(),
        message: Some(message.to_owned()).filter(|m| !m.is_empty()),
        location: Some(location.to_owned()).filter(|l| !l.is_empty()),
    }
}

/// UPS's update of the order's shipment with `events`, through the real merge.
pub(super) fn tracked_by(events: Vec<TrackingEvent>, estimate: Option<NaiveDate>) -> ShipmentTracking {
    use crate::domain::tracking::CarrierUpdate;
    ShipmentTracking::default().merge(&CarrierUpdate {
        tracking_number: TrackingNumber::parse("1Z999AA10123456784").unwrap(),
        carrier: Some("UPS".to_owned()),
        events,
        estimated_delivery: estimate,
        public_url: Some("https://www.ups.com/track?tracknum=1Z999AA10123456784".to_owned()),
        provider_reference: None,
    })
}

/// Label and first scans, then `last`, through the real merge.
pub(super) fn journey(last: Vec<TrackingEvent>, estimate: Option<NaiveDate>) -> ShipmentTracking {
    let mut events = vec![
        checkpoint(TrackingStatus::LabelCreated, "2026-11-25T15:00:00Z", "Shipper created a label", ""),
        checkpoint(TrackingStatus::InTransit, "2026-11-26T03:12:00Z", "Departed from facility", "Columbus, OH, US"),
    ];
    events.extend(last);
    tracked_by(events, estimate)
}

pub(super) fn out_for_delivery_scan() -> TrackingEvent {
    checkpoint(TrackingStatus::OutForDelivery, "2026-11-27T12:05:00Z", "Out for delivery", "Brooklyn, NY, US")
}

/// A plausible tracking state for each kind.
pub(super) fn tracking_for(kind: MessageKind) -> ShipmentTracking {
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
                "Shipment exception: sorting error at the facility",
                "Memphis, TN, US",
            )],
            None,
        ),
        MessageKind::ActionNeeded => journey(
            vec![
                out_for_delivery_scan(),
                checkpoint(
                    S::Exception,
                    "2026-11-27T16:10:00Z",
                    "Delivery exception (Awaiting additional delivery information from recipient)",
                    "Brooklyn, NY, US",
                ),
            ],
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
        MessageKind::Stalled => journey(
            vec![checkpoint(S::InTransit, "2026-11-30T14:12:00Z", "Departed FedEx hub", "Memphis, TN, US")],
            None,
        ),
        MessageKind::OrderConfirmation
        | MessageKind::Shipped
        | MessageKind::ReviewRequest
        | MessageKind::ReturnUpdate
        | MessageKind::Untracked
        | MessageKind::NotShipped => ShipmentTracking::default(),
    }
}

// Returns: the policy's texts and a return of some of the order's items.

pub(super) const LABEL_URL: &str = "https://labels.example/l/8842?fmt=pdf&size=4x6";
pub(super) const ADDRESS: &str = "Demo Shop Returns, 100 Warehouse Way, Secaucus, NJ 07094, USA";
pub(super) const PACKING: &str =
    "Pack the items in their original packaging if you can, and put the order number on a note inside.";
pub(super) const EXCLUDED_TEXT: &str = "This item can't be returned (final sale, hygiene or gift card).";
pub(super) const PHOTO_TEXT: &str = "Please add a photo showing the problem; our team will review the request.";
pub(super) const TEAM_TEXT: &str = "Our team reviews this return and will get back to you within two business days.";

/// The order with a third line, so the fee and the amounts of the examples add up:
/// 2 x $45.00 + $8.00 = $98.00; less the $4.95 fee, $93.05; plus 10%, $107.80.
pub(super) fn return_order() -> Order {
    let mut order = order();
    order.items.push(item("li-3", "Wool scarf", None, 1, "8.00"));
    order
}

pub(super) fn requested(line_item: &str, quantity: u32, reason: &str, comment: Option<&str>) -> RequestedItem {
    RequestedItem {
        line_item: line_item.to_owned(),
        quantity,
        reason: reason.to_owned(),
        comment: comment.map(str::to_owned),
        photo_urls: Vec::new(),
    }
}

pub(super) fn decided(
    line_item: &str,
    title: &str,
    quantity: u32,
    reason: &str,
    verdict: Verdict,
    rules: Vec<RuleOutcome>,
    value: &str,
) -> ItemDecision {
    let fee = rules.iter().find_map(|rule| match rule {
        RuleOutcome::FeeApplied { fee, .. } => Some(*fee),
        _ => None,
    });
    ItemDecision {
        line_item: line_item.to_owned(),
        title: title.to_owned(),
        quantity,
        reason: reason.to_owned(),
        verdict,
        rules,
        value: usd(value),
        fee,
    }
}

/// Two shirts that don't fit and a scarf (changed mind, $4.95 fee) go back; the tote is
/// final sale.
pub(super) fn a_return(state: ReturnState, resolution: Resolution, amount: &str) -> Return {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 15, 0, 0).unwrap();
    Return {
        id: ReturnId::parse("R0000000000000ae1").unwrap(),
        request: ReturnRequest {
            order_id: OrderId::parse("820982911946154508").unwrap(),
            items: vec![
                requested("li-1", 2, "doesnt_fit", None),
                requested("li-3", 1, "changed_mind", Some("Not my colour")),
                requested("li-2", 1, "damaged", None),
            ],
            resolution,
            comment: None,
        },
        decision: Decision {
            verdict: Verdict::Approved,
            items: vec![
                decided("li-1", "Linen shirt", 2, "doesnt_fit", Verdict::Approved, Vec::new(), "90.00"),
                decided(
                    "li-3",
                    "Wool scarf",
                    1,
                    "changed_mind",
                    Verdict::Approved,
                    vec![RuleOutcome::FeeApplied { reason: "changed_mind".to_owned(), fee: usd("4.95") }],
                    "8.00",
                ),
                decided(
                    "li-2",
                    "Canvas tote",
                    1,
                    "damaged",
                    Verdict::Rejected,
                    vec![
                        RuleOutcome::ExcludedItem { matched: "final-sale".to_owned() },
                        RuleOutcome::PhotoRequired { reason: "damaged".to_owned() },
                    ],
                    "299.95",
                ),
            ],
            rules: Vec::new(),
            amount: usd(amount),
        },
        state,
        created_at: at,
        updated_at: at,
        tracking_number: None,
        label_url: None,
        operator_note: None,
    }
}

pub(super) fn refund(state: ReturnState) -> Return {
    a_return(state, Resolution::Refund, "93.05")
}

/// What a reader sees of an HTML part: no tags, entities decoded, whitespace collapsed.
pub(super) fn visible(html: &str) -> String {
    let body = html.split("<body").nth(1).unwrap_or(html);
    let mut text = String::with_capacity(body.len());
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = one_line(&text);
    [
        ("&#x27;", "'"),
        ("&quot;", "\""),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&ldquo;", "\""),
        ("&rdquo;", "\""),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(text, |text, (entity, c)| text.replace(entity, c))
    .replace(" .", ".")
    .replace(" ,", ",")
}

// Order pages: the portal's form and the checks every page passes.

pub(super) const PORTAL_ACTION: &str = "/returns/Pq7Lm3z?v=1&src=email";
pub(super) const FORM_KEY: &str = "7f3c2a9e41b84d0e9c55a1d3e2f06b7a";

/// Checks shared by every order page: a complete, self-contained, accessible document.
pub(super) fn assert_order_page(html: &str, what: &str) {
    assert!(html.starts_with("<!DOCTYPE html>\n"), "{what}");
    for expected in [
        "<html lang=\"en-US\">",
        "<meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<style>",
        "<header class=\"brand\">Demo Shop</header>",
        "<main>",
        "</main>",
        "<h1>",
        "<a href=\"https://demo-shop.example/help\">Contact Demo Shop support</a>",
        "mailto:support@demo-shop.example",
        "background:#0f766e;color:#ffffff",
        "</html>",
    ] {
        assert!(html.contains(expected), "{what}: missing {expected:?} in\n{html}");
    }
    let title = html.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).unwrap();
    assert!(title.ends_with(" | Demo Shop") && title.len() > " | Demo Shop".len(), "{what}: {title}");
    for forbidden in ["<script", "<img", "<link", "<iframe", " src=", "url(", "@import", "javascript:", ">none<"] {
        assert!(!html.contains(forbidden), "{what}: {forbidden:?} in\n{html}");
    }
    // Every labelled control has its label.
    for id in html.split(" id=\"").skip(1).filter_map(|rest| rest.split('"').next()) {
        let control = html.contains(&format!("<select id=\"{id}\""))
            || html.contains(&format!("<textarea id=\"{id}\""))
            || html.contains(&format!("id=\"{id}\" name="));
        if control {
            assert!(html.contains(&format!("<label for=\"{id}\">")), "{what}: no label for {id}");
        }
    }
}

pub(super) fn write_page(name: &str, html: &str) {
    let _ = std::fs::write(std::env::temp_dir().join(format!("ppx-page-{name}.html")), html);
}

pub(super) fn portal_items(order: &Order, earlier: &[Return]) -> Vec<ItemEligibility> {
    let settings = settings();
    let delivered = Some(at("2026-11-27T19:30:00Z"));
    crate::domain::returns::returnable_items(
        &settings.return_policy,
        order,
        delivered,
        earlier,
        at("2026-12-02T15:00:00Z"),
        settings.time_zone,
    )
}

/// The return order with its tote on final sale.
pub(super) fn portal_order() -> Order {
    let mut order = return_order();
    order.items[1].tags = vec!["Final-Sale".to_owned()];
    order
}
