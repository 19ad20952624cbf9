//! `shippo::parse(body)`: Shippo `track_updated` webhooks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ppx_fuzz::{array_len, check_error, check_update, json, top_str};
use ppx_shared::inbound::carriers::shippo;

fuzz_target!(|body: &[u8]| {
    let result = shippo::parse(body);
    assert_eq!(result, shippo::parse(body), "parsing is deterministic");
    let update = match result {
        Ok(Some(update)) => update,
        Ok(None) => return,
        Err(err) => return check_error(&err),
    };
    check_update(&update);
    let Some(v) = json(body) else { return };
    assert_eq!(top_str(&v, "event"), "track_updated");
    // The history, plus the current status when it is not already in it.
    let history = array_len(&v["data"]["tracking_history"]);
    let current = usize::from(!v["data"]["tracking_status"].is_null());
    assert!((history..=history + current).contains(&update.events.len()), "{} events", update.events.len());
    assert_eq!(update.public_url, None);
});
