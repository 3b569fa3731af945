//! The quota rule, in one place: given what the store holds for a key, a demand for units and
//! the time, grant or refuse, and say why.
//!
//! Both store backends read the key's row under their write lock, call [`decide`], write back
//! what it granted and commit before anyone is answered, so the rule is applied atomically and
//! exactly (one server or several sharing PostgreSQL) without being written in SQL.

use super::schedule::{Period, Schedules};

/// How many units a request asks for (or gives back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demand {
    /// All of them or none (a single check, a JSON batch).
    Exactly(u64),
    /// As many as are left, up to this many (the next chunk of a stream).
    UpTo(u64),
    /// Units granted in the period ending at `period_end` whose request then failed inside the
    /// server: given back if that period is still the key's current one.
    GiveBack {
        /// Units to give back.
        units: u64,
        /// The end of the period they were granted in.
        period_end: i64,
    },
}

/// What the rule needs to know of a stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    /// Units allowed per period.
    pub limit: u64,
    /// Units used in the stored period.
    pub used: u64,
    /// The stored period; it has ended when `period.end <= now` (`end == 0`: none opened yet).
    pub period: Period,
    /// The key's own reset schedule; `None`: the server's default.
    pub reset_schedule: Option<String>,
    /// Expiry, Unix seconds.
    pub expires_at: Option<i64>,
    /// Revoked keys are refused.
    pub revoked: bool,
}

impl KeyState {
    /// A new key's state: nothing used, no period opened yet (the first use opens one), not
    /// revoked.
    pub fn new(limit: u64, reset_schedule: Option<String>, expires_at: Option<i64>) -> Self {
        KeyState {
            limit,
            used: 0,
            period: Period { start: 0, end: 0 },
            reset_schedule,
            expires_at,
            revoked: false,
        }
    }

    /// Why the key may not be used at `now`, if it may not.
    pub fn refusal(&self, now: i64) -> Option<Refusal> {
        if self.revoked {
            Some(Refusal::Revoked)
        } else if self.expires_at.is_some_and(|e| e <= now) {
            Some(Refusal::Expired)
        } else {
            None
        }
    }

    /// The quota as of `now`: a period that has ended is replaced by the schedule's current one,
    /// with nothing used in it.
    pub fn quota_at(&self, now: i64, schedules: &Schedules) -> QuotaState {
        if self.period.end <= now {
            QuotaState {
                limit: self.limit,
                used: 0,
                period: schedules.period_for(self.reset_schedule.as_deref(), now),
            }
        } else {
            QuotaState {
                limit: self.limit,
                used: self.used,
                period: self.period,
            }
        }
    }
}

/// A key's quota in its current period: what the rate-limit headers and `/usage` show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaState {
    /// Units allowed per period.
    pub limit: u64,
    /// Units used in the period (after this request's, when it was granted).
    pub used: u64,
    /// The period: it started at `period.start` and resets at `period.end`.
    pub period: Period,
}

impl QuotaState {
    /// Units left in the period.
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    /// Whole seconds until the next reset, at least 0.
    pub fn seconds_to_reset(&self, now: i64) -> u64 {
        u64::try_from(self.period.end.saturating_sub(now)).unwrap_or(0)
    }

    /// Length of the period in seconds, at least 1.
    pub fn window(&self) -> u64 {
        u64::try_from(self.period.end.saturating_sub(self.period.start))
            .unwrap_or(0)
            .max(1)
    }
}

/// Why a key was refused (every one of them is answered `401`, with one identical body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No key has this hash.
    UnknownKey,
    /// The key was revoked.
    Revoked,
    /// The key's expiry has passed.
    Expired,
}

impl Refusal {
    /// A short name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownKey => "unknown",
            Refusal::Revoked => "revoked",
            Refusal::Expired => "expired",
        }
    }
}

/// The rule's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// `units` (at least one) were granted; `quota` is the state after them, which the store
    /// writes back (`used`, `period`).
    Granted {
        /// Units granted: the demand for [`Demand::Exactly`], up to it for [`Demand::UpTo`].
        units: u64,
        /// The quota after the grant.
        quota: QuotaState,
    },
    /// Not enough units left; nothing was granted.
    Exhausted {
        /// The quota as it is.
        quota: QuotaState,
    },
    /// The key may not be used at all.
    Refused(Refusal),
    /// A [`Demand::GiveBack`]: `units` were given back (0 when the period has changed since);
    /// `quota` is the state after it.
    GivenBack {
        /// Units given back.
        units: u64,
        /// The quota after it.
        quota: QuotaState,
    },
}

/// Apply the rule to `key` (`None`: no key has the presented hash).
///
/// A period that has ended is reset first (to the key's own schedule, or the default), so a late
/// or missed scheduler run can neither grant nor withhold a unit wrongly. A demand for 0 units
/// is granted nothing and refused like an exhausted quota.
pub fn decide(key: Option<&KeyState>, demand: Demand, now: i64, schedules: &Schedules) -> Decision {
    let Some(key) = key else {
        return Decision::Refused(Refusal::UnknownKey);
    };
    if let Demand::GiveBack { units, period_end } = demand {
        return give_back(key, units, period_end, now, schedules);
    }
    if let Some(refusal) = key.refusal(now) {
        return Decision::Refused(refusal);
    }
    let mut quota = key.quota_at(now, schedules);
    let left = quota.remaining();
    let units = match demand {
        Demand::Exactly(n) if n <= left => n,
        Demand::Exactly(_) | Demand::GiveBack { .. } => 0,
        Demand::UpTo(n) => n.min(left),
    };
    if units == 0 {
        return Decision::Exhausted { quota };
    }
    quota.used += units;
    Decision::Granted { units, quota }
}

/// Give back units granted in the period ending at `period_end`, if it is still current (a
/// unit of a period that has ended is not carried into the next).
fn give_back(
    key: &KeyState,
    units: u64,
    period_end: i64,
    now: i64,
    schedules: &Schedules,
) -> Decision {
    let mut quota = key.quota_at(now, schedules);
    let units = if quota.period.end == period_end {
        units.min(quota.used)
    } else {
        0
    };
    quota.used -= units;
    Decision::GivenBack { units, quota }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const NOW: i64 = 1_795_838_343; // 2026-11-28T03:59:03Z
    const DAY_START: i64 = 1_795_824_000;
    const DAY_END: i64 = 1_795_910_400;

    fn key(limit: u64, used: u64, period: Period) -> KeyState {
        KeyState {
            used,
            period,
            ..KeyState::new(limit, None, None)
        }
    }

    /// The rule's answer for `k` at `NOW` under the daily default schedule.
    fn decide_now(k: &KeyState, demand: Demand) -> Decision {
        decide(Some(k), demand, NOW, &schedules())
    }

    /// `(units granted, used after)` of a grant; `None` for anything else.
    fn grant(d: Decision) -> Option<(u64, u64)> {
        match d {
            Decision::Granted { units, quota } => Some((units, quota.used)),
            _ => None,
        }
    }

    fn schedules() -> Schedules {
        Schedules::new("0 0 0 * * *").unwrap()
    }

    fn today() -> Period {
        Period {
            start: DAY_START,
            end: DAY_END,
        }
    }

    #[test]
    fn grants_until_the_limit_then_refuses() {
        let s = schedules();
        let k = key(5, 4, today());
        match decide(Some(&k), Demand::Exactly(1), NOW, &s) {
            Decision::Granted { units: 1, quota } => assert_eq!(quota.used, 5),
            d => panic!("{d:?}"),
        }
        let full = key(5, 5, today());
        assert!(matches!(
            decide(Some(&full), Demand::Exactly(1), NOW, &s),
            Decision::Exhausted { quota } if quota.remaining() == 0
        ));
    }

    #[test]
    fn all_or_nothing_and_up_to() {
        let k = key(10, 7, today());
        let exhausted = |d| matches!(d, Decision::Exhausted { quota } if quota.used == 7);
        assert!(exhausted(decide_now(&k, Demand::Exactly(4))));
        assert_eq!(grant(decide_now(&k, Demand::UpTo(4))), Some((3, 10)));
        assert_eq!(grant(decide_now(&k, Demand::Exactly(3))), Some((3, 10)));
        assert!(exhausted(decide_now(&k, Demand::Exactly(0))));
    }

    #[test]
    fn an_ended_period_is_reset_before_counting() {
        let s = schedules();
        let yesterday = Period {
            start: DAY_START - 86_400,
            end: DAY_START,
        };
        let k = key(5, 5, yesterday);
        match decide(Some(&k), Demand::Exactly(2), NOW, &s) {
            Decision::Granted { units: 2, quota } => {
                assert_eq!(quota.used, 2);
                assert_eq!(quota.period, today());
            }
            d => panic!("{d:?}"),
        }
        // A key that never opened a period gets today's.
        let fresh = key(5, 0, Period { start: 0, end: 0 });
        assert!(matches!(
            decide(Some(&fresh), Demand::Exactly(1), NOW, &s),
            Decision::Granted { quota, .. } if quota.period == today()
        ));
    }

    #[test]
    fn own_schedules_define_their_period() {
        let s = schedules();
        let mut k = key(5, 5, Period { start: 0, end: 10 });
        k.reset_schedule = Some("0 0 * * * *".to_owned()); // hourly
        match decide(Some(&k), Demand::Exactly(1), NOW, &s) {
            Decision::Granted { quota, .. } => {
                assert_eq!(quota.period.start, NOW - NOW % 3600);
                assert_eq!(quota.period.end, NOW - NOW % 3600 + 3600);
            }
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn refusals_name_their_reason() {
        let s = schedules();
        assert_eq!(
            decide(None, Demand::Exactly(1), NOW, &s),
            Decision::Refused(Refusal::UnknownKey)
        );
        let mut k = key(5, 0, today());
        k.revoked = true;
        assert_eq!(
            decide(Some(&k), Demand::Exactly(1), NOW, &s),
            Decision::Refused(Refusal::Revoked)
        );
        k.revoked = false;
        k.expires_at = Some(NOW);
        assert_eq!(
            decide(Some(&k), Demand::Exactly(1), NOW, &s),
            Decision::Refused(Refusal::Expired)
        );
        k.expires_at = Some(NOW + 1);
        assert_eq!(grant(decide_now(&k, Demand::Exactly(1))), Some((1, 1)));
    }

    #[test]
    fn units_are_given_back_within_their_period_only() {
        let k = key(5, 3, today());
        let back = |period_end| {
            decide_now(
                &k,
                Demand::GiveBack {
                    units: 2,
                    period_end,
                },
            )
        };
        assert!(
            matches!(back(DAY_END), Decision::GivenBack { units: 2, quota } if quota.used == 1)
        );
        // A period that has ended since: nothing to give back.
        assert!(
            matches!(back(DAY_START), Decision::GivenBack { units: 0, quota } if quota.used == 3)
        );
        // Never below zero.
        let d = decide_now(
            &k,
            Demand::GiveBack {
                units: 9,
                period_end: DAY_END,
            },
        );
        assert!(matches!(d, Decision::GivenBack { units: 3, quota } if quota.used == 0));
    }

    #[test]
    fn a_zero_limit_is_always_exhausted() {
        let d = decide_now(&key(0, 0, today()), Demand::UpTo(1));
        assert!(matches!(d, Decision::Exhausted { .. }));
    }
}
