//! Key policies (issue 15) on real servers: burst limits (GCRA), quota groups, rotation with
//! grace, usage history. SQLite always; PostgreSQL (two instances sharing one database) when
//! `PRIME_TEST_POSTGRES_URL` is set.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use prime_server::domain::keys::KeyHash;
use prime_server::domain::quota::{Decision, Demand};
use prime_server::domain::schedule::Schedules;
use prime_server::store::{DatabaseUrl, Policies, PoolOptions, Store, StoreOptions};
use serde_json::Value;

use crate::common::{StatusCode, TestEnv, assert_problem, client, concurrent_posts, count};

const SEVEN: &str = r#"{"number": 7}"#;
const QUOTA_EXCEEDED: &str = "https://iana.org/assignments/http-problem-types#quota-exceeded";

/// The SQLite env, and the PostgreSQL one when configured.
fn envs() -> Vec<TestEnv> {
    let mut envs = vec![TestEnv::new()];
    if let Some((env, _)) = TestEnv::postgres() {
        envs.push(env);
    }
    envs
}

fn header(r: &reqwest::blocking::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Fire one `/check-prime` per `(url, key)` at once; the statuses in order.
fn concurrent(requests: Vec<(String, String)>) -> Vec<StatusCode> {
    let requests = requests
        .into_iter()
        .map(|(url, key)| (url, key, SEVEN.to_owned()))
        .collect();
    concurrent_posts(requests)
}

/// N + k requests at once on a fresh key with a burst of N: exactly N `200`s, on one instance
/// (SQLite) and across two (PostgreSQL); the refusals say `burst`.
#[test]
fn burst_is_exact_under_concurrency() {
    for env in envs() {
        let key = env.create_key("bursty", &["--limit", "1000", "--rate", "10/m"]);
        let a = env.spawn(&[]);
        let b = env.spawn(&[]);
        let urls = [a.url("/check-prime"), b.url("/check-prime")];
        let requests = (0..25)
            .map(|i| (urls[i % 2].clone(), key.clone()))
            .collect();
        let statuses = concurrent(requests);
        assert_eq!(count(&statuses, StatusCode::OK), 10, "{statuses:?}");
        assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 15);
        // Only the 200s used quota.
        let u = a.usage_or_429(&key);
        assert!(u.is_none() || u.unwrap()["used"] == 10);
        assert_eq!(env.list()[0]["used"], 10);
        let r = b.check(&key, SEVEN);
        assert_eq!(
            header(&r, "RateLimit-Policy"),
            "\"burst\";q=10;w=60, \"quota\";q=1000;w=86400"
        );
        let retry: u64 = header(&r, "Retry-After").parse().unwrap();
        assert!((1..=6).contains(&retry), "{retry}");
        let body = assert_problem(r, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["type"], QUOTA_EXCEEDED);
        assert_eq!(body["violated-policies"], serde_json::json!(["burst"]));
        assert_eq!(body["error"], "Rate limit exceeded. Please slow down.");
    }
}

/// A burst of N/s: N at once, then one more after 1/N s; both policies in the headers; the
/// routes that are not metered take their place in the burst too.
#[test]
fn burst_headers_recovery_and_every_route() {
    for env in envs() {
        let key = env.create_key("paced", &["--limit", "100", "--rate", "4/m"]);
        let app = env.spawn(&[]);
        let r = app.check(&key, SEVEN);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            header(&r, "RateLimit-Policy"),
            "\"burst\";q=4;w=60, \"quota\";q=100;w=86400"
        );
        let rl = header(&r, "RateLimit");
        assert!(
            rl.starts_with("\"burst\";r=3;t=15, \"quota\";r=99;t="),
            "{rl}"
        );
        assert_eq!(
            app.get("/get-current-time", Some(&key)).status(),
            StatusCode::OK
        );
        let u = app.get("/usage", Some(&key));
        assert_eq!(u.status(), StatusCode::OK);
        assert!(header(&u, "RateLimit").starts_with("\"burst\";r=1;"));
        assert_eq!(app.check(&key, SEVEN).status(), StatusCode::OK);
        let r = app.get("/get-current-time", Some(&key));
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = header(&r, "Retry-After").parse().unwrap();
        assert!((14..=15).contains(&retry), "{retry}");
        let body = assert_problem(r, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["violated-policies"], serde_json::json!(["burst"]));
        // Two checks were charged: the burst refusal and the other routes charge nothing.
        assert_eq!(env.list()[0]["used"], 2);
        let metrics = app.get("/metrics", None).text().unwrap();
        assert!(
            metrics.contains("prime_policy_rejections_total{policy=\"burst\"} 1"),
            "{metrics}"
        );
        // Recovery: one more request 1/N s later.
        let fast = env.create_key("fast", &["--limit", "100", "--rate", "1/s"]);
        assert_eq!(app.check(&fast, SEVEN).status(), StatusCode::OK);
        let first = std::time::Instant::now(); // the server's clock read for it is before this
        let r = app.check(&fast, SEVEN);
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&r, "Retry-After"), "1");
        // 1/N s after the first request, exactly one more.
        std::thread::sleep(Duration::from_millis(1020).saturating_sub(first.elapsed()));
        let granted = std::time::Instant::now();
        assert_eq!(app.check(&fast, SEVEN).status(), StatusCode::OK);
        let again = app.check(&fast, SEVEN).status();
        // Refused, unless this machine took a whole second for two requests (then it is due).
        if granted.elapsed() < Duration::from_millis(900) {
            assert_eq!(again, StatusCode::TOO_MANY_REQUESTS);
        } else {
            eprintln!("slow machine: the recovery's second request came after 1/N s");
        }
        // A key without a rate is not limited, unless the server has a default rate.
        let free = env.create_key("free", &["--limit", "100"]);
        for _ in 0..6 {
            assert_eq!(app.check(&free, SEVEN).status(), StatusCode::OK);
        }
        let strict = env.spawn(&["--default-rate", "2/m"]);
        let other = env.create_key("other", &["--limit", "100"]);
        assert_eq!(strict.check(&other, SEVEN).status(), StatusCode::OK);
        assert_eq!(strict.check(&other, SEVEN).status(), StatusCode::OK);
        assert_eq!(
            strict.check(&other, SEVEN).status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}

/// Three keys in a group of 10 units, hammered at once (from two instances on PostgreSQL):
/// exactly 10 `200`s in total; the history counts them too.
#[test]
fn a_group_quota_is_shared_exactly() {
    for env in envs() {
        let out = env.cli(&["groups", "create", "team", "--limit", "10"]);
        assert!(out.status.success(), "{out:?}");
        let keys: Vec<String> = (0..3)
            .map(|i| env.create_key(&format!("member{i}"), &["--group", "team"]))
            .collect();
        let a = env.spawn(&[]);
        let b = env.spawn(&[]);
        let urls = [a.url("/check-prime"), b.url("/check-prime")];
        let requests = (0..60)
            .map(|i| (urls[i % 2].clone(), keys[i % 3].clone()))
            .collect();
        let statuses = concurrent(requests);
        assert_eq!(count(&statuses, StatusCode::OK), 10, "{statuses:?}");
        for key in &keys {
            let u = b.usage(key);
            assert_eq!(
                (u["group"].as_str(), u["used"].as_i64()),
                (Some("team"), Some(10))
            );
            let r = a.check(key, SEVEN);
            let body = assert_problem(r, StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(body["violated-policies"], serde_json::json!(["quota"]));
        }
        let listed: Vec<Value> = env.list();
        assert!(
            listed
                .iter()
                .all(|k| k["group"] == "team" && k["used"] == 10)
        );
        let history: i64 = env.sql_i64("SELECT used FROM usage_days").iter().sum();
        assert_eq!(history, 10);
        // groups list --json and reset-usage.
        let out = env.cli(&["groups", "list", "--json"]);
        let groups: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (
                groups[0]["name"].as_str(),
                groups[0]["used"].as_i64(),
                groups[0]["keys"].as_i64()
            ),
            (Some("team"), Some(10), Some(3))
        );
        assert!(env.cli(&["groups", "reset-usage", "team"]).status.success());
        assert_eq!(a.check(&keys[0], SEVEN).status(), StatusCode::OK);
        assert!(
            !env.cli(&["keys", "create", "--name", "x", "--group", "nope"])
                .status
                .success()
        );
    }
}

/// A key with its own quota and a grouped key hammered together from two instances: on
/// PostgreSQL, batches with only the own key lock it in one statement, batches with the grouped
/// key take the general path (groups, then keys), both charging the own key at once. Both
/// counts stay exact, and so does the history.
#[test]
fn own_and_grouped_keys_in_the_same_batches_count_exactly() {
    for env in envs() {
        let out = env.cli(&["groups", "create", "pair", "--limit", "15"]);
        assert!(out.status.success(), "{out:?}");
        let own = env.create_key("own", &["--limit", "40"]);
        let member = env.create_key("member", &["--group", "pair"]);
        let a = env.spawn(&[]);
        let b = env.spawn(&[]);
        let urls = [a.url("/check-prime"), b.url("/check-prime")];
        let is_member = |i: usize| i % 4 == 3;
        let requests = (0..240)
            .map(|i| {
                let key = if is_member(i) { &member } else { &own };
                (urls[i % 2].clone(), key.clone())
            })
            .collect();
        let statuses = concurrent(requests);
        let ok = |member: bool| {
            (statuses.iter().enumerate())
                .filter(|(i, s)| is_member(*i) == member && **s == StatusCode::OK)
                .count()
        };
        assert_eq!((ok(false), ok(true)), (40, 15), "{statuses:?}");
        assert_eq!(a.usage(&own)["used"], 40);
        assert_eq!(b.usage(&member)["used"], 15);
        assert_eq!(
            (history_of(&env, &own), history_of(&env, &member)),
            (40, 15)
        );
    }
}

/// Rotation keeps the usage, both keys share the quota during the grace, and the old key is
/// refused once it ends.
#[test]
fn rotation_keeps_usage_and_the_old_key_dies_after_its_grace() {
    for env in envs() {
        let old = env.create_key("laptop", &["--limit", "10", "--rate", "100/s"]);
        let app = env.spawn(&[]);
        for _ in 0..3 {
            assert_eq!(app.check(&old, SEVEN).status(), StatusCode::OK);
        }
        let id = env.id_of(&old).to_string();
        let out = env.cli(&["keys", "rotate", &id, "--grace", "2s"]);
        assert!(out.status.success(), "{out:?}");
        let new = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(new.starts_with("pk_") && !new.contains('\n'), "{new}");
        let u = app.usage(&new);
        assert_eq!(
            (u["name"].as_str(), u["used"].as_i64()),
            (Some("laptop"), Some(3))
        );
        assert_eq!(u["rate"], "100/s");
        assert_eq!(app.check(&old, SEVEN).status(), StatusCode::OK);
        assert_eq!(app.check(&new, SEVEN).status(), StatusCode::OK);
        assert_eq!(app.usage(&new)["used"], 5);
        assert_eq!(app.usage(&old)["used"], 5);
        let listed = env.list();
        assert!(listed[0]["graceEndsAt"].is_string());
        assert!(listed[1]["graceEndsAt"].is_null());
        // Rotating the old key again is refused; the new one can be.
        assert!(
            !env.cli(&["keys", "rotate", &id, "--grace", "0"])
                .status
                .success()
        );
        std::thread::sleep(Duration::from_millis(3100));
        assert_eq!(app.check(&old, SEVEN).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.check(&new, SEVEN).status(), StatusCode::OK);
        assert_eq!(app.usage(&new)["used"], 6);
        // --grace 0 ends the old key at once.
        let new_id = env.id_of(&new).to_string();
        let out = env.cli(&["keys", "rotate", &new_id, "--grace", "0"]);
        assert!(out.status.success(), "{out:?}");
        let newest = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(app.check(&new, SEVEN).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.usage(&newest)["used"], 6);
    }
}

fn options(retention_days: u32) -> StoreOptions {
    StoreOptions {
        pool: PoolOptions::default(),
        schedules: Arc::new(Schedules::new("0 0 0 * * *").unwrap()),
        policies: Policies {
            default_rate: None,
            retention_days,
        },
    }
}

/// History per UTC day across a day boundary (the store's clock injected), retention honoured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_counts_per_utc_day_and_is_pruned() {
    let mut envs = vec![TestEnv::new()];
    if let Some((env, _)) = tokio::task::spawn_blocking(TestEnv::postgres)
        .await
        .unwrap()
    {
        envs.push(env);
    }
    for env in envs {
        let url = DatabaseUrl::parse(&env.db_url).unwrap();
        let store = Store::connect(&url, &options(2)).await.unwrap();
        let k = prime_server::domain::keys::generate().unwrap();
        let new = prime_server::store::NewKey {
            name: "h".to_owned(),
            prefix: k.display_prefix.clone(),
            hash: k.hash,
            state: prime_server::domain::quota::KeyState::new(100, None, None),
            now: Utc::now().timestamp(),
        };
        let id = store.create_key(&new).await.unwrap();
        let day: i64 = 20_000; // 2024-10-04
        let before_midnight = (day + 1) * 86_400 * 1_000_000 - 500_000;
        let after_midnight = (day + 1) * 86_400 * 1_000_000 + 500_000;
        let hash: KeyHash = k.hash;
        for _ in 0..3 {
            let c = store
                .consume_at(&hash, Demand::Exactly(1), before_midnight)
                .await
                .unwrap();
            assert!(matches!(c.decision, Decision::Granted { .. }));
        }
        let c = store
            .consume_at(&hash, Demand::Exactly(2), after_midnight)
            .await
            .unwrap();
        assert!(matches!(c.decision, Decision::Granted { .. }));
        let h = store.key_history(id, day - 5).await.unwrap();
        let seen: Vec<(i64, u64)> = h.iter().map(|d| (d.day, d.used)).collect();
        assert_eq!(seen, vec![(day, 3), (day + 1, 2)]);
        // Retention 2 days: on day + 2, day itself is gone.
        let pruned = store.prune_history((day + 2) * 86_400 + 10).await.unwrap();
        assert_eq!(pruned, 1);
        let h = store.key_history(id, day - 5).await.unwrap();
        assert_eq!(h.len(), 1);
        // Retention 0 records nothing.
        store.close().await;
        let off = Store::connect(&url, &options(0)).await.unwrap();
        off.consume_at(&hash, Demand::Exactly(1), after_midnight)
            .await
            .unwrap();
        assert_eq!(off.key_history(id, day - 5).await.unwrap()[0].used, 2);
        // On day + 3, day + 1 goes too, wherever the store holds it.
        assert_eq!(off.prune_history((day + 3) * 86_400 + 10).await.unwrap(), 1);
        assert!(off.key_history(id, day - 5).await.unwrap().is_empty());
        off.close().await;
    }
}

/// `GET /usage?days=N` and `keys usage` show the `200`s seen, per UTC day.
#[test]
fn usage_history_over_http_and_the_cli() {
    let env = TestEnv::new();
    let key = env.create_key("u", &["--limit", "100"]);
    let app = env.spawn(&[]);
    for _ in 0..4 {
        assert_eq!(app.check(&key, SEVEN).status(), StatusCode::OK);
    }
    let r = app.get("/usage?days=3", Some(&key));
    assert_eq!(r.status(), StatusCode::OK);
    let u: Value = r.json().unwrap();
    let history = u["history"].as_array().unwrap();
    assert_eq!(history.len(), 3);
    let today = Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(history[2]["date"], today.as_str());
    let total: i64 = history.iter().map(|d| d["used"].as_i64().unwrap()).sum();
    assert_eq!(total, 4);
    assert_problem(
        app.get("/usage?days=0", Some(&key)),
        StatusCode::BAD_REQUEST,
    );
    let id = env.id_of(&key).to_string();
    let out = env.cli(&["keys", "usage", &id, "--days", "7", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["total"], 4);
    assert_eq!(report["history"].as_array().unwrap().len(), 7);
    let out = env.cli(&["keys", "usage", &id, "--days", "3"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("{today}     4  ")), "{text}");
    assert!(text.contains('█'), "{text}");
}

/// A key's units of its latest day are counted in its own row (`store/sqlite/hot.rs`,
/// `count_usage`): the first unit of a later day moves that count into `usage_history`, adding
/// to what the table already holds for the day; a unit of a day before the row's goes to the
/// table directly. `/usage` shows every day exactly throughout.
#[test]
fn the_count_in_the_key_row_moves_into_the_history_when_a_new_day_begins() {
    let env = TestEnv::new();
    let key = env.create_key("days", &["--limit", "100"]);
    let id = env.id_of(&key);
    let app = env.spawn(&[]);
    let days = |n: usize| -> Vec<i64> {
        let u: Value = app
            .get(&format!("/usage?days={n}"), Some(&key))
            .json()
            .unwrap();
        let history = u["history"].as_array().unwrap().clone();
        history
            .iter()
            .map(|d| d["used"].as_i64().unwrap())
            .collect()
    };
    for _ in 0..4 {
        assert_eq!(app.check(&key, SEVEN).status(), StatusCode::OK);
    }
    assert_eq!(env.sql_i64("SELECT COUNT(*) FROM usage_history"), [0]);
    // Pretend those 4 were yesterday's, and the table already holds 10 of yesterday's.
    env.sql_exec(&format!(
        "INSERT INTO usage_history (key_id, day, used) \
         SELECT id, usage_day - 1, 10 FROM api_keys WHERE id = {id}"
    ));
    env.sql_exec(&format!(
        "UPDATE api_keys SET usage_day = usage_day - 1 WHERE id = {id}"
    ));
    assert_eq!(days(2), [14, 0]);
    for _ in 0..3 {
        assert_eq!(app.check(&key, SEVEN).status(), StatusCode::OK);
    }
    assert_eq!(days(2), [14, 3]);
    assert_eq!(env.sql_i64("SELECT used FROM usage_history"), [14]);
    assert_eq!(env.sql_i64("SELECT usage_day_used FROM api_keys"), [3]);
    // A row counting tomorrow already (a request of today committed late): today's unit goes
    // to the table, the row's count stays as it is.
    env.sql_exec(&format!(
        "UPDATE api_keys SET usage_day = usage_day + 1 WHERE id = {id}"
    ));
    assert_eq!(app.check(&key, SEVEN).status(), StatusCode::OK);
    assert_eq!(env.sql_i64("SELECT usage_day_used FROM api_keys"), [3]);
    assert_eq!(
        env.sql_i64("SELECT used FROM usage_history ORDER BY day"),
        [14, 1]
    );
}

trait UsageOr429 {
    fn usage_or_429(&self, key: &str) -> Option<Value>;
}

impl UsageOr429 for crate::common::TestApp {
    /// `/usage`, or `None` when the burst limit refuses it.
    fn usage_or_429(&self, key: &str) -> Option<Value> {
        let r = self.get("/usage", Some(key));
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            return None;
        }
        Some(r.json().unwrap())
    }
}

/// Rotating a key while two instances serve it at full speed loses no unit: every `200` before,
/// during and after the rotation is in the one shared count.
#[test]
fn rotation_under_load_keeps_the_count_exact() {
    for env in envs() {
        let old = env.create_key("busy", &["--limit", "1000000"]);
        let a = env.spawn(&[]);
        let b = env.spawn(&[]);
        let urls = [a.url("/check-prime"), b.url("/check-prime")];
        let stop = std::time::Instant::now() + Duration::from_millis(1500);
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let (url, key) = (urls[t % 2].clone(), old.clone());
                std::thread::spawn(move || {
                    let client = client();
                    let mut ok = 0;
                    while std::time::Instant::now() < stop {
                        let r = client
                            .post(&url)
                            .header("Authorization", &key)
                            .header("Content-Type", "application/json")
                            .body(SEVEN)
                            .send()
                            .unwrap();
                        assert_eq!(r.status(), StatusCode::OK);
                        ok += 1;
                    }
                    ok
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        let id = env.id_of(&old).to_string();
        let out = env.cli(&["keys", "rotate", &id, "--grace", "1h"]);
        assert!(out.status.success(), "{out:?}");
        let new = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let seen: i64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
        assert!(seen > 0);
        assert_eq!(a.usage(&new)["used"], seen);
        assert_eq!(b.usage(&old)["used"], seen);
        let history: i64 = env.sql_i64("SELECT used FROM usage_days").iter().sum();
        assert_eq!(history, seen);
    }
}

fn post(
    app: &crate::common::TestApp,
    path: &str,
    key: &str,
    content_type: &str,
    body: String,
) -> reqwest::blocking::Response {
    app.client
        .post(app.url(path))
        .header("Authorization", key)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .unwrap()
}

/// The units of `key` in the usage history, all days together.
fn history_of(env: &TestEnv, key: &str) -> i64 {
    let id = env.id_of(key);
    env.sql_i64(&format!("SELECT used FROM usage_days WHERE key_id = {id}"))
        .iter()
        .sum()
}

/// The routes that came with batches and proofs: a JSON batch, an NDJSON stream (however many
/// chunks it is charged in), a batch with no valid number and `/verify-certificate` each take
/// exactly one place in the burst limit and show both policies; over it each is refused with
/// `["burst"]` and charges nothing; the history holds exactly the units charged.
#[test]
fn batches_streams_and_certificates_take_one_place_each() {
    let n: primality::BigUint = "170141183460469231731687303715884105727".parse().unwrap();
    let certificate = primality::prove(&n, primality::Effort::unlimited())
        .unwrap()
        .to_json();
    for env in envs() {
        let key = env.create_key("batches", &["--limit", "100", "--rate", "4/m"]);
        let a = env.spawn(&[]);
        // Chunks of 2 lines: a stream of 9 lines is charged 5 times.
        let s = env.spawn(&["--max-batch", "2"]);
        let batch = |app, body: &str| {
            post(
                app,
                "/check-prime/batch",
                &key,
                "application/json",
                body.to_owned(),
            )
        };
        let stream = |app, body: &str| {
            post(
                app,
                "/check-prime/batch",
                &key,
                "application/x-ndjson",
                body.to_owned(),
            )
        };
        let verify = |app| {
            post(
                app,
                "/verify-certificate",
                &key,
                "application/json",
                certificate.clone(),
            )
        };

        let r = batch(&a, r#"{"numbers": [2, 3, 5, "x", 7]}"#);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            header(&r, "RateLimit-Policy"),
            "\"burst\";q=4;w=60, \"quota\";q=100;w=86400"
        );
        let rl = header(&r, "RateLimit");
        assert!(
            rl.starts_with("\"burst\";r=3;t=15, \"quota\";r=96;t="),
            "{rl}"
        );

        let r = stream(&s, "11\n13\nx\n17\n19\n23\n29\n31\n37\n");
        assert_eq!(r.status(), StatusCode::OK);
        let rl = header(&r, "RateLimit");
        assert!(rl.starts_with("\"burst\";r=2;"), "{rl}");
        let text = r.text().unwrap();
        assert_eq!(text.lines().count(), 9, "{text}");
        assert!(!text.contains("\"status\":429"), "{text}");
        assert_eq!(env.list()[0]["used"], 12);

        // Nothing to charge, one place all the same.
        let r = batch(&a, r#"{"numbers": ["x", 1.5]}"#);
        assert_eq!(r.status(), StatusCode::OK);
        let rl = header(&r, "RateLimit");
        assert!(rl.starts_with("\"burst\";r=1;t=4"), "{rl}");
        assert!(rl.contains(", \"quota\";r=88;"), "{rl}");

        let r = verify(&a);
        assert_eq!(r.status(), StatusCode::OK);
        let rl = header(&r, "RateLimit");
        assert!(rl.starts_with("\"burst\";r=0;"), "{rl}");
        assert_eq!(r.json::<Value>().unwrap()["valid"], true);
        assert_eq!(env.list()[0]["used"], 13);

        // Over the burst limit: every one of them refused, nothing charged.
        for r in [
            batch(&a, "{\"numbers\": [2]}"),
            batch(&a, "{\"numbers\": []}"),
            verify(&a),
            stream(&a, ""),
            stream(&s, "2\n3\n5\n"),
        ] {
            let retry: u64 = header(&r, "Retry-After").parse().unwrap();
            assert!((1..=15).contains(&retry), "{retry}");
            assert!(header(&r, "RateLimit").starts_with("\"burst\";r=0;"));
            let body = assert_problem(r, StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(body["violated-policies"], serde_json::json!(["burst"]));
        }
        assert_eq!(env.list()[0]["used"], 13);
        assert_eq!(history_of(&env, &key), 13);
        let metrics = a.get("/metrics", None).text().unwrap();
        assert!(
            metrics.contains("prime_policy_rejections_total{policy=\"burst\"} 4"),
            "{metrics}"
        );

        // A stream cut by the quota: the history holds exactly the lines answered.
        let small = env.create_key("small", &["--limit", "3"]);
        let r = post(
            &s,
            "/check-prime/batch",
            &small,
            "application/x-ndjson",
            "2\n3\n5\n7\n".into(),
        );
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[3].starts_with("{\"status\":429"), "{text}");
        assert_eq!(s.usage(&small)["used"], 3);
        assert_eq!(history_of(&env, &small), 3);
        let metrics = s.get("/metrics", None).text().unwrap();
        assert!(
            metrics.contains("prime_policy_rejections_total{policy=\"quota\"} 1"),
            "{metrics}"
        );
    }
}
