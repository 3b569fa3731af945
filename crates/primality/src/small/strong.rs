//! Strong probable-prime (Miller-Rabin) tests of a `u64` in Montgomery form.

use super::mont64::Mont64;

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
pub(crate) fn strong_test_base2(mont: &Mont64) -> bool {
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
