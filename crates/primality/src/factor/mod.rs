//! Integer factorisation within an explicit budget.
//!
//! [`factorize`] removes small primes by trial division, splits what is left with Pollard-Brent
//! rho, Pollard's `p - 1`, the elliptic curve method and the self-initialising quadratic sieve,
//! chosen by size, and returns when the number is factored or the [`Effort`] runs out: the
//! answer is then the primes found plus the unsplit composite [`Factorization::cofactor`].

mod driver;
mod ecm;
mod pm1;
mod power;
mod primes;
mod rho;
mod siqs;
mod squfof;
mod word;

use std::fmt;

use num_bigint::BigUint;
use num_traits::{One, ToPrimitive};

use crate::Effort;
use crate::mont_fixed::MontN;
use crate::small::Mont64;

/// The result of [`factorize`]: prime factors with multiplicity, and the part that was not
/// split within the budget.
///
/// Every factor is checked to divide the number, and every factor passes [`crate::check`]:
/// factors below 2^64 are proven primes, larger ones are probable primes by Baillie-PSW (no
/// counterexample is known; [`Factorization::probable_primes`] lists them).
///
/// ```
/// use primality::{factorize, BigUint, Effort};
///
/// let n = BigUint::from(360u32);
/// let f = factorize(&n, Effort::unlimited());
/// let expect: Vec<(BigUint, u32)> = vec![(2u8.into(), 3), (3u8.into(), 2), (5u8.into(), 1)];
/// assert_eq!(f.factors, expect);
/// assert!(f.is_complete());
/// assert_eq!(f.product(), n);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Factorization {
    /// The prime factors found, ascending, each with its multiplicity.
    pub factors: Vec<(BigUint, u32)>,
    /// The composite part that was not split within the budget (`None` when the factorisation
    /// is complete). For 0, which has no factorisation, this is `Some(0)`.
    pub cofactor: Option<BigUint>,
}

impl Factorization {
    /// Whether the factors multiply to the number (nothing is left unsplit).
    ///
    /// ```
    /// use primality::{factorize, BigUint, Effort};
    /// assert!(factorize(&BigUint::from(91u8), Effort::unlimited()).is_complete());
    /// assert!(!factorize(&BigUint::from(0u8), Effort::unlimited()).is_complete());
    /// ```
    pub fn is_complete(&self) -> bool {
        self.cofactor.is_none()
    }

    /// The product of the factors (with multiplicity) and the cofactor: the number that was
    /// factored.
    ///
    /// ```
    /// use primality::{factorize, BigUint, Effort};
    /// let n: BigUint = "172983479832623897492387592384682937659382477".parse().unwrap();
    /// assert_eq!(factorize(&n, Effort::unlimited()).product(), n);
    /// ```
    pub fn product(&self) -> BigUint {
        let primes = self
            .factors
            .iter()
            .fold(BigUint::one(), |acc, (p, e)| acc * p.pow(*e));
        match &self.cofactor {
            Some(c) => primes * c,
            None => primes,
        }
    }

    /// The prime factors in ascending order, each repeated by its multiplicity.
    ///
    /// ```
    /// use primality::{factorize, BigUint, Effort};
    /// let f = factorize(&BigUint::from(12u8), Effort::unlimited());
    /// let flat: Vec<String> = f.primes().map(|p| p.to_string()).collect();
    /// assert_eq!(flat, ["2", "2", "3"]);
    /// ```
    pub fn primes(&self) -> impl Iterator<Item = &BigUint> {
        self.factors
            .iter()
            .flat_map(|(p, e)| std::iter::repeat_n(p, *e as usize))
    }

    /// The factors of 2^64 and above: they passed Baillie-PSW and are probable primes, not
    /// proven ones.
    ///
    /// ```
    /// use primality::{factorize, BigUint, Effort};
    /// let m89 = (BigUint::from(1u8) << 89u32) - 1u8; // a Mersenne prime
    /// let f = factorize(&(&m89 * 3u8), Effort::unlimited());
    /// assert_eq!(f.probable_primes().collect::<Vec<_>>(), [&m89]);
    /// ```
    pub fn probable_primes(&self) -> impl Iterator<Item = &BigUint> {
        self.factors
            .iter()
            .map(|(p, _)| p)
            .filter(|p| p.bits() > 64)
    }

    /// Whether the factorisation is complete and every factor is a proven prime (below 2^64).
    ///
    /// ```
    /// use primality::{factorize, BigUint, Effort};
    /// assert!(factorize(&BigUint::from(u64::MAX), Effort::unlimited()).is_proven());
    /// let big: BigUint = "172983479832623897492387592384682937659382477".parse().unwrap();
    /// assert!(!factorize(&big, Effort::unlimited()).is_proven()); // a 30-digit factor
    /// ```
    pub fn is_proven(&self) -> bool {
        self.is_complete() && self.probable_primes().next().is_none()
    }
}

impl fmt::Display for Factorization {
    /// The factors joined by ` * `, powers as `p^e`, an unsplit part as `(composite c)`; `1`
    /// for the empty product.
    ///
    /// ```
    /// use primality::{factorize, BigUint, Effort};
    /// let f = factorize(&BigUint::from(720u32), Effort::unlimited());
    /// assert_eq!(f.to_string(), "2^4 * 3^2 * 5");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self
            .factors
            .iter()
            .map(|(p, e)| match e {
                1 => p.to_string(),
                e => format!("{p}^{e}"),
            })
            .collect();
        if let Some(c) = &self.cofactor {
            parts.push(format!("(composite {c})"));
        }
        if parts.is_empty() {
            return f.write_str("1");
        }
        f.write_str(&parts.join(" * "))
    }
}

/// Factor `n` into primes, giving up when `effort` is exhausted.
///
/// Trial division removes the primes below 2^16; numbers below 2^64 are then factored
/// completely by rho (and SQUFOF) in single-word arithmetic, whatever the effort. Larger
/// composites get, in order of cost: a short rho walk, Pollard `p - 1`, the elliptic curve
/// method with GMP-ECM's `B1` schedule (15-, 20-, 25-, 30-digit factors, ...) and, for
/// composites of up to 200 bits whose small factors ECM has ruled out, the self-initialising
/// quadratic sieve. The effort is polled between steps of bounded cost (a few milliseconds at
/// 2048 bits), so the call returns shortly after the deadline.
///
/// ```
/// use std::time::Duration;
/// use primality::{factorize, BigUint, Effort};
///
/// let n: BigUint = "172983479832623897492387592384682937659382477".parse().unwrap();
/// let f = factorize(&n, Effort::with_timeout(Duration::from_secs(10)));
/// let primes: Vec<String> = f.primes().map(|p| p.to_string()).collect();
/// assert_eq!(primes, ["9020941", "47434853", "404254839687862545241277653549"]);
/// assert!(f.is_complete());
/// ```
pub fn factorize(n: &BigUint, effort: Effort) -> Factorization {
    driver::factorize(n, &effort)
}

/// The complete factorisation of a `u64`: primes ascending with multiplicity (empty for 0
/// and 1). Always complete and proven, in microseconds.
///
/// ```
/// use primality::factorize_u64;
/// assert_eq!(factorize_u64(360), [(2, 3), (3, 2), (5, 1)]);
/// assert_eq!(factorize_u64(u64::MAX), [(3, 1), (5, 1), (17, 1), (257, 1), (641, 1), (65537, 1), (6700417, 1)]);
/// assert!(factorize_u64(1).is_empty());
/// ```
pub fn factorize_u64(n: u64) -> Vec<(u64, u32)> {
    word::factor_u64(n)
}

/// A nontrivial factor of the odd composite `n < 2^128` found by at most about `steps` steps of
/// rho (one walk, a fixed constant, so the answer is reproducible), for the evidence of
/// [`crate::check`].
pub(crate) fn quick_factor(n: &BigUint, steps: u64) -> Option<BigUint> {
    let unlimited = Effort::unlimited();
    let outcome = if let Some(small) = n.to_u64() {
        rho::brent(&Mont64::new(small), 1, steps, &unlimited)
    } else {
        let limbs = crate::mont_fixed::limbs_of::<2>(n)?;
        rho::brent(&MontN::<2>::new(limbs), 1, steps, &unlimited)
    };
    match outcome {
        rho::RhoOutcome::Factor(f) => Some(f),
        _ => None,
    }
    .filter(|f| f < n && !f.is_one())
}
