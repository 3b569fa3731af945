//! Self-initialising polynomials (W. R. Alford and C. Pomerance, "Implementing the
//! self-initializing quadratic sieve on a distributed network", 1995; S. Contini, "Factoring
//! integers with the self-initializing quadratic sieve", 1997).
//!
//! `A = q_1 ... q_s` is a product of factor-base primes close to `sqrt(2kN) / M`. For each `l`,
//! `B_l = (A / q_l) γ_l` with `γ_l ≡ sqrt(kN) (A / q_l)^{-1} (mod q_l)`, so that every
//! `B = ±B_1 ± ... ± B_s` satisfies `B^2 ≡ kN (mod A)` and
//! `Q(x) = ((A x + B)^2 - kN) / A = A x^2 + 2 B x + C` is an integer polynomial of size about
//! `M sqrt(kN / 2)` on `[-M, M)`. The `2^{s-1}` choices of signs are visited in Gray-code
//! order, so moving to the next `B` changes one term and each sieve root by one precomputed
//! addition.

use std::collections::HashSet;

use num_bigint::{BigInt, BigUint};
use num_traits::ToPrimitive;

use super::base::FbPrime;

/// Roots of a prime of `A`, which are not sieved.
pub(crate) const NOT_SIEVED: u32 = u32::MAX;

/// The current polynomial and its sieve roots.
#[derive(Debug)]
pub(crate) struct Poly {
    pub(crate) a: u128,
    /// Factor-base indices of the primes of `A`.
    pub(crate) a_idx: Vec<usize>,
    pub(crate) b: i128,
    pub(crate) c: i128,
    /// Sieve offsets `i = x + M` of the two roots of `Q` modulo each factor-base prime.
    pub(crate) root1: Vec<u32>,
    pub(crate) root2: Vec<u32>,
    b_terms: Vec<u128>,
    /// `γ_l`, with `B_l = (A / q_l) γ_l`.
    gammas: Vec<u32>,
    /// Whether `B_l` enters `B` with a plus sign.
    plus: Vec<bool>,
    /// `2 B_l A^{-1} mod p`, per term and prime.
    bainv2: Vec<Vec<u32>>,
    /// Index of the current `B` in Gray-code order.
    index: u32,
}

/// `x mod p` for `x < 2p`.
#[inline(always)]
fn reduce_once(x: u32, p: u32) -> u32 {
    if x >= p { x - p } else { x }
}

impl Poly {
    /// The first polynomial with this `A` (all terms `+B_l`).
    pub(crate) fn new(a_idx: Vec<usize>, fb: &[FbPrime], kn: &BigUint, m: u32) -> Self {
        let a: u128 = a_idx.iter().map(|&i| fb[i].p as u128).product();
        let gammas: Vec<u32> = a_idx
            .iter()
            .map(|&i| {
                let f = &fb[i];
                let a_over_q = a / f.p as u128;
                let inv = f.inverse((a_over_q % f.p as u128) as u32);
                let gamma = f.mul(f.sqrt, inv);
                gamma.min(f.p - gamma)
            })
            .collect();
        let b_terms: Vec<u128> = a_idx
            .iter()
            .zip(&gammas)
            .map(|(&i, &g)| a / fb[i].p as u128 * g as u128)
            .collect();
        let b = b_terms.iter().sum::<u128>() as i128;
        let s = a_idx.len();
        let mut poly = Poly {
            a,
            b,
            c: 0,
            root1: vec![NOT_SIEVED; fb.len()],
            root2: vec![NOT_SIEVED; fb.len()],
            bainv2: vec![vec![0; fb.len()]; s],
            plus: vec![true; s],
            b_terms,
            gammas,
            a_idx,
            index: 0,
        };
        poly.c = poly.c_of(kn);
        poly.init_roots(fb, m);
        poly
    }

    /// `C = (B^2 - kN) / A`, exact because `B^2 ≡ kN (mod A)`.
    fn c_of(&self, kn: &BigUint) -> i128 {
        let b = BigInt::from(self.b);
        let c = (&b * &b - BigInt::from(kn.clone())) / BigInt::from(self.a);
        debug_assert_eq!(
            &c * BigInt::from(self.a),
            &b * &b - BigInt::from(kn.clone())
        );
        c.to_i128().unwrap_or(0)
    }

    fn init_roots(&mut self, fb: &[FbPrime], m: u32) {
        let qs: Vec<u32> = self.a_idx.iter().map(|&i| fb[i].p).collect();
        let mut qmod = vec![0u32; qs.len()];
        for (i, f) in fb.iter().enumerate().skip(1) {
            if self.a_idx.contains(&i) {
                continue;
            }
            let p = f.p;
            for (r, &q) in qmod.iter_mut().zip(&qs) {
                *r = f.rem(q);
            }
            let a_mod = qmod.iter().fold(1, |acc, &q| f.mul(acc, q));
            let ainv = f.inverse(a_mod);
            // B_l mod p = (A / q_l) gamma_l mod p, A / q_l from prefix and suffix products.
            let k = qs.len();
            let mut suffix = [1u32; 17];
            for j in (0..k).rev() {
                suffix[j] = f.mul(suffix[j + 1], qmod[j]);
            }
            let mut prefix = 1;
            let mut b_mod = 0;
            for (l, &gamma) in self.gammas.iter().enumerate() {
                let others = f.mul(f.mul(prefix, suffix[l + 1]), f.rem(gamma));
                prefix = f.mul(prefix, qmod[l]);
                b_mod = reduce_once(b_mod + others, p);
                self.bainv2[l][i] = f.mul(reduce_once(2 * others, p), ainv);
            }
            let t = f.sqrt;
            let shift = f.rem(m);
            let r1 = f.mul(ainv, reduce_once(t + p - b_mod, p));
            let r2 = f.mul(ainv, reduce_once(2 * p - t - b_mod, p));
            self.root1[i] = reduce_once(r1 + shift, p);
            self.root2[i] = reduce_once(r2 + shift, p);
        }
    }

    /// Number of polynomials with this `A`.
    pub(crate) fn count(&self) -> u32 {
        1 << (self.a_idx.len() - 1)
    }

    /// Move to the next `B` in Gray-code order; `false` when all have been used.
    pub(crate) fn next_b(&mut self, fb: &[FbPrime], kn: &BigUint) -> bool {
        self.index += 1;
        if self.index >= self.count() {
            return false;
        }
        let v = self.index.trailing_zeros() as usize;
        let delta = 2 * self.b_terms[v] as i128;
        let was_plus = self.plus[v];
        self.plus[v] = !was_plus;
        self.b += if was_plus { -delta } else { delta };
        // root = A^{-1} (±t - B): B falls by 2 B_v -> roots rise by 2 B_v A^{-1}, and back.
        let table = &self.bainv2[v];
        for (i, f) in fb.iter().enumerate().skip(1) {
            let r1 = self.root1[i];
            if r1 == NOT_SIEVED {
                continue;
            }
            let p = f.p;
            let d = if was_plus { table[i] } else { p - table[i] };
            let add = |r: u32| {
                let s = r + d;
                if s >= p { s - p } else { s }
            };
            self.root1[i] = add(r1);
            self.root2[i] = add(self.root2[i]);
        }
        self.c = self.c_of(kn);
        true
    }

    /// `Q(x) = A x^2 + 2 B x + C` (fits an `i128` for `kN < 2^200`).
    #[inline]
    pub(crate) fn value(&self, x: i64) -> i128 {
        let x = x as i128;
        (self.a as i128 * x + 2 * self.b) * x + self.c
    }

    /// `A x + B`, whose square is `A Q(x)` modulo `kN`.
    pub(crate) fn y(&self, x: i64) -> i128 {
        self.a as i128 * x as i128 + self.b
    }
}

/// Chooses the `A`s: products of `s` factor-base primes whose product is close to the target,
/// never the same set twice.
#[derive(Debug)]
pub(crate) struct ASelector {
    s: usize,
    /// Candidate factor-base indices for the first `s - 1` primes.
    pool: Vec<usize>,
    /// Every usable index (odd, not dividing `k`), for the last prime.
    all: Vec<usize>,
    target_log2: f64,
    /// `log2 p` per factor-base index.
    logs: Vec<f64>,
    used: HashSet<Vec<usize>>,
    state: u64,
}

impl ASelector {
    /// For `A ≈ sqrt(2 kN) / M`.
    pub(crate) fn new(fb: &[FbPrime], kn: &BigUint, m: u32) -> Self {
        let target_log2 = (kn.bits() as f64 + 1.0) / 2.0 - (m as f64).log2();
        let all: Vec<usize> = (1..fb.len()).filter(|&i| fb[i].sqrt != 0).collect();
        let q_max = fb[fb.len() * 3 / 4].p as f64;
        let s = ((target_log2 / q_max.log2()).ceil() as usize).max(1);
        let q_avg = 2f64.powf(target_log2 / s as f64);
        let mut pool: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| (fb[i].p as f64) > q_avg / 2.0 && (fb[i].p as f64) < q_avg * 2.0)
            .collect();
        if pool.len() < 2 * s + 4 {
            pool = all[all.len() / 3..].to_vec();
        }
        ASelector {
            s,
            pool,
            all,
            target_log2,
            logs: fb.iter().map(|f| (f.p as f64).log2()).collect(),
            used: HashSet::new(),
            state: kn.iter_u64_digits().next().unwrap_or(1) | 1,
        }
    }

    fn random(&mut self, below: usize) -> usize {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        (self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % below.max(1)
    }

    /// The factor-base indices of a new `A`, or `None` after many tries found only used ones.
    pub(crate) fn next(&mut self) -> Option<Vec<usize>> {
        for _ in 0..1000 {
            let mut idx: Vec<usize> = Vec::with_capacity(self.s);
            let mut log = 0.0;
            while idx.len() + 1 < self.s {
                let pick = self.random(self.pool.len());
                let i = self.pool[pick];
                if !idx.contains(&i) {
                    idx.push(i);
                    log += self.logs[i];
                }
            }
            let want = self.target_log2 - log;
            let last = self
                .all
                .iter()
                .copied()
                .filter(|i| !idx.contains(i))
                .min_by(|&x, &y| {
                    let dx = (self.logs[x] - want).abs();
                    let dy = (self.logs[y] - want).abs();
                    dx.total_cmp(&dy)
                })?;
            idx.push(last);
            idx.sort_unstable();
            if self.used.insert(idx.clone()) {
                return Some(idx);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::factor::siqs::base::factor_base;

    #[test]
    fn every_b_gives_an_exact_polynomial_with_its_roots() {
        let n: BigUint = "340282366920938463463374607431768211297".parse().unwrap(); // prime
        let kn = &n * 3u8;
        let fb = factor_base(&kn, 3, 200);
        let m = 32_768u32;
        let mut sel = ASelector::new(&fb, &kn, m);
        let idx = sel.next().unwrap();
        let mut poly = Poly::new(idx, &fb, &kn, m);
        let mut seen = 0;
        loop {
            let b = BigInt::from(poly.b);
            let a = BigInt::from(poly.a);
            assert_eq!((&b * &b - BigInt::from(kn.clone())) % &a, BigInt::ZERO);
            for (i, f) in fb.iter().enumerate().skip(1) {
                if poly.root1[i] == NOT_SIEVED {
                    continue;
                }
                for r in [poly.root1[i], poly.root2[i]] {
                    let x = r as i64 - m as i64;
                    assert_eq!(poly.value(x).rem_euclid(f.p as i128), 0, "p={} r={r}", f.p);
                }
            }
            seen += 1;
            if !poly.next_b(&fb, &kn) {
                break;
            }
        }
        assert_eq!(seen, poly.count());
        assert!(seen >= 2);
    }
}
