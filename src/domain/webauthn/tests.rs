//! The passkey rules as sentences. Answers are built here as authenticators and browsers
//! build them (keys generated from fixed seeds, CBOR written by the small encoder below), so
//! each test breaks exactly one rule; the last tests read answers recorded from browsers.

use super::*;
use p256::ecdsa::signature::Signer as _;
use serde_json::json;
use WebauthnError::{BadSignature, InvalidKey, UnsupportedAlgorithm};

const RP_ID: &str = "example.com";
const ORIGIN: &str = "https://example.com";
const CHALLENGE: [u8; 32] = [7; 32];
const CREDENTIAL_ID: [u8; 16] = [0xc1; 16];
const USER_HANDLE: [u8; 16] = [0x42; 16];
const AAGUID: [u8; 16] = [0xaa; 16];
/// UP, UV, AT.
const CREATE_FLAGS: u8 = USER_PRESENT | USER_VERIFIED | ATTESTED_CREDENTIAL;

fn origins() -> Vec<String> {
    vec![ORIGIN.to_owned(), "https://app.example.com".to_owned()]
}

fn expected(origins: &[String]) -> Expected<'_> {
    Expected {
        challenge: &CHALLENGE,
        rp_id: RP_ID,
        origins,
        user_verification: false,
    }
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

// ---------------------------------------------------------------------------------------------
// A CBOR encoder for the few items the tests write (definite lengths, shortest heads).

fn head(major: u8, n: u64) -> Vec<u8> {
    let major = major << 5;
    match n {
        0..=23 => vec![major | n as u8],
        24..=0xff => vec![major | 24, n as u8],
        0x100..=0xffff => [&[major | 25][..], &(n as u16).to_be_bytes()].concat(),
        0x1_0000..=0xffff_ffff => [&[major | 26][..], &(n as u32).to_be_bytes()].concat(),
        _ => [&[major | 27][..], &n.to_be_bytes()].concat(),
    }
}

fn int(n: i64) -> Vec<u8> {
    if n >= 0 {
        head(0, n as u64)
    } else {
        head(1, (-1 - n) as u64)
    }
}

fn bytes(b: &[u8]) -> Vec<u8> {
    [head(2, b.len() as u64), b.to_vec()].concat()
}

fn text(s: &str) -> Vec<u8> {
    [head(3, s.len() as u64), s.as_bytes().to_vec()].concat()
}

fn map(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = head(5, entries.len() as u64);
    for (key, value) in entries {
        out.extend_from_slice(key);
        out.extend_from_slice(value);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Authenticators.

pub(crate) enum TestKey {
    Es256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

pub(crate) fn es256() -> TestKey {
    TestKey::Es256(p256::ecdsa::SigningKey::from_slice(&[1; 32]).unwrap())
}

pub(crate) fn ed25519() -> TestKey {
    TestKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[2; 32]))
}

impl TestKey {
    fn cose(&self) -> Vec<u8> {
        match self {
            Self::Es256(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                ec2_key(-7, 1, point.x().unwrap(), point.y().unwrap())
            }
            Self::Ed25519(key) => okp_key(-8, 6, key.verifying_key().as_bytes()),
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Es256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_der().as_bytes().to_vec()
            }
            Self::Ed25519(key) => {
                use ed25519_dalek::Signer as _;
                key.sign(message).to_bytes().to_vec()
            }
        }
    }
}

fn ec2_key(alg: i64, crv: i64, x: &[u8], y: &[u8]) -> Vec<u8> {
    map(&[
        (int(1), int(2)),
        (int(3), int(alg)),
        (int(-1), int(crv)),
        (int(-2), bytes(x)),
        (int(-3), bytes(y)),
    ])
}

fn okp_key(alg: i64, crv: i64, x: &[u8]) -> Vec<u8> {
    map(&[
        (int(1), int(1)),
        (int(3), int(alg)),
        (int(-1), int(crv)),
        (int(-2), bytes(x)),
    ])
}

/// Authenticator data: the RP ID's hash, flags, counter, then what follows (attested
/// credential data, extensions).
fn auth_data(rp_id: &str, flags: u8, counter: u32, rest: &[u8]) -> Vec<u8> {
    let mut out = Sha256::digest(rp_id.as_bytes()).to_vec();
    out.push(flags);
    out.extend_from_slice(&counter.to_be_bytes());
    out.extend_from_slice(rest);
    out
}

/// Attested credential data: AAGUID, id length, id, key.
fn attested(credential_id: &[u8], cose: &[u8]) -> Vec<u8> {
    let mut out = AAGUID.to_vec();
    out.extend_from_slice(&(credential_id.len() as u16).to_be_bytes());
    out.extend_from_slice(credential_id);
    out.extend_from_slice(cose);
    out
}

fn attestation_object(fmt: &str, statement: &[u8], auth_data: &[u8]) -> Vec<u8> {
    map(&[
        (text("fmt"), text(fmt)),
        (text("attStmt"), statement.to_vec()),
        (text("authData"), bytes(auth_data)),
    ])
}

fn client_data(kind: &str) -> String {
    format!(
        r#"{{"type":"{kind}","challenge":"{}","origin":"{ORIGIN}","crossOrigin":false}}"#,
        b64(&CHALLENGE)
    )
}

/// A software authenticator's `create` answer for another module's flow tests: `key` as
/// credential `credential_id`, for `challenge` (base64url) at `origin` and `rp_id`.
pub(crate) fn create_answer(
    key: &TestKey,
    credential_id: &[u8],
    challenge: &str,
    origin: &str,
    rp_id: &str,
) -> RegistrationResponse {
    let client_data = format!(
        r#"{{"type":"webauthn.create","challenge":"{challenge}","origin":"{origin}","crossOrigin":false}}"#
    );
    let data = auth_data(
        rp_id,
        CREATE_FLAGS,
        0,
        &attested(credential_id, &key.cose()),
    );
    RegistrationResponse {
        id: b64(credential_id),
        raw_id: b64(credential_id),
        kind: "public-key".to_owned(),
        response: AttestationResponse {
            client_data_json: b64(client_data.as_bytes()),
            attestation_object: b64(&attestation_object("none", &map(&[]), &data)),
            transports: vec!["internal".to_owned()],
        },
    }
}

/// Its `get` answer with counter `counter`, for `challenge` at `origin` and `rp_id`.
pub(crate) fn get_answer(
    key: &TestKey,
    credential_id: &[u8],
    challenge: &str,
    origin: &str,
    rp_id: &str,
    counter: u32,
) -> AuthenticationResponse {
    let client_data = format!(
        r#"{{"type":"webauthn.get","challenge":"{challenge}","origin":"{origin}","crossOrigin":false}}"#
    );
    let mut answer = assertion(
        key,
        &client_data,
        &auth_data(rp_id, USER_PRESENT, counter, &[]),
    );
    answer.id = b64(credential_id);
    answer.raw_id = b64(credential_id);
    answer.response.user_handle = None;
    answer
}

// ---------------------------------------------------------------------------------------------
// Browsers.

fn registration_of(client_data: &str, attestation_object: &[u8]) -> RegistrationResponse {
    RegistrationResponse {
        id: b64(&CREDENTIAL_ID),
        raw_id: b64(&CREDENTIAL_ID),
        kind: "public-key".to_owned(),
        response: AttestationResponse {
            client_data_json: b64(client_data.as_bytes()),
            attestation_object: b64(attestation_object),
            transports: vec!["hybrid".to_owned(), "internal".to_owned()],
        },
    }
}

/// A registration whose authenticator data is `auth_data`, otherwise valid.
fn registration_with_auth_data(auth_data: &[u8]) -> RegistrationResponse {
    registration_of(
        &client_data("webauthn.create"),
        &attestation_object("none", &map(&[]), auth_data),
    )
}

/// A registration whose credential key is `cose`, otherwise valid.
fn registration_with_key(cose: &[u8]) -> RegistrationResponse {
    registration_with_auth_data(&auth_data(
        RP_ID,
        CREATE_FLAGS,
        0,
        &attested(&CREDENTIAL_ID, cose),
    ))
}

fn registration(key: &TestKey) -> RegistrationResponse {
    registration_with_key(&key.cose())
}

fn registration_with_client_data(client_data: &str) -> RegistrationResponse {
    let auth_data = auth_data(
        RP_ID,
        CREATE_FLAGS,
        0,
        &attested(&CREDENTIAL_ID, &es256().cose()),
    );
    registration_of(
        client_data,
        &attestation_object("none", &map(&[]), &auth_data),
    )
}

fn register(response: &RegistrationResponse) -> Result<NewPasskey, WebauthnError> {
    verify_registration(response, &expected(&origins()))
}

/// A login answer signed by `key` over `auth_data` and `client_data`.
fn assertion(key: &TestKey, client_data: &str, auth_data: &[u8]) -> AuthenticationResponse {
    let mut signed = auth_data.to_vec();
    signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
    AuthenticationResponse {
        id: b64(&CREDENTIAL_ID),
        raw_id: b64(&CREDENTIAL_ID),
        kind: "public-key".to_owned(),
        response: AssertionResponse {
            client_data_json: b64(client_data.as_bytes()),
            authenticator_data: b64(auth_data),
            signature: b64(&key.sign(&signed)),
            user_handle: Some(b64(&USER_HANDLE)),
        },
    }
}

/// A valid login answer with counter `counter` and flags UP (and BE, BS).
fn login_answer(key: &TestKey, counter: u32) -> AuthenticationResponse {
    assertion(
        key,
        &client_data("webauthn.get"),
        &auth_data(RP_ID, USER_PRESENT, counter, &[]),
    )
}

fn stored(cose: &[u8], sign_count: u32) -> StoredPasskey<'_> {
    StoredPasskey {
        credential_id: &CREDENTIAL_ID,
        public_key: cose,
        sign_count,
        backup_eligible: false,
        user_handle: &USER_HANDLE,
    }
}

fn log_in(
    response: &AuthenticationResponse,
    key: &TestKey,
    sign_count: u32,
) -> Result<Authenticated, WebauthnError> {
    verify_authentication(
        response,
        &expected(&origins()),
        &stored(&key.cose(), sign_count),
    )
}

// ---------------------------------------------------------------------------------------------
// Registration

#[test]
fn a_registration_with_an_es256_key_gives_the_passkey_to_store() {
    let key = es256();
    let passkey = register(&registration(&key)).unwrap();
    assert_eq!(
        passkey,
        NewPasskey {
            credential_id: CREDENTIAL_ID.to_vec(),
            public_key: key.cose(),
            algorithm: Algorithm::Es256,
            sign_count: 0,
            transports: vec!["hybrid".to_owned(), "internal".to_owned()],
            aaguid: AAGUID,
            user_verified: true,
            backup_eligible: false,
            backed_up: false,
        }
    );
    assert_eq!(passkey.public_key.len(), 77);
}

#[test]
fn a_registration_with_an_ed25519_key_gives_the_passkey_to_store() {
    let key = ed25519();
    let passkey = register(&registration(&key)).unwrap();
    assert_eq!(passkey.algorithm, Algorithm::EdDsa);
    assert_eq!(passkey.public_key, key.cose());
    assert_eq!(passkey.public_key.len(), 42);
}

#[test]
fn a_registration_keeps_the_counter_and_the_backup_flags() {
    let flags = USER_PRESENT | ATTESTED_CREDENTIAL | BACKUP_ELIGIBLE | BACKED_UP;
    let data = auth_data(RP_ID, flags, 9, &attested(&CREDENTIAL_ID, &es256().cose()));
    let passkey = register(&registration_with_auth_data(&data)).unwrap();
    assert_eq!(
        (
            passkey.sign_count,
            passkey.user_verified,
            passkey.backup_eligible,
            passkey.backed_up
        ),
        (9, false, true, true)
    );
}

#[test]
fn registration_refuses_a_credential_type_other_than_public_key() {
    let mut response = registration(&es256());
    response.kind = "password".to_owned();
    assert_eq!(register(&response), Err(WrongType));
}

#[test]
fn registration_refuses_client_data_of_another_ceremony() {
    let response = registration_with_client_data(&client_data("webauthn.get"));
    assert_eq!(register(&response), Err(WrongType));
}

#[test]
fn registration_refuses_another_challenge_or_another_spelling_of_it() {
    for challenge in [
        b64(&[8; 32]),
        b64(&CHALLENGE[..31]),
        format!("{}=", b64(&CHALLENGE)),
        Base64UrlUnpadded::encode_string(&CHALLENGE).replace('H', "h"),
        String::new(),
    ] {
        let client_data = format!(
            r#"{{"type":"webauthn.create","challenge":"{challenge}","origin":"{ORIGIN}"}}"#
        );
        let response = registration_with_client_data(&client_data);
        assert_eq!(register(&response), Err(ChallengeMismatch), "{challenge}");
    }
}

#[test]
fn registration_accepts_each_listed_origin_and_no_other() {
    let challenge = b64(&CHALLENGE);
    let with_origin = |origin: &str| {
        registration_with_client_data(&format!(
            r#"{{"type":"webauthn.create","challenge":"{challenge}","origin":"{origin}"}}"#
        ))
    };
    assert!(register(&with_origin("https://app.example.com")).is_ok());
    for origin in [
        "https://example.com/",
        "http://example.com",
        "https://example.com:443",
        "https://evil.example.com",
        "https://EXAMPLE.com",
        "android:apk-key-hash:abc",
        "",
    ] {
        assert_eq!(
            register(&with_origin(origin)),
            Err(OriginNotAllowed),
            "{origin}"
        );
    }
}

#[test]
fn registration_refuses_a_cross_origin_ceremony() {
    let challenge = b64(&CHALLENGE);
    let with = |cross_origin: &str| {
        registration_with_client_data(&format!(
            r#"{{"type":"webauthn.create","challenge":"{challenge}","origin":"{ORIGIN}"{cross_origin}}}"#
        ))
    };
    assert_eq!(register(&with(r#","crossOrigin":true"#)), Err(CrossOrigin));
    assert!(register(&with(r#","crossOrigin":false"#)).is_ok());
    assert!(register(&with("")).is_ok());
}

#[test]
fn registration_ignores_client_data_members_it_does_not_check() {
    let client_data = format!(
        r#"{{"type":"webauthn.create","challenge":"{}","origin":"{ORIGIN}","crossOrigin":false,"other_keys_can_be_added_here":"do not compare clientDataJSON against a template","topOrigin":"https://other.example"}}"#,
        b64(&CHALLENGE)
    );
    assert!(register(&registration_with_client_data(&client_data)).is_ok());
}

#[test]
fn registration_refuses_client_data_that_is_not_a_json_object_with_the_members() {
    let challenge = b64(&CHALLENGE);
    for client_data in [
        String::new(),
        "null".to_owned(),
        "[]".to_owned(),
        format!(r#"{{"type":"webauthn.create","challenge":"{challenge}"}}"#),
        format!(r#"{{"type":"webauthn.create","challenge":"{challenge}","origin":"{ORIGIN}""#),
        format!(
            r#"{{"type":"webauthn.create","type":"webauthn.create","challenge":"{challenge}","origin":"{ORIGIN}"}}"#
        ),
        format!(
            r#"{{"type":"webauthn.create","challenge":"{challenge}","origin":"{ORIGIN}","crossOrigin":"true"}}"#
        ),
    ] {
        let response = registration_with_client_data(&client_data);
        assert_eq!(
            register(&response),
            Err(Malformed("clientDataJSON")),
            "{client_data}"
        );
    }
}

#[test]
fn registration_refuses_authenticator_data_for_another_rp_id() {
    let data = auth_data(
        "evil.example.com",
        CREATE_FLAGS,
        0,
        &attested(&CREDENTIAL_ID, &es256().cose()),
    );
    assert_eq!(
        register(&registration_with_auth_data(&data)),
        Err(RpIdMismatch)
    );
}

#[test]
fn registration_refuses_an_authenticator_that_did_not_test_user_presence() {
    let flags = USER_VERIFIED | ATTESTED_CREDENTIAL;
    let data = auth_data(RP_ID, flags, 0, &attested(&CREDENTIAL_ID, &es256().cose()));
    assert_eq!(
        register(&registration_with_auth_data(&data)),
        Err(UserNotPresent)
    );
}

#[test]
fn registration_requires_user_verification_only_when_expected() {
    let flags = USER_PRESENT | ATTESTED_CREDENTIAL;
    let data = auth_data(RP_ID, flags, 0, &attested(&CREDENTIAL_ID, &es256().cose()));
    let response = registration_with_auth_data(&data);
    assert!(register(&response).is_ok());
    let origins = origins();
    let strict = Expected {
        user_verification: true,
        ..expected(&origins)
    };
    assert_eq!(
        verify_registration(&response, &strict),
        Err(UserNotVerified)
    );
}

#[test]
fn registration_refuses_backup_state_without_backup_eligibility() {
    let flags = CREATE_FLAGS | BACKED_UP;
    let data = auth_data(RP_ID, flags, 0, &attested(&CREDENTIAL_ID, &es256().cose()));
    assert_eq!(
        register(&registration_with_auth_data(&data)),
        Err(Malformed("backup state without backup eligibility"))
    );
}

#[test]
fn registration_refuses_authenticator_data_without_a_credential() {
    let data = auth_data(RP_ID, USER_PRESENT | USER_VERIFIED, 0, &[]);
    assert_eq!(
        register(&registration_with_auth_data(&data)),
        Err(Malformed(
            "authenticator data without attested credential data"
        ))
    );
}

#[test]
fn registration_refuses_a_credential_id_other_than_raw_id() {
    let data = auth_data(
        RP_ID,
        CREATE_FLAGS,
        0,
        &attested(&[0xc2; 16], &es256().cose()),
    );
    assert_eq!(
        register(&registration_with_auth_data(&data)),
        Err(CredentialMismatch)
    );

    let mut response = registration(&es256());
    response.id = b64(&[0xc2; 16]);
    assert_eq!(register(&response), Err(CredentialMismatch));

    let mut response = registration(&es256());
    response.raw_id = b64(&[0xc2; 16]);
    assert_eq!(register(&response), Err(CredentialMismatch));
}

#[test]
fn registration_refuses_an_empty_or_unreadable_credential_id() {
    for raw_id in [
        "",
        "wcHBwcHBwcHBwcHBwcHBwQ==",
        "wcHB+cHBwcHBwcHBwcHBwQ",
        "wcHBwcHBwcHBwcHBwcHBwR",
    ] {
        let mut response = registration(&es256());
        response.id = raw_id.to_owned();
        response.raw_id = raw_id.to_owned();
        assert_eq!(register(&response), Err(Malformed("rawId")), "{raw_id}");
    }
}

#[test]
fn registration_refuses_attestation_formats_other_than_none() {
    let data = auth_data(
        RP_ID,
        CREATE_FLAGS,
        0,
        &attested(&CREDENTIAL_ID, &es256().cose()),
    );
    let packed_statement = map(&[(text("alg"), int(-7)), (text("sig"), bytes(&[0x30; 70]))]);
    for (fmt, statement) in [
        ("packed", packed_statement.clone()),
        ("packed", map(&[])),
        ("none", packed_statement),
        ("fido-u2f", map(&[])),
        ("None", map(&[])),
    ] {
        let response = registration_of(
            &client_data("webauthn.create"),
            &attestation_object(fmt, &statement, &data),
        );
        assert_eq!(register(&response), Err(UnsupportedAttestation), "{fmt}");
    }
}

#[test]
fn registration_refuses_keys_of_other_algorithms_and_curves() {
    let TestKey::Es256(signing) = es256() else {
        unreachable!()
    };
    let point = signing.verifying_key().to_encoded_point(false);
    let (x, y) = (point.x().unwrap().as_slice(), point.y().unwrap().as_slice());
    let ed_x = ed25519_dalek::SigningKey::from_bytes(&[2; 32])
        .verifying_key()
        .to_bytes();
    let rs256 = map(&[
        (int(1), int(3)),
        (int(3), int(-257)),
        (int(-1), bytes(&[0xc5; 256])),
        (int(-2), bytes(&[1, 0, 1])),
    ]);
    for cose in [
        rs256,
        ec2_key(-35, 2, &[1; 48], &[2; 48]), // ES384 on P-384
        ec2_key(-7, 2, x, y),                // ES256 naming P-384
        ec2_key(-8, 1, x, y),                // EdDSA with an EC2 key
        ec2_key(-9, 1, x, y),                // ESP256, fully specified: not offered
        okp_key(-8, 7, &[3; 57]),            // Ed448
        okp_key(-7, 6, &ed_x),               // ES256 with an OKP key
        okp_key(-8, 4, &ed_x),               // X25519
        okp_key(-257, 6, &ed_x),
        map(&[
            (int(1), int(2)), // EdDSA on Ed25519 with an EC2 key
            (int(3), int(-8)),
            (int(-1), int(6)),
            (int(-2), bytes(&ed_x)),
        ]),
    ] {
        assert_eq!(
            register(&registration_with_key(&cose)),
            Err(UnsupportedAlgorithm),
            "{cose:02x?}"
        );
    }
}

#[test]
fn registration_refuses_keys_that_are_not_points_of_their_curve() {
    let TestKey::Es256(signing) = es256() else {
        unreachable!()
    };
    let point = signing.verifying_key().to_encoded_point(false);
    let (x, y) = (point.x().unwrap().as_slice(), point.y().unwrap().as_slice());
    let mut off_curve = y.to_vec();
    off_curve[31] ^= 1;
    let ed_x = ed25519_dalek::SigningKey::from_bytes(&[2; 32])
        .verifying_key()
        .to_bytes();
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let without_y = map(&[
        (int(1), int(2)),
        (int(3), int(-7)),
        (int(-1), int(1)),
        (int(-2), bytes(x)),
    ]);
    let compressed = map(&[
        (int(1), int(2)),
        (int(3), int(-7)),
        (int(-1), int(1)),
        (int(-2), bytes(x)),
        (int(-3), vec![0xf5]),
    ]);
    let okp_with_y = map(&[
        (int(1), int(1)),
        (int(3), int(-8)),
        (int(-1), int(6)),
        (int(-2), bytes(&ed_x)),
        (int(-3), bytes(&ed_x)),
    ]);
    for (cose, error) in [
        (ec2_key(-7, 1, &x[1..], y), InvalidKey),
        (ec2_key(-7, 1, x, &[y, &[0]].concat()), InvalidKey),
        (ec2_key(-7, 1, x, &off_curve), InvalidKey),
        (ec2_key(-7, 1, &[0; 32], &[0; 32]), InvalidKey),
        (without_y, InvalidKey),
        (okp_key(-8, 6, &ed_x[1..]), InvalidKey),
        (okp_key(-8, 6, &identity), InvalidKey), // small order: a "weak" key
        (okp_with_y, InvalidKey),
        (compressed, InvalidKey),
    ] {
        assert_eq!(
            register(&registration_with_key(&cose)),
            Err(error),
            "{cose:02x?}"
        );
    }
}

#[test]
fn registration_refuses_a_key_with_a_label_twice_or_without_kty_or_alg() {
    let ed_x = ed25519_dalek::SigningKey::from_bytes(&[2; 32])
        .verifying_key()
        .to_bytes();
    let twice = map(&[
        (int(1), int(1)),
        (int(3), int(-8)),
        (int(-1), int(6)),
        (int(-2), bytes(&ed_x)),
        (int(3), int(-8)),
    ]);
    assert_eq!(
        register(&registration_with_key(&twice)),
        Err(Malformed("credential public key has a label twice"))
    );
    let without_alg = map(&[(int(1), int(1)), (int(-1), int(6)), (int(-2), bytes(&ed_x))]);
    assert_eq!(
        register(&registration_with_key(&without_alg)),
        Err(Malformed("credential public key without kty or alg"))
    );
}

#[test]
fn registration_skips_unknown_key_parameters() {
    let key = ed25519();
    let TestKey::Ed25519(signing) = &key else {
        unreachable!()
    };
    let cose = map(&[
        (int(1), int(1)),
        (int(2), bytes(b"kid")),
        (int(3), int(-8)),
        (int(-1), int(6)),
        (int(-2), bytes(signing.verifying_key().as_bytes())),
    ]);
    assert_eq!(
        register(&registration_with_key(&cose)).unwrap().algorithm,
        Algorithm::EdDsa
    );
}

#[test]
fn registration_reads_past_extensions_and_refuses_anything_after_them() {
    let credential = attested(&CREDENTIAL_ID, &es256().cose());
    let extensions = map(&[
        (text("credProtect"), int(2)),
        (text("hmac-secret"), vec![0xf5]),
    ]);
    let flags = CREATE_FLAGS | EXTENSIONS;
    let with = |rest: &[u8], flags: u8| {
        register(&registration_with_auth_data(&auth_data(
            RP_ID,
            flags,
            0,
            &[&credential[..], rest].concat(),
        )))
    };
    assert!(with(&extensions, flags).is_ok());
    assert_eq!(
        with(&[&extensions[..], &[0]].concat(), flags),
        Err(Malformed("trailing bytes after the authenticator data"))
    );
    assert_eq!(
        with(&extensions, CREATE_FLAGS),
        Err(Malformed("trailing bytes after the authenticator data"))
    );
    assert_eq!(with(&[], flags), Err(Malformed("extensions")));
    assert_eq!(with(&int(2), flags), Err(Malformed("extensions")));
}

#[test]
fn registration_refuses_extensions_nested_deeper_than_four_levels() {
    let credential = attested(&CREDENTIAL_ID, &es256().cose());
    let nest = |levels: usize| {
        let mut item = int(0);
        for _ in 0..levels {
            item = map(&[(text("x"), item)]);
        }
        item
    };
    let with = |extensions: &[u8]| {
        register(&registration_with_auth_data(&auth_data(
            RP_ID,
            CREATE_FLAGS | EXTENSIONS,
            0,
            &[&credential[..], extensions].concat(),
        )))
    };
    assert!(with(&nest(4)).is_ok());
    assert_eq!(with(&nest(5)), Err(Malformed("extensions")));
    // Ten thousand nested arrays: refused at the fifth, without recursing further.
    let deep = [vec![0x81; 10_000], int(0)].concat();
    let extensions = [&[0xa1][..], &text("x"), &deep].concat();
    let response = registration_with_auth_data(&auth_data(
        RP_ID,
        CREATE_FLAGS | EXTENSIONS,
        0,
        &[&credential[..], &extensions].concat(),
    ));
    // Too large for the limit; with a larger limit it would still be refused as too deep.
    assert_eq!(register(&response), Err(TooLarge("attestationObject")));
    let mut decoder = Decoder::new(&extensions);
    assert_eq!(
        cbor::skip(&mut decoder, cbor::MAX_DEPTH, "extensions"),
        Err(Malformed("extensions"))
    );
}

#[test]
fn registration_refuses_cbor_it_does_not_read() {
    let data = auth_data(
        RP_ID,
        CREATE_FLAGS,
        0,
        &attested(&CREDENTIAL_ID, &es256().cose()),
    );
    let valid = attestation_object("none", &map(&[]), &data);
    let indefinite = [&[0xbf][..], &valid[1..], &[0xff]].concat();
    let tagged = [&[0xd8, 0x18][..], &valid].concat();
    let with_trailing_byte = [&valid[..], &[0]].concat();
    let extra_member = map(&[
        (text("fmt"), text("none")),
        (text("attStmt"), map(&[])),
        (text("authData"), bytes(&data)),
        (text("epAtt"), vec![0xf5]),
    ]);
    let twice = map(&[
        (text("fmt"), text("none")),
        (text("fmt"), text("none")),
        (text("authData"), bytes(&data)),
    ]);
    let missing = map(&[
        (text("fmt"), text("none")),
        (text("authData"), bytes(&data)),
    ]);
    let unknown = map(&[
        (text("fmt"), text("none")),
        (text("attStmt"), map(&[])),
        (text("authdata"), bytes(&data)),
    ]);
    let statement_not_a_map = attestation_object("none", &bytes(&[]), &data);
    for (object, error) in [
        (indefinite, "attestationObject"),
        (tagged, "attestationObject"),
        (extra_member, "attestationObject"),
        (b"not cbor".to_vec(), "attestationObject"),
        (Vec::new(), "attestationObject"),
        (vec![0xa3], "attestationObject"),
        (statement_not_a_map, "attestationObject"),
        (twice, "attestationObject member given twice"),
        (
            missing,
            "attestationObject without fmt, attStmt or authData",
        ),
        (unknown, "attestationObject member"),
        (
            with_trailing_byte,
            "trailing bytes after the attestationObject",
        ),
    ] {
        let response = registration_of(&client_data("webauthn.create"), &object);
        assert_eq!(register(&response), Err(Malformed(error)), "{object:02x?}");
    }
}

#[test]
fn registration_refuses_authenticator_data_cut_short() {
    let full = auth_data(
        RP_ID,
        CREATE_FLAGS,
        0,
        &attested(&CREDENTIAL_ID, &es256().cose()),
    );
    let expected_error = |len: usize| {
        if len < 37 + 16 + 2 + CREDENTIAL_ID.len() {
            Malformed("authenticator data too short")
        } else {
            Malformed("credential public key")
        }
    };
    for len in 0..full.len() {
        assert_eq!(
            register(&registration_with_auth_data(&full[..len])),
            Err(expected_error(len)),
            "{len}"
        );
    }
}

#[test]
fn registration_refuses_parts_larger_than_their_limits_before_decoding_them() {
    let mut response = registration(&es256());
    response.response.client_data_json = "!".repeat(encoded_len(MAX_CLIENT_DATA_JSON) + 1);
    assert_eq!(register(&response), Err(TooLarge("clientDataJSON")));

    let mut response = registration(&es256());
    response.response.attestation_object = "!".repeat(encoded_len(MAX_ATTESTATION_OBJECT) + 1);
    assert_eq!(register(&response), Err(TooLarge("attestationObject")));

    let long_id = [0xc1; MAX_CREDENTIAL_ID + 1];
    let mut response = registration(&es256());
    response.id = b64(&long_id);
    response.raw_id = b64(&long_id);
    assert_eq!(register(&response), Err(TooLarge("rawId")));

    let longest_id = [0xc1; MAX_CREDENTIAL_ID];
    let mut response = registration_with_auth_data(&auth_data(
        RP_ID,
        CREATE_FLAGS,
        0,
        &attested(&longest_id, &es256().cose()),
    ));
    response.id = b64(&longest_id);
    response.raw_id = b64(&longest_id);
    assert_eq!(register(&response).unwrap().credential_id, longest_id);

    let data = auth_data(RP_ID, CREATE_FLAGS, 0, &attested(&long_id, &es256().cose()));
    assert_eq!(
        register(&registration_with_auth_data(&data)),
        Err(TooLarge("credential id"))
    );

    let padding = map(&[(text("x"), bytes(&[0; MAX_AUTHENTICATOR_DATA]))]);
    let data = auth_data(
        RP_ID,
        CREATE_FLAGS | EXTENSIONS,
        0,
        &[attested(&CREDENTIAL_ID, &es256().cose()), padding].concat(),
    );
    assert_eq!(
        register(&registration_with_auth_data(&data)),
        Err(TooLarge("authenticator data"))
    );
}

#[test]
fn registration_keeps_the_well_formed_transports_once_each_and_at_most_eight() {
    let mut response = registration(&es256());
    response.response.transports = [
        "usb",
        "USB",
        "usb",
        "",
        "smart-card",
        "\u{e9}",
        &"x".repeat(33),
        "nfc",
        "ble",
        "hybrid",
        "internal",
        "a",
        "b",
        "c",
        "d",
    ]
    .map(str::to_owned)
    .to_vec();
    assert_eq!(
        register(&response).unwrap().transports,
        [
            "usb",
            "smart-card",
            "nfc",
            "ble",
            "hybrid",
            "internal",
            "a",
            "b"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Authentication

#[test]
fn a_login_with_an_es256_passkey_gives_the_new_counter() {
    let key = es256();
    assert_eq!(
        log_in(&login_answer(&key, 6), &key, 5),
        Ok(Authenticated {
            sign_count: 6,
            user_verified: false,
            backed_up: false,
        })
    );
}

#[test]
fn a_login_with_an_ed25519_passkey_gives_the_new_counter() {
    let key = ed25519();
    assert_eq!(
        log_in(&login_answer(&key, 1), &key, 0).map(|a| a.sign_count),
        Ok(1)
    );
}

#[test]
fn a_login_reports_user_verification_and_backup_state() {
    let key = es256();
    let flags = USER_PRESENT | USER_VERIFIED | BACKUP_ELIGIBLE | BACKED_UP;
    let response = assertion(
        &key,
        &client_data("webauthn.get"),
        &auth_data(RP_ID, flags, 0, &[]),
    );
    let cose = key.cose();
    let passkey = StoredPasskey {
        backup_eligible: true,
        ..stored(&cose, 0)
    };
    assert_eq!(
        verify_authentication(&response, &expected(&origins()), &passkey),
        Ok(Authenticated {
            sign_count: 0,
            user_verified: true,
            backed_up: true,
        })
    );
}

#[test]
fn a_counter_must_grow_unless_it_is_zero_on_both_sides() {
    let key = es256();
    for (stored_count, new_count, outcome) in [
        (0, 0, Ok(0)),
        (0, 1, Ok(1)),
        (5, 6, Ok(6)),
        (5, u32::MAX, Ok(u32::MAX)),
        (5, 5, Err(CounterRegressed)),
        (5, 4, Err(CounterRegressed)),
        (5, 0, Err(CounterRegressed)),
        (u32::MAX, u32::MAX, Err(CounterRegressed)),
    ] {
        assert_eq!(
            log_in(&login_answer(&key, new_count), &key, stored_count).map(|a| a.sign_count),
            outcome,
            "{stored_count} → {new_count}"
        );
    }
}

#[test]
fn presented_credential_names_the_credential_and_the_user_handle() {
    let response = login_answer(&es256(), 1);
    assert_eq!(
        presented_credential(&response),
        Ok(Presented {
            credential_id: CREDENTIAL_ID.to_vec(),
            user_handle: Some(USER_HANDLE.to_vec()),
        })
    );
    for absent in [None, Some(String::new())] {
        let mut response = login_answer(&es256(), 1);
        response.response.user_handle = absent;
        assert_eq!(presented_credential(&response).unwrap().user_handle, None);
    }
}

#[test]
fn presented_credential_refuses_what_cannot_name_a_credential() {
    let mut response = login_answer(&es256(), 1);
    response.response.user_handle = Some(b64(&[1; MAX_USER_HANDLE + 1]));
    assert_eq!(presented_credential(&response), Err(TooLarge("userHandle")));
    response.response.user_handle = Some("not base64!".to_owned());
    assert_eq!(
        presented_credential(&response),
        Err(Malformed("userHandle"))
    );

    let mut response = login_answer(&es256(), 1);
    response.kind = "public_key".to_owned();
    assert_eq!(presented_credential(&response), Err(WrongType));

    let mut response = login_answer(&es256(), 1);
    response.id = b64(&[0xc2; 16]);
    assert_eq!(presented_credential(&response), Err(CredentialMismatch));
}

#[test]
fn a_login_refuses_an_answer_for_another_credential() {
    let key = es256();
    let mut response = login_answer(&key, 1);
    response.id = b64(&[0xc2; 16]);
    response.raw_id = b64(&[0xc2; 16]);
    assert_eq!(log_in(&response, &key, 0), Err(CredentialMismatch));
}

#[test]
fn a_login_refuses_the_user_handle_of_another_user_and_accepts_none() {
    let key = es256();
    let mut response = login_answer(&key, 1);
    response.response.user_handle = Some(b64(&[0x43; 16]));
    assert_eq!(log_in(&response, &key, 0), Err(UserHandleMismatch));
    response.response.user_handle = None;
    assert!(log_in(&response, &key, 0).is_ok());
}

#[test]
fn a_login_refuses_client_data_of_another_ceremony() {
    let key = es256();
    let response = assertion(
        &key,
        &client_data("webauthn.create"),
        &auth_data(RP_ID, USER_PRESENT, 1, &[]),
    );
    assert_eq!(log_in(&response, &key, 0), Err(WrongType));
}

#[test]
fn a_login_refuses_another_challenge_origin_or_a_cross_origin_ceremony() {
    let key = es256();
    let data = auth_data(RP_ID, USER_PRESENT, 1, &[]);
    let challenge = b64(&CHALLENGE);
    for (client_data, error) in [
        (
            format!(
                r#"{{"type":"webauthn.get","challenge":"{}","origin":"{ORIGIN}"}}"#,
                b64(&[8; 32])
            ),
            ChallengeMismatch,
        ),
        (
            format!(
                r#"{{"type":"webauthn.get","challenge":"{challenge}","origin":"https://evil.example"}}"#
            ),
            OriginNotAllowed,
        ),
        (
            format!(
                r#"{{"type":"webauthn.get","challenge":"{challenge}","origin":"{ORIGIN}","crossOrigin":true}}"#
            ),
            CrossOrigin,
        ),
    ] {
        let response = assertion(&key, &client_data, &data);
        assert_eq!(log_in(&response, &key, 0), Err(error), "{client_data}");
    }
}

#[test]
fn a_login_refuses_authenticator_data_for_another_rp_id() {
    let key = es256();
    let response = assertion(
        &key,
        &client_data("webauthn.get"),
        &auth_data("example.org", USER_PRESENT, 1, &[]),
    );
    assert_eq!(log_in(&response, &key, 0), Err(RpIdMismatch));
}

#[test]
fn a_login_refuses_an_authenticator_that_did_not_test_user_presence() {
    let key = ed25519();
    let response = assertion(
        &key,
        &client_data("webauthn.get"),
        &auth_data(RP_ID, USER_VERIFIED, 1, &[]),
    );
    assert_eq!(log_in(&response, &key, 0), Err(UserNotPresent));
}

#[test]
fn a_login_requires_user_verification_only_when_expected() {
    let key = es256();
    let response = login_answer(&key, 1);
    let cose = key.cose();
    let origins = origins();
    let strict = Expected {
        user_verification: true,
        ..expected(&origins)
    };
    assert_eq!(
        verify_authentication(&response, &strict, &stored(&cose, 0)),
        Err(UserNotVerified)
    );
}

#[test]
fn a_login_refuses_a_change_of_backup_eligibility() {
    let key = es256();
    let cose = key.cose();
    let response = assertion(
        &key,
        &client_data("webauthn.get"),
        &auth_data(RP_ID, USER_PRESENT | BACKUP_ELIGIBLE, 1, &[]),
    );
    assert_eq!(
        verify_authentication(&response, &expected(&origins()), &stored(&cose, 0)),
        Err(BackupEligibilityChanged)
    );
    let eligible = StoredPasskey {
        backup_eligible: true,
        ..stored(&cose, 0)
    };
    assert_eq!(
        verify_authentication(&login_answer(&key, 1), &expected(&origins()), &eligible),
        Err(BackupEligibilityChanged)
    );
}

#[test]
fn a_login_refuses_a_signature_by_another_key() {
    let (key, other) = (
        es256(),
        TestKey::Es256(p256::ecdsa::SigningKey::from_slice(&[3; 32]).unwrap()),
    );
    assert_eq!(log_in(&login_answer(&other, 1), &key, 0), Err(BadSignature));
    let (key, other) = (
        ed25519(),
        TestKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[3; 32])),
    );
    assert_eq!(log_in(&login_answer(&other, 1), &key, 0), Err(BadSignature));
    // An Ed25519 signature for an ES256 key, and the reverse.
    assert_eq!(
        log_in(&login_answer(&ed25519(), 1), &es256(), 0),
        Err(BadSignature)
    );
    assert_eq!(
        log_in(&login_answer(&es256(), 1), &ed25519(), 0),
        Err(BadSignature)
    );
}

#[test]
fn a_login_refuses_signed_data_changed_after_signing() {
    for key in [es256(), ed25519()] {
        let genuine = login_answer(&key, 1);
        // The counter raised after signing.
        let mut response = genuine.clone();
        response.response.authenticator_data = b64(&auth_data(RP_ID, USER_PRESENT, 2, &[]));
        assert_eq!(log_in(&response, &key, 0), Err(BadSignature));
        // UV set after signing.
        let mut response = genuine.clone();
        response.response.authenticator_data =
            b64(&auth_data(RP_ID, USER_PRESENT | USER_VERIFIED, 1, &[]));
        assert_eq!(log_in(&response, &key, 0), Err(BadSignature));
        // The client data re-spelled (same members, other bytes).
        let mut response = genuine.clone();
        response.response.client_data_json = b64(format!(
            r#"{{"type":"webauthn.get","challenge":"{}","origin":"{ORIGIN}","crossOrigin":false }}"#,
            b64(&CHALLENGE)
        )
        .as_bytes());
        assert_eq!(log_in(&response, &key, 0), Err(BadSignature));
    }
}

#[test]
fn a_login_refuses_an_ed25519_signature_whose_r_is_of_small_order() {
    // R = the identity and S = k·a verify under the cofactorless equation [S]B = R + [k]A
    // that a lenient verifier checks; strict verification refuses a small-order R, so that
    // a signature cannot be re-shaped into another one for the same message.
    use sha2::Sha512;
    let key = ed25519();
    let TestKey::Ed25519(signing) = &key else {
        unreachable!()
    };
    let client_data = client_data("webauthn.get");
    let data = auth_data(RP_ID, USER_PRESENT, 1, &[]);
    let message = [&data[..], &Sha256::digest(client_data.as_bytes())].concat();
    let mut r = [0u8; 32];
    r[0] = 1;
    let hash = Sha512::new()
        .chain_update(r)
        .chain_update(signing.verifying_key().as_bytes())
        .chain_update(&message)
        .finalize();
    let k = curve25519_dalek::Scalar::from_bytes_mod_order_wide(&hash.into());
    let s = k * signing.to_scalar();
    let forged = [r, s.to_bytes()].concat();
    let lenient = ed25519_dalek::Signature::from_slice(&forged).unwrap();
    let lenient_verify =
        ed25519_dalek::Verifier::verify(&signing.verifying_key(), &message, &lenient);
    assert!(lenient_verify.is_ok());

    let mut response = login_answer(&key, 1);
    response.response.signature = b64(&forged);
    assert_eq!(log_in(&response, &key, 0), Err(BadSignature));
}

#[test]
fn a_login_refuses_signatures_that_are_not_signatures() {
    let key = es256();
    let genuine = login_answer(&key, 1);
    let der = Base64UrlUnpadded::decode_vec(&genuine.response.signature).unwrap();
    let p256_signature = p256::ecdsa::Signature::from_der(&der).unwrap();
    for signature in [
        Vec::new(),
        vec![0x30, 0x00],
        der[..der.len() - 1].to_vec(),
        [&der[..], &[0]].concat(),
        p256_signature.to_bytes().to_vec(), // raw r ‖ s instead of DER
    ] {
        let mut response = genuine.clone();
        response.response.signature = b64(&signature);
        assert_eq!(
            log_in(&response, &key, 0),
            Err(BadSignature),
            "{signature:02x?}"
        );
    }
    let key = ed25519();
    let genuine = login_answer(&key, 1);
    let raw = Base64UrlUnpadded::decode_vec(&genuine.response.signature).unwrap();
    for signature in [raw[..63].to_vec(), [&raw[..], &[0]].concat(), vec![0; 64]] {
        let mut response = genuine.clone();
        response.response.signature = b64(&signature);
        assert_eq!(log_in(&response, &key, 0), Err(BadSignature));
    }
}

#[test]
fn a_login_refuses_trailing_bytes_after_the_authenticator_data_even_when_signed() {
    let key = es256();
    let response = assertion(
        &key,
        &client_data("webauthn.get"),
        &auth_data(RP_ID, USER_PRESENT, 1, &[0]),
    );
    assert_eq!(
        log_in(&response, &key, 0),
        Err(Malformed("trailing bytes after the authenticator data"))
    );
    let extensions = map(&[(text("credProtect"), int(1))]);
    let response = assertion(
        &key,
        &client_data("webauthn.get"),
        &auth_data(RP_ID, USER_PRESENT | EXTENSIONS, 1, &extensions),
    );
    assert!(log_in(&response, &key, 0).is_ok());
}

#[test]
fn a_login_refuses_parts_larger_than_their_limits_before_decoding_them() {
    let key = es256();
    let mut response = login_answer(&key, 1);
    response.response.signature = "!".repeat(encoded_len(MAX_SIGNATURE) + 1);
    assert_eq!(log_in(&response, &key, 0), Err(TooLarge("signature")));
    let mut response = login_answer(&key, 1);
    response.response.authenticator_data = "!".repeat(encoded_len(MAX_AUTHENTICATOR_DATA) + 1);
    assert_eq!(
        log_in(&response, &key, 0),
        Err(TooLarge("authenticatorData"))
    );
    let mut response = login_answer(&key, 1);
    response.response.client_data_json = "!".repeat(encoded_len(MAX_CLIENT_DATA_JSON) + 1);
    assert_eq!(log_in(&response, &key, 0), Err(TooLarge("clientDataJSON")));
    // At the limit, read (and refused for what it is).
    let mut response = login_answer(&key, 1);
    response.response.signature = b64(&[0; MAX_SIGNATURE]);
    assert_eq!(log_in(&response, &key, 0), Err(BadSignature));
}

#[test]
fn a_login_refuses_a_stored_key_it_cannot_read() {
    let key = es256();
    let response = login_answer(&key, 1);
    let origins = origins();
    for (cose, error) in [
        (Vec::new(), Malformed("credential public key")),
        (
            [key.cose(), vec![0]].concat(),
            Malformed("trailing bytes after the credential public key"),
        ),
        (okp_key(-8, 7, &[3; 57]), UnsupportedAlgorithm),
    ] {
        assert_eq!(
            verify_authentication(&response, &expected(&origins), &stored(&cose, 0)),
            Err(error)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Answers recorded from browsers: py_webauthn's test vectors (BSD-3-Clause, Duo Security),
// made on http://localhost:5000 with RP ID "localhost".

const LOCALHOST: &str = "http://localhost:5000";

fn localhost<'a>(challenge: &'a [u8], origins: &'a [String]) -> Expected<'a> {
    Expected {
        challenge,
        rp_id: "localhost",
        origins,
        user_verification: false,
    }
}

fn decoded(text: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(text).unwrap()
}

#[test]
fn a_recorded_registration_with_attestation_none_gives_its_passkey() {
    let response: RegistrationResponse = serde_json::from_value(json!({
        "id": "9y1xA8Tmg1FEmT-c7_fvWZ_uoTuoih3OvR45_oAK-cwHWhAbXrl2q62iLVTjiyEZ7O7n-CROOY494k7Q3xrs_w",
        "rawId": "9y1xA8Tmg1FEmT-c7_fvWZ_uoTuoih3OvR45_oAK-cwHWhAbXrl2q62iLVTjiyEZ7O7n-CROOY494k7Q3xrs_w",
        "response": {
            "attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVjESZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2NFAAAAFwAAAAAAAAAAAAAAAAAAAAAAQPctcQPE5oNRRJk_nO_371mf7qE7qIodzr0eOf6ACvnMB1oQG165dqutoi1U44shGezu5_gkTjmOPeJO0N8a7P-lAQIDJiABIVggSFbUJF-42Ug3pdM8rDRFu_N5oiVEysPDB6n66r_7dZAiWCDUVnB39FlGypL-qAoIO9xWHtJygo2jfDmHl-_eKFRLDA",
            "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiVHdON240V1R5R0tMYzRaWS1xR3NGcUtuSE00bmdscXN5VjBJQ0psTjJUTzlYaVJ5RnRya2FEd1V2c3FsLWdrTEpYUDZmbkYxTWxyWjUzTW00UjdDdnciLCJvcmlnaW4iOiJodHRwOi8vbG9jYWxob3N0OjUwMDAiLCJjcm9zc09yaWdpbiI6ZmFsc2V9",
            "transports": ["nfc", "usb"]
        },
        "type": "public-key",
        "clientExtensionResults": {}
    }))
    .unwrap();
    let challenge = decoded(
        "TwN7n4WTyGKLc4ZY-qGsFqKnHM4nglqsyV0ICJlN2TO9XiRyFtrkaDwUvsql-gkLJXP6fnF1MlrZ53Mm4R7Cvw",
    );
    let origins = [LOCALHOST.to_owned()];
    let passkey = verify_registration(&response, &localhost(&challenge, &origins)).unwrap();
    assert_eq!(passkey.credential_id, decoded(&response.raw_id));
    assert_eq!(
        passkey.public_key,
        decoded("pQECAyYgASFYIEhW1CRfuNlIN6XTPKw0RbvzeaIlRMrDwwep-uq_-3WQIlgg1FZwd_RZRsqS_qgKCDvcVh7ScoKNo3w5h5fv3ihUSww")
    );
    assert_eq!(passkey.algorithm, Algorithm::Es256);
    assert_eq!(passkey.sign_count, 23);
    assert_eq!(passkey.aaguid, [0; 16]);
    assert_eq!(passkey.transports, ["nfc", "usb"]);
    assert_eq!(
        (
            passkey.user_verified,
            passkey.backup_eligible,
            passkey.backed_up
        ),
        (true, false, false)
    );
}

/// A recorded login answer, with the stored key and counter it was checked against.
fn recorded_login(
    raw_id: &str,
    authenticator_data: &str,
    client_data_json: &str,
    signature: &str,
) -> AuthenticationResponse {
    AuthenticationResponse {
        id: raw_id.to_owned(),
        raw_id: raw_id.to_owned(),
        kind: "public-key".to_owned(),
        response: AssertionResponse {
            client_data_json: client_data_json.to_owned(),
            authenticator_data: authenticator_data.to_owned(),
            signature: signature.to_owned(),
            user_handle: None,
        },
    }
}

fn verify_recorded(
    response: &AuthenticationResponse,
    challenge: &str,
    cose: &str,
    sign_count: u32,
) -> Result<Authenticated, WebauthnError> {
    let challenge = decoded(challenge);
    let credential_id = decoded(&response.raw_id);
    let cose = decoded(cose);
    let origins = [LOCALHOST.to_owned()];
    let stored = StoredPasskey {
        credential_id: &credential_id,
        public_key: &cose,
        sign_count,
        backup_eligible: false,
        user_handle: &[],
    };
    verify_authentication(response, &localhost(&challenge, &origins), &stored)
}

#[test]
fn a_recorded_es256_login_verifies_and_gives_its_counter() {
    // Its client data is of an older browser: `clientExtensions` and `hashAlgorithm`, no
    // `crossOrigin`, members in another order. The challenge is 64 bytes.
    let response = recorded_login(
        "EDx9FfAbp4obx6oll2oC4-CZuDidRVV4gZhxC529ytlnqHyqCStDUwfNdm1SNHAe3X5KvueWQdAX3x9R1a2b9Q",
        "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MBAAAATg",
        "eyJjaGFsbGVuZ2UiOiJ4aTMwR1BHQUZZUnhWRHBZMXNNMTBEYUx6VlFHNjZudi1fN1JVYXpIMHZJMll2RzhMWWdERW52TjVmWlpOVnV2RUR1TWk5dGUzVkxxYjQyTjBma0xHQSIsImNsaWVudEV4dGVuc2lvbnMiOnt9LCJoYXNoQWxnb3JpdGhtIjoiU0hBLTI1NiIsIm9yaWdpbiI6Imh0dHA6Ly9sb2NhbGhvc3Q6NTAwMCIsInR5cGUiOiJ3ZWJhdXRobi5nZXQifQ",
        "MEUCIGisVZOBapCWbnJJvjelIzwpixxIwkjCCb5aCHafQu68AiEA88v-2pJNNApPFwAKFiNuf82-2hBxYW5kGwVweeoxCwo",
    );
    let challenge =
        "xi30GPGAFYRxVDpY1sM10DaLzVQG66nv-_7RUazH0vI2YvG8LYgDEnvN5fZZNVuvEDuMi9te3VLqb42N0fkLGA";
    let cose = "pQECAyYgASFYIIeDTe-gN8A-zQclHoRnGFWN8ehM1b7yAsa8I8KIvmplIlgg4nFGT5px8o6gpPZZhO01wdy9crDSA_Ngtkx0vGpvPHI";
    assert_eq!(
        verify_recorded(&response, challenge, cose, 77),
        Ok(Authenticated {
            sign_count: 78,
            user_verified: false,
            backed_up: false,
        })
    );
    assert_eq!(
        verify_recorded(&response, challenge, cose, 78),
        Err(CounterRegressed)
    );
}

#[test]
fn a_recorded_ed25519_login_verifies_and_gives_its_counter() {
    let response = recorded_login(
        "fq9Nj0nS24B5y6Pkw_h3-9GEAEA3-0LBPxE2zvTdLjDqtSeCSNYFe9VMRueSpAZxT3YDc6L1lWXdQNwI-sVNYrefEcRR1Nsb_0jpHE955WEtFud2xxZg3MvoLMxHLet63i5tajd1fHtP7I-00D6cehM8ZWlLp2T3s9lfZgVIFcA",
        "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MBAAAABw",
        "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiZVo0ZWVBM080ank1Rkl6cURhU0o2SkROR3UwYkJjNXpJMURqUV9rTHNvMVdOcWtHNms1bUNZZjFkdFFoVlVpQldaV2xaa3pSNU1GZWVXQ3BKUlVOWHciLCJvcmlnaW4iOiJodHRwOi8vbG9jYWxob3N0OjUwMDAiLCJjcm9zc09yaWdpbiI6ZmFsc2V9",
        "RRWV8mYDRvK7YdQgdtZD4pJ2dh1D_IWZ_D6jsZo6FHJBoenbj0CVT5nA20vUzlRhN4R6dOEUHmUwP1F8eRBhBg",
    );
    let challenge =
        "eZ4eeA3O4jy5FIzqDaSJ6JDNGu0bBc5zI1DjQ_kLso1WNqkG6k5mCYf1dtQhVUiBWZWlZkzR5MFeeWCpJRUNXw";
    let cose = "pAEBAycgBiFYIMz6_SUFLiDid2Yhlq0YboyJ-CDrIrNpkPUGmJp4D3Dp";
    assert_eq!(
        verify_recorded(&response, challenge, cose, 3).map(|a| a.sign_count),
        Ok(7)
    );
}

// ---------------------------------------------------------------------------------------------
// Options and errors

#[test]
fn creation_options_are_webauthn_json() {
    let options = options::creation_options(
        options::RelyingParty {
            id: RP_ID.to_owned(),
            name: "Example".to_owned(),
        },
        options::UserEntity::new(&USER_HANDLE, "alice@example.com", "Alice"),
        &CHALLENGE,
        vec![
            options::CredentialDescriptor::new(&CREDENTIAL_ID, &["internal".to_owned()]),
            options::CredentialDescriptor::new(&[0xc2; 4], &[]),
        ],
    );
    assert_eq!(
        serde_json::to_value(&options).unwrap(),
        json!({
            "rp": {"id": "example.com", "name": "Example"},
            "user": {
                "id": "QkJCQkJCQkJCQkJCQkJCQg",
                "name": "alice@example.com",
                "displayName": "Alice"
            },
            "challenge": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc",
            "pubKeyCredParams": [
                {"type": "public-key", "alg": -8},
                {"type": "public-key", "alg": -7}
            ],
            "timeout": 300000,
            "excludeCredentials": [
                {"type": "public-key", "id": "wcHBwcHBwcHBwcHBwcHBwQ", "transports": ["internal"]},
                {"type": "public-key", "id": "wsLCwg"}
            ],
            "authenticatorSelection": {
                "residentKey": "required",
                "requireResidentKey": true,
                "userVerification": "preferred"
            },
            "attestation": "none"
        })
    );
}

#[test]
fn request_options_are_webauthn_json_with_allow_credentials_even_when_empty() {
    let options = options::request_options(RP_ID, &CHALLENGE, Vec::new());
    assert_eq!(
        serde_json::to_string(&options).unwrap(),
        r#"{"challenge":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc","timeout":300000,"rpId":"example.com","allowCredentials":[],"userVerification":"preferred"}"#
    );
}

#[test]
fn what_the_options_offer_is_what_registration_accepts() {
    let offered = options::creation_options(
        options::RelyingParty {
            id: RP_ID.to_owned(),
            name: String::new(),
        },
        options::UserEntity::new(&USER_HANDLE, "", ""),
        &CHALLENGE,
        Vec::new(),
    )
    .pub_key_cred_params
    .map(|parameters| parameters.alg);
    assert_eq!(offered, [Algorithm::EdDsa.cose(), Algorithm::Es256.cose()]);
}

#[test]
fn new_challenges_are_32_random_bytes() {
    assert_eq!(new_challenge().len(), 32);
    assert_ne!(new_challenge(), new_challenge());
}

#[test]
fn errors_say_which_rule_without_the_input() {
    assert_eq!(
        Malformed("clientDataJSON").to_string(),
        "passkey: malformed clientDataJSON"
    );
    assert_eq!(
        TooLarge("signature").to_string(),
        "passkey: signature is too large"
    );
    assert_eq!(
        CounterRegressed.to_string(),
        "passkey: signature counter did not grow (cloned authenticator?)"
    );
}
