//! Fuzz targets for the parsers that see hostile input first: the token validator and the
//! request-body parser. Each runs for `FUZZ_SECONDS` (default 30) on random and mutated
//! inputs and fails on any panic or on a mutated token being accepted.
//!
//! Why proptest and not cargo-fuzz: cargo-fuzz needs a nightly compiler (sanitizer flags),
//! and this project builds with the stable toolchain only. proptest's strategies generate
//! structured inputs (mutations of real tokens, JSON-ish bodies) on stable; without coverage
//! feedback it explores less deeply, which the structured generators make up for in part.
//!
//!     make fuzz                       # 5 minutes per target
//!     FUZZ_SECONDS=30 cargo test --features fuzz --test fuzz

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use edge_auth::contract::body::{self, FieldValue};
use edge_auth::contract::forms::{self, RegistrationCheck};
use edge_auth::domain::keys::{Key, Keyring};
use edge_auth::domain::settings::Settings;
use edge_auth::domain::tokens::{self, TokenKind};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

const NOW: i64 = 1_800_000_000;

fn budget() -> Duration {
    let seconds = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(seconds)
}

/// Runs `check` on values of `strategy` until the time budget is spent.
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(&S::Value))
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::default();
    let deadline = Instant::now() + budget();
    let mut cases = 0u64;
    while Instant::now() < deadline {
        let value = strategy.new_tree(&mut runner).expect("generate").current();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&value)));
        assert!(outcome.is_ok(), "{name}: failed on input {value:?}");
        cases += 1;
    }
    eprintln!("{name}: {cases} inputs, no failure");
}

fn keyring() -> Keyring {
    Keyring::from_keys(vec![Key::from_signing_key(SigningKey::from_bytes(
        &[42; 32],
    ))])
}

/// A mutation of a valid token: flipped, inserted or deleted bytes, or swapped segments.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, char),
    Delete(usize),
    Truncate(usize),
    SwapSegments(usize, usize),
    Replace(String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<char>()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
        (0usize..3, 0usize..3).prop_map(|(a, b)| Mutation::SwapSegments(a, b)),
        ".{0,200}".prop_map(Mutation::Replace),
    ]
}

fn apply(token: &str, mutation: &Mutation) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match mutation {
        Mutation::Flip(i, bit) if !bytes.is_empty() => {
            let i = at(*i, bytes.len());
            bytes[i] ^= bit;
        }
        Mutation::Insert(i, c) => {
            let i = at(*i, bytes.len() + 1);
            let mut buffer = [0; 4];
            bytes.splice(i..i, c.encode_utf8(&mut buffer).bytes());
        }
        Mutation::Delete(i) if !bytes.is_empty() => {
            let i = at(*i, bytes.len());
            bytes.remove(i);
        }
        Mutation::Flip(..) | Mutation::Delete(_) => {}
        Mutation::Truncate(i) => bytes.truncate(at(*i, bytes.len())),
        Mutation::SwapSegments(a, b) => {
            let mut parts: Vec<&str> = token.split('.').collect();
            if *a < parts.len() && *b < parts.len() {
                parts.swap(*a, *b);
            }
            return parts.join(".");
        }
        Mutation::Replace(text) => return text.clone(),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The bytes a token's three segments decode to (base64 has aliases for trailing bits).
fn decoded(token: &str) -> Option<Vec<Vec<u8>>> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    token
        .split('.')
        .map(|part| Base64UrlUnpadded::decode_vec(part).ok())
        .collect()
}

#[test]
fn fuzz_token_validation() {
    let keys = keyring();
    let settings = Settings::default();
    let strategy = (
        any::<i64>(),
        prop::bool::ANY,
        prop::collection::vec(mutation(), 1..4),
    );
    fuzz(
        "token validation",
        strategy,
        |(user_id, refresh, mutations)| {
            let kind = if *refresh {
                TokenKind::Refresh
            } else {
                TokenKind::Access
            };
            let issued = tokens::issue(&keys, &settings, kind, *user_id, None, NOW);
            let mut token = issued.encoded.clone();
            for mutation in mutations {
                token = apply(&token, mutation);
            }
            for expected in [None, Some(TokenKind::Access), Some(TokenKind::Refresh)] {
                if let Ok(verified) = tokens::verify(&keys, &settings, &token, expected, NOW) {
                    assert_eq!(
                        decoded(&token),
                        decoded(&issued.encoded),
                        "a changed token was accepted: {token}"
                    );
                    assert_eq!(verified.jti, issued.jti);
                }
            }
        },
    );
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(Some("application/json".to_owned())),
        Just(Some("application/x-www-form-urlencoded".to_owned())),
        "[a-z0-9=-]{0,12}".prop_map(|b| Some(format!("multipart/form-data; boundary={b}"))),
        ".{0,40}".prop_map(Some),
        Just(None),
    ]
}

/// JSON-like text built from the structural characters the parser cares about.
fn json_like() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just("\"email\"".to_owned()),
        Just("\"password\"".to_owned()),
        Just("\"\\ud800\"".to_owned()),
        Just("\"\\ud83d\\ude00\"".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        "-?[0-9]{1,30}(\\.[0-9]{1,5})?(e[+-]?[0-9]{1,4})?",
        "\"[^\"\\\\]{0,10}\"",
        ".{0,3}",
    ];
    prop::collection::vec(token, 0..200).prop_map(|tokens| tokens.concat().into_bytes())
}

#[test]
fn fuzz_request_bodies() {
    let body = prop_oneof![json_like(), prop::collection::vec(any::<u8>(), 0..400)];
    fuzz(
        "request bodies",
        (content_type(), body),
        |(content_type, bytes)| {
            if let Ok(fields) = body::parse(content_type.as_deref(), bytes) {
                let _ = RegistrationCheck::new(&fields).finish(false);
                let _ = forms::login(&fields);
                if let Some(FieldValue::Composite(text)) = fields.get("email") {
                    assert!(
                        serde_json::from_str::<serde_json::Value>(text).is_ok(),
                        "{text}"
                    );
                }
            }
        },
    );
}
