//! `signature::verify_timestamped` (`t=<unix>,v1=<hex>`: the generic order and tracking
//! formats, Shippo, the returns form) and Shippo's `?token=` check `verify_url_token`,
//! against a reference reading of the header and an independent HMAC. Never `Ok` unless some
//! `v1` is HMAC-SHA256(secret, "<t>.<body>") and `t` is within the replay window of `now`.
#![no_main]

use arbitrary::Arbitrary;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use ppx_fuzz::now_from;
use ppx_shared::http::signature::{REPLAY_WINDOW_SECS, SignatureError, sign_timestamped, verify_timestamped, verify_url_token};
use sha2::Sha256;

#[derive(Debug, Arbitrary)]
enum When {
    /// Seconds from `now` (a real sender's clock skew).
    Near(i16),
    /// Any unix time at all.
    At(i64),
}

#[derive(Debug, Arbitrary)]
enum Header {
    Missing,
    Raw(String),
    /// A header built from parts: a signed `t`/`v1` pair (perhaps damaged) among other parts.
    Built {
        when: When,
        /// Written instead of the number for `t=` (`+5`, `005`...), when set.
        t_text: Option<String>,
        other_secret: Option<String>,
        flip: Option<(u8, u8)>,
        before: Vec<String>,
        after: Vec<String>,
        space_out: bool,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    secret: String,
    now: i64,
    header: Header,
    token: Option<String>,
    body: Vec<u8>,
}

fn hmac(secret: &str, t: i64, body: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// The header as the scheme defines it: comma-separated `key=value`, the last `t` wins, any
/// number of `v1`; unknown keys are ignored.
fn reference(secret: &str, body: &[u8], header: Option<&str>, now: i64) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match key {
            "t" => t = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => v1.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let expected = hmac(secret, t, body);
    if !v1.contains(&expected) {
        return Err(SignatureError::Mismatch);
    }
    if (i128::from(now) - i128::from(t)).abs() > i128::from(REPLAY_WINDOW_SECS) {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

fuzz_target!(|input: Input| {
    let Input { secret, now, header, token, body } = input;
    let now = now_from(now);
    let header: Option<String> = match header {
        Header::Missing => None,
        Header::Raw(text) => Some(text),
        Header::Built { when, t_text, other_secret, flip, before, after, space_out } => {
            let t = match when {
                When::Near(skew) => now.timestamp() + i64::from(skew),
                When::At(t) => t,
            };
            let mut mac = hmac(other_secret.as_deref().unwrap_or(&secret), t, &body);
            if let Some((at, bit)) = flip {
                let at = usize::from(at) % mac.len();
                mac[at] ^= 1 << (bit % 8);
            }
            let signed = [format!("t={}", t_text.unwrap_or_else(|| t.to_string())), format!("v1={}", hex::encode(mac))];
            let parts: Vec<String> = before.into_iter().chain(signed).chain(after).collect();
            Some(parts.join(if space_out { ", " } else { "," }))
        }
    };

    let result = verify_timestamped(&secret, &body, header.as_deref(), now);
    let expected = reference(&secret, &body, header.as_deref(), now.timestamp());
    assert_eq!(result, expected, "header {header:?} at {now}");

    // What `sign_timestamped` produces verifies at any `now` within the window.
    let t = now.timestamp();
    let own = sign_timestamped(&secret, &body, t);
    assert_eq!(own, format!("t={t},v1={}", hex::encode(hmac(&secret, t, &body))));
    assert_eq!(verify_timestamped(&secret, &body, Some(&own), now), Ok(()));

    // Shippo's URL token: only the exact, non-empty secret passes.
    let given = token.as_deref();
    let expected = match given {
        None | Some("") => Err(SignatureError::Missing),
        Some(g) if g == secret && !secret.is_empty() => Ok(()),
        Some(_) => Err(SignatureError::Mismatch),
    };
    assert_eq!(verify_url_token(&secret, given), expected, "token {given:?}");
    if !secret.is_empty() {
        assert_eq!(verify_url_token(&secret, Some(&secret)), Ok(()));
    }
});
