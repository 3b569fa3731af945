//! Operations: TLS, Prometheus metrics, the OpenAPI document, request ids and structured logs.
//! In-process on real ports with a real SQLite file; the real binary where its exit status or
//! its log is the point.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::tls::write_ca_signed as write_tls_files;
use crate::common::{BIN, StatusCode, TestEnv, assert_problem};
use serde_json::Value;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------- TLS

#[test]
fn https_end_to_end_with_a_certificate_made_at_test_time() {
    let env = TestEnv::new();
    let ca = write_tls_files(env.dir.path());
    let key = env.create_key("tls", &["--limit", "5"]);
    let server = env.spawn_tls(&[], &ca);
    assert!(server.base.starts_with("https://"), "{}", server.base);

    assert!(server.healthy());
    let r = server.check(&key, r#"{"number": 97}"#);
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("x-request-id"));
    let body: Value = r.json().unwrap();
    assert_eq!(body["verdict"], "prime");
    assert_eq!(server.usage(&key)["used"], 1);

    // Plain HTTP on the HTTPS port gets no HTTP answer.
    let plain = crate::common::client()
        .get(format!("http://{}/healthz", server.addr()))
        .send();
    assert!(plain.is_err(), "plain http was answered: {plain:?}");
    // A client that does not trust the private CA refuses the server.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let untrusting = reqwest::blocking::Client::builder()
        .no_proxy()
        .tls_certs_only(Vec::new())
        .build()
        .unwrap();
    assert!(untrusting.get(server.url("/healthz")).send().is_err());
}

/// `prime-server serve ARGS` must exit with an error quickly; returns (status, stderr).
fn refuse_to_start(env: &TestEnv, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--database", &env.db_url])
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("PRIME_DATABASE_URL")
        .current_dir(env.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("server started with {args:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn refuses_to_start_on_a_missing_or_mismatched_pair() {
    let env = TestEnv::new();
    write_tls_files(env.dir.path());
    let other = tempfile::tempdir().unwrap();
    write_tls_files(other.path());
    let path = |dir: &std::path::Path, name: &str| dir.join(name).display().to_string();
    let cert = path(env.dir.path(), "cert.pem");
    let key = path(env.dir.path(), "key.pem");
    let other_key = path(other.path(), "key.pem");
    let missing = path(env.dir.path(), "nope.pem");

    // Mismatched: the key of another certificate.
    let (_, err) = refuse_to_start(&env, &["--tls-cert", &cert, "--tls-key", &other_key]);
    assert!(
        err.contains("does not belong to the certificate") && err.contains(&other_key),
        "{err}"
    );
    // Missing files.
    let (_, err) = refuse_to_start(&env, &["--tls-cert", &missing, "--tls-key", &key]);
    assert!(
        err.contains("--tls-cert") && err.contains(&missing) && err.contains("No such file"),
        "{err}"
    );
    let (_, err) = refuse_to_start(&env, &["--tls-cert", &cert, "--tls-key", &missing]);
    assert!(err.contains("--tls-key") && err.contains(&missing), "{err}");
    // Swapped files: no key in the key file, no certificate in the certificate file.
    let (_, err) = refuse_to_start(&env, &["--tls-cert", &cert, "--tls-key", &cert]);
    assert!(err.contains("no PEM private key"), "{err}");
    let (_, err) = refuse_to_start(&env, &["--tls-cert", &key, "--tls-key", &key]);
    assert!(err.contains("no PEM certificate"), "{err}");
    // Half a pair is a usage error.
    let (status, err) = refuse_to_start(&env, &["--tls-cert", &cert]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--tls-key"), "{err}");
    let (status, err) = refuse_to_start(&env, &["--tls-key", &key]);
    assert_eq!(status.code(), Some(2), "{err}");
    // None of these created the database: certificates are checked first.
    assert!(!env.db_path.exists());
}

// ---------------------------------------------------------------- metrics

/// Every sample of a Prometheus text page: `name{labels}` → value.
fn scrape(client: &reqwest::blocking::Client, url: &str) -> BTreeMap<String, f64> {
    let r = client.get(url).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        ct.starts_with("application/openmetrics-text; version=1.0.0"),
        "{ct}"
    );
    let text = r.text().unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (name, value) = line.rsplit_once(' ').unwrap();
        assert!(
            out.insert(name.to_owned(), value.parse::<f64>().unwrap())
                .is_none(),
            "duplicate sample {name}"
        );
    }
    out
}

fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, name: &str) -> f64 {
    after.get(name).copied().unwrap_or(0.0) - before.get(name).copied().unwrap_or(0.0)
}

#[test]
fn metrics_count_traffic_by_the_right_amounts() {
    let env = TestEnv::new();
    let key = env.create_key("metered", &["--limit", "6"]);
    // The real process: the throttle's log line is part of what is checked.
    let server = env.spawn_process(&[
        "--auth-failure-burst",
        "3",
        "--auth-failure-period-ms",
        "600000",
    ]);
    let metrics_url = server.url("/metrics");
    let before = scrape(&server.client, &metrics_url);

    // 6 granted checks: 3 of at most 64 bits (prime, composite, neither), the Mersenne primes
    // 2^89 - 1 and 2^127 - 1 (probable primes above 2^64), and 10^60 - 1 (200 bits, composite).
    for body in [
        r#"{"number": 97}"#,
        r#"{"number": 91}"#,
        r#"{"number": 1}"#,
        r#"{"number": 618970019642690137449562111}"#,
        r#"{"number": "170141183460469231731687303715884105727"}"#,
        &format!("{{\"number\": \"{}\"}}", "9".repeat(60)),
    ] {
        assert_eq!(server.check(&key, body).status(), StatusCode::OK, "{body}");
    }
    // 2 quota rejections.
    for _ in 0..2 {
        assert_problem(
            server.check(&key, r#"{"number": 5}"#),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    // 1 bad request (no charge, no check).
    assert_eq!(
        server.check(&key, r#"{"number": 1.5}"#).status(),
        StatusCode::BAD_REQUEST
    );
    // 3 failed authentications, then 2 refused as throttled (also failures).
    for _ in 0..3 {
        assert_problem(
            server.check("pk_wrong", r#"{"number": 5}"#),
            StatusCode::UNAUTHORIZED,
        );
    }
    let mut throttled_ids = Vec::new();
    for _ in 0..2 {
        let r = server.get("/usage", None);
        throttled_ids.push(r.headers()["x-request-id"].to_str().unwrap().to_owned());
        assert_problem(r, StatusCode::TOO_MANY_REQUESTS);
    }
    // The throttle's warning names the request it refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !throttled_ids.iter().all(|id| {
        server.logs().lines().any(|l| {
            l.contains("too many failed authentications") && l.contains(&format!("request_id={id}"))
        })
    }) {
        assert!(Instant::now() < deadline, "{}", server.logs());
        std::thread::sleep(Duration::from_millis(20));
    }
    // 1 unknown route, 2 health checks.
    assert_eq!(server.get("/nope", None).status(), StatusCode::NOT_FOUND);
    assert!(server.healthy() && server.healthy());

    let after = scrape(&server.client, &metrics_url);
    let d = |name: &str| delta(&before, &after, name);
    let req = |route: &str, status: u16| {
        d(&format!(
            "prime_http_requests_total{{route=\"{route}\",status=\"{status}\"}}"
        ))
    };
    assert_eq!(req("/check-prime", 200), 6.0);
    assert_eq!(req("/check-prime", 429), 2.0);
    assert_eq!(req("/check-prime", 400), 1.0);
    assert_eq!(req("/check-prime", 401), 3.0);
    assert_eq!(req("/usage", 429), 2.0);
    assert_eq!(req("other", 404), 1.0);
    assert_eq!(req("/healthz", 200), 2.0);
    // The first scrape is counted by the second.
    assert_eq!(req("/metrics", 200), 1.0);
    assert_eq!(
        d("prime_http_request_duration_seconds_count{route=\"/check-prime\"}"),
        12.0
    );
    assert_eq!(
        d("prime_http_request_duration_seconds_bucket{le=\"+Inf\",route=\"/check-prime\"}"),
        12.0
    );
    assert!(d("prime_http_request_duration_seconds_sum{route=\"/check-prime\"}") > 0.0);
    // Buckets are cumulative.
    let buckets: Vec<f64> = after
        .iter()
        .filter(|(k, _)| {
            k.starts_with("prime_http_request_duration_seconds_bucket{")
                && k.ends_with(",route=\"/check-prime\"}")
        })
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(buckets.len(), 17);
    let check = |bits: &str, verdict: &str| {
        d(&format!(
            "prime_checks_total{{bits_le=\"{bits}\",verdict=\"{verdict}\"}}"
        ))
    };
    assert_eq!(check("64", "prime"), 1.0);
    assert_eq!(check("64", "composite"), 1.0);
    assert_eq!(check("64", "neither"), 1.0);
    assert_eq!(check("128", "probable_prime"), 2.0);
    assert_eq!(check("256", "composite"), 1.0);
    let all_checks: f64 = after
        .iter()
        .filter(|(k, _)| k.starts_with("prime_checks_total"))
        .map(|(k, v)| v - before.get(k).copied().unwrap_or(0.0))
        .sum();
    assert_eq!(all_checks, 6.0);
    assert_eq!(d("prime_quota_rejections_total"), 2.0);
    assert_eq!(d("prime_auth_failures_total"), 5.0);
    assert_eq!(d("prime_auth_throttled_total"), 2.0);
    assert_eq!(after["prime_auth_throttle_tracked_addresses"], 1.0);
    assert_eq!(after["prime_cpu_pool_queue_depth"], 0.0);
    assert_eq!(after["prime_cpu_pool_busy_threads"], 0.0);
    assert!(after["prime_cpu_pool_threads"] >= 1.0);
    assert_eq!(d("prime_cpu_pool_rejections_total"), 0.0);
}

#[test]
fn metrics_bind_moves_metrics_off_the_public_port() {
    let env = TestEnv::new();
    let key = env.create_key("m", &[]);
    let server = env.spawn(&["--metrics-bind", "127.0.0.1:0"]);
    let metrics_addr = server.metrics_addr.unwrap();
    assert_ne!(metrics_addr, server.addr);
    let url = format!("http://{metrics_addr}/metrics");

    // Not on the public port: the usual JSON 404.
    assert_problem(server.get("/metrics", None), StatusCode::NOT_FOUND);
    assert_eq!(
        server.check(&key, r#"{"number": 7}"#).status(),
        StatusCode::OK
    );
    let samples = scrape(&server.client, &url);
    assert_eq!(
        samples["prime_http_requests_total{route=\"/check-prime\",status=\"200\"}"],
        1.0
    );
    assert_eq!(
        samples["prime_http_requests_total{route=\"/metrics\",status=\"404\"}"],
        1.0
    );
    // Only /metrics is served there.
    let other = server
        .client
        .get(url.replace("/metrics", "/healthz"))
        .send()
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- OpenAPI

/// Every `$ref` in the document points at something that exists.
fn check_refs(doc: &Value, node: &Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let pointer = r.strip_prefix('#').unwrap();
                assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
            }
            map.values().for_each(|v| check_refs(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(doc, v)),
        _ => {}
    }
}

#[test]
fn openapi_document_is_valid_and_lists_every_route() {
    let env = TestEnv::new();
    let key = env.create_key("doc", &[]);
    let server = env.spawn(&[]);
    let r = server.get("/openapi.json", None);
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let text = r.text().unwrap();

    // Valid: an OpenAPI 3.1 parser accepts it, and every reference resolves.
    let spec = oas3::from_json(&text).unwrap_or_else(|e| panic!("invalid OpenAPI: {e}"));
    assert!(spec.openapi.starts_with("3."), "{}", spec.openapi);
    let doc: Value = serde_json::from_str(&text).unwrap();
    check_refs(&doc, &doc);

    // Every route the server serves is documented, with the methods it serves.
    let documented: BTreeMap<String, BTreeSet<String>> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "delete", "patch"].contains(&k.as_str()))
                .cloned()
                .collect();
            (path.clone(), methods)
        })
        .collect();
    let served: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("/check-prime", &["post"][..]),
        ("/check-prime/batch", &["post"][..]),
        ("/get-current-time", &["get", "post"][..]),
        ("/usage", &["get"][..]),
        ("/verify-certificate", &["post"][..]),
        ("/healthz", &["get"][..]),
        ("/metrics", &["get"][..]),
        ("/openapi.json", &["get"][..]),
        ("/docs/{file}", &["get"][..]),
    ]);
    assert_eq!(
        documented.keys().map(String::as_str).collect::<Vec<_>>(),
        served.keys().copied().collect::<Vec<_>>()
    );
    for (path, methods) in &served {
        let expected: BTreeSet<String> = methods.iter().map(|m| (*m).to_owned()).collect();
        assert_eq!(documented[*path], expected, "methods of {path}");
    }
    // Operation ids are unique (OpenAPI requires it).
    let mut operation_ids = BTreeSet::new();
    for (path, methods) in &documented {
        for m in methods {
            let id = doc["paths"][path][m]["operationId"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(
                operation_ids.insert(id.clone()),
                "duplicate operationId {id}"
            );
        }
    }
    // ... and the server's own route table (its metric labels) agrees.
    for route in prime_server::http::routes::ROUTES {
        let label = route.label;
        assert!(
            documented
                .keys()
                .any(|p| p == label || p.starts_with(&format!("{label}/"))),
            "{label} is served but not documented"
        );
    }
    // Each documented operation exists on the live server (not 404/405).
    for (path, methods) in &documented {
        let concrete = path.replace("{file}", "");
        for m in methods {
            let req = match m.as_str() {
                "get" => server.client.get(server.url(&concrete)),
                "post" => server.client.post(server.url(&concrete)),
                other => panic!("unexpected method {other}"),
            };
            let status = req
                .header("Authorization", &key)
                .header("Content-Type", "application/json")
                .body(r#"{"number": 2}"#)
                .send()
                .unwrap()
                .status();
            assert!(
                status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                "{m} {path} → {status}"
            );
        }
    }

    // Schemas, headers, errors and security are there.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "CheckRequest",
        "CheckResponse",
        "TimeResponse",
        "UsageResponse",
        "Health",
        "Problem",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    // The verdict names of the schema are the library's, the same the answers and metrics use.
    assert_eq!(
        doc["components"]["schemas"]["VerdictName"]["enum"],
        serde_json::json!(primality::Verdict::NAMES)
    );
    let check = &doc["paths"]["/check-prime"]["post"];
    for status in ["200", "400", "401", "413", "415", "422", "429", "503"] {
        assert!(
            check["responses"][status].is_object(),
            "check-prime {status}"
        );
    }
    assert!(
        check["responses"]["401"]["content"]["application/problem+json"].is_object(),
        "{check}"
    );
    for header in [
        "RateLimit-Policy",
        "RateLimit",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "X-Request-Id",
    ] {
        assert!(
            check["responses"]["200"]["headers"][header].is_object(),
            "header {header}"
        );
    }
    assert!(check["responses"]["429"]["headers"]["Retry-After"].is_object());
    assert!(check["responses"]["401"]["headers"]["WWW-Authenticate"].is_object());
    assert_eq!(check["security"].as_array().unwrap().len(), 3);
    assert!(doc["paths"]["/healthz"]["get"]["security"].is_null());
    for scheme in ["bearer", "authorization", "x_api_key"] {
        assert!(doc["components"]["securitySchemes"][scheme].is_object());
    }

    // Swagger UI (vendored) is served and points at the document.
    let page = server.get("/docs/", None);
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().unwrap().contains("swagger-ui"));
    let init = server
        .get("/docs/swagger-initializer.js", None)
        .text()
        .unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
    assert_problem(server.get("/docs/nope.js", None), StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- logs

/// The server's stderr once its last line (`... bye`) has been read.
fn wait_for_bye(stderr: &std::sync::Mutex<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logs = stderr.lock().unwrap().clone();
        if logs.contains("bye") {
            return logs;
        }
        assert!(Instant::now() < deadline, "no final log line: {logs}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn request_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|v| v["message"] == "request")
        .collect()
}

#[test]
fn json_logs_carry_request_ids_and_never_a_key_or_its_hash() {
    let env = TestEnv::new();
    let create = env.cli(&["keys", "create", "--name", "secret-one", "--limit", "2"]);
    assert!(create.status.success());
    let key = String::from_utf8(create.stdout.clone())
        .unwrap()
        .trim()
        .to_owned();
    let revoked = env.create_key("to-revoke", &[]);
    let server = env.spawn_process(&["--log-format", "json"]);

    let mut ids = Vec::new();
    let mut remember = |r: reqwest::blocking::Response| {
        ids.push(r.headers()["x-request-id"].to_str().unwrap().to_owned());
        r.status()
    };
    // A full session: every route, every way to send a key, every way to fail.
    let c = &server.client;
    remember(server.check(&key, r#"{"number": 17}"#));
    remember(
        c.post(server.url("/check-prime"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"number": 18}))
            .send()
            .unwrap(),
    );
    remember(
        c.post(server.url("/check-prime"))
            .header("X-API-Key", &key)
            .json(&serde_json::json!({"number": 19}))
            .send()
            .unwrap(),
    );
    remember(server.get("/usage", Some(&key)));
    remember(
        c.post(server.url("/get-current-time"))
            .header("Authorization", &key)
            .send()
            .unwrap(),
    );
    remember(server.get(&format!("/usage?key={key}"), None));
    remember(server.get(&format!("/{key}"), None));
    remember(server.check(&format!("{key}x"), r#"{"number": 5}"#));
    remember(server.check(&key, &format!("{{\"number\": \"{key}\"}}")));
    remember(
        c.get(server.url("/healthz"))
            .header("X-Request-Id", &key)
            .header("User-Agent", &key)
            .send()
            .unwrap(),
    );
    assert_eq!(
        env.cli(&["keys", "revoke", &env.id_of(&revoked).to_string()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        remember(server.get("/usage", Some(&revoked))),
        StatusCode::UNAUTHORIZED
    );
    remember(server.get("/metrics", None));
    remember(server.get("/openapi.json", None));
    let listed = env.cli(&["keys", "list", "--json"]);
    let (stderr, stdout) = (server.stderr.clone(), server.stdout.clone());
    assert!(server.terminate().success());
    let logs = wait_for_bye(&stderr);
    let printed = stdout.lock().unwrap().clone();

    // One JSON line per request, in order, with the fields operators search by.
    let lines = request_lines(&logs);
    assert_eq!(lines.len(), ids.len(), "{logs}");
    for (line, id) in lines.iter().zip(&ids) {
        assert_eq!(line["request_id"], id.as_str(), "{line}");
        assert!(
            line["level"] == "INFO" && line["timestamp"].is_string(),
            "{line}"
        );
        assert!(
            line["method"].is_string() && line["route"].is_string(),
            "{line}"
        );
        assert!(
            line["status"].is_u64() && line["latency_us"].is_u64(),
            "{line}"
        );
        assert!(line["key"].is_string(), "{line}");
    }
    let prefix: String = key.chars().take(8).collect();
    assert_eq!(lines[0]["key"], prefix.as_str());
    assert_eq!(lines[0]["route"], "/check-prime");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[7]["key"], "-");
    assert_eq!(lines[7]["status"], 401);
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());

    // Never the key, its secret part, or its hash in any encoding — in the server's logs or the
    // key CLI's messages (stdout of `keys create` is the one place a key is shown).
    let mut everything = logs.clone();
    everything.push_str(&printed);
    everything.push_str(&String::from_utf8_lossy(&create.stderr));
    everything.push_str(&String::from_utf8_lossy(&listed.stdout));
    everything.push_str(&String::from_utf8_lossy(&listed.stderr));
    for k in [&key, &revoked] {
        let hash = Sha256::digest(k.as_bytes());
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        for needle in [
            k.to_string(),
            k[8..].to_string(),
            hex.clone(),
            hex.to_uppercase(),
            hex[..16].to_string(),
            bs58::encode(&hash[..]).into_string(),
        ] {
            assert!(
                !everything.contains(&needle),
                "found {needle:?} in:\n{everything}"
            );
        }
    }
}

#[test]
fn pretty_logs_and_rust_log_are_honoured() {
    let env = TestEnv::new();
    let key = env.create_key("p", &[]);
    // `RUST_LOG` chooses what is logged: here start-up messages, but no request lines.
    let quiet = env.spawn_process_env(&[], &[("RUST_LOG", "warn,prime_server::startup=info")]);
    let r = quiet.check(&key, r#"{"number": 7}"#);
    assert_eq!(r.status(), StatusCode::OK);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let stderr = quiet.stderr.clone();
    assert!(quiet.terminate().success());
    let quiet_logs = wait_for_bye(&stderr);
    assert!(
        quiet_logs.contains("prime-server listening on"),
        "{quiet_logs}"
    );
    assert!(!quiet_logs.contains(&id), "{quiet_logs}");
    assert!(!quiet_logs.contains("request"), "{quiet_logs}");

    let loud = env.spawn_process(&["--log-format", "pretty"]);
    let r = loud.check(&key, r#"{"number": 7}"#);
    let id2 = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, id2);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !loud.logs().contains(&id2) {
        assert!(Instant::now() < deadline, "{}", loud.logs());
        std::thread::sleep(Duration::from_millis(20));
    }
    let logs = loud.logs();
    let line = logs.lines().find(|l| l.contains(&id2)).unwrap();
    for field in [
        format!("request_id={id2}"),
        "method=POST".to_owned(),
        "route=/check-prime".to_owned(),
        "status=200".to_owned(),
        "latency_us=".to_owned(),
        format!("key={}", &key[..8]),
    ] {
        assert!(line.contains(&field), "{field} not in {line}");
    }
    assert!(!line.starts_with('{'));
}
