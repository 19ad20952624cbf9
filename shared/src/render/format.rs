//! Pure formatting helpers shared by the messages and the pages: dates and times, item labels,
//! order numbers, amounts, links and slugs, the return policy sentence, colours.

use crate::domain::money::{Money, MoneyError};
use crate::domain::settings::ShopSettings;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use std::fmt::Write as _;
use unicode_normalization::UnicodeNormalization;

/// Collapses all whitespace (line breaks included) into single spaces.
pub(super) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A calendar date as customers read it: "Tuesday, December 8". Never converted: the dates
/// formatted here are already local to where the parcel goes.
pub(super) fn long_date(date: NaiveDate) -> String {
    date.format("%A, %B %-d").to_string()
}

/// An instant in the shop's time zone: "Friday, November 27 at 2:30 PM EST". Zones without an
/// abbreviation (chrono-tz prints an offset such as "-03") get none.
pub(super) fn local_date_time(at: DateTime<Utc>, time_zone: Tz) -> String {
    let local = at.with_timezone(&time_zone);
    let mut out = local.format("%A, %B %-d at %-I:%M %p").to_string();
    let zone = local.format("%Z").to_string();
    if zone.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.push(' ');
        out.push_str(&zone);
    }
    out
}

/// A calendar date as it is (never converted): "Tuesday, December 1", with " (today)" or
/// " (tomorrow)" when it is.
pub(super) fn page_date(date: NaiveDate, today: Option<NaiveDate>) -> String {
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

/// An http(s) link, or None: nothing else goes into an `href`.
pub(super) fn web_url(url: Option<&str>) -> Option<&str> {
    url.map(str::trim).filter(|url| url.starts_with("https://") || url.starts_with("http://"))
}

/// A title as a URL slug: "Linen Shirt / Sand" becomes `linen-shirt-sand`. Accents are dropped
/// ("Café" becomes `cafe`), anything else that is not an ASCII letter or digit separates words.
pub(super) fn slug(title: &str) -> String {
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
pub(super) fn percent_encode(value: &str) -> String {
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

pub(super) fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// What stands between an item's quantity and its title in [`item_label`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Times {
    /// "2 x Linen shirt": the messages (emails, their text parts and SMS) use the letter.
    Letter,
    /// "2 × Linen shirt": pages are UTF-8, so they get a real multiplication sign.
    Sign,
}

/// An item as a list shows it: "2 x Linen shirt (M / Sand)", or with [`Times::Sign`]
/// "2 × Linen shirt (M / Sand)". The title is used as given (the pages pass it trimmed).
pub(super) fn item_label(quantity: u32, title: &str, variant: Option<&str>, times: Times) -> String {
    let times = match times {
        Times::Letter => 'x',
        Times::Sign => '×',
    };
    match variant {
        Some(variant) => format!("{quantity} {times} {title} ({variant})"),
        None => format!("{quantity} {times} {title}"),
    }
}

pub(super) fn plural(n: u64, word: &str) -> String {
    if n == 1 { word.to_owned() } else { format!("{word}s") }
}

/// `#1001` for a bare number; anything else as the platform sent it.
pub(super) fn display_order_number(number: &str) -> String {
    let number = number.trim();
    if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
        format!("#{number}")
    } else {
        number.to_owned()
    }
}

/// A discount is a reduction whatever sign the platform used: always shown as "-$10.00".
pub(super) fn deduction(discount: Money) -> Result<String, MoneyError> {
    let minor = discount.minor.checked_abs().ok_or(MoneyError::Overflow)?;
    Ok(Money { minor: -minor, currency: discount.currency }.to_string())
}

/// A reason code the policy no longer lists, readable: `changed_mind` becomes "Changed mind".
pub(super) fn humanize(code: &str) -> String {
    let words = code.replace(['_', '-'], " ");
    let words = one_line(&words);
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Other".to_owned(),
    }
}

pub(super) fn return_policy(settings: &ShopSettings) -> Option<String> {
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

/// The WCAG relative luminance of `#rrggbb`.
pub(super) fn luminance(color: &str) -> f64 {
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&color[i..i + 2], 16).unwrap_or(0)) / 255.0;
        if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    };
    0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
}

/// The WCAG contrast ratio of `#rrggbb` against white.
pub(super) fn contrast_with_white(color: &str) -> f64 {
    1.05 / (luminance(color) + 0.05)
}

/// White or near-black text, whichever contrasts more with `#rrggbb` (WCAG relative luminance).
pub(super) fn text_color_on(color: &str) -> &'static str {
    let luminance = luminance(color);
    // #111827 has a relative luminance of about 0.012.
    let on_white = contrast_with_white(color);
    let on_dark = (luminance + 0.05) / (0.012 + 0.05);
    if on_white >= on_dark { "#ffffff" } else { "#111827" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brand_text_colour_contrasts() {
        assert_eq!(text_color_on("#0f766e"), "#ffffff");
        assert_eq!(text_color_on("#1a1a2e"), "#ffffff");
        assert_eq!(text_color_on("#fde047"), "#111827");
        assert_eq!(text_color_on("#ffffff"), "#111827");
    }

    #[test]
    fn item_labels_have_the_letter_in_messages_and_the_sign_on_pages() {
        assert_eq!(item_label(2, "Linen shirt", Some("M / Sand"), Times::Letter), "2 x Linen shirt (M / Sand)");
        assert_eq!(item_label(1, "Canvas tote", None, Times::Letter), "1 x Canvas tote");
        assert_eq!(item_label(2, "Linen shirt", Some("M / Sand"), Times::Sign), "2 × Linen shirt (M / Sand)");
        assert_eq!(item_label(1, "Canvas tote", None, Times::Sign), "1 × Canvas tote");
    }

    #[test]
    fn bare_order_numbers_get_a_hash() {
        assert_eq!(display_order_number("1001"), "#1001");
        assert_eq!(display_order_number("#1001"), "#1001");
        assert_eq!(display_order_number("DS-1001"), "DS-1001");
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
}
