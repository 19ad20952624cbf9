//! The HTTP edge shared by every webhook function: typed errors mapped to a status and a JSON
//! body that names the problem. Only here do errors become status codes.

use crate::app::journey::JourneyError;
use crate::app::link_keys::LinksUnavailable;
use crate::app::outbox::NotifyError;
use crate::app::return_flow::ReturnError;
use crate::app::settings_cache::ShopError;
use crate::domain::returns::RequestError;
use crate::http::signature::SignatureError;
use crate::inbound::ParseError;
use crate::ports::secrets::SecretsError;
use crate::ports::store::StoreError;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::json;

/// Webhook bodies larger than this are refused before anything else is done.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("no such route")]
    NoRoute,
    #[error("method not allowed; use POST")]
    MethodNotAllowed,
    #[error("body exceeds {MAX_BODY_BYTES} bytes")]
    PayloadTooLarge,
    #[error("unknown shop")]
    UnknownShop,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0} webhooks are not set up for this shop (no secret)")]
    SourceNotConfigured(&'static str),
    #[error("{header}: {error}")]
    Signature { header: &'static str, error: SignatureError },
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("the shop in {header} does not match the URL")]
    ShopMismatch { header: &'static str },
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The shop's secrets could not be read: nothing can be verified, so nothing is admitted.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    /// The link keys could not be read: no customer link can be opened.
    #[error(transparent)]
    Links(#[from] LinksUnavailable),
    #[error("too many concurrent updates of one shipment")]
    Contended,
}

impl From<JourneyError> for EdgeError {
    fn from(err: JourneyError) -> Self {
        match err {
            JourneyError::Store(e) => Self::Store(e),
            JourneyError::Notify(e) => Self::Notify(e),
            JourneyError::Contended => Self::Contended,
        }
    }
}

impl From<ReturnError> for EdgeError {
    fn from(err: ReturnError) -> Self {
        match err {
            ReturnError::Request(RequestError::Field { field, problem }) => {
                EdgeError::Parse(ParseError::Field { field, problem })
            }
            ReturnError::OrderNotFound | ReturnError::ReturnNotFound => EdgeError::NotFound("order"),
            ReturnError::Transition { .. } | ReturnError::Contended => EdgeError::Contended,
            ReturnError::Store(e) => EdgeError::Store(e),
            ReturnError::Notify(e) => EdgeError::Notify(e),
        }
    }
}

impl From<ShopError> for EdgeError {
    fn from(err: ShopError) -> Self {
        match err {
            ShopError::Unknown => EdgeError::UnknownShop,
            ShopError::Store(e) => EdgeError::Store(e),
        }
    }
}

impl EdgeError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoRoute | Self::UnknownShop | Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::SourceNotConfigured(_) | Self::Signature { .. } => StatusCode::UNAUTHORIZED,
            Self::ShopMismatch { .. } => StatusCode::FORBIDDEN,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MissingHeader(_) => StatusCode::BAD_REQUEST,
            Self::Parse(ParseError::UnsupportedTopic(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Parse(_) => StatusCode::BAD_REQUEST,
            // Permanent: no retry could ever store it.
            Self::Store(StoreError::TooLarge { .. })
            | Self::Notify(NotifyError::Store(StoreError::TooLarge { .. })) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(StoreError::Corrupt { .. }) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Secrets(SecretsError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Secrets(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Notify(NotifyError::InFlight { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Notify(NotifyError::Links(LinksUnavailable::Secrets(SecretsError::Unavailable(_))))
            | Self::Links(LinksUnavailable::Secrets(SecretsError::Unavailable(_))) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Links(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Notify(NotifyError::Send { .. }) => StatusCode::BAD_GATEWAY,
            Self::Notify(NotifyError::Store(StoreError::Unavailable(_))) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Notify(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Contended => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoRoute => "no_route",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnknownShop => "unknown_shop",
            Self::NotFound(_) => "not_found",
            Self::SourceNotConfigured(_) => "source_not_configured",
            Self::Signature { error: SignatureError::Missing, .. } => "missing_signature",
            Self::Signature { error: SignatureError::Malformed, .. } => "malformed_signature",
            Self::Signature { error: SignatureError::Mismatch, .. } => "invalid_signature",
            Self::Signature { error: SignatureError::Stale, .. } => "stale_signature",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::MissingHeader(_) => "missing_header",
            Self::ShopMismatch { .. } => "shop_mismatch",
            Self::Parse(ParseError::Json(_)) => "invalid_json",
            Self::Parse(ParseError::Field { .. }) => "invalid_field",
            Self::Parse(ParseError::UnsupportedTopic(_)) => "unsupported_topic",
            Self::Store(StoreError::TooLarge { .. })
            | Self::Notify(NotifyError::Store(StoreError::TooLarge { .. })) => "item_too_large",
            Self::Store(_) => "storage_unavailable",
            Self::Secrets(_) => "secrets_unavailable",
            Self::Notify(NotifyError::InFlight { .. }) => "in_progress",
            Self::Notify(NotifyError::Links(_)) | Self::Links(_) => "link_keys_unavailable",
            Self::Notify(NotifyError::Send { .. }) => "send_failed",
            Self::Notify(_) => "internal_error",
            Self::Contended => "contended",
        }
    }

    /// Logs the refusal (a warning) or failure (an error) in the request's span, then answers.
    /// Input we can never store is an error too: the sender stops retrying, the operator must act.
    pub fn log_and_respond(self, what: &str) -> Response<String> {
        if self.status().is_server_error() || self.code() == "item_too_large" {
            tracing::error!(error = %self, code = self.code(), "{what} failed");
        } else {
            tracing::warn!(error = %self, code = self.code(), "{what} refused");
        }
        self.into_response()
    }

    pub fn into_response(self) -> Response<String> {
        let status = self.status();
        // Internal details stay in the logs; senders get the code and a safe message.
        let message =
            if status.is_server_error() { "temporary failure; retry later".to_owned() } else { self.to_string() };
        let mut body = json!({ "error": self.code(), "message": message });
        if let Self::Parse(ParseError::Field { field, .. }) = &self {
            body["field"] = json!(field);
        }
        let mut response = json_response(status, &body);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// Refuses a body too large to be ours before its shop is even looked up.
pub fn check_body_size(body_len: usize) -> Result<(), EdgeError> {
    if body_len > MAX_BODY_BYTES {
        return Err(EdgeError::PayloadTooLarge);
    }
    Ok(())
}

/// A customer page: never cached, never framed, no referrer, nothing loaded from elsewhere.
pub fn html_response(status: StatusCode, body: String) -> Response<String> {
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(body)
        .expect("static response parts are valid");
    let headers = response.headers_mut();
    headers
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(crate::render::PAGE_CONTENT_SECURITY_POLICY));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<String> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .expect("static response parts are valid")
}

/// JSON or no content type at all (some senders omit it) is accepted.
pub fn is_json_content_type(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else { return value.is_none() };
    let media = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_status_and_name_the_field() {
        let err = EdgeError::Parse(ParseError::field("line_items[0].price", "not a decimal"));
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        let response = err.into_response();
        let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
        assert_eq!(body["error"], "invalid_field");
        assert_eq!(body["field"], "line_items[0].price");
        let sig = EdgeError::Signature { header: "X-Shopify-Hmac-Sha256", error: SignatureError::Mismatch };
        assert_eq!(sig.status(), StatusCode::UNAUTHORIZED);
        assert!(sig.to_string().contains("X-Shopify-Hmac-Sha256"));
    }

    #[test]
    fn what_can_never_be_stored_is_refused_for_good() {
        let too_large = || StoreError::TooLarge { key: "SHOP#s#ORDER#1/ORDER".into(), bytes: 500_000, limit: 409_600 };
        for err in [EdgeError::Store(too_large()), EdgeError::Notify(NotifyError::Store(too_large()))] {
            assert_eq!((err.status(), err.code()), (StatusCode::UNPROCESSABLE_ENTITY, "item_too_large"));
            let body: serde_json::Value = serde_json::from_str(err.into_response().body()).unwrap();
            assert!(body["message"].as_str().unwrap().contains("500000 bytes"), "{body}");
        }
    }

    #[test]
    fn server_errors_do_not_leak_details() {
        let err = EdgeError::Store(StoreError::Unavailable("dynamodb at 10.0.0.1 said no".into()));
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!response.body().contains("10.0.0.1"));
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    }

    #[test]
    fn content_types() {
        assert!(is_json_content_type(None));
        assert!(is_json_content_type(Some(&HeaderValue::from_static("application/json; charset=utf-8"))));
        assert!(is_json_content_type(Some(&HeaderValue::from_static("application/vnd.api+json"))));
        assert!(!is_json_content_type(Some(&HeaderValue::from_static("text/plain"))));
        assert!(!is_json_content_type(Some(&HeaderValue::from_static("application/x-www-form-urlencoded"))));
    }
}
