//! Criterion timings of merging a long carrier history into a shipment's tracking state.
//!
//! A carrier (or a forged-looking but signed replay) can send thousands of checkpoints in one
//! update; merging must stay O(n log n). `tracking_merge/new_12000`: one update of 12,000
//! distinct checkpoints into an empty state; `tracking_merge/known_12000`: the same update into
//! a state that already merged it (a carrier resending its whole history). Target: each under
//! 20 ms.
//!
//! `cargo bench -p ppx-bench --bench tracking_merge`; results in `target/criterion/`.

use chrono::{DateTime, Duration as Days, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use ppx_shared::domain::ids::TrackingNumber;
use ppx_shared::domain::tracking::{CarrierUpdate, ShipmentTracking, TrackingEvent, TrackingStatus};
use std::hint::black_box;
use std::time::Duration;

/// How many checkpoints the long update carries.
const EVENTS: usize = 12_000;

/// `count` distinct checkpoints a minute apart, with carrier-like texts, in a scrambled order
/// (sorting an already sorted list would flatter the merge).
fn long_update(count: usize) -> CarrierUpdate {
    let start: DateTime<Utc> = "2026-11-20T08:00:00Z".parse().expect("time");
    let statuses = [TrackingStatus::InTransit, TrackingStatus::Unknown, TrackingStatus::OutForDelivery];
    // 7,919 is prime and does not divide 12,000: i * 7,919 mod count visits every index once.
    let events = (0..count)
        .map(|n| n * 7_919 % count)
        .map(|i| TrackingEvent {
            status: statuses[i % statuses.len()],
            occurred_at: start + Days::minutes(i as i64),
            provider_status: "in_transit/arrived_at_facility".to_owned(),
            message: Some(format!("Arrived at sort facility {}", i % 97)),
            location: Some(format!("Memphis {}, TN, US", i % 13)),
        })
        .collect();
    CarrierUpdate {
        tracking_number: TrackingNumber::parse("1Z999AA10123456784").expect("a tracking number"),
        carrier: Some("UPS".to_owned()),
        events,
        estimated_delivery: None,
        public_url: None,
        provider_reference: None,
    }
}

fn tracking_merge(c: &mut Criterion) {
    let update = long_update(EVENTS);
    let known = ShipmentTracking::default().merge(&update);
    let mut group = c.benchmark_group("tracking_merge");
    group.bench_function("new_12000", |b| b.iter(|| ShipmentTracking::default().merge(black_box(&update))));
    group.bench_function("known_12000", |b| b.iter(|| known.merge(black_box(&update))));
    group.finish();
}

/// Short runs, as in `pure_path`; a slow merge still gets its ten samples.
fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(10)
}

criterion_group! {
    name = benches;
    config = config();
    targets = tracking_merge
}
criterion_main!(benches);
