-- Accounts (docs/accounts.md §2–§4): profile names, e-mail verification, the instant end of
-- every access token, what a session shows its owner, security events and quotas.
-- Upgrades a database made by the schema of the seed without losing a row.

-- Existing (and imported) users count as verified: nothing asked them to verify.
ALTER TABLE users ADD COLUMN first_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 1;
-- Epoch seconds; a token issued earlier is refused (password change, reset, deletion).
ALTER TABLE users ADD COLUMN tokens_valid_after INTEGER NOT NULL DEFAULT 0;

ALTER TABLE sessions ADD COLUMN refreshed_at INTEGER;
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN country TEXT NOT NULL DEFAULT '';
-- The order of a user's logins, which created_at (seconds) cannot tell within one second.
ALTER TABLE sessions ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS sessions_user_seq ON sessions (user_id, seq);

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
