//! Quota resets driven by tokio-cron-scheduler: one job per distinct schedule (the default and
//! every key's own), each applying due resets through the store. A minutely job also picks up
//! schedules of keys created while the server runs. Correctness never depends on these jobs:
//! the consume statement checks the period itself.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use crate::store::Store;

/// The running reset scheduler.
pub struct ResetScheduler {
    scheduler: JobScheduler,
}

impl std::fmt::Debug for ResetScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResetScheduler").finish_non_exhaustive()
    }
}

/// Schedules that already have a job.
type Known = Arc<Mutex<HashSet<String>>>;

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

fn reset_job(cron: &str, store: Store) -> Result<Job, JobSchedulerError> {
    let label = cron.to_owned();
    Job::new_async(cron, move |_id, _lock| {
        let store = store.clone();
        let label = label.clone();
        Box::pin(async move {
            apply(&store, &label).await;
        })
    })
}

async fn add_schedule(scheduler: &JobScheduler, known: &Known, cron: &str, store: &Store) {
    let is_new = known
        .lock()
        .map(|mut k| k.insert(cron.to_owned()))
        .unwrap_or(false);
    if !is_new {
        return;
    }
    let added = match reset_job(cron, store.clone()) {
        Ok(job) => scheduler.add(job).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match added {
        Ok(()) => tracing::info!(schedule = cron, "reset job scheduled"),
        Err(e) => tracing::warn!(schedule = cron, error = %e, "cannot schedule resets"),
    }
}

impl ResetScheduler {
    /// Apply resets missed while the server was down, then start one job per schedule.
    pub async fn start(store: Store) -> Result<Self, JobSchedulerError> {
        apply(&store, "startup").await;
        let scheduler = JobScheduler::new().await?;
        let known: Known = Arc::new(Mutex::new(HashSet::new()));
        let default = store.schedules().default_source().to_owned();
        add_schedule(&scheduler, &known, &default, &store).await;
        for cron in store.distinct_schedules().await.unwrap_or_default() {
            add_schedule(&scheduler, &known, &cron, &store).await;
        }
        // Pick up schedules of keys created or updated while running.
        let sync = {
            let scheduler = scheduler.clone();
            let known = Arc::clone(&known);
            let store = store.clone();
            Job::new_async("30 * * * * *", move |_id, _lock| {
                let scheduler = scheduler.clone();
                let known = Arc::clone(&known);
                let store = store.clone();
                Box::pin(async move {
                    if let Ok(list) = store.distinct_schedules().await {
                        for cron in list {
                            add_schedule(&scheduler, &known, &cron, &store).await;
                        }
                    }
                    apply(&store, "sync").await;
                })
            })?
        };
        scheduler.add(sync).await?;
        scheduler.start().await?;
        Ok(ResetScheduler { scheduler })
    }

    /// Stop all jobs.
    pub async fn shutdown(mut self) {
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "scheduler shutdown failed");
        }
    }
}
