//! The store interface, one body of tests run against every backend: SQLite always, PostgreSQL
//! when `PRIME_TEST_POSTGRES_URL` is set (each test in its own fresh schema).

use std::sync::Arc;

use chrono::Utc;
use prime_server::domain::keys::{self, KeyHash};
use prime_server::domain::quota::{Decision, Demand, KeyState, QuotaState, Refusal};
use prime_server::domain::schedule::Schedules;
use prime_server::store::{
    Consumed, DatabaseUrl, KeyRecord, KeyUpdate, NewKey, PoolOptions, Store, StoreOptions,
};

use crate::common::TestEnv;

const DAY: i64 = 86_400;

/// A store under test plus what keeps it alive / cleans it up.
struct Backend {
    store: Store,
    env: TestEnv,
    pg_schema: Option<(String, String)>,
}

fn options() -> StoreOptions {
    StoreOptions {
        pool: PoolOptions::default(),
        schedules: Arc::new(Schedules::new("0 0 0 * * *").unwrap()),
        policies: prime_server::store::Policies::default(),
    }
}

async fn connect(url: &str) -> Store {
    Store::connect(&DatabaseUrl::parse(url).unwrap(), &options())
        .await
        .unwrap()
}

impl Backend {
    async fn sqlite() -> Backend {
        let env = TestEnv::new();
        Backend {
            store: connect(&env.db_url).await,
            env,
            pg_schema: None,
        }
    }

    /// `None` (after saying so) when PostgreSQL is not configured.
    async fn postgres() -> Option<Backend> {
        let base = std::env::var("PRIME_TEST_POSTGRES_URL").ok();
        let Some(base) = base else {
            eprintln!("skipped: PRIME_TEST_POSTGRES_URL is not set");
            return None;
        };
        let (env, schema) = tokio::task::spawn_blocking(move || TestEnv::postgres_at(&base))
            .await
            .unwrap();
        let base = std::env::var("PRIME_TEST_POSTGRES_URL").unwrap();
        Some(Backend {
            store: connect(&env.db_url).await,
            env,
            pg_schema: Some((base, schema)),
        })
    }

    /// A second, independent store on the same database (another "instance": own pool).
    async fn second(&self) -> Store {
        connect(&self.env.db_url).await
    }

    async fn finish(self) {
        self.store.close().await;
        if let Some((base, schema)) = self.pg_schema {
            tokio::task::spawn_blocking(move || {
                crate::common::pg_exec(&base, format!("DROP SCHEMA {schema} CASCADE"))
            })
            .await
            .unwrap();
        }
    }
}

/// Generate one test per backend from one body.
macro_rules! store_test {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let b = Backend::sqlite().await;
                $body(&b.store).await;
                b.finish().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(b) = Backend::postgres().await {
                    $body(&b.store).await;
                    b.finish().await;
                }
            }
        }
    };
}

async fn new_key(
    store: &Store,
    name: &str,
    limit: u64,
    schedule: Option<&str>,
) -> (String, KeyHash, i64) {
    let k = keys::generate().unwrap();
    let id = store
        .create_key(&NewKey {
            name: name.to_owned(),
            prefix: k.display_prefix.clone(),
            hash: k.hash,
            state: KeyState::new(limit, schedule.map(str::to_owned), None),
            now: Utc::now().timestamp(),
        })
        .await
        .unwrap();
    (k.secret, k.hash, id)
}

/// Take one unit.
async fn consume(store: &Store, hash: &KeyHash, now: i64) -> Consumed {
    store.consume(hash, Demand::Exactly(1), now).await.unwrap()
}

/// The count after a grant (panics otherwise).
fn used_after(c: &Consumed) -> u64 {
    match &c.decision {
        Decision::Granted { quota, .. } => quota.used,
        other => panic!("not granted: {other:?}"),
    }
}

fn exhausted(c: &Consumed) -> QuotaState {
    match &c.decision {
        Decision::Exhausted { quota } => *quota,
        other => panic!("not exhausted: {other:?}"),
    }
}

async fn key(store: &Store, id: i64) -> KeyRecord {
    store.get_key(id).await.unwrap().unwrap()
}

async fn create_list_authenticate(store: &Store) {
    let now = Utc::now().timestamp();
    assert_eq!(store.count_keys().await.unwrap(), 0);
    let (secret, hash, id) = new_key(store, "a", 5, None).await;
    let (_, _, id2) = new_key(store, "b", 7, Some("0 0 * * * *")).await;
    assert_eq!(store.count_keys().await.unwrap(), 2);
    let list = store.list_keys().await.unwrap();
    assert_eq!(list.iter().map(|k| k.id).collect::<Vec<_>>(), vec![id, id2]);
    assert_eq!(list[0].prefix, &secret[..8]);
    assert_eq!(list[1].state.reset_schedule.as_deref(), Some("0 0 * * * *"));
    let k = store.authenticate(&hash, now).await.unwrap().unwrap();
    assert_eq!((k.name.as_str(), k.state.limit, k.state.used), ("a", 5, 0));
    assert_eq!(
        store.authenticate(&KeyHash::of("pk_x"), now).await.unwrap(),
        Err(Refusal::UnknownKey)
    );
    assert_eq!(key(store, id2).await.state.limit, 7);
    assert!(store.get_key(999).await.unwrap().is_none());
    assert_eq!(
        store.distinct_schedules().await.unwrap(),
        vec!["0 0 * * * *".to_owned()]
    );
    store.health().await.unwrap();
}
store_test!(create_list_authenticate_, create_list_authenticate);

async fn consume_is_exact_under_concurrency(store: &Store) {
    let (_, hash, _) = new_key(store, "race", 10, None).await;
    let now = Utc::now().timestamp();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { consume(&store, &hash, now).await })
        })
        .collect();
    let mut granted = Vec::new();
    let mut exhausted_count = 0;
    for t in tasks {
        let c = t.await.unwrap();
        match c.decision {
            Decision::Granted { quota, .. } => granted.push(quota.used),
            Decision::Exhausted { quota } => {
                assert_eq!(quota.remaining(), 0);
                exhausted_count += 1;
            }
            other => panic!("not a consume: {other:?}"),
        }
    }
    granted.sort_unstable();
    assert_eq!(granted, (1..=10).collect::<Vec<_>>());
    assert_eq!(exhausted_count, 54);
    let k = store.authenticate(&hash, now).await.unwrap().unwrap();
    assert_eq!(k.state.used, 10);
}
store_test!(
    consume_is_exact_under_concurrency_,
    consume_is_exact_under_concurrency
);

async fn refused_keys_consume_nothing(store: &Store) {
    let now = Utc::now().timestamp();
    let (_, revoked, rid) = new_key(store, "revoked", 5, None).await;
    let (_, expiring, eid) = new_key(store, "expiring", 5, None).await;
    let (_, zero, _) = new_key(store, "zero", 0, None).await;
    assert!(store.revoke(rid).await.unwrap());
    let upd = KeyUpdate {
        expires_at: Some(Some(now + 10)),
        ..KeyUpdate::default()
    };
    assert!(store.update(eid, &upd, now).await.unwrap());
    assert_eq!(
        consume(store, &revoked, now).await.decision,
        Decision::Refused(Refusal::Revoked)
    );
    assert_eq!(used_after(&consume(store, &expiring, now).await), 1);
    assert_eq!(
        consume(store, &expiring, now + 10).await.decision,
        Decision::Refused(Refusal::Expired)
    );
    assert_eq!(
        store.authenticate(&expiring, now + 10).await.unwrap(),
        Err(Refusal::Expired)
    );
    exhausted(&consume(store, &zero, now).await);
    let unknown = consume(store, &KeyHash::of("pk_unknown"), now).await;
    assert_eq!(unknown.decision, Decision::Refused(Refusal::UnknownKey));
    assert_eq!(unknown.prefix, None);
    assert!(!store.revoke(999).await.unwrap());
    assert!(!store.reset_usage(999).await.unwrap());
    assert!(!store.update(999, &upd, now).await.unwrap());
    let list = store.list_keys().await.unwrap();
    assert_eq!(list.iter().map(|k| k.state.used).sum::<u64>(), 1);
}
store_test!(refused_keys_consume_nothing_, refused_keys_consume_nothing);

async fn lazy_reset_in_the_consume_statement(store: &Store) {
    let now = Utc::now().timestamp();
    let (_, default_key, _) = new_key(store, "default", 2, None).await;
    let (_, hourly_key, _) = new_key(store, "hourly", 2, Some("0 0 * * * *")).await;
    for hash in [default_key, hourly_key] {
        assert_eq!(used_after(&consume(store, &hash, now).await), 1);
        assert_eq!(used_after(&consume(store, &hash, now).await), 2);
        let state = exhausted(&consume(store, &hash, now).await);
        assert!(state.period.end > now);
        // No scheduler ran; the next period starts by itself, exactly once.
        let later = state.period.end;
        let fresh = consume(store, &hash, later).await;
        assert_eq!(used_after(&fresh), 1);
        let Decision::Granted { quota: fresh, .. } = fresh.decision else {
            unreachable!()
        };
        assert_eq!(fresh.period.start, later);
        assert!(fresh.period.end > later);
        assert_eq!(used_after(&consume(store, &hash, later).await), 2);
        exhausted(&consume(store, &hash, later).await);
    }
    // Hourly schedule: a one-hour window.
    let k = store.authenticate(&hourly_key, now).await.unwrap().unwrap();
    assert_eq!(k.state.period.end - k.state.period.start, 3600);
}
store_test!(
    lazy_reset_in_the_consume_statement_,
    lazy_reset_in_the_consume_statement
);

async fn scheduler_resets_are_compare_and_set(store: &Store) {
    let now = Utc::now().timestamp();
    let (_, hash, id) = new_key(store, "k", 3, None).await;
    for _ in 0..3 {
        used_after(&consume(store, &hash, now).await);
    }
    // Nothing due yet.
    assert_eq!(store.apply_due_resets(now).await.unwrap(), 0);
    assert_eq!(key(store, id).await.state.used, 3);
    // A day later (a reset missed while down): reset once, new period opened.
    assert!(store.apply_due_resets(now + DAY).await.unwrap() >= 1);
    let k = key(store, id).await;
    assert_eq!(k.state.used, 0);
    assert!(k.state.period.end > now + DAY);
    // Consumed in the new period, a second run at the same moment changes nothing.
    used_after(&consume(store, &hash, now + DAY).await);
    assert_eq!(store.apply_due_resets(now + DAY).await.unwrap(), 0);
    assert_eq!(key(store, id).await.state.used, 1);
    // reset-usage and update.
    assert!(store.reset_usage(id).await.unwrap());
    assert_eq!(key(store, id).await.state.used, 0);
    let upd = KeyUpdate {
        name: Some("renamed".into()),
        limit: Some(9),
        reset_schedule: Some(Some("0 0 * * * *".into())),
        expires_at: None,
        rate: None,
    };
    assert!(store.update(id, &upd, now + DAY).await.unwrap());
    let k = key(store, id).await;
    assert_eq!((k.name.as_str(), k.state.limit), ("renamed", 9));
    assert_eq!(k.state.reset_schedule.as_deref(), Some("0 0 * * * *"));
    assert!(k.state.period.end - (now + DAY) <= 3600);
    let clear = KeyUpdate {
        reset_schedule: Some(None),
        ..KeyUpdate::default()
    };
    assert!(store.update(id, &clear, now + DAY).await.unwrap());
    assert_eq!(key(store, id).await.state.reset_schedule, None);
}
store_test!(
    scheduler_resets_are_compare_and_set_,
    scheduler_resets_are_compare_and_set
);

/// Generate one test per backend from one body taking two stores (two "instances", each with
/// its own pool) on the same database.
macro_rules! two_instance_test {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let b = Backend::sqlite().await;
                let other = b.second().await;
                $body(&b.store, &other).await;
                other.close().await;
                b.finish().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(b) = Backend::postgres().await {
                    let other = b.second().await;
                    $body(&b.store, &other).await;
                    other.close().await;
                    b.finish().await;
                }
            }
        }
    };
}

/// Two instances fire the same scheduled reset at the same moment, while requests consume on
/// both: the reset happens exactly once per period and no unit consumed in the new period is
/// wiped, whatever the interleaving.
async fn resets_fired_by_two_instances_are_idempotent(a: &Store, b: &Store) {
    let now = Utc::now().timestamp();
    let (_, hash, id) = new_key(a, "shared", 1_000, None).await;
    for _ in 0..5 {
        used_after(&consume(b, &hash, now).await);
    }
    let mut fire = key(a, id).await.state.period.end;
    for round in 0..5 {
        // The period has ended; both instances' jobs fire at once, requests keep arriving.
        let mut tasks = Vec::new();
        for i in 0..24 {
            let store = if i % 2 == 0 { a } else { b }.clone();
            tasks.push(tokio::spawn(async move {
                if i % 3 == 0 {
                    (store.apply_due_resets(fire).await.unwrap(), 0)
                } else {
                    (0, used_after(&consume(&store, &hash, fire).await))
                }
            }));
        }
        let (mut resets, mut used) = (0, Vec::new());
        for t in tasks {
            let (r, u) = t.await.unwrap();
            resets += r;
            if u > 0 {
                used.push(u);
            }
        }
        used.sort_unstable();
        // Every grant in the new period got a distinct count 1..=n: no second reset.
        assert_eq!(used, (1..=16).collect::<Vec<_>>(), "round {round}");
        assert!(resets <= 1, "round {round}: reset {resets} times");
        let k = key(b, id).await;
        assert_eq!(k.state.used, 16, "round {round}");
        assert!(k.state.period.end > fire);
        // Late jobs at the same fire time change nothing.
        assert_eq!(a.apply_due_resets(fire).await.unwrap(), 0);
        assert_eq!(b.apply_due_resets(fire).await.unwrap(), 0);
        assert_eq!(key(a, id).await.state.used, 16);
        fire = k.state.period.end;
    }
}
two_instance_test!(
    resets_fired_by_two_instances_are_idempotent_,
    resets_fired_by_two_instances_are_idempotent
);

/// Several instances starting at once on an empty store create exactly one first key.
async fn first_key_is_created_once(a: &Store, b: &Store) {
    const N: usize = 16;
    // Open several connections in both pools first, then release all attempts at once, so
    // they really overlap.
    let warm: Vec<_> = (0..N)
        .map(|i| {
            let store = if i % 2 == 0 { a } else { b }.clone();
            tokio::spawn(async move { store.list_keys().await.unwrap() })
        })
        .collect();
    for w in warm {
        w.await.unwrap();
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(N));
    let mut tasks = Vec::new();
    for i in 0..N {
        let store = if i % 2 == 0 { a } else { b }.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let k = keys::generate().unwrap();
            barrier.wait().await;
            store
                .create_first_key(&NewKey {
                    name: "default".into(),
                    prefix: k.display_prefix,
                    hash: k.hash,
                    state: KeyState::new(5, None, None),
                    now: Utc::now().timestamp(),
                })
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    for t in tasks {
        if t.await.unwrap().is_some() {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    assert_eq!(a.count_keys().await.unwrap(), 1);
    // Not only on an empty store's first call: any existing key (even revoked) prevents it.
    let (_, _, id) = new_key(b, "other", 1, None).await;
    assert!(a.revoke(id).await.unwrap());
    let k = keys::generate().unwrap();
    let again = b
        .create_first_key(&NewKey {
            name: "default".into(),
            prefix: k.display_prefix,
            hash: k.hash,
            state: KeyState::new(5, None, None),
            now: Utc::now().timestamp(),
        })
        .await
        .unwrap();
    assert_eq!(again, None);
    assert_eq!(a.count_keys().await.unwrap(), 2);
}
two_instance_test!(first_key_is_created_once_, first_key_is_created_once);

/// Several instances starting at once against one PostgreSQL schema all migrate safely.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_migrations() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    backend.store.close().await;
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = backend.env.db_url.clone();
            tokio::spawn(async move { connect(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for s in starts {
        stores.push(s.await.unwrap());
    }
    let (_, hash, _) = new_key(&stores[0], "shared", 4, None).await;
    let now = Utc::now().timestamp();
    // Exact across "instances" (separate pools).
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = stores[i % 4].clone();
            tokio::spawn(async move { consume(&store, &hash, now).await })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        if matches!(t.await.unwrap().decision, Decision::Granted { .. }) {
            granted += 1;
        }
    }
    assert_eq!(granted, 4);
    for s in stores {
        s.close().await;
    }
    backend.finish().await;
}

/// One concurrent burst over several keys at once (on PostgreSQL this goes through the batched
/// consume, several keys per batch): every key stays exact, refused keys consume nothing, and a
/// key whose period ended is reset exactly once inside the burst.
async fn mixed_keys_in_one_burst_are_exact(store: &Store) {
    let now = Utc::now().timestamp();
    let (_, five, five_id) = new_key(store, "five", 5, None).await;
    let (_, ten, ten_id) = new_key(store, "ten", 10, Some("0 0 * * * *")).await;
    let (_, zero, _) = new_key(store, "zero", 0, None).await;
    let (_, revoked, revoked_id) = new_key(store, "revoked", 5, None).await;
    let (_, ended, ended_id) = new_key(store, "ended", 3, None).await;
    assert!(store.revoke(revoked_id).await.unwrap());
    for _ in 0..3 {
        used_after(&consume(store, &ended, now).await);
    }
    let later = key(store, ended_id).await.state.period.end;
    let unknown = KeyHash::of("pk_unknown");
    let hashes = [five, ten, zero, revoked, ended, unknown];
    let tasks: Vec<_> = (0..120)
        .map(|i| {
            let (store, hash) = (store.clone(), hashes[i % hashes.len()]);
            tokio::spawn(async move { (i % 6, consume(&store, &hash, later).await) })
        })
        .collect();
    let mut granted: Vec<Vec<u64>> = vec![Vec::new(); 6];
    for t in tasks {
        let (which, c) = t.await.unwrap();
        match c.decision {
            Decision::Granted { quota, .. } => granted[which].push(quota.used),
            Decision::Exhausted { quota } => assert_eq!(quota.remaining(), 0),
            Decision::Refused(_) => assert!(which == 3 || which == 5, "key {which}"),
            other => panic!("not a consume: {other:?}"),
        }
    }
    for g in &mut granted {
        g.sort_unstable();
    }
    assert_eq!(granted[0], (1..=5).collect::<Vec<_>>());
    assert_eq!(granted[1], (1..=10).collect::<Vec<_>>());
    assert!(granted[2].is_empty() && granted[3].is_empty() && granted[5].is_empty());
    assert_eq!(granted[4], vec![1, 2, 3]);
    let used = |id| async move { key(store, id).await.state.used };
    assert_eq!(used(five_id).await, 5);
    assert_eq!(used(ten_id).await, 10);
    assert_eq!(used(revoked_id).await, 0);
    assert_eq!(used(ended_id).await, 3);
    assert!(key(store, ended_id).await.state.period.end > later);
}
store_test!(
    mixed_keys_in_one_burst_are_exact_,
    mixed_keys_in_one_burst_are_exact
);

/// Several units at once: `Exactly` is all or nothing, `UpTo` takes what is left.
async fn multi_unit_demands(store: &Store) {
    let now = Utc::now().timestamp();
    let (_, hash, id) = new_key(store, "bulk", 10, None).await;
    let take = |demand| async move { store.consume(&hash, demand, now).await.unwrap() };
    assert!(matches!(
        take(Demand::Exactly(7)).await.decision,
        Decision::Granted { units: 7, quota } if quota.used == 7
    ));
    // 4 asked, 3 left: all or nothing refuses and charges nothing.
    assert_eq!(exhausted(&take(Demand::Exactly(4)).await).used, 7);
    assert_eq!(key(store, id).await.state.used, 7);
    // Up to 4: the 3 that are left.
    assert!(matches!(
        take(Demand::UpTo(4)).await.decision,
        Decision::Granted { units: 3, quota } if quota.used == 10
    ));
    exhausted(&take(Demand::UpTo(4)).await);
    assert_eq!(key(store, id).await.state.used, 10);
}
store_test!(multi_unit_demands_, multi_unit_demands);

/// A unit given back returns to the key (and its usage history) in the same period, never below
/// zero, and not across a period change.
async fn units_are_given_back(store: &Store) {
    let now = Utc::now().timestamp();
    let (_, hash, id) = new_key(store, "refund", 5, None).await;
    let granted = store.consume(&hash, Demand::Exactly(3), now).await.unwrap();
    let Decision::Granted { quota, .. } = granted.decision else {
        panic!("{granted:?}")
    };
    let back = |units, period_end| Demand::GiveBack { units, period_end };
    let d = store
        .consume(&hash, back(1, quota.period.end), now)
        .await
        .unwrap();
    assert!(matches!(d.decision, Decision::GivenBack { units: 1, quota } if quota.used == 2));
    assert_eq!(key(store, id).await.state.used, 2);
    // The usage history gives it back too (on PostgreSQL, the write's give-back part).
    let history = store.key_history(id, now.div_euclid(86_400)).await.unwrap();
    assert_eq!(
        history.iter().map(|d| d.used).sum::<u64>(),
        2,
        "{history:?}"
    );
    // Another period's unit is not taken from this one.
    let d = store
        .consume(&hash, back(1, quota.period.start), now)
        .await
        .unwrap();
    assert!(matches!(d.decision, Decision::GivenBack { units: 0, .. }));
    assert_eq!(key(store, id).await.state.used, 2);
}
store_test!(units_are_given_back_, units_are_given_back);

/// On a single-threaded runtime (an actix worker) consumes are batched per thread; exact all
/// the same, and a consume whose caller went away before its batch ran is not charged.
#[tokio::test(flavor = "current_thread")]
async fn sqlite_batches_on_one_thread_are_exact() {
    let b = Backend::sqlite().await;
    let (_, hash, id) = new_key(&b.store, "local", 50, None).await;
    let now = Utc::now().timestamp();
    let local = tokio::task::LocalSet::new();
    let granted = local
        .run_until(async {
            let tasks: Vec<_> = (0..80)
                .map(|_| {
                    let store = b.store.clone();
                    tokio::task::spawn_local(async move { consume(&store, &hash, now).await })
                })
                .collect();
            let mut granted = Vec::new();
            for t in tasks {
                if let Decision::Granted { quota, .. } = t.await.unwrap().decision {
                    granted.push(quota.used);
                }
            }
            granted
        })
        .await;
    let mut sorted = granted.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=50).collect::<Vec<_>>());
    assert_eq!(key(&b.store, id).await.state.used, 50);

    // Cancelled before its batch ran (its client went away): not charged.
    assert!(b.store.reset_usage(id).await.unwrap());
    let leader = local
        .run_until(async {
            let store = b.store.clone();
            let leader = tokio::task::spawn_local(async move { consume(&store, &hash, now).await });
            // The leader queues its consume and yields; a second request queues behind it...
            tokio::task::yield_now().await;
            let follower = consume(&b.store, &hash, now);
            // ...and is dropped before the batch runs.
            assert!(futures_util::FutureExt::now_or_never(follower).is_none());
            leader.await.unwrap()
        })
        .await;
    assert_eq!(used_after(&leader), 1);
    assert_eq!(key(&b.store, id).await.state.used, 1);
    b.finish().await;
}

/// The SQLite file is the owner's alone, and so are its `-wal` and `-shm` files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let b = Backend::sqlite().await;
    let (_, hash, _) = new_key(&b.store, "p", 5, None).await;
    used_after(&consume(&b.store, &hash, Utc::now().timestamp()).await);
    let path = b.env.db_path.clone();
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    b.finish().await;
}

/// What a store made by release 0.1.0 must still hold after this release opens it.
async fn assert_release_0_1_0_store(store: &Store, secrets: &str) {
    let keys = store.list_keys().await.unwrap();
    let seen: Vec<_> = keys
        .iter()
        .map(|k| {
            let s = &k.state;
            (
                k.name.as_str(),
                s.limit,
                s.used,
                s.reset_schedule.as_deref(),
                s.revoked,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("alpha", 5, 3, None, false),
            ("beta", 100, 2, Some("0 0 * * * *"), false),
            ("gamma", 7, 1, None, false),
            ("revoked-one", 9, 0, None, true),
        ]
    );
    assert!(keys[2].state.expires_at.is_some());
    // The old secrets still authenticate; the revoked one does not.
    let secrets: Vec<&str> = secrets.split_whitespace().collect();
    let now = Utc::now().timestamp();
    for (i, secret) in secrets.iter().enumerate() {
        let known = store.authenticate(&KeyHash::of(secret), now).await.unwrap();
        assert_eq!(known.is_ok(), i != 3, "key {i}");
    }
    // And counting goes on from the stored count (alpha: 5 - 3 = 2 left, unless its day ended).
    let alpha = KeyHash::of(secrets[0]);
    let stored_end = keys[0].state.period.end;
    let mut granted = 0;
    while let Decision::Granted { .. } = consume(store, &alpha, now).await.decision {
        granted += 1;
    }
    assert_eq!(granted, if stored_end > now { 2 } else { 5 });
}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// Open a copy of the SQLite store of fixture `version` (`store-v1`, `store-v2`) and check it.
async fn sqlite_fixture_migrates(version: &str) {
    let fixture = format!("{FIXTURES}/{version}");
    let env = TestEnv::new();
    std::fs::copy(format!("{fixture}/sqlite.db"), &env.db_path).unwrap();
    let secrets = std::fs::read_to_string(format!("{fixture}/sqlite-keys.txt")).unwrap();
    let store = connect(&env.db_url).await;
    assert_release_0_1_0_store(&store, &secrets).await;
    assert_policies_work_after_migration(&store, &secrets).await;
    store.close().await;
    // Opening it again changes nothing more.
    let store = connect(&env.db_url).await;
    assert_eq!(store.count_keys().await.unwrap(), 4);
    store.close().await;
}

/// Restore the PostgreSQL dump of fixture `version` (its schema named `schema_in_dump`) into a
/// fresh schema, open it and check it.
async fn postgres_fixture_migrates(version: &str, schema_in_dump: &str) {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let fixture = format!("{FIXTURES}/{version}");
    let (base, schema) = backend.pg_schema.clone().unwrap();
    backend.store.close().await;
    // Restore the dump into this test's schema, as that release left it.
    let dump = std::fs::read_to_string(format!("{fixture}/postgres.sql"))
        .unwrap()
        .replace(schema_in_dump, &schema)
        .replace(&format!("CREATE SCHEMA {schema};"), "");
    let url = backend.env.db_url.clone();
    tokio::task::spawn_blocking(move || {
        crate::common::pg_exec(
            &base,
            format!("DROP SCHEMA {schema} CASCADE; CREATE SCHEMA {schema}"),
        );
        crate::common::pg_exec(&url, dump);
    })
    .await
    .unwrap();
    let secrets = std::fs::read_to_string(format!("{fixture}/postgres-keys.txt")).unwrap();
    let store = connect(&backend.env.db_url).await;
    assert_release_0_1_0_store(&store, &secrets).await;
    assert_policies_work_after_migration(&store, &secrets).await;
    store.close().await;
    backend.finish().await;
}

/// On a migrated store: no key is in a group or rotated, and groups and history work.
async fn assert_policies_work_after_migration(store: &Store, secrets: &str) {
    let keys = store.list_keys().await.unwrap();
    assert!(
        keys.iter()
            .all(|k| k.group.is_none() && k.grace_ends_at.is_none())
    );
    let group = prime_server::store::NewGroup {
        name: "g".to_owned(),
        limit: 2,
        reset_schedule: None,
        rate: None,
    };
    store
        .create_group(&group, Utc::now().timestamp())
        .await
        .unwrap()
        .unwrap();
    // beta (own schedule, 2 used or fewer) keeps counting; its history starts now.
    let beta = KeyHash::of(secrets.split_whitespace().nth(1).unwrap());
    let now = Utc::now().timestamp();
    assert!(matches!(
        consume(store, &beta, now).await.decision,
        Decision::Granted { .. }
    ));
    let day = prime_server::store::day_of(now);
    assert_eq!(store.key_history(keys[1].id, day).await.unwrap()[0].used, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_0_1_0_sqlite_store_migrates_in_place() {
    sqlite_fixture_migrates("store-v1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_0_1_0_postgres_store_migrates_in_place() {
    postgres_fixture_migrates("store-v1", "fixture_v1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_v2_sqlite_store_migrates_in_place() {
    sqlite_fixture_migrates("store-v2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_v2_postgres_store_migrates_in_place() {
    postgres_fixture_migrates("store-v2", "fixture_v2").await;
}
