//! `prime-client prove N`: what the server's answer to `{"number": N, "proof": true}` proves.
//!
//! A certificate is believed only after the primality library has verified it here, for the
//! number that was asked about: an answer whose certificate does not check out is not from a
//! working prime-api server (exit 5), whatever the output format.

use primality::{BigUint, Certificate};

use crate::api::CheckAnswer;
use crate::cli::CertificateFormat;
use crate::output;

/// What an answer to a proof request amounts to.
#[derive(Debug)]
pub enum Proven {
    /// The number is prime, and this certificate (verified) says so.
    Prime {
        /// The verified certificate (no steps for a prime below 2^64, which the exact test
        /// settles).
        certificate: Certificate,
        /// The human line: `N is prime (proven: certificate with K steps)`.
        line: String,
    },
    /// The number is not proven prime: composite, neither, or no proof in time.
    NotProven {
        /// The human line, saying which.
        line: String,
    },
}

/// Interpret `answer`, the server's answer for `number`. `Err` holds why the answer cannot be
/// from a working prime-api server.
pub fn interpret(number: &BigUint, answer: &CheckAnswer) -> Result<Proven, String> {
    let n = output::shorten(&answer.number);
    match (answer.verdict.as_deref(), &answer.certificate) {
        (Some("prime"), Some(json)) => {
            let certificate = Certificate::from_json(json)
                .map_err(|e| format!("a certificate that cannot be read ({e})"))?;
            if certificate.number() != number {
                return Err("a certificate for another number".to_string());
            }
            certificate
                .verify()
                .map_err(|e| format!("a certificate that does not verify ({e})"))?;
            let steps = certificate.steps().len();
            Ok(Proven::Prime {
                certificate,
                line: format!("{n} is prime (proven: certificate with {steps} steps)"),
            })
        }
        // Below 2^64 the verdict is exact and the server sends no certificate; the empty one
        // says the same and verifies (by the exact test) here.
        (Some("prime"), None) => {
            let certificate = Certificate::new(number.clone(), Vec::new());
            if number.bits() > 64 || certificate.verify().is_err() {
                return Err("`prime` without a certificate".to_string());
            }
            Ok(Proven::Prime {
                certificate,
                line: format!("{n} is prime (proven: below 2^64, certificate with 0 steps)"),
            })
        }
        (Some("probable_prime"), _) => match answer.proof.as_deref() {
            Some("timed_out") => Ok(Proven::NotProven {
                line: format!(
                    "{n} is probably prime (passed Baillie-PSW; not proven: the server's proof \
                     timed out)"
                ),
            }),
            Some("failed") => Ok(Proven::NotProven {
                line: format!(
                    "{n} is probably prime (passed Baillie-PSW; not proven: the server found no \
                     proof)"
                ),
            }),
            _ => Err(
                "a probable prime without a proof (does the server support \"proof\"?)".to_string(),
            ),
        },
        (Some("composite" | "neither"), _) => Ok(Proven::NotProven {
            line: output::check_line(answer),
        }),
        _ => Err("no `verdict` (does the server support \"proof\"?)".to_string()),
    }
}

/// The certificate in `format`, ending with a line break.
pub fn render(certificate: &Certificate, format: CertificateFormat) -> String {
    let mut text = match format {
        CertificateFormat::Json => certificate.to_json(),
        CertificateFormat::Pari => certificate.to_pari(),
    };
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use primality::{Effort, prove};

    fn answer(number: &str, verdict: &str, certificate: Option<String>) -> CheckAnswer {
        CheckAnswer {
            number: number.to_string(),
            is_prime: verdict == "prime",
            verdict: Some(verdict.to_string()),
            certificate,
            ..CheckAnswer::default()
        }
    }

    #[test]
    fn a_certificate_is_verified_for_the_number_asked() {
        let n = (BigUint::from(1u8) << 89u32) - 1u8;
        let cert = prove(&n, Effort::unlimited()).unwrap();
        let text = n.to_string();
        let good = answer(&text, "prime", Some(cert.to_json()));
        match interpret(&n, &good).unwrap() {
            Proven::Prime { certificate, line } => {
                assert_eq!(certificate, cert);
                let expected = format!(
                    "{text} is prime (proven: certificate with {} steps)",
                    cert.steps().len()
                );
                assert_eq!(line, expected);
            }
            other => panic!("{other:?}"),
        }
        // Another number's certificate.
        let other = (BigUint::from(1u8) << 107u32) - 1u8;
        assert!(interpret(&other, &good).is_err());
        // A forged step.
        let mut steps = cert.steps().to_vec();
        steps[0].t += 2u8;
        let forged = answer(
            &text,
            "prime",
            Some(Certificate::new(n.clone(), steps).to_json()),
        );
        assert!(
            interpret(&n, &forged)
                .unwrap_err()
                .contains("does not verify")
        );
        // Not a certificate.
        assert!(interpret(&n, &answer(&text, "prime", Some("[1]".into()))).is_err());
        // `prime` without a certificate above 2^64.
        assert!(interpret(&n, &answer(&text, "prime", None)).is_err());
    }

    #[test]
    fn below_2_64_the_empty_certificate() {
        let n = BigUint::from(18_446_744_073_709_551_557u64); // the largest prime below 2^64
        match interpret(&n, &answer(&n.to_string(), "prime", None)).unwrap() {
            Proven::Prime { certificate, .. } => {
                assert!(certificate.steps().is_empty());
                assert_eq!(
                    render(&certificate, CertificateFormat::Pari),
                    format!("{n}\n")
                );
            }
            other => panic!("{other:?}"),
        }
        // A composite said to be prime is caught by the exact test.
        let c = BigUint::from(18_446_744_073_709_551_559u64);
        assert!(interpret(&c, &answer(&c.to_string(), "prime", None)).is_err());
    }

    #[test]
    fn no_proof_is_not_proven() {
        let n = (BigUint::from(1u8) << 127u32) - 1u8;
        let mut timed_out = answer(&n.to_string(), "probable_prime", None);
        timed_out.proof = Some("timed_out".into());
        assert!(matches!(
            interpret(&n, &timed_out).unwrap(),
            Proven::NotProven { line } if line.contains("timed out")
        ));
        let mut old_server = timed_out.clone();
        old_server.proof = None;
        assert!(interpret(&n, &old_server).is_err());
        let composite = answer("91", "composite", None);
        assert!(matches!(
            interpret(&BigUint::from(91u8), &composite).unwrap(),
            Proven::NotProven { line } if line.starts_with("91 is not prime")
        ));
    }
}
