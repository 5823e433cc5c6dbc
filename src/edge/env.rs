//! The one reader of the Worker's environment: every `env.var`, `env.secret`, `env.d1` and
//! `env.kv` call is here. Bindings and names:
//!
//! | name | kind | use |
//! |---|---|---|
//! | `DB` | D1 database | users, refresh tokens, login failures (`schema.sql`) |
//! | `DENYLIST` | KV namespace | revoked refresh-token jtis |
//! | `JWT_SIGNING_KEYS` | secret | Ed25519 private JWKs (docs/contract.md §9) |
//! | every name of [`Settings`] | var | tunables, defaults in `wrangler.toml` |
//!
//! Settings and keys are parsed once per isolate. A configuration error is answered with the
//! contract's generic 500 and its cause (what is wrong and how to fix it) is logged; a
//! missing storage binding fails like any storage failure (503).

use std::sync::OnceLock;

use worker::Env;

use crate::contract::error::ApiError;
use crate::domain::keys::{KeyError, Keyring, SECRET_NAME};
use crate::domain::secret::Secret;
use crate::domain::settings::{Settings, SettingsError};
use crate::domain::store::StoreError;

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
    config
        .as_ref()
        .map_err(|error| ApiError::Internal(format!("configuration error: {error}")))
}

impl Config {
    /// The signing keys, or the contract's 500 with a cause saying how to fix them.
    pub fn keys(&self) -> Result<&Keyring, ApiError> {
        self.keys
            .as_ref()
            .map_err(|error| ApiError::Internal(format!("configuration error: {error}")))
    }
}

/// The D1 binding.
pub fn d1(env: &Env) -> Result<worker::D1Database, StoreError> {
    env.d1(D1_BINDING).map_err(|_| {
        StoreError::Unavailable(format!(
            "storage failure: no D1 binding named {D1_BINDING}; add [[d1_databases]] binding = \"{D1_BINDING}\" to wrangler.toml"
        ))
    })
}

/// The KV binding of the denylist.
pub fn kv(env: &Env) -> Result<worker::kv::KvStore, StoreError> {
    env.kv(KV_BINDING).map_err(|_| {
        StoreError::Unavailable(format!(
            "storage failure: no KV binding named {KV_BINDING}; add [[kv_namespaces]] binding = \"{KV_BINDING}\" to wrangler.toml"
        ))
    })
}
