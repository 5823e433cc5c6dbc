-- The schema of the seed: schema.sql as it was before migrations, statement for statement.
-- Every statement is idempotent, so on a database made by that schema.sql (with
-- `wrangler d1 execute --file`) this migration changes nothing, and wrangler records it as
-- applied; the later ones then upgrade it. Never edit an applied migration: add one.

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
    created_at INTEGER NOT NULL            -- epoch seconds of the login
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);

-- Failed-login counters for throttling (docs/contract.md §6): one row per bucket and window.
CREATE TABLE IF NOT EXISTS login_failures (
    bucket       TEXT    PRIMARY KEY,      -- "a:<digest>" (account) or "c:<digest>" (client), 45 chars
    window_start INTEGER NOT NULL,         -- epoch seconds of the window's first failure
    failures     INTEGER NOT NULL
) WITHOUT ROWID;
-- The hourly cleanup deletes ended windows by their start.
CREATE INDEX IF NOT EXISTS login_failures_window ON login_failures (window_start);
