-- The batched hot path (store/postgres.rs, HotPath): one statement, so one round trip and one
-- commit (one WAL flush) for a whole batch of metered requests.
--
-- Element i asks for counts[i] units of the key hashes[i] at time nows[i]; starts[i]/ends[i]
-- are the default schedule's period containing nows[i]. Elements are processed in order, each
-- under the key's row lock (SELECT ... FOR UPDATE), with exactly the rules of the
-- single-request consume statement (CONSUME_SQL):
--   * unknown, revoked, expired or limit-0 keys get nothing;
--   * a period that has ended is reset first (keys on the default schedule only; a key on its
--     own schedule is left to the caller's compare-and-set path);
--   * at most quota_limit - used units are granted.
-- One row per element that was granted anything: o_granted units, o_used the count after them.
-- The batch commits or fails as a whole. Callers sort a batch by key hash, so concurrent
-- batches (of several instances) lock rows in the same order and cannot deadlock.
CREATE OR REPLACE FUNCTION prime_consume_batch(
    hashes BYTEA[], counts INT[], nows BIGINT[], starts BIGINT[], ends BIGINT[]
) RETURNS TABLE (
    o_idx INT, o_granted BIGINT, o_prefix TEXT, o_quota_limit BIGINT, o_used BIGINT,
    o_period_start BIGINT, o_next_reset_at BIGINT
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    i INT;
    k RECORD;
    fresh BOOLEAN;
    base BIGINT;
    n BIGINT;
BEGIN
    FOR i IN 1 .. coalesce(array_length(hashes, 1), 0) LOOP
        SELECT a.id, a.prefix, a.quota_limit, a.used, a.period_start, a.next_reset_at,
               a.reset_schedule, a.revoked, a.expires_at
          INTO k FROM api_keys AS a WHERE a.key_hash = hashes[i] FOR UPDATE;
        CONTINUE WHEN NOT FOUND;
        CONTINUE WHEN k.revoked OR k.quota_limit <= 0
            OR (k.expires_at IS NOT NULL AND k.expires_at <= nows[i]);
        fresh := k.next_reset_at <= nows[i];
        CONTINUE WHEN fresh AND k.reset_schedule IS NOT NULL;
        base := CASE WHEN fresh THEN 0 ELSE k.used END;
        n := LEAST(counts[i]::BIGINT, k.quota_limit - base);
        CONTINUE WHEN n <= 0;
        IF fresh THEN
            UPDATE api_keys SET used = n, period_start = starts[i], next_reset_at = ends[i]
             WHERE id = k.id;
            o_period_start := starts[i];
            o_next_reset_at := ends[i];
        ELSE
            UPDATE api_keys SET used = base + n WHERE id = k.id;
            o_period_start := k.period_start;
            o_next_reset_at := k.next_reset_at;
        END IF;
        o_idx := i;
        o_granted := n;
        o_prefix := k.prefix;
        o_quota_limit := k.quota_limit;
        o_used := base + n;
        RETURN NEXT;
    END LOOP;
END
$$;
