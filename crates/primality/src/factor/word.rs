//! Complete factorisation of a `u64`, without heap allocation in the arithmetic: trial division
//! by the odd primes below 728 (one multiplication each), the exact primality test, then
//! Pollard-Brent rho in `u64` Montgomery arithmetic for what is left, with SQUFOF as the fallback
//! for the rare walk that fails.

use crate::Effort;
use crate::factor::rho;
use crate::factor::squfof::squfof;
use crate::small::{Mont64, is_prime_u64, isqrt_u64};
use crate::trial::{U64_TRIAL_LIMIT_SQUARED, u64_divisors};

/// The prime factors of `n` with multiplicity, ascending (empty for 0 and 1).
pub(crate) fn factor_u64(n: u64) -> Vec<(u64, u32)> {
    let mut out = Vec::new();
    if n < 2 {
        return out;
    }
    let mut m = n;
    let twos = m.trailing_zeros();
    if twos > 0 {
        out.push((2, twos));
        m >>= twos;
    }
    for d in u64_divisors() {
        if d.p * d.p > m {
            break;
        }
        if d.divides(m) {
            let mut e = 0;
            while d.divides(m) {
                m = d.divide_exact(m);
                e += 1;
            }
            out.push((d.p, e));
        }
    }
    if m > 1 {
        let mut large = Vec::new();
        split_into(m, 1, &mut large);
        large.sort_unstable();
        for p in large {
            match out.last_mut() {
                Some((q, e)) if *q == p => *e += 1,
                _ => out.push((p, 1)),
            }
        }
    }
    out
}

/// Push the prime factors of odd `m > 1` without prime factors below 728, `times` each.
fn split_into(m: u64, times: u32, out: &mut Vec<u64>) {
    if m < U64_TRIAL_LIMIT_SQUARED || is_prime_u64(m) {
        out.extend(std::iter::repeat_n(m, times as usize));
        return;
    }
    let r = isqrt_u64(m);
    if r * r == m {
        return split_into(r, 2 * times, out);
    }
    let f = split_composite(m);
    split_into(f, times, out);
    split_into(m / f, times, out);
}

/// A nontrivial factor of an odd composite `m` that is not a square and has no prime factor
/// below 728.
pub(crate) fn split_composite(m: u64) -> u64 {
    let ring = Mont64::new(m);
    let unlimited = Effort::unlimited();
    // Rho finds a factor p after about sqrt(p) < 2^16 steps; cap each walk well above that.
    for c in [1u64, 3, 5, 7, 11, 13] {
        if let rho::RhoOutcome::Factor(f) = rho::brent(&ring, c, 1 << 20, &unlimited) {
            return f.iter_u64_digits().next().unwrap_or(1);
        }
    }
    match squfof(m) {
        Some(f) => f,
        None => split_by_trial(m),
    }
}

/// Last resort, never reached in the tests: the smallest odd factor by division.
fn split_by_trial(m: u64) -> u64 {
    (3..).step_by(2).find(|d| m.is_multiple_of(*d)).unwrap_or(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(f: &[(u64, u32)]) -> u64 {
        f.iter().map(|&(p, e)| p.pow(e)).product()
    }

    #[test]
    fn small_numbers_against_trial_division() {
        for n in 2..20_000u64 {
            let f = factor_u64(n);
            assert_eq!(product(&f), n);
            assert!(f.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(f.iter().all(|&(p, _)| is_prime_u64(p)), "{n}: {f:?}");
        }
        assert!(factor_u64(0).is_empty() && factor_u64(1).is_empty());
    }

    #[test]
    fn hard_shapes() {
        let cases: [(u64, &[(u64, u32)]); 6] = [
            (
                4_294_967_291 * 4_294_967_279,
                &[(4_294_967_279, 1), (4_294_967_291, 1)],
            ),
            (1_000_003 * 1_000_003 * 1_000_003, &[(1_000_003, 3)]),
            (
                u64::MAX,
                &[
                    (3, 1),
                    (5, 1),
                    (17, 1),
                    (257, 1),
                    (641, 1),
                    (65_537, 1),
                    (6_700_417, 1),
                ],
            ),
            (
                18_446_744_073_709_551_557,
                &[(18_446_744_073_709_551_557, 1)],
            ),
            (1 << 63, &[(2, 63)]),
            (523 * 523, &[(523, 2)]),
        ];
        for (n, want) in cases {
            assert_eq!(factor_u64(n), want, "{n}");
        }
    }
}
