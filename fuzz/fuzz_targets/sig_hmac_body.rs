//! The HMAC-of-the-raw-body checks: `signature::verify_base64_hmac` (Shopify, WooCommerce,
//! AfterShip) and `verify_easypost_hmac` (`hmac-sha256-hex=`, NFKD key, empty secret refused),
//! against an independent HMAC computed here. The verdict must be exactly the oracle's: in
//! particular, never `Ok` unless the header holds HMAC-SHA256(secret, body).
#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use ppx_shared::http::signature::{SignatureError, sign_base64_hmac, sign_easypost_hmac, verify_base64_hmac, verify_easypost_hmac};
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Arbitrary)]
enum Header {
    Missing,
    /// Any text.
    Raw(String),
    /// Any bytes, encoded the way the scheme expects.
    Encoded(Vec<u8>),
    /// The right MAC, perhaps damaged: one bit flipped, cut short, padded with spaces, hex in
    /// upper case, or signed with another secret.
    Correct {
        flip: Option<(u8, u8)>,
        keep: Option<u8>,
        spaces: bool,
        upper: bool,
        other_secret: Option<String>,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    easypost: bool,
    secret: String,
    header: Header,
    body: Vec<u8>,
}

fn hmac(key: &[u8], body: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn easypost_key(secret: &str) -> Vec<u8> {
    secret.nfkd().collect::<String>().into_bytes()
}

fuzz_target!(|input: Input| {
    let Input { easypost, secret, header, body } = input;
    let key = |secret: &str| if easypost { easypost_key(secret) } else { secret.as_bytes().to_vec() };
    let encode = |mac: &[u8], upper: bool| {
        if easypost {
            let hex = if upper { hex::encode_upper(mac) } else { hex::encode(mac) };
            format!("hmac-sha256-hex={hex}")
        } else {
            STANDARD.encode(mac)
        }
    };
    let header: Option<String> = match header {
        Header::Missing => None,
        Header::Raw(text) => Some(text),
        Header::Encoded(bytes) => Some(encode(&bytes, false)),
        Header::Correct { flip, keep, spaces, upper, other_secret } => {
            let mut mac = hmac(&key(other_secret.as_deref().unwrap_or(&secret)), &body);
            if let Some((at, bit)) = flip {
                let at = usize::from(at) % mac.len();
                mac[at] ^= 1 << (bit % 8);
            }
            if let Some(keep) = keep {
                mac.truncate(usize::from(keep));
            }
            let value = encode(&mac, upper);
            Some(if spaces { format!(" {value}\t") } else { value })
        }
    };

    // The oracle: what the header must say for the check to pass.
    let expected_mac = hmac(&key(&secret), &body);
    let (result, expected) = if easypost {
        let result = verify_easypost_hmac(&secret, &body, header.as_deref());
        let expected = match header.as_deref().map(str::trim) {
            None => Err(SignatureError::Missing),
            Some(h) => match h.strip_prefix("hmac-sha256-hex=").map(hex::decode) {
                None | Some(Err(_)) => Err(SignatureError::Malformed),
                Some(Ok(given)) if given == expected_mac && !secret.is_empty() => Ok(()),
                Some(Ok(_)) => Err(SignatureError::Mismatch),
            },
        };
        // What `sign` produces verifies, unless the secret is empty (anyone could sign with it).
        let signed = sign_easypost_hmac(&secret, &body);
        assert_eq!(signed, encode(&expected_mac, false));
        let own = verify_easypost_hmac(&secret, &body, Some(&signed));
        assert_eq!(own.is_ok(), !secret.is_empty(), "{own:?}");
        (result, expected)
    } else {
        let result = verify_base64_hmac(&secret, &body, header.as_deref());
        let expected = match header.as_deref().map(str::trim) {
            None => Err(SignatureError::Missing),
            Some(h) => match STANDARD.decode(h) {
                Err(_) => Err(SignatureError::Malformed),
                Ok(given) if given == expected_mac => Ok(()),
                Ok(_) => Err(SignatureError::Mismatch),
            },
        };
        let signed = sign_base64_hmac(&secret, &body);
        assert_eq!(signed, encode(&expected_mac, false));
        assert_eq!(verify_base64_hmac(&secret, &body, Some(&signed)), Ok(()));
        (result, expected)
    };
    assert_eq!(result, expected, "header {header:?}");
});
