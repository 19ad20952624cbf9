//! Email through SES v2 `SendEmail`, every message as raw MIME built here.
//!
//! Raw for all, not SES's Simple content: the headers a customer's mail server reads (From and
//! Reply-To with an encoded display name, Subject, Date, Message-ID, List-Unsubscribe, the MIME
//! parts) are then built in one place, by one well-kept builder, and can be checked byte for
//! byte (tests/mime.rs); a Simple message is assembled by SES and cannot be.

use crate::domain::mailbox::Mailbox;
use crate::ports::messaging::{EmailSender, OutboundEmail, SendError, without_recipients};
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::DisplayErrorContext;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, MessageTag, RawMessage};
use mail_builder::headers::Header;
use mail_builder::headers::address::Address;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;

#[derive(Clone, Debug)]
pub struct SesEmail {
    client: Client,
    /// The stack's configuration set (`PPX_SES_CONFIGURATION_SET`): its event destination
    /// brings the feedback back. A shop's own set, when it names one, goes instead.
    configuration_set: Option<String>,
}

impl SesEmail {
    pub fn new(client: Client) -> Self {
        Self { client, configuration_set: None }
    }

    /// Sends through `configuration_set` when the shop names none.
    pub fn with_configuration_set(mut self, configuration_set: Option<String>) -> Self {
        self.configuration_set = configuration_set.filter(|name| !name.is_empty());
        self
    }
}

/// What an SES refusal means for the message: the account's problem (no message can go until
/// the operator acts), this message's, or a passing one. Throttling and 5xx stay retryable.
fn classify(err: &aws_sdk_sesv2::error::SdkError<SendEmailError>) -> fn(String) -> SendError {
    use aws_sdk_sesv2::error::ProvideErrorMetadata;
    let Some(service) = err.as_service_error() else { return SendError::Transient };
    match service {
        SendEmailError::AccountSuspendedException(_)
        | SendEmailError::SendingPausedException(_)
        | SendEmailError::MailFromDomainNotVerifiedException(_)
        // An unverified sender, or (in the sandbox) recipient.
        | SendEmailError::MessageRejected(_)
        // A configuration set that does not exist.
        | SendEmailError::NotFoundException(_) => SendError::Account,
        SendEmailError::BadRequestException(_) => SendError::Rejected,
        other if matches!(other.code(), Some("AccessDeniedException" | "AccessDenied")) => SendError::Account,
        _ => SendError::Transient,
    }
}

fn address(mailbox: &Mailbox) -> Address<'_> {
    Address::new_address(mailbox.name(), mailbox.address())
}

/// The mailbox as an RFC 5322 header value on one line: a display name with specials quoted,
/// non-ASCII as RFC 2047 encoded words (as SES asks of `FromEmailAddress`), the builder's
/// folding undone (unfolding is removing the CRLF before the folding space).
pub fn mailbox_header(mailbox: &Mailbox) -> String {
    let mut folded = Vec::new();
    address(mailbox).write_header(&mut folded, 0);
    let text = String::from_utf8(folded).expect("the builder writes ASCII headers");
    text.replace("\r\n", "")
}

/// The message as MIME: multipart/alternative (text, then HTML), UTF-8, the Date of the
/// sender's clock and a Message-ID on the sender's own domain. SES replaces both with its own
/// when it accepts the message; they are here so that the message is complete as built.
pub fn raw_mime(email: &OutboundEmail<'_>) -> Result<Vec<u8>, SendError> {
    let message_id = format!("{}@{}", uuid::Uuid::new_v4().simple(), email.from.domain());
    let mut builder = mail_builder::MessageBuilder::new()
        .from(address(email.from))
        .to(email.to)
        .subject(email.subject)
        .date(email.date.timestamp())
        .message_id(MessageId::new(message_id))
        .html_body(email.html)
        .text_body(email.text);
    if let Some(reply_to) = email.reply_to {
        builder = builder.reply_to(address(reply_to));
    }
    for (name, value) in email.headers {
        builder = builder.header(*name, Raw::new(value.clone()));
    }
    builder.write_to_vec().map_err(|e| SendError::Rejected(format!("cannot build the message: {e}")))
}

/// The message's tags as SES takes them; a value SES would refuse is left out (its feedback
/// then names no order) rather than failing the send.
fn tags(tags: &[(&'static str, String)]) -> Vec<MessageTag> {
    tags.iter()
        .filter(|(_, value)| crate::domain::mail_feedback::tags::is_valid_value(value))
        .map(|(name, value)| MessageTag::builder().name(*name).value(value).build().expect("name and value are set"))
        .collect()
}

impl EmailSender for SesEmail {
    async fn send_email(&self, email: &OutboundEmail<'_>) -> Result<String, SendError> {
        let raw = RawMessage::builder().data(Blob::new(raw_mime(email)?)).build().expect("raw data is set");
        // Reply-To is in the MIME only: SES would add the parameter's as a second header.
        let result = self
            .client
            .send_email()
            .from_email_address(mailbox_header(email.from))
            .destination(Destination::builder().to_addresses(email.to).build())
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(
                email.configuration_set.or(self.configuration_set.as_deref()).map(str::to_owned),
            )
            .set_email_tags(Some(tags(email.tags)))
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.message_id.unwrap_or_default()),
            Err(err) => Err(classify(&err)(without_recipients(&DisplayErrorContext(&err).to_string()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The values of the header `name`, unfolded (a line starting with a space continues the
    /// one before).
    fn header(mime: &str, name: &str) -> Vec<String> {
        let head = mime.split("\r\n\r\n").next().unwrap().replace("\r\n ", " ");
        let prefix = format!("{name}: ");
        head.split("\r\n").filter_map(|line| line.strip_prefix(&prefix)).map(str::to_owned).collect()
    }

    fn mime_of(from: &Mailbox, reply_to: Option<&Mailbox>) -> String {
        let email = OutboundEmail {
            from,
            reply_to,
            to: "ada@example.com",
            subject: "Your Café Dupont, Paris order #1001 is confirmed",
            html: "<p>Merci</p>",
            text: "Merci",
            configuration_set: None,
            date: chrono::Utc.with_ymd_and_hms(2026, 3, 2, 14, 5, 0).unwrap(),
            headers: &[],
            tags: &[],
        };
        String::from_utf8(raw_mime(&email).unwrap()).unwrap()
    }

    #[test]
    fn the_display_name_and_the_address_are_one_mailbox() {
        let plain = Mailbox::parse("Demo Shop <orders@demo-shop.example>").unwrap();
        let mime = mime_of(&plain, None);
        assert_eq!(header(&mime, "From"), ["\"Demo Shop\" <orders@demo-shop.example>"], "{mime}");
        assert!(header(&mime, "Reply-To").is_empty());

        let tricky = Mailbox::parse("\"Café Dupont, Paris\" <orders@demo-shop.example>").unwrap();
        let support = Mailbox::parse("\"Service client, Café Dupont\" <support@demo-shop.example>").unwrap();
        let mime = mime_of(&tricky, Some(&support));
        // The comma and the é are inside one encoded word, so the name stays one phrase.
        assert_eq!(header(&mime, "From"), ["=?utf-8?Q?Caf=C3=A9_Dupont=2C_Paris?= <orders@demo-shop.example>"]);
        assert_eq!(
            header(&mime, "Reply-To"),
            ["=?utf-8?Q?Service_client=2C_Caf=C3=A9_Dupont?= <support@demo-shop.example>"]
        );
        assert_eq!(header(&mime, "Date"), ["Mon, 2 Mar 2026 14:05:00 +0000"]);
        let id = header(&mime, "Message-ID");
        assert!(id.len() == 1 && id[0].starts_with('<') && id[0].ends_with("@demo-shop.example>"), "{id:?}");
        assert!(mime.is_ascii(), "headers and parts are 7-bit: {mime}");
    }

    #[test]
    fn from_email_address_is_the_same_mailbox_on_one_line() {
        let tricky = Mailbox::parse("\"Café Dupont, Paris\" <orders@demo-shop.example>").unwrap();
        assert_eq!(mailbox_header(&tricky), "=?utf-8?Q?Caf=C3=A9_Dupont=2C_Paris?= <orders@demo-shop.example>");
        let bare = Mailbox::parse("orders@demo-shop.example").unwrap();
        assert_eq!(mailbox_header(&bare), "<orders@demo-shop.example>");
        let long = Mailbox::new(Some(&"Très longue boutique ".repeat(8)), "orders@demo-shop.example").unwrap();
        let header = mailbox_header(&long);
        assert!(!header.contains(['\r', '\n']) && header.ends_with(" <orders@demo-shop.example>"), "{header}");
    }
}
