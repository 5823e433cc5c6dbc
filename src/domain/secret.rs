//! `Secret`: a string that must never reach a log line, an error body or a `Debug` print
//! (passwords, raw tokens, private keys). Its `Debug` shows only its length.

use core::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A secret string. Read it with [`Secret::expose`], only where the secret is needed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// An HMAC-SHA-256 keyed by this secret, already fed `purpose` and a NUL, so that MACs
    /// made for different purposes under one key (`SECRET_KEY`) never stand for each other.
    pub fn mac(&self, purpose: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let shown = format!("{:?}", Secret::new("hunter2-password"));
        assert_eq!(shown, "Secret(<16 bytes redacted>)");
    }
}
