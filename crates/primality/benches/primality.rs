//! `cargo bench -p primality`: `is_prime_u64` and `is_prime` on random inputs, with
//! num-bigint's generic `modpow` (a full-size exponent) as the baseline at each size.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use num_bigint::{BigRng010, BigUint};
use num_traits::One;
use primality::{is_prime, is_prime_u64};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Independent validation of the bench inputs: strong tests with num-bigint's `modpow`.
fn sprp(n: &BigUint, a: u32) -> bool {
    let one = BigUint::one();
    let nm1 = n - &one;
    let s = nm1.trailing_zeros().unwrap_or(0);
    let d = &nm1 >> s;
    let mut x = BigUint::from(a).modpow(&d, n);
    if x == one || x == nm1 {
        return true;
    }
    for _ in 1..s {
        x = &x * &x % n;
        if x == nm1 {
            return true;
        }
    }
    false
}

fn random_odd(rng: &mut StdRng, bits: u64) -> BigUint {
    let mut x = rng.random_biguint(bits);
    x.set_bit(bits - 1, true);
    x.set_bit(0, true);
    x
}

fn random_prime(rng: &mut StdRng, bits: u64) -> BigUint {
    loop {
        let mut x = random_odd(rng, bits);
        while !is_prime(&x) {
            x += 2u8;
        }
        if x.bits() == bits {
            assert!(
                [2, 3, 5, 7].iter().all(|&a| sprp(&x, a)),
                "bench input {x} failed validation"
            );
            return x;
        }
    }
}

fn bench_u64(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0x5eed_0001);
    let mut primes = Vec::new();
    let mut composites = Vec::new();
    while primes.len() < 1000 || composites.len() < 1000 {
        let n = rng.next_u64() | (1 << 63) | 1;
        let big = BigUint::from(n);
        let p = [2u32, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]
            .iter()
            .all(|&a| sprp(&big, a));
        assert_eq!(p, is_prime_u64(n), "{n}");
        if p && primes.len() < 1000 {
            primes.push(n);
        } else if !p && composites.len() < 1000 {
            composites.push(n);
        }
    }
    let mut g = c.benchmark_group("is_prime_u64");
    for (name, inputs) in [("prime", &primes), ("odd_composite", &composites)] {
        g.bench_function(name, |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % inputs.len();
                is_prime_u64(black_box(inputs[i]))
            })
        });
    }
    g.finish();
}

fn settings(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, bits: u64) {
    if bits >= 2048 {
        g.sample_size(10)
            .measurement_time(Duration::from_secs(8))
            .warm_up_time(Duration::from_secs(1));
    } else {
        g.sample_size(30)
            .measurement_time(Duration::from_secs(4))
            .warm_up_time(Duration::from_secs(1));
    }
}

fn bench_big(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0x5eed_0002);
    for bits in [256u64, 512, 1024, 2048, 4096] {
        let count = match bits {
            4096 => 3,
            2048 => 6,
            _ => 16,
        };
        let primes: Vec<BigUint> = (0..count).map(|_| random_prime(&mut rng, bits)).collect();
        let mut g = c.benchmark_group(format!("{bits}_bit"));
        settings(&mut g, bits);
        g.bench_function(BenchmarkId::new("is_prime", "prime"), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % primes.len();
                is_prime(black_box(&primes[i]))
            })
        });
        // Baseline: one num-bigint modpow with a full-size exponent (n - 1) modulo the same primes.
        let bases: Vec<BigUint> = primes.iter().map(|p| rng.random_biguint_below(p)).collect();
        g.bench_function(BenchmarkId::new("modpow_baseline", "num-bigint"), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % primes.len();
                let e = &primes[i] - 1u8;
                black_box(&bases[i]).modpow(&e, &primes[i])
            })
        });
        if bits == 2048 {
            let mut composites = Vec::new();
            while composites.len() < 1000 {
                let n = random_odd(&mut rng, bits);
                if !is_prime(&n) {
                    composites.push(n);
                }
            }
            g.bench_function(BenchmarkId::new("is_prime", "odd_composite"), |b| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % composites.len();
                    is_prime(black_box(&composites[i]))
                })
            });
            let semiprimes: Vec<BigUint> = (0..4)
                .map(|_| random_prime(&mut rng, 1024) * random_prime(&mut rng, 1024))
                .collect();
            g.bench_function(BenchmarkId::new("is_prime", "semiprime"), |b| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % semiprimes.len();
                    is_prime(black_box(&semiprimes[i]))
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench_u64, bench_big);
criterion_main!(benches);
