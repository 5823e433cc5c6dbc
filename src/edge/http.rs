//! The wire: turns a Workers request into a route, a method, headers and fields, and a
//! [`Reply`] into a Workers response. Order of checks (docs/contract.md §2.4): preflight →
//! route → authentication → method → body size → content type and parsing → fields →
//! business rules.

use futures_util::StreamExt;
use worker::worker_sys::web_sys::Request;
use worker::{ByteStream, Env, Headers, Response};

use super::{env, handlers, Trips};
use crate::contract::body::{self, BodyError, Fields, MAX_BODY_BYTES};
use crate::contract::error::ApiError;
use crate::contract::reply::Reply;
use crate::contract::routes;
use crate::domain::events::Client;

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// Answers any request; never fails and never panics on client input.
pub async fn serve(req: Request, env: &Env, waiter: &worker::Context) -> Response {
    let method = req.method();
    let has_origin = header(&req, "Origin").is_some();
    if method == "OPTIONS" && header(&req, "Access-Control-Request-Method").is_some() {
        return respond(Reply::preflight(has_origin));
    }
    let route = routes::resolve(routes::path_of(&req.url()));
    let trips = Trips::default();
    let mut reply = match route {
        None => ApiError::NotFound.reply(),
        Some(route) => handlers::dispatch(route, &method, &req, env, waiter, &trips)
            .await
            .unwrap_or_else(|error| {
                super::log(&error);
                error.reply()
            }),
    };
    if env::load(env).is_ok_and(|config| config.settings.round_trips_header) {
        reply = reply.with_header("Storage-Round-Trips", trips.header());
    }
    respond(reply.finish(route, has_origin, method == "HEAD"))
}

/// The `Authorization` header, if any.
pub fn authorization(req: &Request) -> Option<String> {
    header(req, "Authorization")
}

/// What the request tells about its client: `CF-Connecting-IP`, `CF-IPCountry` and
/// `User-Agent`.
pub fn client(req: &Request) -> Client {
    Client::new(
        header(req, "CF-Connecting-IP").as_deref(),
        header(req, "CF-IPCountry").as_deref(),
        header(req, "User-Agent").as_deref(),
    )
}

/// The request's origin (`scheme://host[:port]`), the base of links in mails when
/// `FRONTEND_URL` is unset.
pub fn origin(req: &Request) -> String {
    let url = req.url();
    let host = url.find("://").map_or(0, |i| i + 3);
    let end = url[host..].find('/').map_or(url.len(), |i| host + i);
    url[..end].to_owned()
}

/// How much of an oversized body is read and discarded before answering 413, so that the
/// client, still sending, sees the answer rather than a reset connection.
const MAX_DRAIN_BYTES: u64 = 16 * 1_048_576;

/// Reads the body (at most [`MAX_BODY_BYTES`]) and parses it by its `Content-Type`.
pub async fn read_fields(req: &Request) -> Result<Fields, ApiError> {
    let declared = header(req, "Content-Length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_DRAIN_BYTES) {
        return Err(ApiError::BodyTooLarge);
    }
    let mut bytes = Vec::new();
    let mut received: u64 = 0;
    // No body at all is the same as an empty one.
    if let Some(mut stream) = req.body().map(ByteStream::from) {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| {
                ApiError::Body(BodyError::Parse(
                    "JSON parse error - the request body could not be read".into(),
                ))
            })?;
            received += chunk.len() as u64;
            if received > MAX_DRAIN_BYTES {
                break;
            }
            if received <= MAX_BODY_BYTES as u64 {
                bytes.extend_from_slice(&chunk);
            }
        }
    }
    if received > MAX_BODY_BYTES as u64 {
        return Err(ApiError::BodyTooLarge);
    }
    Ok(body::parse(header(req, "Content-Type").as_deref(), &bytes)?)
}

fn respond(reply: Reply) -> Response {
    let (status, content_type, names_and_values, body) = reply.into_parts();
    let headers = Headers::new();
    let _ = headers.set("Content-Type", content_type);
    for (name, value) in &names_and_values {
        let _ = headers.append(name, value);
    }
    let builder = Response::builder()
        .with_status(status)
        .with_headers(headers);
    match body {
        Some(body) => builder.fixed(body.into_bytes()),
        None => builder.empty(),
    }
}
