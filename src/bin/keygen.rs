//! `make keygen`: a new Ed25519 signing key, printed as the private JWK array to store with
//! `wrangler secret put JWT_SIGNING_KEYS` and as the public JWK the JWKS will publish.
//!
//! `keygen --dev-vars` prints only the `.dev.vars` line that `make dev` writes.
//! Runs natively, offline; randomness comes from the operating system.

use edge_auth::domain::keys::Key;

fn main() {
    let key = Key::generate();
    let private = key.private_jwk();
    if std::env::args().any(|arg| arg == "--dev-vars") {
        println!("JWT_SIGNING_KEYS='[{}]'", private.expose());
        return;
    }
    println!("kid: {}", key.kid);
    println!();
    println!("Private key, for `wrangler secret put JWT_SIGNING_KEYS` (a one-key array; to rotate, add it");
    println!("to the existing array instead, see README \"Key rotation\"). Keep it secret:");
    println!("[{}]", private.expose());
    println!();
    println!("Public JWK, as /.well-known/jwks.json will publish it:");
    println!(
        "{}",
        serde_json::to_string(&key.public_jwk()).unwrap_or_default()
    );
}
