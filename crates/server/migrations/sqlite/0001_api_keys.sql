-- API keys: only the SHA-256 hash of a key and a short non-secret display prefix are stored.
-- All times are Unix seconds (UTC).
CREATE TABLE IF NOT EXISTS api_keys (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL,
    prefix         TEXT    NOT NULL,
    key_hash       BLOB    NOT NULL UNIQUE,
    quota_limit    INTEGER NOT NULL CHECK (quota_limit >= 0),
    used           INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    -- NULL: the server's default reset schedule applies.
    reset_schedule TEXT,
    -- Start and end of the current quota period. next_reset_at = 0 means "no period yet":
    -- the first request (or the next scheduler run) opens one.
    period_start   INTEGER NOT NULL DEFAULT 0,
    next_reset_at  INTEGER NOT NULL DEFAULT 0,
    expires_at     INTEGER,
    revoked        INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    created_at     INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS api_keys_next_reset_at ON api_keys (next_reset_at);
