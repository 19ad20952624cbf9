//! `generic_tracking::parse(body)`: ppx's own strict tracking-event format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ppx_fuzz::{array_len, check_error, check_update, json};
use ppx_shared::inbound::carriers::generic_tracking;

fuzz_target!(|body: &[u8]| {
    let result = generic_tracking::parse(body);
    assert_eq!(result, generic_tracking::parse(body), "parsing is deterministic");
    let update = match result {
        Ok(Some(update)) => update,
        Ok(None) => panic!("every valid generic body is about tracking"),
        Err(err) => return check_error(&err),
    };
    check_update(&update);
    assert!(update.carrier.is_some(), "the carrier is required");
    if let Some(v) = json(body) {
        assert_eq!(update.events.len(), array_len(&v["events"]), "one event per input event");
    }
    for event in &update.events {
        assert_eq!(event.provider_status, event.status.as_str(), "canonical names only");
    }
});
