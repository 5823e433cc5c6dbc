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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Public {
    Register,
    Token,
    TokenRefresh,
    TokenVerify,
    TokenBlacklist,
    Jwks,
}

/// Every route, for tests and documentation.
pub const ALL: [Route; 10] = [
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
        _ => return None,
    })
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
    #[serde(rename = "POST")]
    post: Ordered<FieldMetadata>,
}

#[derive(Serialize)]
struct FieldMetadata {
    #[serde(rename = "type")]
    kind: &'static str,
    required: bool,
    read_only: bool,
    label: &'static str,
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
            Self::Jwks | Self::OpenApi | Self::Demo => "GET",
            _ => "POST, OPTIONS",
        }
    }

    /// Whether `method` is served (OPTIONS included where the route answers it).
    pub fn accepts(self, method: &str) -> bool {
        self.allow().split(", ").any(|m| m == method)
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
        }
    }

    /// The body of a non-preflight `OPTIONS` (DRF's `SimpleMetadata`, docs/contract.md §4.8).
    pub fn metadata(self) -> String {
        let field = |name, kind, label, max_length| {
            let field = FieldMetadata {
                kind,
                required: true,
                read_only: false,
                label,
                max_length,
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
                            required: false,
                            read_only: true,
                            label: "Access",
                            max_length: None,
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
            actions: (!fields.is_empty()).then_some(Actions {
                post: Ordered(fields),
            }),
        };
        crate::contract::reply::to_json(&metadata)
    }
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
