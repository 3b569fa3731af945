//! The example nginx configuration (`docs/nginx/prime-api.conf`), run for real: nginx in front
//! of two `prime-server` instances on one PostgreSQL database. Checks exact counting through
//! the proxy, and that `X-Forwarded-For` is honoured only when the instances name nginx with
//! `--trusted-proxy` (and cannot be forged by a client even then).
//!
//! Skipped with a message when `PRIME_TEST_POSTGRES_URL` is unset or no `nginx` binary exists.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{StatusCode, TestApp, TestEnv};

const CONF: &str = include_str!("../../../../docs/nginx/prime-api.conf");

fn nginx_binary() -> Option<PathBuf> {
    let from_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("nginx"))
            .find(|p| p.is_file())
    });
    from_path.or_else(|| {
        let p = PathBuf::from("/usr/sbin/nginx");
        p.is_file().then_some(p)
    })
}

/// nginx running the example config in the foreground, with its own prefix, pid and logs.
struct Nginx {
    child: Child,
    _dir: tempfile::TempDir,
    base: String,
}

impl Nginx {
    fn start(bin: &PathBuf, upstreams: [&str; 2]) -> Nginx {
        let dir = tempfile::Builder::new()
            .prefix("prime-nginx-")
            .tempdir()
            .unwrap();
        // Workers may run as another user (nobody) when we are root: let them in.
        let _ = Command::new("chmod")
            .args(["0755"])
            .arg(dir.path())
            .status();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Substitute the example's addresses; each substitution must hit, so the test notices
        // if the documented file changes shape.
        let mut conf = CONF.to_owned();
        for (from, to) in [
            (
                "server 127.0.0.1:5001 ",
                format!("server {} ", upstreams[0]),
            ),
            (
                "server 127.0.0.1:5002 ",
                format!("server {} ", upstreams[1]),
            ),
            ("listen 80;", format!("listen 127.0.0.1:{port};")),
        ] {
            assert!(
                conf.contains(from),
                "docs/nginx/prime-api.conf lost '{from}'"
            );
            conf = conf.replace(from, &to);
        }
        std::fs::write(dir.path().join("prime-api.conf"), conf).unwrap();
        let d = dir.path().display();
        let main = format!(
            "worker_processes 1;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
               access_log {d}/access.log;\n\
               client_body_temp_path {d}/body;\n\
               proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n\
               include {d}/prime-api.conf;\n\
             }}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
        let check = Command::new(bin)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-t")
            .output()
            .unwrap();
        assert!(check.status.success(), "nginx -t: {check:?}");
        let child = Command::new(bin)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let client = crate::common::client();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = client.get(format!("{base}/healthz")).send()
                && r.status() == StatusCode::OK
            {
                break;
            }
            assert!(Instant::now() < deadline, "nginx did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx {
            child,
            _dir: dir,
            base,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM (fast shutdown) lets the master stop its workers; SIGKILL would orphan them.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client whose connections come from `from` (any 127.x address is local on Linux).
fn client_from(from: &str) -> reqwest::blocking::Client {
    let _ = crate::common::client();
    reqwest::blocking::Client::builder()
        .no_proxy()
        .local_address(from.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn bad_key(client: &reqwest::blocking::Client, base: &str, forged: Option<&str>) -> StatusCode {
    let mut req = client
        .get(format!("{base}/usage"))
        .header("Authorization", "pk_not_a_real_key");
    if let Some(f) = forged {
        req = req.header("X-Forwarded-For", f);
    }
    req.send().unwrap().status()
}

fn setup() -> Option<(PathBuf, TestEnv)> {
    let (env, _) = TestEnv::postgres()?;
    let Some(bin) = nginx_binary() else {
        eprintln!("skipped: no nginx binary (apt-get install nginx-light)");
        return None;
    };
    Some((bin, env))
}

#[test]
fn nginx_in_front_of_two_instances_counts_exactly() {
    let Some((bin, env)) = setup() else {
        return;
    };
    let key = env.create_key("shared", &["--limit", "20"]);
    let args = ["--trusted-proxy", "127.0.0.1"];
    let (a, b) = (env.spawn(&args), env.spawn(&args));
    let nginx = Nginx::start(&bin, [&a.addr(), &b.addr()]);

    let statuses =
        crate::common::concurrent_checks(&[format!("{}/check-prime", nginx.base)], &key, 100);
    let ok = crate::common::count(&statuses, StatusCode::OK);
    let limited = crate::common::count(&statuses, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((ok, limited), (20, 80), "{statuses:?}");
    assert_eq!(env.sql_i64("SELECT used FROM api_keys"), vec![20]);
    // Both instances served part of the burst (their own metrics say so).
    for s in [&a, &b] {
        let metrics = s.get("/metrics", None).text().unwrap();
        assert!(
            metrics.contains("prime_http_requests_total{route=\"/check-prime\""),
            "{metrics}"
        );
    }
    // prime-server's own JSON bodies come through (429 with the tutorial's text).
    let r = crate::common::client()
        .post(format!("{}/check-prime", nginx.base))
        .header("Authorization", &key)
        .header("Content-Type", "application/json")
        .body(r#"{"number": 7}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(
        body["error"],
        "Request limit exceeded. Please try again later."
    );
}

/// Exhaust the failed-auth budget of 127.0.0.2 on both instances (burst 2 each).
fn exhaust(base: &str) -> reqwest::blocking::Client {
    let attacker = client_from("127.0.0.2");
    let statuses: Vec<StatusCode> = (0..12).map(|_| bad_key(&attacker, base, None)).collect();
    let unauthorized = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(unauthorized <= 4, "{statuses:?}");
    assert!(
        statuses[8..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    attacker
}

fn spawn_pair(env: &TestEnv, trusted: bool) -> (TestApp, TestApp) {
    let mut args = vec![
        "--auth-failure-burst",
        "2",
        "--auth-failure-period-ms",
        "600000",
    ];
    if trusted {
        args.extend(["--trusted-proxy", "127.0.0.1"]);
    }
    (env.spawn(&args), env.spawn(&args))
}

#[test]
fn x_forwarded_for_is_honoured_only_with_trusted_proxy() {
    let Some((bin, env)) = setup() else {
        return;
    };
    let key = env.create_key("k", &["--limit", "10"]);

    // With --trusted-proxy 127.0.0.1 (nginx's address): each client is throttled on its own.
    let (a, b) = spawn_pair(&env, true);
    let nginx = Nginx::start(&bin, [&a.addr(), &b.addr()]);
    let attacker = exhaust(&nginx.base);
    // A forged X-Forwarded-For does not get the throttled client out (nginx appends the real
    // peer, and the server takes the right-most untrusted address).
    for _ in 0..4 {
        assert_eq!(
            bad_key(&attacker, &nginx.base, Some("198.51.100.9")),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    // Another client, same nginx: not throttled, and its good key works.
    let other = client_from("127.0.0.3");
    assert_eq!(bad_key(&other, &nginx.base, None), StatusCode::UNAUTHORIZED);
    let r = other
        .get(format!("{}/usage", nginx.base))
        .header("Authorization", &key)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    drop(nginx);
    drop((a, b));

    // Without --trusted-proxy: the header is ignored, every client is nginx's 127.0.0.1, so
    // one client's failures throttle everybody behind the proxy.
    let (a, b) = spawn_pair(&env, false);
    let nginx = Nginx::start(&bin, [&a.addr(), &b.addr()]);
    exhaust(&nginx.base);
    let other = client_from("127.0.0.3");
    assert_eq!(
        bad_key(&other, &nginx.base, None),
        StatusCode::TOO_MANY_REQUESTS
    );
}
