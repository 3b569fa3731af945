//! TLS with rustls and the ring crypto provider, chosen explicitly (a second provider linked in
//! by some dependency can then never make `ServerConfig::builder()` panic).
//!
//! `--tls-cert` is a PEM file holding the certificate chain, leaf first; `--tls-key` a PEM file
//! holding its private key (PKCS#8, PKCS#1 or SEC1). Every problem — a missing or unreadable
//! file, no certificate, no key, a key that does not belong to the certificate — stops the
//! server before it listens, with a message naming the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or parsed as PEM.
    #[error("cannot read {what} {}: {reason}", path.display())]
    Read {
        /// `--tls-cert` or `--tls-key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The certificate file holds no certificate.
    #[error("--tls-cert {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file", .0.display())]
    NoCertificate(PathBuf),
    /// Certificate and key do not fit together, or rustls refused them.
    #[error("--tls-cert {} and --tls-key {} cannot be used together: {reason}", cert.display(), key.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        reason: String,
    },
}

/// The crypto provider of this binary: ring. Also installed as the process default, so any
/// other rustls user in the process agrees.
pub fn provider() -> Arc<CryptoProvider> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Err only when a provider is already installed (by us, or a test's client): keep it.
    let _ = CryptoProvider::install_default(rustls::crypto::ring::default_provider());
    provider
}

fn pem_error(what: &'static str, path: &Path, e: rustls_pki_types::pem::Error) -> TlsError {
    let reason = match e {
        rustls_pki_types::pem::Error::Io(io) => io.to_string(),
        rustls_pki_types::pem::Error::NoItemsFound => "no PEM private key in the file".to_owned(),
        other => format!("invalid PEM: {other}"),
    };
    TlsError::Read {
        what,
        path: path.to_owned(),
        reason,
    }
}

/// Load the certificate chain and key and build the server's TLS configuration
/// (TLS 1.3 and 1.2; actix-web adds the ALPN protocol `http/1.1`).
pub fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_error("--tls-cert", cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("--tls-cert", cert, e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_owned()));
    }
    let private_key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error("--tls-key", key, e))?;
    let mismatch = |e: rustls::Error| TlsError::Mismatch {
        cert: cert.to_owned(),
        key: key.to_owned(),
        reason: match e {
            rustls::Error::InconsistentKeys(_) => {
                "the private key does not belong to the certificate".to_owned()
            }
            other => other.to_string(),
        },
    };
    ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(mismatch)?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(mismatch)
}
