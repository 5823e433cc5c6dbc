//! The two documents the worker serves besides its API (docs/contract.md §1): the contract as an
//! OpenAPI 3.1 document (`src/openapi.json`) and the demo page (`src/demo.html`), both
//! compiled in. The build script compacts the first and derives the page's CSP.

use crate::contract::reply::{Reply, JSON};

/// `src/openapi.json` with compact separators.
pub const OPENAPI: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.min.json"));

/// `src/demo.html`.
pub const DEMO_HTML: &str = include_str!("demo.html");

/// Allows the page's own inline style and module script (by hash), the module it imports from
/// this origin (the TypeScript client, a static asset), and requests to this origin only.
pub const DEMO_CSP: &str = include_str!(concat!(env!("OUT_DIR"), "/demo.csp"));

/// Both may be cached briefly: they change only with a deployment.
const CACHE: &str = "public, max-age=300";

pub fn openapi() -> Reply {
    Reply::ok_text(JSON, OPENAPI.to_owned()).with_header("Cache-Control", CACHE)
}

pub fn demo_page() -> Reply {
    Reply::ok_text("text/html; charset=utf-8", DEMO_HTML.to_owned())
        .with_header("Content-Security-Policy", DEMO_CSP)
        .with_header("Cache-Control", CACHE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_openapi_document_is_the_source_file_compacted() {
        let source: serde_json::Value = serde_json::from_str(include_str!("openapi.json")).unwrap();
        let served: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(served, source);
        assert!(!OPENAPI.contains("\n") && !OPENAPI.contains("\": "));
    }

    #[test]
    fn the_openapi_document_is_version_3_1() {
        let document: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3.1."));
    }

    #[test]
    fn the_demo_csp_allows_only_the_pages_own_script_and_style() {
        use base64ct::{Base64, Encoding};
        use sha2::{Digest, Sha256};
        let inner = |open: &str, close: &str| {
            let start = DEMO_HTML.find(open).unwrap() + open.len();
            let end = start + DEMO_HTML[start..].find(close).unwrap();
            Base64::encode_string(&Sha256::digest(&DEMO_HTML.as_bytes()[start..end]))
        };
        let script = inner("<script type=\"module\">", "</script>");
        assert!(DEMO_CSP.starts_with("default-src 'none'; "));
        assert!(DEMO_CSP.contains(&format!("script-src 'self' 'sha256-{script}';")));
        let style = inner("<style>", "</style>");
        assert!(DEMO_CSP.contains(&format!("style-src 'sha256-{style}';")));
        assert!(DEMO_CSP.contains("connect-src 'self'"));
    }

    #[test]
    fn the_demo_page_imports_the_client_from_its_static_asset() {
        // wrangler.toml [assets] serves build/assets, which `make worker` fills, before the
        // worker: no route may lie under /sdk/ (routes.rs).
        assert!(DEMO_HTML.contains("from \"/sdk/edge-auth.mjs\";"));
        assert_eq!(crate::contract::routes::resolve("/sdk/edge-auth.mjs"), None);
    }
}
