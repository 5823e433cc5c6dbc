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
