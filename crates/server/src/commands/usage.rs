//! `keys usage` and `groups usage`: metered units per UTC day as a table with a bar per day
//! (Unicode blocks, scaled to the terminal's width), or JSON for scripts.

use std::io::Write;

use serde::Serialize;

use super::CommandError;
use crate::domain::schedule::utc_date;
use crate::store::{DayUsage, day_of, fill_days};

/// Width assumed when stdout is not a terminal (and `COLUMNS` is not set).
const DEFAULT_WIDTH: usize = 80;

/// Eighths of a block, for the bar's last character.
const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/// One day as `--json` prints it.
#[derive(Serialize)]
struct Day {
    date: String,
    used: u64,
}

/// The usage report of `what` (a key or a group).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    #[serde(flatten)]
    what: &'a serde_json::Value,
    days: u32,
    total: u64,
    history: Vec<Day>,
}

/// The first day of the `days` days ending today.
pub fn first_day(now: i64, days: u32) -> i64 {
    day_of(now) - i64::from(days) + 1
}

/// A bar of `value` out of `max` in `width` cells, to the eighth of a cell.
pub fn bar(value: u64, max: u64, width: usize) -> String {
    if max == 0 || width == 0 {
        return String::new();
    }
    let eighths = u128::from(value) * (width as u128) * 8 / u128::from(max);
    let full = usize::try_from(eighths / 8).unwrap_or(width).min(width);
    let rest = usize::try_from(eighths % 8).unwrap_or(0);
    let mut s = "█".repeat(full);
    if rest > 0 && full < width {
        s.push(EIGHTHS[rest]);
    }
    s
}

/// The terminal's width in columns.
fn width() -> usize {
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size() {
        return usize::from(w);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(DEFAULT_WIDTH)
}

/// Print the history of `what` (`title` names it) over `days` days ending on `now`'s day.
pub fn print(
    title: &str,
    what: &serde_json::Value,
    rows: &[DayUsage],
    days: u32,
    now: i64,
    json: bool,
) -> Result<(), CommandError> {
    let filled = fill_days(first_day(now, days), day_of(now), rows);
    let total = filled.iter().map(|d| d.used).sum();
    let mut out = std::io::stdout().lock();
    if json {
        let report = Report {
            what,
            days,
            total,
            history: filled
                .iter()
                .map(|d| Day {
                    date: utc_date(d.day),
                    used: d.used,
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| CommandError::Invalid(e.to_string()))?;
        let _ = writeln!(out, "{text}");
        return Ok(());
    }
    let max = filled.iter().map(|d| d.used).max().unwrap_or(0);
    let count_width = max.to_string().len().max(4);
    // "YYYY-MM-DD  " + count + "  " + bar
    let bar_width = width().saturating_sub(12 + count_width + 2).max(10);
    let _ = writeln!(out, "{title}: {total} units in {days} days (UTC)");
    for d in &filled {
        let line = format!(
            "{}  {:>count_width$}  {}",
            utc_date(d.day),
            d.used,
            bar(d.used, max, bar_width)
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = out.flush();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_width() {
        assert_eq!(bar(10, 10, 4), "████");
        assert_eq!(bar(5, 10, 4), "██");
        assert_eq!(bar(1, 16, 2), "▏");
        assert_eq!(bar(0, 10, 4), "");
        assert_eq!(bar(3, 0, 4), "");
        assert_eq!(bar(u64::MAX, u64::MAX, 200).chars().count(), 200);
    }
}
