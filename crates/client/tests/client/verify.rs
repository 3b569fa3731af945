//! `prime-client verify FILE`: offline, no server, no key.

use primality::{BigUint, Certificate, Effort, prove};

use crate::common::client;

#[test]
fn verify_offline_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let n = (BigUint::from(1u8) << 127u32) - 1u8;
    let cert = prove(&n, Effort::unlimited()).unwrap();
    let json = dir.path().join("cert.json");
    let pari = dir.path().join("cert.gp");
    std::fs::write(&json, cert.to_json()).unwrap();
    std::fs::write(&pari, cert.to_pari()).unwrap();
    for file in [&json, &pari] {
        // No key, no server (an unreachable URL): still answered.
        let out = client()
            .args(["--url", "http://127.0.0.1:9", "verify"])
            .arg(file)
            .env_remove("PRIME_API_KEY")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with(&format!("{n} is prime (certificate with ")),
            "{stdout}"
        );
    }
    // A forged point: exit 1, the failing step on stderr.
    let mut steps = cert.steps().to_vec();
    let last = steps.len() - 1;
    steps[last].y = (&steps[last].y + 1u8) % &steps[last].n;
    let forged = dir.path().join("forged.json");
    std::fs::write(&forged, Certificate::new(n.clone(), steps).to_json()).unwrap();
    let out = client().arg("verify").arg(&forged).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("step {}: P is not on the curve", last + 1)),
        "{stderr}"
    );
    // --json on the same.
    let out = client()
        .args(["--json", "verify"])
        .arg(&forged)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    // Unreadable: no such file, and not a certificate.
    let out = client()
        .arg("verify")
        .arg(dir.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "hello").unwrap();
    let out = client().arg("verify").arg(&junk).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
