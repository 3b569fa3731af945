//! The descent: one ECPP step after another until the number is below 2^64.

use num_bigint::{BigInt, BigUint};
use num_traits::Zero;

use super::ProveError;
use super::arith::{
    Sqrt, big_enough, cornacchia, kronecker, pow, prime_discriminants, reduce, traces,
};
use super::classpoly::{ClassPoly, Invariant, table};
use super::ec::{mul_affine, to_affine};
use super::poly::find_root;
use crate::cert::Step;
use crate::montgomery::to_limbs;
use crate::ring::{Gcd, Ring, RingTask, with_ring};
use std::collections::HashMap;
use std::sync::LazyLock;

use crate::small::inv_u64;
use crate::trial::{BIG_TRIAL_BOUND, odd_prime_divisors_limbs};
use crate::{Effort, is_prime};

/// How many times the descent may step back to an earlier number and take its next candidate
/// order when no discriminant works for the current one.
const MAX_BACKTRACKS: u32 = 64;

/// Where the search for one number stopped. The first pass walks the table: `disc` is the
/// index of the next discriminant and `trace` the next trace to try for it. The second
/// (`deep`) pass goes over the orders the first pass rejected because their cofactor was
/// composite, removing the primes from 2^16 to 2^20 too: `disc` is then the index of the next
/// such order.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    deep: bool,
    disc: usize,
    trace: usize,
}

/// An order the first pass rejected: its cofactor `q` (after the primes below 2^16) was large
/// enough but composite.
#[derive(Debug, Clone)]
struct Miss {
    disc: usize,
    trace: BigInt,
    s: BigUint,
    q: BigUint,
}

/// One number of the descent being worked on.
#[derive(Debug)]
struct Level {
    step: Step,
    /// Where to resume if the descent comes back to this number.
    next: Cursor,
    misses: Vec<Miss>,
}

/// Every step from `n` (a probable prime ≥ 2^64) down to a prime below 2^64, stepping back
/// (to the previous number's next candidate) when a number has no usable discriminant.
pub(super) fn descend(n: &BigUint, effort: &Effort) -> Result<Vec<Step>, ProveError> {
    let mut stack: Vec<Level> = Vec::new();
    let mut cur = n.clone();
    let mut cursor = Cursor::default();
    let mut misses = Vec::new();
    let mut backtracks = 0;
    while cur.bits() > 64 {
        let search = Search {
            n: &cur,
            effort,
            start: cursor,
            misses: &mut misses,
            seed: cur.iter_u64_digits().next().unwrap_or(1),
        };
        match with_ring(&cur, search) {
            Ok((step, next)) => {
                cur = step.q();
                cursor = Cursor::default();
                let misses = std::mem::take(&mut misses);
                stack.push(Level { step, next, misses });
            }
            Err(ProveError::NoCurve { .. }) if !cursor.deep => {
                cursor = Cursor {
                    deep: true,
                    ..Cursor::default()
                };
            }
            Err(ProveError::NoCurve { bits }) => {
                backtracks += 1;
                let (Some(level), true) = (stack.pop(), backtracks <= MAX_BACKTRACKS) else {
                    return Err(ProveError::NoCurve { bits });
                };
                cur = level.step.n;
                cursor = level.next;
                misses = level.misses;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(stack.into_iter().map(|level| level.step).collect())
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
    misses: &'a mut Vec<Miss>,
    seed: u64,
}

impl RingTask for Search<'_> {
    type Output = Result<(Step, Cursor), ProveError>;

    fn run<R: Ring>(self, r: &R) -> Self::Output {
        let n = self.n;
        let sq = Sqrt::new(r, n).ok_or(ProveError::NoCurve { bits: n.bits() })?;
        let mut rng = Rng(self.seed);
        if self.start.deep {
            self.deep_pass(r, &sq, &mut rng)
        } else {
            self.first_pass(r, &sq, &mut rng)
        }
    }
}

impl Search<'_> {
    /// Walk the table of discriminants from the cursor. Once an order with a prime cofactor
    /// turns up, the next [`LOOKAHEAD`] discriminants are searched too and the candidates are
    /// tried smallest `q` first: bigger steps down make shorter certificates.
    fn first_pass<R: Ring>(
        self,
        r: &R,
        sq: &Sqrt<R::Elem>,
        rng: &mut Rng,
    ) -> Result<(Step, Cursor), ProveError> {
        let n = self.n;
        let mut cache = RootCache::new(r, sq).ok_or(ProveError::NoCurve { bits: n.bits() })?;
        let mut found: Vec<Found> = Vec::new();
        let mut horizon = usize::MAX;
        for (i, poly) in table().iter().enumerate().skip(self.start.disc) {
            if i > horizon {
                if let Some(step) = try_candidates(r, n, sq, rng, &mut found) {
                    return Ok((
                        step,
                        Cursor {
                            deep: false,
                            disc: i,
                            trace: 0,
                        },
                    ));
                }
                horizon = usize::MAX;
            }
            if self.effort.is_exhausted() {
                return Err(ProveError::Exhausted);
            }
            let Some((t, v)) = solve_norm(r, n, poly.d, sq, &mut cache) else {
                continue;
            };
            let skip = if i == self.start.disc {
                self.start.trace
            } else {
                0
            };
            if classify_orders(n, i, poly.d, (&t, &v), skip, &mut found, self.misses) {
                horizon = horizon.min(i + LOOKAHEAD);
            }
        }
        let end = table().len();
        match try_candidates(r, n, sq, rng, &mut found) {
            Some(step) => Ok((
                step,
                Cursor {
                    deep: false,
                    disc: end,
                    trace: 0,
                },
            )),
            None => Err(ProveError::NoCurve { bits: n.bits() }),
        }
    }

    /// Go over the first pass's rejected orders, removing the primes up to 2^20.
    fn deep_pass<R: Ring>(
        self,
        r: &R,
        sq: &Sqrt<R::Elem>,
        rng: &mut Rng,
    ) -> Result<(Step, Cursor), ProveError> {
        let n = self.n;
        for (i, miss) in self.misses.iter().enumerate().skip(self.start.disc) {
            if self.effort.is_exhausted() {
                return Err(ProveError::Exhausted);
            }
            let Some((s2, q)) = strip_deep(&miss.q, n) else {
                continue;
            };
            let s = &miss.s * s2;
            let order = Order {
                trace: &miss.trace,
                s: &s,
                q: &q,
            };
            let poly = &table()[miss.disc];
            if let Some(step) = build_curve(r, n, poly, &order, sq, rng) {
                let next = Cursor {
                    deep: true,
                    disc: i + 1,
                    trace: 0,
                };
                return Ok((step, next));
            }
        }
        Err(ProveError::NoCurve { bits: n.bits() })
    }
}

/// Square roots modulo `N` of the prime discriminants `p*` met so far (of `p* z` for a
/// non-residue `p*`, with `z` the fixed non-residue), so that the root of each `D` is a
/// product of cached roots (Atkin-Morain's trick: one exponentiation per prime, not per `D`).
struct RootCache<E> {
    roots: HashMap<i64, Option<(E, bool)>>,
    z_inv: E,
}

impl<E: Clone + PartialEq> RootCache<E> {
    fn new<R: Ring<Elem = E>>(r: &R, sq: &Sqrt<E>) -> Option<Self> {
        let z_inv = r.inverse(&r.residue_u64(sq.z)).ok()?;
        Some(RootCache {
            roots: HashMap::new(),
            z_inv,
        })
    }

    /// `√D mod N`, checked.
    fn sqrt_d<R: Ring<Elem = E>>(&mut self, r: &R, n: &BigUint, d: i64, sq: &Sqrt<E>) -> Option<E> {
        let signed = |x: i64| {
            let v = r.residue_u64(x.unsigned_abs());
            if x < 0 { r.sub(&r.zero(), &v) } else { v }
        };
        let mut acc = r.one();
        let mut nonres = 0u32;
        for p in prime_discriminants(d) {
            let entry = self.roots.entry(p).or_insert_with(|| {
                let residue = kronecker(p, n) == 1;
                let mut x = signed(p);
                if !residue {
                    x = r.mul(&x, &r.residue_u64(sq.z));
                }
                sq.sqrt(r, &x).map(|root| (root, !residue))
            });
            let (root, non) = entry.as_ref()?;
            acc = r.mul(&acc, root);
            nonres += *non as u32;
        }
        for _ in 0..nonres / 2 {
            acc = r.mul(&acc, &self.z_inv);
        }
        (r.sqr(&acc) == signed(d)).then_some(acc)
    }
}

/// How many discriminants past the first usable one the first pass still searches.
const LOOKAHEAD: usize = 32;

/// An order with a probable prime cofactor, from discriminant `disc` of the table.
#[derive(Debug)]
struct Found {
    disc: usize,
    trace: BigInt,
    s: BigUint,
    q: BigUint,
}

/// Sort the orders of discriminant number `i` (traces from `skip` on) into candidates (prime
/// cofactor) and misses (large composite cofactor); `true` if there is a candidate.
fn classify_orders(
    n: &BigUint,
    i: usize,
    d: i64,
    (t, v): (&BigUint, &BigUint),
    skip: usize,
    found: &mut Vec<Found>,
    misses: &mut Vec<Miss>,
) -> bool {
    let mut any = false;
    for trace in traces(d, t, v).into_iter().skip(skip) {
        let m = BigInt::from(n.clone()) + 1u8 - &trace;
        let Some(m) = m.to_biguint() else { continue };
        let Some((s, q)) = strip_small(&m, n) else {
            continue;
        };
        if is_prime(&q) {
            found.push(Found {
                disc: i,
                trace,
                s,
                q,
            });
            any = true;
        } else {
            misses.push(Miss {
                disc: i,
                trace,
                s,
                q,
            });
        }
    }
    any
}

/// Build a curve for the candidates, smallest `q` first; the list is emptied.
fn try_candidates<R: Ring>(
    r: &R,
    n: &BigUint,
    sq: &Sqrt<R::Elem>,
    rng: &mut Rng,
    found: &mut Vec<Found>,
) -> Option<Step> {
    found.sort_by(|x, y| x.q.cmp(&y.q));
    let step = found.iter().find_map(|c| {
        let order = Order {
            trace: &c.trace,
            s: &c.s,
            q: &c.q,
        };
        build_curve(r, n, &table()[c.disc], &order, sq, rng)
    });
    found.clear();
    step
}

/// `(t, v)` with `4N = t^2 + |D| v^2`, when `(D / N) = 1` and Cornacchia succeeds.
fn solve_norm<R: Ring>(
    r: &R,
    n: &BigUint,
    d: i64,
    sq: &Sqrt<R::Elem>,
    cache: &mut RootCache<R::Elem>,
) -> Option<(BigUint, BigUint)> {
    if kronecker(d, n) != 1 {
        return None;
    }
    let root = cache.sqrt_d(r, n, d, sq)?;
    cornacchia(n, d, &r.to_big(&root))
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

/// `m = s q` with the primes below 2^16 in `s`, when `q` is large enough and below `n`.
fn strip_small(m: &BigUint, n: &BigUint) -> Option<(BigUint, BigUint)> {
    let twos = m.trailing_zeros()?;
    let q = m >> twos;
    let s = BigUint::from(1u8) << twos;
    let limbs = to_limbs(&q, q.iter_u64_digits().len());
    let (s2, q) = strip(q, odd_prime_divisors_limbs(&limbs, BIG_TRIAL_BOUND), n)?;
    (&q < n).then_some((s * s2, q))
}

/// `q = s q'` with the primes from 2^16 to 2^20 in `s`, when `q'` is a large enough probable
/// prime.
fn strip_deep(q: &BigUint, n: &BigUint) -> Option<(BigUint, BigUint)> {
    let limbs = to_limbs(q, q.iter_u64_digits().len());
    let divisors = deep_divisors(&limbs);
    if divisors.is_empty() {
        return None;
    }
    let (s, q) = strip(q.clone(), divisors, n)?;
    is_prime(&q).then_some((s, q))
}

/// Divide `q` by each of `divisors` as often as it goes; `None` as soon as `q` is too small.
fn strip(mut q: BigUint, divisors: Vec<u64>, n: &BigUint) -> Option<(BigUint, BigUint)> {
    let mut s = BigUint::from(1u8);
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
    big_enough(&q, n).then_some((s, q))
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
