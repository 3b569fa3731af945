//! `cargo bench -p primality --bench factor`: `factorize` on inputs shaped so that each method
//! does the work, at several sizes:
//!
//! - `u64`: random odd 64-bit composites and products of two 32-bit primes (`factorize_u64`:
//!   rho and SQUFOF in one word);
//! - `trial`: a 256-bit product of primes below 2^16;
//! - `rho`: a 24-bit prime times a 104-bit prime (found by the first rho walk);
//! - `pm1`: a prime whose `p - 1` is 20 000-smooth times a 60-digit prime (Pollard `p - 1`);
//! - `siqs`: semiprimes with two equal halves, 30 to 60 digits (the quadratic sieve);
//! - `ecm`: a 15-digit prime times a 60- or 150-digit prime, a 20-digit prime times an
//!   80-digit prime (the elliptic curve method);
//! - `tutorial`: the tutorial's number.
//!
//! Each input is built from primes of known size with a fixed seed and checked to multiply back.

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use num_bigint::{BigRng010, BigUint};
use primality::{Effort, factorize, factorize_u64, is_prime, is_prime_u64};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::random_prime;

fn prime_of_digits(rng: &mut StdRng, digits: u32) -> BigUint {
    let lo = BigUint::from(10u8).pow(digits - 1);
    loop {
        let mut x = &lo + rng.random_biguint_below(&(&lo * 9u8));
        x.set_bit(0, true);
        while !is_prime(&x) {
            x += 2u8;
        }
        if x.to_string().len() == digits as usize {
            return x;
        }
    }
}

/// A prime `p` of about `bits` bits with `p - 1` a product of primes below `bound`.
fn smooth_prime(rng: &mut StdRng, bits: u64, bound: u64) -> BigUint {
    loop {
        let mut m = BigUint::from(2u8);
        while m.bits() < bits {
            let q = loop {
                let q = rng.next_u64() % bound;
                if is_prime_u64(q) {
                    break q;
                }
            };
            m *= q;
        }
        let p = m + 1u8;
        if is_prime(&p) {
            return p;
        }
    }
}

fn factor_checked(n: &BigUint) -> usize {
    let f = factorize(n, Effort::with_timeout(Duration::from_secs(120)));
    assert!(f.is_complete() && &f.product() == n, "{n}");
    f.factors.len()
}

fn bench_u64(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(64);
    let random: Vec<u64> = (0..1000)
        .map(|_| {
            loop {
                let n = rng.next_u64() | (1 << 63) | 1;
                if !is_prime_u64(n) {
                    break n;
                }
            }
        })
        .collect();
    let semiprimes: Vec<u64> = (0..100)
        .map(|_| {
            let p = random_prime(&mut rng, 32)
                .iter_u64_digits()
                .next()
                .unwrap_or(3);
            let q = random_prime(&mut rng, 32)
                .iter_u64_digits()
                .next()
                .unwrap_or(3);
            p.wrapping_mul(q)
        })
        .collect();
    let mut g = c.benchmark_group("factor_u64");
    for (name, inputs) in [
        ("random_composite", &random),
        ("semiprime_32x32", &semiprimes),
    ] {
        g.bench_function(name, |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % inputs.len();
                factorize_u64(black_box(inputs[i]))
            })
        });
    }
    g.finish();
}

fn bench_methods(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2026);
    let mut cases: Vec<(&str, String, BigUint)> = Vec::new();
    let small_primes = (3u64..65_536).filter(|&p| is_prime_u64(p));
    let trial = small_primes
        .step_by(97)
        .map(BigUint::from)
        .fold(BigUint::from(1u8), |acc, p| {
            if acc.bits() < 256 { acc * p } else { acc }
        });
    cases.push(("trial", "256_bits".into(), trial));
    let rho = random_prime(&mut rng, 24) * random_prime(&mut rng, 104);
    cases.push(("rho", "24x104_bits".into(), rho));
    let pm1 = smooth_prime(&mut rng, 100, 20_000) * prime_of_digits(&mut rng, 60);
    cases.push(("pm1", "100_bit_smooth_x_60_digits".into(), pm1));
    for digits in [30u32, 40, 50, 60] {
        let n =
            prime_of_digits(&mut rng, digits / 2) * prime_of_digits(&mut rng, digits - digits / 2);
        cases.push(("siqs", format!("{digits}_digits"), n));
    }
    for (a, b) in [(15u32, 60u32), (15, 150), (20, 80)] {
        let n = prime_of_digits(&mut rng, a) * prime_of_digits(&mut rng, b);
        cases.push(("ecm", format!("{a}x{b}_digits"), n));
    }
    let tutorial: BigUint = "172983479832623897492387592384682937659382477"
        .parse()
        .unwrap_or_default();
    cases.push(("tutorial", "45_digits".into(), tutorial));

    let mut g = c.benchmark_group("factorize");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    for (method, size, n) in &cases {
        factor_checked(n);
        g.bench_with_input(BenchmarkId::new(*method, size), n, |b, n| {
            b.iter(|| factor_checked(black_box(n)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_u64, bench_methods);
criterion_main!(benches);
