//! Criterion timings of the pure path of every trigger, per event, on the real fixtures.
//!
//! `pure_path/*`: a whole event's CPU work without I/O (targets: under 200 µs for the Shopify order
//! fixture, under 100 µs for a carrier webhook). `parts/*`: the steps of those two paths alone, to
//! show where the time goes.
//!
//! `cargo bench -p ppx-bench --bench pure_path`; results in `target/criterion/`.

mod common;

use common::{EASYPOST_DELIVERED, SHOPIFY_ORDER, Scenarios};
use criterion::{Criterion, criterion_group, criterion_main};
use ppx_shared::domain::messages::MessageKind;
use ppx_shared::domain::notification::{Told, decide};
use ppx_shared::domain::settings::WebhookSource;
use ppx_shared::domain::tracking::ShipmentTracking;
use ppx_shared::http::signature::{verify_base64_hmac, verify_easypost_hmac};
use ppx_shared::inbound::carriers::easypost;
use ppx_shared::inbound::platforms::shopify;
use std::hint::black_box;
use std::time::Duration;

fn pure_path(c: &mut Criterion) {
    let s = Scenarios::new();
    let mut group = c.benchmark_group("pure_path");
    group.bench_function("shopify_order_create", |b| b.iter(|| black_box(s.shopify_order()).bytes()));
    group.bench_function("easypost_delivered", |b| b.iter(|| black_box(s.carrier_delivered()).bytes()));
    group.bench_function("woocommerce_parse", |b| b.iter(|| black_box(s.woocommerce_parse())));
    group.bench_function("generic_order_parse", |b| b.iter(|| black_box(s.generic_parse())));
    group.bench_function("review_request_render", |b| b.iter(|| black_box(s.review_request()).bytes()));
    group.bench_function("return_decision", |b| b.iter(|| black_box(s.return_decision())));
    group.finish();
}

fn parts(c: &mut Criterion) {
    let s = Scenarios::new();
    let shopify_secret = s.secrets.webhook(WebhookSource::Shopify).expect("configured").expose().to_owned();
    let easypost_secret = s.secrets.webhook(WebhookSource::Easypost).expect("configured").expose().to_owned();
    let tracking = ShipmentTracking::default().merge(&s.update);
    let mut group = c.benchmark_group("parts");
    group.bench_function("shopify_verify_hmac", |b| {
        b.iter(|| verify_base64_hmac(&shopify_secret, black_box(SHOPIFY_ORDER), Some(&s.shopify_signature)))
    });
    group.bench_function("shopify_parse", |b| {
        b.iter(|| shopify::parse(&s.shop, "orders/create", black_box(SHOPIFY_ORDER)).expect("parses"))
    });
    group.bench_function("promised_date", |b| {
        b.iter(|| {
            s.settings.delivery.promised_date(
                black_box(s.order.placed_at),
                s.settings.time_zone,
                s.order.shipping_method.as_deref(),
            )
        })
    });
    group.bench_function("customer_links_for_order", |b| {
        b.iter(|| s.links.for_order(&s.order.shop, black_box(&s.order.id), s.now))
    });
    group.bench_function("order_confirmation_email_and_sms", |b| {
        b.iter(|| s.render(black_box(&s.order), None, None, MessageKind::OrderConfirmation).bytes())
    });
    group.bench_function("easypost_verify_hmac", |b| {
        b.iter(|| verify_easypost_hmac(&easypost_secret, black_box(EASYPOST_DELIVERED), Some(&s.easypost_signature)))
    });
    group.bench_function("easypost_parse", |b| b.iter(|| easypost::parse(black_box(EASYPOST_DELIVERED))));
    let arrival = s.arrival();
    let told = Told::default();
    group.bench_function("tracking_merge_and_announce", |b| {
        b.iter(|| {
            let tracking = ShipmentTracking::default().merge(black_box(&s.update));
            decide(&tracking, &s.shipment.id, &told, arrival, &s.settings.notifications)
        })
    });
    group.bench_function("delivered_email_and_sms", |b| {
        b.iter(|| s.render(black_box(&s.order), Some(&s.shipment), Some(&tracking), MessageKind::Delivered).bytes())
    });
    group.finish();
}

/// Short runs: the whole suite takes about a minute and a half on two cores. Command-line flags
/// (`cargo bench -p ppx-bench -- --measurement-time 10`) still win.
fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = pure_path, parts
}
criterion_main!(benches);
