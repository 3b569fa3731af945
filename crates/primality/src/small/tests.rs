//! The hashed-base path against the Baillie-PSW reference, with every witness checked by plain
//! `u128` modular exponentiation (nothing from the Montgomery code).

use proptest::prelude::*;

use super::{U64Verdict, check_u64, hashed_base, is_prime_u64, is_prime_u64_bpsw};
use crate::trial::U64_TRIAL_LIMIT_SQUARED;

fn mulmod(a: u64, b: u64, n: u64) -> u64 {
    (a as u128 * b as u128 % n as u128) as u64
}

/// Strong probable-prime test to base `a` for odd `n > 2`, by square-and-multiply on `u128`.
fn sprp_plain(n: u64, a: u64) -> bool {
    let s = (n - 1).trailing_zeros();
    let d = (n - 1) >> s;
    let (mut x, mut base, mut e) = (1u64, a % n, d);
    while e > 0 {
        if e & 1 == 1 {
            x = mulmod(x, base, n);
        }
        base = mulmod(base, base, n);
        e >>= 1;
    }
    if x == 1 || x == n - 1 {
        return true;
    }
    for _ in 1..s {
        x = mulmod(x, x, n);
        if x == n - 1 {
            return true;
        }
    }
    false
}

/// Both paths agree on `n`, and `check_u64`'s verdict is the same with checkable evidence.
fn assert_agrees(n: u64) {
    let want = is_prime_u64_bpsw(n);
    assert_eq!(is_prime_u64(n), want, "is_prime_u64({n})");
    match check_u64(n) {
        U64Verdict::Prime => assert!(want, "check_u64({n}) = Prime"),
        U64Verdict::Neither => assert!(n < 2),
        U64Verdict::Factor(f) => {
            assert!(
                !want && f > 1 && f < n && n.is_multiple_of(f),
                "{n}: factor {f}"
            )
        }
        U64Verdict::Witness(a) => {
            assert!(!want && a > 1 && a < n - 1, "{n}: witness {a} out of range");
            assert!(n % 2 == 1 && !sprp_plain(n, a), "{n}: {a} is not a witness");
            assert!(a == 2 || a == hashed_base(n), "{n}: witness {a}");
        }
    }
}

/// The next odd number at or after `n` with no prime factor below 200 (where the strong tests
/// run), or `n` itself if there is none before 2^64.
fn next_rough(n: u64) -> u64 {
    let n = (n | 1).max(3);
    (n..n.saturating_add(4000))
        .step_by(2)
        .find(|m| (3..200u64).all(|p| m % p != 0))
        .unwrap_or(n)
}

#[test]
fn table_bases_are_usable_witnesses() {
    // Every base is at least 3 and below the smallest n that reaches the strong tests, so it is
    // a valid witness (1 < a < n - 1) and never 0 mod n.
    let bases = &machine_prime::FERMAT_WITNESS;
    assert_eq!(bases.len(), 1 << 18);
    assert!(bases.iter().all(|&b| b >= 3));
    assert!(u64::from(*bases.iter().max().unwrap_or(&0)) + 1 < U64_TRIAL_LIMIT_SQUARED);
    // The hash is machine-prime's own selector, bit for bit.
    let mut n = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..100_000 {
        assert_eq!(hashed_base(n), machine_prime::witness_selector(n), "{n}");
        n = n
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
    }
}

#[test]
fn every_n_below_2_pow_24_agrees_with_bpsw() {
    for n in 0..1u64 << 24 {
        if n < 1 << 20 || n % 2 == 1 {
            assert_agrees(n);
        }
    }
}

#[test]
fn around_2_pow_47_and_2_pow_64() {
    let edges = [1u64 << 32, 1 << 47, 1 << 63];
    for e in edges {
        for n in e - 20_000..e + 20_000 {
            assert_agrees(n);
        }
    }
    for n in u64::MAX - 40_000..=u64::MAX {
        assert_agrees(n);
    }
}

#[test]
fn base_2_pseudoprimes_fall_to_the_hashed_base() {
    // Strong base-2 pseudoprimes with no prime factor below 728 reach the second test: the
    // Wieferich squares 1093^2 and 3511^2 and every other one below 2^25 by the definition.
    let caught: Vec<u64> = (U64_TRIAL_LIMIT_SQUARED..1 << 25)
        .step_by(2)
        .filter(|&n| sprp_plain(n, 2) && (3..728).all(|p| n % p != 0))
        .filter(|&n| !is_prime_u64_bpsw(n))
        .collect();
    assert!(caught.contains(&1_194_649) && caught.contains(&12_327_121));
    assert!(caught.len() >= 10, "{caught:?}");
    for &n in &caught {
        assert_eq!(check_u64(n), U64Verdict::Witness(hashed_base(n)), "{n}");
        assert!(!sprp_plain(n, hashed_base(n)));
        assert!(!is_prime_u64(n));
    }
}

#[test]
fn squares_of_primes_above_the_trial_limit() {
    for p in (729u64..200_000)
        .step_by(2)
        .filter(|&p| is_prime_u64_bpsw(p))
    {
        assert!(!is_prime_u64(p * p), "{p}^2");
        assert_agrees(p * p);
    }
    for p in [4_294_967_291u64, 4_294_967_279] {
        assert_agrees(p * p); // squares of primes just below 2^32
    }
}

/// Every odd `n < 2^32` (every base-2 strong pseudoprime below 2^32 among them) against
/// Baillie-PSW, on two threads: minutes, so run on demand with
/// `cargo test -p primality --lib -- --ignored every_odd_n_below_2_pow_32`.
#[test]
#[ignore]
fn every_odd_n_below_2_pow_32_agrees_with_bpsw() {
    let half = 1u64 << 31;
    std::thread::scope(|scope| {
        for start in [1u64, half + 1] {
            scope.spawn(move || {
                for n in (start..start + half).step_by(2) {
                    assert_eq!(is_prime_u64(n), is_prime_u64_bpsw(n), "{n}");
                }
            });
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn random_u64_agrees_with_bpsw(n in any::<u64>()) {
        assert_agrees(n);
    }

    #[test]
    fn random_rough_u64_agrees_with_bpsw(n in any::<u64>()) {
        assert_agrees(next_rough(n));
    }

    #[test]
    fn random_u64_below_2_pow_47_agrees_with_bpsw(n in 0u64..1 << 47) {
        assert_agrees(next_rough(n));
    }

    #[test]
    fn random_rough_u64_agrees_with_machine_prime(n in any::<u64>()) {
        let n = next_rough(n);
        prop_assert_eq!(is_prime_u64(n), machine_prime::is_prime(n), "{}", n);
    }
}
