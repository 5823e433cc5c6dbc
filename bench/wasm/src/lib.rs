//! Each export runs one operation `n` times and returns a value that depends on the work,
//! so that nothing is optimised away. The caller times the calls.
#![allow(clippy::missing_safety_doc)]

use std::sync::OnceLock;

use base64ct::{Base64UrlUnpadded, Encoding};
use edge_auth::domain::keys::{Key, Keyring};
use edge_auth::domain::passwords::PasswordHash;
use edge_auth::domain::secret::Secret;
use edge_auth::domain::settings::Settings;
use edge_auth::domain::tokens::{self, TokenKind};
use jwt_compact::{alg::Ed25519, Algorithm};

const SEED: [u8; 32] = [7; 32];
/// 2026-11-25T00:00:00Z, and a token valid long after it.
const NOW: i64 = 1_795_564_800;

struct Fixture {
    keyring: Keyring,
    settings: Settings,
    /// A signed access token in the worker's format.
    token: String,
    /// What a JWT signature covers: `header.payload`.
    message: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = Key::from_signing_key(ed25519_dalek::SigningKey::from_bytes(&SEED));
        let payload = format!(
            r#"{{"token_type":"access","exp":{},"iat":{NOW},"jti":"0f5e3c2a9b8d4e6f8a1b2c3d4e5f6a7b","user_id":42}}"#,
            NOW + 300
        );
        let message = format!(
            "{}.{}",
            key.encoded_header,
            Base64UrlUnpadded::encode_string(payload.as_bytes())
        );
        let signature = Ed25519.sign(key.signing_key(), message.as_bytes());
        let token = format!(
            "{message}.{}",
            Base64UrlUnpadded::encode_string(&signature.to_bytes())
        );
        Fixture {
            keyring: Keyring::from_keys(vec![key]),
            settings: Settings::from_vars(|_| None).expect("default settings"),
            token,
            message: message.into_bytes(),
        }
    })
}

/// One PBKDF2-HMAC-SHA256 password hash of `iterations` iterations (Django's format).
#[no_mangle]
pub extern "C" fn bench_pbkdf2(iterations: u32) -> u32 {
    let hash = PasswordHash::with_salt(
        &Secret::new("correct horse battery staple"),
        "seasalt",
        iterations,
    );
    hash.as_str().bytes().map(u32::from).sum()
}

/// Signing as the worker signs a token (jwt-compact over ed25519-dalek).
#[no_mangle]
pub extern "C" fn bench_sign(n: u32) -> u32 {
    let f = fixture();
    let key = f.keyring.signing();
    (0..n)
        .map(|_| u32::from(Ed25519.sign(key.signing_key(), &f.message).to_bytes()[0]))
        .sum()
}

/// A Bearer token check without storage: parse, signature, claims (`tokens::verify`).
#[no_mangle]
pub extern "C" fn bench_verify(n: u32) -> u32 {
    let f = fixture();
    (0..n)
        .map(|_| {
            tokens::verify(
                &f.keyring,
                &f.settings,
                &f.token,
                Some(TokenKind::Access),
                NOW,
            )
            .map_or(0, |_| 1)
        })
        .sum()
}

/// Raw ed25519-dalek verification of the same message, without the JWT around it.
#[no_mangle]
pub extern "C" fn bench_dalek_verify(n: u32) -> u32 {
    use ed25519_dalek::Verifier;
    let f = fixture();
    let key = f.keyring.signing();
    let signature = ed25519_dalek::Signer::sign(key.signing_key(), &f.message);
    let public = key.signing_key().verifying_key();
    (0..n)
        .map(|_| u32::from(public.verify(&f.message, &signature).is_ok()))
        .sum()
}

/// ed25519-compact: signing.
#[no_mangle]
pub extern "C" fn bench_compact_sign(n: u32) -> u32 {
    let f = fixture();
    let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(SEED));
    (0..n)
        .map(|_| u32::from(pair.sk.sign(&f.message, None)[0]))
        .sum()
}

/// ed25519-compact: verification.
#[no_mangle]
pub extern "C" fn bench_compact_verify(n: u32) -> u32 {
    let f = fixture();
    let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(SEED));
    let signature = pair.sk.sign(&f.message, None);
    (0..n)
        .map(|_| u32::from(pair.pk.verify(&f.message, &signature).is_ok()))
        .sum()
}
