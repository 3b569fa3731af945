//! Exact, persistent quotas and cron resets on a real SQLite file (the real binary where a
//! signal or `kill -9` is the point).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{StatusCode, TestEnv};

const SEVEN: &str = r#"{"number": 7}"#;

#[test]
fn hundred_concurrent_requests_with_ten_units_left_get_exactly_ten() {
    let env = TestEnv::new();
    let key = env.create_key("race", &["--limit", "15"]);
    let server = env.spawn(&[]);
    for _ in 0..5 {
        assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);
    }
    let statuses = crate::common::concurrent_checks(&[server.url("/check-prime")], &key, 100);
    let ok = crate::common::count(&statuses, StatusCode::OK);
    let limited = crate::common::count(&statuses, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((ok, limited), (10, 90), "{statuses:?}");
    let u = server.usage(&key);
    assert_eq!(u["used"], 15);
    assert_eq!(u["remaining"], 0);
    assert_eq!(
        env.sql_i64("SELECT used FROM api_keys WHERE name = 'race'"),
        vec![15]
    );
}

#[test]
fn counts_survive_kill_9() {
    let env = TestEnv::new();
    let key = env.create_key("k", &["--limit", "5"]);
    let server = env.spawn_process(&[]);
    for _ in 0..3 {
        assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);
    }
    server.kill9();

    let server = env.spawn_process(&[]);
    let u = server.usage(&key);
    assert_eq!(
        (u["used"].as_i64(), u["remaining"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);
    // Kill again right after an answered request: it is already durable.
    server.kill9();
    let server = env.spawn_process(&[]);
    assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);
    assert_eq!(
        server.check(&key, SEVEN).status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(server.usage(&key)["used"], 5);
}

/// Wait until just after the next multiple of `every` seconds (UTC), plus `margin`.
fn sleep_past_next_fire(every: i64, margin: Duration) {
    let now = chrono::Utc::now();
    let secs = now.timestamp();
    let next = (secs / every + 1) * every;
    let wait_ms = (next * 1000 - now.timestamp_millis()).max(0) as u64;
    std::thread::sleep(Duration::from_millis(wait_ms) + margin);
}

#[test]
fn cron_reset_fires_every_few_seconds() {
    let env = TestEnv::new();
    let key = env.create_key(
        "cron",
        &["--limit", "2", "--reset-schedule", "*/4 * * * * *"],
    );
    let server = env.spawn(&[]);
    // Start right after a fire so the whole sequence fits in one period.
    sleep_past_next_fire(4, Duration::from_millis(100));
    let r = server.check(&key, SEVEN);
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["ratelimit-policy"], "\"quota\";q=2;w=4");
    assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);
    assert_eq!(
        server.check(&key, SEVEN).status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        env.sql_i64("SELECT used FROM api_keys WHERE name = 'cron'"),
        vec![2]
    );
    // The scheduler's job (not just the lazy check) resets the stored count at the fire time.
    // The job wakes at the fire time; 1.5 s of slack covers a loaded machine.
    sleep_past_next_fire(4, Duration::from_millis(1500));
    assert_eq!(
        env.sql_i64("SELECT used FROM api_keys WHERE name = 'cron'"),
        vec![0]
    );
    let u = server.usage(&key);
    assert_eq!(u["used"], 0);
    assert_eq!(u["resetSchedule"], "*/4 * * * * *");
    assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);
}

#[test]
fn lazy_reset_is_exact_without_the_scheduler() {
    // The per-key schedule and the default schedule both reset in the consume statement itself,
    // even before any job runs: use a schedule that fires every second.
    let env = TestEnv::new();
    let own = env.create_key("own", &["--limit", "1", "--reset-schedule", "* * * * * *"]);
    let default = env.create_key("default-schedule", &["--limit", "1"]);
    let server = env.spawn(&["--reset-schedule", "* * * * * *"]);
    for key in [&own, &default] {
        for _ in 0..3 {
            sleep_past_next_fire(1, Duration::from_millis(50));
            assert_eq!(server.check(key, SEVEN).status(), StatusCode::OK);
            assert_eq!(
                server.check(key, SEVEN).status(),
                StatusCode::TOO_MANY_REQUESTS
            );
        }
    }
}

#[test]
fn reset_missed_while_down_is_applied_at_start() {
    let env = TestEnv::new();
    let key = env.create_key("k", &["--limit", "3"]);
    let server = env.spawn(&[]);
    for _ in 0..3 {
        assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);
    }
    server.stop();
    assert_eq!(env.sql_i64("SELECT used FROM api_keys"), vec![3]);
    // While the server is down, the period's end (a daily 00:00 UTC fire) passes.
    env.sql_exec("UPDATE api_keys SET next_reset_at = next_reset_at - 86400, period_start = period_start - 86400");
    let server = env.spawn(&[]);
    // Applied at start, before any request: the stored count is 0 and a new period is open.
    assert_eq!(env.sql_i64("SELECT used FROM api_keys"), vec![0]);
    let next = env.sql_i64("SELECT next_reset_at FROM api_keys")[0];
    assert!(next > chrono::Utc::now().timestamp());
    assert_eq!(server.usage(&key)["remaining"], 3);
    assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);
}

/// `/get-current-time` and `/usage` authenticate from the keys read since the `-shm` file's
/// wal-index header last changed (`store/sqlite/known.rs`): every change made by another
/// process (the CLI) must still bite on the very next request, and the server's own consumes
/// must show in `/usage` at once.
#[test]
fn keys_known_on_the_writer_are_never_stale() {
    let env = TestEnv::new();
    let key = env.create_key("k", &["--limit", "100"]);
    let id = env.id_of(&key).to_string();
    let server = env.spawn(&[]);
    let time = |k: &str| server.get("/get-current-time", Some(k)).status();
    for _ in 0..3 {
        assert_eq!(time(&key), StatusCode::OK);
    }
    // Our own commits change the header too.
    for used in 1..=2 {
        assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);
        assert_eq!(server.usage(&key)["used"], used);
    }
    assert!(
        env.cli(&["keys", "update", &id, "--limit", "50"])
            .status
            .success()
    );
    assert_eq!(server.usage(&key)["limit"], 50);
    assert!(
        env.cli(&["keys", "update", &id, "--expires-in", "3s"])
            .status
            .success()
    );
    // Expiry is in whole seconds: 2 to 3 s after the update (with "1s", a request in the next
    // second already found the key expired).
    assert_eq!(time(&key), StatusCode::OK);
    std::thread::sleep(Duration::from_millis(3100));
    assert_eq!(time(&key), StatusCode::UNAUTHORIZED);
    assert!(
        env.cli(&["keys", "update", &id, "--no-expiry"])
            .status
            .success()
    );
    assert_eq!(time(&key), StatusCode::OK);
    assert_eq!(time(&key), StatusCode::OK);
    assert!(env.cli(&["keys", "revoke", &id]).status.success());
    assert_eq!(time(&key), StatusCode::UNAUTHORIZED);
    assert_eq!(
        server.get("/usage", Some(&key)).status(),
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn revocation_expiry_and_limit_changes_take_effect_at_once() {
    let env = TestEnv::new();
    let key = env.create_key("k", &["--limit", "100"]);
    let server = env.spawn(&[]);
    let id = env.id_of(&key).to_string();
    assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);

    assert!(
        env.cli(&["keys", "update", &id, "--limit", "1"])
            .status
            .success()
    );
    assert_eq!(
        server.check(&key, SEVEN).status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert!(env.cli(&["keys", "reset-usage", &id]).status.success());
    assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);
    assert!(
        env.cli(&["keys", "update", &id, "--limit", "10"])
            .status
            .success()
    );

    assert!(
        env.cli(&["keys", "update", &id, "--expires-in", "3s"])
            .status
            .success()
    );
    // Expiry is in whole seconds: 2 to 3 s after the update.
    assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);
    std::thread::sleep(Duration::from_millis(3100));
    assert_eq!(server.check(&key, SEVEN).status(), StatusCode::UNAUTHORIZED);
    assert!(
        env.cli(&["keys", "update", &id, "--no-expiry"])
            .status
            .success()
    );
    assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);

    assert!(env.cli(&["keys", "revoke", &id]).status.success());
    assert_eq!(server.check(&key, SEVEN).status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        server.get("/get-current-time", Some(&key)).status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.get("/usage", Some(&key)).status(),
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn sigterm_lets_in_flight_requests_finish() {
    let env = TestEnv::new();
    let key = env.create_key("k", &[]);
    let mut server = env.spawn_process(&[]);
    let addr = server.addr();
    let body = r#"{"number": 7919}"#;
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // Send the head and half the body, then SIGTERM, then the rest.
    write!(
        s,
        "POST /check-prime HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..5]
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.signal_term();
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(&body.as_bytes()[5..]).unwrap();
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains("\"isPrime\":true"), "{response}");
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(st) = server.try_wait() {
            break st;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let logs = server.logs();
    assert!(logs.contains("store closed"), "{logs}");
    // The answered request was counted.
    assert_eq!(
        env.sql_i64("SELECT used FROM api_keys WHERE name = 'k'"),
        vec![1]
    );
}
