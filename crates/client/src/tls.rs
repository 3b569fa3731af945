//! `--ca-cert FILE`: which servers the client trusts, and TLS failures explained in words.
//!
//! Every certificate in the file is trusted two ways, as curl does with `--cacert`:
//! - as a **root**: a server whose chain leads to it is trusted (a private CA);
//! - **pinned**: a server presenting exactly that certificate is trusted, even when it is its own
//!   issuer and marked as a CA — the common self-signed certificate that
//!   `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext
//!   subjectAltName=DNS:localhost` makes (OpenSSL 3 marks it `CA:TRUE`, which a strict verifier
//!   refuses as a server's own certificate). The name the client connects to must still be one
//!   of the certificate's names, and the handshake is still signed by its key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::api::ClientError;

/// The certificates of a `--ca-cert` file.
#[derive(Debug, Clone)]
pub struct TrustedFile {
    path: PathBuf,
    certs: Vec<CertificateDer<'static>>,
}

impl TrustedFile {
    /// Read every certificate of a PEM file (a bundle may hold several).
    pub fn load(path: &Path) -> Result<TrustedFile, ClientError> {
        let bad = |why: String| ClientError::Usage(format!("--ca-cert {}: {why}", path.display()));
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("not a PEM certificate file ({e})")))?;
        if certs.is_empty() {
            return Err(bad(
                "no PEM certificate (-----BEGIN CERTIFICATE-----) in the file".to_string(),
            ));
        }
        Ok(TrustedFile {
            path: path.to_owned(),
            certs,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A TLS client configuration that trusts this file's certificates (and nothing else).
    pub fn client_config(&self) -> Result<rustls::ClientConfig, ClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        let (_, unusable) = roots.add_parsable_certificates(self.certs.iter().cloned());
        let setup =
            |why: String| ClientError::Usage(format!("--ca-cert {}: {why}", self.path.display()));
        if unusable == self.certs.len() {
            return Err(setup("no certificate in the file can be used".to_string()));
        }
        let chains =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| setup(e.to_string()))?;
        let verifier = Arc::new(TrustedFileVerifier {
            chains,
            pinned: self.certs.clone(),
            algorithms: provider.signature_verification_algorithms,
        });
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| setup(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }
}

/// Chains to the file's certificates, or exactly one of them.
#[derive(Debug)]
struct TrustedFileVerifier {
    chains: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for TrustedFileVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chained = self.chains.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match chained {
            Err(_)
                if self
                    .pinned
                    .iter()
                    .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                verify_server_name(&ParsedCertificate::try_from(end_entity)?, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TLS failure in words: what went wrong with the server's certificate and what to do; `None`
/// when `e` is not a certificate problem.
pub fn explain(
    e: &(dyn std::error::Error + 'static),
    host: &str,
    ca: Option<&Path>,
) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        // An I/O error's `source` skips the error it wraps (and wrappers nest): look inside.
        let mut candidate = Some(c);
        while let Some(err) = candidate {
            if let Some(rustls::Error::InvalidCertificate(problem)) = err.downcast_ref() {
                return Some(certificate_problem(problem, host, ca));
            }
            candidate = err
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map(|inner| inner as &(dyn std::error::Error + 'static));
        }
        cause = c.source();
    }
    None
}

fn certificate_problem(problem: &CertificateError, host: &str, ca: Option<&Path>) -> String {
    let trusted = match ca {
        Some(path) => format!("the certificates in --ca-cert {}", path.display()),
        None => "the system's trusted certificates".to_string(),
    };
    let hint = match ca {
        Some(_) => "give --ca-cert the CA that signed it, or the server's own certificate",
        None => {
            "give --ca-cert the CA that signed it, or the server's own certificate (a PEM file)"
        }
    };
    match problem {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => {
            format!("the server's certificate for {host} is not signed by {trusted}: {hint}")
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!(
                "the server's certificate is not valid for the name {host}: connect with a name \
                 the certificate lists (see its subjectAltName), or fix the certificate"
            )
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("the server's certificate for {host} has expired: the server needs a new one")
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => format!(
            "the server's certificate for {host} is not valid yet: check the clocks of both machines"
        ),
        // webpki's CaUsedAsEndEntity: a self-signed certificate marked as a CA, not pinned.
        CertificateError::Other(e) if format!("{e:?}").contains("CaUsedAsEndEntity") => format!(
            "the server for {host} presents a self-signed CA certificate as its own, and it is not \
             one of {trusted}: {hint}"
        ),
        other => format!("the server's certificate for {host} was refused ({other:?}): {hint}"),
    }
}
