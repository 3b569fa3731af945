//! The store interface, one body of tests run against every backend: SQLite always, PostgreSQL
//! when `PRIME_TEST_POSTGRES_URL` is set (each test in its own fresh schema).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::Utc;
use prime_server::keys;
use prime_server::quota::Schedules;
use prime_server::store::{Consume, KeyUpdate, NewKey, Store};

const DAY: i64 = 86_400;

/// A store under test plus what keeps it alive / cleans it up.
struct Backend {
    store: Store,
    url: String,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<(String, String)>,
}

impl Backend {
    async fn sqlite() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        Backend {
            store: Store::connect(&url).await.unwrap(),
            url,
            _dir: Some(dir),
            pg_schema: None,
        }
    }

    /// `None` (after saying so) when PostgreSQL is not configured.
    async fn postgres() -> Option<Backend> {
        let Ok(base) = std::env::var("PRIME_TEST_POSTGRES_URL") else {
            eprintln!("skipped: PRIME_TEST_POSTGRES_URL is not set");
            return None;
        };
        let schema = fresh_schema(&base).await;
        let url = schema_url(&base, &schema);
        Some(Backend {
            store: Store::connect(&url).await.unwrap(),
            url,
            _dir: None,
            pg_schema: Some((base, schema)),
        })
    }

    /// A second, independent store on the same database (another "instance": own pool).
    async fn second(&self) -> Store {
        Store::connect(&self.url).await.unwrap()
    }

    async fn finish(self) {
        self.store.close().await;
        if let Some((base, schema)) = self.pg_schema {
            let pool = sqlx::PgPool::connect(&base).await.unwrap();
            let drop = format!("DROP SCHEMA {schema} CASCADE");
            sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}

async fn fresh_schema(base: &str) -> String {
    let pool = sqlx::PgPool::connect(base).await.unwrap();
    let mut random = [0u8; 8];
    rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut random).unwrap();
    let schema = format!(
        "prime_test_{}",
        random
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let create = format!("CREATE SCHEMA {schema}");
    sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    schema
}

fn schema_url(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options[search_path]={schema}")
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

fn schedules() -> Arc<Schedules> {
    Arc::new(Schedules::new("0 0 0 * * *").unwrap())
}

async fn new_key(
    store: &Store,
    name: &str,
    limit: i64,
    schedule: Option<&str>,
) -> (String, keys::KeyHash, i64) {
    let k = keys::generate().unwrap();
    let id = store
        .create_key(&NewKey {
            name: name.to_owned(),
            prefix: k.display_prefix.clone(),
            hash: k.hash,
            limit,
            reset_schedule: schedule.map(str::to_owned),
            expires_at: None,
            now: Utc::now().timestamp(),
        })
        .await
        .unwrap();
    (k.secret, k.hash, id)
}

fn used_after(c: &Consume) -> i64 {
    match c {
        Consume::Granted { state, .. } => state.used,
        other => panic!("not granted: {other:?}"),
    }
}

async fn create_list_authenticate(store: &Store) {
    let s = schedules();
    let now = Utc::now().timestamp();
    assert_eq!(store.count_keys().await.unwrap(), 0);
    let (secret, hash, id) = new_key(store, "a", 5, None).await;
    let (_, _, id2) = new_key(store, "b", 7, Some("0 0 * * * *")).await;
    assert_eq!(store.count_keys().await.unwrap(), 2);
    let list = store.list_keys().await.unwrap();
    assert_eq!(list.iter().map(|k| k.id).collect::<Vec<_>>(), vec![id, id2]);
    assert_eq!(list[0].prefix, &secret[..8]);
    assert_eq!(list[1].reset_schedule.as_deref(), Some("0 0 * * * *"));
    let k = store.authenticate(&hash, now).await.unwrap().unwrap();
    assert_eq!((k.name.as_str(), k.limit, k.used), ("a", 5, 0));
    assert!(
        store
            .authenticate(&keys::KeyHash::of("pk_x"), now)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.get_key(id2).await.unwrap().unwrap().limit, 7);
    assert!(store.get_key(999).await.unwrap().is_none());
    assert_eq!(
        store.distinct_schedules().await.unwrap(),
        vec!["0 0 * * * *".to_owned()]
    );
    store.health().await.unwrap();
    let _ = s;
}
store_test!(create_list_authenticate_, create_list_authenticate);

async fn consume_is_exact_under_concurrency(store: &Store) {
    let s = schedules();
    let (_, hash, _) = new_key(store, "race", 10, None).await;
    let now = Utc::now().timestamp();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (store, s) = (store.clone(), Arc::clone(&s));
            tokio::spawn(async move { store.consume(&hash, &s, now).await.unwrap() })
        })
        .collect();
    let mut granted = Vec::new();
    let mut exhausted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Consume::Granted { state, .. } => granted.push(state.used),
            Consume::Exhausted { state, .. } => {
                assert_eq!(state.remaining(), 0);
                exhausted += 1;
            }
            Consume::Unauthorized => panic!("unauthorized"),
        }
    }
    granted.sort_unstable();
    assert_eq!(granted, (1..=10).collect::<Vec<_>>());
    assert_eq!(exhausted, 54);
    let k = store.authenticate(&hash, now).await.unwrap().unwrap();
    assert_eq!(k.used, 10);
}
store_test!(
    consume_is_exact_under_concurrency_,
    consume_is_exact_under_concurrency
);

async fn refused_keys_consume_nothing(store: &Store) {
    let s = schedules();
    let now = Utc::now().timestamp();
    let (_, revoked, rid) = new_key(store, "revoked", 5, None).await;
    let (_, expiring, eid) = new_key(store, "expiring", 5, None).await;
    let (_, zero, _) = new_key(store, "zero", 0, None).await;
    assert!(store.revoke(rid).await.unwrap());
    let upd = KeyUpdate {
        expires_at: Some(Some(now + 10)),
        ..KeyUpdate::default()
    };
    assert!(store.update(eid, &upd, &s, now).await.unwrap());
    assert_eq!(
        store.consume(&revoked, &s, now).await.unwrap(),
        Consume::Unauthorized
    );
    assert_eq!(
        used_after(&store.consume(&expiring, &s, now).await.unwrap()),
        1
    );
    assert_eq!(
        store.consume(&expiring, &s, now + 10).await.unwrap(),
        Consume::Unauthorized
    );
    assert!(
        store
            .authenticate(&expiring, now + 10)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.consume(&zero, &s, now).await.unwrap(),
        Consume::Exhausted { .. }
    ));
    assert_eq!(
        store
            .consume(&keys::KeyHash::of("pk_unknown"), &s, now)
            .await
            .unwrap(),
        Consume::Unauthorized
    );
    assert!(!store.revoke(999).await.unwrap());
    assert!(!store.reset_usage(999).await.unwrap());
    assert!(!store.update(999, &upd, &s, now).await.unwrap());
    let list = store.list_keys().await.unwrap();
    assert_eq!(list.iter().map(|k| k.used).sum::<i64>(), 1);
}
store_test!(refused_keys_consume_nothing_, refused_keys_consume_nothing);

async fn lazy_reset_in_the_consume_statement(store: &Store) {
    let s = schedules();
    let now = Utc::now().timestamp();
    let (_, default_key, _) = new_key(store, "default", 2, None).await;
    let (_, hourly_key, _) = new_key(store, "hourly", 2, Some("0 0 * * * *")).await;
    for hash in [default_key, hourly_key] {
        assert_eq!(used_after(&store.consume(&hash, &s, now).await.unwrap()), 1);
        assert_eq!(used_after(&store.consume(&hash, &s, now).await.unwrap()), 2);
        let Consume::Exhausted { state, .. } = store.consume(&hash, &s, now).await.unwrap() else {
            panic!("expected exhausted")
        };
        assert!(state.next_reset_at > now);
        // No scheduler ran; the next period starts by itself, exactly once.
        let later = state.next_reset_at;
        let Consume::Granted { state: fresh, .. } = store.consume(&hash, &s, later).await.unwrap()
        else {
            panic!("expected granted after the fire time")
        };
        assert_eq!(fresh.used, 1);
        assert_eq!(fresh.period_start, later);
        assert!(fresh.next_reset_at > later);
        assert_eq!(
            used_after(&store.consume(&hash, &s, later).await.unwrap()),
            2
        );
        assert!(matches!(
            store.consume(&hash, &s, later).await.unwrap(),
            Consume::Exhausted { .. }
        ));
    }
    // Hourly schedule: a one-hour window.
    let k = store.authenticate(&hourly_key, now).await.unwrap().unwrap();
    assert_eq!(k.next_reset_at - k.period_start, 3600);
}
store_test!(
    lazy_reset_in_the_consume_statement_,
    lazy_reset_in_the_consume_statement
);

async fn scheduler_resets_are_compare_and_set(store: &Store) {
    let s = schedules();
    let now = Utc::now().timestamp();
    let (_, hash, id) = new_key(store, "k", 3, None).await;
    for _ in 0..3 {
        store.consume(&hash, &s, now).await.unwrap();
    }
    // Nothing due yet.
    assert_eq!(store.apply_due_resets(&s, now).await.unwrap(), 0);
    assert_eq!(store.get_key(id).await.unwrap().unwrap().used, 3);
    // A day later (a reset missed while down): reset once, new period opened.
    assert!(store.apply_due_resets(&s, now + DAY).await.unwrap() >= 1);
    let k = store.get_key(id).await.unwrap().unwrap();
    assert_eq!(k.used, 0);
    assert!(k.next_reset_at > now + DAY);
    // Consumed in the new period, a second run at the same moment changes nothing.
    store.consume(&hash, &s, now + DAY).await.unwrap();
    assert_eq!(store.apply_due_resets(&s, now + DAY).await.unwrap(), 0);
    assert_eq!(store.get_key(id).await.unwrap().unwrap().used, 1);
    // reset-usage and update.
    assert!(store.reset_usage(id).await.unwrap());
    assert_eq!(store.get_key(id).await.unwrap().unwrap().used, 0);
    let upd = KeyUpdate {
        name: Some("renamed".into()),
        limit: Some(9),
        reset_schedule: Some(Some("0 0 * * * *".into())),
        expires_at: None,
    };
    assert!(store.update(id, &upd, &s, now + DAY).await.unwrap());
    let k = store.get_key(id).await.unwrap().unwrap();
    assert_eq!((k.name.as_str(), k.limit), ("renamed", 9));
    assert_eq!(k.reset_schedule.as_deref(), Some("0 0 * * * *"));
    assert!(k.next_reset_at - (now + DAY) <= 3600);
    let clear = KeyUpdate {
        reset_schedule: Some(None),
        ..KeyUpdate::default()
    };
    assert!(store.update(id, &clear, &s, now + DAY).await.unwrap());
    assert_eq!(
        store.get_key(id).await.unwrap().unwrap().reset_schedule,
        None
    );
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
    let s = schedules();
    let now = Utc::now().timestamp();
    let (_, hash, id) = new_key(a, "shared", 1_000, None).await;
    for _ in 0..5 {
        used_after(&b.consume(&hash, &s, now).await.unwrap());
    }
    let mut fire = a.get_key(id).await.unwrap().unwrap().next_reset_at;
    for round in 0..5 {
        // The period has ended; both instances' jobs fire at once, requests keep arriving.
        let mut tasks = Vec::new();
        for i in 0..24 {
            let (store, s) = (if i % 2 == 0 { a } else { b }.clone(), Arc::clone(&s));
            tasks.push(tokio::spawn(async move {
                if i % 3 == 0 {
                    (store.apply_due_resets(&s, fire).await.unwrap(), 0)
                } else {
                    (
                        0,
                        used_after(&store.consume(&hash, &s, fire).await.unwrap()),
                    )
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
        let k = b.get_key(id).await.unwrap().unwrap();
        assert_eq!(k.used, 16, "round {round}");
        assert!(k.next_reset_at > fire);
        // Late jobs at the same fire time change nothing.
        assert_eq!(a.apply_due_resets(&s, fire).await.unwrap(), 0);
        assert_eq!(b.apply_due_resets(&s, fire).await.unwrap(), 0);
        assert_eq!(a.get_key(id).await.unwrap().unwrap().used, 16);
        fire = k.next_reset_at;
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
                    limit: 5,
                    reset_schedule: None,
                    expires_at: None,
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
            limit: 5,
            reset_schedule: None,
            expires_at: None,
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
    let Ok(base) = std::env::var("PRIME_TEST_POSTGRES_URL") else {
        eprintln!("skipped: PRIME_TEST_POSTGRES_URL is not set");
        return;
    };
    let schema = fresh_schema(&base).await;
    let url = schema_url(&base, &schema);
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Store::connect(&url).await.unwrap() })
        })
        .collect();
    let mut stores = Vec::new();
    for s in starts {
        stores.push(s.await.unwrap());
    }
    let (_, hash, _) = new_key(&stores[0], "shared", 4, None).await;
    let sched = schedules();
    let now = Utc::now().timestamp();
    // Exact across "instances" (separate pools).
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (store, s) = (stores[i % 4].clone(), Arc::clone(&sched));
            tokio::spawn(async move { store.consume(&hash, &s, now).await.unwrap() })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Consume::Granted { .. }) {
            granted += 1;
        }
    }
    assert_eq!(granted, 4);
    for s in stores {
        s.close().await;
    }
    Backend {
        store: Store::connect(&url).await.unwrap(),
        url,
        _dir: None,
        pg_schema: Some((base, schema)),
    }
    .finish()
    .await;
}

/// One concurrent burst over several keys at once (on PostgreSQL this goes through the batched
/// consume, several keys per batch): every key stays exact, refused keys consume nothing, and a
/// key whose period ended is reset exactly once inside the burst.
async fn mixed_keys_in_one_burst_are_exact(store: &Store) {
    let s = schedules();
    let now = Utc::now().timestamp();
    let (_, five, five_id) = new_key(store, "five", 5, None).await;
    let (_, ten, ten_id) = new_key(store, "ten", 10, Some("0 0 * * * *")).await;
    let (_, zero, _) = new_key(store, "zero", 0, None).await;
    let (_, revoked, revoked_id) = new_key(store, "revoked", 5, None).await;
    let (_, ended, ended_id) = new_key(store, "ended", 3, None).await;
    assert!(store.revoke(revoked_id).await.unwrap());
    for _ in 0..3 {
        used_after(&store.consume(&ended, &s, now).await.unwrap());
    }
    let later = store
        .get_key(ended_id)
        .await
        .unwrap()
        .unwrap()
        .next_reset_at;
    let unknown = keys::KeyHash::of("pk_unknown");
    let hashes = [five, ten, zero, revoked, ended, unknown];
    let tasks: Vec<_> = (0..120)
        .map(|i| {
            let (store, s, hash) = (store.clone(), Arc::clone(&s), hashes[i % hashes.len()]);
            tokio::spawn(async move { (i % 6, store.consume(&hash, &s, later).await.unwrap()) })
        })
        .collect();
    let mut granted: Vec<Vec<i64>> = vec![Vec::new(); 6];
    for t in tasks {
        let (which, c) = t.await.unwrap();
        match c {
            Consume::Granted { state, .. } => granted[which].push(state.used),
            Consume::Exhausted { state, .. } => assert_eq!(state.remaining(), 0),
            Consume::Unauthorized => assert!(which == 3 || which == 5, "key {which}"),
        }
    }
    for g in &mut granted {
        g.sort_unstable();
    }
    assert_eq!(granted[0], (1..=5).collect::<Vec<_>>());
    assert_eq!(granted[1], (1..=10).collect::<Vec<_>>());
    assert!(granted[2].is_empty() && granted[3].is_empty() && granted[5].is_empty());
    assert_eq!(granted[4], vec![1, 2, 3]);
    let used = |id| async move { store.get_key(id).await.unwrap().unwrap().used };
    assert_eq!(used(five_id).await, 5);
    assert_eq!(used(ten_id).await, 10);
    assert_eq!(used(revoked_id).await, 0);
    assert_eq!(used(ended_id).await, 3);
    assert!(
        store
            .get_key(ended_id)
            .await
            .unwrap()
            .unwrap()
            .next_reset_at
            > later
    );
}
store_test!(
    mixed_keys_in_one_burst_are_exact_,
    mixed_keys_in_one_burst_are_exact
);
