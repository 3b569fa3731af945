//! `prime-client factor`: the real binary against a real `prime-server` (`"factorize": true`).

use crate::cli::canned_server;
use crate::common::{Server, client, lines};

/// The tutorial's number and its factors.
const TUTORIAL: &str = "172983479832623897492387592384682937659382477";
const TUTORIAL_LINE: &str = "172983479832623897492387592384682937659382477 = 9020941 × 47434853 × 404254839687862545241277653549";
/// RSA-100, a product of two 50-digit primes: not split in a tenth of a second.
const RSA100: &str = "1522605027922533360535618378132637429718068114961380688657908494580122963258952897654000350692006139";
/// 3 · RSA-100.
const RSA100_TIMES_3: &str = "4567815083767600081606855134397912289154204344884142065973725483740368889776858692962001052076018417";

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn factors_numbers_from_arguments_and_stdin() {
    let server = Server::start();
    let key = server.create_key("factor", 100, None);
    let out = server
        .client(&key)
        .args([
            "factor",
            TUTORIAL,
            "360",
            "97",
            "-",
            "18446744073709551615",
            "1",
            "-12",
        ])
        .write_stdin("1024\n  91 0\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
    let expected = [
        TUTORIAL_LINE,
        "360 = 2^3 × 3^2 × 5",
        "97 = 97",
        "1024 = 2^10",
        "91 = 7 × 13",
        "0 is neither prime nor composite: it has no prime factorisation",
        "18446744073709551615 = 3 × 5 × 17 × 257 × 641 × 65537 × 6700417",
        "1 is neither prime nor composite: it has no prime factorisation",
        "-12 is neither prime nor composite: it has no prime factorisation",
    ];
    assert_eq!(lines(&out.stdout), expected);
    assert_eq!(server.used(&key), 9);
}

#[test]
fn json_is_the_servers_answer() {
    let server = Server::start();
    let key = server.create_key("json", 100, None);
    let out = server
        .client(&key)
        .args(["factor", "--json", TUTORIAL, "12"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let got = lines(&out.stdout);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].contains(&format!("\"number\":{TUTORIAL}")),
        "{}",
        got[0]
    );
    let v: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(
        v["factors"],
        serde_json::json!(["9020941", "47434853", "404254839687862545241277653549"])
    );
    assert_eq!(v["complete"], true);
    assert_eq!(v["verdict"], "composite");
    let v: serde_json::Value = serde_json::from_str(&got[1]).unwrap();
    assert_eq!(v["factors"], serde_json::json!(["2", "2", "3"]));
}

#[test]
fn an_unfinished_factorisation_names_the_unsplit_part() {
    let server = Server::start_with(&["--factor-timeout-ms", "100"]);
    let key = server.create_key("slow", 100, None);
    let out = server
        .client(&key)
        .args(["factor", RSA100_TIMES_3])
        .output()
        .unwrap();
    // Answered: the exit code is 0 whether or not the factorisation is complete.
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        lines(&out.stdout),
        [format!(
            "{RSA100_TIMES_3} = 3 × (composite 1522605027…0692006139, 100 digits, not split within the server's time budget)"
        )]
    );
    let out = server
        .client(&key)
        .args(["--json", "factor", RSA100_TIMES_3])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_str(&lines(&out.stdout)[0]).unwrap();
    assert_eq!(v["complete"], false);
    assert_eq!(v["factors"], serde_json::json!(["3"]));
    assert_eq!(v["cofactor"], RSA100);
}

#[test]
fn exit_codes_are_those_of_check() {
    let server = Server::start();
    let key = server.create_key("codes", 100, None);
    // Invalid input: nothing sent, exit 2.
    let out = server
        .client(&key)
        .args(["factor", "12", "1e9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(server.used(&key), 0);
    // A bad token on stdin: reported, the rest answered, exit 2 at the end.
    let out = server
        .client(&key)
        .args(["factor", "-"])
        .write_stdin("6 banana 10")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert_eq!(lines(&out.stdout), ["6 = 2 × 3", "10 = 2 × 5"]);
    assert!(stderr_of(&out).contains("banana"), "{}", stderr_of(&out));
    // A wrong key: exit 3.
    let out = server
        .client("pk_wrong")
        .args(["factor", "12"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    // Out of quota: exit 4.
    let one = server.create_key("one", 1, None);
    let out = server
        .client(&one)
        .args(["factor", "12", "15"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert_eq!(lines(&out.stdout), ["12 = 2^2 × 3"]);
}

#[test]
fn factors_that_do_not_multiply_back_exit_5() {
    let cases = [
        // 12 is not 2 × 5.
        "{\"number\":12,\"isPrime\":false,\"verdict\":\"composite\",\"factor\":\"2\",\"factors\":[\"2\",\"5\"],\"complete\":true}",
        // A server that ignores "factorize".
        "{\"number\":12,\"isPrime\":false,\"verdict\":\"composite\",\"factor\":\"2\"}",
    ];
    for body in cases {
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let url = canned_server(Box::leak(response.into_boxed_str()));
        let out = client()
            .args(["--url", &url, "--key", "k", "factor", "12"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
        assert!(out.stdout.is_empty());
        let err = stderr_of(&out);
        assert!(err.contains("unexpected response from"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
