//! The order of the methods: trial division, then for each composite part a plan by size.

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, ToPrimitive, Zero};

use super::ecm::{self, Bounds, CurveOutcome, LEVELS};
use super::power::perfect_power;
use super::{Factorization, pm1, rho, siqs, word};
use crate::Effort;
use crate::montgomery::to_limbs;
use crate::ring::{Ring, RingTask, with_ring};
use crate::trial::{BIG_TRIAL_BOUND, odd_prime_divisors_limbs};

/// Trial division removes every prime below this bound (all of them below 2^16).
const TRIAL_BITS: u64 = 16;

/// How far the methods got on one composite; its parts inherit it, so a factor found at one ECM
/// level does not send the cofactor back to the cheaper methods that already failed on it.
#[derive(Debug, Clone, Default)]
struct Progress {
    rho_done: bool,
    pm1_done: bool,
    /// Index into [`LEVELS`] and the curves already run at that level.
    ecm_level: usize,
    ecm_curves: u32,
}

/// A composite part `value^times` still to be split.
#[derive(Debug)]
struct Part {
    value: BigUint,
    times: u32,
    progress: Progress,
}

pub(super) fn factorize(n: &BigUint, effort: &Effort) -> Factorization {
    if n.is_zero() {
        return Factorization {
            factors: Vec::new(),
            cofactor: Some(BigUint::zero()),
        };
    }
    if let Some(small) = n.to_u64() {
        let factors = word::factor_u64(small)
            .into_iter()
            .map(|(p, e)| (BigUint::from(p), e))
            .collect();
        return Factorization {
            factors,
            cofactor: None,
        };
    }
    let mut found = Vec::new();
    let rest = trial_divide(n, &mut found);
    let mut pending = vec![Part {
        value: rest,
        times: 1,
        progress: Progress::default(),
    }];
    let mut unsplit = Vec::new();
    while let Some(part) = pending.pop() {
        settle(part, effort, &mut found, &mut pending, &mut unsplit);
    }
    assemble(found, unsplit)
}

/// Remove the primes below 2^16 (with multiplicity) into `found`; return what is left.
fn trial_divide(n: &BigUint, found: &mut Vec<(BigUint, u32)>) -> BigUint {
    let mut m = n.clone();
    let twos = m.trailing_zeros().unwrap_or(0);
    if twos > 0 {
        found.push((BigUint::from(2u8), twos as u32));
        m >>= twos;
    }
    let limbs = to_limbs(&m, m.iter_u64_digits().len());
    for p in odd_prime_divisors_limbs(&limbs, BIG_TRIAL_BOUND) {
        let mut e = 0;
        loop {
            let (q, r) = m.div_rem(&BigUint::from(p));
            if !r.is_zero() {
                break;
            }
            m = q;
            e += 1;
        }
        found.push((BigUint::from(p), e));
    }
    m
}

/// Decide one part: a prime, a `u64`, a perfect power, split in two, or left unsplit.
fn settle(
    part: Part,
    effort: &Effort,
    found: &mut Vec<(BigUint, u32)>,
    pending: &mut Vec<Part>,
    unsplit: &mut Vec<(BigUint, u32)>,
) {
    let Part {
        value,
        times,
        mut progress,
    } = part;
    if value.is_one() {
        return;
    }
    if let Some(small) = value.to_u64() {
        for (p, e) in word::factor_u64(small) {
            found.push((BigUint::from(p), e * times));
        }
        return;
    }
    if crate::is_prime(&value) {
        found.push((value, times));
        return;
    }
    if let Some((root, k)) = perfect_power(&value, TRIAL_BITS) {
        pending.push(Part {
            value: root,
            times: times * k,
            progress,
        });
        return;
    }
    match split(&value, &mut progress, effort) {
        Some(f) => {
            debug_assert!((&value % &f).is_zero() && !f.is_one() && f != value);
            let other = &value / &f;
            // A rho walk that found one factor says nothing about the others: the parts get
            // their own walks. ECM levels carry over (their curves ran modulo every factor).
            progress.rho_done = false;
            for v in [f, other] {
                pending.push(Part {
                    value: v,
                    times,
                    progress: progress.clone(),
                });
            }
        }
        None => unsplit.push((value, times)),
    }
}

/// Sort, merge equal primes, and multiply the unsplit parts into the cofactor.
fn assemble(mut found: Vec<(BigUint, u32)>, unsplit: Vec<(BigUint, u32)>) -> Factorization {
    found.sort();
    let mut factors: Vec<(BigUint, u32)> = Vec::with_capacity(found.len());
    for (p, e) in found {
        match factors.last_mut() {
            Some((q, f)) if *q == p => *f += e,
            _ => factors.push((p, e)),
        }
    }
    let cofactor = (!unsplit.is_empty()).then(|| {
        unsplit
            .iter()
            .fold(BigUint::one(), |acc, (c, e)| acc * c.pow(*e))
    });
    Factorization { factors, cofactor }
}

/// A nontrivial factor of the odd composite `n` (not a perfect power, no prime below 2^16),
/// or `None` when the effort ran out.
fn split(n: &BigUint, progress: &mut Progress, effort: &Effort) -> Option<BigUint> {
    with_ring(n, Split { progress, effort })
}

struct Split<'a> {
    progress: &'a mut Progress,
    effort: &'a Effort,
}

/// Rho steps before the other methods: finds most factors below about 2^28 on numbers of one
/// or two limbs; on larger numbers an ECM curve is the cheaper way to find such factors.
fn rho_steps(limbs: usize) -> u64 {
    if limbs <= 4 { 1 << 15 } else { 1 << 12 }
}

/// Pollard `p - 1` bounds: about the cost of one or two ECM curves at the first level.
const PM1_B1: u64 = 20_000;
const PM1_B2: u64 = 1_000_000;

/// ECM runs on a number the quadratic sieve can take only while the level's factor size is at
/// most this fraction of the number's digits; then the sieve is the quicker way (the ratio
/// yafu uses, 4/13).
const PRETEST_RATIO: f64 = 0.31;

impl RingTask for Split<'_> {
    type Output = Option<BigUint>;

    fn run<R: Ring>(self, ring: &R) -> Option<BigUint> {
        let Split { progress, effort } = self;
        let n = ring.modulus();
        let limbs = n.iter_u64_digits().len();
        if !progress.rho_done {
            progress.rho_done = true;
            if let Some(f) = rho::find_factor(ring, rho_steps(limbs), effort) {
                return Some(f);
            }
        }
        let sieve_max_digits = (n.bits() <= siqs::MAX_BITS)
            .then(|| n.bits() as f64 * std::f64::consts::LOG10_2 * PRETEST_RATIO);
        loop {
            let level = LEVELS.get(progress.ecm_level)?;
            if sieve_max_digits.is_some_and(|d| level.digits as f64 > d) {
                return siqs::siqs(&n, effort);
            }
            if progress.ecm_level == 1 && !progress.pm1_done {
                progress.pm1_done = true;
                if let Some(f) = pm1::pm1(ring, PM1_B1, PM1_B2, effort) {
                    return Some(f);
                }
            }
            if let Some(f) = run_ecm_level(ring, progress, effort) {
                return Some(f);
            }
            if effort.is_exhausted() {
                return None;
            }
        }
    }
}

/// The remaining curves of the current ECM level; on to the next level when they are done.
fn run_ecm_level<R: Ring>(ring: &R, progress: &mut Progress, effort: &Effort) -> Option<BigUint> {
    let seed = ring.modulus().iter_u64_digits().next().unwrap_or(0);
    let level = LEVELS[progress.ecm_level];
    let bounds = Bounds::new(level);
    while progress.ecm_curves < level.curves {
        if effort.is_exhausted() {
            return None;
        }
        let i = progress.ecm_level as u64 * 1_000_000 + progress.ecm_curves as u64;
        progress.ecm_curves += 1;
        match ecm::curve(ring, &bounds, ecm::sigma(seed, i), effort) {
            CurveOutcome::Factor(f) => return Some(f),
            CurveOutcome::Nothing => {}
            CurveOutcome::OutOfEffort => return None,
        }
    }
    progress.ecm_level += 1;
    progress.ecm_curves = 0;
    None
}
