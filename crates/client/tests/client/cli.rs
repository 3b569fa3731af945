//! `prime-client` end to end: the real binary against a real `prime-server` on a real port with
//! a real SQLite file.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{ClosedPort, Server, client, lines};

/// 2^521 − 1, a Mersenne prime of 157 digits.
const M521: &str = "6864797660130609714981900799081393217269435300143305409394463459185543183397656052122559640661454554977296311391480858037121987999716643812574028291115057151";
/// 3 · (2^521 − 1).
const M521_TIMES_3: &str = "20594392980391829144945702397244179651808305900429916228183390377556629550192968156367678921984363664931888934174442574111365963999149931437722084873345171453";
/// The tutorial's number (45 digits, composite).
const TUTORIAL: &str = "172983479832623897492387592384682937659382477";

fn stdout_of(out: &std::process::Output) -> Vec<String> {
    lines(&out.stdout)
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_clean_stderr(stderr: &str) {
    assert!(!stderr.contains("panic"), "panic on stderr: {stderr}");
    assert!(
        !stderr.contains("RUST_BACKTRACE"),
        "backtrace hint: {stderr}"
    );
}

#[test]
fn help_and_version_exit_0() {
    let out = client().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("check") && help.contains("time") && help.contains("PRIME_API_KEY"));
    let out = client().args(["check", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = client().arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["check"][..],
        &["frobnicate"][..],
        &["--timeout", "0", "time"][..],
        &["--timeout", "soon", "time"][..],
        &["check", "-", "5", "-"][..],
        &["--url", "ftp://example.com", "--key", "k", "time"][..],
    ] {
        let out = client().args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "args {args:?}: {}",
            stderr_of(&out)
        );
        assert!(out.stdout.is_empty());
        assert_clean_stderr(&stderr_of(&out));
    }
}

#[test]
fn missing_key_exits_2_before_sending() {
    // Nothing listens on this port: had the client tried to connect, it would exit 5.
    let closed = ClosedPort::new();
    let url = closed.url();
    for args in [&["check", "17"][..], &["time"][..]] {
        let out = client().args(["--url", &url]).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = stderr_of(&out);
        assert!(
            err.contains("no API key: pass --key or set PRIME_API_KEY"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn check_small_numbers() {
    let server = Server::start();
    let key = server.create_key("small", 100, None);
    let out = server
        .client(&key)
        .args(["check", "17", "15", "1", "0", "2", "-7", "0004"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let got = stdout_of(&out);
    assert_eq!(got.len(), 7, "{got:?}");
    assert_eq!(got[0], "17 is prime");
    assert_eq!(got[1], "15 is not prime (factor 3)");
    assert_eq!(got[2], "1 is neither prime nor composite");
    assert_eq!(got[3], "0 is neither prime nor composite");
    assert_eq!(got[4], "2 is prime");
    assert_eq!(got[5], "-7 is neither prime nor composite");
    assert!(got[6].starts_with("4 is not prime"), "{}", got[6]);
    assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
    assert_eq!(server.used(&key), 7);
}

#[test]
fn check_big_numbers_exactly() {
    let server = Server::start();
    let key = server.create_key("big", 100, None);

    // Human output: long numbers shortened, one line each.
    let out = server
        .client(&key)
        .args([
            "check",
            M521,
            M521_TIMES_3,
            TUTORIAL,
            "18446744073709551629",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let got = stdout_of(&out);
    assert_eq!(
        got[0],
        "6864797660…1115057151 (157 digits) is probably prime (passed Baillie-PSW)"
    );
    assert_eq!(
        got[1],
        "2059439298…3345171453 (158 digits) is not prime (factor 3)"
    );
    assert!(
        got[2].starts_with("1729834798…7659382477 (45 digits) is not prime ("),
        "{}",
        got[2]
    );
    assert_eq!(
        got[3],
        "18446744073709551629 is probably prime (passed Baillie-PSW)"
    );

    // JSON output: the exact digits come back, as an integer literal.
    let out = server
        .client(&key)
        .args(["--json", "check", M521, TUTORIAL])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let got = stdout_of(&out);
    assert_eq!(got.len(), 2);
    let compact: String = got[0].chars().filter(|c| !c.is_whitespace()).collect();
    assert!(
        compact.contains(&format!("\"number\":{M521},"))
            || compact.contains(&format!("\"number\":{M521}}}")),
        "{}",
        got[0]
    );
    assert!(got[1].contains(TUTORIAL), "{}", got[1]);
    let v: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(v["isPrime"], true);
    assert_eq!(v["verdict"], "probable_prime");
}

#[test]
fn json_is_one_object_per_line() {
    let server = Server::start();
    let key = server.create_key("json", 100, None);
    let out = server
        .client(&key)
        .args(["--json", "check", "2", "9", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let got = stdout_of(&out);
    assert_eq!(got.len(), 3, "{got:?}");
    let objects: Vec<serde_json::Value> = got
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects[0]["number"], 2);
    assert_eq!(objects[0]["isPrime"], true);
    assert_eq!(objects[0]["verdict"], "prime");
    assert_eq!(objects[1]["number"], 9);
    assert_eq!(objects[1]["verdict"], "composite");
    assert!(objects[1].get("factor").is_some() || objects[1].get("witness").is_some());
    assert_eq!(objects[2]["verdict"], "neither");
    // The flag also works after the subcommand.
    let out = server
        .client(&key)
        .args(["time", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let got = stdout_of(&out);
    assert_eq!(got.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert!(v["currentTime"].is_string());
}

#[test]
fn time_prints_one_line() {
    let server = Server::start();
    let key = server.create_key("time", 100, None);
    let out = server.client(&key).arg("time").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let got = stdout_of(&out);
    assert_eq!(got.len(), 1);
    // `2026-11-28 03:59:03`
    let t = got[0].as_bytes();
    assert_eq!(t.len(), 19, "{}", got[0]);
    for (i, c) in t.iter().enumerate() {
        match i {
            4 | 7 => assert_eq!(*c, b'-'),
            10 => assert_eq!(*c, b' '),
            13 | 16 => assert_eq!(*c, b':'),
            _ => assert!(c.is_ascii_digit(), "{}", got[0]),
        }
    }
}

#[test]
fn stdin_streams_many_numbers() {
    let server = Server::start();
    let key = server.create_key("stdin", 10_000, None);
    let count = 3000;
    let mut input = String::new();
    for n in 1..=count {
        // Mixed whitespace, several numbers per line.
        input.push_str(&n.to_string());
        input.push(if n % 7 == 0 { '\n' } else { ' ' });
    }
    let started = Instant::now();
    let out = server
        .client(&key)
        .args(["check", "-"])
        .write_stdin(input)
        .output()
        .unwrap();
    eprintln!("{count} numbers from stdin in {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let got = stdout_of(&out);
    assert_eq!(got.len(), count);
    assert_eq!(got[0], "1 is neither prime nor composite");
    assert_eq!(got[1], "2 is prime");
    assert_eq!(got[2999], "3000 is not prime (factor 2)");
    assert_eq!(got[2998], "2999 is prime");
    assert_eq!(server.used(&key), count as u64);
}

#[test]
fn stdin_mixed_with_arguments_and_invalid_tokens() {
    let server = Server::start();
    let key = server.create_key("mixed", 100, None);
    let out = server
        .client(&key)
        .args(["check", "5", "-", "11"])
        .write_stdin("7 banana\n 1.5 13\n")
        .output()
        .unwrap();
    // Invalid stdin tokens are reported and skipped; the valid numbers are answered; exit 2.
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert_eq!(
        stdout_of(&out),
        ["5 is prime", "7 is prime", "13 is prime", "11 is prime"]
    );
    let err = stderr_of(&out);
    assert!(
        err.contains("stdin line 1: invalid number \"banana\""),
        "{err}"
    );
    assert!(
        err.contains("stdin line 2: invalid number \"1.5\""),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
    assert_eq!(server.used(&key), 4);
}

#[test]
fn env_vars_instead_of_flags() {
    let server = Server::start();
    let key = server.create_key("env", 100, None);
    let out = client()
        .env("PRIME_API_URL", format!("{}/", server.url))
        .env("PRIME_API_KEY", &key)
        .env("PRIME_API_TIMEOUT", "10")
        .args(["check", "97"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), ["97 is prime"]);
    // Flags win over the environment.
    let closed = ClosedPort::new();
    let out = client()
        .env("PRIME_API_URL", closed.url())
        .env("PRIME_API_KEY", "wrong")
        .args(["--url", &server.url, "--key", &key, "time"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

#[test]
fn wrong_key_exits_3() {
    let server = Server::start();
    let key = server.create_key("real", 100, None);
    // A garbage key, and a well-formed one with one character changed.
    let mut altered = key.clone().into_bytes();
    let last = altered.len() - 1;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    for bad in ["not-a-key", altered.as_str()] {
        for args in [&["check", "17"][..], &["time"][..]] {
            let out = server.client(bad).args(args).output().unwrap();
            assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
            assert!(out.stdout.is_empty());
            let err = stderr_of(&out);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains("unauthorized"), "{err}");
            assert!(!err.contains(bad), "the key must not be echoed: {err}");
        }
    }
}

#[test]
fn quota_exhausted_exits_4_with_reset_time() {
    let server = Server::start();
    let key = server.create_key("small-quota", 2, None);
    let out = server
        .client(&key)
        .args(["check", "2", "3", "5", "7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), ["2 is prime", "3 is prime"]);
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("quota exhausted"), "{err}");
    assert!(err.contains("resets"), "{err}");
    assert_eq!(server.used(&key), 2);
}

/// A burst-limit 429 charges nothing and names a short wait: the client slows down to the key's
/// rate instead of failing (no `--wait` needed); `--max-wait` still bounds it. One request per
/// number here (`--batch-size 1`): a batch takes one place in the burst limit.
#[test]
fn burst_429s_are_waited_out() {
    let server = Server::start();
    let key = server.create_key_with("bursty", &["--limit", "100", "--rate", "2/s"]);
    let started = Instant::now();
    let out = server
        .client(&key)
        .args([
            "--verbose",
            "check",
            "--batch-size",
            "1",
            "2",
            "3",
            "5",
            "7",
            "11",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out).len(), 5);
    assert!(stderr_of(&out).contains("rate limited (burst)"));
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(server.used(&key), 5);
    let slow = server.create_key_with("slow", &["--limit", "100", "--rate", "1/m"]);
    let out = server
        .client(&slow)
        .args(["--max-wait", "5", "check", "--batch-size", "1", "2", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("rate limited") && err.contains("--max-wait"),
        "{err}"
    );
}

/// Batches wait out burst-limit 429s the same way: with a burst of 1, the second batch (sent
/// right after the first) is refused, waited out, and sent again; every number is answered
/// and charged once. Beyond `--max-wait` the run stops with exit 4 after what was answered.
#[test]
fn batches_wait_out_burst_429s() {
    let server = Server::start();
    let key = server.create_key_with("bursty-batches", &["--limit", "100", "--rate", "1/s"]);
    let started = Instant::now();
    let out = server
        .client(&key)
        .args([
            "--verbose",
            "check",
            "--batch-size",
            "2",
            "2",
            "3",
            "5",
            "7",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out).len(), 4);
    assert!(stderr_of(&out).contains("rate limited (burst)"));
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(server.listed_used(&key), 4);
    let slow = server.create_key_with("slow-batches", &["--limit", "100", "--rate", "1/m"]);
    let out = server
        .client(&slow)
        .args([
            "--max-wait",
            "5",
            "check",
            "--batch-size",
            "2",
            "2",
            "3",
            "5",
            "7",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out).len(), 2);
    let err = stderr_of(&out);
    assert!(
        err.contains("rate limited") && err.contains("--max-wait"),
        "{err}"
    );
    assert_eq!(server.listed_used(&slow), 2);
}

#[test]
fn wait_turns_429_into_success() {
    let server = Server::start();
    let key = server.create_key("waiter", 1, Some("*/5 * * * * *"));
    let started = Instant::now();
    let out = server
        .client(&key)
        .args(["--wait", "check", "2", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), ["2 is prime", "3 is prime"]);
    let err = stderr_of(&out);
    assert!(err.contains("waiting"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn wait_gives_up_beyond_max_wait() {
    let server = Server::start();
    // A daily reset twelve hours from now: far more than --max-wait.
    let hour = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 3600
        + 12)
        % 24;
    let key = server.create_key("daily", 1, Some(&format!("0 0 {hour} * * *")));
    let out = server
        .client(&key)
        .args(["--wait", "--max-wait", "2", "check", "2", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), ["2 is prime"]);
    assert!(
        stderr_of(&out).contains("--max-wait"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn unreachable_server_exits_5_naming_the_url() {
    let closed = ClosedPort::new();
    let url = closed.url();
    let out = client()
        .args(["--url", &url, "--key", "k", "check", "17"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot reach the server at"), "{err}");
    assert!(err.contains(&url), "{err}");
    assert_clean_stderr(&err);
}

#[test]
fn timeout_exits_5() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let started = Instant::now();
    let out = client()
        .args(["--url", &url, "--key", "k", "--timeout", "1", "check", "17"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = stderr_of(&out);
    assert!(err.contains("no answer from the server"), "{err}");
    drop(listener);
}

#[test]
fn invalid_number_exits_2_and_charges_nothing() {
    let server = Server::start();
    let key = server.create_key("careful", 5, None);
    for bad in ["abc", "1.5", "1e9", "0x11", ""] {
        let out = server
            .client(&key)
            .args(["check", "17", bad, "19"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr_of(&out));
        assert!(out.stdout.is_empty(), "nothing is answered");
        assert!(
            stderr_of(&out).contains("invalid number"),
            "{}",
            stderr_of(&out)
        );
    }
    assert_eq!(server.used(&key), 0);
    // -v shows the untouched quota after one real check.
    let out = server
        .client(&key)
        .args(["-v", "check", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("quota: 4 of 5 left"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn verbose_shows_quota_and_reset() {
    let server = Server::start();
    let key = server.create_key("verbose", 10, None);
    let out = server
        .client(&key)
        .args(["-v", "check", "7", "8"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), ["7 is prime", "8 is not prime (factor 2)"]);
    let err = stderr_of(&out);
    let notes: Vec<&str> = err.lines().collect();
    assert_eq!(notes.len(), 2, "{err}");
    assert!(
        notes[0].starts_with("prime-client: quota: 9 of 10 left, resets "),
        "{err}"
    );
    assert!(
        notes[1].starts_with("prime-client: quota: 8 of 10 left, resets "),
        "{err}"
    );
}

#[test]
fn too_large_number_is_reported_and_the_rest_go_on() {
    let server = Server::start_with(&["--max-bits", "64"]);
    let key = server.create_key("limits", 10, None);
    let out = server
        .client(&key)
        .args(["check", "3", M521, "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), ["3 is prime", "5 is prime"]);
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("the server rejected 6864797660…1115057151 (157 digits)"),
        "{err}"
    );
    assert_eq!(server.used(&key), 2);
}

#[test]
fn broken_pipe_exits_quietly() {
    let server = Server::start();
    let key = server.create_key("pipe", 100_000, None);
    let mut child = Command::new(crate::common::client_bin())
        .args(["--url", &server.url, "--key", &key, "check", "-"])
        .env_remove("PRIME_API_URL")
        .env_remove("PRIME_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for n in 1..=20_000u32 {
            if writeln!(stdin, "{n}").is_err() {
                break; // the client is gone: fine
            }
        }
    });
    // Read one line, then close the pipe, as `| head -n 1` does.
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert_eq!(first, "1 is neither prime nor composite\n");
    drop(reader);
    let status = child.wait().unwrap();
    writer.join().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(err.is_empty(), "stderr: {err}");
    assert!(server.used(&key) < 20_000);
}

#[test]
fn url_with_trailing_slash_and_bare_host() {
    let server = Server::start();
    let key = server.create_key("urls", 10, None);
    for url in [
        format!("{}/", server.url),
        format!("127.0.0.1:{}", server.port),
    ] {
        let out = client()
            .args(["--url", &url, "--key", &key, "check", "31"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{url}: {}", stderr_of(&out));
        assert_eq!(stdout_of(&out), ["31 is prime"]);
    }
    // A path prefix that this server does not have: not a prime-api answer → 5.
    let out = client()
        .args([
            "--url",
            &format!("{}/nope", server.url),
            "--key",
            &key,
            "check",
            "31",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("HTTP 404"), "{}", stderr_of(&out));
}

/// A stand-in for a misbehaving server: answers every request with `response`.
pub(crate) fn canned_server(response: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = std::io::Read::read_exact(&mut reader, &mut body);
            let _ = reader.get_mut().write_all(response.as_bytes());
        }
    });
    url
}

#[test]
fn server_errors_and_foreign_answers_exit_5() {
    let cases = [
        (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nRetry-After: 7\r\nContent-Length: 40\r\nConnection: close\r\n\r\n{\"error\":\"the key store is unavailable\"}",
            "server error at",
            "HTTP 503: the key store is unavailable (retry after 7s)",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\nConnection: close\r\n\r\n<html>",
            "unexpected response from",
            // "not a batch answer" (two numbers: one batch), "not a prime-check answer" (one).
            "answer (",
        ),
        (
            "HTTP/1.1 302 Found\r\nLocation: http://example.invalid/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "unexpected response from",
            "HTTP 302",
        ),
    ];
    for (response, first, second) in cases {
        let url = canned_server(response);
        let out = client()
            .args(["--url", &url, "--key", "k", "check", "17", "19"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
        assert!(out.stdout.is_empty());
        let err = stderr_of(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(first) && err.contains(second), "{err}");
    }
}
