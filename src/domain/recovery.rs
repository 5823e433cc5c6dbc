//! Passwords and addresses (docs/accounts.md §3): password change, password reset by e-mail,
//! e-mail verification, and the mails they send. Reset tokens and verification keys are
//! Django's (`PasswordResetTokenGenerator`, `signing.dumps`) under `SECRET_KEY`, so links a
//! Django app sharing the key issues work here and the other way round.
//!
//! The routes that mail answer before anything is looked up: the mail is prepared by
//! [`reset_mail`] / [`verification_mail`] after the answer, so neither the answer nor its
//! timing tells whether an address has an account.

use serde_json::json;

use super::accounts::User;
use super::django_tokens::{self, ResetSubject};
use super::events::{Client, Event, NewEvent};
use super::passwords::PasswordHash;
use super::secret::Secret;
use super::sessions::Context;
use super::store::{Denylist, PasswordReplacement, Quota, Store, StoreError};
use super::throttle;

/// The salt of e-mail verification keys (allauth's).
const EMAIL_KEY_SALT: &str = "account";
/// Mails of one kind to one address per hour, and mails of any kind per client per hour
/// (docs/accounts.md §1).
pub const MAILS_PER_ADDRESS: i64 = 3;
pub const MAILS_PER_CLIENT: i64 = 20;
/// Every quota (mails, registrations) counts per hour.
pub const QUOTA_WINDOW_SECONDS: i64 = 3600;

/// Why an account request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountError {
    /// The password given to confirm the request is wrong (or changed meanwhile).
    WrongPassword,
    /// Too many failed attempts: seconds until the window ends.
    Throttled(i64),
    /// A reset link's uid is malformed.
    BadUid,
    /// A reset link's token is wrong, expired or used, or its user is gone.
    BadToken,
    /// A verification key is wrong, expired or used; a session is not the caller's live one.
    NotFound,
    Store(StoreError),
}

impl From<StoreError> for AccountError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// A mail to send after the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub kind: MailKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailKind {
    /// The reset link (a credential: never logged).
    PasswordReset { link: Secret },
    /// The verification link (a credential: never logged).
    Verification { link: Secret },
}

impl MailKind {
    fn name(&self) -> &'static str {
        match self {
            Self::PasswordReset { .. } => "reset",
            Self::Verification { .. } => "verify",
        }
    }
}

/// Where links point: `FRONTEND_URL`, or the request's origin.
pub fn link(template: &str, origin: &str, parts: &[(&str, &str)]) -> String {
    let mut link = template.replace("{origin}", origin);
    for (name, value) in parts {
        link = link.replace(&format!("{{{name}}}"), value);
    }
    link
}

/// Checks `password` against the user's, counting a failure in the login throttle of the
/// account (as a login would) before hashing; a match gives the reservation back. The user as
/// stored now (read from the primary) when it matches.
async fn check_password<S: Store>(
    ctx: &Context<'_>,
    store: &S,
    user: &User,
    password: &Secret,
    client: &Client,
) -> Result<Option<User>, AccountError> {
    let settings = ctx.settings;
    let buckets = throttle::buckets(client.address(), &user.email);
    let window = settings.throttle_window_seconds;
    let (counted, current) = store
        .begin_login(&buckets, window, ctx.now, &user.email)
        .await?;
    if let Some(wait) = throttle::refusal(settings, &counted, ctx.now) {
        store.release_failures(&buckets).await?;
        return Err(AccountError::Throttled(wait));
    }
    let most = settings.pbkdf2_max_iterations;
    let current = current
        .filter(|current| current.id == user.id)
        .filter(|current| current.password.verify(password, most).matches);
    if current.is_some() {
        store.release_failures(&buckets).await?;
    }
    Ok(current)
}

/// Password change (`/password/change/`). `old`: the old password when its field is
/// well-formed; it is checked (throttled like a login) and `finish` gets the verdict and the
/// user, and completes the form (dj-rest-auth reports a wrong old password with the other
/// fields' errors). Ends every login and every access token of the user.
pub async fn change_password<S: Store, D: Denylist, E>(
    ctx: &Context<'_>,
    store: &S,
    denylist: &D,
    user: &User,
    old: Option<&Secret>,
    finish: impl FnOnce(Option<bool>, &User) -> Result<Secret, E>,
    client: &Client,
) -> Result<(), FormError<E>> {
    denylist.ready()?;
    let checked = match old {
        Some(old) => Some(check_password(ctx, store, user, old, client).await?),
        None => None,
    };
    let verdict = checked.as_ref().map(Option::is_some);
    let current = checked.flatten();
    let new = finish(verdict, current.as_ref().unwrap_or(user)).map_err(FormError::Invalid)?;
    let Some(current) = current else {
        return Err(FormError::Account(AccountError::WrongPassword));
    };
    let hash = PasswordHash::new(&new, ctx.settings.pbkdf2_iterations);
    let replacement = PasswordReplacement {
        user_id: current.id,
        expected: &current.password,
        new: &hash,
        now: ctx.now,
        event: NewEvent {
            user_id: current.id,
            event: Event::PasswordChanged,
            at: ctx.now,
            client,
        },
        forget: None,
    };
    // `None`: changed by a concurrent request since it was checked; `old` is not the password.
    let revoked = store
        .replace_password(&replacement)
        .await?
        .ok_or(FormError::Account(AccountError::WrongPassword))?;
    super::sessions::publish_revoked(denylist, revoked, ctx.now).await;
    Ok(())
}

/// Account deletion (`/user/delete/`): `password` must be the current one (throttled like a
/// login). Deletes the user and every row of theirs; every token dies at once.
pub async fn delete_account<S: Store, D: Denylist>(
    ctx: &Context<'_>,
    store: &S,
    denylist: &D,
    user: &User,
    password: &Secret,
    client: &Client,
) -> Result<(), AccountError> {
    denylist.ready()?;
    let current = check_password(ctx, store, user, password, client)
        .await?
        .ok_or(AccountError::WrongPassword)?;
    let revoked = store.delete_user(current.id, ctx.now).await?;
    super::sessions::publish_revoked(denylist, revoked, ctx.now).await;
    Ok(())
}

/// The reset subject of Django's token generator for `user`.
fn subject(user: &User) -> ResetSubject<'_> {
    ResetSubject {
        pk: user.id,
        password: user.password.as_str(),
        last_login: user.last_login.as_deref(),
        email: &user.email,
    }
}

/// Whether `token` resets `user`'s password now: Django's check (the hash of the password,
/// `last_login` and the address it was made on, within `PASSWORD_RESET_TIMEOUT_SECONDS`),
/// and no login started after it was issued (ours: `last_login` is stamped only with
/// `UPDATE_LAST_LOGIN`, yet a reset link must die on any later login).
async fn token_works<S: Store>(
    ctx: &Context<'_>,
    store: &S,
    secret: &Secret,
    user: &User,
    token: &str,
) -> Result<bool, StoreError> {
    let timeout = ctx.settings.password_reset_timeout;
    if !django_tokens::check_token(&subject(user), secret, token, ctx.now, timeout) {
        return Ok(false);
    }
    let issued = django_tokens::timestamp_of(token).unwrap_or(i64::MAX);
    let last_login = store.last_login_at(user.id).await?;
    Ok(last_login.is_none_or(|at| at <= issued))
}

/// Password reset, second step (`/password/reset/confirm/`), in dj-rest-auth's order: the
/// uid (malformed: refused as such; a well-formed uid of a missing or inactive user is refused
/// like a bad token, so pks cannot be probed), the token, then the new password (`validate`,
/// given the user). Of concurrent uses of one token exactly one succeeds. Success ends every
/// login and access token, and clears the account's login throttle from this client.
#[allow(clippy::too_many_arguments)]
pub async fn confirm_reset<S: Store, D: Denylist, E>(
    ctx: &Context<'_>,
    store: &S,
    denylist: &D,
    secret: &Secret,
    uid: &str,
    token: &str,
    validate: impl FnOnce(&User) -> Result<Secret, E>,
    client: &Client,
) -> Result<(), FormError<E>> {
    let id = django_tokens::uid_decode(uid).ok_or(AccountError::BadUid)?;
    let user = store.user_by_id(id).await?;
    let Some(user) = user.filter(|user| user.is_active) else {
        return Err(AccountError::BadToken.into());
    };
    if !token_works(ctx, store, secret, &user, token).await? {
        return Err(AccountError::BadToken.into());
    }
    let password = validate(&user).map_err(FormError::Invalid)?;
    denylist.ready()?;
    let hash = PasswordHash::new(&password, ctx.settings.pbkdf2_iterations);
    let buckets = throttle::buckets(client.address(), &user.email);
    let replacement = PasswordReplacement {
        user_id: user.id,
        expected: &user.password,
        new: &hash,
        now: ctx.now,
        event: NewEvent {
            user_id: user.id,
            event: Event::PasswordReset,
            at: ctx.now,
            client,
        },
        forget: Some(&buckets),
    };
    // `None`: the password changed since the token was checked, and the token died with it.
    let revoked = store
        .replace_password(&replacement)
        .await?
        .ok_or(FormError::Account(AccountError::BadToken))?;
    super::sessions::publish_revoked(denylist, revoked, ctx.now).await;
    Ok(())
}

/// Why a request with a form was refused: the form, or the account rules.
#[derive(Debug, PartialEq, Eq)]
pub enum FormError<E> {
    Invalid(E),
    Account(AccountError),
}

impl<E> From<StoreError> for FormError<E> {
    fn from(error: StoreError) -> Self {
        Self::Account(AccountError::Store(error))
    }
}

impl<E> From<AccountError> for FormError<E> {
    fn from(error: AccountError) -> Self {
        Self::Account(error)
    }
}

/// Takes one mail of `kind` for `to` from the hourly quotas: per address and kind, and per
/// client. `false`: nothing may be sent.
async fn quota<S: Store>(
    ctx: &Context<'_>,
    store: &S,
    kind: &MailKind,
    to: &str,
    client: &Client,
) -> Result<bool, StoreError> {
    let address = throttle::key("m", &[kind.name(), &to.trim().to_ascii_lowercase()]);
    let mut buckets = vec![(address.as_str(), MAILS_PER_ADDRESS)];
    let by_client = client.address().map(|ip| throttle::client_key("n", ip));
    if let Some(by_client) = &by_client {
        buckets.push((by_client.as_str(), MAILS_PER_CLIENT));
    }
    store
        .take_quota(&buckets, QUOTA_WINDOW_SECONDS, ctx.now)
        .await
        .map(|quota| quota == Quota::Taken)
}

/// The reset mail for `email`, prepared after the answer: only an active user with a usable
/// password gets one, within the quotas. `origin`: the request's, for links when
/// `FRONTEND_URL` is unset.
pub async fn reset_mail<S: Store>(
    ctx: &Context<'_>,
    store: &S,
    secret: &Secret,
    email: &str,
    origin: &str,
    client: &Client,
) -> Result<Option<Mail>, StoreError> {
    let Some(user) = store.user_by_email(email).await? else {
        return Ok(None);
    };
    if !user.is_active || !user.password.is_usable() {
        return Ok(None);
    }
    let token = django_tokens::make_token(&subject(&user), secret, ctx.now);
    let uid = django_tokens::uid_encode(user.id);
    let settings = ctx.settings;
    let origin = settings.frontend_url.as_deref().unwrap_or(origin);
    let link = link(
        &settings.password_reset_url,
        origin,
        &[("uid", &uid), ("token", &token)],
    );
    let kind = MailKind::PasswordReset {
        link: Secret::new(link),
    };
    within_quota(ctx, store, user, kind, client).await
}

/// The mail of `kind` to `user`, if the quotas have room for it.
async fn within_quota<S: Store>(
    ctx: &Context<'_>,
    store: &S,
    user: User,
    kind: MailKind,
    client: &Client,
) -> Result<Option<Mail>, StoreError> {
    if !quota(ctx, store, &kind, &user.email, client).await? {
        return Ok(None);
    }
    Ok(Some(Mail {
        to: user.email,
        kind,
    }))
}

/// The verification key of a user's address: the Django-signed pk, as allauth's HMAC keys
/// (the address cannot change, and a verified one makes the key spent).
pub fn email_key(ctx: &Context<'_>, secret: &Secret, user: &User) -> String {
    django_tokens::dumps(secret, EMAIL_KEY_SALT, &json!(user.id), ctx.now)
}

/// The verification mail for `email`, prepared after the answer: only an unverified address
/// of an existing user gets one, within the quotas.
pub async fn verification_mail<S: Store>(
    ctx: &Context<'_>,
    store: &S,
    secret: &Secret,
    email: &str,
    origin: &str,
    client: &Client,
) -> Result<Option<Mail>, StoreError> {
    let Some(user) = store.user_by_email(email).await? else {
        return Ok(None);
    };
    if user.email_verified || !user.is_active {
        return Ok(None);
    }
    let key = email_key(ctx, secret, &user);
    let settings = ctx.settings;
    let origin = settings.frontend_url.as_deref().unwrap_or(origin);
    let link = link(&settings.email_verification_url, origin, &[("key", &key)]);
    let kind = MailKind::Verification {
        link: Secret::new(link),
    };
    within_quota(ctx, store, user, kind, client).await
}

/// E-mail verification (`/registration/verify-email/`): a key of this service (or of a
/// Django app sharing the key) for the user's current, unverified address, within
/// `EMAIL_CONFIRMATION_EXPIRE_SECONDS`. Anything else is not found.
pub async fn verify_email<S: Store>(
    ctx: &Context<'_>,
    store: &S,
    secret: &Secret,
    key: &str,
    client: &Client,
) -> Result<(), AccountError> {
    let max_age = ctx.settings.email_confirmation_expire;
    let value = django_tokens::loads(secret, EMAIL_KEY_SALT, key, max_age, ctx.now)
        .ok_or(AccountError::NotFound)?;
    let id = value.as_i64().ok_or(AccountError::NotFound)?;
    let event = NewEvent {
        user_id: id,
        event: Event::EmailVerified,
        at: ctx.now,
        client,
    };
    if store.verify_email(id, &event).await? {
        Ok(())
    } else {
        Err(AccountError::NotFound)
    }
}

#[cfg(test)]
#[path = "recovery_tests.rs"]
mod tests;
