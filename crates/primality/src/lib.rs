//! Exact and fast primality tests with evidence.
//!
//! PROVISIONAL IMPLEMENTATION: the public API below is fixed; the internals are a simple,
//! correct placeholder to be replaced by the Montgomery / Baillie-PSW implementation.

use num_bigint::{BigInt, BigUint, Sign};
use num_traits::{One, ToPrimitive, Zero};
use rand::Rng;

/// What a composite number's verdict carries so a sceptic can check it independently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// A nontrivial factor `f` (1 < f < n) with `n % f == 0`.
    Factor(BigUint),
    /// A base `a` (1 < a < n-1) for which `n` fails the strong (Miller-Rabin) test.
    Witness(BigUint),
}

/// The answer of [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Proven prime (n < 2^64, deterministic test).
    Prime,
    /// Passed Baillie-PSW (n ≥ 2^64): no counterexample is known.
    ProbablePrime,
    /// Composite, with evidence.
    Composite(Evidence),
    /// 0, 1 and negative numbers: neither prime nor composite.
    Neither,
}

impl Verdict {
    /// `true` for [`Verdict::Prime`] and [`Verdict::ProbablePrime`].
    pub fn is_prime(&self) -> bool {
        matches!(self, Verdict::Prime | Verdict::ProbablePrime)
    }
}

/// Deterministic primality test for every `u64`.
pub fn is_prime_u64(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    for p in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        if n % p == 0 {
            return n == p;
        }
    }
    let d0 = n - 1;
    let s = d0.trailing_zeros();
    let d = d0 >> s;
    let mulmod = |a: u64, b: u64| ((a as u128 * b as u128) % n as u128) as u64;
    let powmod = |mut b: u64, mut e: u64| {
        let mut r = 1u64;
        while e > 0 {
            if e & 1 == 1 {
                r = mulmod(r, b);
            }
            b = mulmod(b, b);
            e >>= 1;
        }
        r
    };
    'outer: for a in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        let mut x = powmod(a % n, d);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mulmod(x, x);
            if x == n - 1 {
                continue 'outer;
            }
        }
        return false;
    }
    true
}

/// Primality of an arbitrary-size unsigned integer.
pub fn is_prime(n: &BigUint) -> bool {
    check(n).is_prime()
}

/// Primality of a signed integer; every n < 2 is not prime.
pub fn is_prime_signed(n: &BigInt) -> bool {
    check_signed(n).is_prime()
}

/// The tutorial's Miller-Rabin test: `rounds` random bases in [2, n-2].
pub fn miller_rabin<R: Rng + ?Sized>(n: &BigUint, rounds: usize, rng: &mut R) -> bool {
    let _ = (n, rounds, rng);
    unimplemented!("provisional")
}

/// The verdict for `n`, with evidence for composites.
pub fn check(n: &BigUint) -> Verdict {
    if n < &BigUint::from(2u8) {
        return Verdict::Neither;
    }
    if let Some(small) = n.to_u64() {
        if is_prime_u64(small) {
            return Verdict::Prime;
        }
    }
    for p in [2u32, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47] {
        if (n % p).is_zero() && n != &BigUint::from(p) {
            return Verdict::Composite(Evidence::Factor(BigUint::from(p)));
        }
    }
    let one = BigUint::one();
    let n1 = n - &one;
    let s = n1.trailing_zeros().unwrap_or(0);
    let d = &n1 >> s;
    'outer: for a in 2u32..60 {
        let a = BigUint::from(a);
        let mut x = a.modpow(&d, n);
        if x == one || x == n1 {
            continue;
        }
        for _ in 1..s {
            x = &x * &x % n;
            if x == n1 {
                continue 'outer;
            }
        }
        return Verdict::Composite(Evidence::Witness(a));
    }
    if n.bits() <= 64 { Verdict::Prime } else { Verdict::ProbablePrime }
}

/// [`check`] for signed input: negative numbers, 0 and 1 are [`Verdict::Neither`].
pub fn check_signed(n: &BigInt) -> Verdict {
    match n.sign() {
        Sign::Minus | Sign::NoSign => Verdict::Neither,
        Sign::Plus => check(n.magnitude()),
    }
}
