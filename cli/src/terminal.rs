//! Stored text on an operator's terminal. Names, titles, addresses and carrier messages come
//! from webhooks; an escape sequence in one of them must show as text, never move the cursor,
//! recolour, retitle the window, write the clipboard (OSC 52) or reorder what is shown.

use std::borrow::Cow;

/// Characters a terminal may act on: C0 and C1 controls and DEL (`char::is_control`), the
/// Unicode bidirectional controls, and the line and paragraph separators.
fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `text` with each character a terminal may act on written as `\uXXXX` (all of them are in the
/// Basic Multilingual Plane; the form is JSON's, so escaped JSON stays JSON with the same
/// value). Newlines too: one stored value stays on its line.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_but(text, None)
}

/// A whole output as a command wrote it: every line escaped, its own line breaks kept. Applied
/// to everything `ppx` prints, after [`escape`] made each stored value one line.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    escape_but(text, Some('\n'))
}

fn escape_but(text: &str, keep: Option<char>) -> Cow<'_, str> {
    let unsafe_char = |c: char| acts_on_terminal(c) && Some(c) != keep;
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_bidi_overrides_and_separators_show_as_text() {
        assert_eq!(escape("Ada \u{1b}[2J\u{1b}]0;pwned\u{7}"), "Ada \\u001b[2J\\u001b]0;pwned\\u0007");
        assert_eq!(escape("nul\0 del\u{7f} csi\u{9b}31m"), "nul\\u0000 del\\u007f csi\\u009b31m");
        assert_eq!(escape("\u{202e}gnp.exe\u{202c} \u{2067}x\u{2069}"), "\\u202egnp.exe\\u202c \\u2067x\\u2069");
        assert_eq!(escape("two\nlines\r\tand\u{2028}"), "two\\u000alines\\u000d\\u0009and\\u2028");
    }

    #[test]
    fn ordinary_text_is_left_alone_and_borrowed() {
        for text in ["Linen shirt - M / Sand", "Zoë Ørsted, 東京都", "Ünïcödé ¥12,800 → ✓", ""] {
            assert!(matches!(escape(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn a_whole_output_keeps_its_lines_and_json_stays_the_same_json() {
        assert_eq!(escape_lines("a\u{1b}[1m\nb\u{9b}\n"), "a\\u001b[1m\nb\\u009b\n");
        let value = serde_json::json!({ "title": "x\u{9b}31m\u{202e}y", "nul": "\u{0}" });
        let printed = escape_lines(&serde_json::to_string_pretty(&value).unwrap()).into_owned();
        assert!(!printed.chars().any(|c| acts_on_terminal(c) && c != '\n'), "{printed}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&printed).unwrap(), value);
    }
}
