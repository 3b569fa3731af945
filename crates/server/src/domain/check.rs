//! The work a check does: the verdict, and the factors or the proof when they are asked for.

use std::time::Duration;

use num_bigint::{BigInt, Sign};
use primality::{Certificate, Effort, Factorization, ProveError, Verdict};

use super::number::CheckOptions;

/// The primality check the server runs: `primality::check_signed`, unless a test replaces it to
/// see how the server copes with a failure inside it.
#[derive(Clone, Copy)]
pub struct Check(pub fn(&BigInt) -> Verdict);

impl Default for Check {
    fn default() -> Self {
        Check(primality::check_signed)
    }
}

impl PartialEq for Check {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::fn_addr_eq(self.0, other.0)
    }
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Check")
    }
}

/// How a check is done: the primality check, and the time factorisation and proofs may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Work {
    /// The primality check.
    pub check: Check,
    /// The most time a factorisation may take before it answers with what it found.
    pub factor_budget: Duration,
    /// The most time a proof may take before the answer falls back to Baillie-PSW.
    pub proof_budget: Duration,
}

/// What became of a proof that was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// The number is proven prime by this certificate.
    Certificate(Certificate),
    /// The proof did not finish within the budget.
    TimedOut,
    /// The prover found no curve for some number of the descent (not seen below 2^1024).
    Failed,
}

impl Proof {
    /// The wire name of a proof that did not succeed (`"proof"` member of the answer).
    pub fn failure_name(&self) -> Option<&'static str> {
        match self {
            Proof::Certificate(_) => None,
            Proof::TimedOut => Some("timed_out"),
            Proof::Failed => Some("failed"),
        }
    }
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The verdict, with evidence for a composite.
    pub verdict: Verdict,
    /// The factors, when asked for and the number is at least 2.
    pub factors: Option<Factorization>,
    /// The proof, when asked for and the number is a probable prime (at least 2^64).
    pub proof: Option<Proof>,
}

/// What a proof costs in work units: as much as the check of an 8192-bit number, since it may
/// run for the whole proof budget.
pub const PROOF_COST: u64 = 128 * 128 * 128;

/// Numbers up to this many bits are checked in about a microsecond and cost no work units.
pub const SMALL_BITS: u64 = 64;

/// What a factorisation of a number above [`SMALL_BITS`] costs in work units: as much as the
/// check of an 8192-bit number, since it may run for the whole factorisation budget.
pub const FACTORIZE_COST: u64 = 128 * 128 * 128;

/// The work units a check of a number of `bits` bits costs, for the bound on one request's
/// total work: nothing up to [`SMALL_BITS`], else `ceil(bits / 64)^3` (a modular
/// exponentiation of n words takes n multiplications of n^2 word products), plus
/// [`FACTORIZE_COST`] when factors are asked for and [`PROOF_COST`] when a proof is.
pub fn cost(bits: u64, options: CheckOptions) -> u64 {
    if bits <= SMALL_BITS {
        return 0;
    }
    let words = bits.div_ceil(64);
    let mut units = words.saturating_mul(words).saturating_mul(words);
    if options.factorize {
        units = units.saturating_add(FACTORIZE_COST);
    }
    if options.proof {
        units = units.saturating_add(PROOF_COST);
    }
    units
}

impl Work {
    /// Check `n` as `options` ask.
    pub fn run(&self, n: &BigInt, options: CheckOptions) -> Outcome {
        let mut verdict = (self.check.0)(n);
        let factors = match (options.factorize, n.sign()) {
            (true, Sign::Plus) if n.magnitude().bits() > 1 => Some(primality::factorize(
                n.magnitude(),
                Effort::with_timeout(self.factor_budget),
            )),
            _ => None,
        };
        let proof = match (options.proof, &verdict) {
            (true, Verdict::ProbablePrime) => {
                let (proven, proof) = self.prove(n);
                if let Some(proven) = proven {
                    verdict = proven;
                }
                Some(proof)
            }
            _ => None,
        };
        Outcome {
            verdict,
            factors,
            proof,
        }
    }

    /// Prove a probable prime: the verdict the proof settles (prime, or composite should
    /// Baillie-PSW ever be wrong) and what became of the proof.
    fn prove(&self, n: &BigInt) -> (Option<Verdict>, Proof) {
        match primality::prove(n.magnitude(), Effort::with_timeout(self.proof_budget)) {
            Ok(certificate) => (Some(Verdict::Prime), Proof::Certificate(certificate)),
            Err(ProveError::NotPrime(verdict)) => (Some(verdict), Proof::Failed),
            Err(ProveError::Exhausted) => (None, Proof::TimedOut),
            Err(_) => (None, Proof::Failed),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn work() -> Work {
        Work {
            check: Check::default(),
            factor_budget: Duration::from_secs(10),
            proof_budget: Duration::from_secs(10),
        }
    }

    #[test]
    fn costs() {
        let plain = CheckOptions::default();
        assert_eq!(cost(1, plain), 0);
        assert_eq!(cost(64, plain), 0);
        assert_eq!(cost(65, plain), 8);
        assert_eq!(cost(8192, plain), 2_097_152);
        let factorize = CheckOptions {
            factorize: true,
            ..CheckOptions::default()
        };
        assert_eq!(cost(64, factorize), 0);
        assert_eq!(cost(128, factorize), 8 + FACTORIZE_COST);
    }

    #[test]
    fn factors_only_when_asked_and_defined() {
        let factorize = CheckOptions {
            factorize: true,
            ..CheckOptions::default()
        };
        let n: BigInt = "172983479832623897492387592384682937659382477"
            .parse()
            .unwrap();
        let f = work().run(&n, factorize).factors.unwrap();
        assert!(f.is_complete());
        assert_eq!(f.primes().count(), 3);
        assert_eq!(work().run(&n, CheckOptions::default()).factors, None);
        for small in [-6, 0, 1] {
            assert_eq!(
                work().run(&BigInt::from(small), factorize).factors,
                None,
                "{small}"
            );
        }
        let prime = work().run(&BigInt::from(97), factorize);
        assert_eq!(prime.factors.unwrap().factors, vec![(97u8.into(), 1)]);
    }
}
