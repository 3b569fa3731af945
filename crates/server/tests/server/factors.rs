//! `"factorize": true`: the prime factors with the verdict, within a time budget.

use std::time::{Duration, Instant};

use num_bigint::BigUint;
use serde_json::Value;

use crate::common::{StatusCode, TestEnv, assert_problem};

const TUTORIAL: &str = "172983479832623897492387592384682937659382477";

fn factorize(server: &crate::common::TestApp, key: &str, n: &str) -> Value {
    let r = server.check(key, &format!("{{\"number\": {n}, \"factorize\": true}}"));
    assert_eq!(r.status(), StatusCode::OK, "{n}");
    r.json().unwrap()
}

fn product(factors: &Value) -> BigUint {
    factors
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().parse::<BigUint>().unwrap())
        .product()
}

#[test]
fn the_tutorial_number_and_its_factors() {
    let env = TestEnv::new();
    let key = env.create_key("f", &["--limit", "10"]);
    let server = env.spawn(&[]);
    let v = factorize(&server, &key, TUTORIAL);
    assert_eq!(v["verdict"], "composite");
    assert_eq!(
        v["factors"],
        serde_json::json!(["9020941", "47434853", "404254839687862545241277653549"])
    );
    assert_eq!(v["complete"], true);
    assert!(v.get("cofactor").is_none());
    // Multiplicity, ascending; a prime is its own factorisation.
    let v = factorize(&server, &key, "360");
    assert_eq!(
        v["factors"],
        serde_json::json!(["2", "2", "2", "3", "3", "5"])
    );
    let m127 = "170141183460469231731687303715884105727";
    let v = factorize(&server, &key, m127);
    assert_eq!(
        (v["verdict"].as_str(), &v["factors"]),
        (Some("probable_prime"), &serde_json::json!([m127]))
    );
    // 0, 1 and negative numbers have no factorisation to give.
    for n in ["0", "1", "-12"] {
        let v = factorize(&server, &key, n);
        assert!(
            v.get("factors").is_none() && v.get("complete").is_none(),
            "{n}: {v}"
        );
    }
    // Without the option, the answer is as before (no factors).
    let r = server.check(&key, &format!("{{\"number\": {TUTORIAL}}}"));
    let v: Value = r.json().unwrap();
    assert!(v.get("factors").is_none());
    // One unit per 200.
    assert_eq!(server.usage(&key)["used"], 7);
    assert_problem(
        server.check(&key, r#"{"number": 6, "factorize": "yes"}"#),
        StatusCode::BAD_REQUEST,
    );
    assert_eq!(server.usage(&key)["used"], 7);
}

#[test]
fn the_budget_is_honoured_and_the_rest_is_a_cofactor() {
    let env = TestEnv::new();
    let key = env.create_key("f", &[]);
    let server = env.spawn(&["--factor-timeout-ms", "300"]);
    // A 2048-bit semiprime of two 1024-bit primes: not split in 300 ms.
    let next_prime = |mut x: BigUint| {
        while !primality::is_prime(&x) {
            x += 1u8;
        }
        x
    };
    let p = next_prime((BigUint::from(1u8) << 1023u32) + 1u8);
    let q = next_prime(&p + 2u8);
    let n = &p * &q * 6u32;
    let started = Instant::now();
    // As a string: the echo of a 2050-bit integer literal is more than serde_json::Value holds.
    let v = factorize(&server, &key, &format!("\"{n}\""));
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(300) + Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(v["complete"], false);
    assert_eq!(v["factors"], serde_json::json!(["2", "3"]));
    let cofactor: BigUint = v["cofactor"].as_str().unwrap().parse().unwrap();
    assert_eq!(product(&v["factors"]) * cofactor, n);
}

#[test]
fn small_composites_get_a_factor_as_evidence() {
    let env = TestEnv::new();
    let key = env.create_key("f", &[]);
    let server = env.spawn(&[]);
    // Below 2^128 a quick rho finds small factors even without "factorize".
    let n = 10_007u128 * 1_000_000_007u128 * 1_000_000_009u128;
    let r = server.check(&key, &format!("{{\"number\": {n}}}"));
    let v: Value = r.json().unwrap();
    let f: u128 = v["factor"].as_str().unwrap().parse().unwrap();
    assert!(f > 1 && f < n && n.is_multiple_of(f), "{v}");
}
