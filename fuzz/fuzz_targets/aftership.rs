//! `aftership::parse(body)`: AfterShip `tracking_update` webhooks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ppx_fuzz::{array_len, check_error, check_update, json, top_str};
use ppx_shared::inbound::carriers::aftership;

fuzz_target!(|body: &[u8]| {
    let result = aftership::parse(body);
    assert_eq!(result, aftership::parse(body), "parsing is deterministic");
    let update = match result {
        Ok(Some(update)) => update,
        Ok(None) => return,
        Err(err) => return check_error(&err),
    };
    check_update(&update);
    let Some(v) = json(body) else { return };
    assert_eq!(top_str(&v, "event"), "tracking_update");
    assert_eq!(update.events.len(), array_len(&v["msg"]["checkpoints"]), "one event per checkpoint");
});
