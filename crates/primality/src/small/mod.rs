//! The exact 64-bit path: trial division, then Baillie-PSW in Montgomery form on `u64`/`u128`.
//!
//! Baillie-PSW (a strong base-2 test plus a strong Lucas test with Selfridge's parameters) has
//! no counterexample below 2^64: Feitsma and Galway listed every base-2 Fermat pseudoprime below
//! 2^64, and Gilchrist checked that none of them is a strong Lucas pseudoprime (see R. Baillie,
//! A. Fiori, S. S. Wagstaff Jr., "Strengthening the Baillie-PSW primality test",
//! Math. Comp. 90 (2021), 1931-1955, section 1). The test below is therefore exact for every
//! `u64`. Nothing here allocates.

mod arith;
mod lucas;
mod mont64;
mod strong;

pub(crate) use arith::{gcd_u64, inv_mod_small, isqrt_u64, jacobi_small, square_mod_64};
pub(crate) use lucas::{LucasOutcome, selfridge_d, strong_lucas};
pub(crate) use mont64::{Mont64, inv_u64};
pub(crate) use strong::{strong_test, strong_test_base2};

use crate::trial::{self, U64_TRIAL_LIMIT_SQUARED};

/// The result of the exact 64-bit test, with evidence for composites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum U64Verdict {
    Neither,
    Prime,
    Factor(u64),
    Witness(u64),
}

/// Exact primality of a `u64`, with evidence.
pub(crate) fn check_u64(n: u64) -> U64Verdict {
    if n < 2 {
        return U64Verdict::Neither;
    }
    if n.is_multiple_of(2) {
        return if n == 2 {
            U64Verdict::Prime
        } else {
            U64Verdict::Factor(2)
        };
    }
    if let Some(p) = trial::small_odd_factor_u64(n) {
        return if p == n {
            U64Verdict::Prime
        } else {
            U64Verdict::Factor(p)
        };
    }
    if n < U64_TRIAL_LIMIT_SQUARED {
        return U64Verdict::Prime;
    }
    let mont = Mont64::new(n);
    if !strong_test_base2(&mont) {
        return U64Verdict::Witness(2);
    }
    if square_mod_64(n) {
        let r = isqrt_u64(n);
        if r * r == n {
            return U64Verdict::Factor(r);
        }
    }
    match strong_lucas(&mont) {
        LucasOutcome::Probable => U64Verdict::Prime,
        LucasOutcome::Factor(f) => U64Verdict::Factor(f),
        LucasOutcome::Composite => {
            // A strong base-2 pseudoprime: at least 3/4 of the bases in [1, n-1] are
            // witnesses (Monier-Rabin), so this ends after a few tries.
            let mut a = 3u64;
            loop {
                if !strong_test(&mont, a) {
                    return U64Verdict::Witness(a);
                }
                a += 1;
            }
        }
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
    let mont = Mont64::new(n);
    if !strong_test_base2(&mont) {
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
