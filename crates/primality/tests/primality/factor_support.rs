//! Helpers shared by the factorisation tests (`factor.rs`, and `../factor_budget.rs`); unlike
//! `common`, these use the crate under test (`is_prime` judges the factors).

use num_bigint::BigUint;
use num_traits::One;
use primality::{Factorization, is_prime};
use rand::Rng;
use rand::rngs::StdRng;

/// The checks that need no trust in the engine.
pub fn assert_valid(n: &BigUint, f: &Factorization) {
    assert_eq!(&f.product(), n, "factors of {n} do not multiply back: {f}");
    for w in f.factors.windows(2) {
        assert!(w[0].0 < w[1].0, "factors of {n} not ascending: {f}");
    }
    for (p, e) in &f.factors {
        assert!(*e >= 1);
        assert!(is_prime(p), "factor {p} of {n} is not prime");
    }
    if let Some(c) = &f.cofactor {
        assert!(*c > BigUint::one() && !is_prime(c), "cofactor {c} of {n}");
    }
}

/// A random prime of `bits` bits.
pub fn random_prime(rng: &mut StdRng, bits: u64) -> BigUint {
    loop {
        let mut x = BigUint::ZERO;
        for i in 0..bits.div_ceil(64) {
            x |= BigUint::from(rng.next_u64()) << (64 * i);
        }
        x &= (BigUint::one() << bits) - 1u8;
        x.set_bit(bits - 1, true);
        x.set_bit(0, true);
        while !is_prime(&x) {
            x += 2u8;
        }
        if x.bits() == bits {
            return x;
        }
    }
}
