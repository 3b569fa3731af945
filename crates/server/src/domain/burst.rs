//! The burst limit, in one place: a GCRA (generic cell rate algorithm) over a rate `N/s` or
//! `N/m` with a burst of `N`.
//!
//! The whole state is one number, the theoretical arrival time (TAT, Unix microseconds), kept in
//! the store row of whatever holds the quota (a key or a group) and updated in the same
//! transaction as the quota, so the limit is exact on one instance and across instances.

use std::fmt;
use std::str::FromStr;

/// Microseconds in a second.
const MICROS: i64 = 1_000_000;

/// A rate: `count` requests per `period_secs` (1 or 60), with a burst of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per period, and the burst (1 to 1 000 000).
    pub count: u32,
    /// The period in seconds: 1 (`/s`) or 60 (`/m`).
    pub period_secs: u32,
}

/// Most requests a rate may allow per period.
pub const MAX_RATE: u32 = 1_000_000;

impl Rate {
    /// The time one request uses up, in microseconds (at least 1).
    pub fn interval_us(self) -> i64 {
        (i64::from(self.period_secs) * MICROS / i64::from(self.count.max(1))).max(1)
    }

    /// The whole burst, in microseconds.
    fn capacity_us(self) -> i64 {
        self.interval_us() * i64::from(self.count.max(1))
    }

    /// A rate from its stored columns (`None` when either is NULL or out of range).
    pub fn from_stored(count: Option<i64>, period_secs: Option<i64>) -> Option<Rate> {
        let count = u32::try_from(count?)
            .ok()
            .filter(|c| (1..=MAX_RATE).contains(c))?;
        let period_secs = u32::try_from(period_secs?)
            .ok()
            .filter(|p| *p == 1 || *p == 60)?;
        Some(Rate { count, period_secs })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.period_secs == 60 { "m" } else { "s" };
        write!(f, "{}/{unit}", self.count)
    }
}

impl FromStr for Rate {
    type Err = String;

    /// `N/s` or `N/m`, N from 1 to 1 000 000.
    fn from_str(s: &str) -> Result<Rate, String> {
        let bad = || format!("invalid rate '{s}' (use N/s or N/m, N from 1 to {MAX_RATE})");
        let (n, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        let period_secs = match unit.trim() {
            "s" => 1,
            "m" => 60,
            _ => return Err(bad()),
        };
        if !(1..=MAX_RATE).contains(&count) {
            return Err(bad());
        }
        Ok(Rate { count, period_secs })
    }
}

/// What the burst policy looks like after a request (for the `RateLimit` headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstState {
    /// The rate.
    pub rate: Rate,
    /// Requests that could be made at once now.
    pub remaining: u64,
    /// Whole seconds until the burst is whole again (rounded down).
    pub reset_secs: u64,
    /// `Some(seconds)` (at least 1) when this request was refused.
    pub retry_after: Option<u64>,
}

impl BurstState {
    /// Whether the request was refused by the burst limit.
    pub fn limited(&self) -> bool {
        self.retry_after.is_some()
    }
}

/// Apply the GCRA to one request at `now_us` with the stored `tat_us`: the new TAT (unchanged
/// when refused) and the state to show.
pub fn pace(rate: Rate, tat_us: i64, now_us: i64) -> (i64, BurstState) {
    let t = rate.interval_us();
    let cap = rate.capacity_us();
    let start = tat_us.max(now_us);
    let next = start.saturating_add(t);
    let ahead = next - now_us;
    if ahead > cap {
        let wait = ahead - cap;
        let state = BurstState {
            rate,
            remaining: 0,
            reset_secs: u64::try_from((start - now_us) / MICROS).unwrap_or(0),
            retry_after: Some(
                u64::try_from((wait + MICROS - 1) / MICROS)
                    .unwrap_or(1)
                    .max(1),
            ),
        };
        return (tat_us, state);
    }
    let state = BurstState {
        rate,
        remaining: u64::try_from((cap - ahead) / t).unwrap_or(0),
        reset_secs: u64::try_from(ahead / MICROS).unwrap_or(0),
        retry_after: None,
    };
    (next, state)
}

/// The burst state as of `now_us` without making a request (for `/usage`-like views).
pub fn peek(rate: Rate, tat_us: i64, now_us: i64) -> BurstState {
    let t = rate.interval_us();
    let ahead = tat_us.max(now_us) - now_us;
    BurstState {
        rate,
        remaining: u64::try_from((rate.capacity_us() - ahead) / t).unwrap_or(0),
        reset_secs: u64::try_from(ahead / MICROS).unwrap_or(0),
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const NOW: i64 = 1_795_838_343_000_000;

    #[test]
    fn parses_and_prints() {
        let r: Rate = "10/s".parse().unwrap();
        assert_eq!((r.count, r.period_secs), (10, 1));
        assert_eq!("600/m".parse::<Rate>().unwrap().to_string(), "600/m");
        for bad in ["", "10", "0/s", "10/h", "x/s", "1000001/s", "-1/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
        assert_eq!(
            Rate::from_stored(Some(5), Some(60)).unwrap().to_string(),
            "5/m"
        );
        assert_eq!(Rate::from_stored(None, Some(1)), None);
    }

    #[test]
    fn a_burst_of_n_then_one_per_interval() {
        let rate: Rate = "10/s".parse().unwrap();
        let mut tat = 0;
        for i in 0..10 {
            let (next, s) = pace(rate, tat, NOW);
            assert!(!s.limited(), "request {i}");
            assert_eq!(s.remaining, 9 - i);
            tat = next;
        }
        let (same, s) = pace(rate, tat, NOW);
        assert_eq!(same, tat);
        assert_eq!(s.retry_after, Some(1));
        assert_eq!(s.remaining, 0);
        // 1/N s later, exactly one more.
        let later = NOW + 100_000;
        let (next, s) = pace(rate, tat, later);
        assert!(!s.limited());
        assert!(pace(rate, next, later).1.limited());
        assert_eq!(peek(rate, next, later + 1_000_000).remaining, 10);
    }

    #[test]
    fn per_minute_rates_wait_whole_seconds() {
        let rate: Rate = "2/m".parse().unwrap();
        let (tat, _) = pace(rate, 0, NOW);
        let (tat, s) = pace(rate, tat, NOW);
        assert_eq!((s.remaining, s.reset_secs), (0, 60));
        let (_, s) = pace(rate, tat, NOW);
        assert_eq!(s.retry_after, Some(30));
    }
}
