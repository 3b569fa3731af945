//! Trial division by small primes, without a single hardware division in the hot loops.
//!
//! * For a `u64`, `p | n` is tested as `n * p^{-1} mod 2^64 <= (2^64 - 1) / p` (Granlund and
//!   Montgomery, "Division by invariant integers using multiplication", 1994, section 9).
//! * For a multi-limb `n`, the odd primes are grouped into products `m < 2^63`; one pass over the
//!   limbs computes `c ≡ n · 2^{-64k} (mod m)` by word-wise Montgomery reduction (as GMP's
//!   `mpn_modexact_1_odd`), and since 2 is a unit modulo `m`, `p | n ⇔ p | c` for every `p | m`.
//!   Four groups are reduced in the same pass so the multiplications overlap.

use std::sync::LazyLock;

use crate::small::inv_u64;

/// The `u64` path trial-divides by every odd prime below this bound: 3 to 727, the 128 odd primes
/// machine-prime's `is_prime` divides by, so that the numbers reaching the table of second bases
/// (`small::hashed_base`) are among those for which its author verified the table.
const U64_TRIAL_BOUND: usize = 728;

/// Number of odd primes below [`U64_TRIAL_BOUND`].
const U64_TRIAL_COUNT: usize = count_odd_primes_below(U64_TRIAL_BOUND);

const fn is_prime_const(n: usize) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}

const fn count_odd_primes_below(bound: usize) -> usize {
    let mut count = 0;
    let mut n = 3;
    while n < bound {
        if is_prime_const(n) {
            count += 1;
        }
        n += 2;
    }
    count
}

/// The square of the first prime above the `u64` trial primes: an odd `n` below it with no
/// trial-prime factor is prime.
pub(crate) const U64_TRIAL_LIMIT_SQUARED: u64 = {
    let mut p = U64_TRIAL_BOUND;
    while !is_prime_const(p) {
        p += 1;
    }
    (p * p) as u64
};

/// A prime `p` with `p^{-1} mod 2^64` and `(2^64 - 1) / p`, for division-free divisibility tests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Divisor {
    pub(crate) p: u64,
    inv: u64,
    limit: u64,
}

impl Divisor {
    pub(crate) const fn new(p: u64) -> Self {
        Divisor {
            p,
            inv: inv_u64(p),
            limit: u64::MAX / p,
        }
    }

    /// `p | x`.
    #[inline(always)]
    pub(crate) fn divides(&self, x: u64) -> bool {
        x.wrapping_mul(self.inv) <= self.limit
    }

    /// `x / p` for a multiple `x` of `p` (exact division is a multiplication by the inverse).
    #[inline(always)]
    pub(crate) fn divide_exact(&self, x: u64) -> u64 {
        x.wrapping_mul(self.inv)
    }
}

static U64_DIVISORS: [Divisor; U64_TRIAL_COUNT] = {
    let mut out = [Divisor {
        p: 0,
        inv: 0,
        limit: 0,
    }; U64_TRIAL_COUNT];
    let mut i = 0;
    let mut n = 3;
    while n < U64_TRIAL_BOUND {
        if is_prime_const(n) {
            out[i] = Divisor::new(n as u64);
            i += 1;
        }
        n += 2;
    }
    out
};

/// The smallest odd prime below [`U64_TRIAL_BOUND`] dividing `n`, if any (may be `n` itself).
#[inline]
pub(crate) fn small_odd_factor_u64(n: u64) -> Option<u64> {
    U64_DIVISORS.iter().find(|d| d.divides(n)).map(|d| d.p)
}

/// The odd primes below [`U64_TRIAL_BOUND`], ascending, for the factorisation of a `u64`.
pub(crate) fn u64_divisors() -> &'static [Divisor] {
    &U64_DIVISORS
}

/// The largest prime used by multi-limb trial division.
pub(crate) const BIG_TRIAL_BOUND: u64 = 1 << 16;

/// A product `m < 2^63` of consecutive odd primes, with `-m^{-1} mod 2^64`.
#[derive(Debug)]
struct Group {
    m: u64,
    neg_inv: u64,
    primes: Vec<Divisor>,
}

static GROUPS: LazyLock<Vec<Group>> = LazyLock::new(|| {
    let bound = BIG_TRIAL_BOUND as usize;
    let mut composite = vec![false; bound + 1];
    let mut groups = Vec::new();
    let mut current = Group {
        m: 1,
        neg_inv: 0,
        primes: Vec::new(),
    };
    for i in 2..=bound {
        if composite[i] {
            continue;
        }
        for j in (i * i..=bound).step_by(i) {
            composite[j] = true;
        }
        if i == 2 {
            continue;
        }
        let p = i as u64;
        match current.m.checked_mul(p) {
            Some(m) if m < 1 << 63 => current.m = m,
            _ => {
                groups.push(current);
                current = Group {
                    m: p,
                    neg_inv: 0,
                    primes: Vec::new(),
                };
            }
        }
        current.primes.push(Divisor::new(p));
    }
    groups.push(current);
    for g in &mut groups {
        g.neg_inv = inv_u64(g.m).wrapping_neg();
    }
    groups
});

/// How far to trial-divide an `n` of `bits` bits: the cost of a group grows with the number of
/// limbs, the saving with the cost of the exponentiations it may avoid (cubic in the size).
fn prime_bound_for(bits: u64) -> u64 {
    (bits * bits / 64).clamp(1 << 10, BIG_TRIAL_BOUND)
}

#[inline(always)]
fn reduce_step(c: u64, limb: u64, m: u64, neg_inv: u64) -> u64 {
    let t = c as u128 + limb as u128;
    let q = (t as u64).wrapping_mul(neg_inv);
    ((t + q as u128 * m as u128) >> 64) as u64
}

/// The smallest odd prime `p ≤` the trial bound for this size dividing the number with these
/// little-endian limbs, if any. The caller handles 2 and ensures `n` exceeds every trial prime.
pub(crate) fn small_odd_factor_limbs(limbs: &[u64]) -> Option<u64> {
    let bits = limbs.len() as u64 * 64;
    let bound = prime_bound_for(bits);
    let groups = &GROUPS[..];
    let mut i = 0;
    while i < groups.len() {
        let chunk = &groups[i..(i + 4).min(groups.len())];
        if chunk[0].primes[0].p > bound {
            break;
        }
        let mut c = [0u64; 4];
        if let [g0, g1, g2, g3] = chunk {
            for &l in limbs {
                c[0] = reduce_step(c[0], l, g0.m, g0.neg_inv);
                c[1] = reduce_step(c[1], l, g1.m, g1.neg_inv);
                c[2] = reduce_step(c[2], l, g2.m, g2.neg_inv);
                c[3] = reduce_step(c[3], l, g3.m, g3.neg_inv);
            }
        } else {
            for (g, cg) in chunk.iter().zip(c.iter_mut()) {
                for &l in limbs {
                    *cg = reduce_step(*cg, l, g.m, g.neg_inv);
                }
            }
        }
        for (g, &cg) in chunk.iter().zip(c.iter()) {
            if let Some(d) = g.primes.iter().find(|d| d.divides(cg)) {
                return Some(d.p);
            }
        }
        i += 4;
    }
    None
}

/// Every odd prime `p <= bound` (at most [`BIG_TRIAL_BOUND`]) dividing the number with these
/// little-endian limbs, ascending, each once.
pub(crate) fn odd_prime_divisors_limbs(limbs: &[u64], bound: u64) -> Vec<u64> {
    let mut found = Vec::new();
    for chunk in GROUPS.chunks(4) {
        if chunk[0].primes[0].p > bound {
            break;
        }
        let mut c = [0u64; 4];
        for &l in limbs {
            for (g, cg) in chunk.iter().zip(c.iter_mut()) {
                *cg = reduce_step(*cg, l, g.m, g.neg_inv);
            }
        }
        for (g, &cg) in chunk.iter().zip(c.iter()) {
            let hits = g.primes.iter().filter(|d| d.p <= bound && d.divides(cg));
            found.extend(hits.map(|d| d.p));
        }
    }
    found
}

/// `n mod m` for a small odd `m` (no allocation): used for Jacobi symbols and square filters.
pub(crate) fn mod_small_limbs(limbs: &[u64], m: u64) -> u64 {
    let mut r = 0u128;
    for &l in limbs.iter().rev() {
        r = ((r << 64) | l as u128) % m as u128;
    }
    r as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_cover_all_odd_primes() {
        let mut count = 0;
        let mut prev = 2;
        for g in GROUPS.iter() {
            let mut prod = 1u64;
            for d in &g.primes {
                assert!(d.p > prev);
                prev = d.p;
                prod *= d.p;
                count += 1;
            }
            assert_eq!(prod, g.m);
            assert!(g.m < 1 << 63);
            assert_eq!(g.m.wrapping_mul(g.neg_inv), u64::MAX); // m * (-m^{-1}) = -1
        }
        assert_eq!(count, 6542 - 1); // pi(2^16) = 6542, minus the prime 2
    }

    #[test]
    fn divisor_test_is_exact() {
        for p in [3u64, 5, 7, 127, 65521] {
            let d = Divisor::new(p);
            for x in (0..100_000u64).chain(u64::MAX - 100_000..=u64::MAX) {
                assert_eq!(d.divides(x), x % p == 0, "p={p} x={x}");
            }
        }
    }
}
