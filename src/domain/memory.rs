//! The in-memory [`Store`] and [`Denylist`] of the native tests, with the atomicity the traits
//! state: every method first yields once to the executor (where concurrent flows interleave,
//! as requests do between storage round trips) and then does its whole operation at once,
//! like a D1 batch. Revocations are visible at once. Also a small executor that runs flows
//! one at a time or interleaved, and a log of storage calls.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::accounts::{NewUser, User};
use super::revocation::Revocation;
use super::store::{
    Cleaned, Denylist, Entry, LoginRecord, Presented, RevokedToken, Store, StoreError, TokenState,
};
use super::throttle::{Buckets, Counted};
use super::tokens::Issued;

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub family: String,
    pub user_id: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub successor: Option<String>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Default)]
pub struct State {
    pub users: Vec<(String, User)>,
    pub tokens: HashMap<String, TokenRow>,
    /// bucket → (failures, window start)
    pub buckets: HashMap<String, (i64, i64)>,
    pub last_login: HashMap<i64, i64>,
    /// family → when its login happened
    pub sessions: HashMap<String, i64>,
}

#[derive(Default)]
pub struct MemoryStore {
    pub state: RefCell<State>,
    /// The name of every storage call, in order.
    pub calls: RefCell<Vec<&'static str>>,
    /// When set, every call fails as unavailable.
    pub failing: Cell<bool>,
}

impl MemoryStore {
    async fn enter(&self, call: &'static str) -> Result<std::cell::RefMut<'_, State>, StoreError> {
        yield_now().await;
        self.calls.borrow_mut().push(call);
        if self.failing.get() {
            return Err(StoreError::Unavailable(format!(
                "{call}: failing on purpose"
            )));
        }
        Ok(self.state.borrow_mut())
    }

    /// Adds an active user directly, as an import would.
    pub fn add_user(&self, email: &str, user: User) {
        self.state.borrow_mut().users.push((email.to_owned(), user));
    }

    pub fn token(&self, jti: &str) -> Option<TokenRow> {
        self.state.borrow().tokens.get(jti).cloned()
    }

    pub fn calls(&self) -> Vec<&'static str> {
        self.calls.borrow().clone()
    }
}

fn adopt(state: &mut State, token: Presented<'_>) {
    state
        .tokens
        .entry(token.jti.to_owned())
        .or_insert_with(|| TokenRow {
            family: token.jti.to_owned(),
            user_id: token.user_id,
            expires_at: token.exp,
            used_at: None,
            successor: None,
            revoked_at: None,
        });
}

fn revoke_where(
    state: &mut State,
    now: i64,
    matches: impl Fn(&TokenRow) -> bool,
) -> Vec<RevokedToken> {
    let mut revoked = Vec::new();
    for (jti, row) in state.tokens.iter_mut() {
        if row.revoked_at.is_none() && matches(row) {
            row.revoked_at = Some(now);
            revoked.push(RevokedToken {
                jti: jti.clone(),
                expires_at: row.expires_at,
                used_at: row.used_at,
            });
        }
    }
    revoked
}

fn user_is_active(state: &State, id: i64) -> Option<bool> {
    state
        .users
        .iter()
        .find(|(_, user)| user.id == id)
        .map(|(_, user)| user.is_active)
}

impl Store for MemoryStore {
    async fn email_taken(&self, email: &str) -> Result<bool, StoreError> {
        let state = self.enter("email_taken").await?;
        Ok(state
            .users
            .iter()
            .any(|(e, _)| e.eq_ignore_ascii_case(email)))
    }

    async fn insert_user(&self, user: &NewUser, _now: i64) -> Result<(), StoreError> {
        let mut state = self.enter("insert_user").await?;
        if state
            .users
            .iter()
            .any(|(e, _)| e.eq_ignore_ascii_case(&user.email))
        {
            return Err(StoreError::Conflict);
        }
        let id = state.users.iter().map(|(_, u)| u.id).max().unwrap_or(0) + 1;
        state.users.push((
            user.email.clone(),
            User {
                id,
                username: user.username.clone(),
                password: user.password.clone(),
                is_active: true,
            },
        ));
        Ok(())
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let state = self.enter("user_by_id").await?;
        Ok(state
            .users
            .iter()
            .find(|(_, u)| u.id == id)
            .map(|(_, u)| u.clone()))
    }

    async fn begin_login(
        &self,
        buckets: &Buckets,
        window: i64,
        now: i64,
        email: &str,
    ) -> Result<(Vec<Counted>, Option<User>), StoreError> {
        let mut state = self.enter("begin_login").await?;
        let mut counted = Vec::new();
        for bucket in buckets.keys() {
            let entry = state.buckets.entry(bucket.to_owned()).or_insert((0, now));
            if entry.1 + window <= now {
                *entry = (0, now);
            }
            entry.0 += 1;
            counted.push(Counted {
                failures: entry.0,
                window_start: entry.1,
            });
        }
        let user = state
            .users
            .iter()
            .find(|(e, _)| e.eq_ignore_ascii_case(email))
            .map(|(_, u)| u.clone());
        Ok((counted, user))
    }

    async fn release_failures(&self, buckets: &Buckets) -> Result<(), StoreError> {
        let mut state = self.enter("release_failures").await?;
        release(&mut state, buckets);
        Ok(())
    }

    async fn record_login(
        &self,
        record: &LoginRecord<'_>,
    ) -> Result<Vec<RevokedToken>, StoreError> {
        let mut state = self.enter("record_login").await?;
        let jti = record.refresh.jti.clone();
        if state.tokens.contains_key(&jti) {
            return Err(StoreError::Conflict);
        }
        state.sessions.insert(jti.clone(), record.refresh.iat);
        state.tokens.insert(
            jti.clone(),
            TokenRow {
                family: jti,
                user_id: record.user.id,
                expires_at: record.refresh.exp,
                used_at: None,
                successor: None,
                revoked_at: None,
            },
        );
        release(&mut state, record.buckets);
        if record.stamp_last_login {
            state.last_login.insert(record.user.id, record.refresh.iat);
        }
        if let Some(hash) = record.rehash {
            let id = record.user.id;
            if let Some((_, user)) = state
                .users
                .iter_mut()
                .find(|(_, u)| u.id == id && u.password == record.user.password)
            {
                user.password = hash.clone();
            }
        }
        // The user's live families, most recently refreshed first; this login's is kept.
        let (user_id, now) = (record.user.id, record.refresh.iat);
        let mut live: Vec<(i64, String)> = state
            .tokens
            .values()
            .filter(|row| {
                row.user_id == user_id
                    && row.used_at.is_none()
                    && row.revoked_at.is_none()
                    && row.expires_at > now
                    && row.family != record.refresh.jti
            })
            .map(|row| (row.expires_at, row.family.clone()))
            .collect();
        live.sort_by(|a, b| b.cmp(a));
        let keep = record.max_sessions.saturating_sub(1) as usize;
        let ended: Vec<String> = live
            .into_iter()
            .skip(keep)
            .map(|(_, family)| family)
            .collect();
        Ok(revoke_where(&mut state, now, |row| {
            ended.contains(&row.family)
        }))
    }

    async fn rotate(
        &self,
        old: Presented<'_>,
        new: &Issued,
        started_after: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut state = self.enter("rotate").await?;
        adopt(&mut state, old);
        let row = &state.tokens[old.jti];
        let family = row.family.clone();
        let started = *state.sessions.entry(family).or_insert(now);
        let row = &state.tokens[old.jti];
        let live = row.used_at.is_none() && row.revoked_at.is_none();
        if !live || user_is_active(&state, row.user_id) != Some(true) || started <= started_after {
            return Ok(false);
        }
        let row = state.tokens.get_mut(old.jti).expect("adopted above");
        row.used_at = Some(now);
        row.successor = Some(new.jti.clone());
        let (family, user_id) = (row.family.clone(), row.user_id);
        state.tokens.insert(
            new.jti.clone(),
            TokenRow {
                family,
                user_id,
                expires_at: new.exp,
                used_at: None,
                successor: None,
                revoked_at: None,
            },
        );
        Ok(true)
    }

    async fn token_state(&self, token: Presented<'_>) -> Result<TokenState, StoreError> {
        let mut state = self.enter("token_state").await?;
        adopt(&mut state, token);
        let row = &state.tokens[token.jti];
        Ok(TokenState {
            used_at: row.used_at,
            revoked_at: row.revoked_at,
            family: row.family.clone(),
            started_at: state.sessions.get(&row.family).copied(),
            active: user_is_active(&state, row.user_id),
        })
    }

    async fn revoke_family(&self, family: &str, now: i64) -> Result<Vec<RevokedToken>, StoreError> {
        let mut state = self.enter("revoke_family").await?;
        Ok(revoke_where(&mut state, now, |row| row.family == family))
    }

    async fn revoke_login(
        &self,
        token: Presented<'_>,
        now: i64,
    ) -> Result<(bool, Vec<RevokedToken>), StoreError> {
        let mut state = self.enter("revoke_login").await?;
        adopt(&mut state, token);
        let row = &state.tokens[token.jti];
        let was_live = row.used_at.is_none() && row.revoked_at.is_none();
        let family = row.family.clone();
        Ok((
            was_live,
            revoke_where(&mut state, now, |row| row.family == family),
        ))
    }

    async fn revoke_user(&self, user_id: i64, now: i64) -> Result<Vec<RevokedToken>, StoreError> {
        let mut state = self.enter("revoke_user").await?;
        Ok(revoke_where(&mut state, now, |row| row.user_id == user_id))
    }

    async fn delete_expired(
        &self,
        cutoff: i64,
        window: i64,
        now: i64,
    ) -> Result<Cleaned, StoreError> {
        let mut state = self.enter("delete_expired").await?;
        let (tokens, sessions, buckets) = (
            state.tokens.len(),
            state.sessions.len(),
            state.buckets.len(),
        );
        state.tokens.retain(|_, row| row.expires_at >= cutoff);
        let State {
            tokens: kept,
            sessions: families,
            ..
        } = &mut *state;
        families.retain(|family, _| kept.values().any(|row| &row.family == family));
        state.buckets.retain(|_, (_, start)| *start + window > now);
        Ok(Cleaned {
            refresh_tokens: tokens - state.tokens.len(),
            sessions: sessions - state.sessions.len(),
            throttle_windows: buckets - state.buckets.len(),
        })
    }
}

fn release(state: &mut State, buckets: &Buckets) {
    for bucket in buckets.keys() {
        if let Some(entry) = state.buckets.get_mut(bucket) {
            entry.0 -= 1;
            if entry.0 <= 0 {
                state.buckets.remove(bucket);
            }
        }
    }
}

#[derive(Default)]
pub struct MemoryDenylist {
    pub entries: RefCell<HashMap<String, Revocation>>,
    pub calls: RefCell<Vec<&'static str>>,
}

impl Denylist for MemoryDenylist {
    async fn get(&self, jti: &str) -> Result<Option<Revocation>, StoreError> {
        yield_now().await;
        self.calls.borrow_mut().push("denylist_get");
        Ok(self.entries.borrow().get(jti).copied())
    }

    fn ready(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn publish(&self, entries: &[Entry], _now: i64) {
        yield_now().await;
        self.calls.borrow_mut().push("denylist_publish");
        let mut map = self.entries.borrow_mut();
        for entry in entries {
            map.insert(entry.jti.clone(), entry.revocation);
        }
    }
}

/// A future that is pending once, so that the executor moves on to the next flow.
fn yield_now() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

/// Runs one flow to completion.
pub fn run<F: Future>(future: F) -> F::Output {
    race(vec![future]).pop().expect("one output")
}

/// Runs flows concurrently on one thread, polling each in turn: every flow runs up to its next
/// storage call, then the next flow does, so their storage calls interleave.
pub fn race<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut cx = Context::from_waker(Waker::noop());
    while outputs.iter().any(Option::is_none) {
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
                    *output = Some(value);
                }
            }
        }
    }
    outputs.into_iter().map(|o| o.expect("finished")).collect()
}
