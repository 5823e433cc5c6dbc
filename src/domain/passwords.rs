//! Password hashes in Django's format, so users move between Django and the worker with their
//! passwords: `pbkdf2_sha256$<iterations>$<salt>$<base64 of 32-byte PBKDF2-HMAC-SHA256>`.
//!
//! Pure Rust PBKDF2 over the `sha2` and `hmac` crates, never WebCrypto: Cloudflare caps
//! WebCrypto PBKDF2 at 100 000 iterations in production but not locally. Verification accepts any iteration
//! count (hashes imported from Django keep working) and compares in constant time.

use core::fmt;

use base64ct::{Base64, Encoding};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::secret::Secret;

const ALGORITHM: &str = "pbkdf2_sha256";
const SALT_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Django's salt: 22 characters of [a-zA-Z0-9], about 131 bits.
const SALT_LENGTH: usize = 22;

/// An encoded password hash as stored in D1. `Debug` never shows it. The default (empty) is
/// an unusable password.
#[derive(Clone, PartialEq, Eq, Default)]
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

    /// Django's `has_usable_password`: not empty and not marked unusable (`!…`).
    pub fn is_usable(&self) -> bool {
        !self.0.is_empty() && !self.0.starts_with('!')
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

    /// Whether `password` matches, hashing at most `max_iterations` times: a hash with more
    /// iterations than that, or in another format (argon2, bcrypt, Django's unusable `!…`),
    /// matches nothing. Returns the answer and the iterations spent, so that the caller can
    /// make every failure cost the same (see [`burn`]).
    pub fn verify(&self, password: &Secret, max_iterations: u32) -> Verification {
        match self.parts() {
            Some((iterations, salt)) if iterations <= max_iterations => {
                let candidate = Self::with_salt(password, salt, iterations);
                Verification {
                    matches: candidate.0.as_bytes().ct_eq(self.0.as_bytes()).into(),
                    iterations,
                }
            }
            _ => Verification {
                matches: false,
                iterations: 0,
            },
        }
    }
}

/// The outcome of [`PasswordHash::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matches: bool,
    /// PBKDF2 iterations the check hashed.
    pub iterations: u32,
}

/// Does `iterations` of hashing work and throws the result away, so that a failed login
/// costs the same whatever failed: an unknown e-mail, a wrong password, an inactive user or a
/// hash with fewer iterations than the most the service accepts (Django's `make_password` on
/// a dummy, padded to the slowest hash). Nothing for 0.
pub fn burn(password: &Secret, iterations: u32) {
    if iterations > 0 {
        let digest = pbkdf2_sha256(password, "dummy-salt-for-timing", iterations);
        core::hint::black_box(digest);
    }
}

/// PBKDF2-HMAC-SHA256 with a 32-byte result (RFC 8018 §5.2, one block), the hot loop of every
/// login and registration. The first iteration (salt of any length) goes through the `hmac`
/// crate; every further one is two SHA-256 compressions of the previous result, one on each
/// of the two HMAC states precomputed from the key (`edge_auth_sha256::digest_after_block`),
/// with the digests as words: no buffering, padding or bytes in the loop. The result equals
/// the `pbkdf2` crate's (tested).
fn pbkdf2_sha256(password: &Secret, salt: &str, iterations: u32) -> [u8; 32] {
    #[cfg(test)]
    HASHED.with(|count| count.set(count.get() + u64::from(iterations)));
    use edge_auth_sha256::digest_after_block;
    use hmac::{Mac, SimpleHmac};
    use sha2::digest::generic_array::GenericArray;
    use sha2::Digest;

    const IV: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let password = password.expose().as_bytes();
    // RFC 2104: a key longer than the block is hashed first; the key block is zero-padded.
    let mut key = [0u8; 64];
    if password.len() > 64 {
        key[..32].copy_from_slice(&Sha256::digest(password));
    } else {
        key[..password.len()].copy_from_slice(password);
    }
    let keyed_state = |pad: u8| {
        let block: [u8; 64] = core::array::from_fn(|i| key[i] ^ pad);
        let mut state = IV;
        sha2::compress256(&mut state, &[GenericArray::from(block)]);
        state
    };
    let (inner, outer) = (keyed_state(0x36), keyed_state(0x5c));

    // U1 = HMAC(P, S || INT(1)).
    let mut mac = <SimpleHmac<Sha256> as Mac>::new_from_slice(password)
        .expect("HMAC takes keys of any length");
    mac.update(salt.as_bytes());
    mac.update(&1u32.to_be_bytes());
    let first = mac.finalize().into_bytes();
    let mut u = [0u32; 8];
    for (word, chunk) in u.iter_mut().zip(first.chunks_exact(4)) {
        *word = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    let mut result = u;

    // Ui = HMAC(P, Ui-1): the 32-byte Ui-1 after the key block, in each of the two hashes.
    for _ in 1..iterations {
        u = digest_after_block(&outer, &digest_after_block(&inner, &u));
        for (r, x) in result.iter_mut().zip(&u) {
            *r ^= x;
        }
    }
    let mut bytes = [0u8; 32];
    for (chunk, word) in bytes.chunks_exact_mut(4).zip(result) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    bytes
}

/// Uniform over the alphabet: bytes ≥ 248 are rejected (248 = 4 × 62).
fn random_salt() -> String {
    let mut salt = String::with_capacity(SALT_LENGTH);
    let mut buffer = [0u8; 64];
    while salt.len() < SALT_LENGTH {
        crate::domain::random::fill(&mut buffer);
        for byte in buffer {
            if salt.len() < SALT_LENGTH && byte < 248 {
                salt.push(SALT_ALPHABET[usize::from(byte) % SALT_ALPHABET.len()] as char);
            }
        }
    }
    salt
}

#[cfg(test)]
thread_local! {
    /// PBKDF2 iterations this thread hashed: the flow tests measure the work of a login.
    static HASHED: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

/// PBKDF2 iterations this thread has hashed so far.
#[cfg(test)]
pub fn iterations_hashed() -> u64 {
    HASHED.with(core::cell::Cell::get)
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
        assert!(hash.verify(&secret("correct horse"), 1000).matches);
        assert!(!hash.verify(&secret("correct horsf"), 1000).matches);
        assert!(!hash.verify(&secret("correct horse "), 1000).matches);
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
        assert!(hash.verify(&secret("correct horse"), 1000).matches);
        assert!(!hash.verify(&secret("wrong horse"), 1000).matches);
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

    proptest::proptest! {
        #[test]
        fn the_fast_loop_equals_the_pbkdf2_crate(
            password in "\\PC{0,100}",
            salt in "[a-zA-Z0-9]{0,40}",
            iterations in 1u32..50,
        ) {
            let mut expected = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut expected);
            proptest::prop_assert_eq!(pbkdf2_sha256(&secret(&password), &salt, iterations), expected);
        }
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
            assert!(!hash.verify(&secret("anything"), 10).matches, "{stored}");
            assert_eq!(hash.iterations(), None);
        }
    }

    #[test]
    fn a_hash_slower_than_the_maximum_matches_nothing_and_costs_nothing() {
        let hash = PasswordHash::new(&secret("pw"), 2_000);
        let before = iterations_hashed();
        assert_eq!(
            hash.verify(&secret("pw"), 1_999),
            Verification {
                matches: false,
                iterations: 0
            }
        );
        assert_eq!(iterations_hashed(), before);
        assert_eq!(
            hash.verify(&secret("pw"), 2_000),
            Verification {
                matches: true,
                iterations: 2_000
            }
        );
    }

    #[test]
    fn burning_hashes_exactly_the_iterations_asked_for() {
        let before = iterations_hashed();
        burn(&secret("pw"), 0);
        burn(&secret("pw"), 700);
        assert_eq!(iterations_hashed() - before, 700);
    }

    #[test]
    fn debug_never_shows_the_hash() {
        let hash = PasswordHash::new(&secret("pw"), 1);
        assert_eq!(format!("{hash:?}"), "PasswordHash(<redacted>)");
    }
}
