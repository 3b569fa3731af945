//! `prime-client prove`: the real binary against a real `prime-server` (`"proof": true`); the
//! certificates it writes are checked by the library, by `prime-client verify` and, where it
//! is installed, by PARI/GP's `primecertisvalid`.

use std::io::Write;
use std::process::{Command, Stdio};

use primality::{BigUint, Certificate};

use crate::cli::canned_server;
use crate::common::{Server, client};

/// 2^127 - 1.
const M127: &str = "170141183460469231731687303715884105727";

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// PARI/GP's `primecertisvalid` on a PARI-form certificate, or `None` without `gp`.
fn pari_accepts(certificate: &str) -> Option<bool> {
    let mut child = Command::new("gp")
        .args(["-q", "-f", "-D", "parisize=100000000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let script = format!("print(primecertisvalid({}))\n", certificate.trim());
    child.stdin.take()?.write_all(script.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim() == "1")
}

#[test]
fn a_proof_goes_to_stdout_or_to_a_file_in_either_form() {
    let server = Server::start();
    let key = server.create_key("prove", 100, None);
    let m127: BigUint = M127.parse().unwrap();

    // No --out: the certificate (JSON) on stdout, the verdict on stderr.
    let out = server.client(&key).args(["prove", M127]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let cert = Certificate::parse(&stdout_of(&out)).unwrap();
    assert_eq!(cert.number(), &m127);
    cert.verify().unwrap();
    let steps = cert.steps().len();
    assert!(steps >= 1);
    assert_eq!(
        stderr_of(&out).trim(),
        format!("prime-client: {M127} is prime (proven: certificate with {steps} steps)")
    );

    // --format pari --out FILE: the file holds PARI's form, the verdict goes to stdout.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m127.gp");
    let out = server
        .client(&key)
        .args(["prove", M127, "--format", "pari", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stdout_of(&out).starts_with(&format!("{M127} is prime (proven: certificate with ")));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("[["), "{text}");
    let pari_cert = Certificate::from_pari(&text).unwrap();
    assert_eq!(pari_cert.number(), &m127);
    pari_cert.verify().unwrap();
    // `verify` reads what `prove` wrote, offline.
    let out = client().arg("verify").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    match pari_accepts(&text) {
        Some(accepted) => assert!(accepted, "primecertisvalid refused {text}"),
        None => eprintln!("SKIPPED primecertisvalid: PARI/GP (gp) is not installed"),
    }

    // --json: the server's object, certificate included, on one line.
    let out = server
        .client(&key)
        .args(["--json", "prove", M127])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "prime");
    let from_json = Certificate::from_json(&v["certificate"].to_string()).unwrap();
    from_json.verify().unwrap();

    // One unit per answered proof.
    assert_eq!(server.used(&key), 3);
}

#[test]
fn small_primes_composites_and_timeouts() {
    let server = Server::start_with(&["--proof-timeout-ms", "1"]);
    let key = server.create_key("prove", 100, None);
    let dir = tempfile::tempdir().unwrap();

    // Below 2^64 the exact test settles it: a certificate with no steps.
    let small = "18446744073709551557";
    let file = dir.path().join("small.json");
    let out = server
        .client(&key)
        .args(["prove", small, "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("certificate with 0 steps"));
    let cert = Certificate::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(cert.steps().is_empty());
    assert_eq!(cert.number().to_string(), small);

    // Composite: exit 1, the evidence on stdout, no file written.
    let none = dir.path().join("none.json");
    let out = server
        .client(&key)
        .args(["prove", "91", "--out"])
        .arg(&none)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out).trim(), "91 is not prime (factor 7)");
    assert!(!none.exists());

    // A 1 ms budget cannot prove a 300-bit prime: exit 1, and the answer says why.
    // nextprime(2^300) = 2^300 + 157.
    let p300 = "2037035976334486086268445688409378161051468393665936250636140449354381299763336706183397533";
    let n: BigUint = p300.parse().unwrap();
    assert_eq!(n, (BigUint::from(1u8) << 300u32) + 157u8);
    let out = server.client(&key).args(["prove", p300]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).contains("not proven: the server's proof timed out"),
        "{}",
        stdout_of(&out)
    );

    // Not a number: exit 2, nothing sent.
    let before = server.used(&key);
    let out = server.client(&key).args(["prove", "12x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(server.used(&key), before);
}

#[test]
fn a_certificate_that_does_not_verify_is_exit_5() {
    let m127: BigUint = M127.parse().unwrap();
    let cert = primality::prove(&m127, primality::Effort::unlimited()).unwrap();
    let mut steps = cert.steps().to_vec();
    steps[0].x = (&steps[0].x + 1u8) % &steps[0].n;
    let forged = Certificate::new(m127.clone(), steps).to_json();
    let other: BigUint = (BigUint::from(1u8) << 89u32) - 1u8;
    let elsewhere = primality::prove(&other, primality::Effort::unlimited())
        .unwrap()
        .to_json();
    for certificate in [forged, elsewhere] {
        let body = format!(
            "{{\"number\":{M127},\"isPrime\":true,\"verdict\":\"prime\",\"certificate\":{certificate}}}"
        );
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let url = canned_server(Box::leak(response.into_boxed_str()));
        let out = client()
            .args(["--url", &url, "--key", "k", "prove", M127])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
        assert!(out.stdout.is_empty());
        assert!(stderr_of(&out).contains("unexpected response from"));
    }
}
