//! Carrier and tracking-aggregator webhooks: authenticate, parse into the canonical update,
//! apply it to its shipment (or keep it until the fulfillment arrives) and announce the new state
//! once. Generic over the ports; `main.rs` wires AWS, `ppx serve` wires the same handler locally.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use ppx_shared::app::context::{App, Ports};
use ppx_shared::app::journey::TrackingOutcome;
use ppx_shared::domain::settings::WebhookSource;
use ppx_shared::domain::text::CleanText;
use ppx_shared::domain::tracking::TrackingStatus;
use ppx_shared::http::auth::authenticate_webhook;
use ppx_shared::http::edge::{EdgeError, check_body_size, is_json_content_type, json_response};
use ppx_shared::http::routes::{Function, Target, match_route};
use ppx_shared::inbound::carriers::{aftership, easypost, generic_tracking, shippo};
use ppx_shared::ports::clock::Clock;
use serde_json::json;
use tracing::{Instrument, field};

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
        let route = match_route(Function::CarrierWebhook, request.method(), request.uri().path())?;
        let Target::Webhook(source) = route.route.target else { return Err(EdgeError::NoRoute) };
        let body = request.body();
        check_body_size(body.len())?;
        let span = tracing::Span::current();
        span.record("source", source.as_str());
        span.record("shop", route.param);
        let now = self.clock.now();
        let settings = self.settings.resolve(&self.store, route.param, now).await?;
        let headers = request.headers();

        // Authenticate before anything is parsed or stored.
        let secrets = self.secrets_of(&settings.shop).await?;
        authenticate_webhook(source, &settings, &secrets, request, now)?;
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
