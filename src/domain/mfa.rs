//! The second factor (docs/accounts.md §5): TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps,
//! one step either side) where a code is accepted once (no step at or before the last accepted
//! one, activation included), ten recovery codes kept only as keyed digests, and single-use
//! ephemeral tokens for the login's second step. The flows of the `/mfa/` routes run over the
//! [`Store`]; the login's first step is [`super::sessions::login`].

use core::fmt::Write as _;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::accounts::User;
use super::django_tokens;
use super::events::{Client, Event, NewEvent};
use super::random;
use super::secret::Secret;
use super::sessions::{self, Context, LoggedIn, SessionError};
use super::store::{Challenge, Denylist, Proof, Store, StoreError};
use super::text::{hex, python_strip};
use super::throttle;

/// Seconds per TOTP step.
pub const STEP_SECONDS: i64 = 30;
/// The life of an ephemeral token and of an activation token.
pub const CHALLENGE_SECONDS: i64 = 300;
/// Recovery codes per user.
pub const RECOVERY_CODES: usize = 10;
/// dj-rest-auth's salt of activation tokens (django.core.signing).
const ACTIVATION_SALT: &str = "dj-rest-auth-mfa-activation";
/// pyotp's `random_base32()`: 160 bits, 32 base32 characters.
const SECRET_BYTES: usize = 20;

/// Why an MFA request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MfaError {
    AlreadyEnabled,
    NotEnabled,
    /// The activation token is malformed, forged or older than [`CHALLENGE_SECONDS`].
    BadActivationToken,
    /// The activation token was issued to another user.
    OthersActivationToken,
    /// The code does not match the secret being activated.
    BadActivationCode,
    /// The code is wrong, or of a step already used, or the recovery code is unknown or used.
    BadCode,
    /// The ephemeral token is unknown, used or expired.
    BadEphemeralToken,
    UserDisabled,
    /// Too many failed attempts on the account or from the client: seconds to wait.
    Throttled(i64),
    Session(SessionError),
    Store(StoreError),
}

impl From<StoreError> for MfaError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<SessionError> for MfaError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Throttled(wait) => Self::Throttled(wait),
            SessionError::Store(error) => Self::Store(error),
            other => Self::Session(other),
        }
    }
}

/// The TOTP step at `now`.
pub fn step_at(now: i64) -> i64 {
    now.div_euclid(STEP_SECONDS)
}

/// RFC 4226's HOTP value of `key` at `counter`, truncated to 6 digits.
pub fn hotp(key: &[u8], counter: u64) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let bytes = [
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ];
    u32::from_be_bytes(bytes) % 1_000_000
}

/// The step `code` matches, one step either side of `now`, if that step is after
/// `last_step`. The code is compared in constant time as its six-digit text, after Python's
/// `strip()` (pyotp's and dj-rest-auth's normalisation).
pub fn accept(secret: &Secret, code: &str, now: i64, last_step: i64) -> Option<i64> {
    let key = base32_decode(secret.expose())?;
    let code = python_strip(code).as_bytes();
    let current = step_at(now);
    let mut matched = None;
    for step in [current - 1, current, current + 1] {
        let Ok(counter) = u64::try_from(step) else {
            continue;
        };
        let expected = format!("{:06}", hotp(&key, counter));
        let equal: bool = expected.as_bytes().ct_eq(code).into();
        if equal && step > last_step && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// A new TOTP secret, base32 without padding (the form authenticator apps take).
pub fn new_secret() -> Secret {
    let mut bytes = [0u8; SECRET_BYTES];
    random::fill(&mut bytes);
    Secret::new(base32_encode(&bytes))
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// RFC 4648 base32, upper case, padding optional; `None` for any other character or a
/// length no encoding has.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in text.bytes() {
        let value = BASE32.iter().position(|&c| c == byte)? as u32;
        buffer = ((buffer << 5) | value) & 0xffff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// pyotp's `provisioning_uri` (what dj-rest-auth answers as `totp_url`): the account name,
/// and the issuer when there is one, percent-encoded as Python's `quote`.
pub fn provisioning_uri(secret: &Secret, account: &str, issuer: &str) -> String {
    let mut uri = String::from("otpauth://totp/");
    if !issuer.is_empty() {
        uri.push_str(&quote(issuer));
        uri.push(':');
    }
    uri.push_str(&quote(account));
    uri.push_str("?secret=");
    uri.push_str(secret.expose());
    if !issuer.is_empty() {
        uri.push_str("&issuer=");
        uri.push_str(&quote(issuer).replace('/', "%2F"));
    }
    uri
}

/// Python's `urllib.parse.quote` with its default `safe="/"`.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"_.-~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Ten new, distinct recovery codes, `xxxx-xxxx` in lower-case hex (dj-rest-auth's form).
pub fn new_recovery_codes() -> Vec<Secret> {
    let mut codes: Vec<Secret> = Vec::with_capacity(RECOVERY_CODES);
    while codes.len() < RECOVERY_CODES {
        let mut bytes = [0u8; 4];
        random::fill(&mut bytes);
        let hex = hex(&bytes);
        let code = Secret::new(format!("{}-{}", &hex[..4], &hex[4..]));
        // The store keys codes by digest: a repeat (one in 10^8) would fail the insert.
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

/// What the store keeps of a recovery code: an HMAC under `SECRET_KEY`, so a copy of the
/// database alone does not let anyone try the 2^32 codes offline. The code is normalised
/// as dj-rest-auth does (stripped, lower case).
pub fn recovery_digest(key: &Secret, user_id: i64, code: &str) -> String {
    let mut mac = key.mac("edge-auth.mfa.recovery-code");
    mac.update(user_id.to_string().as_bytes());
    mac.update(b"\0");
    mac.update(python_strip(code).to_lowercase().as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// A new ephemeral token: 256 random bits, base64url. It says nothing about the user.
pub fn new_ephemeral_token() -> Secret {
    let mut bytes = [0u8; 32];
    random::fill(&mut bytes);
    Secret::new(<base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(&bytes))
}

/// What the store keeps of an ephemeral token (its SHA-256): the table never holds a usable
/// token. Bounded whatever the input's size.
pub fn token_digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// The answer of `GET /mfa/totp/activate/`.
#[derive(Debug)]
pub struct Activation {
    pub secret: Secret,
    pub totp_url: Secret,
    /// django.core.signing of `{"uid", "secret"}` (dj-rest-auth's), valid [`CHALLENGE_SECONDS`].
    pub activation_token: Secret,
}

/// A new secret to activate, and the signed token that carries it to the confirmation.
pub fn begin_activation(user: &User, key: &Secret, issuer: &str, now: i64) -> Activation {
    let secret = new_secret();
    let payload = json!({ "uid": user.id, "secret": secret.expose() });
    let token = django_tokens::dumps(key, ACTIVATION_SALT, &payload, now);
    Activation {
        totp_url: Secret::new(provisioning_uri(&secret, &user.email, issuer)),
        secret,
        activation_token: Secret::new(token),
    }
}

/// `POST /mfa/totp/activate/`: the secret of a live activation token of this user, confirmed
/// by a current code; stores it with ten new recovery codes and answers those (shown once).
pub async fn activate<S: Store>(
    store: &S,
    user: &User,
    key: &Secret,
    activation_token: &str,
    code: &str,
    now: i64,
    client: &Client,
) -> Result<Vec<Secret>, MfaError> {
    let payload = django_tokens::loads(
        key,
        ACTIVATION_SALT,
        activation_token,
        CHALLENGE_SECONDS,
        now,
    )
    .ok_or(MfaError::BadActivationToken)?;
    if payload.get("uid").and_then(Value::as_i64) != Some(user.id) {
        return Err(MfaError::OthersActivationToken);
    }
    let secret = payload
        .get("secret")
        .and_then(Value::as_str)
        .filter(|secret| !secret.is_empty())
        .map(Secret::new)
        .ok_or(MfaError::BadActivationCode)?;
    let step = accept(&secret, code, now, i64::MIN).ok_or(MfaError::BadActivationCode)?;
    let codes = new_recovery_codes();
    let digests = digests(key, user.id, &codes);
    let event = NewEvent {
        user_id: user.id,
        event: Event::MfaEnabled,
        at: now,
        client,
    };
    if !store
        .enable_totp(user.id, &secret, step, &digests, now, &event)
        .await?
    {
        return Err(MfaError::AlreadyEnabled);
    }
    Ok(codes)
}

fn digests(key: &Secret, user_id: i64, codes: &[Secret]) -> Vec<String> {
    codes
        .iter()
        .map(|code| recovery_digest(key, user_id, code.expose()))
        .collect()
}

/// `POST /mfa/totp/deactivate/`: a current code, not used before, turns TOTP off and drops
/// the recovery codes. Failed codes count against the account's login throttle.
pub async fn deactivate<S: Store>(
    ctx: &Context<'_>,
    store: &S,
    user: &User,
    code: &str,
    client: &Client,
) -> Result<(), MfaError> {
    let totp = store.totp_of(user.id).await?.ok_or(MfaError::NotEnabled)?;
    let buckets = throttle::buckets(client.address(), &user.email);
    let settings = ctx.settings;
    let window = settings.throttle_window_seconds;
    let (counted, _) = store
        .begin_login(&buckets, window, ctx.now, &user.email)
        .await?;
    if let Some(wait) = throttle::refusal(settings, &counted, ctx.now) {
        store.release_failures(&buckets).await?;
        return Err(MfaError::Throttled(wait));
    }
    let step = accept(&totp.secret, code, ctx.now, totp.last_step).ok_or(MfaError::BadCode)?;
    let event = NewEvent {
        user_id: user.id,
        event: Event::MfaDisabled,
        at: ctx.now,
        client,
    };
    if !store.disable_totp(user.id, step, &event).await? {
        return Err(MfaError::BadCode);
    }
    store.release_failures(&buckets).await?;
    Ok(())
}

/// Whether MFA is on, read from the store's primary (a Bearer user's `mfa` comes from a
/// replica, which may lag an activation or deactivation just made).
pub async fn enabled<S: Store>(store: &S, user_id: i64) -> Result<bool, MfaError> {
    Ok(store.totp_of(user_id).await?.is_some())
}

/// `GET /mfa/status/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `None`: MFA is off.
    pub created_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

pub async fn status<S: Store>(store: &S, user_id: i64) -> Result<Status, MfaError> {
    let totp = store.totp_of(user_id).await?;
    Ok(Status {
        created_at: totp.as_ref().map(|t| t.created_at),
        last_used_at: totp.and_then(|t| t.last_used_at),
    })
}

/// `POST /mfa/recovery-codes/` (ours): how many unused recovery codes are left.
pub async fn remaining_codes<S: Store>(store: &S, user_id: i64) -> Result<i64, MfaError> {
    Ok(store
        .totp_of(user_id)
        .await?
        .map_or(0, |totp| totp.recovery_codes_left))
}

/// `POST /mfa/recovery-codes/regenerate/`: ten new codes replace every old one.
pub async fn regenerate_codes<S: Store>(
    store: &S,
    user_id: i64,
    key: &Secret,
) -> Result<Vec<Secret>, MfaError> {
    let codes = new_recovery_codes();
    if !store
        .replace_recovery_codes(user_id, &digests(key, user_id, &codes))
        .await?
    {
        return Err(MfaError::NotEnabled);
    }
    Ok(codes)
}

/// The login's first step for a user with MFA on: a new ephemeral token for
/// [`CHALLENGE_SECONDS`]; the store keeps only its digest.
pub async fn open_challenge<S: Store>(
    store: &S,
    user_id: i64,
    now: i64,
) -> Result<Secret, StoreError> {
    let token = new_ephemeral_token();
    let challenge = Challenge {
        digest: token_digest(token.expose()),
        user_id,
        expires_at: now + CHALLENGE_SECONDS,
    };
    store.open_challenge(&challenge, now).await?;
    Ok(token)
}

/// `POST /mfa/verify/`: a live ephemeral token and a TOTP code of a step not used before, or
/// an unused recovery code, log in. The token is spent with the code, atomically, so of any
/// number of concurrent attempts at most one logs in. Failed codes count against the
/// account's (and the client's) login throttle, as failed passwords do.
pub async fn verify<S: Store, D: Denylist>(
    ctx: &Context<'_>,
    store: &S,
    denylist: &D,
    key: &Secret,
    ephemeral_token: &str,
    code: &str,
    client: &Client,
) -> Result<LoggedIn, MfaError> {
    let now = ctx.now;
    let digest = token_digest(ephemeral_token);
    let (user_id, email) = store
        .challenge(&digest, now)
        .await?
        .ok_or(MfaError::BadEphemeralToken)?;
    let settings = ctx.settings;
    let buckets = throttle::buckets(client.address(), &email);
    let window = settings.throttle_window_seconds;
    let (counted, user) = store.begin_login(&buckets, window, now, &email).await?;
    if let Some(wait) = throttle::refusal(settings, &counted, now) {
        store.release_failures(&buckets).await?;
        return Err(MfaError::Throttled(wait));
    }
    let Some(user) = user.filter(|user| user.id == user_id) else {
        store.release_failures(&buckets).await?;
        return Err(MfaError::BadEphemeralToken);
    };
    if !user.is_active {
        store.release_failures(&buckets).await?;
        return Err(MfaError::UserDisabled);
    }
    let totp = store.totp_of(user.id).await?.ok_or(MfaError::BadCode)?;
    let recovery;
    let proof = match accept(&totp.secret, code, now, totp.last_step) {
        Some(step) => Proof::Step(step),
        None => {
            recovery = recovery_digest(key, user.id, code);
            Proof::RecoveryCode(&recovery)
        }
    };
    let used = NewEvent {
        user_id: user.id,
        event: Event::RecoveryCodeUsed,
        at: now,
        client,
    };
    match store
        .pass_challenge(&digest, user.id, proof, now, &used)
        .await?
    {
        Some(true) => {}
        Some(false) => return Err(MfaError::BadCode),
        None => return Err(MfaError::BadEphemeralToken),
    }
    Ok(sessions::start(ctx, store, denylist, &user, None, Some(&buckets), client).await?)
}

#[cfg(test)]
#[path = "mfa_tests.rs"]
mod tests;
