//! Fuzz targets for the parsers that see hostile input first: the token validator, the
//! request-body parser and the passkey (WebAuthn) verifiers. Each runs for `FUZZ_SECONDS` (default 30) on random and mutated
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
use edge_auth::domain::webauthn::{
    presented_credential, verify_authentication, verify_registration, AssertionResponse,
    AttestationResponse, AuthenticationResponse, Expected, RegistrationResponse, StoredPasskey,
};
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

// ---------------------------------------------------------------------------------------------
// Passkeys: registration and login answers, valid ones mutated at every layer (the base64url
// text, the client data JSON, the attestation object's CBOR, the authenticator data inside
// it) and CBOR-like bytes from scratch.

const RP_ID: &str = "example.com";
const ORIGIN: &str = "https://example.com";
const CHALLENGE: [u8; 32] = [7; 32];
const CREDENTIAL_ID: [u8; 16] = [0xc1; 16];
const USER_HANDLE: [u8; 16] = [0x42; 16];

fn b64(bytes: &[u8]) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::encode_string(bytes)
}

fn cbor_head(major: u8, n: usize) -> Vec<u8> {
    let major = major << 5;
    match n {
        0..=23 => vec![major | n as u8],
        24..=0xff => vec![major | 24, n as u8],
        _ => [&[major | 25][..], &(n as u16).to_be_bytes()].concat(),
    }
}

fn cbor_int(n: i64) -> Vec<u8> {
    if n >= 0 {
        cbor_head(0, n as usize)
    } else {
        cbor_head(1, (-1 - n) as usize)
    }
}

fn cbor_bytes(b: &[u8]) -> Vec<u8> {
    [cbor_head(2, b.len()), b.to_vec()].concat()
}

fn cbor_text(s: &str) -> Vec<u8> {
    [cbor_head(3, s.len()), s.as_bytes().to_vec()].concat()
}

fn cbor_map(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = cbor_head(5, entries.len());
    for (key, value) in entries {
        out.extend_from_slice(key);
        out.extend_from_slice(value);
    }
    out
}

/// A passkey's signing key: ES256 or Ed25519.
enum PasskeyKey {
    Es256(p256::ecdsa::SigningKey),
    Ed25519(SigningKey),
}

impl PasskeyKey {
    fn new(ed25519: bool) -> Self {
        if ed25519 {
            Self::Ed25519(SigningKey::from_bytes(&[2; 32]))
        } else {
            Self::Es256(p256::ecdsa::SigningKey::from_slice(&[1; 32]).unwrap())
        }
    }

    fn cose(&self) -> Vec<u8> {
        let mut entries = Vec::new();
        match self {
            Self::Es256(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                entries.push((cbor_int(1), cbor_int(2)));
                entries.push((cbor_int(3), cbor_int(-7)));
                entries.push((cbor_int(-1), cbor_int(1)));
                entries.push((cbor_int(-2), cbor_bytes(point.x().unwrap())));
                entries.push((cbor_int(-3), cbor_bytes(point.y().unwrap())));
            }
            Self::Ed25519(key) => {
                entries.push((cbor_int(1), cbor_int(1)));
                entries.push((cbor_int(3), cbor_int(-8)));
                entries.push((cbor_int(-1), cbor_int(6)));
                entries.push((cbor_int(-2), cbor_bytes(key.verifying_key().as_bytes())));
            }
        }
        cbor_map(&entries)
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Es256(key) => {
                use p256::ecdsa::signature::Signer;
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_der().as_bytes().to_vec()
            }
            Self::Ed25519(key) => {
                use ed25519_dalek::Signer;
                key.sign(message).to_bytes().to_vec()
            }
        }
    }
}

fn passkey_client_data(kind: &str) -> Vec<u8> {
    format!(
        r#"{{"type":"{kind}","challenge":"{}","origin":"{ORIGIN}","crossOrigin":false}}"#,
        b64(&CHALLENGE)
    )
    .into_bytes()
}

/// Authenticator data: UP and UV, `counter`, then `rest`; ED when `extensions`.
fn passkey_auth_data(flags: u8, counter: u32, rest: &[u8], extensions: bool) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut out = Sha256::digest(RP_ID.as_bytes()).to_vec();
    out.push(flags | 0x05 | if extensions { 0x80 } else { 0 });
    out.extend_from_slice(&counter.to_be_bytes());
    out.extend_from_slice(rest);
    if extensions {
        out.extend(cbor_map(&[(cbor_text("credProtect"), cbor_int(2))]));
    }
    out
}

fn registration_auth_data(key: &PasskeyKey, extensions: bool) -> Vec<u8> {
    let mut credential = vec![0xaa; 16];
    credential.extend_from_slice(&(CREDENTIAL_ID.len() as u16).to_be_bytes());
    credential.extend_from_slice(&CREDENTIAL_ID);
    credential.extend(key.cose());
    passkey_auth_data(0x40, 0, &credential, extensions)
}

fn attestation_object(auth_data: &[u8]) -> Vec<u8> {
    cbor_map(&[
        (cbor_text("fmt"), cbor_text("none")),
        (cbor_text("attStmt"), cbor_map(&[])),
        (cbor_text("authData"), cbor_bytes(auth_data)),
    ])
}

fn registration_response(client_data: &[u8], attestation_object: &[u8]) -> RegistrationResponse {
    RegistrationResponse {
        id: b64(&CREDENTIAL_ID),
        raw_id: b64(&CREDENTIAL_ID),
        kind: "public-key".to_owned(),
        response: AttestationResponse {
            client_data_json: b64(client_data),
            attestation_object: b64(attestation_object),
            transports: vec!["internal".to_owned()],
        },
    }
}

fn authentication_response(
    client_data: &[u8],
    auth_data: &[u8],
    signature: &[u8],
) -> AuthenticationResponse {
    AuthenticationResponse {
        id: b64(&CREDENTIAL_ID),
        raw_id: b64(&CREDENTIAL_ID),
        kind: "public-key".to_owned(),
        response: AssertionResponse {
            client_data_json: b64(client_data),
            authenticator_data: b64(auth_data),
            signature: b64(signature),
            user_handle: Some(b64(&USER_HANDLE)),
        },
    }
}

/// A fuzz case's bytes read as choices (which key, which layer, which edits), zero once they
/// run out. Generating plain bytes is many times faster than nested proptest strategies, and
/// a failing case is still printed as its bytes.
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let Some((&first, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        first
    }

    /// An index below `len` (0 when `len` is 0).
    fn index(&mut self, len: usize) -> usize {
        usize::from(u16::from_be_bytes([self.byte(), self.byte()])) % len.max(1)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::from(self.byte()) % items.len()]
    }
}

/// A few bytes of CBOR-like input: heads of every major type (short, long, indefinite,
/// reserved), breaks, simple values, and the keys, texts and integers WebAuthn uses.
fn cbor_token(choices: &mut Choices<'_>) -> Vec<u8> {
    match choices.byte() % 8 {
        0 => cbor_head(choices.byte() % 8, usize::from(choices.byte() % 30)),
        1 => vec![((choices.byte() % 8) << 5) | 31],
        2 => vec![((choices.byte() % 8) << 5) | (24 + choices.byte() % 8)],
        3 => cbor_text(choices.pick(&[
            "fmt",
            "none",
            "attStmt",
            "authData",
            "packed",
            "credProtect",
        ])),
        4 => cbor_int(choices.pick(&[1, 2, 3, 6, -1, -2, -3, -7, -8, -257])),
        5 => {
            let len = usize::from(choices.byte() % 40);
            cbor_bytes(&(0..len).map(|_| choices.byte()).collect::<Vec<_>>())
        }
        6 => vec![choices.pick(&[0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xff])],
        _ => (0..choices.byte() % 8).map(|_| choices.byte()).collect(),
    }
}

/// One change to `bytes`: a flipped, inserted or deleted byte, a flipped bit near the start,
/// a cut, or a CBOR-like token spliced in.
fn edit(bytes: &mut Vec<u8>, choices: &mut Choices<'_>) {
    let len = bytes.len();
    match choices.byte() % 6 {
        0 if len > 0 => {
            let i = choices.index(len);
            bytes[i] ^= choices.byte().max(1);
        }
        // One bit among the first 64 bytes, where the headers are (the authenticator data's
        // flags are its 33rd byte).
        5 if len > 0 => {
            let i = usize::from(choices.byte()) % len.min(64);
            bytes[i] ^= 1 << (choices.byte() % 8);
        }
        1 => {
            let i = choices.index(len + 1);
            bytes.insert(i, choices.byte());
        }
        2 if len > 0 => {
            let i = choices.index(len);
            bytes.remove(i);
        }
        3 => bytes.truncate(choices.index(len + 1)),
        _ => {
            let i = choices.index(len + 1);
            let token = cbor_token(choices);
            bytes.splice(i..i, token);
        }
    }
}

/// `bytes` with one to four edits.
fn mutate(bytes: &[u8], choices: &mut Choices<'_>) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    for _ in 0..=choices.byte() % 4 {
        edit(&mut bytes, choices);
    }
    bytes
}

/// CBOR-like tokens until the choices run out.
fn fresh(choices: &mut Choices<'_>) -> Vec<u8> {
    let mut bytes = Vec::new();
    while !choices.0.is_empty() {
        bytes.extend(cbor_token(choices));
    }
    bytes
}

/// Which part of a ceremony a fuzz case changes.
#[derive(Debug, Clone, Copy)]
enum Layer {
    ClientData,
    /// The attestation object's CBOR (registration) or the authenticator data (login).
    Outer,
    /// The authenticator data inside the attestation object (registration) or the signature
    /// (login).
    Inner,
    /// Fresh CBOR-like bytes in place of the attestation object (registration), or after the
    /// authenticator data's first 37 bytes, signed (login).
    Fresh,
}

/// The first choices of a case: the key (ES256 or Ed25519), extensions or not, the layer.
fn case(choices: &mut Choices<'_>) -> (usize, bool, Layer) {
    let first = choices.byte();
    let layer =
        [Layer::ClientData, Layer::Outer, Layer::Inner, Layer::Fresh][usize::from(first >> 2) % 4];
    (usize::from(first & 1), first & 2 != 0, layer)
}

fn recipe() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..300)
}

fn passkey_origins() -> Vec<String> {
    vec![ORIGIN.to_owned()]
}

fn passkey_expected(origins: &[String]) -> Expected<'_> {
    Expected {
        challenge: &CHALLENGE,
        rp_id: RP_ID,
        origins,
        user_verification: false,
    }
}

#[test]
fn fuzz_passkey_registration() {
    let origins = passkey_origins();
    let expected = passkey_expected(&origins);
    let keys = [PasskeyKey::new(false), PasskeyKey::new(true)];
    fuzz("passkey registration", recipe(), |recipe| {
        let mut choices = Choices(recipe);
        let (key, extensions, layer) = case(&mut choices);
        let client_data = passkey_client_data("webauthn.create");
        let auth_data = registration_auth_data(&keys[key], extensions);
        let object = attestation_object(&auth_data);
        let (client_data_sent, object_sent) = match layer {
            Layer::ClientData => (mutate(&client_data, &mut choices), object),
            Layer::Outer => (client_data, mutate(&object, &mut choices)),
            Layer::Inner => (
                client_data,
                attestation_object(&mutate(&auth_data, &mut choices)),
            ),
            Layer::Fresh => (client_data, fresh(&mut choices)),
        };
        let response = registration_response(&client_data_sent, &object_sent);
        if let Ok(passkey) = verify_registration(&response, &expected) {
            // Nothing signs a registration with attestation "none": a changed answer may pass,
            // but never for another credential, and never with a key that is not in it.
            assert_eq!(passkey.credential_id, CREDENTIAL_ID);
            assert!(object_sent
                .windows(passkey.public_key.len())
                .any(|w| w == passkey.public_key));
        }
    });
}

#[test]
fn fuzz_passkey_authentication() {
    let origins = passkey_origins();
    let expected = passkey_expected(&origins);
    let keys = [PasskeyKey::new(false), PasskeyKey::new(true)];
    let coses = [keys[0].cose(), keys[1].cose()];
    let client_data = passkey_client_data("webauthn.get");
    let signed = |key: &PasskeyKey, auth_data: &[u8]| {
        use sha2::{Digest, Sha256};
        key.sign(&[auth_data, &Sha256::digest(&client_data)].concat())
    };
    // The valid answers, signed once: by key (ES256, Ed25519), without and with extensions.
    let answers: Vec<[(Vec<u8>, Vec<u8>); 2]> = keys
        .iter()
        .map(|key| {
            [false, true].map(|extensions| {
                let auth_data = passkey_auth_data(0, 5, &[], extensions);
                let signature = signed(key, &auth_data);
                (auth_data, signature)
            })
        })
        .collect();
    fuzz("passkey authentication", recipe(), |recipe| {
        let mut choices = Choices(recipe);
        let (key, extensions, layer) = case(&mut choices);
        let stored = StoredPasskey {
            credential_id: &CREDENTIAL_ID,
            public_key: &coses[key],
            sign_count: 4,
            backup_eligible: false,
            user_handle: &USER_HANDLE,
        };
        let (auth_data, signature) = &answers[key][usize::from(extensions)];
        let (client_data_sent, auth_data_sent, signature_sent) = match layer {
            Layer::ClientData => (
                mutate(&client_data, &mut choices),
                auth_data.clone(),
                signature.clone(),
            ),
            Layer::Outer => (
                client_data.clone(),
                mutate(auth_data, &mut choices),
                signature.clone(),
            ),
            Layer::Inner => (
                client_data.clone(),
                auth_data.clone(),
                mutate(signature, &mut choices),
            ),
            // Hostile bytes, signed: the parser, not the signature, must refuse them.
            Layer::Fresh => {
                let auth_data = [&auth_data[..37], &fresh(&mut choices)].concat();
                let signature = signed(&keys[key], &auth_data);
                (client_data.clone(), auth_data, signature)
            }
        };
        let response = authentication_response(&client_data_sent, &auth_data_sent, &signature_sent);
        let _ = presented_credential(&response);
        if let Ok(authenticated) = verify_authentication(&response, &expected, &stored) {
            if !matches!(layer, Layer::Fresh) {
                assert_eq!(
                    &client_data_sent, &client_data,
                    "changed client data accepted"
                );
                assert_eq!(
                    &auth_data_sent, auth_data,
                    "changed authenticator data accepted"
                );
            }
            assert!(authenticated.sign_count > 4);
        }
    });
}
