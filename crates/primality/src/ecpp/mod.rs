//! Primality proofs by Atkin-Morain elliptic curve primality proving (ECPP).
//!
//! For a probable prime `N` the prover looks for an imaginary quadratic discriminant `D` with
//! `4N = t^2 + |D| v^2` (Cornacchia), so that the curves with complex multiplication by `D`
//! have `m = N + 1 - t` points for one of the traces `t`; it keeps an `m = s q` whose cofactor
//! `q > (N^(1/4) + 1)^2` is a probable prime once the primes below 2^16 are removed, builds
//! the curve from a root of the Hilbert class polynomial `H_D` modulo `N` (or `j = 0, 1728`
//! for `D = -3, -4`), finds a point `P` with `s P ≠ O` and `m P = O`, and starts again with
//! `q`, until `q < 2^64`, which the exact `u64` test settles.

pub(crate) mod arith;
mod classpoly;
pub(crate) mod ec;
mod poly;
mod prover;

use num_bigint::BigUint;
use num_traits::ToPrimitive;

use crate::cert::Certificate;
use crate::{Effort, Verdict, check};

/// Why [`prove`] returned no certificate.
///
/// ```
/// use primality::{prove, BigUint, Effort, Evidence, ProveError, Verdict};
/// let err = prove(&BigUint::from(91u8), Effort::unlimited()).unwrap_err();
/// assert_eq!(err, ProveError::NotPrime(Verdict::Composite(Evidence::Factor(7u8.into()))));
/// assert_eq!(err.to_string(), "not prime: composite (factor 7)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProveError {
    /// The number is not prime: the verdict of [`crate::check`] (with the evidence for a
    /// composite), or [`Verdict::Neither`] for 0 and 1.
    #[error("not prime: {0}")]
    NotPrime(Verdict),
    /// The [`Effort`] ran out (deadline or cancellation) before the proof was complete.
    #[error("the proof did not finish within its effort budget")]
    Exhausted,
    /// No discriminant of the prover's table led to a curve for the number reached at this
    /// size (never seen for primes below 2^1024; a composite that passes Baillie-PSW would
    /// also end here).
    #[error("no usable curve found for a {bits}-bit number in the proof chain")]
    NoCurve {
        /// Size of the number the descent was stuck on.
        bits: u64,
    },
}

/// Prove `n` prime: an ECPP certificate (Atkin-Morain) that anyone can check with
/// [`Certificate::verify`], PARI/GP's `primecertisvalid` (through [`Certificate::to_pari`]) or by
/// hand. Below 2^64 the certificate has no steps: the exact `u64` test settles it.
///
/// Composite numbers, 0 and 1 get [`ProveError::NotPrime`] with [`check`]'s verdict and
/// evidence. The `effort` is polled between discriminants (well under a millisecond apart at
/// 1000 bits), so a deadline or cancellation ends the search promptly with
/// [`ProveError::Exhausted`].
///
/// ```
/// use primality::{prove, BigUint, Effort};
/// let m127 = (BigUint::from(1u8) << 127u32) - 1u8;
/// let cert = prove(&m127, Effort::unlimited()).unwrap();
/// assert_eq!(cert.number(), &m127);
/// assert!(!cert.steps().is_empty());
/// assert!(cert.verify().is_ok());
/// ```
pub fn prove(n: &BigUint, effort: Effort) -> Result<Certificate, ProveError> {
    if let Some(small) = n.to_u64() {
        return match check(n) {
            Verdict::Prime => Ok(Certificate::new(BigUint::from(small), Vec::new())),
            v => Err(ProveError::NotPrime(v)),
        };
    }
    match check(n) {
        Verdict::ProbablePrime => {}
        v => return Err(ProveError::NotPrime(v)),
    }
    let steps = prover::descend(n, &effort)?;
    Ok(Certificate::new(n.clone(), steps))
}
