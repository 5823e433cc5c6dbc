//! Every way a request can fail, each with its one answer of the contract (docs/contract.md §2.2, §8),
//! and the error policy:
//!
//! - A client's mistake is answered with its status and body and logged nowhere.
//! - `Internal` (500: a configuration error or a bug) and `Unavailable` (503: storage failed,
//!   nothing was half-written) carry their cause. The client sees only the generic body; the
//!   edge logs the cause, once, where it turns the error into a reply ([`ApiError::log`]).
//! - A refresh token reused after the grace window is answered like any blacklisted token
//!   and logged as a warning: it is a theft signal an operator wants to see.
//! - Causes name the operation and the storage's own message, never request data.

use serde::Serialize;

use crate::contract::body::{BodyError, FieldErrors};
use crate::contract::forms::DUPLICATE_EMAIL;
use crate::contract::reply::{to_json, Reply, JSON};
use crate::domain::accounts::{AuthError, RegisterError};
use crate::domain::sessions::SessionError;
use crate::domain::store::StoreError;
use crate::domain::tokens::TokenError;

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
    /// A used refresh token presented this many seconds after its rotation, beyond the grace
    /// window; its family was revoked. Answered as `Token(Blacklisted)`.
    TokenReused(i64),
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
    /// dj-rest-auth's logout refused the token: 401 `{"detail": …}`.
    Logout(&'static str),
    /// A view refused the request before its serializer ran: 400 `{"detail": …}`.
    Refused(&'static str),
    /// `/token/introspect/` with a Bearer secret that is not one of `INTROSPECTION_SECRETS`.
    IncorrectCredentials,
    /// A bug or a configuration error: the cause, for the log only.
    Internal(String),
    /// D1 or KV failed; nothing was half-written. The cause, for the log only.
    Unavailable(String),
}

/// How loud a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Warn,
    Error,
}

#[derive(Serialize)]
struct Detail<'a> {
    detail: &'a str,
}

#[derive(Serialize)]
struct CodedDetail<'a> {
    detail: &'a str,
    code: &'a str,
}

#[derive(Serialize)]
struct NonFieldErrors<'a> {
    non_field_errors: [&'a str; 1],
}

/// simplejwt's answer for a Bearer token no token class accepts.
#[derive(Serialize)]
struct InvalidBearer<'a> {
    detail: &'a str,
    code: &'a str,
    messages: [BearerMessage<'a>; 1],
}

#[derive(Serialize)]
struct BearerMessage<'a> {
    token_class: &'a str,
    token_type: &'a str,
    message: &'a str,
}

fn json(status: u16, body: &impl Serialize) -> Reply {
    Reply::new(status, JSON, to_json(body))
}

fn detail(status: u16, detail: &str) -> Reply {
    json(status, &Detail { detail })
}

fn coded(status: u16, detail: &str, code: &str) -> Reply {
    json(status, &CodedDetail { detail, code })
}

impl ApiError {
    pub fn reply(&self) -> Reply {
        match self {
            Self::NotFound => detail(404, "Not found."),
            Self::MethodNotAllowed(method) => {
                detail(405, &format!("Method \"{method}\" not allowed."))
            }
            Self::BodyTooLarge => detail(413, "Request body too large."),
            Self::Body(BodyError::UnsupportedMediaType(content_type)) => detail(
                415,
                &format!("Unsupported media type \"{content_type}\" in request."),
            ),
            Self::Body(BodyError::Parse(message)) => detail(400, message),
            Self::Body(BodyError::NoData) => json(
                400,
                &NonFieldErrors {
                    non_field_errors: ["No data provided"],
                },
            ),
            Self::Body(BodyError::NotAnObject(kind)) => json(
                400,
                &NonFieldErrors {
                    non_field_errors: [&format!(
                        "Invalid data. Expected a dictionary, but got {kind}."
                    )],
                },
            ),
            Self::Fields(errors) => json(400, errors),
            Self::BadCredentials => {
                detail(401, "No active account found with the given credentials")
            }
            Self::Token(error) => coded(401, error.message(), "token_not_valid"),
            Self::TokenReused(_) => Self::Token(TokenError::Blacklisted).reply(),
            Self::NoActiveAccountForToken => coded(
                401,
                "No active account found for the given token.",
                "no_active_account",
            ),
            Self::NotAuthenticated => detail(401, "Authentication credentials were not provided."),
            Self::BadAuthorizationHeader => coded(
                401,
                "Authorization header must contain two space-delimited values",
                "bad_authorization_header",
            ),
            Self::BearerToken(error) => json(
                401,
                &InvalidBearer {
                    detail: "Given token not valid for any token type",
                    code: "token_not_valid",
                    messages: [BearerMessage {
                        token_class: "AccessToken",
                        token_type: "access",
                        message: error.message(),
                    }],
                },
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
                detail(
                    429,
                    &format!("Request was throttled. Expected available in {wait} {unit}."),
                )
                .with_header("Retry-After", wait.to_string())
            }
            Self::Logout(message) => detail(401, message),
            Self::Refused(message) => detail(400, message),
            Self::IncorrectCredentials => detail(401, "Incorrect authentication credentials."),
            Self::Internal(_) => detail(500, "A server error occurred."),
            Self::Unavailable(_) => {
                detail(503, "Service temporarily unavailable, try again later.")
            }
        }
    }

    /// The log line this error calls for, if any: every 5xx has one, with its cause.
    pub fn log(&self) -> Option<(Level, String)> {
        match self {
            Self::Internal(cause) | Self::Unavailable(cause) => Some((Level::Error, cause.clone())),
            Self::TokenReused(seconds) => Some((
                Level::Warn,
                format!("refresh token reused {seconds}s after rotation: its family was revoked"),
            )),
            _ => None,
        }
    }
}

impl ApiError {
    /// dj-rest-auth's logout answers for a refused token (simplejwt 5.5's messages, which
    /// tell an expired token from an invalid one).
    pub fn logout(error: SessionError) -> Self {
        match error {
            SessionError::Token(TokenError::Expired) => Self::Logout("Token is expired"),
            SessionError::Token(TokenError::WrongType) => Self::Logout("Token has wrong type"),
            SessionError::Token(TokenError::Blacklisted) => Self::Logout("Token is blacklisted"),
            SessionError::Token(_) => Self::Logout("Token is invalid"),
            other => other.into(),
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

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            StoreError::Conflict => {
                Self::Unavailable("storage failure: a unique constraint refused a write where no duplicate was expected"
                    .to_owned())
            }
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::BadCredentials => Self::BadCredentials,
            SessionError::Throttled(wait) => Self::Throttled(wait),
            SessionError::Token(error) => Self::Token(error),
            SessionError::Reused { seconds_after_use } => Self::TokenReused(seconds_after_use),
            SessionError::NoActiveAccount => Self::NoActiveAccountForToken,
            SessionError::NotFound => Self::NotFound,
            SessionError::Store(error) => error.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Token(error) => Self::BearerToken(error),
            AuthError::NoUserIdentification => Self::NoUserIdentification,
            AuthError::UserNotFound => Self::UserNotFound,
            AuthError::UserInactive => Self::UserInactive,
            AuthError::Store(error) => error.into(),
        }
    }
}

impl From<RegisterError<FieldErrors>> for ApiError {
    fn from(error: RegisterError<FieldErrors>) -> Self {
        match error {
            RegisterError::Invalid(errors) => Self::Fields(errors),
            // Lost a race with a concurrent registration of the same address.
            RegisterError::EmailTaken => Self::Fields(FieldErrors::one("email", DUPLICATE_EMAIL)),
            RegisterError::Store(error) => error.into(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::contract::routes::Route;

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
            ApiError::Internal("cause".into()),
            500,
            r#"{"detail":"A server error occurred."}"#,
        );
        check(
            ApiError::Unavailable("cause".into()),
            503,
            r#"{"detail":"Service temporarily unavailable, try again later."}"#,
        );
    }

    #[test]
    fn every_5xx_logs_its_cause_and_a_late_reuse_logs_a_warning() {
        let cause = "storage failure during rotation: D1_ERROR".to_owned();
        assert_eq!(
            ApiError::Unavailable(cause.clone()).log(),
            Some((Level::Error, cause.clone()))
        );
        assert_eq!(
            ApiError::Internal(cause.clone()).log(),
            Some((Level::Error, cause))
        );
        assert_eq!(
            ApiError::from(StoreError::Conflict)
                .log()
                .map(|(level, _)| level),
            Some(Level::Error)
        );
        assert_eq!(
            ApiError::TokenReused(42).log().map(|(level, _)| level),
            Some(Level::Warn)
        );
        assert_eq!(ApiError::BadCredentials.log(), None);
    }

    #[test]
    fn a_late_reuse_is_answered_as_a_blacklisted_token() {
        assert_eq!(
            ApiError::TokenReused(42).reply(),
            ApiError::Token(TokenError::Blacklisted).reply()
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
        assert_eq!(to_json(&errors), r#"{"email":["é"],"username":["a","b"]}"#);
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
