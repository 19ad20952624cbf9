//! A shop's template overrides are bounded in memory, not only in instructions: templates that
//! try to build hundreds of megabytes (a string multiplied, a list of one big string joined or
//! printed, a replace or an indent that multiplies its input) fail with a template error long
//! before a 128 MB function would run out of memory, and the process's peak memory barely moves.
//!
//! Its own test binary, so that the process's peak (`VmHWM`) is this test's alone.

use ppx_shared::domain::link::{CustomerLinks, LinkKey, LinkKeyring};
use ppx_shared::domain::messages::MessageKind;
use ppx_shared::domain::settings::ShopSettings;
use ppx_shared::inbound::platforms::{PlatformEvent, shopify};
use ppx_shared::render::{MessageContext, Page, TemplateError, render_email, render_page};

/// The process's peak resident memory so far, in bytes (Linux).
fn peak_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM line");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()).expect("a number of kB") * 1024
}

/// The first ones use `*` or `+` and are refused before they compile (`unbounded_operator`);
/// the last ones build within fuel (strings concatenated with `~`, a loop that writes).
const ATTACKS: [(&str, &str); 12] = [
    ("a string multiplied", r#"{{ "x" * 300000000 }}"#),
    ("a multiplied string kept in a variable", r#"{% set a = "x" * 300000000 %}{{ a|length }}"#),
    ("a list of one string, joined", r#"{% set a = "x" * 1000000 %}{{ ([a] * 1000)|join }}"#),
    ("a list of one string, joined with a long joiner", r#"{{ (["x"] * 100000)|join("y" * 1000000) }}"#),
    ("a list of one string, printed", r#"{% set a = "x" * 1000000 %}{{ [a] * 1000 }}"#),
    ("a list of one string, to JSON", r#"{% set a = "x" * 1000000 %}{{ ([a] * 1000)|tojson }}"#),
    ("a replace that multiplies", r#"{{ ("x" * 1000000)|replace("x", "y" * 1000) }}"#),
    ("an indent that multiplies", r#"{{ ("x\n" * 500000)|indent(1000) }}"#),
    (
        "a list doubled",
        r#"{% set ns = namespace(l=["x"]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|join }}"#,
    ),
    ("a loop that writes", r#"{% for i in range(100000) %}{{ "x" * 10000 }}{% endfor %}"#),
    (
        "a string doubled with ~",
        r#"{% set ns = namespace(a="x") %}{% for i in range(40) %}{% set ns.a = ns.a ~ ns.a %}{% endfor %}{{ ns.a|length }}"#,
    ),
    (
        "a loop that writes a long name",
        r#"{% for i in range(100000) %}{% for j in range(100000) %}{{ shop.name }}{% endfor %}{% endfor %}"#,
    ),
];

#[test]
fn overrides_that_would_build_hundreds_of_megabytes_fail_cleanly() {
    let mut settings = ShopSettings::from_json(include_str!("../../events/shop.example.json")).unwrap();
    let body = include_bytes!("../../events/shopify-orders-create.json");
    let PlatformEvent::Order { order, .. } = shopify::parse(&settings.shop, "orders/create", body).unwrap() else {
        panic!("an order")
    };
    let links = CustomerLinks::new(
        LinkKeyring::legacy(LinkKey::from_secret("0123456789abcdef0123456789abcdef")),
        "https://t.example",
    );
    let links = links.for_order(&settings.shop, &order.id, chrono::Utc::now());
    let before = peak_bytes();
    let only: Option<usize> = std::env::var("PPX_ATTACK").ok().and_then(|i| i.parse().ok());
    for (what, source) in ATTACKS.iter().enumerate().filter(|(i, _)| only.is_none_or(|o| o == *i)).map(|(_, a)| *a) {
        settings.templates.clear();
        settings.templates.insert("order_confirmation.subject.txt".into(), source.into());
        let ctx = MessageContext::about_order(&settings, &order, &links);
        let result = render_email(MessageKind::OrderConfirmation, &ctx);
        assert!(
            matches!(result, Err(TemplateError::Render { .. } | TemplateError::UnboundedOperator { .. })),
            "{what}: {:?}",
            result.map(|e| e.subject.len())
        );
        settings.templates.clear();
        settings.templates.insert("survey_thanks.html".into(), source.into());
        let page =
            render_page(Some(&settings), &Page::SurveyThanks { score: 9, comment_action: "/c", comment_saved: true });
        assert!(
            matches!(page, Err(TemplateError::Render { .. } | TemplateError::UnboundedOperator { .. })),
            "{what} as a page: {:?}",
            page.map(|p| p.len())
        );
        let grown = peak_bytes().saturating_sub(before);
        assert!(grown < 48 * 1024 * 1024, "{what}: the peak grew by {} MB", grown / (1024 * 1024));
    }
}
