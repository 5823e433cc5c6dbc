//! One function per endpoint: read the input, call one flow of the domain, map the outcome
//! to a [`Reply`]. Errors are [`ApiError`]s, logged and answered by `http`.

use worker::worker_sys::web_sys::Request;
use worker::Env;

use super::d1::D1Store;
use super::env::{self, Config};
use super::http;
use super::kv::KvDenylist;
use crate::contract::body::{FieldValue, Fields};
use crate::contract::documents;
use crate::contract::error::{bearer_token, ApiError};
use crate::contract::forms::{self, RegistrationCheck};
use crate::contract::reply::{self, Reply};
use crate::contract::routes::{Document, Kind, Protected, Public, Route};
use crate::domain::accounts::{self, User};
use crate::domain::sessions::{self, Context};

/// Everything a handler needs besides its input.
struct Ctx<'a> {
    env: &'a Env,
    config: &'static Config,
    /// Epoch seconds, read once per request.
    now: i64,
}

impl<'a> Ctx<'a> {
    /// The isolate's configuration (the contract's 500 when a variable is malformed) and the
    /// request's time.
    fn load(env: &'a Env) -> Result<Self, ApiError> {
        Ok(Self {
            env,
            config: env::load(env)?,
            now: super::now(),
        })
    }

    /// The session flows' context: fails with the contract's 500 when the keys are broken.
    fn sessions(&self) -> Result<Context<'static>, ApiError> {
        Ok(Context {
            settings: &self.config.settings,
            keys: self.config.keys()?,
            now: self.now,
        })
    }
}

pub async fn dispatch(
    route: Route,
    method: &str,
    req: &Request,
    env: &Env,
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
            let ctx = Ctx::load(env)?;
            // Authentication comes before the method check (docs/contract.md §2.4).
            let user = authenticate(&ctx, req).await?;
            if let Some(metadata) = allow(route, method)? {
                return Ok(metadata);
            }
            match protected {
                Protected::Dashboard if method == "GET" => Ok(dashboard(&user, None)),
                Protected::Dashboard => Ok(dashboard(&user, Some(&http::read_fields(req).await?))),
                Protected::TokenBlacklistAll => logout_everywhere(&ctx, &user).await,
            }
        }
        Kind::Public(public) => {
            let ctx = Ctx::load(env)?;
            if let Some(metadata) = allow(route, method)? {
                return Ok(metadata);
            }
            match public {
                Public::Jwks => jwks(&ctx),
                Public::Register => register(&ctx, &http::read_fields(req).await?).await,
                Public::Token => login(&ctx, &http::read_fields(req).await?, req).await,
                Public::TokenRefresh => refresh(&ctx, &http::read_fields(req).await?).await,
                Public::TokenVerify => verify(&ctx, &http::read_fields(req).await?).await,
                Public::TokenBlacklist => logout(&ctx, &http::read_fields(req).await?).await,
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
        let store = D1Store::primary(env);
        Ok::<_, ApiError>(sessions::cleanup(&store, &config.settings, super::now()).await?)
    }
    .await;
    match result {
        Ok(cleaned) => worker::console_log!(
            "cleanup: deleted {} expired refresh-token rows, {} ended sessions and {} ended throttle windows",
            cleaned.refresh_tokens,
            cleaned.sessions,
            cleaned.throttle_windows
        ),
        Err(error) => {
            super::log(&error);
            worker::console_error!("cleanup failed; it will run again at the next trigger");
        }
    }
}

/// Bearer authentication (simplejwt's `JWTAuthentication`): an access token of an active user.
async fn authenticate(ctx: &Ctx<'_>, req: &Request) -> Result<User, ApiError> {
    let header = http::authorization(req);
    let token = bearer_token(header.as_deref())?.ok_or(ApiError::NotAuthenticated)?;
    let keys = ctx.config.keys()?;
    let replica = D1Store::nearest_replica(ctx.env);
    Ok(accounts::authenticate(&replica, keys, &ctx.config.settings, token, ctx.now).await?)
}

fn jwks(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let keys = ctx.config.keys()?;
    Ok(Reply::ok(&keys.jwks()).with_header("Cache-Control", "public, max-age=300"))
}

async fn register(ctx: &Ctx<'_>, fields: &Fields) -> Result<Reply, ApiError> {
    let check = RegistrationCheck::new(fields);
    // The binding is resolved before validation, so a deployment without D1 answers 503 to
    // every registration.
    let store = D1Store::primary(ctx.env).bound()?;
    let email = check.email().map(str::to_owned);
    let iterations = ctx.config.settings.pbkdf2_iterations;
    let validate = |taken| check.finish(taken);
    let user = accounts::register(&store, email.as_deref(), validate, iterations, ctx.now).await?;
    Ok(Reply::created(&reply::Registered {
        email: &user.email,
        username: &user.username,
    }))
}

async fn login(ctx: &Ctx<'_>, fields: &Fields, req: &Request) -> Result<Reply, ApiError> {
    let credentials = forms::login(fields)?;
    let session = ctx.sessions()?;
    let (store, denylist) = (D1Store::primary(ctx.env), KvDenylist::new(ctx.env));
    let client_ip = http::client_ip(req);
    let address = client_ip.as_deref();
    let pair = sessions::login(&session, &store, &denylist, &credentials, address).await?;
    Ok(Reply::tokens(&reply::LoginPair {
        refresh: &pair.refresh.encoded,
        access: &pair.access.encoded,
    }))
}

async fn refresh(ctx: &Ctx<'_>, fields: &Fields) -> Result<Reply, ApiError> {
    let token = forms::token_field(fields, "refresh")?;
    let session = ctx.sessions()?;
    let (store, denylist) = (D1Store::primary(ctx.env), KvDenylist::new(ctx.env));
    let refreshed = sessions::refresh(&session, &store, &denylist, token.expose()).await?;
    Ok(Reply::tokens(&reply::Refreshed {
        access: &refreshed.access.encoded,
        refresh: refreshed.refresh.as_ref().map(|t| t.encoded.as_str()),
    }))
}

async fn verify(ctx: &Ctx<'_>, fields: &Fields) -> Result<Reply, ApiError> {
    let token = forms::token_field(fields, "token")?;
    let session = ctx.sessions()?;
    sessions::verify(&session, &KvDenylist::new(ctx.env), token.expose()).await?;
    Ok(Reply::ok(&reply::Empty {}))
}

async fn logout(ctx: &Ctx<'_>, fields: &Fields) -> Result<Reply, ApiError> {
    let token = forms::token_field(fields, "refresh")?;
    let session = ctx.sessions()?;
    let (store, denylist) = (D1Store::primary(ctx.env), KvDenylist::new(ctx.env));
    sessions::logout(&session, &store, &denylist, token.expose()).await?;
    Ok(Reply::ok(&reply::Empty {}))
}

async fn logout_everywhere(ctx: &Ctx<'_>, user: &User) -> Result<Reply, ApiError> {
    let (store, denylist) = (D1Store::primary(ctx.env), KvDenylist::new(ctx.env));
    sessions::logout_everywhere(&store, &denylist, user.id, ctx.now).await?;
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
