//! The certificates `POST /verify-certificate` accepts: the JSON form of docs/certificates.md,
//! or PARI/GP's `primecert` form wrapped as `{"pari": "<text>"}`.

use primality::Certificate;
use serde::Deserialize;

use super::number::NumberError;

#[derive(Deserialize)]
struct PariBody {
    pari: String,
}

/// Read a `/verify-certificate` body. An unreadable certificate is a malformed request; a
/// readable one is returned whether or not it is valid ([`Certificate::verify`] decides).
pub fn parse_request(body: &[u8]) -> Result<Certificate, NumberError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| NumberError::Malformed("the body is not UTF-8 text".to_owned()))?;
    let unreadable = |e: primality::CertificateError| NumberError::Malformed(e.to_string());
    // An object with a string member `pari` is PARI's form; anything else must be the JSON form.
    match serde_json::from_str::<PariBody>(text) {
        Ok(PariBody { pari }) => Certificate::from_pari(&pari).map_err(unreadable),
        Err(_) => Certificate::from_json(text).map_err(unreadable),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use primality::{BigUint, Effort};

    #[test]
    fn both_forms_and_unreadable_bodies() {
        let n: BigUint = "170141183460469231731687303715884105727".parse().unwrap();
        let cert = primality::prove(&n, Effort::unlimited()).unwrap();
        assert_eq!(parse_request(cert.to_json().as_bytes()).unwrap(), cert);
        let pari = serde_json::json!({ "pari": cert.to_pari() }).to_string();
        assert_eq!(parse_request(pari.as_bytes()).unwrap(), cert);
        for bad in [
            &b"\xff"[..],
            b"{}",
            b"[1, 2]",
            b"{\"pari\": \"[[1]]\"}",
            b"not json",
        ] {
            assert!(
                matches!(parse_request(bad), Err(NumberError::Malformed(_))),
                "{bad:?}"
            );
        }
    }
}
