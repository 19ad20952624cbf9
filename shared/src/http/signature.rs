//! The providers' signature schemes (HMAC-SHA256 in their encodings, a URL token), each
//! compared in constant time. Which route uses which: `http::auth`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

type HmacSha256 = Hmac<Sha256>;

/// How far a timestamped signature may be from now, either way.
pub const REPLAY_WINDOW_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is missing")]
    Missing,
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the signature timestamp is outside the 5-minute window")]
    Stale,
}

fn mac(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `base64(HMAC-SHA256(secret, body))`: Shopify, WooCommerce, AfterShip.
pub fn verify_base64_hmac(secret: &str, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let expected = BASE64.decode(header).map_err(|_| SignatureError::Malformed)?;
    let mut mac = mac(secret.as_bytes());
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected).map_err(|_| SignatureError::Mismatch)
}

pub fn sign_base64_hmac(secret: &str, body: &[u8]) -> String {
    let mut mac = mac(secret.as_bytes());
    mac.update(body);
    BASE64.encode(mac.finalize().into_bytes())
}

/// `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the generic formats (and Shippo).
/// Several `v1` values are accepted so a secret can be rotated.
pub fn verify_timestamped(
    secret: &str,
    body: &[u8],
    header: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp: Option<i64> = None;
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match key {
            "t" => timestamp = Some(value.parse().map_err(|_| SignatureError::Malformed)?),
            "v1" => candidates.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut mac = mac(secret.as_bytes());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    // Check every candidate so timing does not reveal which one matched.
    let matched = candidates.iter().fold(false, |found, c| found | constant_time_eq(c, &expected));
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    // Checked after the MAC so an attacker learns nothing about the window from unsigned input.
    // `abs_diff`: a signed `t` far from now (e.g. near i64::MIN/MAX) must not overflow.
    if now.timestamp().abs_diff(timestamp) > REPLAY_WINDOW_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

pub fn sign_timestamped(secret: &str, body: &[u8], timestamp: i64) -> String {
    let mut mac = mac(secret.as_bytes());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

const EASYPOST_PREFIX: &str = "hmac-sha256-hex=";

/// `hmac-sha256-hex=<hex HMAC-SHA256 of the raw body>`: EasyPost. The key is the webhook
/// secret NFKD-normalized, as UTF-8 (EasyPost's documented scheme). An empty secret never
/// verifies (anyone could sign with it).
pub fn verify_easypost_hmac(secret: &str, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let verified = verify_prefixed_hex_hmac(easypost_key(secret).as_bytes(), body, header);
    if secret.is_empty() { verified.and(Err(SignatureError::Mismatch)) } else { verified }
}

/// The header value EasyPost would send for `body` (for tests and local tools).
pub fn sign_easypost_hmac(secret: &str, body: &[u8]) -> String {
    let mut mac = mac(easypost_key(secret).as_bytes());
    mac.update(body);
    format!("{EASYPOST_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

fn easypost_key(secret: &str) -> String {
    secret.nfkd().collect()
}

fn verify_prefixed_hex_hmac(key: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let digest = header.strip_prefix(EASYPOST_PREFIX).ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(digest).map_err(|_| SignatureError::Malformed)?;
    let mut mac = mac(key);
    mac.update(body);
    // `verify_slice` compares in constant time (and refuses a truncated MAC).
    mac.verify_slice(&expected).map_err(|_| SignatureError::Mismatch)
}

/// A secret `?token=` on the webhook URL (Shippo without HMAC), in constant time: the values
/// are hashed first, so not even their lengths leak. An absent or empty token is `Missing`; a
/// wrong one, or any token when the expected one is empty, is `Mismatch`.
pub fn verify_url_token(expected: &str, given: Option<&str>) -> Result<(), SignatureError> {
    let given = given.filter(|g| !g.is_empty()).ok_or(SignatureError::Missing)?;
    let same = constant_time_eq(&Sha256::digest(given.as_bytes()), &Sha256::digest(expected.as_bytes()));
    if same && !expected.is_empty() { Ok(()) } else { Err(SignatureError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SECRET: &str = "hush";

    #[test]
    fn base64_hmac_roundtrip_and_rejections() {
        let body = br#"{"id":1}"#;
        let sig = sign_base64_hmac(SECRET, body);
        assert_eq!(verify_base64_hmac(SECRET, body, Some(&sig)), Ok(()));
        assert_eq!(verify_base64_hmac(SECRET, body, None), Err(SignatureError::Missing));
        assert_eq!(verify_base64_hmac(SECRET, body, Some("not base64!")), Err(SignatureError::Malformed));
        assert_eq!(verify_base64_hmac("other", body, Some(&sig)), Err(SignatureError::Mismatch));
        assert_eq!(verify_base64_hmac(SECRET, br#"{"id":2}"#, Some(&sig)), Err(SignatureError::Mismatch));
        // A truncated MAC is not a prefix match.
        let short = BASE64.encode(&BASE64.decode(&sig).unwrap()[..16]);
        assert_eq!(verify_base64_hmac(SECRET, body, Some(&short)), Err(SignatureError::Mismatch));
    }

    #[test]
    fn known_shopify_style_vector() {
        // Computed independently: printf '%s' '{"a":1}' | openssl dgst -sha256 -hmac key -binary | base64
        assert_eq!(sign_base64_hmac("key", br#"{"a":1}"#), "iKZ/JLvNrtDmyZdAS7eadDuvRMa6svTCcyjjAJ0i40I=");
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let body = b"payload";
        let mut raw = BASE64.decode(sign_base64_hmac(SECRET, body)).unwrap();
        for byte in 0..raw.len() {
            for bit in 0..8 {
                raw[byte] ^= 1 << bit;
                let forged = BASE64.encode(&raw);
                assert_eq!(verify_base64_hmac(SECRET, body, Some(&forged)), Err(SignatureError::Mismatch));
                raw[byte] ^= 1 << bit;
            }
        }
    }

    #[test]
    fn constant_time_eq_handles_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn timestamped_signature_window_and_rotation() {
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
        let body = br#"{"order":"1"}"#;
        let header = sign_timestamped(SECRET, body, now.timestamp());
        assert_eq!(verify_timestamped(SECRET, body, Some(&header), now), Ok(()));
        let at_edge = now + chrono::Duration::seconds(REPLAY_WINDOW_SECS);
        assert_eq!(verify_timestamped(SECRET, body, Some(&header), at_edge), Ok(()));
        let late = now + chrono::Duration::seconds(REPLAY_WINDOW_SECS + 1);
        assert_eq!(verify_timestamped(SECRET, body, Some(&header), late), Err(SignatureError::Stale));
        let early = now - chrono::Duration::seconds(REPLAY_WINDOW_SECS + 1);
        assert_eq!(verify_timestamped(SECRET, body, Some(&header), early), Err(SignatureError::Stale));
        // The timestamp is signed: moving it breaks the MAC.
        let v1 = header.split_once(",v1=").unwrap().1;
        let moved = format!("t={},v1={v1}", now.timestamp() + 1);
        assert_eq!(verify_timestamped(SECRET, body, Some(&moved), now), Err(SignatureError::Mismatch));
        // Rotation: an old-secret v1 beside the right one passes.
        let old = sign_timestamped("old", body, now.timestamp());
        let both = format!("{old},v1={v1}");
        assert_eq!(verify_timestamped(SECRET, body, Some(&both), now), Ok(()));
    }

    #[test]
    fn timestamped_extreme_timestamps_are_stale_not_a_panic() {
        // Found by fuzz/sig_timestamped: `now - t` overflowed for a signed t near i64::MAX.
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
        let body = b"{}";
        for t in [i64::MAX, 9_223_371_892_973_362_815, i64::MIN, now.timestamp().wrapping_sub(i64::MIN)] {
            let header = sign_timestamped(SECRET, body, t);
            assert_eq!(verify_timestamped(SECRET, body, Some(&header), now), Err(SignatureError::Stale), "t={t}");
        }
    }

    #[test]
    fn timestamped_header_must_be_well_formed() {
        let now = Utc::now();
        for bad in ["", "t=abc,v1=00", "v1=00", "t=1", "t=1,v1=zz", "garbage"] {
            assert_eq!(verify_timestamped(SECRET, b"x", Some(bad), now), Err(SignatureError::Malformed), "{bad}");
        }
        assert_eq!(verify_timestamped(SECRET, b"x", None, now), Err(SignatureError::Missing));
    }

    const EASYPOST_SIGNED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/easypost-tracker-updated-in_transit-signed-fixture.json"
    );
    /// EasyPost's official test vector (fixtures/SOURCES.md).
    const VECTOR_SECRET: &str = "sécret";
    const VECTOR_HEADER: &str = "hmac-sha256-hex=38f3f53c103713df81616a0a186d77141957323ec21d5fe9363db93840f527db";

    #[test]
    fn easypost_official_test_vector() {
        let file = std::fs::read(EASYPOST_SIGNED).unwrap();
        let body = file.strip_suffix(b"\n").expect("the fixture ends with a newline");
        assert_eq!(verify_easypost_hmac(VECTOR_SECRET, body, Some(VECTOR_HEADER)), Ok(()));
        assert_eq!(sign_easypost_hmac(VECTOR_SECRET, body), VECTOR_HEADER);
        // An already decomposed secret is the same key.
        let decomposed: String = VECTOR_SECRET.nfkd().collect();
        assert_ne!(decomposed.as_bytes(), VECTOR_SECRET.as_bytes(), "the source literal is precomposed (NFC)");
        assert_eq!(verify_easypost_hmac(&decomposed, body, Some(VECTOR_HEADER)), Ok(()));
        // Documented failures: the trailing newline kept, and the NFC secret used as the key.
        assert_eq!(verify_easypost_hmac(VECTOR_SECRET, &file, Some(VECTOR_HEADER)), Err(SignatureError::Mismatch));
        let nfc: String = VECTOR_SECRET.nfc().collect();
        assert_eq!(verify_prefixed_hex_hmac(nfc.as_bytes(), body, Some(VECTOR_HEADER)), Err(SignatureError::Mismatch));
        // Upper-case hex is the same MAC.
        let upper = format!("{EASYPOST_PREFIX}{}", VECTOR_HEADER[EASYPOST_PREFIX.len()..].to_ascii_uppercase());
        assert_eq!(verify_easypost_hmac(VECTOR_SECRET, body, Some(&upper)), Ok(()));
    }

    #[test]
    fn easypost_signature_rejections_are_constant_time_mac_checks() {
        let body = br#"{"description":"tracker.updated"}"#;
        let good = sign_easypost_hmac("hush", body);
        assert_eq!(verify_easypost_hmac("hush", body, Some(&good)), Ok(()));
        assert_eq!(verify_easypost_hmac("hush", body, Some(&format!("  {good} "))), Ok(()));
        assert_eq!(verify_easypost_hmac("hush", body, None), Err(SignatureError::Missing));
        for bad in ["", "38f3f53c", "sha256=00", "hmac-sha256-hex=zz", "HMAC-SHA256-HEX=00", "hmac-sha256-hex=0"] {
            assert_eq!(verify_easypost_hmac("hush", body, Some(bad)), Err(SignatureError::Malformed), "{bad}");
        }
        assert_eq!(verify_easypost_hmac("other", body, Some(&good)), Err(SignatureError::Mismatch));
        assert_eq!(
            verify_easypost_hmac("", body, Some(&sign_easypost_hmac("", body))),
            Err(SignatureError::Mismatch),
            "empty secret"
        );
        assert_eq!(verify_easypost_hmac("", body, None), Err(SignatureError::Missing));
        assert_eq!(verify_easypost_hmac("hush", b"{}", Some(&good)), Err(SignatureError::Mismatch));
        // A truncated MAC is not a prefix match; an empty one is not a match either.
        let digest = &good[EASYPOST_PREFIX.len()..];
        for short in [&digest[..32], ""] {
            assert_eq!(
                verify_easypost_hmac("hush", body, Some(&format!("{EASYPOST_PREFIX}{short}"))),
                Err(SignatureError::Mismatch)
            );
        }
        // Every single-bit change of the MAC is refused.
        let mut raw = hex::decode(digest).unwrap();
        for byte in 0..raw.len() {
            for bit in 0..8 {
                raw[byte] ^= 1 << bit;
                let forged = format!("{EASYPOST_PREFIX}{}", hex::encode(&raw));
                assert_eq!(verify_easypost_hmac("hush", body, Some(&forged)), Err(SignatureError::Mismatch));
                raw[byte] ^= 1 << bit;
            }
        }
    }

    #[test]
    fn shippo_url_token() {
        assert_eq!(verify_url_token("tok_123", Some("tok_123")), Ok(()));
        assert_eq!(verify_url_token("tok_123", Some("tok_124")), Err(SignatureError::Mismatch));
        assert_eq!(verify_url_token("tok_123", Some("tok_1234")), Err(SignatureError::Mismatch));
        assert_eq!(verify_url_token("tok_123", Some("TOK_123")), Err(SignatureError::Mismatch));
        assert_eq!(verify_url_token("tok_123", None), Err(SignatureError::Missing));
        assert_eq!(verify_url_token("tok_123", Some("")), Err(SignatureError::Missing));
        assert_eq!(verify_url_token("", Some("x")), Err(SignatureError::Mismatch), "an empty secret never matches");
    }

    proptest::proptest! {
        #[test]
        fn easypost_and_url_token_never_panic_on_bytes(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = verify_easypost_hmac("sécret", &body, std::str::from_utf8(&body).ok());
            let _ = verify_url_token("tok", std::str::from_utf8(&body).ok());
        }
    }
}
