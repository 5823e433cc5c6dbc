//! Edge authentication service: JWT login, refresh with rotation, verification and logout
//! for a Cloudflare Worker, keeping the HTTP contract of a Django + simplejwt project.
//!
//! Three layers, each a folder (ARCHITECTURE.md):
//! - [`domain`]: every decision, pure, over small storage traits; tested natively;
//! - [`contract`]: the HTTP surface as data (routes, bodies, forms, replies, errors), pure;
//! - `edge` (wasm only): the Worker's entry points, the request and response glue, the
//!   environment, and the D1 and KV implementations of the storage traits.

pub mod contract;
pub mod django_import;
pub mod domain;

#[cfg(target_arch = "wasm32")]
mod edge;
