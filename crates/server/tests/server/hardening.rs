//! What an attacker or an unlucky operator tries: stalled bodies, unauthenticated work, vanishing
//! clients, a log pipe nobody reads, a descriptor limit, secrets in output, absurd input,
//! failures inside the server. Real sockets on loopback; the real binary where its process
//! (limits, stderr, exit) is the point.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use prime_server::domain::check::Check;
use prime_server::domain::keys;
use serde_json::Value;

use crate::common::{
    StatusCode, TestEnv, assert_problem, client, read_to_close, reset, stalled_request,
};

const HEAVY: &str = "2^8191 - 1";

/// `{"number": 2^8191 - 1}`: passes trial division and base 2, so it costs a full BPSW.
fn heavy_body() -> String {
    let n = (num_bigint::BigUint::from(1u8) << 8191u32) - 1u8;
    format!("{{\"number\": {n}}}")
}

/// A key that passes the format check but is in no store.
fn unknown_key() -> String {
    keys::generate().unwrap().secret
}

fn head(addr: &str, path: &str, key: &str, content_length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {content_length}"
    )
}

#[test]
fn an_unknown_key_is_refused_before_its_body_is_read() {
    let env = TestEnv::new();
    let server = env.spawn(&[]);
    let addr = server.addr();
    let start = Instant::now();
    let mut s = stalled_request(
        &addr,
        &head(&addr, "/check-prime", &unknown_key(), 60_000),
        "{\"number\"",
    );
    let answer = read_to_close(&mut s);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer.contains("tag:prime-api,2026:problems/unauthorized"),
        "{answer}"
    );
    // Answered and closed at once, without waiting for the 60000 bytes announced.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_stalled_body_gets_408_and_its_connection_is_closed() {
    let env = TestEnv::new();
    let key = env.create_key("slow", &["--limit", "5"]);
    let server = env.spawn(&["--body-timeout-ms", "300"]);
    let addr = server.addr();
    let start = Instant::now();
    let mut s = stalled_request(
        &addr,
        &head(&addr, "/check-prime", &key, 100),
        "{\"number\"",
    );
    let answer = read_to_close(&mut s);
    let waited = start.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("tag:prime-api,2026:problems/timeout"),
        "{answer}"
    );
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // Nothing was charged.
    assert_eq!(server.usage(&key)["used"], 0);
}

/// One stalled request with an unknown key: how long until its answer, and the answer.
async fn stalled_unknown(addr: String, key: String) -> (Duration, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "{}\r\n\r\n{{\"number\"",
        head(&addr, "/check-prime", &key, 60_000)
    );
    let sent = Instant::now();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer within 20 s");
    (
        sent.elapsed(),
        String::from_utf8_lossy(&answer).into_owned(),
    )
}

/// The issue's target: 1,000 concurrent stalled-body connections with unknown keys are each
/// answered `401` within a second, `/healthz` keeps a p99 under 50 ms meanwhile, and the server
/// grows by less than 50 MB. (The time limits hold for a release build; a debug build of the
/// server gets five times as long.)
#[test]
fn a_thousand_stalled_unknown_keys_are_answered_at_once() {
    let slack = if cfg!(debug_assertions) { 5 } else { 1 };
    let env = TestEnv::new();
    let _ = env.create_key("someone", &[]);
    let server = env.spawn_process(&["--auth-failure-burst", "1000000"]);
    let addr = server.addr();
    let rss_before = server.memory_kib("VmRSS");
    let health = {
        let url = server.url("/healthz");
        std::thread::spawn(move || {
            let client = client();
            let mut latencies = Vec::new();
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                let t = Instant::now();
                assert_eq!(client.get(&url).send().unwrap().status(), StatusCode::OK);
                latencies.push(t.elapsed());
                std::thread::sleep(Duration::from_millis(5));
            }
            latencies
        })
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let key = unknown_key();
    let answers = runtime.block_on(async {
        let tasks: Vec<_> = (0..1000)
            .map(|_| tokio::spawn(stalled_unknown(addr.clone(), key.clone())))
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        answers
    });
    let rss_after = server.memory_kib("VmRSS");
    let slowest = answers.iter().map(|(t, _)| *t).max().unwrap();
    for (_, answer) in &answers {
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    }
    assert!(
        slowest < Duration::from_secs(slack),
        "slowest answer after {slowest:?}"
    );
    let mut latencies = health.join().unwrap();
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    assert!(
        p99 < Duration::from_millis(50) * slack as u32,
        "healthz p99 {p99:?}"
    );
    let grown_mib = rss_after.saturating_sub(rss_before) / 1024;
    assert!(grown_mib < 50, "grew by {grown_mib} MiB");
    eprintln!(
        "1000 stalled unknown keys: slowest 401 after {slowest:?}, healthz p99 {p99:?}, +{grown_mib} MiB"
    );
}

/// Under a 200-descriptor limit, 180 stalled connections with unknown keys (and 180 with a valid
/// key, held until their body times out) never make the server run out of descriptors.
#[test]
fn the_descriptor_limit_cannot_be_exhausted() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("skipped: prlimit (util-linux) is not installed");
        return;
    }
    let env = TestEnv::new();
    let key = env.create_key("holder", &[]);
    let port_file = env.dir.path().join("port");
    let mut child = Command::new("prlimit")
        .args(["--nofile=200:200", "--"])
        .arg(crate::common::BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--database", &env.db_url])
        .args([
            "--auth-failure-burst",
            "1000000",
            "--body-timeout-ms",
            "1500",
        ])
        .arg("--port-file")
        .arg(&port_file)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        if let Ok(a) = std::fs::read_to_string(&port_file) {
            break a.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    let health = format!("http://{addr}/healthz");
    for key in [unknown_key(), key] {
        let held: Vec<TcpStream> = (0..180)
            .filter_map(|_| TcpStream::connect(&addr).ok())
            .map(|mut s| {
                let _ = s.write_all(
                    format!("{}\r\n\r\n{{", head(&addr, "/check-prime", &key, 100)).as_bytes(),
                );
                s
            })
            .collect();
        assert_eq!(held.len(), 180);
        // Whatever the connections are waiting for, the server answers a newcomer once they
        // are answered (unknown key) or time out (valid key).
        let deadline = Instant::now() + Duration::from_secs(10);
        while client().get(&health).send().map(|r| r.status()).ok() != Some(StatusCode::OK) {
            assert!(Instant::now() < deadline, "no /healthz answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(held);
    }
    let _ = child.kill();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let _ = child.wait();
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(log.contains("max_connections="), "{log}");
}

/// Wait until `/metrics` shows `name` at `value`.
fn wait_metric(server: &crate::common::Target, name: &str, value: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = server.get("/metrics", None).text().unwrap();
        let current = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse::<f64>().ok());
        if current == Some(value) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never reached {value}: {current:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Keep the one CPU thread busy with a heavy check of `key` (answered in the background).
fn occupy_the_cpu(
    server: &crate::common::TestApp,
    key: &str,
) -> std::thread::JoinHandle<StatusCode> {
    let (url, key, body) = (server.url("/check-prime"), key.to_owned(), heavy_body());
    let handle = std::thread::spawn(move || {
        client()
            .post(url)
            .header("Authorization", key)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .unwrap()
            .status()
    });
    wait_metric(server, "prime_cpu_pool_busy_threads", 1.0);
    handle
}

#[test]
fn unknown_keys_take_no_cpu_place() {
    let env = TestEnv::new();
    let key = env.create_key("k", &[]);
    let args = [
        "--cpu-threads",
        "1",
        "--cpu-queue",
        "4",
        "--cpu-queue-timeout-ms",
        "60000",
    ];
    let server = env.spawn(&[&args[..], &["--auth-failure-burst", "100"]].concat());
    let busy = occupy_the_cpu(&server, &key);
    // Four big numbers with unknown keys: refused at once, no queue place taken.
    for _ in 0..4 {
        let r = server.check(&unknown_key(), &heavy_body());
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    wait_metric(&server, "prime_cpu_pool_queue_depth", 0.0);
    // The valid key still gets a place and its answer.
    assert_eq!(
        server.check(&key, &heavy_body()).status(),
        StatusCode::OK,
        "{HEAVY}"
    );
    assert_eq!(busy.join().unwrap(), StatusCode::OK);
}

#[test]
fn queued_requests_that_vanish_give_their_place_back() {
    let env = TestEnv::new();
    let key = env.create_key("k", &[]);
    let server = env.spawn(&[
        "--cpu-threads",
        "1",
        "--cpu-queue",
        "4",
        "--cpu-queue-timeout-ms",
        "60000",
    ]);
    let busy = occupy_the_cpu(&server, &key);
    let addr = server.addr();
    let body = heavy_body();
    // Fill the queue, then reset the four connections while they wait.
    let queued: Vec<TcpStream> = (0..4)
        .map(|_| stalled_request(&addr, &head(&addr, "/check-prime", &key, body.len()), &body))
        .collect();
    wait_metric(&server, "prime_cpu_pool_queue_depth", 4.0);
    queued.into_iter().for_each(reset);
    wait_metric(&server, "prime_cpu_pool_queue_depth", 0.0);
    // The queue is whole again: four more can wait for the thread, none gets 503.
    let waiting: Vec<_> = (0..4)
        .map(|_| {
            let (url, key, body) = (server.url("/check-prime"), key.clone(), body.clone());
            std::thread::spawn(move || {
                client()
                    .post(url)
                    .header("Authorization", key)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .unwrap()
                    .status()
            })
        })
        .collect();
    assert_eq!(busy.join().unwrap(), StatusCode::OK);
    for w in waiting {
        assert_eq!(w.join().unwrap(), StatusCode::OK);
    }
}

#[test]
fn a_log_pipe_nobody_reads_does_not_stop_the_server() {
    let env = TestEnv::new();
    let key = env.create_key("k", &["--limit", "100000"]);
    let fifo = env.dir.path().join("stderr.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // A reader that opens the pipe and then reads nothing, until told to.
    let (start_reading, go) = std::sync::mpsc::channel::<()>();
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut pipe = std::fs::File::open(fifo).unwrap();
            go.recv().unwrap();
            let mut text = String::new();
            let mut buf = [0u8; 65536];
            let until = Instant::now() + Duration::from_secs(20);
            while Instant::now() < until && !text.contains("log lines were dropped") {
                let n = pipe.read(&mut buf).unwrap_or(0);
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            text
        })
    };
    let stderr = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let server = crate::common::ServerProcess::spawn_with_stderr(
        &env,
        &["--log-buffer-lines", "64"],
        Stdio::from(stderr),
    );
    // Far more request lines than the pipe (64 KiB) and the buffer (64 lines) hold.
    let client = client();
    for i in 0..3000 {
        let r = client
            .post(server.url("/check-prime"))
            .header("Authorization", &key)
            .header("Content-Type", "application/json")
            .body(format!("{{\"number\": {i}}}"))
            .timeout(Duration::from_secs(5))
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert!(server.healthy());
    let metrics = server.get("/metrics", None).text().unwrap();
    let dropped: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("prime_log_lines_dropped_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(dropped > 0.0, "{metrics}");
    // Once someone reads again, one warning says lines were lost.
    start_reading.send(()).unwrap();
    let text = reader.join().unwrap();
    assert!(
        text.contains("log lines were dropped"),
        "{}",
        &text[text.len().saturating_sub(2000)..]
    );
}

#[test]
fn passwords_never_reach_help_or_errors() {
    let env = TestEnv::new();
    let out = Command::new(crate::common::BIN)
        .arg("--help")
        .env("PRIME_DATABASE_URL", "postgres://u:PASSWORD@127.0.0.1:1/db")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--database") && !help.contains("PASSWORD"),
        "{help}"
    );
    for url in [
        "postgresx://u:PASSWORD@h/db",
        "postgres://u:PASSWORD@127.0.0.1:1/db",
    ] {
        let out = Command::new(crate::common::BIN)
            .args([
                "keys",
                "list",
                "--database",
                url,
                "--db-acquire-timeout-ms",
                "500",
            ])
            .current_dir(env.dir.path())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{text}");
        assert!(!text.contains("PASSWORD"), "{text}");
    }
}

#[test]
fn absurd_operator_input_is_refused_in_one_line() {
    let env = TestEnv::new();
    for (args, needle) in [
        (
            vec![
                "keys",
                "create",
                "--name",
                "x",
                "--expires-in",
                "10000000000000w",
            ],
            "--expires-in",
        ),
        (
            vec![
                "keys",
                "create",
                "--name",
                "x",
                "--expires-in",
                "9223372036854775807s",
            ],
            "year 10000",
        ),
        (
            vec![
                "keys",
                "create",
                "--name",
                "x",
                "--limit",
                "99999999999999999999",
            ],
            "--limit",
        ),
        (vec!["serve", "--max-bits", "0"], "--max-bits"),
        (vec!["serve", "--body-timeout-ms", "0"], "--body-timeout-ms"),
        (vec!["serve", "--max-connections", "0"], "--max-connections"),
    ] {
        let out = env.cli(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(env.list().is_empty(), "nothing was created");
}

fn panicking_check(_: &num_bigint::BigInt) -> primality::Verdict {
    panic!("a bug inside the check")
}

#[test]
fn a_unit_charged_for_a_request_that_fails_inside_is_given_back() {
    let env = TestEnv::new();
    let key = env.create_key("k", &["--limit", "3"]);
    let server = env.spawn_with(&[], |s| s.check = Check(panicking_check));
    for body in [r#"{"number": 7}"#.to_owned(), heavy_body()] {
        let body = assert_problem(server.check(&key, &body), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["type"], "tag:prime-api,2026:problems/internal");
    }
    assert_eq!(server.usage(&key)["used"], 0);
}

#[test]
fn ipv4_mapped_peers_match_an_ipv4_trusted_proxy() {
    let env = TestEnv::new();
    let _ = env.create_key("someone", &[]);
    let server = env.spawn_with(
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--auth-failure-burst",
            "1",
            "--auth-failure-period-ms",
            "60000",
        ],
        |s| s.bind = "[::]:0".parse().unwrap(),
    );
    // The peer is ::ffff:127.0.0.1 on this dual-stack socket: trusted, so each forwarded client
    // has its own budget; IPv6 clients are counted by /64.
    let fail = |forwarded: &str| {
        server
            .client
            .get(server.url("/usage"))
            .header("Authorization", "pk_wrong")
            .header("X-Forwarded-For", forwarded)
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(fail("198.51.100.1"), StatusCode::UNAUTHORIZED);
    assert_eq!(fail("198.51.100.1"), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(fail("198.51.100.2"), StatusCode::UNAUTHORIZED);
    assert_eq!(fail("2001:db8::1"), StatusCode::UNAUTHORIZED);
    assert_eq!(
        fail("2001:db8::ffff"),
        StatusCode::TOO_MANY_REQUESTS,
        "same /64"
    );
    assert_eq!(
        fail("::ffff:198.51.100.2"),
        StatusCode::TOO_MANY_REQUESTS,
        "same IPv4"
    );
    assert_eq!(
        fail("2001:db8:0:1::1"),
        StatusCode::UNAUTHORIZED,
        "another /64"
    );
}

/// A throttled client's unknown keys are refused before any store work: with the store gone,
/// the answer is still `429`, not `503`.
#[test]
fn a_throttled_client_costs_no_store_work() {
    let Some((env, schema)) = TestEnv::postgres() else {
        return;
    };
    let server = env.spawn(&[
        "--auth-failure-burst",
        "2",
        "--auth-failure-period-ms",
        "60000",
    ]);
    let wrong = unknown_key();
    for _ in 0..2 {
        assert_eq!(
            server.check(&wrong, "{}").status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let base = std::env::var("PRIME_TEST_POSTGRES_URL").unwrap();
    crate::common::pg_exec(&base, format!("DROP SCHEMA {schema} CASCADE"));
    for _ in 0..3 {
        let r = server.check(&unknown_key(), &heavy_body());
        assert_problem(r, StatusCode::TOO_MANY_REQUESTS);
    }
}

/// Random bytes, random JSON and random headers: every answer has a status from the documented
/// set (or the connection is closed), and the server stays healthy.
mod random_input {
    use proptest::prelude::*;

    use super::*;

    const DOCUMENTED: [u16; 12] = [200, 400, 401, 404, 405, 408, 413, 415, 422, 429, 431, 503];

    fn status_of(answer: &str) -> Option<u16> {
        answer.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
    }

    fn send(addr: &str, bytes: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(bytes);
        let _ = s.shutdown(std::net::Shutdown::Write);
        read_to_close(&mut s)
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[0-9a-z\\-]{0,40}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("number|numbers|[a-z]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn the_server_answers_everything_from_the_documented_set(
            raw in prop::collection::vec(any::<u8>(), 0..512),
            body in json(),
            header_value in "[ -~]{0,80}",
            path in prop_oneof![Just("/check-prime"), Just("/usage"), Just("/get-current-time"), Just("/nope")],
        ) {
            let env = TestEnv::new();
            let key = env.create_key("k", &[]);
            let server = env.spawn(&["--auth-failure-burst", "1000000"]);
            let addr = server.addr();
            let body = body.to_string();
            let requests = [
                raw.clone(),
                format!("POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes(),
                format!("POST /check-prime HTTP/1.1\r\nHost: x\r\nAuthorization: {header_value}\r\nX-Forwarded-For: {header_value}\r\nContent-Type: {header_value}\r\nContent-Length: 2\r\n\r\n{{}}").into_bytes(),
            ];
            for request in requests {
                let answer = send(&addr, &request);
                if let Some(status) = status_of(&answer) {
                    prop_assert!(DOCUMENTED.contains(&status), "{status}: {answer}");
                }
            }
            prop_assert!(server.healthy());
        }
    }
}
