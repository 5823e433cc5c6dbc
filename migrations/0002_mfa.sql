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
