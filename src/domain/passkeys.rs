//! Passkeys (docs/accounts.md §6): registration by a logged-in user, passwordless login with
//! a discoverable credential, listing and deletion, over the WebAuthn checks of
//! [`super::webauthn`].
//!
//! Challenges carry their own proof of issue, so beginning a ceremony stores nothing (the
//! public `login/begin` cannot fill storage): 12 random bytes, the expiry, and an HMAC under
//! `SECRET_KEY` of both with the ceremony and the user. A challenge is spent by the store in
//! the same batch that records the passkey or its new counter, so each works once; only
//! successful ceremonies leave a row, kept until the challenge would have expired.
//!
//! A passkey login skips TOTP: the passkey is already something the user has, unlocked by
//! something they know or are.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::accounts::User;
use super::events::{Client, Event, NewEvent};
use super::random;
use super::secret::Secret;
use super::sessions::{self, Context, LoggedIn, SessionError};
use super::settings::Settings;
use super::store::{NewPasskeyRow, PasskeyAdded, PasskeyRow, Store, StoreError};
use super::text::hex;
use super::webauthn::{
    self,
    options::{
        self, CreationOptions, CredentialDescriptor, RelyingParty, RequestOptions, UserEntity,
    },
    AuthenticationResponse, Expected, RegistrationResponse, StoredPasskey, CHALLENGE_LEN,
};

/// How long a ceremony's challenge works.
pub const CHALLENGE_SECONDS: i64 = 300;
/// The longest passkey name.
pub const NAME_MAX: usize = 64;
/// Passkeys per user: a registration beyond it is refused.
pub const PER_USER: usize = 20;
const NONCE: usize = 12;
const MAC: usize = CHALLENGE_LEN - NONCE - 8;

/// Why a passkey request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasskeyError {
    /// The registration's challenge is forged, expired, spent or another user's.
    BadChallenge,
    /// The registration failed a WebAuthn check (the reason is for the log only).
    Invalid(webauthn::WebauthnError),
    /// This credential is registered already.
    Duplicate,
    TooMany,
    /// A login failed, whatever the reason: unknown credential, failed check, spent
    /// challenge, regressed counter, inactive user.
    Refused,
    /// No such passkey of the caller's.
    NotFound,
    Session(SessionError),
    Store(StoreError),
}

impl From<StoreError> for PasskeyError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<SessionError> for PasskeyError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Store(error) => Self::Store(error),
            other => Self::Session(other),
        }
    }
}

/// The relying party of a request: `WEBAUTHN_RP_ID`, `WEBAUTHN_RP_NAME` and `WEBAUTHN_ORIGINS`,
/// or the request's own host and origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub id: String,
    pub name: String,
    pub origins: Vec<String>,
}

impl Party {
    pub fn of(settings: &Settings, host: &str, origin: &str) -> Self {
        Self {
            id: settings
                .webauthn_rp_id
                .clone()
                .unwrap_or_else(|| host.to_owned()),
            name: settings.webauthn_rp_name.clone(),
            origins: if settings.webauthn_origins.is_empty() {
                vec![origin.to_owned()]
            } else {
                settings.webauthn_origins.clone()
            },
        }
    }

    fn expected<'a>(&'a self, challenge: &'a [u8]) -> Expected<'a> {
        Expected {
            challenge,
            rp_id: &self.id,
            origins: &self.origins,
            user_verification: false,
        }
    }
}

#[derive(Clone, Copy)]
enum Ceremony {
    Register = 1,
    Login = 2,
}

fn mac(key: &Secret, ceremony: Ceremony, user_id: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = key.mac("edge-auth.passkey.challenge");
    mac.update(&[ceremony as u8]);
    mac.update(&user_id.to_be_bytes());
    mac.update(body);
    mac
}

/// A new challenge for `ceremony` of `user_id` (0 for a login), valid [`CHALLENGE_SECONDS`].
fn mint(key: &Secret, ceremony: Ceremony, user_id: i64, now: i64) -> [u8; CHALLENGE_LEN] {
    let mut challenge = [0u8; CHALLENGE_LEN];
    random::fill(&mut challenge[..NONCE]);
    challenge[NONCE..NONCE + 8].copy_from_slice(&(now + CHALLENGE_SECONDS).to_be_bytes());
    let tag = mac(key, ceremony, user_id, &challenge[..NONCE + 8])
        .finalize()
        .into_bytes();
    challenge[NONCE + 8..].copy_from_slice(&tag[..MAC]);
    challenge
}

/// A challenge this service issued for `ceremony` of `user_id`, not expired at `now`: its
/// expiry and the digest under which the store spends it.
fn check(
    key: &Secret,
    ceremony: Ceremony,
    user_id: i64,
    challenge: &[u8],
    now: i64,
) -> Option<Spent> {
    if challenge.len() != CHALLENGE_LEN {
        return None;
    }
    let tag = mac(key, ceremony, user_id, &challenge[..NONCE + 8])
        .finalize()
        .into_bytes();
    if !bool::from(tag[..MAC].ct_eq(&challenge[NONCE + 8..])) {
        return None;
    }
    let mut expiry = [0u8; 8];
    expiry.copy_from_slice(&challenge[NONCE..NONCE + 8]);
    let expires_at = i64::from_be_bytes(expiry);
    (expires_at > now).then(|| Spent {
        digest: hex(&Sha256::digest(challenge)),
        expires_at,
    })
}

/// A challenge to spend: its digest and expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spent {
    pub digest: String,
    pub expires_at: i64,
}

fn b64(bytes: &[u8]) -> String {
    <base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(text).ok()
}

/// The WebAuthn user handle of a user: an HMAC of the pk, so it is stable and opaque.
pub fn user_handle(key: &Secret, user_id: i64) -> [u8; 32] {
    let mut mac = key.mac("edge-auth.passkey.user-handle");
    mac.update(&user_id.to_be_bytes());
    mac.finalize().into_bytes().into()
}

/// `POST /passkeys/register/begin/`: the options of `navigator.credentials.create`, with the
/// user's passkeys excluded.
pub async fn begin_registration<S: Store>(
    store: &S,
    user: &User,
    key: &Secret,
    party: &Party,
    now: i64,
) -> Result<CreationOptions, PasskeyError> {
    let theirs = store.passkeys_of(user.id).await?;
    // Refused now rather than at completion, when the authenticator would already hold a
    // credential the service does not know.
    if theirs.len() >= PER_USER {
        return Err(PasskeyError::TooMany);
    }
    let exclude = theirs
        .iter()
        .filter_map(|row| Some(CredentialDescriptor::new(&unb64(&row.id)?, &row.transports)))
        .collect();
    let challenge = mint(key, Ceremony::Register, user.id, now);
    let rp = RelyingParty {
        id: party.id.clone(),
        name: party.name.clone(),
    };
    let entity = UserEntity::new(&user_handle(key, user.id), &user.email, &user.username);
    Ok(options::creation_options(rp, entity, &challenge, exclude))
}

/// What `POST /passkeys/register/complete/` brings: the browser's answer and a name.
#[derive(Debug, Clone, Copy)]
pub struct Enrolment<'a> {
    pub response: &'a RegistrationResponse,
    pub name: &'a str,
}

/// `POST /passkeys/register/complete/`: a `create` answer to a live challenge of this user's
/// becomes a passkey with the enrolment's name.
pub async fn complete_registration<S: Store>(
    store: &S,
    user: &User,
    key: &Secret,
    party: &Party,
    enrolment: Enrolment<'_>,
    now: i64,
    client: &Client,
) -> Result<PasskeyRow, PasskeyError> {
    let Enrolment { response, name } = enrolment;
    let challenge = webauthn::challenge_of(&response.response.client_data_json)
        .map_err(PasskeyError::Invalid)?;
    let spent = check(key, Ceremony::Register, user.id, &challenge, now)
        .ok_or(PasskeyError::BadChallenge)?;
    let new = webauthn::verify_registration(response, &party.expected(&challenge))
        .map_err(PasskeyError::Invalid)?;
    let row = NewPasskeyRow {
        user_id: user.id,
        id: b64(&new.credential_id),
        name,
        public_key: b64(&new.public_key),
        sign_count: new.sign_count,
        transports: &new.transports,
        backup_eligible: new.backup_eligible,
        created_at: now,
    };
    let event = NewEvent {
        user_id: user.id,
        event: Event::PasskeyAdded,
        at: now,
        client,
    };
    match store.add_passkey(&row, &spent, PER_USER, &event).await? {
        PasskeyAdded::Added => Ok(PasskeyRow {
            id: row.id,
            name: name.to_owned(),
            created_at: now,
            last_used_at: None,
            transports: new.transports,
        }),
        PasskeyAdded::ChallengeSpent => Err(PasskeyError::BadChallenge),
        PasskeyAdded::Duplicate => Err(PasskeyError::Duplicate),
        PasskeyAdded::TooMany => Err(PasskeyError::TooMany),
    }
}

/// `POST /passkeys/login/begin/`: the options of `navigator.credentials.get`, for any
/// discoverable credential (none is listed: that would tell which addresses have one).
pub fn begin_login(key: &Secret, party: &Party, now: i64) -> RequestOptions {
    let challenge = mint(key, Ceremony::Login, 0, now);
    options::request_options(&party.id, &challenge, Vec::new())
}

/// `POST /passkeys/login/complete/`: a `get` answer to a live login challenge, signed by a
/// registered passkey with a counter that moved on (or stays 0), logs its user in. Every
/// failure is the same [`PasskeyError::Refused`].
pub async fn complete_login<S: Store, D: super::store::Denylist>(
    ctx: &Context<'_>,
    store: &S,
    denylist: &D,
    key: &Secret,
    party: &Party,
    response: &AuthenticationResponse,
    client: &Client,
) -> Result<LoggedIn, PasskeyError> {
    let now = ctx.now;
    let challenge = webauthn::challenge_of(&response.response.client_data_json)
        .map_err(|_| PasskeyError::Refused)?;
    let spent = check(key, Ceremony::Login, 0, &challenge, now).ok_or(PasskeyError::Refused)?;
    let presented = webauthn::presented_credential(response).map_err(|_| PasskeyError::Refused)?;
    let id = b64(&presented.credential_id);
    let stored = store.passkey(&id).await?.ok_or(PasskeyError::Refused)?;
    let public_key = unb64(&stored.public_key).ok_or(PasskeyError::Refused)?;
    let handle = user_handle(key, stored.user_id);
    let passkey = StoredPasskey {
        credential_id: &presented.credential_id,
        public_key: &public_key,
        sign_count: stored.sign_count,
        backup_eligible: stored.backup_eligible,
        user_handle: &handle,
    };
    let verified = webauthn::verify_authentication(response, &party.expected(&challenge), &passkey)
        .map_err(|_| PasskeyError::Refused)?;
    let used = store
        .use_passkey(&id, stored.sign_count, verified.sign_count, &spent, now)
        .await?;
    if !used {
        return Err(PasskeyError::Refused);
    }
    let user = store
        .user_by_id(stored.user_id)
        .await?
        .filter(|user| user.is_active)
        .ok_or(PasskeyError::Refused)?;
    Ok(sessions::start(ctx, store, denylist, &user, None, None, client).await?)
}

/// `GET /passkeys/`: the user's passkeys, newest first.
pub async fn list<S: Store>(store: &S, user_id: i64) -> Result<Vec<PasskeyRow>, PasskeyError> {
    Ok(store.passkeys_of(user_id).await?)
}

/// `DELETE /passkeys/<id>/`: one of the caller's passkeys.
pub async fn delete<S: Store>(
    store: &S,
    user_id: i64,
    id: &str,
    now: i64,
    client: &Client,
) -> Result<(), PasskeyError> {
    let event = NewEvent {
        user_id,
        event: Event::PasskeyRemoved,
        at: now,
        client,
    };
    if store.delete_passkey(user_id, id, &event).await? {
        Ok(())
    } else {
        Err(PasskeyError::NotFound)
    }
}

#[cfg(test)]
#[path = "passkeys_tests.rs"]
mod tests;
