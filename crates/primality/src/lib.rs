//! Exact and fast primality tests, with evidence for composites.
//!
//! ```
//! use primality::{check, is_prime, is_prime_u64, BigUint, Evidence, Verdict};
//!
//! assert!(is_prime_u64(18_446_744_073_709_551_557)); // the largest prime below 2^64
//! let m127 = (BigUint::from(1u8) << 127u32) - 1u8; // a Mersenne prime
//! assert!(is_prime(&m127));
//!
//! let n: BigUint = "172983479832623897492387592384682937659382477".parse().unwrap();
//! // The tutorial's number: 9020941 * 47434853 * 404254839687862545241277653549.
//! // Base 2 witnesses that it is composite.
//! assert_eq!(check(&n), Verdict::Composite(Evidence::Witness(BigUint::from(2u8))));
//! assert_eq!(check(&n).to_string(), "composite (witness 2)");
//! ```
//!
//! # What the answers mean
//!
//! * Below 2^64 every answer is proven: [`Verdict::Prime`] or a composite with evidence.
//! * From 2^64 on, a number that passes is a [`Verdict::ProbablePrime`]: it passed Baillie-PSW,
//!   which no composite is known to pass.
//! * A [`Verdict::Composite`] always carries [`Evidence`] anyone can check without this crate:
//!   a nontrivial factor, or a base for which the strong (Miller-Rabin) test fails.
//! * 0, 1 and negative numbers are [`Verdict::Neither`].
//!
//! # Proofs
//!
//! [`prove`] turns a probable prime into a proven one: an ECPP certificate (Atkin-Morain), a
//! [`Certificate`] that [`Certificate::verify`] (written apart from the prover), PARI/GP's
//! `primecertisvalid` ([`Certificate::to_pari`]) or a reader with the JSON form
//! ([`Certificate::to_json`], documented in `docs/certificates.md`) can check.
//!
//! ```
//! use primality::{prove, BigUint, Certificate, Effort};
//! let n = (BigUint::from(1u8) << 127u32) - 1u8;
//! let cert = prove(&n, Effort::unlimited()).unwrap();
//! assert!(Certificate::parse(&cert.to_pari()).unwrap().verify().is_ok());
//! ```
//!
//! # Algorithms
//!
//! * **Trial division** by small primes first: it settles most random composites at once. For a
//!   `u64` each of the 128 odd primes up to 727 costs one multiplication (divisibility by the
//!   modular inverse); for larger numbers the odd primes up to `min(bits^2 / 64, 2^16)` are grouped into
//!   63-bit products and reduced four groups per pass over the limbs, without a division.
//! * **`u64` numbers** ([`is_prime_u64`]): a strong test to base 2 and a strong test to a second
//!   base read from a table by a hash of `n` (Forišek and Jančina, *Fast primality testing for
//!   integers that fit into a machine word*, 2015), in Montgomery arithmetic on `u64`/`u128`.
//!   The table is machine-prime's (1.5.7, CC0-1.0), built and checked by its author against
//!   Feitsma and Galway's list of all base-2 pseudoprimes below 2^64 so that no composite
//!   passes both tests, so the answer is exact. The two exponentiations share the exponent and
//!   run interleaved, each filling the other's multiplier latency. Baillie-PSW, exact below
//!   2^64 by Gilchrist's check of the same list (Baillie, Fiori, Wagstaff, *Strengthening the
//!   Baillie-PSW primality test*, Math. Comp. 90 (2021)), is the reference the tests compare
//!   this path with. No heap allocation.
//! * **65 to 256 bits**: the same Baillie-PSW test on stack arrays of two to four limbs whose
//!   count is known at compile time (`[u64; N]` Montgomery arithmetic): no heap allocation, no
//!   big-integer division in the set-up, and the loops unrolled. At these sizes the set-up of
//!   the general context below costs as much as the exponentiations.
//! * **Larger numbers** ([`is_prime`]): the same Baillie-PSW test on fixed-width `u64` limbs
//!   with our own Montgomery arithmetic, set up once per modulus: products and reductions that
//!   handle two rows per pass, a dedicated squaring, one level of Karatsuba from 3072 bits, a
//!   sliding window for general bases, and a base-2 test that multiplies by the base with a
//!   modular doubling (one squaring per bit). Perfect squares are rejected before the search for
//!   Selfridge's `D`. The strong Lucas test runs the `V`-only chain of the equivalent sequence
//!   with parameters `(Q^{-1} - 2, 1)`, one squaring and one multiplication per bit with no `Q^k`
//!   bookkeeping, and reads off `U_d ≡ 0`, `V_d ≡ 0` and `V_{d 2^r} ≡ 0` exactly (the derivation
//!   is in the source). No allocation inside the exponentiation or Lucas loops.
//! * **Evidence** ([`check`]): a factor from trial division, from a perfect square, or from
//!   `gcd(D, n)` / `gcd(Q, n)` met while choosing the Lucas parameters; otherwise the witness 2.
//!   Below 2^64 a strong pseudoprime to base 2 gets the table's base, which it fails, as its
//!   witness. Above, when only the Lucas test caught a number, a witness base is searched for
//!   (at least three quarters of all bases are witnesses): 3, 5 and 7, then bases from a fixed
//!   pseudo-random sequence (numbers such as Arnault's fool every small base), then 3, 4, 5, ...
//!   again, which must end.
//! * [`miller_rabin`] is the textbook algorithm, with `rounds` random bases in `[2, n-2]`,
//!   kept for callers who want it by name.
//!
//! # Performance
//!
//! Ratios measured within one run on the project's 2-core benchmark VM (`cargo bench -p
//! primality`, and `--features peers --bench vs_peers` for the peers; `docs/performance.md` has
//! the tables and the method): a 64-bit prime in 0.70× machine-prime's time (0.51–0.59× of the
//! Baillie-PSW path it replaced; an odd 64-bit composite pays 1.10–1.32× for it, tens of
//! nanoseconds); the tutorial's 147-bit number in 0.69× GMP's `mpz_probab_prime_p(n, 25)`,
//! 128–256-bit primes in 0.30–0.33×; a 2048-bit prime in 2.3 times one num-bigint `modpow` of
//! the same size.
//!
//! # Safety and correctness
//!
//! No `unsafe` (the workspace forbids it). The tests compare every `n < 10^6` with a sieve;
//! check published tables (OEIS A001262, A002997, A014233, A217255, Mersenne exponents, Arnault's
//! 397-digit strong pseudoprime) against their definitions; and compare random inputs with
//! independent trial division and num-bigint `modpow` Miller-Rabin, verifying every piece of
//! evidence.

mod bpsw_fixed;
mod cert;
mod ecpp;
mod effort;
mod factor;
mod lucas;
mod mont_fixed;
mod montgomery;
mod mr;
mod ring;
mod small;
#[cfg(test)]
mod tests;
mod trial;

use std::fmt;

use num_bigint::Sign;
/// The big-integer types of the API, re-exported from `num-bigint` so callers need no other
/// dependency.
///
/// ```
/// use primality::{BigInt, BigUint, is_prime, is_prime_signed};
/// let n: BigUint = "340282366920938463463374607431768211297".parse().unwrap(); // 2^128 - 159
/// assert!(is_prime(&n));
/// assert!(!is_prime_signed(&-BigInt::from(n)));
/// ```
pub use num_bigint::{BigInt, BigUint};

pub use crate::cert::{Certificate, CertificateError, Step, StepFailure};
pub use crate::ecpp::{ProveError, prove};
pub use crate::effort::Effort;
pub use crate::factor::{Factorization, factorize, factorize_u64};
use num_traits::{ToPrimitive, Zero};
use rand::Rng;

use crate::montgomery::{MontCtx, PowBuffers, to_limbs};
use crate::mr::Decomposition;
use crate::small::{LucasOutcome, U64Verdict};

/// What a composite number's verdict carries so a sceptic can check it independently.
///
/// ```
/// use num_bigint::BigUint;
/// use primality::{check, Evidence, Verdict};
///
/// // 2047 = 23 * 89 has no factor below 23, and it is a strong pseudoprime to base 2.
/// let v = check(&BigUint::from(2047u32));
/// assert_eq!(v, Verdict::Composite(Evidence::Factor(BigUint::from(23u32))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// A nontrivial factor `f` (1 < f < n) with `n % f == 0`.
    Factor(BigUint),
    /// A base `a` (1 < a < n-1) for which `n` fails the strong (Miller-Rabin) test.
    Witness(BigUint),
}

impl fmt::Display for Evidence {
    /// `factor F` or `witness A`.
    ///
    /// ```
    /// use num_bigint::BigUint;
    /// use primality::Evidence;
    /// assert_eq!(Evidence::Factor(BigUint::from(3u8)).to_string(), "factor 3");
    /// assert_eq!(Evidence::Witness(BigUint::from(2u8)).to_string(), "witness 2");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::Factor(x) => write!(f, "factor {x}"),
            Evidence::Witness(a) => write!(f, "witness {a}"),
        }
    }
}

/// The answer of [`check`].
///
/// ```
/// use num_bigint::BigUint;
/// use primality::{check, Verdict};
///
/// assert_eq!(check(&BigUint::from(97u32)), Verdict::Prime);
/// assert_eq!(check(&BigUint::from(1u32)), Verdict::Neither);
/// let m89 = (BigUint::from(1u8) << 89u32) - 1u8; // above 2^64: Baillie-PSW
/// assert_eq!(check(&m89), Verdict::ProbablePrime);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Proven prime (n < 2^64, deterministic test).
    Prime,
    /// Passed Baillie-PSW (n ≥ 2^64): no counterexample is known.
    ProbablePrime,
    /// Composite, with evidence.
    Composite(Evidence),
    /// 0, 1 and negative numbers: neither prime nor composite.
    Neither,
}

impl Verdict {
    /// `true` for [`Verdict::Prime`] and [`Verdict::ProbablePrime`].
    ///
    /// ```
    /// use num_bigint::BigUint;
    /// use primality::check;
    /// assert!(check(&BigUint::from(2u8)).is_prime());
    /// assert!(!check(&BigUint::from(9u8)).is_prime());
    /// ```
    pub fn is_prime(&self) -> bool {
        matches!(self, Verdict::Prime | Verdict::ProbablePrime)
    }

    /// Every name [`Verdict::as_str`] can return, in declaration order.
    ///
    /// ```
    /// assert_eq!(primality::Verdict::NAMES, ["prime", "probable_prime", "composite", "neither"]);
    /// ```
    pub const NAMES: [&'static str; 4] = ["prime", "probable_prime", "composite", "neither"];

    /// The verdict's machine-readable name: `prime`, `probable_prime`, `composite` or `neither`
    /// (the evidence of a composite is not part of it).
    ///
    /// ```
    /// use num_bigint::BigUint;
    /// use primality::check;
    /// assert_eq!(check(&BigUint::from(15u8)).as_str(), "composite");
    /// let m89 = (BigUint::from(1u8) << 89u32) - 1u8;
    /// assert_eq!(check(&m89).as_str(), "probable_prime");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Prime => Self::NAMES[0],
            Verdict::ProbablePrime => Self::NAMES[1],
            Verdict::Composite(_) => Self::NAMES[2],
            Verdict::Neither => Self::NAMES[3],
        }
    }
}

impl fmt::Display for Verdict {
    /// `prime`, `probable prime`, `composite (factor F)`, `composite (witness A)` or `neither`.
    ///
    /// ```
    /// use num_bigint::BigUint;
    /// use primality::check;
    /// assert_eq!(check(&BigUint::from(91u8)).to_string(), "composite (factor 7)");
    /// assert_eq!(check(&BigUint::from(89u8)).to_string(), "prime");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Prime => f.write_str("prime"),
            Verdict::ProbablePrime => f.write_str("probable prime"),
            Verdict::Composite(e) => write!(f, "composite ({e})"),
            Verdict::Neither => f.write_str("neither"),
        }
    }
}

/// Deterministic primality test for every `u64`, without heap allocation.
///
/// ```
/// use primality::is_prime_u64;
/// assert!(!is_prime_u64(0) && !is_prime_u64(1));
/// assert!(is_prime_u64(2) && is_prime_u64(1_000_000_007));
/// assert!(!is_prime_u64(3_215_031_751)); // strong pseudoprime to bases 2, 3, 5 and 7
/// assert!(is_prime_u64(u64::MAX - 58)); // 2^64 - 59
/// ```
pub fn is_prime_u64(n: u64) -> bool {
    small::is_prime_u64(n)
}

/// Primality of an arbitrary-size unsigned integer: exact below 2^64, Baillie-PSW above.
///
/// ```
/// use num_bigint::BigUint;
/// use primality::is_prime;
/// let m521 = (BigUint::from(1u8) << 521u32) - 1u8;
/// assert!(is_prime(&m521));
/// assert!(!is_prime(&(&m521 + 2u8)));
/// ```
pub fn is_prime(n: &BigUint) -> bool {
    if let Some(small) = n.to_u64() {
        return small::is_prime_u64(small);
    }
    matches!(check_big(n), Verdict::ProbablePrime)
}

/// Primality of a signed integer; every n < 2 is not prime.
///
/// ```
/// use num_bigint::BigInt;
/// use primality::is_prime_signed;
/// assert!(is_prime_signed(&BigInt::from(13)));
/// assert!(!is_prime_signed(&BigInt::from(-13)));
/// ```
pub fn is_prime_signed(n: &BigInt) -> bool {
    match n.sign() {
        Sign::Plus => is_prime(n.magnitude()),
        Sign::Minus | Sign::NoSign => false,
    }
}

/// The tutorial's Miller-Rabin test: `rounds` strong tests to bases drawn uniformly from
/// `[2, n-2]`. `false` means composite for certain; `true` means no witness was drawn (each
/// round lets a composite through with probability at most 1/4). 0 and 1 are not prime; 2 and
/// 3 are; with `rounds == 0` every odd `n > 3` passes.
///
/// ```
/// use num_bigint::BigUint;
/// use primality::miller_rabin;
/// let mut rng = rand::rng();
/// assert!(miller_rabin(&BigUint::from(1_000_000_007u32), 40, &mut rng));
/// assert!(!miller_rabin(&BigUint::from(1_000_000_005u32), 40, &mut rng));
/// ```
pub fn miller_rabin<R: Rng + ?Sized>(n: &BigUint, rounds: usize, rng: &mut R) -> bool {
    if let Some(small) = n.to_u64() {
        if small < 4 {
            return small >= 2;
        }
        if small % 2 == 0 {
            return false;
        }
        let span = small - 3; // bases 2 ..= n-2
        let zone = u64::MAX - u64::MAX % span; // rejection sampling for uniformity
        for _ in 0..rounds {
            let a = loop {
                let x = rng.next_u64();
                if x < zone {
                    break 2 + x % span;
                }
            };
            if !small::strong_test_u64(small, a) {
                return false;
            }
        }
        return true;
    }
    if !n.bit(0) {
        return false;
    }
    let ctx = MontCtx::new(n);
    let dec = Decomposition::new(&ctx);
    let mut bufs = PowBuffers::new(&ctx);
    let span = n - 3u32;
    for _ in 0..rounds {
        let a = mr::random_below(&span, rng) + 2u32;
        if !mr::strong_test(&ctx, &dec, &a, &mut bufs) {
            return false;
        }
    }
    true
}

/// The verdict for `n`, with evidence for composites.
///
/// ```
/// use num_bigint::BigUint;
/// use primality::{check, Evidence, Verdict};
///
/// assert_eq!(check(&BigUint::from(0u8)), Verdict::Neither);
/// assert_eq!(check(&BigUint::from(4u8)), Verdict::Composite(Evidence::Factor(BigUint::from(2u8))));
/// // 3825123056546413051 is a strong pseudoprime to the first nine prime bases; the second,
/// // hashed base catches it and check finds a witness base or a factor.
/// let n = BigUint::from(3_825_123_056_546_413_051u64);
/// match check(&n) {
///     Verdict::Composite(Evidence::Factor(f)) => assert!((&n % &f) == BigUint::from(0u8)),
///     Verdict::Composite(Evidence::Witness(a)) => assert!(a > BigUint::from(1u8)),
///     v => panic!("{v:?}"),
/// }
/// // Below 2^128 a composite that only a witness has caught gets a few microseconds of
/// // Pollard's rho, which finds factors up to about 2^20.
/// let n = BigUint::from(10_007u64 * 1_000_000_007);
/// assert_eq!(check(&n), Verdict::Composite(Evidence::Factor(BigUint::from(10_007u32))));
/// ```
pub fn check(n: &BigUint) -> Verdict {
    let verdict = if let Some(small) = n.to_u64() {
        match small::check_u64(small) {
            U64Verdict::Neither => Verdict::Neither,
            U64Verdict::Prime => Verdict::Prime,
            U64Verdict::Factor(f) => Verdict::Composite(Evidence::Factor(BigUint::from(f))),
            U64Verdict::Witness(a) => Verdict::Composite(Evidence::Witness(BigUint::from(a))),
        }
    } else {
        check_big(n)
    };
    match verdict {
        Verdict::Composite(Evidence::Witness(_)) if n.bits() <= 128 => {
            match factor::quick_factor(n, EVIDENCE_RHO_STEPS) {
                Some(f) => Verdict::Composite(Evidence::Factor(f)),
                None => verdict,
            }
        }
        other => other,
    }
}

/// Rho steps [`check`] spends on a composite below 2^128 that only a witness has shown
/// composite, looking for a factor (a few microseconds; factors up to about 2^20 are found).
const EVIDENCE_RHO_STEPS: u64 = 1 << 10;

/// [`check`] for signed input: negative numbers, 0 and 1 are [`Verdict::Neither`].
///
/// ```
/// use num_bigint::BigInt;
/// use primality::{check_signed, Verdict};
/// assert_eq!(check_signed(&BigInt::from(-7)), Verdict::Neither);
/// assert_eq!(check_signed(&BigInt::from(7)), Verdict::Prime);
/// ```
pub fn check_signed(n: &BigInt) -> Verdict {
    match n.sign() {
        Sign::Minus | Sign::NoSign => Verdict::Neither,
        Sign::Plus => check(n.magnitude()),
    }
}

/// Baillie-PSW with evidence for `n ≥ 2^64`.
fn check_big(n: &BigUint) -> Verdict {
    let factor = |f: u64| Verdict::Composite(Evidence::Factor(BigUint::from(f)));
    if !n.bit(0) {
        return factor(2);
    }
    debug_assert!(!n.is_zero());
    // 65 to 256 bits: stack arrays, no set-up of the multi-limb context.
    if let Some(limbs) = mont_fixed::limbs_of::<2>(n) {
        return check_fixed(n, limbs);
    }
    if let Some(limbs) = mont_fixed::limbs_of::<3>(n) {
        return check_fixed(n, limbs);
    }
    if let Some(limbs) = mont_fixed::limbs_of::<4>(n) {
        return check_fixed(n, limbs);
    }
    let k = n.iter_u64_digits().len();
    let limbs = to_limbs(n, k);
    if let Some(p) = trial::small_odd_factor_limbs(&limbs) {
        return factor(p);
    }
    let ctx = MontCtx::new(n);
    let dec = Decomposition::new(&ctx);
    if !mr::strong_test_base2(&ctx, &dec) {
        return Verdict::Composite(Evidence::Witness(BigUint::from(2u8)));
    }
    if let Some(r) = lucas::square_root(n, &limbs) {
        return Verdict::Composite(Evidence::Factor(r));
    }
    match lucas::strong_lucas(&ctx) {
        LucasOutcome::Probable => Verdict::ProbablePrime,
        LucasOutcome::Factor(f) => factor(f),
        // Lucas says composite; a Miller-Rabin witness makes that checkable. Finding none up to
        // the GRH bound would mean n is prime after all (a Lucas bug): say what the strong
        // tests say rather than search without end.
        LucasOutcome::Composite => lucas_composite(&ctx, &dec),
    }
}

/// Lucas says composite but base 2 did not: a Miller-Rabin witness makes that checkable.
/// Finding none up to the GRH bound would mean n is prime after all (a Lucas bug): say what
/// the strong tests say rather than search without end.
fn lucas_composite(ctx: &MontCtx, dec: &Decomposition) -> Verdict {
    match mr::find_witness(ctx, dec) {
        Some(witness) => Verdict::Composite(Evidence::Witness(witness)),
        None => Verdict::ProbablePrime,
    }
}

/// [`check_big`] for odd `n` of `N` limbs (65 to 256 bits): the same steps on stack arrays
/// ([`bpsw_fixed`]), without the multi-limb context's set-up and buffers.
fn check_fixed<const N: usize>(n: &BigUint, limbs: [u64; N]) -> Verdict {
    let factor = |f: u64| Verdict::Composite(Evidence::Factor(BigUint::from(f)));
    if let Some(p) = trial::small_odd_factor_limbs(&limbs) {
        return factor(p);
    }
    let m = mont_fixed::MontN::new(limbs);
    if !bpsw_fixed::strong_base2(&m) {
        return Verdict::Composite(Evidence::Witness(BigUint::from(2u8)));
    }
    if let Some(r) = lucas::square_root(n, &limbs) {
        return Verdict::Composite(Evidence::Factor(r));
    }
    match bpsw_fixed::strong_lucas(&m) {
        LucasOutcome::Probable => Verdict::ProbablePrime,
        LucasOutcome::Factor(f) => factor(f),
        LucasOutcome::Composite => {
            let ctx = MontCtx::new(n);
            lucas_composite(&ctx, &Decomposition::new(&ctx))
        }
    }
}
