//! Factors integers and times each factorisation; also makes the benchmark sets that
//! `scripts/factor-vs-pari.sh` gives to this program and to PARI/GP alike.
//!
//! ```text
//! cargo run --release --example factor -- 172983479832623897492387592384682937659382477
//! 0.000712 172983479832623897492387592384682937659382477 = 9020941 * 47434853 * 404254839687862545241277653549
//!
//! cargo run --release --example factor -- --gen p20xp80 10 > set.txt   # 10 numbers, seed 1
//! cargo run --release --example factor -- --budget-ms 60000 - < set.txt
//! ```
//!
//! Each output line is `seconds n = factorisation` (wall clock of `factorize` alone, the mean of
//! `--repeat R` calls); the last line on stderr is the median over the numbers. Sets (`--gen SET COUNT [SEED]`): `tutorial`, `u64` (random odd
//! 64-bit composites), `semi128` (products of two random 64-bit primes), `pAxpB` (a random
//! A-digit prime times a random B-digit prime, e.g. `p20xp80`, `p15xp150`).

use std::io::BufRead;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use num_bigint::{BigRng010, BigUint};
use primality::{Effort, factorize, is_prime, is_prime_u64};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TUTORIAL: &str = "172983479832623897492387592384682937659382477";

/// A random prime of exactly `digits` decimal digits.
fn prime_of_digits(rng: &mut StdRng, digits: u32) -> BigUint {
    let lo = BigUint::from(10u8).pow(digits - 1);
    let span = &lo * 9u8;
    loop {
        let mut x = &lo + rng.random_biguint_below(&span);
        x.set_bit(0, true);
        while !is_prime(&x) {
            x += 2u8;
        }
        if x.to_string().len() == digits as usize {
            return x;
        }
    }
}

/// A random 64-bit prime.
fn prime_u64(rng: &mut StdRng) -> u64 {
    loop {
        let mut x = rng.next_u64() | (1 << 63) | 1;
        while !is_prime_u64(x) && x < u64::MAX - 2 {
            x += 2;
        }
        if is_prime_u64(x) {
            return x;
        }
    }
}

/// The numbers of a set, one per line.
fn generate(set: &str, count: usize, seed: u64) -> Result<Vec<BigUint>, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(count);
    if set == "tutorial" {
        let n: BigUint = TUTORIAL.parse().map_err(|_| "tutorial".to_string())?;
        return Ok(vec![n; count]);
    }
    for _ in 0..count {
        let n = match set {
            "u64" => loop {
                let x = rng.next_u64() | (1 << 63) | 1;
                if !is_prime_u64(x) {
                    break BigUint::from(x);
                }
            },
            "semi128" => BigUint::from(prime_u64(&mut rng)) * prime_u64(&mut rng),
            _ => {
                let (a, b) = set
                    .strip_prefix('p')
                    .and_then(|s| s.split_once("xp"))
                    .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                    .filter(|&(a, b): &(u32, u32)| {
                        (2..=1000).contains(&a) && (2..=1000).contains(&b)
                    })
                    .ok_or_else(|| format!("unknown set {set:?}"))?;
                prime_of_digits(&mut rng, a) * prime_of_digits(&mut rng, b)
            }
        };
        out.push(n);
    }
    Ok(out)
}

fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    match times.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => times[n / 2],
        n => (times[n / 2 - 1] + times[n / 2]) / 2.0,
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let mut budget = Duration::from_secs(3600);
    let mut repeat = 1u32;
    let mut numbers: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--budget-ms" => {
                let ms: u64 = args
                    .get(i + 1)
                    .and_then(|s| s.parse().ok())
                    .ok_or("--budget-ms N")?;
                budget = Duration::from_millis(ms);
                i += 1;
            }
            "--repeat" => {
                repeat = args
                    .get(i + 1)
                    .and_then(|s| s.parse().ok())
                    .filter(|&r| r > 0)
                    .ok_or("--repeat R")?;
                i += 1;
            }
            "--gen" => {
                let set = args.get(i + 1).ok_or("--gen SET COUNT [SEED]")?;
                let count = args.get(i + 2).and_then(|s| s.parse().ok()).unwrap_or(10);
                let seed = args.get(i + 3).and_then(|s| s.parse().ok()).unwrap_or(1);
                for n in generate(set, count, seed)? {
                    println!("{n}");
                }
                return Ok(());
            }
            "-" => {
                for line in std::io::stdin().lock().lines() {
                    let line = line.map_err(|e| e.to_string())?;
                    numbers.extend(line.split_whitespace().map(str::to_string));
                }
            }
            other => numbers.push(other.to_string()),
        }
        i += 1;
    }
    let mut times = Vec::with_capacity(numbers.len());
    for text in &numbers {
        let n: BigUint = text.parse().map_err(|_| format!("not a number: {text}"))?;
        let start = Instant::now();
        let mut f = factorize(&n, Effort::with_timeout(budget));
        for _ in 1..repeat {
            f = factorize(&n, Effort::with_timeout(budget));
        }
        let secs = start.elapsed().as_secs_f64() / f64::from(repeat);
        assert_eq!(f.product(), n, "the factors of {n} do not multiply back");
        times.push(secs);
        println!("{secs:.9} {n} = {f}");
    }
    eprintln!("median {:.9} s over {}", median(&mut times), times.len());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("factor: {e}");
            ExitCode::from(2)
        }
    }
}
