//! The factor base: 2 and the odd primes `p` for which `kN` is a square modulo `p`, each with
//! a square root of `kN`, its logarithm and a reciprocal for fast remainders.

use num_bigint::BigUint;

use super::params::{legendre, pow_mod};
use crate::factor::primes::Primes;
use crate::trial::mod_small_limbs;

/// One prime of the factor base.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FbPrime {
    pub(crate) p: u32,
    /// A square root of `kN` modulo `p` (0 when `p | kN`).
    pub(crate) sqrt: u32,
    /// `round(log2 p)`.
    pub(crate) logp: u8,
    /// `floor(2^64 / p) + 1`, for [`FbPrime::rem`].
    magic: u64,
}

impl FbPrime {
    fn new(p: u32, sqrt: u32) -> Self {
        FbPrime {
            p,
            sqrt,
            logp: (p as f64).log2().round() as u8,
            magic: (u64::MAX / p as u64).wrapping_add(1),
        }
    }

    /// `x mod p` for `x < 2^32` without a division (D. Lemire, O. Kaser, N. Kurz, "Faster
    /// remainder by direct computation", 2019).
    #[inline(always)]
    pub(crate) fn rem(&self, x: u32) -> u32 {
        let low = self.magic.wrapping_mul(x as u64);
        ((low as u128 * self.p as u128) >> 64) as u32
    }

    /// `a b mod p` for `a, b < p` (every factor-base prime is below 2^16, so `a b < 2^32`).
    #[inline(always)]
    pub(crate) fn mul(&self, a: u32, b: u32) -> u32 {
        self.rem(a * b)
    }

    /// `a^{-1} mod p` for `a` not divisible by `p`, as `a^{p-2}` (Fermat).
    pub(crate) fn inverse(&self, a: u32) -> u32 {
        let mut e = self.p - 2;
        let mut base = self.rem(a);
        let mut r = 1;
        while e > 0 {
            if e & 1 == 1 {
                r = self.mul(r, base);
            }
            base = self.mul(base, base);
            e >>= 1;
        }
        r
    }
}

/// Factor-base primes stay below 2^16 so that products of residues fit a `u32`.
pub(crate) const MAX_PRIME: u64 = 1 << 16;

/// The factor base of `kn` with `size` primes. A prime that divides `n` itself (only possible
/// above the trial-division bound) is left out.
pub(crate) fn factor_base(kn: &BigUint, k: u64, size: usize) -> Vec<FbPrime> {
    let limbs: Vec<u64> = kn.iter_u64_digits().collect();
    let mut base = vec![FbPrime::new(2, 1)];
    // About half the primes are residues; pi(x) > x / ln x leaves room.
    let bound = ((4 * size + 100) as f64 * ((4 * size + 100) as f64).ln()) as u64;
    let bound = bound.min(MAX_PRIME);
    for p in Primes::new(3, bound) {
        if base.len() >= size {
            break;
        }
        let r = mod_small_limbs(&limbs, p);
        if r == 0 {
            if k.is_multiple_of(p) {
                base.push(FbPrime::new(p as u32, 0));
            }
            continue;
        }
        if legendre(r, p) == 1 {
            base.push(FbPrime::new(p as u32, sqrt_mod(r, p) as u32));
        }
    }
    base
}

/// A square root of the quadratic residue `a` modulo the odd prime `p < 2^32` (Tonelli-Shanks).
pub(crate) fn sqrt_mod(a: u64, p: u64) -> u64 {
    let a = a % p;
    if p % 4 == 3 {
        return pow_mod(a, (p + 1) / 4, p);
    }
    let s = (p - 1).trailing_zeros();
    let q = (p - 1) >> s;
    let z = (2..p).find(|&z| legendre(z, p) == -1).unwrap_or(2);
    let mut m = s;
    let mut c = pow_mod(z, q, p);
    let mut t = pow_mod(a, q, p);
    let mut r = pow_mod(a, q.div_ceil(2), p);
    while t != 1 && t != 0 {
        let mut i = 0;
        let mut t2 = t;
        while t2 != 1 {
            t2 = t2 * t2 % p;
            i += 1;
        }
        let b = pow_mod(c, 1 << (m - i - 1), p);
        m = i;
        c = b * b % p;
        t = t * c % p;
        r = r * b % p;
    }
    if t == 0 { 0 } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_roots() {
        for p in [3u64, 5, 13, 17, 97, 65_537, 1_000_003, 4_294_967_291] {
            for a in 1..200u64 {
                if legendre(a, p) == 1 {
                    let r = sqrt_mod(a, p);
                    assert_eq!(r * r % p, a % p, "sqrt({a}) mod {p}");
                }
            }
        }
    }

    #[test]
    fn products_and_inverses() {
        for p in [3u32, 5, 65_521] {
            let f = FbPrime::new(p, 0);
            for a in (1..p).step_by(97) {
                assert_eq!(f.mul(f.inverse(a), a), 1, "{a}^-1 mod {p}");
                assert_eq!(
                    f.mul(a, p - 1),
                    (a as u64 * (p - 1) as u64 % p as u64) as u32
                );
            }
        }
    }

    #[test]
    fn remainders() {
        for p in [2u32, 3, 7, 65_521, 1_000_003] {
            let f = FbPrime::new(p, 0);
            for x in (0..1_000_000u32).step_by(7).chain([u32::MAX, u32::MAX - 1]) {
                assert_eq!(f.rem(x), x % p, "{x} mod {p}");
            }
        }
    }

    #[test]
    fn base_holds_residues() {
        let kn = BigUint::from(1_000_000_007u64 * 998_244_353u64 * 3);
        let base = factor_base(&kn, 3, 100);
        assert_eq!(base.len(), 100);
        for f in &base[1..] {
            let r = (&kn % f.p).iter_u64_digits().next().unwrap_or(0);
            assert_eq!((f.sqrt as u64).pow(2) % f.p as u64, r, "p = {}", f.p);
        }
    }
}
