//! `factor`: the human line for a factorisation, and the check that the factors the server sent
//! multiply back to the number asked about.
//!
//! The client has no big-integer library; the check multiplies decimal strings in base 10^9,
//! which is instant for the sizes a server accepts (8192 bits by default).

use crate::api::CheckAnswer;
use crate::output::shorten;

/// The multiplication sign between factors.
const TIMES: &str = " × ";

/// One human line for a factorisation, without the newline:
/// `360 = 2^3 × 3^2 × 5`, `97 = 97`, and for an answer the server could not complete
/// `N = 3 × (composite 1234567890…1234567890, 300 digits, not split within the server's time
/// budget)`. The number and its prime factors are printed in full (they are what was asked
/// for); only an unsplit composite part of more than 40 digits is shortened.
///
/// `None` when the answer carries no factorisation although the number has one (a server
/// without `factorize`); numbers below 2 have none and get a sentence.
pub fn factor_line(answer: &CheckAnswer) -> Option<String> {
    let n = &answer.number;
    let Some(factors) = &answer.factors else {
        return (answer.verdict.as_deref() == Some("neither"))
            .then(|| format!("{n} is neither prime nor composite: it has no prime factorisation"));
    };
    let mut parts = powers(factors);
    if let Some(c) = &answer.cofactor {
        parts.push(composite_part(c));
    }
    if parts.is_empty() {
        return None;
    }
    Some(format!("{n} = {}", parts.join(TIMES)))
}

/// Equal neighbours (the server repeats a factor by its multiplicity) as `p^k`.
fn powers(factors: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < factors.len() {
        let p = &factors[i];
        let k = factors[i..].iter().take_while(|q| *q == p).count();
        out.push(if k == 1 {
            p.clone()
        } else {
            format!("{p}^{k}")
        });
        i += k;
    }
    out
}

/// `(composite 1234567890…1234567890, 300 digits, not split within the server's time budget)`.
/// The budget is the server's `--factor-timeout-ms`, which the answer does not state.
fn composite_part(c: &str) -> String {
    let shown = if c.len() > crate::output::SHORTEN_ABOVE {
        let short = shorten(c);
        // `shorten` writes `a…b (N digits)`; here the length goes after a comma.
        short.replace(" (", ", ").trim_end_matches(')').to_string()
    } else {
        c.to_string()
    };
    format!("(composite {shown}, not split within the server's time budget)")
}

/// Whether `factors` (times `cofactor`) multiply to `number`, all as decimal strings. A wrong
/// product means the answer is not to be trusted (or not about this number).
pub fn multiplies_back(number: &str, factors: &[String], cofactor: Option<&str>) -> bool {
    let mut product = vec![1u32];
    for f in factors.iter().map(String::as_str).chain(cofactor) {
        match parse(f) {
            Some(limbs) => product = multiply(&product, &limbs),
            None => return false,
        }
    }
    parse(number).is_some_and(|n| n == product)
}

/// Base of the limbs.
const BASE: u64 = 1_000_000_000;

/// Decimal digits to little-endian base-10^9 limbs without leading zero limbs; `None` for
/// anything but digits.
fn parse(decimal: &str) -> Option<Vec<u32>> {
    let bytes = decimal.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut limbs: Vec<u32> = bytes
        .rchunks(9)
        .map(|chunk| {
            chunk
                .iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
        })
        .collect();
    trim(&mut limbs);
    Some(limbs)
}

fn trim(limbs: &mut Vec<u32>) {
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
}

/// Schoolbook product of two limb vectors.
fn multiply(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut acc = vec![0u64; a.len() + b.len()];
    for (i, &x) in a.iter().enumerate() {
        let mut carry = 0u64;
        for (j, &y) in b.iter().enumerate() {
            let t = acc[i + j] + u64::from(x) * u64::from(y) + carry;
            acc[i + j] = t % BASE;
            carry = t / BASE;
        }
        acc[i + b.len()] += carry;
    }
    // Every entry is below BASE after its row, so each fits a u32.
    let mut out: Vec<u32> = acc
        .into_iter()
        .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
        .collect();
    trim(&mut out);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TUTORIAL: &str = "172983479832623897492387592384682937659382477";

    fn answer(number: &str, factors: &[&str], cofactor: Option<&str>) -> CheckAnswer {
        CheckAnswer {
            number: number.to_string(),
            is_prime: factors.len() == 1 && cofactor.is_none(),
            verdict: Some("composite".to_string()),
            factors: Some(factors.iter().map(|s| s.to_string()).collect()),
            complete: Some(cofactor.is_none()),
            cofactor: cofactor.map(str::to_string),
            ..CheckAnswer::default()
        }
    }

    #[test]
    fn lines() {
        let t = answer(
            TUTORIAL,
            &["9020941", "47434853", "404254839687862545241277653549"],
            None,
        );
        assert_eq!(
            factor_line(&t).unwrap(),
            "172983479832623897492387592384682937659382477 = 9020941 × 47434853 × 404254839687862545241277653549"
        );
        let a = answer("360", &["2", "2", "2", "3", "3", "5"], None);
        assert_eq!(factor_line(&a).unwrap(), "360 = 2^3 × 3^2 × 5");
        assert_eq!(
            factor_line(&answer("97", &["97"], None)).unwrap(),
            "97 = 97"
        );
        let c = "1".repeat(300);
        let line = factor_line(&answer("3", &["3"], Some(&c))).unwrap();
        assert_eq!(
            line,
            "3 = 3 × (composite 1111111111…1111111111, 300 digits, not split within the server's time budget)"
        );
        let line = factor_line(&answer("91", &[], Some("91"))).unwrap();
        assert_eq!(
            line,
            "91 = (composite 91, not split within the server's time budget)"
        );
        let mut neither = answer("1", &[], None);
        neither.factors = None;
        neither.verdict = Some("neither".into());
        assert_eq!(
            factor_line(&neither).unwrap(),
            "1 is neither prime nor composite: it has no prime factorisation"
        );
        neither.verdict = Some("composite".into());
        assert_eq!(factor_line(&neither), None);
    }

    #[test]
    fn products() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(multiplies_back(
            TUTORIAL,
            &f(&["9020941", "47434853", "404254839687862545241277653549"]),
            None
        ));
        assert!(!multiplies_back(
            TUTORIAL,
            &f(&["9020941", "47434853", "404254839687862545241277653547"]),
            None
        ));
        assert!(multiplies_back(
            "360",
            &f(&["2", "2", "2", "3", "3", "5"]),
            None
        ));
        assert!(multiplies_back(
            "1000000000",
            &f(&["2", "5"]),
            Some("100000000")
        ));
        assert!(multiplies_back(
            "18446744073709551615",
            &f(&["3", "5", "17", "257", "641", "65537", "6700417"]),
            None
        ));
        assert!(!multiplies_back("360", &f(&["2", "x"]), None));
        assert!(!multiplies_back("7", &f(&[]), None));
        // (10^9 + 7)^3, across limb boundaries.
        let p = "1000000007";
        assert!(multiplies_back(
            "1000000021000000147000000343",
            &f(&[p, p, p]),
            None
        ));
    }
}
