//! Montgomery arithmetic on a single `u64` modulus (`R = 2^64`), products in `u128`.

/// Montgomery arithmetic modulo an odd `n > 1`, with `R = 2^64`. Residues are kept in
/// `[0, n)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mont64 {
    pub(crate) n: u64,
    /// `n^{-1} mod 2^64`.
    ninv: u64,
    /// `R mod n`, the Montgomery form of 1.
    pub(crate) one: u64,
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
    /// correction remains on the critical path. (The step of the reference Lucas chain.)
    #[cfg(test)]
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

    /// Into Montgomery form (`x` may be any `u64`): `x R mod n`, one 128-by-64-bit remainder.
    #[inline(always)]
    pub(crate) fn encode(&self, x: u64) -> u64 {
        (((x as u128) << 64) % self.n as u128) as u64
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
}
