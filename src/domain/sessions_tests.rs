//! The session decisions over the in-memory store, with a fixed clock.

use super::*;
use crate::domain::events::Client;
use crate::domain::memory::{race, run};
use crate::domain::passwords::iterations_hashed;
use crate::domain::world::{settings, World, EMAIL, ITERATIONS, MOST, NOW, PASSWORD};

const BLACKLISTED: SessionError = SessionError::Token(TokenError::Blacklisted);

#[test]
fn twenty_concurrent_refreshes_of_one_token_have_exactly_one_winner() {
    let world = World::new();
    let token = world.login().refresh.encoded;
    let ctx = world.at(NOW + 5);
    let client = world.client();
    let outcomes = race(
        (0..20)
            .map(|_| refresh(&ctx, &world.store, &world.denylist, &token, &client))
            .collect(),
    );
    let winners = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(winners, 1);
    assert!(outcomes
        .iter()
        .filter_map(|o| o.as_ref().err())
        .all(|e| *e == BLACKLISTED));
    // The losers were inside the grace window: the winner's successor still works.
    let successor = outcomes
        .into_iter()
        .find_map(Result::ok)
        .and_then(|r| r.refresh)
        .expect("a successor");
    assert!(world.refresh(&successor.encoded, NOW + 6).is_ok());
}

#[test]
fn a_rotation_marks_the_token_used_and_records_its_successor_in_the_family() {
    let world = World::new();
    let first = world.login().refresh;
    let successor = world
        .refresh(&first.encoded, NOW + 1)
        .unwrap()
        .refresh
        .unwrap();
    let row = world.store.token(&first.jti).unwrap();
    assert_eq!(
        (row.used_at, row.successor.as_deref()),
        (Some(NOW + 1), Some(successor.jti.as_str()))
    );
    assert_eq!(world.store.token(&successor.jti).unwrap().family, first.jti);
    assert_eq!(
        world.denylist.entries.borrow().get(&first.jti),
        Some(&Revocation::Used { at: NOW + 1 })
    );
}

#[test]
fn reuse_inside_the_grace_window_is_refused_without_revoking_the_family() {
    let world = World::new();
    let (first, successor) = world.rotated();
    // The denylist has not caught up (another location): the store decides.
    world.denylist.entries.borrow_mut().clear();
    assert_eq!(
        world.refresh(&first.encoded, NOW + 10).unwrap_err(),
        BLACKLISTED
    );
    assert_eq!(world.store.token(&successor.jti).unwrap().revoked_at, None);
    assert!(world.refresh(&successor.encoded, NOW + 10).is_ok());
}

#[test]
fn reuse_after_the_grace_window_revokes_the_family() {
    let world = World::new();
    let (first, successor) = world.rotated();
    assert_eq!(
        world.refresh(&first.encoded, NOW + 11).unwrap_err(),
        SessionError::Reused {
            seconds_after_use: 11
        }
    );
    assert_eq!(
        world.store.token(&successor.jti).unwrap().revoked_at,
        Some(NOW + 11)
    );
    assert_eq!(
        world.denylist.entries.borrow().get(&successor.jti),
        Some(&Revocation::Revoked)
    );
    assert_eq!(
        world.refresh(&successor.encoded, NOW + 12).unwrap_err(),
        BLACKLISTED
    );
}

#[test]
fn reuse_after_the_grace_window_is_judged_by_the_store_when_the_denylist_has_not_caught_up() {
    let world = World::new();
    let (first, successor) = world.rotated();
    world.denylist.entries.borrow_mut().clear();
    assert!(matches!(
        world.refresh(&first.encoded, NOW + 60),
        Err(SessionError::Reused { .. })
    ));
    assert!(world
        .store
        .token(&successor.jti)
        .unwrap()
        .revoked_at
        .is_some());
}

#[test]
fn a_revoked_token_is_refused_by_the_store_without_reading_the_denylist() {
    let world = World::new();
    let token = world.login().refresh;
    run(logout(
        &world.at(NOW),
        &world.store,
        &world.denylist,
        &token.encoded,
    ))
    .unwrap();
    world.forget_calls();
    assert_eq!(world.refresh(&token.encoded, NOW).unwrap_err(), BLACKLISTED);
    assert_eq!(world.store.calls(), ["rotate", "token_state"]);
    assert!(world.denylist.calls.borrow().is_empty());
}

#[test]
fn a_token_used_moments_ago_is_refused_by_the_store_without_reading_the_denylist() {
    let world = World::new();
    let token = world.login().refresh;
    world.refresh(&token.encoded, NOW).unwrap();
    world.forget_calls();
    assert_eq!(
        world.refresh(&token.encoded, NOW + 10).unwrap_err(),
        BLACKLISTED
    );
    assert_eq!(world.store.calls(), ["rotate", "token_state"]);
    assert!(world.denylist.calls.borrow().is_empty());
}

#[test]
fn a_winning_refresh_makes_one_store_call_and_defers_the_use_past_the_answer() {
    let world = World::new();
    let token = world.login().refresh;
    world.forget_calls();
    world.refresh(&token.encoded, NOW).unwrap();
    assert_eq!(world.store.calls(), ["rotate"]);
    assert_eq!(*world.denylist.calls.borrow(), ["denylist_defer"]);
    assert_eq!(
        world.denylist.entries.borrow().get(&token.jti),
        Some(&Revocation::Used { at: NOW })
    );
}

#[test]
fn a_refresh_without_rotation_makes_one_store_call() {
    let world = World::with(Settings {
        rotate_refresh_tokens: false,
        ..settings()
    });
    let token = world.login().refresh;
    world.forget_calls();
    world.refresh(&token.encoded, NOW).unwrap();
    assert_eq!(world.store.calls(), ["token_state"]);
    assert!(world.denylist.calls.borrow().is_empty());
}

#[test]
fn a_token_the_store_never_saw_is_adopted_as_the_first_of_its_own_family() {
    let world = World::new();
    let foreign = tokens::issue(
        &world.keys,
        &world.settings,
        TokenKind::Refresh,
        1,
        None,
        NOW,
    );
    let successor = world
        .refresh(&foreign.encoded, NOW)
        .unwrap()
        .refresh
        .unwrap();
    assert_eq!(world.store.token(&foreign.jti).unwrap().family, foreign.jti);
    assert_eq!(
        world.store.token(&successor.jti).unwrap().family,
        foreign.jti
    );
}

#[test]
fn a_refresh_for_an_inactive_user_is_refused_and_consumes_nothing() {
    let world = World::new();
    let token = world.login().refresh;
    world.store.state.borrow_mut().users[0].1.is_active = false;
    assert_eq!(
        world.refresh(&token.encoded, NOW).unwrap_err(),
        SessionError::NoActiveAccount
    );
    assert_eq!(world.store.token(&token.jti).unwrap().used_at, None);
}

#[test]
fn a_storage_failure_during_a_refresh_consumes_nothing() {
    let world = World::new();
    let token = world.login().refresh;
    world.store.failing.set(true);
    assert!(matches!(
        world.refresh(&token.encoded, NOW),
        Err(SessionError::Store(StoreError::Unavailable(_)))
    ));
    world.store.failing.set(false);
    assert!(world.refresh(&token.encoded, NOW).is_ok());
}

#[test]
fn without_rotation_a_refresh_answers_only_an_access_token_and_uses_nothing() {
    let world = World::with(Settings {
        rotate_refresh_tokens: false,
        ..Settings::default()
    });
    let token = world.login().refresh;
    for now in [NOW, NOW + 100] {
        let refreshed = world.refresh(&token.encoded, now).unwrap();
        assert!(refreshed.refresh.is_none());
    }
    assert_eq!(world.store.token(&token.jti).unwrap().used_at, None);
    assert!(world.denylist.entries.borrow().is_empty());
}

#[test]
fn logout_revokes_the_family() {
    let world = World::new();
    let (first, successor) = world.rotated();
    run(logout(
        &world.at(NOW + 1),
        &world.store,
        &world.denylist,
        &successor.encoded,
    ))
    .unwrap();
    assert_eq!(
        world.store.token(&successor.jti).unwrap().revoked_at,
        Some(NOW + 1)
    );
    assert_eq!(
        world.store.token(&first.jti).unwrap().revoked_at,
        Some(NOW + 1)
    );
    assert_eq!(
        world.refresh(&successor.encoded, NOW + 2).unwrap_err(),
        BLACKLISTED
    );
}

#[test]
fn logout_with_a_used_token_is_refused_but_still_revokes_the_family() {
    let world = World::new();
    let (first, successor) = world.rotated();
    let outcome = run(logout(
        &world.at(NOW + 1),
        &world.store,
        &world.denylist,
        &first.encoded,
    ));
    assert_eq!(outcome.unwrap_err(), BLACKLISTED);
    assert!(world
        .store
        .token(&successor.jti)
        .unwrap()
        .revoked_at
        .is_some());
}

#[test]
fn logout_everywhere_revokes_every_login_of_the_user_only() {
    let world = World::new();
    let (one, two) = (world.login().refresh, world.login().refresh);
    world.add_user("bob@example.com", 2, ITERATIONS);
    let other = world
        .login_as("bob@example.com", PASSWORD, NOW)
        .unwrap()
        .refresh;
    run(logout_everywhere(
        &world.store,
        &world.denylist,
        1,
        NOW + 1,
        &world.client(),
    ))
    .unwrap();
    for token in [&one, &two] {
        assert_eq!(
            world.denylist.entries.borrow().get(&token.jti),
            Some(&Revocation::Revoked)
        );
        assert_eq!(
            world.refresh(&token.encoded, NOW + 2).unwrap_err(),
            BLACKLISTED
        );
    }
    assert_eq!(world.store.token(&other.jti).unwrap().revoked_at, None);
}

#[test]
fn verify_of_an_access_token_touches_no_storage() {
    let world = World::new();
    let access = world.login().access;
    world.forget_calls();
    run(verify(&world.at(NOW), &world.denylist, &access.encoded)).unwrap();
    assert!(world.calls().is_empty());
}

#[test]
fn verify_refuses_a_refresh_token_on_the_denylist() {
    let world = World::new();
    let token = world.login().refresh;
    world.refresh(&token.encoded, NOW).unwrap();
    assert_eq!(
        run(verify(&world.at(NOW), &world.denylist, &token.encoded)).unwrap_err(),
        BLACKLISTED
    );
}

#[test]
fn a_successful_login_starts_a_family_and_gives_its_reservation_back() {
    let world = World::new();
    let logged_in = world.login();
    let row = world.store.token(&logged_in.refresh.jti).unwrap();
    assert_eq!(row.family, logged_in.refresh.jti);
    assert!(world.store.state.borrow().buckets.is_empty());
}

#[test]
fn a_failed_login_keeps_its_reservation_in_both_buckets() {
    let world = World::new();
    assert_eq!(
        world.login_as(EMAIL, "wrong", NOW).unwrap_err(),
        SessionError::BadCredentials
    );
    let state = world.store.state.borrow();
    let mut counts: Vec<i64> = state
        .buckets
        .values()
        .map(|(failures, _)| *failures)
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 1]);
}

#[test]
fn every_failed_login_costs_the_hashing_of_the_slowest_accepted_hash() {
    let world = World::new();
    world.add_user("imported@example.com", 2, MOST);
    world.add_user("too-slow@example.com", 3, MOST + 1);
    for (email, password) in [
        ("nobody@example.com", PASSWORD),
        (EMAIL, "wrong"),
        ("imported@example.com", "wrong"),
        ("too-slow@example.com", PASSWORD),
    ] {
        let before = iterations_hashed();
        assert_eq!(
            world.login_as(email, password, NOW).unwrap_err(),
            SessionError::BadCredentials
        );
        assert_eq!(iterations_hashed() - before, u64::from(MOST), "{email}");
    }
}

#[test]
fn an_inactive_user_is_refused_like_a_wrong_password_at_the_same_cost() {
    let world = World::new();
    world.store.state.borrow_mut().users[0].1.is_active = false;
    let before = iterations_hashed();
    assert_eq!(
        world.login_as(EMAIL, PASSWORD, NOW).unwrap_err(),
        SessionError::BadCredentials
    );
    assert_eq!(iterations_hashed() - before, u64::from(MOST));
}

#[test]
fn a_successful_login_costs_only_its_own_hash() {
    let world = World::new();
    let before = iterations_hashed();
    world.login();
    assert_eq!(iterations_hashed() - before, u64::from(ITERATIONS));
}

#[test]
fn throttle_reservations_never_overshoot_under_interleaving() {
    let world = World::new();
    let ctx = world.at(NOW);
    let credentials = Credentials {
        email: EMAIL.into(),
        password: Secret::new("wrong"),
    };
    let client = world.client();
    let before = iterations_hashed();
    let outcomes = race(
        (0..20)
            .map(|_| login(&ctx, &world.store, &world.denylist, &credentials, &client))
            .collect(),
    );
    // Five failures per account and window by default: five attempts hash, the rest wait.
    assert_eq!(iterations_hashed() - before, 5 * u64::from(MOST));
    let throttled = outcomes
        .iter()
        .filter(|o| matches!(o, Err(SessionError::Throttled(300))))
        .count();
    assert_eq!(throttled, 15);
    // Refused attempts gave their reservations back: the bucket holds the five failures.
    let state = world.store.state.borrow();
    assert!(state.buckets.values().all(|(failures, _)| *failures == 5));
}

#[test]
fn a_throttled_login_hashes_nothing_even_with_the_right_password() {
    let world = World::new();
    for _ in 0..5 {
        world.login_as(EMAIL, "wrong", NOW).unwrap_err();
    }
    let before = iterations_hashed();
    assert_eq!(
        world.login_as(EMAIL, PASSWORD, NOW + 100).unwrap_err(),
        SessionError::Throttled(200)
    );
    assert_eq!(iterations_hashed(), before);
    assert!(world.login_as(EMAIL, PASSWORD, NOW + 300).is_ok());
}

#[test]
fn a_login_with_another_iteration_count_replaces_the_hash() {
    let world = World::with(Settings {
        pbkdf2_iterations: ITERATIONS * 2,
        ..settings()
    });
    world.login();
    let state = world.store.state.borrow();
    assert_eq!(state.users[0].1.password.iterations(), Some(ITERATIONS * 2));
}

#[test]
fn a_login_stamps_last_login_only_when_asked_to() {
    for stamp in [false, true] {
        let world = World::with(Settings {
            update_last_login: stamp,
            ..settings()
        });
        world.login();
        let stamped = world.store.state.borrow().last_login.get(&1).copied();
        assert_eq!(stamped, stamp.then_some(NOW));
    }
}

#[test]
fn cleanup_deletes_rows_an_hour_past_expiry_and_ended_throttle_windows() {
    let world = World::new();
    let token = world.login().refresh;
    world.login_as(EMAIL, "wrong", NOW).unwrap_err();
    let cleaned = run(cleanup(&world.store, &world.settings, token.exp + 3600)).unwrap();
    assert_eq!(
        cleaned,
        Cleaned {
            refresh_tokens: 0,
            sessions: 0,
            throttle_windows: 2,
            ..Cleaned::default()
        }
    );
    let cleaned = run(cleanup(&world.store, &world.settings, token.exp + 3601)).unwrap();
    assert_eq!((cleaned.refresh_tokens, cleaned.sessions), (1, 1));
}

#[test]
fn a_caller_without_an_address_is_throttled_by_the_account_bucket_alone() {
    let world = World::new();
    let ctx = world.at(NOW);
    let attempt = |email: &str| {
        let credentials = Credentials {
            email: email.into(),
            password: Secret::new("wrong"),
        };
        run(login(
            &ctx,
            &world.store,
            &world.denylist,
            &credentials,
            &Client::default(),
        ))
    };
    for _ in 0..5 {
        assert_eq!(attempt(EMAIL).unwrap_err(), SessionError::BadCredentials);
    }
    assert_eq!(attempt(EMAIL).unwrap_err(), SessionError::Throttled(300));
    // Another account of the same (unknown) caller is not affected: no shared client bucket.
    assert_eq!(
        attempt("bob@example.com").unwrap_err(),
        SessionError::BadCredentials
    );
    assert_eq!(world.store.state.borrow().buckets.len(), 2);
}

#[test]
fn a_login_cannot_be_refreshed_past_its_family_lifetime() {
    let world = World::with(Settings {
        family_max_age: 3_600,
        ..Settings::default()
    });
    let (_, mut token) = world.rotated();
    // Refreshing often keeps the login alive, up to its age limit.
    for now in [NOW + 1_000, NOW + 2_000, NOW + 3_599] {
        token = world.refresh(&token.encoded, now).unwrap().refresh.unwrap();
    }
    assert_eq!(
        world.refresh(&token.encoded, NOW + 3_600).unwrap_err(),
        SessionError::Token(TokenError::Invalid)
    );
    assert_eq!(
        world.denylist.entries.borrow().get(&token.jti),
        Some(&Revocation::Revoked)
    );
    assert!(world.login_as(EMAIL, PASSWORD, NOW + 3_600).is_ok());
}

#[test]
fn without_rotation_a_login_ends_at_its_family_lifetime_too() {
    let world = World::with(Settings {
        rotate_refresh_tokens: false,
        family_max_age: 3_600,
        refresh_lifetime: 86_400,
        ..Settings::default()
    });
    let token = world.login().refresh;
    assert!(world.refresh(&token.encoded, NOW + 3_599).is_ok());
    assert_eq!(
        world.refresh(&token.encoded, NOW + 3_600).unwrap_err(),
        SessionError::Token(TokenError::Invalid)
    );
}

#[test]
fn a_family_from_before_sessions_were_recorded_gets_its_lifetime_from_its_first_rotation() {
    let world = World::with(Settings {
        family_max_age: 3_600,
        ..Settings::default()
    });
    let token = world.login().refresh;
    world.store.state.borrow_mut().sessions.clear();
    let successor = world
        .refresh(&token.encoded, NOW + 1_000)
        .unwrap()
        .refresh
        .unwrap();
    assert_eq!(
        world.store.state.borrow().sessions.get(&token.jti),
        Some(&(NOW + 1_000))
    );
    assert!(world.refresh(&successor.encoded, NOW + 4_000).is_ok());
}

#[test]
fn a_login_beyond_the_session_cap_revokes_the_least_recently_refreshed_login() {
    let world = World::with(Settings {
        max_sessions_per_user: 3,
        ..Settings::default()
    });
    let oldest = world.login_as(EMAIL, PASSWORD, NOW).unwrap().refresh;
    let second = world.login_as(EMAIL, PASSWORD, NOW + 1).unwrap().refresh;
    let third = world.login_as(EMAIL, PASSWORD, NOW + 2).unwrap().refresh;
    // The oldest login is refreshed: now the second is the least recently used.
    let oldest = world
        .refresh(&oldest.encoded, NOW + 3)
        .unwrap()
        .refresh
        .unwrap();
    let newest = world.login_as(EMAIL, PASSWORD, NOW + 4).unwrap().refresh;
    assert_eq!(
        world.denylist.entries.borrow().get(&second.jti),
        Some(&Revocation::Revoked)
    );
    assert_eq!(
        world.refresh(&second.encoded, NOW + 5).unwrap_err(),
        BLACKLISTED
    );
    for live in [oldest, third, newest] {
        assert!(world.refresh(&live.encoded, NOW + 5).is_ok());
    }
}

#[test]
fn introspection_finds_a_login_s_tokens_active_until_their_session_ends() {
    let world = World::new();
    let login = world.login();
    let ctx = world.at(NOW + 1);
    let active = |token: &str| {
        run(introspect(&ctx, &world.store, &world.denylist, token))
            .unwrap()
            .map(|a| a.kind)
    };
    assert_eq!(active(&login.access.encoded), Some(TokenKind::Access));
    assert_eq!(active(&login.refresh.encoded), Some(TokenKind::Refresh));
    assert_eq!(active("garbage"), None);
    let client = world.client();
    run(revoke_token(
        &ctx,
        &world.store,
        &world.denylist,
        &login.access.encoded,
        &client,
    ))
    .unwrap();
    // Revoking the access token ended its session: both tokens are inactive now.
    assert_eq!(active(&login.access.encoded), None);
    assert_eq!(active(&login.refresh.encoded), None);
}

#[test]
fn introspection_finds_a_used_refresh_token_and_an_inactive_user_s_tokens_inactive() {
    let world = World::new();
    let (first, successor) = world.rotated();
    let ctx = world.at(NOW + 1);
    let active = |token: &str| {
        run(introspect(&ctx, &world.store, &world.denylist, token))
            .unwrap()
            .is_some()
    };
    assert!(!active(&first.encoded));
    assert!(active(&successor.encoded));
    world.store.state.borrow_mut().users[0].1.is_active = false;
    assert!(!active(&successor.encoded));
}

#[test]
fn revoking_a_refresh_token_ends_its_login_and_anything_else_is_ignored() {
    let world = World::new();
    let (_, successor) = world.rotated();
    let ctx = world.at(NOW + 1);
    let client = world.client();
    for token in ["garbage", ""] {
        run(revoke_token(
            &ctx,
            &world.store,
            &world.denylist,
            token,
            &client,
        ))
        .unwrap();
    }
    run(revoke_token(
        &ctx,
        &world.store,
        &world.denylist,
        &successor.encoded,
        &client,
    ))
    .unwrap();
    assert_eq!(
        world.refresh(&successor.encoded, NOW + 2).unwrap_err(),
        BLACKLISTED
    );
}
