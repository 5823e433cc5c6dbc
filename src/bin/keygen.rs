//! `make keygen`: a new Ed25519 signing key, printed as the private JWK array to store with
//! `wrangler secret put JWT_SIGNING_KEYS` and as the public JWK the JWKS will publish.
//!
//! `keygen --dev-vars` prints only the `.dev.vars` line that `make dev` writes;
//! `keygen --secret-key` prints a new `SECRET_KEY` (the HMAC key of reset and e-mail links)
//! as its `.dev.vars` line. Runs natively, offline; randomness comes from the operating system.

use edge_auth::domain::keys::Key;

/// Django's `get_random_secret_key`: 50 characters of this alphabet.
fn secret_key() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789!@#%^&*(-_=+)";
    let mut bytes = [0u8; 50];
    edge_auth::domain::random::fill(&mut bytes);
    // 256 is not a multiple of 49: reject the bytes that would bias the choice.
    let mut key = String::with_capacity(50);
    let mut pool = bytes.to_vec();
    while key.len() < 50 {
        if pool.is_empty() {
            let mut more = [0u8; 64];
            edge_auth::domain::random::fill(&mut more);
            pool.extend_from_slice(&more);
        }
        let byte = pool.remove(0);
        if usize::from(byte) < 256 - 256 % ALPHABET.len() {
            key.push(char::from(ALPHABET[usize::from(byte) % ALPHABET.len()]));
        }
    }
    key
}

fn main() {
    if std::env::args().any(|arg| arg == "--secret-key") {
        println!("SECRET_KEY='{}'", secret_key());
        return;
    }
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
