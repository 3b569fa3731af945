//! `"proof": true` and `POST /verify-certificate`: certificates over real HTTP, checked by the
//! library on the test's side; limits, timeouts, errors and units.

use num_bigint::BigUint;
use primality::{Certificate, Effort, prove};
use serde_json::Value;

use crate::common::{StatusCode, TestApp, TestEnv, assert_problem};

/// 2^127 - 1.
const M127: &str = "170141183460469231731687303715884105727";
/// nextprime(2^300) = 2^300 + 157.
const P300: &str =
    "2037035976334486086268445688409378161051468393665936250636140449354381299763336706183397533";

fn post(
    server: &TestApp,
    path: &str,
    key: Option<&str>,
    body: String,
) -> reqwest::blocking::Response {
    let mut req = server
        .client
        .post(server.url(path))
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(key) = key {
        req = req.header("Authorization", key);
    }
    req.send().unwrap()
}

fn used(server: &TestApp, key: &str) -> u64 {
    server.usage(key)["used"].as_u64().unwrap()
}

/// The answer's certificate, read and verified for `n`.
fn certificate_of(v: &Value, n: &str) -> Certificate {
    let cert = Certificate::from_json(&v["certificate"].to_string()).unwrap();
    assert_eq!(cert.number().to_string(), n);
    cert.verify().unwrap();
    cert
}

#[test]
fn a_prime_above_2_64_is_proven_with_a_certificate_anyone_can_check() {
    let env = TestEnv::new();
    let key = env.create_key("p", &["--limit", "100"]);
    let server = env.spawn(&[]);

    let r = server.check(&key, &format!("{{\"number\": {M127}, \"proof\": true}}"));
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().unwrap();
    assert!(!text.trim_end().contains('\n'), "one line: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (v["verdict"].as_str(), v["isPrime"].as_bool()),
        (Some("prime"), Some(true))
    );
    assert!(v.get("proof").is_none(), "{v}");
    let cert = certificate_of(&v, M127);
    assert!(!cert.steps().is_empty());
    // The same number without a proof is the Baillie-PSW answer, as before.
    let v: Value = server
        .check(&key, &format!("{{\"number\": {M127}}}"))
        .json()
        .unwrap();
    assert_eq!(v["verdict"], "probable_prime");
    assert!(v.get("certificate").is_none());

    // Below 2^64 the verdict is exact already: prime, no certificate; composites keep their
    // evidence; neither has a `proof` member.
    for (n, verdict) in [
        ("18446744073709551557", "prime"),
        ("172983479832623897492387592384682937659382477", "composite"),
        ("1", "neither"),
    ] {
        let v: Value = server
            .check(&key, &format!("{{\"number\": {n}, \"proof\": true}}"))
            .json()
            .unwrap();
        assert_eq!(v["verdict"], verdict, "{n}: {v}");
        assert!(
            v.get("certificate").is_none() && v.get("proof").is_none(),
            "{v}"
        );
    }
    // "proof" must be a boolean.
    let r = server.check(&key, &format!("{{\"number\": {M127}, \"proof\": 1}}"));
    assert_problem(r, StatusCode::BAD_REQUEST);
    // One unit per 200: 5 answers.
    assert_eq!(used(&server, &key), 5);
}

#[test]
fn proof_limits_and_timeouts() {
    let env = TestEnv::new();
    let key = env.create_key("p", &["--limit", "100"]);
    let server = env.spawn(&["--max-proof-bits", "200", "--proof-timeout-ms", "1"]);

    // Over --max-proof-bits: 422 naming the limit, nothing charged.
    let r = server.check(&key, &format!("{{\"number\": {P300}, \"proof\": true}}"));
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"].as_str().unwrap().contains("200 bits"),
        "{body}"
    );
    assert_eq!(used(&server, &key), 0);
    // The same number without a proof is fine.
    let r = server.check(&key, &format!("{{\"number\": {P300}}}"));
    assert_eq!(r.status(), StatusCode::OK);

    // Within the bit limit but not within 1 ms: the Baillie-PSW verdict, "timed_out".
    let p199 = next_prime(BigUint::from(1u8) << 199u32).to_string();
    let v: Value = server
        .check(&key, &format!("{{\"number\": {p199}, \"proof\": true}}"))
        .json()
        .unwrap();
    assert_eq!(
        (v["verdict"].as_str(), v["proof"].as_str()),
        (Some("probable_prime"), Some("timed_out")),
        "{v}"
    );
    assert!(v.get("certificate").is_none());
    assert_eq!(used(&server, &key), 2);
}

fn next_prime(mut n: BigUint) -> BigUint {
    while !primality::is_prime(&n) {
        n += 1u8;
    }
    n
}

#[test]
fn proofs_in_batches_and_streams() {
    let env = TestEnv::new();
    let key = env.create_key("p", &["--limit", "100"]);
    let server = env.spawn(&["--max-proof-bits", "200"]);

    let body = format!("{{\"numbers\": [{M127}, 91, {P300}], \"proof\": true}}");
    let r = post(&server, "/check-prime/batch", Some(&key), body);
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().unwrap();
    let results = v["results"].as_array().unwrap();
    certificate_of(&results[0], M127);
    assert_eq!(results[1]["verdict"], "composite");
    // The 300-bit number is over the proof limit: an error of that item alone.
    assert!(results[2].get("error").is_some(), "{v}");
    assert!(results[2].get("certificate").is_none());

    let r = server
        .client
        .post(server.url("/check-prime/batch?proof=true"))
        .header("Authorization", key.as_str())
        .header("Content-Type", "application/x-ndjson")
        .body(format!("{M127}\n97\n"))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    certificate_of(&lines[0], M127);
    assert_eq!(lines[1]["verdict"], "prime");
}

#[test]
fn verify_certificate_in_both_forms_valid_or_not() {
    let env = TestEnv::new();
    let key = env.create_key("v", &["--limit", "100"]);
    let server = env.spawn(&[]);
    let n: BigUint = M127.parse().unwrap();
    let cert = prove(&n, Effort::unlimited()).unwrap();

    let pari = serde_json::json!({ "pari": cert.to_pari() }).to_string();
    for body in [cert.to_json(), pari] {
        let r = post(&server, "/verify-certificate", Some(&key), body);
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers().contains_key("x-ratelimit-remaining"));
        let v: Value = r.json().unwrap();
        assert_eq!(v, serde_json::json!({"valid": true, "number": M127}));
    }

    // A forged step: 200, not valid, the first failing step and condition named.
    let mut steps = cert.steps().to_vec();
    steps[0].s += 1u8;
    let forged = Certificate::new(n.clone(), steps).to_json();
    let v: Value = post(&server, "/verify-certificate", Some(&key), forged)
        .json()
        .unwrap();
    assert_eq!(
        (v["valid"].as_bool(), v["number"].as_str()),
        (Some(false), Some(M127))
    );
    let error = v["error"].as_str().unwrap();
    assert!(error.starts_with("step 1: "), "{error}");
    assert_eq!(
        error,
        cert_error(&n, &cert),
        "the library's words, unchanged"
    );
    // A composite with no steps is not proven by the exact test either.
    let v: Value = post(
        &server,
        "/verify-certificate",
        Some(&key),
        Certificate::new(BigUint::from(91u8), vec![]).to_json(),
    )
    .json()
    .unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(used(&server, &key), 4);

    // Not a certificate: 400, nothing charged; no key: 401; not JSON: 415.
    for bad in ["{}", "[1, 2]", "{\"pari\": \"[[1]]\"}", "nonsense"] {
        let r = post(&server, "/verify-certificate", Some(&key), bad.to_owned());
        assert_problem(r, StatusCode::BAD_REQUEST);
    }
    let r = post(&server, "/verify-certificate", None, cert.to_json());
    assert_problem(r, StatusCode::UNAUTHORIZED);
    let r = server
        .client
        .post(server.url("/verify-certificate"))
        .header("Authorization", key.as_str())
        .header("Content-Type", "text/plain")
        .body(cert.to_json())
        .send()
        .unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(used(&server, &key), 4);
}

/// The error `verify` gives for `cert` with its first step's `s` increased by one.
fn cert_error(n: &BigUint, cert: &Certificate) -> String {
    let mut steps = cert.steps().to_vec();
    steps[0].s += 1u8;
    Certificate::new(n.clone(), steps)
        .verify()
        .unwrap_err()
        .to_string()
}

#[test]
fn verify_certificate_limits() {
    let env = TestEnv::new();
    let key = env.create_key("v", &["--limit", "100"]);
    let server = env.spawn(&["--max-proof-bits", "100", "--max-certificate-bytes", "4096"]);
    let n: BigUint = M127.parse().unwrap();
    let cert = prove(&n, Effort::unlimited()).unwrap();

    // A certificate for a 127-bit number, over --max-proof-bits 100: 422, naming the way out.
    let r = post(&server, "/verify-certificate", Some(&key), cert.to_json());
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("prime-client verify"),
        "{body}"
    );
    // A body over --max-certificate-bytes: 413.
    let padded = format!("{}{}", cert.to_json(), " ".repeat(5000));
    let r = post(&server, "/verify-certificate", Some(&key), padded);
    assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(used(&server, &key), 0);
}

#[test]
fn the_documented_example_is_a_valid_certificate() {
    let env = TestEnv::new();
    let key = env.create_key("v", &["--limit", "10"]);
    let server = env.spawn(&[]);
    let doc: Value = server.get("/openapi.json", None).json().unwrap();
    let example = &doc["paths"]["/verify-certificate"]["post"]["requestBody"]["content"]["application/json"]
        ["example"];
    assert!(example["pari"].is_string(), "{example}");
    let v: Value = post(
        &server,
        "/verify-certificate",
        Some(&key),
        example.to_string(),
    )
    .json()
    .unwrap();
    assert_eq!(v["valid"], true, "{v}");
    // The same certificate in docs/api.md.
    let api_md = include_str!("../../../../docs/api.md");
    assert!(api_md.contains(example["pari"].as_str().unwrap()));
}
