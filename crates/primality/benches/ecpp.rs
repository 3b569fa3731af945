//! `prove` and `verify` at 50, 100, 200 and 300 digits, on the first prime of each size in
//! `ecpp_primes.txt` (PARI/GP's times on the same primes: `scripts/ecpp-vs-pari.sh`).
//!
//! ```text
//! cargo bench -p primality --bench ecpp
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use primality::{BigUint, Effort, prove};

const PRIMES: &str = include_str!("ecpp_primes.txt");

fn first_of_each_size() -> Vec<BigUint> {
    let mut out: Vec<BigUint> = Vec::new();
    for line in PRIMES.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if out.last().is_none_or(|p| p.to_string().len() != line.len()) {
            out.push(line.parse().expect("a decimal prime"));
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("ecpp");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(5));
    for p in first_of_each_size() {
        let digits = p.to_string().len();
        group.bench_function(format!("prove/{digits}"), |b| {
            b.iter(|| prove(black_box(&p), Effort::unlimited()).expect("prime"))
        });
        let cert = prove(&p, Effort::unlimited()).expect("prime");
        group.bench_function(format!("verify/{digits}"), |b| {
            b.iter(|| black_box(&cert).verify().expect("valid"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
