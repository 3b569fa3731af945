//! Every n below 10^6 against a sieve, with the evidence of every composite checked.

use crate::common::{assert_evidence, sieve};
use num_bigint::BigUint;
use primality::{Verdict, check, is_prime, is_prime_u64, miller_rabin};
use rand::SeedableRng;

const LIMIT: usize = 1_000_000;

#[test]
fn every_n_below_one_million_matches_the_sieve() {
    let primes = sieve(LIMIT);
    let mut count = 0;
    for (n, &want) in primes.iter().enumerate() {
        let n64 = n as u64;
        assert_eq!(is_prime_u64(n64), want, "is_prime_u64({n})");
        count += want as usize;
    }
    assert_eq!(count, 78_498); // pi(10^6)
}

#[test]
fn every_n_below_one_million_check_and_is_prime() {
    let primes = sieve(LIMIT);
    for (n, &want) in primes.iter().enumerate() {
        let big = BigUint::from(n);
        assert_eq!(is_prime(&big), want, "is_prime({n})");
        let v = check(&big);
        assert_eq!(v.is_prime(), want, "check({n}) = {v:?}");
        if want {
            assert_eq!(v, Verdict::Prime);
        }
        assert_evidence(&big, &v);
    }
}

#[test]
fn miller_rabin_below_ten_thousand() {
    let primes = sieve(10_000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for (n, &want) in primes.iter().enumerate() {
        let got = miller_rabin(&BigUint::from(n), 20, &mut rng);
        // Primes always pass; a composite passes 20 random rounds with probability < 4^-20.
        assert_eq!(got, want, "miller_rabin({n})");
    }
}
