//! `check` with several numbers sends batches: the same output, exit codes and charges as one
//! request per number.

use std::time::Instant;

use crate::common::Server;

/// Run `check ARGS...` with `input` on stdin; (exit code, stdout, stderr).
fn run(server: &Server, key: &str, args: &[&str], input: &str) -> (Option<i32>, Vec<u8>, String) {
    let out = server
        .client(key)
        .arg("check")
        .args(args)
        .write_stdin(input.to_owned())
        .output()
        .unwrap();
    (
        out.status.code(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ten_thousand_numbers_print_the_same_with_and_without_batches() {
    let server = Server::start();
    let key = server.create_key("same", 100_000, None);
    let mut input = String::new();
    for n in 1..=10_000u64 {
        input.push_str(&n.to_string());
        input.push(if n % 9 == 0 { '\n' } else { ' ' });
        match n {
            // Refused locally, and by the server (over 8192 bits): reported in place.
            5000 => input.push_str("1.5 "),
            7000 => input.push_str(&format!("{} ", "9".repeat(3000))),
            _ => {}
        }
    }
    let t = Instant::now();
    let one = run(&server, &key, &["--batch-size", "1", "-", "17"], &input);
    let one_time = t.elapsed();
    let t = Instant::now();
    let batched = run(&server, &key, &["-", "17"], &input);
    eprintln!(
        "10,000 numbers: {one_time:?} one by one, {:?} in batches",
        t.elapsed()
    );
    assert_eq!(one.0, Some(2), "{}", one.2);
    assert_eq!(String::from_utf8_lossy(&one.1).lines().count(), 10_001);
    assert_eq!(one, batched);
    assert_eq!(one.2.lines().count(), 2, "{}", one.2);
    assert_eq!(server.used(&key), 2 * 10_001);
    // --json: the server's objects, the same bytes.
    let numbers: Vec<String> = (999_990..1_000_010u64).map(|n| n.to_string()).collect();
    let mut args: Vec<&str> = vec!["--json"];
    args.extend(numbers.iter().map(String::as_str));
    let mut single = args.clone();
    single.extend(["--batch-size", "1"]);
    let (one, batched) = (
        run(&server, &key, &single, ""),
        run(&server, &key, &args, ""),
    );
    assert_eq!(one, batched);
    assert!(String::from_utf8_lossy(&one.1).starts_with("{\"number\":999990,\"isPrime\":false"));
}

#[test]
fn a_quota_running_out_is_reported_after_the_answered_numbers() {
    let server = Server::start();
    let input: String = (1..=40).map(|n| format!("{n}\n")).collect();
    let mut runs = Vec::new();
    for (name, size) in [("one", "1"), ("batched", "1000"), ("small", "7")] {
        let key = server.create_key(name, 25, None);
        let got = run(&server, &key, &["--batch-size", size, "-"], &input);
        assert_eq!(server.used(&key), 25, "{name}");
        runs.push(got);
    }
    let (code, stdout, stderr) = &runs[0];
    assert_eq!(*code, Some(4));
    assert_eq!(String::from_utf8_lossy(stdout).lines().count(), 25);
    assert!(
        stderr.contains("quota exhausted: all 25 requests"),
        "{stderr}"
    );
    assert_eq!(runs[1], runs[0]);
    assert_eq!(runs[2], runs[0]);
}

#[test]
fn batches_larger_than_the_server_allows_are_split() {
    let server = Server::start_with(&["--max-batch", "7"]);
    let key = server.create_key("split", 1000, None);
    let input: String = (100..160).map(|n| format!("{n} ")).collect();
    let one = run(&server, &key, &["--batch-size", "1", "-"], &input);
    let batched = run(&server, &key, &["--batch-size", "50", "-"], &input);
    assert_eq!(one.0, Some(0), "{}", one.2);
    assert_eq!(one, batched);
    assert_eq!(server.used(&key), 120);
}
