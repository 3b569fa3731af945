//! Sieving one polynomial over `[-M, M)` block by block, and trial division of the survivors.
//!
//! Each byte starts at `128 - T` for the threshold `T` (in bits) and every factor-base prime
//! adds `round(log2 p)` at the offsets of its two roots, so a byte reaches 128 (its top bit)
//! where `Q(x)` is likely smooth; eight bytes are tested at once. The smallest primes are not
//! sieved (they cost the most and add little); the threshold allows for them.

use super::base::FbPrime;
use super::params::BLOCK;
use super::poly::{NOT_SIEVED, Poly};

/// Primes below this are not sieved.
const SMALL_PRIME_CUTOFF: u32 = 30;

/// A value of `Q` that factors over the base, apart from at most one large prime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Smooth {
    /// `A x + B` (its square is `A Q(x)` modulo `kN`).
    pub(crate) y: i128,
    /// Columns of `A Q(x)` with their exponents: 0 is the sign, `1 + i` the prime `fb[i]`.
    pub(crate) factors: Vec<(u32, u32)>,
    /// The large prime, or 1.
    pub(crate) large: u64,
}

/// Per-size constants of the sieve.
#[derive(Debug)]
pub(crate) struct SieveCtx<'a> {
    pub(crate) fb: &'a [FbPrime],
    /// Half the interval, `M`.
    pub(crate) m: u32,
    /// The starting value of each byte, `128 - T`.
    pub(crate) init: u8,
    /// Largest cofactor kept as a large prime.
    pub(crate) large_bound: u64,
    /// First factor-base index that is sieved.
    pub(crate) first_sieved: usize,
    /// Per factor-base prime, `p^{-1} mod 2^128` and `floor((2^128 - 1) / p)`: `p | v` exactly
    /// when `v p^{-1} mod 2^128 <= floor((2^128 - 1) / p)`, and then that product is `v / p`.
    divisors: Vec<(u128, u128)>,
    /// The primes and `ceil(2^32 / p)`, as plain arrays for the vectorised root test.
    p32: Vec<u32>,
    m32: Vec<u32>,
}

/// `p^{-1} mod 2^128` for odd `p`: the 64-bit inverse and one Newton step.
fn inverse_u128(p: u128) -> u128 {
    let x = crate::small::inv_u64(p as u64) as u128;
    x.wrapping_mul(2u128.wrapping_sub(p.wrapping_mul(x)))
}

impl<'a> SieveCtx<'a> {
    pub(crate) fn new(fb: &'a [FbPrime], m: u32, kn_bits: u64, lp_mult: u64, slack: f64) -> Self {
        let expected = (m as f64).log2() + kn_bits as f64 / 2.0 - 0.5;
        let threshold = (expected - slack).round().clamp(1.0, 127.0) as u8;
        let p_max = fb.last().map_or(2, |f| f.p as u64);
        SieveCtx {
            fb,
            m,
            init: 128 - threshold,
            large_bound: (p_max * lp_mult).min(p_max * p_max - 1),
            first_sieved: fb
                .iter()
                .position(|f| f.p >= SMALL_PRIME_CUTOFF)
                .unwrap_or(fb.len()),
            divisors: fb
                .iter()
                .map(|f| {
                    let p = f.p as u128 | 1; // 2 is divided out by shifting
                    (inverse_u128(p), u128::MAX / p)
                })
                .collect(),
            p32: fb.iter().map(|f| f.p).collect(),
            m32: fb
                .iter()
                .map(|f| (u32::MAX / f.p).wrapping_add(1))
                .collect(),
        }
    }
}

/// Reusable buffers.
#[derive(Debug)]
pub(crate) struct Sieve {
    block: Box<[u8; BLOCK]>,
    next1: Vec<u32>,
    next2: Vec<u32>,
}

impl Sieve {
    pub(crate) fn new() -> Self {
        Sieve {
            block: Box::new([0; BLOCK]),
            next1: Vec::new(),
            next2: Vec::new(),
        }
    }

    /// Sieve `poly` and push what factors into `out`.
    pub(crate) fn run(&mut self, ctx: &SieveCtx<'_>, poly: &Poly, out: &mut Vec<Smooth>) {
        self.next1.clone_from(&poly.root1);
        self.next2.clone_from(&poly.root2);
        let interval = 2 * ctx.m as usize;
        for offset in (0..interval).step_by(BLOCK) {
            let len = BLOCK.min(interval - offset);
            self.block[..len].fill(ctx.init);
            self.sieve_block(ctx, offset as u32, len);
            self.scan(ctx, poly, offset as u32, len, out);
        }
    }

    fn sieve_block(&mut self, ctx: &SieveCtx<'_>, offset: u32, len: usize) {
        let block = &mut self.block[..len];
        for i in ctx.first_sieved..ctx.fb.len() {
            let r1 = self.next1[i];
            if r1 == NOT_SIEVED {
                continue;
            }
            let f = ctx.fb[i];
            let (p, logp) = (f.p as usize, f.logp);
            let r2 = self.next2[i];
            // Both next hits lie in [offset, offset + p + len): a <= b < a + p.
            let (mut a, mut b) = (
                (r1.min(r2) - offset) as usize,
                (r1.max(r2) - offset) as usize,
            );
            if a == b {
                // A prime dividing k has a single root.
                while a < len {
                    block[a] = block[a].wrapping_add(logp);
                    a += p;
                }
                b = a;
            } else {
                while b < len {
                    block[a] = block[a].wrapping_add(logp);
                    block[b] = block[b].wrapping_add(logp);
                    a += p;
                    b += p;
                }
                if a < len {
                    block[a] = block[a].wrapping_add(logp);
                    a += p;
                }
            }
            self.next1[i] = offset + a as u32;
            self.next2[i] = offset + b as u32;
        }
    }

    fn scan(
        &self,
        ctx: &SieveCtx<'_>,
        poly: &Poly,
        offset: u32,
        len: usize,
        out: &mut Vec<Smooth>,
    ) {
        const TOP: u64 = 0x8080_8080_8080_8080;
        for (c, chunk) in self.block[..len].chunks_exact(32).enumerate() {
            let words: [u64; 4] = std::array::from_fn(|k| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&chunk[8 * k..8 * k + 8]);
                u64::from_le_bytes(b)
            });
            if (words[0] | words[1] | words[2] | words[3]) & TOP == 0 {
                continue;
            }
            for (k, &w) in words.iter().enumerate() {
                let mut hits = w & TOP;
                while hits != 0 {
                    let byte = hits.trailing_zeros() as usize / 8;
                    hits &= hits - 1;
                    let i = offset + (c * 32 + k * 8 + byte) as u32;
                    if let Some(s) = trial_divide(ctx, poly, i) {
                        out.push(s);
                    }
                }
            }
        }
    }
}

/// Factor `Q(x)` at sieve offset `i` over the base; `None` unless it is smooth apart from at
/// most one large prime.
fn trial_divide(ctx: &SieveCtx<'_>, poly: &Poly, i: u32) -> Option<Smooth> {
    let x = i as i64 - ctx.m as i64;
    let q = poly.value(x);
    if q == 0 {
        return None;
    }
    let mut factors = Vec::with_capacity(16);
    if q < 0 {
        factors.push((0, 1));
    }
    let mut v = q.unsigned_abs();
    let twos = v.trailing_zeros();
    if twos > 0 {
        factors.push((1, twos));
        v >>= twos;
    }
    let mut hits = Vec::with_capacity(32);
    matching_primes(ctx, poly, i, &mut hits);
    hits.extend(poly.a_idx.iter().map(|&j| j as u32));
    hits.sort_unstable();
    for idx in hits {
        let idx = idx as usize;
        let (inv, limit) = ctx.divisors[idx];
        let mut e = (poly.root1[idx] == NOT_SIEVED) as u32; // A contributes its primes once
        loop {
            let q = v.wrapping_mul(inv);
            if q > limit {
                break;
            }
            v = q;
            e += 1;
        }
        if e > 0 {
            factors.push((idx as u32 + 1, e));
        }
    }
    let large = match u64::try_from(v) {
        Ok(1) => 1,
        Ok(l) if l <= ctx.large_bound => l,
        _ => return None,
    };
    Some(Smooth {
        y: poly.y(x),
        factors,
        large,
    })
}

/// The odd factor-base indices whose roots match sieve offset `i` (so `p | Q(x)`), tested 16 at
/// a time without branches. For offsets below 2^16 the remainder is `((m i mod 2^32) p) >> 32`
/// with `m = ceil(2^32 / p)`, exact for 16-bit operands (Lemire et al.), which the compiler
/// vectorises.
fn matching_primes(ctx: &SieveCtx<'_>, poly: &Poly, i: u32, out: &mut Vec<u32>) {
    let n = ctx.fb.len();
    let (ps, ms) = (&ctx.p32[..n], &ctx.m32[..n]);
    let (r1s, r2s) = (&poly.root1[..n], &poly.root2[..n]);
    if i >= 1 << 16 {
        for (idx, f) in ctx.fb.iter().enumerate().skip(1) {
            let r = f.rem(i);
            if r == r1s[idx] || r == r2s[idx] {
                out.push(idx as u32);
            }
        }
        return;
    }
    const LANES: usize = 16;
    let full = (n - 1) / LANES;
    for c in 0..full {
        let base = 1 + c * LANES;
        let mut mask = 0u32;
        for k in 0..LANES {
            let j = base + k;
            let r = ((ms[j].wrapping_mul(i) as u64 * ps[j] as u64) >> 32) as u32;
            mask |= (((r == r1s[j]) | (r == r2s[j])) as u32) << k;
        }
        while mask != 0 {
            out.push((base + mask.trailing_zeros() as usize) as u32);
            mask &= mask - 1;
        }
    }
    for j in 1 + full * LANES..n {
        let r = ((ms[j].wrapping_mul(i) as u64 * ps[j] as u64) >> 32) as u32;
        if r == r1s[j] || r == r2s[j] {
            out.push(j as u32);
        }
    }
}
