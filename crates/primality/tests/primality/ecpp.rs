//! ECPP certificates: `prove` on random and known primes, `verify` against every mutation of a
//! valid certificate, composites never certified, and interoperability with PARI/GP's
//! `primecert` / `primecertisvalid` (skipped, with a message, when `gp` is not installed).
//!
//! Time (debug build; the crate itself is compiled with opt-level 3, num-bigint is not): 52-72 s
//! for the whole file on the shared 2-core VM at load averages of 6-8 (2026-11-30), most of it
//! the PARI interop test (20 primes up to 296 digits, proved by us and by PARI concurrently);
//! the random-primes test (220 primes) takes about 15 s of it.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use primality::{
    BigUint, Certificate, CertificateError, Effort, ProveError, Step, Verdict, is_prime, prove,
};

/// SplitMix64, for reproducible random numbers without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A random prime of exactly `bits` bits (top bit set).
    fn prime(&mut self, bits: u64) -> BigUint {
        loop {
            let words: Vec<u64> = (0..bits.div_ceil(64)).map(|_| self.next()).collect();
            let mut digits = Vec::new();
            for w in words {
                digits.push(w as u32);
                digits.push((w >> 32) as u32);
            }
            let mut n = BigUint::new(digits) >> (bits.div_ceil(64) * 64 - bits);
            n.set_bit(bits - 1, true);
            n.set_bit(0, true);
            if is_prime(&n) {
                return n;
            }
        }
    }
}

fn proved(n: &BigUint) -> Certificate {
    let cert = prove(n, Effort::unlimited()).unwrap_or_else(|e| panic!("{n}: {e}"));
    assert_eq!(cert.number(), n);
    cert.verify().unwrap_or_else(|e| panic!("{n}: {e}"));
    // Both text forms read back to the same certificate.
    assert_eq!(Certificate::parse(&cert.to_json()).unwrap(), cert);
    assert_eq!(Certificate::parse(&cert.to_pari()).unwrap(), cert);
    cert
}

#[test]
fn random_primes_from_65_to_400_bits() {
    let mut rng = Rng(2026);
    // 220 primes, sizes spread evenly over 65..=400 bits.
    for i in 0..220u64 {
        let bits = 65 + i * 335 / 219;
        let p = rng.prime(bits);
        let cert = proved(&p);
        assert!(!cert.steps().is_empty());
        assert!(cert.steps().last().unwrap().q().bits() <= 64);
    }
}

#[test]
fn known_primes() {
    let ten100 = BigUint::from(10u8).pow(100);
    for n in [
        (BigUint::from(1u8) << 127u32) - 1u8,
        (BigUint::from(1u8) << 521u32) - 1u8,
        &ten100 + 267u32,
        &ten100 - 797u32, // the largest 100-digit prime
    ] {
        proved(&n);
    }
}

#[test]
fn below_2_64_needs_no_steps() {
    let p = BigUint::from(18_446_744_073_709_551_557u64);
    let cert = proved(&p);
    assert!(cert.steps().is_empty());
    assert_eq!(cert.to_pari(), p.to_string());
}

/// Every field of every step, changed in turn, and the certified number, make `verify` fail
/// at that step (or, for the last step's `t` and `s`, at the final `q`).
/// A change to one field of a step.
type Mutation = fn(&mut Step);

#[test]
fn every_mutation_is_caught() {
    let n = BigUint::from(10u8).pow(100) + 267u32;
    assert!(is_prime(&n));
    let cert = proved(&n);
    let steps = cert.steps().to_vec();
    let mutations: [(&str, Mutation); 7] = [
        ("N", |s| s.n += 2u8),
        ("t", |s| s.t += 2),
        ("s", |s| s.s += 1u8),
        ("a", |s| s.a = (&s.a + 1u8) % &s.n),
        ("b", |s| s.b = (&s.b + 1u8) % &s.n),
        ("x", |s| s.x = (&s.x + 1u8) % &s.n),
        ("y", |s| s.y = (&s.y + 1u8) % &s.n),
    ];
    for i in 0..steps.len() {
        for (name, mutate) in &mutations {
            let mut forged = steps.clone();
            mutate(&mut forged[i]);
            let err = Certificate::new(n.clone(), forged).verify().unwrap_err();
            match err {
                CertificateError::Step { step, .. } => {
                    assert!(
                        step == i + 1 || step == i + 2,
                        "{name} of step {}: {err}",
                        i + 1
                    )
                }
                CertificateError::LastQ(_) => assert_eq!(i + 1, steps.len(), "{name}"),
                other => panic!("{name} of step {}: {other}", i + 1),
            }
        }
    }
    // The number itself, and dropping or reordering steps.
    assert!(Certificate::new(&n + 2u8, steps.clone()).verify().is_err());
    assert!(
        Certificate::new(n.clone(), steps[1..].to_vec())
            .verify()
            .is_err()
    );
    assert!(
        Certificate::new(n.clone(), steps[..steps.len() - 1].to_vec())
            .verify()
            .is_err()
    );
    let mut swapped = steps.clone();
    swapped.swap(0, 1);
    assert!(Certificate::new(n.clone(), swapped).verify().is_err());
    // Each number of the JSON text, changed in its last digit, is caught too.
    let json = cert.to_json();
    let quoted: Vec<usize> = json.match_indices("\": \"").map(|(i, _)| i + 4).collect();
    for start in quoted.into_iter().skip(1) {
        let end = start + json[start..].find('"').unwrap();
        let mut text = json.clone().into_bytes();
        let last = end - 1;
        text[last] = if text[last] == b'0' {
            b'1'
        } else {
            text[last] - 1
        };
        let text = String::from_utf8(text).unwrap();
        let forged = Certificate::parse(&text).unwrap();
        assert!(forged.verify().is_err(), "JSON at {start}");
    }
}

#[test]
fn first_failing_step_and_condition_are_named() {
    let n = (BigUint::from(1u8) << 127u32) - 1u8;
    let cert = proved(&n);
    let mut steps = cert.steps().to_vec();
    let k = steps.len() - 1;
    // A point off the curve in the last step.
    steps[k].y = (&steps[k].y + 1u8) % &steps[k].n;
    let err = Certificate::new(n.clone(), steps).verify().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("step {}: P is not on the curve", k + 1)
    );
    // The right curve but another point on it is (almost surely) not killed by m.
    let mut steps = cert.steps().to_vec();
    let st = &mut steps[0];
    st.x = (&st.x + 1u8) % &st.n;
    st.b = (&st.y * &st.y + &st.n * 4u8 - (&st.x * &st.x + &st.a) * &st.x % &st.n) % &st.n;
    let err = Certificate::new(n.clone(), steps).verify().unwrap_err();
    assert!(
        err.to_string() == "step 1: m·P is not the point at infinity"
            || err.to_string() == "step 1: s·P is the point at infinity modulo a divisor of N",
        "{err}"
    );
    assert!(matches!(
        Certificate::parse("{"),
        Err(CertificateError::Syntax(_))
    ));
    assert!(matches!(
        Certificate::parse("[[1, 2, 3]]"),
        Err(CertificateError::Syntax(_))
    ));
}

fn assert_not_certified(n: &BigUint) {
    match prove(n, Effort::unlimited()) {
        Err(ProveError::NotPrime(Verdict::Composite(_))) => {}
        other => panic!("{n}: {other:?}"),
    }
    // Nor does a certificate without steps pass.
    assert!(Certificate::new(n.clone(), Vec::new()).verify().is_err());
}

#[test]
fn composites_never_get_a_certificate() {
    // Carmichael numbers, small and above 2^64 (Chernick's (6k+1)(12k+1)(18k+1)).
    for c in [
        561u64,
        41041,
        825265,
        321197185,
        5394826801,
        232250619601,
        9746347772161,
    ] {
        assert_not_certified(&BigUint::from(c));
    }
    let k = 1_000_000_000_000u64;
    let mut chernick = None;
    for k in (k..).step_by(1).take(100_000) {
        let f = [6 * k + 1, 12 * k + 1, 18 * k + 1];
        if f.iter().all(|&p| primality::is_prime_u64(p)) {
            chernick = Some(f.iter().fold(BigUint::from(1u8), |acc, &p| acc * p));
            break;
        }
    }
    let chernick = chernick.unwrap();
    assert!(chernick.bits() > 64);
    assert_not_certified(&chernick);
    // Strong pseudoprimes to many bases: to the first 9 primes (below 2^64), to the first 12
    // primes (above), and Arnault's 397-digit number (every prime base below 307).
    for text in [
        "3825123056546413051",
        "318665857834031151167461",
        "3317044064679887385961981",
    ] {
        assert_not_certified(&text.parse().unwrap());
    }
    let p1: BigUint = "29674495668685510550154174642905332730771991799853043350995075531276838753171770199594238596428121188033664754218345562493168782883"
        .parse()
        .unwrap();
    let arnault = &p1 * ((&p1 - 1u8) * 313u32 + 1u8) * ((&p1 - 1u8) * 353u32 + 1u8);
    assert_eq!(arnault.to_string().len(), 397);
    assert_not_certified(&arnault);
    // 0, 1 and even numbers.
    assert!(matches!(
        prove(&BigUint::from(0u8), Effort::unlimited()),
        Err(ProveError::NotPrime(Verdict::Neither))
    ));
    assert!(matches!(
        prove(&BigUint::from(1u8), Effort::unlimited()),
        Err(ProveError::NotPrime(Verdict::Neither))
    ));
    assert_not_certified(&(BigUint::from(1u8) << 100u32));
}

#[test]
fn effort_bounds_the_search() {
    let n = (BigUint::from(1u8) << 521u32) - 1u8;
    let e = Effort::with_timeout(std::time::Duration::ZERO);
    assert_eq!(prove(&n, e), Err(ProveError::Exhausted));
}

/// Runs a GP script, or `None` when `gp` is not installed.
fn gp(script: &str) -> Option<String> {
    let mut child = Command::new("gp")
        .args(["-q", "-f", "-D", "parisize=400000000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(script.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    assert!(
        out.status.success(),
        "gp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn pari_interop() {
    if Command::new("gp").arg("--version").output().is_err() {
        eprintln!("SKIPPED pari_interop: PARI/GP (gp) is not installed");
        return;
    }
    // 20 primes from 30 to 296 digits.
    let primes: Vec<BigUint> = {
        let script = "setrand(14); for(i = 0, 19, print(nextprime(10^(29 + 14*i) + random(10^(29 + 14*i)))))\n";
        gp(script)
            .unwrap()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect()
    };
    assert_eq!(primes.len(), 20);
    // PARI proves them in another process while we do.
    let list: Vec<String> = primes.iter().map(|p| p.to_string()).collect();
    let pari_script = format!(
        "{{ foreach([{}], n, print(primecert(n))) }}\n",
        list.join(",")
    );
    let pari = std::thread::spawn(move || gp(&pari_script));
    let ours: Vec<Certificate> = primes.iter().map(proved).collect();
    // PARI accepts ours.
    let check: String = ours
        .iter()
        .map(|c| format!("print(primecertisvalid({}));\n", c.to_pari()))
        .collect();
    let verdicts = gp(&check).unwrap();
    assert_eq!(
        verdicts.lines().filter(|l| l.trim() == "1").count(),
        20,
        "{verdicts}"
    );
    // We accept PARI's.
    let theirs = pari.join().unwrap().unwrap();
    let certs: Vec<&str> = theirs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(certs.len(), 20);
    for (text, p) in certs.iter().zip(&primes) {
        let cert = Certificate::parse(text).unwrap();
        assert_eq!(cert.number(), p);
        cert.verify()
            .unwrap_or_else(|e| panic!("PARI's certificate for {p}: {e}"));
    }
}

/// The class polynomial table re-derived with PARI/GP's `polclass`: every entry with `h <= 4`
/// and every 8th entry above (all 1021 take PARI about a minute).
#[test]
fn class_polynomial_table_matches_pari() {
    if Command::new("gp").arg("--version").output().is_err() {
        eprintln!("SKIPPED class_polynomial_table_matches_pari: PARI/GP (gp) is not installed");
        return;
    }
    let table = include_str!("../../data/classpolys.txt");
    let entries: Vec<&str> = table.lines().filter(|l| !l.starts_with('#')).collect();
    let chosen: Vec<&str> = entries
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            i % 8 == 0
                || l.split(' ')
                    .nth(1)
                    .is_some_and(|h| h.parse::<u32>().unwrap() <= 4)
        })
        .map(|(_, l)| *l)
        .collect();
    let mut script = String::new();
    for line in &chosen {
        let mut w = line.split(' ');
        let (d, _h, inv) = (w.next().unwrap(), w.next().unwrap(), w.next().unwrap());
        script.push_str(&format!(
            "{{ my(v = Vec(polclass({d}, {inv})), s = Str({d}, \" \", #v - 1, \" \", {inv})); for(k = 2, #v, s = Str(s, \" \", v[k])); print(s) }}\n"
        ));
    }
    let out = gp(&script).unwrap();
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), chosen.len());
    for (want, got) in chosen.iter().zip(&got) {
        assert_eq!(want, got);
    }
    assert!(chosen.len() > 150, "{}", chosen.len());
}
