//! The one place that validates and canonicalises decimal input, and that turns a byte stream
//! (stdin) into numbers without ever holding more than one bounded token in memory.

use std::fmt;
use std::io::{self, BufRead};

/// Longest decimal number (in digits, sign excluded) the client accepts. Far above the server's
/// default limit (8192 bits ≈ 2467 digits), so the server's `--max-bits` stays the real limit;
/// it only bounds the client's memory when reading stdin.
pub const MAX_DIGITS: usize = 100_000;

/// Characters of an invalid token quoted back in an error message.
const QUOTE_CHARS: usize = 40;

/// A validated integer in canonical decimal form: optional `-`, no leading zeros, no `+`,
/// `0` never negative. Safe to splice into JSON as an integer literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number(String);

impl Number {
    /// The canonical decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a piece of input is not a number the client will send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidNumber {
    /// The offending input, shortened and made printable for an error message.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for InvalidNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid number {}: {}", self.input, self.reason)
    }
}

impl std::error::Error for InvalidNumber {}

/// Quote (a prefix of) some input for an error message: at most [`QUOTE_CHARS`] characters,
/// control characters escaped, so the message stays one printable line.
pub fn quote_input(bytes: &[u8], total_len: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut shown: String = text.chars().take(QUOTE_CHARS).collect();
    let truncated = text.chars().count() > QUOTE_CHARS || total_len > bytes.len();
    if truncated {
        shown.push('…');
    }
    let mut quoted = format!("{shown:?}");
    if total_len > QUOTE_CHARS {
        quoted.push_str(&format!(" ({total_len} characters)"));
    }
    quoted
}

fn invalid(input: &str, reason: impl Into<String>) -> InvalidNumber {
    InvalidNumber {
        input: quote_input(input.as_bytes(), input.len()),
        reason: reason.into(),
    }
}

/// Validate and canonicalise one number: ASCII decimal digits with an optional leading `+` or
/// `-`. Anything else (floats, exponents, hex, separators, empty input) is refused with a
/// reason that says what was wrong.
pub fn parse_number(input: &str) -> Result<Number, InvalidNumber> {
    let (negative, digits) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if digits.is_empty() {
        let reason = if input.is_empty() {
            "empty input"
        } else {
            "a sign without digits"
        };
        return Err(invalid(input, reason));
    }
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_digit()) {
        let reason = match bad {
            '.' => "not an integer (decimal point)".to_string(),
            'e' | 'E' if digits.starts_with(|c: char| c.is_ascii_digit()) => {
                "exponent notation is not accepted; write all the digits".to_string()
            }
            'x' | 'X' if digits.starts_with('0') => {
                "only decimal digits are accepted (no hex)".to_string()
            }
            '_' | ',' | '\'' => format!("digit separators ({bad:?}) are not accepted"),
            c => format!("unexpected character {c:?}; expected decimal digits"),
        };
        return Err(invalid(input, reason));
    }
    if digits.len() > MAX_DIGITS {
        return Err(invalid(input, format!("more than {MAX_DIGITS} digits")));
    }
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        return Ok(Number("0".to_string()));
    }
    let mut canonical = String::with_capacity(trimmed.len() + 1);
    if negative {
        canonical.push('-');
    }
    canonical.push_str(trimmed);
    Ok(Number(canonical))
}

/// Where a token came from in the input stream, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line number.
    pub line: u64,
    /// 1-based index of the token in the whole stream.
    pub index: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stdin line {}", self.line)
    }
}

/// One item read from a number stream.
#[derive(Debug)]
pub enum StreamItem {
    /// A valid number.
    Number(Number, Position),
    /// A token that is not a valid number (reported, then skipped).
    Invalid(InvalidNumber, Position),
}

/// Splits a byte stream on ASCII whitespace into numbers, holding at most `max_token` bytes of
/// one token at a time: a longer token is consumed to its end and reported as invalid, never
/// buffered whole. Works in bounded memory on input of any size.
#[derive(Debug)]
pub struct NumberStream<R> {
    reader: R,
    max_token: usize,
    line: u64,
    index: u64,
    done: bool,
}

impl<R: BufRead> NumberStream<R> {
    /// A stream with the default token cap (`MAX_DIGITS` plus a sign).
    pub fn new(reader: R) -> Self {
        Self::with_max_token(reader, MAX_DIGITS + 1)
    }

    /// A stream with a custom token cap (for tests).
    pub fn with_max_token(reader: R, max_token: usize) -> Self {
        NumberStream {
            reader,
            max_token,
            line: 1,
            index: 0,
            done: false,
        }
    }

    /// Read the next token; `Ok(None)` at end of input.
    fn next_token(&mut self) -> io::Result<Option<StreamItem>> {
        let mut token: Vec<u8> = Vec::new();
        let mut token_len: usize = 0; // full length, including bytes not kept
        let mut token_line = self.line;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                // End of input.
                return Ok(if token_len == 0 {
                    None
                } else {
                    Some(self.finish(&token, token_len, token_line))
                });
            }
            let mut consumed = 0;
            let mut finished = false;
            for &byte in buf {
                consumed += 1;
                if byte.is_ascii_whitespace() {
                    if byte == b'\n' {
                        self.line += 1;
                    }
                    if token_len > 0 {
                        finished = true;
                        break;
                    }
                } else {
                    if token_len == 0 {
                        token_line = self.line;
                    }
                    token_len += 1;
                    if token.len() < self.max_token {
                        token.push(byte);
                    }
                }
            }
            self.reader.consume(consumed);
            if finished {
                return Ok(Some(self.finish(&token, token_len, token_line)));
            }
        }
    }

    fn finish(&mut self, token: &[u8], token_len: usize, line: u64) -> StreamItem {
        self.index += 1;
        let position = Position {
            line,
            index: self.index,
        };
        if token_len > token.len() {
            return StreamItem::Invalid(
                InvalidNumber {
                    input: quote_input(token, token_len),
                    reason: format!(
                        "longer than {} characters",
                        self.max_token.saturating_sub(1)
                    ),
                },
                position,
            );
        }
        match std::str::from_utf8(token) {
            Ok(text) => match parse_number(text) {
                Ok(n) => StreamItem::Number(n, position),
                Err(e) => StreamItem::Invalid(e, position),
            },
            Err(_) => StreamItem::Invalid(
                InvalidNumber {
                    input: quote_input(token, token_len),
                    reason: "not valid UTF-8 text".to_string(),
                },
                position,
            ),
        }
    }
}

impl<R: BufRead> Iterator for NumberStream<R> {
    type Item = io::Result<StreamItem>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_token() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::{BufReader, Cursor, Read};

    fn ok(s: &str) -> String {
        parse_number(s).unwrap().as_str().to_string()
    }

    fn reason(s: &str) -> String {
        parse_number(s).unwrap_err().reason
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(ok("17"), "17");
        assert_eq!(ok("0"), "0");
        assert_eq!(ok("000"), "0");
        assert_eq!(ok("-0"), "0");
        assert_eq!(ok("+0"), "0");
        assert_eq!(ok("007"), "7");
        assert_eq!(ok("+42"), "42");
        assert_eq!(ok("-15"), "-15");
        assert_eq!(ok("-0015"), "-15");
        let big = "172983479832623897492387592384682937659382477";
        assert_eq!(ok(big), big);
    }

    #[test]
    fn refuses_non_integers() {
        assert_eq!(reason(""), "empty input");
        assert_eq!(reason("-"), "a sign without digits");
        assert_eq!(reason("+"), "a sign without digits");
        assert!(reason("1.5").contains("decimal point"));
        assert!(reason("1e9").contains("exponent"));
        assert!(reason("0x1f").contains("hex"));
        assert!(reason("1_000").contains("separators"));
        assert!(reason("1,000").contains("separators"));
        assert!(reason("abc").contains("unexpected character 'a'"));
        assert!(reason("--5").contains("unexpected character '-'"));
        assert!(reason("12a").contains("'a'"));
        assert!(reason("١٢").contains("unexpected character")); // Arabic-Indic digits
        assert!(reason(" 1").contains("' '"));
    }

    #[test]
    fn length_cap() {
        let max = "9".repeat(MAX_DIGITS);
        assert_eq!(ok(&max).len(), MAX_DIGITS);
        let over = "9".repeat(MAX_DIGITS + 1);
        let err = parse_number(&over).unwrap_err();
        assert!(err.reason.contains("more than"));
        // The message quotes a prefix, not the whole input.
        assert!(err.to_string().len() < 200);
        // Leading zeros count too: the cap is on the input, which is what memory holds.
        assert!(parse_number(&format!("0{max}")).is_err());
    }

    #[test]
    fn quoting_is_one_printable_line() {
        let e = parse_number("12\u{7}3").unwrap_err();
        assert!(e.to_string().contains("\\u{7}"));
        assert!(!e.to_string().contains('\n'));
    }

    fn collect(input: &str, max: usize) -> Vec<Result<(String, u64), (String, u64)>> {
        NumberStream::with_max_token(Cursor::new(input.as_bytes().to_vec()), max)
            .map(|item| match item.unwrap() {
                StreamItem::Number(n, p) => Ok((n.to_string(), p.line)),
                StreamItem::Invalid(e, p) => Err((e.reason, p.line)),
            })
            .collect()
    }

    #[test]
    fn stream_splits_on_any_whitespace() {
        let got = collect("  17 15\n\n 1\t2\r\n003 \n-4", 100);
        let numbers: Vec<_> = got.iter().map(|r| r.clone().unwrap()).collect();
        assert_eq!(
            numbers,
            vec![
                ("17".to_string(), 1),
                ("15".to_string(), 1),
                ("1".to_string(), 3),
                ("2".to_string(), 3),
                ("3".to_string(), 4),
                ("-4".to_string(), 5),
            ]
        );
        assert!(collect("", 100).is_empty());
        assert!(collect(" \n\t ", 100).is_empty());
    }

    #[test]
    fn stream_reports_invalid_tokens_and_goes_on() {
        let got = collect("5 x 1.5\n7", 100);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], Ok(("5".to_string(), 1)));
        assert!(got[1].is_err());
        assert!(got[2].is_err());
        assert_eq!(got[3], Ok(("7".to_string(), 2)));
    }

    #[test]
    fn stream_caps_long_tokens() {
        let long = "1".repeat(1000);
        let got = collect(&format!("2 {long} 3"), 10);
        assert_eq!(got[0], Ok(("2".to_string(), 1)));
        assert_eq!(got[1], Err(("longer than 9 characters".to_string(), 1)));
        assert_eq!(got[2], Ok(("3".to_string(), 1)));
        // At the cap exactly: fine.
        let got = collect(&"1".repeat(10), 10);
        assert!(got[0].is_ok());
    }

    /// A reader that produces `n` bytes of one endless token without allocating them.
    struct Endless {
        left: usize,
    }
    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.left);
            buf[..n].fill(b'7');
            self.left -= n;
            Ok(n)
        }
    }

    #[test]
    fn stream_handles_a_huge_token_in_bounded_memory() {
        // 64 MiB in one token: consumed in small buffers, reported as one invalid item.
        let reader = BufReader::with_capacity(
            8192,
            Endless {
                left: 64 * 1024 * 1024,
            }
            .chain(Cursor::new(b" 11".to_vec())),
        );
        let items: Vec<_> = NumberStream::new(reader).map(|i| i.unwrap()).collect();
        assert_eq!(items.len(), 2);
        match &items[0] {
            StreamItem::Invalid(e, _) => {
                assert!(e.reason.contains("longer than"));
                assert!(e.input.contains("67108864 characters"));
            }
            other => panic!("expected invalid, got {other:?}"),
        }
        assert!(
            matches!(&items[1], StreamItem::Number(n, p) if n.as_str() == "11" && p.index == 2)
        );
    }

    #[test]
    fn stream_reports_invalid_utf8() {
        let reader = Cursor::new(vec![b'1', 0xff, b' ', b'2']);
        let items: Vec<_> = NumberStream::new(reader).map(|i| i.unwrap()).collect();
        assert!(matches!(&items[0], StreamItem::Invalid(e, _) if e.reason.contains("UTF-8")));
        assert!(matches!(&items[1], StreamItem::Number(n, _) if n.as_str() == "2"));
    }
}
