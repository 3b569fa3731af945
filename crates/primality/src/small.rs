//! The exact 64-bit path: trial division, then Baillie-PSW in Montgomery form on `u64`/`u128`.
//!
//! Baillie-PSW (a strong base-2 test plus a strong Lucas test with Selfridge's parameters) has
//! no counterexample below 2^64: Feitsma and Galway listed every base-2 Fermat pseudoprime below
//! 2^64, and Gilchrist checked that none of them is a strong Lucas pseudoprime (see R. Baillie,
//! A. Fiori, S. S. Wagstaff Jr., "Strengthening the Baillie-PSW primality test",
//! Math. Comp. 90 (2021), 1931-1955, section 1). The test below is therefore exact for every
//! `u64`. Nothing here allocates.

use crate::trial::{self, U64_TRIAL_LIMIT_SQUARED};

/// Montgomery arithmetic modulo an odd `n > 1`, with `R = 2^64`. Residues are kept in
/// `[0, n)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mont64 {
    n: u64,
    /// `n^{-1} mod 2^64`.
    ninv: u64,
    /// `R mod n`, the Montgomery form of 1.
    one: u64,
}

/// `n^{-1} mod 2^64` for odd `n` (Newton's iteration, each step doubles the correct bits).
pub(crate) const fn inv_u64(n: u64) -> u64 {
    let mut inv = n; // correct to 3 bits: n * n == 1 mod 8 for odd n
    let mut i = 0;
    while i < 5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(n.wrapping_mul(inv)));
        i += 1;
    }
    inv
}

impl Mont64 {
    pub(crate) fn new(n: u64) -> Self {
        debug_assert!(n % 2 == 1 && n > 1);
        let ninv = inv_u64(n);
        // 2^64 mod n: 2^64 - n when n > 2^63 (no division), else (2^64 - n) mod n.
        let one = if n > 1 << 63 {
            n.wrapping_neg()
        } else {
            n.wrapping_neg() % n
        };
        Mont64 { n, ninv, one }
    }

    /// `R^2 mod n`, computed on demand: the hot paths never need it.
    fn r2(&self) -> u64 {
        ((self.one as u128 * self.one as u128) % self.n as u128) as u64
    }

    /// `a * b / R mod n` for `a, b < n`.
    #[inline(always)]
    pub(crate) fn mul(&self, a: u64, b: u64) -> u64 {
        let t = a as u128 * b as u128;
        let lo = t as u64;
        let hi = (t >> 64) as u64;
        // m * n == lo (mod 2^64), so t - m*n is divisible by 2^64 and (t - m*n) / 2^64 is in
        // (-n, n): subtract the high halves and add n back on borrow.
        let m = lo.wrapping_mul(self.ninv);
        let mn_hi = ((m as u128 * self.n as u128) >> 64) as u64;
        let (r, borrow) = hi.overflowing_sub(mn_hi);
        if borrow { r.wrapping_add(self.n) } else { r }
    }

    /// `a * b / R - c mod n` for `a, b, c < n`. The high half of `a b` is below `n` and known
    /// early, so `c` is subtracted from it while `m n` is still being multiplied: only one
    /// correction remains on the critical path.
    #[inline(always)]
    pub(crate) fn mul_sub(&self, a: u64, b: u64, c: u64) -> u64 {
        let t = a as u128 * b as u128;
        let lo = t as u64;
        let hi = (t >> 64) as u64;
        let m = lo.wrapping_mul(self.ninv);
        let hc = self.sub(hi, c);
        let mn_hi = ((m as u128 * self.n as u128) >> 64) as u64;
        self.sub(hc, mn_hi)
    }

    #[inline(always)]
    pub(crate) fn sqr(&self, a: u64) -> u64 {
        self.mul(a, a)
    }

    #[inline(always)]
    pub(crate) fn add(&self, a: u64, b: u64) -> u64 {
        let (s, carry) = a.overflowing_add(b);
        if carry || s >= self.n {
            s.wrapping_sub(self.n)
        } else {
            s
        }
    }

    #[inline(always)]
    pub(crate) fn sub(&self, a: u64, b: u64) -> u64 {
        let (d, borrow) = a.overflowing_sub(b);
        if borrow { d.wrapping_add(self.n) } else { d }
    }

    /// Into Montgomery form (`x` may be any `u64`).
    #[inline(always)]
    pub(crate) fn encode(&self, x: u64) -> u64 {
        self.mul(x % self.n, self.r2())
    }

    /// Out of Montgomery form.
    #[inline(always)]
    #[cfg(test)]
    pub(crate) fn decode(&self, x: u64) -> u64 {
        self.mul(x, 1)
    }

    /// `base^e` in Montgomery form (`base` in Montgomery form), left-to-right binary.
    pub(crate) fn pow(&self, base: u64, e: u64) -> u64 {
        if e == 0 {
            return self.one;
        }
        let mut x = base;
        let top = 63 - e.leading_zeros();
        for i in (0..top).rev() {
            x = self.sqr(x);
            if (e >> i) & 1 == 1 {
                x = self.mul(x, base);
            }
        }
        x
    }
}

/// Strong probable-prime test to base `a` for odd `n > 3` (`a` is reduced mod `n`; a base
/// `≡ 0, ±1 (mod n)` always passes).
pub(crate) fn strong_test(mont: &Mont64, a: u64) -> bool {
    let n = mont.n;
    let nm1 = n - 1;
    let s = nm1.trailing_zeros();
    let d = nm1 >> s;
    let one = mont.one;
    let minus_one = n - one;
    let am = mont.encode(a);
    if am == 0 {
        return true;
    }
    let mut x = mont.pow(am, d);
    if x == one || x == minus_one {
        return true;
    }
    for _ in 1..s {
        x = mont.sqr(x);
        if x == minus_one {
            return true;
        }
        if x == one {
            return false;
        }
    }
    false
}

/// Strong test to base 2, where each multiplication by the base is a modular doubling.
fn strong_test_base2(mont: &Mont64) -> bool {
    let n = mont.n;
    let nm1 = n - 1;
    let s = nm1.trailing_zeros();
    let d = nm1 >> s; // odd, >= 1
    let one = mont.one;
    let minus_one = n - one;
    let two = mont.add(one, one);
    let mut x = two;
    let top = 63 - d.leading_zeros();
    for i in (0..top).rev() {
        x = mont.sqr(x);
        if (d >> i) & 1 == 1 {
            x = mont.add(x, x);
        }
    }
    if x == one || x == minus_one {
        return true;
    }
    for _ in 1..s {
        x = mont.sqr(x);
        if x == minus_one {
            return true;
        }
        if x == one {
            return false;
        }
    }
    false
}

/// `n mod m` for a small `m`: the moduli that the search for `D` and `Q` meets first are
/// constants here, so the compiler replaces the division by a multiplication.
#[inline]
pub(crate) fn mod_small(n: u64, m: u64) -> u64 {
    macro_rules! by_const {
        ($($c:literal)*) => {
            match m {
                $($c => n % $c,)*
                _ => n % m,
            }
        };
    }
    by_const!(2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 19 21 23 25 27 29 31 33 35 37 39 41 43 45 47)
}

/// Jacobi symbol `(a / n)` for odd `n > 0`.
pub(crate) fn jacobi_u64(a: u64, n: u64) -> i32 {
    if n <= u32::MAX as u64 {
        return jacobi_u32((a % n) as u32, n as u32);
    }
    jacobi_generic(a, n)
}

fn jacobi_u32(a: u32, n: u32) -> i32 {
    jacobi_generic(a, n)
}

fn jacobi_generic<T>(mut a: T, mut n: T) -> i32
where
    T: Copy
        + PartialEq
        + From<u8>
        + std::ops::Rem<Output = T>
        + std::ops::ShrAssign<u32>
        + std::ops::RemAssign
        + TrailingZeros,
{
    let zero = T::from(0);
    let (four, eight) = (T::from(4), T::from(8));
    let (one, three, five) = (T::from(1), T::from(3), T::from(5));
    a %= n;
    let mut t = 1i32;
    while a != zero {
        let z = a.tz();
        a >>= z;
        let n8 = n % eight;
        if z % 2 == 1 && (n8 == three || n8 == five) {
            t = -t;
        }
        if a % four == three && n % four == three {
            t = -t;
        }
        std::mem::swap(&mut a, &mut n);
        a %= n;
    }
    if n == one { t } else { 0 }
}

/// `trailing_zeros` for the integer types of [`jacobi_generic`].
trait TrailingZeros {
    fn tz(self) -> u32;
}

impl TrailingZeros for u32 {
    fn tz(self) -> u32 {
        self.trailing_zeros()
    }
}

impl TrailingZeros for u64 {
    fn tz(self) -> u32 {
        self.trailing_zeros()
    }
}

/// Jacobi symbol `(a / n)` for odd `n > 0` (the plain version, kept for the unit tests).
#[cfg(test)]
pub(crate) fn jacobi_u64_plain(mut a: u64, mut n: u64) -> i32 {
    debug_assert!(n % 2 == 1);
    a %= n;
    let mut t = 1i32;
    while a != 0 {
        let z = a.trailing_zeros();
        a >>= z;
        if z % 2 == 1 && (n % 8 == 3 || n % 8 == 5) {
            t = -t;
        }
        if a % 4 == 3 && n % 4 == 3 {
            t = -t;
        }
        std::mem::swap(&mut a, &mut n);
        a %= n;
    }
    if n == 1 { t } else { 0 }
}

/// Jacobi symbol `(d / n)` for a small signed `d` and odd `n`, given `n mod 8` and a function
/// returning `n mod m` for small `m`.
pub(crate) fn jacobi_small(d: i64, n_mod_8: u64, n_mod: impl Fn(u64) -> u64) -> i32 {
    let mut t = 1i32;
    if d < 0 && n_mod_8 % 4 == 3 {
        t = -t; // (-1 / n)
    }
    let mut a = d.unsigned_abs();
    let z = a.trailing_zeros();
    a >>= z;
    if z % 2 == 1 && (n_mod_8 == 3 || n_mod_8 == 5) {
        t = -t; // (2 / n)
    }
    if a == 1 {
        return t;
    }
    // Quadratic reciprocity for odd a: (a / n) = (n / a) * (-1)^((a-1)/2 * (n-1)/2).
    if a % 4 == 3 && n_mod_8 % 4 == 3 {
        t = -t;
    }
    t * jacobi_u64(n_mod(a), a)
}

/// Integer square root of a `u64`.
pub(crate) fn isqrt_u64(n: u64) -> u64 {
    let mut r = (n as f64).sqrt() as u64;
    while r.checked_mul(r).is_none_or(|sq| sq > n) {
        r -= 1;
    }
    while (r + 1).checked_mul(r + 1).is_some_and(|sq| sq <= n) {
        r += 1;
    }
    r
}

/// `true` if `x` can be a square modulo 64 (a quick filter: 12 of 64 residues pass).
#[inline]
pub(crate) fn square_mod_64(x: u64) -> bool {
    const MASK: u64 = {
        let mut m = 0u64;
        let mut i = 0u64;
        while i < 64 {
            m |= 1 << ((i * i) % 64);
            i += 1;
        }
        m
    };
    (MASK >> (x % 64)) & 1 == 1
}

/// Outcome of the strong Lucas test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LucasOutcome {
    /// `n` is a strong Lucas probable prime.
    Probable,
    /// Composite, caught by the Lucas congruences.
    Composite,
    /// Composite with this nontrivial factor (perfect square root or `gcd(D, n)` or `gcd(Q, n)`).
    Factor(u64),
}

/// Selfridge's method A: the first `D` in 5, -7, 9, -11, ... with `(D / n) = -1`.
/// Returns `Err(factor)` when some `D` shares a factor with `n`, `Ok(None)` if `n` is a perfect
/// square (callers check squares first, so this is only a safety net).
pub(crate) fn selfridge_d(
    n_mod_8: u64,
    n_mod: impl Fn(u64) -> u64,
    n_is_small: Option<u64>,
) -> Result<i64, u64> {
    let mut d: i64 = 5;
    loop {
        let j = jacobi_small(d, n_mod_8, &n_mod);
        if j == -1 {
            return Ok(d);
        }
        if j == 0 {
            let ad = d.unsigned_abs();
            let g = gcd_u64(ad, n_mod(ad));
            // g divides n; it is a nontrivial factor unless it equals n itself.
            if n_is_small != Some(g) {
                return Err(g);
            }
        }
        d = if d > 0 { -(d + 2) } else { -d + 2 };
    }
}

pub(crate) fn gcd_u64(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// `y / q mod n` for odd `n`, small `q > 0` coprime to `n`, `y < n`: `(y + n*t) / q` with
/// `t = -y * n^{-1} mod q`.
fn div_small_mod(y: u64, q: u64, n: u64) -> u64 {
    if q == 1 {
        return y;
    }
    let nq = mod_small(n, q);
    // n^{-1} mod q by brute force is fine for tiny q, but use the extended Euclid anyway.
    let ninv = inv_mod_small(nq, q);
    let t = (q - mod_small(y, q) * ninv % q) % q;
    // x = y + n t is a multiple of q and x / q < n: divide exactly, without a 128-bit division,
    // by shifting out the factors of 2 and multiplying by the odd part's inverse mod 2^64.
    let x = y as u128 + n as u128 * t as u128;
    let tz = q.trailing_zeros();
    ((x >> tz) as u64).wrapping_mul(inv_u64(q >> tz))
}

/// Inverse of `a` modulo `m` (`gcd(a, m) = 1`, `m` small).
pub(crate) fn inv_mod_small(a: u64, m: u64) -> u64 {
    debug_assert!(m < 1 << 32);
    let (mut r0, mut r1) = (m as i64, (a % m) as i64);
    let (mut t0, mut t1) = (0i64, 1i64);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    t0.rem_euclid(m as i64) as u64
}

/// Strong Lucas test with Selfridge's parameters for odd `n`, not a perfect square, with no
/// prime factor below the trial-division limit.
///
/// With `P = 1` and `Q = (1 - D) / 4` we run the `V`-only Lucas chain of the sequence with
/// parameters `(P', 1)`, `P' = P^2/Q - 2 = Q^{-1} - 2`, for which `V'_k = V_{2k} Q^{-k}`. With
/// `n + 1 = d 2^s` and `m = (d - 1) / 2`:
/// * `D U_d = Q^{m+1} (V'_{m+1} - V'_m)`, so `U_d ≡ 0  ⇔  V'_m ≡ V'_{m+1}`;
/// * `V_d = Q^{m+1} (V'_{m+1} + V'_m)`, so `V_d ≡ 0  ⇔  V'_m + V'_{m+1} ≡ 0`;
/// * `V_{d 2^r} = Q^{d 2^{r-1}} V'_{d 2^{r-1}}` for `r ≥ 1`.
///
/// These equivalences hold because `D` and `Q` are units mod `n`, so this is exactly the strong
/// Lucas test of Baillie-Wagstaff, at one squaring and one multiplication per bit.
pub(crate) fn strong_lucas(mont: &Mont64) -> LucasOutcome {
    let n = mont.n;
    let d = match selfridge_d(n % 8, |m| mod_small(n, m), Some(n)) {
        Ok(d) => d,
        Err(f) => return LucasOutcome::Factor(f),
    };
    // Q = (1 - D) / 4.
    let q = (1 - d) / 4;
    let qa = q.unsigned_abs();
    let g = gcd_u64(qa, mod_small(n, qa.max(1)));
    if qa > 1 && g > 1 {
        return if g < n {
            LucasOutcome::Factor(g)
        } else {
            LucasOutcome::Probable
        };
    }
    // P' = Q^{-1} - 2 in Montgomery form: Q^{-1} * R = one / Q.
    let inv_abs = div_small_mod(mont.one, qa, n);
    let qinv = if q < 0 { mont.sub(0, inv_abs) } else { inv_abs };
    let two = mont.add(mont.one, mont.one);
    let p = mont.sub(qinv, two);
    let np1 = n.wrapping_add(1);
    // n is odd and < 2^64, so n + 1 may be exactly 2^64 only if n = 2^64 - 1 = 3 * ...,
    // which trial division removes.
    debug_assert!(np1 != 0);
    let s = np1.trailing_zeros();
    let dd = np1 >> s;
    let m = (dd - 1) / 2;
    // Ladder over the bits of m: (a, b) = (V'_k, V'_{k+1}).
    let (mut a, mut b) = (two, p);
    if m != 0 {
        let top = 63 - m.leading_zeros();
        for i in (0..=top).rev() {
            if (m >> i) & 1 == 1 {
                a = mont.mul_sub(a, b, p);
                b = mont.mul_sub(b, b, two);
            } else {
                b = mont.mul_sub(a, b, p);
                a = mont.mul_sub(a, a, two);
            }
        }
    }
    if a == b || mont.add(a, b) == 0 {
        return LucasOutcome::Probable;
    }
    // V'_d = V'_m V'_{m+1} - P'.
    let mut v = mont.mul_sub(a, b, p);
    for _ in 1..s {
        if v == 0 {
            return LucasOutcome::Probable;
        }
        v = mont.mul_sub(v, v, two);
    }
    LucasOutcome::Composite
}

/// The result of the exact 64-bit test, with evidence for composites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum U64Verdict {
    Neither,
    Prime,
    Factor(u64),
    Witness(u64),
}

/// Exact primality of a `u64`, with evidence.
pub(crate) fn check_u64(n: u64) -> U64Verdict {
    if n < 2 {
        return U64Verdict::Neither;
    }
    if n.is_multiple_of(2) {
        return if n == 2 {
            U64Verdict::Prime
        } else {
            U64Verdict::Factor(2)
        };
    }
    if let Some(p) = trial::small_odd_factor_u64(n) {
        return if p == n {
            U64Verdict::Prime
        } else {
            U64Verdict::Factor(p)
        };
    }
    if n < U64_TRIAL_LIMIT_SQUARED {
        return U64Verdict::Prime;
    }
    let mont = Mont64::new(n);
    if !strong_test_base2(&mont) {
        return U64Verdict::Witness(2);
    }
    if square_mod_64(n) {
        let r = isqrt_u64(n);
        if r * r == n {
            return U64Verdict::Factor(r);
        }
    }
    match strong_lucas(&mont) {
        LucasOutcome::Probable => U64Verdict::Prime,
        LucasOutcome::Factor(f) => U64Verdict::Factor(f),
        LucasOutcome::Composite => {
            // A strong base-2 pseudoprime: at least 3/4 of the bases in [1, n-1] are
            // witnesses (Monier-Rabin), so this ends after a few tries.
            let mut a = 3u64;
            loop {
                if !strong_test(&mont, a) {
                    return U64Verdict::Witness(a);
                }
                a += 1;
            }
        }
    }
}

/// Exact primality of a `u64` without evidence (the fast path of [`crate::is_prime_u64`]).
#[inline]
pub(crate) fn is_prime_u64(n: u64) -> bool {
    if n < 64 {
        return (PRIMES_BELOW_64 >> n) & 1 == 1;
    }
    if n.is_multiple_of(2) {
        return false;
    }
    if let Some(p) = trial::small_odd_factor_u64(n) {
        return p == n;
    }
    if n < U64_TRIAL_LIMIT_SQUARED {
        return true;
    }
    let mont = Mont64::new(n);
    if !strong_test_base2(&mont) {
        return false;
    }
    if square_mod_64(n) {
        let r = isqrt_u64(n);
        if r * r == n {
            return false;
        }
    }
    strong_lucas(&mont) == LucasOutcome::Probable
}

/// Bit `p` set for every prime `p < 64`.
const PRIMES_BELOW_64: u64 = (1 << 2)
    | (1 << 3)
    | (1 << 5)
    | (1 << 7)
    | (1 << 11)
    | (1 << 13)
    | (1 << 17)
    | (1 << 19)
    | (1 << 23)
    | (1 << 29)
    | (1 << 31)
    | (1 << 37)
    | (1 << 41)
    | (1 << 43)
    | (1 << 47)
    | (1 << 53)
    | (1 << 59)
    | (1 << 61);

/// Strong test to base `a` for any odd `n > 3` that fits a `u64` (used by the public
/// Miller-Rabin and by tests).
pub(crate) fn strong_test_u64(n: u64, a: u64) -> bool {
    strong_test(&Mont64::new(n), a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mont_matches_u128() {
        for n in [
            3u64,
            5,
            7,
            1_000_003,
            (1 << 61) - 1,
            u64::MAX,
            u64::MAX - 2,
            0x8000_0000_0000_0001,
        ] {
            let m = Mont64::new(n);
            for a in [0u64, 1, 2, n / 2, n - 1, 12345 % n] {
                for b in [0u64, 1, 3, n / 3, n - 1, n - 2] {
                    let want = ((a as u128 * b as u128) % n as u128) as u64;
                    let got = m.decode(m.mul(m.encode(a), m.encode(b)));
                    assert_eq!(got, want, "n={n} a={a} b={b}");
                    let c = (a ^ b) % n;
                    let want = ((want as u128 + n as u128 - c as u128) % n as u128) as u64;
                    let got = m.decode(m.mul_sub(m.encode(a), m.encode(b), m.encode(c)));
                    assert_eq!(got, want, "mul_sub n={n} a={a} b={b} c={c}");
                }
            }
        }
    }

    #[test]
    fn jacobi_small_matches_jacobi_u64() {
        for n in (3u64..2000).step_by(2) {
            for d in [5i64, -7, 9, -11, 13, -15, 17, -19, 21, -23, -1, 2, -2, 8] {
                let direct = jacobi_u64(d.rem_euclid(n as i64) as u64, n);
                assert_eq!(jacobi_small(d, n % 8, |m| n % m), direct, "d={d} n={n}");
            }
        }
    }

    #[test]
    fn jacobi_variants_agree() {
        for n in (1u64..3000).step_by(2) {
            for a in 0..200u64 {
                assert_eq!(jacobi_u64(a, n), jacobi_u64_plain(a, n), "({a}/{n})");
            }
        }
        for n in [(1u64 << 61) - 1, u64::MAX, (1 << 32) + 15] {
            for a in [0u64, 1, 2, 3, 5, 7, 12345, n - 1] {
                assert_eq!(jacobi_u64(a, n), jacobi_u64_plain(a, n), "({a}/{n})");
            }
        }
        for m in 1..100u64 {
            for n in [0u64, 1, 99, 1 << 40, u64::MAX, u64::MAX - 1] {
                assert_eq!(mod_small(n, m), n % m);
            }
        }
    }

    #[test]
    fn isqrt_edges() {
        for n in [
            0u64,
            1,
            2,
            3,
            4,
            15,
            16,
            17,
            u64::MAX,
            (u32::MAX as u64) * (u32::MAX as u64),
            1 << 62,
        ] {
            let r = isqrt_u64(n) as u128;
            assert!(r * r <= n as u128 && (r + 1) * (r + 1) > n as u128, "{n}");
        }
    }
}
