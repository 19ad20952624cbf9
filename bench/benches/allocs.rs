//! Heap allocations per event on the pure paths, under a counting global allocator, and the cost
//! of the first event of each kind in a fresh process (templates parsed, lazy tables built).
//!
//! Separate from the criterion timings so that counting never skews them. Prints a markdown table;
//! with `PPX_BENCH_ALLOCS_OUT=FILE` also writes it there.
//!
//! `cargo bench -p ppx-bench --bench allocs`

mod common;

use common::{EASYPOST_DELIVERED, SHOPIFY_ORDER, Scenarios};
use ppx_shared::domain::messages::MessageKind;
use ppx_shared::domain::tracking::ShipmentTracking;
use ppx_shared::inbound::carriers::easypost;
use ppx_shared::inbound::platforms::shopify;
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The system allocator, counting allocations (and reallocations) and the bytes they ask for.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: defers every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counters() -> (u64, u64) {
    (ALLOCS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed))
}

struct Row {
    name: &'static str,
    first: Duration,
    first_allocs: u64,
    allocs: u64,
    bytes: u64,
    mean: Duration,
}

/// The first call (cold caches), then one counted warm call, then a timed loop.
fn measure<T>(name: &'static str, mut f: impl FnMut() -> T) -> Row {
    let (a0, _) = counters();
    let started = Instant::now();
    black_box(f());
    let first = started.elapsed();
    let (a1, b1) = counters();
    black_box(f());
    let (a2, b2) = counters();
    let iterations = 2_000;
    let started = Instant::now();
    for _ in 0..iterations {
        black_box(f());
    }
    let mean = started.elapsed() / iterations;
    Row { name, first, first_allocs: a1 - a0, allocs: a2 - a1, bytes: b2 - b1, mean }
}

fn main() {
    // `cargo bench` passes `--bench` (and any filter); there is nothing to filter here.
    let s = Scenarios::new();
    let tracking = ShipmentTracking::default().merge(&s.update);
    // The scenarios' setup has rendered nothing yet: the first row pays for the template engine.
    let rows = [
        measure("shopify_order_create", || s.shopify_order().bytes()),
        measure("easypost_delivered", || s.carrier_delivered().bytes()),
        measure("woocommerce_parse", || s.woocommerce_parse()),
        measure("generic_order_parse", || s.generic_parse()),
        measure("review_request_render", || s.review_request().bytes()),
        measure("return_decision", || s.return_decision()),
        // The steps of the two webhook paths (warm: the template environment exists by now).
        measure("parts/shopify_parse", || shopify::parse(&s.shop, "orders/create", SHOPIFY_ORDER).map(drop)),
        measure("parts/order_confirmation_email_and_sms", || {
            s.render(&s.order, None, None, MessageKind::OrderConfirmation).bytes()
        }),
        measure("parts/easypost_parse", || easypost::parse(EASYPOST_DELIVERED).map(drop)),
        measure("parts/delivered_email_and_sms", || {
            s.render(&s.order, Some(&s.shipment), Some(&tracking), MessageKind::Delivered).bytes()
        }),
    ];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| event (pure path) or step | allocations / event | bytes allocated / event | mean (µs, counting allocator) | first event in process (µs) | allocations, first event |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for row in &rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.1} | {} |",
            row.name,
            row.allocs,
            row.bytes,
            row.mean.as_secs_f64() * 1e6,
            row.first.as_secs_f64() * 1e6,
            row.first_allocs,
        );
    }
    print!("{out}");
    if let Ok(path) = std::env::var("PPX_BENCH_ALLOCS_OUT") {
        std::fs::write(&path, &out).unwrap_or_else(|err| panic!("cannot write {path}: {err}"));
    }
}
