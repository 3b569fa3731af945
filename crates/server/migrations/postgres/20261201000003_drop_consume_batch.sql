-- The quota rule now runs in the server (src/domain/quota.rs) on rows locked with
-- SELECT ... FOR UPDATE, for both backends alike; the PL/pgSQL copy of it is gone.
DROP FUNCTION IF EXISTS prime_consume_batch(BYTEA[], INT[], BIGINT[], BIGINT[], BIGINT[]);
