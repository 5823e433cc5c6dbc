//! The second factor's rules as sentences, over the in-memory store with a fixed clock.

use super::*;
use crate::domain::memory::{race, run};
use crate::domain::sessions::Login;
use crate::domain::world::{World, EMAIL, NOW, PASSWORD};

const RFC_KEY: &[u8] = b"12345678901234567890";

fn key() -> Secret {
    Secret::new("mfa-test-secret-key")
}

fn user(world: &World) -> User {
    let state = world.store.state.borrow();
    state
        .users
        .iter()
        .find(|(e, _)| e == EMAIL)
        .unwrap()
        .1
        .clone()
}

/// The code of `secret` at `now`.
fn code(secret: &Secret, now: i64) -> String {
    let key = base32_decode(secret.expose()).unwrap();
    format!("{:06}", hotp(&key, step_at(now) as u64))
}

/// Turns MFA on for the world's user at `NOW`; its secret and recovery codes.
fn enable(world: &World) -> (Secret, Vec<Secret>) {
    let activation = begin_activation(&user(world), &key(), "", NOW);
    let token = activation.activation_token.expose();
    let now_code = code(&activation.secret, NOW);
    let codes = run(activate(
        &world.store,
        &user(world),
        &key(),
        token,
        &now_code,
        NOW,
        &world.client(),
    ))
    .expect("activation");
    (activation.secret, codes)
}

/// The ephemeral token of a password login of the world's user.
fn first_step(world: &World, now: i64) -> Secret {
    match world.password_login(EMAIL, PASSWORD, now).unwrap() {
        Login::MfaRequired(token) => token,
        Login::LoggedIn(_) => panic!("logged in without the second step"),
    }
}

fn second_step(world: &World, token: &Secret, code: &str, now: i64) -> Result<LoggedIn, MfaError> {
    let client = world.client();
    run(verify(
        &world.at(now),
        &world.store,
        &world.denylist,
        &key(),
        token.expose(),
        code,
        &client,
    ))
}

#[test]
fn hotp_matches_the_rfc_4226_test_values() {
    let expected = [
        755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
    ];
    for (counter, value) in expected.into_iter().enumerate() {
        assert_eq!(hotp(RFC_KEY, counter as u64), value);
    }
}

#[test]
fn totp_matches_the_rfc_6238_sha1_test_values_truncated_to_six_digits() {
    let secret = Secret::new(base32_encode(RFC_KEY));
    for (time, value) in [
        (59, "287082"),
        (1_111_111_109, "081804"),
        (1_111_111_111, "050471"),
        (1_234_567_890, "005924"),
        (2_000_000_000, "279037"),
        (20_000_000_000, "353130"),
    ] {
        assert_eq!(code(&secret, time), value);
        assert_eq!(accept(&secret, value, time, i64::MIN), Some(step_at(time)));
    }
}

#[test]
fn base32_matches_rfc_4648_and_refuses_other_characters() {
    for (plain, encoded) in [
        ("", ""),
        ("f", "MY"),
        ("fo", "MZXQ"),
        ("foo", "MZXW6"),
        ("foob", "MZXW6YQ"),
        ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ] {
        assert_eq!(base32_encode(plain.as_bytes()), encoded);
        assert_eq!(base32_decode(encoded).unwrap(), plain.as_bytes());
    }
    assert_eq!(base32_decode("MZXW6YQ=").unwrap(), b"foob");
    assert_eq!(base32_decode("mzxw6"), None);
    assert_eq!(base32_decode("MZXW61"), None);
    assert_eq!(base32_decode("M"), None);
}

#[test]
fn a_new_secret_is_32_base32_characters_of_160_bits() {
    let secret = new_secret();
    assert_eq!(secret.expose().len(), 32);
    assert_eq!(base32_decode(secret.expose()).unwrap().len(), 20);
    assert_ne!(secret, new_secret());
}

#[test]
fn a_code_is_accepted_one_step_either_side_and_not_two() {
    let secret = new_secret();
    for offset in [-30, 0, 30] {
        assert!(accept(&secret, &code(&secret, NOW + offset), NOW, i64::MIN).is_some());
    }
    for offset in [-60, 60] {
        assert_eq!(
            accept(&secret, &code(&secret, NOW + offset), NOW, i64::MIN),
            None
        );
    }
}

#[test]
fn a_code_of_a_step_at_or_before_the_last_accepted_one_is_refused() {
    let secret = new_secret();
    let now_code = code(&secret, NOW);
    assert_eq!(
        accept(&secret, &now_code, NOW, step_at(NOW) - 1),
        Some(step_at(NOW))
    );
    assert_eq!(accept(&secret, &now_code, NOW, step_at(NOW)), None);
    assert_eq!(
        accept(&secret, &code(&secret, NOW - 30), NOW, step_at(NOW)),
        None
    );
}

#[test]
fn a_code_is_stripped_but_otherwise_exact() {
    let secret = new_secret();
    let now_code = code(&secret, NOW);
    assert!(accept(&secret, &format!(" {now_code}\n"), NOW, i64::MIN).is_some());
    assert_eq!(accept(&secret, &now_code[1..], NOW, i64::MIN), None);
    assert_eq!(
        accept(&secret, &format!("{now_code}0"), NOW, i64::MIN),
        None
    );
    assert_eq!(accept(&secret, "", NOW, i64::MIN), None);
}

#[test]
fn the_provisioning_uri_is_pyotps() {
    let secret = Secret::new("JBSWY3DPEHPK3PXP");
    assert_eq!(
        provisioning_uri(&secret, "ann+1@example.com", ""),
        "otpauth://totp/ann%2B1%40example.com?secret=JBSWY3DPEHPK3PXP"
    );
    assert_eq!(
        provisioning_uri(&secret, "ann@example.com", "Edge Auth"),
        "otpauth://totp/Edge%20Auth:ann%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Edge%20Auth"
    );
}

#[test]
fn recovery_codes_are_ten_of_dj_rest_auths_form_and_kept_as_keyed_digests() {
    let codes = new_recovery_codes();
    assert_eq!(codes.len(), 10);
    for code in &codes {
        let text = code.expose();
        assert_eq!(text.len(), 9);
        assert_eq!(&text[4..5], "-");
        assert!(text
            .bytes()
            .filter(|b| *b != b'-')
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }
    let digest = recovery_digest(&key(), 1, codes[0].expose());
    assert_eq!(digest.len(), 64);
    assert!(!digest.contains(codes[0].expose()));
    assert_eq!(
        recovery_digest(&key(), 1, &format!(" {}", codes[0].expose().to_uppercase())),
        digest
    );
    assert_ne!(recovery_digest(&key(), 2, codes[0].expose()), digest);
    assert_ne!(
        recovery_digest(&Secret::new("other"), 1, codes[0].expose()),
        digest
    );
}

#[test]
fn activation_stores_the_secret_and_answers_ten_recovery_codes() {
    let world = World::new();
    let (secret, codes) = enable(&world);
    assert_eq!(codes.len(), 10);
    let totp = run(world.store.totp_of(1)).unwrap().unwrap();
    assert_eq!(
        (totp.secret, totp.created_at, totp.last_used_at),
        (secret, NOW, None)
    );
    assert_eq!(totp.recovery_codes_left, 10);
    assert!(user(&world).mfa);
    assert_eq!(
        run(status(&world.store, 1)).unwrap(),
        Status {
            created_at: Some(NOW),
            last_used_at: None
        }
    );
}

#[test]
fn activation_refuses_a_forged_expired_or_foreign_token_and_a_wrong_code() {
    let world = World::new();
    let ann = user(&world);
    let client = world.client();
    let activation = begin_activation(&ann, &key(), "", NOW);
    let token = activation.activation_token.expose();
    let good = code(&activation.secret, NOW);
    let attempt = |token: &str, code: &str, now: i64| {
        run(activate(
            &world.store,
            &ann,
            &key(),
            token,
            code,
            now,
            &client,
        ))
    };
    assert_eq!(
        attempt(&format!("{token}x"), &good, NOW),
        Err(MfaError::BadActivationToken)
    );
    assert_eq!(
        attempt(token, &code(&activation.secret, NOW + 301), NOW + 301),
        Err(MfaError::BadActivationToken)
    );
    let other = User {
        id: 2,
        ..ann.clone()
    };
    let foreign = begin_activation(&other, &key(), "", NOW);
    assert_eq!(
        attempt(
            foreign.activation_token.expose(),
            &code(&foreign.secret, NOW),
            NOW
        ),
        Err(MfaError::OthersActivationToken)
    );
    let wrong = if good == "000000" { "000001" } else { "000000" };
    assert_eq!(attempt(token, wrong, NOW), Err(MfaError::BadActivationCode));
    assert!(run(world.store.totp_of(1)).unwrap().is_none());
}

#[test]
fn activating_twice_is_refused_and_keeps_the_first_secret() {
    let world = World::new();
    let (secret, _) = enable(&world);
    let activation = begin_activation(&user(&world), &key(), "", NOW + 60);
    let again = run(activate(
        &world.store,
        &user(&world),
        &key(),
        activation.activation_token.expose(),
        &code(&activation.secret, NOW + 60),
        NOW + 60,
        &world.client(),
    ));
    assert_eq!(again, Err(MfaError::AlreadyEnabled));
    assert_eq!(run(world.store.totp_of(1)).unwrap().unwrap().secret, secret);
}

#[test]
fn a_password_login_of_a_user_with_mfa_answers_an_ephemeral_token_and_no_tokens() {
    let world = World::new();
    enable(&world);
    let token = first_step(&world, NOW + 30);
    assert_eq!(token.expose().len(), 43);
    assert!(world.store.state.borrow().tokens.is_empty());
}

#[test]
fn the_second_step_with_a_current_code_logs_in_once() {
    let world = World::new();
    let (secret, _) = enable(&world);
    let token = first_step(&world, NOW + 30);
    let pair = second_step(&world, &token, &code(&secret, NOW + 30), NOW + 30).unwrap();
    assert_eq!(pair.user.id, 1);
    assert!(world.refresh(&pair.refresh.encoded, NOW + 31).is_ok());
    // The token is spent.
    assert_eq!(
        second_step(&world, &token, &code(&secret, NOW + 60), NOW + 60).unwrap_err(),
        MfaError::BadEphemeralToken
    );
    assert_eq!(
        run(status(&world.store, 1)).unwrap().last_used_at,
        Some(NOW + 30)
    );
}

#[test]
fn a_code_already_accepted_is_refused_even_at_activation_s_own_step() {
    let world = World::new();
    let (secret, _) = enable(&world);
    let token = first_step(&world, NOW);
    assert_eq!(
        second_step(&world, &token, &code(&secret, NOW), NOW).unwrap_err(),
        MfaError::BadCode
    );
    let pair = second_step(&world, &token, &code(&secret, NOW + 30), NOW + 30).unwrap();
    assert_eq!(pair.user.id, 1);
    let again = first_step(&world, NOW + 31);
    assert_eq!(
        second_step(&world, &again, &code(&secret, NOW + 30), NOW + 31).unwrap_err(),
        MfaError::BadCode
    );
}

#[test]
fn an_ephemeral_token_lives_300_seconds() {
    let world = World::new();
    let (secret, _) = enable(&world);
    let token = first_step(&world, NOW + 30);
    let late = NOW + 30 + CHALLENGE_SECONDS;
    assert_eq!(
        second_step(&world, &token, &code(&secret, late), late).unwrap_err(),
        MfaError::BadEphemeralToken
    );
}

#[test]
fn an_unknown_ephemeral_token_is_refused() {
    let world = World::new();
    let (secret, _) = enable(&world);
    let forged = new_ephemeral_token();
    assert_eq!(
        second_step(&world, &forged, &code(&secret, NOW + 30), NOW + 30).unwrap_err(),
        MfaError::BadEphemeralToken
    );
}

#[test]
fn a_recovery_code_logs_in_once_and_is_counted() {
    let world = World::new();
    let (_, codes) = enable(&world);
    let token = first_step(&world, NOW + 30);
    assert!(second_step(&world, &token, codes[3].expose(), NOW + 30).is_ok());
    assert_eq!(run(remaining_codes(&world.store, 1)).unwrap(), 9);
    let again = first_step(&world, NOW + 31);
    assert_eq!(
        second_step(&world, &again, codes[3].expose(), NOW + 31).unwrap_err(),
        MfaError::BadCode
    );
    let events = &world.store.state.borrow().events;
    assert!(events.iter().any(|e| e.1 == "recovery_code_used"));
}

#[test]
fn a_wrong_code_leaves_the_ephemeral_token_usable() {
    let world = World::new();
    let (secret, _) = enable(&world);
    let token = first_step(&world, NOW + 30);
    let right = code(&secret, NOW + 30);
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    assert_eq!(
        second_step(&world, &token, wrong, NOW + 30).unwrap_err(),
        MfaError::BadCode
    );
    assert!(second_step(&world, &token, &right, NOW + 30).is_ok());
}

#[test]
fn failed_codes_count_against_the_account_s_login_throttle() {
    let world = World::new();
    let (secret, _) = enable(&world);
    let token = first_step(&world, NOW + 30);
    let right = code(&secret, NOW + 30);
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    // Five failures per account and window by default.
    for _ in 0..5 {
        assert_eq!(
            second_step(&world, &token, wrong, NOW + 30).unwrap_err(),
            MfaError::BadCode
        );
    }
    assert!(matches!(
        second_step(&world, &token, &right, NOW + 30),
        Err(MfaError::Throttled(_))
    ));
    assert!(matches!(
        world.password_login(EMAIL, PASSWORD, NOW + 30),
        Err(SessionError::Throttled(_))
    ));
}

#[test]
fn of_concurrent_second_steps_with_one_token_exactly_one_logs_in() {
    let world = World::new();
    let (secret, codes) = enable(&world);
    let token = first_step(&world, NOW + 30);
    let client = world.client();
    let ctx = world.at(NOW + 30);
    let right = code(&secret, NOW + 30);
    let key = key();
    let proofs = [
        right.as_str(),
        codes[0].expose(),
        right.as_str(),
        codes[1].expose(),
    ];
    let outcomes = race(
        proofs
            .iter()
            .map(|proof| {
                verify(
                    &ctx,
                    &world.store,
                    &world.denylist,
                    &key,
                    token.expose(),
                    proof,
                    &client,
                )
            })
            .collect(),
    );
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
}

#[test]
fn deactivation_needs_a_fresh_code_and_removes_every_mfa_row() {
    let world = World::new();
    let (secret, _) = enable(&world);
    let ctx = world.at(NOW + 30);
    let client = world.client();
    let ann = user(&world);
    let stale = code(&secret, NOW);
    assert_eq!(
        run(deactivate(&ctx, &world.store, &ann, &stale, &client)),
        Err(MfaError::BadCode)
    );
    first_step(&world, NOW + 30);
    run(deactivate(
        &ctx,
        &world.store,
        &ann,
        &code(&secret, NOW + 30),
        &client,
    ))
    .unwrap();
    let state = world.store.state.borrow();
    assert!(state.totp.is_empty() && state.recovery.is_empty() && state.challenges.is_empty());
    drop(state);
    assert!(!user(&world).mfa);
    assert!(matches!(
        world.password_login(EMAIL, PASSWORD, NOW + 31),
        Ok(Login::LoggedIn(_))
    ));
    assert_eq!(
        run(deactivate(&ctx, &world.store, &ann, "123456", &client)),
        Err(MfaError::NotEnabled)
    );
}

#[test]
fn regeneration_replaces_every_recovery_code() {
    let world = World::new();
    let (_, old) = enable(&world);
    let new = run(regenerate_codes(&world.store, 1, &key())).unwrap();
    assert_eq!(new.len(), 10);
    let token = first_step(&world, NOW + 30);
    assert_eq!(
        second_step(&world, &token, old[0].expose(), NOW + 30).unwrap_err(),
        MfaError::BadCode
    );
    assert!(second_step(&world, &token, new[0].expose(), NOW + 30).is_ok());
    let other = World::new();
    assert_eq!(
        run(regenerate_codes(&other.store, 1, &key())).unwrap_err(),
        MfaError::NotEnabled
    );
}

#[test]
fn a_user_keeps_at_most_five_live_challenges() {
    let world = World::new();
    enable(&world);
    let tokens: Vec<Secret> = (0..7).map(|i| first_step(&world, NOW + 30 + i)).collect();
    assert_eq!(
        world.store.state.borrow().challenges.len(),
        CHALLENGES_PER_USER_FOR_TESTS
    );
    let live = |token: &Secret| {
        run(world
            .store
            .challenge(&token_digest(token.expose()), NOW + 40))
        .unwrap()
        .is_some()
    };
    assert!(!live(&tokens[0]) && !live(&tokens[1]));
    assert!(tokens[2..].iter().all(live));
}

const CHALLENGES_PER_USER_FOR_TESTS: usize = crate::domain::store::CHALLENGES_PER_USER;

#[test]
fn deleting_the_account_leaves_no_mfa_row() {
    let world = World::new();
    enable(&world);
    first_step(&world, NOW + 30);
    run(world.store.delete_user(1, NOW + 31)).unwrap();
    let state = world.store.state.borrow();
    assert!(state.totp.is_empty() && state.recovery.is_empty() && state.challenges.is_empty());
}

#[test]
fn debug_of_an_activation_shows_no_secret() {
    let activation = begin_activation(
        &User {
            id: 1,
            ..User::default()
        },
        &key(),
        "",
        NOW,
    );
    let shown = format!("{activation:?}");
    assert!(!shown.contains(activation.secret.expose()));
    assert!(!shown.contains(activation.activation_token.expose()));
}

#[test]
fn logging_out_everywhere_ends_a_pending_second_step() {
    let world = World::new();
    let (secret, _) = enable(&world);
    let token = first_step(&world, NOW + 30);
    let client = world.client();
    run(crate::domain::sessions::logout_everywhere(
        &world.store,
        &world.denylist,
        1,
        NOW + 30,
        &client,
    ))
    .unwrap();
    assert_eq!(
        second_step(&world, &token, &code(&secret, NOW + 30), NOW + 30).unwrap_err(),
        MfaError::BadEphemeralToken
    );
}
