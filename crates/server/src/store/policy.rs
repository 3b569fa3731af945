//! Key policies' administration, written once for both backends against [`Tx`]: quota groups,
//! rotation with grace, usage history. Each function takes its transaction by value.

use super::admin::{GROUP_TERMS, Terms, rate_params, update_terms};
use super::sql::{Param, Row, Tx, stored};
use super::{DayUsage, GroupRecord, GroupUpdate, NewGroup, NewKey, Rotation, StoreError};
use crate::domain::burst::Rate;
use crate::domain::quota::KeyState;
use crate::domain::schedule::{Period, Schedules};

/// `SELECT` a group row as [`group_record`] decodes it.
macro_rules! select_groups {
    ($tail:literal) => {
        concat!(
            "SELECT g.id, g.name, g.quota_limit, g.used, g.reset_schedule, g.period_start, \
             g.next_reset_at, g.rate_count, g.rate_period_secs, g.created_at, \
             (SELECT COUNT(*) FROM api_keys k WHERE k.group_id = g.id AND NOT k.revoked) \
             FROM quota_groups g ",
            $tail
        )
    };
}

fn group_record(row: &Row) -> Result<GroupRecord, StoreError> {
    Ok(GroupRecord {
        id: row.int(0)?,
        name: row.text(1)?,
        state: KeyState {
            limit: row.unsigned(2)?,
            used: row.unsigned(3)?,
            reset_schedule: row.opt_text(4)?,
            period: Period {
                start: row.int(5)?,
                end: row.int(6)?,
            },
            expires_at: None,
            revoked: false,
        },
        rate: Rate::from_stored(row.opt_int(7)?, row.opt_int(8)?),
        created_at: row.int(9)?,
        keys: row.unsigned(10)?,
    })
}

/// Create a group; `None` when the name is taken.
pub(super) async fn create_group(
    mut tx: impl Tx,
    group: &NewGroup,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    if get(&mut tx, &group.name).await?.is_some() {
        return Ok(None);
    }
    let [count, period] = rate_params(group.rate);
    let sql = "INSERT INTO quota_groups (name, quota_limit, used, reset_schedule, period_start, \
        next_reset_at, rate_count, rate_period_secs, burst_tat_us, created_at) \
        VALUES ($1, $2, 0, $3, 0, 0, $4, $5, 0, $6) RETURNING id";
    let params = [
        Param::Text(&group.name),
        Param::Int(stored(group.limit)?),
        Param::OptText(group.reset_schedule.as_deref()),
        count,
        period,
        Param::Int(now),
    ];
    let rows = tx.run(sql, &params).await?.rows;
    let id = rows
        .first()
        .ok_or_else(|| StoreError::Corrupt("INSERT returned no id".to_owned()))?
        .int(0)?;
    tx.commit().await?;
    Ok(Some(id))
}

async fn get(tx: &mut impl Tx, name: &str) -> Result<Option<GroupRecord>, StoreError> {
    const SQL: &str = select_groups!("WHERE g.name = $1");
    let rows = tx.run(SQL, &[Param::Text(name)]).await?.rows;
    rows.first().map(group_record).transpose()
}

pub(super) async fn get_group(
    mut tx: impl Tx,
    name: &str,
) -> Result<Option<GroupRecord>, StoreError> {
    get(&mut tx, name).await
}

pub(super) async fn list_groups(mut tx: impl Tx) -> Result<Vec<GroupRecord>, StoreError> {
    const SQL: &str = select_groups!("ORDER BY g.id");
    let rows = tx.run(SQL, &[]).await?.rows;
    rows.iter().map(group_record).collect()
}

/// Change a group; `false` when there is no such group.
pub(super) async fn update_group(
    mut tx: impl Tx,
    name: &str,
    update: &GroupUpdate,
    schedules: &Schedules,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(group) = get(&mut tx, name).await? else {
        return Ok(false);
    };
    let terms = Terms {
        limit: update.limit,
        reset_schedule: &update.reset_schedule,
        rate: update.rate,
    };
    update_terms(&mut tx, &GROUP_TERMS, group.id, terms, schedules, now).await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn reset_group_usage(mut tx: impl Tx, name: &str) -> Result<bool, StoreError> {
    let sql = "UPDATE quota_groups SET used = 0 WHERE name = $1";
    let changed = tx.run(sql, &[Param::Text(name)]).await?.changed;
    tx.commit().await?;
    Ok(changed > 0)
}

/// Why key `id` cannot be rotated (it was not updated by the grace statement).
async fn not_rotatable(tx: &mut impl Tx, id: i64) -> Result<Rotation, StoreError> {
    let sql = "SELECT revoked, quota_key_id FROM api_keys WHERE id = $1";
    let rows = tx.run(sql, &[Param::Int(id)]).await?.rows;
    let Some(row) = rows.first() else {
        return Ok(Rotation::NoSuchKey);
    };
    if row.boolean(0)? {
        return Ok(Rotation::Revoked);
    }
    Ok(Rotation::AlreadyRotated(row.opt_int(1)?.unwrap_or(id)))
}

/// Copy key `old`'s terms, quota, usage and burst state to a new key with `secret`'s hash and
/// prefix; the new key's id.
const COPY_KEY: &str = "INSERT INTO api_keys (name, prefix, key_hash, quota_limit, used, \
    reset_schedule, period_start, next_reset_at, expires_at, revoked, created_at, group_id, \
    rate_count, rate_period_secs, burst_tat_us) \
    SELECT name, $2, $3, quota_limit, used, reset_schedule, period_start, next_reset_at, \
    expires_at, FALSE, $4, group_id, rate_count, rate_period_secs, burst_tat_us \
    FROM api_keys WHERE id = $1 RETURNING id";

/// Rotate key `id`: a new key (hash and prefix of `secret`) with the old one's name, group or
/// quota, limit, schedule, current usage and burst state; the old key shares that quota until
/// `grace_ends_at` and is refused from then on.
pub(super) async fn rotate(
    mut tx: impl Tx,
    id: i64,
    secret: &NewKey,
    grace_ends_at: i64,
) -> Result<Rotation, StoreError> {
    // Takes the old row's lock first (PostgreSQL: the row lock, which the hot path takes too;
    // SQLite: the write lock held since BEGIN IMMEDIATE), so the usage copied is exact.
    let sql = "UPDATE api_keys SET grace_ends_at = $2 \
        WHERE id = $1 AND NOT revoked AND quota_key_id IS NULL AND grace_ends_at IS NULL \
        RETURNING id";
    let locked = tx
        .run(sql, &[Param::Int(id), Param::Int(grace_ends_at)])
        .await?;
    if locked.rows.is_empty() {
        return not_rotatable(&mut tx, id).await;
    }
    let params = [
        Param::Int(id),
        Param::Text(&secret.prefix),
        Param::Blob(&secret.hash.0),
        Param::Int(secret.now),
    ];
    let rows = tx.run(COPY_KEY, &params).await?.rows;
    let new_id = rows
        .first()
        .ok_or_else(|| StoreError::Corrupt("INSERT returned no id".to_owned()))?
        .int(0)?;
    // The old key, and keys rotated to it before, now use the new key's quota.
    let sql = "UPDATE api_keys SET quota_key_id = $2 WHERE id = $1 OR quota_key_id = $1";
    tx.run(sql, &[Param::Int(id), Param::Int(new_id)]).await?;
    tx.commit().await?;
    Ok(Rotation::Rotated(new_id))
}

fn day_rows(rows: &[Row]) -> Result<Vec<DayUsage>, StoreError> {
    rows.iter()
        .map(|r| {
            Ok(DayUsage {
                day: r.int(0)?,
                used: r.unsigned(1)?,
            })
        })
        .collect()
}

/// Key `key_id`'s units per UTC day from `from_day` on.
pub(super) async fn key_history(
    mut tx: impl Tx,
    key_id: i64,
    from_day: i64,
) -> Result<Vec<DayUsage>, StoreError> {
    let sql = "SELECT day, CAST(SUM(used) AS BIGINT) FROM usage_days \
        WHERE key_id = $1 AND day >= $2 GROUP BY day ORDER BY day";
    let rows = tx
        .run(sql, &[Param::Int(key_id), Param::Int(from_day)])
        .await?
        .rows;
    day_rows(&rows)
}

/// The units per UTC day of group `group_id`'s keys together, from `from_day` on.
pub(super) async fn group_history(
    mut tx: impl Tx,
    group_id: i64,
    from_day: i64,
) -> Result<Vec<DayUsage>, StoreError> {
    let sql = "SELECT h.day, CAST(SUM(h.used) AS BIGINT) FROM usage_days h \
        JOIN api_keys k ON k.id = h.key_id WHERE k.group_id = $1 AND h.day >= $2 \
        GROUP BY h.day ORDER BY h.day";
    let rows = tx
        .run(sql, &[Param::Int(group_id), Param::Int(from_day)])
        .await?
        .rows;
    day_rows(&rows)
}

/// Delete history of days before `first_kept`; how many rows.
pub(super) async fn prune_history(mut tx: impl Tx, first_kept: i64) -> Result<u64, StoreError> {
    let sql = "DELETE FROM usage_history WHERE day < $1";
    let n = tx.run(sql, &[Param::Int(first_kept)]).await?.changed;
    let in_rows =
        "UPDATE api_keys SET usage_day_used = 0 WHERE usage_day < $1 AND usage_day_used > 0";
    let n = n + tx.run(in_rows, &[Param::Int(first_kept)]).await?.changed;
    tx.commit().await?;
    Ok(n)
}
