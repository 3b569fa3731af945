//! Property tests against independent references: trial division for small n, and a plain
//! num-bigint `modpow` Miller-Rabin for large n.

use crate::common::{assert_evidence, ref_is_prime, ref_is_prime_u64, sprp_big, trial_is_prime};
use num_bigint::{BigInt, BigUint};
use num_traits::One;
use primality::{
    Verdict, check, check_signed, is_prime, is_prime_signed, is_prime_u64, miller_rabin,
};
use proptest::prelude::*;
use rand::SeedableRng;

fn big_from_limbs(limbs: &[u64]) -> BigUint {
    let mut x = BigUint::default();
    for &l in limbs.iter().rev() {
        x = (x << 64u32) + l;
    }
    x
}

/// A random odd number of exactly `bits` bits.
fn odd_with_bits(limbs: &[u64], bits: u64) -> BigUint {
    let mut x = big_from_limbs(limbs) & ((BigUint::one() << bits) - 1u8);
    x.set_bit(bits - 1, true);
    x.set_bit(0, true);
    x
}

/// The next prime at or above `x` by the reference test (25 prime bases).
fn next_prime_ref(mut x: BigUint) -> BigUint {
    x.set_bit(0, true);
    while !ref_is_prime(&x, 25) {
        x += 2u8;
    }
    x
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn u32_range_matches_trial_division(n in any::<u32>()) {
        let n = n as u64;
        prop_assert_eq!(is_prime_u64(n), trial_is_prime(n));
        let v = check(&BigUint::from(n));
        prop_assert_eq!(v.is_prime(), trial_is_prime(n));
        assert_evidence(&BigUint::from(n), &v);
    }

    #[test]
    fn u64_matches_twelve_base_miller_rabin(n in any::<u64>()) {
        let want = ref_is_prime_u64(n);
        prop_assert_eq!(is_prime_u64(n), want);
        prop_assert_eq!(is_prime(&BigUint::from(n)), want);
        let v = check(&BigUint::from(n));
        prop_assert_eq!(v.is_prime(), want);
        assert_evidence(&BigUint::from(n), &v);
    }

    #[test]
    fn odd_u64_with_no_small_factor(n in any::<u64>()) {
        // Bias towards numbers that reach the Baillie-PSW stage.
        let n = (n | 1).max(3);
        let n = (n..n.saturating_add(2000)).step_by(2).find(|m| (3..200u64).all(|p| m % p != 0)).unwrap_or(n);
        prop_assert_eq!(is_prime_u64(n), ref_is_prime_u64(n), "{}", n);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_odd_numbers_65_to_600_bits(limbs in proptest::collection::vec(any::<u64>(), 10), bits in 65u64..600) {
        let n = odd_with_bits(&limbs, bits);
        let want = ref_is_prime(&n, 25);
        prop_assert_eq!(is_prime(&n), want, "{}", n);
        let v = check(&n);
        prop_assert_eq!(v.is_prime(), want);
        assert_evidence(&n, &v);
    }

    #[test]
    fn random_primes_and_nearby(limbs in proptest::collection::vec(any::<u64>(), 5), bits in 65u64..320) {
        let p = next_prime_ref(odd_with_bits(&limbs, bits));
        prop_assert!(is_prime(&p), "{}", p);
        prop_assert_eq!(check(&p), Verdict::ProbablePrime);
        for delta in [2u32, 4, 6] {
            let m = &p + delta;
            prop_assert_eq!(is_prime(&m), ref_is_prime(&m, 25), "{}", m);
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(bits);
        prop_assert!(miller_rabin(&p, 5, &mut rng));
    }

    #[test]
    fn products_of_two_random_primes(a in proptest::collection::vec(any::<u64>(), 3), b in proptest::collection::vec(any::<u64>(), 3), ba in 33u64..160, bb in 33u64..160) {
        let p = next_prime_ref(odd_with_bits(&a, ba));
        let q = next_prime_ref(odd_with_bits(&b, bb));
        let n = &p * &q;
        prop_assert!(!is_prime(&n));
        let v = check(&n);
        prop_assert!(matches!(v, Verdict::Composite(_)));
        assert_evidence(&n, &v);
        let mut rng = rand::rngs::StdRng::seed_from_u64(ba * 1000 + bb);
        prop_assert!(!miller_rabin(&n, 10, &mut rng));
    }

    #[test]
    fn signed_input(x in any::<i64>()) {
        let n = BigInt::from(x);
        let want = x >= 2 && ref_is_prime_u64(x as u64);
        prop_assert_eq!(is_prime_signed(&n), want);
        let v = check_signed(&n);
        prop_assert_eq!(v.is_prime(), want);
        if x < 2 {
            prop_assert_eq!(v, Verdict::Neither);
        }
    }

    #[test]
    fn miller_rabin_witnesses_are_real(limbs in proptest::collection::vec(any::<u64>(), 4), bits in 3u64..256) {
        // miller_rabin says "composite" only for composites, and primes always pass.
        let n = odd_with_bits(&limbs, bits.max(3));
        let mut rng = rand::rngs::StdRng::seed_from_u64(bits);
        let mr = miller_rabin(&n, 8, &mut rng);
        let want = ref_is_prime(&n, 25);
        if want {
            prop_assert!(mr);
        } else {
            // A composite passes 8 random rounds with probability below 4^-8.
            prop_assert!(!mr || sprp_big(&n, &BigUint::from(2u8)));
        }
    }
}
