//! Primes in an interval by a segmented sieve of Eratosthenes over the odd numbers, for the
//! prime bounds of p-1 and ECM (up to about 10^10) and the SIQS factor base.

/// Odd numbers per segment (a 32 KiB bit set).
const SEGMENT_ODDS: u64 = 1 << 18;

/// The primes in `[lo, hi)`, ascending.
#[derive(Debug)]
pub(crate) struct Primes {
    /// Odd primes up to `sqrt(hi)`, for sieving.
    base: Vec<u64>,
    hi: u64,
    /// The odd number that bit 0 of `bits` stands for.
    seg_start: u64,
    bits: Vec<u64>,
    /// Next bit of `bits` to look at.
    pos: u64,
    /// Whether 2 is still to be produced.
    two: bool,
}

/// The odd primes up to `limit` (a plain sieve; `limit` is at most `sqrt(hi)` of a [`Primes`]).
fn small_odd_primes(limit: u64) -> Vec<u64> {
    let limit = limit as usize;
    let mut composite = vec![false; limit / 2 + 1];
    let mut out = Vec::new();
    let mut i = 3;
    while i <= limit {
        if !composite[i / 2] {
            out.push(i as u64);
            let mut j = i * i;
            while j <= limit {
                composite[j / 2] = true;
                j += 2 * i;
            }
        }
        i += 2;
    }
    out
}

impl Primes {
    /// The primes `p` with `lo <= p < hi`.
    pub(crate) fn new(lo: u64, hi: u64) -> Self {
        let root = (hi as f64).sqrt() as u64 + 2;
        let mut primes = Primes {
            base: small_odd_primes(root),
            hi,
            seg_start: lo.max(3) | 1,
            bits: Vec::new(),
            pos: 0,
            two: lo <= 2 && hi > 2,
        };
        primes.sieve_segment();
        primes
    }

    /// Sieve the odd numbers `seg_start, seg_start + 2, ...` of the current segment.
    fn sieve_segment(&mut self) {
        let odds = SEGMENT_ODDS.min(self.hi.saturating_sub(self.seg_start).div_ceil(2));
        self.bits.clear();
        self.bits.resize(odds.div_ceil(64) as usize, u64::MAX);
        let start = self.seg_start;
        let end = start + 2 * odds; // exclusive
        for &p in &self.base {
            if p * p >= end {
                break;
            }
            // First odd multiple of p that is >= max(p^2, start).
            let mut m = (p * p).max(start.div_ceil(p) * p);
            if m % 2 == 0 {
                m += p;
            }
            let mut bit = (m - start) / 2;
            while bit < odds {
                self.bits[(bit / 64) as usize] &= !(1 << (bit % 64));
                bit += p;
            }
        }
        if start == 1 {
            self.bits[0] &= !1; // 1 is not prime
        }
        self.pos = 0;
        if let (true, Some(last)) = (!odds.is_multiple_of(64), self.bits.last_mut()) {
            *last &= (1u64 << (odds % 64)) - 1;
        }
    }
}

impl Iterator for Primes {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.two {
            self.two = false;
            return Some(2);
        }
        loop {
            let word = (self.pos / 64) as usize;
            if word >= self.bits.len() {
                let odds = self.bits.len() as u64 * 64;
                if self.bits.is_empty() || self.seg_start + 2 * odds >= self.hi {
                    return None;
                }
                self.seg_start += 2 * SEGMENT_ODDS;
                if self.seg_start >= self.hi {
                    return None;
                }
                self.sieve_segment();
                continue;
            }
            let w = self.bits[word] >> (self.pos % 64);
            if w == 0 {
                self.pos = (word as u64 + 1) * 64;
                continue;
            }
            self.pos += w.trailing_zeros() as u64;
            let p = self.seg_start + 2 * self.pos;
            self.pos += 1;
            return (p < self.hi).then_some(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(lo: u64, hi: u64) -> Vec<u64> {
        (lo..hi)
            .filter(|&n| n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
            .collect()
    }

    #[test]
    fn matches_trial_division() {
        for (lo, hi) in [
            (0, 100),
            (1, 2),
            (2, 3),
            (3, 4),
            (0, 1),
            (90, 97),
            (90, 98),
            (1000, 1000),
            (0, 1 << 19),
            (524_000, 1_100_000),
        ] {
            assert_eq!(
                Primes::new(lo, hi).collect::<Vec<_>>(),
                naive(lo, hi),
                "{lo}..{hi}"
            );
        }
    }

    #[test]
    fn counts_agree_with_pi() {
        assert_eq!(Primes::new(0, 10_000_000).count(), 664_579);
        assert_eq!(Primes::new(1_000_000_000, 1_000_100_000).count(), 4_832);
    }
}
