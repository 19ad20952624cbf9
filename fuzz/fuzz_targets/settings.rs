//! `settings::ShopSettings::from_json`: a shop's settings document (stored and cached).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ppx_shared::domain::settings::ShopSettings;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let Ok(settings) = ShopSettings::from_json(raw) else { return };
    assert_eq!(settings.validate(), Ok(()), "from_json only returns valid settings");
    let color = settings.brand_color.as_bytes();
    assert!(color.len() == 7 && color[0] == b'#', "{:?}", settings.brand_color);
    for (source, secret) in &settings.webhook_secrets {
        assert!(secret.expose().trim().len() >= 8, "{source:?} secret too weak");
        assert_eq!(format!("{secret:?}"), "Secret(***)", "secrets are never printed");
        assert_eq!(settings.secret(*source), Some(secret));
    }
    // What is stored is what is read back.
    let stored = serde_json::to_string(&settings).expect("settings serialize");
    assert_eq!(ShopSettings::from_json(&stored).as_ref(), Ok(&settings), "settings JSON round trip");
});
