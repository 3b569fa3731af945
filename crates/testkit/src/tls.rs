//! The TLS fixtures of every test: certificates made at test time with rcgen.

use std::path::Path;
use std::time::Duration;

use reqwest::blocking::Client;

/// Write a fresh private CA's certificate for `localhost` and `127.0.0.1` to `dir/cert.pem` and
/// its key to `dir/key.pem`; the CA certificate (PEM) that clients must trust.
pub fn write_ca_signed(dir: &Path) -> String {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "prime-api test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), leaf_key.serialize_pem()).unwrap();
    ca.as_ref().pem()
}

/// Write a self-signed certificate for `localhost` and `127.0.0.1` (no CA: the certificate is
/// its own trust anchor, as `openssl req -x509` makes) to `dir/cert.pem` and its key to
/// `dir/key.pem`; the certificate (PEM).
pub fn write_self_signed(dir: &Path) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    cert.pem()
}

/// Write a self-signed certificate marked as a CA (`CA:TRUE`, as OpenSSL 3's `req -x509` makes
/// them) for `localhost` and `127.0.0.1`, used as the server's own, to `dir/cert.pem` and its key
/// to `dir/key.pem`; the certificate (PEM).
pub fn write_self_signed_ca(dir: &Path) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    cert.pem()
}

/// A client that trusts only `ca_pem`.
pub fn client_trusting(ca_pem: &str) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .build()
        .unwrap()
}
