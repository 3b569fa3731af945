//! Strong (Miller-Rabin) tests on multi-limb numbers in Montgomery form.

use num_bigint::BigUint;

use crate::montgomery::{MontCtx, PowBuffers, bit_len, geq, to_limbs};

/// `n - 1 = d 2^s` with `d` odd, for an odd `n > 1` held in a [`MontCtx`].
#[derive(Debug)]
pub(crate) struct Decomposition {
    pub(crate) d: Vec<u64>,
    pub(crate) s: u64,
    /// Montgomery form of `-1`, i.e. `n - R mod n`.
    pub(crate) minus_one: Vec<u64>,
}

impl Decomposition {
    pub(crate) fn new(ctx: &MontCtx) -> Self {
        let mut nm1 = ctx.n.clone();
        nm1[0] -= 1; // n is odd
        let s = nm1
            .iter()
            .position(|&l| l != 0)
            .map_or(0, |i| i as u64 * 64 + nm1[i].trailing_zeros() as u64);
        let d = shift_right(&nm1, s);
        let mut minus_one = ctx.n.clone();
        // n - one (one < n, so no borrow out).
        let mut borrow = false;
        for (x, &y) in minus_one.iter_mut().zip(&ctx.one) {
            let (d1, b1) = x.overflowing_sub(y);
            let (d2, b2) = d1.overflowing_sub(borrow as u64);
            *x = d2;
            borrow = b1 | b2;
        }
        Decomposition { d, s, minus_one }
    }
}

/// `x >> s` for little-endian limbs.
pub(crate) fn shift_right(x: &[u64], s: u64) -> Vec<u64> {
    let words = (s / 64) as usize;
    let bits = (s % 64) as u32;
    let mut out = vec![0u64; x.len()];
    for i in words..x.len() {
        let lo = x[i] >> bits;
        let hi = if bits != 0 && i + 1 < x.len() {
            x[i + 1] << (64 - bits)
        } else {
            0
        };
        out[i - words] = lo | hi;
    }
    out
}

/// The tail of a strong test: `x = a^d` in Montgomery form; is `n` a strong probable prime?
fn strong_tail(ctx: &MontCtx, dec: &Decomposition, x: &mut [u64], t: &mut [u64]) -> bool {
    if x == ctx.one.as_slice() || x == dec.minus_one.as_slice() {
        return true;
    }
    for _ in 1..dec.s {
        ctx.sqr_assign(x, t);
        if x == dec.minus_one.as_slice() {
            return true;
        }
        if x == ctx.one.as_slice() {
            return false;
        }
    }
    false
}

/// Strong probable-prime test to base 2: `2^d` by left-to-right binary exponentiation where
/// every multiplication by the base is a modular doubling, so the cost is one squaring per bit.
pub(crate) fn strong_test_base2(ctx: &MontCtx, dec: &Decomposition) -> bool {
    let k = ctx.len();
    let mut t = ctx.scratch();
    let mut x = ctx.one.clone();
    ctx.double_assign(&mut x);
    let bits = bit_len(&dec.d);
    for i in (0..bits.saturating_sub(1)).rev() {
        ctx.sqr_assign(&mut x, &mut t);
        if (dec.d[(i / 64) as usize] >> (i % 64)) & 1 == 1 {
            ctx.double_assign(&mut x);
        }
    }
    debug_assert_eq!(x.len(), k);
    strong_tail(ctx, dec, &mut x, &mut t)
}

/// Strong probable-prime test to an arbitrary base `a` (reduced mod `n`), sliding-window
/// exponentiation. A base `≡ 0 (mod n)` passes.
pub(crate) fn strong_test(
    ctx: &MontCtx,
    dec: &Decomposition,
    a: &BigUint,
    bufs: &mut PowBuffers,
) -> bool {
    let mut x = ctx.encode_big(a);
    if x.iter().all(|&l| l == 0) {
        return true;
    }
    ctx.pow_assign(&mut x, &dec.d, bufs);
    let mut t = ctx.scratch();
    strong_tail(ctx, dec, &mut x, &mut t)
}

/// How many bases [`find_witness`] tries at most: `2 ln² n` (at least 64). Under the
/// generalised Riemann hypothesis every odd composite `n` has a strong witness below this bound
/// (Miller 1976, with Bach's constant 2, 1990), so a search that reaches it without finding one
/// has met a prime, not a composite.
pub(crate) fn witness_bound(n: &BigUint) -> u64 {
    let ln = n.bits() as f64 * std::f64::consts::LN_2;
    (2.0 * ln * ln).ceil().max(64.0) as u64
}

/// A base for which the odd `n` fails the strong test, or `None` if none is found among the
/// first [`witness_bound`] bases tried (then `n` is prime under the generalised Riemann
/// hypothesis: the search never runs on without end, even if a caller's reason to believe `n`
/// composite was wrong).
///
/// At most a quarter of the bases in `[1, n-1]` are strong liars of a composite (Monier, Rabin
/// 1980). Small bases come first (3, 5, 7 give the shortest evidence); numbers built to fool
/// every small base (Arnault's) then meet bases from a fixed pseudo-random sequence, each a
/// witness with probability at least 3/4; should 64 of those all be liars, the bases 3, 4, 5, …
/// are scanned up to the bound.
pub(crate) fn find_witness(ctx: &MontCtx, dec: &Decomposition) -> Option<BigUint> {
    let mut bufs = PowBuffers::new(ctx);
    for a in [3u32, 5, 7] {
        let a = BigUint::from(a);
        if !strong_test(ctx, dec, &a, &mut bufs) {
            return Some(a);
        }
    }
    let n = crate::montgomery::from_limbs(&ctx.n);
    let span = &n - 3u32; // bases 2 ..= n-2
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut splitmix = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for _ in 0..64 {
        let limbs: Vec<u64> = (0..ctx.len()).map(|_| splitmix()).collect();
        let a = crate::montgomery::from_limbs(&limbs) % &span + 2u32;
        if !strong_test(ctx, dec, &a, &mut bufs) {
            return Some(a);
        }
    }
    let bound = BigUint::from(witness_bound(&n)).min(&n - 2u32);
    let mut a = BigUint::from(3u32);
    while a <= bound {
        if !strong_test(ctx, dec, &a, &mut bufs) {
            return Some(a);
        }
        a += 1u32;
    }
    None
}

/// A uniformly random integer in `[lo, lo + span)` (`span > 0`) from 64-bit draws by rejection.
pub(crate) fn random_below<R: rand::Rng + ?Sized>(span: &BigUint, rng: &mut R) -> BigUint {
    let k = span.iter_u64_digits().len();
    let sl = to_limbs(span, k);
    let bits = bit_len(&sl);
    let top_mask = if bits.is_multiple_of(64) {
        u64::MAX
    } else {
        (1u64 << (bits % 64)) - 1
    };
    let mut v = vec![0u64; k];
    loop {
        for l in v.iter_mut() {
            *l = rng.next_u64();
        }
        if let Some(last) = v.last_mut() {
            *last &= top_mask;
        }
        if !geq(&v, &sl) {
            return crate::montgomery::from_limbs(&v);
        }
    }
}
