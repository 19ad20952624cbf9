//! Order and fulfillment webhooks: authenticate, parse, store, and send each customer message once.
//! Generic over the storage, messaging and clock ports; `main.rs` wires the AWS adapters and
//! `ppx serve` wires the same handler behind a local HTTP server.

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use ppx_shared::app::context::{App, Ports};
use ppx_shared::app::journey::TrackingOutcome;
use ppx_shared::app::outbox::message_channels;
use ppx_shared::domain::messages::Notice;
use ppx_shared::domain::order::{Order, OrderStatus, Shipment};
use ppx_shared::domain::settings::{ShopSettings, WebhookSource};
use ppx_shared::domain::text::CleanText;
use ppx_shared::http::auth::{Admitted, authenticate_webhook};
use ppx_shared::http::edge::{EdgeError, check_body_size, is_json_content_type, json_response};
use ppx_shared::http::routes::{Function, Target, match_route};
use ppx_shared::inbound::platforms::{OrderTopic, PlatformEvent, generic_order, shopify, woocommerce};
use ppx_shared::ports::clock::Clock;
use ppx_shared::ports::store::{ChangeOutcome, StateChange, Upsert};
use ppx_shared::ports::store::{OrderStore, WatchStore};
use serde_json::json;
use tracing::{Instrument, field};

const SHOPIFY_TOPIC: &str = "x-shopify-topic";
const SHOPIFY_SHOP_DOMAIN: &str = "x-shopify-shop-domain";
const SHOPIFY_WEBHOOK_ID: &str = "x-shopify-webhook-id";
const SHOPIFY_EVENT_ID: &str = "x-shopify-event-id";
const WOO_TOPIC: &str = "x-wc-webhook-topic";
const WOO_DELIVERY_ID: &str = "x-wc-webhook-delivery-id";
const PPX_DELIVERY_ID: &str = "ppx-delivery-id";

/// The function over its application context (one type parameter: its ports).
pub struct OrderPlaced<P: Ports> {
    app: App<P>,
}

impl<P: Ports> std::ops::Deref for OrderPlaced<P> {
    type Target = App<P>;
    fn deref(&self) -> &App<P> {
        &self.app
    }
}

/// What a processed request did, for the response and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ping,
    Duplicate,
    Processed {
        messages_sent: usize,
    },
    /// A shipment of an order we have not seen yet: kept, announced when the order arrives.
    ShipmentAwaitingOrder,
    /// A privacy request carried out (Shopify's compliance topics).
    Privacy {
        action: &'static str,
        orders: usize,
    },
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl<P: Ports> OrderPlaced<P> {
    pub fn new(app: App<P>) -> Self {
        Self { app }
    }

    pub async fn handle(&self, request: Request<Bytes>, request_id: &str) -> Response<String> {
        let span = tracing::info_span!(
            "webhook",
            request_id,
            shop = field::Empty,
            source = field::Empty,
            topic = field::Empty,
            delivery_id = field::Empty,
            order_id = field::Empty,
        );
        async {
            match self.process(&request).await {
                Ok(outcome) => {
                    tracing::info!(outcome = ?outcome, "webhook accepted");
                    let (status, body) = match outcome {
                        Outcome::Ping => (StatusCode::OK, json!({ "status": "ping" })),
                        Outcome::Duplicate => (StatusCode::OK, json!({ "status": "duplicate" })),
                        Outcome::Processed { messages_sent } => {
                            (StatusCode::OK, json!({ "status": "processed", "messages_sent": messages_sent }))
                        }
                        Outcome::Privacy { action, orders } => {
                            (StatusCode::OK, json!({ "status": action, "orders": orders }))
                        }
                        Outcome::ShipmentAwaitingOrder => (
                            StatusCode::ACCEPTED,
                            json!({ "status": "stored", "detail": "the order is not known yet; the shipment is kept" }),
                        ),
                    };
                    json_response(status, &body)
                }
                Err(err) => err.log_and_respond("webhook"),
            }
        }
        .instrument(span)
        .await
    }

    async fn process(&self, request: &Request<Bytes>) -> Result<Outcome, EdgeError> {
        let route = match_route(Function::OrderPlaced, request.method(), request.uri().path())?;
        let Target::Webhook(source) = route.route.target else { return Err(EdgeError::NoRoute) };
        let body = request.body();
        check_body_size(body.len())?;
        let span = tracing::Span::current();
        span.record("source", source.as_str());
        span.record("shop", route.param);
        let now = self.clock.now();
        let settings = self.settings.resolve(&self.store, route.param, now).await?;
        let shop = &settings.shop;
        let headers = request.headers();

        // Authenticate before anything is parsed or stored.
        let secrets = self.secrets_of(shop).await?;
        if authenticate_webhook(source, &settings, &secrets, request, now)? == Admitted::WoocommercePing {
            return Ok(Outcome::Ping);
        }
        if !is_json_content_type(headers.get(http::header::CONTENT_TYPE)) {
            return Err(EdgeError::UnsupportedMediaType);
        }

        let (topic, delivery_id) = match source {
            WebhookSource::Shopify => {
                let domain =
                    header(headers, SHOPIFY_SHOP_DOMAIN).ok_or(EdgeError::MissingHeader("X-Shopify-Shop-Domain"))?;
                let expected = settings.platform_domain.as_deref().unwrap_or(shop.as_str());
                if !domain.eq_ignore_ascii_case(expected) {
                    return Err(EdgeError::ShopMismatch { header: "X-Shopify-Shop-Domain" });
                }
                let topic = header(headers, SHOPIFY_TOPIC).ok_or(EdgeError::MissingHeader("X-Shopify-Topic"))?;
                (topic, header(headers, SHOPIFY_WEBHOOK_ID).or_else(|| header(headers, SHOPIFY_EVENT_ID)))
            }
            WebhookSource::Woocommerce => {
                let topic = header(headers, WOO_TOPIC).ok_or(EdgeError::MissingHeader("X-WC-Webhook-Topic"))?;
                (topic, header(headers, WOO_DELIVERY_ID))
            }
            _ => ("", header(headers, PPX_DELIVERY_ID)),
        };
        span.record("topic", topic);
        if let Some(id) = delivery_id {
            span.record("delivery_id", id);
        }
        // Duplicates need no receipt: the conditional writes below find them, in one request.
        let mut event = match source {
            WebhookSource::Shopify => shopify::parse(shop, topic, body),
            WebhookSource::Woocommerce => woocommerce::parse(shop, topic, body),
            _ => generic_order::parse(shop, body),
        }?;
        // No control character (a NUL in a name, an escape sequence in a title) gets further.
        event.clean_text();
        match event {
            PlatformEvent::Order { topic, order } => self.apply_order(&settings, topic, *order).await,
            PlatformEvent::Fulfillment { shipment } => self.apply_shipment(&settings, shipment).await,
            PlatformEvent::Privacy(request) => {
                let record = self.privacy().carry_out(shop, &request).await?;
                Ok(Outcome::Privacy { action: record.action.as_str(), orders: record.orders })
            }
        }
    }

    async fn apply_order(
        &self,
        settings: &ShopSettings,
        topic: OrderTopic,
        mut order: Order,
    ) -> Result<Outcome, EdgeError> {
        tracing::Span::current().record("order_id", order.id.as_str());
        if topic == OrderTopic::Cancelled {
            order.status = OrderStatus::Cancelled;
        }
        order.promised_delivery = Some(settings.delivery.promised_date(
            order.placed_at,
            settings.time_zone,
            order.shipping_method.as_deref(),
        ));
        if topic != OrderTopic::Created || order.status == OrderStatus::Cancelled {
            // Updates and cancellations tell the customer nothing: one conditional write.
            return Ok(match self.store.upsert_order(&order).await? {
                Upsert::Stale(_) => Outcome::Duplicate,
                Upsert::Created | Upsert::Updated => Outcome::Processed { messages_sent: 0 },
            });
        }
        // The usual case in one transaction: the new order and the claims of its confirmation.
        let outbox = self.outbox();
        let change = Some(StateChange::NewOrder(&order));
        let batch = outbox.send_about(settings, &order, (None, None), &Notice::order_confirmation(), change).await?;
        match batch.change {
            Some(ChangeOutcome::Written) | None => Ok(Outcome::Processed { messages_sent: batch.new_sends() }),
            Some(ChangeOutcome::ShipmentsFirst | ChangeOutcome::UpdatesWaiting) => {
                self.order_after_its_shipments(settings, order).await
            }
            Some(ChangeOutcome::Stale) if batch.settled => Ok(Outcome::Duplicate),
            Some(ChangeOutcome::Stale) => {
                // A late create after an update still confirms, with the newest stored data.
                let current = self.store.get_order(&order.shop, &order.id).await?.unwrap_or(order);
                if current.status == OrderStatus::Cancelled {
                    return Ok(Outcome::Processed { messages_sent: 0 });
                }
                // Its shipping is watched as a new order's is (that write was refused).
                self.store.watch_order(&current.shop, &current.id, current.placed_at).await?;
                let confirmation = Notice::order_confirmation();
                let sent = outbox.send_about(settings, &current, (None, None), &confirmation, None).await?.new_sends();
                Ok(Outcome::Processed { messages_sent: sent })
            }
        }
    }

    /// An order whose shipments (and their carrier news) came first: confirmed, then those are
    /// announced.
    async fn order_after_its_shipments(&self, settings: &ShopSettings, order: Order) -> Result<Outcome, EdgeError> {
        let current = match self.store.upsert_order(&order).await? {
            Upsert::Stale(stored) => *stored,
            Upsert::Created | Upsert::Updated => order,
        };
        if current.status == OrderStatus::Cancelled {
            return Ok(Outcome::Processed { messages_sent: 0 });
        }
        let outbox = self.outbox();
        let confirmation = Notice::order_confirmation();
        let mut messages_sent =
            outbox.send_about(settings, &current, (None, None), &confirmation, None).await?.new_sends();
        let view = self.store.order_view(&current.shop, &current.id).await?;
        for shipment in &view.shipments {
            let shipped = Notice::shipped(&shipment.id);
            messages_sent +=
                outbox.send_about(settings, &current, (Some(shipment), None), &shipped, None).await?.new_sends();
            if view.tracking.contains_key(&shipment.id) {
                let journey = self.journey();
                if let TrackingOutcome::Applied { messages_sent: n, .. } =
                    journey.announce_stored(settings, &current.id, &shipment.id).await?
                {
                    messages_sent += n;
                }
            }
        }
        Ok(Outcome::Processed { messages_sent })
    }

    /// The usual case: the order is stored and no carrier news waits for the tracking number. One
    /// read (the order's partition: who to tell, and what is stored of the shipment), one
    /// transaction (the shipment if newer, its number, the claims of its notice), one batch of
    /// records. A duplicate stops after the read.
    async fn apply_shipment(&self, settings: &ShopSettings, shipment: Shipment) -> Result<Outcome, EdgeError> {
        tracing::Span::current().record("order_id", shipment.order_id.as_str());
        let view = self.store.order_view(&settings.shop, &shipment.order_id).await?;
        let announced = |order: &Order| {
            order.status != OrderStatus::Cancelled
                && view.already_applied(&shipment, &message_channels(settings, order, &Notice::shipped(&shipment.id)))
        };
        if view.order.as_ref().is_some_and(announced) {
            return Ok(Outcome::Duplicate);
        }
        let order = match view.order {
            Some(order) if order.status != OrderStatus::Cancelled => order,
            known => return self.shipment_in_steps(settings, shipment, known).await,
        };
        let change = Some(StateChange::NewShipment(&shipment));
        let batch = self
            .outbox()
            .send_about(settings, &order, (Some(&shipment), None), &Notice::shipped(&shipment.id), change)
            .await?;
        match batch.change {
            Some(ChangeOutcome::Written) | None => Ok(Outcome::Processed { messages_sent: batch.new_sends() }),
            Some(ChangeOutcome::Stale) if batch.settled => Ok(Outcome::Duplicate),
            // Stale with its notice unsent (it goes out with the newest stored shipment), or carrier
            // updates waiting for the number (they are applied too).
            Some(ChangeOutcome::Stale | ChangeOutcome::UpdatesWaiting | ChangeOutcome::ShipmentsFirst) => {
                self.shipment_in_steps(settings, shipment, Some(order)).await
            }
        }
    }

    /// A shipment before its order, of a cancelled order, stale, or with carrier updates waiting:
    /// stored, then announced with whatever came before it. `known`: the order, when it was read.
    async fn shipment_in_steps(
        &self,
        settings: &ShopSettings,
        shipment: Shipment,
        known: Option<Order>,
    ) -> Result<Outcome, EdgeError> {
        let current = match self.store.upsert_shipment(&settings.shop, &shipment).await? {
            Upsert::Stale(stored) => *stored,
            Upsert::Created | Upsert::Updated => shipment,
        };
        let order = match known {
            Some(order) => order,
            None => {
                // Marked before looking again, so that the order's own write sees the mark or
                // this look sees the order: one of the two announces the shipment.
                self.store.mark_shipments_first(&settings.shop, &current.order_id).await?;
                match self.store.get_order(&settings.shop, &current.order_id).await? {
                    Some(order) => order,
                    None => return Ok(Outcome::ShipmentAwaitingOrder),
                }
            }
        };
        if order.status == OrderStatus::Cancelled {
            return Ok(Outcome::Processed { messages_sent: 0 });
        }
        let outbox = self.outbox();
        let shipped = Notice::shipped(&current.id);
        let mut messages_sent =
            outbox.send_about(settings, &order, (Some(&current), None), &shipped, None).await?.new_sends();
        // Carrier news that came before this fulfillment is applied (and announced) now.
        let journey = self.journey();
        if let Some(TrackingOutcome::Applied { messages_sent: n, .. }) =
            journey.apply_pending(settings, &current).await?
        {
            messages_sent += n;
        }
        Ok(Outcome::Processed { messages_sent })
    }
}

/// Handler rules against in-memory fakes; the end-to-end tests in `tests/` cover the AWS path.
#[cfg(test)]
mod rules {
    use super::*;
    use ppx_shared::adapters::memory::messaging::{MemoryEmail, MemorySms};
    use ppx_shared::adapters::memory::secrets::MemorySecrets;
    use ppx_shared::adapters::memory::store::MemoryStore;
    use ppx_shared::app::config::AppConfig;
    use ppx_shared::app::context::{Adapters, PortsOf};
    use ppx_shared::domain::ids::ShopId;
    use ppx_shared::domain::settings::{Secret, ShopSetup, WebhookSource};
    use ppx_shared::http::signature::sign_base64_hmac;
    use ppx_shared::ports::clock::ManualClock;
    use ppx_shared::ports::messaging::NoEvents;
    use ppx_shared::ports::secrets::SecretStore;
    use ppx_shared::ports::store::{MessageLedger, SettingsStore};

    type Memory = PortsOf<MemoryStore, MemorySecrets, MemoryEmail, MemorySms, NoEvents, ManualClock>;

    async fn app() -> OrderPlaced<Memory> {
        let config = AppConfig {
            table: "unused".into(),
            link_secret: Some(Secret::new("unit-test-link-secret-0123456789abcdef")),
            public_url: "https://t.example".into(),
            settings_ttl: std::time::Duration::from_secs(60),
            secrets_ttl: std::time::Duration::from_secs(300),
            home: Default::default(),
            ses_configuration_set: None,
        };
        let store = MemoryStore::new();
        let secrets = MemorySecrets::new();
        let setup = ShopSetup::from_json(include_str!("../../../events/shop.example.json")).unwrap();
        store.put_settings(&setup.settings).await.unwrap();
        secrets.put_shop_secrets(&setup.settings.shop, &setup.secrets).await.unwrap();
        let adapters = Adapters {
            store,
            secrets,
            email: MemoryEmail::default(),
            sms: MemorySms::default(),
            events: NoEvents,
            clock: ManualClock::at(chrono::Utc::now()),
        };
        OrderPlaced::new(App::new(adapters, &config))
    }

    fn shopify_request(topic: &str, body: &[u8], webhook_id: &str) -> Request<Bytes> {
        Request::post("/webhooks/shopify/demo-shop")
            .header("content-type", "application/json")
            .header(SHOPIFY_TOPIC, topic)
            .header("x-shopify-hmac-sha256", sign_base64_hmac("shpss_demo_webhook_secret", body))
            .header(SHOPIFY_SHOP_DOMAIN, "demo-shop.myshopify.com")
            .header(SHOPIFY_WEBHOOK_ID, webhook_id)
            .body(Bytes::copy_from_slice(body))
            .unwrap()
    }

    const ORDER: &[u8] = include_bytes!("../../../events/shopify-orders-create.json");

    #[tokio::test]
    async fn a_failed_send_answers_5xx_and_the_retry_sends_once() {
        let app = app().await;
        app.email.fail_next(1);
        let first = app.handle(shopify_request("orders/create", ORDER, "w1"), "r1").await;
        assert_eq!(first.status(), StatusCode::BAD_GATEWAY, "{}", first.body());
        assert!(app.email.sent().is_empty());
        // The platform retries the same delivery: it was not recorded as processed.
        let retry = app.handle(shopify_request("orders/create", ORDER, "w1"), "r2").await;
        assert_eq!(retry.status(), StatusCode::OK, "{}", retry.body());
        assert_eq!(app.email.sent().len(), 1);
        let again = app.handle(shopify_request("orders/create", ORDER, "w1"), "r3").await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(app.email.sent().len(), 1);
    }

    #[tokio::test]
    async fn an_sms_failure_does_not_resend_the_email() {
        let app = app().await;
        app.sms.fail_next(1);
        let first = app.handle(shopify_request("orders/create", ORDER, "w1"), "r1").await;
        assert_eq!(first.status(), StatusCode::BAD_GATEWAY);
        let retry = app.handle(shopify_request("orders/create", ORDER, "w1"), "r2").await;
        assert_eq!(retry.status(), StatusCode::OK, "{}", retry.body());
        assert_eq!(app.email.sent().len(), 1);
        assert_eq!(app.sms.sent().len(), 1);
    }

    #[tokio::test]
    async fn a_crashed_senders_claim_is_taken_over_after_the_lease() {
        let app = app().await;
        let shop = ShopId::parse("demo-shop").unwrap();
        let order = ppx_shared::domain::ids::OrderId::parse("5550001001").unwrap();
        let key = ppx_shared::domain::messages::MessageKey::new(
            ppx_shared::domain::messages::MessageKind::OrderConfirmation,
            ppx_shared::domain::messages::MessageScope::Order,
            ppx_shared::domain::messages::Channel::Email,
        );
        let now = app.clock.now();
        // A request claimed the email, then its Lambda died before sending.
        let claim = ppx_shared::ports::store::Claim {
            token: "dead".into(),
            at: now,
            lease_until: now + chrono::Duration::seconds(ppx_shared::app::outbox::CLAIM_LEASE_SECS),
            email_to: None,
        };
        app.store.claim_messages(&shop, &order, std::slice::from_ref(&key), &claim, None).await.unwrap();
        let during = app.handle(shopify_request("orders/create", ORDER, "w1"), "r1").await;
        assert_eq!(during.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(app.email.sent().is_empty());
        app.clock.advance(chrono::Duration::seconds(ppx_shared::app::outbox::CLAIM_LEASE_SECS + 1));
        let after = app.handle(shopify_request("orders/create", ORDER, "w1"), "r2").await;
        assert_eq!(after.status(), StatusCode::OK, "{}", after.body());
        assert_eq!(app.email.sent().len(), 1);
    }

    #[tokio::test]
    async fn secrets_are_read_once_per_ttl_and_a_changed_secret_is_used_after_it() {
        let app = app().await;
        let shop = ShopId::parse("demo-shop").unwrap();
        let first = app.handle(shopify_request("orders/create", ORDER, "w1"), "r1").await;
        assert_eq!(first.status(), StatusCode::OK, "{}", first.body());
        // The platform's secret is rotated and stored: the cached one still verifies for a while...
        let mut rotated = app.secrets.shop_secrets(&shop).await.unwrap().unwrap();
        rotated.webhook.insert(WebhookSource::Shopify, Secret::new("shpss_rotated_webhook_secret"));
        app.secrets.put_shop_secrets(&shop, &rotated).await.unwrap();
        let cached = app.handle(shopify_request("orders/create", ORDER, "w2"), "r2").await;
        assert_eq!(cached.status(), StatusCode::OK, "{}", cached.body());
        // ...and once its time is up, only the new one does.
        app.clock.advance(chrono::Duration::seconds(301));
        let old = app.handle(shopify_request("orders/create", ORDER, "w3"), "r3").await;
        assert_eq!(old.status(), StatusCode::UNAUTHORIZED, "{}", old.body());
        // A shop whose secrets are gone has no source set up: nothing is parsed or stored.
        app.secrets.delete_shop_secrets(&shop).await.unwrap();
        app.clock.advance(chrono::Duration::seconds(301));
        let none = app.handle(shopify_request("orders/create", ORDER, "w4"), "r4").await;
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
        assert!(none.body().contains("source_not_configured"), "{}", none.body());
        assert_eq!(app.email.sent().len(), 1);
    }

    #[tokio::test]
    async fn get_is_not_allowed_and_unknown_routes_are_404() {
        let app = app().await;
        let get = Request::get("/webhooks/shopify/demo-shop").body(Bytes::new()).unwrap();
        assert_eq!(app.handle(get, "r").await.status(), StatusCode::METHOD_NOT_ALLOWED);
        let other = Request::post("/webhooks/nope/demo-shop").body(Bytes::new()).unwrap();
        assert_eq!(app.handle(other, "r").await.status(), StatusCode::NOT_FOUND);
    }
}
