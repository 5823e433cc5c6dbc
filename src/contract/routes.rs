//! The HTTP surface in one place (docs/contract.md §1): which path is which route, the methods each
//! route takes, and its `OPTIONS` metadata (§4.8). Pure; the Worker shell dispatches on it.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Register,
    Token,
    TokenRefresh,
    TokenVerify,
    TokenBlacklist,
    TokenBlacklistAll,
    Dashboard,
    Jwks,
    /// `GET /openapi.json`: the contract as an OpenAPI 3.1 document (root only).
    OpenApi,
    /// `GET /`: the demo page (root only).
    Demo,
    Login,
    Logout,
    Registration,
    VerifyEmail,
    ResendEmail,
    User,
    UserDelete,
    UserEvents,
    PasswordChange,
    PasswordReset,
    /// `/password/reset/confirm/`, also with `<uid>/<token>/` after it (the link's form; the
    /// body carries both all the same, as in dj-rest-auth).
    PasswordResetConfirm,
    Sessions,
    /// `/sessions/<id>/revoke/`: the id is read with [`session_id`].
    SessionRevoke,
    SessionsRevokeOthers,
    /// RFC 8414 authorization server metadata.
    OAuthMetadata,
    /// OpenID Connect discovery (the same document).
    OpenIdConfiguration,
    UserInfo,
    /// RFC 7009.
    TokenRevoke,
    /// RFC 7662.
    TokenIntrospect,
    MfaVerify,
    MfaTotpActivate,
    MfaTotpDeactivate,
    MfaStatus,
    MfaRecoveryCodes,
    MfaRecoveryCodesRegenerate,
    PasskeyRegisterBegin,
    PasskeyRegisterComplete,
    PasskeyLoginBegin,
    PasskeyLoginComplete,
    Passkeys,
    /// `/passkeys/<id>/`: the id is read with [`passkey_id`].
    PasskeyDelete,
}

/// How a route is served, with the routes of each kind as their own type, so that the edge
/// dispatches on each kind with a total match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Served without configuration or input: stays readable while the configuration is broken.
    Document(Document),
    /// Authenticated with a Bearer access token before the method is checked (§2.4).
    Protected(Protected),
    /// No authentication.
    Public(Public),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    OpenApi,
    Demo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protected {
    Dashboard,
    TokenBlacklistAll,
    User,
    UserDelete,
    UserEvents,
    PasswordChange,
    Sessions,
    SessionRevoke,
    SessionsRevokeOthers,
    UserInfo,
    MfaTotpActivate,
    MfaTotpDeactivate,
    MfaStatus,
    MfaRecoveryCodes,
    MfaRecoveryCodesRegenerate,
    PasskeyRegisterBegin,
    PasskeyRegisterComplete,
    Passkeys,
    PasskeyDelete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Public {
    Register,
    Token,
    TokenRefresh,
    TokenVerify,
    TokenBlacklist,
    Jwks,
    Login,
    Logout,
    Registration,
    VerifyEmail,
    ResendEmail,
    PasswordReset,
    PasswordResetConfirm,
    Discovery,
    TokenRevoke,
    TokenIntrospect,
    MfaVerify,
    PasskeyLoginBegin,
    PasskeyLoginComplete,
}

impl Public {
    /// The dj-rest-auth views: DRF authenticates a Bearer token sent to them (simplejwt's
    /// token views have no authenticators).
    pub fn authenticates(self) -> bool {
        !matches!(
            self,
            Self::Register
                | Self::Token
                | Self::TokenRefresh
                | Self::TokenVerify
                | Self::TokenBlacklist
                | Self::Jwks
                | Self::Discovery
                | Self::TokenRevoke
                | Self::TokenIntrospect
        )
    }
}

/// Every route, for tests and documentation.
pub const ALL: [Route; 41] = [
    Route::Register,
    Route::Token,
    Route::TokenRefresh,
    Route::TokenVerify,
    Route::TokenBlacklist,
    Route::TokenBlacklistAll,
    Route::Dashboard,
    Route::Jwks,
    Route::OpenApi,
    Route::Demo,
    Route::Login,
    Route::Logout,
    Route::Registration,
    Route::VerifyEmail,
    Route::ResendEmail,
    Route::User,
    Route::UserDelete,
    Route::UserEvents,
    Route::PasswordChange,
    Route::PasswordReset,
    Route::PasswordResetConfirm,
    Route::Sessions,
    Route::SessionRevoke,
    Route::SessionsRevokeOthers,
    Route::OAuthMetadata,
    Route::OpenIdConfiguration,
    Route::UserInfo,
    Route::TokenRevoke,
    Route::TokenIntrospect,
    Route::MfaVerify,
    Route::MfaTotpActivate,
    Route::MfaTotpDeactivate,
    Route::MfaStatus,
    Route::MfaRecoveryCodes,
    Route::MfaRecoveryCodesRegenerate,
    Route::PasskeyRegisterBegin,
    Route::PasskeyRegisterComplete,
    Route::PasskeyLoginBegin,
    Route::PasskeyLoginComplete,
    Route::Passkeys,
    Route::PasskeyDelete,
];

/// The path of a request URL as the runtime serialises it (WHATWG: the scheme, `//`, the host,
/// then a path that always starts with `/`; `?` and `#` inside the path are percent-encoded).
pub fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.find(['?', '#']).map_or(path, |end| &path[..end])
}

/// The route of a URL path: served at the root and under `/api` (the demo page and the
/// OpenAPI document at the root only), with or without the trailing slash, matched
/// case-sensitively. The query string is not part of `path`.
pub fn resolve(path: &str) -> Option<Route> {
    if path == "/" {
        return Some(Route::Demo);
    }
    let path = if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    };
    if path == "/openapi.json" {
        return Some(Route::OpenApi);
    }
    let path = path
        .strip_prefix("/api")
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(path);
    Some(match path {
        "/register" => Route::Register,
        "/token" => Route::Token,
        "/token/refresh" => Route::TokenRefresh,
        "/token/verify" => Route::TokenVerify,
        "/token/blacklist" => Route::TokenBlacklist,
        "/token/blacklist/all" => Route::TokenBlacklistAll,
        "/dashboard" => Route::Dashboard,
        "/.well-known/jwks.json" => Route::Jwks,
        "/login" => Route::Login,
        "/logout" => Route::Logout,
        "/registration" => Route::Registration,
        "/registration/verify-email" => Route::VerifyEmail,
        "/registration/resend-email" => Route::ResendEmail,
        "/user" => Route::User,
        "/user/delete" => Route::UserDelete,
        "/user/events" => Route::UserEvents,
        "/password/change" => Route::PasswordChange,
        "/password/reset" => Route::PasswordReset,
        "/password/reset/confirm" => Route::PasswordResetConfirm,
        "/sessions" => Route::Sessions,
        "/sessions/revoke-others" => Route::SessionsRevokeOthers,
        "/.well-known/oauth-authorization-server" => Route::OAuthMetadata,
        "/.well-known/openid-configuration" => Route::OpenIdConfiguration,
        "/userinfo" => Route::UserInfo,
        "/token/revoke" => Route::TokenRevoke,
        "/token/introspect" => Route::TokenIntrospect,
        "/mfa/verify" => Route::MfaVerify,
        "/mfa/totp/activate" => Route::MfaTotpActivate,
        "/mfa/totp/deactivate" => Route::MfaTotpDeactivate,
        "/mfa/status" => Route::MfaStatus,
        "/mfa/recovery-codes" => Route::MfaRecoveryCodes,
        "/mfa/recovery-codes/regenerate" => Route::MfaRecoveryCodesRegenerate,
        "/passkeys/register/begin" => Route::PasskeyRegisterBegin,
        "/passkeys/register/complete" => Route::PasskeyRegisterComplete,
        "/passkeys/login/begin" => Route::PasskeyLoginBegin,
        "/passkeys/login/complete" => Route::PasskeyLoginComplete,
        "/passkeys" => Route::Passkeys,
        _ => return with_parameters(path),
    })
}

/// The routes with path parameters: `/password/reset/confirm/<uid>/<token>` and
/// `/sessions/<id>/revoke` (no trailing slash here; each parameter one non-empty segment).
fn with_parameters(path: &str) -> Option<Route> {
    let segment = |s: &str| !s.is_empty() && !s.contains('/');
    if let Some(rest) = path.strip_prefix("/password/reset/confirm/") {
        let (uid, token) = rest.split_once('/')?;
        return (segment(uid) && segment(token)).then_some(Route::PasswordResetConfirm);
    }
    if let Some(id) = path.strip_prefix("/passkeys/") {
        // The ceremonies' own paths without begin/complete are no passkey's.
        let ours = segment(id) && !matches!(id, "register" | "login");
        return ours.then_some(Route::PasskeyDelete);
    }
    let id = path.strip_prefix("/sessions/")?.strip_suffix("/revoke")?;
    segment(id).then_some(Route::SessionRevoke)
}

/// The credential id of a `/passkeys/<id>/` path (base64url needs no percent-decoding).
pub fn passkey_id(path: &str) -> Option<&str> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let path = path.strip_prefix("/api").unwrap_or(path);
    path.strip_prefix("/passkeys/")
}

/// The session id of a `/sessions/<id>/revoke/` path (percent-encoding left as it is: ids
/// are hex).
pub fn session_id(path: &str) -> Option<&str> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let path = path.strip_prefix("/api").unwrap_or(path);
    path.strip_prefix("/sessions/")?.strip_suffix("/revoke")
}

/// DRF's `SimpleMetadata` document (docs/contract.md §4.8), members in DRF's order.
#[derive(Serialize)]
struct Metadata {
    name: &'static str,
    description: &'static str,
    renders: [&'static str; 1],
    parses: [&'static str; 3],
    #[serde(skip_serializing_if = "Option::is_none")]
    actions: Option<Actions>,
}

#[derive(Serialize)]
struct Actions {
    #[serde(rename = "POST", skip_serializing_if = "Option::is_none")]
    post: Option<Ordered<FieldMetadata>>,
    #[serde(rename = "PUT", skip_serializing_if = "Option::is_none")]
    put: Option<Ordered<FieldMetadata>>,
}

#[derive(Serialize, Default)]
struct FieldMetadata {
    #[serde(rename = "type")]
    kind: &'static str,
    required: bool,
    read_only: bool,
    label: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_text: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_length: Option<u32>,
}

/// A JSON object whose members keep their order.
struct Ordered<T>(Vec<(&'static str, T)>);

impl<T: Serialize> Serialize for Ordered<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl Route {
    /// The `Allow` header (docs/contract.md §2.1).
    pub fn allow(self) -> &'static str {
        match self {
            Self::Dashboard => "GET, POST, OPTIONS",
            Self::Jwks
            | Self::OpenApi
            | Self::Demo
            | Self::OAuthMetadata
            | Self::OpenIdConfiguration => "GET",
            Self::UserInfo => "GET, HEAD, OPTIONS",
            Self::User => "GET, PUT, PATCH, HEAD, OPTIONS",
            Self::Sessions | Self::UserEvents | Self::MfaStatus | Self::Passkeys => {
                "GET, HEAD, OPTIONS"
            }
            Self::PasskeyDelete => "DELETE, OPTIONS",
            Self::MfaTotpActivate => "GET, POST, HEAD, OPTIONS",
            // dj-rest-auth's own headers: these views define `get` only to refuse it.
            Self::Logout => "GET, POST, HEAD, OPTIONS",
            Self::VerifyEmail => "POST, OPTIONS, HEAD",
            _ => "POST, OPTIONS",
        }
    }

    /// Whether `method` is served (OPTIONS included where the route answers it).
    pub fn accepts(self, method: &str) -> bool {
        match self {
            Self::Logout | Self::VerifyEmail => matches!(method, "POST" | "OPTIONS"),
            _ => self.allow().split(", ").any(|m| m == method),
        }
    }

    /// How the route is served.
    pub fn kind(self) -> Kind {
        match self {
            Self::OpenApi => Kind::Document(Document::OpenApi),
            Self::Demo => Kind::Document(Document::Demo),
            Self::Dashboard => Kind::Protected(Protected::Dashboard),
            Self::TokenBlacklistAll => Kind::Protected(Protected::TokenBlacklistAll),
            Self::Register => Kind::Public(Public::Register),
            Self::Token => Kind::Public(Public::Token),
            Self::TokenRefresh => Kind::Public(Public::TokenRefresh),
            Self::TokenVerify => Kind::Public(Public::TokenVerify),
            Self::TokenBlacklist => Kind::Public(Public::TokenBlacklist),
            Self::Jwks => Kind::Public(Public::Jwks),
            Self::Login => Kind::Public(Public::Login),
            Self::Logout => Kind::Public(Public::Logout),
            Self::Registration => Kind::Public(Public::Registration),
            Self::VerifyEmail => Kind::Public(Public::VerifyEmail),
            Self::ResendEmail => Kind::Public(Public::ResendEmail),
            Self::PasswordReset => Kind::Public(Public::PasswordReset),
            Self::PasswordResetConfirm => Kind::Public(Public::PasswordResetConfirm),
            Self::User => Kind::Protected(Protected::User),
            Self::UserDelete => Kind::Protected(Protected::UserDelete),
            Self::UserEvents => Kind::Protected(Protected::UserEvents),
            Self::PasswordChange => Kind::Protected(Protected::PasswordChange),
            Self::Sessions => Kind::Protected(Protected::Sessions),
            Self::SessionRevoke => Kind::Protected(Protected::SessionRevoke),
            Self::SessionsRevokeOthers => Kind::Protected(Protected::SessionsRevokeOthers),
            Self::OAuthMetadata | Self::OpenIdConfiguration => Kind::Public(Public::Discovery),
            Self::UserInfo => Kind::Protected(Protected::UserInfo),
            Self::TokenRevoke => Kind::Public(Public::TokenRevoke),
            Self::TokenIntrospect => Kind::Public(Public::TokenIntrospect),
            Self::MfaVerify => Kind::Public(Public::MfaVerify),
            Self::MfaTotpActivate => Kind::Protected(Protected::MfaTotpActivate),
            Self::MfaTotpDeactivate => Kind::Protected(Protected::MfaTotpDeactivate),
            Self::MfaStatus => Kind::Protected(Protected::MfaStatus),
            Self::MfaRecoveryCodes => Kind::Protected(Protected::MfaRecoveryCodes),
            Self::MfaRecoveryCodesRegenerate => {
                Kind::Protected(Protected::MfaRecoveryCodesRegenerate)
            }
            Self::PasskeyRegisterBegin => Kind::Protected(Protected::PasskeyRegisterBegin),
            Self::PasskeyRegisterComplete => Kind::Protected(Protected::PasskeyRegisterComplete),
            Self::PasskeyLoginBegin => Kind::Public(Public::PasskeyLoginBegin),
            Self::PasskeyLoginComplete => Kind::Public(Public::PasskeyLoginComplete),
            Self::Passkeys => Kind::Protected(Protected::Passkeys),
            Self::PasskeyDelete => Kind::Protected(Protected::PasskeyDelete),
        }
    }

    /// The body of a non-preflight `OPTIONS` (DRF's `SimpleMetadata`, docs/contract.md §4.8).
    pub fn metadata(self) -> String {
        let field = |name, kind, label, max_length| {
            let field = FieldMetadata {
                kind,
                required: true,
                label,
                max_length,
                ..FieldMetadata::default()
            };
            (name, field)
        };
        let optional = |name, kind, label| {
            let field = FieldMetadata {
                kind,
                label,
                ..FieldMetadata::default()
            };
            (name, field)
        };
        let (name, description, fields) = match self {
            Self::Register => (
                "Register",
                "",
                vec![
                    field("email", "email", "Email", Some(254)),
                    field("username", "string", "Username", Some(100)),
                    field("password", "string", "Password", Some(4096)),
                    field("password2", "string", "Password2", Some(4096)),
                ],
            ),
            Self::Token => (
                "My Token Obtain Pair",
                "",
                vec![
                    field("email", "string", "Email", None),
                    field("password", "string", "Password", Some(4096)),
                ],
            ),
            Self::TokenRefresh => (
                "Token Refresh",
                "Takes a refresh type JSON web token and returns an access type JSON web\ntoken if the refresh token is valid.",
                vec![
                    field("refresh", "string", "Refresh", None),
                    (
                        "access",
                        FieldMetadata {
                            kind: "string",
                            read_only: true,
                            label: "Access",
                            ..FieldMetadata::default()
                        },
                    ),
                ],
            ),
            Self::TokenVerify => (
                "Token Verify",
                "Takes a token and indicates if it is valid.",
                vec![field("token", "string", "Token", None)],
            ),
            Self::TokenBlacklist => (
                "Token Blacklist",
                "Takes a token and blacklists it.",
                vec![field("refresh", "string", "Refresh", None)],
            ),
            Self::TokenBlacklistAll => ("Token Blacklist All", "", vec![]),
            Self::Dashboard => ("Dashboard", "", vec![]),
            Self::Jwks => ("JWKS", "", vec![]),
            Self::OpenApi => ("OpenAPI", "", vec![]),
            Self::Demo => ("Demo", "", vec![]),
            Self::Login => (
                "Login",
                "Check the credentials and return the REST Token\nif the credentials are valid and authenticated.\nCalls Django Auth login method to register User ID\nin Django session framework\n\nAccept the following POST parameters: username, password\nReturn the REST Framework Token Object's key.",
                vec![
                    optional("username", "string", "Username"),
                    optional("email", "email", "Email"),
                    field("password", "string", "Password", None),
                ],
            ),
            Self::Logout => (
                "Logout",
                "Calls Django logout method and delete the Token object\nassigned to the current User object.\n\nAccepts/Returns nothing.",
                vec![],
            ),
            Self::Registration => (
                "Register",
                "Registers a new user.\n\nAccepts the following POST parameters: username, email, password1, password2.",
                vec![
                    (
                        "username",
                        FieldMetadata {
                            kind: "string",
                            required: true,
                            label: "Username",
                            min_length: Some(1),
                            max_length: Some(100),
                            ..FieldMetadata::default()
                        },
                    ),
                    field("email", "email", "Email", None),
                    field("password1", "string", "Password1", None),
                    field("password2", "string", "Password2", None),
                ],
            ),
            Self::VerifyEmail => (
                "Verify Email",
                "Verifies the email associated with the provided key.\n\nAccepts the following POST parameter: key.",
                vec![field("key", "string", "Key", None)],
            ),
            Self::ResendEmail => (
                "Resend Email Verification",
                "Resends another email to an unverified email.\n\nAccepts the following POST parameter: email.",
                vec![field("email", "email", "Email", None)],
            ),
            Self::User => ("User Details", "Reads and updates UserModel fields\nAccepts GET, PUT, PATCH methods.\n\nDefault accepted fields: username, first name, last name\nDefault display fields: pk, username, email, first name, last name\nRead-only fields: pk, email\n\nReturns UserModel fields.", vec![]),
            Self::UserDelete => (
                "User Delete",
                "",
                vec![field("password", "string", "Password", None)],
            ),
            Self::UserEvents => ("User Events", "", vec![]),
            Self::PasswordChange => (
                "Password Change",
                "Calls Django Auth SetPasswordForm save method.\n\nAccepts the following POST parameters: new_password1, new_password2\nReturns the success/fail message.",
                vec![
                    field("old_password", "string", "Old password", Some(128)),
                    field("new_password1", "string", "New password1", Some(128)),
                    field("new_password2", "string", "New password2", Some(128)),
                ],
            ),
            Self::PasswordReset => (
                "Password Reset",
                "Calls Django Auth PasswordResetForm save method.\n\nAccepts the following POST parameters: email\nReturns the success/fail message.",
                vec![field("email", "email", "Email", None)],
            ),
            Self::PasswordResetConfirm => (
                "Password Reset Confirm",
                "Password reset e-mail link is confirmed, therefore\nthis resets the user's password.\n\nAccepts the following POST parameters: token, uid,\n    new_password1, new_password2\nReturns the success/fail message.",
                vec![
                    field("new_password1", "string", "New password1", Some(128)),
                    field("new_password2", "string", "New password2", Some(128)),
                    field("uid", "string", "Uid", None),
                    field("token", "string", "Token", None),
                ],
            ),
            Self::Sessions => ("Sessions", "", vec![]),
            Self::SessionRevoke => ("Session Revoke", "", vec![]),
            Self::SessionsRevokeOthers => ("Sessions Revoke Others", "", vec![]),
            Self::OAuthMetadata | Self::OpenIdConfiguration => ("Discovery", "", vec![]),
            Self::UserInfo => ("User Info", "", vec![]),
            Self::TokenRevoke => (
                "Token Revoke",
                "RFC 7009: revokes a refresh token's login or an access token's session.",
                vec![
                    field("token", "string", "Token", None),
                    optional("token_type_hint", "string", "Token type hint"),
                ],
            ),
            Self::TokenIntrospect => (
                "Token Introspect",
                "RFC 7662: whether a token is active, and its claims.",
                vec![
                    field("token", "string", "Token", None),
                    optional("token_type_hint", "string", "Token type hint"),
                ],
            ),
            Self::MfaVerify => (
                "Mfa Verify",
                "Exchange ephemeral_token + TOTP/recovery code for a real auth token.",
                vec![
                    field("ephemeral_token", "string", "Ephemeral token", None),
                    field("code", "string", "Code", Some(9)),
                ],
            ),
            Self::MfaTotpActivate => (
                "Totp Activate",
                "GET: Generate a new TOTP secret + provisioning URI + QR code.\nPOST: Confirm TOTP activation with activation_token and a valid code.",
                vec![
                    field("activation_token", "string", "Activation token", None),
                    field("code", "string", "Code", None),
                ],
            ),
            Self::MfaTotpDeactivate => (
                "Totp Deactivate",
                "Deactivate TOTP MFA. Requires a valid TOTP code to confirm.",
                vec![field("code", "string", "Code", None)],
            ),
            Self::MfaStatus => (
                "Mfa Status",
                "Check whether the current user has MFA enabled.",
                vec![],
            ),
            Self::MfaRecoveryCodes => ("Recovery Codes", "How many unused recovery codes are left.", vec![]),
            Self::MfaRecoveryCodesRegenerate => (
                "Recovery Codes Regenerate",
                "Regenerate recovery codes. Invalidates all previous codes.",
                vec![],
            ),
            Self::PasskeyRegisterBegin => ("Passkey Register Begin", "", vec![]),
            Self::PasskeyRegisterComplete => (
                "Passkey Register Complete",
                "",
                vec![
                    field("credential", "field", "Credential", None),
                    optional("name", "string", "Name"),
                ],
            ),
            Self::PasskeyLoginBegin => (
                "Passkey Login Begin",
                "",
                vec![optional("email", "email", "Email")],
            ),
            Self::PasskeyLoginComplete => (
                "Passkey Login Complete",
                "",
                vec![field("credential", "field", "Credential", None)],
            ),
            Self::Passkeys => ("Passkeys", "", vec![]),
            Self::PasskeyDelete => ("Passkey Delete", "", vec![]),
        };
        let actions = if self == Self::User {
            Some(Actions {
                post: None,
                put: Some(Ordered(user_fields())),
            })
        } else {
            (!fields.is_empty()).then_some(Actions {
                post: Some(Ordered(fields)),
                put: None,
            })
        };
        let metadata = Metadata {
            name,
            description,
            renders: ["application/json"],
            parses: [
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ],
            actions,
        };
        crate::contract::reply::to_json(&metadata)
    }
}

/// The fields `/user/` takes by PUT (dj-rest-auth's `UserDetailsSerializer`).
fn user_fields() -> Vec<(&'static str, FieldMetadata)> {
    let text = |label, required, max_length, help_text| FieldMetadata {
        kind: "string",
        required,
        label,
        help_text,
        max_length: Some(max_length),
        ..FieldMetadata::default()
    };
    vec![
        (
            "pk",
            FieldMetadata {
                kind: "integer",
                read_only: true,
                label: "ID",
                ..FieldMetadata::default()
            },
        ),
        (
            "username",
            text(
                "Username",
                true,
                100,
                Some("Required. 100 characters or fewer."),
            ),
        ),
        (
            "email",
            FieldMetadata {
                kind: "email",
                read_only: true,
                label: "Email address",
                ..FieldMetadata::default()
            },
        ),
        ("first_name", text("First name", false, 150, None)),
        ("last_name", text("Last name", false, 150, None)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_answer_at_the_root_and_under_api_with_or_without_the_slash() {
        for path in [
            "/token/refresh/",
            "/token/refresh",
            "/api/token/refresh/",
            "/api/token/refresh",
        ] {
            assert_eq!(resolve(path), Some(Route::TokenRefresh), "{path}");
        }
        assert_eq!(resolve("/.well-known/jwks.json"), Some(Route::Jwks));
        assert_eq!(resolve("/api/.well-known/jwks.json/"), Some(Route::Jwks));
    }

    #[test]
    fn the_demo_page_and_the_openapi_document_are_served_at_the_root_only() {
        assert_eq!(resolve("/"), Some(Route::Demo));
        assert_eq!(resolve("/openapi.json"), Some(Route::OpenApi));
        assert_eq!(resolve("/openapi.json/"), Some(Route::OpenApi));
        assert_eq!(resolve("/api/openapi.json"), None);
        assert_eq!(resolve("/api/"), None);
        assert_eq!(resolve("/index.html"), None);
        assert_eq!(resolve("//"), None);
    }

    #[test]
    fn the_path_of_a_url_leaves_out_host_query_and_fragment() {
        for (url, path) in [
            ("http://localhost:8787/token/", "/token/"),
            (
                "https://auth.example.com/api/token/refresh?next=/x",
                "/api/token/refresh",
            ),
            ("https://auth.example.com", "/"),
            ("https://auth.example.com/?a=b", "/"),
            ("http://[::1]:8787/dashboard/#top", "/dashboard/"),
            ("https://user:pw@auth.example.com/%3F/", "/%3F/"),
        ] {
            assert_eq!(path_of(url), path, "{url}");
        }
    }

    #[test]
    fn a_passkey_s_path_names_one_segment_and_not_a_ceremony() {
        assert_eq!(resolve("/passkeys/AbC-_9/"), Some(Route::PasskeyDelete));
        assert_eq!(passkey_id("/api/passkeys/AbC-_9/"), Some("AbC-_9"));
        assert_eq!(
            resolve("/passkeys/register/begin/"),
            Some(Route::PasskeyRegisterBegin)
        );
        for path in [
            "/passkeys/register/",
            "/passkeys/login",
            "/passkeys/a/b/",
            "/passkeys//",
        ] {
            assert_eq!(resolve(path), None, "{path}");
        }
    }

    #[test]
    fn other_paths_are_not_routes() {
        for path in [
            "/api",
            "/api/",
            "/Token/",
            "/token//",
            "/apitoken/",
            "/api/api/token/",
            "/token/refresh/x",
            "//token/",
            "",
        ] {
            assert_eq!(resolve(path), None, "{path}");
        }
    }

    #[test]
    fn every_metadata_document_is_valid_json_with_common_members() {
        for route in ALL {
            let value: serde_json::Value = serde_json::from_str(&route.metadata()).unwrap();
            assert_eq!(value["renders"], serde_json::json!(["application/json"]));
        }
    }

    #[test]
    fn refresh_metadata_matches_the_contract() {
        assert_eq!(
            Route::TokenRefresh.metadata(),
            r#"{"name":"Token Refresh","description":"Takes a refresh type JSON web token and returns an access type JSON web\ntoken if the refresh token is valid.","renders":["application/json"],"parses":["application/json","application/x-www-form-urlencoded","multipart/form-data"],"actions":{"POST":{"refresh":{"type":"string","required":true,"read_only":false,"label":"Refresh"},"access":{"type":"string","required":false,"read_only":true,"label":"Access"}}}}"#
        );
        assert_eq!(
            Route::Dashboard.metadata(),
            r#"{"name":"Dashboard","description":"","renders":["application/json"],"parses":["application/json","application/x-www-form-urlencoded","multipart/form-data"]}"#
        );
    }

    #[test]
    fn allowed_methods_follow_the_allow_header() {
        assert!(Route::Dashboard.accepts("GET") && Route::Dashboard.accepts("OPTIONS"));
        assert!(!Route::Token.accepts("GET") && !Route::Token.accepts("HEAD"));
        for route in [Route::Jwks, Route::OpenApi, Route::Demo] {
            assert!(route.accepts("GET") && !route.accepts("OPTIONS") && !route.accepts("HEAD"));
        }
    }
}
