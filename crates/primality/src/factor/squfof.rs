//! Shanks' square forms factorisation (SQUFOF), in the form of J. E. Gower and
//! S. S. Wagstaff Jr., "Square form factorization", Math. Comp. 77 (2008), with Shanks'
//! multipliers tried in turn. It needs about `N^{1/4}` steps of the continued fraction of
//! `sqrt(kN)`, in single-word arithmetic.

use crate::small::{gcd_u64, isqrt_u64};

/// Shanks' multipliers: products of 3, 5, 7 and 11.
const MULTIPLIERS: [u64; 16] = [
    1,
    3,
    5,
    7,
    11,
    3 * 5,
    3 * 7,
    3 * 11,
    5 * 7,
    5 * 11,
    7 * 11,
    3 * 5 * 7,
    3 * 5 * 11,
    3 * 7 * 11,
    5 * 7 * 11,
    3 * 5 * 7 * 11,
];

/// A nontrivial factor of the odd composite `n` (not a perfect square), if SQUFOF finds one
/// with some multiplier `k` with `kn < 2^62`.
pub(crate) fn squfof(n: u64) -> Option<u64> {
    MULTIPLIERS
        .iter()
        .filter_map(|&k| k.checked_mul(n).filter(|&kn| kn < 1 << 62))
        .find_map(|kn| with_multiplier(n, kn))
}

/// One SQUFOF run on `kn`.
fn with_multiplier(n: u64, kn: u64) -> Option<u64> {
    let p0 = isqrt_u64(kn);
    if p0 * p0 == kn {
        let g = gcd_u64(p0, n);
        return (g > 1 && g < n).then_some(g);
    }
    let limit = 4 * isqrt_u64(2 * p0) + 64;
    // Forward cycle: Q_i alternates sign conventions; look for a square Q at an even index.
    let (mut p, mut q_prev, mut q) = (p0, 1u64, kn - p0 * p0);
    let mut found = None;
    for i in 1..limit {
        let b = (p0 + p) / q;
        let p_next = b * q - p;
        let q_next = (q_prev as i64 + b as i64 * (p as i64 - p_next as i64)) as u64;
        (p, q_prev, q) = (p_next, q, q_next);
        if i % 2 == 1 {
            let r = isqrt_u64(q);
            if r * r == q {
                found = Some(r);
                break;
            }
        }
    }
    let r = found?;
    // Reverse cycle from the square root of the square form, until P repeats.
    let b = (p0 - p) / r;
    let mut p = b * r + p;
    let (mut q_prev, mut q) = (r, (kn - p * p) / r);
    for _ in 0..limit {
        let b = (p0 + p) / q;
        let p_next = b * q - p;
        if p_next == p {
            break;
        }
        let q_next = (q_prev as i64 + b as i64 * (p as i64 - p_next as i64)) as u64;
        (p, q_prev, q) = (p_next, q, q_next);
    }
    let g = gcd_u64(p, n);
    (g > 1 && g < n).then_some(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_semiprimes() {
        for (p, q) in [
            (11u64, 13u64),
            (1_000_003, 1_000_033),
            (65_521, 4_294_967_291),
            (2_147_483_647, 1_073_741_789),
            (523, 1_000_000_007),
        ] {
            let n = p * q;
            let f = squfof(n);
            assert!(f == Some(p) || f == Some(q), "{n}: {f:?}");
        }
    }
}
