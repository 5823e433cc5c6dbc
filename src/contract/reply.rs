//! What the service answers, as data: statuses, JSON bodies and headers (API.md §2). The one
//! place that chooses status codes; the Worker shell only copies a [`Reply`] onto the wire.

use serde::Serialize;

use crate::body::{BodyError, FieldErrors};
use crate::routes::Route;
use crate::tokens::TokenError;

/// An HTTP answer before the common headers are added by [`Reply::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// `None`: an empty body (preflights, HEAD).
    pub body: Option<String>,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

pub const JSON: &str = "application/json";

impl Reply {
    pub fn json(status: u16, body: String) -> Self {
        Self {
            status,
            body: Some(body),
            content_type: JSON,
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// A token response: never cached (RFC 6749 §5.1).
    pub fn tokens(body: String) -> Self {
        Self::json(200, body).with_header("Cache-Control", "no-store")
    }

    /// A CORS preflight (API.md §2.5): 200, empty, on any path.
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
        reply
    }

    /// Adds the headers every response carries (API.md §2.1, §2.5) and drops the body of an
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
    pub fn with_security_headers(mut self) -> Self {
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

/// A JSON string literal (quotes and escapes), raw UTF-8 for non-ASCII.
pub fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// `{"detail":"<message>"}`.
pub fn detail(message: &str) -> String {
    format!(r#"{{"detail":{}}}"#, json_string(message))
}

/// The raw token of an `Authorization: Bearer <token>` header, split as simplejwt splits it
/// (on runs of ASCII white space). `Ok(None)`: no credentials were given for this scheme.
pub fn bearer_token(header: Option<&str>) -> Result<Option<&str>, ApiError> {
    let Some(header) = header else {
        return Ok(None);
    };
    let mut words = header
        .split([' ', '\t', '\n', '\r', '\x0b', '\x0c'])
        .filter(|w| !w.is_empty());
    if words.next() != Some("Bearer") {
        return Ok(None);
    }
    match (words.next(), words.next()) {
        (Some(token), None) => Ok(Some(token)),
        _ => Err(ApiError::BadAuthorizationHeader),
    }
}

/// Every way a request can fail, each with one answer of the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    NotFound,
    MethodNotAllowed(String),
    BodyTooLarge,
    Body(BodyError),
    Fields(FieldErrors),
    /// `/token/`: wrong password, unknown e-mail or inactive user, indistinguishable.
    BadCredentials,
    /// A token field failed validation (§3.2).
    Token(TokenError),
    /// `/token/refresh/` for a deleted or inactive user.
    NoActiveAccountForToken,
    NotAuthenticated,
    BadAuthorizationHeader,
    /// The Bearer access token failed validation.
    BearerToken(TokenError),
    /// The Bearer token has no usable `user_id` claim.
    NoUserIdentification,
    UserInactive,
    UserNotFound,
    /// Login throttled; seconds until the bucket's window ends (≥ 1).
    Throttled(i64),
    /// A bug or a configuration error; the cause is logged, never sent.
    Internal,
    /// D1 or KV failed; nothing was half-written.
    Unavailable,
}

#[derive(Serialize)]
struct CodedDetail<'a> {
    detail: &'a str,
    code: &'a str,
}

impl ApiError {
    pub fn reply(&self) -> Reply {
        let coded = |status: u16, detail: &str, code: &str| {
            Reply::json(
                status,
                serde_json::to_string(&CodedDetail { detail, code }).unwrap_or_default(),
            )
        };
        match self {
            Self::NotFound => Reply::json(404, detail("Not found.")),
            Self::MethodNotAllowed(method) => {
                Reply::json(405, detail(&format!("Method \"{method}\" not allowed.")))
            }
            Self::BodyTooLarge => Reply::json(413, detail("Request body too large.")),
            Self::Body(BodyError::UnsupportedMediaType(content_type)) => Reply::json(
                415,
                detail(&format!(
                    "Unsupported media type \"{content_type}\" in request."
                )),
            ),
            Self::Body(BodyError::Parse(message)) => Reply::json(400, detail(message)),
            Self::Body(BodyError::NoData) => {
                Reply::json(400, r#"{"non_field_errors":["No data provided"]}"#.into())
            }
            Self::Body(BodyError::NotAnObject(kind)) => Reply::json(
                400,
                format!(
                    r#"{{"non_field_errors":["Invalid data. Expected a dictionary, but got {kind}."]}}"#
                ),
            ),
            Self::Fields(errors) => Reply::json(400, field_errors_json(errors)),
            Self::BadCredentials => Reply::json(
                401,
                detail("No active account found with the given credentials"),
            ),
            Self::Token(error) => coded(401, error.message(), "token_not_valid"),
            Self::NoActiveAccountForToken => coded(
                401,
                "No active account found for the given token.",
                "no_active_account",
            ),
            Self::NotAuthenticated => {
                Reply::json(401, detail("Authentication credentials were not provided."))
            }
            Self::BadAuthorizationHeader => coded(
                401,
                "Authorization header must contain two space-delimited values",
                "bad_authorization_header",
            ),
            Self::BearerToken(error) => Reply::json(
                401,
                format!(
                    r#"{{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{{"token_class":"AccessToken","token_type":"access","message":{}}}]}}"#,
                    json_string(error.message())
                ),
            ),
            Self::NoUserIdentification => coded(
                401,
                "Token contained no recognizable user identification",
                "token_not_valid",
            ),
            Self::UserInactive => coded(401, "User is inactive", "user_inactive"),
            Self::UserNotFound => coded(401, "User not found", "user_not_found"),
            Self::Throttled(wait) => {
                let wait = (*wait).max(1);
                let unit = if wait == 1 { "second" } else { "seconds" };
                Reply::json(
                    429,
                    detail(&format!(
                        "Request was throttled. Expected available in {wait} {unit}."
                    )),
                )
                .with_header("Retry-After", wait.to_string())
            }
            Self::Internal => Reply::json(500, detail("A server error occurred.")),
            Self::Unavailable => Reply::json(
                503,
                detail("Service temporarily unavailable, try again later."),
            ),
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(error: BodyError) -> Self {
        Self::Body(error)
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::Fields(errors)
    }
}

/// `{"field":["msg",…],…}` in the order the fields were checked.
pub fn field_errors_json(errors: &FieldErrors) -> String {
    let members: Vec<String> = errors
        .0
        .iter()
        .map(|(field, messages)| {
            let messages: Vec<String> = messages.iter().map(|m| json_string(m)).collect();
            format!("{}:[{}]", json_string(field), messages.join(","))
        })
        .collect();
    format!("{{{}}}", members.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(error: ApiError, status: u16, body: &str) {
        let reply = error.reply();
        assert_eq!((reply.status, reply.body.as_deref()), (status, Some(body)));
    }

    #[test]
    fn errors_have_the_contract_statuses_and_bodies() {
        check(ApiError::NotFound, 404, r#"{"detail":"Not found."}"#);
        check(
            ApiError::MethodNotAllowed("GET".into()),
            405,
            r#"{"detail":"Method \"GET\" not allowed."}"#,
        );
        check(
            ApiError::BodyTooLarge,
            413,
            r#"{"detail":"Request body too large."}"#,
        );
        check(
            ApiError::Body(BodyError::UnsupportedMediaType("text/plain".into())),
            415,
            r#"{"detail":"Unsupported media type \"text/plain\" in request."}"#,
        );
        check(
            ApiError::Body(BodyError::NotAnObject("list")),
            400,
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#,
        );
        check(
            ApiError::Token(TokenError::WrongType),
            401,
            r#"{"detail":"Token has wrong type","code":"token_not_valid"}"#,
        );
        check(
            ApiError::BearerToken(TokenError::Invalid),
            401,
            r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}"#,
        );
        check(
            ApiError::Internal,
            500,
            r#"{"detail":"A server error occurred."}"#,
        );
        check(
            ApiError::Unavailable,
            503,
            r#"{"detail":"Service temporarily unavailable, try again later."}"#,
        );
    }

    #[test]
    fn throttling_says_second_or_seconds_and_sets_retry_after() {
        check(
            ApiError::Throttled(1),
            429,
            r#"{"detail":"Request was throttled. Expected available in 1 second."}"#,
        );
        let reply = ApiError::Throttled(42).reply();
        assert_eq!(
            reply.body.as_deref(),
            Some(r#"{"detail":"Request was throttled. Expected available in 42 seconds."}"#)
        );
        assert!(reply.headers.contains(&("Retry-After", "42".into())));
    }

    #[test]
    fn field_errors_keep_their_order_and_raw_unicode() {
        let errors = FieldErrors(vec![
            ("email", vec!["é".into()]),
            ("username", vec!["a".into(), "b".into()]),
        ]);
        assert_eq!(
            field_errors_json(&errors),
            r#"{"email":["é"],"username":["a","b"]}"#
        );
    }

    #[test]
    fn every_401_carries_www_authenticate() {
        let reply = ApiError::BadCredentials
            .reply()
            .finish(Some(Route::Token), false, false);
        assert!(reply
            .headers
            .contains(&("WWW-Authenticate", r#"Bearer realm="api""#.into())));
        assert!(reply.headers.contains(&("Allow", "POST, OPTIONS".into())));
        assert!(!reply
            .headers
            .iter()
            .any(|(n, _)| *n == "Access-Control-Allow-Origin"));
    }

    #[test]
    fn bearer_headers_are_split_like_simplejwt() {
        assert_eq!(bearer_token(None), Ok(None));
        assert_eq!(bearer_token(Some("")), Ok(None));
        assert_eq!(bearer_token(Some("bearer abc")), Ok(None));
        assert_eq!(bearer_token(Some("JWT abc")), Ok(None));
        assert_eq!(bearer_token(Some("abc")), Ok(None));
        assert_eq!(bearer_token(Some("Bearer  abc ")), Ok(Some("abc")));
        assert_eq!(bearer_token(Some("Bearer\tabc")), Ok(Some("abc")));
        assert_eq!(
            bearer_token(Some("Bearer")),
            Err(ApiError::BadAuthorizationHeader)
        );
        assert_eq!(
            bearer_token(Some("Bearer a b")),
            Err(ApiError::BadAuthorizationHeader)
        );
    }

    #[test]
    fn head_answers_have_no_body() {
        let reply = ApiError::MethodNotAllowed("HEAD".into()).reply().finish(
            Some(Route::Token),
            true,
            true,
        );
        assert_eq!(reply.body, None);
        assert!(reply
            .headers
            .contains(&("Access-Control-Allow-Origin", "*".into())));
    }
}
