//! One function per endpoint: read the input, call one flow of the domain, map the outcome
//! to a [`Reply`]. Errors are [`ApiError`]s, logged and answered by `http`.

use worker::worker_sys::web_sys::Request;
use worker::Env;

use super::d1::D1Store;
use super::env::{self, Config};
use super::http;
use super::kv::KvDenylist;
use super::Trips;
use crate::contract::account_forms::{self as account, PasswordChange, RegistrationForm};
use crate::contract::body::{FieldErrors, FieldValue, Fields};
use crate::contract::documents;
use crate::contract::error::{bearer_token, ApiError};
use crate::contract::forms::{self, RegistrationCheck};
use crate::contract::mfa as mfa_form;
use crate::contract::passkeys as passkey_form;
use crate::contract::reply::{self, Reply};
use crate::contract::routes::{self, Document, Kind, Protected, Public, Route};
use crate::domain::accounts::{self, AuthError, Principal, User};
use crate::domain::events::Client;
use crate::domain::mfa;
use crate::domain::passkeys::{self, Party};
use crate::domain::recovery::{self, AccountError, FormError};
use crate::domain::secret::Secret;
use crate::domain::sessions::{self, Context, Login, SessionError};
use crate::domain::settings::Verification;
use crate::domain::store::{Quota, Sessions};

/// Everything a handler needs besides its input.
struct Ctx<'a> {
    env: &'a Env,
    /// Work after the answer (`waitUntil`): mail, denylist writes no answer waits for.
    waiter: &'a worker::Context,
    trips: &'a Trips,
    config: &'static Config,
    /// Epoch seconds, read once per request.
    now: i64,
}

impl<'a> Ctx<'a> {
    /// The isolate's configuration (the contract's 500 when a variable is malformed) and the
    /// request's time.
    fn load(env: &'a Env, waiter: &'a worker::Context, trips: &'a Trips) -> Result<Self, ApiError> {
        Ok(Self {
            env,
            waiter,
            trips,
            config: env::load(env)?,
            now: super::now(),
        })
    }

    /// The session flows' context: fails with the contract's 500 when the keys are broken.
    fn sessions(&self) -> Result<Context<'static>, ApiError> {
        self.config.sessions(self.now)
    }

    /// D1's primary: writes and exact reads.
    fn primary(&self) -> D1Store<'a> {
        D1Store::primary(self.env, self.trips)
    }

    /// D1's nearest replica: reads that may lag.
    fn replica(&self) -> D1Store<'a> {
        D1Store::nearest_replica(self.env, self.trips)
    }

    fn denylist(&self) -> KvDenylist<'a> {
        KvDenylist::new(self.env, self.trips, Some(self.waiter))
    }
}

pub async fn dispatch(
    route: Route,
    method: &str,
    req: &Request,
    env: &Env,
    waiter: &worker::Context,
    trips: &Trips,
) -> Result<Reply, ApiError> {
    match route.kind() {
        // The documents need no configuration: they stay readable while it is broken.
        Kind::Document(document) => {
            allow(route, method)?;
            Ok(match document {
                Document::OpenApi => documents::openapi(),
                Document::Demo => documents::demo_page(),
            })
        }
        Kind::Protected(protected) => {
            let ctx = Ctx::load(env, waiter, trips)?;
            // Authentication comes before the method check (docs/contract.md §2.4).
            let principal = authenticate(&ctx, req).await?;
            if let Some(metadata) = allow(route, method)? {
                return Ok(metadata);
            }
            let user = &principal.user;
            let client = http::client(req);
            match protected {
                Protected::Dashboard if method == "GET" => Ok(dashboard(user, None)),
                Protected::Dashboard => Ok(dashboard(user, Some(&http::read_fields(req).await?))),
                Protected::TokenBlacklistAll => logout_everywhere(&ctx, user, &client).await,
                Protected::User if matches!(method, "GET" | "HEAD") => {
                    Ok(Reply::ok(&reply::UserDetails::from(user)))
                }
                Protected::User => {
                    let fields = http::read_fields(req).await?;
                    update_user(&ctx, user, &fields, method == "PATCH").await
                }
                Protected::UserDelete => {
                    delete_user(&ctx, user, &http::read_fields(req).await?, &client).await
                }
                Protected::UserEvents => user_events(&ctx, user).await,
                Protected::PasswordChange => {
                    change_password(&ctx, user, &http::read_fields(req).await?, &client).await
                }
                Protected::Sessions => list_sessions(&ctx, &principal).await,
                Protected::SessionRevoke => {
                    let path = req.url();
                    let id = routes::session_id(routes::path_of(&path)).unwrap_or_default();
                    revoke_sessions(&ctx, user, Sessions::One(id), &client).await
                }
                Protected::SessionsRevokeOthers => {
                    let current = principal.sid.as_deref().unwrap_or_default();
                    revoke_sessions(&ctx, user, Sessions::AllBut(current), &client).await
                }
                Protected::UserInfo => Ok(Reply::ok(&reply::UserInfo::from(user))
                    .with_header("Cache-Control", "no-store")),
                Protected::MfaTotpActivate if matches!(method, "GET" | "HEAD") => {
                    begin_totp(&ctx, user)
                }
                Protected::MfaTotpActivate => activate_totp(&ctx, user, req, &client).await,
                Protected::MfaTotpDeactivate => deactivate_totp(&ctx, user, req, &client).await,
                Protected::MfaStatus => mfa_status(&ctx, user).await,
                Protected::MfaRecoveryCodes => {
                    let store = ctx.primary();
                    let remaining = mfa::remaining_codes(&store, user.id).await;
                    let remaining = remaining.map_err(mfa_form::error)?;
                    Ok(Reply::ok(&reply::RemainingCodes { remaining }))
                }
                Protected::MfaRecoveryCodesRegenerate => regenerate_codes(&ctx, user).await,
                Protected::PasskeyRegisterBegin => begin_passkey(&ctx, user, req).await,
                Protected::PasskeyRegisterComplete => {
                    let fields = http::read_fields(req).await?;
                    add_passkey(&ctx, user, &fields, req, &client).await
                }
                Protected::Passkeys => {
                    let store = ctx.primary();
                    let rows = passkeys::list(&store, user.id)
                        .await
                        .map_err(passkey_form::error)?;
                    let items: Vec<_> = rows.iter().map(reply::PasskeyItem::from).collect();
                    Ok(Reply::ok(&items).with_header("Cache-Control", "no-store"))
                }
                Protected::PasskeyDelete => {
                    let path = req.url();
                    let id = routes::passkey_id(routes::path_of(&path)).unwrap_or_default();
                    let store = ctx.primary();
                    passkeys::delete(&store, user.id, id, ctx.now, &client)
                        .await
                        .map_err(passkey_form::error)?;
                    Ok(Reply::empty(204))
                }
            }
        }
        Kind::Public(public) => {
            let ctx = Ctx::load(env, waiter, trips)?;
            // dj-rest-auth's views authenticate a Bearer token when one is sent (DRF runs the
            // authenticators before the method check), whatever they do with it.
            if public.authenticates() && http::authorization(req).is_some() {
                authenticate_if_bearer(&ctx, req).await?;
            }
            // Resource servers authenticate with one of INTROSPECTION_SECRETS, before the
            // method is checked, as every authenticated route.
            if public == Public::TokenIntrospect {
                let header = http::authorization(req);
                let secret = bearer_token(header.as_deref())?.ok_or(ApiError::NotAuthenticated)?;
                if !ctx.config.may_introspect(secret) {
                    return Err(ApiError::IncorrectCredentials);
                }
            }
            if let Some(metadata) = allow(route, method)? {
                return Ok(metadata);
            }
            match public {
                Public::Jwks => jwks(&ctx),
                Public::Register => register(&ctx, &http::read_fields(req).await?, req).await,
                Public::Token => login(&ctx, &http::read_fields(req).await?, req).await,
                Public::TokenRefresh => refresh(&ctx, &http::read_fields(req).await?).await,
                Public::TokenVerify => verify(&ctx, &http::read_fields(req).await?).await,
                Public::TokenBlacklist => logout(&ctx, &http::read_fields(req).await?).await,
                Public::Login => account_login(&ctx, &http::read_fields(req).await?, req).await,
                Public::Logout => account_logout(&ctx, &http::read_fields(req).await?).await,
                Public::Registration => {
                    registration(&ctx, &http::read_fields(req).await?, req).await
                }
                Public::VerifyEmail => {
                    verify_email(&ctx, &http::read_fields(req).await?, req).await
                }
                Public::ResendEmail => {
                    resend_email(&ctx, &http::read_fields(req).await?, req).await
                }
                Public::PasswordReset => {
                    password_reset(&ctx, &http::read_fields(req).await?, req).await
                }
                Public::PasswordResetConfirm => {
                    confirm_reset(&ctx, &http::read_fields(req).await?, req).await
                }
                Public::Discovery => discovery(&ctx, req),
                Public::TokenRevoke => revoke(&ctx, &http::read_fields(req).await?, req).await,
                Public::TokenIntrospect => introspect(&ctx, &http::read_fields(req).await?).await,
                Public::MfaVerify => mfa_verify(&ctx, &http::read_fields(req).await?, req).await,
                Public::PasskeyLoginBegin => {
                    // The optional `email` is read and ignored: every login is discoverable.
                    http::read_fields(req).await?;
                    let secret = ctx.config.secret_key()?;
                    let options = passkeys::begin_login(secret, &party(&ctx, req), ctx.now);
                    Ok(Reply::tokens(&reply::PasskeyOptions { options }))
                }
                Public::PasskeyLoginComplete => {
                    passkey_login(&ctx, &http::read_fields(req).await?, req).await
                }
            }
        }
    }
}

/// The method check (405), and a non-preflight `OPTIONS` answered with the route's metadata.
fn allow(route: Route, method: &str) -> Result<Option<Reply>, ApiError> {
    if !route.accepts(method) {
        return Err(ApiError::MethodNotAllowed(method.to_owned()));
    }
    Ok((method == "OPTIONS").then(|| Reply::metadata(route)))
}

/// The Cron Trigger: the cleanup rule of [`sessions::cleanup`], logged.
pub async fn cleanup(env: &Env) {
    let result = async {
        let config = env::load(env)?;
        let trips = Trips::default();
        let store = D1Store::primary(env, &trips);
        Ok::<_, ApiError>(sessions::cleanup(&store, &config.settings, super::now()).await?)
    }
    .await;
    match result {
        Ok(cleaned) => worker::console_log!(
            "cleanup: deleted {} expired refresh-token rows, {} ended sessions, {} ended throttle windows, \
             {} old security events, {} ended quota windows, {} expired MFA logins and {} spent passkey challenges",
            cleaned.refresh_tokens,
            cleaned.sessions,
            cleaned.throttle_windows,
            cleaned.events,
            cleaned.quota_windows,
            cleaned.challenges,
            cleaned.passkey_challenges
        ),
        Err(error) => {
            super::log(&error);
            worker::console_error!("cleanup failed; it will run again at the next trigger");
        }
    }
}

/// Bearer authentication (simplejwt's `JWTAuthentication`): an access token of an active user.
async fn authenticate(ctx: &Ctx<'_>, req: &Request) -> Result<Principal, ApiError> {
    let header = http::authorization(req);
    let token = bearer_token(header.as_deref())?.ok_or(ApiError::NotAuthenticated)?;
    let keys = ctx.config.keys()?;
    let replica = ctx.replica();
    Ok(accounts::authenticate(&replica, keys, &ctx.config.settings, token, ctx.now).await?)
}

/// Bearer authentication when the request carries a Bearer token; any other scheme is left
/// alone, as DRF leaves it.
async fn authenticate_if_bearer(ctx: &Ctx<'_>, req: &Request) -> Result<(), ApiError> {
    let header = http::authorization(req);
    if bearer_token(header.as_deref())?.is_some() {
        authenticate(ctx, req).await?;
    }
    Ok(())
}

fn jwks(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let keys = ctx.config.keys()?;
    Ok(Reply::ok(&keys.jwks()).with_header("Cache-Control", "public, max-age=300"))
}

async fn register(ctx: &Ctx<'_>, fields: &Fields, req: &Request) -> Result<Reply, ApiError> {
    let check = RegistrationCheck::new(fields);
    // The binding is resolved before validation, so a deployment without D1 answers 503 to
    // every registration.
    let store = ctx.primary().bound()?;
    ctx.begin_sign_up(&store, req).await?;
    let email = check.email().map(str::to_owned);
    let iterations = ctx.config.settings.pbkdf2_iterations;
    let validate = |taken| check.finish(taken);
    let (_, user) =
        accounts::register(&store, email.as_deref(), validate, iterations, ctx.now).await?;
    // With verification on, `/register/` also mails the link (docs/accounts.md §3).
    ctx.signed_up(&user.email, req)?;
    Ok(Reply::created(&reply::Registered {
        email: &user.email,
        username: &user.username,
    }))
}

async fn login(ctx: &Ctx<'_>, fields: &Fields, req: &Request) -> Result<Reply, ApiError> {
    let credentials = forms::login(fields)?;
    let session = ctx.sessions()?;
    let (store, denylist) = (ctx.primary(), ctx.denylist());
    let client = http::client(req);
    let pair = match sessions::login(&session, &store, &denylist, &credentials, &client).await? {
        Login::LoggedIn(pair) => pair,
        Login::MfaRequired(token) => return Ok(mfa_required(&token)),
    };
    Ok(Reply::tokens(&reply::LoginPair {
        refresh: &pair.refresh.encoded,
        access: &pair.access.encoded,
    }))
}

async fn refresh(ctx: &Ctx<'_>, fields: &Fields) -> Result<Reply, ApiError> {
    let token = forms::token_field(fields, "refresh")?;
    let session = ctx.sessions()?;
    let (store, denylist) = (ctx.primary(), ctx.denylist());
    let client = Client::default();
    let refreshed = sessions::refresh(&session, &store, &denylist, token.expose(), &client).await?;
    Ok(Reply::tokens(&reply::Refreshed {
        access: &refreshed.access.encoded,
        refresh: refreshed.refresh.as_ref().map(|t| t.encoded.as_str()),
    }))
}

async fn verify(ctx: &Ctx<'_>, fields: &Fields) -> Result<Reply, ApiError> {
    let token = forms::token_field(fields, "token")?;
    let session = ctx.sessions()?;
    sessions::verify(&session, &ctx.denylist(), token.expose()).await?;
    Ok(Reply::ok(&reply::Empty {}))
}

async fn logout(ctx: &Ctx<'_>, fields: &Fields) -> Result<Reply, ApiError> {
    let token = forms::token_field(fields, "refresh")?;
    let session = ctx.sessions()?;
    let (store, denylist) = (ctx.primary(), ctx.denylist());
    sessions::logout(&session, &store, &denylist, token.expose()).await?;
    Ok(Reply::ok(&reply::Empty {}))
}

async fn logout_everywhere(ctx: &Ctx<'_>, user: &User, client: &Client) -> Result<Reply, ApiError> {
    let (store, denylist) = (ctx.primary(), ctx.denylist());
    sessions::logout_everywhere(&store, &denylist, user.id, ctx.now, client).await?;
    Ok(Reply::ok(&reply::Empty {}))
}

fn dashboard(user: &User, fields: Option<&Fields>) -> Reply {
    let response = match fields {
        None => format!("Hey{}, you are seeing GET response", user.username),
        Some(fields) => {
            let text = match fields.get("text") {
                None | Some(FieldValue::Null) => "None".to_owned(),
                Some(FieldValue::Text(text)) => text.clone(),
                Some(FieldValue::Number(raw) | FieldValue::Composite(raw)) => raw.clone(),
                Some(FieldValue::Bool(value)) => value.to_string(),
            };
            format!("Hey{}, your text is {text}", user.username)
        }
    };
    Reply::ok(&reply::Dashboard { response })
}

/// A password login answered as dj-rest-auth's `LoginView` (docs/accounts.md §3).
async fn account_login(ctx: &Ctx<'_>, fields: &Fields, req: &Request) -> Result<Reply, ApiError> {
    let credentials = account::login(fields)?;
    let session = ctx.sessions()?;
    let (store, denylist) = (ctx.primary(), ctx.denylist());
    let client = http::client(req);
    let pair = sessions::login(&session, &store, &denylist, &credentials, &client)
        .await
        .map_err(|error| match error {
            SessionError::BadCredentials => {
                FieldErrors::one("non_field_errors", account::LOGIN_REFUSED).into()
            }
            other => ApiError::from(other),
        })?;
    let pair = match pair {
        Login::LoggedIn(pair) => pair,
        Login::MfaRequired(token) => return Ok(mfa_required(&token)),
    };
    Ok(Reply::tokens(&reply::LoggedIn::of(&pair)))
}

/// dj-rest-auth's `LogoutView` with the blacklist app: the token in the body, its errors as
/// `{"detail": …}` (docs/accounts.md §3).
async fn account_logout(ctx: &Ctx<'_>, fields: &Fields) -> Result<Reply, ApiError> {
    let token = match fields.get("refresh") {
        None => {
            return Err(ApiError::Logout(
                "Refresh token was not included in request data.",
            ))
        }
        Some(FieldValue::Text(text)) => text.clone(),
        // A number, a list, an object or null is no token (ours: null is refused too).
        Some(_) => String::new(),
    };
    let session = ctx.sessions()?;
    let (store, denylist) = (ctx.primary(), ctx.denylist());
    sessions::logout(&session, &store, &denylist, token.trim())
        .await
        .map_err(ApiError::logout)?;
    Ok(Reply::ok(&reply::Detail {
        detail: "Successfully logged out.",
    }))
}

/// dj-rest-auth's `RegisterView`: the user and a login, or with mandatory verification only
/// the mail.
async fn registration(ctx: &Ctx<'_>, fields: &Fields, req: &Request) -> Result<Reply, ApiError> {
    let form = RegistrationForm::new(fields);
    let store = ctx.primary().bound()?;
    let settings = &ctx.config.settings;
    ctx.begin_sign_up(&store, req).await?;
    let email = form.email().map(str::to_owned);
    let validate = |taken| form.finish(taken);
    let iterations = settings.pbkdf2_iterations;
    let (id, new) = accounts::register(&store, email.as_deref(), validate, iterations, ctx.now)
        .await
        .map_err(account::registration_error)?;
    ctx.signed_up(&new.email, req)?;
    if settings.email_verification == Verification::Mandatory {
        return Ok(Reply::created(&reply::Detail {
            detail: "Verification e-mail sent.",
        }));
    }
    let user = User {
        id,
        email: new.email,
        username: new.username,
        password: new.password,
        is_active: true,
        ..User::default()
    };
    let session = ctx.sessions()?;
    let denylist = ctx.denylist();
    let client = http::client(req);
    let pair = sessions::start(&session, &store, &denylist, &user, None, None, &client).await?;
    Ok(Reply::created(&reply::LoggedIn::of(&pair)).with_header("Cache-Control", "no-store"))
}

async fn verify_email(ctx: &Ctx<'_>, fields: &Fields, req: &Request) -> Result<Reply, ApiError> {
    let key = account::key(fields)?;
    let secret = ctx.config.secret_key()?;
    let session = ctx.sessions()?;
    let store = ctx.primary();
    let client = http::client(req);
    recovery::verify_email(&session, &store, secret, key.expose(), &client)
        .await
        .map_err(account_error)?;
    Ok(Reply::ok(&reply::Detail { detail: "ok" }))
}

async fn resend_email(ctx: &Ctx<'_>, fields: &Fields, req: &Request) -> Result<Reply, ApiError> {
    let email = account::email_only(fields)?;
    ctx.mail_ready()?;
    ctx.verification_mail_after(&email, req)?;
    Ok(Reply::ok(&reply::Detail { detail: "ok" }))
}

async fn password_reset(ctx: &Ctx<'_>, fields: &Fields, req: &Request) -> Result<Reply, ApiError> {
    let email = account::email_only(fields)?;
    ctx.mail_ready()?;
    ctx.reset_mail_after(&email, req)?;
    Ok(Reply::ok(&reply::Detail {
        detail: "Password reset e-mail has been sent.",
    }))
}

async fn confirm_reset(ctx: &Ctx<'_>, fields: &Fields, req: &Request) -> Result<Reply, ApiError> {
    let form = account::ResetConfirm::new(fields)?;
    let secret = ctx.config.secret_key()?;
    let session = ctx.sessions()?;
    let (store, denylist) = (ctx.primary(), ctx.denylist());
    let client = http::client(req);
    let validate = |user: &User| account::ResetConfirm::validate(&form.new, user);
    recovery::confirm_reset(
        &session,
        &store,
        &denylist,
        secret,
        &form.uid,
        &form.token,
        validate,
        &client,
    )
    .await
    .map_err(form_error)?;
    Ok(Reply::ok(&reply::Detail {
        detail: "Password has been reset with the new password.",
    }))
}

async fn update_user(
    ctx: &Ctx<'_>,
    user: &User,
    fields: &Fields,
    partial: bool,
) -> Result<Reply, ApiError> {
    let profile = account::profile(fields, user, partial)?;
    let store = ctx.primary();
    let updated = accounts::update_profile(&store, user, profile)
        .await?
        .ok_or(ApiError::UserNotFound)?;
    Ok(Reply::ok(&reply::UserDetails::from(&updated)))
}

async fn delete_user(
    ctx: &Ctx<'_>,
    user: &User,
    fields: &Fields,
    client: &Client,
) -> Result<Reply, ApiError> {
    let password = account::password_only(fields)?;
    let session = ctx.sessions()?;
    let (store, denylist) = (ctx.primary(), ctx.denylist());
    recovery::delete_account(&session, &store, &denylist, user, &password, client)
        .await
        .map_err(account_error)?;
    Ok(Reply::ok(&reply::Detail {
        detail: "Account deleted.",
    }))
}

async fn change_password(
    ctx: &Ctx<'_>,
    user: &User,
    fields: &Fields,
    client: &Client,
) -> Result<Reply, ApiError> {
    let form = PasswordChange::new(fields);
    let old = form.old();
    let session = ctx.sessions()?;
    let (store, denylist) = (ctx.primary(), ctx.denylist());
    let finish = |verdict, current: &User| form.finish(verdict, current);
    recovery::change_password(
        &session,
        &store,
        &denylist,
        user,
        old.as_ref(),
        finish,
        client,
    )
    .await
    .map_err(|error| match error {
        FormError::Account(AccountError::WrongPassword) => {
            FieldErrors::one("old_password", account::WRONG_OLD_PASSWORD).into()
        }
        other => form_error(other),
    })?;
    Ok(Reply::ok(&reply::Detail {
        detail: "New password has been saved.",
    }))
}

async fn list_sessions(ctx: &Ctx<'_>, principal: &Principal) -> Result<Reply, ApiError> {
    let store = ctx.primary();
    let rows = sessions::list(&ctx.sessions()?, &store, principal.user.id).await?;
    let current = principal.sid.as_deref();
    let items: Vec<reply::SessionItem> = rows
        .iter()
        .map(|row| reply::SessionItem {
            id: &row.id,
            created: reply::utc(row.created_at),
            last_refreshed: reply::utc(row.refreshed_at.unwrap_or(row.created_at)),
            expires: reply::utc(row.expires_at),
            user_agent: &row.user_agent,
            ip: &row.ip,
            country: &row.country,
            current: current == Some(row.id.as_str()),
        })
        .collect();
    Ok(Reply::ok(&items).with_header("Cache-Control", "no-store"))
}

async fn revoke_sessions(
    ctx: &Ctx<'_>,
    user: &User,
    which: Sessions<'_>,
    client: &Client,
) -> Result<Reply, ApiError> {
    let (store, denylist) = (ctx.primary(), ctx.denylist());
    sessions::revoke(&store, &denylist, user.id, which, ctx.now, client).await?;
    Ok(Reply::ok(&reply::Empty {}))
}

async fn user_events(ctx: &Ctx<'_>, user: &User) -> Result<Reply, ApiError> {
    let store = ctx.primary();
    let rows = accounts::events(&store, user.id).await?;
    let items: Vec<reply::EventItem> = rows
        .iter()
        .map(|row| reply::EventItem {
            event: &row.event,
            at: reply::utc(row.at),
            ip: &row.ip,
            country: &row.country,
            user_agent: &row.user_agent,
        })
        .collect();
    Ok(Reply::ok(&items).with_header("Cache-Control", "no-store"))
}

/// RFC 8414 / OpenID discovery: the issuer (`JWT_ISSUER`, or this origin) and its endpoints.
fn discovery(ctx: &Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let origin = http::origin(req);
    let issuer = ctx
        .config
        .settings
        .issuer
        .clone()
        .unwrap_or_else(|| origin.clone());
    Ok(Reply::ok(&reply::Discovery::new(issuer, &origin))
        .with_header("Cache-Control", "public, max-age=300"))
}

/// RFC 7009: 200 with an empty body whatever the token, even a blank or missing one, so the
/// answer tells a caller nothing about what it holds.
async fn revoke(ctx: &Ctx<'_>, fields: &Fields, req: &Request) -> Result<Reply, ApiError> {
    let Ok(token) = forms::token_field(fields, "token") else {
        return Ok(Reply::empty(200));
    };
    let session = ctx.sessions()?;
    let (store, denylist) = (ctx.primary(), ctx.denylist());
    let client = http::client(req);
    sessions::revoke_token(&session, &store, &denylist, token.expose(), &client).await?;
    Ok(Reply::empty(200))
}

/// The RPC entrypoint's `verify` (edge/rpc.rs): RFC 7662's answer for `token`, as JSON.
pub async fn rpc_verify(env: &Env, token: &str) -> Result<String, ApiError> {
    let config = env::load(env)?;
    let session = config.sessions(super::now())?;
    let trips = Trips::default();
    let (store, denylist) = (
        D1Store::primary(env, &trips),
        KvDenylist::new(env, &trips, None),
    );
    let active = sessions::introspect(&session, &store, &denylist, token).await?;
    let answer = reply::Introspection::of(active.as_ref(), &config.settings);
    Ok(reply::to_json(&answer))
}

/// The RPC entrypoint's `user`: the `/user/` object of the access token's user as JSON, or
/// `None` when the token does not authenticate.
pub async fn rpc_user(env: &Env, token: &str) -> Result<Option<String>, ApiError> {
    let config = env::load(env)?;
    let trips = Trips::default();
    let replica = D1Store::nearest_replica(env, &trips);
    let now = super::now();
    match accounts::authenticate(&replica, config.keys()?, &config.settings, token, now).await {
        Ok(principal) => Ok(Some(reply::to_json(&reply::UserDetails::from(
            &principal.user,
        )))),
        Err(AuthError::Store(error)) => Err(error.into()),
        Err(_) => Ok(None),
    }
}

/// RFC 7662: `{"active":false}`, or the active token's claims.
async fn introspect(ctx: &Ctx<'_>, fields: &Fields) -> Result<Reply, ApiError> {
    let token = forms::token_field(fields, "token")?;
    let session = ctx.sessions()?;
    let (store, denylist) = (ctx.primary(), ctx.denylist());
    let active = sessions::introspect(&session, &store, &denylist, token.expose()).await?;
    let answer = reply::Introspection::of(active.as_ref(), &ctx.config.settings);
    Ok(Reply::ok(&answer).with_header("Cache-Control", "no-store"))
}

/// The answers of the account rules outside a form.
/// The first step of a login with MFA on (dj-rest-auth's `MFALoginView`).
fn mfa_required(token: &Secret) -> Reply {
    Reply::tokens(&reply::MfaRequired {
        ephemeral_token: token.expose(),
        mfa_required: true,
    })
}

/// `POST /mfa/verify/`: the second step, answered as dj-rest-auth's login.
async fn mfa_verify(ctx: &Ctx<'_>, fields: &Fields, req: &Request) -> Result<Reply, ApiError> {
    let [token, code] = mfa_form::verification(fields)?;
    let secret = ctx.config.secret_key()?;
    let session = ctx.sessions()?;
    let (store, denylist) = (ctx.primary(), ctx.denylist());
    let client = http::client(req);
    let pair = mfa::verify(
        &session,
        &store,
        &denylist,
        secret,
        token.expose(),
        code.expose(),
        &client,
    )
    .await
    .map_err(mfa_form::error)?;
    Ok(Reply::tokens(&reply::LoggedIn::of(&pair)))
}

/// `GET /mfa/totp/activate/`: a new secret, its URI and QR code, and the activation token.
fn begin_totp(ctx: &Ctx<'_>, user: &User) -> Result<Reply, ApiError> {
    let secret = ctx.config.secret_key()?;
    let issuer = &ctx.config.settings.totp_issuer;
    let activation = mfa::begin_activation(user, secret, issuer, ctx.now);
    let totp_url = activation.totp_url.expose();
    Ok(Reply::tokens(&reply::TotpActivation {
        secret: activation.secret.expose(),
        totp_url,
        qr_code_data_uri: &mfa_form::qr_code_data_uri(totp_url),
        activation_token: activation.activation_token.expose(),
    }))
}

/// `POST /mfa/totp/activate/`: dj-rest-auth refuses a user with MFA on before reading the form
/// (asked of the primary: the Bearer user came from a replica).
async fn activate_totp(
    ctx: &Ctx<'_>,
    user: &User,
    req: &Request,
    client: &Client,
) -> Result<Reply, ApiError> {
    let store = ctx.primary();
    if mfa::enabled(&store, user.id)
        .await
        .map_err(mfa_form::error)?
    {
        return Err(mfa_form::error(mfa::MfaError::AlreadyEnabled));
    }
    let [token, code] = mfa_form::activation(&http::read_fields(req).await?)?;
    let secret = ctx.config.secret_key()?;
    let codes = mfa::activate(
        &store,
        user,
        secret,
        token.expose(),
        code.expose(),
        ctx.now,
        client,
    )
    .await
    .map_err(mfa_form::error)?;
    Ok(Reply::tokens(&reply::Activated {
        recovery_codes: codes.iter().map(Secret::expose).collect(),
    }))
}

/// `POST /mfa/totp/deactivate/`: dj-rest-auth refuses a user without MFA before reading the form.
async fn deactivate_totp(
    ctx: &Ctx<'_>,
    user: &User,
    req: &Request,
    client: &Client,
) -> Result<Reply, ApiError> {
    let store = ctx.primary();
    if !mfa::enabled(&store, user.id)
        .await
        .map_err(mfa_form::error)?
    {
        return Err(mfa_form::error(mfa::MfaError::NotEnabled));
    }
    let code = mfa_form::deactivation(&http::read_fields(req).await?)?;
    let session = ctx.sessions()?;
    mfa::deactivate(&session, &store, user, code.expose(), client)
        .await
        .map_err(mfa_form::error)?;
    Ok(Reply::ok(&reply::Detail {
        detail: mfa_form::DEACTIVATED,
    }))
}

async fn mfa_status(ctx: &Ctx<'_>, user: &User) -> Result<Reply, ApiError> {
    let store = ctx.primary();
    let status = mfa::status(&store, user.id)
        .await
        .map_err(mfa_form::error)?;
    Ok(Reply::ok(&reply::MfaStatus {
        mfa_enabled: status.created_at.is_some(),
        created_at: status.created_at.map(reply::utc),
        last_used_at: status.last_used_at.map(reply::utc),
    }))
}

async fn regenerate_codes(ctx: &Ctx<'_>, user: &User) -> Result<Reply, ApiError> {
    let secret = ctx.config.secret_key()?;
    let store = ctx.primary();
    let codes = mfa::regenerate_codes(&store, user.id, secret)
        .await
        .map_err(mfa_form::error)?;
    Ok(Reply::tokens(&reply::RecoveryCodes {
        codes: codes.iter().map(Secret::expose).collect(),
    }))
}

/// The passkeys' relying party for this request: configured, or the request's host and origin.
fn party(ctx: &Ctx<'_>, req: &Request) -> Party {
    let origin = http::origin(req);
    let host = origin
        .split_once("://")
        .map_or(origin.as_str(), |(_, rest)| rest);
    let host = match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') => &host[..colon],
        _ => host,
    };
    Party::of(&ctx.config.settings, host, &origin)
}

/// `POST /passkeys/register/begin/`.
async fn begin_passkey(ctx: &Ctx<'_>, user: &User, req: &Request) -> Result<Reply, ApiError> {
    let secret = ctx.config.secret_key()?;
    let store = ctx.primary();
    let options = passkeys::begin_registration(&store, user, secret, &party(ctx, req), ctx.now)
        .await
        .map_err(passkey_form::error)?;
    Ok(Reply::tokens(&reply::PasskeyOptions { options }))
}

/// `POST /passkeys/register/complete/`.
async fn add_passkey(
    ctx: &Ctx<'_>,
    user: &User,
    fields: &Fields,
    req: &Request,
    client: &Client,
) -> Result<Reply, ApiError> {
    let credential = passkey_form::credential(fields);
    let name = passkey_form::name(fields);
    let (credential, name) = match (credential, name) {
        (Ok(credential), Ok(name)) => (credential, name),
        (credential, name) => {
            let mut errors = credential.err().unwrap_or_default();
            errors.0.extend(name.err().unwrap_or_default().0);
            return Err(errors.into());
        }
    };
    let secret = ctx.config.secret_key()?;
    let store = ctx.primary();
    let party = party(ctx, req);
    let row = passkeys::complete_registration(
        &store,
        user,
        secret,
        &party,
        passkeys::Enrolment {
            response: &credential,
            name: &name,
        },
        ctx.now,
        client,
    )
    .await
    .map_err(passkey_form::error)?;
    Ok(Reply::created(&reply::PasskeyItem::from(&row)))
}

/// `POST /passkeys/login/complete/`: answered as dj-rest-auth's login.
async fn passkey_login(ctx: &Ctx<'_>, fields: &Fields, req: &Request) -> Result<Reply, ApiError> {
    let credential = passkey_form::credential(fields)?;
    let secret = ctx.config.secret_key()?;
    let session = ctx.sessions()?;
    let (store, denylist) = (ctx.primary(), ctx.denylist());
    let client = http::client(req);
    let pair = passkeys::complete_login(
        &session,
        &store,
        &denylist,
        secret,
        &party(ctx, req),
        &credential,
        &client,
    )
    .await
    .map_err(passkey_form::error)?;
    Ok(Reply::tokens(&reply::LoggedIn::of(&pair)))
}

fn account_error(error: AccountError) -> ApiError {
    match error {
        AccountError::WrongPassword => FieldErrors::one("password", account::WRONG_PASSWORD).into(),
        AccountError::Throttled(wait) => ApiError::Throttled(wait),
        AccountError::BadUid => FieldErrors::one("uid", account::INVALID_VALUE).into(),
        AccountError::BadToken => FieldErrors::one("token", account::INVALID_VALUE).into(),
        AccountError::NotFound => ApiError::NotFound,
        AccountError::Store(error) => error.into(),
    }
}

fn form_error(error: FormError<FieldErrors>) -> ApiError {
    match error {
        FormError::Invalid(errors) => errors.into(),
        FormError::Account(error) => account_error(error),
    }
}

// Sign-ups and the mail after the answer.
impl Ctx<'_> {
    /// What both sign-up routes check first: with verification on, the mail binding (the
    /// account must not be made if its mail cannot go); then one sign-up from the client's
    /// hourly quota, or DRF's 429 with `Retry-After`.
    async fn begin_sign_up(&self, store: &D1Store<'_>, req: &Request) -> Result<(), ApiError> {
        let settings = &self.config.settings;
        if settings.email_verification != Verification::None {
            self.mail_ready()?;
        }
        let quota = accounts::take_sign_up(store, settings, &http::client(req), self.now).await?;
        match quota {
            Quota::Taken => Ok(()),
            Quota::Spent { retry_after } => Err(ApiError::Throttled(retry_after)),
        }
    }

    /// After a sign-up: with verification on, the verification mail goes after the answer.
    fn signed_up(&self, email: &str, req: &Request) -> Result<(), ApiError> {
        if self.config.settings.email_verification == Verification::None {
            return Ok(());
        }
        self.verification_mail_after(email, req)
    }

    /// The mail binding, checked before any lookup so that its absence reveals nothing
    /// (docs/accounts.md §1: 503).
    fn mail_ready(&self) -> Result<(), ApiError> {
        env::mail(self.env).map(|_| ())
    }

    /// After the answer: the reset mail for `email`, if the core says one goes out.
    fn reset_mail_after(&self, email: &str, req: &Request) -> Result<(), ApiError> {
        self.mail_after(email, req, MailFlow::Reset)
    }

    /// After the answer: the verification mail for `email`, if the core says one goes out.
    fn verification_mail_after(&self, email: &str, req: &Request) -> Result<(), ApiError> {
        self.mail_after(email, req, MailFlow::Verification)
    }

    /// Everything the core decides about a mail (the user, the link, the quotas) and the
    /// sending run in `waitUntil`, so the answer and its timing are the same whoever asked.
    fn mail_after(&self, email: &str, req: &Request, flow: MailFlow) -> Result<(), ApiError> {
        let secret = self.config.secret_key()?;
        let session = self.sessions()?;
        let (env, email, origin, client) = (
            self.env.clone(),
            email.to_owned(),
            http::origin(req),
            http::client(req),
        );
        let from = &self.config.settings.email_from;
        self.waiter.wait_until(async move {
            let trips = Trips::default();
            let store = D1Store::primary(&env, &trips);
            let mail = match flow {
                MailFlow::Reset => {
                    recovery::reset_mail(&session, &store, secret, &email, &origin, &client).await
                }
                MailFlow::Verification => {
                    recovery::verification_mail(&session, &store, secret, &email, &origin, &client)
                        .await
                }
            };
            match mail {
                Ok(Some(mail)) => super::mail::send(&env, from, &mail).await,
                Ok(None) => {}
                Err(error) => super::log(&ApiError::from(error)),
            }
        });
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum MailFlow {
    Reset,
    Verification,
}
