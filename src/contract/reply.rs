//! What the service answers, as data: statuses, bodies and headers (docs/contract.md §2). Statuses are
//! chosen here and in [`super::error`] only: a [`Reply`]'s status can be set by no other
//! module, and the edge only copies a finished reply onto the wire. Every JSON body is a
//! `Serialize` type written with serde_json; members come out in declaration order, which is
//! the contract's order.

use serde::Serialize;

use crate::contract::routes::Route;

/// An HTTP answer before the common headers are added by [`Reply::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub(in crate::contract) status: u16,
    /// `None`: an empty body (preflights, HEAD).
    pub(in crate::contract) body: Option<String>,
    pub(in crate::contract) content_type: &'static str,
    pub(in crate::contract) headers: Vec<(&'static str, String)>,
}

pub const JSON: &str = "application/json";

/// A value as JSON text. The bodies of this crate are structs and sequences of strings,
/// integers and booleans, which serde_json always serializes.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl Reply {
    pub(in crate::contract) fn new(status: u16, content_type: &'static str, body: String) -> Self {
        Self {
            status,
            body: Some(body),
            content_type,
            headers: Vec::new(),
        }
    }

    /// 200 with `body` as JSON.
    pub fn ok<T: Serialize + ?Sized>(body: &T) -> Self {
        Self::new(200, JSON, to_json(body))
    }

    /// 201 with `body` as JSON.
    pub fn created<T: Serialize + ?Sized>(body: &T) -> Self {
        Self::new(201, JSON, to_json(body))
    }

    /// 200 with a text made elsewhere in the contract (documents, metadata).
    pub(in crate::contract) fn ok_text(content_type: &'static str, body: String) -> Self {
        Self::new(200, content_type, body)
    }

    /// A token response: never cached (RFC 6749 §5.1).
    pub fn tokens<T: Serialize + ?Sized>(body: &T) -> Self {
        Self::ok(body).with_header("Cache-Control", "no-store")
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Status, content type, headers and body, for the edge to copy onto the wire.
    pub fn into_parts(
        self,
    ) -> (
        u16,
        &'static str,
        Vec<(&'static str, String)>,
        Option<String>,
    ) {
        (self.status, self.content_type, self.headers, self.body)
    }

    /// A CORS preflight (docs/contract.md §2.5): 200, empty, on any path.
    pub fn preflight(has_origin: bool) -> Self {
        let mut reply = Self {
            status: 200,
            body: None,
            content_type: "text/html; charset=utf-8",
            headers: Vec::new(),
        };
        if has_origin {
            reply = reply
                .with_header("Access-Control-Allow-Origin", "*")
                .with_header(
                    "Access-Control-Allow-Headers",
                    "accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with",
                )
                .with_header("Access-Control-Allow-Methods", "DELETE, GET, OPTIONS, PATCH, POST, PUT")
                .with_header("Access-Control-Max-Age", "86400");
        }
        reply.headers.push(("Vary", "origin".into()));
        reply.with_security_headers()
    }

    /// Adds the headers every response carries (docs/contract.md §2.1, §2.5) and drops the body of an
    /// answer to HEAD. `route`: the matched route, for `Allow`.
    pub fn finish(mut self, route: Option<Route>, has_origin: bool, is_head: bool) -> Self {
        if is_head {
            self.body = None;
        }
        if let Some(route) = route {
            self.headers.push(("Allow", route.allow().to_owned()));
        }
        if self.status == 401 {
            // RFC 6750 §3: every 401 names the scheme the client should use.
            self.headers
                .push(("WWW-Authenticate", r#"Bearer realm="api""#.to_owned()));
        }
        if has_origin {
            self.headers
                .push(("Access-Control-Allow-Origin", "*".to_owned()));
        }
        self.headers.push(("Vary", "Accept, origin".to_owned()));
        self.with_security_headers()
    }

    /// The Django seed's security headers, on every response including preflights.
    fn with_security_headers(mut self) -> Self {
        for (name, value) in [
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
        ] {
            self.headers.push((name, value.to_owned()));
        }
        self
    }
}

/// `/token/`: the new pair, refresh first (simplejwt's order).
#[derive(Serialize)]
pub struct LoginPair<'a> {
    pub refresh: &'a str,
    pub access: &'a str,
}

/// `/token/refresh/`: access first; `refresh` only when rotating.
#[derive(Serialize)]
pub struct Refreshed<'a> {
    pub access: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<&'a str>,
}

/// `/register/`: the stored e-mail and username.
#[derive(Serialize)]
pub struct Registered<'a> {
    pub email: &'a str,
    pub username: &'a str,
}

/// `/dashboard/`.
#[derive(Serialize)]
pub struct Dashboard {
    pub response: String,
}

/// `{}`: the body of `/token/verify/` and the logouts.
#[derive(Serialize)]
pub struct Empty {}

/// The CORS-less documents and the OPTIONS metadata, made elsewhere in the contract.
impl Reply {
    /// The body of a non-preflight `OPTIONS` on `route`.
    pub fn metadata(route: Route) -> Self {
        Self::ok_text(JSON, route.metadata())
    }
}
