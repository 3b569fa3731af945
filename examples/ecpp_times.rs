//! Times `prove` and `verify` on each prime of a file (one per line; default: the bench set
//! `crates/primality/benches/ecpp_primes.txt`) and prints `digits prove_ms verify_ms steps`
//! per prime, for `scripts/ecpp-vs-pari.sh`, which runs PARI/GP on the same primes.
//!
//! ```text
//! cargo run --release -p primality --example ecpp_times -- crates/primality/benches/ecpp_primes.txt
//! ```

use std::process::ExitCode;
use std::time::Instant;

use primality::{BigUint, Effort, prove};

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "crates/primality/benches/ecpp_primes.txt".to_string());
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("cannot read {path}");
        return ExitCode::from(2);
    };
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Ok(n) = line.parse::<BigUint>() else {
            eprintln!("not a number: {line}");
            return ExitCode::from(2);
        };
        let t = Instant::now();
        let cert = match prove(&n, Effort::unlimited()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{line}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let prove_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        if let Err(e) = cert.verify() {
            eprintln!("{line}: {e}");
            return ExitCode::FAILURE;
        }
        let verify_ms = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "{} {prove_ms:.1} {verify_ms:.2} {}",
            line.len(),
            cert.steps().len()
        );
    }
    ExitCode::SUCCESS
}
