//! The [`Store`] on D1 (binding `DB`; schema in `schema.sql`): every D1 statement of the
//! service. Each trait method is one statement or one batch (D1 has no BEGIN; a batch is one
//! transaction), which is what makes the atomicity the trait states: the single use of a
//! refresh token is `UPDATE … WHERE used_at IS NULL`, and the winner is the call whose update
//! changed the row. Every statement binds its parameters; no SQL is built from input.

use std::cell::OnceCell;

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1DatabaseSession, D1PreparedStatement, D1Result, Env};

use super::{env, Trips};
use crate::domain::accounts::{NewUser, User};
use crate::domain::events::{self, Client, Event, EventRow, NewEvent};
use crate::domain::passkeys::Spent;
use crate::domain::passwords::PasswordHash;
use crate::domain::random;
use crate::domain::recovery;
use crate::domain::secret::Secret;
use crate::domain::store::{
    Challenge, Cleaned, Liveness, LoginRecord, NewPasskeyRow, PasskeyAdded, PasskeyRow,
    PasswordReplacement, Presented, Profile, Proof, Quota, RevokedToken, SessionRow, Sessions,
    Store, StoreError, StoredPasskeyRow, TokenState, Totp, CHALLENGES_PER_USER,
};
use crate::domain::throttle::{Buckets, Counted};
use crate::domain::tokens::Issued;

/// D1, resolved from the environment on first use (a missing binding fails the first
/// operation, in the contract's order of checks, not the request).
pub struct D1Store<'a> {
    env: &'a Env,
    trips: &'a Trips,
    replica: bool,
    handle: OnceCell<Result<Handle, StoreError>>,
}

/// The primary (strongly consistent; every write and every decision that must be exact) or a
/// Sessions API session that may read from the nearest replica.
enum Handle {
    Primary(D1Database),
    Replica(D1DatabaseSession),
}

impl Handle {
    fn prepare(&self, sql: &str) -> D1PreparedStatement {
        match self {
            Self::Primary(db) => db.prepare(sql),
            Self::Replica(session) => session.prepare(sql),
        }
    }

    async fn batch(&self, statements: Vec<D1PreparedStatement>) -> worker::Result<Vec<D1Result>> {
        match self {
            Self::Primary(db) => db.batch(statements).await,
            Self::Replica(session) => session.batch(statements).await,
        }
    }
}

/// A storage failure with its cause; a refused UNIQUE constraint is a conflict.
fn failure(operation: &str, error: worker::Error) -> StoreError {
    let message = error.to_string();
    if message.contains("UNIQUE constraint failed") {
        return StoreError::Conflict;
    }
    StoreError::Unavailable(format!("storage failure during {operation}: {message}"))
}

fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

fn int(value: i64) -> JsValue {
    // D1 binds JavaScript numbers; ids and epoch seconds are far below 2^53.
    JsValue::from_f64(value as f64)
}

/// A statement that must return a row returned none: the schema or the data is not what this
/// code expects.
fn missing_row(operation: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "storage failure during {operation}: the statement returned no row"
    ))
}

/// A row whose columns do not matter, only that it exists.
#[derive(Deserialize)]
struct AnyRow {}

#[derive(Deserialize)]
struct WindowStart {
    start: Option<i64>,
}

#[derive(Deserialize)]
struct StateRow {
    used_at: Option<i64>,
    revoked_at: Option<i64>,
    family: String,
    started_at: Option<i64>,
    active: Option<i64>,
    valid_after: Option<i64>,
}

/// The columns of a [`UserRow`].
const USER: &str = "SELECT id, email, username, first_name, last_name, password, is_active, \
                    email_verified, tokens_valid_after, last_login, \
                    EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = users.id) AS mfa FROM users";

#[derive(Deserialize)]
struct UserRow {
    id: i64,
    email: String,
    username: String,
    first_name: String,
    last_name: String,
    password: String,
    is_active: i64,
    email_verified: i64,
    tokens_valid_after: i64,
    last_login: Option<String>,
    mfa: i64,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            username: row.username,
            first_name: row.first_name,
            last_name: row.last_name,
            password: PasswordHash::from_stored(row.password),
            is_active: row.is_active != 0,
            email_verified: row.email_verified != 0,
            tokens_valid_after: row.tokens_valid_after,
            last_login: row.last_login,
            mfa: row.mfa != 0,
        }
    }
}

/// A revoked token with its family, to count the sessions a revocation ended.
#[derive(Deserialize)]
struct RevokedInFamily {
    family: String,
    jti: String,
    expires_at: i64,
    used_at: Option<i64>,
}

/// The number of changed rows of a statement.
fn changes(result: &D1Result) -> usize {
    result
        .meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .unwrap_or(0)
}

fn rows<T: for<'a> Deserialize<'a>>(
    operation: &str,
    result: &D1Result,
) -> Result<Vec<T>, StoreError> {
    result.results::<T>().map_err(|e| failure(operation, e))
}

impl<'a> D1Store<'a> {
    /// The primary: writes and every read that must be exact.
    pub fn primary(env: &'a Env, trips: &'a Trips) -> Self {
        Self {
            env,
            trips,
            replica: false,
            handle: OnceCell::new(),
        }
    }

    /// For reads that may lag by the replication delay (D1 Sessions API,
    /// `first-unconstrained`: the first query goes to the nearest replica). Falls back to the
    /// primary where sessions are not available.
    pub fn nearest_replica(env: &'a Env, trips: &'a Trips) -> Self {
        Self {
            env,
            trips,
            replica: true,
            handle: OnceCell::new(),
        }
    }

    /// Resolves the binding now rather than at the first operation.
    pub fn bound(self) -> Result<Self, StoreError> {
        self.handle()?;
        Ok(self)
    }

    fn handle(&self) -> Result<&Handle, StoreError> {
        self.handle
            .get_or_init(|| {
                let db = env::d1(self.env)?;
                if self.replica {
                    if let Ok(session) = db.with_session(Some("first-unconstrained")) {
                        return Ok(Handle::Replica(session));
                    }
                }
                Ok(Handle::Primary(db))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn statement(&self, sql: &str, params: &[JsValue]) -> Result<D1PreparedStatement, StoreError> {
        self.handle()?
            .prepare(sql)
            .bind(params)
            .map_err(|e| failure("binding parameters", e))
    }

    /// Runs statements as one transaction. A transaction refused because the database was
    /// busy (`SQLITE_BUSY`: nothing was executed) is retried a few times.
    async fn batch(
        &self,
        operation: &str,
        statements: Vec<D1PreparedStatement>,
    ) -> Result<Vec<D1Result>, StoreError> {
        let handle = self.handle()?;
        let mut attempt = 0;
        loop {
            Trips::count(&self.trips.d1);
            match handle.batch(statements.clone()).await {
                Err(error) if attempt < 3 && error.to_string().contains("SQLITE_BUSY") => {
                    attempt += 1;
                    worker::Delay::from(std::time::Duration::from_millis(25 * attempt)).await;
                }
                result => return result.map_err(|e| failure(operation, e)),
            }
        }
    }

    /// The rows of one statement.
    async fn query<T: for<'b> Deserialize<'b>>(
        &self,
        operation: &str,
        statement: D1PreparedStatement,
    ) -> Result<Vec<T>, StoreError> {
        let results = self.batch(operation, vec![statement]).await?;
        rows(operation, &results[0])
    }

    /// A statement that records a valid refresh token this database has no row for (issued
    /// before its row could be written, or by another deployment sharing the keys) as the
    /// first of its own family, so that every later decision has a row to work on.
    /// A token of a user that no longer exists is not recorded: deleting a user leaves no row
    /// of theirs, whatever they present later.
    fn adopt(&self, token: Presented<'_>) -> Result<D1PreparedStatement, StoreError> {
        self.statement(
            "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) \
             SELECT ?1, ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2) \
             ON CONFLICT (jti) DO NOTHING",
            &[text(token.jti), int(token.user_id), int(token.exp)],
        )
    }

    /// Records an event and trims the user's events to the newest
    /// [`events::KEPT_PER_USER`]. `only_if`: an SQL condition (with its own parameters
    /// numbered from ?7) that must hold for the event to be recorded.
    fn event_statements(
        &self,
        event: &NewEvent<'_>,
        only_if: Option<(&str, &[JsValue])>,
    ) -> Result<Vec<D1PreparedStatement>, StoreError> {
        let client = event.client;
        let (condition, extra) = only_if.unwrap_or(("1", &[]));
        let mut params = vec![
            int(event.user_id),
            text(event.event.name()),
            int(event.at),
            text(&client.ip),
            text(&client.country),
            text(&client.user_agent),
        ];
        params.extend_from_slice(extra);
        Ok(vec![
            self.statement(
                &format!(
                    "INSERT INTO security_events (user_id, event, at, ip, country, user_agent) \
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE {condition}"
                ),
                &params,
            )?,
            self.statement(
                "DELETE FROM security_events WHERE user_id = ?1 AND id <= ( \
                 SELECT id FROM security_events WHERE user_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                &[int(event.user_id), int(events::KEPT_PER_USER)],
            )?,
        ])
    }

    /// Inserts recovery-code digests for a user with MFA on (whose row carries `claim`, when
    /// given), returning the inserted rows.
    fn codes_statement(
        &self,
        user_id: i64,
        recovery_codes: &[String],
        claim: Option<&str>,
    ) -> Result<D1PreparedStatement, StoreError> {
        let digests = serde_json::to_string(recovery_codes)
            .map_err(|error| StoreError::Unavailable(format!("recovery codes: {error}")))?;
        self.statement(
            "INSERT INTO mfa_recovery_codes (user_id, digest) SELECT ?1, value FROM json_each(?2) \
             WHERE EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = ?1 AND (?3 IS NULL OR claim = ?3)) \
             RETURNING user_id",
            &[int(user_id), text(&digests), claim.map_or(JsValue::NULL, text)],
        )
    }

    async fn user_where(
        &self,
        operation: &str,
        condition: &str,
        param: JsValue,
    ) -> Result<Option<User>, StoreError> {
        let statement = self.statement(&format!("{USER} WHERE {condition}"), &[param])?;
        let rows: Vec<UserRow> = self.query(operation, statement).await?;
        Ok(rows.into_iter().next().map(User::from))
    }

    /// Statements giving back the failures [`Store::begin_login`] counted, forgetting
    /// buckets that drop to zero.
    fn release_statements(
        &self,
        buckets: &Buckets,
    ) -> Result<Vec<D1PreparedStatement>, StoreError> {
        // Without a client bucket the account bucket stands twice: `IN` counts a row once.
        let client = buckets.client.as_deref().unwrap_or(&buckets.account);
        let params = [text(&buckets.account), text(client)];
        Ok(vec![
            self.statement(
                "UPDATE login_failures SET failures = failures - 1 WHERE bucket IN (?1, ?2)",
                &params,
            )?,
            self.statement(
                "DELETE FROM login_failures WHERE bucket IN (?1, ?2) AND failures <= 0",
                &params,
            )?,
        ])
    }
}

impl Store for D1Store<'_> {
    async fn email_taken(&self, email: &str) -> Result<bool, StoreError> {
        let statement = self.statement(
            "SELECT 1 AS taken FROM users WHERE email = ?1 COLLATE NOCASE",
            &[text(email)],
        )?;
        let rows: Vec<AnyRow> = self.query("e-mail lookup", statement).await?;
        Ok(!rows.is_empty())
    }

    async fn insert_user(&self, user: &NewUser, now: i64) -> Result<i64, StoreError> {
        let statement = self.statement(
            "INSERT INTO users (email, username, password, is_active, date_joined, email_verified) \
             VALUES (?1, ?2, ?3, 1, datetime(?4, 'unixepoch'), ?5) RETURNING id",
            &[
                text(&user.email),
                text(&user.username),
                text(user.password.as_str()),
                int(now),
                int(i64::from(user.email_verified)),
            ],
        )?;
        #[derive(Deserialize)]
        struct Row {
            id: i64,
        }
        let row: Row = self
            .query("registration", statement)
            .await?
            .pop()
            .ok_or_else(|| missing_row("registration"))?;
        Ok(row.id)
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.user_where("user lookup", "id = ?1", int(id)).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.user_where("user lookup", "email = ?1 COLLATE NOCASE", text(email))
            .await
    }

    async fn last_login_at(&self, user_id: i64) -> Result<Option<i64>, StoreError> {
        let statement = self.statement(
            "SELECT MAX(created_at) AS at FROM sessions WHERE user_id = ?1",
            &[int(user_id)],
        )?;
        #[derive(Deserialize)]
        struct Row {
            at: Option<i64>,
        }
        let rows: Vec<Row> = self.query("session lookup", statement).await?;
        Ok(rows.into_iter().next().and_then(|row| row.at))
    }

    async fn update_profile(&self, user_id: i64, profile: &Profile) -> Result<bool, StoreError> {
        let statement = self.statement(
            "UPDATE users SET username = ?2, first_name = ?3, last_name = ?4 WHERE id = ?1 \
             RETURNING id",
            &[
                int(user_id),
                text(&profile.username),
                text(&profile.first_name),
                text(&profile.last_name),
            ],
        )?;
        let rows: Vec<AnyRow> = self.query("profile update", statement).await?;
        Ok(!rows.is_empty())
    }

    async fn replace_password(
        &self,
        replacement: &PasswordReplacement<'_>,
    ) -> Result<Option<Vec<RevokedToken>>, StoreError> {
        let (user_id, new) = (int(replacement.user_id), text(replacement.new.as_str()));
        let now = int(replacement.now);
        // Every statement after the first acts only if the first stored this new hash (its
        // salt makes it unique): the batch is all or nothing either way.
        let replaced = "EXISTS (SELECT 1 FROM users WHERE id = ?1 AND password = ?2)";
        let mut statements = vec![
            self.statement(
                "UPDATE users SET password = ?2, tokens_valid_after = ?4 \
                 WHERE id = ?1 AND password = ?3 RETURNING id",
                &[
                    user_id.clone(),
                    new.clone(),
                    text(replacement.expected.as_str()),
                    now.clone(),
                ],
            )?,
            self.statement(
                &format!(
                    "UPDATE refresh_tokens SET revoked_at = ?3 \
                     WHERE user_id = ?1 AND revoked_at IS NULL AND {replaced} \
                     RETURNING jti, expires_at, used_at"
                ),
                &[user_id.clone(), new.clone(), now],
            )?,
        ];
        statements.extend(self.event_statements(
            &replacement.event,
            Some((
                "EXISTS (SELECT 1 FROM users WHERE id = ?1 AND password = ?7)",
                std::slice::from_ref(&new),
            )),
        )?);
        // A second step begun with the old password dies with it.
        statements.push(self.statement(
            &format!("DELETE FROM mfa_challenges WHERE user_id = ?1 AND {replaced}"),
            &[user_id.clone(), new.clone()],
        )?);
        if let Some(buckets) = replacement.forget {
            let client = buckets.client.as_deref().unwrap_or(&buckets.account);
            statements.push(self.statement(
                &format!("DELETE FROM login_failures WHERE bucket IN (?3, ?4) AND {replaced}"),
                &[user_id, new, text(&buckets.account), text(client)],
            )?);
        }
        let results = self.batch("password change", statements).await?;
        let done: Vec<AnyRow> = rows("password change", &results[0])?;
        if done.is_empty() {
            return Ok(None);
        }
        Ok(Some(rows("password change", &results[1])?))
    }

    async fn delete_user(&self, user_id: i64, now: i64) -> Result<Vec<RevokedToken>, StoreError> {
        let id = [int(user_id)];
        let statements = vec![
            self.statement(
                "UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL \
                 RETURNING jti, expires_at, used_at",
                &[int(user_id), int(now)],
            )?,
            self.statement("DELETE FROM refresh_tokens WHERE user_id = ?1", &id)?,
            self.statement("DELETE FROM sessions WHERE user_id = ?1", &id)?,
            self.statement("DELETE FROM security_events WHERE user_id = ?1", &id)?,
            self.statement("DELETE FROM mfa_totp WHERE user_id = ?1", &id)?,
            self.statement("DELETE FROM mfa_recovery_codes WHERE user_id = ?1", &id)?,
            self.statement("DELETE FROM mfa_challenges WHERE user_id = ?1", &id)?,
            self.statement("DELETE FROM passkeys WHERE user_id = ?1", &id)?,
            self.statement("DELETE FROM users WHERE id = ?1", &id)?,
        ];
        let results = self.batch("account deletion", statements).await?;
        rows("account deletion", &results[0])
    }

    async fn verify_email(&self, user_id: i64, event: &NewEvent<'_>) -> Result<bool, StoreError> {
        let mut statements = vec![self.statement(
            "UPDATE users SET email_verified = 1 WHERE id = ?1 AND email_verified = 0 RETURNING id",
            &[int(user_id)],
        )?];
        statements.extend(self.event_statements(event, None)?);
        // The event is recorded only with the change: checked before the batch runs it.
        let results = self
            .batch("e-mail verification", statements[..1].to_vec())
            .await?;
        let verified = !rows::<AnyRow>("e-mail verification", &results[0])?.is_empty();
        if verified {
            self.batch("e-mail verification", statements[1..].to_vec())
                .await?;
        }
        Ok(verified)
    }

    async fn sessions_of(&self, user_id: i64, now: i64) -> Result<Vec<SessionRow>, StoreError> {
        let statement = self.statement(
            "SELECT s.id, s.created_at, s.refreshed_at, t.expires_at, s.user_agent, s.ip, s.country \
             FROM refresh_tokens t JOIN sessions s ON s.id = t.family \
             WHERE t.user_id = ?1 AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > ?2 \
             ORDER BY s.created_at DESC, s.seq DESC, s.id DESC",
            &[int(user_id), int(now)],
        )?;
        self.query("session list", statement).await
    }

    async fn revoke_sessions(
        &self,
        user_id: i64,
        which: Sessions<'_>,
        now: i64,
        client: &Client,
    ) -> Result<Vec<RevokedToken>, StoreError> {
        let (operator, id) = match which {
            Sessions::One(id) => ("=", id),
            Sessions::AllBut(id) => ("!=", id),
        };
        let statement = self.statement(
            &format!(
                "UPDATE refresh_tokens SET revoked_at = ?3 \
                 WHERE user_id = ?1 AND revoked_at IS NULL AND family IN ( \
                 SELECT family FROM refresh_tokens WHERE user_id = ?1 AND family {operator} ?2 \
                 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?3) \
                 RETURNING family, jti, expires_at, used_at"
            ),
            &[int(user_id), text(id), int(now)],
        )?;
        let revoked: Vec<RevokedInFamily> = self.query("session revocation", statement).await?;
        let mut families: Vec<&str> = revoked.iter().map(|r| r.family.as_str()).collect();
        families.sort_unstable();
        families.dedup();
        let event = NewEvent {
            user_id,
            event: Event::SessionRevoked,
            at: now,
            client,
        };
        let mut statements = Vec::new();
        for _ in &families {
            statements.extend(self.event_statements(&event, None)?);
        }
        if !statements.is_empty() {
            self.batch("session revocation", statements).await?;
        }
        Ok(revoked
            .into_iter()
            .map(|r| RevokedToken {
                jti: r.jti,
                expires_at: r.expires_at,
                used_at: r.used_at,
            })
            .collect())
    }

    async fn liveness(
        &self,
        user_id: i64,
        sid: Option<&str>,
        jti: Option<&str>,
        now: i64,
    ) -> Result<Liveness, StoreError> {
        let optional = |value: Option<&str>| value.map_or(JsValue::NULL, text);
        let statement = self.statement(
            &format!(
                "SELECT *, \
                 (?2 IS NULL OR EXISTS (SELECT 1 FROM refresh_tokens WHERE family = ?2 AND user_id = ?1 \
                 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?4)) AS session_live, \
                 (?3 IS NULL OR EXISTS (SELECT 1 FROM refresh_tokens WHERE jti = ?3 \
                 AND used_at IS NULL AND revoked_at IS NULL)) AS token_live \
                 FROM ({USER} WHERE id = ?1)"
            ),
            &[int(user_id), optional(sid), optional(jti), int(now)],
        )?;
        #[derive(Deserialize)]
        struct Row {
            #[serde(flatten)]
            user: UserRow,
            session_live: i64,
            token_live: i64,
        }
        let rows: Vec<Row> = self.query("introspection", statement).await?;
        Ok(match rows.into_iter().next() {
            None => Liveness {
                user: None,
                session_live: false,
                token_live: false,
            },
            Some(row) => Liveness {
                user: Some(User::from(row.user)),
                session_live: row.session_live != 0,
                token_live: row.token_live != 0,
            },
        })
    }

    async fn record_event(&self, event: &NewEvent<'_>) -> Result<(), StoreError> {
        let statements = self.event_statements(event, None)?;
        self.batch("security event", statements).await?;
        Ok(())
    }

    async fn events_of(&self, user_id: i64, limit: i64) -> Result<Vec<EventRow>, StoreError> {
        let statement = self.statement(
            "SELECT event, at, ip, country, user_agent FROM security_events \
             WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2",
            &[int(user_id), int(limit)],
        )?;
        self.query("security events", statement).await
    }

    async fn take_quota(
        &self,
        buckets: &[(&str, i64)],
        window: i64,
        now: i64,
    ) -> Result<Quota, StoreError> {
        // One bucket stands twice when there is no client bucket.
        let (first, second) = match buckets {
            [] => return Ok(Quota::Taken),
            [one] => (*one, *one),
            [one, two, ..] => (*one, *two),
        };
        let mut statements = Vec::new();
        for (bucket, _) in [first, second] {
            statements.push(self.statement(
                "INSERT INTO quotas (bucket, window_start, used) VALUES (?1, ?2, 0) \
                 ON CONFLICT (bucket) DO UPDATE SET \
                 used = CASE WHEN window_start + ?3 <= ?2 THEN 0 ELSE used END, \
                 window_start = CASE WHEN window_start + ?3 <= ?2 THEN ?2 ELSE window_start END",
                &[text(bucket), int(now), int(window)],
            )?);
        }
        statements.push(self.statement(
            "UPDATE quotas SET used = used + 1 WHERE bucket IN (?1, ?2) AND NOT EXISTS ( \
             SELECT 1 FROM quotas WHERE (bucket = ?1 AND used >= ?3) OR (bucket = ?2 AND used >= ?4)) \
             RETURNING bucket",
            &[
                text(first.0),
                text(second.0),
                int(first.1),
                int(second.1),
            ],
        )?);
        // Read only when the update took nothing: the start of the fullest window.
        statements.push(self.statement(
            "SELECT MAX(window_start) AS start FROM quotas \
             WHERE (bucket = ?1 AND used >= ?3) OR (bucket = ?2 AND used >= ?4)",
            &[text(first.0), text(second.0), int(first.1), int(second.1)],
        )?);
        let results = self.batch("quota", statements).await?;
        if !rows::<AnyRow>("quota", &results[2])?.is_empty() {
            return Ok(Quota::Taken);
        }
        let start = rows::<WindowStart>("quota", &results[3])?
            .first()
            .and_then(|row| row.start)
            .unwrap_or(now);
        Ok(Quota::Spent {
            retry_after: (start + window - now).max(1),
        })
    }

    async fn begin_login(
        &self,
        buckets: &Buckets,
        window: i64,
        now: i64,
        email: &str,
    ) -> Result<(Vec<Counted>, Option<User>), StoreError> {
        let upsert = |bucket: &str| {
            self.statement(
                "INSERT INTO login_failures (bucket, window_start, failures) VALUES (?1, ?2, 1) \
                 ON CONFLICT (bucket) DO UPDATE SET \
                 failures = CASE WHEN window_start + ?3 <= ?2 THEN 1 ELSE failures + 1 END, \
                 window_start = CASE WHEN window_start + ?3 <= ?2 THEN ?2 ELSE window_start END \
                 RETURNING failures, window_start",
                &[text(bucket), int(now), int(window)],
            )
        };
        let lookup = self.statement(
            &format!("{USER} WHERE email = ?1 COLLATE NOCASE"),
            &[text(email)],
        )?;
        let mut statements = buckets.keys().map(upsert).collect::<Result<Vec<_>, _>>()?;
        let counts = statements.len();
        statements.push(lookup);
        let results = self.batch("login", statements).await?;
        #[derive(Deserialize)]
        struct Row {
            failures: i64,
            window_start: i64,
        }
        let mut counted = Vec::with_capacity(counts);
        for result in &results[..counts] {
            let row: Row = rows("login throttling", result)?
                .pop()
                .ok_or_else(|| missing_row("login throttling"))?;
            counted.push(Counted {
                failures: row.failures,
                window_start: row.window_start,
            });
        }
        let user = rows::<UserRow>("login lookup", &results[counts])?
            .into_iter()
            .next()
            .map(User::from);
        Ok((counted, user))
    }

    async fn release_failures(&self, buckets: &Buckets) -> Result<(), StoreError> {
        let statements = self.release_statements(buckets)?;
        self.batch("login throttling", statements).await?;
        Ok(())
    }

    async fn record_login(
        &self,
        record: &LoginRecord<'_>,
    ) -> Result<Vec<RevokedToken>, StoreError> {
        let (user, refresh) = (record.user, record.refresh);
        let mut statements = vec![
            self.statement(
                "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) VALUES (?1, ?1, ?2, ?3)",
                &[text(&refresh.jti), int(user.id), int(refresh.exp)],
            )?,
            self.statement(
                "INSERT INTO sessions (id, user_id, created_at, user_agent, ip, country, seq) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, \
                 (SELECT COALESCE(MAX(seq), 0) + 1 FROM sessions WHERE user_id = ?2))",
                &[
                    text(&refresh.jti),
                    int(user.id),
                    int(refresh.iat),
                    text(&record.client.user_agent),
                    text(&record.client.ip),
                    text(&record.client.country),
                ],
            )?,
            // The session cap: a live family has exactly one unused, unrevoked, unexpired
            // token, the one its last refresh issued; keep the most recent ones.
            self.statement(
                "UPDATE refresh_tokens SET revoked_at = ?2 WHERE revoked_at IS NULL AND family IN ( \
                 SELECT family FROM refresh_tokens WHERE user_id = ?1 AND family != ?3 \
                 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2 \
                 ORDER BY expires_at DESC, jti LIMIT -1 OFFSET ?4) \
                 RETURNING jti, expires_at, used_at",
                &[
                    int(user.id),
                    int(refresh.iat),
                    text(&refresh.jti),
                    int(i64::from(record.max_sessions.saturating_sub(1))),
                ],
            )?,
        ];
        if let Some(buckets) = record.buckets {
            statements.extend(self.release_statements(buckets)?);
        }
        let login = NewEvent {
            user_id: user.id,
            event: Event::Login,
            at: refresh.iat,
            client: record.client,
        };
        statements.extend(self.event_statements(&login, None)?);
        if record.stamp_last_login {
            statements.push(self.statement(
                "UPDATE users SET last_login = datetime(?2, 'unixepoch') WHERE id = ?1",
                &[int(user.id), int(refresh.iat)],
            )?);
        }
        if let Some(hash) = record.rehash {
            statements.push(self.statement(
                "UPDATE users SET password = ?2 WHERE id = ?1 AND password = ?3",
                &[
                    int(user.id),
                    text(hash.as_str()),
                    text(user.password.as_str()),
                ],
            )?);
        }
        let results = self.batch("login", statements).await?;
        rows("session cap", &results[2])
    }

    async fn rotate(
        &self,
        old: Presented<'_>,
        new: &Issued,
        started_after: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let statements = vec![
            self.adopt(old)?,
            self.statement(
                "INSERT INTO sessions (id, user_id, created_at) \
                 SELECT family, user_id, ?2 FROM refresh_tokens WHERE jti = ?1 \
                 ON CONFLICT (id) DO NOTHING",
                &[text(old.jti), int(now)],
            )?,
            self.statement(
                "UPDATE refresh_tokens SET used_at = ?2, successor = ?3 \
                 WHERE jti = ?1 AND used_at IS NULL AND revoked_at IS NULL \
                 AND EXISTS (SELECT 1 FROM users WHERE id = refresh_tokens.user_id AND is_active = 1 \
                 AND tokens_valid_after <= ?5) \
                 AND (SELECT created_at FROM sessions WHERE id = refresh_tokens.family) > ?4 \
                 RETURNING jti",
                &[
                    text(old.jti),
                    int(now),
                    text(&new.jti),
                    int(started_after),
                    int(old.iat),
                ],
            )?,
            self.statement(
                "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) \
                 SELECT ?2, family, user_id, ?3 FROM refresh_tokens WHERE jti = ?1 AND successor = ?2",
                &[text(old.jti), text(&new.jti), int(new.exp)],
            )?,
            self.statement(
                "UPDATE sessions SET refreshed_at = ?3 WHERE id = \
                 (SELECT family FROM refresh_tokens WHERE jti = ?1 AND successor = ?2)",
                &[text(old.jti), text(&new.jti), int(now)],
            )?,
        ];
        let results = self.batch("rotation", statements).await?;
        let won: Vec<AnyRow> = rows("rotation", &results[2])?;
        Ok(!won.is_empty())
    }

    async fn token_state(&self, token: Presented<'_>) -> Result<TokenState, StoreError> {
        let statements = vec![
            self.adopt(token)?,
            self.statement(
                "SELECT used_at, revoked_at, family, \
                 (SELECT created_at FROM sessions WHERE id = refresh_tokens.family) AS started_at, \
                 (SELECT is_active FROM users WHERE id = refresh_tokens.user_id) AS active, \
                 (SELECT tokens_valid_after FROM users WHERE id = refresh_tokens.user_id) AS valid_after \
                 FROM refresh_tokens WHERE jti = ?1",
                &[text(token.jti)],
            )?,
        ];
        let results = self.batch("token state", statements).await?;
        // No row: the token's user does not exist, so it was not adopted.
        let Some(row) = rows::<StateRow>("token state", &results[1])?.pop() else {
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
            family: row.family,
            started_at: row.started_at,
            active: row.active.map(|active| active != 0),
            tokens_valid_after: row.valid_after.unwrap_or(0),
        })
    }

    async fn revoke_family(&self, family: &str, now: i64) -> Result<Vec<RevokedToken>, StoreError> {
        let statement = self.statement(
            "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family = ?1 AND revoked_at IS NULL \
             RETURNING jti, expires_at, used_at",
            &[text(family), int(now)],
        )?;
        self.query("family revocation", statement).await
    }

    async fn revoke_login(
        &self,
        token: Presented<'_>,
        now: i64,
    ) -> Result<(bool, Vec<RevokedToken>), StoreError> {
        let statements = vec![
            self.adopt(token)?,
            self.statement(
                "UPDATE refresh_tokens SET revoked_at = ?2 \
                 WHERE jti = ?1 AND revoked_at IS NULL AND used_at IS NULL \
                 RETURNING jti, expires_at, used_at",
                &[text(token.jti), int(now)],
            )?,
            self.statement(
                "UPDATE refresh_tokens SET revoked_at = ?2 \
                 WHERE family = (SELECT family FROM refresh_tokens WHERE jti = ?1) AND revoked_at IS NULL \
                 RETURNING jti, expires_at, used_at",
                &[text(token.jti), int(now)],
            )?,
        ];
        let results = self.batch("logout", statements).await?;
        let mut all = rows::<RevokedToken>("logout", &results[1])?;
        let was_live = !all.is_empty();
        all.extend(rows::<RevokedToken>("logout", &results[2])?);
        Ok((was_live, all))
    }

    async fn revoke_user(
        &self,
        user_id: i64,
        event: &NewEvent<'_>,
    ) -> Result<Vec<RevokedToken>, StoreError> {
        let mut statements = vec![self.statement(
            "UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL \
             RETURNING jti, expires_at, used_at",
            &[int(user_id), int(event.at)],
        )?];
        statements.extend(self.event_statements(event, None)?);
        // Pending second steps end with every login.
        statements.push(self.statement(
            "DELETE FROM mfa_challenges WHERE user_id = ?1",
            &[int(user_id)],
        )?);
        let results = self.batch("logout everywhere", statements).await?;
        rows("logout everywhere", &results[0])
    }

    async fn totp_of(&self, user_id: i64) -> Result<Option<Totp>, StoreError> {
        let statement = self.statement(
            "SELECT secret, created_at, last_used_at, last_step, \
             (SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = ?1 AND used_by = '') AS left \
             FROM mfa_totp WHERE user_id = ?1",
            &[int(user_id)],
        )?;
        #[derive(Deserialize)]
        struct Row {
            secret: String,
            created_at: i64,
            last_used_at: Option<i64>,
            last_step: i64,
            left: i64,
        }
        let rows: Vec<Row> = self.query("mfa lookup", statement).await?;
        Ok(rows.into_iter().next().map(|row| Totp {
            secret: Secret::new(row.secret),
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            last_step: row.last_step,
            recovery_codes_left: row.left,
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
        let claim = random::uuid4_hex();
        let mine = "EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = ?1 AND claim = ?2)";
        let mut statements = vec![
            self.statement(
                "INSERT INTO mfa_totp (user_id, secret, created_at, last_step, claim) \
                 SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?1) \
                 ON CONFLICT (user_id) DO NOTHING",
                &[
                    int(user_id),
                    text(secret.expose()),
                    int(now),
                    int(step),
                    text(&claim),
                ],
            )?,
            self.statement(
                &format!("DELETE FROM mfa_recovery_codes WHERE user_id = ?1 AND {mine}"),
                &[int(user_id), text(&claim)],
            )?,
            self.codes_statement(user_id, recovery_codes, Some(&claim))?,
        ];
        let only_if = "EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = ?1 AND claim = ?7)";
        statements.extend(self.event_statements(event, Some((only_if, &[text(&claim)])))?);
        statements.push(self.statement(
            &format!("SELECT 1 AS won WHERE {mine}"),
            &[int(user_id), text(&claim)],
        )?);
        let results = self.batch("mfa activation", statements).await?;
        let won: Vec<AnyRow> = rows("mfa activation", &results[results.len() - 1])?;
        Ok(!won.is_empty())
    }

    async fn disable_totp(
        &self,
        user_id: i64,
        step: i64,
        event: &NewEvent<'_>,
    ) -> Result<bool, StoreError> {
        let id = [int(user_id)];
        let only_if = "EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = ?1 AND last_step < ?7)";
        let mut statements = self.event_statements(event, Some((only_if, &[int(step)])))?;
        statements.extend([
            self.statement(
                "DELETE FROM mfa_totp WHERE user_id = ?1 AND last_step < ?2 RETURNING user_id",
                &[int(user_id), int(step)],
            )?,
            self.statement(
                "DELETE FROM mfa_recovery_codes WHERE user_id = ?1 \
                 AND NOT EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = ?1)",
                &id,
            )?,
            self.statement(
                "DELETE FROM mfa_challenges WHERE user_id = ?1 \
                 AND NOT EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = ?1)",
                &id,
            )?,
        ]);
        let results = self.batch("mfa deactivation", statements).await?;
        let won: Vec<AnyRow> = rows("mfa deactivation", &results[2])?;
        Ok(!won.is_empty())
    }

    async fn replace_recovery_codes(
        &self,
        user_id: i64,
        recovery_codes: &[String],
    ) -> Result<bool, StoreError> {
        let statements = vec![
            self.statement(
                "DELETE FROM mfa_recovery_codes WHERE user_id = ?1 \
                 AND EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = ?1)",
                &[int(user_id)],
            )?,
            self.codes_statement(user_id, recovery_codes, None)?,
        ];
        let results = self.batch("recovery codes", statements).await?;
        let inserted: Vec<AnyRow> = rows("recovery codes", &results[1])?;
        Ok(!inserted.is_empty())
    }

    async fn open_challenge(&self, challenge: &Challenge, now: i64) -> Result<(), StoreError> {
        let user_id = int(challenge.user_id);
        let kept = CHALLENGES_PER_USER as i64 - 1;
        let statements = vec![
            self.statement(
                "DELETE FROM mfa_challenges WHERE user_id = ?1 AND (expires_at <= ?2 OR digest IN \
                 (SELECT digest FROM mfa_challenges WHERE user_id = ?1 \
                 ORDER BY expires_at DESC LIMIT -1 OFFSET ?3))",
                &[user_id.clone(), int(now), int(kept)],
            )?,
            self.statement(
                "INSERT INTO mfa_challenges (digest, user_id, expires_at) VALUES (?1, ?2, ?3)",
                &[text(&challenge.digest), user_id, int(challenge.expires_at)],
            )?,
        ];
        self.batch("mfa challenge", statements).await?;
        Ok(())
    }

    async fn challenge(&self, digest: &str, now: i64) -> Result<Option<(i64, String)>, StoreError> {
        let statement = self.statement(
            "SELECT c.user_id AS user_id, u.email AS email FROM mfa_challenges c \
             JOIN users u ON u.id = c.user_id WHERE c.digest = ?1 AND c.expires_at > ?2",
            &[text(digest), int(now)],
        )?;
        #[derive(Deserialize)]
        struct Row {
            user_id: i64,
            email: String,
        }
        let rows: Vec<Row> = self.query("mfa challenge", statement).await?;
        Ok(rows.into_iter().next().map(|row| (row.user_id, row.email)))
    }

    async fn pass_challenge(
        &self,
        digest: &str,
        user_id: i64,
        proof: Proof<'_>,
        now: i64,
        used: &NewEvent<'_>,
    ) -> Result<Option<bool>, StoreError> {
        // A claim of this request marks what it wrote, so the later statements of the batch
        // run only if the proof was accepted by this batch, not by an earlier one.
        let claim = random::uuid4_hex();
        let live = "EXISTS (SELECT 1 FROM mfa_challenges WHERE digest = ?1 AND user_id = ?2 \
                    AND expires_at > ?3)";
        let (ids, proved) = (
            [text(digest), int(user_id), int(now)],
            [text(digest), int(user_id), text(&claim)],
        );
        let mut statements =
            match proof {
                Proof::Step(step) => vec![
                    self.statement(
                        &format!(
                            "UPDATE mfa_totp SET last_step = ?4, last_used_at = ?3, claim = ?5 \
                         WHERE user_id = ?2 AND last_step < ?4 AND {live}"
                        ),
                        &[
                            text(digest),
                            int(user_id),
                            int(now),
                            int(step),
                            text(&claim),
                        ],
                    )?,
                    self.statement(
                        "DELETE FROM mfa_challenges WHERE digest = ?1 AND EXISTS \
                     (SELECT 1 FROM mfa_totp WHERE user_id = ?2 AND claim = ?3) RETURNING digest",
                        &proved,
                    )?,
                ],
                Proof::RecoveryCode(code) => {
                    let spent = "EXISTS (SELECT 1 FROM mfa_recovery_codes WHERE user_id = ?1 \
                             AND used_by = ?7)";
                    let mut statements =
                        vec![
                    self.statement(
                        &format!(
                            "UPDATE mfa_recovery_codes SET used_by = ?5 WHERE user_id = ?2 \
                             AND digest = ?4 AND used_by = '' AND {live}"
                        ),
                        &[text(digest), int(user_id), int(now), text(code), text(&claim)],
                    )?,
                    self.statement(
                        "UPDATE mfa_totp SET last_used_at = ?3 WHERE user_id = ?1 AND EXISTS \
                         (SELECT 1 FROM mfa_recovery_codes WHERE user_id = ?1 AND used_by = ?2)",
                        &[int(user_id), text(&claim), int(now)],
                    )?,
                ];
                    statements.extend(self.event_statements(used, Some((spent, &[text(&claim)])))?);
                    statements.push(self.statement(
                        "DELETE FROM mfa_challenges WHERE digest = ?1 AND EXISTS \
                     (SELECT 1 FROM mfa_recovery_codes WHERE user_id = ?2 AND used_by = ?3) \
                     RETURNING digest",
                        &proved,
                    )?);
                    statements
                }
            };
        let passed_at = statements.len() - 1;
        statements.push(self.statement(&format!("SELECT 1 AS live WHERE {live}"), &ids)?);
        let results = self.batch("mfa verification", statements).await?;
        let passed: Vec<AnyRow> = rows("mfa verification", &results[passed_at])?;
        let still: Vec<AnyRow> = rows("mfa verification", &results[passed_at + 1])?;
        Ok(match (passed.is_empty(), still.is_empty()) {
            (false, _) => Some(true),
            (true, false) => Some(false),
            (true, true) => None,
        })
    }

    async fn passkeys_of(&self, user_id: i64) -> Result<Vec<PasskeyRow>, StoreError> {
        let statement = self.statement(
            "SELECT id, name, created_at, last_used_at, transports FROM passkeys \
             WHERE user_id = ?1 ORDER BY created_at DESC, id",
            &[int(user_id)],
        )?;
        #[derive(Deserialize)]
        struct Row {
            id: String,
            name: String,
            created_at: i64,
            last_used_at: Option<i64>,
            transports: String,
        }
        let rows: Vec<Row> = self.query("passkey list", statement).await?;
        Ok(rows
            .into_iter()
            .map(|row| PasskeyRow {
                id: row.id,
                name: row.name,
                created_at: row.created_at,
                last_used_at: row.last_used_at,
                transports: serde_json::from_str(&row.transports).unwrap_or_default(),
            })
            .collect())
    }

    async fn add_passkey(
        &self,
        passkey: &NewPasskeyRow<'_>,
        challenge: &Spent,
        max: usize,
        event: &NewEvent<'_>,
    ) -> Result<PasskeyAdded, StoreError> {
        let user_id = int(passkey.user_id);
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let max = int(limit);
        let transports = serde_json::to_string(passkey.transports)
            .map_err(|error| StoreError::Unavailable(format!("passkey: {error}")))?;
        // Each write is conditional on the state the first statement reads (one transaction).
        let free = "NOT EXISTS (SELECT 1 FROM passkey_challenges WHERE digest = ?7) \
                    AND NOT EXISTS (SELECT 1 FROM passkeys WHERE id = ?8) \
                    AND (SELECT COUNT(*) FROM passkeys WHERE user_id = ?1) < ?9";
        let mut statements = vec![self.statement(
            "SELECT EXISTS (SELECT 1 FROM passkey_challenges WHERE digest = ?1) AS spent, \
             EXISTS (SELECT 1 FROM passkeys WHERE id = ?2) AS duplicate, \
             (SELECT COUNT(*) FROM passkeys WHERE user_id = ?3) AS count",
            &[text(&challenge.digest), text(&passkey.id), user_id.clone()],
        )?];
        let extra = [text(&challenge.digest), text(&passkey.id), max.clone()];
        statements.extend(self.event_statements(event, Some((free, &extra)))?);
        statements.push(self.statement(
            "INSERT INTO passkeys (id, user_id, name, public_key, sign_count, transports, \
             backup_eligible, created_at) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 \
             WHERE NOT EXISTS (SELECT 1 FROM passkey_challenges WHERE digest = ?9) \
             AND NOT EXISTS (SELECT 1 FROM passkeys WHERE id = ?1) \
             AND (SELECT COUNT(*) FROM passkeys WHERE user_id = ?2) < ?10",
            &[
                text(&passkey.id),
                user_id,
                text(passkey.name),
                text(&passkey.public_key),
                int(i64::from(passkey.sign_count)),
                text(&transports),
                int(i64::from(passkey.backup_eligible)),
                int(passkey.created_at),
                text(&challenge.digest),
                max,
            ],
        )?);
        statements.push(self.statement(
            "INSERT INTO passkey_challenges (digest, expires_at) VALUES (?1, ?2) \
             ON CONFLICT (digest) DO NOTHING",
            &[text(&challenge.digest), int(challenge.expires_at)],
        )?);
        let results = self.batch("passkey registration", statements).await?;
        #[derive(Deserialize)]
        struct Before {
            spent: i64,
            duplicate: i64,
            count: i64,
        }
        let before: Vec<Before> = rows("passkey registration", &results[0])?;
        let before = before
            .into_iter()
            .next()
            .ok_or_else(|| missing_row("passkey registration"))?;
        Ok(if before.spent != 0 {
            PasskeyAdded::ChallengeSpent
        } else if before.duplicate != 0 {
            PasskeyAdded::Duplicate
        } else if before.count >= limit {
            PasskeyAdded::TooMany
        } else {
            PasskeyAdded::Added
        })
    }

    async fn passkey(&self, id: &str) -> Result<Option<StoredPasskeyRow>, StoreError> {
        let statement = self.statement(
            "SELECT user_id, public_key, sign_count, backup_eligible FROM passkeys WHERE id = ?1",
            &[text(id)],
        )?;
        #[derive(Deserialize)]
        struct Row {
            user_id: i64,
            public_key: String,
            sign_count: i64,
            backup_eligible: i64,
        }
        let rows: Vec<Row> = self.query("passkey lookup", statement).await?;
        Ok(rows.into_iter().next().map(|row| StoredPasskeyRow {
            user_id: row.user_id,
            public_key: row.public_key,
            sign_count: u32::try_from(row.sign_count).unwrap_or(u32::MAX),
            backup_eligible: row.backup_eligible != 0,
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
        let statements = vec![
            self.statement(
                "UPDATE passkeys SET sign_count = ?3, last_used_at = ?4 \
                 WHERE id = ?1 AND sign_count = ?2 \
                 AND NOT EXISTS (SELECT 1 FROM passkey_challenges WHERE digest = ?5) RETURNING id",
                &[
                    text(id),
                    int(i64::from(old_count)),
                    int(i64::from(new_count)),
                    int(now),
                    text(&challenge.digest),
                ],
            )?,
            self.statement(
                "INSERT INTO passkey_challenges (digest, expires_at) VALUES (?1, ?2) \
                 ON CONFLICT (digest) DO NOTHING",
                &[text(&challenge.digest), int(challenge.expires_at)],
            )?,
        ];
        let results = self.batch("passkey login", statements).await?;
        let used: Vec<AnyRow> = rows("passkey login", &results[0])?;
        Ok(!used.is_empty())
    }

    async fn delete_passkey(
        &self,
        user_id: i64,
        id: &str,
        event: &NewEvent<'_>,
    ) -> Result<bool, StoreError> {
        let theirs = "EXISTS (SELECT 1 FROM passkeys WHERE id = ?7 AND user_id = ?1)";
        let mut statements = self.event_statements(event, Some((theirs, &[text(id)])))?;
        statements.push(self.statement(
            "DELETE FROM passkeys WHERE id = ?1 AND user_id = ?2 RETURNING id",
            &[text(id), int(user_id)],
        )?);
        let results = self.batch("passkey deletion", statements).await?;
        let deleted: Vec<AnyRow> = rows("passkey deletion", &results[results.len() - 1])?;
        Ok(!deleted.is_empty())
    }

    async fn delete_expired(
        &self,
        cutoff: i64,
        window: i64,
        now: i64,
    ) -> Result<Cleaned, StoreError> {
        let statements = vec![
            self.statement(
                "DELETE FROM refresh_tokens WHERE expires_at < ?1",
                &[int(cutoff)],
            )?,
            self.statement(
                "DELETE FROM sessions WHERE NOT EXISTS \
                 (SELECT 1 FROM refresh_tokens WHERE family = sessions.id)",
                &[],
            )?,
            self.statement(
                "DELETE FROM login_failures WHERE window_start <= ?1",
                &[int(now - window)],
            )?,
            self.statement(
                "DELETE FROM security_events WHERE at <= ?1",
                &[int(now - events::KEPT_SECONDS)],
            )?,
            self.statement(
                "DELETE FROM quotas WHERE window_start <= ?1",
                &[int(now - recovery::QUOTA_WINDOW_SECONDS)],
            )?,
            self.statement(
                "DELETE FROM mfa_challenges WHERE expires_at <= ?1",
                &[int(now)],
            )?,
            self.statement(
                "DELETE FROM passkey_challenges WHERE expires_at <= ?1",
                &[int(now)],
            )?,
        ];
        let results = self.batch("cleanup", statements).await?;
        Ok(Cleaned {
            refresh_tokens: changes(&results[0]),
            sessions: changes(&results[1]),
            throttle_windows: changes(&results[2]),
            events: changes(&results[3]),
            quota_windows: changes(&results[4]),
            challenges: changes(&results[5]),
            passkey_challenges: changes(&results[6]),
        })
    }
}
