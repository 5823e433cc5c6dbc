//! The storage the decisions of [`super::sessions`] and [`super::accounts`] run on, as two
//! small traits: [`Store`], the source of truth (D1 at the edge), and [`Denylist`], an
//! eventually consistent cache of revocations (KV at the edge). Each method is one storage
//! operation; its doc comment states what it does atomically, and both implementations (the
//! edge's and the in-memory one of the native tests) keep exactly that atomicity.

use super::accounts::{NewUser, User};
use super::passwords::PasswordHash;
use super::revocation::Revocation;
use super::throttle::{Buckets, Counted};
use super::tokens::{Issued, Verified};

/// Why a storage operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A UNIQUE constraint refused the write (a concurrent or earlier duplicate). Handled
    /// where a race is expected (registration); anywhere else it is a storage failure.
    Conflict,
    /// Storage is missing, unreachable or failing. The cause says what failed, for the log;
    /// it never holds request data.
    Unavailable(String),
}

/// A presented refresh token, as storage needs it: rows are recorded on first sight.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub jti: &'a str,
    pub user_id: i64,
    pub exp: i64,
}

impl<'a> Presented<'a> {
    pub fn new(claims: &'a Verified, user_id: i64) -> Self {
        Self {
            jti: &claims.jti,
            user_id,
            exp: claims.exp,
        }
    }
}

/// A refresh token's row as the refresh decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenState {
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub family: String,
    /// When the family's login happened; `None` for a family the store has no session for
    /// yet (one from before sessions were recorded, not rotated since).
    pub started_at: Option<i64>,
    /// `None`: the user no longer exists.
    pub active: Option<bool>,
}

/// A refresh token that a revocation just revoked (also the row that D1's `RETURNING jti,
/// expires_at, used_at` yields, hence `Deserialize`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RevokedToken {
    pub jti: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// What a successful login writes.
#[derive(Debug)]
pub struct LoginRecord<'a> {
    pub user: &'a User,
    /// The first refresh token of a new family.
    pub refresh: &'a Issued,
    /// The reservations of [`Store::begin_login`] to give back.
    pub buckets: &'a Buckets,
    pub stamp_last_login: bool,
    /// The password hashed with the current iteration count, to replace the stored hash
    /// unless that changed meanwhile.
    pub rehash: Option<&'a PasswordHash>,
    /// The user's live logins to keep, this one included; older ones are revoked.
    pub max_sessions: u32,
}

/// Rows removed by the scheduled cleanup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cleaned {
    pub refresh_tokens: usize,
    pub sessions: usize,
    pub throttle_windows: usize,
}

/// The source of truth: users, refresh tokens and throttle counters. Every decision that
/// must be exact under concurrency is one call here.
#[allow(async_fn_in_trait)] // wasm has no threads: the futures need not be `Send`.
pub trait Store {
    /// Whether a user has this e-mail, ASCII-case-insensitively.
    async fn email_taken(&self, email: &str) -> Result<bool, StoreError>;

    /// Inserts a user. Atomic: of concurrent inserts of one e-mail (in any ASCII case)
    /// exactly one succeeds; the others get [`StoreError::Conflict`].
    async fn insert_user(&self, user: &NewUser, now: i64) -> Result<(), StoreError>;

    /// The user with this id. May read a replica that lags writes by the replication delay.
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError>;

    /// Counts one failure in each bucket (starting a new window in a bucket whose window has
    /// ended) and looks the user up by e-mail. Returns the buckets' counts in the order of
    /// [`Buckets::keys`]. Atomic per bucket: concurrent calls each see a distinct count, so no
    /// two attempts can both see the last free place.
    async fn begin_login(
        &self,
        buckets: &Buckets,
        window: i64,
        now: i64,
        email: &str,
    ) -> Result<(Vec<Counted>, Option<User>), StoreError>;

    /// Gives back one failure in each bucket, forgetting a bucket that drops to zero.
    async fn release_failures(&self, buckets: &Buckets) -> Result<(), StoreError>;

    /// A successful login, all or nothing: records the refresh token as the first of a new
    /// family and the family's session (started at the token's `iat`), gives back the
    /// reservation, stamps `last_login`, stores the rehash, and revokes the user's least
    /// recently refreshed live families beyond `max_sessions` (this one never). Returns what
    /// it revoked.
    async fn record_login(&self, record: &LoginRecord<'_>)
        -> Result<Vec<RevokedToken>, StoreError>;

    /// Rotation, atomically: records `old` if it has no row (adoption) and its family's
    /// session if it has none (started now), then marks `old` used provided it is unused,
    /// unrevoked, its user active and its session started after `started_after`, and records
    /// `new` in its family. `true` for exactly one of any number of concurrent calls with the
    /// same `old`; `false` when nothing was written.
    async fn rotate(
        &self,
        old: Presented<'_>,
        new: &Issued,
        started_after: i64,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// The state of a refresh token, recording it first if it has no row (adoption).
    async fn token_state(&self, token: Presented<'_>) -> Result<TokenState, StoreError>;

    /// Revokes every live token of a family, atomically; returns what it revoked.
    async fn revoke_family(&self, family: &str, now: i64) -> Result<Vec<RevokedToken>, StoreError>;

    /// Logout of one login, atomically: records the token if it has no row, then revokes it
    /// and every live token of its family. Returns whether the token itself was live
    /// (neither used nor revoked) and everything revoked.
    async fn revoke_login(
        &self,
        token: Presented<'_>,
        now: i64,
    ) -> Result<(bool, Vec<RevokedToken>), StoreError>;

    /// Revokes every live refresh token of a user, atomically; returns what it revoked.
    async fn revoke_user(&self, user_id: i64, now: i64) -> Result<Vec<RevokedToken>, StoreError>;

    /// Deletes refresh-token rows that expired before `cutoff`, sessions left without a
    /// token, and throttle windows that ended by `now`.
    async fn delete_expired(
        &self,
        cutoff: i64,
        window: i64,
        now: i64,
    ) -> Result<Cleaned, StoreError>;
}

/// A revoked refresh token to publish to the [`Denylist`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub jti: String,
    pub exp: i64,
    pub revocation: Revocation,
}

/// The fast, eventually consistent answer to "is this jti revoked?". It only ever learns of
/// revocations the [`Store`] committed, so a hit is always a true revocation; a miss decides
/// nothing.
#[allow(async_fn_in_trait)]
pub trait Denylist {
    async fn get(&self, jti: &str) -> Result<Option<Revocation>, StoreError>;

    /// Fails when the denylist cannot be written at all (it is not configured). Revocations
    /// ask before the [`Store`] commits, so that what the store commits can be published.
    fn ready(&self) -> Result<(), StoreError>;

    /// Writes the entries, each expiring with its token. Best effort: the [`Store`] already
    /// decided, so a failure is logged by the implementation and otherwise changes nothing.
    async fn publish(&self, entries: &[Entry], now: i64);
}
