//! Consumes in batches: the one step both backends share ([`settle`]: the quota rule applied
//! to every request of a batch, in order, on the rows read under the write lock), and the
//! collector that gathers concurrent requests into batches for a backend that runs them on
//! its own task ([`Batcher`], PostgreSQL).
//!
//! A batch is one transaction: the rows are read under the lock, every request is checked
//! against the burst limit of what holds its quota ([`pace`]) and decided by [`decide`], the
//! changed rows and the usage history are written, and nobody is answered before the commit. A batch
//! that fails is rolled back as a whole and every request in it gets the error (nothing is
//! charged).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};

use super::{Consumed, KeyRecord, Policies, StoreError};
use crate::domain::burst::{BurstState, Rate, pace};
use crate::domain::keys::KeyHash;
use crate::domain::quota::{Decision, Demand, KeyState, Refusal, decide};
use crate::domain::schedule::{Period, Schedules};

/// One consume: the presented key's hash, what it asks for, when (Unix seconds for the
/// quota, microseconds for the burst limit), and what it does with the burst limit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConsumeJob {
    pub hash: KeyHash,
    pub demand: Demand,
    pub now: i64,
    pub now_us: i64,
    pub pacing: Pacing,
}

/// What a consume does with the burst limit: one place per HTTP request, whatever the number
/// of charges it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pacing {
    /// Take the request's place, then the units (a request's first or only charge).
    Pace,
    /// Take the request's place only (the routes that are not metered, a batch with no valid
    /// number).
    Only,
    /// The units only: the request took its place already (the later chunks of an NDJSON
    /// stream).
    Skip,
}

/// What holds a key's quota and burst state: a group, or a key (itself, or the key it was
/// rotated to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Holder {
    /// A `quota_groups` row.
    Group(i64),
    /// An `api_keys` row.
    Key(i64),
}

/// A quota as its holder's row stores it, read under the write lock for a batch.
#[derive(Debug, Clone)]
pub(crate) struct QuotaRow {
    pub limit: u64,
    pub used: u64,
    pub reset_schedule: Option<String>,
    pub period: Period,
    pub rate: Option<Rate>,
    pub tat_us: i64,
    pub changed: bool,
    /// The period as the row stores it (`period` may have moved on in the batch).
    pub stored_period: Period,
}

impl QuotaRow {
    /// Whether writing the row back must write its period too.
    pub(crate) fn period_changed(&self) -> bool {
        self.period != self.stored_period
    }
}

/// A presented key as a batch needs it.
#[derive(Debug, Clone)]
pub(crate) struct KeyEntry {
    pub id: i64,
    pub prefix: String,
    pub holder: Holder,
    /// The earlier of the expiry and the end of a rotation's grace.
    pub expires_at: Option<i64>,
    pub revoked: bool,
}

/// The rows of a batch: the presented keys by hash (`None`: no such key), the quotas they use,
/// and the history increments (`(key id, UTC day)` → units) to write with them.
#[derive(Debug, Default)]
pub(crate) struct Locked {
    pub keys: HashMap<KeyHash, Option<KeyEntry>>,
    pub holders: HashMap<Holder, QuotaRow>,
    pub history: HashMap<(i64, i64), i64>,
}

impl Locked {
    /// Add the key read for `hash` (and, if not there yet, the quota it uses).
    pub(crate) fn insert(&mut self, hash: KeyHash, key: Option<KeyRecord>) {
        let Some(k) = key else {
            self.keys.insert(hash, None);
            return;
        };
        let holder = k.holder();
        let expires_at = match (k.state.expires_at, k.grace_ends_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.holders.entry(holder).or_insert_with(|| QuotaRow {
            limit: k.state.limit,
            used: k.state.used,
            reset_schedule: k.state.reset_schedule.clone(),
            period: k.state.period,
            rate: k.rate,
            tat_us: k.burst_tat_us,
            changed: false,
            stored_period: k.state.period,
        });
        let entry = KeyEntry {
            id: k.id,
            prefix: k.prefix,
            holder,
            expires_at,
            revoked: k.state.revoked,
        };
        self.keys.insert(hash, Some(entry));
    }

    /// The changed quotas, in lock order.
    pub(crate) fn changed(&self) -> Vec<(Holder, &QuotaRow)> {
        let mut rows: Vec<_> = self
            .holders
            .iter()
            .filter(|(_, r)| r.changed)
            .map(|(h, r)| (*h, r))
            .collect();
        rows.sort_unstable_by_key(|(h, _)| *h);
        rows
    }

    /// The history increments, in `(key, day)` order (`units` may be negative: given back).
    pub(crate) fn history_rows(&self) -> Vec<(i64, i64, i64)> {
        let mut rows: Vec<_> = self
            .history
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|((k, d), n)| (*k, *d, *n))
            .collect();
        rows.sort_unstable();
        rows
    }
}

/// The UTC day of `now` (days since 1970-01-01).
pub(crate) fn day_of(now: i64) -> i64 {
    now.div_euclid(86_400)
}

/// Decide every job, in order, against the rows of `locked`, updating them in memory; the
/// backend then writes the rows marked `changed` and the history, and commits.
pub(crate) fn settle<'a>(
    jobs: impl IntoIterator<Item = &'a ConsumeJob>,
    locked: &mut Locked,
    schedules: &Schedules,
    policies: &Policies,
) -> Vec<Consumed> {
    jobs.into_iter()
        .map(|job| settle_one(job, locked, schedules, policies))
        .collect()
}

/// One job: refusal, then the burst limit, then the quota rule.
fn settle_one(
    job: &ConsumeJob,
    locked: &mut Locked,
    schedules: &Schedules,
    policies: &Policies,
) -> Consumed {
    let entry = locked.keys.get(&job.hash).and_then(Option::as_ref);
    let Some((entry, row)) = entry.and_then(|e| Some((e, locked.holders.get_mut(&e.holder)?)))
    else {
        return Consumed::new(None, Decision::Refused(Refusal::UnknownKey), None);
    };
    let state = KeyState {
        limit: row.limit,
        used: row.used,
        period: row.period,
        reset_schedule: row.reset_schedule.clone(),
        expires_at: entry.expires_at,
        revoked: entry.revoked,
    };
    let prefix = Some(entry.prefix.clone());
    let mut burst = None;
    if !matches!(job.demand, Demand::GiveBack { .. }) {
        if let Some(refusal) = state.refusal(job.now) {
            return Consumed::new(prefix, Decision::Refused(refusal), None);
        }
        let (paced, stop) = pace_job(job, row, &state, schedules, policies);
        burst = paced;
        if let Some(decision) = stop {
            return Consumed::new(prefix, decision, burst);
        }
    }
    let decision = decide(Some(&state), job.demand, job.now, schedules);
    let delta = match &decision {
        Decision::Granted { units, quota } => Some((quota, i64::try_from(*units).unwrap_or(0))),
        Decision::GivenBack { units, quota } => Some((quota, -i64::try_from(*units).unwrap_or(0))),
        _ => None,
    };
    if let Some((quota, units)) = delta {
        row.used = quota.used;
        row.period = quota.period;
        row.changed = true;
        if policies.retention_days > 0 {
            *locked
                .history
                .entry((entry.id, day_of(job.now)))
                .or_default() += units;
        }
    }
    Consumed::new(prefix, decision, burst)
}

/// The burst limit's part of a job (not a give-back): the burst state after it, and the
/// decision that ends the job there (over the limit: exhausted; `Pacing::Only`: granted with
/// no unit). The row's GCRA state moves on only for a request let through.
fn pace_job(
    job: &ConsumeJob,
    row: &mut QuotaRow,
    state: &KeyState,
    schedules: &Schedules,
    policies: &Policies,
) -> (Option<BurstState>, Option<Decision>) {
    let rate = match job.pacing {
        Pacing::Skip => None,
        Pacing::Pace | Pacing::Only => row.rate.or(policies.default_rate),
    };
    let mut burst = None;
    if let Some(rate) = rate {
        let (tat, b) = pace(rate, row.tat_us, job.now_us);
        burst = Some(b);
        if b.limited() {
            let quota = state.quota_at(job.now, schedules);
            return (burst, Some(Decision::Exhausted { quota }));
        }
        row.tat_us = tat;
        row.changed = true;
    }
    if job.pacing == Pacing::Only {
        let quota = state.quota_at(job.now, schedules);
        return (burst, Some(Decision::Granted { units: 0, quota }));
    }
    (burst, None)
}

/// The distinct hashes of `jobs`, sorted (row locks are then always taken in the same order,
/// so concurrent batches of several instances cannot deadlock).
pub(crate) fn distinct_hashes<'a>(jobs: impl IntoIterator<Item = &'a ConsumeJob>) -> Vec<KeyHash> {
    let mut hashes: Vec<KeyHash> = jobs.into_iter().map(|j| j.hash).collect();
    hashes.sort_unstable_by_key(|h| h.0);
    hashes.dedup();
    hashes
}

/// Most consumes in one batch.
pub(crate) const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<Consumed, StoreError>>;

/// Gathers the consumes that arrive while the previous batch runs and hands them to the
/// backend's `run` as one batch, on one task. A commit costs a WAL flush however many requests it
/// carries, so one flush then serves everyone who was waiting.
#[derive(Debug, Clone)]
pub(crate) struct Batcher {
    tx: mpsc::Sender<(ConsumeJob, Reply)>,
    arrived: Arc<Notify>,
}

/// Longest wait for more consumes before a batch is sent (see [`Batcher::start`]).
const LINGER: Duration = Duration::from_micros(500);

impl Batcher {
    /// Start the collecting task; `run` executes one batch and answers each job in order.
    pub(crate) fn start<R, F>(run: R) -> Batcher
    where
        R: Fn(Vec<ConsumeJob>) -> F + Send + 'static,
        F: Future<Output = Result<Vec<Consumed>, StoreError>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let arrived = Arc::new(Notify::new());
        tokio::spawn(collect(rx, Arc::clone(&arrived), run));
        Batcher { tx, arrived }
    }

    /// Queue one consume and wait for its batch to commit.
    pub(crate) async fn consume(&self, job: ConsumeJob) -> Result<Consumed, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((job, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        self.arrived.notify_one();
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

async fn collect<R, F>(mut rx: mpsc::Receiver<(ConsumeJob, Reply)>, arrived: Arc<Notify>, run: R)
where
    R: Fn(Vec<ConsumeJob>) -> F,
    F: Future<Output = Result<Vec<Consumed>, StoreError>>,
{
    let mut batch: Vec<(ConsumeJob, Reply)> = Vec::with_capacity(MAX_BATCH);
    // Requests in flight when the previous batch ended: those it answered plus those queued.
    let mut expected = 0usize;
    while let Some(first) = rx.recv().await {
        batch.push(first);
        // Linger briefly for the clients the previous batch just answered: they usually send
        // their next request within microseconds, and without this, batches alternate between
        // two halves of the clients and each request waits for two commits.
        let target = expected.min(MAX_BATCH);
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() + rx.len() < target
            && tokio::time::timeout_at(deadline, arrived.notified())
                .await
                .is_ok()
        {}
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A request whose client has gone is not charged.
        batch.retain(|(_, reply)| !reply.is_closed());
        let jobs = batch.iter().map(|(job, _)| *job).collect();
        let result = if batch.is_empty() {
            Ok(Vec::new())
        } else {
            run(jobs).await
        };
        expected = batch.len() + rx.len();
        answer(&mut batch, result);
    }
}

/// Send each waiting request its result (or the batch's error).
pub(crate) fn answer(
    batch: &mut Vec<(ConsumeJob, Reply)>,
    result: Result<Vec<Consumed>, StoreError>,
) {
    match result {
        Ok(results) => {
            for ((_, reply), consumed) in batch.drain(..).zip(results) {
                let _ = reply.send(Ok(consumed));
            }
        }
        Err(e) => {
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
