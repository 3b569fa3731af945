//! Key administration and scheduled resets, shared by both backends.
//!
//! These statements are the same text on SQLite and PostgreSQL (boolean columns are written
//! `TRUE` / `NOT revoked`, which both accept); only the pool and row types differ. A macro,
//! rather than code generic over `sqlx::Database`, keeps them readable: each backend expands it
//! inside its own `impl`, where `self.reader`, `self.writer` and the backend's `record` row
//! decoder are in scope.

/// Expands to the backend-independent methods of a store `impl`.
macro_rules! shared_store_methods {
    () => {
        /// Inserts a new key (binds: name, prefix, hash, limit, schedule, expiry, now).
        const INSERT_KEY_SQL: &str = "INSERT INTO api_keys (name, prefix, key_hash, quota_limit, \
            used, reset_schedule, period_start, next_reset_at, expires_at, revoked, created_at) \
            VALUES ($1, $2, $3, $4, 0, $5, 0, 0, $6, FALSE, $7) RETURNING id";

        pub(crate) async fn create_key(&self, key: &NewKey) -> Result<i64, StoreError> {
            let id: i64 = sqlx::query_scalar(Self::INSERT_KEY_SQL)
                .bind(&key.name)
                .bind(&key.prefix)
                .bind(&key.hash.0[..])
                .bind(key.limit)
                .bind(key.reset_schedule.as_deref())
                .bind(key.expires_at)
                .bind(key.now)
                .fetch_one(&self.writer)
                .await?;
            Ok(id)
        }

        pub(crate) async fn count_keys(&self) -> Result<i64, StoreError> {
            Ok(sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
                .fetch_one(&self.reader)
                .await?)
        }

        /// The key with this hash, whatever its state (revoked and expired included).
        pub(crate) async fn by_hash(
            &self,
            hash: &KeyHash,
        ) -> Result<Option<KeyRecord>, StoreError> {
            let row = sqlx::query(
                "SELECT id, name, prefix, quota_limit, used, reset_schedule, period_start, \
                 next_reset_at, expires_at, revoked, created_at FROM api_keys WHERE key_hash = $1",
            )
            .bind(&hash.0[..])
            .fetch_optional(&self.reader)
            .await?;
            Ok(row.as_ref().map(record).transpose()?)
        }

        /// Reset-and-consume for `key`, on its own schedule, whose period has ended: a
        /// compare-and-set on the old period end, so concurrent requests open the new period
        /// `period` exactly once. `None`: another request changed the row first.
        pub(crate) async fn consume_new_period(
            &self,
            key: &KeyRecord,
            period: &Period,
            now: i64,
        ) -> Result<Option<Consume>, StoreError> {
            let row = sqlx::query(
                "UPDATE api_keys SET used = 1, period_start = $3, next_reset_at = $4 \
                 WHERE id = $1 AND next_reset_at = $2 AND next_reset_at <= $5 AND NOT revoked \
                 AND (expires_at IS NULL OR expires_at > $5) AND quota_limit > 0 \
                 RETURNING prefix, quota_limit, used, period_start, next_reset_at",
            )
            .bind(key.id)
            .bind(key.next_reset_at)
            .bind(period.start)
            .bind(period.end)
            .bind(now)
            .fetch_optional(&self.writer)
            .await?;
            Ok(row.as_ref().map(granted).transpose()?)
        }

        pub(crate) async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
            let rows = sqlx::query(
                "SELECT id, name, prefix, quota_limit, used, reset_schedule, period_start, \
                 next_reset_at, expires_at, revoked, created_at FROM api_keys ORDER BY id",
            )
            .fetch_all(&self.reader)
            .await?;
            Ok(rows.iter().map(record).collect::<Result<_, _>>()?)
        }

        pub(crate) async fn get_key(&self, id: i64) -> Result<Option<KeyRecord>, StoreError> {
            let row = sqlx::query(
                "SELECT id, name, prefix, quota_limit, used, reset_schedule, period_start, \
                 next_reset_at, expires_at, revoked, created_at FROM api_keys WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
            Ok(row.as_ref().map(record).transpose()?)
        }

        pub(crate) async fn revoke(&self, id: i64) -> Result<bool, StoreError> {
            let r = sqlx::query("UPDATE api_keys SET revoked = TRUE WHERE id = $1")
                .bind(id)
                .execute(&self.writer)
                .await?;
            Ok(r.rows_affected() > 0)
        }

        pub(crate) async fn update(
            &self,
            id: i64,
            update: &KeyUpdate,
            schedules: &Schedules,
            now: i64,
        ) -> Result<bool, StoreError> {
            let mut tx = self.writer.begin().await?;
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM api_keys WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Ok(false);
            }
            if let Some(name) = &update.name {
                sqlx::query("UPDATE api_keys SET name = $2 WHERE id = $1")
                    .bind(id)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(limit) = update.limit {
                sqlx::query("UPDATE api_keys SET quota_limit = $2 WHERE id = $1")
                    .bind(id)
                    .bind(limit)
                    .execute(&mut *tx)
                    .await?;
            }
            match &update.reset_schedule {
                Some(Some(schedule)) => {
                    // Move the key onto its new schedule now; usage in the current period is kept.
                    let p = schedules.period_for(Some(schedule), now);
                    sqlx::query(
                        "UPDATE api_keys SET reset_schedule = $2, period_start = $3, \
                         next_reset_at = CASE WHEN next_reset_at <= $5 THEN next_reset_at ELSE $4 END \
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(schedule)
                    .bind(p.start)
                    .bind(p.end)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                Some(None) => {
                    sqlx::query("UPDATE api_keys SET reset_schedule = NULL WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                None => {}
            }
            if let Some(expires_at) = update.expires_at {
                sqlx::query("UPDATE api_keys SET expires_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(expires_at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(true)
        }

        pub(crate) async fn reset_usage(&self, id: i64) -> Result<bool, StoreError> {
            let r = sqlx::query("UPDATE api_keys SET used = 0 WHERE id = $1")
                .bind(id)
                .execute(&self.writer)
                .await?;
            Ok(r.rows_affected() > 0)
        }

        pub(crate) async fn apply_due_resets(
            &self,
            schedules: &Schedules,
            now: i64,
        ) -> Result<u64, StoreError> {
            let due = sqlx::query(
                "SELECT id, reset_schedule, next_reset_at FROM api_keys \
                 WHERE next_reset_at <= $1 AND NOT revoked",
            )
            .bind(now)
            .fetch_all(&self.reader)
            .await?;
            let mut reset = 0;
            for row in &due {
                let id: i64 = row.try_get("id")?;
                let schedule: Option<String> = row.try_get("reset_schedule")?;
                let old_end: i64 = row.try_get("next_reset_at")?;
                let p = schedules.period_for(schedule.as_deref(), now);
                // Compare-and-set on the old period end: a concurrent consume that already opened
                // the new period is never undone.
                let r = sqlx::query(
                    "UPDATE api_keys SET used = 0, period_start = $3, next_reset_at = $4 \
                     WHERE id = $1 AND next_reset_at = $2 AND next_reset_at <= $5",
                )
                .bind(id)
                .bind(old_end)
                .bind(p.start)
                .bind(p.end)
                .bind(now)
                .execute(&self.writer)
                .await?;
                reset += r.rows_affected();
            }
            Ok(reset)
        }

        pub(crate) async fn distinct_schedules(&self) -> Result<Vec<String>, StoreError> {
            Ok(sqlx::query_scalar(
                "SELECT DISTINCT reset_schedule FROM api_keys \
                 WHERE reset_schedule IS NOT NULL AND NOT revoked",
            )
            .fetch_all(&self.reader)
            .await?)
        }
    };
}
