//! `easypost::parse(body)`: EasyPost `Event` envelopes with a `Tracker` result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ppx_fuzz::{array_len, check_error, check_update, json, top_str};
use ppx_shared::inbound::carriers::easypost;

fuzz_target!(|body: &[u8]| {
    let result = easypost::parse(body);
    assert_eq!(result, easypost::parse(body), "parsing is deterministic");
    let update = match result {
        Ok(Some(update)) => update,
        Ok(None) => return,
        Err(err) => return check_error(&err),
    };
    check_update(&update);
    let Some(v) = json(body) else { return };
    let description = top_str(&v, "description");
    assert!(matches!(description.as_str(), "tracker.created" | "tracker.updated"), "{description:?}");
    // One event per tracking detail, or the tracker's own status when there are none.
    let details = array_len(&v["result"]["tracking_details"]);
    assert_eq!(update.events.len(), details.max(1));
});
