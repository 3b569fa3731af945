//! Runs `is_prime_u64` or machine-prime's `is_prime` over the `vs_peers` bench's 1000 random
//! 64-bit primes (same seed), for counting instructions under callgrind, where a shared VM's
//! timing noise does not reach:
//!
//! ```text
//! cargo build --profile bench -p primality --features peers --example u64_instructions
//! valgrind --tool=callgrind --toggle-collect='u64_instructions::run*' \
//!     target/release/examples/u64_instructions primality
//! ```
//!
//! The instructions inside `run_*` divided by 1000 are the cost of one test; the primes are
//! made (with machine-prime, for both) outside the counted functions.

use std::hint::black_box;
use std::process::ExitCode;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The bench's primes: odd 64-bit numbers with the top bit set, seed `0x5eed_0001`.
fn primes() -> Vec<u64> {
    let mut rng = StdRng::seed_from_u64(0x5eed_0001);
    (0..1000)
        .map(|_| {
            loop {
                let n = rng.next_u64() | (1 << 63) | 1;
                if machine_prime::is_prime(n) {
                    break n;
                }
            }
        })
        .collect()
}

#[inline(never)]
fn run_primality(ns: &[u64]) -> usize {
    ns.iter()
        .filter(|&&n| primality::is_prime_u64(black_box(n)))
        .count()
}

#[inline(never)]
fn run_machine_prime(ns: &[u64]) -> usize {
    ns.iter()
        .filter(|&&n| machine_prime::is_prime(black_box(n)))
        .count()
}

fn main() -> ExitCode {
    let ns = primes();
    let found = match std::env::args().nth(1).as_deref() {
        Some("primality") => run_primality(&ns),
        Some("machine_prime") => run_machine_prime(&ns),
        _ => {
            eprintln!("usage: u64_instructions primality|machine_prime");
            return ExitCode::FAILURE;
        }
    };
    println!("{found} of {} primes", ns.len());
    if found == ns.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
