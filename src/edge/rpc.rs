//! The Workers RPC entrypoint (docs/accounts.md §7): `verify(token)` and `user(token)`, methods
//! of `AuthService`, the named entrypoint of this Worker, for the Workers bound to it by a service
//! binding (`env.AUTH.verify(token)`). worker-build makes every function exported here a method
//! of the default entrypoint class it generates; `src/edge/entrypoint.mjs` declares
//! `AuthService`, which calls them there. The binding is the trust boundary: no introspection
//! secret is asked.

use wasm_bindgen::prelude::*;
use worker::{js_sys, Env};

use super::handlers;
use crate::contract::error::ApiError;

#[wasm_bindgen(module = "cloudflare:workers")]
extern "C" {
    /// The Worker's bindings, which `cloudflare:workers` gives every module: an exported
    /// function is called without them.
    #[wasm_bindgen(thread_local_v2, js_name = env)]
    static ENV: Env;
}

/// RFC 7662's answer for `token`, as `/token/introspect/` gives it: `{active: false}`, or
/// `{active: true, token_type, sub, user_id, username, exp, iat, jti, sid[, iss, aud]}`.
/// Anything but a string is an inactive token. Rejects only when storage or the configuration
/// fails (logged with its cause).
#[wasm_bindgen(wasm_bindgen_futures = worker::wasm_bindgen_futures)]
pub async fn verify(token: JsValue) -> Result<JsValue, JsError> {
    let env = ENV.with(Env::clone);
    let token = token.as_string().unwrap_or_default();
    let json = handlers::rpc_verify(&env, &token).await.map_err(failure)?;
    Ok(parse(&json))
}

/// The `/user/` object (`{pk, username, email, first_name, last_name}`) of an access token that
/// authenticates as a Bearer token would, or `null`. Rejects only when storage or the
/// configuration fails (logged with its cause).
#[wasm_bindgen(wasm_bindgen_futures = worker::wasm_bindgen_futures)]
pub async fn user(token: JsValue) -> Result<JsValue, JsError> {
    let env = ENV.with(Env::clone);
    let token = token.as_string().unwrap_or_default();
    let json = handlers::rpc_user(&env, &token).await.map_err(failure)?;
    Ok(json.as_deref().map_or(JsValue::NULL, parse))
}

/// JSON this crate wrote, as a JavaScript value.
fn parse(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap_or(JsValue::NULL)
}

/// The caller learns that the service failed; the log learns why.
fn failure(error: ApiError) -> JsError {
    super::log(&error);
    JsError::new("edge-auth could not answer; its log says why")
}
