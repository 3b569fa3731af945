//! Quota periods from cron schedules (6 or 7 fields, seconds first, UTC).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// The default reset schedule: daily at 00:00:00 UTC.
pub const DEFAULT_SCHEDULE: &str = "0 0 0 * * *";

/// A schedule that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid reset schedule '{schedule}': {reason}")]
pub struct ScheduleError {
    schedule: String,
    reason: String,
}

/// Parse a cron schedule as the reset scheduler runs it (croner, seconds required, day-of-month
/// and day-of-week ANDed) and check that it fires at least once in the future.
pub fn parse_schedule(schedule: &str) -> Result<Cron, ScheduleError> {
    let err = |reason: String| ScheduleError {
        schedule: schedule.to_owned(),
        reason,
    };
    let cron = CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(schedule)
        .map_err(|e| {
            err(format!(
                "{e} (expected 6 fields, seconds first, e.g. '0 0 0 * * *')"
            ))
        })?;
    cron.find_next_occurrence(&Utc::now(), false)
        .map_err(|e| err(format!("it never fires: {e}")))?;
    Ok(cron)
}

/// One quota period: `[start, end)`, Unix seconds. `end` is the next fire time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The schedule's most recent fire time at or before the moment asked about.
    pub start: i64,
    /// The schedule's next fire time after that moment.
    pub end: i64,
}

/// The last second representable in the API's RFC 3339 timestamps (9999-12-31T23:59:59Z): a
/// schedule with no further fire time ends its period here, and no expiry may lie beyond it.
pub const LATEST: i64 = 253_402_300_799;

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// The period of `cron` containing `now` (Unix seconds).
pub fn period_at(cron: &Cron, now: i64) -> Period {
    let t = at(now);
    let end = cron
        .find_next_occurrence(&t, false)
        .map(|d| d.timestamp())
        .unwrap_or(LATEST);
    let start = cron
        .find_previous_occurrence(&t, true)
        .map(|d| d.timestamp())
        .unwrap_or(now);
    Period { start, end }
}

/// The server's default schedule plus a cache of parsed per-key schedules.
#[derive(Debug)]
pub struct Schedules {
    default_source: String,
    default: Cron,
    default_period: RwLock<Period>,
    cache: Mutex<HashMap<String, Arc<Cron>>>,
}

impl Schedules {
    /// Build from the default schedule's cron text.
    pub fn new(default_schedule: &str) -> Result<Self, ScheduleError> {
        let default = parse_schedule(default_schedule)?;
        let now = Utc::now().timestamp();
        let period = period_at(&default, now);
        Ok(Schedules {
            default_source: default_schedule.to_owned(),
            default,
            default_period: RwLock::new(period),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The default schedule's cron text.
    pub fn default_source(&self) -> &str {
        &self.default_source
    }

    /// The default schedule's period containing `now` (cached; recomputed when it ends).
    pub fn default_period(&self, now: i64) -> Period {
        if let Ok(p) = self.default_period.read()
            && p.start <= now
            && now < p.end
        {
            return *p;
        }
        let p = period_at(&self.default, now);
        if let Ok(mut slot) = self.default_period.write() {
            *slot = p;
        }
        p
    }

    /// The period containing `now` for a key whose own schedule is `own` (None: the default).
    /// A stored schedule that no longer parses falls back to the default schedule.
    pub fn period_for(&self, own: Option<&str>, now: i64) -> Period {
        let Some(src) = own else {
            return self.default_period(now);
        };
        if src == self.default_source {
            return self.default_period(now);
        }
        let cached = self.cache.lock().ok().and_then(|c| c.get(src).cloned());
        let cron = match cached {
            Some(c) => c,
            None => match parse_schedule(src) {
                Ok(c) => {
                    let c = Arc::new(c);
                    if let Ok(mut cache) = self.cache.lock() {
                        cache.insert(src.to_owned(), Arc::clone(&c));
                    }
                    c
                }
                Err(e) => {
                    tracing::warn!(error = %e, "stored reset schedule is invalid; using the default");
                    return self.default_period(now);
                }
            },
        };
        period_at(&cron, now)
    }

    /// The schedule that applies to a key with own schedule `own`.
    pub fn effective<'a>(&'a self, own: Option<&'a str>) -> &'a str {
        own.unwrap_or(&self.default_source)
    }
}

/// RFC 3339 text for Unix seconds.
pub fn rfc3339(secs: i64) -> String {
    at(secs).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The UTC date (`YYYY-MM-DD`) of day `day` (days since 1970-01-01).
pub fn utc_date(day: i64) -> String {
    at(day.saturating_mul(86_400))
        .format("%Y-%m-%d")
        .to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn daily_period() {
        let cron = parse_schedule(DEFAULT_SCHEDULE).unwrap();
        // 2026-11-28T03:59:03Z
        let p = period_at(&cron, 1_795_838_343);
        assert_eq!(p.start, 1_795_824_000);
        assert_eq!(p.end, 1_795_910_400);
        // exactly at a fire time, the new period starts
        assert_eq!(period_at(&cron, 1_795_910_400).start, 1_795_910_400);
    }

    #[test]
    fn bad_schedules_are_refused() {
        assert!(parse_schedule("0 0 * * *").is_err());
        assert!(parse_schedule("every day").is_err());
        assert!(parse_schedule("*/3 * * * * *").is_ok());
    }
}
