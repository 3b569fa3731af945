//! Montgomery arithmetic on fixed-width little-endian `u64` limb slices.
//!
//! A [`MontCtx`] is set up once per odd modulus `n` of `k` limbs (`R = 2^{64k}`): it holds
//! `n`, `-n^{-1} mod 2^64`, `R mod n` and `R^2 mod n`. Products are formed by operand scanning
//! into a `2k`-limb scratch buffer (squaring computes each cross product once and doubles), then
//! reduced by word-wise Montgomery reduction (REDC) followed by one conditional subtraction.
//! Every residue is kept fully reduced in `[0, n)`. From 48 limbs (3072 bits) on, products and
//! squares take one level of Karatsuba first. Callers allocate the scratch buffers once, so
//! exponentiation and Lucas loops never allocate.

use num_bigint::BigUint;
use num_traits::One;

use crate::small::inv_u64;

/// Montgomery context for an odd modulus `n > 1`.
#[derive(Debug, Clone)]
pub(crate) struct MontCtx {
    /// The modulus, `k` limbs, little-endian.
    pub(crate) n: Vec<u64>,
    /// `-n^{-1} mod 2^64`.
    n0: u64,
    /// `R mod n`: Montgomery form of 1.
    pub(crate) one: Vec<u64>,
    /// `R^2 mod n`.
    r2: Vec<u64>,
}

/// `acc += a * b` over `acc.len() == a.len()` limbs; returns the carry limb.
#[inline(always)]
fn mul_add_limb(acc: &mut [u64], a: &[u64], b: u64) -> u64 {
    let mut carry = 0u64;
    for (x, &y) in acc.iter_mut().zip(a) {
        let t = y as u128 * b as u128 + *x as u128 + carry as u128;
        *x = t as u64;
        carry = (t >> 64) as u64;
    }
    carry
}

/// Two rows at once: `acc[..=len] += a * b0 + a * b1 * 2^64` over `acc.len() == a.len() + 1`
/// limbs plus the carry `cin` at limb `len`; returns the carry out of limb `len` (at most
/// `2^64`). With `SKIP` the row of `b1` leaves out the product `a[0] * b1` (for squaring, where
/// it is a diagonal term). Each limb of `acc` is loaded and stored once per two rows.
#[inline(always)]
fn mul_add_2<const SKIP: bool>(acc: &mut [u64], a: &[u64], b0: u64, b1: u64, cin: u64) -> u128 {
    let len = a.len();
    let (body, last) = acc.split_at_mut(len);
    let (Some((x0, body)), Some((&a0, rest))) = (body.split_first_mut(), a.split_first()) else {
        return 0;
    };
    let p0 = a0 as u128 * b0 as u128 + *x0 as u128;
    *x0 = p0 as u64;
    let mut c0 = (p0 >> 64) as u64;
    let mut c1 = 0u64;
    let mut prev = if SKIP { 0 } else { a0 };
    for (x, &y) in body.iter_mut().zip(rest) {
        let p0 = y as u128 * b0 as u128 + *x as u128 + c0 as u128;
        let p1 = prev as u128 * b1 as u128 + (p0 as u64) as u128 + c1 as u128;
        *x = p1 as u64;
        c0 = (p0 >> 64) as u64;
        c1 = (p1 >> 64) as u64;
        prev = y;
    }
    let p0 = last[0] as u128 + c0 as u128 + cin as u128;
    let p1 = prev as u128 * b1 as u128 + (p0 as u64) as u128 + c1 as u128;
    last[0] = p1 as u64;
    (p0 >> 64) + (p1 >> 64)
}

/// Smallest even limb count multiplied with one level of Karatsuba. Measured on the bench
/// machine (whole `is_prime` calls): at 24 and 32 limbs the schoolbook product with two rows per
/// pass is as fast or faster; at 48 limbs Karatsuba saves about 4 %, at 64 limbs about 7 %.
const KARATSUBA_MIN: usize = 48;

/// Karatsuba's workspace in units of `k/2` limbs: `|a0 - a1|`, `|b0 - b1|` (one each), their
/// product (two) and the middle term (two, plus two limbs of slack).
const KARATSUBA_WORK: usize = 6;

#[inline]
fn use_karatsuba(k: usize) -> bool {
    k >= KARATSUBA_MIN && k.is_multiple_of(2)
}

/// `r[..2n] = a * b` for `n`-limb `a`, `b`, schoolbook, two rows per pass.
fn mul_basecase(r: &mut [u64], a: &[u64], b: &[u64]) {
    let k = a.len();
    r[..2 * k].fill(0);
    let mut i = 0;
    while i + 1 < k {
        // Limbs i + k and i + k + 1 are still zero here, so the carry fits one limb.
        r[i + k + 1] = mul_add_2::<false>(&mut r[i..=i + k], a, b[i], b[i + 1], 0) as u64;
        i += 2;
    }
    if i < k {
        r[i + k] = mul_add_limb(&mut r[i..i + k], a, b[i]);
    }
}

/// `r[..2n] = a * a`, each cross product computed once.
fn sqr_basecase(r: &mut [u64], a: &[u64]) {
    let k = a.len();
    r[..2 * k].fill(0);
    // Cross products a_i a_j, i < j, at limb i + j. Rows i and i + 1 together: row i adds
    // a_i a[i+1..] at limb 2i + 1, row i + 1 adds a_{i+1} a[i+2..] at limb 2i + 3, i.e. the
    // same slice shifted by one, minus a_{i+1}^2.
    let rows = k.saturating_sub(1);
    let mut i = 0;
    while i + 1 < rows {
        r[i + k + 1] =
            mul_add_2::<true>(&mut r[2 * i + 1..=i + k], &a[i + 1..], a[i], a[i + 1], 0) as u64;
        i += 2;
    }
    if i < rows {
        r[i + k] = mul_add_limb(&mut r[2 * i + 1..i + k], &a[i + 1..], a[i]);
    }
    // Double them.
    let mut hi_bit = 0u64;
    for x in r[..2 * k].iter_mut() {
        let nb = *x >> 63;
        *x = (*x << 1) | hi_bit;
        hi_bit = nb;
    }
    // Add the squares a_i^2 at limb 2i.
    let mut carry = 0u64;
    for (i, &ai) in a.iter().enumerate() {
        let sq = ai as u128 * ai as u128;
        let lo = r[2 * i] as u128 + (sq as u64) as u128 + carry as u128;
        r[2 * i] = lo as u64;
        let hi = r[2 * i + 1] as u128 + (sq >> 64) + (lo >> 64);
        r[2 * i + 1] = hi as u64;
        carry = (hi >> 64) as u64;
    }
}

/// `out = |x - y|` for equal-length slices; `true` if `x < y`.
fn abs_diff(out: &mut [u64], x: &[u64], y: &[u64]) -> bool {
    let neg = !geq(x, y);
    let (big, small) = if neg { (y, x) } else { (x, y) };
    out.copy_from_slice(big);
    sub_in_place(out, small);
    neg
}

/// `r[..2k] += mid * 2^{64 h}` where `r = z0 + z2 2^{64k}` already holds the outer products
/// and `mid` (`k + 1` limbs) is the middle coefficient; the carry out of `r` is zero because the
/// full product fits `2k` limbs.
fn add_middle(r: &mut [u64], mid: &[u64], h: usize) {
    let carry = add_in_place(&mut r[h..h + mid.len()], mid);
    let mut carry = carry as u64;
    for x in r[h + mid.len()..].iter_mut() {
        if carry == 0 {
            break;
        }
        let (s, c) = x.overflowing_add(carry);
        *x = s;
        carry = c as u64;
    }
    debug_assert_eq!(carry, 0);
}

/// `mid[..k+1] = z0 + z2` for the two `k`-limb halves of `r`.
fn outer_sum(mid: &mut [u64], r: &[u64], k: usize) {
    mid[..k].copy_from_slice(&r[..k]);
    mid[k] = add_in_place(&mut mid[..k], &r[k..2 * k]) as u64;
}

/// One level of Karatsuba for even `k = a.len()`: `r[..2k] = a * b`, with
/// `a b = z0 + (z0 + z2 - (a0 - a1)(b0 - b1)) B + z2 B^2`, `B = 2^{64 k/2}`.
fn mul_karatsuba(r: &mut [u64], a: &[u64], b: &[u64], work: &mut [u64]) {
    let k = a.len();
    let h = k / 2;
    let (a0, a1) = a.split_at(h);
    let (b0, b1) = b.split_at(h);
    mul_basecase(&mut r[..k], a0, b0);
    mul_basecase(&mut r[k..2 * k], a1, b1);
    let (da, work) = work.split_at_mut(h);
    let (db, work) = work.split_at_mut(h);
    let (m, work) = work.split_at_mut(k);
    let mid = &mut work[..k + 1];
    let neg = abs_diff(da, a0, a1) != abs_diff(db, b0, b1);
    mul_basecase(m, da, db);
    outer_sum(mid, r, k);
    // (a0 - a1)(b0 - b1) = ±m; the middle coefficient a0 b1 + a1 b0 is never negative.
    if neg {
        let c = add_in_place(&mut mid[..k], m);
        mid[k] += c as u64;
    } else {
        let borrow = sub_in_place(&mut mid[..k], m);
        mid[k] -= borrow as u64;
    }
    add_middle(r, mid, h);
}

/// One level of Karatsuba squaring for even `k`: the middle coefficient is
/// `2 a0 a1 = a0^2 + a1^2 - (a0 - a1)^2`.
fn sqr_karatsuba(r: &mut [u64], a: &[u64], work: &mut [u64]) {
    let k = a.len();
    let h = k / 2;
    let (a0, a1) = a.split_at(h);
    sqr_basecase(&mut r[..k], a0);
    sqr_basecase(&mut r[k..2 * k], a1);
    let (d, work) = work.split_at_mut(h);
    let (m, work) = work.split_at_mut(k);
    let mid = &mut work[..k + 1];
    abs_diff(d, a0, a1);
    sqr_basecase(m, d);
    outer_sum(mid, r, k);
    let borrow = sub_in_place(&mut mid[..k], m);
    mid[k] -= borrow as u64;
    add_middle(r, mid, h);
}

/// `a >= b` for equal-length slices.
#[inline]
pub(crate) fn geq(a: &[u64], b: &[u64]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

/// `a -= b`, returning the borrow.
#[inline]
fn sub_in_place(a: &mut [u64], b: &[u64]) -> bool {
    let mut borrow = false;
    for (x, &y) in a.iter_mut().zip(b) {
        let (d1, b1) = x.overflowing_sub(y);
        let (d2, b2) = d1.overflowing_sub(borrow as u64);
        *x = d2;
        borrow = b1 | b2;
    }
    borrow
}

/// `a += b`, returning the carry.
#[inline]
fn add_in_place(a: &mut [u64], b: &[u64]) -> bool {
    let mut carry = false;
    for (x, &y) in a.iter_mut().zip(b) {
        let (s1, c1) = x.overflowing_add(y);
        let (s2, c2) = s1.overflowing_add(carry as u64);
        *x = s2;
        carry = c1 | c2;
    }
    carry
}

/// Little-endian limbs of `x`, padded with zeros to `k` limbs (`x` must fit).
pub(crate) fn to_limbs(x: &BigUint, k: usize) -> Vec<u64> {
    let mut v: Vec<u64> = x.iter_u64_digits().collect();
    debug_assert!(v.len() <= k);
    v.resize(k, 0);
    v
}

/// The `BigUint` with these little-endian limbs.
pub(crate) fn from_limbs(limbs: &[u64]) -> BigUint {
    let mut digits = Vec::with_capacity(limbs.len() * 2);
    for &l in limbs {
        digits.push(l as u32);
        digits.push((l >> 32) as u32);
    }
    BigUint::new(digits)
}

impl MontCtx {
    /// Set up for an odd modulus `n > 1`.
    pub(crate) fn new(n: &BigUint) -> Self {
        debug_assert!(n.bit(0) && n > &BigUint::one());
        let k = n.iter_u64_digits().len();
        let nl = to_limbs(n, k);
        let n0 = inv_u64(nl[0]).wrapping_neg();
        let r = BigUint::one() << (64 * k);
        let r1 = &r % n;
        let r2 = (&r1 * &r1) % n;
        MontCtx {
            n: nl,
            n0,
            one: to_limbs(&r1, k),
            r2: to_limbs(&r2, k),
        }
    }

    /// Number of limbs `k`.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.n.len()
    }

    /// A zeroed product buffer: `2k + 1` limbs for the product and its reduction, then
    /// `3k/2 + 2` limbs of workspace for one level of Karatsuba.
    pub(crate) fn scratch(&self) -> Vec<u64> {
        let k = self.len();
        vec![0; 2 * k + 1 + KARATSUBA_WORK * k / 2 + 2]
    }

    /// Montgomery reduction: `out = t / R mod n` for `t < n R` held in `t[..2k]` (destroyed).
    #[inline]
    fn redc(&self, t: &mut [u64], out: &mut [u64]) {
        let k = self.len();
        let n = &self.n[..];
        let n0 = self.n0;
        // Two rows of the reduction at a time. `ov` is the carry pending at limb i + k.
        let mut ov = 0u64;
        let mut i = 0;
        while i + 1 < k {
            let m0 = t[i].wrapping_mul(n0);
            // The next limb after adding m0 * n, to derive m1 before the pass.
            let lo0 = m0 as u128 * n[0] as u128 + t[i] as u128;
            let t1 = t[i + 1]
                .wrapping_add((m0 as u128 * n[1] as u128) as u64)
                .wrapping_add((lo0 >> 64) as u64);
            let m1 = t1.wrapping_mul(n0);
            let c = mul_add_2::<false>(&mut t[i..=i + k], n, m0, m1, ov);
            let s = t[i + k + 1] as u128 + c;
            t[i + k + 1] = s as u64;
            ov = (s >> 64) as u64;
            i += 2;
        }
        let mut top = ov;
        if i < k {
            // Odd k: one last row; the pending carry sits at limb i + k = 2k - 1.
            let m = t[i].wrapping_mul(n0);
            let c = mul_add_limb(&mut t[i..i + k], n, m);
            let s = t[i + k] as u128 + c as u128 + ov as u128;
            t[i + k] = s as u64;
            top = (s >> 64) as u64;
        }
        // (t + M n) / R < 2n: one conditional subtraction makes it < n.
        out.copy_from_slice(&t[k..2 * k]);
        if top != 0 || geq(out, n) {
            sub_in_place(out, n);
        }
    }

    /// `t[..2k] = a * b` (`t` is a [`MontCtx::scratch`] buffer; its tail is Karatsuba's
    /// workspace).
    #[inline]
    fn product(&self, a: &[u64], b: &[u64], t: &mut [u64]) {
        let k = self.len();
        let (r, work) = t.split_at_mut(2 * k + 1);
        if use_karatsuba(k) {
            mul_karatsuba(&mut r[..2 * k], a, b, work);
        } else {
            mul_basecase(&mut r[..2 * k], a, b);
        }
    }

    /// `t[..2k] = a * a`.
    #[inline]
    fn square(&self, a: &[u64], t: &mut [u64]) {
        let k = self.len();
        let (r, work) = t.split_at_mut(2 * k + 1);
        if use_karatsuba(k) {
            sqr_karatsuba(&mut r[..2 * k], a, work);
        } else {
            sqr_basecase(&mut r[..2 * k], a);
        }
    }

    /// `out = a b / R mod n`.
    #[inline]
    pub(crate) fn mul(&self, a: &[u64], b: &[u64], t: &mut [u64], out: &mut [u64]) {
        self.product(a, b, t);
        self.redc(t, out);
    }

    /// `x = x b / R mod n`.
    #[inline]
    pub(crate) fn mul_assign(&self, x: &mut [u64], b: &[u64], t: &mut [u64]) {
        self.product(x, b, t);
        self.redc(t, x);
    }

    /// `out = a^2 / R mod n`.
    #[inline]
    pub(crate) fn sqr(&self, a: &[u64], t: &mut [u64], out: &mut [u64]) {
        self.square(a, t);
        self.redc(t, out);
    }

    /// `x = x^2 / R mod n`.
    #[inline]
    pub(crate) fn sqr_assign(&self, x: &mut [u64], t: &mut [u64]) {
        self.square(x, t);
        self.redc(t, x);
    }

    /// `x = x + y mod n`.
    #[inline]
    pub(crate) fn add_assign(&self, x: &mut [u64], y: &[u64]) {
        let carry = add_in_place(x, y);
        if carry || geq(x, &self.n) {
            sub_in_place(x, &self.n);
        }
    }

    /// `x = x - y mod n`.
    #[inline]
    pub(crate) fn sub_assign(&self, x: &mut [u64], y: &[u64]) {
        if sub_in_place(x, y) {
            add_in_place(x, &self.n);
        }
    }

    /// `x = 2x mod n`.
    #[inline]
    pub(crate) fn double_assign(&self, x: &mut [u64]) {
        let mut hi_bit = 0u64;
        for l in x.iter_mut() {
            let nb = *l >> 63;
            *l = (*l << 1) | hi_bit;
            hi_bit = nb;
        }
        if hi_bit != 0 || geq(x, &self.n) {
            sub_in_place(x, &self.n);
        }
    }

    /// Montgomery form of `x < n` given as `k` limbs.
    pub(crate) fn encode(&self, x: &[u64], t: &mut [u64], out: &mut [u64]) {
        self.mul(x, &self.r2, t, out);
    }

    /// Montgomery form of a `BigUint` (reduced mod `n` first).
    pub(crate) fn encode_big(&self, x: &BigUint) -> Vec<u64> {
        let n = from_limbs(&self.n);
        let xl = to_limbs(&(x % &n), self.len());
        let mut t = self.scratch();
        let mut out = vec![0; self.len()];
        self.encode(&xl, &mut t, &mut out);
        out
    }

    /// Leave Montgomery form: `x / R mod n`.
    #[cfg(test)]
    pub(crate) fn decode(&self, x: &[u64]) -> Vec<u64> {
        let mut t = self.scratch();
        t[..self.len()].copy_from_slice(x);
        let mut out = vec![0; self.len()];
        self.redc(&mut t, &mut out);
        out
    }

    /// `x = x^e` in Montgomery form, by a sliding window over the bits of `e` (little-endian
    /// limbs). `table` must hold `2^{w-1} k` limbs and `t`, `tmp` are scratch.
    pub(crate) fn pow_assign(&self, x: &mut [u64], e: &[u64], bufs: &mut PowBuffers) {
        let k = self.len();
        let bits = bit_len(e);
        if bits == 0 {
            x.copy_from_slice(&self.one);
            return;
        }
        let w = window_bits(bits);
        let PowBuffers { table, t, base_sq } = bufs;
        table.resize(k << (w - 1), 0);
        // table[j] = x^{2j+1}.
        table[..k].copy_from_slice(x);
        self.sqr(x, t, base_sq);
        for j in 1..(1usize << (w - 1)) {
            let (prev, cur) = table.split_at_mut(j * k);
            self.mul(&prev[(j - 1) * k..], base_sq, t, &mut cur[..k]);
        }
        let bit = |i: u64| (e[(i / 64) as usize] >> (i % 64)) & 1 == 1;
        // The top bit is set: start from the window that contains it.
        let mut i = bits as i64 - 1;
        let mut started = false;
        while i >= 0 {
            if !bit(i as u64) {
                self.sqr_assign(x, t);
                i -= 1;
                continue;
            }
            // Longest window [l, i] of at most w bits ending in a set bit.
            let mut l = (i - w as i64 + 1).max(0);
            while !bit(l as u64) {
                l += 1;
            }
            let mut val = 0usize;
            for j in (l..=i).rev() {
                val = (val << 1) | bit(j as u64) as usize;
            }
            let entry = &table[(val >> 1) * k..((val >> 1) + 1) * k];
            if started {
                for _ in l..=i {
                    self.sqr_assign(x, t);
                }
                self.mul_assign(x, entry, t);
            } else {
                x.copy_from_slice(entry);
                started = true;
            }
            i = l - 1;
        }
    }
}

/// Scratch space for [`MontCtx::pow_assign`], reusable across calls.
#[derive(Debug, Default)]
pub(crate) struct PowBuffers {
    table: Vec<u64>,
    t: Vec<u64>,
    base_sq: Vec<u64>,
}

impl PowBuffers {
    pub(crate) fn new(ctx: &MontCtx) -> Self {
        PowBuffers {
            table: Vec::new(),
            t: ctx.scratch(),
            base_sq: vec![0; ctx.len()],
        }
    }
}

/// Bit length of little-endian limbs.
pub(crate) fn bit_len(e: &[u64]) -> u64 {
    match e.iter().rposition(|&l| l != 0) {
        Some(i) => i as u64 * 64 + 64 - e[i].leading_zeros() as u64,
        None => 0,
    }
}

/// Window size for an exponent of `bits` bits (the thresholds of OpenSSL's
/// `BN_window_bits_for_exponent_size`).
fn window_bits(bits: u64) -> usize {
    match bits {
        672.. => 6,
        240..=671 => 5,
        80..=239 => 4,
        24..=79 => 3,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;
    use proptest::prelude::*;

    fn big(limbs: &[u64]) -> BigUint {
        from_limbs(limbs)
    }

    fn odd_modulus(mut v: Vec<u64>) -> BigUint {
        if let Some(l) = v.first_mut() {
            *l |= 1;
        }
        let n = big(&v);
        if n <= BigUint::one() {
            BigUint::from(3u8)
        } else {
            n
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn mul_sqr_pow_match_num_bigint(
            nv in proptest::collection::vec(any::<u64>(), 1..9),
            av in proptest::collection::vec(any::<u64>(), 1..9),
            bv in proptest::collection::vec(any::<u64>(), 1..9),
            ev in proptest::collection::vec(any::<u64>(), 0..5),
            top in prop_oneof![Just(u64::MAX), Just(1u64 << 63), any::<u64>()],
        ) {
            let mut nv = nv;
            if let Some(l) = nv.last_mut() { *l |= top & (1 << 63); if *l == 0 { *l = 1; } }
            let n = odd_modulus(nv);
            let ctx = MontCtx::new(&n);
            let k = ctx.len();
            let a = big(&av) % &n;
            let b = big(&bv) % &n;
            let am = ctx.encode_big(&a);
            let bm = ctx.encode_big(&b);
            let mut t = ctx.scratch();
            let mut out = vec![0; k];
            ctx.mul(&am, &bm, &mut t, &mut out);
            prop_assert_eq!(big(&ctx.decode(&out)), (&a * &b) % &n);
            ctx.sqr(&am, &mut t, &mut out);
            prop_assert_eq!(big(&ctx.decode(&out)), (&a * &a) % &n);
            let mut x = am.clone();
            ctx.add_assign(&mut x, &bm);
            prop_assert_eq!(big(&ctx.decode(&x)), (&a + &b) % &n);
            let mut x = am.clone();
            ctx.sub_assign(&mut x, &bm);
            prop_assert_eq!(big(&ctx.decode(&x)), (&a + &n - &b) % &n);
            let mut x = am.clone();
            ctx.double_assign(&mut x);
            prop_assert_eq!(big(&ctx.decode(&x)), (&a * 2u32) % &n);
            let e = big(&ev);
            let mut el = to_limbs(&e, ev.len().max(1));
            el.resize(ev.len().max(1), 0);
            let mut x = am.clone();
            let mut bufs = PowBuffers::new(&ctx);
            ctx.pow_assign(&mut x, &el, &mut bufs);
            prop_assert_eq!(big(&ctx.decode(&x)), a.modpow(&e, &n));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn karatsuba_matches_schoolbook(
            half in 1usize..40,
            seed in proptest::collection::vec(any::<u64>(), 160),
            pattern in 0u8..4,
        ) {
            let k = 2 * half;
            let mut a: Vec<u64> = seed[..k].to_vec();
            let mut b: Vec<u64> = seed[80..80 + k].to_vec();
            match pattern {
                0 => {}
                1 => { a.fill(u64::MAX); b.fill(u64::MAX); }
                2 => { a[..half].fill(0); b[half..].fill(u64::MAX); }
                _ => { a[half..].copy_from_slice(&seed[..half]); a[..half].copy_from_slice(&seed[..half]); }
            }
            let mut want = vec![0u64; 2 * k];
            let mut got = vec![0u64; 2 * k];
            let mut work = vec![0u64; KARATSUBA_WORK * half + 2];
            mul_basecase(&mut want, &a, &b);
            mul_karatsuba(&mut got, &a, &b, &mut work);
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(big(&want), big(&a) * big(&b));
            sqr_basecase(&mut want, &a);
            sqr_karatsuba(&mut got, &a, &mut work);
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(big(&want), big(&a) * big(&a));
        }

        #[test]
        fn large_moduli_match_num_bigint(
            nv in proptest::collection::vec(any::<u64>(), 20..70),
            av in proptest::collection::vec(any::<u64>(), 70),
            bv in proptest::collection::vec(any::<u64>(), 70),
        ) {
            let n = odd_modulus(nv);
            let ctx = MontCtx::new(&n);
            let k = ctx.len();
            let a = big(&av) % &n;
            let b = big(&bv) % &n;
            let am = ctx.encode_big(&a);
            let bm = ctx.encode_big(&b);
            let mut t = ctx.scratch();
            let mut out = vec![0; k];
            ctx.mul(&am, &bm, &mut t, &mut out);
            prop_assert_eq!(big(&ctx.decode(&out)), (&a * &b) % &n);
            ctx.sqr(&am, &mut t, &mut out);
            prop_assert_eq!(big(&ctx.decode(&out)), (&a * &a) % &n);
        }
    }

    #[test]
    fn extreme_operands() {
        // n = 2^128 - 159 (prime), operands n - 1.
        let n = (BigUint::one() << 128u32) - 159u32;
        let ctx = MontCtx::new(&n);
        let a = &n - 1u32;
        let am = ctx.encode_big(&a);
        let mut t = ctx.scratch();
        let mut out = vec![0; 2];
        ctx.sqr(&am, &mut t, &mut out);
        assert_eq!(big(&ctx.decode(&out)), BigUint::one());
        ctx.mul(&am, &am, &mut t, &mut out);
        assert_eq!(big(&ctx.decode(&out)), BigUint::one());
    }
}
