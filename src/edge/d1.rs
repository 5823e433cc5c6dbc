//! The [`Store`] on D1 (binding `DB`; schema in `schema.sql`): every D1 statement of the
//! service. Each trait method is one statement or one batch (D1 has no BEGIN; a batch is one
//! transaction), which is what makes the atomicity the trait states: the single use of a
//! refresh token is `UPDATE … WHERE used_at IS NULL`, and the winner is the call whose update
//! changed the row. Every statement binds its parameters; no SQL is built from input.

use std::cell::OnceCell;

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1DatabaseSession, D1PreparedStatement, D1Result, Env};

use super::env;
use crate::domain::accounts::{NewUser, User};
use crate::domain::passwords::PasswordHash;
use crate::domain::store::{
    Cleaned, LoginRecord, Presented, RevokedToken, Store, StoreError, TokenState,
};
use crate::domain::throttle::{Buckets, Counted};
use crate::domain::tokens::Issued;

/// D1, resolved from the environment on first use (a missing binding fails the first
/// operation, in the contract's order of checks, not the request).
pub struct D1Store<'a> {
    env: &'a Env,
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
struct StateRow {
    used_at: Option<i64>,
    revoked_at: Option<i64>,
    family: String,
    started_at: Option<i64>,
    active: Option<i64>,
}

#[derive(Deserialize)]
struct UserRow {
    id: i64,
    username: String,
    password: String,
    is_active: i64,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            password: PasswordHash::from_stored(row.password),
            is_active: row.is_active != 0,
        }
    }
}

fn rows<T: for<'a> Deserialize<'a>>(
    operation: &str,
    result: &D1Result,
) -> Result<Vec<T>, StoreError> {
    result.results::<T>().map_err(|e| failure(operation, e))
}

impl<'a> D1Store<'a> {
    /// The primary: writes and every read that must be exact.
    pub fn primary(env: &'a Env) -> Self {
        Self {
            env,
            replica: false,
            handle: OnceCell::new(),
        }
    }

    /// For reads that may lag by the replication delay (D1 Sessions API,
    /// `first-unconstrained`: the first query goes to the nearest replica). Falls back to the
    /// primary where sessions are not available.
    pub fn nearest_replica(env: &'a Env) -> Self {
        Self {
            env,
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
    fn adopt(&self, token: Presented<'_>) -> Result<D1PreparedStatement, StoreError> {
        self.statement(
            "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) VALUES (?1, ?1, ?2, ?3) \
             ON CONFLICT (jti) DO NOTHING",
            &[text(token.jti), int(token.user_id), int(token.exp)],
        )
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

    async fn insert_user(&self, user: &NewUser, now: i64) -> Result<(), StoreError> {
        let statement = self.statement(
            "INSERT INTO users (email, username, password, is_active, date_joined) \
             VALUES (?1, ?2, ?3, 1, datetime(?4, 'unixepoch'))",
            &[
                text(&user.email),
                text(&user.username),
                text(user.password.as_str()),
                int(now),
            ],
        )?;
        self.batch("registration", vec![statement]).await?;
        Ok(())
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let statement = self.statement(
            "SELECT id, username, password, is_active FROM users WHERE id = ?1",
            &[int(id)],
        )?;
        let rows: Vec<UserRow> = self.query("user lookup", statement).await?;
        Ok(rows.into_iter().next().map(User::from))
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
            "SELECT id, username, password, is_active FROM users WHERE email = ?1 COLLATE NOCASE",
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
                "INSERT INTO sessions (id, user_id, created_at) VALUES (?1, ?2, ?3)",
                &[text(&refresh.jti), int(user.id), int(refresh.iat)],
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
        statements.extend(self.release_statements(record.buckets)?);
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
                 AND EXISTS (SELECT 1 FROM users WHERE id = refresh_tokens.user_id AND is_active = 1) \
                 AND (SELECT created_at FROM sessions WHERE id = refresh_tokens.family) > ?4 \
                 RETURNING jti",
                &[text(old.jti), int(now), text(&new.jti), int(started_after)],
            )?,
            self.statement(
                "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) \
                 SELECT ?2, family, user_id, ?3 FROM refresh_tokens WHERE jti = ?1 AND successor = ?2",
                &[text(old.jti), text(&new.jti), int(new.exp)],
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
                 (SELECT is_active FROM users WHERE id = refresh_tokens.user_id) AS active \
                 FROM refresh_tokens WHERE jti = ?1",
                &[text(token.jti)],
            )?,
        ];
        let results = self.batch("token state", statements).await?;
        let row: StateRow = rows("token state", &results[1])?
            .pop()
            .ok_or_else(|| missing_row("token state"))?;
        Ok(TokenState {
            used_at: row.used_at,
            revoked_at: row.revoked_at,
            family: row.family,
            started_at: row.started_at,
            active: row.active.map(|active| active != 0),
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

    async fn revoke_user(&self, user_id: i64, now: i64) -> Result<Vec<RevokedToken>, StoreError> {
        let statement = self.statement(
            "UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL \
             RETURNING jti, expires_at, used_at",
            &[int(user_id), int(now)],
        )?;
        self.query("logout everywhere", statement).await
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
        ];
        let results = self.batch("cleanup", statements).await?;
        let changes = |result: &D1Result| {
            result
                .meta()
                .ok()
                .flatten()
                .and_then(|m| m.changes)
                .unwrap_or(0)
        };
        Ok(Cleaned {
            refresh_tokens: changes(&results[0]),
            sessions: changes(&results[1]),
            throttle_windows: changes(&results[2]),
        })
    }
}
