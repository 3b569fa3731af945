//! Every route and error shape, against the real binary on a real port with a real SQLite file.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::{StatusCode, TestEnv, assert_problem};
use serde_json::Value;

const TUTORIAL_NUMBER: &str = "172983479832623897492387592384682937659382477";

fn raw_http(addr: &str, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the response body is complete (Content-Length) or the peer closes.
    loop {
        let n = s.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out).to_string();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let len = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if out.len() >= head_end + 4 + len {
                break;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn tutorial_client_requests_byte_for_byte() {
    let env = TestEnv::new();
    let key = env.create_key("tutorial", &[]);
    let server = env.spawn(&[]);
    let addr = server.addr();
    // Exactly what the tutorial's Python client (requests.post(json=...)) sends.
    let body = format!("{{\"number\": {TUTORIAL_NUMBER}}}");
    let request = format!(
        "POST /check-prime HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: python-requests/2.31.0\r\n\
         Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n\
         Authorization: {key}\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{body}",
        body.len()
    );
    let response = raw_http(&addr, request.as_bytes());
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    let json: Value =
        serde_json::from_str(&response[response.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(json["isPrime"], false);
    assert_eq!(json["verdict"], "composite");
    // The number comes back as the same JSON integer literal, never rounded.
    assert!(
        response.contains(&format!("\"number\":{TUTORIAL_NUMBER},")),
        "{response}"
    );

    // The tutorial's time request: POST with no body.
    let request = format!(
        "POST /get-current-time HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: python-requests/2.31.0\r\n\
         Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n\
         Authorization: {key}\r\nContent-Length: 0\r\n\r\n"
    );
    let response = raw_http(&addr, request.as_bytes());
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    let json: Value =
        serde_json::from_str(&response[response.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    let t = json["currentTime"].as_str().unwrap();
    assert_eq!(t.len(), 19, "%Y-%m-%d %H:%M:%S: {t}");
    assert!(server.healthy());
}

#[test]
fn check_prime_answers_and_headers() {
    let env = TestEnv::new();
    let key = env.create_key("k", &["--limit", "5"]);
    let server = env.spawn(&[]);

    let cases: &[(&str, &str, bool, &str, Option<&str>)] = &[
        (r#"{"number": 17}"#, "17", true, "prime", None),
        (
            r#"{"number": 15}"#,
            "15",
            false,
            "composite",
            Some("factor"),
        ),
        (r#"{"number": "007"}"#, "\"7\"", true, "prime", None),
        (r#"{"number": -7}"#, "-7", false, "neither", None),
        (r#"{"number": -0}"#, "0", false, "neither", None),
    ];
    for (i, (body, echo, is_prime, verdict, evidence)) in cases.iter().enumerate() {
        let r = server.check(&key, body);
        assert_eq!(r.status(), StatusCode::OK, "{body}");
        let h = r.headers().clone();
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["x-ratelimit-limit"], "5");
        let remaining = 5 - (i as i64 + 1);
        assert_eq!(h["x-ratelimit-remaining"], remaining.to_string().as_str());
        let policy = h["ratelimit-policy"].to_str().unwrap();
        assert_eq!(policy, "\"quota\";q=5;w=86400");
        let rl = h["ratelimit"].to_str().unwrap().to_owned();
        assert!(
            rl.starts_with(&format!("\"quota\";r={remaining};t=")),
            "{rl}"
        );
        let reset: i64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
        assert_eq!(reset % 86400, 0, "daily reset at 00:00 UTC");
        let text = r.text().unwrap();
        assert!(text.starts_with(&format!("{{\"number\":{echo},")), "{text}");
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["isPrime"], *is_prime, "{body}");
        assert_eq!(json["verdict"], *verdict, "{body}");
        if let Some(ev) = evidence {
            assert_eq!(json[ev], "3");
        }
    }
    // Quota exhausted: 429, the tutorial's text, Retry-After and the headers.
    let r = server.check(&key, r#"{"number": 17}"#);
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let h = r.headers().clone();
    let retry: i64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=86400).contains(&retry));
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert_eq!(h["cache-control"], "no-store");
    assert!(
        h["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("\"quota\";r=0;t=")
    );
    let body = assert_problem(r, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        body["error"],
        "Request limit exceeded. Please try again later."
    );
    let u = server.usage(&key);
    assert_eq!(
        (u["used"].as_i64(), u["remaining"].as_i64()),
        (Some(5), Some(0))
    );
}

#[test]
fn time_usage_health_and_unknown_routes() {
    let env = TestEnv::new();
    let key = env.create_key("k", &["--limit", "7"]);
    let server = env.spawn(&[]);
    for method in ["GET", "POST"] {
        let r = server
            .client
            .request(method.parse().unwrap(), server.url("/get-current-time"))
            .header("Authorization", &key)
            .body("ignored")
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let j: Value = r.json().unwrap();
        assert!(j["currentTime"].is_string() && j["rfc3339"].is_string());
        let ms = j["unixMillis"].as_i64().unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        assert!((now - ms).abs() < 10_000);
    }
    // Not metered:
    let u = server.usage(&key);
    assert_eq!(u["name"], "k");
    assert_eq!(u["limit"], 7);
    assert_eq!(u["used"], 0);
    assert_eq!(u["remaining"], 7);
    assert_eq!(u["resetSchedule"], "0 0 0 * * *");
    assert!(u["resetsAt"].as_str().unwrap().ends_with("T00:00:00Z"));

    let r = server.get("/healthz", None);
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().unwrap(),
        serde_json::json!({"status": "ok"})
    );

    let body = assert_problem(server.get("/", None), StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains('/'));
    assert_problem(
        server.get("/nope/deeper?x=1", Some(&key)),
        StatusCode::NOT_FOUND,
    );
    for (method, path, allow) in [
        ("GET", "/check-prime", "POST"),
        ("PUT", "/check-prime", "POST"),
        ("DELETE", "/get-current-time", "GET, POST"),
        ("POST", "/usage", "GET"),
        ("POST", "/healthz", "GET"),
    ] {
        let r = server
            .client
            .request(method.parse().unwrap(), server.url(path))
            .send()
            .unwrap();
        assert_eq!(r.headers()["allow"], allow);
        assert_problem(r, StatusCode::METHOD_NOT_ALLOWED);
    }
}

#[test]
fn key_forms_and_identical_401s() {
    let env = TestEnv::new();
    let key = env.create_key("good", &[]);
    let revoked = env.create_key("revoked", &[]);
    let expired = env.create_key("expired", &["--expires-in", "1s"]);
    let id = env.id_of(&revoked);
    assert!(
        env.cli(&["keys", "revoke", &id.to_string()])
            .status
            .success()
    );
    let server = env.spawn(&["--auth-failure-burst", "1000"]);

    // The three accepted forms.
    for (name, value) in [
        ("Authorization", key.clone()),
        ("Authorization", format!("Bearer {key}")),
        ("Authorization", format!("bearer {key}")),
        ("X-API-Key", key.clone()),
    ] {
        let r = server
            .client
            .get(server.url("/get-current-time"))
            .header(name, value)
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name}");
    }
    std::thread::sleep(Duration::from_millis(1100)); // let `expired` expire

    // A well-formed but unknown key: right format, right checksum, never stored.
    let unknown = env.create_key("other-db-key", &[]);
    let other = TestEnv::new();
    let foreign = other.create_key("foreign", &[]);
    let mut typo: Vec<char> = key.chars().collect();
    let last = typo.len() - 2;
    typo[last] = if typo[last] == 'x' { 'y' } else { 'x' };
    let typo: String = typo.into_iter().collect();
    let _ = unknown;

    let mut bodies = Vec::new();
    let requests: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("malformed", Some("secret-key-123".to_owned())),
        ("bad checksum", Some(typo)),
        ("unknown", Some(foreign)),
        ("revoked", Some(revoked.clone())),
        ("expired", Some(expired.clone())),
        ("empty bearer", Some("Bearer ".to_owned())),
    ];
    for (what, auth) in requests {
        for path in ["/check-prime", "/get-current-time", "/usage"] {
            let mut req = if path == "/check-prime" {
                server
                    .client
                    .post(server.url(path))
                    .body(r#"{"number": 7}"#)
            } else {
                server.client.get(server.url(path))
            };
            if let Some(a) = &auth {
                req = req.header("Authorization", a.as_str());
            }
            let r = req.send().unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{what} {path}");
            assert_eq!(
                r.headers()["www-authenticate"],
                "Bearer realm=\"prime-api\""
            );
            bodies.push(r.text().unwrap());
        }
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "identical 401 bodies"
    );
    let b: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(b["error"], "Unauthorized");
    assert_eq!(b["status"], 401);

    // Never from the query string.
    let r = server
        .client
        .get(server.url(&format!("/get-current-time?key={key}&api_key={key}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Nothing was charged to the good key.
    assert_eq!(server.usage(&key)["used"], 0);
}

#[test]
fn bad_inputs_table() {
    let env = TestEnv::new();
    let key = env.create_key("k", &["--limit", "1000"]);
    let server = env.spawn(&["--max-body-bytes", "4096", "--max-bits", "256"]);
    let too_long_digits = "9".repeat(78); // > 256 bits
    let over_body = format!("{{\"number\": \"{}\"}}", "1".repeat(5000));
    let two_pow_256 =
        "115792089237316195423570985008687907853269984665640564039457584007913129639936";
    let table: Vec<(&str, String, u16)> = vec![
        ("empty body", String::new(), 400),
        ("not json", "number=5".into(), 400),
        ("truncated", r#"{"number": 5"#.into(), 400),
        ("trailing garbage", r#"{"number": 5}x"#.into(), 400),
        ("array body", "[5]".into(), 400),
        ("bare number body", "5".into(), 400),
        ("string body", r#""5""#.into(), 400),
        ("null body", "null".into(), 400),
        ("empty object", "{}".into(), 400),
        ("wrong field", r#"{"num": 5}"#.into(), 400),
        ("float", r#"{"number": 1.5}"#.into(), 400),
        ("float .0", r#"{"number": 7.0}"#.into(), 400),
        ("exponent", r#"{"number": 1e9}"#.into(), 400),
        ("exponent E+", r#"{"number": 1E+2}"#.into(), 400),
        ("true", r#"{"number": true}"#.into(), 400),
        ("false", r#"{"number": false}"#.into(), 400),
        ("null", r#"{"number": null}"#.into(), 400),
        ("array", r#"{"number": [7]}"#.into(), 400),
        ("object", r#"{"number": {"v": 7}}"#.into(), 400),
        ("empty string", r#"{"number": ""}"#.into(), 400),
        ("leading space", r#"{"number": " 7"}"#.into(), 400),
        ("trailing newline", r#"{"number": "7\n"}"#.into(), 400),
        ("plus sign", r#"{"number": "+7"}"#.into(), 400),
        ("hex", r#"{"number": "0x1F"}"#.into(), 400),
        ("float string", r#"{"number": "7.5"}"#.into(), 400),
        ("exponent string", r#"{"number": "1e3"}"#.into(), 400),
        ("only minus", r#"{"number": "-"}"#.into(), 400),
        ("double minus", r#"{"number": "--7"}"#.into(), 400),
        ("unicode digits", r#"{"number": "٣"}"#.into(), 400),
        ("leading zero literal", r#"{"number": 007}"#.into(), 400),
        ("NaN", r#"{"number": NaN}"#.into(), 400),
        ("Infinity", r#"{"number": Infinity}"#.into(), 400),
        (
            "duplicate field",
            r#"{"number": 7, "number": 8}"#.into(),
            400,
        ),
        (
            "invalid utf-8 escape",
            r#"{"number": "\ud800"}"#.into(),
            400,
        ),
        (
            "too many bits literal",
            format!("{{\"number\": {too_long_digits}}}"),
            422,
        ),
        (
            "too many bits string",
            format!("{{\"number\": \"-{too_long_digits}\"}}"),
            422,
        ),
        (
            "2^256 exactly",
            format!("{{\"number\": {two_pow_256}}}"),
            422,
        ),
        ("body over limit", over_body, 413),
    ];
    assert!(table.len() >= 30);
    for (what, body, status) in &table {
        let r = server.check(&key, body);
        let status = StatusCode::from_u16(*status).unwrap();
        assert_eq!(r.status(), status, "{what}");
        let b = assert_problem(r, status);
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            assert!(
                b["error"].as_str().unwrap().contains("256 bits"),
                "{what}: {b}"
            );
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            assert!(b["error"].as_str().unwrap().contains("4096"), "{what}: {b}");
        }
        assert!(server.healthy(), "server unhealthy after {what}");
    }
    // Wrong content type → 415; missing content type is accepted.
    let r = server
        .client
        .post(server.url("/check-prime"))
        .header("Authorization", &key)
        .header("Content-Type", "text/html")
        .body(r#"{"number": 7}"#)
        .send()
        .unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = server
        .client
        .post(server.url("/check-prime"))
        .header("Authorization", &key)
        .body(r#"{"number": 7}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A body over the limit without Content-Length (chunked) is refused too.
    let addr = server.addr();
    let chunk = "1".repeat(3000);
    let request = format!(
        "POST /check-prime HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {key}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{{\"number\": \"{chunk}\r\n{:x}\r\n{chunk}\"}}\r\n0\r\n\r\n",
        chunk.len() + 12,
        chunk.len() + 2
    );
    let response = raw_http(&addr, request.as_bytes());
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    // Largest accepted number: 2^256 - 1.
    let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    let r = server.check(&key, &format!("{{\"number\": {max}}}"));
    assert_eq!(r.status(), StatusCode::OK);
    // Nothing but the two 200s was charged.
    assert_eq!(server.usage(&key)["used"], 2);
}

#[test]
fn failed_auth_is_throttled_per_address_without_touching_quotas() {
    let env = TestEnv::new();
    let key = env.create_key("k", &["--limit", "3"]);
    let server = env.spawn(&[
        "--auth-failure-burst",
        "3",
        "--auth-failure-period-ms",
        "60000",
    ]);
    // The good key is in use from this address before the failures start.
    assert_eq!(server.usage(&key)["used"], 0);
    let bad = "pk_notARealKeyAtAll";
    for _ in 0..3 {
        assert_eq!(
            server.get("/get-current-time", Some(bad)).status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = server.get("/get-current-time", Some(bad));
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS);
    // The good key still works and was not charged by the failures.
    assert_eq!(server.usage(&key)["used"], 0);
    assert_eq!(
        server.check(&key, r#"{"number": 7}"#).status(),
        StatusCode::OK
    );
    assert_eq!(server.usage(&key)["used"], 1);
}

#[test]
fn saturated_cpu_pool_answers_503_and_time_stays_fast() {
    let env = TestEnv::new();
    let key = env.create_key("k", &["--limit", "1000"]);
    let server = env.spawn(&[
        "--cpu-threads",
        "1",
        "--cpu-queue",
        "0",
        "--cpu-queue-timeout-ms",
        "100",
    ]);
    // 2^8191 - 1: composite, but base 2 is a strong liar for it, so the whole Baillie-PSW
    // test runs on 8191 bits — the most expensive input the default limit allows.
    let p = (num_bigint::BigUint::from(1u8) << 8191u32) - 1u8;
    let body = format!("{{\"number\": \"{p}\"}}");
    let url = server.url("/check-prime");
    let n = 6;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
    let workers: Vec<_> = (0..n)
        .map(|_| {
            let (url, key, body) = (url.clone(), key.clone(), body.clone());
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let client = crate::common::client();
                barrier.wait();
                let r = client
                    .post(url)
                    .header("Authorization", key)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .unwrap();
                let status = r.status();
                let retry = r.headers().get("retry-after").is_some();
                (status, retry)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    let t = std::time::Instant::now();
    assert_eq!(
        server.get("/get-current-time", Some(&key)).status(),
        StatusCode::OK
    );
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "time stays fast while checks run"
    );
    let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let busy = results
        .iter()
        .filter(|(s, retry)| *s == StatusCode::SERVICE_UNAVAILABLE && *retry)
        .count();
    assert!(ok >= 1 && busy >= 1 && ok + busy == n, "{results:?}");
    // Refused checks were not charged.
    assert_eq!(server.usage(&key)["used"].as_u64().unwrap() as usize, ok);
}

#[test]
fn x_forwarded_for_is_trusted_only_from_named_proxies() {
    let env = TestEnv::new();
    let _key = env.create_key("k", &[]);
    let failures = |server: &crate::common::TestApp, client: &str| {
        server
            .client
            .get(server.url("/get-current-time"))
            .header("Authorization", "pk_wrong")
            .header("X-Forwarded-For", format!("203.0.113.9, {client}"))
            .send()
            .unwrap()
            .status()
    };
    let args = [
        "--auth-failure-burst",
        "1",
        "--auth-failure-period-ms",
        "60000",
    ];
    // Behind a trusted proxy (127.0.0.1): each forwarded client has its own budget.
    let mut trusted = args.to_vec();
    trusted.extend(["--trusted-proxy", "127.0.0.1"]);
    let server = env.spawn(&trusted);
    assert_eq!(failures(&server, "198.51.100.1"), StatusCode::UNAUTHORIZED);
    assert_eq!(
        failures(&server, "198.51.100.1"),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(failures(&server, "198.51.100.2"), StatusCode::UNAUTHORIZED);
    drop(server);
    // Without: the header is ignored, the peer address is what counts.
    let server = env.spawn(&args);
    assert_eq!(failures(&server, "198.51.100.1"), StatusCode::UNAUTHORIZED);
    assert_eq!(
        failures(&server, "198.51.100.2"),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[test]
fn store_failure_fails_closed_postgres() {
    let Some((env, schema)) = TestEnv::postgres() else {
        return;
    };
    let key = env.create_key("pg", &[]);
    let server = env.spawn(&[]);
    assert_eq!(
        server.check(&key, r#"{"number": 7}"#).status(),
        StatusCode::OK
    );
    assert_eq!(env.list().len(), 1, "keys list works on PostgreSQL too");
    // The store goes away under the running server.
    let base = std::env::var("PRIME_TEST_POSTGRES_URL").unwrap();
    crate::common::pg_exec(&base, format!("DROP SCHEMA {schema} CASCADE"));
    for r in [
        server.check(&key, r#"{"number": 7}"#),
        server.get("/get-current-time", Some(&key)),
        server.get("/usage", Some(&key)),
        server.get("/healthz", None),
    ] {
        assert!(r.headers().contains_key("retry-after"));
        assert_problem(r, StatusCode::SERVICE_UNAVAILABLE);
    }
}
