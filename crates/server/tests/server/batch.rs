//! `POST /check-prime/batch`: JSON batches (all or nothing) and NDJSON streams (charged as
//! they are answered), on a real server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{StatusCode, TestEnv, assert_problem};

const TUTORIAL: &str = "172983479832623897492387592384682937659382477";
const QUOTA_LINE: &str =
    r#"{"status":429,"error":"Request limit exceeded. Please try again later."}"#;

fn post(
    server: &crate::common::TestApp,
    key: &str,
    content_type: &str,
    body: String,
) -> reqwest::blocking::Response {
    server
        .client
        .post(server.url("/check-prime/batch"))
        .header("Authorization", key)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .unwrap()
}

fn batch(server: &crate::common::TestApp, key: &str, body: &str) -> reqwest::blocking::Response {
    post(server, key, "application/json", body.to_owned())
}

#[test]
fn results_are_in_order_and_each_is_what_check_prime_answers() {
    let env = TestEnv::new();
    let key = env.create_key("b", &["--limit", "20"]);
    let server = env.spawn(&[]);
    let too_big = "9".repeat(3000);
    let body =
        format!(r#"{{"numbers": [17, "18", 1.5, {TUTORIAL}, true, "{too_big}", "007", -5]}}"#);
    let r = batch(&server, &key, &body);
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "15");
    let text = r.text().unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 8);
    // Valid items: byte for byte the single answer.
    for (i, n) in [
        (0, "17"),
        (1, "\"18\""),
        (3, TUTORIAL),
        (6, "\"007\""),
        (7, "-5"),
    ] {
        let single = server
            .check(&key, &format!("{{\"number\": {n}}}"))
            .text()
            .unwrap();
        assert!(text.contains(&single), "{single} in {text}");
        assert_eq!(results[i], serde_json::from_str::<Value>(&single).unwrap());
    }
    assert_eq!(results[1]["number"], "18");
    assert_eq!(results[6]["number"], "7");
    // Invalid items: as sent, with the status and text /check-prime would give.
    assert_eq!(results[2]["number"], json!(1.5));
    assert_eq!(results[2]["status"], 400);
    assert!(results[2]["error"].as_str().unwrap().contains("integer"));
    assert_eq!(
        (&results[4]["number"], &results[4]["status"]),
        (&json!(true), &json!(400))
    );
    assert_eq!(results[5]["status"], 422);
    assert_eq!(
        results[5]["error"],
        "number is larger than the limit of 8192 bits"
    );
    // 5 units for the batch, 5 for the single checks.
    assert_eq!(server.usage(&key)["used"], 10);
    // A batch of invalid items only costs nothing.
    let r = batch(&server, &key, r#"{"numbers": [1.5, "x"]}"#);
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(server.usage(&key)["used"], 10);
}

#[test]
fn all_or_nothing() {
    let env = TestEnv::new();
    let key = env.create_key("b", &["--limit", "5"]);
    let server = env.spawn(&[]);
    let r = batch(&server, &key, r#"{"numbers": [2, 3, 4, 5, 6, 7]}"#);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "5");
    let problem = assert_problem(r, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        problem["error"],
        "Request limit exceeded. Please try again later."
    );
    assert_eq!(server.usage(&key)["used"], 0);
    // Invalid items cost nothing: 5 valid of 7 fit exactly.
    let r = batch(&server, &key, r#"{"numbers": [2, "x", 3, 4, 1.5, 5, 6]}"#);
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(server.usage(&key)["used"], 5);
}

#[test]
fn limits_of_one_batch() {
    let env = TestEnv::new();
    let key = env.create_key("b", &["--limit", "100"]);
    let server = env.spawn(&[
        "--max-batch",
        "3",
        "--max-batch-body-bytes",
        "400",
        "--max-request-work",
        "100",
    ]);
    let p = assert_problem(
        batch(&server, &key, r#"{"numbers": [1, 2, 3, 4]}"#),
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    assert_eq!(p["type"], "tag:prime-api,2026:problems/batch-too-large");
    assert!(p["error"].as_str().unwrap().contains("at most 3"));
    let long = format!(r#"{{"numbers": ["{}"]}}"#, "1".repeat(500));
    assert_problem(batch(&server, &key, &long), StatusCode::PAYLOAD_TOO_LARGE);
    // A 148-bit number costs 27 work units, a 631-bit one 1000.
    let big = format!(r#"{{"numbers": [{TUTORIAL}, "{}"]}}"#, "9".repeat(190));
    let p = assert_problem(batch(&server, &key, &big), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["error"].as_str().unwrap().contains("work limit of 100"));
    let ok = format!(r#"{{"numbers": [{TUTORIAL}, {TUTORIAL}]}}"#);
    assert_eq!(batch(&server, &key, &ok).status(), StatusCode::OK);
    assert_problem(
        post(&server, &key, "text/plain", "1".into()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    );
    assert_problem(batch(&server, &key, "[1, 2]"), StatusCode::BAD_REQUEST);
    assert_problem(
        batch(&server, &key, r#"{"numbers": 5}"#),
        StatusCode::BAD_REQUEST,
    );
    assert_problem(batch(&server, "pk_nope", "{}"), StatusCode::UNAUTHORIZED);
    assert_eq!(server.usage(&key)["used"], 2);
}

#[test]
fn ten_concurrent_batches_of_100_against_550_units() {
    ten_batches_against_550(&TestEnv::new());
}

#[test]
fn ten_concurrent_batches_of_100_against_550_units_on_postgres() {
    if let Some((env, _)) = TestEnv::postgres() {
        ten_batches_against_550(&env);
    }
}

fn ten_batches_against_550(env: &TestEnv) {
    let key = env.create_key("race", &["--limit", "550"]);
    let server = env.spawn(&[]);
    let barrier = Arc::new(Barrier::new(10));
    let handles: Vec<_> = (0..10u64)
        .map(|t| {
            let (url, key, barrier) = (
                server.url("/check-prime/batch"),
                key.clone(),
                Arc::clone(&barrier),
            );
            std::thread::spawn(move || {
                let numbers: Vec<String> = (0..100).map(|i| (t * 1000 + i).to_string()).collect();
                let client = crate::common::client();
                barrier.wait();
                client
                    .post(url)
                    .header("Authorization", key)
                    .header("Content-Type", "application/json")
                    .body(format!("{{\"numbers\": [{}]}}", numbers.join(",")))
                    .send()
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let statuses: Vec<StatusCode> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = crate::common::count(&statuses, StatusCode::OK);
    let limited = crate::common::count(&statuses, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((ok, limited), (5, 5), "{statuses:?}");
    assert_eq!(server.usage(&key)["used"], 500);
}

#[test]
fn an_ndjson_stream_is_cut_at_the_quota_with_exactly_the_answered_lines_charged() {
    let env = TestEnv::new();
    let key = env.create_key("s", &["--limit", "5"]);
    let server = env.spawn(&[]);
    let body = "2\nx\n\"3\"\n\n{\"number\": 4}\n5\n6\n7\n8\n".to_owned();
    let r = post(&server, &key, "application/x-ndjson", body);
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    assert_eq!(lines[0], r#"{"number":2,"isPrime":true,"verdict":"prime"}"#);
    let bad: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!((&bad["number"], &bad["status"]), (&json!("x"), &json!(400)));
    assert_eq!(
        lines[2],
        r#"{"number":"3","isPrime":true,"verdict":"prime"}"#
    );
    assert_eq!(
        lines[3],
        r#"{"number":4,"isPrime":false,"verdict":"composite","factor":"2"}"#
    );
    assert!(lines[5].starts_with(r#"{"number":6,"#));
    assert_eq!(lines[6], QUOTA_LINE);
    assert_eq!(server.usage(&key)["used"], 5);
    // Used up: a new stream is a plain 429, nothing charged.
    let r = post(&server, &key, "application/x-ndjson", "11\n".into());
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS);
}

#[test]
fn an_ndjson_stream_answers_before_its_body_ends() {
    let env = TestEnv::new();
    let key = env.create_key("s", &["--limit", "10"]);
    let server = env.spawn(&[]);
    let mut socket = TcpStream::connect(server.addr()).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        socket,
        "POST /check-prime/batch?factorize=true HTTP/1.1\r\nHost: x\r\nAuthorization: {key}\r\n\
         Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n12\n\r\n"
    )
    .unwrap();
    // The first result arrives while the body is still open.
    let mut reader = BufReader::new(socket.try_clone().unwrap());
    let mut seen = String::new();
    while !seen.contains("isPrime") {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "closed: {seen}");
        seen.push_str(&line);
    }
    assert!(seen.contains(r#"{"number":12,"isPrime":false,"verdict":"composite","factor":"2","factors":["2","2","3"],"complete":true}"#), "{seen}");
    write!(socket, "3\r\n13\n\r\n0\r\n\r\n").unwrap();
    let mut rest = String::new();
    let _ = reader.read_to_string(&mut rest);
    assert!(
        rest.contains(
            r#"{"number":13,"isPrime":true,"verdict":"prime","factors":["13"],"complete":true}"#
        ),
        "{rest}"
    );
    assert_eq!(server.usage(&key)["used"], 2);
}

#[test]
fn an_ndjson_stream_ends_at_the_work_limit_and_at_a_long_line() {
    let env = TestEnv::new();
    let key = env.create_key("s", &["--limit", "10"]);
    let server = env.spawn(&["--max-request-work", "60", "--max-body-bytes", "100"]);
    let body = format!("{TUTORIAL}\n7\n{TUTORIAL}\n{TUTORIAL}\n9\n");
    let text = post(&server, &key, "application/x-ndjson", body)
        .text()
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let end: Value = serde_json::from_str(lines[3]).unwrap();
    assert_eq!(end["status"], 422);
    assert_eq!(server.usage(&key)["used"], 3);
    let body = format!("5\n{}\n7\n", "1".repeat(200));
    let text = post(&server, &key, "application/x-ndjson", body)
        .text()
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].starts_with(r#"{"status":413,"#), "{text}");
    assert_eq!(server.usage(&key)["used"], 4);
}

#[test]
fn metrics_count_items() {
    let env = TestEnv::new();
    let key = env.create_key("m", &["--limit", "100"]);
    let server = env.spawn(&[]);
    assert_eq!(
        batch(&server, &key, r#"{"numbers": [2, 3, 5, 7, 11, "x"]}"#).status(),
        StatusCode::OK
    );
    let text = server.get("/metrics", None).text().unwrap();
    assert!(
        text.contains(r#"prime_checks_total{bits_le="64",verdict="prime"} 5"#),
        "{text}"
    );
    assert!(
        text.contains(r#"prime_http_requests_total{route="/check-prime/batch",status="200"} 1"#)
    );
}

/// Send `lines` lines of the largest prime below 2^64 (checked inline; 23 bytes a line) as an
/// NDJSON stream in chunks from one thread, while this one reads the chunked answer; the
/// answer lines that say "prime", and every line.
fn stream_primes(addr: &str, key: &str, lines: usize) -> (usize, usize) {
    const LINE: &str = "\"18446744073709551557\"\n";
    let mut socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        socket,
        "POST /check-prime/batch HTTP/1.1\r\nHost: x\r\nAuthorization: {key}\r\n\
         Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let mut writer = socket.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let chunk = LINE.repeat(1000);
        for _ in 0..lines / 1000 {
            write!(writer, "{:x}\r\n{chunk}\r\n", chunk.len()).unwrap();
        }
        write!(writer, "0\r\n\r\n").unwrap();
    });
    let mut reader = BufReader::new(socket);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "closed in the head: {head}"
        );
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    let (mut primes, mut all) = (0, 0);
    let mut partial = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        let mut data = vec![0; size + 2];
        reader.read_exact(&mut data).unwrap();
        if size == 0 {
            break;
        }
        partial.extend_from_slice(&data[..size]);
        while let Some(end) = partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = partial.drain(..=end).collect();
            all += 1;
            if line.ends_with(b"\"isPrime\":true,\"verdict\":\"prime\"}\n") {
                primes += 1;
            }
        }
    }
    sender.join().unwrap();
    (primes, all)
}

/// A million-line stream (23 MB in, 60 MB out) leaves the server's peak memory where a
/// 100,000-line one put it: the body is read as the answer is pulled, never held whole. The
/// real binary, so that `/proc` shows the server's memory alone.
#[test]
fn a_million_line_stream_keeps_the_server_memory_flat() {
    let env = TestEnv::new();
    let key = env.create_key("m", &["--limit", "2000000"]);
    let server = env.spawn_process(&[]);
    let mut peaks = Vec::new();
    for lines in [100_000usize, 1_000_000] {
        assert_eq!(stream_primes(&server.addr(), &key, lines), (lines, lines));
        peaks.push(server.memory_kib("VmHWM"));
    }
    assert_eq!(server.usage(&key)["used"], 1_100_000);
    // Holding the million-line body (23 MB) or its answer (60 MB) would add tens of MiB.
    assert!(
        peaks[1] <= peaks[0] + 8 * 1024,
        "peak memory {} KiB after 100,000 lines, {} KiB after 1,000,000",
        peaks[0],
        peaks[1]
    );
}
