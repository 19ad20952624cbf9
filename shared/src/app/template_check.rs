//! Before a shop's settings are saved (`ppx shop put`): every message kind on every channel and
//! every customer page renders with its template overrides, strictly (no fallback to the
//! defaults), for a sample order with a shipment, its carrier scans, a return and review links.
//! Without this, an override that compiles but fails on real data would make every order of the
//! shop fall back to the defaults (and log an error each time) until someone noticed.
//!
//! The sample data is the repository's own sample webhooks, parsed by the real parsers.

use crate::domain::ids::ReturnId;
use crate::domain::link::{CustomerLinks, LinkKey, LinkKeyring};
use crate::domain::messages::MessageKind;
use crate::domain::returns::{RequestedItem, Resolution, Return, ReturnRequest, ReturnState, decide, returnable_items};
use crate::domain::settings::ShopSettings;
use crate::domain::tracking::ShipmentTracking;
use crate::inbound::platforms::{PlatformEvent, shopify};
use crate::render::{
    MessageContext, Page, TemplateError, TrackedOrder, check_overrides, has_sms, render_email, render_page,
    render_return_result, render_returns_portal, render_sms, render_tracking_page,
};
use chrono::{DateTime, Utc};

const SAMPLE_ORDER: &[u8] = include_bytes!("../../../events/shopify-orders-create.json");
const SAMPLE_FULFILLMENT: &[u8] = include_bytes!("../../../events/shopify-fulfillments-create.json");
const SAMPLE_SCANS: &[u8] = include_bytes!("../../../events/generic-tracking-event.json");

/// Renders everything a customer can receive or open with `settings`' overrides; the first
/// failure names its template. Without overrides there is nothing to check.
pub fn check_overrides_render(settings: &ShopSettings) -> Result<(), TemplateError> {
    check_overrides(&settings.templates)?;
    if settings.templates.is_empty() {
        return Ok(());
    }
    let (order, shipment) = sample_order(settings);
    let tracking = ShipmentTracking::default().merge(
        &crate::inbound::carriers::generic_tracking::parse(SAMPLE_SCANS)
            .ok()
            .flatten()
            .expect("the sample scans parse"),
    );
    let now: DateTime<Utc> = tracking.status_at.unwrap_or(order.placed_at) + chrono::Duration::hours(2);
    let links = CustomerLinks::new(
        LinkKeyring::legacy(LinkKey::from_secret("a sample link key, never used to send")),
        "https://ppx.example",
    );
    let order_links = links.for_order(&order.shop, &order.id, now);
    let review = links.for_review(&order.shop, &order.id, now);
    let ret = sample_return(settings, &order, now);
    let about_order = MessageContext::about_order(settings, &order, &order_links);
    for kind in MessageKind::ALL.into_iter().filter(|k| k.is_for_customer()) {
        let ctx = MessageContext {
            shipment: Some(&shipment),
            tracking: Some(&tracking),
            review: (kind == MessageKind::ReviewRequest).then_some(&review),
            return_update: (kind == MessageKind::ReturnUpdate).then_some(&ret),
            ..about_order
        };
        render_email(kind, &ctx)?;
        if has_sms(kind) {
            render_sms(kind, &ctx)?;
        }
    }
    let tracked = TrackedOrder { order: &order, shipments: vec![(&shipment, Some(&tracking))] };
    render_tracking_page(settings, &tracked, now)?;
    let items = returnable_items(&settings.return_policy, &order, None, &[], now, settings.time_zone);
    render_returns_portal(settings, &order, &items, &[], "/returns/sample", "sample-key", None)?;
    render_return_result(settings, &order, &ret, "/returns/sample")?;
    for page in [
        Page::SurveyConfirm { score: 9, action: "/survey/sample" },
        Page::SurveyThanks { score: 3, comment_action: "/survey/sample", comment_saved: false },
        Page::SurveyThanks { score: 10, comment_action: "/survey/sample", comment_saved: true },
        Page::UnsubscribeConfirm { action: "/unsubscribe/sample" },
        Page::Unsubscribed,
        Page::NotFound,
        Page::Invalid { message: "Please choose a score from 0 to 10." },
    ] {
        render_page(Some(settings), &page)?;
    }
    Ok(())
}

/// The sample Shopify order and its fulfillment, as the shop's.
fn sample_order(settings: &ShopSettings) -> (crate::domain::order::Order, crate::domain::order::Shipment) {
    let Ok(PlatformEvent::Order { order, .. }) = shopify::parse(&settings.shop, "orders/create", SAMPLE_ORDER) else {
        unreachable!("the sample order parses")
    };
    let Ok(PlatformEvent::Fulfillment { shipment }) =
        shopify::parse(&settings.shop, "fulfillments/create", SAMPLE_FULFILLMENT)
    else {
        unreachable!("the sample fulfillment parses")
    };
    (*order, shipment)
}

/// A return of the order's first line, as the shop's policy decides it.
fn sample_return(settings: &ShopSettings, order: &crate::domain::order::Order, now: DateTime<Utc>) -> Return {
    let line = order.items.first().and_then(|l| l.id.clone().or_else(|| l.sku.clone())).unwrap_or_default();
    let reason = settings.return_policy.effective_reasons().first().map(|r| r.code.clone()).unwrap_or_default();
    let request = ReturnRequest {
        order_id: order.id.clone(),
        items: vec![RequestedItem { line_item: line, quantity: 1, reason, comment: None, photo_urls: Vec::new() }],
        resolution: Resolution::Refund,
        comment: None,
    };
    let decision = decide(&settings.return_policy, order, Some(now), &[], &request, now, settings.time_zone)
        .expect("the sample return is well-formed");
    Return {
        id: ReturnId::parse("R0000000000000001").expect("a return id"),
        request,
        decision,
        state: ReturnState::Approved,
        created_at: now,
        updated_at: now,
        tracking_number: None,
        label_url: None,
        operator_note: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ShopSettings {
        ShopSettings::from_json(include_str!("../../../events/shop.example.json")).unwrap()
    }

    #[test]
    fn the_example_shop_and_overrides_that_render_pass() {
        let mut settings = settings();
        assert!(check_overrides_render(&settings).is_ok());
        settings.templates.insert("shipped.subject.txt".into(), "{{ shop.name }}: #{{ order.number }} ships".into());
        settings.templates.insert("tracking_page.html".into(), "{% extends \"page_layout.html\" %}".into());
        check_overrides_render(&settings).unwrap();
    }

    #[test]
    fn an_override_that_compiles_but_fails_on_an_order_is_refused_with_its_name() {
        for (name, source) in [
            ("delivered.html", "{{ order.numbr }}"),
            ("return_update.sms.txt", "{{ return_update.nope.deeper }}"),
            ("review_request.txt", "No unsubscribe link here"),
            ("survey_confirm.html", "{{ nothing.here }}"),
            ("returns_portal.html", "{% for x in items %}{{ x.nope.deeper }}{% endfor %}"),
            ("order_confirmation.sms.txt", "{% for i in range(400) %}{{ tracking_url }}{% endfor %}"),
            ("shipped.html", "{{ [1] * 9 }}"),
        ] {
            let mut settings = settings();
            settings.templates.insert(name.into(), source.into());
            let err = check_overrides_render(&settings).expect_err(name);
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }
}
