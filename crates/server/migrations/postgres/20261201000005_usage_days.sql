-- The same schema as SQLite's migration 3: a key's units of its latest UTC day may be held in
-- its own row. PostgreSQL's consume batch writes usage_history directly, in the statement that
-- writes the quotas, so these columns stay 0 here; readers read usage_days on both stores.
ALTER TABLE api_keys ADD COLUMN usage_day BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN usage_day_used BIGINT NOT NULL DEFAULT 0
    CHECK (usage_day_used >= 0);

CREATE VIEW usage_days (key_id, day, used) AS
    SELECT key_id, day, used FROM usage_history
    UNION ALL
    SELECT id, usage_day, usage_day_used FROM api_keys WHERE usage_day_used > 0;
