//! The exact 64-bit path: trial division, then strong tests to base 2 and to one base chosen
//! by a hash of `n`, in Montgomery form on `u64`/`u128`.
//!
//! # Why two bases are enough
//!
//! Forišek and Jančina ("Fast primality testing for integers that fit into a machine word",
//! 2015) showed that hashing `n` into buckets and giving each bucket its own base lets very few
//! strong tests decide every number of a range: the composites that pass the first test are
//! known, so a base is searched per bucket that none of them in that bucket passes. Below 2^64
//! the composites that pass the strong base-2 test are known: Feitsma and Galway listed every
//! base-2 Fermat pseudoprime below 2^64. machine-prime 1.5.7 (J. A. Sory, CC0-1.0; its table is
//! adapted from V. Wegner, "The Single Shot Miller Rabin Test", 2025) ships such a table,
//! `FERMAT_WITNESS`, 2^18 bases indexed by `(n as u32) * 811484239 >> 14`, which its author built
//! and checked against that list so that base 2 and the bucket's base together leave no
//! composite below 2^64 (below 2^47 the bucket's base alone suffices, which we do not use).
//! machine-prime's `is_prime` runs those two tests after trial division by the odd primes up to
//! 727; so does this module (`crate::trial`), so every number reaching the table's base here is
//! one that machine-prime's exact `is_prime` gives the same two tests. The tests check this path
//! against Baillie-PSW (exact below 2^64, Gilchrist's check of Feitsma's list: R. Baillie,
//! A. Fiori, S. S. Wagstaff Jr., "Strengthening the Baillie-PSW primality test", Math. Comp. 90
//! (2021), 1931-1955), which stays here as the reference, on every odd `n` of a range, on the
//! published pseudoprime tables and on random inputs.
//!
//! Two strong tests cost about as many Montgomery products as base 2 plus a strong Lucas test,
//! but unlike the Lucas chain the second exponentiation does not depend on the first, so
//! `strong_test_2_and` runs them side by side. Nothing here allocates.

mod arith;
mod lucas;
mod mont64;
mod strong;

pub(crate) use arith::{gcd_u64, inv_mod_small, isqrt_u64, jacobi_small, square_mod_64};
#[cfg(test)]
pub(crate) use lucas::strong_lucas;
pub(crate) use lucas::{LucasOutcome, selfridge_d};
pub(crate) use mont64::{Mont64, inv_u64};
pub(crate) use strong::{strong_test, strong_test_2_and};

use crate::trial::{self, U64_TRIAL_LIMIT_SQUARED};

/// The result of the exact 64-bit test, with evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum U64Verdict {
    Neither,
    Prime,
    Factor(u64),
    Witness(u64),
}

/// The base of the second strong test for `n`: machine-prime's hash of the low 32 bits of `n`
/// into its table of 2^18 bases (every base in it is at least 3 and below 2^16, so below every
/// `n` that reaches the strong tests).
#[inline]
pub(crate) fn hashed_base(n: u64) -> u64 {
    let bucket = (n as u32).wrapping_mul(811_484_239) >> 14;
    u64::from(machine_prime::FERMAT_WITNESS[bucket as usize])
}

/// Trial division of `n`: `Some` verdict if it settles `n`, `None` if `n` is odd, above the
/// trial limit's square and free of trial-prime factors.
#[inline]
fn trial_verdict(n: u64) -> Option<U64Verdict> {
    if n < 2 {
        return Some(U64Verdict::Neither);
    }
    if n.is_multiple_of(2) {
        return Some(if n == 2 {
            U64Verdict::Prime
        } else {
            U64Verdict::Factor(2)
        });
    }
    if let Some(p) = trial::small_odd_factor_u64(n) {
        return Some(if p == n {
            U64Verdict::Prime
        } else {
            U64Verdict::Factor(p)
        });
    }
    (n < U64_TRIAL_LIMIT_SQUARED).then_some(U64Verdict::Prime)
}

/// Exact primality of a `u64`, with evidence: a trial-prime factor, or the base (2 or the
/// hashed base) whose strong test `n` fails.
pub(crate) fn check_u64(n: u64) -> U64Verdict {
    if let Some(verdict) = trial_verdict(n) {
        return verdict;
    }
    match strong_test_2_and(&Mont64::new(n), hashed_base(n)) {
        None => U64Verdict::Prime,
        Some(a) => U64Verdict::Witness(a),
    }
}

/// Exact primality of a `u64` without evidence (the fast path of [`crate::is_prime_u64`]).
#[inline]
pub(crate) fn is_prime_u64(n: u64) -> bool {
    if n < 64 {
        return (PRIMES_BELOW_64 >> n) & 1 == 1;
    }
    if n.is_multiple_of(2) {
        return false;
    }
    if let Some(p) = trial::small_odd_factor_u64(n) {
        return p == n;
    }
    if n < U64_TRIAL_LIMIT_SQUARED {
        return true;
    }
    strong_test_2_and(&Mont64::new(n), hashed_base(n)).is_none()
}

/// Bit `p` set for every prime `p < 64`.
const PRIMES_BELOW_64: u64 = (1 << 2)
    | (1 << 3)
    | (1 << 5)
    | (1 << 7)
    | (1 << 11)
    | (1 << 13)
    | (1 << 17)
    | (1 << 19)
    | (1 << 23)
    | (1 << 29)
    | (1 << 31)
    | (1 << 37)
    | (1 << 41)
    | (1 << 43)
    | (1 << 47)
    | (1 << 53)
    | (1 << 59)
    | (1 << 61);

/// Strong test to base `a` for any odd `n > 3` that fits a `u64` (used by the public
/// Miller-Rabin and by tests).
pub(crate) fn strong_test_u64(n: u64, a: u64) -> bool {
    strong_test(&Mont64::new(n), a)
}

/// Baillie-PSW on a `u64` (trial division, strong base-2 test, perfect squares, strong Lucas
/// test): the previous exact path, kept as the independent reference for the tests of the
/// hashed-base path.
#[cfg(test)]
pub(crate) fn is_prime_u64_bpsw(n: u64) -> bool {
    if let Some(verdict) = trial_verdict(n) {
        return verdict == U64Verdict::Prime;
    }
    let mont = Mont64::new(n);
    if !strong::strong_test_base2(&mont) {
        return false;
    }
    if square_mod_64(n) {
        let r = isqrt_u64(n);
        if r * r == n {
            return false;
        }
    }
    strong_lucas(&mont) == LucasOutcome::Probable
}

#[cfg(test)]
mod tests;
