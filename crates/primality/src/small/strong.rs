//! Strong probable-prime (Miller-Rabin) tests of a `u64` in Montgomery form.

use std::hint::select_unpredictable;

use super::mont64::Mont64;

/// Strong probable-prime test to base `a` for odd `n > 3` (`a` is reduced mod `n`; a base
/// `≡ 0, ±1 (mod n)` always passes).
pub(crate) fn strong_test(mont: &Mont64, a: u64) -> bool {
    let n = mont.n;
    let nm1 = n - 1;
    let s = nm1.trailing_zeros();
    let d = nm1 >> s;
    let am = mont.encode(a);
    if am == 0 {
        return true;
    }
    strong_tail(mont, mont.pow(am, d), s)
}

/// The end of a strong test: `x = a^d` (Montgomery form) with `n - 1 = d 2^s`; `true` if
/// `x = ±1` or one of `x^2, ..., x^(2^(s-1))` is `-1`.
#[inline(always)]
fn strong_tail(mont: &Mont64, mut x: u64, s: u32) -> bool {
    let one = mont.one;
    let minus_one = mont.n - one;
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

/// Strong tests to base 2 and to base `b` (`2 < b < n`) of odd `n > 3`: `None` if `n` passes
/// both, else the first base it fails (2 before `b`).
///
/// Both exponentiations share the exponent `d` and run interleaved in one loop: each
/// Montgomery product waits for the one before it in its own chain (about a dozen cycles of
/// multiplier latency) while the other chain's products fill the gap, so for a prime the two
/// tests take little longer than one. Base 2 goes left to right with a modular doubling per set
/// bit; base `b` right to left (`acc *= b^(2^i)` for each set bit `i`), so neither chain waits
/// for the other's squarings. The selects are branch-free because the bits of `d` are random.
pub(crate) fn strong_test_2_and(mont: &Mont64, b: u64) -> Option<u64> {
    let n = mont.n;
    debug_assert!(n % 2 == 1 && b > 2 && b < n);
    let nm1 = n - 1;
    let s = nm1.trailing_zeros();
    let d = nm1 >> s; // odd, >= 1
    let top = 63 - d.leading_zeros();
    let mut x = mont.add(mont.one, mont.one); // 2^1, the top bit of d
    let mut acc = mont.one;
    let mut pow_b = mont.encode(b); // b^(2^i)
    for i in 0..top {
        x = mont.sqr(x);
        let doubled = mont.add(x, x);
        x = select_unpredictable((d >> (top - 1 - i)) & 1 == 1, doubled, x);
        let product = mont.mul(acc, pow_b);
        acc = select_unpredictable((d >> i) & 1 == 1, product, acc);
        pow_b = mont.sqr(pow_b);
    }
    let y = mont.mul(acc, pow_b); // the top bit of d
    if !strong_tail(mont, x, s) {
        Some(2)
    } else if !strong_tail(mont, y, s) {
        Some(b)
    } else {
        None
    }
}

/// Strong test to base 2, where each multiplication by the base is a modular doubling (the
/// first half of Baillie-PSW, kept as the reference the tests compare the exact path with).
#[cfg(test)]
pub(crate) fn strong_test_base2(mont: &Mont64) -> bool {
    let nm1 = mont.n - 1;
    let s = nm1.trailing_zeros();
    let d = nm1 >> s; // odd, >= 1
    let mut x = mont.add(mont.one, mont.one);
    let top = 63 - d.leading_zeros();
    for i in (0..top).rev() {
        x = mont.sqr(x);
        if (d >> i) & 1 == 1 {
            x = mont.add(x, x);
        }
    }
    strong_tail(mont, x, s)
}
