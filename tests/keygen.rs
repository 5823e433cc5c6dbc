//! `make keygen` prints a key that the worker accepts, and `--dev-vars` the line `make dev`
//! writes to `.dev.vars`.

use std::process::Command;

use edge_auth::domain::keys::Keyring;
use edge_auth::domain::secret::Secret;

fn keygen(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_keygen"))
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn keygen_prints_a_private_key_array_the_worker_accepts_and_its_public_jwk() {
    let printed = keygen(&[]);
    let kid = printed
        .lines()
        .next()
        .unwrap()
        .strip_prefix("kid: ")
        .unwrap();
    let private = printed.lines().find(|l| l.starts_with("[{")).unwrap();
    let keys = Keyring::parse(Some(&Secret::new(private)), None).unwrap();
    assert_eq!(keys.signing().kid, kid);
    let public = printed.lines().last().unwrap();
    assert_eq!(
        public,
        serde_json::to_string(&keys.signing().public_jwk()).unwrap()
    );
    assert!(!public.contains("\"d\""));
}

#[test]
fn keygen_dev_vars_prints_one_dotenv_line_with_a_fresh_key() {
    let first = keygen(&["--dev-vars"]);
    let value = first
        .trim_end()
        .strip_prefix("JWT_SIGNING_KEYS='")
        .unwrap()
        .strip_suffix('\'')
        .unwrap();
    assert!(Keyring::parse(Some(&Secret::new(value)), None).is_ok());
    assert_ne!(first, keygen(&["--dev-vars"]));
}
