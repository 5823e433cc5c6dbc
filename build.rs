//! Prepares the data compiled into the worker.
//!
//! **Common passwords.** Turns Django's list of 20 000 common passwords
//! (`data/common-passwords.txt.gz`, shipped verbatim from Django 4.2) into a compact,
//! binary-searchable blob for `password_policy`.
//!
//! Format: the sorted, de-duplicated words, front-coded in blocks of `BLOCK` words. Every
//! entry is `[shared prefix length: u8][suffix length: u8][suffix bytes]`; the first entry of
//! a block shares nothing, so a block can be decoded on its own. A second file holds the
//! byte offset of every block as little-endian `u32`.
//!
//! **OpenAPI document.** `src/contract/openapi.json` is kept readable; the worker serves it with
//! compact separators (docs/contract.md §2.1), member order unchanged. It must parse as JSON.
//!
//! **Demo page.** The Content-Security-Policy of `src/contract/demo.html` allows exactly its one inline
//! `<style>` and one inline module `<script>`, by their SHA-256 hashes (CSP3 `hash-source`), and
//! scripts from the page's own origin: the TypeScript client it imports, a static asset
//! (`/sdk/edge-auth.mjs`). A module script runs only when served with a JavaScript type, which
//! no route of the API answers with.

#[path = "src/contract/json.rs"]
mod json;

use std::io::Read;
use std::path::{Path, PathBuf};

use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};

const BLOCK: usize = 16;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    common_passwords(&out);
    openapi(&out);
    demo_csp(&out);
}

fn openapi(out: &Path) {
    let source = "src/contract/openapi.json";
    println!("cargo:rerun-if-changed={source}");
    println!("cargo:rerun-if-changed=src/contract/json.rs");
    let text = std::fs::read_to_string(source).expect("read the OpenAPI document");
    serde_json::from_str::<serde_json::Value>(&text).expect("the OpenAPI document is JSON");
    let compact = json::compact_json(&text);
    std::fs::write(out.join("openapi.min.json"), compact).unwrap();
}

/// The contents of the one `<tag>` element of `html`, which opens with `open`.
fn only_element<'a>(html: &'a str, tag: &str, open: &str) -> &'a str {
    let close = format!("</{tag}>");
    assert_eq!(
        html.matches(&format!("<{tag}")).count(),
        1,
        "demo.html has one <{tag}>"
    );
    assert_eq!(
        html.matches(open).count(),
        1,
        "demo.html's <{tag}> is {open}"
    );
    let start = html.find(open).unwrap() + open.len();
    let end = start + html[start..].find(&close).expect("closed");
    &html[start..end]
}

fn demo_csp(out: &Path) {
    let source = "src/contract/demo.html";
    println!("cargo:rerun-if-changed={source}");
    let html = std::fs::read_to_string(source).expect("read the demo page");
    let hash = |text: &str| Base64::encode_string(&Sha256::digest(text.as_bytes()));
    let csp = format!(
        "default-src 'none'; script-src 'self' 'sha256-{}'; style-src 'sha256-{}'; \
         connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
        hash(only_element(&html, "script", "<script type=\"module\">")),
        hash(only_element(&html, "style", "<style>")),
    );
    std::fs::write(out.join("demo.csp"), csp).unwrap();
}

fn common_passwords(out: &Path) {
    let source = "data/common-passwords.txt.gz";
    println!("cargo:rerun-if-changed={source}");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(source).expect("open common passwords"))
        .read_to_string(&mut text)
        .expect("decompress common passwords");
    // Django: `{x.strip() for x in f.read().decode().splitlines()}`.
    let mut words: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    words.sort_unstable();
    words.dedup();

    let mut blob = Vec::new();
    let mut index = Vec::new();
    let mut previous: &[u8] = &[];
    for (i, word) in words.iter().enumerate() {
        let word = word.as_bytes();
        assert!(word.len() <= 255, "common password longer than 255 bytes");
        let shared = if i % BLOCK == 0 {
            index.extend_from_slice(&u32::try_from(blob.len()).unwrap().to_le_bytes());
            0
        } else {
            word.iter()
                .zip(previous)
                .take_while(|(a, b)| a == b)
                .count()
        };
        blob.push(shared as u8);
        blob.push((word.len() - shared) as u8);
        blob.extend_from_slice(&word[shared..]);
        previous = word;
    }
    std::fs::write(out.join("common_passwords.bin"), blob).unwrap();
    std::fs::write(out.join("common_passwords.idx"), index).unwrap();
}
