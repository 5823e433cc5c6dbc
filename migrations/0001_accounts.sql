-- Accounts (docs/accounts.md §2–§4): profile names, e-mail verification, the instant end of
-- every access token, what a session shows its owner, security events and mail quotas.
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

-- Mails sent per bucket and hour: "m:<kind>:<digest of the address>" and "n:<digest of the client>".
CREATE TABLE IF NOT EXISTS mail_quota (
    bucket       TEXT    PRIMARY KEY,
    window_start INTEGER NOT NULL,
    sent         INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mail_quota_window ON mail_quota (window_start);
