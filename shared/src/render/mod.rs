//! What customers read, rendered from templates: the email (subject, HTML, text) and the SMS of
//! each [`MessageKind`](crate::domain::messages::MessageKind), and the web pages they reach from
//! them.
//!
//! The default templates live in `shared/templates/` and are embedded in the binary. A shop can
//! override any of them through [`ShopSettings::templates`], keyed by the same file names
//! (`order_confirmation.html`, `layout.html`, ...). Templates receive a view model whose values
//! are already formatted for customers (money, dates, labels); they never see the raw order.
//! Calendar dates (estimates, promises) are shown as they are; instants (carrier checkpoints,
//! the delivery scan) in the shop's time zone.
//!
//! The same environment renders the small web pages customers reach from those emails (survey
//! thanks, unsubscribe): see [`render_page`]; and the order pages (tracking, the returns portal,
//! the answer to a return request). Their templates (`page_layout.html`, ...) can be overridden
//! the same way.
//!
//! HTML templates (`.html`) are auto-escaped, text templates (`.txt`) are not. The context holds
//! personal data: only [`or_default_templates`] logs, a failing override by template name and
//! engine message.
//!
//! This file holds the template environment: the embedded defaults ([`TEMPLATE_NAMES`]), a
//! shop's overrides on top of them ([`check_overrides`], [`or_default_templates`]) and
//! [`TemplateError`]; its tests are the template-wide ones (every default compiles, overrides).
//! The rest, by audience and page:
//! - `email.rs`: the messages ([`render_email`], [`render_sms`]) and the view model their
//!   templates see (shop, customer, order, shipment, tracking, review request);
//! - `return_notice.rs`: a return as the customer reads it (the `return_update` message's view,
//!   which the return result page shows too);
//! - `page.rs`: the small customer pages ([`Page`], [`render_page`]) and what every page shares;
//! - `tracking_page.rs`: an order's tracking page ([`render_tracking_page`]);
//! - `portal.rs`: the returns portal and the answer to a return request
//!   ([`render_returns_portal`], [`render_return_result`]);
//! - `format.rs`: pure formatting helpers (dates, item labels, links, colours);
//! - `fixtures.rs` (tests only): the demo shop, its order, shipments, tracking and returns the
//!   tests of every file render.

mod email;
#[cfg(test)]
mod fixtures;
mod format;
mod page;
mod portal;
mod return_notice;
mod tracking_page;

pub use crate::domain::link::ReviewLinks;
pub use email::{MessageContext, RenderedEmail, SMS_MAX_CHARS, has_sms, render_email, render_sms};
pub use page::{COMMENT_MAX_CHARS, PAGE_CONTENT_SECURITY_POLICY, Page, render_page};
pub use portal::{render_return_result, render_returns_portal};
pub use tracking_page::{TIMELINE_MAX_CHECKPOINTS, TrackedOrder, render_tracking_page};

use crate::domain::messages::MessageKind;
use crate::domain::money::MoneyError;
use crate::domain::settings::ShopSettings;
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

/// Errors carry template names and engine messages, never context values.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {template:?} failed: {detail}")]
    Render { template: String, detail: String },
    #[error("template {template:?} rendered nothing")]
    Empty { template: String },
    #[error("{name:?} is not a template name; expected one of {}", TEMPLATE_NAMES.join(", "))]
    UnknownTemplate { name: String },
    #[error("template {template:?} renders an SMS of {chars} characters; at most {max} are allowed")]
    SmsTooLong { template: String, chars: usize, max: usize },
    #[error("a {0} message needs the shipment it is about")]
    MissingShipment(&'static str),
    #[error("{0} messages go by email only; there is no SMS for them")]
    NoSmsForKind(&'static str),
    #[error("a review_request message needs its survey and unsubscribe links (http or https)")]
    MissingReviewLinks,
    /// No `ctx.return_update`, or a return of another order than `ctx.order`.
    #[error("a return_update message needs the return of the order it is about")]
    MissingReturn,
    /// A review request is not transactional: its unsubscribe link must be in both parts.
    #[error("template {template:?} must show the unsubscribe link")]
    MissingUnsubscribe { template: String },
    #[error("cannot render the {page} page: {reason}")]
    InvalidPage { page: &'static str, reason: &'static str },
    #[error("cannot format an amount: {0}")]
    Money(#[from] MoneyError),
    /// An override that could build values without bound (see [`unbounded_operator`]).
    #[error("template {template:?} uses {operator}, which template overrides may not use: {hint}")]
    UnboundedOperator { template: String, operator: &'static str, hint: &'static str },
}

/// Budget for renders with shop overrides, so that a runaway loop fails instead of running until
/// the Lambda times out, and a runaway value fails instead of exhausting its memory. One fuel is
/// an instruction or 64 bytes produced (minijinja 3): 400,000 is 25.6 MB of strings, and twice
/// what the largest default render needs (a returns portal of 250 lines of 50 units, tested).
/// `shared/tests/override_memory.rs` holds a render's peak to some 25 MB above the process's.
const OVERRIDE_FUEL: u64 = 400_000;

/// Embeds the shared templates, then the four templates of each kind: `{kind}.subject.txt`,
/// `{kind}.html`, `{kind}.txt` and `{kind}.sms.txt`; email-only kinds have no `.sms.txt`.
macro_rules! embedded_templates {
    (
        shared: [$($file:literal),* $(,)?],
        kinds: [$($kind:literal),* $(,)?],
        email_only: [$($email_kind:literal),* $(,)?] $(,)?
    ) => {
        &[
            $(($file, include_str!(concat!("../../templates/", $file))),)*
            $(
                (concat!($kind, ".subject.txt"), include_str!(concat!("../../templates/", $kind, ".subject.txt"))),
                (concat!($kind, ".html"), include_str!(concat!("../../templates/", $kind, ".html"))),
                (concat!($kind, ".txt"), include_str!(concat!("../../templates/", $kind, ".txt"))),
                (concat!($kind, ".sms.txt"), include_str!(concat!("../../templates/", $kind, ".sms.txt"))),
            )*
            $(
                (concat!($email_kind, ".subject.txt"), include_str!(concat!("../../templates/", $email_kind, ".subject.txt"))),
                (concat!($email_kind, ".html"), include_str!(concat!("../../templates/", $email_kind, ".html"))),
                (concat!($email_kind, ".txt"), include_str!(concat!("../../templates/", $email_kind, ".txt"))),
            )*
        ]
    };
}

/// `layout.html` wraps every HTML part of an email; `shipment_details.{html,txt}` (carrier,
/// tracking number, "Track your order" and the shipment's items) is included by the shipment
/// kinds after `shipped`. `page_layout.html` wraps the customer pages ([`Page`]), one template
/// each. The templates come in families, each its own environment, so that a function links
/// only the templates of what it renders (order-placed has no pages, no returns, no reviews).
const EMAIL_LAYOUT: &[(&str, &str)] = embedded_templates!(shared: ["layout.html"], kinds: [], email_only: []);

/// An order's and its parcels' messages.
const PARCEL_TEMPLATES: &[(&str, &str)] = embedded_templates!(
    shared: ["shipment_details.html", "shipment_details.txt"],
    kinds: [
        "order_confirmation",
        "shipped",
        "out_for_delivery",
        "delivery_attempted",
        "available_for_pickup",
        "delivered",
        "exception",
        "action_needed",
        "returned_to_sender",
        "delayed",
    ],
    // A stall or a late shipping is not worth a text: the customer can do nothing about it yet.
    email_only: ["stalled", "not_shipped"],
);

/// Not transactional: by email only, where the customer can unsubscribe in one click.
const REVIEW_TEMPLATES: &[(&str, &str)] = embedded_templates!(shared: [], kinds: [], email_only: ["review_request"]);

const RETURN_TEMPLATES: &[(&str, &str)] = embedded_templates!(shared: [], kinds: ["return_update"], email_only: []);

const PAGE_TEMPLATES: &[(&str, &str)] = embedded_templates!(
    shared: [
        "page_layout.html",
        "survey_confirm.html",
        "survey_thanks.html",
        "unsubscribe_confirm.html",
        "unsubscribed.html",
        "not_found.html",
        "invalid.html",
        "tracking_page.html",
        "returns_portal.html",
        "return_result.html",
    ],
    kinds: [],
    email_only: [],
);

/// The names of two template lists, in order (a const, so that naming a family's templates does
/// not link their sources).
const fn names<const N: usize>(
    first: &[(&'static str, &'static str)],
    second: &[(&'static str, &'static str)],
) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < first.len() {
        out[i] = first[i].0;
        i += 1;
    }
    let mut j = 0;
    while j < second.len() {
        out[i + j] = second[j].0;
        j += 1;
    }
    out
}

type DefaultEnvironment = LazyLock<Result<Environment<'static>, minijinja::Error>>;

fn build(families: [&'static [(&'static str, &'static str)]; 2]) -> Result<Environment<'static>, minijinja::Error> {
    let mut env = base_environment();
    for &(name, source) in families.into_iter().flatten() {
        env.add_template(name, source)?;
    }
    Ok(env)
}

/// Built once per process, at the family's first render. Each holds an error instead of
/// panicking should a default not compile (a unit test makes sure they all do). A function
/// that never renders a family never names its static, and the linker leaves its templates out.
static PARCEL_ENV: DefaultEnvironment = LazyLock::new(|| build([EMAIL_LAYOUT, PARCEL_TEMPLATES]));
static REVIEW_ENV: DefaultEnvironment = LazyLock::new(|| build([EMAIL_LAYOUT, REVIEW_TEMPLATES]));
static RETURN_ENV: DefaultEnvironment = LazyLock::new(|| build([EMAIL_LAYOUT, RETURN_TEMPLATES]));
static PAGE_ENV: DefaultEnvironment = LazyLock::new(|| build([&[], PAGE_TEMPLATES]));

const PARCEL_NAMES: [&str; EMAIL_LAYOUT.len() + PARCEL_TEMPLATES.len()] = names(EMAIL_LAYOUT, PARCEL_TEMPLATES);
const REVIEW_NAMES: [&str; EMAIL_LAYOUT.len() + REVIEW_TEMPLATES.len()] = names(EMAIL_LAYOUT, REVIEW_TEMPLATES);
const RETURN_NAMES: [&str; EMAIL_LAYOUT.len() + RETURN_TEMPLATES.len()] = names(EMAIL_LAYOUT, RETURN_TEMPLATES);
const PAGE_NAMES: [&str; PAGE_TEMPLATES.len()] = names(&[], PAGE_TEMPLATES);

/// Which templates a render needs: an environment of its own, and the names it answers to.
pub(crate) struct Family {
    defaults: &'static DefaultEnvironment,
    names: &'static [&'static str],
}

impl Family {
    /// An order's and its parcels' messages.
    pub(crate) const PARCEL: Family = Family { defaults: &PARCEL_ENV, names: &PARCEL_NAMES };
    pub(crate) const REVIEW: Family = Family { defaults: &REVIEW_ENV, names: &REVIEW_NAMES };
    pub(crate) const RETURN: Family = Family { defaults: &RETURN_ENV, names: &RETURN_NAMES };
    /// The customer pages.
    pub(crate) const PAGE: Family = Family { defaults: &PAGE_ENV, names: &PAGE_NAMES };

    /// The family of `kind`'s messages.
    pub(crate) fn of(kind: MessageKind) -> &'static Family {
        match kind {
            MessageKind::ReviewRequest => &Self::REVIEW,
            MessageKind::ReturnUpdate => &Self::RETURN,
            _ => &Self::PARCEL,
        }
    }

    fn has(&self, name: &str) -> bool {
        self.names.contains(&name)
    }
}

const TEMPLATE_COUNT: usize = EMAIL_LAYOUT.len()
    + PARCEL_TEMPLATES.len()
    + REVIEW_TEMPLATES.len()
    + RETURN_TEMPLATES.len()
    + PAGE_TEMPLATES.len();

/// The names a shop may override.
pub const TEMPLATE_NAMES: [&str; TEMPLATE_COUNT] = {
    let families = [EMAIL_LAYOUT, PARCEL_TEMPLATES, REVIEW_TEMPLATES, RETURN_TEMPLATES, PAGE_TEMPLATES];
    let mut names = [""; TEMPLATE_COUNT];
    let (mut f, mut i) = (0, 0);
    while f < families.len() {
        let mut j = 0;
        while j < families[f].len() {
            names[i] = families[f][j].0;
            i += 1;
            j += 1;
        }
        f += 1;
    }
    names
};

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

fn write_html_escaped<W: std::fmt::Write + ?Sized>(out: &mut W, s: &str) -> std::fmt::Result {
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

/// The family's default environment, or one with the shop's overrides of its templates on top.
fn environment(
    family: &Family,
    overrides: &BTreeMap<String, String>,
) -> Result<std::borrow::Cow<'static, Environment<'static>>, TemplateError> {
    let defaults = family.defaults.as_ref().map_err(|e| render_error(e.name().unwrap_or("default templates"), e))?;
    let overrides: Vec<_> = overrides.iter().filter(|(name, _)| family.has(name)).collect();
    if overrides.is_empty() {
        return Ok(std::borrow::Cow::Borrowed(defaults));
    }
    let mut env = defaults.clone();
    env.set_fuel(Some(OVERRIDE_FUEL));
    for (name, source) in overrides {
        if let Some((operator, hint)) = unbounded_operator(source) {
            return Err(TemplateError::UnboundedOperator { template: name.clone(), operator, hint });
        }
        env.add_template_owned(name.clone(), source.clone()).map_err(|e| render_error(name, &e))?;
    }
    Ok(std::borrow::Cow::Owned(env))
}

/// Runs `render` with the shop's settings; when one of its template overrides is at fault (it
/// does not compile, fails to render or uses what overrides may not, renders nothing, drops the
/// unsubscribe link, makes the SMS too long), logs that at ERROR and runs it again with the
/// default templates. A broken override must not stop a customer's message: the platform would
/// retry the webhook for days and the order would never be confirmed. `ppx shop put` refuses
/// such overrides before they are saved; this catches what was stored before that check.
pub fn or_default_templates<T>(
    settings: &ShopSettings,
    rendering: &str,
    render: impl Fn(&ShopSettings) -> Result<T, TemplateError>,
) -> Result<T, TemplateError> {
    match render(settings) {
        Err(err) if err.is_an_override_fault() && !settings.templates.is_empty() => {
            // Template names and engine messages only: never context values.
            tracing::error!(error = %err, rendering, "a shop template override failed; the default template is used");
            render(&ShopSettings { templates: BTreeMap::new(), ..settings.clone() })
        }
        other => other,
    }
}

impl TemplateError {
    /// Whether an override can be the cause (the defaults then render).
    fn is_an_override_fault(&self) -> bool {
        matches!(
            self,
            Self::Render { .. }
                | Self::Empty { .. }
                | Self::MissingUnsubscribe { .. }
                | Self::SmsTooLong { .. }
                | Self::UnboundedOperator { .. }
        )
    }
}

/// The operator of a shop override that could build values without bound, with a hint.
///
/// Fuel bounds what minijinja allocates for strings, but `*` and `+` also repeat and chain
/// lists lazily, for free: `([s] * 1000)|join` or `{{ [s] * 1000 }}` then builds a gigabyte
/// from one megabyte before any fuel is charged, and a 128 MB function dies instead of failing
/// the render. Overrides are text with loops and filters, so they may not use `*` at all, and
/// `+` only next to a number (`n + 1` is arithmetic whatever `n` is). Scans the tags (`{{ }}`,
/// `{% %}`), skipping comments, string literals and `{% raw %}` blocks.
fn unbounded_operator(source: &str) -> Option<(&'static str, &'static str)> {
    const REPEAT: (&str, &str) = ("`*`", "write a loop instead of repeating a value");
    const PLUS: (&str, &str) = ("`+` between non-numbers", "print the values one after the other instead");
    let bytes = source.as_bytes();
    let mut i = 0;
    while let Some(offset) = source[i..].find('{') {
        let open = i + offset;
        let &kind = bytes.get(open + 1)?;
        let close = match kind {
            b'{' => "}}",
            b'%' => "%}",
            b'#' => {
                i = source[open..].find("#}").map_or(bytes.len(), |end| open + end + 2);
                continue;
            }
            _ => {
                i = open + 1;
                continue;
            }
        };
        let mut j = open + 2;
        let mut tag = String::new();
        while j < bytes.len() && !bytes[j..].starts_with(close.as_bytes()) {
            match bytes[j] {
                quote @ (b'"' | b'\'') => {
                    j += 1;
                    while j < bytes.len() && bytes[j] != quote {
                        j += if bytes[j] == b'\\' { 2 } else { 1 };
                    }
                    tag.push('s');
                }
                b'*' if bytes.get(j + 1) == Some(&b'*') => {
                    tag.push_str("**");
                    j += 1;
                }
                b'*' => return Some(REPEAT),
                other => tag.push(char::from(other)),
            }
            j += 1;
        }
        let words: Vec<&str> = tag.trim_matches('-').split_whitespace().collect();
        if kind == b'%' && words.first() == Some(&"raw") {
            // Everything up to `endraw` is text.
            i = source.get(j..).and_then(|rest| rest.find("endraw")).map_or(bytes.len(), |end| j + end);
            continue;
        }
        // `+` is arithmetic when a number literal stands on either side of it.
        let number = |text: &str| text.trim().starts_with(|c: char| c.is_ascii_digit());
        let mut rest = tag.as_str();
        while let Some(plus) = rest.find('+') {
            let (before, after) = (&rest[..plus], &rest[plus + 1..]);
            let left = before.trim_end().rsplit(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')).next();
            if !number(after) && !left.is_some_and(number) {
                return Some(PLUS);
            }
            rest = after;
        }
        i = (j + close.len()).min(bytes.len());
    }
    None
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
    [Family::PARCEL, Family::REVIEW, Family::RETURN, Family::PAGE]
        .iter()
        .try_for_each(|family| environment(family, overrides).map(|_| ()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::messages::MessageKind;
    use crate::domain::order::LineItem;
    use crate::render::fixtures::*;

    #[test]
    fn default_templates_compile_and_are_all_overridable() {
        for family in [Family::PARCEL, Family::REVIEW, Family::RETURN, Family::PAGE] {
            assert!(family.defaults.is_ok(), "{:?}: {:?}", family.names, family.defaults.as_ref().err());
        }
        for shared in [
            "layout.html",
            "shipment_details.html",
            "shipment_details.txt",
            "page_layout.html",
            "survey_confirm.html",
            "survey_thanks.html",
            "unsubscribe_confirm.html",
            "unsubscribed.html",
            "not_found.html",
            "invalid.html",
            "tracking_page.html",
            "returns_portal.html",
            "return_result.html",
        ] {
            assert!(TEMPLATE_NAMES.contains(&shared), "{shared}");
        }
        let email_only = [MessageKind::ReviewRequest, MessageKind::Stalled, MessageKind::NotShipped];
        for kind in MessageKind::ALL.into_iter().filter(|k| k.is_for_customer()) {
            for suffix in ["subject.txt", "html", "txt"] {
                let name = format!("{}.{suffix}", kind.as_str());
                assert!(TEMPLATE_NAMES.contains(&name.as_str()), "{name}");
            }
            let sms = format!("{}.sms.txt", kind.as_str());
            assert_eq!(TEMPLATE_NAMES.contains(&sms.as_str()), !email_only.contains(&kind), "{sms}");
            assert_eq!(has_sms(kind), !email_only.contains(&kind), "{kind:?}");
        }
        let mut names = TEMPLATE_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TEMPLATE_NAMES.len(), "duplicate template names");
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
    fn overrides_may_not_repeat_or_chain_values_without_bound() {
        for allowed in [
            "{{ order.number }} and {{ item.quantity + 1 }}",
            "{% for n in range(item.max_quantity + 1) %}{{ n }}{% endfor %}",
            "{{ 1 + n }} {{ 2 ** 10 }} {{ 10 - 3 }}",
            "{{ \"a * b + c\" }} {{ 'it''s' }} {{ \"say \\\" + \\\" it\" }}",
            "{# a * b + c #}Stars * and + in text are text.",
            "{% raw %}{{ a * b }} {{ a + b }}{% endraw %}{{ shop.name }}",
            "{%- raw -%}{{ a * b }}{%- endraw -%}",
            "{{ café }} {{ \"ünïcode *\" }}",
        ] {
            assert_eq!(unbounded_operator(allowed), None, "{allowed}");
        }
        for refused in [
            "{{ [shop.name] * 1000 }}",
            "{{ \"x\" * 300000000 }}",
            "{{ a + b }}",
            "{{ \"x\" + \"y\" }}",
            "{%- set ns.l = ns.l + ns.l -%}",
            "{{ (items * 3)|join }}",
            "text {{ ok }} then {{ a*2 }}",
            "{{ unterminated * ",
        ] {
            assert!(unbounded_operator(refused).is_some(), "{refused}");
        }
        let overrides = BTreeMap::from([("shipped.html".to_owned(), "{{ [1] * 9 }}".to_owned())]);
        let err = check_overrides(&overrides).unwrap_err();
        assert!(
            matches!(&err, TemplateError::UnboundedOperator { template, .. } if template == "shipped.html"),
            "{err}"
        );
        assert!(err.to_string().contains("write a loop"), "{err}");
    }

    #[test]
    fn a_failing_override_falls_back_to_the_default_template() {
        let order = order();
        let defaults = render_email(MessageKind::OrderConfirmation, &ctx(&settings(), &order, None)).unwrap();
        for source in ["{% for item in order.items %}", "{{ order.numbr }}", "   ", "{{ [1] * 9 }}"] {
            let mut custom = settings();
            custom.templates.insert("order_confirmation.html".to_owned(), source.to_owned());
            let strict = render_email(MessageKind::OrderConfirmation, &ctx(&custom, &order, None));
            assert!(strict.as_ref().is_err_and(TemplateError::is_an_override_fault), "{source}");
            let email = or_default_templates(&custom, "order_confirmation", |settings| {
                render_email(MessageKind::OrderConfirmation, &ctx(settings, &order, None))
            })
            .unwrap();
            assert_eq!((email.subject, email.html), (defaults.subject.clone(), defaults.html.clone()), "{source}");
        }
        // A fault that is not the override's is not hidden.
        let custom = settings();
        let missing = or_default_templates(&custom, "shipped", |settings| {
            render_email(MessageKind::Shipped, &ctx(settings, &order, None))
        });
        assert!(matches!(missing, Err(TemplateError::MissingShipment(_))), "{missing:?}");
    }

    #[test]
    fn the_override_fuel_renders_the_largest_default_pages_and_emails() {
        // 250 lines of 50 units each: a portal of 250 quantity menus, an email of 250 lines.
        let mut order = return_order();
        let line = order.items[0].clone();
        order.items = (0..250)
            .map(|i| LineItem { id: Some(format!("L{i}")), quantity: 50, title: format!("Item {i}"), ..line.clone() })
            .collect();
        let mut custom = settings();
        // Any override makes the whole render run on the override fuel.
        custom.templates.insert("page_layout.html".to_owned(), PAGE_TEMPLATES[0].1.to_owned());
        custom.templates.insert("layout.html".to_owned(), EMAIL_LAYOUT[0].1.to_owned());
        assert_eq!((EMAIL_LAYOUT[0].0, PAGE_TEMPLATES[0].0), ("layout.html", "page_layout.html"));
        let items = portal_items(&order, &[]);
        assert_eq!(items.len(), 250);
        render_returns_portal(&custom, &order, &items, &[], PORTAL_ACTION, FORM_KEY, None).unwrap();
        render_email(MessageKind::OrderConfirmation, &ctx(&custom, &order, None)).unwrap();
    }
}
