//! Key administration and scheduled resets, written once for both backends against [`Tx`].
//! Each function takes its transaction by value and commits it.

use super::sql::{Param, Sql, Tx, key_record, select_keys, stored};
use super::{KeyPolicy, KeyRecord, KeyUpdate, NewKey, StoreError};
use crate::domain::burst::Rate;
use crate::domain::schedule::Schedules;

/// Advisory-lock id serialising "create the first key if there is none" across instances
/// ("prime_k1" in ASCII).
const FIRST_KEY_LOCK: i64 = 0x7072_696d_655f_6b31;

const INSERT_KEY: &str = "INSERT INTO api_keys (name, prefix, key_hash, quota_limit, used, \
    reset_schedule, period_start, next_reset_at, expires_at, revoked, created_at, group_id, \
    rate_count, rate_period_secs) \
    VALUES ($1, $2, $3, $4, 0, $5, 0, 0, $6, FALSE, $7, $8, $9, $10) RETURNING id";

/// The first column of the first row (an id from `RETURNING id`, a count).
fn first_int(rows: &[super::sql::Row], what: &str) -> Result<i64, StoreError> {
    rows.first()
        .ok_or_else(|| StoreError::Corrupt(format!("{what} returned no row")))?
        .int(0)
}

/// A rate's two stored columns.
pub(super) fn rate_params(rate: Option<Rate>) -> [Param<'static>; 2] {
    [
        Param::OptInt(rate.map(|r| i64::from(r.count))),
        Param::OptInt(rate.map(|r| i64::from(r.period_secs))),
    ]
}

/// The statements that change the terms of a quota holder's row (`$1`: its id).
pub(super) struct TermStatements {
    limit: Sql,
    /// `$2` the schedule, `$3`/`$4` the period it opens, `$5` now.
    schedule: Sql,
    no_schedule: Sql,
    rate: Sql,
}

/// The [`TermStatements`] of a quota-holding table (the same columns in both).
macro_rules! term_statements {
    ($table:literal) => {
        TermStatements {
            limit: concat!("UPDATE ", $table, " SET quota_limit = $2 WHERE id = $1"),
            schedule: concat!(
                "UPDATE ",
                $table,
                " SET reset_schedule = $2, period_start = $3, \
                 next_reset_at = CASE WHEN next_reset_at <= $5 THEN next_reset_at ELSE $4 END \
                 WHERE id = $1"
            ),
            no_schedule: concat!(
                "UPDATE ",
                $table,
                " SET reset_schedule = NULL WHERE id = $1"
            ),
            rate: concat!(
                "UPDATE ",
                $table,
                " SET rate_count = $2, rate_period_secs = $3 WHERE id = $1"
            ),
        }
    };
}

/// A key's own quota.
const KEY_TERMS: TermStatements = term_statements!("api_keys");

/// A group's quota.
pub(super) const GROUP_TERMS: TermStatements = term_statements!("quota_groups");

/// New terms for a quota holder (a key or a group); `None`: unchanged.
pub(super) struct Terms<'a> {
    pub limit: Option<u64>,
    /// `Some(Some(cron))` moves the holder onto that schedule now (usage in the current period
    /// is kept), `Some(None)` returns it to the server default.
    pub reset_schedule: &'a Option<Option<String>>,
    /// `Some(Some(rate))` sets a burst limit, `Some(None)` removes it.
    pub rate: Option<Option<Rate>>,
}

/// Change the terms of holder `id` with `statements`, in `tx` (not committed).
pub(super) async fn update_terms(
    tx: &mut impl Tx,
    statements: &TermStatements,
    id: i64,
    terms: Terms<'_>,
    schedules: &Schedules,
    now: i64,
) -> Result<(), StoreError> {
    let id = Param::Int(id);
    if let Some(limit) = terms.limit {
        tx.run(statements.limit, &[id, Param::Int(stored(limit)?)])
            .await?;
    }
    match terms.reset_schedule {
        Some(Some(schedule)) => {
            let p = schedules.period_for(Some(schedule), now);
            let params = [
                id,
                Param::Text(schedule),
                Param::Int(p.start),
                Param::Int(p.end),
                Param::Int(now),
            ];
            tx.run(statements.schedule, &params).await?;
        }
        Some(None) => {
            tx.run(statements.no_schedule, &[id]).await?;
        }
        None => {}
    }
    if let Some(rate) = terms.rate {
        let [count, period] = rate_params(rate);
        tx.run(statements.rate, &[id, count, period]).await?;
    }
    Ok(())
}

async fn insert_key(
    tx: &mut impl Tx,
    key: &NewKey,
    group_id: Option<i64>,
    rate: Option<Rate>,
) -> Result<i64, StoreError> {
    let [rate_count, rate_period] = rate_params(rate);
    let rows = tx
        .run(
            INSERT_KEY,
            &[
                Param::Text(&key.name),
                Param::Text(&key.prefix),
                Param::Blob(&key.hash.0),
                Param::Int(stored(key.state.limit)?),
                Param::OptText(key.state.reset_schedule.as_deref()),
                Param::OptInt(key.state.expires_at),
                Param::Int(key.now),
                Param::OptInt(group_id),
                rate_count,
                rate_period,
            ],
        )
        .await?
        .rows;
    first_int(&rows, "INSERT")
}

pub(super) async fn create_key(mut tx: impl Tx, key: &NewKey) -> Result<i64, StoreError> {
    let id = insert_key(&mut tx, key, None, None).await?;
    tx.commit().await?;
    Ok(id)
}

/// Create a key with its policies; `None` when the group named does not exist.
pub(super) async fn create_key_with(
    mut tx: impl Tx,
    key: &NewKey,
    policy: &KeyPolicy,
) -> Result<Option<i64>, StoreError> {
    let group_id = match &policy.group {
        Some(name) => match group_id(&mut tx, name).await? {
            Some(id) => Some(id),
            None => return Ok(None),
        },
        None => None,
    };
    let id = insert_key(&mut tx, key, group_id, policy.rate).await?;
    tx.commit().await?;
    Ok(Some(id))
}

async fn group_id(tx: &mut impl Tx, name: &str) -> Result<Option<i64>, StoreError> {
    let rows = tx
        .run(
            "SELECT id FROM quota_groups WHERE name = $1",
            &[Param::Text(name)],
        )
        .await?
        .rows;
    rows.first().map(|r| r.int(0)).transpose()
}

pub(super) async fn create_first_key(
    mut tx: impl Tx,
    key: &NewKey,
) -> Result<Option<i64>, StoreError> {
    tx.lock_exclusive(FIRST_KEY_LOCK).await?;
    if count(&mut tx).await? > 0 {
        return Ok(None);
    }
    let id = insert_key(&mut tx, key, None, None).await?;
    tx.commit().await?;
    Ok(Some(id))
}

async fn count(tx: &mut impl Tx) -> Result<u64, StoreError> {
    let rows = tx.run("SELECT COUNT(*) FROM api_keys", &[]).await?.rows;
    rows.first()
        .ok_or_else(|| StoreError::Corrupt("COUNT returned no row".to_owned()))?
        .unsigned(0)
}

pub(super) async fn count_keys(mut tx: impl Tx) -> Result<u64, StoreError> {
    count(&mut tx).await
}

/// Every key selected by `sql` (made with [`select_keys`]).
async fn keys_where(
    tx: &mut impl Tx,
    sql: &'static str,
    params: &[Param<'_>],
) -> Result<Vec<KeyRecord>, StoreError> {
    let rows = tx.run(sql, params).await?.rows;
    rows.iter().map(|row| key_record(row, 0)).collect()
}

pub(super) async fn list_keys(mut tx: impl Tx) -> Result<Vec<KeyRecord>, StoreError> {
    const SQL: &str = select_keys!("ORDER BY k.id");
    keys_where(&mut tx, SQL, &[]).await
}

pub(super) async fn get_key(mut tx: impl Tx, id: i64) -> Result<Option<KeyRecord>, StoreError> {
    const SQL: &str = select_keys!("WHERE k.id = $1");
    Ok(keys_where(&mut tx, SQL, &[Param::Int(id)]).await?.pop())
}

/// Run `sql` on key `$1 = id` and commit; whether the key exists.
async fn change_key(mut tx: impl Tx, sql: &'static str, id: i64) -> Result<bool, StoreError> {
    let changed = tx.run(sql, &[Param::Int(id)]).await?.changed;
    tx.commit().await?;
    Ok(changed > 0)
}

pub(super) async fn revoke(tx: impl Tx, id: i64) -> Result<bool, StoreError> {
    change_key(tx, "UPDATE api_keys SET revoked = TRUE WHERE id = $1", id).await
}

pub(super) async fn reset_usage(tx: impl Tx, id: i64) -> Result<bool, StoreError> {
    change_key(tx, "UPDATE api_keys SET used = 0 WHERE id = $1", id).await
}

pub(super) async fn update(
    mut tx: impl Tx,
    id: i64,
    update: &KeyUpdate,
    schedules: &Schedules,
    now: i64,
) -> Result<bool, StoreError> {
    let exists = tx
        .run("SELECT id FROM api_keys WHERE id = $1", &[Param::Int(id)])
        .await?;
    if exists.rows.is_empty() {
        return Ok(false);
    }
    if let Some(name) = &update.name {
        let sql = "UPDATE api_keys SET name = $2 WHERE id = $1";
        tx.run(sql, &[Param::Int(id), Param::Text(name)]).await?;
    }
    let terms = Terms {
        limit: update.limit,
        reset_schedule: &update.reset_schedule,
        rate: update.rate,
    };
    update_terms(&mut tx, &KEY_TERMS, id, terms, schedules, now).await?;
    if let Some(expires_at) = update.expires_at {
        let sql = "UPDATE api_keys SET expires_at = $2 WHERE id = $1";
        tx.run(sql, &[Param::Int(id), Param::OptInt(expires_at)])
            .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// The statements that reset one table's due quotas: select the due rows, then
/// compare-and-set each on its old period end. Groups first, then keys, each by id: the order
/// in which the hot path locks them, so a reset and a batch cannot deadlock.
const DUE_RESETS: [(&str, &str); 2] = [
    (
        "SELECT id, reset_schedule, next_reset_at FROM quota_groups WHERE next_reset_at <= $1 \
         ORDER BY id",
        "UPDATE quota_groups SET used = 0, period_start = $3, next_reset_at = $4 \
         WHERE id = $1 AND next_reset_at = $2 AND next_reset_at <= $5",
    ),
    (
        "SELECT id, reset_schedule, next_reset_at FROM api_keys \
         WHERE next_reset_at <= $1 AND NOT revoked ORDER BY id",
        "UPDATE api_keys SET used = 0, period_start = $3, next_reset_at = $4 \
         WHERE id = $1 AND next_reset_at = $2 AND next_reset_at <= $5",
    ),
];

pub(super) async fn apply_due_resets(
    mut tx: impl Tx,
    schedules: &Schedules,
    now: i64,
) -> Result<u64, StoreError> {
    let mut reset = 0;
    for (select, update) in DUE_RESETS {
        let due = tx.run(select, &[Param::Int(now)]).await?.rows;
        for row in &due {
            let (id, schedule, old_end) = (row.int(0)?, row.opt_text(1)?, row.int(2)?);
            let p = schedules.period_for(schedule.as_deref(), now);
            // Compare-and-set on the old period end: a consume that already opened the new
            // period is never undone.
            let params = [
                Param::Int(id),
                Param::Int(old_end),
                Param::Int(p.start),
                Param::Int(p.end),
                Param::Int(now),
            ];
            reset += tx.run(update, &params).await?.changed;
        }
    }
    tx.commit().await?;
    Ok(reset)
}

pub(super) async fn distinct_schedules(mut tx: impl Tx) -> Result<Vec<String>, StoreError> {
    let rows = tx
        .run(
            "SELECT DISTINCT reset_schedule FROM api_keys \
             WHERE reset_schedule IS NOT NULL AND NOT revoked \
             UNION SELECT DISTINCT reset_schedule FROM quota_groups \
             WHERE reset_schedule IS NOT NULL",
            &[],
        )
        .await?
        .rows;
    rows.iter().map(|r| r.text(0)).collect()
}
