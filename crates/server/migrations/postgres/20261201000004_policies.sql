-- Key policies (issue 15): quota groups, burst limits (GCRA), rotation with grace, usage history.
-- Every existing key keeps its own quota, count and schedule: the new columns are NULL or 0.

-- A quota shared by several keys: limit, schedule, usage and burst state held once.
CREATE TABLE quota_groups (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    quota_limit    BIGINT  NOT NULL CHECK (quota_limit >= 0),
    used           BIGINT  NOT NULL DEFAULT 0 CHECK (used >= 0),
    reset_schedule TEXT,
    period_start   BIGINT  NOT NULL DEFAULT 0,
    next_reset_at  BIGINT  NOT NULL DEFAULT 0,
    -- Burst limit: rate_count requests per rate_period_secs (1 or 60); NULL: none of its own.
    rate_count       BIGINT,
    rate_period_secs BIGINT,
    -- GCRA theoretical arrival time, Unix microseconds.
    burst_tat_us   BIGINT  NOT NULL DEFAULT 0,
    created_at     BIGINT  NOT NULL
);

-- The group whose quota the key uses (NULL: its own).
ALTER TABLE api_keys ADD COLUMN group_id BIGINT  REFERENCES quota_groups (id);
-- After a rotation: the key whose quota (and burst) this one shares (NULL: its own).
ALTER TABLE api_keys ADD COLUMN quota_key_id BIGINT  REFERENCES api_keys (id);
ALTER TABLE api_keys ADD COLUMN rate_count BIGINT;
ALTER TABLE api_keys ADD COLUMN rate_period_secs BIGINT;
ALTER TABLE api_keys ADD COLUMN burst_tat_us BIGINT  NOT NULL DEFAULT 0;
-- After a rotation: the old key is refused from this moment (Unix seconds).
ALTER TABLE api_keys ADD COLUMN grace_ends_at BIGINT;

CREATE INDEX api_keys_group_id ON api_keys (group_id);
CREATE INDEX api_keys_quota_key_id ON api_keys (quota_key_id);
CREATE INDEX quota_groups_next_reset_at ON quota_groups (next_reset_at);

-- Metered units per key and UTC day (day = Unix seconds / 86400), written in the consume's
-- transaction.
CREATE TABLE usage_history (
    key_id BIGINT  NOT NULL REFERENCES api_keys (id),
    day    BIGINT  NOT NULL,
    used   BIGINT  NOT NULL CHECK (used >= 0),
    PRIMARY KEY (key_id, day)
);
