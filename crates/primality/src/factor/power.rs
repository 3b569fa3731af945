//! Perfect powers: `n = r^k`. Rho, ECM and the quadratic sieve all assume `n` is not a power
//! of a prime, so the driver takes roots first.

use num_bigint::BigUint;
use num_traits::One;

/// The largest `k > 1` and `r` with `n = r^k`, if any, for `n` without prime factors below
/// `2^min_factor_bits` (so only `k <= bits / min_factor_bits` can occur).
pub(crate) fn perfect_power(n: &BigUint, min_factor_bits: u64) -> Option<(BigUint, u32)> {
    let bits = n.bits();
    let max_k = (bits / min_factor_bits.max(1)).min(bits) as u32;
    let mut best: Option<(BigUint, u32)> = None;
    let mut m = n.clone();
    let mut total = 1u32;
    // Take prime roots while they exist: n = r^(k1 k2 ...).
    let mut k = 2u32;
    while k <= max_k / total {
        if is_small_prime(k) {
            let r = m.nth_root(k);
            if r.pow(k) == m && !r.is_one() {
                m = r;
                total *= k;
                best = Some((m.clone(), total));
                continue; // the same k may divide the exponent again
            }
        }
        k += 1;
    }
    best
}

fn is_small_prime(k: u32) -> bool {
    k >= 2
        && (2..)
            .take_while(|d| d * d <= k)
            .all(|d| !k.is_multiple_of(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_full_exponent() {
        let p = BigUint::from(1_000_003u32);
        assert_eq!(perfect_power(&p.pow(12), 16), Some((p.clone(), 12)));
        assert_eq!(perfect_power(&p.pow(5), 16), Some((p.clone(), 5)));
        assert_eq!(perfect_power(&(p.pow(2) * 7u8), 2), None);
        let q = BigUint::from(65_537u32) * 65_539u32;
        assert_eq!(perfect_power(&q.pow(3), 16), Some((q, 3)));
        assert_eq!(perfect_power(&(p.pow(2) + 2u8), 16), None);
    }
}
