//! The strong Lucas test with Selfridge's parameters on multi-limb numbers.
//!
//! See `crate::small::lucas::strong_lucas` for the derivation: with `P = 1`, `Q = (1 - D)/4` we run
//! the `V`-only Lucas chain of the sequence `(P' = Q^{-1} - 2, 1)`, one squaring and one
//! multiplication per bit, no `Q^k` bookkeeping, and read off the strong Lucas congruences
//! exactly.

use num_bigint::BigUint;

use crate::montgomery::{MontCtx, bit_len, from_limbs, to_limbs};
use crate::small::{LucasOutcome, gcd_u64, inv_mod_small, selfridge_d};
use crate::trial::mod_small_limbs;

/// Quadratic-residue filter before the square root: squares mod 64, 63, 65 and 11 (together
/// they let through about 1 in 100 non-squares).
fn may_be_square(limbs: &[u64]) -> bool {
    if !crate::small::square_mod_64(limbs[0]) {
        return false;
    }
    let r = mod_small_limbs(limbs, 63 * 65 * 11);
    let is_qr = |m: u64| (0..m).any(|x| x * x % m == r % m);
    is_qr(63) && is_qr(65) && is_qr(11)
}

/// If `n` is a perfect square, its square root.
pub(crate) fn square_root(n: &BigUint, limbs: &[u64]) -> Option<BigUint> {
    if !may_be_square(limbs) {
        return None;
    }
    let r = n.sqrt();
    (&r * &r == *n).then_some(r)
}

/// Strong Lucas test for odd `n ≥ 2^64` that is not a perfect square.
pub(crate) fn strong_lucas(ctx: &MontCtx) -> LucasOutcome {
    let limbs = &ctx.n[..];
    let k = ctx.len();
    let d = match selfridge_d(limbs[0] % 8, |m| mod_small_limbs(limbs, m), None) {
        Ok(d) => d,
        Err(f) => return LucasOutcome::Factor(f),
    };
    let q = (1 - d) / 4;
    let qa = q.unsigned_abs();
    if qa > 1 {
        let g = gcd_u64(qa, mod_small_limbs(limbs, qa));
        if g > 1 {
            return LucasOutcome::Factor(g);
        }
    }
    // Montgomery form of Q^{-1}: (R mod n) / |Q| = (one + n t) / |Q|, t = -one n^{-1} mod |Q|.
    let n = from_limbs(limbs);
    let one = from_limbs(&ctx.one);
    let inv_abs = if qa == 1 {
        one
    } else {
        let ninv = inv_mod_small(mod_small_limbs(limbs, qa), qa);
        let y = mod_small_limbs(&ctx.one, qa);
        let t = (qa - y * ninv % qa) % qa;
        (&one + &n * t) / qa
    };
    let mut p = to_limbs(&inv_abs, k);
    if q < 0 && p.iter().any(|&l| l != 0) {
        let mut neg = ctx.n.clone();
        ctx.sub_assign(&mut neg, &p); // n - x, no wrap since x < n
        p = neg;
    }
    let mut two = ctx.one.clone();
    ctx.double_assign(&mut two);
    ctx.sub_assign(&mut p, &two); // P' = Q^{-1} - 2

    // n + 1 = dd 2^s, m = (dd - 1) / 2.
    let np1 = &n + 1u32;
    let s = np1.trailing_zeros().unwrap_or(0);
    let m = (&np1 >> s) >> 1u32;
    let ml = to_limbs(&m, k);
    let bits = bit_len(&ml);

    let mut t = ctx.scratch();
    let mut a = two.clone();
    let mut b = p.clone();
    let mut tmp = vec![0u64; k];
    for i in (0..bits).rev() {
        ctx.mul(&a, &b, &mut t, &mut tmp);
        ctx.sub_assign(&mut tmp, &p);
        if (ml[(i / 64) as usize] >> (i % 64)) & 1 == 1 {
            std::mem::swap(&mut a, &mut tmp);
            ctx.sqr_assign(&mut b, &mut t);
            ctx.sub_assign(&mut b, &two);
        } else {
            std::mem::swap(&mut b, &mut tmp);
            ctx.sqr_assign(&mut a, &mut t);
            ctx.sub_assign(&mut a, &two);
        }
    }
    // U_d ≡ 0  ⇔  V'_m ≡ V'_{m+1};  V_d ≡ 0  ⇔  V'_m + V'_{m+1} ≡ 0.
    if a == b {
        return LucasOutcome::Probable;
    }
    tmp.copy_from_slice(&a);
    ctx.add_assign(&mut tmp, &b);
    if tmp.iter().all(|&l| l == 0) {
        return LucasOutcome::Probable;
    }
    // V'_d = V'_m V'_{m+1} - P', then V'_{d 2^{r-1}} ≡ 0 ⇔ V_{d 2^r} ≡ 0 for r = 1..s-1.
    let mut v = vec![0u64; k];
    ctx.mul(&a, &b, &mut t, &mut v);
    ctx.sub_assign(&mut v, &p);
    for _ in 1..s {
        if v.iter().all(|&l| l == 0) {
            return LucasOutcome::Probable;
        }
        ctx.sqr_assign(&mut v, &mut t);
        ctx.sub_assign(&mut v, &two);
    }
    LucasOutcome::Composite
}
