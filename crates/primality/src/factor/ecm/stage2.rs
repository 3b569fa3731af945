//! ECM stage 2, the baby-step giant-step continuation with prime pairing (Montgomery 1987,
//! section 10; Brent, "Some integer factorization algorithms using elliptic curves", 1986).
//!
//! Every prime `q` of `(B1, B2]` is written `q = v D ± u` with `0 < u < D/2`, `gcd(u, D) = 1`.
//! For the stage-1 point `Q`, `[q] Q = O (mod p)` means `[v D] Q = ∓[u] Q (mod p)`, which shows
//! in the `x`-coordinates: `p | x([vD]Q) - x([u]Q)`. One difference serves both `vD + u` and
//! `vD - u`, so a pair of primes costs one multiplication. The baby steps `[u] Q` and each batch
//! of giant steps `[vD] Q` are brought to `Z = 1` with one inversion per batch (Montgomery's
//! simultaneous inversion), so a prime costs one subtraction and one multiplication.
//!
//! The [`Plan`] (which pairs `(v, u)` are needed) depends only on `B1`, `B2` and `D`, so it is
//! computed once per ECM level and shared by all its curves.

use num_bigint::BigUint;

use super::curve::{Point, add, double, multiply};
use crate::Effort;
use crate::factor::primes::Primes;
use crate::ring::{Gcd, Ring};

/// Giant steps normalised together (one inversion each).
const GIANT_BATCH: usize = 64;

/// Baby steps taken between two looks at the effort.
const BABY_POLL: u64 = 128;

/// Which differences `x([vD]Q) - x([u]Q)` stage 2 multiplies together.
#[derive(Debug)]
pub(crate) struct Plan {
    d: u64,
    /// The baby steps `u`: odd, `u < D/2`, coprime to `D`.
    babies: Vec<u64>,
    /// First giant index `v`.
    v_first: u64,
    /// Per giant index, a bit set over `babies` (`words` words each).
    masks: Vec<u64>,
    words: usize,
}

/// Rough cost in multiplications of stage 2 with step `d` (baby steps, giant steps with their
/// normalisation); the pair products do not depend on `d`.
fn cost(d: u64, b1: u64, b2: u64) -> u64 {
    let phi_half = babies_of(d).len() as u64;
    d / 4 * 6 + phi_half * 3 + (b2 - b1) / d * 9
}

fn babies_of(d: u64) -> Vec<u64> {
    (1..d / 2)
        .step_by(2)
        .filter(|&u| num_integer::Integer::gcd(&u, &d) == 1)
        .collect()
}

impl Plan {
    /// The plan for the primes of `(b1, b2]` (`b1 >= 15`).
    pub(crate) fn new(b1: u64, b2: u64) -> Self {
        let b2 = b2.max(b1 + 1);
        let d = [30u64, 210, 2310, 30030, 510_510]
            .into_iter()
            .filter(|&d| d / 2 <= b1)
            .min_by_key(|&d| cost(d, b1, b2))
            .unwrap_or(30);
        let babies = babies_of(d);
        let mut index = vec![usize::MAX; (d / 2) as usize];
        for (i, &u) in babies.iter().enumerate() {
            index[u as usize] = i;
        }
        let words = babies.len().div_ceil(64);
        let nearest = |q: u64| (q + d / 2) / d;
        let v_first = nearest(b1 + 1).max(1);
        let v_last = nearest(b2);
        let mut masks = vec![0u64; (v_last - v_first + 1) as usize * words];
        for q in Primes::new(b1 + 1, b2 + 1) {
            let v = nearest(q);
            let u = q.abs_diff(v * d);
            let i = index[u as usize];
            let at = (v - v_first) as usize * words + i / 64;
            masks[at] |= 1 << (i % 64);
        }
        Plan {
            d,
            babies,
            v_first,
            masks,
            words,
        }
    }

    fn giants(&self) -> u64 {
        (self.masks.len() / self.words) as u64
    }
}

/// `x/z` for every point, with one inversion; `Err` with the gcd when some `z` is not a unit.
fn normalise<R: Ring>(ring: &R, points: &[Point<R::Elem>]) -> Result<Vec<R::Elem>, Gcd> {
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = ring.one();
    for p in points {
        prefix.push(acc.clone());
        acc = ring.mul(&acc, &p.z);
    }
    let mut inv = ring.inverse(&acc)?;
    let mut out = vec![ring.zero(); points.len()];
    for (i, p) in points.iter().enumerate().rev() {
        // inv = 1 / (z_0 ... z_i)
        let zi_inv = ring.mul(&inv, &prefix[i]);
        inv = ring.mul(&inv, &p.z);
        out[i] = ring.mul(&p.x, &zi_inv);
    }
    Ok(out)
}

/// What a stage 2 found.
#[derive(Debug)]
pub(crate) enum Found {
    Factor(BigUint),
    Nothing,
    OutOfEffort,
}

fn from_gcd(g: Gcd) -> Found {
    match g {
        Gcd::Factor(f) => Found::Factor(f),
        Gcd::One | Gcd::Modulus => Found::Nothing,
    }
}

/// Stage 2 from the stage-1 point `q`.
pub(crate) fn run<R: Ring>(
    ring: &R,
    a24: &R::Elem,
    q: &Point<R::Elem>,
    plan: &Plan,
    effort: &Effort,
) -> Found {
    let babies = match baby_steps(ring, a24, q, plan, effort) {
        Ok(Some(b)) => b,
        Ok(None) => return Found::OutOfEffort,
        Err(g) => return from_gcd(g),
    };
    let giant = multiply(ring, a24, q, plan.d);
    // cur = [v D] Q and prev = [(v - 1) D] Q (for v = 1, prev is not used: [2D]Q is a doubling).
    let mut cur = multiply(ring, a24, &giant, plan.v_first);
    let mut prev = if plan.v_first >= 2 {
        multiply(ring, a24, &giant, plan.v_first - 1)
    } else {
        giant.clone()
    };
    if effort.is_exhausted() {
        return Found::OutOfEffort;
    }
    let mut acc = ring.one();
    let mut v = plan.v_first;
    let mut batch = Vec::with_capacity(GIANT_BATCH);
    let end = plan.v_first + plan.giants();
    while v < end {
        let first = v;
        batch.clear();
        while v < end && batch.len() < GIANT_BATCH {
            batch.push(cur.clone());
            let next = if v == 1 {
                double(ring, a24, &cur)
            } else {
                add(ring, &cur, &giant, &prev)
            };
            prev = std::mem::replace(&mut cur, next);
            v += 1;
        }
        let xs = match normalise(ring, &batch) {
            Ok(xs) => xs,
            Err(g) => return from_gcd(g),
        };
        for (j, xv) in xs.iter().enumerate() {
            let row = (first - plan.v_first) as usize + j;
            let mask = &plan.masks[row * plan.words..(row + 1) * plan.words];
            for (w, &bits) in mask.iter().enumerate() {
                let mut bits = bits;
                while bits != 0 {
                    let i = w * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    acc = ring.mul(&acc, &ring.sub(xv, &babies[i]));
                }
            }
            // A row is up to a few hundred products (under a millisecond at 2048 bits); a
            // batch of them would be tens of milliseconds past the deadline.
            if effort.is_exhausted() {
                return Found::OutOfEffort;
            }
        }
    }
    from_gcd(ring.gcd(&acc))
}

/// The normalised `x([u] Q)` for the plan's baby steps (`None`: the effort ran out first).
fn baby_steps<R: Ring>(
    ring: &R,
    a24: &R::Elem,
    q: &Point<R::Elem>,
    plan: &Plan,
    effort: &Effort,
) -> Result<Option<Vec<R::Elem>>, Gcd> {
    let q2 = double(ring, a24, q);
    let mut kept = Vec::with_capacity(plan.babies.len());
    let mut prev = q.clone(); // [u - 2] Q
    let mut cur = add(ring, &q2, q, q); // [u] Q, from u = 3
    if plan.babies.first() == Some(&1) {
        kept.push(q.clone());
    }
    let mut next_baby = plan.babies.iter().skip(1).peekable();
    let mut u = 3;
    while let Some(&&want) = next_baby.peek() {
        if u == want {
            kept.push(cur.clone());
            next_baby.next();
        }
        let next = add(ring, &cur, &q2, &prev);
        prev = std::mem::replace(&mut cur, next);
        u += 2;
        if (u / 2).is_multiple_of(BABY_POLL) && effort.is_exhausted() {
            return Ok(None);
        }
    }
    normalise(ring, &kept).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prime_has_its_pair() {
        for (b1, b2) in [(15u64, 1000u64), (2000, 150_000), (11_000, 2_000_000)] {
            let plan = Plan::new(b1, b2);
            for q in Primes::new(b1 + 1, b2 + 1) {
                let covered = (0..plan.giants()).any(|row| {
                    let v = plan.v_first + row;
                    plan.babies.iter().enumerate().any(|(i, &u)| {
                        let bit = plan.masks[row as usize * plan.words + i / 64] >> (i % 64) & 1;
                        bit == 1 && (v * plan.d + u == q || v * plan.d == q + u)
                    })
                });
                assert!(covered, "{q} in ({b1}, {b2}] with D = {}", plan.d);
                if q > b1 + 5000 {
                    break; // the rest is the same arithmetic
                }
            }
        }
    }
}
