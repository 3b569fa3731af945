//! Pollard's rho method with Brent's cycle search (R. P. Brent, "An improved Monte Carlo
//! factorization algorithm", BIT 20 (1980)), on any [`Ring`].
//!
//! The walk is `y -> y^2 + c` in Montgomery form (a quadratic polynomial like any other: the
//! constant is `c R^{-1}` in plain terms). Differences are multiplied together and one gcd is
//! taken per [`BATCH`] steps; when a batch overshoots (the gcd is `n`), the batch is replayed one
//! step at a time from its saved start. A prime factor `p` is found after about `1.03 sqrt(p)`
//! steps on average, each one squaring and one multiplication; on the one- and two-limb rings
//! nothing allocates.

use num_bigint::BigUint;

use crate::Effort;
use crate::ring::{Gcd, Ring};

/// Steps per gcd.
const BATCH: u64 = 128;

/// What a rho run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RhoOutcome {
    /// A nontrivial factor.
    Factor(BigUint),
    /// The walk closed its cycle modulo every factor at once; another constant may work.
    Cycle,
    /// The step limit or the effort ran out.
    GaveUp,
}

/// Brent's rho on `ring` with the walk constant `c` (not 0 or `-2`), at most `max_steps`
/// steps, polling `effort` between batches.
pub(crate) fn brent<R: Ring>(ring: &R, c: u64, max_steps: u64, effort: &Effort) -> RhoOutcome {
    let cm = ring.residue_u64(c);
    let step = |y: &R::Elem| ring.add(&ring.sqr(y), &cm);
    let mut y = ring.residue_u64(2);
    let mut q = ring.one();
    let mut steps = 0u64;
    let mut r = 1u64;
    loop {
        let x = y.clone();
        for _ in 0..r {
            y = step(&y);
        }
        steps += r;
        let mut k = 0;
        while k < r {
            let saved = y.clone();
            let batch = BATCH.min(r - k);
            for _ in 0..batch {
                y = step(&y);
                q = ring.mul(&q, &ring.sub(&x, &y));
            }
            steps += batch;
            k += batch;
            match ring.gcd(&q) {
                Gcd::One => {}
                Gcd::Factor(f) => return RhoOutcome::Factor(f),
                Gcd::Modulus => return replay(ring, &x, saved, batch, step),
            }
            if steps >= max_steps || (k % (16 * BATCH) == 0 && effort.is_exhausted()) {
                return RhoOutcome::GaveUp;
            }
        }
        if steps >= max_steps || effort.is_exhausted() {
            return RhoOutcome::GaveUp;
        }
        r *= 2;
    }
}

/// Redo one batch a step at a time with a gcd after each.
fn replay<R: Ring>(
    ring: &R,
    x: &R::Elem,
    mut y: R::Elem,
    batch: u64,
    step: impl Fn(&R::Elem) -> R::Elem,
) -> RhoOutcome {
    for _ in 0..batch {
        y = step(&y);
        match ring.gcd(&ring.sub(x, &y)) {
            Gcd::One => {}
            Gcd::Factor(f) => return RhoOutcome::Factor(f),
            Gcd::Modulus => return RhoOutcome::Cycle,
        }
    }
    RhoOutcome::Cycle
}

/// Rho with the constants 1, 3, 5, ... in turn until a factor appears or `max_steps` steps
/// (over all constants) are spent.
pub(crate) fn find_factor<R: Ring>(ring: &R, max_steps: u64, effort: &Effort) -> Option<BigUint> {
    let mut left = max_steps;
    let mut c = 1;
    while left > 0 {
        match brent(ring, c, left, effort) {
            RhoOutcome::Factor(f) => return Some(f),
            RhoOutcome::GaveUp => return None,
            RhoOutcome::Cycle => {
                left = left.saturating_sub(left / 4 + 1);
                c += 2;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mont_fixed::MontN;
    use crate::small::Mont64;

    #[test]
    fn finds_factors_on_one_and_two_limbs() {
        let n = 1_000_003u64 * 998_244_353;
        let f = find_factor(&Mont64::new(n), 1 << 20, &Effort::unlimited());
        let f = f.and_then(|f| f.iter_u64_digits().next()).unwrap_or(0);
        assert!(f == 1_000_003 || f == 998_244_353, "{f}");

        let p = 4_294_967_311u128; // the first prime above 2^32
        let q = 18_446_744_073_709_551_557u128; // the largest prime below 2^64
        let n = p * q;
        let ring = MontN::<2>::new([n as u64, (n >> 64) as u64]);
        let f = find_factor(&ring, 1 << 20, &Effort::unlimited());
        assert_eq!(f, Some(BigUint::from(p)));
    }

    #[test]
    fn gives_up_on_a_prime_and_when_out_of_effort() {
        let ring = Mont64::new(1_000_000_007);
        assert_eq!(find_factor(&ring, 5000, &Effort::unlimited()), None);
        let n = 1_000_003u64 * 998_244_353;
        let spent = Effort::with_timeout(std::time::Duration::ZERO);
        assert_eq!(
            brent(&Mont64::new(n), 1, 1 << 30, &spent),
            RhoOutcome::GaveUp
        );
    }
}
