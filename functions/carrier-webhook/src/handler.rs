//! Carrier and tracking-aggregator webhooks: authenticate, parse into the canonical update,
//! apply it to its shipment (or keep it until the fulfillment arrives) and announce the new state
//! once. Generic over the ports; `main.rs` wires AWS, `ppx serve` wires the same handler locally.

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use ppx_shared::app::context::{App, Ports};
use ppx_shared::app::journey::TrackingOutcome;
use ppx_shared::domain::settings::{ShippoAuth, WebhookSource};
use ppx_shared::domain::text::CleanText;
use ppx_shared::domain::tracking::TrackingStatus;
use ppx_shared::http::edge::{EdgeError, check_webhook_request, is_json_content_type, json_response, webhook_route};
use ppx_shared::http::signature::{verify_base64_hmac, verify_timestamped};
use ppx_shared::inbound::carriers::{aftership, easypost, generic_tracking, shippo};
use ppx_shared::ports::clock::Clock;
use serde_json::json;
use tracing::{Instrument, field};

const EASYPOST_SIGNATURE: &str = "x-hmac-signature";
const SHIPPO_SIGNATURE: &str = "shippo-auth-signature";
const AFTERSHIP_SIGNATURE: &str = "aftership-hmac-sha256";
const PPX_SIGNATURE: &str = "ppx-signature";

/// The routes this function serves: `POST /webhooks/{provider}/{shop}`.
pub const ROUTES: [&str; 4] = [
    "POST /webhooks/easypost/{shop}",
    "POST /webhooks/shippo/{shop}",
    "POST /webhooks/aftership/{shop}",
    "POST /webhooks/tracking/{shop}",
];

/// The function over its application context (its events port: the shop's return events, since
/// a return parcel's scans move its return on).
pub struct CarrierWebhook<P: Ports> {
    app: App<P>,
}

impl<P: Ports> std::ops::Deref for CarrierWebhook<P> {
    type Target = App<P>;
    fn deref(&self) -> &App<P> {
        &self.app
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Authentic, but not about a parcel (e.g. an EasyPost envelope without a tracker).
    Ignored,
    AwaitingShipment,
    Applied {
        status: Option<TrackingStatus>,
        messages_sent: usize,
    },
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn source_of(segment: &str) -> Option<WebhookSource> {
    match segment {
        "easypost" => Some(WebhookSource::Easypost),
        "shippo" => Some(WebhookSource::Shippo),
        "aftership" => Some(WebhookSource::Aftership),
        "tracking" => Some(WebhookSource::Tracking),
        _ => None,
    }
}

/// Shippo without its optional HMAC authenticates by a secret `?token=` on the URL.
fn query_token(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes()).find(|(name, _)| name == "token").map(|(_, value)| value.into_owned())
}

impl<P: Ports> CarrierWebhook<P> {
    pub fn new(app: App<P>) -> Self {
        Self { app }
    }

    pub async fn handle(&self, request: Request<Bytes>, request_id: &str) -> Response<String> {
        let span = tracing::info_span!(
            "carrier_webhook",
            request_id,
            shop = field::Empty,
            source = field::Empty,
            order_id = field::Empty,
        );
        async {
            match self.process(&request).await {
                Ok(outcome) => {
                    tracing::info!(outcome = ?outcome, "carrier webhook accepted");
                    let (status, body) = match outcome {
                        Outcome::Ignored => (StatusCode::OK, json!({ "status": "ignored" })),
                        Outcome::AwaitingShipment => (
                            StatusCode::ACCEPTED,
                            json!({ "status": "stored", "detail": "no shipment has this tracking number yet; the update is kept" }),
                        ),
                        Outcome::Applied { status, messages_sent } => (
                            StatusCode::OK,
                            json!({
                                "status": "processed",
                                "tracking_status": status.map(|s| s.as_str()),
                                "messages_sent": messages_sent,
                            }),
                        ),
                    };
                    json_response(status, &body)
                }
                Err(err) => err.log_and_respond("carrier webhook"),
            }
        }
        .instrument(span)
        .await
    }

    async fn process(&self, request: &Request<Bytes>) -> Result<Outcome, EdgeError> {
        let (source, shop) = webhook_route(request.uri().path())
            .and_then(|(source, shop)| Some((source_of(source)?, shop)))
            .ok_or(EdgeError::NoRoute)?;
        let body = request.body();
        check_webhook_request(request.method(), body.len())?;
        let span = tracing::Span::current();
        span.record("source", source.as_str());
        span.record("shop", shop);
        let now = self.clock.now();
        let settings = self.settings.resolve(&self.store, shop, now).await?;
        let headers = request.headers();

        // Authenticate before anything is parsed or stored.
        let secret = settings.secret(source).ok_or(EdgeError::SourceNotConfigured(source.as_str()))?.expose();
        let (signature_header, verified) = match source {
            WebhookSource::Easypost => {
                (EASYPOST_SIGNATURE, easypost::verify(secret, body, header(headers, EASYPOST_SIGNATURE)))
            }
            // The URL token only where the shop chose it: with HMAC on, a token alone is refused.
            WebhookSource::Shippo => match settings.shippo_auth {
                ShippoAuth::Hmac => {
                    (SHIPPO_SIGNATURE, verify_timestamped(secret, body, header(headers, SHIPPO_SIGNATURE), now))
                }
                ShippoAuth::Token => {
                    ("token", shippo::verify_token(secret, query_token(request.uri().query()).as_deref()))
                }
            },
            WebhookSource::Aftership => {
                (AFTERSHIP_SIGNATURE, verify_base64_hmac(secret, body, header(headers, AFTERSHIP_SIGNATURE)))
            }
            _ => (PPX_SIGNATURE, verify_timestamped(secret, body, header(headers, PPX_SIGNATURE), now)),
        };
        verified.map_err(|error| EdgeError::Signature { header: signature_header, error })?;
        if !is_json_content_type(headers.get(http::header::CONTENT_TYPE)) {
            return Err(EdgeError::UnsupportedMediaType);
        }

        let update = match source {
            WebhookSource::Easypost => easypost::parse(body),
            WebhookSource::Shippo => shippo::parse(body),
            WebhookSource::Aftership => aftership::parse(body),
            _ => generic_tracking::parse(body),
        }?;
        let Some(mut update) = update else { return Ok(Outcome::Ignored) };
        // No control character in a carrier's texts gets further.
        update.clean_text();
        Ok(match self.journey().apply_update(&settings, &update).await? {
            TrackingOutcome::AwaitingShipment => Outcome::AwaitingShipment,
            TrackingOutcome::Applied { status, messages_sent } => Outcome::Applied { status, messages_sent },
            TrackingOutcome::ReturnParcel { return_id, status } => {
                if let Some(status) = status {
                    self.returns().parcel_scanned(&settings, &return_id, status).await?;
                }
                Outcome::Applied { status, messages_sent: 0 }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shippo_token_comes_from_the_query() {
        assert_eq!(query_token(Some("token=abc%20d&x=1")).as_deref(), Some("abc d"));
        assert_eq!(query_token(Some("x=1")), None);
        assert_eq!(query_token(None), None);
    }

    #[test]
    fn only_carrier_sources_route_here() {
        assert_eq!(source_of("easypost"), Some(WebhookSource::Easypost));
        assert_eq!(source_of("tracking"), Some(WebhookSource::Tracking));
        assert_eq!(source_of("shopify"), None);
    }
}
