//! Customer pages: what a customer sees after clicking a link in a review request (survey,
//! unsubscribe, a bad or expired link), and what every customer page shares: the `lang` tag, the
//! form targets, the order as a page heads it ([`PageOrderView`]).

use super::email::ShopView;
use super::format::{Times, display_order_number, item_label, non_empty, one_line, page_date, web_url};
use super::{TemplateError, environment, render};
use crate::domain::order::Order;
use crate::domain::settings::ShopSettings;
use chrono::NaiveDate;
use minijinja::value::{Serde, Value};
use serde::Serialize;
use std::collections::BTreeMap;

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
    let env = environment(&super::Family::PAGE, settings.map_or(&no_overrides, |s| &s.templates))?;
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
pub(super) fn form_action<'a>(action: &'a str, page: &'static str) -> Result<&'a str, TemplateError> {
    let action = action.trim();
    let is_path = action.starts_with('/') && !action.starts_with("//");
    if is_path || web_url(Some(action)).is_some() {
        Ok(action)
    } else {
        Err(TemplateError::InvalidPage { page, reason: "a form action must be a path or an http(s) URL" })
    }
}

/// `en_US` or `en-US` as an HTML language tag; `en` for anything that does not look like one.
pub(super) fn html_lang(locale: &str) -> String {
    let tag = locale.trim().replace('_', "-");
    let mut subtags = tag.split('-');
    let primary_ok =
        subtags.next().is_some_and(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    let rest_ok = subtags.all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    if primary_ok && rest_ok && tag.len() <= 35 { tag } else { "en".to_owned() }
}

#[derive(Serialize)]
pub(super) struct PageOrderView {
    /// `#1001`.
    number: String,
    /// In the shop's time zone: "November 23, 2026".
    placed_on: String,
    /// The date promised when the order was placed: "Friday, December 4", with " (today)" or
    /// " (tomorrow)" when it is.
    promised_delivery: Option<String>,
    /// Every line: "2 × Linen shirt (M / Sand)".
    items: Vec<String>,
    pub(super) cancelled: bool,
}

impl PageOrderView {
    pub(super) fn build(order: &Order, settings: &ShopSettings, today: Option<NaiveDate>) -> Self {
        Self {
            number: display_order_number(&order.number),
            placed_on: order.placed_at.with_timezone(&settings.time_zone).format("%B %-d, %Y").to_string(),
            promised_delivery: order.promised_delivery.map(|date| page_date(date, today)),
            items: order
                .items
                .iter()
                .filter(|line| line.quantity > 0)
                .map(|line| {
                    item_label(line.quantity, line.title.trim(), non_empty(line.variant.as_deref()), Times::Sign)
                })
                .collect(),
            cancelled: order.status == crate::domain::order::OrderStatus::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::check_overrides;
    use crate::render::fixtures::*;

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
}
