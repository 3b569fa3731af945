//! One interface over the crate's three Montgomery implementations (one limb, a fixed number
//! of limbs, any number of limbs), so the factoring methods are written once.
//!
//! Elements are residues in Montgomery form, passed by value: for the fixed sizes they are
//! `Copy` arrays in registers; the dynamic ring (above sixteen limbs) pays one small
//! allocation per operation, which is cheap next to a product of that size.

use std::cell::RefCell;
use std::fmt;

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, Zero};

use crate::mont_fixed::{MontN, limbs_of};
use crate::montgomery::{MontCtx, from_limbs, to_limbs};
use crate::small::Mont64;

/// `gcd(x, n)` for a residue `x`, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Gcd {
    /// `x` is a unit.
    One,
    /// `x ≡ 0 (mod n)`.
    Modulus,
    /// A nontrivial factor of `n`.
    Factor(BigUint),
}

impl Gcd {
    fn classify(g: BigUint, n: &BigUint) -> Gcd {
        if g.is_one() {
            Gcd::One
        } else if &g == n || g.is_zero() {
            Gcd::Modulus
        } else {
            Gcd::Factor(g)
        }
    }
}

/// Arithmetic modulo an odd `n > 1` in Montgomery form.
pub(crate) trait Ring {
    /// A residue in Montgomery form.
    type Elem: Clone + PartialEq + fmt::Debug;

    /// The modulus.
    fn modulus(&self) -> BigUint;
    /// Montgomery form of 1.
    fn one(&self) -> Self::Elem;
    /// Zero.
    fn zero(&self) -> Self::Elem;
    /// `a b`.
    fn mul(&self, a: &Self::Elem, b: &Self::Elem) -> Self::Elem;
    /// `a^2`.
    fn sqr(&self, a: &Self::Elem) -> Self::Elem;
    /// `a + b`.
    fn add(&self, a: &Self::Elem, b: &Self::Elem) -> Self::Elem;
    /// `a - b`.
    fn sub(&self, a: &Self::Elem, b: &Self::Elem) -> Self::Elem;
    /// Montgomery form of `x mod n`.
    fn residue(&self, x: &BigUint) -> Self::Elem;
    /// The plain value of `a`, in `[0, n)`.
    fn to_big(&self, a: &Self::Elem) -> BigUint;

    /// Montgomery form of a small `x`.
    fn residue_u64(&self, x: u64) -> Self::Elem {
        self.residue(&BigUint::from(x))
    }

    /// `gcd(a, n)`. A residue in Montgomery form `a R` has the same gcd with `n` as `a`, since
    /// `R` is a unit.
    fn gcd(&self, a: &Self::Elem) -> Gcd {
        let n = self.modulus();
        Gcd::classify(self.to_big(a).gcd(&n), &n)
    }

    /// `a^{-1}`, or the gcd that shows `a` is not a unit.
    fn inverse(&self, a: &Self::Elem) -> Result<Self::Elem, Gcd> {
        let n = self.modulus();
        let x = self.to_big(a);
        match x.modinv(&n) {
            Some(inv) => Ok(self.residue(&inv)),
            None => Err(Gcd::classify(x.gcd(&n), &n)),
        }
    }

    /// `a^e` for a small exponent, left-to-right binary.
    fn pow_u64(&self, a: &Self::Elem, e: u64) -> Self::Elem {
        if e == 0 {
            return self.one();
        }
        let mut x = a.clone();
        for i in (0..63 - e.leading_zeros()).rev() {
            x = self.sqr(&x);
            if (e >> i) & 1 == 1 {
                x = self.mul(&x, a);
            }
        }
        x
    }
}

/// Binary gcd of two `u128` (the one- and two-limb rings' gcds without allocation).
pub(crate) fn gcd_u128(mut a: u128, mut b: u128) -> u128 {
    if a == 0 {
        return b;
    }
    if b == 0 {
        return a;
    }
    let shift = (a | b).trailing_zeros();
    a >>= a.trailing_zeros();
    loop {
        b >>= b.trailing_zeros();
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        b -= a;
        if b == 0 {
            return a << shift;
        }
    }
}

impl Ring for Mont64 {
    type Elem = u64;

    fn modulus(&self) -> BigUint {
        BigUint::from(self.n)
    }
    #[inline(always)]
    fn one(&self) -> u64 {
        self.one
    }
    #[inline(always)]
    fn zero(&self) -> u64 {
        0
    }
    #[inline(always)]
    fn mul(&self, a: &u64, b: &u64) -> u64 {
        Mont64::mul(self, *a, *b)
    }
    #[inline(always)]
    fn sqr(&self, a: &u64) -> u64 {
        Mont64::mul(self, *a, *a)
    }
    #[inline(always)]
    fn add(&self, a: &u64, b: &u64) -> u64 {
        Mont64::add(self, *a, *b)
    }
    #[inline(always)]
    fn sub(&self, a: &u64, b: &u64) -> u64 {
        Mont64::sub(self, *a, *b)
    }
    fn residue(&self, x: &BigUint) -> u64 {
        let r = x % self.n;
        self.encode(r.iter_u64_digits().next().unwrap_or(0))
    }
    fn residue_u64(&self, x: u64) -> u64 {
        self.encode(x)
    }
    fn to_big(&self, a: &u64) -> BigUint {
        BigUint::from(Mont64::mul(self, *a, 1))
    }
    fn gcd(&self, a: &u64) -> Gcd {
        let g = gcd_u128(*a as u128, self.n as u128) as u64;
        match g {
            1 => Gcd::One,
            g if g == self.n => Gcd::Modulus,
            g => Gcd::Factor(BigUint::from(g)),
        }
    }
}

/// Products of up to this many limbs are inlined at every call; larger ones exist once per size
/// (a call costs a few cycles next to at least 9 limb products, and the crate compiles in a
/// fraction of the time).
const INLINE_LIMBS: usize = 2;

#[inline(never)]
fn mul_out_of_line<const N: usize>(m: &MontN<N>, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
    m.mul(a, b)
}

#[inline(never)]
fn add_out_of_line<const N: usize>(m: &MontN<N>, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
    m.add(a, b)
}

#[inline(never)]
fn sub_out_of_line<const N: usize>(m: &MontN<N>, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
    m.sub(a, b)
}

impl<const N: usize> Ring for MontN<N> {
    type Elem = [u64; N];

    fn modulus(&self) -> BigUint {
        from_limbs(&self.n)
    }
    #[inline(always)]
    fn one(&self) -> [u64; N] {
        self.one
    }
    #[inline(always)]
    fn zero(&self) -> [u64; N] {
        [0; N]
    }
    #[inline(always)]
    fn mul(&self, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
        if N <= INLINE_LIMBS {
            MontN::mul(self, a, b)
        } else {
            mul_out_of_line(self, a, b)
        }
    }
    #[inline(always)]
    fn sqr(&self, a: &[u64; N]) -> [u64; N] {
        if N <= INLINE_LIMBS {
            MontN::sqr(self, a)
        } else {
            mul_out_of_line(self, a, a)
        }
    }
    #[inline(always)]
    fn add(&self, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
        if N <= INLINE_LIMBS {
            MontN::add(self, a, b)
        } else {
            add_out_of_line(self, a, b)
        }
    }
    #[inline(always)]
    fn sub(&self, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
        if N <= INLINE_LIMBS {
            MontN::sub(self, a, b)
        } else {
            sub_out_of_line(self, a, b)
        }
    }
    fn residue(&self, x: &BigUint) -> [u64; N] {
        let r = x % self.modulus();
        let limbs: [u64; N] = limbs_of(&r).unwrap_or([0; N]);
        self.encode(&limbs)
    }
    fn residue_u64(&self, x: u64) -> [u64; N] {
        self.encode_u64(x)
    }
    fn to_big(&self, a: &[u64; N]) -> BigUint {
        from_limbs(&self.decode(a))
    }
    fn gcd(&self, a: &[u64; N]) -> Gcd {
        if N == 2 {
            let x = a[0] as u128 | (a[1] as u128) << 64;
            let n = self.n[0] as u128 | (self.n[1] as u128) << 64;
            return match gcd_u128(x, n) {
                1 => Gcd::One,
                g if g == n => Gcd::Modulus,
                g => Gcd::Factor(BigUint::from(g)),
            };
        }
        let n = self.modulus();
        Gcd::classify(from_limbs(a).gcd(&n), &n)
    }
}

/// The ring of any size, on [`MontCtx`] with its scratch buffer.
#[derive(Debug)]
pub(crate) struct DynRing {
    ctx: MontCtx,
    scratch: RefCell<Vec<u64>>,
}

impl DynRing {
    pub(crate) fn new(n: &BigUint) -> Self {
        let ctx = MontCtx::new(n);
        let scratch = RefCell::new(ctx.scratch());
        DynRing { ctx, scratch }
    }
}

impl Ring for DynRing {
    type Elem = Vec<u64>;

    fn modulus(&self) -> BigUint {
        from_limbs(&self.ctx.n)
    }
    fn one(&self) -> Vec<u64> {
        self.ctx.one.clone()
    }
    fn zero(&self) -> Vec<u64> {
        vec![0; self.ctx.len()]
    }
    fn mul(&self, a: &Vec<u64>, b: &Vec<u64>) -> Vec<u64> {
        let mut out = vec![0; self.ctx.len()];
        self.ctx.mul(a, b, &mut self.scratch.borrow_mut(), &mut out);
        out
    }
    fn sqr(&self, a: &Vec<u64>) -> Vec<u64> {
        let mut out = vec![0; self.ctx.len()];
        self.ctx.sqr(a, &mut self.scratch.borrow_mut(), &mut out);
        out
    }
    fn add(&self, a: &Vec<u64>, b: &Vec<u64>) -> Vec<u64> {
        let mut out = a.clone();
        self.ctx.add_assign(&mut out, b);
        out
    }
    fn sub(&self, a: &Vec<u64>, b: &Vec<u64>) -> Vec<u64> {
        let mut out = a.clone();
        self.ctx.sub_assign(&mut out, b);
        out
    }
    fn residue(&self, x: &BigUint) -> Vec<u64> {
        self.ctx.encode_big(x)
    }
    fn to_big(&self, a: &Vec<u64>) -> BigUint {
        let mut unit = vec![0; self.ctx.len()];
        unit[0] = 1;
        from_limbs(&self.mul(a, &unit))
    }
}

/// Work that runs on whichever ring fits the modulus (a generic closure, spelled as a trait).
pub(crate) trait RingTask {
    type Output;
    fn run<R: Ring>(self, ring: &R) -> Self::Output;
}

/// Run `task` on the smallest ring that holds the odd modulus `n > 1`.
pub(crate) fn with_ring<T: RingTask>(n: &BigUint, task: T) -> T::Output {
    // Every size up to 10 limbs has its own ring; above, a few sizes with leading zero limbs
    // (an 11-limb modulus costs a fifth more on 12 limbs, against half as much more on the
    // dynamic ring), which keeps the number of copies of the generic code small.
    match n.iter_u64_digits().len() {
        1 => task.run(&Mont64::new(n.iter_u64_digits().next().unwrap_or(3))),
        2 => task.run(&MontN::<2>::new(to_array(n))),
        3 => task.run(&MontN::<3>::new(to_array(n))),
        4 => task.run(&MontN::<4>::new(to_array(n))),
        5 => task.run(&MontN::<5>::new(to_array(n))),
        6 => task.run(&MontN::<6>::new(to_array(n))),
        7 => task.run(&MontN::<7>::new(to_array(n))),
        8 => task.run(&MontN::<8>::new(to_array(n))),
        9 => task.run(&MontN::<9>::new(to_array(n))),
        10 => task.run(&MontN::<10>::new(to_array(n))),
        11 | 12 => task.run(&MontN::<12>::new(to_array(n))),
        13..=16 => task.run(&MontN::<16>::new(to_array(n))),
        _ => task.run(&DynRing::new(n)),
    }
}

fn to_array<const N: usize>(n: &BigUint) -> [u64; N] {
    let v = to_limbs(n, N);
    let mut out = [0u64; N];
    out.copy_from_slice(&v);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    struct Probe(BigUint, BigUint);

    impl RingTask for Probe {
        type Output = (BigUint, BigUint, Gcd, Option<BigUint>);
        fn run<R: Ring>(self, ring: &R) -> Self::Output {
            let a = ring.residue(&self.0);
            let b = ring.residue(&self.1);
            let prod = ring.to_big(&ring.mul(&a, &b));
            let diff = ring.to_big(&ring.sub(&a, &ring.add(&b, &ring.one())));
            let inv = ring.inverse(&a).ok().map(|i| ring.to_big(&i));
            (prod, diff, ring.gcd(&a), inv)
        }
    }

    #[test]
    fn every_size_agrees_with_num_bigint() {
        let mut x = BigUint::from(0x9e37_79b9_7f4a_7c15u64);
        for limbs in 1..=20u32 {
            let n = ((BigUint::one() << (64 * limbs - 3)) + &x * 3u8) | BigUint::one();
            let a = (&x * &x + 12345u32) % &n;
            let b = (&x << 7u32) % &n;
            let (prod, diff, gcd, inv) = with_ring(&n, Probe(a.clone(), b.clone()));
            assert_eq!(prod, (&a * &b) % &n, "{limbs}");
            assert_eq!(diff, (&a + &n * 2u8 - &b - 1u8) % &n, "{limbs}");
            let g = a.gcd(&n);
            match gcd {
                Gcd::One => assert!(g.is_one()),
                Gcd::Modulus => assert_eq!(g, n),
                Gcd::Factor(f) => assert_eq!(f, g),
            }
            if let Some(inv) = inv {
                assert!(((&a * inv) % &n).is_one());
            }
            x = &x * 0x5851_f42d_4c95_7f2du64 + 1u8;
        }
    }

    #[test]
    fn gcd_of_a_multiple_of_a_factor() {
        let n = BigUint::from(1_000_003u64 * 998_244_353u64) * 1_000_000_007u64;
        let f = BigUint::from(998_244_353u64 * 5u64);
        let (_, _, gcd, inv) = with_ring(&n, Probe(f, BigUint::one()));
        assert_eq!(gcd, Gcd::Factor(BigUint::from(998_244_353u64)));
        assert!(inv.is_none());
    }

    #[test]
    fn binary_gcd() {
        assert_eq!(gcd_u128(0, 5), 5);
        assert_eq!(gcd_u128(12, 18), 6);
        assert_eq!(gcd_u128(1 << 100, 3 << 90), 1 << 90);
    }
}
