-- A key's metered units of its latest UTC day are counted in its own row, the page a consume
-- batch writes anyway, and moved into usage_history when its first unit of a later day is
-- counted: one WAL page per batch instead of two. usage_days is the history readers see.
ALTER TABLE api_keys ADD COLUMN usage_day INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN usage_day_used INTEGER NOT NULL DEFAULT 0
    CHECK (usage_day_used >= 0);

CREATE VIEW usage_days (key_id, day, used) AS
    SELECT key_id, day, used FROM usage_history
    UNION ALL
    SELECT id, usage_day, usage_day_used FROM api_keys WHERE usage_day_used > 0;
