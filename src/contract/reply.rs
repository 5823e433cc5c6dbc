//! What the service answers, as data: statuses, bodies and headers (docs/contract.md §2). Statuses are
//! chosen here and in [`super::error`] only: a [`Reply`]'s status can be set by no other
//! module, and the edge only copies a finished reply onto the wire. Every JSON body is a
//! `Serialize` type written with serde_json; members come out in declaration order, which is
//! the contract's order.

use serde::Serialize;

use crate::domain::sessions::Active;
use crate::domain::settings::Settings;

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
    /// An answer with no body at all (RFC 7009's 200).
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            body: None,
            content_type: JSON,
            headers: Vec::new(),
        }
    }

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

/// dj-rest-auth's `UserDetailsSerializer` (docs/accounts.md §3).
#[derive(Serialize)]
pub struct UserDetails<'a> {
    pub pk: i64,
    pub username: &'a str,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
}

impl<'a> From<&'a crate::domain::accounts::User> for UserDetails<'a> {
    fn from(user: &'a crate::domain::accounts::User) -> Self {
        Self {
            pk: user.id,
            username: &user.username,
            email: &user.email,
            first_name: &user.first_name,
            last_name: &user.last_name,
        }
    }
}

/// dj-rest-auth's `JWTSerializer`: the login answer of `/login/` and `/registration/`.
#[derive(Serialize)]
pub struct LoggedIn<'a> {
    pub access: &'a str,
    pub refresh: &'a str,
    pub user: UserDetails<'a>,
}

impl<'a> LoggedIn<'a> {
    /// The answer of a login that went through (password, second step, passkey).
    pub fn of(pair: &'a crate::domain::sessions::LoggedIn) -> Self {
        Self {
            access: &pair.access.encoded,
            refresh: &pair.refresh.encoded,
            user: UserDetails::from(&pair.user),
        }
    }
}

#[derive(Serialize)]
pub struct Detail<'a> {
    pub detail: &'a str,
}

/// One live session of `/sessions/`.
#[derive(Serialize)]
pub struct SessionItem<'a> {
    pub id: &'a str,
    pub created: String,
    pub last_refreshed: String,
    pub expires: String,
    pub user_agent: &'a str,
    pub ip: &'a str,
    pub country: &'a str,
    pub current: bool,
}

/// One event of `/user/events/`.
#[derive(Serialize)]
pub struct EventItem<'a> {
    pub event: &'a str,
    pub at: String,
    pub ip: &'a str,
    pub country: &'a str,
    pub user_agent: &'a str,
}

/// The first step of a login with MFA on (dj-rest-auth's `MFALoginView`).
#[derive(Serialize)]
pub struct MfaRequired<'a> {
    pub ephemeral_token: &'a str,
    pub mfa_required: bool,
}

/// `GET /mfa/totp/activate/` (dj-rest-auth's `TOTPActivateInitSerializer`).
#[derive(Serialize)]
pub struct TotpActivation<'a> {
    pub secret: &'a str,
    pub totp_url: &'a str,
    pub qr_code_data_uri: &'a str,
    pub activation_token: &'a str,
}

/// `POST /mfa/totp/activate/`: the recovery codes, shown once.
#[derive(Serialize)]
pub struct Activated<'a> {
    pub recovery_codes: Vec<&'a str>,
}

/// `POST /mfa/recovery-codes/regenerate/` (`RecoveryCodesSerializer`).
#[derive(Serialize)]
pub struct RecoveryCodes<'a> {
    pub codes: Vec<&'a str>,
}

/// `POST /mfa/recovery-codes/` (ours: the codes are not kept, so only their number).
#[derive(Serialize)]
pub struct RemainingCodes {
    pub remaining: i64,
}

/// `GET /mfa/status/` (`MFAStatusSerializer`).
#[derive(Serialize)]
pub struct MfaStatus {
    pub mfa_enabled: bool,
    pub created_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// The options that start a passkey ceremony.
#[derive(Serialize)]
pub struct PasskeyOptions<T: Serialize> {
    pub options: T,
}

/// A passkey as `/passkeys/` shows it.
#[derive(Serialize)]
pub struct PasskeyItem<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl<'a> From<&'a crate::domain::store::PasskeyRow> for PasskeyItem<'a> {
    fn from(row: &'a crate::domain::store::PasskeyRow) -> Self {
        Self {
            id: &row.id,
            name: &row.name,
            created_at: utc(row.created_at),
            last_used_at: row.last_used_at.map(utc),
        }
    }
}

/// Epoch seconds as ISO 8601 UTC, `2026-12-01T11:02:33Z`.
pub fn utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let time = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        time / 3600,
        time % 3600 / 60,
        time % 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn epoch_seconds_read_as_iso_8601_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_796_123_645), "2026-12-01T11:14:05Z");
    }
}

/// RFC 8414 authorization server metadata, also served as OpenID Connect discovery.
#[derive(Serialize)]
pub struct Discovery {
    pub issuer: String,
    pub jwks_uri: String,
    pub token_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub userinfo_endpoint: String,
    pub grant_types_supported: [&'static str; 2],
    pub token_endpoint_auth_methods_supported: [&'static str; 1],
    pub response_types_supported: [&'static str; 0],
    pub subject_types_supported: [&'static str; 1],
    pub id_token_signing_alg_values_supported: [&'static str; 1],
    pub claims_supported: [&'static str; 10],
}

impl Discovery {
    /// The document of an issuer whose endpoints are at `origin`.
    pub fn new(issuer: String, origin: &str) -> Self {
        let at = |path: &str| format!("{origin}{path}");
        Self {
            issuer,
            jwks_uri: at("/.well-known/jwks.json"),
            token_endpoint: at("/token/"),
            revocation_endpoint: at("/token/revoke/"),
            introspection_endpoint: at("/token/introspect/"),
            userinfo_endpoint: at("/userinfo/"),
            grant_types_supported: ["password", "refresh_token"],
            token_endpoint_auth_methods_supported: ["none"],
            response_types_supported: [],
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: ["EdDSA"],
            claims_supported: [
                "sub",
                "preferred_username",
                "email",
                "email_verified",
                "name",
                "user_id",
                "sid",
                "jti",
                "iat",
                "exp",
            ],
        }
    }
}

/// OpenID Connect userinfo of a user.
#[derive(Serialize)]
pub struct UserInfo<'a> {
    pub sub: String,
    pub preferred_username: &'a str,
    pub email: &'a str,
    pub email_verified: bool,
    pub name: String,
}

impl<'a> From<&'a crate::domain::accounts::User> for UserInfo<'a> {
    fn from(user: &'a crate::domain::accounts::User) -> Self {
        let name = format!("{} {}", user.first_name, user.last_name);
        Self {
            sub: user.id.to_string(),
            preferred_username: &user.username,
            email: &user.email,
            email_verified: user.email_verified,
            name: name.trim().to_owned(),
        }
    }
}

/// RFC 7662 answer for an active token.
#[derive(Serialize)]
pub struct Introspected<'a> {
    pub active: bool,
    pub token_type: &'static str,
    pub sub: String,
    pub user_id: i64,
    pub username: &'a str,
    pub exp: i64,
    pub iat: Option<i64>,
    pub jti: &'a str,
    pub sid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<&'a str>,
}

impl<'a> Introspected<'a> {
    /// The claims of an active token, with the issuer and audience the service requires.
    pub fn new(active: &'a Active, settings: &'a Settings) -> Self {
        Self {
            active: true,
            token_type: active.kind.claim(),
            sub: active.user.id.to_string(),
            user_id: active.user.id,
            username: &active.user.username,
            exp: active.claims.exp,
            iat: active.claims.iat,
            jti: &active.claims.jti,
            sid: active.claims.sid.as_deref(),
            iss: settings.issuer.as_deref(),
            aud: settings.audience.as_deref(),
        }
    }
}

/// RFC 7662 answer for anything else.
#[derive(Serialize)]
pub struct Inactive {
    pub active: bool,
}

/// RFC 7662's answer, as `/token/introspect/` and the RPC method `verify` give it.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Introspection<'a> {
    Active(Introspected<'a>),
    Inactive(Inactive),
}

impl<'a> Introspection<'a> {
    pub fn of(active: Option<&'a Active>, settings: &'a Settings) -> Self {
        match active {
            Some(active) => Self::Active(Introspected::new(active, settings)),
            None => Self::Inactive(Inactive { active: false }),
        }
    }
}
