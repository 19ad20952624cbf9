//! Authentication at the edge, before anything is parsed or stored: the one table of the
//! webhook sources' signature schemes ([`scheme`]), the one check every webhook route passes
//! ([`authenticate_webhook`]), and customers' links sent as bearer tokens
//! ([`authenticate_customer`]).

use crate::domain::ids::ShopId;
use crate::domain::link::{LinkClaims, LinkKeyring, LinkPurpose};
use crate::domain::settings::{ShippoAuth, ShopSecrets, ShopSettings, WebhookSource};
use crate::http::edge::EdgeError;
use crate::http::signature::{
    SignatureError, verify_base64_hmac, verify_easypost_hmac, verify_timestamped, verify_url_token,
};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Request};

/// How a source proves a request is the shop's, and where the proof is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `base64(HMAC-SHA256(secret, body))` in a header.
    Base64Hmac { header: &'static str },
    /// `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">` in a header, within 5 minutes of now.
    Timestamped { header: &'static str },
    /// `hmac-sha256-hex=<hex HMAC-SHA256 of the body>` keyed by the NFKD secret, in a header.
    EasypostHmac { header: &'static str },
    /// The secret itself as a query parameter of the webhook URL.
    UrlToken { param: &'static str },
}

/// The table: the scheme each source signs with (Shippo's as the shop chose: a URL token can
/// leak, so it is accepted only when the shop turned HMAC off).
pub fn scheme(source: WebhookSource, shippo_auth: ShippoAuth) -> Scheme {
    match source {
        WebhookSource::Shopify => Scheme::Base64Hmac { header: "x-shopify-hmac-sha256" },
        WebhookSource::Woocommerce => Scheme::Base64Hmac { header: "x-wc-webhook-signature" },
        WebhookSource::Aftership => Scheme::Base64Hmac { header: "aftership-hmac-sha256" },
        WebhookSource::Easypost => Scheme::EasypostHmac { header: "x-hmac-signature" },
        WebhookSource::Shippo => match shippo_auth {
            ShippoAuth::Hmac => Scheme::Timestamped { header: "shippo-auth-signature" },
            ShippoAuth::Token => Scheme::UrlToken { param: "token" },
        },
        // ppx's own documented formats.
        WebhookSource::Orders | WebhookSource::Tracking => Scheme::Timestamped { header: "ppx-signature" },
    }
}

impl Scheme {
    /// Where the proof is: the header or query parameter a refusal names.
    pub fn location(self) -> &'static str {
        match self {
            Self::Base64Hmac { header } | Self::Timestamped { header } | Self::EasypostHmac { header } => header,
            Self::UrlToken { param } => param,
        }
    }

    fn verify(self, secret: &str, request: &Request<Bytes>, now: DateTime<Utc>) -> Result<(), SignatureError> {
        let body = request.body();
        let header = |name: &str| header(request.headers(), name);
        match self {
            Self::Base64Hmac { header: name } => verify_base64_hmac(secret, body, header(name)),
            Self::Timestamped { header: name } => verify_timestamped(secret, body, header(name), now),
            Self::EasypostHmac { header: name } => verify_easypost_hmac(secret, body, header(name)),
            Self::UrlToken { param } => verify_url_token(secret, query_param(request.uri().query(), param).as_deref()),
        }
    }
}

/// What an authenticated webhook request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// Signed with the shop's secret for its source.
    Signed,
    /// WooCommerce's unsigned ping of a new webhook's URL (`webhook_id=N`): answered, never
    /// parsed or stored.
    WoocommercePing,
}

/// The check every webhook route passes before its body is parsed: the shop's secret for the
/// source (from its `secrets`), under the source's scheme (from its `settings`).
pub fn authenticate_webhook(
    source: WebhookSource,
    settings: &ShopSettings,
    secrets: &ShopSecrets,
    request: &Request<Bytes>,
    now: DateTime<Utc>,
) -> Result<Admitted, EdgeError> {
    let scheme = scheme(source, settings.shippo_auth);
    if source == WebhookSource::Woocommerce && is_woocommerce_ping(request.headers(), request.body(), scheme) {
        return Ok(Admitted::WoocommercePing);
    }
    let secret = secrets.webhook(source).ok_or(EdgeError::SourceNotConfigured(source.as_str()))?;
    scheme
        .verify(secret.expose(), request, now)
        .map_err(|error| EdgeError::Signature { header: scheme.location(), error })?;
    Ok(Admitted::Signed)
}

const AUTHORIZATION: &str = "authorization";

/// A customer's link sent as `Authorization: Bearer <token>`; `None` without the header (the
/// caller must then be signed).
pub fn bearer_token(request: &Request<Bytes>) -> Result<Option<&str>, EdgeError> {
    let Some(authorization) = header(request.headers(), AUTHORIZATION) else { return Ok(None) };
    let token = authorization
        .strip_prefix("Bearer ")
        .ok_or(EdgeError::Signature { header: "Authorization", error: SignatureError::Malformed })?;
    Ok(Some(token.trim()))
}

/// The claims of a customer's link ([`bearer_token`]) when it opens `purpose` for this shop.
pub fn authenticate_customer(
    links: &LinkKeyring,
    token: &str,
    shop: &ShopId,
    purpose: LinkPurpose,
    now: DateTime<Utc>,
) -> Result<LinkClaims, EdgeError> {
    let refused = || EdgeError::Signature { header: "Authorization", error: SignatureError::Mismatch };
    let claims = links.open(token, purpose, now).map_err(|_| refused())?;
    if claims.shop != *shop {
        return Err(refused());
    }
    Ok(claims)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

/// Unsigned, a form body `webhook_id=<digits>` (one or more) and nothing else.
fn is_woocommerce_ping(headers: &HeaderMap, body: &[u8], scheme: Scheme) -> bool {
    let Some(digits) = body.strip_prefix(b"webhook_id=") else {
        return false;
    };
    headers.get(scheme.location()).is_none()
        && (1..=20).contains(&digits.len())
        && digits.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::settings::ShopSetup;
    use crate::http::signature::{sign_base64_hmac, sign_easypost_hmac, sign_timestamped};

    const NOW: i64 = 1_800_000_000;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(NOW, 0).unwrap()
    }

    fn setup() -> ShopSetup {
        ShopSetup::from_json(include_str!("../../../events/shop.example.json")).unwrap()
    }

    fn request(uri: &str, headers: &[(&str, String)], body: &'static [u8]) -> Request<Bytes> {
        let mut builder = Request::post(uri);
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        builder.body(Bytes::from_static(body)).unwrap()
    }

    /// A valid proof for `source` under its scheme, to check each row of the table end to end.
    fn signed(source: WebhookSource, setup: &ShopSetup, body: &'static [u8]) -> Request<Bytes> {
        let secret = setup.secrets.webhook(source).expect("the example shop has every secret").expose();
        match scheme(source, setup.settings.shippo_auth) {
            Scheme::Base64Hmac { header } => request("/", &[(header, sign_base64_hmac(secret, body))], body),
            Scheme::Timestamped { header } => request("/", &[(header, sign_timestamped(secret, body, NOW))], body),
            Scheme::EasypostHmac { header } => request("/", &[(header, sign_easypost_hmac(secret, body))], body),
            Scheme::UrlToken { param } => request(&format!("/?{param}={secret}"), &[], body),
        }
    }

    #[test]
    fn every_source_is_admitted_signed_and_refused_unsigned_or_forged() {
        for shippo_auth in [ShippoAuth::Hmac, ShippoAuth::Token] {
            let mut setup = setup();
            setup.settings.shippo_auth = shippo_auth;
            let ShopSetup { settings, secrets } = &setup;
            for source in WebhookSource::ALL {
                let good = signed(source, &setup, b"{}");
                assert_eq!(
                    authenticate_webhook(source, settings, secrets, &good, now()).unwrap(),
                    Admitted::Signed,
                    "{source:?}"
                );
                let unsigned = request("/", &[], b"{}");
                let err = authenticate_webhook(source, settings, secrets, &unsigned, now()).unwrap_err();
                assert_eq!(err.code(), "missing_signature", "{source:?}");
                // The proof of another body is no proof.
                let (parts, _) = good.into_parts();
                let forged = Request::from_parts(parts, Bytes::from_static(b"{\"x\":1}"));
                let result = authenticate_webhook(source, settings, secrets, &forged, now());
                let expected = if shippo_auth == ShippoAuth::Token && source == WebhookSource::Shippo {
                    "ok" // A URL token does not sign the body: why HMAC is the default.
                } else {
                    "invalid_signature"
                };
                assert_eq!(result.map_or_else(|e| e.code(), |_| "ok"), expected, "{source:?}");
            }
        }
    }

    #[test]
    fn a_shippo_url_token_alone_is_refused_when_the_shop_signs_with_hmac() {
        let ShopSetup { mut settings, secrets } = setup();
        let secret = secrets.webhook(WebhookSource::Shippo).unwrap().expose().to_owned();
        let token_only = request(&format!("/?token={secret}"), &[], b"{}");
        settings.shippo_auth = ShippoAuth::Hmac;
        let err = authenticate_webhook(WebhookSource::Shippo, &settings, &secrets, &token_only, now()).unwrap_err();
        assert_eq!((err.code(), err.to_string().starts_with("shippo-auth-signature")), ("missing_signature", true));
        settings.shippo_auth = ShippoAuth::Token;
        assert!(authenticate_webhook(WebhookSource::Shippo, &settings, &secrets, &token_only, now()).is_ok());
    }

    #[test]
    fn a_source_without_a_secret_is_not_set_up() {
        let ShopSetup { settings, mut secrets } = setup();
        secrets.webhook.remove(&WebhookSource::Aftership);
        let good = request("/", &[("aftership-hmac-sha256", sign_base64_hmac("x", b"{}"))], b"{}");
        let err = authenticate_webhook(WebhookSource::Aftership, &settings, &secrets, &good, now()).unwrap_err();
        assert_eq!(err.code(), "source_not_configured");
    }

    #[test]
    fn only_an_unsigned_woocommerce_ping_passes_unsigned() {
        let ShopSetup { settings, secrets } = setup();
        let ping = request("/", &[], b"webhook_id=42");
        let admitted = authenticate_webhook(WebhookSource::Woocommerce, &settings, &secrets, &ping, now()).unwrap();
        assert_eq!(admitted, Admitted::WoocommercePing);
        for body in [&b"webhook_id=42&x=1"[..], b"{}", b"webhook_id="] {
            let not_ping = Request::post("/").body(Bytes::copy_from_slice(body)).unwrap();
            assert!(authenticate_webhook(WebhookSource::Woocommerce, &settings, &secrets, &not_ping, now()).is_err());
        }
        let signed_ping = request("/", &[("x-wc-webhook-signature", "abc".into())], b"webhook_id=42");
        assert!(authenticate_webhook(WebhookSource::Woocommerce, &settings, &secrets, &signed_ping, now()).is_err());
        // Other sources know no ping.
        assert!(authenticate_webhook(WebhookSource::Shopify, &settings, &secrets, &ping, now()).is_err());
    }

    #[test]
    fn a_customer_link_opens_its_shop_and_purpose_only() {
        let key = crate::domain::link::LinkKey::from_secret("unit-test-link-secret-0123456789abcdef");
        let ring = LinkKeyring::legacy(key.clone());
        let shop = ShopId::parse("demo-shop").unwrap();
        let claims = |shop: &str, purpose| LinkClaims {
            shop: ShopId::parse(shop).unwrap(),
            order: crate::domain::ids::OrderId::parse("1001").unwrap(),
            purpose,
            expires_at: NOW + 3600,
        };
        let bearer = |token: String| request("/", &[("authorization", format!("Bearer {token}"))], b"{}");
        let open = |req: &Request<Bytes>| {
            let token = bearer_token(req)?;
            token.map(|token| authenticate_customer(&ring, token, &shop, LinkPurpose::Return, now())).transpose()
        };
        let good = claims("demo-shop", LinkPurpose::Return);
        assert_eq!(open(&bearer(key.seal(&good))).unwrap(), Some(good));
        assert_eq!(open(&request("/", &[], b"{}")).unwrap(), None);
        let other_shop = bearer(key.seal(&claims("other-shop", LinkPurpose::Return)));
        assert_eq!(open(&other_shop).unwrap_err().code(), "invalid_signature");
        let tracking_link = bearer(key.seal(&claims("demo-shop", LinkPurpose::Track)));
        assert_eq!(open(&tracking_link).unwrap_err().code(), "invalid_signature");
        let basic = request("/", &[("authorization", "Basic abc".into())], b"{}");
        assert_eq!(open(&basic).unwrap_err().code(), "malformed_signature");
    }
}
