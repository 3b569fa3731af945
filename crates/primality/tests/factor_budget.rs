//! `factorize` within its time budget, in a test binary of its own: the tests in `primality/`
//! run in parallel on the same cores and would delay this one's wall clock by their work.
#![allow(clippy::unwrap_used)]

#[path = "primality/factor_support.rs"]
mod factor_support;

use std::time::{Duration, Instant};

use primality::{Effort, factorize};
use rand::SeedableRng;
use rand::rngs::StdRng;

use factor_support::{assert_valid, random_prime};

/// A 2048-bit product of two 1024-bit primes: incomplete, the whole number as the cofactor,
/// and back within its budget plus 10 %.
#[test]
fn budgets_are_honoured() {
    let mut rng = StdRng::seed_from_u64(2048);
    let n = random_prime(&mut rng, 1024) * random_prime(&mut rng, 1024);
    for ms in [300u64, 1000] {
        let budget = Duration::from_millis(ms);
        let start = Instant::now();
        let f = factorize(&n, Effort::with_timeout(budget));
        let took = start.elapsed();
        assert_valid(&n, &f);
        assert_eq!(f.cofactor.as_ref(), Some(&n));
        // Budget + 10 %, and never less than 50 ms of slack: the machine has two shared cores,
        // so a thread can be descheduled for tens of milliseconds after its deadline.
        let slack = (budget / 10).max(Duration::from_millis(50));
        assert!(took <= budget + slack, "budget {budget:?}, took {took:?}");
    }
    // A budget already spent still answers, at once.
    let start = Instant::now();
    let f = factorize(&n, Effort::with_timeout(Duration::ZERO));
    assert_valid(&n, &f);
    assert!(start.elapsed() < Duration::from_millis(100));
}
