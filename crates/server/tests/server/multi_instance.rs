//! Several `prime-server` instances sharing one PostgreSQL database (a fresh schema of
//! `PRIME_TEST_POSTGRES_URL` per test): exact quotas in total, revocation seen by every
//! instance at once, one first key however many instances start at once, idempotent resets.
//! Skipped (with a message) when `PRIME_TEST_POSTGRES_URL` is unset, except the SQLite variant
//! of the first-key race.

use std::collections::BTreeMap;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::common::{ServerProcess, StatusCode, TestEnv};

const SEVEN: &str = r#"{"number": 7}"#;

#[test]
fn two_instances_200_concurrent_requests_20_units_exactly_20_ok() {
    let Some((env, _)) = TestEnv::postgres() else {
        return;
    };
    let key = env.create_key("shared", &["--limit", "20"]);
    let a = env.spawn(&[]);
    let b = env.spawn(&[]);
    let statuses = crate::common::concurrent_checks(
        &[a.url("/check-prime"), b.url("/check-prime")],
        &key,
        200,
    );
    let ok = crate::common::count(&statuses, StatusCode::OK);
    let limited = crate::common::count(&statuses, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((ok, limited), (20, 180), "{statuses:?}");
    // Both instances see the same, exact count; so does the database.
    for s in [&a, &b] {
        let u = s.usage(&key);
        assert_eq!(
            (u["used"].as_i64(), u["remaining"].as_i64()),
            (Some(20), Some(0))
        );
        assert_eq!(s.check(&key, SEVEN).status(), StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(
        env.sql_i64("SELECT used FROM api_keys WHERE name = 'shared'"),
        vec![20]
    );
}

#[test]
fn revoke_and_limit_change_seen_by_every_instance_at_once() {
    let Some((env, _)) = TestEnv::postgres() else {
        return;
    };
    let key = env.create_key("k", &["--limit", "100"]);
    let a = env.spawn(&[]);
    let b = env.spawn(&[]);
    let id = env.id_of(&key).to_string();
    assert_eq!(a.check(&key, SEVEN).status(), StatusCode::OK);
    assert_eq!(b.check(&key, SEVEN).status(), StatusCode::OK);
    // A change made while both run is seen by the next request on either.
    let out = env.cli(&["keys", "update", &id, "--limit", "3"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(a.check(&key, SEVEN).status(), StatusCode::OK);
    assert_eq!(b.check(&key, SEVEN).status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.check(&key, SEVEN).status(), StatusCode::TOO_MANY_REQUESTS);
    let out = env.cli(&["keys", "reset-usage", &id]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(b.check(&key, SEVEN).status(), StatusCode::OK);
    assert_eq!(a.usage(&key)["used"], 1);
    // Revoked: refused at once by both instances, on every authenticated route.
    let out = env.cli(&["keys", "revoke", &id]);
    assert!(out.status.success(), "{out:?}");
    for s in [&a, &b] {
        assert_eq!(s.check(&key, SEVEN).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            s.get("/usage", Some(&key)).status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            s.get("/get-current-time", Some(&key)).status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(env.sql_i64("SELECT used FROM api_keys"), vec![1]);
}

/// Start `n` instances at the same moment on an empty store: exactly one `default` key.
fn first_key_race(env: &TestEnv, n: usize) {
    let barrier = Barrier::new(n);
    // Real processes: what each prints on stdout is the point.
    let servers: Vec<ServerProcess> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    env.spawn_process(&[])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // stdout is pumped by its own thread: give the one print a moment to arrive.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline
        && !servers
            .iter()
            .any(|s| s.printed().contains("Created API key"))
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let printed: Vec<String> = servers
        .iter()
        .map(ServerProcess::printed)
        .filter(|p| p.contains("Created API key 'default'"))
        .collect();
    assert_eq!(printed.len(), 1, "one instance prints the first key");
    let list = env.list();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["name"], "default");
    // The printed key works on every instance.
    let key = printed[0].trim().rsplit(' ').next().unwrap().to_owned();
    for s in &servers {
        assert_eq!(s.check(&key, SEVEN).status(), StatusCode::OK);
    }
    assert_eq!(list[0]["used"], 0);
    assert_eq!(env.list()[0]["used"], n as i64);
}

#[test]
fn instances_starting_at_once_on_empty_postgres_create_one_first_key() {
    let Some((env, _)) = TestEnv::postgres() else {
        return;
    };
    first_key_race(&env, 4);
}

#[test]
fn instances_starting_at_once_on_empty_sqlite_create_one_first_key() {
    first_key_race(&TestEnv::new(), 4);
}

/// Both instances run the same reset job (every 2 s) and the lazy reset, while requests flow
/// through both. Within each period (grouped by the period end the server reports), the
/// remaining counts seen in `200`s must be exactly limit-1, limit-2, … with no repeats (a
/// repeat means a second reset wiped units) and no gaps (a gap means a unit was consumed
/// without a `200`); at the end the stored count equals the `200`s of the last period.
#[test]
fn scheduled_resets_fired_by_two_instances_are_idempotent() {
    let Some((env, _)) = TestEnv::postgres() else {
        return;
    };
    const LIMIT: i64 = 1_000_000;
    let key = env.create_key("cron", &["--limit", &LIMIT.to_string()]);
    let args = ["--reset-schedule", "*/2 * * * * *"];
    let a = env.spawn(&args);
    let b = env.spawn(&args);
    let deadline = Instant::now() + Duration::from_millis(7_000);
    let urls = [a.url("/check-prime"), b.url("/check-prime")];
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let (url, key) = (urls[t % 2].clone(), key.clone());
            std::thread::spawn(move || {
                let client = crate::common::client();
                let mut seen = Vec::new();
                while Instant::now() < deadline {
                    let r = client
                        .post(&url)
                        .header("Authorization", &key)
                        .header("Content-Type", "application/json")
                        .body(SEVEN)
                        .send()
                        .unwrap();
                    assert_eq!(r.status(), StatusCode::OK);
                    let h = |name: &str| -> i64 {
                        r.headers()[name].to_str().unwrap().parse().unwrap()
                    };
                    seen.push((h("x-ratelimit-reset"), h("x-ratelimit-remaining")));
                }
                seen
            })
        })
        .collect();
    let mut periods: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for h in handles {
        for (reset, remaining) in h.join().unwrap() {
            periods.entry(reset).or_default().push(remaining);
        }
    }
    assert!(periods.len() >= 3, "too few periods: {:?}", periods.keys());
    for (end, remaining) in &mut periods {
        remaining.sort_unstable_by(|x, y| y.cmp(x));
        let expected: Vec<i64> = (1..=remaining.len() as i64).map(|u| LIMIT - u).collect();
        assert_eq!(*remaining, expected, "period ending {end}");
    }
    // Both instances logged resets (each ran the job); the count is still exact.
    // One statement: the instances' resets go on after the requests stop, and a reset between
    // reading the period and reading the count would pair a new period's 0 with the old one.
    let (last_end, last) = periods.iter().next_back().unwrap();
    let stored = env.sql_i64(&format!(
        "SELECT used FROM api_keys WHERE next_reset_at = {last_end}"
    ));
    if let [used] = stored[..] {
        assert_eq!(used, last.len() as i64);
    }
}
