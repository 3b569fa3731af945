//! Baillie-PSW for numbers of two to four limbs (65 to 256 bits) on stack arrays.
//!
//! The same tests as [`crate::mr::strong_test_base2`] and [`crate::lucas::strong_lucas`], on
//! [`MontN`] residues: the limb count is known at compile time, nothing is allocated, and the
//! set-up (`R mod n`, `n + 1 = d 2^s`, Selfridge's parameters) needs no big-integer division.
//! For these sizes the multi-limb context's set-up and its heap buffers cost as much as the
//! exponentiations themselves.

use crate::mont_fixed::MontN;
use crate::small::{LucasOutcome, gcd_u64, inv_mod_small, selfridge_d};
use crate::trial::mod_small_limbs;

fn is_zero<const N: usize>(x: &[u64; N]) -> bool {
    x.iter().all(|&l| l == 0)
}

/// Bit `i` of `x`.
#[inline(always)]
fn bit<const N: usize>(x: &[u64; N], i: u32) -> bool {
    (x[(i / 64) as usize] >> (i % 64)) & 1 == 1
}

/// Number of significant bits of `x`.
fn bit_len<const N: usize>(x: &[u64; N]) -> u32 {
    (0..N)
        .rev()
        .find(|&i| x[i] != 0)
        .map_or(0, |i| 64 * i as u32 + 64 - x[i].leading_zeros())
}

/// `x >> s` for `s < 64 N`.
fn shr<const N: usize>(x: &[u64; N], s: u32) -> [u64; N] {
    let (words, bits) = ((s / 64) as usize, s % 64);
    let mut out = [0u64; N];
    for i in words..N {
        let lo = x[i] >> bits;
        let hi = if bits != 0 && i + 1 < N {
            x[i + 1] << (64 - bits)
        } else {
            0
        };
        out[i - words] = lo | hi;
    }
    out
}

/// Trailing zero bits of a nonzero `x`.
fn trailing_zeros<const N: usize>(x: &[u64; N]) -> u32 {
    (0..N)
        .find(|&i| x[i] != 0)
        .map_or(0, |i| 64 * i as u32 + x[i].trailing_zeros())
}

/// Strong probable-prime test to base 2, one squaring per bit (a multiplication by the base is
/// a modular doubling).
pub(crate) fn strong_base2<const N: usize>(m: &MontN<N>) -> bool {
    let mut nm1 = m.n;
    nm1[0] -= 1; // n is odd
    let s = trailing_zeros(&nm1);
    let d = shr(&nm1, s);
    let mut x = m.double(&m.one);
    for i in (0..bit_len(&d).saturating_sub(1)).rev() {
        x = m.sqr(&x);
        if bit(&d, i) {
            x = m.double(&x);
        }
    }
    let minus_one = m.sub(&[0u64; N], &m.one);
    if x == m.one || x == minus_one {
        return true;
    }
    for _ in 1..s {
        x = m.sqr(&x);
        if x == minus_one {
            return true;
        }
        if x == m.one {
            return false;
        }
    }
    false
}

/// `(hi·2^{64N} + x) / q` for a small `q` that divides it exactly and a quotient below
/// `2^{64N}`.
fn div_small<const N: usize>(hi: u64, x: &[u64; N], q: u64) -> [u64; N] {
    let mut out = [0u64; N];
    let mut rem = hi as u128;
    for i in (0..N).rev() {
        let cur = (rem << 64) | x[i] as u128;
        out[i] = (cur / q as u128) as u64;
        rem = cur % q as u128;
    }
    out
}

/// Montgomery form of `Q^{-1}` for `Q = ±qa`: `(R mod n) / qa = (one + n t) / qa` with
/// `t = -one n^{-1} mod qa`, negated when `Q < 0`.
fn q_inverse<const N: usize>(m: &MontN<N>, qa: u64, negative: bool) -> [u64; N] {
    let inv_abs = if qa == 1 {
        m.one
    } else {
        let ninv = inv_mod_small(mod_small_limbs(&m.n, qa), qa);
        let y = mod_small_limbs(&m.one, qa);
        let t = (qa - y * ninv % qa) % qa;
        // one + n t, with the limb that carries out.
        let mut acc = m.one;
        let mut carry = 0u64;
        for (a, &l) in acc.iter_mut().zip(&m.n) {
            let p = l as u128 * t as u128 + *a as u128 + carry as u128;
            *a = p as u64;
            carry = (p >> 64) as u64;
        }
        div_small(carry, &acc, qa)
    };
    if negative && !is_zero(&inv_abs) {
        m.sub(&[0u64; N], &inv_abs)
    } else {
        inv_abs
    }
}

/// Strong Lucas test with Selfridge's parameters, by the `V`-only chain of the sequence
/// `(Q^{-1} - 2, 1)` (the derivation is in `crate::small::lucas`). `n` must not be a perfect
/// square (the search for `D` would not end).
pub(crate) fn strong_lucas<const N: usize>(m: &MontN<N>) -> LucasOutcome {
    let limbs = &m.n[..];
    let d = match selfridge_d(limbs[0] % 8, |q| mod_small_limbs(limbs, q), None) {
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
    let two = m.double(&m.one);
    let p = m.sub(&q_inverse(m, qa, q < 0), &two);
    // n + 1 = dd 2^s (n < 2^{64N} - 1: such an n is divisible by 3), m = (dd - 1) / 2.
    let mut np1 = m.n;
    for l in np1.iter_mut() {
        let (v, c) = l.overflowing_add(1);
        *l = v;
        if !c {
            break;
        }
    }
    let s = trailing_zeros(&np1);
    let e = shr(&np1, s + 1);
    let (mut a, mut b) = (two, p);
    for i in (0..bit_len(&e)).rev() {
        let t = m.sub(&m.mul(&a, &b), &p);
        if bit(&e, i) {
            a = t;
            b = m.sub(&m.sqr(&b), &two);
        } else {
            b = t;
            a = m.sub(&m.sqr(&a), &two);
        }
    }
    // U_d ≡ 0 ⇔ V'_m ≡ V'_{m+1}; V_d ≡ 0 ⇔ V'_m + V'_{m+1} ≡ 0.
    if a == b || is_zero(&m.add(&a, &b)) {
        return LucasOutcome::Probable;
    }
    // V'_d = V'_m V'_{m+1} - P', then V'_{d 2^{r-1}} ≡ 0 ⇔ V_{d 2^r} ≡ 0 for r = 1..s-1.
    let mut v = m.sub(&m.mul(&a, &b), &p);
    for _ in 1..s {
        if is_zero(&v) {
            return LucasOutcome::Probable;
        }
        v = m.sub(&m.sqr(&v), &two);
    }
    LucasOutcome::Composite
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::mont_fixed::limbs_of;
    use crate::montgomery::{MontCtx, to_limbs};
    use crate::mr::Decomposition;
    use num_bigint::BigUint;
    use proptest::prelude::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Outcome {
        Witness2,
        Lucas(LucasOutcome),
    }

    /// Both tests on a non-square.
    fn bpsw<const N: usize>(n: &[u64; N]) -> Outcome {
        let m = MontN::new(*n);
        if !strong_base2(&m) {
            return Outcome::Witness2;
        }
        Outcome::Lucas(strong_lucas(&m))
    }

    /// The multi-limb path's answer, the reference.
    fn reference(n: &BigUint) -> Outcome {
        let ctx = MontCtx::new(n);
        if !crate::mr::strong_test_base2(&ctx, &Decomposition::new(&ctx)) {
            return Outcome::Witness2;
        }
        Outcome::Lucas(crate::lucas::strong_lucas(&ctx))
    }

    fn agree(n: &BigUint) {
        let k = n.iter_u64_digits().len();
        if n.bits() <= 64 || !n.bit(0) || k > 4 {
            return;
        }
        if crate::lucas::square_root(n, &to_limbs(n, k)).is_some() {
            return;
        }
        let got = match k {
            2 => bpsw(&limbs_of::<2>(n).unwrap()),
            3 => bpsw(&limbs_of::<3>(n).unwrap()),
            _ => bpsw(&limbs_of::<4>(n).unwrap()),
        };
        assert_eq!(got, reference(n), "{n}");
    }

    #[test]
    fn known_numbers() {
        let one = BigUint::from(1u8);
        for e in [89u32, 107, 127, 521] {
            let m = (&one << e) - 1u8;
            if m.bits() <= 256 {
                assert_eq!(
                    bpsw(&limbs_of::<4>(&m).unwrap()),
                    Outcome::Lucas(LucasOutcome::Probable)
                );
            }
            agree(&m);
        }
        let tutorial: BigUint = "172983479832623897492387592384682937659382477"
            .parse()
            .unwrap();
        assert_eq!(bpsw(&limbs_of::<3>(&tutorial).unwrap()), Outcome::Witness2);
        // 2^128 - 159, 2^192 - 237 and 2^256 - 189 are primes.
        for (e, c) in [(128u32, 159u32), (192, 237), (256, 189)] {
            let p = (&one << e) - c;
            agree(&p);
            assert!(crate::is_prime(&p), "2^{e} - {c}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn agrees_with_the_multi_limb_path(limbs in proptest::collection::vec(any::<u64>(), 4), bits in 65u64..=256) {
            let mut n = BigUint::from(0u8);
            for (i, l) in limbs.iter().enumerate() {
                n |= BigUint::from(*l) << (64 * i);
            }
            n &= (BigUint::from(1u8) << bits) - 1u8;
            n.set_bit(bits - 1, true);
            n.set_bit(0, true);
            agree(&n);
            // Primes too: the next probable prime, found by the reference.
            let mut p = n.clone();
            while reference(&p) != Outcome::Lucas(LucasOutcome::Probable) {
                p += 2u8;
            }
            agree(&p);
        }
    }
}
