//! The checker, written apart from the prover: it shares only the modular and curve arithmetic.

use num_bigint::{BigInt, BigUint};
use num_integer::Integer;
use num_traits::{ToPrimitive, Zero};

use super::{Certificate, CertificateError, Step, StepFailure};
use crate::ecpp::ec::{mul_affine, to_affine};
use crate::ring::{Gcd, Ring, RingTask, with_ring};

impl Certificate {
    /// Check every condition of every step, in order, and that the last `q` is a prime below
    /// 2^64 (exact test); the error names the first failing step and condition.
    ///
    /// ```
    /// use primality::{prove, BigUint, Effort};
    /// let n: BigUint = "618970019642690137449562111".parse().unwrap(); // 2^89 - 1
    /// let cert = prove(&n, Effort::unlimited()).unwrap();
    /// assert!(cert.verify().is_ok());
    ///
    /// let mut steps = cert.steps().to_vec();
    /// steps[0].x += 1u8;
    /// let forged = primality::Certificate::new(n, steps);
    /// let err = forged.verify().unwrap_err().to_string();
    /// assert!(err.starts_with("step 1: "), "{err}");
    /// ```
    pub fn verify(&self) -> Result<(), CertificateError> {
        let Some(last) = self.steps.last() else {
            return match self.number.to_u64() {
                Some(n) if crate::is_prime_u64(n) => Ok(()),
                _ => Err(CertificateError::NoSteps(self.number.clone())),
            };
        };
        let mut expected = self.number.clone();
        for (i, step) in self.steps.iter().enumerate() {
            check_step(step, &expected).map_err(|failure| CertificateError::Step {
                step: i + 1,
                failure,
            })?;
            expected = step.q();
        }
        match last.q().to_u64() {
            Some(q) if crate::is_prime_u64(q) => Ok(()),
            _ => Err(CertificateError::LastQ(last.q())),
        }
    }
}

/// `q > (N^(1/4) + 1)^2`, exactly: with `u = √q - 1` it is `u^4 > N`, i.e. `q + 1 - √N > 2√q`,
/// i.e. `(q + 1)^2 > N` and `((q - 1)^2 + N)^2 > 4 (q + 1)^2 N`.
pub(crate) fn q_large_enough(q: &BigUint, n: &BigUint) -> bool {
    if q <= &BigUint::from(1u8) {
        return false;
    }
    let qp = q + 1u8;
    let qm = q - 1u8;
    let qp2 = &qp * &qp;
    if &qp2 <= n {
        return false;
    }
    let lhs = &qm * &qm + n;
    &lhs * &lhs > (qp2 * n) << 2u32
}

fn check_step(step: &Step, expected: &BigUint) -> Result<(), StepFailure> {
    let n = &step.n;
    if n != expected {
        return Err(StepFailure::WrongN);
    }
    if n.gcd(&BigUint::from(6u8)) != BigUint::from(1u8) || n <= &BigUint::from(1u8) {
        return Err(StepFailure::NotCoprimeTo6);
    }
    let t2 = &step.t * &step.t;
    if t2 >= BigInt::from(n.clone()) * 4u8 {
        return Err(StepFailure::Hasse);
    }
    let m = BigInt::from(n.clone()) + 1u8 - &step.t;
    let m = m.to_biguint().unwrap_or_default();
    if step.s.is_zero() || !(&m % &step.s).is_zero() {
        return Err(StepFailure::SDoesNotDivide);
    }
    let q = &m / &step.s;
    if !q_large_enough(&q, n) {
        return Err(StepFailure::QTooSmall);
    }
    if [&step.a, &step.b, &step.x, &step.y].iter().any(|v| *v >= n) {
        return Err(StepFailure::NotReduced);
    }
    with_ring(n, CurveCheck { step, q: &q })
}

/// The curve conditions of one step, in the arithmetic modulo `N`.
struct CurveCheck<'a> {
    step: &'a Step,
    q: &'a BigUint,
}

impl RingTask for CurveCheck<'_> {
    type Output = Result<(), StepFailure>;

    fn run<R: Ring>(self, r: &R) -> Result<(), StepFailure> {
        let st = self.step;
        let (a, b) = (r.residue(&st.a), r.residue(&st.b));
        let (x, y) = (r.residue(&st.x), r.residue(&st.y));
        let a3 = r.mul(&r.sqr(&a), &a);
        let disc = r.add(
            &r.mul(&r.residue_u64(4), &a3),
            &r.mul(&r.residue_u64(27), &r.sqr(&b)),
        );
        if r.gcd(&disc) != Gcd::One {
            return Err(StepFailure::Singular);
        }
        let rhs = r.add(&r.mul(&x, &r.add(&r.sqr(&x), &a)), &b);
        if r.sqr(&y) != rhs {
            return Err(StepFailure::NotOnCurve);
        }
        let sp = mul_affine(r, &a, &x, &y, &st.s);
        let Some((sx, sy)) = to_affine(r, &sp) else {
            return Err(StepFailure::SpInfinity);
        };
        let mp = mul_affine(r, &a, &sx, &sy, self.q);
        if mp.z != r.zero() || r.gcd(&mp.y) != Gcd::One {
            return Err(StepFailure::MpNotInfinity);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_bound_is_exact() {
        // N = 16: (16^(1/4) + 1)^2 = 9.
        let n = BigUint::from(16u8);
        assert!(!q_large_enough(&BigUint::from(9u8), &n));
        assert!(q_large_enough(&BigUint::from(10u8), &n));
        // N = 17: (17^(1/4) + 1)^2 = 9.12...
        let n = BigUint::from(17u8);
        assert!(!q_large_enough(&BigUint::from(9u8), &n));
        assert!(q_large_enough(&BigUint::from(10u8), &n));
        // Brute force against floating point away from the boundary.
        for n in 2u32..3000 {
            let bound = ((n as f64).powf(0.25) + 1.0).powi(2);
            for q in 1u32..200 {
                if ((q as f64) - bound).abs() > 1e-6 {
                    assert_eq!(
                        q_large_enough(&q.into(), &n.into()),
                        q as f64 > bound,
                        "{n} {q}"
                    );
                }
            }
        }
    }
}
