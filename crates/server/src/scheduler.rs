//! Quota resets on their cron schedules: one tokio task per distinct schedule (the default and
//! every key's own) that sleeps until the schedule's next fire time, then applies due resets
//! through the store. A task firing every minute at second 30 also picks up schedules of keys
//! created while the server runs. Correctness never depends on these tasks: the consume
//! statement checks the period itself.
//!
//! croner finds the fire times; the rest is a sleep loop per schedule. (tokio-cron-scheduler
//! did the same with a job store, UUIDs and time zone tables we never used: seven crates,
//! chrono-tz alone 8.2 s of a debug build; docs/performance.md "CI time".)

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use croner::Cron;
use tokio::task::JoinSet;

use crate::domain::schedule::parse_schedule;
use crate::locks::lock;
use crate::store::Store;

/// When the task that picks up new schedules runs.
const SYNC_SCHEDULE: &str = "30 * * * * *";

/// The running reset scheduler.
#[derive(Debug)]
pub struct ResetScheduler {
    jobs: Arc<Mutex<Jobs>>,
}

/// The schedules that have a task, and the tasks.
#[derive(Debug, Default)]
struct Jobs {
    schedules: HashSet<String>,
    tasks: JoinSet<()>,
    /// Set at shutdown: a sync task still running adds no task after it.
    stopped: bool,
}

async fn apply(store: &Store, why: &str) {
    let now = Utc::now().timestamp();
    match store.apply_due_resets(now).await {
        Ok(0) => tracing::debug!(why, "no quota resets due"),
        Ok(n) => tracing::info!(why, keys = n, "quota reset"),
        Err(e) => tracing::error!(error = %e, why, "applying quota resets failed"),
    }
    if store.policies().retention_days > 0 {
        match store.prune_history(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(why, rows = n, "usage history past its retention deleted"),
            Err(e) => tracing::error!(error = %e, why, "pruning the usage history failed"),
        }
    }
}

/// Run `fire` at each of `cron`'s fire times, until it has none left.
async fn on_schedule<F: AsyncFnMut()>(cron: Cron, mut fire: F) {
    loop {
        let Ok(next) = cron.find_next_occurrence(&Utc::now(), false) else {
            return;
        };
        // Tokio's timer is monotonic and the wall clock may be stepped: sleep until the wall
        // clock has reached the fire time, not merely for the distance measured before.
        while let Ok(left) = (next - Utc::now()).to_std() {
            if left.is_zero() {
                break;
            }
            tokio::time::sleep(left).await;
        }
        fire().await;
    }
}

/// Start a task for `cron` unless it has one (or the scheduler stopped). Each schedule is
/// parsed once, when first seen: the sync task offers every key's schedule every minute, and
/// one that cannot be used is reported once.
fn add_schedule(jobs: &Mutex<Jobs>, cron: &str, store: &Store) {
    let mut jobs = lock(jobs);
    if jobs.stopped || !jobs.schedules.insert(cron.to_owned()) {
        return;
    }
    let parsed = match parse_schedule(cron) {
        Ok(parsed) => parsed,
        Err(e) => {
            tracing::warn!(schedule = cron, error = %e, "cannot schedule resets");
            return;
        }
    };
    let (store, label) = (store.clone(), cron.to_owned());
    jobs.tasks.spawn(on_schedule(parsed, async move || {
        apply(&store, &label).await
    }));
    tracing::info!(schedule = cron, "reset job scheduled");
}

/// Tasks for every schedule a key has now.
async fn add_key_schedules(jobs: &Mutex<Jobs>, store: &Store) {
    if let Ok(list) = store.distinct_schedules().await {
        for cron in list {
            add_schedule(jobs, &cron, store);
        }
    }
}

impl ResetScheduler {
    /// Apply resets missed while the server was down, then start one task per schedule.
    pub async fn start(store: Store) -> Self {
        apply(&store, "startup").await;
        let jobs = Arc::new(Mutex::new(Jobs::default()));
        add_schedule(&jobs, store.schedules().default_source(), &store);
        add_key_schedules(&jobs, &store).await;
        // Weak: the task lives in the set it adds to; dropping the scheduler drops the set,
        // which aborts the tasks.
        let sync = {
            let (jobs, store) = (Arc::downgrade(&jobs), store.clone());
            async move || {
                if let Some(jobs) = jobs.upgrade() {
                    add_key_schedules(&jobs, &store).await;
                }
                apply(&store, "sync").await;
            }
        };
        #[allow(clippy::expect_used)] // a constant, checked by the tests
        let sync_schedule = parse_schedule(SYNC_SCHEDULE).expect("SYNC_SCHEDULE parses");
        lock(&jobs).tasks.spawn(on_schedule(sync_schedule, sync));
        ResetScheduler { jobs }
    }

    /// Stop every task.
    pub async fn shutdown(self) {
        let mut tasks = {
            let mut jobs = lock(&self.jobs);
            jobs.stopped = true;
            std::mem::take(&mut jobs.tasks)
        };
        tasks.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_sync_schedule_parses() {
        assert!(parse_schedule(SYNC_SCHEDULE).is_ok());
    }

    #[tokio::test]
    async fn fires_once_at_each_fire_time_and_never_before_it() {
        let fired = Arc::new(Mutex::new(Vec::new()));
        let every_second = parse_schedule("* * * * * *").unwrap();
        let start = Utc::now();
        let task = tokio::spawn(on_schedule(every_second, {
            let fired = Arc::clone(&fired);
            async move || fired.lock().unwrap().push(Utc::now())
        }));
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        task.abort();
        let fired = fired.lock().unwrap().clone();
        assert!((2..=3).contains(&fired.len()), "{fired:?}");
        // The first whole second after the task looked at the clock, then one per second; each
        // within the second it was due (so never before it).
        let first = fired[0].timestamp();
        assert!(
            [1, 2].contains(&(first - start.timestamp())),
            "{start} {fired:?}"
        );
        for (i, at) in (0..).zip(&fired) {
            assert_eq!(at.timestamp(), first + i, "{fired:?}");
        }
    }
}
