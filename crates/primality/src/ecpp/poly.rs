//! A root modulo a (probable) prime `N` of a polynomial that splits into distinct linear
//! factors (a Hilbert class polynomial modulo a prime `N` with `4N = t^2 + |D| v^2`), by
//! Cantor-Zassenhaus equal-degree splitting.

use num_bigint::BigUint;

use super::arith::Sqrt;
use crate::ring::Ring;

/// A polynomial over `Z/N`, coefficients from the constant term up, in Montgomery form.
type Poly<E> = Vec<E>;

fn trim<R: Ring>(r: &R, mut p: Poly<R::Elem>) -> Poly<R::Elem> {
    while p.last().is_some_and(|c| *c == r.zero()) {
        p.pop();
    }
    p
}

/// `a mod m` for monic `m`.
fn rem_monic<R: Ring>(r: &R, mut a: Poly<R::Elem>, m: &[R::Elem]) -> Poly<R::Elem> {
    let dm = m.len() - 1;
    while a.len() > dm {
        let Some(lead) = a.pop() else { break };
        let shift = a.len() - dm;
        for (i, c) in m[..dm].iter().enumerate() {
            a[shift + i] = r.sub(&a[shift + i], &r.mul(&lead, c));
        }
    }
    trim(r, a)
}

/// `a / m` (quotient) for monic `m` dividing `a` exactly.
fn div_monic<R: Ring>(r: &R, a: &[R::Elem], m: &[R::Elem]) -> Poly<R::Elem> {
    let dm = m.len() - 1;
    let mut rem = a.to_vec();
    let mut quot = vec![r.zero(); a.len().saturating_sub(dm)];
    while rem.len() > dm {
        let Some(lead) = rem.pop() else { break };
        let shift = rem.len() - dm;
        quot[shift] = lead.clone();
        for (i, c) in m[..dm].iter().enumerate() {
            rem[shift + i] = r.sub(&rem[shift + i], &r.mul(&lead, c));
        }
    }
    quot
}

fn mul_mod<R: Ring>(r: &R, a: &[R::Elem], b: &[R::Elem], m: &[R::Elem]) -> Poly<R::Elem> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut prod = vec![r.zero(); a.len() + b.len() - 1];
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            prod[i + j] = r.add(&prod[i + j], &r.mul(x, y));
        }
    }
    rem_monic(r, prod, m)
}

/// `(x + delta)^e mod m`.
fn pow_linear<R: Ring>(r: &R, delta: &R::Elem, e: &BigUint, m: &[R::Elem]) -> Poly<R::Elem> {
    let base = rem_monic(r, vec![delta.clone(), r.one()], m);
    let mut acc = vec![r.one()];
    for i in (0..e.bits()).rev() {
        acc = mul_mod(r, &acc, &acc, m);
        if e.bit(i) {
            acc = mul_mod(r, &acc, &base, m);
        }
    }
    acc
}

/// Make monic; `None` if the leading coefficient is not a unit.
fn monic<R: Ring>(r: &R, p: Poly<R::Elem>) -> Option<Poly<R::Elem>> {
    let lead = p.last()?.clone();
    let inv = r.inverse(&lead).ok()?;
    Some(p.iter().map(|c| r.mul(c, &inv)).collect())
}

/// Monic gcd, `None` on a non-unit leading coefficient.
fn gcd<R: Ring>(r: &R, a: Poly<R::Elem>, b: Poly<R::Elem>) -> Option<Poly<R::Elem>> {
    let mut a = monic(r, trim(r, a))?;
    let mut b = trim(r, b);
    while !b.is_empty() {
        let bm = monic(r, b)?;
        let rem = rem_monic(r, a, &bm);
        a = bm;
        b = rem;
    }
    Some(a)
}

/// A root of the monic `f` (which must split into distinct linear factors), or `None` after
/// `tries` unlucky splittings (or when `N` is not prime).
pub(crate) fn find_root<R: Ring>(
    r: &R,
    n: &BigUint,
    f: Poly<R::Elem>,
    sq: &Sqrt<R::Elem>,
    tries: u32,
) -> Option<R::Elem> {
    let half = (n - 1u8) >> 1u32;
    let mut f = f;
    let mut delta = 1u64;
    for _ in 0..tries {
        match f.len() {
            0 | 1 => return None,
            2 => return Some(r.sub(&r.zero(), &f[0])),
            3 => {
                // x^2 + c1 x + c0: (-c1 ± sqrt(c1^2 - 4 c0)) / 2.
                let four_c0 = {
                    let t = r.add(&f[0], &f[0]);
                    r.add(&t, &t)
                };
                let disc = r.sub(&r.sqr(&f[1]), &four_c0);
                let s = sq.sqrt(r, &disc)?;
                let two_inv = r.inverse(&r.residue_u64(2)).ok()?;
                return Some(r.mul(&r.sub(&s, &f[1]), &two_inv));
            }
            _ => {}
        }
        delta += 1;
        let d = r.residue_u64(delta);
        let mut g = pow_linear(r, &d, &half, &f);
        if g.is_empty() {
            continue;
        }
        g[0] = r.sub(&g[0], &r.one());
        let g = gcd(r, f.clone(), g)?;
        let dg = g.len() - 1;
        let df = f.len() - 1;
        if dg == 0 || dg == df {
            continue;
        }
        f = if 2 * dg <= df {
            g
        } else {
            div_monic(r, &f, &g)
        };
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ring::{RingTask, with_ring};

    struct Roots(Vec<u64>);
    impl RingTask for Roots {
        type Output = u64;
        fn run<R: Ring>(self, r: &R) -> u64 {
            let n = r.modulus();
            // f = prod (x - root).
            let mut f = vec![r.one()];
            for &root in &self.0 {
                let mut g = vec![r.zero(); f.len() + 1];
                let neg = r.sub(&r.zero(), &r.residue_u64(root));
                for (i, c) in f.iter().enumerate() {
                    g[i + 1] = r.add(&g[i + 1], c);
                    g[i] = r.add(&g[i], &r.mul(c, &neg));
                }
                f = g;
            }
            let sq = Sqrt::new(r, &n).unwrap();
            let x = find_root(r, &n, f, &sq, 64).unwrap();
            r.to_big(&x).iter_u64_digits().next().unwrap_or(0)
        }
    }

    #[test]
    fn finds_a_root_of_split_polynomials() {
        let p: BigUint = "1000000000000000000000000000057".parse().unwrap(); // a prime
        for roots in [
            vec![5u64],
            vec![3, 9],
            vec![2, 7, 11, 13, 17],
            vec![1, 2, 3, 4, 5, 6, 7, 8],
        ] {
            let got = with_ring(&p, Roots(roots.clone()));
            assert!(roots.contains(&got), "{roots:?} {got}");
        }
    }
}
