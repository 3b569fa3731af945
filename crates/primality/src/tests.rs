//! Cross-checks of the internal Lucas machinery against OEIS A217255 and against each other.

use num_bigint::BigUint;

use crate::montgomery::MontCtx;
use crate::small::{LucasOutcome, Mont64, isqrt_u64, strong_lucas};

fn sieve(limit: usize) -> Vec<bool> {
    let mut is = vec![true; limit];
    is[0] = false;
    is[1] = false;
    for i in 2..limit {
        if i * i >= limit {
            break;
        }
        if is[i] {
            for j in (i * i..limit).step_by(i) {
                is[j] = false;
            }
        }
    }
    is
}

/// OEIS A217255 (strong Lucas pseudoprimes, Selfridge's method A), every term below 10^6, as
/// listed in OpenSSL's test_lucas_pseudoprimes.
const A217255: [u64; 58] = [
    5459, 5777, 10877, 16109, 18971, 22499, 24569, 25199, 40309, 58519, 75077, 97439, 100127,
    113573, 115639, 130139, 155819, 158399, 161027, 162133, 176399, 176471, 189419, 192509, 197801,
    224369, 230691, 231703, 243629, 253259, 268349, 288919, 313499, 324899, 353219, 366799, 391169,
    430127, 436409, 455519, 487199, 510479, 572669, 611399, 622169, 635627, 636199, 701999, 794611,
    835999, 839159, 851927, 871859, 875879, 887879, 895439, 950821, 960859,
];

fn is_square(n: u64) -> bool {
    let r = isqrt_u64(n);
    r * r == n
}

#[test]
fn u64_strong_lucas_passes_exactly_primes_and_a217255() {
    let limit = 1_000_000;
    let primes = sieve(limit);
    let mut found = Vec::new();
    for n in (5..limit as u64).step_by(2) {
        if is_square(n) {
            continue;
        }
        let out = strong_lucas(&Mont64::new(n));
        if primes[n as usize] {
            assert_eq!(out, LucasOutcome::Probable, "prime {n}");
        } else {
            match out {
                LucasOutcome::Probable => found.push(n),
                LucasOutcome::Factor(f) => assert!(f > 1 && f < n && n % f == 0, "{n}: {f}"),
                LucasOutcome::Composite => {}
            }
        }
    }
    assert_eq!(found, A217255);
}

#[test]
fn multi_limb_lucas_agrees_with_u64_lucas() {
    for n in (1001u64..120_000).step_by(2) {
        if is_square(n) {
            continue;
        }
        let small = strong_lucas(&Mont64::new(n));
        let ctx = MontCtx::new(&BigUint::from(n));
        let big = crate::lucas::strong_lucas(&ctx);
        assert_eq!(small, big, "{n}");
    }
}

/// The witness search ends even when there is nothing to find (a prime), after the GRH bound.
#[test]
fn witness_search_is_bounded() {
    use crate::montgomery::MontCtx;
    use crate::mr::{Decomposition, find_witness, witness_bound};
    let p = (num_bigint::BigUint::from(1u8) << 89u32) - 1u8; // prime: every base is a liar
    let ctx = MontCtx::new(&p);
    let dec = Decomposition::new(&ctx);
    assert_eq!(find_witness(&ctx, &dec), None);
    assert_eq!(witness_bound(&p), 7_612); // 2 (89 ln 2)^2 = 7611.6…, rounded up
    // A composite still gets its witness: Arnault's kind of number is covered by the tables;
    // here a product of two primes above 2^64.
    let n = (num_bigint::BigUint::from(1u8) << 89u32) - 1u8;
    let composite = &n * &n;
    let ctx = MontCtx::new(&composite);
    let dec = Decomposition::new(&ctx);
    assert!(find_witness(&ctx, &dec).is_some());
}
