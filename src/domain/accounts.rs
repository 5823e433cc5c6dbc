//! Accounts: the user records, registration and Bearer authentication (simplejwt's
//! `JWTAuthentication`). The forms that produce a [`Registration`] live in the contract;
//! what is decided here needs storage.

use super::events::{Client, EventRow};
use super::keys::Keyring;
use super::passwords::PasswordHash;
use super::recovery::QUOTA_WINDOW_SECONDS;
use super::secret::Secret;
use super::settings::Settings;
use super::store::{Profile, Quota, Store, StoreError};
use super::throttle;
use super::tokens::{self, TokenError, TokenKind};

/// A stored user. `Debug` shows neither the e-mail nor the names (logs name no address).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub password: PasswordHash,
    pub is_active: bool,
    pub email_verified: bool,
    /// Epoch seconds: a token issued earlier is refused (password change, reset, deletion).
    pub tokens_valid_after: i64,
    /// As stored (SQLite `datetime` text or a Django dump's ISO text); part of reset tokens.
    pub last_login: Option<String>,
    /// TOTP is on: a password login needs the second step (docs/accounts.md §5).
    pub mfa: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("is_active", &self.is_active)
            .field("email_verified", &self.email_verified)
            .field("tokens_valid_after", &self.tokens_valid_after)
            .field("mfa", &self.mfa)
            .finish_non_exhaustive()
    }
}

/// A registration that passed every check, ready to be hashed and stored.
#[derive(Debug)]
pub struct Registration {
    /// As given, trimmed; unique ASCII-case-insensitively.
    pub email: String,
    pub username: String,
    pub password: Secret,
}

/// A user to insert: the password is already hashed.
#[derive(Debug)]
pub struct NewUser {
    pub email: String,
    pub username: String,
    pub password: PasswordHash,
    /// Registrations start unverified; only the e-mail's link verifies them.
    pub email_verified: bool,
}

impl NewUser {
    pub fn new(registration: Registration, iterations: u32) -> Self {
        let password = PasswordHash::new(&registration.password, iterations);
        Self {
            email: registration.email,
            username: registration.username,
            password,
            email_verified: false,
        }
    }
}

/// Why a registration was not stored.
#[derive(Debug, PartialEq, Eq)]
pub enum RegisterError<E> {
    /// The form's own validation failed (given whether the e-mail is taken).
    Invalid(E),
    /// A concurrent registration of the same e-mail won the race.
    EmailTaken,
    Store(StoreError),
}

/// Takes one sign-up from the client's hourly quota (`REGISTRATIONS_PER_CLIENT_PER_HOUR`; 0,
/// the default, is no quota), before the form is checked, as DRF's throttles run before the
/// view: every attempt counts. A caller without a client address (another Worker through a
/// service binding) shares no bucket with the others and is not counted.
pub async fn take_sign_up<S: Store>(
    store: &S,
    settings: &Settings,
    client: &Client,
    now: i64,
) -> Result<Quota, StoreError> {
    let Some(address) = client
        .address()
        .filter(|_| settings.registrations_per_client > 0)
    else {
        return Ok(Quota::Taken);
    };
    let bucket = throttle::client_key("r", address);
    let limit = i64::from(settings.registrations_per_client);
    store
        .take_quota(&[(bucket.as_str(), limit)], QUOTA_WINDOW_SECONDS, now)
        .await
}

/// Registers a user. `validate` completes the form's checks with the one fact only storage
/// knows, whether `email` (the form's e-mail, when it is valid) is taken; the password is
/// hashed only once the whole form passed. Of concurrent registrations of one e-mail, in any
/// ASCII case, exactly one is stored.
pub async fn register<S: Store, E>(
    store: &S,
    email: Option<&str>,
    validate: impl FnOnce(bool) -> Result<Registration, E>,
    iterations: u32,
    now: i64,
) -> Result<(i64, NewUser), RegisterError<E>> {
    let taken = match email {
        Some(email) => store
            .email_taken(email)
            .await
            .map_err(RegisterError::Store)?,
        None => false,
    };
    let registration = validate(taken).map_err(RegisterError::Invalid)?;
    let user = NewUser::new(registration, iterations);
    match store.insert_user(&user, now).await {
        Ok(id) => Ok((id, user)),
        Err(StoreError::Conflict) => Err(RegisterError::EmailTaken),
        Err(error) => Err(RegisterError::Store(error)),
    }
}

/// Why a Bearer access token does not authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    Token(TokenError),
    /// The token has no usable `user_id` claim.
    NoUserIdentification,
    UserNotFound,
    UserInactive,
    Store(StoreError),
}

/// Who a Bearer access token authenticates, and the session it belongs to.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// `None` for a token from before sessions had ids.
    pub sid: Option<String>,
}

/// The active user an access token names, provided the token was issued after the user's
/// `tokens_valid_after` (a password change, reset or deletion ends every access token at
/// once; docs/accounts.md §2). `store` may read a replica: a deactivation or a password change
/// reaches far locations after the replication delay.
pub async fn authenticate<S: Store>(
    store: &S,
    keys: &Keyring,
    settings: &Settings,
    token: &str,
    now: i64,
) -> Result<Principal, AuthError> {
    let claims = tokens::verify(keys, settings, token, Some(TokenKind::Access), now)
        .map_err(AuthError::Token)?;
    let user_id = claims.user_id.ok_or(AuthError::NoUserIdentification)?;
    let user = store
        .user_by_id(user_id)
        .await
        .map_err(AuthError::Store)?
        .ok_or(AuthError::UserNotFound)?;
    let iat = claims.iat.unwrap_or(0);
    if iat < user.tokens_valid_after {
        return Err(AuthError::Token(TokenError::Invalid));
    }
    // `iat` has whole seconds: a token of the very second its user's tokens were ended may
    // come from before the change or after it. It stands only if its login is still live: every
    // login before the change was revoked with it, a login after it is live.
    if iat == user.tokens_valid_after && iat > 0 {
        let sid = claims.sid.as_deref();
        let live = store
            .liveness(user_id, sid, None, now)
            .await
            .map_err(AuthError::Store)?;
        if sid.is_none() || !live.session_live {
            return Err(AuthError::Token(TokenError::Invalid));
        }
    }
    if !user.is_active {
        return Err(AuthError::UserInactive);
    }
    Ok(Principal {
        user,
        sid: claims.sid,
    })
}

/// Replaces the caller's names (`/user/` PUT and PATCH, validated by the form); the user as
/// stored afterwards. `None` when the user was deleted meanwhile.
pub async fn update_profile<S: Store>(
    store: &S,
    user: &User,
    profile: Profile,
) -> Result<Option<User>, StoreError> {
    if !store.update_profile(user.id, &profile).await? {
        return Ok(None);
    }
    Ok(Some(User {
        username: profile.username,
        first_name: profile.first_name,
        last_name: profile.last_name,
        ..user.clone()
    }))
}

/// The caller's newest security events (`/user/events/`).
pub async fn events<S: Store>(store: &S, user_id: i64) -> Result<Vec<EventRow>, StoreError> {
    store.events_of(user_id, super::events::LISTED).await
}
