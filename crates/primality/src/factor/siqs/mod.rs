//! The self-initialising quadratic sieve, for composites of about 60 to 190 bits whose factors
//! are too large for rho and ECM to be quicker.
//!
//! Relations `(A x + B)^2 ≡ A Q(x) (mod N)` with `A Q(x)` smooth over a factor base are
//! gathered from many polynomials ([`poly`]) by sieving ([`sieve`]), partial relations with one
//! large prime are paired ([`relations`]), and a subset whose product is a square
//! ([`linalg`]) gives `X^2 ≡ Y^2 (mod N)`, hence the factor `gcd(X - Y, N)`.

mod base;
mod linalg;
mod params;
mod poly;
mod relations;
mod sieve;

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, Zero};

use self::base::{FbPrime, factor_base};
use self::params::{Params, multiplier};
use self::poly::{ASelector, Poly};
use self::relations::{Relation, Relations};
use self::sieve::{Sieve, SieveCtx};
use crate::Effort;

/// `kN` must stay below 2^200 so that `Q(x)` fits an `i128`.
const MAX_KN_BITS: u64 = 200;

/// The largest `N` the sieve takes (the multiplier adds up to six bits).
pub(crate) const MAX_BITS: u64 = MAX_KN_BITS - 6;

/// Relations beyond the factor-base size before the linear algebra.
const EXCESS: usize = 40;

/// A nontrivial factor of the odd composite `n` (not a perfect power, no prime factor below
/// the trial-division bound, at most [`MAX_BITS`] bits), or `None` when the effort ran out.
pub(crate) fn siqs(n: &BigUint, effort: &Effort) -> Option<BigUint> {
    let k = multiplier(n);
    let kn = n * k;
    if kn.bits() > MAX_KN_BITS {
        return None;
    }
    let params = Params::for_bits(kn.bits() as u32);
    let fb = factor_base(&kn, k, params.fb_size);
    let m = params.m;
    let ctx = SieveCtx::new(&fb, m, kn.bits(), params.lp_mult, params.slack);
    let mut selector = ASelector::new(&fb, &kn, m);
    let mut relations = Relations::new(n);
    let mut sieve = Sieve::new();
    let mut found = Vec::new();
    let mut wanted = fb.len() + 1 + EXCESS;
    loop {
        let idx = selector.next()?;
        let mut poly = Poly::new(idx, &fb, &kn, m);
        loop {
            if effort.is_exhausted() {
                return None;
            }
            sieve.run(&ctx, &poly, &mut found);
            for s in found.drain(..) {
                relations.add(s);
            }
            if !poly.next_b(&fb, &kn) {
                break;
            }
        }
        if relations.count() >= wanted {
            if let Some(f) = combine(n, &fb, &relations.full) {
                return Some(f);
            }
            wanted += EXCESS;
        }
    }
}

/// Try the dependencies of the relations for a factor.
fn combine(n: &BigUint, fb: &[FbPrime], rels: &[Relation]) -> Option<BigUint> {
    let rows: Vec<&[(u32, u32)]> = rels.iter().map(|r| r.factors.as_slice()).collect();
    for dep in linalg::dependencies(&rows, fb.len() + 1, 64) {
        if let Some(f) = square_root(n, fb, rels, &dep) {
            return Some(f);
        }
    }
    None
}

/// `gcd(X - Y, N)` for `X = prod y`, `Y = sqrt(prod (A Q))` over the relations of `dep`.
fn square_root(n: &BigUint, fb: &[FbPrime], rels: &[Relation], dep: &[usize]) -> Option<BigUint> {
    let mut exponents = vec![0u32; fb.len() + 1];
    let mut x = BigUint::one();
    let mut y = BigUint::one();
    for &r in dep {
        let rel = &rels[r];
        x = (x * &rel.y) % n;
        y = (y * &rel.extra) % n;
        for &(c, e) in &rel.factors {
            exponents[c as usize] += e;
        }
    }
    // Multiply the square root's primes into words first: one big product per word.
    let mut word = 1u64;
    for (c, &e) in exponents.iter().enumerate().skip(1) {
        debug_assert!(e % 2 == 0);
        let p = fb[c - 1].p as u64;
        for _ in 0..e / 2 {
            if let Some(w) = word.checked_mul(p) {
                word = w;
            } else {
                y = (y * word) % n;
                word = p;
            }
        }
    }
    y = (y * word) % n;
    let diff = if x >= y { &x - &y } else { &y - &x };
    let g = diff.gcd(n);
    (!g.is_one() && !g.is_zero() && &g != n).then_some(g)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn splits_semiprimes_of_several_sizes() {
        for (p, q) in [
            ("1000000000039", "1000000000000000003"), // 40 + 60 bits
            ("18446744073709551557", "18446744073709551533"), // 64 + 64 bits
            ("4294967311", "340282366920938463463374607431768211297"), // 32 + 128 bits
        ] {
            let p: BigUint = p.parse().unwrap();
            let q: BigUint = q.parse().unwrap();
            let n = &p * &q;
            let f = siqs(&n, &Effort::unlimited()).unwrap();
            assert!(f == p || f == q, "{n}: {f}");
        }
    }
}
