//! Email through SES v2 `SendEmail`.

use super::{EmailSender, OutboundEmail, SendError};
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::DisplayErrorContext;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, RawMessage};

#[derive(Clone, Debug)]
pub struct SesEmail {
    client: Client,
}

impl SesEmail {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn content(data: &str) -> Content {
    Content::builder().data(data).charset("UTF-8").build().expect("content has data")
}

/// The same message as MIME, for headers that a Simple message cannot be relied on to carry.
fn raw_mime(email: &OutboundEmail<'_>) -> Result<Vec<u8>, SendError> {
    let mut builder = mail_builder::MessageBuilder::new()
        .from(email.from)
        .to(email.to)
        .subject(email.subject)
        .html_body(email.html)
        .text_body(email.text);
    if let Some(reply_to) = email.reply_to {
        builder = builder.reply_to(reply_to);
    }
    for (name, value) in email.headers {
        builder = builder.header(*name, mail_builder::headers::raw::Raw::new(value.clone()));
    }
    builder.write_to_vec().map_err(|e| SendError::Rejected(format!("cannot build the message: {e}")))
}

impl EmailSender for SesEmail {
    async fn send_email(&self, email: &OutboundEmail<'_>) -> Result<String, SendError> {
        let content = if email.headers.is_empty() {
            let message = Message::builder()
                .subject(content(email.subject))
                .body(Body::builder().html(content(email.html)).text(content(email.text)).build())
                .build();
            EmailContent::builder().simple(message).build()
        } else {
            let raw = RawMessage::builder().data(Blob::new(raw_mime(email)?)).build().expect("raw data is set");
            EmailContent::builder().raw(raw).build()
        };
        let result = self
            .client
            .send_email()
            .from_email_address(email.from)
            .set_reply_to_addresses(email.reply_to.map(|r| vec![r.to_owned()]))
            .destination(Destination::builder().to_addresses(email.to).build())
            .content(content)
            .set_configuration_set_name(email.configuration_set.map(str::to_owned))
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.message_id.unwrap_or_default()),
            Err(err) => {
                let permanent = err.as_service_error().is_some_and(|e| {
                    matches!(
                        e,
                        SendEmailError::MessageRejected(_)
                            | SendEmailError::MailFromDomainNotVerifiedException(_)
                            | SendEmailError::AccountSuspendedException(_)
                            | SendEmailError::SendingPausedException(_)
                            | SendEmailError::BadRequestException(_)
                    )
                });
                let detail = DisplayErrorContext(&err).to_string();
                Err(if permanent { SendError::Rejected(detail) } else { SendError::Transient(detail) })
            }
        }
    }
}
