//! The storage the decisions of [`super::sessions`] and [`super::accounts`] run on, as two
//! small traits: [`Store`], the source of truth (D1 at the edge), and [`Denylist`], an
//! eventually consistent cache of revocations (KV at the edge). Each method is one storage
//! operation; its doc comment states what it does atomically, and both implementations (the
//! edge's and the in-memory one of the native tests) keep exactly that atomicity.

use super::accounts::{NewUser, User};
use super::events::{Client, EventRow, NewEvent};
use super::passkeys::Spent;
use super::passwords::PasswordHash;
use super::revocation::Revocation;
use super::secret::Secret;
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

/// The outcome of [`Store::take_quota`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    Taken,
    /// Nothing was counted; seconds until a use is free again (≥ 1).
    Spent {
        retry_after: i64,
    },
}

/// A presented refresh token, as storage needs it: rows are recorded on first sight.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub jti: &'a str,
    pub user_id: i64,
    /// 0 when the token has no `iat`: refused by any `tokens_valid_after` ever set.
    pub iat: i64,
    pub exp: i64,
}

impl<'a> Presented<'a> {
    pub fn new(claims: &'a Verified, user_id: i64) -> Self {
        Self {
            jti: &claims.jti,
            user_id,
            iat: claims.iat.unwrap_or(0),
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
    /// The user's `tokens_valid_after` (0 when the user no longer exists).
    pub tokens_valid_after: i64,
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
    /// The reservations of [`Store::begin_login`] to give back (none for the login that a
    /// registration starts).
    pub buckets: Option<&'a Buckets>,
    /// Recorded with the session and the `login` event.
    pub client: &'a Client,
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
    pub events: usize,
    pub quota_windows: usize,
    pub challenges: usize,
    pub passkey_challenges: usize,
}

/// The names a user may change (`/user/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
}

/// A new password replacing the one a decision was made on, with everything that goes with it.
#[derive(Debug)]
pub struct PasswordReplacement<'a> {
    pub user_id: i64,
    /// The hash the decision checked; nothing is written if the stored one differs.
    pub expected: &'a PasswordHash,
    pub new: &'a PasswordHash,
    /// Also the new `tokens_valid_after`.
    pub now: i64,
    pub event: NewEvent<'a>,
    /// Throttle buckets to forget (a reset clears the account's login throttle).
    pub forget: Option<&'a Buckets>,
}

/// A live session, as `/sessions/` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct SessionRow {
    pub id: String,
    pub created_at: i64,
    pub refreshed_at: Option<i64>,
    /// The live refresh token's expiry.
    pub expires_at: i64,
    pub user_agent: String,
    pub ip: String,
    pub country: String,
}

/// What introspection needs to know about a token's user, session and row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Liveness {
    /// `None`: no such user.
    pub user: Option<User>,
    /// The session has a live refresh token (true when no session was asked about).
    pub session_live: bool,
    /// The refresh token is recorded, unused and unrevoked (true when none was asked about).
    pub token_live: bool,
}

/// Which of a user's sessions to revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sessions<'a> {
    One(&'a str),
    AllBut(&'a str),
}

/// A user's TOTP authenticator (docs/accounts.md §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totp {
    /// Base32, as activated.
    pub secret: Secret,
    pub created_at: i64,
    /// The last use of a TOTP or recovery code.
    pub last_used_at: Option<i64>,
    /// The step of the last accepted code: no code of this step or before is accepted again.
    pub last_step: i64,
    pub recovery_codes_left: i64,
}

/// The login's pending second step: the digest of its ephemeral token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub digest: String,
    pub user_id: i64,
    pub expires_at: i64,
}

/// Live challenges kept per user; opening another drops the oldest.
pub const CHALLENGES_PER_USER: usize = 5;

/// What passes a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof<'a> {
    /// A TOTP code of this step: must be after the last accepted one.
    Step(i64),
    /// A recovery code's digest: must be one of the user's unused ones.
    RecoveryCode(&'a str),
}

/// A passkey as its owner sees it (`/passkeys/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRow {
    /// The credential id, base64url.
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub transports: Vec<String>,
}

/// A passkey to record.
#[derive(Debug)]
pub struct NewPasskeyRow<'a> {
    pub user_id: i64,
    /// The credential id, base64url.
    pub id: String,
    pub name: &'a str,
    /// The COSE key, base64url.
    pub public_key: String,
    pub sign_count: u32,
    pub transports: &'a [String],
    pub backup_eligible: bool,
    pub created_at: i64,
}

/// A passkey as a login checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskeyRow {
    pub user_id: i64,
    /// The COSE key, base64url.
    pub public_key: String,
    pub sign_count: u32,
    pub backup_eligible: bool,
}

/// The outcome of [`Store::add_passkey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyAdded {
    Added,
    /// The challenge was spent before (nothing written).
    ChallengeSpent,
    /// The credential id is registered already (nothing written).
    Duplicate,
    /// The user has the most passkeys allowed (nothing written).
    TooMany,
}

/// The source of truth: users, refresh tokens and throttle counters. Every decision that
/// must be exact under concurrency is one call here.
#[allow(async_fn_in_trait)] // wasm has no threads: the futures need not be `Send`.
pub trait Store {
    /// Whether a user has this e-mail, ASCII-case-insensitively.
    async fn email_taken(&self, email: &str) -> Result<bool, StoreError>;

    /// Inserts a user and returns its id. Atomic: of concurrent inserts of one e-mail (in any
    /// ASCII case) exactly one succeeds; the others get [`StoreError::Conflict`].
    async fn insert_user(&self, user: &NewUser, now: i64) -> Result<i64, StoreError>;

    /// The user with this id. May read a replica that lags writes by the replication delay.
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError>;

    /// When the user's newest session started, if they have one.
    async fn last_login_at(&self, user_id: i64) -> Result<Option<i64>, StoreError>;

    /// The user with this e-mail, ASCII-case-insensitively.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// Replaces a user's names; `false` when the user no longer exists.
    async fn update_profile(&self, user_id: i64, profile: &Profile) -> Result<bool, StoreError>;

    /// A new password, all or nothing and only if the stored hash is still `expected` (so of
    /// concurrent uses of one reset token exactly one succeeds): stores it, sets
    /// `tokens_valid_after`, revokes every live refresh token of the user, drops their pending
    /// MFA logins, records the event and forgets the buckets. `None` when nothing was written.
    async fn replace_password(
        &self,
        replacement: &PasswordReplacement<'_>,
    ) -> Result<Option<Vec<RevokedToken>>, StoreError>;

    /// Deletes a user and every row of theirs, atomically; returns their refresh tokens that
    /// were live, to publish.
    async fn delete_user(&self, user_id: i64, now: i64) -> Result<Vec<RevokedToken>, StoreError>;

    /// Marks the user's e-mail verified if it is not yet, recording the event; `false` when
    /// nothing changed (no such user, or already verified).
    async fn verify_email(&self, user_id: i64, event: &NewEvent<'_>) -> Result<bool, StoreError>;

    /// The user's live sessions (a live refresh token that expires after `now`), newest first.
    async fn sessions_of(&self, user_id: i64, now: i64) -> Result<Vec<SessionRow>, StoreError>;

    /// Revokes the live tokens of the user's sessions `which` names and records one
    /// `session_revoked` event per revoked session; returns what it revoked.
    async fn revoke_sessions(
        &self,
        user_id: i64,
        which: Sessions<'_>,
        now: i64,
        client: &Client,
    ) -> Result<Vec<RevokedToken>, StoreError>;

    /// The user, whether the session `sid` (if given) has a live refresh token, and whether
    /// the refresh token `jti` (if given) is recorded, unused and unrevoked. Reads only.
    async fn liveness(
        &self,
        user_id: i64,
        sid: Option<&str>,
        jti: Option<&str>,
        now: i64,
    ) -> Result<Liveness, StoreError>;

    /// Records an event, keeping the user's newest [`super::events::KEPT_PER_USER`].
    async fn record_event(&self, event: &NewEvent<'_>) -> Result<(), StoreError>;

    /// The user's newest events, at most `limit`.
    async fn events_of(&self, user_id: i64, limit: i64) -> Result<Vec<EventRow>, StoreError>;

    /// Takes one use from each bucket's quota (`(bucket, limit)`, at most two buckets; a
    /// bucket's window starts at its first use) if every bucket has one left; otherwise counts
    /// nothing and says when the fullest bucket's window ends. Atomic per call.
    async fn take_quota(
        &self,
        buckets: &[(&str, i64)],
        window: i64,
        now: i64,
    ) -> Result<Quota, StoreError>;

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
    /// unrevoked, its user active and not ended since its `iat` (`tokens_valid_after`), and
    /// its session started after `started_after`, records `new` in its family and stamps the
    /// session's `refreshed_at`. `true` for exactly one of any number of concurrent calls with the
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

    /// Revokes every live refresh token of a user and drops their pending MFA logins,
    /// atomically, recording the event; returns what it revoked.
    async fn revoke_user(
        &self,
        user_id: i64,
        event: &NewEvent<'_>,
    ) -> Result<Vec<RevokedToken>, StoreError>;

    /// The user's TOTP authenticator, if MFA is on.
    async fn totp_of(&self, user_id: i64) -> Result<Option<Totp>, StoreError>;

    /// Turns MFA on with `secret` (its code of `step` confirmed) and the recovery codes'
    /// digests, recording the event; `false`, writing nothing, when it is on already.
    async fn enable_totp(
        &self,
        user_id: i64,
        secret: &Secret,
        step: i64,
        recovery_codes: &[String],
        now: i64,
        event: &NewEvent<'_>,
    ) -> Result<bool, StoreError>;

    /// Turns MFA off (authenticator, recovery codes and pending challenges) if the last
    /// accepted step is before `step`, recording the event; `false` when nothing was written.
    async fn disable_totp(
        &self,
        user_id: i64,
        step: i64,
        event: &NewEvent<'_>,
    ) -> Result<bool, StoreError>;

    /// Replaces every recovery code of a user with MFA on; `false` when MFA is off.
    async fn replace_recovery_codes(
        &self,
        user_id: i64,
        recovery_codes: &[String],
    ) -> Result<bool, StoreError>;

    /// Records a challenge, dropping the user's expired ones and all but the newest
    /// [`CHALLENGES_PER_USER`].
    async fn open_challenge(&self, challenge: &Challenge, now: i64) -> Result<(), StoreError>;

    /// The user id and e-mail of a live challenge.
    async fn challenge(&self, digest: &str, now: i64) -> Result<Option<(i64, String)>, StoreError>;

    /// Spends a live challenge of `user_id` with `proof`, atomically: advances the last
    /// accepted step (and `last_used_at`) or spends the recovery code (recording `used`) and
    /// deletes the challenge, all or nothing. `Some(true)` for exactly one of any number of
    /// concurrent calls; `Some(false)` when the proof was refused, `None` when the challenge
    /// is gone or expired.
    async fn pass_challenge(
        &self,
        digest: &str,
        user_id: i64,
        proof: Proof<'_>,
        now: i64,
        used: &NewEvent<'_>,
    ) -> Result<Option<bool>, StoreError>;

    /// The user's passkeys, newest first.
    async fn passkeys_of(&self, user_id: i64) -> Result<Vec<PasskeyRow>, StoreError>;

    /// Records a passkey and spends the registration's challenge, all or nothing: nothing is
    /// written when the challenge was spent, the credential is registered already, or the
    /// user has `max` passkeys. Records the event when it was added.
    async fn add_passkey(
        &self,
        passkey: &NewPasskeyRow<'_>,
        challenge: &Spent,
        max: usize,
        event: &NewEvent<'_>,
    ) -> Result<PasskeyAdded, StoreError>;

    /// The passkey with this credential id.
    async fn passkey(&self, id: &str) -> Result<Option<StoredPasskeyRow>, StoreError>;

    /// A login with a passkey, atomically: spends the challenge, moves the counter from
    /// `old_count` to `new_count` and stamps `last_used_at`; `true` for exactly one of any
    /// number of concurrent calls, `false` (nothing written) when the challenge was spent or
    /// the counter moved meanwhile.
    async fn use_passkey(
        &self,
        id: &str,
        old_count: u32,
        new_count: u32,
        challenge: &Spent,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Deletes one of the user's passkeys, recording the event; `false` when it has none with
    /// this id.
    async fn delete_passkey(
        &self,
        user_id: i64,
        id: &str,
        event: &NewEvent<'_>,
    ) -> Result<bool, StoreError>;

    /// Deletes refresh-token rows that expired before `cutoff`, sessions left without a
    /// token, throttle and mail windows and MFA challenges that ended by `now`, and events older than
    /// [`super::events::KEPT_SECONDS`].
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

    /// Writes the entries after the answer (`waitUntil` at the edge), best effort as
    /// [`publish`](Self::publish): for what no answer of this request depends on, so that a
    /// hot route makes no round trip for it.
    fn defer(&self, entries: Vec<Entry>, now: i64);
}
