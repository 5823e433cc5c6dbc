-- The whole current schema, to read: the migrations in migrations/ folded into one file (a
-- column a migration added is at the end of its table, where ALTER TABLE puts it).
-- tests/e2e/migrations.test.mjs checks that this file and the migrations make the same schema.
--
-- Databases are made and upgraded by the migrations, which wrangler records in d1_migrations:
--   wrangler d1 migrations apply DB --local    (`make dev` does it)
--   wrangler d1 migrations apply DB --remote
-- A database made from this file (`wrangler d1 execute --file=schema.sql`) records none, so
-- `migrations apply` would run them on it again and fail: make only throwaway databases with it.
-- A schema change is a new migration (`wrangler d1 migrations create DB <what>`) and the same
-- change here.

-- Users, in the shape of the Django seed's user model so that Django's dumps import as they
-- are: `id` is the JWT `user_id` claim; `password` is Django's hash string.
CREATE TABLE IF NOT EXISTS users (
    -- AUTOINCREMENT: an id is never reused, so a deleted user's tokens can never name a new user.
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    email       TEXT    NOT NULL,
    username    TEXT    NOT NULL,
    password    TEXT    NOT NULL,
    is_active   INTEGER NOT NULL DEFAULT 1,
    date_joined TEXT    NOT NULL DEFAULT (datetime('now')),
    last_login  TEXT,
    first_name  TEXT    NOT NULL DEFAULT '',
    last_name   TEXT    NOT NULL DEFAULT '',
    -- Users from before verification existed, and imported ones, count as verified.
    email_verified     INTEGER NOT NULL DEFAULT 1,
    -- Epoch seconds; a token issued earlier is refused (password change, reset, deletion).
    tokens_valid_after INTEGER NOT NULL DEFAULT 0
);
-- One account per mailbox: stored as given, unique ASCII-case-insensitively (NOCASE folds A–Z).
CREATE UNIQUE INDEX IF NOT EXISTS users_email_nocase ON users (email COLLATE NOCASE);

-- Every refresh token issued, the source of truth for rotation and revocation (docs/contract.md §5).
-- A family is one login: the first token's jti, inherited by every rotated successor.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    jti        TEXT    PRIMARY KEY,
    family     TEXT    NOT NULL,
    user_id    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,           -- epoch seconds, the token's exp
    used_at    INTEGER,                    -- set once, atomically, when rotated
    successor  TEXT,                       -- jti of the token that rotation issued
    revoked_at INTEGER                     -- logout, family revocation or logout-everywhere
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX IF NOT EXISTS refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_expiry ON refresh_tokens (expires_at);

-- Logins (sessions): one row per family, for its absolute lifetime
-- (REFRESH_FAMILY_MAX_AGE_SECONDS). A family from before this table existed gets its row at its
-- next rotation; the hourly cleanup deletes a row once its family has no token left.
CREATE TABLE IF NOT EXISTS sessions (
    id         TEXT    PRIMARY KEY,        -- the family: its first refresh token's jti
    user_id    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,           -- epoch seconds of the login
    refreshed_at INTEGER,
    user_agent TEXT    NOT NULL DEFAULT '',
    ip         TEXT    NOT NULL DEFAULT '',
    country    TEXT    NOT NULL DEFAULT '',
    -- The order of the user's logins, which created_at cannot tell within one second.
    seq        INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);
CREATE INDEX IF NOT EXISTS sessions_user_seq ON sessions (user_id, seq);

-- Failed-login counters for throttling (docs/contract.md §6): one row per bucket and window.
CREATE TABLE IF NOT EXISTS login_failures (
    bucket       TEXT    PRIMARY KEY,      -- "a:<digest>" (account) or "c:<digest>" (client), 45 chars
    window_start INTEGER NOT NULL,         -- epoch seconds of the window's first failure
    failures     INTEGER NOT NULL
) WITHOUT ROWID;
-- The hourly cleanup deletes ended windows by their start.
CREATE INDEX IF NOT EXISTS login_failures_window ON login_failures (window_start);

-- The last security events of each user (at most 1 000, kept 90 days).
CREATE TABLE IF NOT EXISTS security_events (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    event      TEXT    NOT NULL,
    at         INTEGER NOT NULL,           -- epoch seconds
    ip         TEXT    NOT NULL DEFAULT '',
    country    TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS security_events_user ON security_events (user_id, id);
CREATE INDEX IF NOT EXISTS security_events_at ON security_events (at);

-- Hourly quotas, counted per bucket: mails ("m:<kind>:<digest of the address>" and
-- "n:<digest of the client>") and registrations ("r:<digest of the client>").
CREATE TABLE IF NOT EXISTS quotas (
    bucket       TEXT    PRIMARY KEY,
    window_start INTEGER NOT NULL,
    used         INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS quotas_window ON quotas (window_start);

-- The second factor (docs/accounts.md §5): a TOTP authenticator per user, its recovery codes
-- (only keyed digests), and the pending second steps of logins (only token digests).
CREATE TABLE IF NOT EXISTS mfa_totp (
    user_id      INTEGER PRIMARY KEY,
    secret       TEXT    NOT NULL,         -- base32
    created_at   INTEGER NOT NULL,         -- epoch seconds
    last_used_at INTEGER,
    -- The step of the last accepted code: no code of it or before is accepted again.
    last_step    INTEGER NOT NULL,
    -- The request that last advanced last_step, so its batch can tell that it did.
    claim        TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS mfa_recovery_codes (
    user_id INTEGER NOT NULL,
    digest  TEXT    NOT NULL,              -- HMAC-SHA-256 under SECRET_KEY, hex
    -- The request that spent it ('' while unused).
    used_by TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, digest)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS mfa_challenges (
    digest     TEXT    PRIMARY KEY,        -- SHA-256 of the ephemeral token, hex
    user_id    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mfa_challenges_user ON mfa_challenges (user_id, expires_at);
CREATE INDEX IF NOT EXISTS mfa_challenges_expiry ON mfa_challenges (expires_at);

-- Passkeys (docs/accounts.md §6): each user's WebAuthn credentials, and the challenges spent
-- by successful ceremonies (a challenge proves its own issue, so beginning stores nothing).
CREATE TABLE IF NOT EXISTS passkeys (
    id             TEXT    PRIMARY KEY,    -- the credential id, base64url
    user_id        INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    public_key     TEXT    NOT NULL,       -- the COSE key, base64url
    sign_count     INTEGER NOT NULL,
    transports     TEXT    NOT NULL DEFAULT '[]',  -- JSON array
    backup_eligible INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,       -- epoch seconds
    last_used_at   INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS passkeys_user ON passkeys (user_id, created_at);

CREATE TABLE IF NOT EXISTS passkey_challenges (
    digest     TEXT    PRIMARY KEY,        -- SHA-256 of the challenge, hex
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS passkey_challenges_expiry ON passkey_challenges (expires_at);
