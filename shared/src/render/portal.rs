//! The returns portal and the answer to a return request. Like the tracking page, complete
//! documents in `page_layout.html` that always carry the shop's look.

use super::email::ShopView;
use super::format::{Times, humanize, item_label, non_empty, one_line, return_policy};
use super::page::{COMMENT_MAX_CHARS, PageOrderView, form_action, html_lang};
use super::return_notice::ReturnView;
use super::{TemplateError, environment, render};
use crate::domain::order::Order;
use crate::domain::returns::{ItemEligibility, Return, ReturnState, RuleOutcome};
use crate::domain::settings::ShopSettings;
use minijinja::value::{Serde, Value};
use serde::Serialize;

/// Up to this many units a quantity is picked from a list; above, it is typed in a number field.
const QUANTITY_SELECT_MAX: u32 = 50;

/// Longest error message the portal shows, in characters.
const PAGE_ERROR_MAX_CHARS: usize = 500;

/// Longest idempotency key the portal puts in its form.
const FORM_KEY_MAX_CHARS: usize = 200;

/// Renders the returns portal of an order (`returns_portal.html`): a plain form that POSTs to
/// `form_action` (`application/x-www-form-urlencoded`, no script needed) with, per returnable
/// line of `items` (from [`crate::domain::returns::returnable_items`]), `qty_{line_item}` (0 to its
/// `max_quantity`, 0 preselected), `reason_{line_item}` (a code of the policy's effective
/// reasons, or empty when none was chosen), `comment_{line_item}` and `photo_{line_item}` (both
/// optional); then `resolution` (`refund`, `store_credit` or `exchange`, only those the policy
/// offers, the first preselected), `exchange_variant` when exchanges are offered, and
/// `idempotency_key` set to `form_key`. Lines that cannot be returned are shown greyed with the
/// reason; `earlier` returns of the order with their state; `error`, when given, in an alert
/// box at the top.
///
/// # Errors
/// As [`render_tracking_page`](super::render_tracking_page), plus [`TemplateError::InvalidPage`]
/// for a form action that is neither a path nor an http(s) URL, or a form key that is empty,
/// longer than 200 characters or has control characters.
pub fn render_returns_portal(
    settings: &ShopSettings,
    order: &Order,
    items: &[ItemEligibility],
    earlier: &[Return],
    form_action: &str,
    form_key: &str,
    error: Option<&str>,
) -> Result<String, TemplateError> {
    let page = PortalView::build(settings, order, items, earlier, form_action, form_key, error)?;
    let env = environment(&super::Family::PAGE, &settings.templates)?;
    render(&env, "returns_portal.html", &Value::from(Serde(page)))
}

/// Renders the answer to a return request (`return_result.html`): for an approved return what
/// comes back, fees, where and how to send the items; while it needs review, why and when the
/// customer hears back; for a rejected one, why for each item. The same view (and texts) as the
/// `return_update` email, under `return_update`; a link back to the portal at `portal_url`.
///
/// # Errors
/// As [`render_tracking_page`](super::render_tracking_page), plus [`TemplateError::InvalidPage`]
/// for a return of another order, or a portal URL that is neither a path nor an http(s) URL.
pub fn render_return_result(
    settings: &ShopSettings,
    order: &Order,
    ret: &Return,
    portal_url: &str,
) -> Result<String, TemplateError> {
    if ret.request.order_id != order.id {
        return Err(TemplateError::InvalidPage { page: "return_result", reason: "the return is of another order" });
    }
    let page = ReturnResultView {
        lang: html_lang(&settings.locale),
        shop: ShopView::build(settings),
        order: PageOrderView::build(order, settings, None),
        return_update: ReturnView::build(ret, settings, order),
        portal_url: form_action(portal_url, "return_result")?,
    };
    let env = environment(&super::Family::PAGE, &settings.templates)?;
    render(&env, "return_result.html", &Value::from(Serde(page)))
}

#[derive(Serialize)]
struct PortalView<'a> {
    lang: String,
    shop: ShopView<'a>,
    order: PageOrderView,
    /// The shop's summary of its policy, or the window in days.
    return_policy: Option<String>,
    action: &'a str,
    form_key: &'a str,
    /// One line, at most 500 characters.
    error: Option<String>,
    /// Every line of the order the portal knows, in order.
    items: Vec<PortalItemView<'a>>,
    /// Whether any item can be returned (otherwise there is no form).
    returnable: bool,
    /// The policy's effective reasons, for every item's select.
    reasons: Vec<ReasonOptionView>,
    /// Labels of the reasons that need a photo: "Arrived damaged".
    photo_reasons: Vec<String>,
    /// The resolutions offered, in the order refund, store credit, exchange.
    resolutions: Vec<ResolutionOptionView>,
    /// Whether exchanges are offered (then the form asks for the variant wanted).
    exchange: bool,
    comment_max_chars: usize,
    photo_url_max_chars: usize,
    variant_max_chars: usize,
    /// The order's earlier returns, newest first.
    earlier: Vec<EarlierReturnView>,
}

#[derive(Serialize)]
struct PortalItemView<'a> {
    /// 1, 2, ...: for element ids (line keys can hold anything).
    number: usize,
    /// The form fields are `qty_{line_item}`, `reason_{line_item}`, ...
    line_item: &'a str,
    title: &'a str,
    variant: Option<&'a str>,
    /// "$45.00".
    unit_price: String,
    max_quantity: u32,
    /// Pick the quantity from a list (up to 50 units), else type it.
    quantity_select: bool,
    /// Why it cannot be returned; None when it can.
    blocked: Option<String>,
}

#[derive(Serialize)]
struct ReasonOptionView {
    code: String,
    /// "Changed my mind (return fee $4.95)".
    label: String,
}

#[derive(Serialize)]
struct ResolutionOptionView {
    value: &'static str,
    /// "Store credit (+10% bonus)".
    label: String,
}

#[derive(Serialize)]
struct EarlierReturnView {
    /// `approved`, `needs_review`, ...
    state: &'static str,
    /// "Approved: send the items back".
    state_label: &'static str,
    /// In the shop's time zone: "December 1, 2026".
    requested_on: String,
    /// "Refund of $93.05 to your original payment".
    resolution_summary: String,
    /// "2 × Linen shirt (M / Sand)".
    items: Vec<String>,
}

impl<'a> PortalView<'a> {
    fn build(
        settings: &'a ShopSettings,
        order: &'a Order,
        items: &'a [ItemEligibility],
        earlier: &'a [Return],
        form_action_url: &'a str,
        form_key: &'a str,
        error: Option<&str>,
    ) -> Result<Self, TemplateError> {
        let action = form_action(form_action_url, "returns_portal")?;
        let form_key = form_key.trim();
        if form_key.is_empty()
            || form_key.chars().count() > FORM_KEY_MAX_CHARS
            || form_key.chars().any(char::is_control)
        {
            return Err(TemplateError::InvalidPage {
                page: "returns_portal",
                reason: "the form key must be 1-200 characters without control characters",
            });
        }
        let policy = &settings.return_policy;
        let effective = policy.effective_reasons();
        let reasons = effective
            .iter()
            .filter(|reason| !reason.code.trim().is_empty())
            .map(|reason| {
                let label = non_empty(Some(&reason.label)).map_or_else(|| humanize(&reason.code), str::to_owned);
                // In its own currency: one in another than the order's goes to review, unconverted.
                let fee = policy.reason_fee(reason);
                ReasonOptionView {
                    code: reason.code.trim().to_owned(),
                    label: match fee {
                        Some(fee) => format!("{label} (return fee {fee})"),
                        None => label,
                    },
                }
            })
            .collect();
        let photo_reasons = effective
            .iter()
            .filter(|reason| reason.requires_photo)
            .map(|reason| non_empty(Some(&reason.label)).map_or_else(|| humanize(&reason.code), str::to_owned))
            .collect();
        let offered = &policy.resolutions;
        let mut resolutions = Vec::new();
        if offered.refund {
            resolutions.push(ResolutionOptionView { value: "refund", label: "Refund to your original payment".into() });
        }
        if offered.store_credit {
            let bonus = offered.store_credit_bonus_percent;
            let label = if bonus > 0 { format!("Store credit (+{bonus}% bonus)") } else { "Store credit".to_owned() };
            resolutions.push(ResolutionOptionView { value: "store_credit", label });
        }
        if offered.exchange {
            resolutions
                .push(ResolutionOptionView { value: "exchange", label: "Exchange for another size or colour".into() });
        }
        let items: Vec<PortalItemView<'a>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| PortalItemView {
                number: i + 1,
                line_item: &item.line_item,
                title: item.title.trim(),
                variant: non_empty(item.variant.as_deref()),
                unit_price: item.unit_price.to_string(),
                max_quantity: item.max_quantity,
                quantity_select: item.max_quantity <= QUANTITY_SELECT_MAX,
                blocked: match (&item.blocked, item.max_quantity) {
                    (Some(rule), _) => Some(blocked_text(rule)),
                    // Nothing left, whatever the caller says.
                    (None, 0) => Some(blocked_text(&RuleOutcome::QuantityExceeded { requested: 0, available: 0 })),
                    (None, _) => None,
                },
            })
            .collect();
        let mut earlier: Vec<&Return> = earlier.iter().filter(|ret| ret.request.order_id == order.id).collect();
        earlier.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        let earlier = earlier
            .into_iter()
            .map(|ret| {
                let view = ReturnView::build(ret, settings, order);
                EarlierReturnView {
                    state: ret.state.as_str(),
                    state_label: return_state_label(ret.state),
                    requested_on: ret.created_at.with_timezone(&settings.time_zone).format("%B %-d, %Y").to_string(),
                    resolution_summary: view.resolution_summary,
                    items: view
                        .items
                        .iter()
                        .map(|item| item_label(item.quantity, item.title.trim(), item.variant, Times::Sign))
                        .collect(),
                }
            })
            .collect();
        Ok(Self {
            lang: html_lang(&settings.locale),
            shop: ShopView::build(settings),
            order: PageOrderView::build(order, settings, None),
            return_policy: return_policy(settings),
            action,
            form_key,
            error: error
                .map(one_line)
                .filter(|e| !e.is_empty())
                .map(|e| e.chars().take(PAGE_ERROR_MAX_CHARS).collect()),
            returnable: items.iter().any(|item| item.blocked.is_none()),
            items,
            reasons,
            photo_reasons,
            exchange: offered.exchange,
            resolutions,
            comment_max_chars: COMMENT_MAX_CHARS,
            photo_url_max_chars: crate::domain::returns::MAX_PHOTO_URL_LEN,
            variant_max_chars: crate::domain::returns::MAX_VARIANT_LEN,
            earlier,
        })
    }
}

/// Why an item cannot be returned, as the portal says it: the rule's customer text, except that
/// an item already returned in full is not something the customer "asked" for here.
fn blocked_text(rule: &RuleOutcome) -> String {
    match rule {
        RuleOutcome::QuantityExceeded { available: 0, .. } => "All of these items are already part of a return.".into(),
        rule => rule.customer_text(),
    }
}

/// A return's state in a few words, for the list of earlier returns.
fn return_state_label(state: ReturnState) -> &'static str {
    match state {
        ReturnState::Approved => "Approved: send the items back",
        ReturnState::NeedsReview => "Waiting for our review",
        ReturnState::Rejected => "Not accepted",
        ReturnState::InTransit => "On its way to us",
        ReturnState::Received => "Received, being checked",
        ReturnState::Refunded => "Refunded",
        ReturnState::Credited => "Store credit issued",
        ReturnState::Exchanged => "Exchange sent",
        ReturnState::Closed => "Closed",
    }
}

#[derive(Serialize)]
struct ReturnResultView<'a> {
    lang: String,
    shop: ShopView<'a>,
    order: PageOrderView,
    /// As in the `return_update` email.
    return_update: ReturnView<'a>,
    portal_url: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::OrderId;
    use crate::domain::returns::{Resolution, Verdict};
    use crate::render::fixtures::*;
    use crate::render::return_notice::REJECTED_AFTER_REVIEW;
    use chrono::NaiveDate;

    #[test]
    fn portal_offers_returnable_items_and_explains_the_others() {
        let settings = settings();
        let order = portal_order();
        let items = portal_items(&order, &[]);
        let html = render_returns_portal(&settings, &order, &items, &[], PORTAL_ACTION, FORM_KEY, None).unwrap();
        assert_order_page(&html, "portal");
        write_page("returns-portal", &html);
        for expected in [
            "<h1>Return items</h1>",
            "Order <strong>#1001</strong>, placed November 23, 2026.",
            "Free returns within 30 days of delivery.",
            "<form method=\"post\" action=\"/returns/Pq7Lm3z?v=1&amp;src=email\" \
             enctype=\"application/x-www-form-urlencoded\">",
            &format!("<input type=\"hidden\" name=\"idempotency_key\" value=\"{FORM_KEY}\">"),
            "<legend>Linen shirt (M / Sand)</legend>",
            "$45.00 each; you can return up to 2.",
            "<label for=\"qty-1\">How many to return?</label>",
            "<select id=\"qty-1\" name=\"qty_li-1\">\n<option value=\"0\" selected>0</option>\n\
             <option value=\"1\">1</option>\n<option value=\"2\">2</option>\n</select>",
            "<label for=\"reason-1\">Reason for returning</label>",
            "<select id=\"reason-1\" name=\"reason_li-1\">\n<option value=\"\" selected>Choose a reason</option>\n\
             <option value=\"damaged\">Arrived damaged</option>\n<option value=\"wrong_item\">Wrong item sent</option>\n\
             <option value=\"doesnt_fit\">Doesn&#x27;t fit</option>\n\
             <option value=\"not_as_described\">Not as described</option>\n\
             <option value=\"changed_mind\">Changed my mind (return fee $4.95)</option>\n</select>",
            "<textarea id=\"comment-1\" name=\"comment_li-1\" rows=\"2\" maxlength=\"2000\"></textarea>",
            "<input type=\"url\" id=\"photo-1\" name=\"photo_li-1\" maxlength=\"2048\"",
            "Needed for: Arrived damaged, Wrong item sent.",
            "<legend>Wool scarf</legend>",
            "<select id=\"qty-3\" name=\"qty_li-3\">",
            "<p class=\"name\">Canvas tote</p>\n<p>This item can&#x27;t be returned (final sale, hygiene or gift card).</p>",
            "<button type=\"submit\">Request return</button>",
        ] {
            assert!(html.contains(expected), "missing {expected:?} in\n{html}");
        }
        assert!(!html.contains("<option value=\"3\">"), "{html}");
        for absent in ["name=\"qty_li-2\"", "name=\"reason_li-2\"", "role=\"alert\"", "earlier returns"] {
            assert!(!html.contains(absent), "{absent:?} in\n{html}");
        }
    }

    #[test]
    fn portal_offers_only_the_shops_resolutions() {
        let mut settings = settings();
        let order = portal_order();
        let items = portal_items(&order, &[]);
        let html = render_returns_portal(&settings, &order, &items, &[], PORTAL_ACTION, FORM_KEY, None).unwrap();
        for expected in [
            "<legend>What would you like instead?</legend>",
            "<label class=\"choice\"><input type=\"radio\" name=\"resolution\" value=\"refund\" checked> Refund to your original payment</label>",
            "<label class=\"choice\"><input type=\"radio\" name=\"resolution\" value=\"store_credit\"> Store credit (+10% bonus)</label>",
            "<label class=\"choice\"><input type=\"radio\" name=\"resolution\" value=\"exchange\"> Exchange for another size or colour</label>",
            "<label for=\"exchange-variant\">Which size or colour would you like instead?</label>",
            "<input type=\"text\" id=\"exchange-variant\" name=\"exchange_variant\" maxlength=\"200\"",
        ] {
            assert!(html.contains(expected), "missing {expected:?} in\n{html}");
        }

        let offered = &mut settings.return_policy.resolutions;
        offered.refund = false;
        offered.exchange = false;
        offered.store_credit_bonus_percent = 0;
        let html = render_returns_portal(&settings, &order, &items, &[], PORTAL_ACTION, FORM_KEY, None).unwrap();
        assert!(html.contains("value=\"store_credit\" checked> Store credit</label>"), "{html}");
        for absent in ["value=\"refund\"", "value=\"exchange\"", "exchange_variant", "bonus"] {
            assert!(!html.contains(absent), "{absent:?} in\n{html}");
        }
        assert_eq!(html.matches("name=\"resolution\"").count(), 1);
    }

    #[test]
    fn portal_shows_the_error_and_earlier_returns() {
        let settings = settings();
        let order = portal_order();
        // An earlier return took the scarf.
        let mut earlier = a_return(ReturnState::Approved, Resolution::StoreCredit, "8.80");
        earlier.decision.items.retain(|item| item.line_item == "li-3");
        earlier.request.items.retain(|item| item.line_item == "li-3");
        let earlier = vec![earlier];
        let items = portal_items(&order, &earlier);
        assert_eq!(items[2].blocked, Some(RuleOutcome::QuantityExceeded { requested: 1, available: 0 }));
        let error = "Please choose a reason for <each> item.\n";
        let html =
            render_returns_portal(&settings, &order, &items, &earlier, PORTAL_ACTION, FORM_KEY, Some(error)).unwrap();
        write_page("returns-portal-error", &html);
        let alert = "<div class=\"error\" role=\"alert\"><p>Please choose a reason for &lt;each&gt; item.</p></div>";
        assert!(html.contains(alert), "{html}");
        assert!(html.find(alert).unwrap() < html.find("<h1>").unwrap(), "the error comes first");
        assert!(
            html.contains("<p class=\"name\">Wool scarf</p>\n<p>All of these items are already part of a return.</p>")
        );
        assert!(!html.contains("name=\"qty_li-3\""), "{html}");
        assert!(html.contains("<h2>Your earlier returns</h2>"), "{html}");
        assert!(
            html.contains(
                "<li><strong>Approved: send the items back</strong>, requested December 1, 2026<br>\
                 Store credit of $8.80 (includes a 10% bonus): 1 × Wool scarf</li>"
            ),
            "{html}"
        );
    }

    #[test]
    fn portal_without_anything_returnable_has_no_form() {
        let settings = settings();
        let order = portal_order();
        let mut items = portal_items(&order, &[]);
        let closed = RuleOutcome::OutsideWindow { last_day: NaiveDate::from_ymd_opt(2026, 12, 27).unwrap() };
        for item in &mut items {
            item.blocked.get_or_insert(closed.clone());
            item.max_quantity = 0;
        }
        let html = render_returns_portal(&settings, &order, &items, &[], PORTAL_ACTION, FORM_KEY, None).unwrap();
        assert_order_page(&html, "nothing returnable");
        assert!(html.contains("None of the items of this order can be returned any more."), "{html}");
        assert!(html.contains("The return window for this item closed on December 27, 2026."), "{html}");
        for absent in ["<form", "<select", "idempotency_key", "Request return"] {
            assert!(!html.contains(absent), "{absent:?} in\n{html}");
        }
    }

    #[test]
    fn portal_takes_big_quantities_in_a_number_field_and_escapes_line_keys() {
        let settings = settings();
        let mut order = portal_order();
        order.items[0].quantity = 500;
        order.items[2].id = Some("li\"3<x>".to_owned());
        let items = portal_items(&order, &[]);
        let html = render_returns_portal(&settings, &order, &items, &[], PORTAL_ACTION, FORM_KEY, None).unwrap();
        assert!(html.contains(
            "<input type=\"number\" id=\"qty-1\" name=\"qty_li-1\" value=\"0\" min=\"0\" max=\"500\" step=\"1\" inputmode=\"numeric\">"
        ), "{html}");
        assert!(html.contains("name=\"qty_li&quot;3&lt;x&gt;\"") && !html.contains("li\"3"), "{html}");
        assert!(html.len() < 30 * 1024);
    }

    #[test]
    fn portal_refuses_bad_actions_and_keys() {
        let settings = settings();
        let order = portal_order();
        let items = portal_items(&order, &[]);
        for (action, key) in
            [("javascript:alert(1)", FORM_KEY), ("//evil.example", FORM_KEY), ("/r", ""), ("/r", " "), ("/r", "a\nb")]
        {
            let result = render_returns_portal(&settings, &order, &items, &[], action, key, None);
            assert!(
                matches!(result, Err(TemplateError::InvalidPage { page: "returns_portal", .. })),
                "{action} {key:?}"
            );
        }
        let long = "k".repeat(201);
        assert!(render_returns_portal(&settings, &order, &items, &[], "/r", &long, None).is_err());
        assert!(render_returns_portal(&settings, &order, &items, &[], "/r", &long[..200], None).is_ok());
    }

    // Return result.

    #[test]
    fn an_approved_return_says_what_comes_back_and_how_to_send_the_items() {
        let (settings, order) = (settings(), return_order());
        let mut ret = a_return(ReturnState::Approved, Resolution::StoreCredit, "107.80");
        ret.label_url = Some(LABEL_URL.to_owned());
        let html = render_return_result(&settings, &order, &ret, PORTAL_ACTION).unwrap();
        assert_order_page(&html, "approved");
        write_page("return-result-approved", &html);
        let text = visible(&html);
        for expected in [
            "Your return is approved",
            "Good news: your return for order #1001 is approved.",
            "Store credit of $107.80 (includes a 10% bonus)",
            "You'll get it once we've received and checked the items.",
            "A return fee of $4.95 applies: Changed my mind",
            "2 × Linen shirt (M / Sand) Reason: Doesn't fit",
            "1 × Wool scarf Reason: Changed my mind Your note: “Not my colour”",
            &format!("Not part of this return 1 × Canvas tote {EXCLUDED_TEXT}"),
            "Print your return label",
            "Attach the prepaid label to the parcel",
            &format!("The label is addressed to: {ADDRESS}"),
            PACKING,
            "Back to your returns",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(html.contains("href=\"https://labels.example/l/8842?fmt=pdf&amp;size=4x6\""), "{html}");
        assert!(html.contains("<a href=\"/returns/Pq7Lm3z?v=1&amp;src=email\">Back to your returns</a>"), "{html}");
        assert!(!text.contains(PHOTO_TEXT), "a rejected item's other rules stay unsaid");

        // Without a label, the address to send the items to.
        let ret = refund(ReturnState::Approved);
        let text = visible(&render_return_result(&settings, &order, &ret, PORTAL_ACTION).unwrap());
        assert!(text.contains(&format!("Send the items to: {ADDRESS}")), "{text}");
        assert!(text.contains("Refund of $93.05 to your original payment") && !text.contains("Print"), "{text}");
    }

    #[test]
    fn a_return_under_review_says_why_and_when_to_expect_news() {
        let (settings, order) = (settings(), return_order());
        let mut ret = a_return(ReturnState::NeedsReview, Resolution::Exchange { variant: "L / Sand".into() }, "98.00");
        ret.decision.verdict = Verdict::NeedsReview;
        ret.decision.items[0].verdict = Verdict::NeedsReview;
        ret.decision.items[0].rules = vec![RuleOutcome::PhotoRequired { reason: "damaged".into() }];
        ret.decision.rules = vec![RuleOutcome::AutoApproveOff];
        let html = render_return_result(&settings, &order, &ret, PORTAL_ACTION).unwrap();
        assert_order_page(&html, "needs_review");
        write_page("return-result-needs-review", &html);
        let text = visible(&html);
        for expected in [
            "We're reviewing your return",
            "Before we can approve it, our team needs to take a look.",
            "You asked to return 2 × Linen shirt (M / Sand) Reason: Doesn't fit",
            "You asked for: an exchange for L / Sand",
            &format!("Why it needs a review {PHOTO_TEXT} {TEAM_TEXT}"),
            &format!("These items can't be returned 1 × Canvas tote {EXCLUDED_TEXT}"),
            "usually within two business days",
            "please don't send anything back yet",
            "Back to your returns",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(
            html.contains("<title>We&#x27;re reviewing your return | Demo Shop</title>")
                || html.contains("<title>We're reviewing your return | Demo Shop</title>"),
            "{html}"
        );
        assert!(!text.contains("Print your return label") && !text.contains(ADDRESS), "{text}");
    }

    #[test]
    fn a_rejected_return_gives_each_item_its_reason() {
        let (settings, order) = (settings(), return_order());
        let mut ret = refund(ReturnState::Rejected);
        ret.decision.verdict = Verdict::Rejected;
        let last_day = NaiveDate::from_ymd_opt(2026, 12, 27).unwrap();
        ret.decision.items[0].verdict = Verdict::Rejected;
        ret.decision.items[0].rules = vec![RuleOutcome::OutsideWindow { last_day }];
        ret.decision.amount = usd("0");
        let html = render_return_result(&settings, &order, &ret, PORTAL_ACTION).unwrap();
        assert_order_page(&html, "rejected");
        write_page("return-result-rejected", &html);
        let text = visible(&html);
        for expected in [
            "We couldn't accept your return",
            "2 × Linen shirt (M / Sand) The return window for this item closed on December 27, 2026.",
            &format!("1 × Wool scarf {REJECTED_AFTER_REVIEW}"),
            &format!("1 × Canvas tote {EXCLUDED_TEXT}"),
            "please contact our support team or email support@demo-shop.example",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        for absent in ["$0.00", "return fee", "Refund of", "Send the items", PHOTO_TEXT] {
            assert!(!text.contains(absent), "{absent:?} in\n{text}");
        }

        // Only for the return's own order, and only with a safe link back.
        let mut other = refund(ReturnState::Approved);
        other.request.order_id = OrderId::parse("999").unwrap();
        assert!(matches!(
            render_return_result(&settings, &order, &other, PORTAL_ACTION),
            Err(TemplateError::InvalidPage { page: "return_result", .. })
        ));
        assert!(render_return_result(&settings, &order, &ret, "javascript:history.back()").is_err());
        // Later states read sensibly too.
        for state in [ReturnState::InTransit, ReturnState::Received, ReturnState::Refunded, ReturnState::Closed] {
            let html = render_return_result(&settings, &order, &refund(state), PORTAL_ACTION).unwrap();
            assert_order_page(&html, state.as_str());
            assert!(html.contains("<h1>Your return</h1>") && html.contains("#1001"), "{state:?}");
        }
    }
}
