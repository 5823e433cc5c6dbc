//! Edge authentication service: JWT login, refresh with rotation, verification and logout
//! for a Cloudflare Worker, keeping the HTTP contract of a Django + simplejwt project.
pub mod api;
pub mod body;
pub mod denylist;
pub mod django_import;
pub mod documents;
pub mod email;
pub mod keys;
pub mod password_policy;
pub mod passwords;
pub mod random;
pub mod routes;
pub mod secret;
pub mod settings;
pub mod throttle;
pub mod tokens;
pub mod users;

#[cfg(target_arch = "wasm32")]
mod config;
#[cfg(target_arch = "wasm32")]
mod handlers;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
mod store;

/// The Worker's entry point: every request is answered by [`http::serve`].
#[cfg(target_arch = "wasm32")]
#[worker::event(fetch)]
async fn fetch(
    // The raw request: `worker::Request` would read the `cf` object of every request, which
    // workerd builds on access and which this worker never uses.
    req: worker::worker_sys::web_sys::Request,
    env: worker::Env,
    _ctx: worker::Context,
) -> worker::Result<worker::Response> {
    Ok(http::serve(req, &env).await)
}

/// The Cron Trigger (`[triggers] crons` in wrangler.toml): storage cleanup.
#[cfg(target_arch = "wasm32")]
#[worker::event(scheduled)]
async fn scheduled(
    _event: worker::ScheduledEvent,
    env: worker::Env,
    _ctx: worker::ScheduleContext,
) {
    handlers::cleanup(&env).await;
}

#[cfg(target_arch = "wasm32")]
#[worker::event(start)]
fn start() {
    console_error_panic_hook::set_once();
}
