//! Montgomery curves `B y^2 = x^3 + A x^2 + x` in `X:Z` coordinates (P. L. Montgomery,
//! "Speeding the Pollard and elliptic curve methods of factorization", Math. Comp. 48 (1987)),
//! chosen by Suyama's parametrisation, which makes the group order divisible by 12.

use crate::ring::{Gcd, Ring};

/// A point in `X:Z` coordinates (`y` is never needed).
#[derive(Debug, Clone)]
pub(crate) struct Point<E> {
    pub(crate) x: E,
    pub(crate) z: E,
}

/// A curve with its doubling constant `(A + 2) / 4` and a starting point.
#[derive(Debug, Clone)]
pub(crate) struct Curve<E> {
    pub(crate) a24: E,
    pub(crate) start: Point<E>,
}

/// Suyama's curve for `sigma` (not 0, ±1, ±3, ±5, ±5/3): with `u = sigma^2 - 5`,
/// `v = 4 sigma`, the starting point is `(u^3 : v^3)` and
/// `(A + 2) / 4 = (v - u)^3 (3u + v) / (16 u^3 v)`. The same `sigma` gives the same curve as
/// GMP-ECM's `-sigma 0:sigma`. `Err` carries the gcd when `16 u^3 v` is not invertible (a factor,
/// or a degenerate `sigma`).
pub(crate) fn suyama<R: Ring>(ring: &R, sigma: u64) -> Result<Curve<R::Elem>, Gcd> {
    let s = ring.residue_u64(sigma);
    let u = ring.sub(&ring.sqr(&s), &ring.residue_u64(5));
    let v = ring.add(&ring.add(&s, &s), &ring.add(&s, &s));
    let u3 = ring.mul(&ring.sqr(&u), &u);
    let v3 = ring.mul(&ring.sqr(&v), &v);
    let vmu = ring.sub(&v, &u);
    let vmu3 = ring.mul(&ring.sqr(&vmu), &vmu);
    let three_u_plus_v = ring.add(&ring.add(&ring.add(&u, &u), &u), &v);
    let num = ring.mul(&vmu3, &three_u_plus_v);
    let den = ring.mul(&ring.mul(&u3, &v), &ring.residue_u64(16));
    let inv = ring.inverse(&den)?;
    Ok(Curve {
        a24: ring.mul(&num, &inv),
        start: Point { x: u3, z: v3 },
    })
}

/// `2P`: 2 multiplications, 2 squarings and one multiplication by `(A + 2) / 4`.
#[inline]
pub(crate) fn double<R: Ring>(ring: &R, a24: &R::Elem, p: &Point<R::Elem>) -> Point<R::Elem> {
    let s = ring.sqr(&ring.add(&p.x, &p.z));
    let d = ring.sqr(&ring.sub(&p.x, &p.z));
    let t = ring.sub(&s, &d); // 4 x z
    Point {
        x: ring.mul(&s, &d),
        z: ring.mul(&t, &ring.add(&d, &ring.mul(a24, &t))),
    }
}

/// `P + Q` from `P - Q`: 4 multiplications and 2 squarings.
#[inline]
pub(crate) fn add<R: Ring>(
    ring: &R,
    p: &Point<R::Elem>,
    q: &Point<R::Elem>,
    diff: &Point<R::Elem>,
) -> Point<R::Elem> {
    let u = ring.mul(&ring.sub(&p.x, &p.z), &ring.add(&q.x, &q.z));
    let v = ring.mul(&ring.add(&p.x, &p.z), &ring.sub(&q.x, &q.z));
    Point {
        x: ring.mul(&diff.z, &ring.sqr(&ring.add(&u, &v))),
        z: ring.mul(&diff.x, &ring.sqr(&ring.sub(&u, &v))),
    }
}

/// `[k] P` by the Montgomery ladder (`k >= 1`).
pub(crate) fn multiply<R: Ring>(
    ring: &R,
    a24: &R::Elem,
    p: &Point<R::Elem>,
    k: u64,
) -> Point<R::Elem> {
    if k == 1 {
        return p.clone();
    }
    let mut r0 = p.clone();
    let mut r1 = double(ring, a24, p);
    for i in (0..63 - k.leading_zeros()).rev() {
        if (k >> i) & 1 == 1 {
            r0 = add(ring, &r1, &r0, p);
            r1 = double(ring, a24, &r1);
        } else {
            r1 = add(ring, &r1, &r0, p);
            r0 = double(ring, a24, &r0);
        }
    }
    r0
}
