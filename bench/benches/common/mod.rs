//! The pure path of each trigger on the real fixtures: what a function does with one event between
//! reading the shop's settings and its first write, without any I/O (no DynamoDB, SES, SNS).
//! Shared by the criterion benchmarks (`pure_path`) and the allocation counts (`allocs`).

#![allow(dead_code)] // each bench uses its own part

use chrono::{DateTime, Duration, Utc};
use ppx_shared::domain::ids::ShopId;
use ppx_shared::domain::link::{CustomerLinks, LinkKey, LinkKeyring};
use ppx_shared::domain::messages::MessageKind;
use ppx_shared::domain::notification::{self, Told};
use ppx_shared::domain::order::{Order, Shipment};
use ppx_shared::domain::returns::{Decision, RequestedItem, Resolution, ReturnRequest, decide};
use ppx_shared::domain::settings::{ShopSecrets, ShopSettings, ShopSetup, WebhookSource};
use ppx_shared::domain::tracking::{CarrierUpdate, ShipmentTracking};
use ppx_shared::http::signature::{sign_base64_hmac, sign_easypost_hmac, verify_base64_hmac, verify_easypost_hmac};
use ppx_shared::inbound::carriers::easypost;
use ppx_shared::inbound::platforms::{PlatformEvent, generic_order, shopify, woocommerce};
use ppx_shared::render::{MessageContext, RenderedEmail, has_sms, render_email, render_sms};

/// A provider's published sample payload (`tests/fixtures/`, see its SOURCES.md).
macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/", $name)).as_slice()
    };
}

/// The project's own sample events (`events/`).
macro_rules! event {
    ($name:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/", $name)).as_slice()
    };
}

pub const SHOPIFY_ORDER: &[u8] = fixture!("shopify-orders-create.json");
pub const SHOPIFY_FULFILLMENT: &[u8] = fixture!("shopify-fulfillments-create.json");
pub const EASYPOST_DELIVERED: &[u8] = fixture!("easypost-tracker-updated-delivered.json");
pub const WOOCOMMERCE_ORDER: &[u8] = fixture!("woocommerce-order-created-docs.json");
pub const GENERIC_ORDER: &[u8] = event!("generic-order-created.json");
pub const SAMPLE_ORDER: &[u8] = event!("shopify-orders-create.json");
pub const SHOP_SETTINGS: &[u8] = event!("shop.example.json");

/// What one customer message costs to produce: the email, and the SMS when the kind has one.
pub struct Rendered {
    pub email: RenderedEmail,
    pub sms: Option<String>,
}

impl Rendered {
    pub fn bytes(&self) -> usize {
        self.email.subject.len()
            + self.email.html.len()
            + self.email.text.len()
            + self.sms.as_ref().map_or(0, String::len)
    }
}

/// Everything a function has in hand before an event arrives: settings (cached per cold start),
/// the link key, and for the carrier path the order and shipment it would read from the table.
pub struct Scenarios {
    pub settings: ShopSettings,
    /// The shop's secrets (cached per cold start, like the settings).
    pub secrets: ShopSecrets,
    pub shop: ShopId,
    pub links: CustomerLinks,
    pub now: DateTime<Utc>,
    pub shopify_signature: String,
    pub easypost_signature: String,
    /// The fixture order with its promise, as stored by the order webhook.
    pub order: Order,
    pub shipment: Shipment,
    pub update: CarrierUpdate,
    /// The project's sample order (not cancelled), the return request's order.
    pub sample_order: Order,
    pub return_request: ReturnRequest,
    pub delivered_at: DateTime<Utc>,
}

impl Scenarios {
    pub fn new() -> Self {
        let ShopSetup { settings, secrets } = ShopSetup::from_json(std::str::from_utf8(SHOP_SETTINGS).expect("utf-8"))
            .expect("events/shop.example.json is valid settings");
        let shop = settings.shop.clone();
        let links = CustomerLinks::new(
            LinkKeyring::legacy(LinkKey::from_secret("bench-link-secret-0123456789abcdefghijklm")),
            "https://ppx.example.com",
        );
        let now: DateTime<Utc> = "2026-11-27T17:00:00Z".parse().expect("time");
        let secret = |source| secrets.webhook(source).expect("the example shop has every secret").expose().to_owned();
        let shopify_signature = sign_base64_hmac(&secret(WebhookSource::Shopify), SHOPIFY_ORDER);
        let easypost_signature = sign_easypost_hmac(&secret(WebhookSource::Easypost), EASYPOST_DELIVERED);

        let mut order = order_of(shopify::parse(&shop, "orders/create", SHOPIFY_ORDER));
        promise(&settings, &mut order);
        let shipment = match shopify::parse(&shop, "fulfillments/create", SHOPIFY_FULFILLMENT) {
            Ok(PlatformEvent::Fulfillment { shipment }) => shipment,
            other => panic!("the fulfillment fixture is a fulfillment: {other:?}"),
        };
        let update = easypost::parse(EASYPOST_DELIVERED).expect("parses").expect("is about a tracker");

        let mut sample_order = order_of(shopify::parse(&shop, "orders/create", SAMPLE_ORDER));
        promise(&settings, &mut sample_order);
        let line = &sample_order.items[0];
        let return_request = ReturnRequest {
            order_id: sample_order.id.clone(),
            items: vec![RequestedItem {
                line_item: line.id.clone().expect("Shopify line items have ids"),
                quantity: 1,
                reason: "doesnt_fit".to_owned(),
                comment: Some("Too small across the shoulders".to_owned()),
                photo_urls: Vec::new(),
            }],
            resolution: Resolution::Refund,
            comment: None,
        };
        let delivered_at = sample_order.placed_at + Duration::days(3);

        Self {
            settings,
            secrets,
            shop,
            links,
            now,
            shopify_signature,
            easypost_signature,
            order,
            shipment,
            update,
            sample_order,
            return_request,
            delivered_at,
        }
    }

    fn secret(&self, source: WebhookSource) -> &str {
        self.secrets.webhook(source).expect("configured").expose()
    }

    /// `order-placed`, Shopify `orders/create`: verify, parse, promise, links, confirmation email and SMS.
    pub fn shopify_order(&self) -> Rendered {
        let secret = self.secret(WebhookSource::Shopify);
        verify_base64_hmac(secret, SHOPIFY_ORDER, Some(&self.shopify_signature)).expect("signature verifies");
        let mut order = order_of(shopify::parse(&self.shop, "orders/create", SHOPIFY_ORDER));
        promise(&self.settings, &mut order);
        self.render(&order, None, None, MessageKind::OrderConfirmation)
    }

    /// `carrier-webhook`, EasyPost `tracker.updated` (delivered): verify, parse, merge, decide the
    /// announcement, delivered email and SMS.
    pub fn carrier_delivered(&self) -> Rendered {
        let secret = self.secret(WebhookSource::Easypost);
        verify_easypost_hmac(secret, EASYPOST_DELIVERED, Some(&self.easypost_signature)).expect("signature verifies");
        let update = easypost::parse(EASYPOST_DELIVERED).expect("parses").expect("is about a tracker");
        let tracking = ShipmentTracking::default().merge(&update);
        let decision = notification::decide(
            &tracking,
            &self.shipment.id,
            &Told::default(),
            self.arrival(),
            &self.settings.notifications,
        );
        let notification::Decision::Announce { notice: announcement, .. } = decision else {
            panic!("a delivery is news: {decision:?}")
        };
        assert_eq!(announcement.kind, MessageKind::Delivered);
        let today = self.now.with_timezone(&self.settings.time_zone).date_naive();
        assert!(tracking.delay_announcement(&self.shipment.id, self.order.promised_delivery, today).is_none());
        self.render(&self.order, Some(&self.shipment), Some(&tracking), announcement.kind)
    }

    /// When the delivered sample arrives: minutes after its scan (EasyPost's sample is from 2014;
    /// a day later it would be old news).
    pub fn arrival(&self) -> DateTime<Utc> {
        let update = easypost::parse(EASYPOST_DELIVERED).expect("parses").expect("is about a tracker");
        let scanned = ShipmentTracking::default().merge(&update).status_at.expect("delivered");
        scanned + Duration::minutes(10)
    }

    /// `order-placed`, WooCommerce `order.created`: parse only.
    pub fn woocommerce_parse(&self) -> Order {
        order_of(woocommerce::parse(&self.shop, "order.created", WOOCOMMERCE_ORDER))
    }

    /// `order-placed`, the generic order format: parse only.
    pub fn generic_parse(&self) -> Order {
        order_of(generic_order::parse(&self.shop, GENERIC_ORDER))
    }

    /// `review-request`, per due order: links (eleven survey answers, unsubscribe) and the email.
    pub fn review_request(&self) -> Rendered {
        let order = &self.sample_order;
        let links = self.links.for_order(&order.shop, &order.id, self.now);
        let review = self.links.for_review(&order.shop, &order.id, self.now);
        let ctx = MessageContext {
            settings: &self.settings,
            order,
            shipment: None,
            tracking: None,
            tracking_url: &links.tracking,
            returns_url: &links.returns,
            review: Some(&review),
            return_update: None,
        };
        Rendered { email: render_email(MessageKind::ReviewRequest, &ctx).expect("review email"), sms: None }
    }

    /// `return-submitted`: the policy decision for a one-item request.
    pub fn return_decision(&self) -> Decision {
        let order = &self.sample_order;
        let now = self.delivered_at + Duration::days(5);
        decide(
            &self.settings.return_policy,
            order,
            Some(self.delivered_at),
            &[],
            &self.return_request,
            now,
            self.settings.time_zone,
        )
        .expect("a valid request")
    }

    /// The customer message of `kind` about `order`, as `Outbox::send_about` builds it.
    pub fn render(
        &self,
        order: &Order,
        shipment: Option<&Shipment>,
        tracking: Option<&ShipmentTracking>,
        kind: MessageKind,
    ) -> Rendered {
        let links = self.links.for_order(&order.shop, &order.id, self.now);
        let ctx = MessageContext {
            settings: &self.settings,
            order,
            shipment,
            tracking,
            tracking_url: &links.tracking,
            returns_url: &links.returns,
            review: None,
            return_update: None,
        };
        let email = render_email(kind, &ctx).expect("email renders");
        let sms = has_sms(kind).then(|| render_sms(kind, &ctx).expect("SMS renders"));
        Rendered { email, sms }
    }
}

fn order_of(event: Result<PlatformEvent, ppx_shared::inbound::ParseError>) -> Order {
    match event {
        Ok(PlatformEvent::Order { order, .. }) => *order,
        other => panic!("an order event: {other:?}"),
    }
}

/// What `order-placed` adds before storing: the promised delivery date.
fn promise(settings: &ShopSettings, order: &mut Order) {
    order.promised_delivery =
        Some(settings.delivery.promised_date(order.placed_at, settings.time_zone, order.shipping_method.as_deref()));
}
