//! Small secret-handling primitives every layer may use: random tokens, a hash for
//! storing tokens, and a comparison that does not leak where two secrets differ.

use actix_web::cookie::Key;
use rand::Rng;
use sha2::{Digest, Sha256};

/// 32 random bytes as hex (64 characters): CSRF tokens, session ids, sandbox tokens.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

/// SHA-256 as hex: what is stored instead of a token, so a leaked row or cookie key
/// does not reveal a usable token.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Compares two secrets without stopping at the first differing byte.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Session keys shorter than this are refused: actix signs and encrypts with 64 bytes.
pub const SESSION_KEY_MIN_BYTES: usize = 64;

/// A new random `SESSION_KEY`: 64 random bytes as base64 on one line (what
/// `xwms-starter new-session-key` prints).
pub fn new_session_key() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(Key::generate().master())
}

/// Accepts the key as base64 (what `xwms-starter new-session-key` prints) or as raw
/// text; returns it, and whether it was text. In production a key whose bytes are all
/// printable characters is refused: that is a passphrase or a demo value, not 64 random
/// bytes (base64 of random bytes decodes to bytes that are almost never all printable).
pub fn parse_session_key(value: &str, production: bool) -> Result<(Key, bool), String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()
        .filter(|decoded| decoded.len() >= SESSION_KEY_MIN_BYTES)
        .unwrap_or_else(|| value.as_bytes().to_vec());
    if bytes.len() < SESSION_KEY_MIN_BYTES {
        return Err(format!(
            "too short: {} bytes, at least {SESSION_KEY_MIN_BYTES} needed (make one with: xwms-starter new-session-key)",
            bytes.len()
        ));
    }
    let is_text = bytes.iter().all(|b| (b' '..=b'~').contains(b));
    if is_text && production {
        return Err("only printable characters: a passphrase, not a key; production needs 64 random bytes as base64 (make one with: xwms-starter new-session-key)".to_owned());
    }
    let key =
        Key::try_from(bytes.as_slice()).map_err(|_| "could not be used as a key".to_owned())?;
    Ok((key, is_text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_hex_characters_and_never_repeat() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert!(!constant_time_eq("", "a"));
        assert!(constant_time_eq("", ""));
    }

    #[test]
    fn sha256_hex_is_the_standard_digest() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
