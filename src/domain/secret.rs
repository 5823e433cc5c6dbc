//! `Secret`: a string that must never reach a log line, an error body or a `Debug` print
//! (passwords, raw tokens, private keys). Its `Debug` shows only its length.

use core::fmt;

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
