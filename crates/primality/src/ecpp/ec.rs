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

/// Width-4 NAF of `k` (digits 0, ±1, ±3, ±5, ±7, nonzero digits at least 4 apart), least
/// significant first.
fn wnaf4(k: &BigUint) -> Vec<i8> {
    let mut limbs: Vec<u64> = k.iter_u64_digits().collect();
    limbs.push(0);
    let mut out = Vec::with_capacity(k.bits() as usize + 1);
    while limbs.iter().any(|&l| l != 0) {
        let mut d = 0i8;
        if limbs[0] & 1 == 1 {
            d = (limbs[0] & 15) as i8;
            if d >= 8 {
                d -= 16;
            }
            // k -= d
            if d > 0 {
                let mut borrow = d as u64;
                for l in limbs.iter_mut() {
                    let (v, b) = l.overflowing_sub(borrow);
                    *l = v;
                    borrow = b as u64;
                    if borrow == 0 {
                        break;
                    }
                }
            } else {
                let mut carry = (-d) as u64;
                for l in limbs.iter_mut() {
                    let (v, c) = l.overflowing_add(carry);
                    *l = v;
                    carry = c as u64;
                    if carry == 0 {
                        break;
                    }
                }
            }
        }
        out.push(d);
        // k >>= 1
        let mut high = 0u64;
        for l in limbs.iter_mut().rev() {
            let next = *l & 1;
            *l = (*l >> 1) | (high << 63);
            high = next;
        }
    }
    out
}

/// `A, 3A, 5A, 7A` in affine coordinates, or `None` when an inversion fails (then some
/// multiple is `O` or degenerate modulo a divisor of `N`).
fn odd_multiples<R: Ring>(
    r: &R,
    a: &R::Elem,
    ax: &R::Elem,
    ay: &R::Elem,
) -> Option<[(R::Elem, R::Elem); 4]> {
    let base = Jac {
        x: ax.clone(),
        y: ay.clone(),
        z: r.one(),
    };
    let (dx, dy) = to_affine(r, &double(r, a, &base))?;
    let p3 = add_affine(r, &base, &dx, &dy);
    let p5 = add_affine(r, &p3, &dx, &dy);
    let p7 = add_affine(r, &p5, &dx, &dy);
    // One inversion for the three: 1/z3 = z5 z7 / (z3 z5 z7), and so on.
    let z35 = r.mul(&p3.z, &p5.z);
    let inv = r.inverse(&r.mul(&z35, &p7.z)).ok()?;
    let inv35 = r.mul(&inv, &p7.z);
    let inv7 = r.mul(&inv, &z35);
    let inv3 = r.mul(&inv35, &p5.z);
    let inv5 = r.mul(&inv35, &p3.z);
    let norm = |p: &Jac<R::Elem>, zi: &R::Elem| {
        let zi2 = r.sqr(zi);
        (r.mul(&p.x, &zi2), r.mul(&p.y, &r.mul(&zi2, zi)))
    };
    Some([
        (ax.clone(), ay.clone()),
        norm(&p3, &inv3),
        norm(&p5, &inv5),
        norm(&p7, &inv7),
    ])
}

/// `k A` for an affine point `A = (ax, ay)` and `k ≥ 1` (the point at infinity `(1 : 1 : 0)`
/// for `k = 0`): along the width-4 NAF of `k` with `A, 3A, 5A, 7A` precomputed in affine
/// coordinates (for `k` above 2^64, when the precomputation succeeds), else along the NAF.
/// Every addition is a mixed addition of a genuine point, so the degenerate cases behave as
/// the module documentation says.
pub(crate) fn mul_affine<R: Ring>(
    r: &R,
    a: &R::Elem,
    ax: &R::Elem,
    ay: &R::Elem,
    k: &BigUint,
) -> Jac<R::Elem> {
    if k.bits() > 64
        && let Some(table) = odd_multiples(r, a, ax, ay)
    {
        let mut acc: Option<Jac<R::Elem>> = None;
        for &d in wnaf4(k).iter().rev() {
            if let Some(p) = acc.take() {
                acc = Some(double(r, a, &p));
            }
            if d == 0 {
                continue;
            }
            let (tx, ty) = &table[(d.unsigned_abs() / 2) as usize];
            let ty = if d > 0 {
                ty.clone()
            } else {
                r.sub(&r.zero(), ty)
            };
            acc = Some(match acc {
                None => Jac {
                    x: tx.clone(),
                    y: ty,
                    z: r.one(),
                },
                Some(p) => add_affine(r, &p, tx, &ty),
            });
        }
        if let Some(p) = acc {
            return p;
        }
    }
    mul_naf(r, a, ax, ay, k)
}

/// `k A` along the NAF of `k`.
fn mul_naf<R: Ring>(r: &R, a: &R::Elem, ax: &R::Elem, ay: &R::Elem, k: &BigUint) -> Jac<R::Elem> {
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
    fn wnaf_digits_sum_to_k() {
        let mut k = BigUint::from(0x9e37_79b9_7f4a_7c15u64);
        for _ in 0..40 {
            let d = wnaf4(&k);
            let v = d
                .iter()
                .rev()
                .fold(num_bigint::BigInt::from(0), |acc, &x| acc * 2 + x);
            assert_eq!(v, num_bigint::BigInt::from(k.clone()));
            assert!(d.iter().all(|&x| x == 0 || (x % 2 != 0 && x.abs() <= 7)));
            k = &k * 0x5851_f42d_4c95_7f2du64 + 12345u32;
        }
    }

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

    /// The windowed and the plain NAF multiplication agree on a curve over F_(2^127 - 1).
    struct Agree;
    impl RingTask for Agree {
        type Output = ();
        fn run<R: Ring>(self, r: &R) {
            // y^2 = x^3 + 2 g^2 x + 3 g^3 with g = 5^3 + 2*5 + 3 has the point (5 g, g^2).
            let g = r.residue_u64(138);
            let g2 = r.sqr(&g);
            let a = r.mul(&r.residue_u64(2), &g2);
            let (x, y) = (r.mul(&r.residue_u64(5), &g), g2);
            let mut k = BigUint::from(0xdead_beef_u64) << 100u32;
            for _ in 0..20 {
                let w = to_affine(r, &mul_affine(r, &a, &x, &y, &k)).unwrap();
                let n = to_affine(r, &mul_naf(r, &a, &x, &y, &k)).unwrap();
                assert_eq!(w, n);
                k = &k * 0x5851_f42d_4c95_7f2du64 + 77u32;
                k >>= 60u32;
            }
        }
    }

    #[test]
    fn windowed_and_plain_agree() {
        with_ring(&((BigUint::from(1u8) << 127u32) - 1u8), Agree);
    }

    #[test]
    fn point_order_on_small_curve() {
        with_ring(&BigUint::from(97u8), Order);
    }
}
