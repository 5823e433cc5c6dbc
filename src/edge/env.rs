//! The one reader of the Worker's environment: every `env.var`, `env.secret`, `env.d1` and
//! `env.kv` call is here. Bindings and names:
//!
//! | name | kind | use |
//! |---|---|---|
//! | `DB` | D1 database | users, refresh tokens, login failures (`schema.sql`) |
//! | `DENYLIST` | KV namespace | revoked refresh-token jtis |
//! | `JWT_SIGNING_KEYS` | secret | Ed25519 private JWKs (docs/contract.md §9) |
//! | `SECRET_KEY` | secret | HMAC key of reset tokens and e-mail keys (docs/accounts.md §1) |
//! | `INTROSPECTION_SECRETS` | secret | comma-separated bearer secrets of `/token/introspect/` callers |
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
use crate::domain::sessions::Context;
use crate::domain::settings::{Settings, SettingsError};
use crate::domain::store::StoreError;

const D1_BINDING: &str = "DB";
const KV_BINDING: &str = "DENYLIST";

pub struct Config {
    pub settings: Settings,
    keys: Result<Keyring, KeyError>,
    /// `SECRET_KEY`: the HMAC key of reset tokens and e-mail keys (Django's).
    secret_key: Option<Secret>,
    /// `INTROSPECTION_SECRETS`: the bearer secrets of resource servers that may introspect.
    introspection_secrets: Vec<Secret>,
}

/// The secret that keys reset tokens and e-mail verification keys.
const SECRET_KEY: &str = "SECRET_KEY";

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
        let secret_key = env
            .secret(SECRET_KEY)
            .ok()
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty())
            .map(Secret::new);
        let introspection_secrets = env
            .secret("INTROSPECTION_SECRETS")
            .map(|s| s.to_string())
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .collect();
        Ok(Config {
            settings,
            keys,
            secret_key,
            introspection_secrets,
        })
    });
    config
        .as_ref()
        .map_err(|error| ApiError::Internal(format!("configuration error: {error}")))
}

impl Config {
    /// Whether `presented` is one of `INTROSPECTION_SECRETS` (compared in constant time per
    /// secret); never with none configured.
    pub fn may_introspect(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.introspection_secrets
            .iter()
            .any(|secret| bool::from(secret.expose().as_bytes().ct_eq(presented.as_bytes())))
    }

    /// `SECRET_KEY`, or the contract's 500 with a cause saying how to set it (only the routes
    /// that need it fail without it).
    pub fn secret_key(&self) -> Result<&Secret, ApiError> {
        self.secret_key.as_ref().ok_or_else(|| {
            ApiError::Internal(format!(
                "configuration error: secret {SECRET_KEY} is not set; it keys password-reset and e-mail links \
                 (set it with `wrangler secret put {SECRET_KEY}`, or in .dev.vars locally; `make dev` writes one)"
            ))
        })
    }

    /// The signing keys, or the contract's 500 with a cause saying how to fix them.
    pub fn keys(&self) -> Result<&Keyring, ApiError> {
        self.keys
            .as_ref()
            .map_err(|error| ApiError::Internal(format!("configuration error: {error}")))
    }

    /// The session flows' context at `now`: fails with the contract's 500 when the keys are
    /// broken.
    pub fn sessions(&'static self, now: i64) -> Result<Context<'static>, ApiError> {
        Ok(Context {
            settings: &self.settings,
            keys: self.keys()?,
            now,
        })
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

/// The `send_email` binding of outbound mail.
pub const EMAIL_BINDING: &str = "EMAIL";

/// The mail binding, or the contract's 503 with a cause that says how to add it.
pub fn mail(env: &Env) -> Result<worker::SendEmail, ApiError> {
    env.send_email(EMAIL_BINDING).map_err(|_| {
        ApiError::Unavailable(format!(
            "mail failure: no send_email binding named {EMAIL_BINDING}; add [[send_email]] name = \"{EMAIL_BINDING}\" to wrangler.toml"
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
