//! `cargo bench -p primality --features peers --bench vs_peers`: `is_prime` beside GMP's
//! `mpz_probab_prime_p(n, 25)` (through `rug`, on the system's libgmp) and machine-prime, on
//! the same inputs in the same run: the tutorial's number (composite), 64-bit primes, and
//! primes of 128, 192 and 256 bits (machine-prime's `is_prime_128` at 128 bits).
//!
//! Each peer's answer is checked against ours on every input before timing.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use num_bigint::BigUint;
use primality::{is_prime, is_prime_u64};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rug::Integer;
use rug::integer::IsPrime;
use support::random_prime;

const TUTORIAL: &str = "172983479832623897492387592384682937659382477";

fn gmp_is_prime(n: &Integer) -> bool {
    n.is_probably_prime(25) != IsPrime::No
}

fn to_rug(n: &BigUint) -> Integer {
    Integer::from_str_radix(&n.to_str_radix(16), 16).unwrap_or_default()
}

fn bench_tutorial(c: &mut Criterion) {
    let n: BigUint = TUTORIAL.parse().unwrap_or_default();
    let g_n = to_rug(&n);
    assert!(!is_prime(&n) && !gmp_is_prime(&g_n));
    let mut g = c.benchmark_group("tutorial");
    g.bench_function("primality", |b| b.iter(|| is_prime(black_box(&n))));
    g.bench_function("gmp", |b| b.iter(|| gmp_is_prime(black_box(&g_n))));
    g.finish();
}

fn bench_u64(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0x5eed_0001);
    let primes: Vec<u64> = (0..1000)
        .map(|_| {
            loop {
                let n = rng.next_u64() | (1 << 63) | 1;
                if is_prime_u64(n) {
                    break n;
                }
            }
        })
        .collect();
    for &p in &primes {
        assert!(machine_prime::is_prime(p), "{p}");
    }
    let mut g = c.benchmark_group("prime_u64");
    let mut i = 0;
    g.bench_function("primality", |b| {
        b.iter(|| {
            i = (i + 1) % primes.len();
            is_prime_u64(black_box(primes[i]))
        })
    });
    let mut i = 0;
    g.bench_function("machine_prime", |b| {
        b.iter(|| {
            i = (i + 1) % primes.len();
            machine_prime::is_prime(black_box(primes[i]))
        })
    });
    g.finish();
}

fn bench_big(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0x5eed_0002);
    for bits in [128u64, 192, 256] {
        let primes: Vec<BigUint> = (0..100).map(|_| random_prime(&mut rng, bits)).collect();
        let gmp: Vec<Integer> = primes.iter().map(to_rug).collect();
        assert!(gmp.iter().all(gmp_is_prime));
        let mut g = c.benchmark_group(format!("prime_{bits}"));
        let mut i = 0;
        g.bench_function("primality", |b| {
            b.iter(|| {
                i = (i + 1) % primes.len();
                is_prime(black_box(&primes[i]))
            })
        });
        let mut i = 0;
        g.bench_function("gmp", |b| {
            b.iter(|| {
                i = (i + 1) % gmp.len();
                gmp_is_prime(black_box(&gmp[i]))
            })
        });
        if bits == 128 {
            let wide: Vec<u128> = primes
                .iter()
                .map(|p| {
                    let d: Vec<u64> = p.iter_u64_digits().collect();
                    (d[1] as u128) << 64 | d[0] as u128
                })
                .collect();
            assert!(wide.iter().all(|&p| machine_prime::is_prime_128(p)));
            let mut i = 0;
            g.bench_function("machine_prime", |b| {
                b.iter(|| {
                    i = (i + 1) % wide.len();
                    machine_prime::is_prime_128(black_box(wide[i]))
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench_tutorial, bench_u64, bench_big);
criterion_main!(benches);
