//! Relations `y^2 ≡ ± prod p^e (mod N)`: the full ones, and pairs of partial ones that share
//! their large prime `L` (their product is a relation with the extra square `L^2`).

use std::collections::HashMap;

use num_bigint::{BigInt, BigUint};

use super::sieve::Smooth;

/// A relation: `y^2 ≡ extra^2 prod_col column^{exponent} (mod N)`.
#[derive(Debug, Clone)]
pub(crate) struct Relation {
    pub(crate) y: BigUint,
    pub(crate) factors: Vec<(u32, u32)>,
    pub(crate) extra: BigUint,
}

/// The relations gathered so far.
#[derive(Debug)]
pub(crate) struct Relations {
    n: BigUint,
    pub(crate) full: Vec<Relation>,
    partial: HashMap<u64, Smooth>,
    /// `y` values seen, so the same relation is not counted twice.
    seen: std::collections::HashSet<i128>,
}

fn y_mod(y: i128, n: &BigUint) -> BigUint {
    let y = BigInt::from(y) % BigInt::from(n.clone());
    let y = if y.sign() == num_bigint::Sign::Minus {
        y + BigInt::from(n.clone())
    } else {
        y
    };
    y.magnitude().clone()
}

/// The sum of two sorted exponent lists.
fn merge(a: &[(u32, u32)], b: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(&(ca, ea)), Some(&(cb, eb))) if ca == cb => {
                out.push((ca, ea + eb));
                i += 1;
                j += 1;
            }
            (Some(&(ca, ea)), Some(&(cb, _))) if ca < cb => {
                out.push((ca, ea));
                i += 1;
            }
            (Some(&x), None) => {
                out.push(x);
                i += 1;
            }
            (_, Some(&y)) => {
                out.push(y);
                j += 1;
            }
            (None, None) => break,
        }
    }
    out
}

impl Relations {
    pub(crate) fn new(n: &BigUint) -> Self {
        Relations {
            n: n.clone(),
            full: Vec::new(),
            partial: HashMap::new(),
            seen: std::collections::HashSet::new(),
        }
    }

    /// Take in one smooth value.
    pub(crate) fn add(&mut self, s: Smooth) {
        if !self.seen.insert(s.y) {
            return;
        }
        if s.large == 1 {
            self.full.push(Relation {
                y: y_mod(s.y, &self.n),
                factors: s.factors,
                extra: BigUint::from(1u8),
            });
            return;
        }
        match self.partial.get(&s.large) {
            None => {
                self.partial.insert(s.large, s);
            }
            Some(first) => {
                let y = (y_mod(first.y, &self.n) * y_mod(s.y, &self.n)) % &self.n;
                self.full.push(Relation {
                    y,
                    factors: merge(&first.factors, &s.factors),
                    extra: BigUint::from(s.large),
                });
            }
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.full.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_exponents() {
        let a = [(0, 1), (2, 1), (5, 3)];
        let b = [(1, 2), (2, 1), (7, 1)];
        assert_eq!(merge(&a, &b), [(0, 1), (1, 2), (2, 2), (5, 3), (7, 1)]);
        assert_eq!(merge(&[], &b), b);
    }
}
