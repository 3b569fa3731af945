//! Elliptic-curve arithmetic modulo `N` for short Weierstrass curves `y^2 = x^3 + a x + b`, in
//! Jacobian coordinates on any [`Ring`] (shared by the prover and the certificate checker).
//!
//! `N` need not be prime. For every prime `p | N` the computation reduced modulo `p` is either
//! the true one on `E(F_p)` or degenerates to `(0 : 0 : 0)`, and the callers tell them apart
//! with gcds: doubling is exact for every point (the point at infinity `(t^2 : t^3 : 0)` and
//! 2-torsion included, on a nonsingular curve); the mixed addition `P + A` with an affine `A`
//! is exact when `P ≠ ±A` and `P ≠ O`, gives a genuine point at infinity (`Y ≠ 0`) for
//! `P = -A`, and `(0 : 0 : 0)` for `P = A` or `P = O`, after which every step stays at
//! `(0 : 0 : 0)`. So a result with `gcd(Z, N) = 1` is a point other than `O` modulo every
//! `p`, and a result with `Z ≡ 0 (mod N)` and `gcd(Y, N) = 1` is `O` modulo every `p`.

use num_bigint::BigUint;

use crate::ring::Ring;

/// A point in Jacobian coordinates: `(X : Y : Z)` stands for `(X / Z^2, Y / Z^3)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Jac<E> {
    pub(crate) x: E,
    pub(crate) y: E,
    pub(crate) z: E,
}

/// `2 P` on the curve with coefficient `a` (in Montgomery form).
pub(crate) fn double<R: Ring>(r: &R, a: &R::Elem, p: &Jac<R::Elem>) -> Jac<R::Elem> {
    let xx = r.sqr(&p.x);
    let yy = r.sqr(&p.y);
    let yyyy = r.sqr(&yy);
    let zz = r.sqr(&p.z);
    let xyy = r.mul(&p.x, &yy);
    let s2 = r.add(&xyy, &xyy);
    let s = r.add(&s2, &s2);
    let xx3 = r.add(&r.add(&xx, &xx), &xx);
    let m = r.add(&xx3, &r.mul(a, &r.sqr(&zz)));
    let x3 = r.sub(&r.sqr(&m), &r.add(&s, &s));
    let y8 = {
        let y2 = r.add(&yyyy, &yyyy);
        let y4 = r.add(&y2, &y2);
        r.add(&y4, &y4)
    };
    let y3 = r.sub(&r.mul(&m, &r.sub(&s, &x3)), &y8);
    let yz = r.mul(&p.y, &p.z);
    Jac {
        x: x3,
        y: y3,
        z: r.add(&yz, &yz),
    }
}

/// `P + A` for an affine point `A = (ax, ay)` (mixed addition).
pub(crate) fn add_affine<R: Ring>(
    r: &R,
    p: &Jac<R::Elem>,
    ax: &R::Elem,
    ay: &R::Elem,
) -> Jac<R::Elem> {
    let z1z1 = r.sqr(&p.z);
    let u2 = r.mul(ax, &z1z1);
    let s2 = r.mul(ay, &r.mul(&p.z, &z1z1));
    let h = r.sub(&u2, &p.x);
    let rr = r.sub(&s2, &p.y);
    let hh = r.sqr(&h);
    let hhh = r.mul(&h, &hh);
    let v = r.mul(&p.x, &hh);
    let x3 = r.sub(&r.sub(&r.sqr(&rr), &hhh), &r.add(&v, &v));
    let y3 = r.sub(&r.mul(&rr, &r.sub(&v, &x3)), &r.mul(&p.y, &hhh));
    Jac {
        x: x3,
        y: y3,
        z: r.mul(&p.z, &h),
    }
}

/// Non-adjacent form of `k`, least significant digit first (digits -1, 0, 1).
fn naf(k: &BigUint) -> Vec<i8> {
    let bits = k.bits();
    let mut out = Vec::with_capacity(bits as usize + 1);
    let mut carry = 0u8;
    let mut i = 0u64;
    while i < bits || carry != 0 {
        let b0 = k.bit(i) as u8 + carry;
        let b1 = k.bit(i + 1) as u8;
        match b0 {
            0 | 2 => {
                out.push(0);
                carry = b0 / 2;
            }
            _ => {
                // b0 == 1: the digit is 1 if the next bit is 0, else -1 with a carry.
                if b1 == 0 {
                    out.push(1);
                    carry = 0;
                } else {
                    out.push(-1);
                    carry = 1;
                }
            }
        }
        i += 1;
    }
    out
}

/// `k A` for an affine point `A = (ax, ay)` and `k ≥ 1` (the point at infinity `(1 : 1 : 0)`
/// for `k = 0`), by doublings and mixed additions of `±A` along the NAF of `k`.
pub(crate) fn mul_affine<R: Ring>(
    r: &R,
    a: &R::Elem,
    ax: &R::Elem,
    ay: &R::Elem,
    k: &BigUint,
) -> Jac<R::Elem> {
    let digits = naf(k);
    let neg_ay = r.sub(&r.zero(), ay);
    let mut acc: Option<Jac<R::Elem>> = None;
    for &d in digits.iter().rev() {
        acc = match acc {
            None if d == 0 => None,
            None => Some(Jac {
                x: ax.clone(),
                y: if d > 0 { ay.clone() } else { neg_ay.clone() },
                z: r.one(),
            }),
            Some(p) => {
                let p = double(r, a, &p);
                Some(match d {
                    0 => p,
                    d if d > 0 => add_affine(r, &p, ax, ay),
                    _ => add_affine(r, &p, ax, &neg_ay),
                })
            }
        };
    }
    acc.unwrap_or_else(|| Jac {
        x: r.one(),
        y: r.one(),
        z: r.zero(),
    })
}

/// The affine coordinates of `P`, or `None` when `Z` is not a unit modulo `N`.
pub(crate) fn to_affine<R: Ring>(r: &R, p: &Jac<R::Elem>) -> Option<(R::Elem, R::Elem)> {
    let zi = r.inverse(&p.z).ok()?;
    let zi2 = r.sqr(&zi);
    let zi3 = r.mul(&zi2, &zi);
    Some((r.mul(&p.x, &zi2), r.mul(&p.y, &zi3)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ring::{RingTask, with_ring};

    #[test]
    fn naf_digits_sum_to_k() {
        for k in [1u64, 2, 3, 7, 11, 255, 1 << 40, 0xdead_beef_1234_5678] {
            let d = naf(&BigUint::from(k));
            let v: i128 = d.iter().rev().fold(0i128, |acc, &x| acc * 2 + x as i128);
            assert_eq!(v, k as i128);
            assert!(d.windows(2).all(|w| w[0] == 0 || w[1] == 0));
        }
    }

    /// The order of a point on a curve over F_p by brute force agrees with `mul_affine`.
    struct Order;
    impl RingTask for Order {
        type Output = ();
        fn run<R: Ring>(self, r: &R) {
            // y^2 = x^3 + 2x + 3 over F_97 has 100 points; P = (3, 6) has order 5 (PARI:
            // ellcard, ellorder).
            let a = r.residue_u64(2);
            let (x, y) = (r.residue_u64(3), r.residue_u64(6));
            let zero = BigUint::from(0u8);
            for k in 1..=100u32 {
                let q = mul_affine(r, &a, &x, &y, &BigUint::from(k));
                let (qx, qy, qz) = (r.to_big(&q.x), r.to_big(&q.y), r.to_big(&q.z));
                // Either the true multiple (O exactly when 5 | k, with Y != 0) or, when the
                // chain met an exceptional addition, the degenerate (0 : 0 : 0).
                let degenerate = qx == zero && qy == zero && qz == zero;
                assert!(degenerate || (qz == zero) == (k % 5 == 0), "{k}");
                if qz == zero && !degenerate {
                    assert_ne!(qy, zero, "{k}");
                }
                if k == 5 {
                    assert!(!degenerate);
                }
            }
        }
    }

    #[test]
    fn point_order_on_small_curve() {
        with_ring(&BigUint::from(97u8), Order);
    }
}
