//! A Worker that protects `GET /protected` and `GET /me` with edge-auth, reached through the
//! service binding `AUTH` to its named entrypoint `AuthService`, by calling its Workers RPC
//! methods: `verify(token)` (what RFC 7662 introspection answers: a logged-out login's token is
//! inactive at once) and `user(token)`.
//! `/auth/*` is forwarded to edge-auth's HTTP API (`/auth/token/` logs in).
//!
//! workers-rs has no typed RPC stubs yet, so the methods are called on the binding object as
//! JavaScript functions.

use worker::js_sys::{Array, Function, Promise, Reflect, Uint8Array, JSON};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{event, Context, Env, Request, RequestInit, Response, Result};

/// Calls the RPC method `name` of the binding `AUTH` with `token`.
async fn call(env: &Env, name: &str, token: &str) -> Result<JsValue> {
    let auth = Reflect::get(env.as_ref(), &JsValue::from_str("AUTH"))?;
    // RPC stubs are proxies on which every property names a remote method, `call` included:
    // apply the method with Reflect rather than through Function.prototype.call.
    let method: Function = Reflect::get(&auth, &JsValue::from_str(name))?.unchecked_into();
    let pending = Reflect::apply(&method, &auth, &Array::of1(&JsValue::from_str(token)))?;
    // An RPC call answers an RpcPromise, a thenable function rather than a Promise: adopt it.
    Ok(JsFuture::from(Promise::resolve(&pending)).await?)
}

fn field(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn json(status: u16, body: &str) -> Result<Response> {
    let mut response = Response::ok(body)?.with_status(status);
    response
        .headers_mut()
        .set("content-type", "application/json")?;
    Ok(response)
}

fn unauthorized(detail: &str) -> Result<Response> {
    let mut response = json(401, &format!(r#"{{"detail":"{detail}"}}"#))?;
    response
        .headers_mut()
        .set("www-authenticate", r#"Bearer realm="api""#)?;
    Ok(response)
}

/// The bearer token of the request, if any.
fn bearer_token(req: &Request) -> Option<String> {
    let header = req.headers().get("authorization").ok()??;
    let words: Vec<&str> = header.split_ascii_whitespace().collect();
    match words.as_slice() {
        ["Bearer", token] => Some((*token).to_owned()),
        _ => None,
    }
}

/// The request, with the same method, headers and body, to edge-auth's `path`.
async fn forward(mut req: Request, env: &Env, path: &str) -> Result<Response> {
    let mut target = req.url()?;
    target.set_path(path);
    let body = req.bytes().await?;
    let mut init = RequestInit::new();
    init.with_method(req.method())
        .with_headers(req.headers().clone());
    if !body.is_empty() {
        init.with_body(Some(Uint8Array::from(body.as_slice()).into()));
    }
    let forwarded = Request::new_with_init(target.as_str(), &init)?;
    env.service("AUTH")?.fetch_request(forwarded).await
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.url()?;
    let path = url.path().to_owned();
    if let Some(rest) = path.strip_prefix("/auth/") {
        return forward(req, &env, &format!("/{rest}")).await;
    }
    if path != "/protected" && path != "/me" {
        return json(404, r#"{"detail":"Not found."}"#);
    }
    let Some(token) = bearer_token(&req) else {
        return unauthorized("Authentication credentials were not provided.");
    };
    if path == "/me" {
        let user = call(&env, "user", &token).await?;
        if user.is_null() {
            return unauthorized("Token is invalid or expired");
        }
        let text = JSON::stringify(&user)?;
        return json(200, &String::from(text));
    }
    let info = call(&env, "verify", &token).await?;
    let active = field(&info, "active").as_bool() == Some(true);
    if !active || field(&info, "token_type").as_string().as_deref() != Some("access") {
        return unauthorized("Token is invalid or expired");
    }
    let user_id = field(&info, "user_id").as_f64().unwrap_or_default() as i64;
    let username = field(&info, "username").as_string().unwrap_or_default();
    let username = JSON::stringify(&JsValue::from_str(&format!("Hello, {username}")))?;
    json(
        200,
        &format!(
            r#"{{"message":{},"user_id":{user_id}}}"#,
            String::from(username)
        ),
    )
}
