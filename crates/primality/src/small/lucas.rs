//! The search for Selfridge's parameters that the multi-limb tests (`crate::lucas`,
//! `crate::bpsw_fixed`) share, and the strong Lucas test on a `u64`, the second half of the
//! Baillie-PSW reference that the tests compare the exact 64-bit path with.

use super::arith::{gcd_u64, jacobi_small};
#[cfg(test)]
use super::arith::{inv_mod_small, mod_small};
#[cfg(test)]
use super::mont64::{Mont64, inv_u64};

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

/// `y / q mod n` for odd `n`, small `q > 0` coprime to `n`, `y < n`: `(y + n*t) / q` with
/// `t = -y * n^{-1} mod q`.
#[cfg(test)]
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
#[cfg(test)]
pub(crate) fn strong_lucas(mont: &Mont64) -> LucasOutcome {
    let p = match chain_parameter(mont) {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    let two = mont.add(mont.one, mont.one);
    // n is odd and < 2^64, so n + 1 may be exactly 2^64 only if n = 2^64 - 1 = 3 * ...,
    // which trial division removes.
    let np1 = mont.n.wrapping_add(1);
    debug_assert!(np1 != 0);
    let s = np1.trailing_zeros();
    let m = ((np1 >> s) - 1) / 2;
    let (a, b) = v_chain(mont, p, two, m);
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

/// Selfridge's `D`, `Q = (1 - D) / 4`, and the chain's parameter `P' = Q^{-1} - 2` in
/// Montgomery form; `Err` when the search meets a factor of `n` (or `Q ≡ 0`, which only the
/// trial primes can cause).
#[cfg(test)]
#[inline(always)]
fn chain_parameter(mont: &Mont64) -> Result<u64, LucasOutcome> {
    let n = mont.n;
    let d = selfridge_d(n % 8, |m| mod_small(n, m), Some(n)).map_err(LucasOutcome::Factor)?;
    let q = (1 - d) / 4;
    let qa = q.unsigned_abs();
    let g = gcd_u64(qa, mod_small(n, qa.max(1)));
    if qa > 1 && g > 1 {
        return Err(if g < n {
            LucasOutcome::Factor(g)
        } else {
            LucasOutcome::Probable
        });
    }
    // Q^{-1} * R = one / Q.
    let inv_abs = div_small_mod(mont.one, qa, n);
    let qinv = if q < 0 { mont.sub(0, inv_abs) } else { inv_abs };
    Ok(mont.sub(qinv, mont.add(mont.one, mont.one)))
}

/// `(V'_m, V'_{m+1})` by the ladder over the bits of `m`, from `(V'_0, V'_1) = (2, P')`.
#[cfg(test)]
#[inline(always)]
fn v_chain(mont: &Mont64, p: u64, two: u64, m: u64) -> (u64, u64) {
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
    (a, b)
}
