//! Access and refresh tokens (docs/contract.md §3): issuing them and validating what clients present.
//!
//! Compact JWS signed with Ed25519 (`alg: "EdDSA"`, RFC 8037) through jwt-compact. The header
//! and claims are written here, in the contract's member order (`typ, alg, kid`;
//! `token_type, exp, iat, jti, user_id, sid[, aud][, iss]`); jwt-compact signs and verifies.
//! Time comes in as `now` (epoch seconds): no clock is read here. There is no leeway, and a
//! token is expired *at* `exp`, as in simplejwt.

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::alg::Ed25519;
use jwt_compact::{Algorithm, AlgorithmExt, UntrustedToken};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::keys::Keyring;
use crate::domain::settings::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    pub fn claim(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }

    fn lifetime(self, settings: &Settings) -> i64 {
        match self {
            Self::Access => settings.access_lifetime,
            Self::Refresh => settings.refresh_lifetime,
        }
    }
}

/// Why a presented token is refused; the message is simplejwt's (docs/contract.md §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a well-formed EdDSA JWS of one of our keys, or wrong `iss`/`aud`.
    Invalid,
    /// A token of ours whose `exp` has passed. Answered like [`TokenError::Invalid`] except by
    /// dj-rest-auth's logout, which tells them apart.
    Expired,
    NoType,
    NoId,
    WrongType,
    /// A refresh token on the denylist (used, logged out or its family revoked).
    Blacklisted,
}

impl TokenError {
    pub fn message(self) -> &'static str {
        match self {
            Self::Invalid | Self::Expired => "Token is invalid or expired",
            Self::NoType => "Token has no type",
            Self::NoId => "Token has no id",
            Self::WrongType => "Token has wrong type",
            Self::Blacklisted => "Token is blacklisted",
        }
    }
}

/// A token this service just signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The compact JWS. It is a bearer credential: never log it.
    pub encoded: String,
    pub jti: String,
    /// The login (session) it belongs to: the jti of the login's first refresh token.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

/// The claims of a token whose signature, expiry, issuer and audience were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub kind: Option<TokenKind>,
    pub jti: String,
    /// `None` when the claim is missing or not an integer.
    pub user_id: Option<i64>,
    /// The session; `None` for a token issued before sessions had ids, or a foreign one.
    pub sid: Option<String>,
    /// `None` when the claim is missing.
    pub iat: Option<i64>,
    pub exp: i64,
}

#[derive(Serialize)]
struct OutgoingClaims<'a> {
    token_type: &'static str,
    exp: i64,
    iat: i64,
    jti: &'a str,
    user_id: i64,
    sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
}

/// Claims besides `exp`/`nbf`/`iat` (which jwt-compact reads). Any JSON type is accepted
/// here so that a wrong type yields the contract's message rather than a parse failure.
#[derive(Deserialize)]
struct IncomingClaims {
    #[serde(default)]
    token_type: Option<Value>,
    #[serde(default)]
    jti: Option<Value>,
    #[serde(default)]
    user_id: Option<Value>,
    #[serde(default)]
    sid: Option<Value>,
    #[serde(default)]
    iss: Option<Value>,
    #[serde(default)]
    aud: Option<Value>,
}

/// Signs a new token of `kind` for `user_id`, valid from `now` for the kind's lifetime.
pub fn issue(
    keys: &Keyring,
    settings: &Settings,
    kind: TokenKind,
    user_id: i64,
    sid: Option<&str>,
    now: i64,
) -> Issued {
    let jti = crate::domain::random::uuid4_hex();
    // A login's first refresh token names its own session.
    let sid = sid.unwrap_or(&jti).to_owned();
    let exp = now.saturating_add(kind.lifetime(settings));
    let claims = OutgoingClaims {
        token_type: kind.claim(),
        exp,
        iat: now,
        jti: &jti,
        user_id,
        sid: &sid,
        aud: settings.audience.as_deref(),
        iss: settings.issuer.as_deref(),
    };
    let key = keys.signing();
    // Serializing a struct of strings and integers cannot fail.
    let payload = serde_json::to_vec(&claims).unwrap_or_default();
    let mut encoded = String::with_capacity(key.encoded_header.len() + payload.len() * 4 / 3 + 90);
    encoded.push_str(&key.encoded_header);
    encoded.push('.');
    encoded.push_str(&Base64UrlUnpadded::encode_string(&payload));
    let signature = Ed25519.sign(key.signing_key(), encoded.as_bytes());
    encoded.push('.');
    encoded.push_str(&Base64UrlUnpadded::encode_string(&signature.to_bytes()));
    Issued {
        encoded,
        jti,
        sid,
        iat: now,
        exp,
    }
}

/// Validates `token` as docs/contract.md §3.2 orders the checks. `expected`: the kind the endpoint
/// wants, or `None` for `/token/verify/` (any kind).
pub fn verify(
    keys: &Keyring,
    settings: &Settings,
    token: &str,
    expected: Option<TokenKind>,
    now: i64,
) -> Result<Verified, TokenError> {
    let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Invalid)?;
    // Only `kid` selects a key; `jwk`, `jku`, `x5u` and `x5c` are never looked at.
    let kid = untrusted
        .header()
        .key_id
        .as_deref()
        .ok_or(TokenError::Invalid)?;
    let key = keys.find(kid).ok_or(TokenError::Invalid)?;
    // The validator refuses any `alg` but "EdDSA" before it looks at the signature.
    let token = Ed25519
        .validator::<IncomingClaims>(&key.verifying)
        .validate(&untrusted)
        .map_err(|_| TokenError::Invalid)?;
    let claims = token.claims();
    let exp = claims.expiration.ok_or(TokenError::Invalid)?.timestamp();
    if now >= exp {
        return Err(TokenError::Expired);
    }
    if claims.not_before.is_some_and(|nbf| now < nbf.timestamp()) {
        return Err(TokenError::Invalid);
    }
    let custom = &claims.custom;
    if let Some(issuer) = &settings.issuer {
        if custom.iss.as_ref().and_then(Value::as_str) != Some(issuer.as_str()) {
            return Err(TokenError::Invalid);
        }
    }
    if let Some(audience) = &settings.audience {
        // RFC 7519 §4.1.3: `aud` is one string or an array of strings.
        let accepted = match &custom.aud {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience.as_str())),
            _ => false,
        };
        if !accepted {
            return Err(TokenError::Invalid);
        }
    }
    let token_type = custom.token_type.as_ref().ok_or(TokenError::NoType)?;
    let jti = custom.jti.as_ref().ok_or(TokenError::NoId)?;
    let kind = match token_type.as_str() {
        Some("access") => Some(TokenKind::Access),
        Some("refresh") => Some(TokenKind::Refresh),
        _ => None,
    };
    if expected.is_some() && kind != expected {
        return Err(TokenError::WrongType);
    }
    Ok(Verified {
        kind,
        jti: jti.as_str().map_or_else(|| jti.to_string(), str::to_owned),
        user_id: custom.user_id.as_ref().and_then(Value::as_i64),
        sid: custom
            .sid
            .as_ref()
            .and_then(Value::as_str)
            .map(str::to_owned),
        iat: claims.issued_at.map(|iat| iat.timestamp()),
        exp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::keys::Key;
    use ed25519_dalek::SigningKey;

    const NOW: i64 = 1_700_000_000;

    fn keyring() -> Keyring {
        Keyring::from_keys(vec![Key::from_signing_key(SigningKey::from_bytes(
            &[7; 32],
        ))])
    }

    fn other_keyring() -> Keyring {
        Keyring::from_keys(vec![Key::from_signing_key(SigningKey::from_bytes(
            &[8; 32],
        ))])
    }

    fn decode_part(token: &str, index: usize) -> Value {
        let part = token.split('.').nth(index).unwrap();
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
    }

    /// Signs an arbitrary header and payload with `keys`' signing key.
    fn forge(keys: &Keyring, header: &str, payload: &str) -> String {
        let signing_input = format!(
            "{}.{}",
            Base64UrlUnpadded::encode_string(header.as_bytes()),
            Base64UrlUnpadded::encode_string(payload.as_bytes())
        );
        let signature = Ed25519.sign(keys.signing().signing_key(), signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            Base64UrlUnpadded::encode_string(&signature.to_bytes())
        )
    }

    fn our_header(keys: &Keyring) -> String {
        format!(
            r#"{{"typ":"JWT","alg":"EdDSA","kid":"{}"}}"#,
            keys.signing().kid
        )
    }

    #[track_caller]
    fn check_refused(token: &str, expected: Option<TokenKind>, now: i64, want: TokenError) {
        assert_eq!(
            verify(&keyring(), &Settings::default(), token, expected, now),
            Err(want)
        );
    }

    #[test]
    fn issued_tokens_have_the_contract_header_and_claims_in_order() {
        let keys = keyring();
        let issued = issue(
            &keys,
            &Settings::default(),
            TokenKind::Refresh,
            42,
            None,
            NOW,
        );
        let header =
            Base64UrlUnpadded::decode_vec(issued.encoded.split('.').next().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(header).unwrap(),
            format!(
                r#"{{"typ":"JWT","alg":"EdDSA","kid":"{}"}}"#,
                keys.signing().kid
            )
        );
        let payload =
            Base64UrlUnpadded::decode_vec(issued.encoded.split('.').nth(1).unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(payload).unwrap(),
            format!(
                r#"{{"token_type":"refresh","exp":{},"iat":{NOW},"jti":"{}","user_id":42,"sid":"{}"}}"#,
                NOW + 86_400,
                issued.jti,
                issued.jti
            )
        );
    }

    #[test]
    fn audience_and_issuer_are_appended_in_that_order_when_configured() {
        let settings = Settings {
            issuer: Some("iss-x".into()),
            audience: Some("aud-y".into()),
            ..Settings::default()
        };
        let issued = issue(&keyring(), &settings, TokenKind::Access, 1, None, NOW);
        let payload = decode_part(&issued.encoded, 1);
        let keys: Vec<&String> = payload.as_object().unwrap().keys().collect();
        assert_eq!(payload["aud"], "aud-y");
        assert_eq!(payload["iss"], "iss-x");
        assert_eq!(keys.len(), 8);
        assert!(verify(
            &keyring(),
            &settings,
            &issued.encoded,
            Some(TokenKind::Access),
            NOW
        )
        .is_ok());
        assert_eq!(
            verify(
                &keyring(),
                &Settings {
                    issuer: Some("other".into()),
                    ..settings.clone()
                },
                &issued.encoded,
                None,
                NOW
            ),
            Err(TokenError::Invalid)
        );
        let plain = issue(
            &keyring(),
            &Settings::default(),
            TokenKind::Access,
            1,
            None,
            NOW,
        );
        assert_eq!(
            verify(&keyring(), &settings, &plain.encoded, None, NOW),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn a_token_round_trips_until_the_second_before_exp() {
        let issued = issue(
            &keyring(),
            &Settings::default(),
            TokenKind::Access,
            7,
            None,
            NOW,
        );
        let verified = verify(
            &keyring(),
            &Settings::default(),
            &issued.encoded,
            Some(TokenKind::Access),
            NOW + 299,
        );
        assert_eq!(
            verified,
            Ok(Verified {
                kind: Some(TokenKind::Access),
                sid: Some(issued.jti.clone()),
                jti: issued.jti,
                user_id: Some(7),
                iat: Some(NOW),
                exp: NOW + 300
            })
        );
    }

    #[test]
    fn a_token_is_expired_at_exp_with_no_leeway() {
        let issued = issue(
            &keyring(),
            &Settings::default(),
            TokenKind::Access,
            7,
            None,
            NOW,
        );
        check_refused(&issued.encoded, None, NOW + 300, TokenError::Expired);
    }

    #[test]
    fn a_token_with_nbf_in_the_future_is_refused() {
        let keys = keyring();
        let payload = format!(
            r#"{{"token_type":"access","exp":{},"nbf":{},"iat":{NOW},"jti":"j","user_id":1}}"#,
            NOW + 60,
            NOW + 1
        );
        check_refused(
            &forge(&keys, &our_header(&keys), &payload),
            None,
            NOW,
            TokenError::Invalid,
        );
    }

    #[test]
    fn the_wrong_kind_is_refused_with_wrong_type() {
        let access = issue(
            &keyring(),
            &Settings::default(),
            TokenKind::Access,
            7,
            None,
            NOW,
        );
        check_refused(
            &access.encoded,
            Some(TokenKind::Refresh),
            NOW,
            TokenError::WrongType,
        );
    }

    #[test]
    fn missing_type_then_missing_id_are_reported_in_that_order() {
        let keys = keyring();
        let exp = NOW + 60;
        let no_type_no_id = forge(
            &keys,
            &our_header(&keys),
            &format!(r#"{{"exp":{exp},"user_id":1}}"#),
        );
        check_refused(
            &no_type_no_id,
            Some(TokenKind::Access),
            NOW,
            TokenError::NoType,
        );
        let no_id = forge(
            &keys,
            &our_header(&keys),
            &format!(r#"{{"token_type":"refresh","exp":{exp}}}"#),
        );
        check_refused(&no_id, Some(TokenKind::Access), NOW, TokenError::NoId);
        let no_exp = forge(
            &keys,
            &our_header(&keys),
            r#"{"token_type":"access","jti":"x"}"#,
        );
        check_refused(&no_exp, None, NOW, TokenError::Invalid);
    }

    #[test]
    fn a_token_signed_by_another_key_is_refused() {
        let foreign = issue(
            &other_keyring(),
            &Settings::default(),
            TokenKind::Access,
            7,
            None,
            NOW,
        );
        check_refused(&foreign.encoded, None, NOW, TokenError::Invalid);
        // Even when it claims our kid.
        let keys = keyring();
        let payload = format!(
            r#"{{"token_type":"access","exp":{},"iat":{NOW},"jti":"j","user_id":1}}"#,
            NOW + 60
        );
        check_refused(
            &forge(&other_keyring(), &our_header(&keys), &payload),
            None,
            NOW,
            TokenError::Invalid,
        );
    }

    #[test]
    fn any_flipped_bit_makes_the_token_invalid() {
        let issued = issue(
            &keyring(),
            &Settings::default(),
            TokenKind::Access,
            7,
            None,
            NOW,
        );
        let bytes = issued.encoded.as_bytes();
        for position in 0..bytes.len() {
            for bit in [1u8, 2, 4, 8, 16, 32] {
                let mut mangled = bytes.to_vec();
                mangled[position] ^= bit;
                let Ok(mangled) = String::from_utf8(mangled) else {
                    continue;
                };
                if mangled == issued.encoded {
                    continue;
                }
                let result = verify(&keyring(), &Settings::default(), &mangled, None, NOW);
                // Base64 has a few encodings of the same trailing bits; those decode to the
                // same bytes and are the same token.
                if let Ok(verified) = result {
                    assert_eq!(verified.jti, issued.jti, "{mangled}");
                    let same = Base64UrlUnpadded::decode_vec(mangled.rsplit('.').next().unwrap())
                        .ok()
                        == Base64UrlUnpadded::decode_vec(
                            issued.encoded.rsplit('.').next().unwrap(),
                        )
                        .ok();
                    assert!(same, "{mangled}");
                }
            }
        }
    }

    #[test]
    fn other_algorithms_and_unknown_kids_are_invalid() {
        let keys = keyring();
        let payload = format!(
            r#"{{"token_type":"access","exp":{},"iat":{NOW},"jti":"j","user_id":1}}"#,
            NOW + 60
        );
        let kid = &keys.signing().kid;
        for header in [
            format!(r#"{{"typ":"JWT","alg":"none","kid":"{kid}"}}"#),
            format!(r#"{{"typ":"JWT","alg":"HS256","kid":"{kid}"}}"#),
            format!(r#"{{"typ":"JWT","alg":"Ed25519","kid":"{kid}"}}"#),
            r#"{"typ":"JWT","alg":"EdDSA"}"#.to_owned(),
            r#"{"typ":"JWT","alg":"EdDSA","kid":"../../etc/passwd"}"#.to_owned(),
            r#"{"typ":"JWT","alg":"EdDSA","kid":"x' OR '1'='1"}"#.to_owned(),
            format!(r#"{{"typ":"JWT","alg":"EdDSA","kid":"{kid}","alg":"EdDSA"}}"#),
            "[]".to_owned(),
        ] {
            check_refused(
                &forge(&keys, &header, &payload),
                None,
                NOW,
                TokenError::Invalid,
            );
        }
        let unsigned = format!(
            "{}.{}.",
            Base64UrlUnpadded::encode_string(
                format!(r#"{{"alg":"none","kid":"{kid}"}}"#).as_bytes()
            ),
            Base64UrlUnpadded::encode_string(payload.as_bytes())
        );
        check_refused(&unsigned, None, NOW, TokenError::Invalid);
    }

    #[test]
    fn structurally_broken_tokens_are_invalid() {
        let issued = issue(
            &keyring(),
            &Settings::default(),
            TokenKind::Access,
            7,
            None,
            NOW,
        )
        .encoded;
        for token in [
            String::new(),
            "garbage".to_owned(),
            "a.b.c".to_owned(),
            format!("{issued}.extra"),
            format!("{issued}="),
            issued.replace('-', "+"),
            "x".repeat(100_000),
        ] {
            if token == issued {
                continue;
            }
            check_refused(&token, None, NOW, TokenError::Invalid);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_issued_token_round_trips_until_it_expires(
            user_id in proptest::prelude::any::<i64>(),
            now in 0i64..4_000_000_000,
            age in 0i64..300,
            refresh in proptest::prelude::any::<bool>(),
        ) {
            let kind = if refresh { TokenKind::Refresh } else { TokenKind::Access };
            let issued = issue(&keyring(), &Settings::default(), kind, user_id, None, now);
            let verified = verify(&keyring(), &Settings::default(), &issued.encoded, Some(kind), now + age).unwrap();
            proptest::prop_assert_eq!(verified.user_id, Some(user_id));
            proptest::prop_assert_eq!(verified.jti, issued.jti);
            let lifetime = if refresh { 86_400 } else { 300 };
            proptest::prop_assert_eq!(
                verify(&keyring(), &Settings::default(), &issued.encoded, Some(kind), now + lifetime),
                Err(TokenError::Expired)
            );
        }

        #[test]
        fn a_token_with_any_segment_replaced_is_refused(segment in 0usize..3, replacement in "[A-Za-z0-9_-]{0,120}") {
            let issued = issue(&keyring(), &Settings::default(), TokenKind::Access, 7, None, NOW);
            let mut parts: Vec<&str> = issued.encoded.split('.').collect();
            proptest::prop_assume!(parts[segment] != replacement);
            parts[segment] = &replacement;
            let token = parts.join(".");
            proptest::prop_assert_eq!(verify(&keyring(), &Settings::default(), &token, None, NOW), Err(TokenError::Invalid));
        }
    }

    #[test]
    fn verify_without_an_expected_kind_reports_the_kind() {
        let refresh = issue(
            &keyring(),
            &Settings::default(),
            TokenKind::Refresh,
            7,
            None,
            NOW,
        );
        let verified = verify(
            &keyring(),
            &Settings::default(),
            &refresh.encoded,
            None,
            NOW,
        )
        .unwrap();
        assert_eq!(verified.kind, Some(TokenKind::Refresh));
    }
}
