//! Independent reference implementations for the tests: nothing here uses the crate under test.
#![allow(dead_code)]

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, ToPrimitive, Zero};
use primality::{Evidence, Verdict};

/// Sieve of Eratosthenes: `is_prime[n]` for `n < limit`.
pub fn sieve(limit: usize) -> Vec<bool> {
    let mut is = vec![true; limit];
    for x in is.iter_mut().take(2) {
        *x = false;
    }
    let mut i = 2;
    while i * i < limit {
        if is[i] {
            for j in (i * i..limit).step_by(i) {
                is[j] = false;
            }
        }
        i += 1;
    }
    is
}

/// Primality by trial division (for small n).
pub fn trial_is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2u64;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}

pub fn mulmod(a: u64, b: u64, n: u64) -> u64 {
    (a as u128 * b as u128 % n as u128) as u64
}

pub fn powmod(mut b: u64, mut e: u64, n: u64) -> u64 {
    let mut r = 1 % n;
    b %= n;
    while e > 0 {
        if e & 1 == 1 {
            r = mulmod(r, b, n);
        }
        b = mulmod(b, b, n);
        e >>= 1;
    }
    r
}

/// Strong probable-prime test to base `a` for odd `n > 2`, plain `u128` arithmetic.
pub fn sprp_u64(n: u64, a: u64) -> bool {
    let s = (n - 1).trailing_zeros();
    let d = (n - 1) >> s;
    let mut x = powmod(a, d, n);
    if x == 1 || x == n - 1 || a.is_multiple_of(n) {
        return true;
    }
    for _ in 1..s {
        x = mulmod(x, x, n);
        if x == n - 1 {
            return true;
        }
    }
    false
}

/// Strong probable-prime test to base `a` for odd `n > 3` with num-bigint's `modpow`.
pub fn sprp_big(n: &BigUint, a: &BigUint) -> bool {
    let one = BigUint::one();
    let nm1 = n - &one;
    let s = nm1.trailing_zeros().unwrap_or(0);
    let d = &nm1 >> s;
    let mut x = a.modpow(&d, n);
    if x == one || x == nm1 || (a % n).is_zero() {
        return true;
    }
    for _ in 1..s {
        x = &x * &x % n;
        if x == nm1 {
            return true;
        }
    }
    false
}

pub const FIRST_PRIMES: [u32; 25] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
];

/// Miller-Rabin with the first `k` prime bases, after trial division by them. With `k >= 13`
/// this is exact below 3317044064679887385961981 (OEIS A014233), so in particular for every u64.
pub fn ref_is_prime(n: &BigUint, k: usize) -> bool {
    if n < &BigUint::from(2u8) {
        return false;
    }
    for &p in &FIRST_PRIMES[..k] {
        if (n % p).is_zero() {
            return n == &BigUint::from(p);
        }
    }
    FIRST_PRIMES[..k]
        .iter()
        .all(|&p| sprp_big(n, &BigUint::from(p)))
}

/// Exact primality for u64 with 12 prime bases (A014233(12) = 318665857834031151167461 > 2^64).
pub fn ref_is_prime_u64(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    for &p in &FIRST_PRIMES[..12] {
        if n.is_multiple_of(p as u64) {
            return n == p as u64;
        }
    }
    FIRST_PRIMES[..12].iter().all(|&p| sprp_u64(n, p as u64))
}

/// Jacobi symbol (a/n), n odd positive.
pub fn jacobi(a: i64, n: u64) -> i32 {
    let mut a = a.rem_euclid(n as i64) as u64;
    let mut n = n;
    let mut t = 1;
    while a != 0 {
        while a.is_multiple_of(2) {
            a /= 2;
            if n % 8 == 3 || n % 8 == 5 {
                t = -t;
            }
        }
        std::mem::swap(&mut a, &mut n);
        if a % 4 == 3 && n % 4 == 3 {
            t = -t;
        }
        a %= n;
    }
    if n == 1 { t } else { 0 }
}

/// The textbook strong Lucas test (Baillie-Wagstaff, Selfridge method A, P = 1) for odd
/// `n > 1` that is not a square, with `U`, `V`, `Q^k` tracked as in FIPS 186-4 C.3.3, on u128.
/// Returns `None` if the search for `D` meets a `D` with `1 < gcd(D, n) < n`.
pub fn strong_lucas_u64(n: u64) -> Option<bool> {
    let mut d: i64 = 5;
    loop {
        let j = jacobi(d, n);
        if j == -1 {
            break;
        }
        if j == 0 && !d.unsigned_abs().is_multiple_of(n) {
            return None;
        }
        d = if d > 0 { -(d + 2) } else { -d + 2 };
    }
    let q = (1 - d) / 4;
    let m = n as i128;
    let md = |x: i128| x.rem_euclid(m);
    let half = |x: i128| {
        let x = md(x);
        if x % 2 == 0 { x / 2 } else { (x + m) / 2 }
    };
    let k = n + 1;
    let s = k.trailing_zeros();
    let dd = k >> s;
    let (dm, qm) = (md(d as i128), md(q as i128));
    let mul = |a: i128, b: i128| (a as u128 * b as u128 % m as u128) as i128;
    // U_1 = 1, V_1 = P = 1, Q^1.
    let (mut u, mut v, mut qk) = (1i128, 1i128, qm);
    let bits = 64 - dd.leading_zeros();
    for i in (0..bits - 1).rev() {
        // Doubling.
        u = mul(u, v);
        v = md(mul(v, v) - 2 * qk);
        qk = mul(qk, qk);
        if (dd >> i) & 1 == 1 {
            let (u2, v2) = (half(u + v), half(mul(dm, u) + v));
            u = u2;
            v = v2;
            qk = mul(qk, qm);
        }
    }
    if u == 0 || v == 0 {
        return Some(true);
    }
    for _ in 1..s {
        v = md(mul(v, v) - 2 * qk);
        qk = mul(qk, qk);
        if v == 0 {
            return Some(true);
        }
    }
    Some(false)
}

/// Checks that a composite verdict's evidence is right, independently of the crate.
pub fn assert_evidence(n: &BigUint, v: &Verdict) {
    match v {
        Verdict::Composite(Evidence::Factor(f)) => {
            assert!(
                f > &BigUint::one() && f < n,
                "factor {f} of {n} out of range"
            );
            assert!(n.is_multiple_of(f), "{f} does not divide {n}");
        }
        Verdict::Composite(Evidence::Witness(a)) => {
            assert!(
                a > &BigUint::one() && a < &(n - 1u8),
                "witness {a} of {n} out of range"
            );
            assert!(
                n.is_odd() && !sprp_big(n, a),
                "{a} is not a witness for {n}"
            );
        }
        Verdict::Prime => assert!(n.to_u64().is_some(), "Prime only below 2^64: {n}"),
        Verdict::ProbablePrime => {
            assert!(n.to_u64().is_none(), "ProbablePrime only above 2^64: {n}")
        }
        Verdict::Neither => assert!(n < &BigUint::from(2u8)),
    }
}
