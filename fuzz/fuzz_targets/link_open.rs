//! Sealed customer links (`link::LinkKey::open`, `seal`). Input:
//! `[purpose][now: i64 LE][nonce: 24][tamper: u16 LE][payload]`. Three checks per input:
//! - the payload taken as a token never opens (forging a link needs the key);
//! - the payload sealed here as the plaintext of a token (same key derivation, the given
//!   nonce) opens exactly as its JSON says: claims, purpose, expiry, length limit;
//! - when the payload is valid claims, `seal` then `open` gives them back, and a token with one
//!   bit flipped is `Invalid`.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::DateTime;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use ppx_fuzz::now_from;
use ppx_shared::domain::link::{LinkClaims, LinkError, LinkKey, LinkPurpose};
use sha2::Sha256;
use std::sync::LazyLock;

const SECRET: &str = "fuzz link secret";
/// `open` refuses longer tokens unread (`MAX_TOKEN_LEN` in shared/src/link.rs).
const MAX_TOKEN_LEN: usize = 1024;
const PURPOSES: [LinkPurpose; 4] =
    [LinkPurpose::Track, LinkPurpose::Return, LinkPurpose::Survey, LinkPurpose::Unsubscribe];

static KEY: LazyLock<LinkKey> = LazyLock::new(|| LinkKey::from_secret(SECRET));
/// The documented derivation: HMAC-SHA256(secret, "ppx link key v1") keys XChaCha20-Poly1305.
static CIPHER: LazyLock<XChaCha20Poly1305> = LazyLock::new(|| {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(b"ppx link key v1");
    XChaCha20Poly1305::new_from_slice(&mac.finalize().into_bytes()).unwrap()
});

fn flip(token: &str, at: u16) -> String {
    let mut raw = URL_SAFE_NO_PAD.decode(token).expect("tokens are base64url");
    let at = usize::from(at / 8) % raw.len();
    raw[at] ^= 1 << (at % 8);
    URL_SAFE_NO_PAD.encode(raw)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 35 {
        return;
    }
    let purpose = PURPOSES[usize::from(data[0]) % 4];
    let now = now_from(i64::from_le_bytes(data[1..9].try_into().unwrap()));
    let nonce = XNonce::from_slice(&data[9..33]);
    let tamper = u16::from_le_bytes([data[33], data[34]]);
    let payload = &data[35..];

    // 1. Unsealed text is never a valid link.
    if let Ok(text) = std::str::from_utf8(payload) {
        let opened = KEY.open(text, purpose, now);
        assert!(opened.is_err(), "forged token {text:?} opened: {opened:?}");
    }

    // 2. A token whose plaintext is the payload opens as the payload says.
    let sealed = CIPHER.encrypt(nonce, payload).unwrap();
    let token = URL_SAFE_NO_PAD.encode([nonce.as_slice(), &sealed].concat());
    let claims = serde_json::from_slice::<LinkClaims>(payload);
    let expected = match &claims {
        _ if token.len() > MAX_TOKEN_LEN => Err(LinkError::Invalid),
        Err(_) => Err(LinkError::Invalid),
        Ok(c) if c.purpose != purpose => Err(LinkError::WrongPurpose),
        Ok(c) if now.timestamp() > c.expires_at => Err(LinkError::Expired),
        Ok(c) => Ok(c.clone()),
    };
    assert_eq!(KEY.open(&token, purpose, now), expected, "payload {:?}", String::from_utf8_lossy(payload));
    assert_eq!(KEY.open(&flip(&token, tamper), purpose, now), Err(LinkError::Invalid), "tampered token opened");

    // 3. Whatever claims parse, `seal` makes a link that opens until it expires, for its page only.
    let Ok(claims) = claims else { return };
    let link = KEY.seal(&claims);
    if let Some(expiry) = DateTime::from_timestamp(claims.expires_at, 0) {
        assert_eq!(KEY.open(&link, claims.purpose, expiry), Ok(claims.clone()), "sealed link {} chars", link.len());
        if let Some(later) = DateTime::from_timestamp(claims.expires_at + 1, 0) {
            assert_eq!(KEY.open(&link, claims.purpose, later), Err(LinkError::Expired));
        }
    }
    let other = PURPOSES.into_iter().find(|p| *p != claims.purpose).unwrap();
    assert_eq!(KEY.open(&link, other, now), Err(LinkError::WrongPurpose));
    assert_eq!(KEY.open(&flip(&link, tamper), claims.purpose, now), Err(LinkError::Invalid));
});
