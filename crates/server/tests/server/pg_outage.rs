//! PostgreSQL stopped mid-run, then restarted: metered and authenticated routes fail closed
//! (`503` + `Retry-After`), `/healthz` says `503`, and once the database is back the same
//! `prime-server` process serves again with exact counts (units stored = `200`s seen).
//!
//! Uses a PRIVATE PostgreSQL cluster (initdb into a temp dir, its own port), never the shared
//! one. Needs root (initdb/postgres run as the `postgres` OS user through `runuser`) and the
//! PostgreSQL 15 binaries; skipped with a message otherwise, or when `PRIME_TEST_POSTGRES_URL`
//! is unset (as every PostgreSQL test).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common::{StatusCode, TestEnv};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const SEVEN: &str = r#"{"number": 7}"#;

/// A private PostgreSQL cluster; stopped (immediately) and removed on drop.
struct PrivatePg {
    dir: tempfile::TempDir,
    port: u16,
}

fn runuser_pg(args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .args(args)
        .output()
        .unwrap()
}

impl PrivatePg {
    /// `None` (after saying why) when this machine cannot run one.
    fn start() -> Option<PrivatePg> {
        if std::env::var("PRIME_TEST_POSTGRES_URL").is_err() {
            eprintln!("skipped: PRIME_TEST_POSTGRES_URL is not set");
            return None;
        }
        let uid = Command::new("id").arg("-u").output().ok()?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            eprintln!("skipped: needs root to run a private PostgreSQL as user postgres");
            return None;
        }
        let have = |p: &str| Path::new(p).exists();
        if !have(&format!("{PG_BIN}/initdb")) || !have(&format!("{PG_BIN}/pg_ctl")) {
            eprintln!("skipped: PostgreSQL binaries not found in {PG_BIN}");
            return None;
        }
        if Command::new("runuser").arg("--help").output().is_err() {
            eprintln!("skipped: runuser is not available");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("prime-pg-")
            .tempdir()
            .unwrap();
        let chown = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(chown.success());
        let data = dir.path().join("data");
        let out = runuser_pg(&[
            &format!("{PG_BIN}/initdb"),
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "--no-instructions",
        ]);
        assert!(out.status.success(), "initdb failed: {out:?}");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = PrivatePg { dir, port };
        pg.pg_ctl_start();
        Some(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl_start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log");
        let out = runuser_pg(&[
            &format!("{PG_BIN}/pg_ctl"),
            "-D",
            self.data().to_str().unwrap(),
            "-o",
            &opts,
            "-l",
            log.to_str().unwrap(),
            "-w",
            "-t",
            "60",
            "start",
        ]);
        assert!(out.status.success(), "pg_ctl start failed: {out:?}");
    }

    fn pg_ctl_stop(&self, mode: &str) {
        let out = runuser_pg(&[
            &format!("{PG_BIN}/pg_ctl"),
            "-D",
            self.data().to_str().unwrap(),
            "-m",
            mode,
            "-w",
            "-t",
            "60",
            "stop",
        ]);
        assert!(out.status.success(), "pg_ctl stop failed: {out:?}");
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = runuser_pg(&[
            &format!("{PG_BIN}/pg_ctl"),
            "-D",
            self.data().to_str().unwrap_or(""),
            "-m",
            "immediate",
            "-w",
            "stop",
        ]);
    }
}

fn assert_503_retry_after(r: crate::common::StatusCode, retry_after: Option<String>, what: &str) {
    assert_eq!(r, StatusCode::SERVICE_UNAVAILABLE, "{what}");
    let ra = retry_after.unwrap_or_else(|| panic!("{what}: no Retry-After"));
    assert!(ra.parse::<u64>().is_ok_and(|s| s >= 1), "{what}: {ra}");
}

#[test]
fn postgres_stopped_mid_run_fails_closed_then_recovers_with_exact_counts() {
    let Some(pg) = PrivatePg::start() else {
        return;
    };
    let (env, _) = TestEnv::postgres_at(&pg.url());
    let key = env.create_key("k", &["--limit", "100000"]);
    let server = env.spawn(&["--db-acquire-timeout-ms", "1000"]);
    let ok_seen = Arc::new(AtomicU64::new(0));
    for _ in 0..10 {
        assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);
        ok_seen.fetch_add(1, Ordering::SeqCst);
    }

    // Background load through the whole outage: every 200 is counted.
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..3)
        .map(|_| {
            let (url, key) = (server.url("/check-prime"), key.clone());
            let (stop, ok_seen) = (Arc::clone(&stop), Arc::clone(&ok_seen));
            std::thread::spawn(move || {
                let client = crate::common::client();
                let mut other = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let r = client
                        .post(&url)
                        .header("Authorization", &key)
                        .header("Content-Type", "application/json")
                        .body(SEVEN)
                        .send()
                        .unwrap();
                    match r.status() {
                        StatusCode::OK => {
                            ok_seen.fetch_add(1, Ordering::SeqCst);
                        }
                        StatusCode::SERVICE_UNAVAILABLE => {
                            other += 1;
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        s => panic!("unexpected status {s}"),
                    }
                }
                other
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    assert!(ok_seen.load(Ordering::SeqCst) > 10, "load is flowing");

    // Stop PostgreSQL for real (fast shutdown: sessions are terminated).
    pg.pg_ctl_stop("fast");
    let down_at = Instant::now();
    // Whatever the pool still holds, every answer while down is a fail-closed 503.
    for _ in 0..3 {
        for (path, metered) in [
            ("/check-prime", true),
            ("/usage", false),
            ("/get-current-time", false),
        ] {
            let r = if metered {
                server.check(&key, SEVEN)
            } else {
                server.get(path, Some(&key))
            };
            let ra = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            assert_503_retry_after(r.status(), ra, path);
        }
        assert_eq!(
            server.get("/healthz", None).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    assert!(down_at.elapsed() < Duration::from_secs(30));
    let during = ok_seen.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(ok_seen.load(Ordering::SeqCst), during, "no 200 while down");

    // Restart on the same port and data directory; the same server process recovers.
    pg.pg_ctl_start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.healthy() {
        assert!(Instant::now() < deadline, "no recovery after restart");
        std::thread::sleep(Duration::from_millis(100));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = server.check(&key, SEVEN);
        if r.status() == StatusCode::OK {
            ok_seen.fetch_add(1, Ordering::SeqCst);
            break;
        }
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(Instant::now() < deadline, "/check-prime did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::SeqCst);
    let unavailable: u64 = load.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(unavailable > 0, "the load saw the outage");
    for _ in 0..5 {
        assert_eq!(server.check(&key, SEVEN).status(), StatusCode::OK);
        ok_seen.fetch_add(1, Ordering::SeqCst);
    }
    let usage = server.usage(&key);
    assert_eq!(
        server.get("/get-current-time", Some(&key)).status(),
        StatusCode::OK
    );
    // Exact: every 200 consumed one unit, nothing else did (no 503 was charged, nothing lost).
    let seen = ok_seen.load(Ordering::SeqCst) as i64;
    assert_eq!(usage["used"].as_i64(), Some(seen));
    assert_eq!(env.sql_i64("SELECT used FROM api_keys"), vec![seen]);
}
