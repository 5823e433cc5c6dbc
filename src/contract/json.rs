//! JSON text without the white space between tokens, strings copied byte for byte. Shared by
//! the body parser (DRF's text of a nested value) and the build script (the served OpenAPI
//! document), which includes this file: it must stay free of crate imports.

/// `raw`, valid JSON text, without the white space outside strings.
pub fn compact_json(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in raw.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}
