//! Pollard's `p - 1` method with a prime-by-prime stage 2 (J. M. Pollard, "Theorems on
//! factorization and primality testing", 1974; P. L. Montgomery, "Speeding the Pollard and
//! elliptic curve methods of factorization", Math. Comp. 48 (1987)).
//!
//! Stage 1 raises `3` to every prime power up to `B1`; a prime `p` with `B1`-smooth `p - 1`
//! then divides `x - 1`. Stage 2 walks the primes `q` of `(B1, B2]`, stepping `x^q` from one
//! prime to the next with a table of `x^{2j}` for the gaps, and multiplies the `x^q - 1`
//! together: it finds `p` when `p - 1` is `B1`-smooth apart from one prime up to `B2`. Each
//! stage-2 prime costs two multiplications.

use num_bigint::BigUint;

use super::primes::Primes;
use crate::Effort;
use crate::ring::{Gcd, Ring};

/// Largest gap between consecutive primes below 2^32 is 336; the gap table covers it.
const MAX_GAP: usize = 336;

/// Primes per effort poll in either stage.
const POLL: u32 = 512;

/// Run `p - 1` with bounds `b1 < b2`. `None` when nothing was found or the effort ran out.
pub(crate) fn pm1<R: Ring>(ring: &R, b1: u64, b2: u64, effort: &Effort) -> Option<BigUint> {
    let x = stage1(ring, b1, effort)?;
    match ring.gcd(&ring.sub(&x, &ring.one())) {
        Gcd::Factor(f) => return Some(f),
        Gcd::Modulus => return None,
        Gcd::One => {}
    }
    stage2(ring, &x, b1, b2, effort)
}

/// `3^E` for `E` the product of the largest powers of the primes `<= b1` that are `<= b1`.
fn stage1<R: Ring>(ring: &R, b1: u64, effort: &Effort) -> Option<R::Elem> {
    let mut x = ring.residue_u64(3);
    let mut chunk = 1u64; // prime powers multiplied together while they fit a u64
    let mut count = 0u32;
    for p in Primes::new(2, b1 + 1) {
        let mut q = p;
        while q <= b1 / p {
            q *= p;
        }
        match chunk.checked_mul(q) {
            Some(c) => chunk = c,
            None => {
                x = ring.pow_u64(&x, chunk);
                chunk = q;
            }
        }
        count += 1;
        if count.is_multiple_of(POLL) && effort.is_exhausted() {
            return None;
        }
    }
    Some(ring.pow_u64(&x, chunk))
}

fn stage2<R: Ring>(ring: &R, x: &R::Elem, b1: u64, b2: u64, effort: &Effort) -> Option<BigUint> {
    let one = ring.one();
    // gaps[j] = x^{2j}
    let x2 = ring.sqr(x);
    let mut gaps = Vec::with_capacity(MAX_GAP / 2 + 1);
    gaps.push(one.clone());
    gaps.push(x2.clone());
    for j in 2..=MAX_GAP / 2 {
        let next = ring.mul(&gaps[j - 1], &x2);
        gaps.push(next);
    }
    let mut primes = Primes::new(b1 + 1, b2 + 1);
    let first = primes.next()?;
    let mut xq = ring.pow_u64(x, first);
    let mut acc = ring.sub(&xq, &one);
    let mut last = first;
    let mut count = 0u32;
    for q in primes {
        let gap = ((q - last) / 2) as usize;
        last = q;
        let step = gaps.get(gap)?;
        xq = ring.mul(&xq, step);
        acc = ring.mul(&acc, &ring.sub(&xq, &one));
        count += 1;
        if count.is_multiple_of(POLL) && effort.is_exhausted() {
            return None;
        }
    }
    match ring.gcd(&acc) {
        Gcd::Factor(f) => Some(f),
        Gcd::One | Gcd::Modulus => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::{RingTask, with_ring};

    struct Pm1(u64, u64);
    impl RingTask for Pm1 {
        type Output = Option<BigUint>;
        fn run<R: Ring>(self, ring: &R) -> Option<BigUint> {
            pm1(ring, self.0, self.1, &Effort::unlimited())
        }
    }

    #[test]
    fn stage_one_and_stage_two() {
        let m127 = (BigUint::from(1u8) << 127u32) - 1u8; // M127 - 1 has the prime 649657
        // 3991800722911 - 1 = 2 3 5 7 11 13 17 19 23 29 617: stage 1 with B1 = 1000.
        let p = BigUint::from(3_991_800_722_911u64);
        assert_eq!(with_ring(&(&p * &m127), Pm1(1000, 1000)), Some(p));
        assert_eq!(
            with_ring(&(BigUint::from(3_991_800_722_911u64) * 3u8), Pm1(20, 500)),
            None
        );
        // 11166467422111 - 1 = 2 3 5 7 11 13 17 19 23 50053: stage 2 from B2 = 50053 on.
        let p = BigUint::from(11_166_467_422_111u64);
        let n = &p * &m127;
        assert_eq!(with_ring(&n, Pm1(1000, 50_052)), None);
        assert_eq!(with_ring(&n, Pm1(1000, 50_053)), Some(p));
    }
}
