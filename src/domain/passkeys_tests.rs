//! The passkey flows as sentences, over the in-memory store with a fixed clock and a software
//! authenticator (`webauthn::tests`).

use super::*;
use crate::domain::memory::{race, run};
use crate::domain::webauthn::tests::{create_answer, ed25519, es256, get_answer, TestKey};
use crate::domain::world::{World, EMAIL, NOW};

const ORIGIN: &str = "https://auth.example.com";
const CREDENTIAL: [u8; 16] = [0x5a; 16];

fn key() -> Secret {
    Secret::new("passkey-test-secret-key")
}

fn party() -> Party {
    let settings = Settings::default();
    Party::of(&settings, "auth.example.com", ORIGIN)
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

fn begin(world: &World, user: &User) -> Result<CreationOptions, PasskeyError> {
    run(begin_registration(
        &world.store,
        user,
        &key(),
        &party(),
        NOW,
    ))
}

fn complete(
    world: &World,
    user: &User,
    enrolment: Enrolment<'_>,
    now: i64,
) -> Result<PasskeyRow, PasskeyError> {
    run(complete_registration(
        &world.store,
        user,
        &key(),
        &party(),
        enrolment,
        now,
        &world.client(),
    ))
}

/// Registers `authenticator` as credential `CREDENTIAL` of the world's user at `NOW`.
fn register(world: &World, authenticator: &TestKey) -> Result<PasskeyRow, PasskeyError> {
    let ann = user(world);
    let options = begin(world, &ann).unwrap();
    let answer = create_answer(
        authenticator,
        &CREDENTIAL,
        &options.challenge,
        ORIGIN,
        "auth.example.com",
    );
    run(complete_registration(
        &world.store,
        &ann,
        &key(),
        &party(),
        Enrolment {
            response: &answer,
            name: "Laptop",
        },
        NOW,
        &world.client(),
    ))
}

/// A login answer of `authenticator` with `counter`, to a login challenge issued at `now`.
fn login_answer(authenticator: &TestKey, counter: u32, now: i64) -> AuthenticationResponse {
    let options = begin_login(&key(), &party(), now);
    get_answer(
        authenticator,
        &CREDENTIAL,
        &options.challenge,
        ORIGIN,
        "auth.example.com",
        counter,
    )
}

fn log_in(
    world: &World,
    answer: &AuthenticationResponse,
    now: i64,
) -> Result<LoggedIn, PasskeyError> {
    let client = world.client();
    run(complete_login(
        &world.at(now),
        &world.store,
        &world.denylist,
        &key(),
        &party(),
        answer,
        &client,
    ))
}

#[test]
fn a_registered_es256_passkey_logs_its_user_in() {
    let world = World::new();
    let added = register(&world, &es256()).unwrap();
    assert_eq!(
        (added.name.as_str(), added.created_at, added.last_used_at),
        ("Laptop", NOW, None)
    );
    let pair = log_in(&world, &login_answer(&es256(), 1, NOW + 5), NOW + 5).unwrap();
    assert_eq!(pair.user.id, 1);
    assert!(world.refresh(&pair.refresh.encoded, NOW + 6).is_ok());
    assert_eq!(
        run(list(&world.store, 1)).unwrap()[0].last_used_at,
        Some(NOW + 5)
    );
}

#[test]
fn a_registered_ed25519_passkey_logs_its_user_in() {
    let world = World::new();
    register(&world, &ed25519()).unwrap();
    assert!(log_in(&world, &login_answer(&ed25519(), 0, NOW + 5), NOW + 5).is_ok());
}

#[test]
fn registration_options_name_the_party_and_the_user_by_an_opaque_handle_and_exclude_its_passkeys() {
    let world = World::new();
    let ann = user(&world);
    let options = begin(&world, &ann).unwrap();
    assert_eq!(
        (options.rp.id.as_str(), options.rp.name.as_str()),
        ("auth.example.com", "Edge Auth")
    );
    assert_eq!(options.user.name, EMAIL);
    assert_eq!(options.user.id, b64(&user_handle(&key(), 1)));
    assert!(options.exclude_credentials.is_empty());
    register(&world, &es256()).unwrap();
    let again = begin(&world, &ann).unwrap();
    assert_eq!(again.exclude_credentials[0].id, b64(&CREDENTIAL));
}

#[test]
fn a_registration_challenge_works_once_for_its_user_within_300_seconds() {
    let world = World::new();
    let ann = user(&world);
    let options = begin(&world, &ann).unwrap();
    let answer = create_answer(
        &es256(),
        &CREDENTIAL,
        &options.challenge,
        ORIGIN,
        "auth.example.com",
    );
    let complete = |user: &User, now: i64| {
        complete(
            &world,
            user,
            Enrolment {
                response: &answer,
                name: "Key",
            },
            now,
        )
    };
    let other = User {
        id: 2,
        ..ann.clone()
    };
    assert_eq!(
        complete(&other, NOW).unwrap_err(),
        PasskeyError::BadChallenge
    );
    assert_eq!(
        complete(&ann, NOW + CHALLENGE_SECONDS).unwrap_err(),
        PasskeyError::BadChallenge
    );
    assert!(complete(&ann, NOW + 1).is_ok());
    assert_eq!(
        complete(&ann, NOW + 2).unwrap_err(),
        PasskeyError::BadChallenge
    );
}

#[test]
fn a_challenge_under_another_key_or_of_a_login_does_not_register() {
    let world = World::new();
    let ann = user(&world);
    let forged = begin_login(&Secret::new("other key"), &party(), NOW);
    let login = begin_login(&key(), &party(), NOW);
    for challenge in [forged.challenge, login.challenge] {
        let answer = create_answer(
            &es256(),
            &CREDENTIAL,
            &challenge,
            ORIGIN,
            "auth.example.com",
        );
        let outcome = complete(
            &world,
            &ann,
            Enrolment {
                response: &answer,
                name: "Key",
            },
            NOW,
        );
        assert_eq!(outcome.unwrap_err(), PasskeyError::BadChallenge);
    }
}

#[test]
fn a_registration_from_another_origin_is_invalid() {
    let world = World::new();
    let ann = user(&world);
    let options = begin(&world, &ann).unwrap();
    let answer = create_answer(
        &es256(),
        &CREDENTIAL,
        &options.challenge,
        "https://evil.example",
        "auth.example.com",
    );
    let outcome = run(complete_registration(
        &world.store,
        &ann,
        &key(),
        &party(),
        Enrolment {
            response: &answer,
            name: "Key",
        },
        NOW,
        &world.client(),
    ));
    assert_eq!(
        outcome.unwrap_err(),
        PasskeyError::Invalid(webauthn::WebauthnError::OriginNotAllowed)
    );
    assert!(world.store.state.borrow().passkeys.is_empty());
}

#[test]
fn a_credential_registered_already_is_refused() {
    let world = World::new();
    register(&world, &es256()).unwrap();
    assert_eq!(
        register(&world, &es256()).unwrap_err(),
        PasskeyError::Duplicate
    );
}

#[test]
fn a_user_has_at_most_twenty_passkeys() {
    let world = World::new();
    let ann = user(&world);
    let client = world.client();
    let begin = || begin(&world, &ann);
    let complete = |options: &CreationOptions, i: usize| {
        let answer = create_answer(
            &es256(),
            &[i as u8; 16],
            &options.challenge,
            ORIGIN,
            "auth.example.com",
        );
        let enrolment = Enrolment {
            response: &answer,
            name: "Key",
        };
        run(complete_registration(
            &world.store,
            &ann,
            &key(),
            &party(),
            enrolment,
            NOW,
            &client,
        ))
    };
    // Two ceremonies begun with 19 passkeys: the first makes 20, the second is refused.
    for i in 0..PER_USER - 1 {
        complete(&begin().unwrap(), i).unwrap();
    }
    let (twentieth, late) = (begin().unwrap(), begin().unwrap());
    complete(&twentieth, 100).unwrap();
    assert_eq!(complete(&late, 101).unwrap_err(), PasskeyError::TooMany);
    assert_eq!(run(list(&world.store, 1)).unwrap().len(), PER_USER);
    // With 20, a ceremony does not even begin.
    assert_eq!(begin().unwrap_err(), PasskeyError::TooMany);
}

#[test]
fn a_login_answer_works_once() {
    let world = World::new();
    register(&world, &es256()).unwrap();
    let answer = login_answer(&es256(), 1, NOW);
    assert!(log_in(&world, &answer, NOW).is_ok());
    assert_eq!(
        log_in(&world, &answer, NOW + 1).unwrap_err(),
        PasskeyError::Refused
    );
}

#[test]
fn a_login_challenge_expires_after_300_seconds() {
    let world = World::new();
    register(&world, &es256()).unwrap();
    let answer = login_answer(&es256(), 1, NOW);
    assert_eq!(
        log_in(&world, &answer, NOW + CHALLENGE_SECONDS).unwrap_err(),
        PasskeyError::Refused
    );
}

#[test]
fn a_counter_that_does_not_move_on_is_refused_unless_it_stays_zero() {
    let world = World::new();
    register(&world, &es256()).unwrap();
    assert!(log_in(&world, &login_answer(&es256(), 0, NOW), NOW).is_ok());
    assert!(log_in(&world, &login_answer(&es256(), 0, NOW), NOW).is_ok());
    assert!(log_in(&world, &login_answer(&es256(), 7, NOW), NOW).is_ok());
    assert_eq!(
        log_in(&world, &login_answer(&es256(), 7, NOW), NOW).unwrap_err(),
        PasskeyError::Refused
    );
    assert_eq!(
        log_in(&world, &login_answer(&es256(), 3, NOW), NOW).unwrap_err(),
        PasskeyError::Refused
    );
}

#[test]
fn another_key_for_the_credential_is_refused() {
    let world = World::new();
    register(&world, &es256()).unwrap();
    assert_eq!(
        log_in(&world, &login_answer(&ed25519(), 1, NOW), NOW).unwrap_err(),
        PasskeyError::Refused
    );
}

#[test]
fn of_concurrent_logins_with_one_answer_exactly_one_succeeds() {
    let world = World::new();
    register(&world, &es256()).unwrap();
    let answer = login_answer(&es256(), 1, NOW);
    let ctx = world.at(NOW);
    let (client, key, party) = (world.client(), key(), party());
    let outcomes = race(
        (0..10)
            .map(|_| {
                complete_login(
                    &ctx,
                    &world.store,
                    &world.denylist,
                    &key,
                    &party,
                    &answer,
                    &client,
                )
            })
            .collect(),
    );
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
}

#[test]
fn a_passkey_login_skips_totp() {
    let world = World::new();
    register(&world, &es256()).unwrap();
    world.store.state.borrow_mut().users[0].1.mfa = true;
    assert!(log_in(&world, &login_answer(&es256(), 1, NOW), NOW).is_ok());
}

#[test]
fn an_inactive_user_cannot_log_in_with_a_passkey() {
    let world = World::new();
    register(&world, &es256()).unwrap();
    world.store.state.borrow_mut().users[0].1.is_active = false;
    assert_eq!(
        log_in(&world, &login_answer(&es256(), 1, NOW), NOW).unwrap_err(),
        PasskeyError::Refused
    );
}

#[test]
fn a_deleted_passkey_cannot_log_in_and_only_its_owner_deletes_it() {
    let world = World::new();
    register(&world, &es256()).unwrap();
    let client = world.client();
    let id = b64(&CREDENTIAL);
    assert_eq!(
        run(delete(&world.store, 2, &id, NOW, &client)).unwrap_err(),
        PasskeyError::NotFound
    );
    run(delete(&world.store, 1, &id, NOW, &client)).unwrap();
    assert_eq!(
        log_in(&world, &login_answer(&es256(), 1, NOW), NOW).unwrap_err(),
        PasskeyError::Refused
    );
    let events: Vec<String> = world
        .store
        .state
        .borrow()
        .events
        .iter()
        .map(|e| e.1.clone())
        .collect();
    assert!(
        events.contains(&"passkey_added".to_owned())
            && events.contains(&"passkey_removed".to_owned())
    );
}

#[test]
fn deleting_the_account_deletes_its_passkeys() {
    let world = World::new();
    register(&world, &es256()).unwrap();
    run(world.store.delete_user(1, NOW)).unwrap();
    assert!(world.store.state.borrow().passkeys.is_empty());
}

#[test]
fn configured_relying_party_and_origins_replace_the_request_s() {
    let settings = Settings {
        webauthn_rp_id: Some("example.com".to_owned()),
        webauthn_origins: vec!["https://app.example.com".to_owned()],
        ..Settings::default()
    };
    let configured = Party::of(&settings, "auth.example.com", ORIGIN);
    assert_eq!(configured.id, "example.com");
    assert_eq!(configured.origins, ["https://app.example.com"]);
}
