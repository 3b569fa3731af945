//! Inputs shared by the benches.

use num_bigint::{BigRng010, BigUint};
use primality::is_prime;
use rand::rngs::StdRng;

/// A random prime of exactly `bits` bits (the first prime from a random odd start).
pub fn random_prime(rng: &mut StdRng, bits: u64) -> BigUint {
    loop {
        let mut x = rng.random_biguint(bits);
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
