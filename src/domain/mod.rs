//! The domain: every decision of the service, pure. No HTTP, no storage engine, no clock:
//! input, settings, keys and `now` come in; storage is reached through the traits of
//! [`store`]. Compiled and tested natively, with an in-memory store and a fixed clock.

pub mod accounts;
pub mod django_tokens;
pub mod email;
pub mod events;
pub mod keys;
pub mod mfa;
pub mod passkeys;
pub mod password_policy;
pub mod passwords;
pub mod random;
pub mod recovery;
pub mod revocation;
pub mod secret;
pub mod sessions;
pub mod settings;
pub mod store;
pub mod text;
pub mod throttle;
pub mod tokens;
pub mod webauthn;

#[cfg(test)]
mod memory;
#[cfg(test)]
mod world;
