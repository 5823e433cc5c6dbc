-- The only schema source. Apply locally with
--   wrangler d1 execute DB --local --file=schema.sql
-- and to the deployed database with --remote. Every statement is idempotent.

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
    last_login  TEXT
);
-- One account per mailbox: stored as given, unique ASCII-case-insensitively (NOCASE folds A–Z).
CREATE UNIQUE INDEX IF NOT EXISTS users_email_nocase ON users (email COLLATE NOCASE);

-- Every refresh token issued, the source of truth for rotation and revocation (API.md §5).
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

-- Failed-login counters for throttling (API.md §6): one row per bucket and window.
CREATE TABLE IF NOT EXISTS login_failures (
    bucket       TEXT    PRIMARY KEY,      -- "account:<ip>:<email>" or "client:<ip>"
    window_start INTEGER NOT NULL,         -- epoch seconds of the window's first failure
    failures     INTEGER NOT NULL
) WITHOUT ROWID;
