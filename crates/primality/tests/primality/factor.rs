//! `factorize` against published tables (Fermat numbers, the Cunningham table of 2^n - 1,
//! RSA-100, Carmichael numbers), against PARI/GP on random products of primes of chosen sizes
//! (when `gp` is installed), against products it is given to split, and within its budget.
//!
//! Every factorisation is also checked without the engine's own word: the factors multiply back
//! to the number, each passes `check` (and so does nothing else: an unsplit part is composite),
//! and they come ascending without repeats.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::factor_support::{assert_valid, random_prime};
use num_bigint::BigUint;
use num_traits::One;
use primality::{Effort, Factorization, factorize, is_prime};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Generous for what must finish (the whole file runs in seconds): a budget only stops a
/// runaway search.
const PLENTY: Duration = Duration::from_secs(30);

fn big(s: &str) -> BigUint {
    s.parse().unwrap()
}

fn pow2(e: u32) -> BigUint {
    BigUint::one() << e
}

/// The factors with multiplicity, as decimal strings.
fn flat(f: &Factorization) -> Vec<String> {
    f.primes().map(ToString::to_string).collect()
}

fn factor_fully(n: &BigUint) -> Factorization {
    let f = factorize(n, Effort::with_timeout(PLENTY));
    assert_valid(n, &f);
    assert!(f.is_complete(), "{n} not factored: {f}");
    f
}

/// Fermat numbers F5 to F8 and their known factors (Euler 1732; Landry 1880; Morrison and
/// Brillhart 1970; Brent and Pollard 1980), and F9's smallest factor (Western 1903) with the
/// rest left unsplit within a short budget.
#[test]
fn fermat_numbers() {
    let fermat = |k: u32| pow2(1 << k) + 1u8;
    let known: [(u32, &[&str]); 4] = [
        (5, &["641", "6700417"]),
        (6, &["274177", "67280421310721"]),
        (7, &["59649589127497217", "5704689200685129054721"]),
        (
            8,
            &[
                "1238926361552897",
                "93461639715357977769163558199606896584051237541638188580280321",
            ],
        ),
    ];
    for (k, factors) in known {
        let n = fermat(k);
        assert_eq!(flat(&factor_fully(&n)), factors, "F{k}");
    }
    let f9 = fermat(9);
    let f = factorize(&f9, Effort::with_timeout(Duration::from_millis(300)));
    assert_valid(&f9, &f);
    assert_eq!(f.factors, [(BigUint::from(2_424_833u32), 1)]);
    assert!(!f.is_complete());
}

/// The Cunningham table's 2^n - 1 for n ≤ 200, every one completely factored (by Cunningham,
/// Brillhart, Wagstaff et al.); the table in `data/` is PARI/GP's `factor(2^n-1)`, and is checked
/// here too (product and primality of every entry) before it is compared.
#[test]
fn cunningham_2n_minus_1_up_to_200() {
    let table = include_str!("data/cunningham_2n_minus_1.txt");
    let mut rows = 0;
    for line in table.lines().filter(|l| !l.starts_with('#')) {
        let (n, factors) = line.split_once(':').unwrap();
        let n: u32 = n.trim().parse().unwrap();
        let expect: Vec<String> = factors.split_whitespace().map(str::to_string).collect();
        let m = pow2(n) - 1u8;
        let product = expect.iter().fold(BigUint::one(), |acc, p| acc * big(p));
        assert_eq!(product, m, "table row {n}");
        assert!(expect.iter().all(|p| is_prime(&big(p))), "table row {n}");
        assert_eq!(flat(&factor_fully(&m)), expect, "2^{n} - 1");
        rows += 1;
    }
    assert_eq!(rows, 199);
}

/// RSA-100 (RSA Laboratories 1991; factored by Lenstra et al.): its factors multiply back to it,
/// and a short budget leaves it unsplit, answered as the cofactor, on time.
#[test]
fn rsa_100_is_not_split_in_a_short_budget() {
    let rsa100 = big(
        "1522605027922533360535618378132637429718068114961380688657908494580122963258952897654000350692006139",
    );
    let p = big("37975227936943673922808872755445627854565536638199");
    let q = big("40094690950920881030683735292761468389214899724061");
    assert_eq!(&p * &q, rsa100);
    assert!(is_prime(&p) && is_prime(&q));
    let budget = Duration::from_millis(200);
    let start = Instant::now();
    let f = factorize(&rsa100, Effort::with_timeout(budget));
    let took = start.elapsed();
    assert_valid(&rsa100, &f);
    assert!(f.factors.is_empty(), "{f}");
    assert_eq!(f.cofactor.as_ref(), Some(&rsa100));
    assert!(took < budget + budget / 10, "{took:?}");
}

/// Carmichael numbers (OEIS A002997) factored, and Korselt's criterion (squarefree, `p - 1`
/// divides `n - 1` for every prime factor) checked on the factors found: the first published
/// terms, and Chernick's `(6k+1)(12k+1)(18k+1)` from 64 to 190 bits.
#[test]
fn carmichael_numbers() {
    let korselt = |n: &BigUint, f: &Factorization| {
        assert!(f.factors.len() >= 3, "{n} = {f}");
        for (p, e) in &f.factors {
            assert_eq!(*e, 1, "{n} = {f}");
            assert!(((n - 1u8) % (p - 1u8)) == BigUint::ZERO, "{n} = {f}");
        }
    };
    for n in [
        561u64, 1105, 1729, 2465, 2821, 6601, 8911, 10585, 15841, 29341, 41041, 46657, 52633,
        62745, 63973, 75361, 101101, 115921, 126217, 162401, 172081, 188461, 252601, 278545,
    ] {
        let n = BigUint::from(n);
        korselt(&n, &factor_fully(&n));
    }
    let mut rng = StdRng::seed_from_u64(1729);
    for bits in [64u64, 96, 128, 160, 190] {
        // k of about (bits - 10) / 3 bits, so that n = 1296 k^3 + ... has about `bits` bits.
        let kbits = (bits - 10) / 3;
        let mut k = (rng.next_u64() >> (64 - kbits)) | (1 << (kbits - 1));
        let (a, b, c) = loop {
            let (a, b, c) = (6 * k as u128 + 1, 12 * k as u128 + 1, 18 * k as u128 + 1);
            if [a, b, c].iter().all(|&x| is_prime(&BigUint::from(x))) {
                break (a, b, c);
            }
            k += 1;
        };
        let n = BigUint::from(a) * b * c;
        let f = factor_fully(&n);
        korselt(&n, &f);
        assert_eq!(
            flat(&f),
            [a.to_string(), b.to_string(), c.to_string()],
            "{bits} bits"
        );
    }
}

/// Products of random primes of chosen sizes (the sizes where each method takes over: rho,
/// SQUFOF, the quadratic sieve, ECM), and repeated factors.
fn random_products() -> Vec<(BigUint, Vec<BigUint>)> {
    let shapes: [&[u64]; 10] = [
        &[20, 40],
        &[32, 32],
        &[30, 30, 30],
        &[48, 80],
        &[64, 64],
        &[40, 40, 40, 40],
        &[50, 100],
        &[80, 80],
        &[17, 17, 17, 200],
        &[45, 250],
    ];
    let mut rng = StdRng::seed_from_u64(2026);
    shapes
        .iter()
        .map(|sizes| {
            let mut primes: Vec<BigUint> =
                sizes.iter().map(|&b| random_prime(&mut rng, b)).collect();
            if sizes[0] == 17 {
                primes[1] = primes[0].clone(); // a square factor
            }
            primes.sort();
            let n = primes.iter().fold(BigUint::one(), |acc, p| acc * p);
            (n, primes)
        })
        .collect()
}

/// PARI/GP's `factor()` of each number, or `None` when `gp` is not installed.
fn pari_factor(numbers: &[BigUint]) -> Option<Vec<Vec<String>>> {
    let mut script = String::from("default(parisize, 100000000);\n");
    for n in numbers {
        script.push_str(&format!(
            "f=factor({n}); s=\"\"; for(i=1,#f~, for(j=1,f[i,2], s=Str(s,\" \",f[i,1]))); print(s);\n"
        ));
    }
    let mut child = Command::new("gp")
        .args(["-q", "-f", "--default", "nbthreads=1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::io::Write::write_all(child.stdin.as_mut()?, script.as_bytes()).ok()?;
    drop(child.stdin.take());
    let out = child.wait_with_output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    Some(
        text.lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect(),
    )
}

#[test]
fn random_products_of_primes_of_chosen_sizes() {
    let cases = random_products();
    let numbers: Vec<BigUint> = cases.iter().map(|(n, _)| n.clone()).collect();
    let ours: Vec<Vec<String>> = numbers.iter().map(|n| flat(&factor_fully(n))).collect();
    for ((n, primes), got) in cases.iter().zip(&ours) {
        let built: Vec<String> = primes.iter().map(ToString::to_string).collect();
        assert_eq!(got, &built, "{n}");
    }
    match pari_factor(&numbers) {
        Some(pari) => assert_eq!(pari, ours, "PARI/GP disagrees"),
        None => eprintln!("skipped the comparison with PARI/GP: `gp` is not installed"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Any number up to 160 bits, within 20 ms: the factors multiply back, each is prime, and
    /// what is left unsplit is composite.
    #[test]
    fn factors_multiply_back(limbs in proptest::collection::vec(any::<u64>(), 3), bits in 2u64..=160) {
        let mut n = BigUint::ZERO;
        for (i, l) in limbs.iter().enumerate() {
            n |= BigUint::from(*l) << (64 * i);
        }
        n &= pow2(bits as u32) - 1u8;
        n.set_bit(bits - 1, true);
        let f = factorize(&n, Effort::with_timeout(Duration::from_millis(20)));
        assert_valid(&n, &f);
    }

    /// Products of small random primes with multiplicities come back exactly.
    #[test]
    fn products_of_small_primes(seeds in proptest::collection::vec((any::<u64>(), 1u32..4), 1..6)) {
        let mut rng = StdRng::seed_from_u64(seeds[0].0);
        let mut expect: Vec<(BigUint, u32)> = Vec::new();
        for &(seed, e) in &seeds {
            let p = random_prime(&mut rng, 8 + seed % 40);
            match expect.iter_mut().find(|(q, _)| *q == p) {
                Some((_, f)) => *f += e,
                None => expect.push((p, e)),
            }
        }
        expect.sort();
        let n = expect.iter().fold(BigUint::one(), |acc, (p, e)| acc * p.pow(*e));
        let f = factorize(&n, Effort::with_timeout(PLENTY));
        assert_valid(&n, &f);
        prop_assert_eq!(f.factors, expect);
    }
}
