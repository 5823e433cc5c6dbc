//! Sessions: login, refresh (rotation and theft detection), verify, logout, logout
//! everywhere and the cleanup rule (docs/contract.md §4.2–§4.6, §5, §6). Every decision is here, over
//! the [`Store`] and [`Denylist`] traits; the edge only reads input and maps outcomes.
//!
//! A session is a *family* of refresh tokens: the first is issued by a login, each rotation
//! issues its successor in the same family. The store decides single use and revocation
//! atomically; the denylist only ever learns of what the store committed.

use super::accounts::User;
use super::events::{Client, Event, NewEvent};
use super::keys::Keyring;
use super::mfa;
use super::passwords::{self, PasswordHash};
use super::revocation::{self, is_theft, Revocation};
use super::secret::Secret;
use super::settings::{Settings, Verification};
use super::store::{
    Cleaned, Denylist, Entry, LoginRecord, Presented, RevokedToken, SessionRow, Sessions, Store,
    StoreError,
};
use super::throttle::{self, Buckets};
use super::tokens::{self, Issued, TokenError, TokenKind, Verified};

/// What every session decision needs besides storage and input.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub settings: &'a Settings,
    pub keys: &'a Keyring,
    /// Epoch seconds, read once per request by the caller.
    pub now: i64,
}

/// The login form's content.
#[derive(Debug)]
pub struct Credentials {
    pub email: String,
    pub password: Secret,
}

/// Why a session request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// Wrong password, unknown e-mail or inactive user: indistinguishable.
    BadCredentials,
    /// Login throttled; seconds until the fullest bucket's window ends (≥ 1).
    Throttled(i64),
    /// The presented token failed validation, or is used or revoked.
    Token(TokenError),
    /// A used refresh token presented `seconds_after_use` after its rotation, beyond the grace
    /// window: its family was revoked. Answered as a blacklisted token; a theft signal.
    Reused {
        seconds_after_use: i64,
    },
    /// The refresh token's user is deleted or inactive.
    NoActiveAccount,
    /// The session is not one of the caller's live sessions.
    NotFound,
    Store(StoreError),
}

impl From<StoreError> for SessionError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// The answer of a successful login.
#[derive(Debug)]
pub struct LoggedIn {
    pub refresh: Issued,
    pub access: Issued,
    /// The user, as the login read it.
    pub user: User,
}

/// The outcome of a password login.
#[derive(Debug)]
pub enum Login {
    LoggedIn(Box<LoggedIn>),
    /// The user has MFA on: the ephemeral token of the second step (`/mfa/verify/`).
    MfaRequired(Secret),
}

/// The answer of a successful refresh: `refresh` is the successor when rotating.
#[derive(Debug)]
pub struct Refreshed {
    pub access: Issued,
    pub refresh: Option<Issued>,
}

/// Login (`/token/`, docs/contract.md §4.2, §6). A failure is reserved in the account and client
/// buckets before any hashing, in the same round trip as the user lookup, and given back
/// unless the attempt fails; a full bucket refuses without hashing. A failed attempt costs
/// `PBKDF2_MAX_ITERATIONS` of hashing whether the user is unknown, inactive, or has a faster
/// hash than that, so timing reveals nothing. A login beyond the user's session cap revokes
/// the least recently refreshed one. A user with MFA on gets an ephemeral token instead
/// (docs/accounts.md §5); the login happens at its second step.
pub async fn login<S: Store, D: Denylist>(
    ctx: &Context<'_>,
    store: &S,
    denylist: &D,
    credentials: &Credentials,
    client: &Client,
) -> Result<Login, SessionError> {
    let settings = ctx.settings;
    let buckets = throttle::buckets(client.address(), &credentials.email);
    let (counted, user) = store
        .begin_login(
            &buckets,
            settings.throttle_window_seconds,
            ctx.now,
            &credentials.email,
        )
        .await?;
    if let Some(wait) = throttle::refusal(settings, &counted, ctx.now) {
        store.release_failures(&buckets).await?;
        return Err(SessionError::Throttled(wait));
    }
    // Every failure costs the hashing of the slowest accepted hash, whatever failed.
    let most = settings.pbkdf2_max_iterations;
    let password = &credentials.password;
    let verification = user
        .as_ref()
        .map(|user| user.password.verify(password, most));
    // With mandatory verification an unverified address fails like a wrong password, so the
    // answer does not confirm the password (docs/accounts.md §3).
    let unverified = |user: &User| {
        settings.email_verification == Verification::Mandatory && !user.email_verified
    };
    let known = user.as_ref().map(|user| user.id);
    let user = user.filter(|user| {
        user.is_active && verification.is_some_and(|v| v.matches) && !unverified(user)
    });
    let Some(user) = user else {
        let spent = verification.map_or(0, |v| v.iterations);
        passwords::burn(password, most.saturating_sub(spent));
        if let Some(user_id) = known {
            let event = NewEvent {
                user_id,
                event: Event::LoginFailed,
                at: ctx.now,
                client,
            };
            store.record_event(&event).await?;
        }
        return Err(SessionError::BadCredentials);
    };
    if user.mfa {
        // The password was right: the reservation goes back, and the second step counts its
        // own failures (mfa::verify).
        store.release_failures(&buckets).await?;
        let token = mfa::open_challenge(store, user.id, ctx.now).await?;
        return Ok(Login::MfaRequired(token));
    }
    let pair = start(
        ctx,
        store,
        denylist,
        &user,
        Some(&credentials.password),
        Some(&buckets),
        client,
    )
    .await?;
    Ok(Login::LoggedIn(Box::new(pair)))
}

/// Starts a session for `user`: issues its first tokens, records it (with the `login` event)
/// and gives back `buckets`. `password`: the password just checked, to rehash it when its
/// stored hash uses another iteration count (none for a registration's fresh hash).
pub async fn start<S: Store, D: Denylist>(
    ctx: &Context<'_>,
    store: &S,
    denylist: &D,
    user: &User,
    password: Option<&Secret>,
    buckets: Option<&Buckets>,
    client: &Client,
) -> Result<LoggedIn, SessionError> {
    let settings = ctx.settings;
    let iterations = settings.pbkdf2_iterations;
    let refresh = tokens::issue(
        ctx.keys,
        settings,
        TokenKind::Refresh,
        user.id,
        None,
        ctx.now,
    );
    let sid = Some(refresh.sid.as_str());
    let access = tokens::issue(ctx.keys, settings, TokenKind::Access, user.id, sid, ctx.now);
    // Django's rule: a hash made with another iteration count is replaced on login.
    let rehash = (user.password.iterations() != Some(iterations))
        .then_some(password)
        .flatten()
        .map(|password| PasswordHash::new(password, iterations));
    let record = LoginRecord {
        user,
        refresh: &refresh,
        buckets,
        client,
        stamp_last_login: settings.update_last_login,
        rehash: rehash.as_ref(),
        max_sessions: settings.max_sessions_per_user,
    };
    match store.record_login(&record).await {
        Ok(revoked) => publish_revoked(denylist, revoked, ctx.now).await,
        Err(error) => {
            // Not a failed login: give the reservation back if storage lets us.
            if let Some(buckets) = buckets {
                let _ = store.release_failures(buckets).await;
            }
            return Err(error.into());
        }
    }
    Ok(LoggedIn {
        refresh,
        access,
        user: user.clone(),
    })
}

/// Refresh (`/token/refresh/`, docs/contract.md §4.3, §5). With rotation, of any number of
/// concurrent refreshes of one token exactly one gets a successor; presenting a used token
/// again within the grace window is refused without consequence (a retry or a race), after it
/// revokes the whole family (a theft signal). A token the store has never seen is adopted as
/// the first of its own family. Without rotation, a live token of an active user gets an
/// access token. Either way a login lives at most `REFRESH_FAMILY_MAX_AGE_SECONDS`: past it
/// its family is revoked and the token refused as expired, so even a thief who keeps winning
/// the rotation race is out once it ends.
pub async fn refresh<S: Store, D: Denylist>(
    ctx: &Context<'_>,
    store: &S,
    denylist: &D,
    token: &str,
    client: &Client,
) -> Result<Refreshed, SessionError> {
    let settings = ctx.settings;
    let claims = verify_refresh(ctx, token)?;
    let grace = settings.refresh_reuse_grace_seconds;
    // The store alone decides, in one round trip when the token is live: the denylist is not
    // read here. Its answer could only refuse sooner what the store refuses anyway, and at
    // the edge a read of a key never written (every live token's) goes to central storage.
    // A rotation is published to it, so without one nothing is consumed.
    denylist.ready()?;
    let user_id = claims.user_id.ok_or(SessionError::NoActiveAccount)?;
    let presented = Presented::new(&claims, user_id);
    // The session every token of the login names. A token from before sessions had ids
    // carries none: its family, read from the store, is its session.
    let sid = match &claims.sid {
        Some(sid) => sid.clone(),
        None => store.token_state(presented).await?.family,
    };
    let sid = Some(sid.as_str());
    let access = || tokens::issue(ctx.keys, settings, TokenKind::Access, user_id, sid, ctx.now);
    if settings.rotate_refresh_tokens {
        let successor = tokens::issue(
            ctx.keys,
            settings,
            TokenKind::Refresh,
            user_id,
            sid,
            ctx.now,
        );
        let started_after = ctx.now - settings.family_max_age;
        if store
            .rotate(presented, &successor, started_after, ctx.now)
            .await?
        {
            let used = Entry {
                jti: claims.jti.clone(),
                exp: claims.exp,
                revocation: Revocation::Used { at: ctx.now },
            };
            // For `/token/verify/`, which reads only the denylist; after the answer.
            denylist.defer(vec![used], ctx.now);
            return Ok(Refreshed {
                access: access(),
                refresh: Some(successor),
            });
        }
    }
    // Not rotated: find out why, in the contract's order (denylist, then the user).
    let state = store.token_state(presented).await?;
    if state.revoked_at.is_some() {
        return Err(SessionError::Token(TokenError::Blacklisted));
    }
    if let Some(used_at) = state.used_at {
        if is_theft(used_at, ctx.now, grace) {
            let revoked = store.revoke_family(&state.family, ctx.now).await?;
            publish_revoked(denylist, revoked, ctx.now).await;
            if state.active.is_some() {
                let event = NewEvent {
                    user_id,
                    event: Event::RefreshReuseDetected,
                    at: ctx.now,
                    client,
                };
                store.record_event(&event).await?;
            }
            return Err(SessionError::Reused {
                seconds_after_use: ctx.now - used_at,
            });
        }
        return Err(SessionError::Token(TokenError::Blacklisted));
    }
    if state.active != Some(true) {
        return Err(SessionError::NoActiveAccount);
    }
    // Issued before a password change, a reset or a deletion: ended with every other token.
    if presented.iat < state.tokens_valid_after {
        return Err(SessionError::Token(TokenError::Invalid));
    }
    if state
        .started_at
        .is_some_and(|started| started <= ctx.now - settings.family_max_age)
    {
        // The login is older than its families may live: it ends here, for every token.
        let revoked = store.revoke_family(&state.family, ctx.now).await?;
        publish_revoked(denylist, revoked, ctx.now).await;
        return Err(SessionError::Token(TokenError::Invalid));
    }
    if settings.rotate_refresh_tokens {
        // Live, active and yet not rotated: the row changed between the two operations.
        return Err(StoreError::Unavailable(
            "storage failure during rotation: the token changed between rotation and its state read"
                .to_owned(),
        )
        .into());
    }
    Ok(Refreshed {
        access: access(),
        refresh: None,
    })
}

/// Verify (`/token/verify/`, docs/contract.md §4.4): any valid token; a refresh token also must not be
/// on the denylist. An access token costs no storage at all.
pub async fn verify<D: Denylist>(
    ctx: &Context<'_>,
    denylist: &D,
    token: &str,
) -> Result<(), SessionError> {
    let claims = tokens::verify(ctx.keys, ctx.settings, token, None, ctx.now)
        .map_err(SessionError::Token)?;
    if claims.kind == Some(TokenKind::Refresh) && denylist.get(&claims.jti).await?.is_some() {
        return Err(SessionError::Token(TokenError::Blacklisted));
    }
    Ok(())
}

/// Logout of one login (`/token/blacklist/`, docs/contract.md §4.5): revokes the token and its whole
/// family. Refused as blacklisted when the token itself was already used or revoked (the
/// family is revoked all the same).
pub async fn logout<S: Store, D: Denylist>(
    ctx: &Context<'_>,
    store: &S,
    denylist: &D,
    token: &str,
) -> Result<(), SessionError> {
    let claims = verify_refresh(ctx, token)?;
    denylist.ready()?;
    let presented = Presented::new(&claims, claims.user_id.unwrap_or(0));
    let (was_live, revoked) = store.revoke_login(presented, ctx.now).await?;
    publish_revoked(denylist, revoked, ctx.now).await;
    if was_live {
        Ok(())
    } else {
        Err(SessionError::Token(TokenError::Blacklisted))
    }
}

/// Logout everywhere (`/token/blacklist/all/`, docs/contract.md §4.6): revokes every refresh token of
/// the authenticated user.
pub async fn logout_everywhere<S: Store, D: Denylist>(
    store: &S,
    denylist: &D,
    user_id: i64,
    now: i64,
    client: &Client,
) -> Result<(), SessionError> {
    denylist.ready()?;
    let event = NewEvent {
        user_id,
        event: Event::LogoutEverywhere,
        at: now,
        client,
    };
    let revoked = store.revoke_user(user_id, &event).await?;
    publish_revoked(denylist, revoked, now).await;
    Ok(())
}

/// The caller's live sessions, newest first (`/sessions/`): a login past
/// `REFRESH_FAMILY_MAX_AGE_SECONDS` is not live however fresh its refresh token, and a
/// session expires when its token does or its lifetime ends, whichever comes first.
pub async fn list<S: Store>(
    ctx: &Context<'_>,
    store: &S,
    user_id: i64,
) -> Result<Vec<SessionRow>, SessionError> {
    let max_age = ctx.settings.family_max_age;
    let mut rows = store.sessions_of(user_id, ctx.now).await?;
    rows.retain(|row| row.created_at > ctx.now - max_age);
    for row in &mut rows {
        row.expires_at = row.expires_at.min(row.created_at + max_age);
    }
    Ok(rows)
}

/// Ends sessions of the caller (`/sessions/<id>/revoke/`, `/sessions/revoke-others/`): their
/// refresh tokens are revoked; their access tokens live until they expire. Revoking one that
/// is not a live session of the caller's is not found.
pub async fn revoke<S: Store, D: Denylist>(
    store: &S,
    denylist: &D,
    user_id: i64,
    which: Sessions<'_>,
    now: i64,
    client: &Client,
) -> Result<(), SessionError> {
    denylist.ready()?;
    let revoked = store.revoke_sessions(user_id, which, now, client).await?;
    if revoked.is_empty() && matches!(which, Sessions::One(_)) {
        return Err(SessionError::NotFound);
    }
    publish_revoked(denylist, revoked, now).await;
    Ok(())
}

/// A token introspection found active (RFC 7662).
#[derive(Debug, Clone)]
pub struct Active {
    pub kind: TokenKind,
    pub claims: Verified,
    pub user: User,
}

/// Introspection (`/token/introspect/`, RFC 7662): a token is active when its signature,
/// expiry, issuer and audience hold, it is not on the denylist, its user exists, is active and
/// has not ended tokens since its `iat`, its session has a live refresh token, and, for a
/// refresh token, it is itself unused and unrevoked. Reads only.
pub async fn introspect<S: Store, D: Denylist>(
    ctx: &Context<'_>,
    store: &S,
    denylist: &D,
    token: &str,
) -> Result<Option<Active>, StoreError> {
    let Ok(claims) = tokens::verify(ctx.keys, ctx.settings, token, None, ctx.now) else {
        return Ok(None);
    };
    let (Some(kind), Some(user_id)) = (claims.kind, claims.user_id) else {
        return Ok(None);
    };
    let refresh = kind == TokenKind::Refresh;
    if refresh && denylist.get(&claims.jti).await?.is_some() {
        return Ok(None);
    }
    let jti = refresh.then_some(claims.jti.as_str());
    let live = store
        .liveness(user_id, claims.sid.as_deref(), jti, ctx.now)
        .await?;
    let Some(user) = live.user else {
        return Ok(None);
    };
    let ended = claims.iat.unwrap_or(0) < user.tokens_valid_after;
    if !user.is_active || ended || !live.session_live || !live.token_live {
        return Ok(None);
    }
    Ok(Some(Active { kind, claims, user }))
}

/// Revocation (`/token/revoke/`, RFC 7009): a refresh token ends its login, an access token
/// its session; anything else (invalid, expired, foreign) is ignored, as the RFC asks.
pub async fn revoke_token<S: Store, D: Denylist>(
    ctx: &Context<'_>,
    store: &S,
    denylist: &D,
    token: &str,
    client: &Client,
) -> Result<(), StoreError> {
    let Ok(claims) = tokens::verify(ctx.keys, ctx.settings, token, None, ctx.now) else {
        return Ok(());
    };
    let Some(user_id) = claims.user_id else {
        return Ok(());
    };
    denylist.ready()?;
    let revoked = match (claims.kind, claims.sid.as_deref()) {
        (Some(TokenKind::Refresh), _) => {
            store
                .revoke_login(Presented::new(&claims, user_id), ctx.now)
                .await?
                .1
        }
        (Some(TokenKind::Access), Some(sid)) => {
            store
                .revoke_sessions(user_id, Sessions::One(sid), ctx.now, client)
                .await?
        }
        _ => Vec::new(),
    };
    publish_revoked(denylist, revoked, ctx.now).await;
    Ok(())
}

/// The scheduled cleanup: refresh-token rows an hour past their expiry (see
/// [`revocation::CLEANUP_MARGIN_SECONDS`]) and ended throttle windows. The denylist cleans
/// itself: every entry expires with its token.
pub async fn cleanup<S: Store>(
    store: &S,
    settings: &Settings,
    now: i64,
) -> Result<Cleaned, StoreError> {
    store
        .delete_expired(
            revocation::cleanup_cutoff(now),
            settings.throttle_window_seconds,
            now,
        )
        .await
}

fn verify_refresh(ctx: &Context<'_>, token: &str) -> Result<Verified, SessionError> {
    tokens::verify(
        ctx.keys,
        ctx.settings,
        token,
        Some(TokenKind::Refresh),
        ctx.now,
    )
    .map_err(SessionError::Token)
}

/// Publishes what the store just revoked. Used tokens are on the denylist already, since
/// their rotation.
pub(super) async fn publish_revoked<D: Denylist>(
    denylist: &D,
    revoked: Vec<RevokedToken>,
    now: i64,
) {
    let entries: Vec<Entry> = revoked
        .into_iter()
        .filter(|token| token.used_at.is_none())
        .map(|token| Entry {
            jti: token.jti,
            exp: token.expires_at,
            revocation: Revocation::Revoked,
        })
        .collect();
    if !entries.is_empty() {
        denylist.publish(&entries, now).await;
    }
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
