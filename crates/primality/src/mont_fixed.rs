//! Montgomery arithmetic for moduli of a fixed number `N` of `u64` limbs, residues as
//! `[u64; N]` on the stack.
//!
//! [`crate::montgomery::MontCtx`] handles any size with limb slices and caller-provided scratch
//! buffers; for the sizes where most numbers live (two to sixteen limbs) the limb count known
//! at compile time lets the compiler unroll every loop and keep the accumulator in registers,
//! and the set-up needs no big-integer division: `R mod n` comes from doublings of the top bit
//! and `R^2 mod n` from a few Montgomery squarings of it. Nothing here allocates.
//!
//! Products use coarsely integrated operand scanning (CIOS: one row of the product, then one
//! row of the reduction, `N` times), with one conditional subtraction at the end. Every
//! residue is kept fully reduced in `[0, n)`.

use crate::small::inv_u64;

/// Montgomery context for an odd modulus `n > 1` that fits `N` limbs (`R = 2^{64N}`; `n` may
/// have leading zero limbs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MontN<const N: usize> {
    /// The modulus, little-endian.
    pub(crate) n: [u64; N],
    /// `-n^{-1} mod 2^64`.
    n0: u64,
    /// `R mod n`, the Montgomery form of 1.
    pub(crate) one: [u64; N],
    /// `R^2 mod n`.
    r2: [u64; N],
}

/// `a >= b`.
#[inline(always)]
fn geq<const N: usize>(a: &[u64; N], b: &[u64; N]) -> bool {
    for i in (0..N).rev() {
        if a[i] != b[i] {
            return a[i] > b[i];
        }
    }
    true
}

/// `a - b` and the borrow out.
#[inline(always)]
fn sub_borrow<const N: usize>(a: &[u64; N], b: &[u64; N]) -> ([u64; N], bool) {
    let mut out = [0u64; N];
    let mut borrow = false;
    for i in 0..N {
        let (d1, b1) = a[i].overflowing_sub(b[i]);
        let (d2, b2) = d1.overflowing_sub(borrow as u64);
        out[i] = d2;
        borrow = b1 | b2;
    }
    (out, borrow)
}

/// `a + b` and the carry out.
#[inline(always)]
fn add_carry<const N: usize>(a: &[u64; N], b: &[u64; N]) -> ([u64; N], bool) {
    let mut out = [0u64; N];
    let mut carry = false;
    for i in 0..N {
        let (s1, c1) = a[i].overflowing_add(b[i]);
        let (s2, c2) = s1.overflowing_add(carry as u64);
        out[i] = s2;
        carry = c1 | c2;
    }
    (out, carry)
}

impl<const N: usize> MontN<N> {
    /// Set up for an odd modulus `n > 1`.
    pub(crate) fn new(n: [u64; N]) -> Self {
        debug_assert!(n[0] & 1 == 1 && (n[0] > 1 || n[1..].iter().any(|&l| l != 0)));
        let n0 = inv_u64(n[0]).wrapping_neg();
        let mut ctx = MontN {
            n,
            n0,
            one: [0; N],
            r2: [0; N],
        };
        // 2^(b-1) < n for the bit length b of n (n is odd and > 1, so not a power of two);
        // doubling it 64N - b + 1 times gives 2^{64N} mod n.
        let top = (0..N).rev().find(|&i| n[i] != 0).unwrap_or(0);
        let b = 64 * top as u32 + 64 - n[top].leading_zeros();
        let mut x = [0u64; N];
        x[(b as usize - 1) / 64] = 1 << ((b - 1) % 64);
        for _ in 0..(64 * N as u32 - b + 1) {
            x = ctx.double(&x);
        }
        ctx.one = x;
        // R 2^N by N doublings, then six Montgomery squarings: R 2^{N 2^6} = R^2.
        for _ in 0..N {
            x = ctx.double(&x);
        }
        for _ in 0..6 {
            x = ctx.mul(&x, &x);
        }
        ctx.r2 = x;
        ctx
    }

    /// `a b / R mod n` for `a, b < n`.
    #[inline(always)]
    pub(crate) fn mul(&self, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
        let n = &self.n;
        let mut t = [0u64; N];
        let mut t_hi = 0u64; // limb N of the accumulator; the accumulator stays below 2n
        for &bi in b.iter() {
            // t += a * b_i
            let mut c = 0u64;
            for j in 0..N {
                let p = a[j] as u128 * bi as u128 + t[j] as u128 + c as u128;
                t[j] = p as u64;
                c = (p >> 64) as u64;
            }
            let (s, carry) = t_hi.overflowing_add(c);
            // t = (t + m n) / 2^64
            let m = t[0].wrapping_mul(self.n0);
            let p = m as u128 * n[0] as u128 + t[0] as u128;
            let mut c = (p >> 64) as u64;
            for j in 1..N {
                let p = m as u128 * n[j] as u128 + t[j] as u128 + c as u128;
                t[j - 1] = p as u64;
                c = (p >> 64) as u64;
            }
            let p = s as u128 + c as u128;
            t[N - 1] = p as u64;
            t_hi = carry as u64 + (p >> 64) as u64;
        }
        if t_hi != 0 || geq(&t, n) {
            sub_borrow(&t, n).0
        } else {
            t
        }
    }

    /// `a^2 / R mod n`.
    #[inline(always)]
    pub(crate) fn sqr(&self, a: &[u64; N]) -> [u64; N] {
        self.mul(a, a)
    }

    /// `a + b mod n`.
    #[inline(always)]
    pub(crate) fn add(&self, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
        let (s, carry) = add_carry(a, b);
        if carry || geq(&s, &self.n) {
            sub_borrow(&s, &self.n).0
        } else {
            s
        }
    }

    /// `a - b mod n`.
    #[inline(always)]
    pub(crate) fn sub(&self, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
        let (d, borrow) = sub_borrow(a, b);
        if borrow { add_carry(&d, &self.n).0 } else { d }
    }

    /// `2a mod n`.
    #[inline(always)]
    pub(crate) fn double(&self, a: &[u64; N]) -> [u64; N] {
        self.add(a, a)
    }

    /// Montgomery form of `x < n`.
    #[inline]
    pub(crate) fn encode(&self, x: &[u64; N]) -> [u64; N] {
        self.mul(x, &self.r2)
    }

    /// Montgomery form of a small `x` (reduced mod `n` first when `n` is a single limb).
    #[inline]
    pub(crate) fn encode_u64(&self, x: u64) -> [u64; N] {
        let mut v = [0u64; N];
        v[0] = x;
        if !geq(&self.n, &v) || self.n == v {
            // Only a one-limb n can be ≤ x.
            v[0] = x % self.n[0];
        }
        self.encode(&v)
    }

    /// The plain value of a residue in Montgomery form.
    #[inline]
    pub(crate) fn decode(&self, x: &[u64; N]) -> [u64; N] {
        let mut unit = [0u64; N];
        unit[0] = 1;
        self.mul(x, &unit)
    }
}

/// `x` as `N` little-endian limbs, if it fits.
pub(crate) fn limbs_of<const N: usize>(x: &num_bigint::BigUint) -> Option<[u64; N]> {
    let mut out = [0u64; N];
    for (i, d) in x.iter_u64_digits().enumerate() {
        *out.get_mut(i)? = d;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use num_bigint::BigUint;
    use num_traits::One;
    use proptest::prelude::*;

    fn big<const N: usize>(x: &[u64; N]) -> BigUint {
        crate::montgomery::from_limbs(x)
    }

    fn check<const N: usize>(nv: [u64; N], av: [u64; N], bv: [u64; N]) {
        let mut nv = nv;
        nv[0] |= 1;
        let n = big(&nv);
        if n <= BigUint::one() {
            return;
        }
        let m = MontN::<N>::new(nv);
        let r = BigUint::one() << (64 * N);
        assert_eq!(big(&m.one), &r % &n);
        assert_eq!(big(&m.r2), (&r * &r) % &n);
        let a: [u64; N] = limbs_of(&(big(&av) % &n)).unwrap();
        let b: [u64; N] = limbs_of(&(big(&bv) % &n)).unwrap();
        let (am, bm) = (m.encode(&a), m.encode(&b));
        let (ab, bb) = (big(&a), big(&b));
        assert_eq!(big(&m.decode(&m.mul(&am, &bm))), (&ab * &bb) % &n);
        assert_eq!(big(&m.decode(&m.sqr(&am))), (&ab * &ab) % &n);
        assert_eq!(big(&m.decode(&m.add(&am, &bm))), (&ab + &bb) % &n);
        assert_eq!(big(&m.decode(&m.sub(&am, &bm))), (&ab + &n - &bb) % &n);
        assert_eq!(big(&m.decode(&m.double(&am))), (&ab * 2u8) % &n);
        assert_eq!(
            big(&m.decode(&m.encode_u64(12345))),
            BigUint::from(12345u32) % &n
        );
    }

    fn arr<const N: usize>(v: &[u64]) -> [u64; N] {
        let mut out = [0u64; N];
        for (o, x) in out.iter_mut().zip(v) {
            *o = *x;
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn matches_num_bigint(
            nv in proptest::collection::vec(any::<u64>(), 16),
            av in proptest::collection::vec(any::<u64>(), 16),
            bv in proptest::collection::vec(any::<u64>(), 16),
            shape in 0u8..4,
        ) {
            let mut nv = nv;
            match shape {
                0 => {}
                1 => nv.iter_mut().for_each(|l| *l = u64::MAX), // n = R - 1
                2 => nv.iter_mut().skip(1).for_each(|l| *l = 0), // leading zero limbs
                _ => nv.iter_mut().for_each(|l| *l >>= 1), // n < R / 2
            }
            check::<2>(arr(&nv), arr(&av), arr(&bv));
            check::<3>(arr(&nv), arr(&av), arr(&bv));
            check::<4>(arr(&nv), arr(&av), arr(&bv));
            check::<5>(arr(&nv), arr(&av), arr(&bv));
            check::<8>(arr(&nv), arr(&av), arr(&bv));
            check::<9>(arr(&nv), arr(&av), arr(&bv));
            check::<16>(arr(&nv), arr(&av), arr(&bv));
        }
    }

    #[test]
    fn extreme_moduli() {
        check::<2>([3, 0], [2, 0], [1, 0]);
        check::<2>([u64::MAX, u64::MAX], [u64::MAX - 1, u64::MAX], [5, 7]);
        check::<3>([1, 0, 1 << 63], [0, 0, 1 << 62], [u64::MAX, 0, 0]);
    }
}
