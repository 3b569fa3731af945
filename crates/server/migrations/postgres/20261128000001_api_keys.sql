-- API keys: only the SHA-256 hash of a key and a short non-secret display prefix are stored.
-- All times are Unix seconds (UTC). Same schema and semantics as migrations/sqlite.
CREATE TABLE IF NOT EXISTS api_keys (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT    NOT NULL,
    prefix         TEXT    NOT NULL,
    key_hash       BYTEA   NOT NULL UNIQUE,
    quota_limit    BIGINT  NOT NULL CHECK (quota_limit >= 0),
    used           BIGINT  NOT NULL DEFAULT 0 CHECK (used >= 0),
    -- NULL: the server's default reset schedule applies.
    reset_schedule TEXT,
    -- Start and end of the current quota period; next_reset_at = 0: no period opened yet.
    period_start   BIGINT  NOT NULL DEFAULT 0,
    next_reset_at  BIGINT  NOT NULL DEFAULT 0,
    expires_at     BIGINT,
    revoked        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT  NOT NULL
);

CREATE INDEX IF NOT EXISTS api_keys_next_reset_at ON api_keys (next_reset_at);
