//! Operating-system randomness (crypto.getRandomValues in the Worker, getrandom natively) for
//! salts, token ids and keys. Failing to get randomness is unrecoverable: there is no safe
//! fallback for a salt or a key, so it aborts the request rather than degrade.

pub fn fill(buffer: &mut [u8]) {
    getrandom::fill(buffer).expect("the platform's random number generator failed");
}

/// A random UUID version 4 as 32 lowercase hex characters (Python's `uuid4().hex`), the
/// format simplejwt uses for `jti` (RFC 7519 §4.1.7: unique per token).
pub fn uuid4_hex() -> String {
    let mut bytes = [0u8; 16];
    fill(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    super::text::hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid4_hex_is_32_lowercase_hex_with_version_and_variant() {
        let id = uuid4_hex();
        assert_eq!(id.len(), 32);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(&id[12..13], "4");
        assert!("89ab".contains(&id[16..17]));
        assert_ne!(id, uuid4_hex());
    }
}
