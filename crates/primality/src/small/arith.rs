//! Small number-theoretic helpers on `u64`: residues by small moduli, Jacobi symbols, gcd,
//! modular inverses and integer square roots.

/// `n mod m` for a small `m`: the moduli that the search for `D` and `Q` meets first are
/// constants here, so the compiler replaces the division by a multiplication.
#[cfg(test)]
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

pub(crate) fn gcd_u64(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
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

#[cfg(test)]
mod tests {
    use super::*;

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
