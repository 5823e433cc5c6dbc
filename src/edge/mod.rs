//! The edge (wasm only): the Worker's entry points, the translation between Workers requests
//! and the contract, the environment, and the D1 and KV implementations of the domain's
//! storage traits. No decision is made here.

mod d1;
mod env;
mod handlers;
mod http;
mod kv;
mod mail;
mod rpc;

use crate::contract::error::{ApiError, Level};

/// The one place where errors are logged: every 5xx with its cause, theft signals as
/// warnings, client mistakes not at all (their answer says everything).
fn log(error: &ApiError) {
    match error.log() {
        Some((Level::Error, cause)) => worker::console_error!("{cause}"),
        Some((Level::Warn, message)) => worker::console_warn!("{message}"),
        None => {}
    }
}

/// The storage round trips of one request (or trigger, or RPC call), counted where they are
/// made (d1.rs, kv.rs). With `STORAGE_ROUND_TRIPS_HEADER` on (`Settings`), each answer tells those
/// made before it in a `Storage-Round-Trips` header: how a test holds every hot route to one.
#[derive(Default)]
pub struct Trips {
    d1: std::cell::Cell<u16>,
    kv: std::cell::Cell<u16>,
}

impl Trips {
    fn count(cell: &std::cell::Cell<u16>) {
        cell.set(cell.get().saturating_add(1));
    }

    /// The header's value: `d1=<n>, kv=<n>`.
    fn header(&self) -> String {
        format!("d1={}, kv={}", self.d1.get(), self.kv.get())
    }
}

/// Epoch seconds, read once per request or trigger and passed down.
fn now() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

/// The Worker's entry point: every request is answered by [`http::serve`].
#[worker::event(fetch)]
async fn fetch(
    // The raw request: `worker::Request` would read the `cf` object of every request, which
    // workerd builds on access and which this worker never uses.
    req: worker::worker_sys::web_sys::Request,
    env: worker::Env,
    ctx: worker::Context,
) -> worker::Result<worker::Response> {
    Ok(http::serve(req, &env, &ctx).await)
}

/// The Cron Trigger (`[triggers] crons` in wrangler.toml): storage cleanup.
#[worker::event(scheduled)]
async fn scheduled(
    _event: worker::ScheduledEvent,
    env: worker::Env,
    _ctx: worker::ScheduleContext,
) {
    handlers::cleanup(&env).await;
}

#[worker::event(start)]
fn start() {
    console_error_panic_hook::set_once();
}
