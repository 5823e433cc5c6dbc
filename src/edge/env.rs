//! The one reader of the Worker's environment. Bindings and names:
//!
//! | name | kind | use |
//! |---|---|---|
//! | `DB` | D1 database | users, refresh tokens, login failures (`schema.sql`) |
//! | `DENYLIST` | KV namespace | revoked refresh-token jtis |
//! | `JWT_SIGNING_KEYS` | secret | Ed25519 private JWKs (API.md §9) |
//! | every name of [`Settings`] | var | tunables, defaults in `wrangler.toml` |
//!
//! Settings and keys are parsed once per isolate. Configuration errors are logged with what
//! is wrong and how to fix it, and answered with the contract's generic 500; a missing
//! storage binding is answered 503 like any storage failure.

use std::sync::OnceLock;

use worker::Env;

use crate::api::ApiError;
use crate::keys::{KeyError, Keyring, SECRET_NAME};
use crate::secret::Secret;
use crate::settings::{Settings, SettingsError};
use crate::store::{d1::Db, kv::Denylist};

const D1_BINDING: &str = "DB";
const KV_BINDING: &str = "DENYLIST";

pub struct Config {
    pub settings: Settings,
    keys: Result<Keyring, KeyError>,
}

static CONFIG: OnceLock<Result<Config, SettingsError>> = OnceLock::new();

/// The isolate's configuration, parsed on first use.
pub fn load(env: &Env) -> Result<&'static Config, ApiError> {
    let config = CONFIG.get_or_init(|| {
        let settings = Settings::from_vars(|name| env.var(name).ok().map(|v| v.to_string()))?;
        let secret = env
            .secret(SECRET_NAME)
            .ok()
            .map(|s| Secret::new(s.to_string()));
        let keys = Keyring::parse(secret.as_ref(), settings.signing_kid.as_deref());
        Ok(Config { settings, keys })
    });
    config.as_ref().map_err(|error| {
        worker::console_error!("configuration error: {error}");
        ApiError::Internal
    })
}

impl Config {
    /// The signing keys, or the contract's 500 with a log line saying how to fix them.
    pub fn keys(&self) -> Result<&Keyring, ApiError> {
        self.keys.as_ref().map_err(|error| {
            worker::console_error!("configuration error: {error}");
            ApiError::Internal
        })
    }
}

/// The D1 primary: writes and every read that must be exact.
pub fn db(env: &Env) -> Result<Db, ApiError> {
    d1(env).map(Db::primary)
}

/// D1 for reads that may lag by the replication delay (the nearest read replica).
pub fn db_replica(env: &Env) -> Result<Db, ApiError> {
    d1(env).map(Db::nearest_replica)
}

fn d1(env: &Env) -> Result<worker::D1Database, ApiError> {
    env.d1(D1_BINDING).map_err(|_| {
        worker::console_error!(
            "storage failure: no D1 binding named {D1_BINDING}; add [[d1_databases]] binding = \"{D1_BINDING}\" to wrangler.toml"
        );
        ApiError::Unavailable
    })
}

pub fn denylist(env: &Env) -> Result<Denylist, ApiError> {
    env.kv(KV_BINDING).map(Denylist).map_err(|_| {
        worker::console_error!(
            "storage failure: no KV binding named {KV_BINDING}; add [[kv_namespaces]] binding = \"{KV_BINDING}\" to wrangler.toml"
        );
        ApiError::Unavailable
    })
}
