//! Sizes of the sieve by the size of the number, and Knuth-Schroeppel's multiplier.

use num_bigint::BigUint;

use crate::factor::primes::Primes;
use crate::trial::mod_small_limbs;

/// Bytes per sieve block (the size of the level-1 data cache).
pub(crate) const BLOCK: usize = 32 * 1024;

/// The sieve's parameters for one number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Params {
    /// Primes in the factor base (including 2).
    pub(crate) fb_size: usize,
    /// Half the sieve interval `[-M, M)`, a multiple of 64.
    pub(crate) m: u32,
    /// A leftover cofactor below `lp_mult * (largest factor-base prime)` is kept as a large
    /// prime.
    pub(crate) lp_mult: u64,
    /// Bits subtracted from the expected size of `Q(x)/A` for the sieve threshold.
    pub(crate) slack: f64,
}

/// `(bits of kN, factor-base size, M, large-prime multiplier, threshold slack)`,
/// interpolated in between: set by timing the sieve on random semiprimes of each size (see
/// `docs/performance.md`).
const TABLE: [(u32, usize, u32, u64, f64); 8] = [
    (64, 80, 16_384, 30, 18.0),
    (90, 110, 16_384, 30, 22.0),
    (103, 180, 16_384, 35, 24.0),
    (131, 380, 16_384, 40, 31.0),
    (153, 800, 32_768, 50, 32.0),
    (173, 1400, 32_768, 60, 34.0),
    (193, 2600, 32_768, 70, 34.0),
    (205, 3200, 65_536, 80, 35.0),
];

impl Params {
    pub(crate) fn for_bits(bits: u32) -> Params {
        let first = TABLE[0];
        if bits <= first.0 {
            return Params::from_row(first);
        }
        for w in TABLE.windows(2) {
            let (lo, hi) = (w[0], w[1]);
            if bits <= hi.0 {
                let t = (bits - lo.0) as f64 / (hi.0 - lo.0) as f64;
                let mix = |a: f64, b: f64| a + t * (b - a);
                return Params {
                    fb_size: mix(lo.1 as f64, hi.1 as f64) as usize,
                    m: if t < 0.5 { lo.2 } else { hi.2 },
                    lp_mult: mix(lo.3 as f64, hi.3 as f64) as u64,
                    slack: mix(lo.4, hi.4),
                };
            }
        }
        Params::from_row(TABLE[TABLE.len() - 1])
    }

    fn from_row(row: (u32, usize, u32, u64, f64)) -> Params {
        Params {
            fb_size: row.1,
            m: row.2,
            lp_mult: row.3,
            slack: row.4,
        }
    }
}

/// Squarefree multipliers tried by Knuth-Schroeppel.
const MULTIPLIERS: [u64; 33] = [
    1, 2, 3, 5, 6, 7, 10, 11, 13, 14, 15, 17, 19, 21, 22, 23, 26, 29, 30, 31, 33, 34, 35, 37, 38,
    39, 41, 42, 43, 46, 47, 51, 53,
];

/// The multiplier `k` that makes `kN` richest in small quadratic residues (D. E. Knuth,
/// *The Art of Computer Programming* vol. 2, 4.5.4; R. D. Silverman, "The multiple polynomial
/// quadratic sieve", Math. Comp. 48 (1987)): it maximises
/// `sum_p g(p, kN) log p - (log k) / 2` over the primes below 1000.
pub(crate) fn multiplier(n: &BigUint) -> u64 {
    let limbs: Vec<u64> = n.iter_u64_digits().collect();
    let n_mod_8 = limbs.first().copied().unwrap_or(0) % 8;
    let small: Vec<(u64, u64)> = Primes::new(3, 1000)
        .map(|p| (p, mod_small_limbs(&limbs, p)))
        .collect();
    let score = |k: u64| {
        let kn8 = (k % 8) * n_mod_8 % 8;
        let mut s = -0.5 * (k as f64).ln();
        s += match kn8 {
            1 => 2.0 * 2f64.ln(),
            5 => 2f64.ln(),
            3 | 7 => 0.5 * 2f64.ln(),
            _ => 0.0,
        };
        for &(p, np) in &small {
            let lp = (p as f64).ln();
            if k.is_multiple_of(p) {
                s += lp / p as f64;
            } else if legendre((k % p) * np % p, p) == 1 {
                s += 2.0 * lp / (p - 1) as f64;
            }
        }
        s
    };
    MULTIPLIERS
        .iter()
        .copied()
        .max_by(|&a, &b| score(a).total_cmp(&score(b)))
        .unwrap_or(1)
}

/// Legendre symbol `(a / p)` for an odd prime `p < 2^32` by Euler's criterion.
pub(crate) fn legendre(a: u64, p: u64) -> i32 {
    match pow_mod(a % p, (p - 1) / 2, p) {
        0 => 0,
        1 => 1,
        _ => -1,
    }
}

/// `a^e mod m` for `m < 2^32`.
pub(crate) fn pow_mod(mut a: u64, mut e: u64, m: u64) -> u64 {
    let mut r = 1 % m;
    a %= m;
    while e > 0 {
        if e & 1 == 1 {
            r = r * a % m;
        }
        a = a * a % m;
        e >>= 1;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_between_rows() {
        let p = Params::for_bits(117);
        assert!(p.fb_size > 180 && p.fb_size < 380);
        assert_eq!(Params::for_bits(10), Params::for_bits(64));
        assert_eq!(Params::for_bits(400), Params::for_bits(205));
    }

    #[test]
    fn euler_criterion() {
        for p in [3u64, 7, 11, 1_000_003] {
            for a in 1..50u64 {
                let squares = (1..p.min(5000)).any(|x| x * x % p == a % p);
                if p < 5000 {
                    assert_eq!(legendre(a, p) == 1, squares, "({a}/{p})");
                }
            }
        }
        assert_eq!(legendre(0, 7), 0);
    }
}
