//! `prime-client` over HTTPS: a real prime-server with `--tls-cert/--tls-key` and a certificate
//! made at test time (by a private CA, or self-signed), trusted by the client through
//! `--ca-cert`.

use crate::common::{Server, lines};

struct Setup {
    server: Server,
    key: String,
    ca_path: String,
}

fn setup() -> Setup {
    let (server, ca) = Server::start_tls(testkit::tls::write_ca_signed);
    let ca_path = server.dir().join("ca.pem");
    std::fs::write(&ca_path, &ca).unwrap();
    let ca_path = ca_path.display().to_string();
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let key = server.create_key("tls", 10, None);
    Setup {
        server,
        key,
        ca_path,
    }
}

#[test]
fn check_and_time_over_https_with_ca_cert() {
    let s = setup();
    let out = s
        .server
        .client(&s.key)
        .args(["--ca-cert", &s.ca_path, "check", "17", "15"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        lines(&out.stdout),
        ["17 is prime", "15 is not prime (factor 3)"]
    );

    // The same through the environment variable, and with a host name instead of an address.
    let out = crate::common::client()
        .args(["--url", &s.server.url.replace("127.0.0.1", "localhost")])
        .args(["--key", &s.key, "--json", "time"])
        .env("PRIME_API_CA_CERT", &s.ca_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["currentTime"].is_string());
}

#[test]
fn untrusted_certificate_is_refused() {
    let s = setup();
    // Without --ca-cert the private CA is not trusted: cannot reach the server (exit 5).
    let out = s
        .server
        .client(&s.key)
        .args(["check", "17"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(out.stdout.is_empty());

    // Another CA does not help either.
    let other = tempfile::tempdir().unwrap();
    let other_ca = other.path().join("ca.pem");
    std::fs::write(&other_ca, testkit::tls::write_ca_signed(other.path())).unwrap();
    let out = s
        .server
        .client(&s.key)
        .args(["--ca-cert", other_ca.to_str().unwrap(), "check", "17"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    // Explained in words (which name, which file, what to do), not a debug dump.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not signed by the certificates in --ca-cert")
            && err.contains(other_ca.to_str().unwrap())
            && err.contains("localhost"),
        "{err}"
    );
    assert!(
        !err.contains("Other(") && !err.contains("OtherError"),
        "{err}"
    );
}

#[test]
fn bad_ca_cert_file_is_a_usage_error() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    for (path, needle) in [
        (missing.to_str().unwrap(), "No such file"),
        (not_pem.to_str().unwrap(), "no PEM certificate"),
    ] {
        let out = s
            .server
            .client(&s.key)
            .args(["--ca-cert", path, "check", "17"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--ca-cert") && err.contains(needle), "{err}");
    }
}

#[test]
fn self_signed_server_certificate_as_its_own_ca_cert() {
    let (server, _) = Server::start_tls(testkit::tls::write_self_signed);
    let cert_path = server.dir().join("cert.pem").display().to_string();
    let key = server.create_key("self-signed", 10, None);
    let out = server
        .client(&key)
        .args(["--ca-cert", &cert_path, "check", "15"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(lines(&out.stdout), ["15 is not prime (factor 3)"]);
}

/// The self-signed certificate OpenSSL 3 makes (`CA:TRUE`, used as the server's own) is accepted
/// when it is the one in `--ca-cert`, as curl accepts it; another such certificate is refused
/// with an explanation.
#[test]
fn openssl_style_self_signed_ca_certificate_is_pinned() {
    let make = |dir: &std::path::Path| -> String {
        let have_openssl = std::process::Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        if have_openssl {
            let status = std::process::Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .args([
                    "-subj",
                    "/CN=localhost",
                    "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1",
                ])
                .arg("-keyout")
                .arg(dir.join("key.pem"))
                .arg("-out")
                .arg(dir.join("cert.pem"))
                .output()
                .unwrap();
            assert!(status.status.success(), "{status:?}");
            std::fs::read_to_string(dir.join("cert.pem")).unwrap()
        } else {
            eprintln!("openssl not found: making the same kind of certificate with rcgen");
            testkit::tls::write_self_signed_ca(dir)
        }
    };
    let (server, cert) = Server::start_tls(make);
    assert!(cert.contains("BEGIN CERTIFICATE"));
    let cert_path = server.dir().join("cert.pem").display().to_string();
    let key = server.create_key("openssl", 10, None);
    let out = server
        .client(&key)
        .args(["--ca-cert", &cert_path, "check", "15"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(lines(&out.stdout), ["15 is not prime (factor 3)"]);
    // Another self-signed CA certificate is not this server's: refused, in words.
    let other = tempfile::tempdir().unwrap();
    let other_cert = other.path().join("other.pem");
    std::fs::write(
        &other_cert,
        testkit::tls::write_self_signed_ca(other.path()),
    )
    .unwrap();
    let out = server
        .client(&key)
        .args(["--ca-cert", other_cert.to_str().unwrap(), "check", "15"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("certificate") && err.contains(other_cert.to_str().unwrap()),
        "{err}"
    );
    assert!(!err.contains("OtherError"), "{err}");
}
