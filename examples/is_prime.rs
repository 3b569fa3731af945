//! Prints the primality verdict of each integer given on the command line, with evidence.
//!
//! ```text
//! cargo run --release --example is_prime -- 172983479832623897492387592384682937659382477
//! 172983479832623897492387592384682937659382477 is composite: witness 2 (a Miller-Rabin witness base)
//! ```

use std::process::ExitCode;

use primality::{BigInt, Evidence, Verdict, check_signed};

fn describe(n: &BigInt) -> String {
    match check_signed(n) {
        Verdict::Prime => format!("{n} is prime"),
        Verdict::ProbablePrime => format!("{n} is a probable prime (passed Baillie-PSW)"),
        Verdict::Composite(Evidence::Factor(f)) => {
            format!(
                "{n} is composite: factor {f} (n = {f} * {})",
                n.magnitude() / &f
            )
        }
        Verdict::Composite(Evidence::Witness(a)) => {
            format!("{n} is composite: witness {a} (a Miller-Rabin witness base)")
        }
        Verdict::Neither => format!("{n} is neither prime nor composite"),
    }
}

fn parse(arg: &str) -> Option<BigInt> {
    let digits = arg.strip_prefix(['-', '+']).unwrap_or(arg);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    arg.parse().ok()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: is_prime N [N ...]   (decimal integers, optionally signed)");
        return ExitCode::from(2);
    }
    let mut status = ExitCode::SUCCESS;
    for arg in &args {
        match parse(arg) {
            Some(n) => println!("{}", describe(&n)),
            None => {
                eprintln!("error: {arg:?} is not a decimal integer");
                status = ExitCode::from(2);
            }
        }
    }
    status
}
