//! A mailbox (a display name and an address), parsed once from the text of the shop's settings
//! (`sender`, `reply_to`) so that everything after holds the two parts apart. How it is written
//! into a message (quoting, RFC 2047 encoding, folding) is the mail builder's job (`ses.rs`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest display name accepted: a name, not a paragraph.
pub const MAX_NAME_CHARS: usize = 200;

/// `Name <address>`, `"Quoted, Name" <address>`, `<address>` or a bare `address`. The address
/// is an RFC 5322 addr-spec in ASCII (SES does not support SMTPUTF8) with a dot-atom local part
/// (no quotes, so no `<` or `>` in it) on a domain with at least two labels; the name may be
/// any text without control characters.
///
/// Serialized as that text (see [`fmt::Display`]), so stored settings keep their form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mailbox {
    name: Option<String>,
    address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailboxError {
    #[error("is empty")]
    Empty,
    #[error("the address {address:?} is not an email address: {reason}")]
    Address { address: String, reason: String },
    #[error("the address must be ASCII (SES does not send to or from SMTPUTF8 addresses)")]
    NonAsciiAddress,
    /// A `"` inside an unquoted name, an unclosed quote, or `<`/`>` outside quotes: the text is
    /// not one name and one address (e.g. `<Shop <orders@shop.example>>`).
    #[error("the display name must be plain text or one quoted string (\"...\"), with no < or > outside the quotes")]
    Name,
    #[error("the display name must not contain control characters (line breaks, tabs, NUL)")]
    ControlInName,
    #[error("the display name must be at most {MAX_NAME_CHARS} characters")]
    NameTooLong,
}

impl Mailbox {
    pub fn parse(raw: &str) -> Result<Self, MailboxError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(MailboxError::Empty);
        }
        let (name, address) = match raw.strip_suffix('>') {
            Some(head) => {
                let open = head.rfind('<').ok_or(MailboxError::Name)?;
                (parse_name(head[..open].trim())?, head[open + 1..].trim())
            }
            None => (None, raw),
        };
        Ok(Self { name, address: parse_address(address)? })
    }

    /// A mailbox from parts already apart (e.g. tests); the same rules as [`Mailbox::parse`].
    pub fn new(name: Option<&str>, address: &str) -> Result<Self, MailboxError> {
        let name = name.map(str::trim).filter(|name| !name.is_empty());
        if let Some(name) = name {
            check_name(name)?;
        }
        Ok(Self { name: name.map(str::to_owned), address: parse_address(address)? })
    }

    /// The display name, unquoted; None when there is none.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The addr-spec, e.g. `orders@shop.example`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The domain of the address, e.g. `shop.example`.
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

/// The settings' form: the name as typed when it is safe bare, else quoted with `\` escapes.
impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(name) = &self.name else {
            return f.write_str(&self.address);
        };
        if name.chars().all(|c| c.is_alphanumeric() || c == ' ' || "!#$%&'*+-/=?^_`{|}~.".contains(c)) {
            write!(f, "{name} <{}>", self.address)
        } else {
            f.write_str("\"")?;
            for c in name.chars() {
                if matches!(c, '"' | '\\') {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            write!(f, "\" <{}>", self.address)
        }
    }
}

impl TryFrom<String> for Mailbox {
    type Error = MailboxError;
    fn try_from(raw: String) -> Result<Self, MailboxError> {
        Self::parse(&raw)
    }
}

impl From<Mailbox> for String {
    fn from(mailbox: Mailbox) -> String {
        mailbox.to_string()
    }
}

impl std::str::FromStr for Mailbox {
    type Err = MailboxError;
    fn from_str(raw: &str) -> Result<Self, MailboxError> {
        Self::parse(raw)
    }
}

/// A quoted string (RFC 5322 `quoted-string`: `\` escapes the next character) or plain text.
fn parse_name(text: &str) -> Result<Option<String>, MailboxError> {
    let name = match text.strip_prefix('"') {
        Some(quoted) => {
            let inner = quoted.strip_suffix('"').ok_or(MailboxError::Name)?;
            let mut name = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => name.push(chars.next().ok_or(MailboxError::Name)?),
                    '"' => return Err(MailboxError::Name),
                    c => name.push(c),
                }
            }
            name.trim().to_owned()
        }
        None if text.contains(['"', '<', '>']) => return Err(MailboxError::Name),
        None => text.to_owned(),
    };
    if name.is_empty() {
        return Ok(None);
    }
    check_name(&name)?;
    Ok(Some(name))
}

fn check_name(name: &str) -> Result<(), MailboxError> {
    if name.chars().any(char::is_control) {
        return Err(MailboxError::ControlInName);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(MailboxError::NameTooLong);
    }
    Ok(())
}

fn parse_address(address: &str) -> Result<String, MailboxError> {
    if address.is_empty() {
        return Err(MailboxError::Empty);
    }
    if !address.is_ascii() {
        return Err(MailboxError::NonAsciiAddress);
    }
    if address.contains('"') {
        let reason = "a quoted local part is not a sender address".to_owned();
        return Err(MailboxError::Address { address: address.to_owned(), reason });
    }
    let options =
        email_address::Options::default().without_display_text().without_domain_literal().with_minimum_sub_domains(2);
    email_address::EmailAddress::parse_with_options(address, options)
        .map(|_| address.to_owned())
        .map_err(|err| MailboxError::Address { address: address.to_owned(), reason: err.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(raw: &str) -> (Option<String>, String) {
        let mailbox = Mailbox::parse(raw).unwrap_or_else(|err| panic!("{raw:?}: {err}"));
        (mailbox.name().map(str::to_owned), mailbox.address().to_owned())
    }

    #[test]
    fn parses_the_forms_settings_use() {
        let named = |name: &str| (Some(name.to_owned()), "orders@demo-shop.example".to_owned());
        assert_eq!(parts("Demo Shop <orders@demo-shop.example>"), named("Demo Shop"));
        assert_eq!(parts("  Demo Shop   <orders@demo-shop.example>  "), named("Demo Shop"));
        assert_eq!(parts("\"Café Dupont, Paris\" <orders@demo-shop.example>"), named("Café Dupont, Paris"));
        assert_eq!(parts(r#""Say \"hi\" \\ bye" <orders@demo-shop.example>"#), named(r#"Say "hi" \ bye"#));
        assert_eq!(parts("\"Shop <EU>\" <orders@demo-shop.example>"), named("Shop <EU>"));
        // A comma needs no quotes here: the setting is one mailbox, so the name is all before `<`.
        assert_eq!(parts("Café Dupont, Paris <orders@demo-shop.example>"), named("Café Dupont, Paris"));
        assert_eq!(parts("orders@demo-shop.example"), (None, "orders@demo-shop.example".to_owned()));
        assert_eq!(parts("<orders@demo-shop.example>"), (None, "orders@demo-shop.example".to_owned()));
        assert_eq!(parts("\"\" <orders@demo-shop.example>"), (None, "orders@demo-shop.example".to_owned()));
        assert_eq!(Mailbox::parse("Demo Shop <orders@demo-shop.example>").unwrap().domain(), "demo-shop.example");
    }

    #[test]
    fn refuses_what_is_not_one_name_and_one_address() {
        let cases = [
            ("", MailboxError::Empty),
            ("Demo Shop <>", MailboxError::Empty),
            ("<Demo Shop <orders@demo-shop.example>>", MailboxError::Name),
            ("Demo \"Shop <orders@demo-shop.example>", MailboxError::Name),
            ("\"Demo Shop <orders@demo-shop.example>", MailboxError::Name),
            ("Demo Shop orders@demo-shop.example>", MailboxError::Name),
            ("Demo\r\nBcc: x@evil.example <orders@demo-shop.example>", MailboxError::ControlInName),
            ("\"Demo\0Shop\" <orders@demo-shop.example>", MailboxError::ControlInName),
            ("commandes@café.example", MailboxError::NonAsciiAddress),
        ];
        for (raw, expected) in cases {
            assert_eq!(Mailbox::parse(raw), Err(expected), "{raw:?}");
        }
        let long = format!("{} <orders@demo-shop.example>", "n".repeat(MAX_NAME_CHARS + 1));
        assert_eq!(Mailbox::parse(&long), Err(MailboxError::NameTooLong));
        for raw in [
            "Demo Shop",
            "Demo Shop <orders>",
            "orders@localhost",
            "orders@[127.0.0.1]",
            "two words@demo-shop.example",
            "a@b@demo-shop.example",
            "Shop <orders@demo-shop.example>>",
            "\"a<b\"@demo-shop.example",
            "Shop <\"a b\"@demo-shop.example>",
        ] {
            assert!(
                matches!(Mailbox::parse(raw), Err(MailboxError::Address { .. } | MailboxError::Name)),
                "{raw:?}: {:?}",
                Mailbox::parse(raw)
            );
        }
    }

    #[test]
    fn prints_back_a_form_that_parses_to_the_same_mailbox() {
        for raw in [
            "Demo Shop <orders@demo-shop.example>",
            "orders@demo-shop.example",
            "\"Café Dupont, Paris\" <orders@demo-shop.example>",
            r#""Say \"hi\" \\ bye" <orders@demo-shop.example>"#,
            "\"Shop <EU>\" <orders@demo-shop.example>",
            "O'Brien & Sons <orders@demo-shop.example>",
        ] {
            let mailbox = Mailbox::parse(raw).unwrap();
            assert_eq!(mailbox.to_string(), raw, "today's stored text stays as it is");
            assert_eq!(Mailbox::parse(&mailbox.to_string()).unwrap(), mailbox);
        }
        assert_eq!(
            Mailbox::parse("Café Dupont, Paris <orders@demo-shop.example>").unwrap().to_string(),
            "\"Café Dupont, Paris\" <orders@demo-shop.example>"
        );
        let json = serde_json::to_string(&Mailbox::parse("Demo Shop <orders@demo-shop.example>").unwrap()).unwrap();
        assert_eq!(json, "\"Demo Shop <orders@demo-shop.example>\"");
        assert!(serde_json::from_str::<Mailbox>("\"<Demo <orders@demo-shop.example>>\"").is_err());
    }

    proptest::proptest! {
        /// What settings store is what they read back (fuzz/fuzz_targets/settings.rs asserts
        /// the same of whole settings).
        #[test]
        fn any_name_prints_back_to_the_same_mailbox(name in "\\PC{0,40}", local in "[a-z0-9._+-]{1,10}") {
            let local = local.trim_matches('.').replace("..", ".");
            proptest::prop_assume!(!local.is_empty());
            let address = format!("{local}@demo-shop.example");
            if let Ok(mailbox) = Mailbox::new(Some(&name), &address) {
                proptest::prop_assert_eq!(Mailbox::parse(&mailbox.to_string()), Ok(mailbox));
            }
        }
    }

    #[test]
    fn new_applies_the_same_rules() {
        let mailbox = Mailbox::new(Some("Café Dupont, Paris"), "orders@demo-shop.example").unwrap();
        assert_eq!(mailbox, Mailbox::parse("\"Café Dupont, Paris\" <orders@demo-shop.example>").unwrap());
        assert_eq!(Mailbox::new(Some(" "), "orders@demo-shop.example").unwrap().name(), None);
        assert_eq!(Mailbox::new(Some("a\nb"), "orders@demo-shop.example"), Err(MailboxError::ControlInName));
        assert!(Mailbox::new(None, "not an address").is_err());
    }
}
