//! ECPP primality certificates: the chain of steps, its independent checker, and the JSON and
//! PARI/GP forms.

mod json;
mod pari;
mod verify;

use std::fmt;

use num_bigint::{BigInt, BigUint};

/// One step of an ECPP certificate: the curve `E: y^2 = x^3 + a x + b` over `Z/N`, the point
/// `P = (x, y)` on it, the trace `t` and the cofactor `s`, so that `m = N + 1 - t = s q`.
///
/// The step shows that `N` is prime if `q` is (Goldwasser-Kilian, Atkin-Morain): `gcd(N, 6) = 1`,
/// `E` is nonsingular modulo `N`, `q > (N^(1/4) + 1)^2`, `s P ≠ O` modulo every prime divisor
/// of `N` and `m P = O`. The next step proves `q`; the last `q` is below 2^64.
///
/// ```
/// use primality::{prove, BigUint, Effort};
/// let n = (BigUint::from(1u8) << 89u32) - 1u8;
/// let cert = prove(&n, Effort::unlimited()).unwrap();
/// let step = &cert.steps()[0];
/// assert_eq!(step.n, n);
/// assert_eq!(step.m(), step.q() * &step.s);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The number this step proves prime (given `q`).
    pub n: BigUint,
    /// The trace of Frobenius: the curve has `m = N + 1 - t` points.
    pub t: BigInt,
    /// The cofactor: `m = s q`.
    pub s: BigUint,
    /// The curve coefficient `a` (of `x`), in `[0, N)`.
    pub a: BigUint,
    /// The curve coefficient `b` (the constant), in `[0, N)`.
    pub b: BigUint,
    /// The point's `x`, in `[0, N)`.
    pub x: BigUint,
    /// The point's `y`, in `[0, N)`.
    pub y: BigUint,
}

impl Step {
    /// The curve order `m = N + 1 - t` (zero if `t > N + 1`, which no valid step has).
    ///
    /// ```
    /// use primality::{BigInt, BigUint, Step};
    /// let z = BigUint::from(0u8);
    /// let step = Step { n: 101u8.into(), t: BigInt::from(-4), s: 2u8.into(), a: z.clone(), b: z.clone(), x: z.clone(), y: z };
    /// assert_eq!(step.m(), BigUint::from(106u8));
    /// ```
    pub fn m(&self) -> BigUint {
        (BigInt::from(self.n.clone()) + 1u8 - &self.t)
            .to_biguint()
            .unwrap_or_default()
    }

    /// `q = m / s`, rounded down (zero for `s = 0`); the number the next step proves.
    ///
    /// ```
    /// use primality::{BigInt, BigUint, Step};
    /// let z = BigUint::from(0u8);
    /// let step = Step { n: 101u8.into(), t: BigInt::from(-4), s: 2u8.into(), a: z.clone(), b: z.clone(), x: z.clone(), y: z };
    /// assert_eq!(step.q(), BigUint::from(53u8));
    /// ```
    pub fn q(&self) -> BigUint {
        if self.s == BigUint::default() {
            return BigUint::default();
        }
        self.m() / &self.s
    }
}

/// A primality certificate for [`Certificate::number`]: ECPP steps from the number down to a
/// prime below 2^64 (none for a number below 2^64, which the exact `u64` test settles).
///
/// Made by [`crate::prove`]; read from text with [`Certificate::parse`] (either form),
/// [`Certificate::from_json`] or [`Certificate::from_pari`]; checked by [`Certificate::verify`].
///
/// ```
/// use primality::{prove, BigUint, Certificate, Effort};
/// let n: BigUint = "170141183460469231731687303715884105727".parse().unwrap(); // 2^127 - 1
/// let cert = prove(&n, Effort::unlimited()).unwrap();
/// let again = Certificate::parse(&cert.to_json()).unwrap();
/// assert_eq!(again, cert);
/// assert_eq!(Certificate::parse(&cert.to_pari()).unwrap(), cert);
/// assert!(again.verify().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    number: BigUint,
    steps: Vec<Step>,
}

impl Certificate {
    /// A certificate for `number` from its steps (checked only by [`Certificate::verify`]).
    ///
    /// ```
    /// use primality::{BigUint, Certificate};
    /// let c = Certificate::new(BigUint::from(97u8), Vec::new());
    /// assert!(c.verify().is_ok());
    /// assert!(Certificate::new(BigUint::from(91u8), Vec::new()).verify().is_err());
    /// ```
    pub fn new(number: BigUint, steps: Vec<Step>) -> Self {
        Certificate { number, steps }
    }

    /// The number the certificate proves prime.
    ///
    /// ```
    /// use primality::{BigUint, Certificate};
    /// assert_eq!(Certificate::new(BigUint::from(7u8), vec![]).number(), &BigUint::from(7u8));
    /// ```
    pub fn number(&self) -> &BigUint {
        &self.number
    }

    /// The steps, from the number down.
    ///
    /// ```
    /// use primality::{BigUint, Certificate};
    /// assert!(Certificate::new(BigUint::from(7u8), vec![]).steps().is_empty());
    /// ```
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
}

/// Why a certificate is not valid, or could not be read.
///
/// ```
/// use primality::{BigUint, Certificate, CertificateError};
/// let err = Certificate::new(BigUint::from(91u8), vec![]).verify().unwrap_err();
/// assert_eq!(err.to_string(), "no steps, and 91 is not a prime below 2^64");
/// assert!(matches!(Certificate::parse("[1, 2"), Err(CertificateError::Syntax(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The text is neither a certificate in the JSON form nor one in PARI's form.
    #[error("unreadable certificate: {0}")]
    Syntax(String),
    /// A certificate without steps for a number that is not a prime below 2^64.
    #[error("no steps, and {0} is not a prime below 2^64")]
    NoSteps(BigUint),
    /// Step `step` (1-based) fails the condition `failure`.
    #[error("step {step}: {failure}")]
    Step {
        /// The first failing step, counted from 1.
        step: usize,
        /// The first condition it fails.
        failure: StepFailure,
    },
    /// The `q` of the last step is not a prime below 2^64.
    #[error("the last step's q = {0} is not a prime below 2^64")]
    LastQ(BigUint),
}

/// The condition a step of a certificate fails (in the order they are checked).
///
/// ```
/// use primality::StepFailure;
/// assert_eq!(StepFailure::MpNotInfinity.to_string(), "m·P is not the point at infinity");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StepFailure {
    /// Step 1's `N` is not the certified number, or a later step's `N` is not the previous `q`.
    #[error("N is not the number the previous step left to prove")]
    WrongN,
    /// `N` is divisible by 2 or 3 (or is 1).
    #[error("N is not coprime to 6")]
    NotCoprimeTo6,
    /// `t^2 ≥ 4N`: no curve over `F_N` has `N + 1 - t` points.
    #[error("t is outside the Hasse interval (t^2 >= 4N)")]
    Hasse,
    /// `s = 0`, or `s` does not divide `m`.
    #[error("s does not divide m = N + 1 - t")]
    SDoesNotDivide,
    /// `q ≤ (N^(1/4) + 1)^2`.
    #[error("q = m/s is not greater than (N^(1/4) + 1)^2")]
    QTooSmall,
    /// A curve coefficient or coordinate is not in `[0, N)`.
    #[error("a, b, x or y is not reduced modulo N")]
    NotReduced,
    /// `4a^3 + 27b^2` is not a unit modulo `N`.
    #[error("the curve is singular (gcd(4a^3 + 27b^2, N) != 1)")]
    Singular,
    /// `y^2 ≠ x^3 + a x + b (mod N)`.
    #[error("P is not on the curve")]
    NotOnCurve,
    /// `s P` is the point at infinity modulo some divisor of `N`.
    #[error("s·P is the point at infinity modulo a divisor of N")]
    SpInfinity,
    /// `m P = q (s P)` is not the point at infinity.
    #[error("m·P is not the point at infinity")]
    MpNotInfinity,
}

impl fmt::Display for Certificate {
    /// The JSON form ([`Certificate::to_json`]).
    ///
    /// ```
    /// use primality::{BigUint, Certificate};
    /// let c = Certificate::new(BigUint::from(7u8), vec![]);
    /// assert_eq!(c.to_string(), c.to_json());
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl Certificate {
    /// Read a certificate in either form: JSON (text starting with `{`) or PARI's
    /// (`[[N, t, s, a4, [x, y]], ...]`, or a bare integer below 2^64).
    ///
    /// ```
    /// use primality::Certificate;
    /// let c = Certificate::parse("18446744073709551557").unwrap(); // PARI: a prime < 2^64
    /// assert!(c.steps().is_empty() && c.verify().is_ok());
    /// assert!(Certificate::parse("hello").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Certificate, CertificateError> {
        if text.trim_start().starts_with('{') {
            Certificate::from_json(text)
        } else {
            Certificate::from_pari(text)
        }
    }
}
