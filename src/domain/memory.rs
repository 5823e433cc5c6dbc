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
use super::events::{Client, Event, EventRow, NewEvent, KEPT_PER_USER, KEPT_SECONDS};
use super::passkeys::Spent;
use super::revocation::Revocation;
use super::secret::Secret;
use super::store::{
    Challenge, Cleaned, Denylist, Entry, Liveness, LoginRecord, NewPasskeyRow, PasskeyAdded,
    PasskeyRow, PasswordReplacement, Presented, Profile, Proof, Quota, RevokedToken, SessionRow,
    Sessions, Store, StoreError, StoredPasskeyRow, TokenState, Totp, CHALLENGES_PER_USER,
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

impl TokenRow {
    /// Neither rotated nor revoked.
    fn unspent(&self) -> bool {
        self.used_at.is_none() && self.revoked_at.is_none()
    }

    /// An unspent token of `user_id` that has not expired at `now`: a live session's.
    fn live_for(&self, user_id: i64, now: i64) -> bool {
        self.user_id == user_id && self.unspent() && self.expires_at > now
    }
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
    /// family → (user, last refresh, client of the login)
    pub session_meta: HashMap<String, (i64, Option<i64>, Client)>,
    /// family → the order of its login among all logins (logins of one second stay ordered)
    pub login_order: HashMap<String, u64>,
    /// (user, event, at, client), oldest first
    pub events: Vec<(i64, String, i64, Client)>,
    /// mail bucket → (sent, window start)
    pub quotas: HashMap<String, (i64, i64)>,
    pub next_user_id: i64,
    /// user → TOTP authenticator (`recovery_codes_left` unused: see `recovery`)
    pub totp: HashMap<i64, Totp>,
    /// user → digests of unused recovery codes
    pub recovery: HashMap<i64, Vec<String>>,
    /// challenge digest → (user, expiry)
    pub challenges: HashMap<String, (i64, i64)>,
    /// (owner, passkey, public key, sign count, backup eligible), oldest first
    pub passkeys: Vec<(i64, PasskeyRow, String, u32, bool)>,
    /// spent passkey challenge digest → its expiry
    pub spent_challenges: HashMap<String, i64>,
}

/// Sets the stored user's MFA flag, as D1 derives it from the authenticator's row.
fn set_mfa(state: &mut State, user_id: i64, on: bool) {
    if let Some(user) = find_user(state, user_id) {
        user.mfa = on;
    }
}

fn push_event(state: &mut State, event: &NewEvent<'_>) {
    state.events.push((
        event.user_id,
        event.event.name().to_owned(),
        event.at,
        event.client.clone(),
    ));
    let user_id = event.user_id;
    let count = state.events.iter().filter(|e| e.0 == user_id).count() as i64;
    let mut excess = count - KEPT_PER_USER;
    state.events.retain(|e| {
        if e.0 == user_id && excess > 0 {
            excess -= 1;
            false
        } else {
            true
        }
    });
}

fn find_user(state: &mut State, id: i64) -> Option<&mut User> {
    state
        .users
        .iter_mut()
        .find(|(_, u)| u.id == id)
        .map(|(_, u)| u)
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

    /// Adds a user directly, as an import would.
    pub fn add_user(&self, email: &str, user: User) {
        let mut state = self.state.borrow_mut();
        state.next_user_id = state.next_user_id.max(user.id);
        let user = User {
            email: email.to_owned(),
            ..user
        };
        state.users.push((email.to_owned(), user));
    }

    /// The names of the events recorded for a user, oldest first.
    pub fn events(&self, user_id: i64) -> Vec<String> {
        let state = self.state.borrow();
        state
            .events
            .iter()
            .filter(|e| e.0 == user_id)
            .map(|e| e.1.clone())
            .collect()
    }

    pub fn token(&self, jti: &str) -> Option<TokenRow> {
        self.state.borrow().tokens.get(jti).cloned()
    }

    pub fn calls(&self) -> Vec<&'static str> {
        self.calls.borrow().clone()
    }
}

fn adopt(state: &mut State, token: Presented<'_>) {
    // A token of a user that no longer exists is not recorded.
    if user_is_active(state, token.user_id).is_none() {
        return;
    }
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

fn valid_after(state: &State, id: i64) -> i64 {
    state
        .users
        .iter()
        .find(|(_, user)| user.id == id)
        .map_or(0, |(_, user)| user.tokens_valid_after)
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

    async fn insert_user(&self, user: &NewUser, _now: i64) -> Result<i64, StoreError> {
        let mut state = self.enter("insert_user").await?;
        if state
            .users
            .iter()
            .any(|(e, _)| e.eq_ignore_ascii_case(&user.email))
        {
            return Err(StoreError::Conflict);
        }
        // AUTOINCREMENT: an id is never given twice, even after a deletion.
        state.next_user_id += 1;
        let id = state.next_user_id;
        state.users.push((
            user.email.clone(),
            User {
                id,
                email: user.email.clone(),
                username: user.username.clone(),
                password: user.password.clone(),
                is_active: true,
                email_verified: user.email_verified,
                ..User::default()
            },
        ));
        Ok(id)
    }

    async fn last_login_at(&self, user_id: i64) -> Result<Option<i64>, StoreError> {
        let state = self.enter("last_login_at").await?;
        Ok(state
            .session_meta
            .iter()
            .filter(|(_, meta)| meta.0 == user_id)
            .filter_map(|(family, _)| state.sessions.get(family).copied())
            .max())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let state = self.enter("user_by_email").await?;
        Ok(state
            .users
            .iter()
            .find(|(e, _)| e.eq_ignore_ascii_case(email))
            .map(|(_, u)| u.clone()))
    }

    async fn update_profile(&self, user_id: i64, profile: &Profile) -> Result<bool, StoreError> {
        let mut state = self.enter("update_profile").await?;
        let Some(user) = find_user(&mut state, user_id) else {
            return Ok(false);
        };
        user.username = profile.username.clone();
        user.first_name = profile.first_name.clone();
        user.last_name = profile.last_name.clone();
        Ok(true)
    }

    async fn replace_password(
        &self,
        replacement: &PasswordReplacement<'_>,
    ) -> Result<Option<Vec<RevokedToken>>, StoreError> {
        let mut state = self.enter("replace_password").await?;
        let Some(user) = find_user(&mut state, replacement.user_id) else {
            return Ok(None);
        };
        if &user.password != replacement.expected {
            return Ok(None);
        }
        user.password = replacement.new.clone();
        user.tokens_valid_after = replacement.now;
        let user_id = replacement.user_id;
        let revoked = revoke_where(&mut state, replacement.now, |row| row.user_id == user_id);
        push_event(&mut state, &replacement.event);
        state.challenges.retain(|_, (user, _)| *user != user_id);
        if let Some(buckets) = replacement.forget {
            for bucket in buckets.keys() {
                state.buckets.remove(bucket);
            }
        }
        Ok(Some(revoked))
    }

    async fn delete_user(&self, user_id: i64, now: i64) -> Result<Vec<RevokedToken>, StoreError> {
        let mut state = self.enter("delete_user").await?;
        let revoked = revoke_where(&mut state, now, |row| row.user_id == user_id);
        state.users.retain(|(_, u)| u.id != user_id);
        state.tokens.retain(|_, row| row.user_id != user_id);
        let State {
            sessions,
            session_meta,
            ..
        } = &mut *state;
        session_meta.retain(|family, meta| {
            let theirs = meta.0 == user_id;
            if theirs {
                sessions.remove(family);
            }
            !theirs
        });
        state.events.retain(|e| e.0 != user_id);
        state.last_login.remove(&user_id);
        state.totp.remove(&user_id);
        state.recovery.remove(&user_id);
        state.challenges.retain(|_, (user, _)| *user != user_id);
        state.passkeys.retain(|p| p.0 != user_id);
        Ok(revoked)
    }

    async fn verify_email(&self, user_id: i64, event: &NewEvent<'_>) -> Result<bool, StoreError> {
        let mut state = self.enter("verify_email").await?;
        let Some(user) = find_user(&mut state, user_id) else {
            return Ok(false);
        };
        if user.email_verified {
            return Ok(false);
        }
        user.email_verified = true;
        push_event(&mut state, event);
        Ok(true)
    }

    async fn sessions_of(&self, user_id: i64, now: i64) -> Result<Vec<SessionRow>, StoreError> {
        let state = self.enter("sessions_of").await?;
        let mut rows: Vec<SessionRow> = state
            .tokens
            .values()
            .filter(|row| row.live_for(user_id, now))
            .filter_map(|row| {
                let created_at = *state.sessions.get(&row.family)?;
                let (_, refreshed_at, client) = state.session_meta.get(&row.family)?;
                Some(SessionRow {
                    id: row.family.clone(),
                    created_at,
                    refreshed_at: *refreshed_at,
                    expires_at: row.expires_at,
                    user_agent: client.user_agent.clone(),
                    ip: client.ip.clone(),
                    country: client.country.clone(),
                })
            })
            .collect();
        let order = |id: &str| state.login_order.get(id).copied().unwrap_or(0);
        rows.sort_by(|a, b| {
            (b.created_at, order(&b.id), &b.id).cmp(&(a.created_at, order(&a.id), &a.id))
        });
        Ok(rows)
    }

    async fn revoke_sessions(
        &self,
        user_id: i64,
        which: Sessions<'_>,
        now: i64,
        client: &Client,
    ) -> Result<Vec<RevokedToken>, StoreError> {
        let mut state = self.enter("revoke_sessions").await?;
        let chosen = |family: &str| match which {
            Sessions::One(id) => family == id,
            Sessions::AllBut(id) => family != id,
        };
        let live: Vec<String> = state
            .tokens
            .values()
            .filter(|row| row.live_for(user_id, now) && chosen(&row.family))
            .map(|row| row.family.clone())
            .collect();
        let revoked = revoke_where(&mut state, now, |row| {
            row.user_id == user_id && live.contains(&row.family)
        });
        for _ in &live {
            let event = NewEvent {
                user_id,
                event: Event::SessionRevoked,
                at: now,
                client,
            };
            push_event(&mut state, &event);
        }
        Ok(revoked)
    }

    async fn liveness(
        &self,
        user_id: i64,
        sid: Option<&str>,
        jti: Option<&str>,
        now: i64,
    ) -> Result<Liveness, StoreError> {
        let state = self.enter("liveness").await?;
        let live = TokenRow::unspent;
        Ok(Liveness {
            user: state
                .users
                .iter()
                .find(|(_, u)| u.id == user_id)
                .map(|(_, u)| u.clone()),
            session_live: sid.is_none_or(|sid| {
                state.tokens.values().any(|row| {
                    row.family == sid && row.user_id == user_id && live(row) && row.expires_at > now
                })
            }),
            token_live: jti.is_none_or(|jti| state.tokens.get(jti).is_some_and(live)),
        })
    }

    async fn record_event(&self, event: &NewEvent<'_>) -> Result<(), StoreError> {
        let mut state = self.enter("record_event").await?;
        push_event(&mut state, event);
        Ok(())
    }

    async fn events_of(&self, user_id: i64, limit: i64) -> Result<Vec<EventRow>, StoreError> {
        let state = self.enter("events_of").await?;
        Ok(state
            .events
            .iter()
            .rev()
            .filter(|e| e.0 == user_id)
            .take(limit as usize)
            .map(|(_, event, at, client)| EventRow {
                event: event.clone(),
                at: *at,
                ip: client.ip.clone(),
                country: client.country.clone(),
                user_agent: client.user_agent.clone(),
            })
            .collect())
    }

    async fn take_quota(
        &self,
        buckets: &[(&str, i64)],
        window: i64,
        now: i64,
    ) -> Result<Quota, StoreError> {
        let mut state = self.enter("take_quota").await?;
        let full = buckets
            .iter()
            .filter_map(|(bucket, limit)| {
                let (used, start) = state.quotas.get(*bucket)?;
                (start + window > now && used >= limit).then_some(*start)
            })
            .max();
        if let Some(start) = full {
            return Ok(Quota::Spent {
                retry_after: (start + window - now).max(1),
            });
        }
        for (bucket, _) in buckets {
            let entry = state.quotas.entry((*bucket).to_owned()).or_insert((0, now));
            if entry.1 + window <= now {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
        Ok(Quota::Taken)
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
        state
            .session_meta
            .insert(jti.clone(), (record.user.id, None, record.client.clone()));
        let order = state.login_order.len() as u64 + 1;
        state.login_order.insert(jti.clone(), order);
        let login = NewEvent {
            user_id: record.user.id,
            event: Event::Login,
            at: record.refresh.iat,
            client: record.client,
        };
        push_event(&mut state, &login);
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
        if let Some(buckets) = record.buckets {
            release(&mut state, buckets);
        }
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
            .filter(|row| row.live_for(user_id, now) && row.family != record.refresh.jti)
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
        let Some(row) = state.tokens.get(old.jti) else {
            return Ok(false);
        };
        let family = row.family.clone();
        let started = *state.sessions.entry(family).or_insert(now);
        let row = &state.tokens[old.jti];
        let live = row.unspent();
        let ended = valid_after(&state, row.user_id) > old.iat;
        if !live
            || user_is_active(&state, row.user_id) != Some(true)
            || ended
            || started <= started_after
        {
            return Ok(false);
        }
        let family = row.family.clone();
        if let Some(meta) = state.session_meta.get_mut(&family) {
            meta.1 = Some(now);
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
        let Some(row) = state.tokens.get(token.jti) else {
            return Ok(TokenState {
                used_at: None,
                revoked_at: None,
                family: token.jti.to_owned(),
                started_at: None,
                active: None,
                tokens_valid_after: 0,
            });
        };
        Ok(TokenState {
            used_at: row.used_at,
            revoked_at: row.revoked_at,
            family: row.family.clone(),
            started_at: state.sessions.get(&row.family).copied(),
            active: user_is_active(&state, row.user_id),
            tokens_valid_after: valid_after(&state, row.user_id),
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
        let Some(row) = state.tokens.get(token.jti) else {
            return Ok((false, Vec::new()));
        };
        let was_live = row.unspent();
        let family = row.family.clone();
        Ok((
            was_live,
            revoke_where(&mut state, now, |row| row.family == family),
        ))
    }

    async fn revoke_user(
        &self,
        user_id: i64,
        event: &NewEvent<'_>,
    ) -> Result<Vec<RevokedToken>, StoreError> {
        let mut state = self.enter("revoke_user").await?;
        let revoked = revoke_where(&mut state, event.at, |row| row.user_id == user_id);
        push_event(&mut state, event);
        state.challenges.retain(|_, (user, _)| *user != user_id);
        Ok(revoked)
    }

    async fn totp_of(&self, user_id: i64) -> Result<Option<Totp>, StoreError> {
        let state = self.enter("totp_of").await?;
        let left = state.recovery.get(&user_id).map_or(0, Vec::len) as i64;
        Ok(state.totp.get(&user_id).map(|totp| Totp {
            recovery_codes_left: left,
            ..totp.clone()
        }))
    }

    async fn enable_totp(
        &self,
        user_id: i64,
        secret: &Secret,
        step: i64,
        recovery_codes: &[String],
        now: i64,
        event: &NewEvent<'_>,
    ) -> Result<bool, StoreError> {
        let mut state = self.enter("enable_totp").await?;
        if state.totp.contains_key(&user_id) || find_user(&mut state, user_id).is_none() {
            return Ok(false);
        }
        let totp = Totp {
            secret: secret.clone(),
            created_at: now,
            last_used_at: None,
            last_step: step,
            recovery_codes_left: 0,
        };
        state.totp.insert(user_id, totp);
        state.recovery.insert(user_id, recovery_codes.to_vec());
        set_mfa(&mut state, user_id, true);
        push_event(&mut state, event);
        Ok(true)
    }

    async fn disable_totp(
        &self,
        user_id: i64,
        step: i64,
        event: &NewEvent<'_>,
    ) -> Result<bool, StoreError> {
        let mut state = self.enter("disable_totp").await?;
        if state
            .totp
            .get(&user_id)
            .is_none_or(|totp| totp.last_step >= step)
        {
            return Ok(false);
        }
        state.totp.remove(&user_id);
        state.recovery.remove(&user_id);
        state.challenges.retain(|_, (user, _)| *user != user_id);
        set_mfa(&mut state, user_id, false);
        push_event(&mut state, event);
        Ok(true)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: i64,
        recovery_codes: &[String],
    ) -> Result<bool, StoreError> {
        let mut state = self.enter("replace_recovery_codes").await?;
        if !state.totp.contains_key(&user_id) {
            return Ok(false);
        }
        state.recovery.insert(user_id, recovery_codes.to_vec());
        Ok(true)
    }

    async fn open_challenge(&self, challenge: &Challenge, now: i64) -> Result<(), StoreError> {
        let mut state = self.enter("open_challenge").await?;
        let user_id = challenge.user_id;
        state
            .challenges
            .retain(|_, (user, expires)| *user != user_id || *expires > now);
        let mut theirs: Vec<(String, i64)> = state
            .challenges
            .iter()
            .filter(|(_, (user, _))| *user == user_id)
            .map(|(digest, (_, expires))| (digest.clone(), *expires))
            .collect();
        theirs.sort_by_key(|(_, expires)| std::cmp::Reverse(*expires));
        for (digest, _) in theirs.into_iter().skip(CHALLENGES_PER_USER - 1) {
            state.challenges.remove(&digest);
        }
        state
            .challenges
            .insert(challenge.digest.clone(), (user_id, challenge.expires_at));
        Ok(())
    }

    async fn challenge(&self, digest: &str, now: i64) -> Result<Option<(i64, String)>, StoreError> {
        let state = self.enter("challenge").await?;
        let Some(&(user_id, expires)) = state.challenges.get(digest) else {
            return Ok(None);
        };
        let email = state
            .users
            .iter()
            .find(|(_, u)| u.id == user_id)
            .map(|(e, _)| e.clone());
        Ok(email
            .filter(|_| expires > now)
            .map(|email| (user_id, email)))
    }

    async fn pass_challenge(
        &self,
        digest: &str,
        user_id: i64,
        proof: Proof<'_>,
        now: i64,
        used: &NewEvent<'_>,
    ) -> Result<Option<bool>, StoreError> {
        let mut state = self.enter("pass_challenge").await?;
        if state
            .challenges
            .get(digest)
            .is_none_or(|&(user, expires)| user != user_id || expires <= now)
        {
            return Ok(None);
        }
        let Some(totp) = state.totp.get_mut(&user_id) else {
            return Ok(Some(false));
        };
        match proof {
            Proof::Step(step) => {
                if step <= totp.last_step {
                    return Ok(Some(false));
                }
                totp.last_step = step;
                totp.last_used_at = Some(now);
            }
            Proof::RecoveryCode(code) => {
                let codes = state.recovery.entry(user_id).or_default();
                let Some(index) = codes.iter().position(|c| c == code) else {
                    return Ok(Some(false));
                };
                codes.remove(index);
                if let Some(totp) = state.totp.get_mut(&user_id) {
                    totp.last_used_at = Some(now);
                }
                push_event(&mut state, used);
            }
        }
        state.challenges.remove(digest);
        Ok(Some(true))
    }

    async fn passkeys_of(&self, user_id: i64) -> Result<Vec<PasskeyRow>, StoreError> {
        let state = self.enter("passkeys_of").await?;
        Ok(state
            .passkeys
            .iter()
            .rev()
            .filter(|p| p.0 == user_id)
            .map(|p| p.1.clone())
            .collect())
    }

    async fn add_passkey(
        &self,
        passkey: &NewPasskeyRow<'_>,
        challenge: &Spent,
        max: usize,
        event: &NewEvent<'_>,
    ) -> Result<PasskeyAdded, StoreError> {
        let mut state = self.enter("add_passkey").await?;
        if state.spent_challenges.contains_key(&challenge.digest) {
            return Ok(PasskeyAdded::ChallengeSpent);
        }
        if state.passkeys.iter().any(|p| p.1.id == passkey.id) {
            return Ok(PasskeyAdded::Duplicate);
        }
        if state
            .passkeys
            .iter()
            .filter(|p| p.0 == passkey.user_id)
            .count()
            >= max
        {
            return Ok(PasskeyAdded::TooMany);
        }
        state
            .spent_challenges
            .insert(challenge.digest.clone(), challenge.expires_at);
        let row = PasskeyRow {
            id: passkey.id.clone(),
            name: passkey.name.to_owned(),
            created_at: passkey.created_at,
            last_used_at: None,
            transports: passkey.transports.to_vec(),
        };
        state.passkeys.push((
            passkey.user_id,
            row,
            passkey.public_key.clone(),
            passkey.sign_count,
            passkey.backup_eligible,
        ));
        push_event(&mut state, event);
        Ok(PasskeyAdded::Added)
    }

    async fn passkey(&self, id: &str) -> Result<Option<StoredPasskeyRow>, StoreError> {
        let state = self.enter("passkey").await?;
        Ok(state
            .passkeys
            .iter()
            .find(|p| p.1.id == id)
            .map(|p| StoredPasskeyRow {
                user_id: p.0,
                public_key: p.2.clone(),
                sign_count: p.3,
                backup_eligible: p.4,
            }))
    }

    async fn use_passkey(
        &self,
        id: &str,
        old_count: u32,
        new_count: u32,
        challenge: &Spent,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut state = self.enter("use_passkey").await?;
        if state.spent_challenges.contains_key(&challenge.digest) {
            return Ok(false);
        }
        let Some(passkey) = state
            .passkeys
            .iter_mut()
            .find(|p| p.1.id == id && p.3 == old_count)
        else {
            return Ok(false);
        };
        passkey.3 = new_count;
        passkey.1.last_used_at = Some(now);
        state
            .spent_challenges
            .insert(challenge.digest.clone(), challenge.expires_at);
        Ok(true)
    }

    async fn delete_passkey(
        &self,
        user_id: i64,
        id: &str,
        event: &NewEvent<'_>,
    ) -> Result<bool, StoreError> {
        let mut state = self.enter("delete_passkey").await?;
        let before = state.passkeys.len();
        state.passkeys.retain(|p| !(p.0 == user_id && p.1.id == id));
        let deleted = state.passkeys.len() < before;
        if deleted {
            push_event(&mut state, event);
        }
        Ok(deleted)
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
        let State {
            sessions: families,
            session_meta,
            ..
        } = &mut *state;
        session_meta.retain(|family, _| families.contains_key(family));
        state.buckets.retain(|_, (_, start)| *start + window > now);
        let (events, quotas) = (state.events.len(), state.quotas.len());
        state.events.retain(|e| e.2 > now - KEPT_SECONDS);
        state
            .quotas
            .retain(|_, (_, start)| *start + super::recovery::QUOTA_WINDOW_SECONDS > now);
        let challenges = state.challenges.len();
        state.challenges.retain(|_, (_, expires)| *expires > now);
        let spent = state.spent_challenges.len();
        state.spent_challenges.retain(|_, expires| *expires > now);
        Ok(Cleaned {
            challenges: challenges - state.challenges.len(),
            passkey_challenges: spent - state.spent_challenges.len(),
            refresh_tokens: tokens - state.tokens.len(),
            sessions: sessions - state.sessions.len(),
            throttle_windows: buckets - state.buckets.len(),
            events: events - state.events.len(),
            quota_windows: quotas - state.quotas.len(),
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
        self.insert(entries);
    }

    /// Applied at once: here no answer is waiting for it.
    fn defer(&self, entries: Vec<Entry>, _now: i64) {
        self.calls.borrow_mut().push("denylist_defer");
        self.insert(&entries);
    }
}

impl MemoryDenylist {
    fn insert(&self, entries: &[Entry]) {
        let mut map = self.entries.borrow_mut();
        for entry in entries {
            map.insert(entry.jti.clone(), entry.revocation);
        }
    }
}

/// A future that is pending once, so that the executor moves on to the next flow.
pub fn yield_now() -> impl Future<Output = ()> {
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
