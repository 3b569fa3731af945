//! Lenstra's elliptic curve method on Montgomery curves with Suyama's parametrisation
//! (H. W. Lenstra Jr., "Factoring integers with elliptic curves", Ann. Math. 126 (1987)).
//!
//! Stage 1 multiplies the starting point by every prime power up to `B1` with the Montgomery
//! ladder (prime powers are multiplied together into 64-bit scalars first). Stage 2 is the
//! baby-step giant-step continuation in [`stage2`]. The bounds follow GMP-ECM's table of optimal
//! `B1` per factor size (15 digits: 2000, 20: 11 000, 25: 50 000, 30: 250 000, ...), with a `B2`
//! chosen so that stage 2 costs about as much as stage 1.

mod curve;
mod stage2;

use num_bigint::BigUint;

#[cfg(test)]
use self::curve::Point;
use self::curve::suyama;
use crate::Effort;
use crate::factor::primes::Primes;
use crate::ring::{Gcd, Ring};

/// One step of the schedule: the factor size it aims at, the bounds and how many curves find a
/// factor of that size with probability `1 - 1/e` (GMP-ECM's expected curve counts for
/// Suyama's parametrisation and a comparable `B2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Level {
    pub(crate) digits: u32,
    pub(crate) b1: u64,
    pub(crate) b2: u64,
    pub(crate) curves: u32,
}

/// The schedule, from 15-digit factors on.
pub(crate) const LEVELS: [Level; 9] = [
    level(15, 2_000, 25),
    level(20, 11_000, 90),
    level(25, 50_000, 300),
    level(30, 250_000, 700),
    level(35, 1_000_000, 1_800),
    level(40, 3_000_000, 5_100),
    level(45, 11_000_000, 10_600),
    level(50, 43_000_000, 19_300),
    level(55, 110_000_000, 49_000),
];

/// `B2 ≈ 100 B1`, which makes stage 2 cost about as much as stage 1 (see `docs/performance.md`).
const fn level(digits: u32, b1: u64, curves: u32) -> Level {
    Level {
        digits,
        b1,
        b2: b1 * 100,
        curves,
    }
}

/// What stage 1 and stage 2 need for one level, computed once for all its curves.
#[derive(Debug)]
pub(crate) struct Bounds {
    /// The prime powers up to `B1`, multiplied together into 64-bit scalars.
    scalars: Vec<u64>,
    plan: stage2::Plan,
}

impl Bounds {
    pub(crate) fn new(level: Level) -> Self {
        let mut scalars = Vec::new();
        let mut chunk = 1u64;
        for p in Primes::new(2, level.b1 + 1) {
            let mut q = p;
            while q <= level.b1 / p {
                q *= p;
            }
            match chunk.checked_mul(q) {
                Some(c) => chunk = c,
                None => {
                    scalars.push(chunk);
                    chunk = q;
                }
            }
        }
        scalars.push(chunk);
        Bounds {
            scalars,
            plan: stage2::Plan::new(level.b1, level.b2),
        }
    }
}

/// The outcome of one curve.
#[derive(Debug)]
pub(crate) enum CurveOutcome {
    Factor(BigUint),
    Nothing,
    OutOfEffort,
}

/// Run one curve, Suyama's `sigma`, with these bounds.
pub(crate) fn curve<R: Ring>(
    ring: &R,
    bounds: &Bounds,
    sigma: u64,
    effort: &Effort,
) -> CurveOutcome {
    let curve = match suyama(ring, sigma) {
        Ok(c) => c,
        Err(Gcd::Factor(f)) => return CurveOutcome::Factor(f),
        Err(_) => return CurveOutcome::Nothing,
    };
    let mut p = curve.start;
    for &k in &bounds.scalars {
        p = curve::multiply(ring, &curve.a24, &p, k);
        if effort.is_exhausted() {
            return CurveOutcome::OutOfEffort;
        }
    }
    match ring.gcd(&p.z) {
        Gcd::Factor(f) => return CurveOutcome::Factor(f),
        Gcd::Modulus => return CurveOutcome::Nothing,
        Gcd::One => {}
    }
    match stage2::run(ring, &curve.a24, &p, &bounds.plan, effort) {
        stage2::Found::Factor(f) => CurveOutcome::Factor(f),
        stage2::Found::Nothing => CurveOutcome::Nothing,
        stage2::Found::OutOfEffort => CurveOutcome::OutOfEffort,
    }
}

/// Stage 1 alone, for the tests against GMP-ECM: the point `[E] P` for the prime powers up to
/// `b1`.
#[cfg(test)]
pub(crate) fn stage1_point<R: Ring>(ring: &R, b1: u64, sigma: u64) -> Result<Point<R::Elem>, Gcd> {
    let bounds = Bounds::new(level(0, b1, 1));
    let curve = suyama(ring, sigma)?;
    let mut p = curve.start;
    for &k in &bounds.scalars {
        p = curve::multiply(ring, &curve.a24, &p, k);
    }
    Ok(p)
}

/// The `i`-th `sigma` of a run: a fixed pseudo-random sequence (SplitMix64) in `[6, 2^32)`, so a
/// run is reproducible.
pub(crate) fn sigma(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    6 + z % ((1 << 32) - 6)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ring::{RingTask, with_ring};

    struct Curves(Level, u64, u32);
    impl RingTask for Curves {
        type Output = Option<BigUint>;
        fn run<R: Ring>(self, ring: &R) -> Option<BigUint> {
            let bounds = Bounds::new(self.0);
            (0..self.2).find_map(|i| {
                match curve(ring, &bounds, sigma(self.1, i as u64), &Effort::unlimited()) {
                    CurveOutcome::Factor(f) => Some(f),
                    _ => None,
                }
            })
        }
    }

    struct Stage1(u64, u64);
    impl RingTask for Stage1 {
        type Output = bool;
        fn run<R: Ring>(self, ring: &R) -> bool {
            match stage1_point(ring, self.0, self.1) {
                Ok(p) => matches!(ring.gcd(&p.z), Gcd::Factor(_)),
                Err(g) => matches!(g, Gcd::Factor(_)),
            }
        }
    }

    /// GMP-ECM's stage 1 (`ecm -sigma 0:S B1 1`: Suyama's curve for `S`, no stage 2) finds the
    /// factor for exactly the same `sigma`s as ours. Skipped when `ecm` is not installed.
    #[test]
    fn stage_one_agrees_with_gmp_ecm() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let p = BigUint::from(100_000_000_003u64);
        let n = &p * ((BigUint::from(1u8) << 127u32) - 1u8);
        let b1 = 2000;
        let gmp = |sigma: u64| -> Option<bool> {
            let mut child = Command::new("ecm")
                .args(["-q", "-sigma", &format!("0:{sigma}"), &b1.to_string(), "1"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .ok()?;
            child
                .stdin
                .take()?
                .write_all(format!("{n}\n").as_bytes())
                .ok()?;
            let out = child.wait_with_output().ok()?;
            let text = String::from_utf8_lossy(&out.stdout);
            Some(text.split_whitespace().any(|w| w == p.to_string()))
        };
        if gmp(13).is_none() {
            eprintln!("skipped: GMP-ECM (`ecm`) is not installed");
            return;
        }
        let mut agreed_hits = 0;
        for sigma in 6..70 {
            let ours = with_ring(&n, Stage1(b1, sigma));
            assert_eq!(Some(ours), gmp(sigma), "sigma = {sigma}");
            agreed_hits += ours as u32;
        }
        assert!(agreed_hits >= 2, "too few hits to compare: {agreed_hits}");
    }

    #[test]
    fn finds_a_12_digit_factor_of_a_big_number() {
        let p = BigUint::from(100_000_000_003u64); // prime
        let m = (BigUint::from(1u8) << 521u32) - 1u8; // M521, prime
        let n = &p * &m;
        let found = with_ring(&n, Curves(level(12, 500, 1), 1, 200));
        assert_eq!(found, Some(p));
    }
}
