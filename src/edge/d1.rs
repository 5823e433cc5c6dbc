//! Users and refresh tokens in D1 (binding `DB`); schema in `schema.sql`.
//!
//! Decisions that must be exact under concurrency are single statements or atomic batches
//! (D1 has no BEGIN; `batch` is one transaction): the single use of a refresh token is
//! `UPDATE … WHERE used_at IS NULL` and the winner is the one whose update changed the row.

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1DatabaseSession, D1PreparedStatement, D1Result};

use super::{failure, StoreError};
use crate::passwords::PasswordHash;
use crate::throttle::Counted;
use crate::tokens::Issued;
use crate::users::{NewUser, User};

/// A D1 handle: the primary (strongly consistent; every write and every decision that must
/// be exact) or a Sessions API session that may read from the nearest replica.
pub struct Db(Handle);

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

fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

fn int(value: i64) -> JsValue {
    // D1 binds JavaScript numbers; ids and epoch seconds are far below 2^53.
    JsValue::from_f64(value as f64)
}

/// A statement that must return a row returned none: the schema or the data is not what this
/// code expects. Logged like any storage failure.
fn missing_row(operation: &str) -> StoreError {
    worker::console_error!("storage failure during {operation}: the statement returned no row");
    StoreError::Unavailable
}

/// A refresh token's row as the refresh and logout decisions need it.
#[derive(Debug, Deserialize)]
pub struct TokenState {
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub family: String,
    /// `None`: the user no longer exists.
    pub active: Option<i64>,
}

/// A refresh token that a revocation just revoked.
#[derive(Debug, Deserialize)]
pub struct RevokedToken {
    pub jti: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
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

impl Db {
    pub fn primary(db: D1Database) -> Self {
        Self(Handle::Primary(db))
    }

    /// A handle for reads that may lag the primary by the replication delay (D1 Sessions API,
    /// `first-unconstrained`: the first query goes to the nearest replica). Falls back to the
    /// primary where sessions are not available.
    pub fn nearest_replica(db: D1Database) -> Self {
        match db.with_session(Some("first-unconstrained")) {
            Ok(session) => Self(Handle::Replica(session)),
            Err(_) => Self::primary(db),
        }
    }

    fn statement(&self, sql: &str, params: &[JsValue]) -> Result<D1PreparedStatement, StoreError> {
        self.0
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
        let mut attempt = 0;
        loop {
            match self.0.batch(statements.clone()).await {
                Err(error) if attempt < 3 && error.to_string().contains("SQLITE_BUSY") => {
                    attempt += 1;
                    worker::Delay::from(std::time::Duration::from_millis(25 * attempt)).await;
                }
                result => return result.map_err(|e| failure(operation, e)),
            }
        }
    }

    /// The rows of one statement.
    async fn query<T: for<'a> Deserialize<'a>>(
        &self,
        operation: &str,
        statement: D1PreparedStatement,
    ) -> Result<Vec<T>, StoreError> {
        let results = self.batch(operation, vec![statement]).await?;
        Self::rows(operation, &results[0])
    }

    fn rows<T: for<'a> Deserialize<'a>>(
        operation: &str,
        result: &D1Result,
    ) -> Result<Vec<T>, StoreError> {
        result.results::<T>().map_err(|e| failure(operation, e))
    }

    pub async fn email_taken(&self, email: &str) -> Result<bool, StoreError> {
        let statement = self.statement(
            "SELECT 1 AS taken FROM users WHERE email = ?1 COLLATE NOCASE",
            &[text(email)],
        )?;
        let rows: Vec<serde_json::Value> = self.query("e-mail lookup", statement).await?;
        Ok(!rows.is_empty())
    }

    /// Inserts a user; [`StoreError::Conflict`] when the e-mail is taken in any letter case.
    pub async fn insert_user(&self, user: &NewUser, now: i64) -> Result<(), StoreError> {
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

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let statement = self.statement(
            "SELECT id, username, password, is_active FROM users WHERE id = ?1",
            &[int(id)],
        )?;
        let rows: Vec<UserRow> = self.query("user lookup", statement).await?;
        Ok(rows.into_iter().next().map(User::from))
    }

    /// The second round trip of a successful login, one transaction: records the refresh
    /// token as the first of a new family, gives back the throttle reservation, stamps
    /// `last_login` when asked to, and stores `rehash` (the password hashed with the current
    /// iteration count) unless the stored hash changed meanwhile.
    pub async fn record_login(
        &self,
        user: &User,
        refresh: &Issued,
        buckets: &[String; 2],
        stamp_last_login: bool,
        rehash: Option<&PasswordHash>,
    ) -> Result<(), StoreError> {
        let mut statements = vec![self.statement(
            "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) VALUES (?1, ?1, ?2, ?3)",
            &[text(&refresh.jti), int(user.id), int(refresh.exp)],
        )?];
        statements.extend(self.release_statements(buckets)?);
        if stamp_last_login {
            statements.push(self.statement(
                "UPDATE users SET last_login = datetime(?2, 'unixepoch') WHERE id = ?1",
                &[int(user.id), int(refresh.iat)],
            )?);
        }
        if let Some(hash) = rehash {
            statements.push(self.statement(
                "UPDATE users SET password = ?2 WHERE id = ?1 AND password = ?3",
                &[
                    int(user.id),
                    text(hash.as_str()),
                    text(user.password.as_str()),
                ],
            )?);
        }
        self.batch("login", statements).await?;
        Ok(())
    }

    /// A statement that records a valid refresh token this database has no row for (issued
    /// before its row could be written, or by another deployment sharing the keys) as the
    /// first of its own family, so that every later decision has a row to work on.
    fn adopt(&self, jti: &str, user_id: i64, exp: i64) -> Result<D1PreparedStatement, StoreError> {
        self.statement(
            "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) VALUES (?1, ?1, ?2, ?3) \
             ON CONFLICT (jti) DO NOTHING",
            &[text(jti), int(user_id), int(exp)],
        )
    }

    /// Rotation (API.md §5), atomically: marks `old` used, provided it is unused, unrevoked
    /// and its user active, and records `new` in its family. `true` when this call won;
    /// `false` when nothing was written (see [`Db::token_state`] for why).
    pub async fn rotate(
        &self,
        old_jti: &str,
        old_exp: i64,
        user_id: i64,
        new: &Issued,
        now: i64,
    ) -> Result<bool, StoreError> {
        let statements = vec![
            self.adopt(old_jti, user_id, old_exp)?,
            self.statement(
                "UPDATE refresh_tokens SET used_at = ?2, successor = ?3 \
                 WHERE jti = ?1 AND used_at IS NULL AND revoked_at IS NULL \
                 AND EXISTS (SELECT 1 FROM users WHERE id = refresh_tokens.user_id AND is_active = 1) \
                 RETURNING jti",
                &[text(old_jti), int(now), text(&new.jti)],
            )?,
            self.statement(
                "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) \
                 SELECT ?2, family, user_id, ?3 FROM refresh_tokens WHERE jti = ?1 AND successor = ?2",
                &[text(old_jti), text(&new.jti), int(new.exp)],
            )?,
        ];
        let results = self.batch("rotation", statements).await?;
        let won: Vec<serde_json::Value> = Self::rows("rotation", &results[1])?;
        Ok(!won.is_empty())
    }

    /// The state of a refresh token (recording it first if it has no row).
    pub async fn token_state(
        &self,
        jti: &str,
        user_id: i64,
        exp: i64,
    ) -> Result<TokenState, StoreError> {
        let statements = vec![
            self.adopt(jti, user_id, exp)?,
            self.statement(
                "SELECT used_at, revoked_at, family, \
                 (SELECT is_active FROM users WHERE id = refresh_tokens.user_id) AS active \
                 FROM refresh_tokens WHERE jti = ?1",
                &[text(jti)],
            )?,
        ];
        let results = self.batch("token state", statements).await?;
        let mut rows: Vec<TokenState> = Self::rows("token state", &results[1])?;
        rows.pop().ok_or_else(|| missing_row("token state"))
    }

    /// Revokes every live token of a family (reuse after the grace window).
    pub async fn revoke_family(
        &self,
        family: &str,
        now: i64,
    ) -> Result<Vec<RevokedToken>, StoreError> {
        let statement = self.statement(
            "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family = ?1 AND revoked_at IS NULL \
             RETURNING jti, expires_at, used_at",
            &[text(family), int(now)],
        )?;
        self.query("family revocation", statement).await
    }

    /// Logout of one login (API.md §4.5), atomically: revokes the token and its family.
    /// Returns whether the token itself was still live, and everything revoked.
    pub async fn blacklist(
        &self,
        jti: &str,
        user_id: i64,
        exp: i64,
        now: i64,
    ) -> Result<(bool, Vec<RevokedToken>), StoreError> {
        let statements = vec![
            self.adopt(jti, user_id, exp)?,
            self.statement(
                "UPDATE refresh_tokens SET revoked_at = ?2 \
                 WHERE jti = ?1 AND revoked_at IS NULL AND used_at IS NULL \
                 RETURNING jti, expires_at, used_at",
                &[text(jti), int(now)],
            )?,
            self.statement(
                "UPDATE refresh_tokens SET revoked_at = ?2 \
                 WHERE family = (SELECT family FROM refresh_tokens WHERE jti = ?1) AND revoked_at IS NULL \
                 RETURNING jti, expires_at, used_at",
                &[text(jti), int(now)],
            )?,
        ];
        let results = self.batch("logout", statements).await?;
        let mut revoked: Vec<RevokedToken> = Self::rows("logout", &results[1])?;
        let was_live = !revoked.is_empty();
        revoked.extend(Self::rows::<RevokedToken>("logout", &results[2])?);
        Ok((was_live, revoked))
    }

    /// Logout everywhere (API.md §4.6): one statement revokes every token of the user.
    pub async fn revoke_user(
        &self,
        user_id: i64,
        now: i64,
    ) -> Result<Vec<RevokedToken>, StoreError> {
        let statement = self.statement(
            "UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL \
             RETURNING jti, expires_at, used_at",
            &[int(user_id), int(now)],
        )?;
        self.query("logout everywhere", statement).await
    }

    /// The first round trip of a login, one batch: counts one failed login in each bucket
    /// atomically (starting a new window where the old one has ended) and looks the user up.
    /// Returns each bucket's count and window start, and the user.
    pub async fn begin_login(
        &self,
        buckets: &[String; 2],
        window: i64,
        now: i64,
        email: &str,
    ) -> Result<([Counted; 2], Option<User>), StoreError> {
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
        let results = self
            .batch(
                "login",
                vec![upsert(&buckets[0])?, upsert(&buckets[1])?, lookup],
            )
            .await?;
        #[derive(Deserialize)]
        struct Row {
            failures: i64,
            window_start: i64,
        }
        let mut counted = [Counted {
            failures: 0,
            window_start: now,
        }; 2];
        for (slot, result) in counted.iter_mut().zip(&results[..2]) {
            let row: Row = Self::rows("login throttling", result)?
                .pop()
                .ok_or_else(|| missing_row("login throttling"))?;
            *slot = Counted {
                failures: row.failures,
                window_start: row.window_start,
            };
        }
        let user = Self::rows::<UserRow>("login lookup", &results[2])?
            .into_iter()
            .next()
            .map(User::from);
        Ok((counted, user))
    }

    /// Statements giving back the failures [`Db::begin_login`] counted (the attempt was
    /// refused or succeeded), forgetting buckets that drop to zero.
    fn release_statements(
        &self,
        buckets: &[String; 2],
    ) -> Result<Vec<D1PreparedStatement>, StoreError> {
        let params = [text(&buckets[0]), text(&buckets[1])];
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

    /// Gives back the failures [`Db::begin_login`] counted.
    pub async fn release_failures(&self, buckets: &[String; 2]) -> Result<(), StoreError> {
        let statements = self.release_statements(buckets)?;
        self.batch("login throttling", statements).await?;
        Ok(())
    }

    /// The scheduled cleanup: deletes refresh-token rows that expired before `cutoff` and
    /// throttle windows that have ended. Returns how many rows of each were deleted.
    pub async fn delete_expired(
        &self,
        cutoff: i64,
        window: i64,
        now: i64,
    ) -> Result<(usize, usize), StoreError> {
        let statements = vec![
            self.statement(
                "DELETE FROM refresh_tokens WHERE expires_at < ?1",
                &[int(cutoff)],
            )?,
            self.statement(
                "DELETE FROM login_failures WHERE window_start + ?1 <= ?2",
                &[int(window), int(now)],
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
        Ok((changes(&results[0]), changes(&results[1])))
    }
}
