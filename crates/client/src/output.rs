//! Human and JSON formatting: pure functions from answers to lines, no I/O.

use crate::api::{CheckAnswer, Quota, TimeAnswer};

/// Numbers with more digits than this are shortened in human output.
pub const SHORTEN_ABOVE: usize = 40;
/// Digits kept at each end of a shortened number.
const KEEP: usize = 10;

/// Shorten a long decimal number for human eyes: `1234567890…1234567890 (139 digits)`.
/// Numbers up to [`SHORTEN_ABOVE`] digits are returned unchanged. JSON output never shortens.
pub fn shorten(number: &str) -> String {
    let (sign, digits) = match number.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", number),
    };
    // Only ASCII digits reach here (validated input or server decimals), but never slice
    // through a multi-byte character whatever arrives.
    if digits.len() <= SHORTEN_ABOVE || !digits.is_ascii() {
        return number.to_string();
    }
    format!(
        "{sign}{}…{} ({} digits)",
        &digits[..KEEP],
        &digits[digits.len() - KEEP..],
        digits.len()
    )
}

/// One human line for a prime check, without the newline.
pub fn check_line(answer: &CheckAnswer) -> String {
    let n = shorten(&answer.number);
    match answer.verdict.as_deref() {
        Some("prime") => format!("{n} is prime"),
        Some("probable_prime") => format!("{n} is probably prime (passed Baillie-PSW)"),
        Some("neither") => format!("{n} is neither prime nor composite"),
        Some("composite") => composite_line(&n, answer),
        // An older or newer server: fall back on the boolean every server sends.
        _ if answer.is_prime => format!("{n} is prime"),
        _ => composite_line(&n, answer),
    }
}

fn composite_line(n: &str, answer: &CheckAnswer) -> String {
    if let Some(factor) = &answer.factor {
        format!("{n} is not prime (factor {})", shorten(factor))
    } else if let Some(witness) = &answer.witness {
        format!("{n} is not prime (witness {})", shorten(witness))
    } else {
        format!("{n} is not prime")
    }
}

/// One human line for the server's time: its `currentTime`, as the tutorial prints it.
pub fn time_line(answer: &TimeAnswer) -> String {
    answer.current_time.clone()
}

/// A one-line JSON rendering of a response body: the server's object verbatim, with line breaks
/// (which valid JSON can only hold as insignificant whitespace) removed so that each answer is
/// exactly one line.
pub fn json_line(body: &str) -> String {
    let body = body.trim();
    if body.contains(['\n', '\r']) {
        body.chars().filter(|c| *c != '\n' && *c != '\r').collect()
    } else {
        body.to_string()
    }
}

/// Seconds as a short human duration: `45s`, `3m 20s`, `2h 5m`, `1d 3h`.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) if s == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) if m == 0 => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}m"),
        _ if h == 0 => format!("{d}d"),
        _ => format!("{d}d {h}h"),
    }
}

/// A Unix time as RFC 3339 UTC (`2026-11-29T00:00:00Z`).
pub fn utc(unix_secs: u64) -> String {
    i64::try_from(unix_secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("unix {unix_secs}"))
}

/// `resets 2026-11-29T00:00:00Z (in 3h 12m)`, from whatever the headers told.
pub fn reset_phrase(quota: &Quota) -> Option<String> {
    match (quota.reset_unix, quota.reset_in) {
        (Some(at), Some(inn)) => Some(format!("resets {} (in {})", utc(at), duration(inn))),
        (Some(at), None) => Some(format!("resets {}", utc(at))),
        (None, Some(inn)) => Some(format!("resets in {}", duration(inn))),
        (None, None) => None,
    }
}

/// The `-v` line: `quota: 4 of 5 left, resets 2026-11-29T00:00:00Z (in 3h 12m)`.
pub fn quota_line(quota: Option<&Quota>) -> String {
    let Some(quota) = quota else {
        return "quota: not metered".to_string();
    };
    let mut line = match (quota.remaining, quota.limit) {
        (Some(r), Some(l)) => format!("quota: {r} of {l} left"),
        (Some(r), None) => format!("quota: {r} left"),
        (None, Some(l)) => format!("quota: limit {l}"),
        (None, None) => "quota: unknown".to_string(),
    };
    if let Some(reset) = reset_phrase(quota) {
        line.push_str(", ");
        line.push_str(&reset);
    }
    line
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn answer(number: &str, verdict: &str, is_prime: bool) -> CheckAnswer {
        CheckAnswer {
            number: number.to_string(),
            is_prime,
            verdict: Some(verdict.to_string()),
            ..CheckAnswer::default()
        }
    }

    #[test]
    fn shortening() {
        assert_eq!(shorten("17"), "17");
        let forty = "1".repeat(40);
        assert_eq!(shorten(&forty), forty);
        let long = format!("12345678901{}98765432109", "0".repeat(117));
        assert_eq!(long.len(), 139);
        assert_eq!(shorten(&long), "1234567890…8765432109 (139 digits)");
        assert_eq!(
            shorten(&format!("-{long}")),
            "-1234567890…8765432109 (139 digits)"
        );
        // 2^89-1: short enough to print whole.
        assert_eq!(
            shorten("618970019642690137449562111"),
            "618970019642690137449562111"
        );
    }

    #[test]
    fn human_lines() {
        assert_eq!(check_line(&answer("17", "prime", true)), "17 is prime");
        assert_eq!(
            check_line(&answer("18446744073709551629", "probable_prime", true)),
            "18446744073709551629 is probably prime (passed Baillie-PSW)"
        );
        assert_eq!(
            check_line(&answer("1", "neither", false)),
            "1 is neither prime nor composite"
        );
        assert_eq!(
            check_line(&answer("-7", "neither", false)),
            "-7 is neither prime nor composite"
        );
        let mut c = answer("15", "composite", false);
        c.factor = Some("3".into());
        assert_eq!(check_line(&c), "15 is not prime (factor 3)");
        let mut w = answer("3215031751", "composite", false);
        w.witness = Some("2".into());
        assert_eq!(check_line(&w), "3215031751 is not prime (witness 2)");
        assert_eq!(
            check_line(&answer("9", "composite", false)),
            "9 is not prime"
        );
        // Unknown verdicts fall back on isPrime.
        assert_eq!(check_line(&answer("7", "future", true)), "7 is prime");
        let mut old = answer("8", "x", false);
        old.verdict = None;
        assert_eq!(check_line(&old), "8 is not prime");
        // Long factors are shortened too.
        let mut big = answer(&"9".repeat(100), "composite", false);
        big.factor = Some("3".repeat(50));
        assert_eq!(
            check_line(&big),
            "9999999999…9999999999 (100 digits) is not prime (factor 3333333333…3333333333 (50 digits))"
        );
    }

    #[test]
    fn json_lines_are_single_lines() {
        assert_eq!(json_line("{\"a\":1}\n"), "{\"a\":1}");
        assert_eq!(json_line("{\n  \"a\": 1\r\n}"), "{  \"a\": 1}");
    }

    #[test]
    fn durations_and_times() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(120), "2m");
        assert_eq!(duration(200), "3m 20s");
        assert_eq!(duration(7200), "2h");
        assert_eq!(duration(7500), "2h 5m");
        assert_eq!(duration(86_400), "1d");
        assert_eq!(duration(97_200), "1d 3h");
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_795_910_400), "2026-11-29T00:00:00Z");
        assert_eq!(utc(u64::MAX), format!("unix {}", u64::MAX));
    }

    #[test]
    fn quota_lines() {
        assert_eq!(quota_line(None), "quota: not metered");
        let q = Quota {
            limit: Some(5),
            remaining: Some(4),
            reset_unix: Some(1_795_910_400),
            reset_in: Some(43_150),
        };
        assert_eq!(
            quota_line(Some(&q)),
            "quota: 4 of 5 left, resets 2026-11-29T00:00:00Z (in 11h 59m)"
        );
        let q = Quota {
            reset_unix: None,
            ..q
        };
        assert_eq!(
            quota_line(Some(&q)),
            "quota: 4 of 5 left, resets in 11h 59m"
        );
    }
}
