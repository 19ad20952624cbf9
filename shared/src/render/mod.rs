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
//! The same environment renders the small web pages customers reach from those emails (survey
//! thanks, unsubscribe): see [`render_page`]. Their templates (`page_layout.html`, ...) can be
//! overridden the same way.
//!
//! HTML templates (`.html`) are auto-escaped, text templates (`.txt`) are not. The context holds
//! personal data: only [`or_default_templates`] logs, a failing override by template name and
//! engine message.

use crate::domain::ids::TrackingNumber;
use crate::domain::messages::MessageKind;
use crate::domain::money::{Money, MoneyError};
use crate::domain::order::{LineItem, Order, Shipment};
use crate::domain::returns::{ItemEligibility, Resolution, Return, ReturnState, RuleOutcome, Verdict};
use crate::domain::settings::ShopSettings;
use crate::domain::tracking::{ShipmentTracking, TrackingEvent, TrackingStatus};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use minijinja::value::{Serde, Value};
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::LazyLock;
use unicode_normalization::UnicodeNormalization;

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

pub use crate::domain::link::ReviewLinks;

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

/// Hard limit for a rendered SMS (two concatenated GSM-7 segments hold 306).
pub const SMS_MAX_CHARS: usize = 300;

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

/// `layout.html` wraps every HTML part; `shipment_details.{html,txt}` (carrier, tracking number,
/// "Track your order" and the shipment's items) is included by the shipment kinds after `shipped`.
/// `page_layout.html` wraps the customer pages ([`Page`]), one template each.
const DEFAULT_TEMPLATES: &[(&str, &str)] = embedded_templates!(
    shared: [
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
    ],
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
        "return_update",
    ],
    // Not transactional: by email only, where the customer can unsubscribe in one click.
    email_only: ["review_request"],
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
/// a message about a shipment (any kind but the order confirmation, the review request and the
/// return update) without `ctx.shipment`, a return update without `ctx.return_update` (or with
/// the return of another order: [`TemplateError::MissingReturn`]), a review request without
/// `ctx.review` ([`TemplateError::MissingReviewLinks`]) or whose parts lost the unsubscribe
/// link to an override ([`TemplateError::MissingUnsubscribe`]), or an amount that overflows.
pub fn render_email(kind: MessageKind, ctx: &MessageContext<'_>) -> Result<RenderedEmail, TemplateError> {
    let view = View::build(kind, ctx)?;
    let unsubscribe_url = view.review.as_ref().map(|review| review.unsubscribe_url);
    let view = Value::from(Serde(view));
    let env = environment(&ctx.settings.templates)?;
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
    let env = environment(&ctx.settings.templates)?;
    let template = format!("{}.sms.txt", kind.as_str());
    let sms = one_line(&render(&env, &template, &view)?);
    let chars = sms.chars().count();
    if chars > SMS_MAX_CHARS {
        return Err(TemplateError::SmsTooLong { template, chars, max: SMS_MAX_CHARS });
    }
    Ok(sms)
}

// ---------------------------------------------------------------------------------------------
// Customer pages: what a customer sees after clicking a link in a review request.

/// Most characters a survey comment may have (the form's `maxlength`; check it on the server too).
pub const COMMENT_MAX_CHARS: usize = 2000;

/// Everything the default pages need, for the `Content-Security-Policy` header of a response
/// carrying a rendered [`Page`]: inline styles and same-origin form posts, nothing else.
pub const PAGE_CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A customer page. Each is one template (see [`Page::template_name`]) in `page_layout.html`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page<'a> {
    /// GET /survey/{token}?score=N, the score link of the review request: shows the chosen
    /// score (changeable) and an optional comment, and records nothing: only the form's plain
    /// POST to `action` (fields `score` and `comment`) does, since mail scanners open every link.
    SurveyConfirm { score: u8, action: &'a str },
    /// After an NPS answer was recorded; offers an optional comment form (POST to `comment_action`,
    /// fields `score` (hidden) and `comment`, at most [`COMMENT_MAX_CHARS`]). With
    /// `comment_saved`, thanks for the comment instead of the form.
    SurveyThanks { score: u8, comment_action: &'a str, comment_saved: bool },
    /// GET /unsubscribe/{token}: explains and shows a button that POSTs to `action` to confirm
    /// (a GET alone never unsubscribes: mail scanners open links).
    UnsubscribeConfirm { action: &'a str },
    /// After unsubscribing: order and shipping emails still come.
    Unsubscribed,
    /// A wrong, expired or tampered link: friendly, and says nothing about what it pointed to.
    NotFound,
    /// A bad request (e.g. a score outside 0-10) with a short human message.
    Invalid { message: &'a str },
}

impl Page<'_> {
    pub fn template_name(&self) -> &'static str {
        match self {
            Self::SurveyConfirm { .. } => "survey_confirm.html",
            Self::SurveyThanks { .. } => "survey_thanks.html",
            Self::UnsubscribeConfirm { .. } => "unsubscribe_confirm.html",
            Self::Unsubscribed => "unsubscribed.html",
            Self::NotFound => "not_found.html",
            Self::Invalid { .. } => "invalid.html",
        }
    }

    /// The HTTP status to serve the page with.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::SurveyConfirm { .. }
            | Self::SurveyThanks { .. }
            | Self::UnsubscribeConfirm { .. }
            | Self::Unsubscribed => 200,
            Self::NotFound => 404,
            Self::Invalid { .. } => 400,
        }
    }
}

/// Renders a customer page: a complete HTML document, mobile-first, with no script and no
/// external resource. With the shop's settings it carries the shop's name, brand colour,
/// support link, language (`settings.locale`) and template overrides; without, a neutral look
/// in English.
///
/// # Errors
/// A shop override that does not compile or fails to render, a template that renders nothing,
/// or [`TemplateError::InvalidPage`] for a score above 10 or a form action that is neither a
/// path (`/...`) nor an http(s) URL.
pub fn render_page(settings: Option<&ShopSettings>, page: &Page<'_>) -> Result<String, TemplateError> {
    let view = PageView::build(settings, page)?;
    let no_overrides = BTreeMap::new();
    let env = environment(settings.map_or(&no_overrides, |s| &s.templates))?;
    render(&env, page.template_name(), &Value::from(Serde(view)))
}

#[derive(Serialize)]
struct PageView<'a> {
    /// The `lang` attribute: the shop's locale as a language tag (`en-US`), else `en`.
    lang: String,
    /// None without settings: the page looks neutral.
    shop: Option<ShopView<'a>>,
    /// Survey thanks: the score given, 0-10.
    score: Option<u8>,
    /// Survey thanks: where the comment form posts.
    comment_action: Option<&'a str>,
    /// Survey thanks: the comment was saved (no form then).
    comment_saved: bool,
    comment_max_chars: usize,
    /// Survey and unsubscribe confirmations: where the confirm button posts.
    action: Option<&'a str>,
    /// Invalid request: what was wrong, one line.
    message: Option<String>,
}

impl<'a> PageView<'a> {
    fn build(settings: Option<&'a ShopSettings>, page: &Page<'a>) -> Result<Self, TemplateError> {
        let mut view = Self {
            lang: settings.map_or_else(|| "en".to_owned(), |s| html_lang(&s.locale)),
            shop: settings.map(ShopView::build),
            score: None,
            comment_action: None,
            comment_saved: false,
            comment_max_chars: COMMENT_MAX_CHARS,
            action: None,
            message: None,
        };
        match *page {
            Page::SurveyConfirm { score, action } => {
                if score > 10 {
                    return Err(TemplateError::InvalidPage { page: "survey_confirm", reason: "score must be 0-10" });
                }
                view.score = Some(score);
                view.action = Some(form_action(action, "survey_confirm")?);
            }
            Page::SurveyThanks { score, comment_action, comment_saved } => {
                if score > 10 {
                    return Err(TemplateError::InvalidPage { page: "survey_thanks", reason: "score must be 0-10" });
                }
                view.score = Some(score);
                view.comment_action = Some(form_action(comment_action, "survey_thanks")?);
                view.comment_saved = comment_saved;
            }
            Page::UnsubscribeConfirm { action } => view.action = Some(form_action(action, "unsubscribe_confirm")?),
            Page::Unsubscribed | Page::NotFound => {}
            // Short by design; a runaway message must not blow the page up.
            Page::Invalid { message } => view.message = Some(one_line(message).chars().take(500).collect()),
        }
        Ok(view)
    }
}

/// A form target: a path on this site or an http(s) URL, never `javascript:` and the like.
fn form_action<'a>(action: &'a str, page: &'static str) -> Result<&'a str, TemplateError> {
    let action = action.trim();
    let is_path = action.starts_with('/') && !action.starts_with("//");
    if is_path || web_url(Some(action)).is_some() {
        Ok(action)
    } else {
        Err(TemplateError::InvalidPage { page, reason: "a form action must be a path or an http(s) URL" })
    }
}

/// `en_US` or `en-US` as an HTML language tag; `en` for anything that does not look like one.
fn html_lang(locale: &str) -> String {
    let tag = locale.trim().replace('_', "-");
    let mut subtags = tag.split('-');
    let primary_ok =
        subtags.next().is_some_and(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    let rest_ok = subtags.all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    if primary_ok && rest_ok && tag.len() <= 35 { tag } else { "en".to_owned() }
}

// ---------------------------------------------------------------------------------------------
// Order pages: tracking, the returns portal and the answer to a return request. Like the pages
// above, complete documents in `page_layout.html`; they always carry the shop's look.

/// Most checkpoints a shipment's timeline lists (the newest); older ones are counted instead.
pub const TIMELINE_MAX_CHECKPOINTS: usize = 25;
/// Longest carrier message or location a page shows, in characters.
const PAGE_TEXT_MAX_CHARS: usize = 200;
/// Up to this many units a quantity is picked from a list; above, it is typed in a number field.
const QUANTITY_SELECT_MAX: u32 = 50;
/// Longest error message the portal shows, in characters.
const PAGE_ERROR_MAX_CHARS: usize = 500;
/// Longest idempotency key the portal puts in its form.
const FORM_KEY_MAX_CHARS: usize = 200;

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
/// or [`TemplateError::InvalidPage`] when `view` has no order.
pub fn render_tracking_page(
    settings: &ShopSettings,
    view: &crate::ports::store::OrderView,
    now: DateTime<Utc>,
) -> Result<String, TemplateError> {
    let page = TrackingPageView::build(settings, view, now)?;
    let env = environment(&settings.templates)?;
    render(&env, "tracking_page.html", &Value::from(Serde(page)))
}

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
/// As [`render_tracking_page`], plus [`TemplateError::InvalidPage`] for a form action that is
/// neither a path nor an http(s) URL, or a form key that is empty, longer than 200 characters
/// or has control characters.
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
    let env = environment(&settings.templates)?;
    render(&env, "returns_portal.html", &Value::from(Serde(page)))
}

/// Renders the answer to a return request (`return_result.html`): for an approved return what
/// comes back, fees, where and how to send the items; while it needs review, why and when the
/// customer hears back; for a rejected one, why for each item. The same view (and texts) as the
/// `return_update` email, under `return_update`; a link back to the portal at `portal_url`.
///
/// # Errors
/// As [`render_tracking_page`], plus [`TemplateError::InvalidPage`] for a return of another
/// order, or a portal URL that is neither a path nor an http(s) URL.
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
    let env = environment(&settings.templates)?;
    render(&env, "return_result.html", &Value::from(Serde(page)))
}

#[derive(Serialize)]
struct PageOrderView {
    /// `#1001`.
    number: String,
    /// In the shop's time zone: "November 23, 2026".
    placed_on: String,
    /// The date promised when the order was placed: "Friday, December 4", with " (today)" or
    /// " (tomorrow)" when it is.
    promised_delivery: Option<String>,
    /// Every line: "2 × Linen shirt (M / Sand)".
    items: Vec<String>,
    cancelled: bool,
}

impl PageOrderView {
    fn build(order: &Order, settings: &ShopSettings, today: Option<NaiveDate>) -> Self {
        Self {
            number: display_order_number(&order.number),
            placed_on: order.placed_at.with_timezone(&settings.time_zone).format("%B %-d, %Y").to_string(),
            promised_delivery: order.promised_delivery.map(|date| page_date(date, today)),
            items: order
                .items
                .iter()
                .filter(|line| line.quantity > 0)
                .map(|line| page_item_label(line.quantity, &line.title, non_empty(line.variant.as_deref())))
                .collect(),
            cancelled: order.status == crate::domain::order::OrderStatus::Cancelled,
        }
    }
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

impl<'a> TrackingPageView<'a> {
    fn build(
        settings: &'a ShopSettings,
        view: &'a crate::ports::store::OrderView,
        now: DateTime<Utc>,
    ) -> Result<Self, TemplateError> {
        let order = view
            .order
            .as_ref()
            .ok_or(TemplateError::InvalidPage { page: "tracking_page", reason: "the order is missing" })?;
        let time_zone = settings.time_zone;
        let today = now.with_timezone(&time_zone).date_naive();
        let order_view = PageOrderView::build(order, settings, Some(today));
        let order_units: u64 = order.items.iter().map(|i| u64::from(i.quantity)).sum();
        let mut shipments: Vec<&Shipment> = view.shipments.iter().filter(|s| s.order_id == order.id).collect();
        shipments.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let count = shipments.len();
        let cards = shipments
            .iter()
            .enumerate()
            .map(|(i, shipment)| {
                let tracking = view.tracking.get(&shipment.id).map(|versioned| &versioned.value);
                let heading =
                    if count > 1 { format!("Shipment {} of {count}", i + 1) } else { "Your shipment".to_owned() };
                ShipmentCardView::build(i + 1, heading, shipment, tracking, order, order_units, time_zone, today)
            })
            .collect();
        Ok(Self {
            lang: html_lang(&settings.locale),
            shop: ShopView::build(settings),
            not_shipped: if order_view.cancelled { Vec::new() } else { not_shipped(order, &shipments) },
            order: order_view,
            shipments: cards,
            steps: steps(0),
            time_zone: time_zone.name().replace('_', " "),
        })
    }
}

impl<'a> ShipmentCardView<'a> {
    #[allow(clippy::too_many_arguments)]
    fn build(
        number: usize,
        heading: String,
        shipment: &'a Shipment,
        tracking: Option<&'a ShipmentTracking>,
        order: &'a Order,
        order_units: u64,
        time_zone: Tz,
        today: NaiveDate,
    ) -> Self {
        use TrackingStatus as S;
        let details = ShipmentView::build(shipment, tracking, order, order_units);
        let status = tracking.and_then(|t| t.status).filter(|s| *s != S::Unknown);
        let (code, headline, step, panel) = match status {
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
            items: details.items.iter().map(|item| page_item_label(item.quantity, item.title, item.variant)).collect(),
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

/// A calendar date as it is (never converted): "Tuesday, December 1", with " (today)" or
/// " (tomorrow)" when it is.
fn page_date(date: NaiveDate, today: Option<NaiveDate>) -> String {
    let mut out = long_date(date);
    if let Some(today) = today {
        if date == today {
            out.push_str(" (today)");
        } else if today.succ_opt() == Some(date) {
            out.push_str(" (tomorrow)");
        }
    }
    out
}

/// "2 × Linen shirt (M / Sand)": pages are UTF-8, so they get a real multiplication sign.
fn page_item_label(quantity: u32, title: &str, variant: Option<&str>) -> String {
    let title = title.trim();
    match variant {
        Some(variant) => format!("{quantity} × {title} ({variant})"),
        None => format!("{quantity} × {title}"),
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
        .map(|(line, left)| page_item_label(left, &line.title, non_empty(line.variant.as_deref())))
        .collect()
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
                        .map(|item| page_item_label(item.quantity, item.title, item.variant))
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
    /// Present for the review request only.
    review: Option<ReviewView<'a>>,
    /// Present for the return update only.
    return_update: Option<ReturnView<'a>>,
}

/// A return as the customer reads it in the message about its current state.
#[derive(Serialize)]
struct ReturnView<'a> {
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
    resolution_summary: String,
    /// Every item asked for, in the order of the request.
    items: Vec<ReturnItemView<'a>>,
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
struct ReturnItemView<'a> {
    title: &'a str,
    /// From the order's line item, when it can be found.
    variant: Option<&'a str>,
    quantity: u32,
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
struct ShopView<'a> {
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
    fn build(settings: &'a ShopSettings) -> Self {
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
const REJECTED_AFTER_REVIEW: &str = "Our team reviewed this item and couldn't accept it for return.";
/// Said while a return needs review, when no rule explains why.
const REVIEW_WITHOUT_RULE: &str = "Our team checks some returns before approving them.";

impl<'a> ReturnView<'a> {
    fn build(ret: &'a Return, settings: &'a ShopSettings, order: &'a Order) -> Self {
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
                    label: item_label(item.quantity, title, variant),
                    reason: reason_label(&item.reason),
                    comment: requested.and_then(|r| non_empty(r.comment.as_deref())),
                    verdict: verdict_str(verdict),
                    fee: item.fee.filter(|fee| fee.minor != 0).map(|fee| fee.to_string()),
                    why,
                }
            })
            .collect::<Vec<_>>();
        let with_verdict = |verdict: Verdict| -> Vec<ReturnItemView<'a>> {
            items.iter().filter(|item| item.verdict == verdict_str(verdict)).cloned().collect()
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

fn verdict_str(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Approved => "approved",
        Verdict::NeedsReview => "needs_review",
        Verdict::Rejected => "rejected",
    }
}

/// A reason code the policy no longer lists, readable: `changed_mind` becomes "Changed mind".
fn humanize(code: &str) -> String {
    let words = code.replace(['_', '-'], " ");
    let words = one_line(&words);
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Other".to_owned(),
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
        MessageKind::OrderConfirmation | MessageKind::ReviewRequest | MessageKind::ReturnUpdate => false,
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
        MessageKind::OrderConfirmation | MessageKind::ReviewRequest | MessageKind::ReturnUpdate => return None,
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

/// A title as a URL slug: "Linen Shirt / Sand" becomes `linen-shirt-sand`. Accents are dropped
/// ("Café" becomes `cafe`), anything else that is not an ASCII letter or digit separates words.
fn slug(title: &str) -> String {
    let mut slug = String::with_capacity(title.len());
    let mut separated = false;
    for c in title.nfkd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)) {
        if c.is_ascii_alphanumeric() {
            if separated && !slug.is_empty() {
                slug.push('-');
            }
            separated = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            separated = true;
        }
    }
    slug
}

/// Percent-encodes everything but the unreserved characters of RFC 3986, so a value is safe in
/// a path segment, a query or a fragment.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
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

/// The WCAG relative luminance of `#rrggbb`.
fn luminance(color: &str) -> f64 {
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&color[i..i + 2], 16).unwrap_or(0)) / 255.0;
        if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    };
    0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
}

/// The WCAG contrast ratio of `#rrggbb` against white.
fn contrast_with_white(color: &str) -> f64 {
    1.05 / (luminance(color) + 0.05)
}

/// White or near-black text, whichever contrasts more with `#rrggbb` (WCAG relative luminance).
fn text_color_on(color: &str) -> &'static str {
    let luminance = luminance(color);
    // #111827 has a relative luminance of about 0.012.
    let on_white = contrast_with_white(color);
    let on_dark = (luminance + 0.05) / (0.012 + 0.05);
    if on_white >= on_dark { "#ffffff" } else { "#111827" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{OrderId, ShopId};
    use crate::domain::money::Currency;
    use crate::domain::order::{Customer, OrderStatus, PaymentStatus, Platform, ShipmentItem, Totals};
    use crate::domain::returns::{Decision, ItemDecision, RequestedItem, ReturnRequest};
    use crate::domain::tracking::{ShipmentTracking, TrackingEvent, TrackingStatus};
    use chrono::TimeZone;

    const TRACKING_URL: &str = "https://t.ppx.example/track/Xk2b9Qw";
    const RETURNS_URL: &str = "https://t.ppx.example/returns/Pq7Lm3z";

    fn settings() -> ShopSettings {
        ShopSettings::from_json(include_str!("../../../events/shop.example.json")).unwrap()
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
            review: None,
            return_update: None,
        }
    }

    #[test]
    fn default_templates_compile_and_are_all_overridable() {
        assert!(DEFAULT_ENV.is_ok(), "{:?}", DEFAULT_ENV.as_ref().err());
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
        for kind in MessageKind::ALL {
            for suffix in ["subject.txt", "html", "txt"] {
                let name = format!("{}.{suffix}", kind.as_str());
                assert!(TEMPLATE_NAMES.contains(&name.as_str()), "{name}");
            }
            let sms = format!("{}.sms.txt", kind.as_str());
            assert_eq!(TEMPLATE_NAMES.contains(&sms.as_str()), kind != MessageKind::ReviewRequest, "{sms}");
            assert_eq!(has_sms(kind), kind != MessageKind::ReviewRequest, "{kind:?}");
        }
        let mut names = TEMPLATE_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TEMPLATE_NAMES.len(), "duplicate template names");
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
        use crate::domain::tracking::CarrierUpdate;
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
            MessageKind::OrderConfirmation
            | MessageKind::Shipped
            | MessageKind::ReviewRequest
            | MessageKind::ReturnUpdate => ShipmentTracking::default(),
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
    fn handles_are_url_slugs_of_the_title() {
        for (title, handle) in [
            ("Linen shirt", "linen-shirt"),
            ("  Linen   Shirt!  ", "linen-shirt"),
            ("Tote / Bag (2-pack)", "tote-bag-2-pack"),
            ("Café crème", "cafe-creme"),
            ("100% Cotton_Tee", "100-cotton-tee"),
            ("../../admin?x=1#y", "admin-x-1-y"),
            ("Ｆｕｌｌ width", "full-width"),
            ("日本茶", ""),
        ] {
            assert_eq!(slug(title), handle, "{title:?}");
        }
        assert_eq!(percent_encode("a-b_c.d~e/f g%h"), "a-b_c.d~e%2Ff%20g%25h");
        assert_eq!(percent_encode("é"), "%C3%A9");
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

    // --- Return updates ----------------------------------------------------------------------------

    const LABEL_URL: &str = "https://labels.example/l/8842?fmt=pdf&size=4x6";
    const ADDRESS: &str = "Demo Shop Returns, 100 Warehouse Way, Secaucus, NJ 07094, USA";
    const PACKING: &str =
        "Pack the items in their original packaging if you can, and put the order number on a note inside.";
    const EXCLUDED_TEXT: &str = "This item can't be returned (final sale, hygiene or gift card).";
    const PHOTO_TEXT: &str = "Please add a photo showing the problem; our team will review the request.";
    const TEAM_TEXT: &str = "Our team reviews this return and will get back to you within two business days.";

    /// The order with a third line, so the fee and the amounts of the examples add up:
    /// 2 x $45.00 + $8.00 = $98.00; less the $4.95 fee, $93.05; plus 10%, $107.80.
    fn return_order() -> Order {
        let mut order = order();
        order.items.push(item("li-3", "Wool scarf", None, 1, "8.00"));
        order
    }

    fn requested(line_item: &str, quantity: u32, reason: &str, comment: Option<&str>) -> RequestedItem {
        RequestedItem {
            line_item: line_item.to_owned(),
            quantity,
            reason: reason.to_owned(),
            comment: comment.map(str::to_owned),
            photo_urls: Vec::new(),
        }
    }

    fn decided(
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
    fn a_return(state: ReturnState, resolution: Resolution, amount: &str) -> Return {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 15, 0, 0).unwrap();
        Return {
            id: "ret-1".to_owned(),
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

    fn refund(state: ReturnState) -> Return {
        a_return(state, Resolution::Refund, "93.05")
    }

    fn return_ctx<'a>(settings: &'a ShopSettings, order: &'a Order, ret: &'a Return) -> MessageContext<'a> {
        MessageContext { return_update: Some(ret), ..ctx(settings, order, None) }
    }

    /// What a reader sees of an HTML part: no tags, entities decoded, whitespace collapsed.
    fn visible(html: &str) -> String {
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

    // --- Customer pages ----------------------------------------------------------------------------

    const COMMENT_ACTION: &str = "/survey/Nq4v8Tz/comment?v=1&src=email";
    const UNSUBSCRIBE_ACTION: &str = "https://t.ppx.example/unsubscribe/Nq4v8Tz";

    fn all_pages() -> [Page<'static>; 7] {
        [
            Page::SurveyConfirm { score: 9, action: COMMENT_ACTION },
            Page::SurveyThanks { score: 9, comment_action: COMMENT_ACTION, comment_saved: false },
            Page::SurveyThanks { score: 3, comment_action: COMMENT_ACTION, comment_saved: true },
            Page::UnsubscribeConfirm { action: UNSUBSCRIBE_ACTION },
            Page::Unsubscribed,
            Page::NotFound,
            Page::Invalid { message: "The score must be a number from 0 to 10." },
        ]
    }

    #[test]
    fn every_page_is_a_small_accessible_self_contained_document() {
        let settings = settings();
        for page in all_pages() {
            for shop in [Some(&settings), None] {
                let html = render_page(shop, &page).unwrap();
                let what = format!("{page:?} with settings: {}", shop.is_some());
                assert!(html.starts_with("<!DOCTYPE html>\n"), "{what}");
                let lang = if shop.is_some() { "<html lang=\"en-US\">" } else { "<html lang=\"en\">" };
                assert!(html.contains(lang), "{what}");
                for expected in [
                    "<meta charset=\"utf-8\">",
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
                    "<meta name=\"referrer\" content=\"no-referrer\">",
                    "<style>",
                    "<main>",
                    "</main>",
                    "<h1>",
                    "</html>",
                ] {
                    assert!(html.contains(expected), "{what}: missing {expected:?} in\n{html}");
                }
                let title = html.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).unwrap();
                assert!(!title.trim().is_empty(), "{what}");
                for forbidden in
                    ["<script", "<img", "<link", "<iframe", " src=", "url(", "@import", "javascript:", "none"]
                {
                    assert!(!html.contains(forbidden), "{what}: {forbidden:?} in\n{html}");
                }
                assert!(html.len() < 10 * 1024, "{what}: {} bytes", html.len());
                if shop.is_some() {
                    assert!(html.contains("<header class=\"brand\">Demo Shop</header>"), "{what}");
                    assert!(html.contains("#0f766e") && title.ends_with(" | Demo Shop"), "{what}");
                    assert!(html.contains("<a href=\"https://demo-shop.example/help\">Contact Demo Shop support</a>"));
                    assert!(html.contains("mailto:support@demo-shop.example"), "{what}");
                } else {
                    assert!(!html.contains("Demo Shop") && !html.contains("demo-shop"), "{what}");
                    assert!(!html.contains("<header") && !html.contains("<footer"), "{what}");
                }
                let dir = std::env::temp_dir();
                let file = format!("ppx-page-{}{}", page.template_name(), if shop.is_some() { "" } else { ".neutral" });
                let _ = std::fs::write(dir.join(file.replace(".html", "") + ".html"), &html);
            }
        }
    }

    #[test]
    fn survey_thanks_shows_the_score_and_a_labelled_comment_form() {
        let settings = settings();
        for shop in [Some(&settings), None] {
            let html = render_page(
                shop,
                &Page::SurveyThanks { score: 9, comment_action: COMMENT_ACTION, comment_saved: false },
            )
            .unwrap();
            assert!(html.contains("You answered <strong class=\"score\">9</strong> out of 10"), "{html}");
            assert!(
                html.contains("<form method=\"post\" action=\"/survey/Nq4v8Tz/comment?v=1&amp;src=email\">"),
                "{html}"
            );
            assert!(html.contains("<input type=\"hidden\" name=\"score\" value=\"9\">"), "{html}");
            assert!(html.contains("<label for=\"comment\">Great to hear! What did you like most?</label>"), "{html}");
            assert!(html.contains("<textarea id=\"comment\" name=\"comment\" rows=\"5\" maxlength=\"2000\""), "{html}");
            assert!(html.contains("<button type=\"submit\">"), "{html}");
        }
        let detractor =
            render_page(None, &Page::SurveyThanks { score: 0, comment_action: "/c", comment_saved: false }).unwrap();
        assert!(detractor.contains("What could we do better?") && detractor.contains(">0</strong>"));
        let passive =
            render_page(None, &Page::SurveyThanks { score: 8, comment_action: "/c", comment_saved: false }).unwrap();
        assert!(passive.contains("What would make it a 10?"));

        let saved =
            render_page(Some(&settings), &Page::SurveyThanks { score: 3, comment_action: "/c", comment_saved: true })
                .unwrap();
        assert!(saved.contains("Thanks for your comment") && saved.contains(">3</strong>"), "{saved}");
        assert!(!saved.contains("<form") && !saved.contains("<textarea"), "{saved}");
    }

    #[test]
    fn the_survey_link_only_shows_the_answer_to_confirm_with_a_plain_form_post() {
        let settings = settings();
        for shop in [Some(&settings), None] {
            let html = render_page(shop, &Page::SurveyConfirm { score: 3, action: COMMENT_ACTION }).unwrap();
            assert!(
                html.contains("<form method=\"post\" action=\"/survey/Nq4v8Tz/comment?v=1&amp;src=email\">"),
                "{html}"
            );
            assert!(html.contains("You chose <strong class=\"score\">3</strong> out of 10"), "{html}");
            // Every score can be picked, the chosen one is preselected.
            for score in 0..=10 {
                let checked = if score == 3 { " checked" } else { "" };
                let radio = format!("<input type=\"radio\" name=\"score\" value=\"{score}\"{checked}>");
                assert!(html.contains(&radio), "{radio} in {html}");
            }
            assert_eq!(html.matches(" checked").count(), 1, "{html}");
            assert!(html.contains("<textarea id=\"comment\" name=\"comment\""), "{html}");
            assert!(!html.contains(" required"), "the comment is optional: {html}");
            assert!(html.contains("<button type=\"submit\">Send my answer</button>"), "{html}");
        }
        let page = Page::SurveyConfirm { score: 11, action: "/c" };
        assert!(matches!(render_page(None, &page), Err(TemplateError::InvalidPage { .. })));
        let page = Page::SurveyConfirm { score: 1, action: "javascript:alert(1)" };
        assert!(matches!(render_page(None, &page), Err(TemplateError::InvalidPage { .. })));
    }

    #[test]
    fn unsubscribe_pages_confirm_with_a_plain_form_post() {
        let settings = settings();
        let html = render_page(Some(&settings), &Page::UnsubscribeConfirm { action: UNSUBSCRIBE_ACTION }).unwrap();
        assert!(html.contains(&format!("<form method=\"post\" action=\"{UNSUBSCRIBE_ACTION}\">")), "{html}");
        assert!(html.contains("<button type=\"submit\">Unsubscribe</button>"), "{html}");
        assert!(html.contains("Demo Shop may email you") && html.contains("shipping updates, will still come"));
        let done = render_page(Some(&settings), &Page::Unsubscribed).unwrap();
        assert!(done.contains("You won't get review requests from Demo Shop any more."), "{done}");
        assert!(done.contains("order confirmations and shipping updates, will still come"), "{done}");
        assert!(!done.contains("<form"));
    }

    #[test]
    fn not_found_is_neutral_and_invalid_escapes_its_message() {
        let html = render_page(None, &Page::NotFound).unwrap();
        assert!(html.contains("This link is not valid or has expired."), "{html}");
        // It takes nothing, so it can show nothing about the link: no shop, order or token.
        for id in ["demo-shop", "Demo Shop", "820982911946154508", "1001", "Nq4v8Tz", "#0f766e"] {
            assert!(!html.contains(id), "{id:?} in\n{html}");
        }
        assert_eq!(Page::NotFound.status_code(), 404);

        let html =
            render_page(None, &Page::Invalid { message: "Bad <script>alert('x')</script> & \"score\"" }).unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("<p>Bad &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;score&quot;</p>"));
        let long = "x".repeat(50_000);
        assert!(render_page(None, &Page::Invalid { message: &long }).unwrap().len() < 10 * 1024);
        assert_eq!(Page::Invalid { message: "" }.status_code(), 400);
        assert_eq!(Page::Unsubscribed.status_code(), 200);
    }

    #[test]
    fn pages_refuse_bad_input_and_follow_the_shop() {
        let page = Page::SurveyThanks { score: 11, comment_action: "/c", comment_saved: false };
        assert!(matches!(render_page(None, &page), Err(TemplateError::InvalidPage { .. })));
        for action in ["javascript:alert(1)", "//evil.example/x", "", "data:text/html,hi"] {
            let page = Page::UnsubscribeConfirm { action };
            assert!(matches!(render_page(None, &page), Err(TemplateError::InvalidPage { .. })), "{action:?}");
        }

        let mut custom = settings();
        custom.locale = "de_DE".to_owned();
        custom.brand_color = "#FDE047".to_owned();
        assert!(render_page(Some(&custom), &Page::Unsubscribed).unwrap().contains("<html lang=\"de-DE\">"));
        let html = render_page(Some(&custom), &Page::Unsubscribed).unwrap();
        assert!(html.contains("background:#fde047;color:#111827"), "{html}");
        for locale in ["\"><script>", "", "e", "en-US-x-toolongsubtag"] {
            custom.locale = locale.to_owned();
            assert!(render_page(Some(&custom), &Page::NotFound).unwrap().contains("<html lang=\"en\">"), "{locale:?}");
        }

        custom.templates.insert(
            "not_found.html".to_owned(),
            "{% extends \"page_layout.html\" %}{% block content %}<h1>Oops, {{ shop.name }}</h1>{% endblock %}"
                .to_owned(),
        );
        assert!(check_overrides(&custom.templates).is_ok());
        let html = render_page(Some(&custom), &Page::NotFound).unwrap();
        assert!(html.contains("<h1>Oops, Demo Shop</h1>") && html.contains("<main>"), "{html}");
        // The override is the shop's: without its settings the default page shows.
        assert!(render_page(None, &Page::NotFound).unwrap().contains("This link is not valid or has expired."));
    }

    // --- Order pages: tracking, returns portal, return result ---------------------------------------

    const PORTAL_ACTION: &str = "/returns/Pq7Lm3z?v=1&src=email";
    const FORM_KEY: &str = "7f3c2a9e41b84d0e9c55a1d3e2f06b7a";

    fn at(rfc3339: &str) -> DateTime<Utc> {
        rfc3339.parse().unwrap()
    }

    /// Checks shared by every order page: a complete, self-contained, accessible document.
    fn assert_order_page(html: &str, what: &str) {
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

    fn write_page(name: &str, html: &str) {
        let _ = std::fs::write(std::env::temp_dir().join(format!("ppx-page-{name}.html")), html);
    }

    fn tracked_by(events: Vec<TrackingEvent>, estimate: Option<NaiveDate>) -> ShipmentTracking {
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

    fn store_view(
        order: Order,
        shipments: Vec<(Shipment, Option<ShipmentTracking>)>,
    ) -> crate::ports::store::OrderView {
        let mut view = crate::ports::store::OrderView { order: Some(order), ..Default::default() };
        for (shipment, tracking) in shipments {
            if let Some(value) = tracking {
                view.tracking.insert(shipment.id.clone(), crate::ports::store::Versioned { value, version: 1 });
            }
            view.shipments.push(shipment);
        }
        view
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
                    "UPS reported a problem delivering your parcel: “The address is incomplete; the carrier is contacting the sender” (Memphis, TN, US)",
                    "Don't worry, we're on it.",
                    "<a href=\"https://demo-shop.example/help\">Contact our support team</a> or email",
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
            let html = render_tracking_page(&settings, &view, page_now()).unwrap();
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
            let html = render_tracking_page(&settings, &view, page_now()).unwrap();
            assert!(html.contains(&format!("<dd>Tuesday, December 1{suffix}</dd>")), "{zone}:\n{html}");
            assert!(html.contains("<dd>Friday, December 4</dd>"), "{zone}");
            assert!(!html.contains("November 30</dd>") && !html.contains("December 2"), "{zone}");
        }
        // Just after midnight UTC on the day itself, New York is still on the evening before.
        settings.time_zone = chrono_tz::America::New_York;
        let view = store_view(order, vec![(whole_order(), Some(tracking))]);
        let html = render_tracking_page(&settings, &view, at("2026-12-01T00:30:00Z")).unwrap();
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
        let html = render_tracking_page(&settings, &view, page_now()).unwrap();
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
        let html = render_tracking_page(&settings, &view, page_now()).unwrap();
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
        second.id = "f-2".to_owned();
        second.carrier = Some("USPS".to_owned());
        second.tracking_number = Some(TrackingNumber::parse("9400111899223197428490").unwrap());
        second.tracking_url = Some("javascript:alert(1)".to_owned());
        // Stored in another order than they were created.
        let view = store_view(order, vec![(second, None), (first, Some(tracking_for(MessageKind::Delivered)))]);
        let html = render_tracking_page(&settings, &view, page_now()).unwrap();
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
        let html = render_tracking_page(&settings, &view, page_now()).unwrap();
        assert_order_page(&html, "ordered");
        write_page("tracking-ordered", &html);
        assert!(html.contains("<h2 id=\"order-status\" class=\"status\">Ordered — we're preparing your order</h2>"));
        assert_eq!(current_step(&html), vec!["Ordered"], "{html}");
        assert!(html.contains("We promised delivery by <strong>Friday, December 4</strong>"), "{html}");
        assert!(html.contains("<li>2 × Linen shirt (M / Sand)</li>") && html.contains("<li>1 × Canvas tote</li>"));
        assert!(!html.contains("Not shipped yet") && !html.contains("Tracking history"), "{html}");

        let mut cancelled = order();
        cancelled.status = crate::domain::order::OrderStatus::Cancelled;
        let html = render_tracking_page(&settings, &store_view(cancelled, Vec::new()), page_now()).unwrap();
        assert!(html.contains("This order was cancelled.") && !html.contains("preparing"), "{html}");

        let empty = crate::ports::store::OrderView::default();
        assert!(matches!(
            render_tracking_page(&settings, &empty, page_now()),
            Err(TemplateError::InvalidPage { page: "tracking_page", .. })
        ));
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
                s.id = format!("f-{n}");
                (s, Some(busy(i64::from(n))))
            })
            .collect();
        let html = render_tracking_page(&settings, &store_view(order, shipments), page_now()).unwrap();
        write_page("tracking-big", &html);
        assert_eq!(html.matches("<li><time datetime=").count(), 60);
        assert!(html.contains("<h2 id=\"shipment-3\">Shipment 3 of 3</h2>"), "{html}");
        assert!(html.len() < 30 * 1024, "{} bytes", html.len());

        // A runaway carrier: the newest checkpoints, and a count of the rest.
        let events = (0..60)
            .map(|i| checkpoint(S::InTransit, &(start + chrono::Duration::hours(i)).to_rfc3339(), &"x".repeat(500), ""))
            .collect();
        let view = store_view(return_order(), vec![(whole_order(), Some(tracked_by(events, None)))]);
        let html = render_tracking_page(&settings, &view, page_now()).unwrap();
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
        let html = render_tracking_page(&settings(), &view, page_now()).unwrap();
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
        let html = render_tracking_page(&settings(), &view, page_now()).unwrap();
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
            let html = render_tracking_page(&settings, &view, page_now()).unwrap();
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
        let html = render_tracking_page(&custom, &view, page_now()).unwrap();
        assert!(html.contains("<h1>#1001: Delivered</h1>") && html.contains("<main>"), "{html}");
    }

    #[test]
    fn light_brand_colours_get_a_dark_accent_for_lines_and_marks() {
        let mut settings = settings();
        settings.brand_color = "#FDE047".to_owned();
        let view = store_view(order(), vec![(whole_order(), Some(tracking_for(MessageKind::OutForDelivery)))]);
        let html = render_tracking_page(&settings, &view, page_now()).unwrap();
        write_page("tracking-light-brand", &html);
        // Filled marks keep the brand colour with dark text; their outline and the bar are dark.
        assert!(html.contains("border-color:#111827;background:#fde047;color:#111827"), "{html}");
        assert!(html.contains(".steps .done::before,.steps .current::before{background:#111827}"), "{html}");
        assert!(html.contains("background:#fde047;color:#111827"), "{html}");
        assert!(contrast_with_white("#0f766e") >= 3.0 && contrast_with_white("#fde047") < 3.0);
    }

    // Returns portal.

    fn portal_items(order: &Order, earlier: &[Return]) -> Vec<ItemEligibility> {
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
    fn portal_order() -> Order {
        let mut order = return_order();
        order.items[1].tags = vec!["Final-Sale".to_owned()];
        order
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
        custom.templates.insert("page_layout.html".to_owned(), DEFAULT_TEMPLATES[3].1.to_owned());
        custom.templates.insert("layout.html".to_owned(), DEFAULT_TEMPLATES[0].1.to_owned());
        assert_eq!((DEFAULT_TEMPLATES[0].0, DEFAULT_TEMPLATES[3].0), ("layout.html", "page_layout.html"));
        let items = portal_items(&order, &[]);
        assert_eq!(items.len(), 250);
        render_returns_portal(&custom, &order, &items, &[], PORTAL_ACTION, FORM_KEY, None).unwrap();
        render_email(MessageKind::OrderConfirmation, &ctx(&custom, &order, None)).unwrap();
    }

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
