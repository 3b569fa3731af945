//! The descent: one ECPP step after another until the number is below 2^64.

use num_bigint::{BigInt, BigUint};
use num_traits::Zero;

use super::ProveError;
use super::arith::{Sqrt, big_enough, cornacchia, kronecker, pow, reduce, traces};
use super::classpoly::{ClassPoly, Invariant, table};
use super::ec::{mul_affine, to_affine};
use super::poly::find_root;
use crate::cert::Step;
use crate::montgomery::to_limbs;
use crate::ring::{Gcd, Ring, RingTask, with_ring};
use std::sync::LazyLock;

use crate::small::inv_u64;
use crate::trial::{BIG_TRIAL_BOUND, odd_prime_divisors_limbs};
use crate::{Effort, is_prime};

/// How many times the descent may step back to an earlier number and take its next candidate
/// order when no discriminant works for the current one.
const MAX_BACKTRACKS: u32 = 64;

/// Where the search for one number stopped: the pass (the second one also removes the primes
/// from 2^16 to 2^20 from the orders), the index of the next discriminant of the table and the
/// next trace to try for it.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    deep: bool,
    disc: usize,
    trace: usize,
}

/// Every step from `n` (a probable prime ≥ 2^64) down to a prime below 2^64, stepping back
/// (to the previous number's next candidate) when a number has no usable discriminant.
pub(super) fn descend(n: &BigUint, effort: &Effort) -> Result<Vec<Step>, ProveError> {
    let mut stack: Vec<(Step, Cursor)> = Vec::new();
    let mut cur = n.clone();
    let mut cursor = Cursor::default();
    let mut backtracks = 0;
    while cur.bits() > 64 {
        let search = Search {
            n: &cur,
            effort,
            start: cursor,
            seed: cur.iter_u64_digits().next().unwrap_or(1),
        };
        match with_ring(&cur, search) {
            Ok((step, next)) => {
                cur = step.q();
                cursor = Cursor::default();
                stack.push((step, next));
            }
            Err(ProveError::NoCurve { .. }) if !cursor.deep => {
                cursor = Cursor {
                    deep: true,
                    ..Cursor::default()
                };
            }
            Err(ProveError::NoCurve { bits }) => {
                backtracks += 1;
                let (Some((step, next)), true) = (stack.pop(), backtracks <= MAX_BACKTRACKS) else {
                    return Err(ProveError::NoCurve { bits });
                };
                cur = step.n;
                cursor = next;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(stack.into_iter().map(|(step, _)| step).collect())
}

/// A small deterministic generator (SplitMix64), so certificates are reproducible.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// One step for `n`.
struct Search<'a> {
    n: &'a BigUint,
    effort: &'a Effort,
    start: Cursor,
    seed: u64,
}

impl RingTask for Search<'_> {
    type Output = Result<(Step, Cursor), ProveError>;

    fn run<R: Ring>(self, r: &R) -> Self::Output {
        let n = self.n;
        let stuck = ProveError::NoCurve { bits: n.bits() };
        let sq = Sqrt::new(r, n).ok_or_else(|| stuck.clone())?;
        let mut rng = Rng(self.seed);
        for (i, poly) in table().iter().enumerate().skip(self.start.disc) {
            if self.effort.is_exhausted() {
                return Err(ProveError::Exhausted);
            }
            let d = poly.d;
            if kronecker(d, n) != 1 {
                continue;
            }
            let dm = r.sub(&r.zero(), &r.residue_u64(d.unsigned_abs()));
            let Some(root) = sq.sqrt(r, &dm) else {
                continue;
            };
            let Some((t, v)) = cornacchia(n, d, &r.to_big(&root)) else {
                continue;
            };
            let skip = if i == self.start.disc {
                self.start.trace
            } else {
                0
            };
            for (k, trace) in traces(d, &t, &v).into_iter().enumerate().skip(skip) {
                let m = BigInt::from(n.clone()) + 1u8 - &trace;
                let Some(m) = m.to_biguint() else { continue };
                let Some((s, q)) = split_order(&m, n, self.start.deep) else {
                    continue;
                };
                let order = Order {
                    trace: &trace,
                    s: &s,
                    q: &q,
                };
                if let Some(step) = build_curve(r, n, poly, &order, &sq, &mut rng) {
                    let next = Cursor {
                        deep: self.start.deep,
                        disc: i,
                        trace: k + 1,
                    };
                    return Ok((step, next));
                }
            }
        }
        Err(stuck)
    }
}

/// Groups of three primes from 2^16 to 2^20: their product `m < 2^60` and `-m^{-1} mod 2^64`.
static DEEP_GROUPS: LazyLock<Vec<([u64; 3], u64, u64)>> = LazyLock::new(|| {
    const HI: usize = 1 << 20;
    let mut composite = vec![false; HI];
    let mut primes = Vec::new();
    for i in 2..HI {
        if composite[i] {
            continue;
        }
        if i as u64 > BIG_TRIAL_BOUND {
            primes.push(i as u64);
        }
        let mut j = i * i;
        while j < HI {
            composite[j] = true;
            j += i;
        }
    }
    primes
        .chunks_exact(3)
        .map(|c| {
            let m = c[0] * c[1] * c[2];
            ([c[0], c[1], c[2]], m, inv_u64(m).wrapping_neg())
        })
        .collect()
});

/// The primes from 2^16 to 2^20 (except the last one or two) dividing the number with these
/// limbs: one Montgomery reduction step per limb and group of three.
fn deep_divisors(limbs: &[u64]) -> Vec<u64> {
    let mut found = Vec::new();
    for (ps, m, neg_inv) in DEEP_GROUPS.iter() {
        let mut c = 0u64;
        for &l in limbs {
            let t = c as u128 + l as u128;
            let k = (t as u64).wrapping_mul(*neg_inv);
            c = ((t + k as u128 * *m as u128) >> 64) as u64;
        }
        found.extend(ps.iter().filter(|&&p| c.is_multiple_of(p)));
    }
    found
}

/// `m = s q` with the primes below 2^16 (below 2^20 when `deep`) in `s`, when `q` is a probable
/// prime of the right size below `n`.
fn split_order(m: &BigUint, n: &BigUint, deep: bool) -> Option<(BigUint, BigUint)> {
    let twos = m.trailing_zeros()?;
    let mut q = m >> twos;
    let mut s = BigUint::from(1u8) << twos;
    let limbs = to_limbs(&q, q.iter_u64_digits().len());
    let mut divisors = odd_prime_divisors_limbs(&limbs, BIG_TRIAL_BOUND);
    if deep {
        divisors.extend(deep_divisors(&limbs));
    }
    for p in divisors {
        let p = BigUint::from(p);
        loop {
            let (quot, rem) = (&q / &p, &q % &p);
            if !rem.is_zero() {
                break;
            }
            q = quot;
            s *= &p;
        }
        if !big_enough(&q, n) {
            return None;
        }
    }
    (big_enough(&q, n) && &q < n && is_prime(&q)).then_some((s, q))
}

/// The curve order being sought: trace, `m = s q`.
struct Order<'a> {
    trace: &'a BigInt,
    s: &'a BigUint,
    q: &'a BigUint,
}

/// The `j`-invariant of the curves with CM by `D` modulo `n`, from a root of the class
/// polynomial.
fn j_invariant<R: Ring>(
    r: &R,
    n: &BigUint,
    poly: &ClassPoly,
    sq: &Sqrt<R::Elem>,
) -> Option<R::Elem> {
    match poly.d {
        -3 => return Some(r.zero()),
        -4 => return Some(r.residue_u64(1728)),
        _ => {}
    }
    let mut f: Vec<R::Elem> = poly
        .coeffs
        .iter()
        .map(|c| r.residue(&reduce(c, n)))
        .collect();
    f.push(r.one());
    let root = find_root(r, n, f, sq, 64)?;
    let weber = |f24: R::Elem| -> Option<R::Elem> {
        // j = (f^24 - 16)^3 / f^24.
        let u = r.sub(&f24, &r.residue_u64(16));
        let u3 = r.mul(&r.sqr(&u), &u);
        Some(r.mul(&u3, &r.inverse(&f24).ok()?))
    };
    match poly.inv {
        Invariant::J => Some(root),
        Invariant::Gamma2 => Some(r.mul(&r.sqr(&root), &root)),
        Invariant::WeberF => weber(pow(r, &root, &BigUint::from(24u8))),
        Invariant::WeberF3 => weber(pow(r, &root, &BigUint::from(8u8))),
    }
}

/// A curve with CM by `D` and a point `P` with `s P ≠ O` and `m P = O`, trying the twists.
fn build_curve<R: Ring>(
    r: &R,
    n: &BigUint,
    poly: &ClassPoly,
    order: &Order<'_>,
    sq: &Sqrt<R::Elem>,
    rng: &mut Rng,
) -> Option<Step> {
    let j = j_invariant(r, n, poly, sq)?;
    let fixed = match poly.d {
        -3 | -4 => None,
        _ => {
            // y^2 = x^3 + 3k x + 2k with k = j / (1728 - j) has j-invariant j.
            let k = r.mul(&j, &r.inverse(&r.sub(&r.residue_u64(1728), &j)).ok()?);
            Some((r.add(&r.add(&k, &k), &k), r.add(&k, &k)))
        }
    };
    let tries = match poly.d {
        -3 => 80,
        -4 => 48,
        _ => 24,
    };
    for _ in 0..tries {
        let (a0, b0) = match (&fixed, poly.d) {
            (Some(ab), _) => ab.clone(),
            (None, -3) => (r.zero(), r.residue_u64(1 + rng.next() % 1_000_000)),
            (None, _) => (r.residue_u64(1 + rng.next() % 1_000_000), r.zero()),
        };
        let x0 = r.residue_u64(rng.next());
        // g = x0^3 + a0 x0 + b0; the twist by g, (a0 g^2, b0 g^3), has the point (x0 g, g^2).
        let g = r.add(&r.mul(&x0, &r.add(&r.sqr(&x0), &a0)), &b0);
        if g == r.zero() {
            continue;
        }
        let g2 = r.sqr(&g);
        let (a, b) = (r.mul(&a0, &g2), r.mul(&b0, &r.mul(&g2, &g)));
        let (px, py) = (r.mul(&x0, &g), g2.clone());
        let disc = r.add(
            &r.mul(&r.residue_u64(4), &pow(r, &a, &BigUint::from(3u8))),
            &r.mul(&r.residue_u64(27), &r.sqr(&b)),
        );
        if r.gcd(&disc) != Gcd::One {
            continue;
        }
        let sp = mul_affine(r, &a, &px, &py, order.s);
        let Some((qx, qy)) = to_affine(r, &sp) else {
            continue;
        };
        let mp = mul_affine(r, &a, &qx, &qy, order.q);
        if mp.z == r.zero() && r.gcd(&mp.y) == Gcd::One {
            return Some(Step {
                n: n.clone(),
                t: order.trace.clone(),
                s: order.s.clone(),
                a: r.to_big(&a),
                b: r.to_big(&b),
                x: r.to_big(&px),
                y: r.to_big(&py),
            });
        }
    }
    None
}
