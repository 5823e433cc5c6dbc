//! The HTTP contract, pure: which path is which route, how bodies are read into fields, the
//! forms (DRF serializers) that turn fields into the domain's input, every answer with its
//! status, body and headers, and the two documents served besides the API. No I/O: the edge
//! hands in a method, a path, headers and bytes and copies a [`reply::Reply`] back out.

pub mod account_forms;
pub mod body;
pub mod documents;
pub mod error;
pub mod forms;
pub mod json;
pub mod mail;
pub mod mfa;
pub mod passkeys;
pub mod reply;
pub mod routes;
