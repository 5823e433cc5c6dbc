//! Accounts: the user records, registration and Bearer authentication (simplejwt's
//! `JWTAuthentication`). The forms that produce a [`Registration`] live in the contract;
//! what is decided here needs storage.

use super::keys::Keyring;
use super::passwords::PasswordHash;
use super::secret::Secret;
use super::settings::Settings;
use super::store::{Store, StoreError};
use super::tokens::{self, TokenError, TokenKind};

/// A stored user, as the login and the Bearer routes need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password: PasswordHash,
    pub is_active: bool,
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
}

impl NewUser {
    pub fn new(registration: Registration, iterations: u32) -> Self {
        let password = PasswordHash::new(&registration.password, iterations);
        Self {
            email: registration.email,
            username: registration.username,
            password,
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
) -> Result<NewUser, RegisterError<E>> {
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
        Ok(()) => Ok(user),
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

/// The active user an access token names. `store` may read a replica: a deactivation reaches
/// far locations after the replication delay.
pub async fn authenticate<S: Store>(
    store: &S,
    keys: &Keyring,
    settings: &Settings,
    token: &str,
    now: i64,
) -> Result<User, AuthError> {
    let claims = tokens::verify(keys, settings, token, Some(TokenKind::Access), now)
        .map_err(AuthError::Token)?;
    let user_id = claims.user_id.ok_or(AuthError::NoUserIdentification)?;
    let user = store
        .user_by_id(user_id)
        .await
        .map_err(AuthError::Store)?
        .ok_or(AuthError::UserNotFound)?;
    if !user.is_active {
        return Err(AuthError::UserInactive);
    }
    Ok(user)
}
