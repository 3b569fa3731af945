//! Number theory modulo `N` for the prover: powers with big exponents, square roots modulo a
//! (probable) prime, the Kronecker symbol of a small discriminant, Cornacchia's algorithm.

use num_bigint::{BigInt, BigUint};
use num_traits::Zero;

use crate::montgomery::to_limbs;
use crate::ring::Ring;
use crate::small::jacobi_small;
use crate::trial::mod_small_limbs;

/// `b^e` by a fixed 4-bit window.
pub(crate) fn pow<R: Ring>(r: &R, b: &R::Elem, e: &BigUint) -> R::Elem {
    let mut table = Vec::with_capacity(16);
    table.push(r.one());
    for i in 1..16 {
        let next = r.mul(&table[i - 1], b);
        table.push(next);
    }
    let bits = e.bits();
    let windows = bits.div_ceil(4);
    let mut acc = r.one();
    for w in (0..windows).rev() {
        for _ in 0..4 {
            acc = r.sqr(&acc);
        }
        let mut digit = 0usize;
        for j in (0..4).rev() {
            digit = digit * 2 + e.bit(w * 4 + j) as usize;
        }
        if digit != 0 {
            acc = r.mul(&acc, &table[digit]);
        }
    }
    acc
}

/// The Kronecker symbol `(d / n)` for a small `d` and odd `n > 1`.
pub(crate) fn kronecker(d: i64, n: &BigUint) -> i32 {
    let limbs = to_limbs(n, n.iter_u64_digits().len());
    jacobi_small(d, limbs[0] % 8, |m| mod_small_limbs(&limbs, m))
}

/// Square roots modulo an odd probable prime `N` (Tonelli-Shanks), set up once per `N`.
#[derive(Debug)]
pub(crate) struct Sqrt<E> {
    /// `N - 1 = 2^e d`, `d` odd.
    e: u64,
    /// `z^d` for a quadratic non-residue `z`: a generator of the 2-Sylow subgroup.
    g: E,
    /// `(d - 1) / 2`.
    half: BigUint,
    /// The quadratic non-residue `z`.
    pub(crate) z: u64,
}

impl<E: Clone + PartialEq> Sqrt<E> {
    /// `None` if no non-residue below 1000 exists (then `N` is not prime).
    pub(crate) fn new<R: Ring<Elem = E>>(r: &R, n: &BigUint) -> Option<Self> {
        let nm1 = n - 1u8;
        let e = nm1.trailing_zeros().unwrap_or(0);
        let d = &nm1 >> e;
        let z = (2..1000i64).find(|&z| kronecker(z, n) == -1)?;
        let g = pow(r, &r.residue_u64(z as u64), &d);
        let half = (&d - 1u8) >> 1u32;
        Some(Sqrt {
            e,
            g,
            half,
            z: z as u64,
        })
    }

    /// A square root of `a`, or `None` when `a` is a non-residue (or `N` is composite and the
    /// algorithm fails). The answer is checked.
    pub(crate) fn sqrt<R: Ring<Elem = E>>(&self, r: &R, a: &E) -> Option<E> {
        if *a == r.zero() {
            return Some(r.zero());
        }
        // x = a^((d+1)/2), b = a^d; invariant x^2 = a b.
        let ah = pow(r, a, &self.half);
        let mut x = r.mul(&ah, a);
        let mut b = r.mul(&ah, &x);
        let mut g = self.g.clone();
        let mut m = self.e;
        let one = r.one();
        while b != one {
            // Least i with b^(2^i) = 1.
            let mut i = 0;
            let mut t = b.clone();
            while t != one {
                t = r.sqr(&t);
                i += 1;
                if i >= m {
                    return None;
                }
            }
            let mut c = g.clone();
            for _ in 0..m - i - 1 {
                c = r.sqr(&c);
            }
            x = r.mul(&x, &c);
            g = r.sqr(&c);
            b = r.mul(&b, &g);
            m = i;
        }
        (r.sqr(&x) == *a).then_some(x)
    }
}

/// A solution of `4N = t^2 + |D| v^2` (`t, v ≥ 0`) given a square root of `D` modulo `N`,
/// by Cornacchia's algorithm; `None` when there is none (the prime above `N` in `Q(√D)` is
/// not principal).
pub(crate) fn cornacchia(n: &BigUint, d: i64, root: &BigUint) -> Option<(BigUint, BigUint)> {
    let absd = BigUint::from(d.unsigned_abs());
    let four_n: BigUint = n << 2u32;
    // The root must have the parity of D.
    let mut b = root.clone();
    if b.bit(0) != (d & 1 != 0) {
        b = n - &b;
    }
    let mut a: BigUint = n << 1u32;
    let limit = four_n.sqrt();
    while b > limit {
        let r = &a % &b;
        a = b;
        b = r;
    }
    let rest = &four_n - &b * &b;
    if !(&rest % &absd).is_zero() {
        return None;
    }
    let c = rest / &absd;
    let v = c.sqrt();
    (&v * &v == c).then_some((b, v))
}

/// The traces `t` of the curves with CM by `D` over `F_N`, from `4N = t^2 + |D| v^2`.
pub(crate) fn traces(d: i64, t: &BigUint, v: &BigUint) -> Vec<BigInt> {
    let t = BigInt::from(t.clone());
    let v = BigInt::from(v.clone());
    let mut out = vec![t.clone(), -t.clone()];
    match d {
        -4 => {
            let w: BigInt = &v * 2;
            out.push(w.clone());
            out.push(-w);
        }
        -3 => {
            let u: BigInt = (&t + &v * 3) / 2;
            let w: BigInt = (&t - &v * 3) / 2;
            out.extend([u.clone(), -u, w.clone(), -w]);
        }
        _ => {}
    }
    out
}

/// `true` when `q > 2^(bits(N)/2 + 1) ≥ (N^(1/4) + 1)^2`: the prover's (slightly stronger)
/// size condition.
pub(crate) fn big_enough(q: &BigUint, n: &BigUint) -> bool {
    q.bits() > n.bits() / 2 + 2
}

/// `x mod n` for a signed `x`.
pub(crate) fn reduce(x: &BigInt, n: &BigUint) -> BigUint {
    let n = BigInt::from(n.clone());
    let r = ((x % &n) + &n) % &n;
    r.to_biguint().unwrap_or_else(BigUint::zero)
}

/// The prime discriminants whose product is the fundamental discriminant `d`: `-4`, `8`, `-8`
/// for the 2-part, `p* = ±p ≡ 1 (mod 4)` for each odd prime `p | d`.
pub(crate) fn prime_discriminants(d: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut rest = d;
    if d % 4 == 0 {
        let two = if (d / 4) % 2 != 0 {
            -4
        } else if (d / 8).rem_euclid(4) == 1 {
            8
        } else {
            -8
        };
        out.push(two);
        rest = d / two;
    }
    if rest.rem_euclid(4) != 1 {
        return Vec::new(); // not a fundamental discriminant
    }
    let mut m = rest.unsigned_abs();
    let mut p = 3u64;
    while p * p <= m {
        if m.is_multiple_of(p) {
            out.push(if p % 4 == 1 { p as i64 } else { -(p as i64) });
            m /= p;
        }
        p += 2;
    }
    if m > 1 {
        out.push(if m % 4 == 1 { m as i64 } else { -(m as i64) });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prime_discriminants_multiply_to_d() {
        for d in [
            -3i64, -4, -7, -8, -15, -20, -24, -84, -120, -195, -340, -420, -3315, -5460,
        ] {
            let f = prime_discriminants(d);
            assert_eq!(f.iter().product::<i64>(), d, "{d}: {f:?}");
            assert!(
                f.iter()
                    .all(|&p| p.rem_euclid(4) == 1 || [-4, 8, -8].contains(&p)),
                "{d}: {f:?}"
            );
        }
    }
}
