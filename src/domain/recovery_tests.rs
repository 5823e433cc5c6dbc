//! The account decisions (password change and reset, e-mail verification, deletion, sessions
//! and events) over the in-memory store, with a fixed clock.

use super::*;
use crate::domain::accounts::{authenticate, AuthError};
use crate::domain::events::Client;
use crate::domain::memory::{race, run};
use crate::domain::sessions::{self, SessionError};
use crate::domain::settings::{Settings, Verification};
use crate::domain::store::{Quota, Sessions};
use crate::domain::tokens::TokenError;
use crate::domain::world::{settings, World, EMAIL, ITERATIONS, NOW, PASSWORD};

const NEW: &str = "n3w-Pass!word";

fn secret() -> Secret {
    Secret::new("django-insecure-test-secret")
}

fn user(world: &World) -> User {
    run(world.store.user_by_id(1)).unwrap().unwrap()
}

/// The form's completion as the contract does it: the verdict decides, the new password is
/// taken as it is.
fn accept(verdict: Option<bool>, _: &User) -> Result<Secret, &'static str> {
    match verdict {
        Some(true) => Ok(Secret::new(NEW)),
        _ => Err("old password"),
    }
}

fn change(world: &World, old: &str, now: i64) -> Result<(), FormError<&'static str>> {
    let old = Secret::new(old);
    run(change_password(
        &world.at(now),
        &world.store,
        &world.denylist,
        &user(world),
        Some(&old),
        accept,
        &world.client(),
    ))
}

fn reset_token(world: &World, now: i64) -> (String, String) {
    let user = user(world);
    let token = django_tokens::make_token(&subject(&user), &secret(), now);
    (django_tokens::uid_encode(user.id), token)
}

fn confirm(world: &World, uid: &str, token: &str, now: i64) -> Result<(), FormError<()>> {
    run(confirm_reset(
        &world.at(now),
        &world.store,
        &world.denylist,
        &secret(),
        uid,
        token,
        |_| Ok(Secret::new(NEW)),
        &world.client(),
    ))
}

#[test]
fn a_password_change_stores_the_new_password_and_records_the_event() {
    let world = World::new();
    change(&world, PASSWORD, NOW).unwrap();
    assert!(world.login_as(EMAIL, NEW, NOW + 1).is_ok());
    assert_eq!(
        world.login_as(EMAIL, PASSWORD, NOW + 1).unwrap_err(),
        SessionError::BadCredentials
    );
    assert!(world
        .store
        .events(1)
        .contains(&"password_changed".to_owned()));
}

#[test]
fn a_password_change_ends_every_refresh_token_and_every_earlier_access_token() {
    let world = World::new();
    let before = world.login();
    change(&world, PASSWORD, NOW + 1).unwrap();
    assert_eq!(
        world.refresh(&before.refresh.encoded, NOW + 2).unwrap_err(),
        SessionError::Token(TokenError::Blacklisted)
    );
    let refused = run(authenticate(
        &world.store,
        &world.keys,
        &world.settings,
        &before.access.encoded,
        NOW + 2,
    ));
    assert_eq!(refused.unwrap_err(), AuthError::Token(TokenError::Invalid));
    // A login after the change, in the same second, works.
    let after = world.login_as(EMAIL, NEW, NOW + 1).unwrap();
    let principal = run(authenticate(
        &world.store,
        &world.keys,
        &world.settings,
        &after.access.encoded,
        NOW + 2,
    ));
    assert!(principal.is_ok());
}

#[test]
fn an_access_token_of_the_changes_second_but_from_before_it_is_refused() {
    let world = World::new();
    let before = world.login_as(EMAIL, PASSWORD, NOW + 1).unwrap();
    change(&world, PASSWORD, NOW + 1).unwrap();
    let after = world.login_as(EMAIL, NEW, NOW + 1).unwrap();
    let authenticated = |token: &str| {
        run(authenticate(
            &world.store,
            &world.keys,
            &world.settings,
            token,
            NOW + 1,
        ))
    };
    assert_eq!(
        authenticated(&before.access.encoded).unwrap_err(),
        AuthError::Token(TokenError::Invalid)
    );
    assert!(authenticated(&after.access.encoded).is_ok());
}

#[test]
fn a_wrong_old_password_is_reported_by_the_form_and_counts_as_a_failed_login() {
    let world = World::new();
    assert_eq!(
        change(&world, "wrong", NOW).unwrap_err(),
        FormError::Invalid("old password")
    );
    let counts: Vec<i64> = world
        .store
        .state
        .borrow()
        .buckets
        .values()
        .map(|b| b.0)
        .collect();
    assert_eq!(counts, [1, 1]);
}

#[test]
fn wrong_old_passwords_are_throttled_like_logins() {
    let world = World::new();
    for _ in 0..5 {
        change(&world, "wrong", NOW).unwrap_err();
    }
    assert_eq!(
        change(&world, PASSWORD, NOW).unwrap_err(),
        FormError::Account(AccountError::Throttled(300))
    );
}

enum Outcome {
    Changed(Result<(), FormError<&'static str>>),
    Refreshed(Result<sessions::Refreshed, SessionError>),
}

#[test]
fn a_refresh_racing_a_password_change_leaves_no_token_from_before_working() {
    for delay in 0..3 {
        let world = World::new();
        let token = world.login().refresh.encoded;
        let ctx = world.at(NOW + 5);
        let client = world.client();
        let old = Secret::new(PASSWORD);
        let user = user(&world);
        let change = async {
            for _ in 0..delay {
                crate::domain::memory::yield_now().await;
            }
            let changed = change_password(
                &ctx,
                &world.store,
                &world.denylist,
                &user,
                Some(&old),
                accept,
                &client,
            );
            Outcome::Changed(changed.await)
        };
        let refresh = async {
            let refreshed = sessions::refresh(&ctx, &world.store, &world.denylist, &token, &client);
            Outcome::Refreshed(refreshed.await)
        };
        let flows: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + '_>>> =
            vec![Box::pin(change), Box::pin(refresh)];
        for outcome in race(flows) {
            match outcome {
                Outcome::Changed(changed) => changed.unwrap(),
                // A successor issued before the change was revoked with the rest.
                Outcome::Refreshed(Ok(refreshed)) => {
                    let successor = refreshed.refresh.unwrap().encoded;
                    assert!(world.refresh(&successor, NOW + 6).is_err(), "delay {delay}");
                }
                Outcome::Refreshed(Err(_)) => {}
            }
        }
        assert!(world.refresh(&token, NOW + 30).is_err());
    }
}

#[test]
fn a_reset_link_sets_the_new_password_once() {
    let world = World::new();
    let (uid, token) = reset_token(&world, NOW);
    confirm(&world, &uid, &token, NOW + 60).unwrap();
    assert!(world.login_as(EMAIL, NEW, NOW + 61).is_ok());
    assert_eq!(
        confirm(&world, &uid, &token, NOW + 62).unwrap_err(),
        FormError::Account(AccountError::BadToken)
    );
    assert!(world.store.events(1).contains(&"password_reset".to_owned()));
}

#[test]
fn of_ten_concurrent_uses_of_one_reset_link_exactly_one_succeeds() {
    let world = World::new();
    let (uid, token) = reset_token(&world, NOW);
    let ctx = world.at(NOW + 1);
    let (client, key) = (world.client(), secret());
    let outcomes = race(
        (0..10)
            .map(|_| {
                confirm_reset(
                    &ctx,
                    &world.store,
                    &world.denylist,
                    &key,
                    &uid,
                    &token,
                    |_| Ok::<_, ()>(Secret::new(NEW)),
                    &client,
                )
            })
            .collect(),
    );
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
}

#[test]
fn a_reset_link_dies_after_a_later_login_and_after_its_timeout() {
    let world = World::new();
    let (uid, token) = reset_token(&world, NOW);
    world.login_as(EMAIL, PASSWORD, NOW + 10).unwrap();
    assert_eq!(
        confirm(&world, &uid, &token, NOW + 20).unwrap_err(),
        FormError::Account(AccountError::BadToken)
    );
    let world = World::new();
    let (uid, token) = reset_token(&world, NOW);
    assert_eq!(
        confirm(&world, &uid, &token, NOW + 3601).unwrap_err(),
        FormError::Account(AccountError::BadToken)
    );
}

#[test]
fn a_reset_ends_every_login_and_clears_the_throttle_of_this_client() {
    let world = World::new();
    let before = world.login();
    world.login_as(EMAIL, "wrong", NOW).unwrap_err();
    let (uid, token) = reset_token(&world, NOW);
    confirm(&world, &uid, &token, NOW + 1).unwrap();
    assert!(world.refresh(&before.refresh.encoded, NOW + 2).is_err());
    assert!(world.store.state.borrow().buckets.is_empty());
}

#[test]
fn a_malformed_uid_and_a_missing_user_are_refused_differently() {
    let world = World::new();
    let (_, token) = reset_token(&world, NOW);
    assert_eq!(
        confirm(&world, "!!", &token, NOW).unwrap_err(),
        FormError::Account(AccountError::BadUid)
    );
    let missing = django_tokens::uid_encode(99);
    assert_eq!(
        confirm(&world, &missing, &token, NOW).unwrap_err(),
        FormError::Account(AccountError::BadToken)
    );
}

#[test]
fn a_reset_mail_goes_only_to_an_active_user_with_a_usable_password() {
    let world = World::new();
    let ctx = world.at(NOW);
    let mail = |email: &str| {
        run(reset_mail(
            &ctx,
            &world.store,
            &secret(),
            email,
            "https://a.example",
            &world.client(),
        ))
        .unwrap()
    };
    assert_eq!(mail("nobody@example.com"), None);
    let sent = mail("ANN@example.com").unwrap();
    assert_eq!(sent.to, EMAIL);
    let MailKind::PasswordReset { link } = sent.kind else {
        panic!("a reset mail")
    };
    let (uid, token) = reset_token(&world, NOW);
    assert_eq!(
        link.expose(),
        format!("https://a.example/#/password-reset/{uid}/{token}")
    );
    world.store.state.borrow_mut().users[0].1.is_active = false;
    assert_eq!(mail(EMAIL), None);
}

#[test]
fn mail_of_one_kind_goes_three_times_an_hour_to_one_address() {
    let world = World::new();
    let send = |now| {
        run(reset_mail(
            &world.at(now),
            &world.store,
            &secret(),
            EMAIL,
            "https://a",
            &world.client(),
        ))
        .unwrap()
        .is_some()
    };
    assert_eq!(
        [send(NOW), send(NOW), send(NOW), send(NOW)],
        [true, true, true, false]
    );
    assert!(send(NOW + 3600));
}

#[test]
fn a_verification_key_verifies_once_and_expires() {
    let world = World::new();
    world.store.state.borrow_mut().users[0].1.email_verified = false;
    let key = email_key(&world.at(NOW), &secret(), &user(&world));
    let verify = |key: &str, now| {
        run(verify_email(
            &world.at(now),
            &world.store,
            &secret(),
            key,
            &world.client(),
        ))
    };
    assert_eq!(verify("bogus", NOW), Err(AccountError::NotFound));
    assert_eq!(verify(&key, NOW + 259_201), Err(AccountError::NotFound));
    assert_eq!(verify(&key, NOW + 1), Ok(()));
    assert_eq!(verify(&key, NOW + 2), Err(AccountError::NotFound));
    assert!(user(&world).email_verified);
}

#[test]
fn with_mandatory_verification_an_unverified_user_logs_in_as_with_a_wrong_password() {
    let world = World::with(Settings {
        email_verification: Verification::Mandatory,
        ..settings()
    });
    world.store.state.borrow_mut().users[0].1.email_verified = false;
    assert_eq!(
        world.login_as(EMAIL, PASSWORD, NOW).unwrap_err(),
        SessionError::BadCredentials
    );
    world.store.state.borrow_mut().users[0].1.email_verified = true;
    assert!(world.login_as(EMAIL, PASSWORD, NOW).is_ok());
}

#[test]
fn deleting_an_account_leaves_no_row_of_the_user() {
    let world = World::new();
    let login = world.login();
    world.login_as(EMAIL, "wrong", NOW).unwrap_err();
    let password = Secret::new(PASSWORD);
    run(delete_account(
        &world.at(NOW + 1),
        &world.store,
        &world.denylist,
        &user(&world),
        &password,
        &world.client(),
    ))
    .unwrap();
    // The store decides refreshes and keeps nothing of the user, not even the revocation: the
    // contract's answer for a deleted user.
    assert_eq!(
        world.refresh(&login.refresh.encoded, NOW + 2).unwrap_err(),
        SessionError::NoActiveAccount
    );
    let state = world.store.state.borrow();
    assert!(state.users.is_empty());
    assert!(state.tokens.is_empty() && state.sessions.is_empty() && state.events.is_empty());
}

#[test]
fn deleting_an_account_needs_its_password() {
    let world = World::new();
    let wrong = Secret::new("wrong");
    let refused = run(delete_account(
        &world.at(NOW),
        &world.store,
        &world.denylist,
        &user(&world),
        &wrong,
        &world.client(),
    ));
    assert_eq!(refused, Err(AccountError::WrongPassword));
    assert_eq!(world.store.state.borrow().users.len(), 1);
}

#[test]
fn a_login_and_its_rotations_keep_one_session_id() {
    let world = World::new();
    let login = world.login();
    assert_eq!(login.access.sid, login.refresh.jti);
    assert_eq!(login.refresh.sid, login.refresh.jti);
    let rotated = world.refresh(&login.refresh.encoded, NOW + 1).unwrap();
    assert_eq!(rotated.access.sid, login.refresh.jti);
    assert_eq!(rotated.refresh.unwrap().sid, login.refresh.jti);
}

#[test]
fn sessions_list_live_logins_newest_first_and_revoke_one_or_the_others() {
    let world = World::new();
    let first = world.login_as(EMAIL, PASSWORD, NOW).unwrap();
    let second = world.login_as(EMAIL, PASSWORD, NOW + 1).unwrap();
    let third = world.login_as(EMAIL, PASSWORD, NOW + 2).unwrap();
    let ids = |now| -> Vec<String> {
        run(sessions::list(&world.at(now), &world.store, 1))
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect()
    };
    assert_eq!(
        ids(NOW + 3),
        [
            third.refresh.sid.clone(),
            second.refresh.sid.clone(),
            first.refresh.sid.clone()
        ]
    );
    let revoke = |which| {
        run(sessions::revoke(
            &world.store,
            &world.denylist,
            1,
            which,
            NOW + 3,
            &world.client(),
        ))
    };
    revoke(Sessions::One(&second.refresh.sid)).unwrap();
    assert!(world.refresh(&second.refresh.encoded, NOW + 4).is_err());
    assert_eq!(
        revoke(Sessions::One(&second.refresh.sid)),
        Err(SessionError::NotFound)
    );
    assert_eq!(
        revoke(Sessions::One("unknown")),
        Err(SessionError::NotFound)
    );
    revoke(Sessions::AllBut(&third.refresh.sid)).unwrap();
    assert_eq!(ids(NOW + 4), std::slice::from_ref(&third.refresh.sid));
    let revoked = world
        .store
        .events(1)
        .iter()
        .filter(|e| *e == "session_revoked")
        .count();
    assert_eq!(revoked, 2);
}

#[test]
fn another_users_session_is_not_found() {
    let world = World::new();
    world.add_user("bob@example.com", 2, ITERATIONS);
    let bobs = world.login_as("bob@example.com", PASSWORD, NOW).unwrap();
    let refused = run(sessions::revoke(
        &world.store,
        &world.denylist,
        1,
        Sessions::One(&bobs.refresh.sid),
        NOW,
        &world.client(),
    ));
    assert_eq!(refused, Err(SessionError::NotFound));
    assert!(world.refresh(&bobs.refresh.encoded, NOW + 1).is_ok());
}

#[test]
fn logins_failed_logins_and_theft_are_recorded_as_events() {
    let world = World::new();
    let (first, _) = world.rotated();
    world.login_as(EMAIL, "wrong", NOW).unwrap_err();
    world.refresh(&first.encoded, NOW + 60).unwrap_err();
    assert_eq!(
        world.store.events(1),
        ["login", "login_failed", "refresh_reuse_detected"]
    );
}

#[test]
fn a_user_keeps_at_most_a_thousand_events() {
    let world = World::new();
    for _ in 0..1_005 {
        world.login_as(EMAIL, "wrong", NOW).unwrap_err();
        world.store.state.borrow_mut().buckets.clear();
    }
    assert_eq!(world.store.events(1).len(), 1_000);
}

fn sign_up(world: &World, address: Option<&str>, now: i64) -> Quota {
    let client = Client::new(address, None, None);
    run(crate::domain::accounts::take_sign_up(
        &world.store,
        &world.settings,
        &client,
        now,
    ))
    .unwrap()
}

#[test]
fn sign_ups_are_not_limited_unless_configured() {
    let world = World::new();
    for _ in 0..100 {
        assert_eq!(sign_up(&world, Some("198.51.100.7"), NOW), Quota::Taken);
    }
}

#[test]
fn a_client_attempts_twenty_sign_ups_an_hour_then_waits_for_its_window_to_end() {
    let world = World::with(Settings {
        registrations_per_client: 20,
        ..settings()
    });
    let ip = Some("198.51.100.7");
    for _ in 0..20 {
        assert_eq!(sign_up(&world, ip, NOW), Quota::Taken);
    }
    assert_eq!(
        sign_up(&world, ip, NOW + 10),
        Quota::Spent { retry_after: 3590 }
    );
    assert_eq!(
        sign_up(&world, Some("198.51.100.8"), NOW + 10),
        Quota::Taken
    );
    assert_eq!(sign_up(&world, ip, NOW + 3600), Quota::Taken);
}

#[test]
fn ipv6_clients_share_one_sign_up_quota_per_64() {
    let world = World::with(Settings {
        registrations_per_client: 2,
        ..settings()
    });
    assert_eq!(sign_up(&world, Some("2001:db8:1:2::1"), NOW), Quota::Taken);
    assert_eq!(
        sign_up(&world, Some("2001:db8:1:2:ffff::9"), NOW),
        Quota::Taken
    );
    assert_eq!(
        sign_up(&world, Some("2001:db8:1:2:abcd::5"), NOW),
        Quota::Spent { retry_after: 3600 }
    );
    assert_eq!(sign_up(&world, Some("2001:db8:1:3::1"), NOW), Quota::Taken);
}

#[test]
fn callers_without_a_client_address_share_no_sign_up_quota() {
    let world = World::with(Settings {
        registrations_per_client: 1,
        ..settings()
    });
    for _ in 0..5 {
        assert_eq!(sign_up(&world, None, NOW), Quota::Taken);
    }
}

#[test]
fn logins_of_one_second_are_listed_newest_first() {
    let world = World::new();
    let logins: Vec<String> = (0..5)
        .map(|_| world.login_as(EMAIL, PASSWORD, NOW).unwrap().refresh.sid)
        .collect();
    let listed: Vec<String> = run(sessions::list(&world.at(NOW), &world.store, 1))
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, logins.into_iter().rev().collect::<Vec<_>>());
}

#[test]
fn a_login_past_its_absolute_lifetime_is_not_listed_and_none_outlives_it() {
    let world = World::with(Settings {
        family_max_age: 100,
        ..settings()
    });
    let old = world.login_as(EMAIL, PASSWORD, NOW).unwrap();
    let young = world.login_as(EMAIL, PASSWORD, NOW + 50).unwrap();
    let listed = run(sessions::list(&world.at(NOW + 100), &world.store, 1)).unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [young.refresh.sid.as_str()]);
    assert_eq!(listed[0].expires_at, NOW + 150);
    assert!(!ids.contains(&old.refresh.sid.as_str()));
}
