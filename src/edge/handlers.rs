//! One function per endpoint: read the input into typed values, make the core and storage
//! calls, map the outcome to a [`Reply`]. Errors are [`ApiError`]s, answered by `http`.

use worker::worker_sys::web_sys::Request;
use worker::Env;

use crate::api::{json_string, ApiError, Reply};
use crate::body::{FieldValue, Fields};
use crate::config::{self, Config};
use crate::denylist::{is_theft, Revocation};
use crate::http;
use crate::passwords;
use crate::routes::Route;
use crate::store::d1::{Db, RevokedToken};
use crate::store::kv::{Denylist, Entry};
use crate::throttle;
use crate::tokens::{self, TokenError, TokenKind};
use crate::users::{self, Login, NewUser, RegistrationCheck, User};

/// Everything a handler needs besides its input.
struct Context<'a> {
    env: &'a Env,
    config: &'static Config,
    /// Epoch seconds, read once per request.
    now: i64,
}

fn now() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

pub async fn dispatch(
    route: Route,
    method: &str,
    req: &Request,
    env: &Env,
) -> Result<Reply, ApiError> {
    // The documents need no configuration: they stay readable while it is broken.
    if matches!(route, Route::OpenApi | Route::Demo) {
        if !route.accepts(method) {
            return Err(ApiError::MethodNotAllowed(method.to_owned()));
        }
        return Ok(if route == Route::OpenApi {
            crate::documents::openapi()
        } else {
            crate::documents::demo_page()
        });
    }
    let ctx = Context {
        env,
        config: config::load(env)?,
        now: now(),
    };
    let user = if route.needs_bearer() {
        Some(authenticate(&ctx, req).await?)
    } else {
        None
    };
    if !route.accepts(method) {
        return Err(ApiError::MethodNotAllowed(method.to_owned()));
    }
    if method == "OPTIONS" {
        return Ok(Reply::json(200, route.metadata()));
    }
    match (route, user) {
        (Route::Jwks, _) => jwks(&ctx),
        (Route::Dashboard, Some(user)) if method == "GET" => Ok(dashboard_get(&user)),
        (Route::Dashboard, Some(user)) => Ok(dashboard_post(&user, &http::read_fields(req).await?)),
        (Route::TokenBlacklistAll, Some(user)) => logout_everywhere(&ctx, &user).await,
        (route, _) => {
            let fields = http::read_fields(req).await?;
            match route {
                Route::Register => register(&ctx, &fields).await,
                Route::Token => login(&ctx, &fields, http::client_ip(req).as_deref()).await,
                Route::TokenRefresh => refresh(&ctx, &fields).await,
                Route::TokenVerify => verify(&ctx, &fields).await,
                Route::TokenBlacklist => logout(&ctx, &fields).await,
                _ => Err(ApiError::Internal),
            }
        }
    }
}

/// The Cron Trigger: deletes expired refresh-token rows and ended throttle windows from D1.
/// The KV denylist cleans itself: every entry expires with its token.
pub async fn cleanup(env: &Env) {
    let result = async {
        let config = config::load(env)?;
        let now = now();
        let db = config::db(env)?;
        let window = config.settings.throttle_window_seconds;
        Ok::<_, ApiError>(
            db.delete_expired(crate::denylist::cleanup_cutoff(now), window, now)
                .await?,
        )
    }
    .await;
    match result {
        Ok((tokens, windows)) => worker::console_log!(
            "cleanup: deleted {tokens} expired refresh-token rows and {windows} ended throttle windows"
        ),
        Err(_) => worker::console_error!("cleanup failed; it will run again at the next trigger"),
    }
}

/// Bearer authentication (simplejwt's `JWTAuthentication`): an access token of an active user.
async fn authenticate(ctx: &Context<'_>, req: &Request) -> Result<User, ApiError> {
    let header = http::authorization(req);
    let token = crate::api::bearer_token(header.as_deref())?.ok_or(ApiError::NotAuthenticated)?;
    let keys = ctx.config.keys()?;
    let claims = tokens::verify(
        keys,
        &ctx.config.settings,
        token,
        Some(TokenKind::Access),
        ctx.now,
    )
    .map_err(ApiError::BearerToken)?;
    let user_id = claims.user_id.ok_or(ApiError::NoUserIdentification)?;
    // A replica read: a deactivation reaches far locations after the replication delay.
    let user = config::db_replica(ctx.env)?
        .user_by_id(user_id)
        .await?
        .ok_or(ApiError::UserNotFound)?;
    if !user.is_active {
        return Err(ApiError::UserInactive);
    }
    Ok(user)
}

fn jwks(ctx: &Context<'_>) -> Result<Reply, ApiError> {
    let keys = ctx.config.keys()?;
    Ok(Reply::json(200, keys.jwks_json()).with_header("Cache-Control", "public, max-age=300"))
}

async fn register(ctx: &Context<'_>, fields: &Fields) -> Result<Reply, ApiError> {
    let check = RegistrationCheck::new(fields);
    let db = config::db(ctx.env)?;
    let taken = match check.email() {
        Some(email) => db.email_taken(email).await?,
        None => false,
    };
    let registration = check.finish(taken)?;
    let user = NewUser::new(registration, ctx.config.settings.pbkdf2_iterations);
    match db.insert_user(&user, ctx.now).await {
        Ok(()) => Ok(Reply::json(
            201,
            format!(
                r#"{{"email":{},"username":{}}}"#,
                json_string(&user.email),
                json_string(&user.username)
            ),
        )),
        // Lost a race with a concurrent registration of the same address.
        Err(crate::store::StoreError::Conflict) => {
            Err(crate::body::FieldErrors::one("email", users::DUPLICATE_EMAIL).into())
        }
        Err(error) => Err(error.into()),
    }
}

async fn login(
    ctx: &Context<'_>,
    fields: &Fields,
    client_ip: Option<&str>,
) -> Result<Reply, ApiError> {
    let login = Login::new(fields)?;
    let settings = &ctx.config.settings;
    let keys = ctx.config.keys()?;
    let db = config::db(ctx.env)?;
    // Count this attempt as a failure before any hashing (and look the user up in the same
    // round trip); the reservation is given back unless the attempt fails.
    let buckets = throttle::buckets(client_ip, &login.email);
    let ([account, client], user) = db
        .begin_login(
            &buckets,
            settings.throttle_window_seconds,
            ctx.now,
            &login.email,
        )
        .await?;
    if let Some(wait) = throttle::refusal(settings, account, client, ctx.now) {
        db.release_failures(&buckets).await?;
        return Err(ApiError::Throttled(wait));
    }
    let iterations = settings.pbkdf2_iterations;
    // Exactly one hashing in every case, so the answer's timing reveals nothing.
    let user = match user {
        Some(user) => {
            let matches = user.password.verify(&login.password, iterations);
            (matches && user.is_active).then_some(user)
        }
        None => {
            passwords::burn(&login.password, iterations);
            None
        }
    };
    let user = user.ok_or(ApiError::BadCredentials)?;
    let refresh = tokens::issue(keys, settings, TokenKind::Refresh, user.id, ctx.now);
    let access = tokens::issue(keys, settings, TokenKind::Access, user.id, ctx.now);
    // Django's rule: a hash made with another iteration count is replaced on login.
    let rehash = (user.password.iterations() != Some(iterations))
        .then(|| passwords::PasswordHash::new(&login.password, iterations));
    let recorded = db
        .record_login(
            &user,
            &refresh,
            &buckets,
            settings.update_last_login,
            rehash.as_ref(),
        )
        .await;
    if let Err(error) = recorded {
        // Not a failed login: give the reservation back if storage lets us.
        let _ = db.release_failures(&buckets).await;
        return Err(error.into());
    }
    Ok(Reply::tokens(format!(
        r#"{{"refresh":"{}","access":"{}"}}"#,
        refresh.encoded, access.encoded
    )))
}

/// Writes revocations to KV after D1 committed them. D1 stays the source of truth, so a KV
/// failure is logged (by the store) and does not undo the answer.
async fn publish(denylist: &Denylist, revoked: Vec<RevokedToken>, now: i64) {
    let entries: Vec<Entry> = revoked
        .into_iter()
        // Used tokens are on the denylist already, since their rotation.
        .filter(|token| token.used_at.is_none())
        .map(|token| Entry {
            jti: token.jti,
            exp: token.expires_at,
            revocation: Revocation::Revoked,
        })
        .collect();
    let _ = denylist.put_all(&entries, now).await;
}

async fn refresh(ctx: &Context<'_>, fields: &Fields) -> Result<Reply, ApiError> {
    let token = users::token_field(fields, "refresh")?;
    let settings = &ctx.config.settings;
    let keys = ctx.config.keys()?;
    let claims = tokens::verify(
        keys,
        settings,
        token.expose(),
        Some(TokenKind::Refresh),
        ctx.now,
    )
    .map_err(ApiError::Token)?;
    let denylist = config::denylist(ctx.env)?;
    let db = config::db(ctx.env)?;
    let grace = settings.refresh_reuse_grace_seconds;
    // Fast rejection from the edge cache; only D1 decides that a token is still usable.
    let cached = denylist.get(&claims.jti).await?;
    match cached {
        Some(Revocation::Revoked) => return Err(ApiError::Token(TokenError::Blacklisted)),
        Some(Revocation::Used { at }) if !is_theft(at, ctx.now, grace) => {
            return Err(ApiError::Token(TokenError::Blacklisted))
        }
        _ => {}
    }
    let user_id = claims.user_id.ok_or(ApiError::NoActiveAccountForToken)?;
    let access = || tokens::issue(keys, settings, TokenKind::Access, user_id, ctx.now);
    if settings.rotate_refresh_tokens && cached.is_none() {
        let successor = tokens::issue(keys, settings, TokenKind::Refresh, user_id, ctx.now);
        if db
            .rotate(&claims.jti, claims.exp, user_id, &successor, ctx.now)
            .await?
        {
            let used = Entry {
                jti: claims.jti,
                exp: claims.exp,
                revocation: Revocation::Used { at: ctx.now },
            };
            let _ = denylist.put_all(&[used], ctx.now).await;
            return Ok(Reply::tokens(format!(
                r#"{{"access":"{}","refresh":"{}"}}"#,
                access().encoded,
                successor.encoded
            )));
        }
    }
    // Not rotated: find out why, in the contract's order (denylist, then the user).
    let state = db.token_state(&claims.jti, user_id, claims.exp).await?;
    if state.revoked_at.is_some() {
        return Err(ApiError::Token(TokenError::Blacklisted));
    }
    if let Some(used_at) = state.used_at {
        if is_theft(used_at, ctx.now, grace) {
            let revoked = db.revoke_family(&state.family, ctx.now).await?;
            worker::console_warn!(
                "refresh token reused {}s after rotation: its family was revoked",
                ctx.now - used_at
            );
            publish(&denylist, revoked, ctx.now).await;
        }
        return Err(ApiError::Token(TokenError::Blacklisted));
    }
    if state.active != Some(1) {
        return Err(ApiError::NoActiveAccountForToken);
    }
    if settings.rotate_refresh_tokens {
        // Live, active and yet not rotated: the row changed between the two statements.
        return Err(ApiError::Unavailable);
    }
    Ok(Reply::tokens(format!(
        r#"{{"access":"{}"}}"#,
        access().encoded
    )))
}

async fn verify(ctx: &Context<'_>, fields: &Fields) -> Result<Reply, ApiError> {
    let token = users::token_field(fields, "token")?;
    let keys = ctx.config.keys()?;
    let claims = tokens::verify(keys, &ctx.config.settings, token.expose(), None, ctx.now)
        .map_err(ApiError::Token)?;
    if claims.kind == Some(TokenKind::Refresh)
        && config::denylist(ctx.env)?.get(&claims.jti).await?.is_some()
    {
        return Err(ApiError::Token(TokenError::Blacklisted));
    }
    Ok(Reply::json(200, "{}".to_owned()))
}

async fn logout(ctx: &Context<'_>, fields: &Fields) -> Result<Reply, ApiError> {
    let token = users::token_field(fields, "refresh")?;
    let keys = ctx.config.keys()?;
    let claims = tokens::verify(
        keys,
        &ctx.config.settings,
        token.expose(),
        Some(TokenKind::Refresh),
        ctx.now,
    )
    .map_err(ApiError::Token)?;
    let denylist = config::denylist(ctx.env)?;
    let db: Db = config::db(ctx.env)?;
    let user_id = claims.user_id.unwrap_or(0);
    let (was_live, revoked) = db
        .blacklist(&claims.jti, user_id, claims.exp, ctx.now)
        .await?;
    publish(&denylist, revoked, ctx.now).await;
    if was_live {
        Ok(Reply::json(200, "{}".to_owned()))
    } else {
        Err(ApiError::Token(TokenError::Blacklisted))
    }
}

async fn logout_everywhere(ctx: &Context<'_>, user: &User) -> Result<Reply, ApiError> {
    let denylist = config::denylist(ctx.env)?;
    let revoked = config::db(ctx.env)?.revoke_user(user.id, ctx.now).await?;
    publish(&denylist, revoked, ctx.now).await;
    Ok(Reply::json(200, "{}".to_owned()))
}

fn dashboard_get(user: &User) -> Reply {
    let text = format!("Hey{}, you are seeing GET response", user.username);
    Reply::json(200, format!(r#"{{"response":{}}}"#, json_string(&text)))
}

fn dashboard_post(user: &User, fields: &Fields) -> Reply {
    let text = match fields.get("text") {
        None | Some(FieldValue::Null) => "None".to_owned(),
        Some(FieldValue::Text(text)) => text.clone(),
        Some(FieldValue::Number(raw) | FieldValue::Composite(raw)) => raw.clone(),
        Some(FieldValue::Bool(value)) => value.to_string(),
    };
    let text = format!("Hey{}, your text is {text}", user.username);
    Reply::json(200, format!(r#"{{"response":{}}}"#, json_string(&text)))
}
