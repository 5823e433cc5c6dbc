//! Ed25519 signing keys (RFC 8037) from the Worker secret `JWT_SIGNING_KEYS`, their `kid`s
//! (RFC 7638 thumbprints), the published JWKS, and new-key generation for `make keygen`.
//!
//! The secret is a JSON array of private OKP JWKs `{"kty":"OKP","crv":"Ed25519","x":…,"d":…}`.
//! Every listed key is published and accepted; one of them signs (docs/contract.md §3.3). Errors say
//! what is wrong and how to fix it, and never repeat any part of the secret.

use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use ed25519_dalek::{SigningKey, VerifyingKey};
use jwt_compact::jwk::JsonWebKey;
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;

use crate::domain::secret::Secret;

/// The JWS header of every token this key signs, in the contract's member order.
#[derive(Serialize)]
struct Header<'a> {
    typ: &'static str,
    alg: &'static str,
    kid: &'a str,
}

/// A public JWK (RFC 8037) as the JWKS publishes it, in the contract's member order.
#[derive(Serialize)]
pub struct PublicJwk<'a> {
    kty: &'static str,
    crv: &'static str,
    x: String,
    kid: &'a str,
    alg: &'static str,
    #[serde(rename = "use")]
    use_: &'static str,
}

/// The JWK Set of `/.well-known/jwks.json`.
#[derive(Serialize)]
pub struct Jwks<'a> {
    keys: Vec<PublicJwk<'a>>,
}

/// A private JWK as `JWT_SIGNING_KEYS` lists it.
#[derive(Serialize)]
struct PrivateJwk {
    kty: &'static str,
    crv: &'static str,
    x: String,
    #[serde(serialize_with = "expose")]
    d: Secret,
}

fn expose<S: serde::Serializer>(secret: &Secret, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose())
}

pub const SECRET_NAME: &str = "JWT_SIGNING_KEYS";
const FIX: &str = "generate a key with `make keygen` and set it with \
    `wrangler secret put JWT_SIGNING_KEYS` (locally: JWT_SIGNING_KEYS in .dev.vars)";

/// One usable key: the private half signs, the public half verifies and is published.
pub struct Key {
    pub kid: String,
    signing: SigningKey,
    pub verifying: VerifyingKey,
    /// `base64url({"typ":"JWT","alg":"EdDSA","kid":"<kid>"})`, the header of every token.
    pub encoded_header: String,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Key {
    pub fn from_signing_key(signing: SigningKey) -> Self {
        let verifying = signing.verifying_key();
        let kid = thumbprint(&verifying);
        let header = serde_json::to_vec(&Header {
            typ: "JWT",
            alg: "EdDSA",
            kid: &kid,
        })
        .unwrap_or_default();
        Self {
            encoded_header: Base64UrlUnpadded::encode_string(&header),
            kid,
            signing,
            verifying,
        }
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The public JWK as published in the JWKS (docs/contract.md §3.3), members in that order.
    pub fn public_jwk(&self) -> PublicJwk<'_> {
        PublicJwk {
            kty: "OKP",
            crv: "Ed25519",
            x: Base64UrlUnpadded::encode_string(self.verifying.as_bytes()),
            kid: &self.kid,
            alg: "EdDSA",
            use_: "sig",
        }
    }

    /// The private JWK, the form `JWT_SIGNING_KEYS` lists.
    pub fn private_jwk(&self) -> Secret {
        let jwk = PrivateJwk {
            kty: "OKP",
            crv: "Ed25519",
            x: Base64UrlUnpadded::encode_string(self.verifying.as_bytes()),
            d: Secret::new(Base64UrlUnpadded::encode_string(self.signing.as_bytes())),
        };
        Secret::new(serde_json::to_string(&jwk).unwrap_or_default())
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        crate::domain::random::fill(&mut seed);
        Self::from_signing_key(SigningKey::from_bytes(&seed))
    }
}

/// RFC 7638 thumbprint: base64url(SHA-256(`{"crv":"Ed25519","kty":"OKP","x":"<x>"}`)).
pub fn thumbprint(key: &VerifyingKey) -> String {
    let jwk = JsonWebKey::from(key);
    Base64UrlUnpadded::encode_string(&jwk.thumbprint::<Sha256>())
}

/// The keys of `JWT_SIGNING_KEYS`, the signing key first.
#[derive(Debug)]
pub struct Keyring {
    keys: Vec<Key>,
}

/// What is wrong with `JWT_SIGNING_KEYS` or `JWT_SIGNING_KID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    Missing,
    NotJson { line: usize, column: usize },
    NotAnArray,
    Empty,
    BadKey { index: usize, reason: &'static str },
    Duplicate { index: usize },
    UnknownKid { kid: String, known: Vec<String> },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(f, "secret {SECRET_NAME} is not set: {FIX}"),
            Self::NotJson { line, column } => write!(
                f,
                "secret {SECRET_NAME} is not valid JSON (line {line}, column {column}); it must be a JSON array of Ed25519 private JWKs: {FIX}"
            ),
            Self::NotAnArray => write!(
                f,
                "secret {SECRET_NAME} must be a JSON array of Ed25519 private JWKs ([{{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":…,\"d\":…}}]): {FIX}"
            ),
            Self::Empty => write!(f, "secret {SECRET_NAME} is an empty array; it needs at least one key: {FIX}"),
            Self::BadKey { index, reason } => {
                write!(f, "secret {SECRET_NAME}: key #{index} (counting from 0) {reason}: {FIX}")
            }
            Self::Duplicate { index } => {
                write!(f, "secret {SECRET_NAME}: key #{index} (counting from 0) is listed twice; remove one")
            }
            Self::UnknownKid { kid, known } => write!(
                f,
                "variable JWT_SIGNING_KID is {kid:?}, which is none of the keys of {SECRET_NAME} (their kids: {}); set it to one of them or leave it empty to sign with the first",
                known.join(", ")
            ),
        }
    }
}

impl Keyring {
    /// Parses the secret and selects the signing key (`selected_kid`, else the first key).
    pub fn parse(secret: Option<&Secret>, selected_kid: Option<&str>) -> Result<Self, KeyError> {
        let secret = secret
            .filter(|s| !s.expose().trim().is_empty())
            .ok_or(KeyError::Missing)?;
        let document: Value =
            serde_json::from_str(secret.expose()).map_err(|e| KeyError::NotJson {
                line: e.line(),
                column: e.column(),
            })?;
        let Value::Array(entries) = document else {
            return Err(KeyError::NotAnArray);
        };
        if entries.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut keys: Vec<Key> = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let key =
                parse_private_jwk(entry).map_err(|reason| KeyError::BadKey { index, reason })?;
            if keys.iter().any(|k| k.kid == key.kid) {
                return Err(KeyError::Duplicate { index });
            }
            keys.push(key);
        }
        if let Some(kid) = selected_kid {
            let position =
                keys.iter()
                    .position(|k| k.kid == kid)
                    .ok_or_else(|| KeyError::UnknownKid {
                        kid: kid.to_owned(),
                        known: keys.iter().map(|k| k.kid.clone()).collect(),
                    })?;
            let signing = keys.remove(position);
            keys.insert(0, signing);
        }
        Ok(Self { keys })
    }

    /// A keyring of exactly these keys, the first signing (tests and tools).
    pub fn from_keys(keys: Vec<Key>) -> Self {
        assert!(!keys.is_empty(), "a keyring needs a key");
        Self { keys }
    }

    pub fn signing(&self) -> &Key {
        &self.keys[0]
    }

    /// The key a token's `kid` names, if it is one of ours.
    pub fn find(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// `{"keys":[…]}`: every key, the signing key first, public members only.
    pub fn jwks(&self) -> Jwks<'_> {
        Jwks {
            keys: self.keys.iter().map(Key::public_jwk).collect(),
        }
    }
}

fn parse_private_jwk(entry: &Value) -> Result<Key, &'static str> {
    let member = |name: &str| entry.get(name).and_then(Value::as_str);
    if !entry.is_object() {
        return Err("is not a JSON object");
    }
    if member("kty") != Some("OKP") {
        return Err("must have \"kty\":\"OKP\"");
    }
    if member("crv") != Some("Ed25519") {
        return Err("must have \"crv\":\"Ed25519\"");
    }
    let decode32 = |name: &str| -> Option<[u8; 32]> {
        let bytes = Base64UrlUnpadded::decode_vec(member(name)?).ok()?;
        bytes.try_into().ok()
    };
    let d = decode32("d")
        .ok_or("must have \"d\": the 32-byte private key, base64url without padding")?;
    let key = Key::from_signing_key(SigningKey::from_bytes(&d));
    if member("x").is_some() && decode32("x") != Some(key.verifying.to_bytes()) {
        return Err("has an \"x\" that is not the public key of its \"d\"");
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8037 Appendix A.1.
    const RFC_8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC_8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn rfc_key_json() -> String {
        format!(r#"[{{"kty":"OKP","crv":"Ed25519","d":"{RFC_8037_D}","x":"{RFC_8037_X}"}}]"#)
    }

    #[track_caller]
    fn check_error(secret: &str, want: KeyError) {
        assert_eq!(
            Keyring::parse(Some(&Secret::new(secret)), None).unwrap_err(),
            want
        );
    }

    #[test]
    fn rfc_8037_key_has_the_rfc_thumbprint_as_kid() {
        let keys = Keyring::parse(Some(&Secret::new(rfc_key_json())), None).unwrap();
        assert_eq!(
            keys.signing().kid,
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn rfc_8037_signature_vector_is_reproduced_and_verifies() {
        // RFC 8037 Appendix A.4: Ed25519 signing is deterministic, so the exact JWS is expected.
        use jwt_compact::{alg::Ed25519, Algorithm};
        const SIGNING_INPUT: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        const SIGNATURE: &str =
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
        let keys = Keyring::parse(Some(&Secret::new(rfc_key_json())), None).unwrap();
        let key = keys.signing();
        let signature = Ed25519.sign(key.signing_key(), SIGNING_INPUT.as_bytes());
        assert_eq!(
            Base64UrlUnpadded::encode_string(&signature.to_bytes()),
            SIGNATURE
        );
        assert!(Ed25519.verify_signature(&signature, &key.verifying, SIGNING_INPUT.as_bytes()));
        assert_eq!(
            Base64UrlUnpadded::encode_string(key.verifying.as_bytes()),
            RFC_8037_X
        );
    }

    #[test]
    fn jwks_publishes_public_members_only() {
        let keys = Keyring::parse(Some(&Secret::new(rfc_key_json())), None).unwrap();
        assert_eq!(
            serde_json::to_string(&keys.jwks()).unwrap(),
            format!(
                r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{RFC_8037_X}","kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k","alg":"EdDSA","use":"sig"}}]}}"#
            )
        );
        assert!(!serde_json::to_string(&keys.jwks())
            .unwrap()
            .contains(RFC_8037_D));
    }

    #[test]
    fn the_selected_kid_signs_and_comes_first() {
        let (a, b) = (Key::generate(), Key::generate());
        let secret = Secret::new(format!(
            "[{},{}]",
            a.private_jwk().expose(),
            b.private_jwk().expose()
        ));
        let keys = Keyring::parse(Some(&secret), Some(&b.kid)).unwrap();
        assert_eq!(keys.signing().kid, b.kid);
        assert!(keys.find(&a.kid).is_some());
        assert!(
            serde_json::to_string(&keys.jwks()).unwrap().find(&b.kid)
                < serde_json::to_string(&keys.jwks()).unwrap().find(&a.kid)
        );
        let default = Keyring::parse(Some(&secret), None).unwrap();
        assert_eq!(default.signing().kid, a.kid);
    }

    #[test]
    fn a_selected_kid_that_is_not_listed_is_an_error() {
        let err = Keyring::parse(Some(&Secret::new(rfc_key_json())), Some("nope")).unwrap_err();
        assert!(matches!(err, KeyError::UnknownKid { .. }));
        assert!(err.to_string().contains("JWT_SIGNING_KID"));
    }

    #[test]
    fn malformed_secrets_are_errors_that_name_the_secret_and_the_fix() {
        assert_eq!(Keyring::parse(None, None).unwrap_err(), KeyError::Missing);
        check_error("", KeyError::Missing);
        check_error("[", KeyError::NotJson { line: 1, column: 1 });
        check_error(r#"{"kty":"OKP"}"#, KeyError::NotAnArray);
        check_error("[]", KeyError::Empty);
        check_error(
            r#"[{"kty":"RSA"}]"#,
            KeyError::BadKey {
                index: 0,
                reason: "must have \"kty\":\"OKP\"",
            },
        );
        check_error(
            r#"[{"kty":"OKP","crv":"Ed25519","d":"c2hvcnQ"}]"#,
            KeyError::BadKey {
                index: 0,
                reason: "must have \"d\": the 32-byte private key, base64url without padding",
            },
        );
        let mismatched =
            format!(r#"[{{"kty":"OKP","crv":"Ed25519","d":"{RFC_8037_D}","x":"{RFC_8037_D}"}}]"#);
        assert!(matches!(
            Keyring::parse(Some(&Secret::new(mismatched)), None),
            Err(KeyError::BadKey { index: 0, .. })
        ));
        for err in [KeyError::Missing, KeyError::Empty, KeyError::NotAnArray] {
            let text = err.to_string();
            assert!(
                text.contains("JWT_SIGNING_KEYS") && text.contains("wrangler secret put"),
                "{text}"
            );
        }
    }

    #[test]
    fn errors_never_repeat_the_private_key() {
        let secret = format!(r#"[{{"kty":"OKP","crv":"Ed25519","d":"{RFC_8037_D}","x":"AAAA"}}]"#);
        let err = Keyring::parse(Some(&Secret::new(secret)), None).unwrap_err();
        assert!(!err.to_string().contains(RFC_8037_D));
        assert!(!format!("{err:?}").contains(RFC_8037_D));
    }

    #[test]
    fn generated_keys_round_trip_through_their_private_jwk() {
        let key = Key::generate();
        let secret = Secret::new(format!("[{}]", key.private_jwk().expose()));
        let keys = Keyring::parse(Some(&secret), None).unwrap();
        assert_eq!(keys.signing().kid, key.kid);
        assert!(
            !format!("{key:?}").contains(&Base64UrlUnpadded::encode_string(key.signing.as_bytes()))
        );
    }
}
