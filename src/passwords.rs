//! Password hashes in Django's format, so users move between Django and the worker with their
//! passwords: `pbkdf2_sha256$<iterations>$<salt>$<base64 of 32-byte PBKDF2-HMAC-SHA256>`.
//!
//! Pure Rust PBKDF2 (the `pbkdf2` crate), never WebCrypto: Cloudflare caps WebCrypto PBKDF2 at
//! 100 000 iterations in production but not locally. Verification accepts any iteration
//! count (hashes imported from Django keep working) and compares in constant time.

use core::fmt;

use base64ct::{Base64, Encoding};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::secret::Secret;

const ALGORITHM: &str = "pbkdf2_sha256";
const SALT_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Django's salt: 22 characters of [a-zA-Z0-9], about 131 bits.
const SALT_LENGTH: usize = 22;

/// An encoded password hash as stored in D1. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

impl PasswordHash {
    /// Wraps a hash read from storage, whatever its format.
    pub fn from_stored(encoded: String) -> Self {
        Self(encoded)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Hashes `password` with a fresh random salt.
    pub fn new(password: &Secret, iterations: u32) -> Self {
        Self::with_salt(password, &random_salt(), iterations)
    }

    /// Hashes with the given salt (Django's `PBKDF2PasswordHasher.encode`).
    pub fn with_salt(password: &Secret, salt: &str, iterations: u32) -> Self {
        let digest = pbkdf2_sha256(password, salt, iterations);
        Self(format!(
            "{ALGORITHM}${iterations}${salt}${}",
            Base64::encode_string(&digest)
        ))
    }

    /// Iteration count of a well-formed `pbkdf2_sha256` hash.
    pub fn iterations(&self) -> Option<u32> {
        self.parts().map(|(iterations, _)| iterations)
    }

    fn parts(&self) -> Option<(u32, &str)> {
        let mut parts = self.0.splitn(4, '$');
        let (algorithm, iterations, salt, _) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let iterations: u32 = iterations.parse().ok().filter(|n| *n > 0)?;
        (algorithm == ALGORITHM).then_some((iterations, salt))
    }

    /// Whether `password` matches. A hash in another format (argon2, bcrypt, Django's
    /// unusable `!…`) matches nothing, after the same hashing work as a wrong password.
    pub fn verify(&self, password: &Secret, fallback_iterations: u32) -> bool {
        match self.parts() {
            Some((iterations, salt)) => {
                let candidate = Self::with_salt(password, salt, iterations);
                candidate.0.as_bytes().ct_eq(self.0.as_bytes()).into()
            }
            None => {
                burn(password, fallback_iterations);
                false
            }
        }
    }
}

/// Does the hashing work of one verification and throws the result away, so that an unknown
/// e-mail takes as long as a wrong password (Django's `make_password` on a dummy).
pub fn burn(password: &Secret, iterations: u32) {
    let digest = pbkdf2_sha256(password, "dummy-salt-for-timing", iterations);
    core::hint::black_box(digest);
}

fn pbkdf2_sha256(password: &Secret, salt: &str, iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password.expose().as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut out,
    );
    out
}

/// Uniform over the alphabet: bytes ≥ 248 are rejected (248 = 4 × 62).
fn random_salt() -> String {
    let mut salt = String::with_capacity(SALT_LENGTH);
    let mut buffer = [0u8; 64];
    while salt.len() < SALT_LENGTH {
        crate::random::fill(&mut buffer);
        for byte in buffer {
            if salt.len() < SALT_LENGTH && byte < 248 {
                salt.push(SALT_ALPHABET[usize::from(byte) % SALT_ALPHABET.len()] as char);
            }
        }
    }
    salt
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Django's `PBKDF2PasswordHasher().encode("correct horse", "seasalt", 1000)`; the digest
    /// is Python's `base64.b64encode(hashlib.pbkdf2_hmac("sha256", b"correct horse",
    /// b"seasalt", 1000))`, which is what that hasher computes.
    const DJANGO_HASH: &str =
        "pbkdf2_sha256$1000$seasalt$mQnueSakb748zqBAC1tmWVZsZbi2zPGZarEzTGdfmso=";

    fn secret(text: &str) -> Secret {
        Secret::new(text)
    }

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let hash = PasswordHash::new(&secret("correct horse"), 1000);
        assert!(hash.verify(&secret("correct horse"), 1000));
        assert!(!hash.verify(&secret("correct horsf"), 1000));
        assert!(!hash.verify(&secret("correct horse "), 1000));
    }

    #[test]
    fn the_format_is_djangos() {
        let hash = PasswordHash::new(&secret("pw"), 600_000);
        let parts: Vec<&str> = hash.as_str().split('$').collect();
        assert_eq!(parts[0], "pbkdf2_sha256");
        assert_eq!(parts[1], "600000");
        assert_eq!(parts[2].len(), 22);
        assert!(parts[2].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(parts[3].len(), 44);
        assert_eq!(hash.iterations(), Some(600_000));
    }

    #[test]
    fn a_hash_made_by_django_verifies() {
        let hash = PasswordHash::from_stored(DJANGO_HASH.to_owned());
        assert!(hash.verify(&secret("correct horse"), 1000));
        assert!(!hash.verify(&secret("wrong horse"), 1000));
    }

    #[test]
    fn rfc_7914_pbkdf2_sha256_vector_holds() {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1, dkLen=64), first 32 bytes.
        let digest = pbkdf2_sha256(&secret("passwd"), "salt", 1);
        assert_eq!(
            digest[..8],
            [0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f]
        );
    }

    #[test]
    fn unusable_and_foreign_hashes_match_nothing() {
        for stored in [
            "!unusable",
            "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA",
            "pbkdf2_sha256$0$s$h",
            "",
        ] {
            let hash = PasswordHash::from_stored(stored.to_owned());
            assert!(!hash.verify(&secret("anything"), 10), "{stored}");
            assert_eq!(hash.iterations(), None);
        }
    }

    #[test]
    fn debug_never_shows_the_hash() {
        let hash = PasswordHash::new(&secret("pw"), 1);
        assert_eq!(format!("{hash:?}"), "PasswordHash(<redacted>)");
    }
}
