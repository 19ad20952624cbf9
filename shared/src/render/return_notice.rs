//! A return as the customer reads it: what was asked, what is taken back, refused or still
//! under review and why (the rules' customer texts), fees, what comes back and how to send the
//! items. The view of the `return_update` message, also shown by the return result page
//! (`portal.rs`).

use super::format::{Times, humanize, item_label, non_empty, web_url};
use crate::domain::ids::TrackingNumber;
use crate::domain::order::Order;
use crate::domain::returns::{Resolution, Return, ReturnState, RuleOutcome, Verdict};
use crate::domain::settings::ShopSettings;
use serde::Serialize;
use std::fmt::Write as _;

/// A return as the customer reads it in the message about its current state.
#[derive(Serialize)]
pub(super) struct ReturnView<'a> {
    /// The state the message is about: `approved`, `needs_review`, `rejected`, `in_transit`,
    /// `received`, `refunded`, `credited`, `exchanged` or `closed`.
    state: &'static str,
    /// `refund`, `store_credit` or `exchange`.
    resolution: &'static str,
    /// What the customer gets back for the items not rejected: "$93.05".
    amount: String,
    /// For an exchange: the variant asked for ("L / Sand"); None if the request names none.
    exchange_variant: Option<&'a str>,
    /// For store credit: the shop's bonus in whole percent; None without one.
    bonus_percent: Option<u32>,
    /// "Refund of $93.05 to your original payment", "Store credit of $107.80 (includes a 10%
    /// bonus)" or "Exchange for L / Sand".
    pub(super) resolution_summary: String,
    /// Every item asked for, in the order of the request.
    pub(super) items: Vec<ReturnItemView<'a>>,
    /// The items taken back: approved by the rules, and once the return is approved, those the
    /// team reviewed too.
    accepted: Vec<ReturnItemView<'a>>,
    /// The items still waiting for the team (only while the return needs review).
    pending: Vec<ReturnItemView<'a>>,
    /// The items refused, each with `why`.
    rejected: Vec<ReturnItemView<'a>>,
    /// One line per accepted item with a fee: "A return fee of $4.95 applies: Changed my mind"
    /// (the item's title is added in parentheses when several items carry one).
    fees: Vec<String>,
    /// While the return needs review: why, as customer texts, without repeats.
    review_reasons: Vec<String>,
    /// The customer's note on the whole request.
    comment: Option<&'a str>,
    /// The prepaid label (http/https only).
    label_url: Option<&'a str>,
    /// The return parcel's tracking number.
    tracking_number: Option<&'a str>,
    /// The shop's return address, one entry per line; empty when the policy has none.
    return_address: Vec<&'a str>,
    packing_instructions: Option<&'a str>,
}

#[derive(Serialize, Clone)]
pub(super) struct ReturnItemView<'a> {
    pub(super) title: &'a str,
    /// From the order's line item, when it can be found.
    pub(super) variant: Option<&'a str>,
    pub(super) quantity: u32,
    /// "2 x Linen shirt (M / Sand)".
    label: String,
    /// The reason's label from the shop's policy: "Changed my mind".
    reason: String,
    /// The customer's note on this item.
    comment: Option<&'a str>,
    /// `approved`, `needs_review` or `rejected`, as things stand in the message's state.
    verdict: &'static str,
    /// "$4.95" when a fee is kept for this item.
    fee: Option<String>,
    /// For a rejected item: why, as customer texts (never empty).
    why: Vec<String>,
}

/// What a rule means for the customer's item or request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RuleEffect {
    /// The item cannot be returned.
    Rejects,
    /// The team has to look at it.
    AsksForReview,
    /// Neither (a fee): shown as a fee line, not as a reason.
    Informs,
}

fn rule_effect(rule: &RuleOutcome) -> RuleEffect {
    match rule {
        RuleOutcome::OutsideWindow { .. } | RuleOutcome::ExcludedItem { .. } | RuleOutcome::QuantityExceeded { .. } => {
            RuleEffect::Rejects
        }
        RuleOutcome::PhotoRequired { .. }
        | RuleOutcome::ResolutionNotOffered { .. }
        | RuleOutcome::OverAutoApproveLimit { .. }
        | RuleOutcome::AutoApproveLimitInOtherCurrency { .. }
        | RuleOutcome::FeeInOtherCurrency { .. }
        | RuleOutcome::AutoApproveOff => RuleEffect::AsksForReview,
        RuleOutcome::FeeApplied { .. } => RuleEffect::Informs,
    }
}

/// The customer texts of the `rules` with `effect`, in order, each once.
fn rule_texts<'r>(rules: impl IntoIterator<Item = &'r RuleOutcome>, effect: RuleEffect) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    for rule in rules.into_iter().filter(|rule| rule_effect(rule) == effect) {
        let text = rule.customer_text();
        if !texts.contains(&text) {
            texts.push(text);
        }
    }
    texts
}

/// Said of an item the team turned down after review, when no rule explains it.
pub(super) const REJECTED_AFTER_REVIEW: &str = "Our team reviewed this item and couldn't accept it for return.";

/// Said while a return needs review, when no rule explains why.
const REVIEW_WITHOUT_RULE: &str = "Our team checks some returns before approving them.";

impl<'a> ReturnView<'a> {
    pub(super) fn build(ret: &'a Return, settings: &'a ShopSettings, order: &'a Order) -> Self {
        let policy = &settings.return_policy;
        let reasons = policy.effective_reasons();
        let reason_label = |code: &str| {
            let code = code.trim();
            reasons.iter().find(|r| r.code == code).map_or_else(|| humanize(code), |r| r.label.trim().to_owned())
        };
        let decided = &ret.decision;
        let items = decided
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                // Once the return is approved, nothing is pending; once rejected, nothing is taken back.
                let verdict = match (ret.state, item.verdict) {
                    (_, Verdict::Rejected) | (ReturnState::Rejected, _) => Verdict::Rejected,
                    (ReturnState::NeedsReview, verdict) => verdict,
                    _ => Verdict::Approved,
                };
                let why = if verdict == Verdict::Rejected {
                    let texts = rule_texts(&item.rules, RuleEffect::Rejects);
                    if texts.is_empty() { vec![REJECTED_AFTER_REVIEW.to_owned()] } else { texts }
                } else {
                    Vec::new()
                };
                // The request line of this decision: the same position, else the same line item.
                let requested = ret
                    .request
                    .items
                    .get(i)
                    .filter(|r| r.line_item == item.line_item)
                    .or_else(|| ret.request.items.iter().find(|r| r.line_item == item.line_item));
                let line = order.items.iter().find(|l| {
                    l.id.as_deref() == Some(item.line_item.as_str())
                        || (l.id.is_none() && l.sku.as_deref() == Some(item.line_item.as_str()))
                });
                let title = item.title.trim();
                let title = if title.is_empty() { line.map_or("", |l| l.title.trim()) } else { title };
                let variant = line.and_then(|l| non_empty(l.variant.as_deref()));
                ReturnItemView {
                    title,
                    variant,
                    quantity: item.quantity,
                    label: item_label(item.quantity, title, variant, Times::Letter),
                    reason: reason_label(&item.reason),
                    comment: requested.and_then(|r| non_empty(r.comment.as_deref())),
                    verdict: verdict.as_str(),
                    fee: item.fee.filter(|fee| fee.minor != 0).map(|fee| fee.to_string()),
                    why,
                }
            })
            .collect::<Vec<_>>();
        let with_verdict = |verdict: Verdict| -> Vec<ReturnItemView<'a>> {
            items.iter().filter(|item| item.verdict == verdict.as_str()).cloned().collect()
        };
        let (accepted, pending, rejected) =
            (with_verdict(Verdict::Approved), with_verdict(Verdict::NeedsReview), with_verdict(Verdict::Rejected));
        let with_fee: Vec<_> = accepted.iter().filter(|item| item.fee.is_some()).collect();
        let fees = with_fee
            .iter()
            .map(|item| {
                let fee = item.fee.as_deref().unwrap_or_default();
                let mut line = format!("A return fee of {fee} applies: {}", item.reason);
                if with_fee.len() > 1 {
                    let _ = write!(line, " ({})", item.title);
                }
                line
            })
            .collect();
        let review_reasons = if ret.state == ReturnState::NeedsReview {
            let item_rules =
                decided.items.iter().filter(|item| item.verdict == Verdict::NeedsReview).flat_map(|item| &item.rules);
            let texts = rule_texts(item_rules.chain(&decided.rules), RuleEffect::AsksForReview);
            if texts.is_empty() { vec![REVIEW_WITHOUT_RULE.to_owned()] } else { texts }
        } else {
            Vec::new()
        };
        let amount = decided.amount.to_string();
        let bonus = policy.resolutions.store_credit_bonus_percent;
        let (resolution, exchange_variant, bonus_percent, resolution_summary) = match &ret.request.resolution {
            Resolution::Refund => ("refund", None, None, format!("Refund of {amount} to your original payment")),
            Resolution::StoreCredit if bonus > 0 => {
                ("store_credit", None, Some(bonus), format!("Store credit of {amount} (includes a {bonus}% bonus)"))
            }
            Resolution::StoreCredit => ("store_credit", None, None, format!("Store credit of {amount}")),
            Resolution::Exchange { variant } => {
                let variant = non_empty(Some(variant));
                let summary =
                    variant.map_or_else(|| "Exchange for another variant".to_owned(), |v| format!("Exchange for {v}"));
                ("exchange", variant, None, summary)
            }
        };
        Self {
            state: ret.state.as_str(),
            resolution,
            amount,
            exchange_variant,
            bonus_percent,
            resolution_summary,
            items,
            accepted,
            pending,
            rejected,
            fees,
            review_reasons,
            comment: non_empty(ret.request.comment.as_deref()),
            label_url: web_url(ret.label_url.as_deref()),
            tracking_number: ret.tracking_number.as_ref().map(TrackingNumber::as_str),
            return_address: policy
                .return_address
                .as_deref()
                .map(|address| address.lines().map(str::trim).filter(|line| !line.is_empty()).collect())
                .unwrap_or_default(),
            packing_instructions: non_empty(policy.packing_instructions.as_deref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::OrderId;
    use crate::domain::messages::MessageKind;
    use crate::render::fixtures::*;
    use crate::render::{
        MessageContext, RenderedEmail, SMS_MAX_CHARS, TemplateError, check_overrides, render_email, render_sms,
    };
    use chrono::NaiveDate;

    fn return_ctx<'a>(settings: &'a ShopSettings, order: &'a Order, ret: &'a Return) -> MessageContext<'a> {
        MessageContext { return_update: Some(ret), ..ctx(settings, order, None) }
    }

    /// Checks shared by every return email and SMS.
    fn assert_return_message_well_formed(ret: &Return, email: &RenderedEmail, sms: &str) {
        let state = ret.state;
        for part in [&email.html, &email.text] {
            for expected in
                ["Hi Ada,", "#1001", RETURNS_URL, "https://demo-shop.example/help", "support@demo-shop.example"]
            {
                assert!(part.contains(expected), "{state:?}: missing {expected:?} in\n{part}");
            }
            for personal in ["Lovelace", "ada@example.com", "+15555550100"] {
                assert!(!part.contains(personal), "{state:?}: {personal:?} leaked");
            }
        }
        assert!(email.html.contains(&format!("href=\"{RETURNS_URL}\"")) && email.html.contains(">See your return</a>"));
        assert!(email.html.contains("background-color:#0f766e") && email.html.contains("max-width:600px"));
        assert!(email.text.contains(&format!("See your return: {RETURNS_URL}")), "{state:?}");
        for tag in ["<p", "<br", "<table", "<strong", "</p", "</td"] {
            assert!(!email.text.contains(tag), "{state:?}:\n{}", email.text);
        }
        assert!(!email.text.contains("\n\n\n"), "{state:?}: stray blank lines:\n{}", email.text);
        assert!(!email.text.contains("none") && !email.html.contains("none<"), "{state:?}:\n{}", email.text);
        assert!(!email.subject.contains('\n'));
        assert!(sms.ends_with(RETURNS_URL), "{state:?}: {sms}");
        assert!(sms.starts_with("Demo Shop: ") && sms.contains("#1001"), "{state:?}: {sms}");
        assert!(sms.chars().count() < 160, "{state:?}: {} chars: {sms}", sms.chars().count());
        assert!(sms.chars().all(|c| c.is_ascii() && !c.is_ascii_control()), "{state:?}: {sms}");
        assert!(!sms.contains("Ada"), "{state:?}: {sms}");
    }

    #[test]
    fn every_return_state_has_its_subject_content_and_a_short_sms() {
        let (settings, order) = (settings(), return_order());
        let credit = |state| a_return(state, Resolution::StoreCredit, "107.80");
        let exchange = |state| a_return(state, Resolution::Exchange { variant: "L / Sand".to_owned() }, "98.00");
        let mut in_transit = refund(ReturnState::InTransit);
        in_transit.tracking_number = Some(TrackingNumber::parse("1Z999AA10123456785").unwrap());
        let cases: Vec<(Return, &str, Vec<&str>, &str)> = vec![
            (
                refund(ReturnState::Approved),
                "Your return for order #1001 is approved",
                vec![
                    "is approved",
                    "Linen shirt",
                    "M / Sand",
                    "Reason: Doesn't fit",
                    "Wool scarf",
                    "Reason: Changed my mind",
                    "Refund of $93.05 to your original payment",
                    "A return fee of $4.95 applies: Changed my mind",
                    "Send the items to:",
                    ADDRESS,
                    PACKING,
                    "Canvas tote",
                    EXCLUDED_TEXT,
                ],
                "Demo Shop: your return for order #1001 is approved. Next steps: ",
            ),
            (
                credit(ReturnState::Approved),
                "Your return for order #1001 is approved",
                vec!["Store credit of $107.80 (includes a 10% bonus)", ADDRESS],
                "Demo Shop: your return for order #1001 is approved.",
            ),
            (
                exchange(ReturnState::Approved),
                "Your return for order #1001 is approved",
                vec!["Exchange for L / Sand", "once we've received the items", ADDRESS],
                "Demo Shop: your return for order #1001 is approved.",
            ),
            (
                refund(ReturnState::InTransit),
                "Your return for order #1001 is on its way to us",
                vec!["is on its way to us", "as soon as it arrives"],
                "Demo Shop: your return for order #1001 is on its way to us. Details: ",
            ),
            (
                in_transit,
                "Your return for order #1001 is on its way to us",
                vec!["Tracking number:", "1Z999AA10123456785"],
                "Demo Shop: your return for order #1001 is on its way to us.",
            ),
            (
                refund(ReturnState::Received),
                "We received your return for order #1001",
                vec!["We received your return", "send your refund of $93.05 to your original payment"],
                "Demo Shop: we received your return for order #1001. Details: ",
            ),
            (
                credit(ReturnState::Received),
                "We received your return for order #1001",
                vec!["add your store credit of $107.80", "(includes a 10% bonus)"],
                "Demo Shop: we received your return for order #1001.",
            ),
            (
                exchange(ReturnState::Received),
                "We received your return for order #1001",
                vec!["send your exchange", "L / Sand"],
                "Demo Shop: we received your return for order #1001.",
            ),
            (
                refund(ReturnState::Refunded),
                "Your refund of $93.05 for order #1001 is on its way",
                vec!["Your refund of $93.05", "is on its way to your original payment"],
                "Demo Shop: your refund of $93.05 for order #1001 is on its way. Details: ",
            ),
            (
                credit(ReturnState::Credited),
                "Your store credit of $107.80 for order #1001 is ready",
                vec!["Your store credit of $107.80", "(includes a 10% bonus)", "is ready to use"],
                "Demo Shop: your store credit of $107.80 for order #1001 is ready. Details: ",
            ),
            (
                exchange(ReturnState::Exchanged),
                "Your exchange for order #1001 is on its way",
                vec!["Your exchange for order", "is on its way", "L / Sand"],
                "Demo Shop: your exchange for order #1001 is on its way. Details: ",
            ),
            (
                refund(ReturnState::Closed),
                "Your return for order #1001 is closed",
                vec!["is now closed", "Thank you for shopping with Demo Shop."],
                "Demo Shop: your return for order #1001 is closed. Details: ",
            ),
        ];
        for (ret, subject, phrases, sms_start) in &cases {
            let context = return_ctx(&settings, &order, ret);
            let email = render_email(MessageKind::ReturnUpdate, &context).unwrap();
            let sms = render_sms(MessageKind::ReturnUpdate, &context).unwrap();
            let state = ret.state;
            assert_eq!(email.subject, *subject, "{state:?}");
            assert_return_message_well_formed(ret, &email, &sms);
            for part in [&visible(&email.html), &email.text] {
                for expected in phrases {
                    assert!(part.contains(expected), "{state:?}: missing {expected:?} in\n{part}");
                }
            }
            assert!(sms.starts_with(sms_start), "{state:?}: {sms}");
            // Only the approval says how to send the items back or mentions rejected ones.
            if state != ReturnState::Approved {
                for part in [&email.html, &email.text] {
                    assert!(!part.contains(ADDRESS) && !part.contains("Canvas tote"), "{state:?}: {part}");
                }
            }

            // For eyeballing: /tmp/ppx-return_update-{state}.{html,txt} on Linux.
            let dir = std::env::temp_dir();
            let name = format!("ppx-return_update-{}-{}", state.as_str(), ret.decision.amount.minor);
            let _ = std::fs::write(dir.join(format!("{name}.html")), &email.html);
            let _ = std::fs::write(dir.join(format!("{name}.txt")), &email.text);
        }
    }

    #[test]
    fn an_approval_lists_what_goes_back_and_how() {
        let (settings, order) = (settings(), return_order());
        let ret = refund(ReturnState::Approved);
        let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &ret)).unwrap();
        let text = &email.text;
        assert!(text.contains(
            "2 x Linen shirt (M / Sand)\nReason: Doesn't fit\n\n1 x Wool scarf\nReason: Changed my mind\nYour note: \"Not my colour\"\n\nRefund"
        ));
        assert!(text.contains(
            "Refund of $93.05 to your original payment: you'll get it once we've received and checked the items.\n\
             A return fee of $4.95 applies: Changed my mind\n"
        ));
        assert!(
            text.contains(&format!("NOT PART OF THIS RETURN\n\n1 x Canvas tote\n{EXCLUDED_TEXT}\n\nHOW")),
            "{text}"
        );
        // The rejected item's photo rule is no reason to refuse it: not shown.
        assert!(!text.contains(PHOTO_TEXT), "{text}");
        assert!(text.contains(&format!("Send the items to:\n{ADDRESS}\n\n{PACKING}\n")), "{text}");
        assert!(!text.contains("label"), "{text}");
        assert!(email.html.contains(&format!("Send the items to:<br>\n<strong>{ADDRESS}</strong>")), "{}", email.html);
        assert!(!email.html.contains("Print your return label"));
        // The returns page is the call to action when there is no label.
        assert!(email.html.contains("padding:14px 28px;font-size:16px;line-height:20px;font-weight:bold;color:#ffffff;text-decoration:none;border-radius:4px;\">See your return</a>"));

        // With a label: a button, and the address for reference.
        let mut labelled = refund(ReturnState::Approved);
        labelled.label_url = Some(LABEL_URL.to_owned());
        let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &labelled)).unwrap();
        let escaped = LABEL_URL.replace('&', "&amp;");
        assert!(email.html.contains(&format!("<a href=\"{escaped}\" target=\"_blank\"")), "{}", email.html);
        assert!(email.html.contains(">Print your return label</a>"));
        assert_eq!(email.html.matches("padding:14px 28px").count(), 1, "one button: the label");
        assert!(email.text.contains(&format!("Print your prepaid return label: {LABEL_URL}\n")), "{}", email.text);
        assert!(email.text.contains(&format!("The label is addressed to:\n{ADDRESS}\n")), "{}", email.text);
        for part in [&email.html, &email.text] {
            assert!(!part.contains("Send the items to:") && part.contains(PACKING), "{part}");
        }
        // Only http(s) labels are linked.
        labelled.label_url = Some("javascript:alert(1)".to_owned());
        let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &labelled)).unwrap();
        assert!(!email.html.contains("javascript:") && email.text.contains("Send the items to:"));

        // A multi-line address keeps its lines; without one, support says where to send.
        let mut custom = settings.clone();
        custom.return_policy.return_address = Some("Demo Shop Returns\n 100 Warehouse Way \n\nSecaucus, NJ".to_owned());
        custom.return_policy.packing_instructions = Some("  ".to_owned());
        let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&custom, &order, &ret)).unwrap();
        assert!(
            email.text.contains("Send the items to:\nDemo Shop Returns\n100 Warehouse Way\nSecaucus, NJ\n\nSee your")
        );
        assert!(email.html.contains("<strong>Demo Shop Returns</strong><br>\n<strong>100 Warehouse Way</strong><br>"));
        custom.return_policy.return_address = None;
        let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&custom, &order, &ret)).unwrap();
        assert!(
            email.text.contains("Contact our support team for where to send the items: https://demo-shop.example/help")
        );
        assert!(!email.text.contains("Send the items to:"));
    }

    #[test]
    fn fees_and_bonuses_follow_the_decision_and_the_policy() {
        let (mut settings, order) = (settings(), return_order());
        // Two fees: each names its item.
        let mut ret = refund(ReturnState::Approved);
        ret.decision.items[0].fee = Some(usd("2.50"));
        let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &ret)).unwrap();
        assert!(email.text.contains("A return fee of $2.50 applies: Doesn't fit (Linen shirt)\n"), "{}", email.text);
        assert!(email.text.contains("A return fee of $4.95 applies: Changed my mind (Wool scarf)\n"), "{}", email.text);
        // No fee on a rejected item, none at all without fees.
        let mut ret = refund(ReturnState::Approved);
        ret.decision.items[1].fee = None;
        ret.decision.items[2].fee = Some(usd("4.95"));
        let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &ret)).unwrap();
        assert!(!email.text.contains("return fee") && !email.html.contains("return fee"), "{}", email.text);
        // Without a bonus, store credit is just store credit.
        settings.return_policy.resolutions.store_credit_bonus_percent = 0;
        let ret = a_return(ReturnState::Credited, Resolution::StoreCredit, "98.00");
        let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &ret)).unwrap();
        assert_eq!(email.subject, "Your store credit of $98.00 for order #1001 is ready");
        assert!(!email.text.contains("bonus") && !email.html.contains("bonus"));
        // A reason the policy no longer lists still reads.
        let mut ret = refund(ReturnState::Approved);
        ret.decision.items[0].reason = "too_big".to_owned();
        let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &ret)).unwrap();
        assert!(email.text.contains("Reason: Too big\n"), "{}", email.text);
    }

    #[test]
    fn a_return_under_review_says_what_was_asked_why_and_when() {
        let (settings, order) = (settings(), return_order());
        let mut ret = refund(ReturnState::NeedsReview);
        ret.decision.verdict = Verdict::NeedsReview;
        ret.decision.items[2] = decided(
            "li-2",
            "Canvas tote",
            1,
            "damaged",
            Verdict::NeedsReview,
            vec![RuleOutcome::PhotoRequired { reason: "damaged".to_owned() }],
            "299.95",
        );
        ret.decision.rules = vec![
            RuleOutcome::OverAutoApproveLimit { limit: usd("200.00"), value: usd("397.95") },
            RuleOutcome::AutoApproveOff,
        ];
        ret.request.comment = Some("The tote's strap <b>tore</b> & fell off".to_owned());
        let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &ret)).unwrap();
        let sms = render_sms(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &ret)).unwrap();
        assert_eq!(email.subject, "We're reviewing your return for order #1001");
        assert_eq!(sms, format!("Demo Shop: we're reviewing your return for order #1001. Details: {RETURNS_URL}"));
        assert_return_message_well_formed(&ret, &email, &sms);
        let text = &email.text;
        for expected in [
            "2 x Linen shirt (M / Sand)\nReason: Doesn't fit\n\n",
            "1 x Wool scarf\nReason: Changed my mind\nYour note: \"Not my colour\"\n\n",
            "1 x Canvas tote\nReason: Arrived damaged\n\nYou asked for: a refund to your original payment\nYour note:",
            "Your note: \"The tote's strap <b>tore</b> & fell off\"",
            // Why: the item's photo rule, then the request's rules, each text once.
            &format!("WHY IT NEEDS A REVIEW\n\n{PHOTO_TEXT}\n{TEAM_TEXT}\n\n"),
            "usually within two business days",
            "please don't send anything back yet",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains("CAN'T BE RETURNED") && !text.contains("return fee"), "{text}");
        let html = &email.html;
        assert!(html.contains("The tote&#x27;s strap &lt;b&gt;tore&lt;/b&gt; &amp; fell off"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains(&format!("{}<br>\n", PHOTO_TEXT.replace('\'', "&#x27;"))), "{html}");
        assert_eq!(html.matches(TEAM_TEXT).count(), 1, "{html}");

        // A rejected item in the same request is listed apart with its reason.
        let mut ret = ret.clone();
        ret.decision.items[0] = decided(
            "li-1",
            "Linen shirt",
            2,
            "doesnt_fit",
            Verdict::Rejected,
            vec![RuleOutcome::QuantityExceeded { requested: 2, available: 1 }],
            "90.00",
        );
        ret.decision.rules.clear();
        let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &ret)).unwrap();
        assert!(
            email.text.contains(
                "THESE ITEMS CAN'T BE RETURNED\n\n2 x Linen shirt (M / Sand)\n\
             Only 1 of these can still be returned (you asked to return 2).\n"
            ),
            "{}",
            email.text
        );
        assert!(email.text.contains(&format!("WHY IT NEEDS A REVIEW\n\n{PHOTO_TEXT}\n\n")), "{}", email.text);
        assert!(!email.text.contains("YOU ASKED TO RETURN\n\n2 x Linen"), "{}", email.text);
    }

    #[test]
    fn a_rejection_gives_each_item_its_reason_politely() {
        let (settings, order) = (settings(), return_order());
        let mut ret = refund(ReturnState::Rejected);
        ret.decision.verdict = Verdict::Rejected;
        let last_day = NaiveDate::from_ymd_opt(2026, 12, 27).unwrap();
        ret.decision.items[0].verdict = Verdict::Rejected;
        ret.decision.items[0].rules = vec![RuleOutcome::OutsideWindow { last_day }];
        // Turned down by the team after review: no rule says why.
        ret.decision.items[1].verdict = Verdict::NeedsReview;
        ret.decision.amount = usd("0");
        let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &ret)).unwrap();
        let sms = render_sms(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &ret)).unwrap();
        assert_eq!(email.subject, "About your return request for order #1001");
        assert_eq!(sms, format!("Demo Shop: an update on your return request for order #1001. Details: {RETURNS_URL}"));
        assert_return_message_well_formed(&ret, &email, &sms);
        let text = &email.text;
        for expected in [
            "Thank you for your return request",
            "unfortunately, we can't accept the return of these items:",
            "2 x Linen shirt (M / Sand)\nThe return window for this item closed on December 27, 2026.\n",
            &format!("1 x Wool scarf\n{REJECTED_AFTER_REVIEW}\n"),
            &format!("1 x Canvas tote\n{EXCLUDED_TEXT}\n"),
            "please contact our support team: https://demo-shop.example/help\nor email support@demo-shop.example",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        for part in [&email.html, &email.text] {
            for absent in ["$0.00", "return fee", "Refund of", PHOTO_TEXT, "Send the items"] {
                assert!(!part.contains(absent), "{absent:?} in\n{part}");
            }
        }
        assert!(email.html.contains("The return window for this item closed on December 27, 2026."), "{}", email.html);
        assert!(email.html.contains("please <a href=\"https://demo-shop.example/help\""), "{}", email.html);
    }

    #[test]
    fn customer_words_are_escaped_in_html_and_verbatim_in_text() {
        let (settings, order) = (settings(), return_order());
        let variant = "L / <b>Sand</b> & \"Navy\"";
        for state in [ReturnState::Approved, ReturnState::Received, ReturnState::Exchanged] {
            let ret = a_return(state, Resolution::Exchange { variant: variant.to_owned() }, "98.00");
            let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &ret)).unwrap();
            assert!(!email.html.contains("<b>"), "{state:?}: {}", email.html);
            assert!(
                email.html.contains("L / &lt;b&gt;Sand&lt;/b&gt; &amp; &quot;Navy&quot;"),
                "{state:?}: {}",
                email.html
            );
            assert!(email.text.contains(variant), "{state:?}: {}", email.text);
            assert!(
                !render_sms(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &ret)).unwrap().contains("<b>")
            );
        }
        let mut ret = refund(ReturnState::NeedsReview);
        ret.decision.items[1].verdict = Verdict::NeedsReview;
        ret.request.items[1].comment = Some("<b>Too</b> itchy".to_owned());
        let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&settings, &order, &ret)).unwrap();
        assert!(email.html.contains("&lt;b&gt;Too&lt;/b&gt; itchy") && !email.html.contains("<b>"), "{}", email.html);
        assert!(email.text.contains("Your note: \"<b>Too</b> itchy\""), "{}", email.text);
    }

    #[test]
    fn a_return_update_needs_the_return_of_its_order() {
        let (settings, order) = (settings(), return_order());
        let context = ctx(&settings, &order, None);
        assert!(matches!(render_email(MessageKind::ReturnUpdate, &context), Err(TemplateError::MissingReturn)));
        assert!(matches!(render_sms(MessageKind::ReturnUpdate, &context), Err(TemplateError::MissingReturn)));
        let mut other = refund(ReturnState::Approved);
        other.request.order_id = OrderId::parse("999").unwrap();
        let context = return_ctx(&settings, &order, &other);
        assert!(matches!(render_email(MessageKind::ReturnUpdate, &context), Err(TemplateError::MissingReturn)));
        assert!(matches!(render_sms(MessageKind::ReturnUpdate, &context), Err(TemplateError::MissingReturn)));
        // Other kinds ignore a return.
        let ret = refund(ReturnState::Approved);
        let email = render_email(MessageKind::OrderConfirmation, &return_ctx(&settings, &order, &ret)).unwrap();
        assert!(!email.text.contains("approved"));
    }

    #[test]
    fn return_sms_with_a_real_sealed_link_stays_under_the_hard_limit() {
        use crate::domain::link::{LinkClaims, LinkKey, LinkPurpose};
        let (mut settings, order) = (settings(), return_order());
        settings.display_name = "Northwind Outdoor Supply".to_owned();
        let claims = LinkClaims {
            shop: order.shop.clone(),
            order: order.id.clone(),
            purpose: LinkPurpose::Return,
            expires_at: 1_900_000_000,
        };
        let url = LinkKey::from_secret("test").url("https://track.ppx.example", &claims);
        for state in [
            ReturnState::Approved,
            ReturnState::NeedsReview,
            ReturnState::Rejected,
            ReturnState::InTransit,
            ReturnState::Received,
            ReturnState::Refunded,
            ReturnState::Credited,
            ReturnState::Exchanged,
            ReturnState::Closed,
        ] {
            let ret = a_return(state, Resolution::StoreCredit, "12345.67");
            let context = MessageContext { returns_url: &url, ..return_ctx(&settings, &order, &ret) };
            let sms = render_sms(MessageKind::ReturnUpdate, &context).unwrap();
            assert!(sms.chars().count() <= SMS_MAX_CHARS && sms.ends_with(&url), "{state:?}: {sms}");
        }
    }

    #[test]
    fn return_templates_can_be_overridden() {
        let order = return_order();
        let ret = refund(ReturnState::Refunded);
        let mut custom = settings();
        custom.templates.insert(
            "return_update.subject.txt".to_owned(),
            "{{ return_update.state }}: {{ return_update.resolution_summary }}".to_owned(),
        );
        assert!(check_overrides(&custom.templates).is_ok());
        let email = render_email(MessageKind::ReturnUpdate, &return_ctx(&custom, &order, &ret)).unwrap();
        assert_eq!(email.subject, "refunded: Refund of $93.05 to your original payment");
    }
}
