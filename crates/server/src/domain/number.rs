//! The one place where `/check-prime` input is parsed: the number and the options.
//!
//! `number` is read as raw JSON so integers of any length stay exact. Accepted: a JSON integer
//! literal (`-?digits`, no fraction or exponent) or a JSON string of decimal digits with an
//! optional leading `-`. The number is echoed back as the same JSON type in canonical form.

use num_bigint::{BigInt, BigUint, Sign};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Why a number was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Not a request or not an integer: the message says what is wrong.
    #[error("{0}")]
    Malformed(String),
    /// Larger than the bit limit.
    #[error("number is larger than the limit of {max_bits} bits")]
    TooLarge {
        /// The limit, in bits.
        max_bits: u64,
    },
    /// A proof asked for a number larger than the proof limit.
    #[error("a proof is available for numbers of at most {max_bits} bits (--max-proof-bits)")]
    TooLargeForProof {
        /// The limit, in bits.
        max_bits: u64,
    },
    /// A batch with more items than allowed.
    #[error("a batch may hold at most {max_items} numbers")]
    TooManyItems {
        /// The limit (`--max-batch`).
        max_items: usize,
    },
    /// A request whose numbers would take more work than one request may do.
    #[error(
        "the numbers of this request exceed the work limit of {max_work} units per request \
         (a number of b > 64 bits costs ceil(b/64)^3 units); send fewer or smaller numbers"
    )]
    TooMuchWork {
        /// The limit (`--max-request-work`).
        max_work: u64,
    },
}

fn malformed(message: impl Into<String>) -> NumberError {
    NumberError::Malformed(message.into())
}

#[derive(Deserialize)]
struct CheckBody<'a> {
    #[serde(borrow)]
    number: &'a RawValue,
    #[serde(default)]
    factorize: bool,
    #[serde(default)]
    proof: bool,
}

/// What a check is asked to do besides deciding primality.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// `"factorize": true`: also find the prime factors.
    pub factorize: bool,
    /// `"proof": true`: prove a probable prime prime (an ECPP certificate).
    pub proof: bool,
}

impl CheckOptions {
    /// Refuse a proof of `number` when it is larger than `max_proof_bits` (numbers below 2^64
    /// need no certificate and are always accepted).
    pub fn check_proof_size(
        &self,
        number: &Number,
        max_proof_bits: u64,
    ) -> Result<(), NumberError> {
        if self.proof && number.bits() > 64 && number.bits() > max_proof_bits {
            return Err(NumberError::TooLargeForProof {
                max_bits: max_proof_bits,
            });
        }
        Ok(())
    }
}

/// A parsed `/check-prime` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRequest {
    /// The number.
    pub number: Number,
    /// The options.
    pub options: CheckOptions,
}

/// A parsed, size-checked number and how to echo it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    /// The value.
    pub value: BigInt,
    /// Canonical decimal text (`-0` → `0`, no leading zeros).
    pub canonical: String,
    /// Whether it came as a JSON string (and is echoed as one).
    pub was_string: bool,
}

impl Number {
    /// The JSON text to echo in the response's `number` field.
    pub fn echo_json(&self) -> String {
        if self.was_string {
            format!("\"{}\"", self.canonical)
        } else {
            self.canonical.clone()
        }
    }

    /// Bits of the magnitude.
    pub fn bits(&self) -> u64 {
        self.value.bits()
    }
}

fn describe(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'[') => "an array",
        Some(b'{') => "an object",
        _ => "not an integer",
    }
}

/// Parse a request body that must be a JSON object (`example` shows one in the error).
fn parse_object<'a, T: Deserialize<'a>>(body: &'a [u8], example: &str) -> Result<T, NumberError> {
    // serde would also accept a JSON array for a struct; only an object is a request.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'{') {
        return Err(malformed(format!(
            "request body must be a JSON object like {example}"
        )));
    }
    serde_json::from_slice(body).map_err(|e| {
        let msg = e.to_string();
        if e.is_data() {
            malformed(format!("invalid request body: {msg}"))
        } else {
            malformed(format!("malformed JSON: {msg}"))
        }
    })
}

/// Parse a `/check-prime` body: a JSON object with a `number` member and the optional booleans
/// `factorize` and `proof` (other members are ignored).
pub fn parse_body(body: &[u8], max_bits: u64) -> Result<CheckRequest, NumberError> {
    let req: CheckBody<'_> = parse_object(body, "{\"number\": 17}")?;
    Ok(CheckRequest {
        number: parse_value(req.number, max_bits)?,
        options: CheckOptions {
            factorize: req.factorize,
            proof: req.proof,
        },
    })
}

#[derive(Deserialize)]
struct BatchBody<'a> {
    #[serde(borrow)]
    numbers: Vec<&'a RawValue>,
    #[serde(default)]
    factorize: bool,
    #[serde(default)]
    proof: bool,
}

/// One item of a batch: the number, or the item as sent (raw JSON) and why it was refused.
pub type BatchItem<'a> = Result<Number, (&'a RawValue, NumberError)>;

/// A parsed `/check-prime/batch` JSON body.
#[derive(Debug)]
pub struct BatchRequest<'a> {
    /// The items, in input order.
    pub items: Vec<BatchItem<'a>>,
    /// The options, for every item.
    pub options: CheckOptions,
}

/// The limits a `/check-prime/batch` JSON body is parsed under.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// The largest number accepted, in bits.
    pub max_bits: u64,
    /// The most items in one body.
    pub max_items: usize,
    /// The largest number a proof is made for, in bits.
    pub max_proof_bits: u64,
    /// The most work units ([`super::check::cost`]) one body may ask for.
    pub max_work: u64,
}

/// Parse a `/check-prime/batch` JSON body: an object with a `numbers` array (each item what
/// `number` accepts in [`parse_body`]) and the optional booleans `factorize` and `proof`. More
/// than `max_items` items, or numbers costing more than `max_work` work units, is an error of
/// the whole request, found before any number past the limit is parsed; an invalid item (or one
/// too large for the proof asked for) is an error of that item alone.
pub fn parse_batch_body(body: &[u8], limits: BatchLimits) -> Result<BatchRequest<'_>, NumberError> {
    let req: BatchBody<'_> = parse_object(body, "{\"numbers\": [17, 18]}")?;
    let BatchLimits {
        max_bits,
        max_items,
        max_proof_bits,
        max_work,
    } = limits;
    if req.numbers.len() > max_items {
        return Err(NumberError::TooManyItems { max_items });
    }
    let options = CheckOptions {
        factorize: req.factorize,
        proof: req.proof,
    };
    let mut spent = 0u64;
    let mut items = Vec::with_capacity(req.numbers.len());
    for raw in req.numbers {
        let item = parse_value(raw, max_bits)
            .and_then(|n| options.check_proof_size(&n, max_proof_bits).map(|()| n))
            .map_err(|e| (raw, e));
        if let Ok(n) = &item {
            spent = spent.saturating_add(super::check::cost(n.bits(), options));
            if spent > max_work {
                return Err(NumberError::TooMuchWork { max_work });
            }
        }
        items.push(item);
    }
    Ok(BatchRequest { items, options })
}

/// Parse one line of an NDJSON stream: a JSON integer literal, a decimal string, or an object
/// with a `number` member (other members are ignored). On error, the item as sent (the line's
/// JSON value, or the line as a JSON string when it is not JSON) and why.
pub fn parse_line(line: &[u8], max_bits: u64) -> Result<Number, (String, NumberError)> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    let Ok(raw) = serde_json::from_str::<&RawValue>(text) else {
        let echo = serde_json::to_string(text).unwrap_or_else(|_| "null".to_owned());
        return Err((echo, malformed("line is not a JSON value")));
    };
    let value = if text.starts_with('{') {
        match serde_json::from_str::<CheckBody<'_>>(text) {
            Ok(body) => body.number,
            Err(e) => return Err((text.to_owned(), malformed(format!("invalid line: {e}")))),
        }
    } else {
        raw
    };
    parse_value(value, max_bits).map_err(|e| (value.get().to_owned(), e))
}

/// Parse one JSON value that must be an integer: a JSON integer literal of any length, or a
/// string of decimal digits with an optional leading `-`.
pub fn parse_value(value: &RawValue, max_bits: u64) -> Result<Number, NumberError> {
    let raw = value.get();
    if raw.starts_with('"') {
        // A string: unescape it first (JSON escapes are allowed), then it must be -?digits.
        let s: String = serde_json::from_str(raw)
            .map_err(|_| malformed("'number' is not a valid JSON string"))?;
        parse_digits(&s, true, max_bits)
    } else if raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        if raw.contains(['.', 'e', 'E']) {
            return Err(malformed(
                "'number' must be an integer: fractions and exponents are not accepted",
            ));
        }
        parse_digits(raw, false, max_bits)
    } else {
        Err(malformed(format!(
            "'number' must be an integer or a string of decimal digits, not {}",
            describe(raw)
        )))
    }
}

fn parse_digits(s: &str, was_string: bool, max_bits: u64) -> Result<Number, NumberError> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(
            "'number' string must be decimal digits with an optional leading '-'",
        ));
    }
    let significant = digits.trim_start_matches('0');
    // Cheap bound before any big-number work: d decimal digits need more than
    // (d - 1) * log2(10) bits, so reject early anything that is certainly too large.
    let min_bits = (significant.len().saturating_sub(1) as f64) * std::f64::consts::LOG2_10;
    if min_bits >= max_bits as f64 + 1.0 {
        return Err(NumberError::TooLarge { max_bits });
    }
    let magnitude = if significant.is_empty() {
        BigUint::default()
    } else {
        BigUint::parse_bytes(significant.as_bytes(), 10)
            .ok_or_else(|| malformed("'number' is not a decimal integer"))?
    };
    if magnitude.bits() > max_bits {
        return Err(NumberError::TooLarge { max_bits });
    }
    let sign = if negative && !significant.is_empty() {
        Sign::Minus
    } else {
        Sign::Plus
    };
    let value = BigInt::from_biguint(sign, magnitude);
    let canonical = value.to_string();
    Ok(Number {
        value,
        canonical,
        was_string,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ok(body: &str) -> Number {
        parse_body(body.as_bytes(), 8192).unwrap().number
    }

    #[test]
    fn accepted_forms() {
        let n = ok(r#"{"number": 172983479832623897492387592384682937659382477}"#);
        assert_eq!(
            n.echo_json(),
            "172983479832623897492387592384682937659382477"
        );
        assert_eq!(ok(r#"{"number": "007"}"#).echo_json(), "\"7\"");
        assert_eq!(ok(r#"{"number": -0}"#).echo_json(), "0");
        assert_eq!(ok(r#"{"number": "-0"}"#).echo_json(), "\"0\"");
        assert_eq!(ok(r#"{"number": "-15"}"#).echo_json(), "\"-15\"");
        assert_eq!(ok(r#"{"number": 17, "extra": true}"#).canonical, "17");
    }

    #[test]
    fn options() {
        let with = |body: &str| parse_body(body.as_bytes(), 8192).map(|r| r.options);
        assert_eq!(with(r#"{"number": 6}"#), Ok(CheckOptions::default()));
        assert!(
            with(r#"{"number": 6, "factorize": true}"#)
                .unwrap()
                .factorize
        );
        assert!(
            !with(r#"{"number": 6, "factorize": false}"#)
                .unwrap()
                .factorize
        );
        for bad in [
            r#"{"number": 6, "factorize": "yes"}"#,
            r#"{"number": 6, "factorize": 1}"#,
        ] {
            assert!(matches!(with(bad), Err(NumberError::Malformed(_))), "{bad}");
        }
    }

    #[test]
    fn size_limit() {
        let big = format!("{{\"number\": \"{}\"}}", "9".repeat(3000));
        assert!(matches!(
            parse_body(big.as_bytes(), 8192),
            Err(NumberError::TooLarge { max_bits: 8192 })
        ));
        let two_pow = format!("{{\"number\": {}}}", BigUint::from(1u8) << 8192u32);
        assert!(matches!(
            parse_body(two_pow.as_bytes(), 8192),
            Err(NumberError::TooLarge { max_bits: 8192 })
        ));
        let max = format!("{{\"number\": {}}}", (BigUint::from(1u8) << 8192u32) - 1u8);
        assert_eq!(
            parse_body(max.as_bytes(), 8192).unwrap().number.bits(),
            8192
        );
    }

    #[test]
    fn batches() {
        let limits = |max_items, max_work| BatchLimits {
            max_bits: 8192,
            max_items,
            max_proof_bits: 1024,
            max_work,
        };
        let b = parse_batch_body(
            br#"{"numbers": [17, "007", 1.5, true], "factorize": true}"#,
            limits(4, 0),
        )
        .unwrap();
        assert!(b.options.factorize);
        let shown: Vec<String> = b
            .items
            .iter()
            .map(|i| match i {
                Ok(n) => n.echo_json(),
                Err((raw, _)) => format!("!{}", raw.get()),
            })
            .collect();
        assert_eq!(shown, ["17", "\"7\"", "!1.5", "!true"]);
        assert!(matches!(
            parse_batch_body(br#"{"numbers": [1, 2, 3]}"#, limits(2, 9)),
            Err(NumberError::TooManyItems { max_items: 2 })
        ));
        for bad in [r#"[1]"#, r#"{"numbers": 5}"#, r#"{}"#, r#"{"numbers": [1}"#] {
            assert!(
                matches!(
                    parse_batch_body(bad.as_bytes(), limits(9, 9)),
                    Err(NumberError::Malformed(_))
                ),
                "{bad}"
            );
        }
        let empty = parse_batch_body(br#"{"numbers": []}"#, limits(9, 9)).unwrap();
        assert!(empty.items.is_empty());
        // 3 costs nothing and a 30-digit number 8 units: a limit of 7 refuses the body at the
        // second number, a limit of 8 takes it.
        let big = format!("{{\"numbers\": [3, {}]}}", "9".repeat(30));
        assert!(matches!(
            parse_batch_body(big.as_bytes(), limits(9, 7)),
            Err(NumberError::TooMuchWork { max_work: 7 })
        ));
        assert!(parse_batch_body(big.as_bytes(), limits(9, 8)).is_ok());
    }

    #[test]
    fn lines() {
        let ok = |l: &str| parse_line(l.as_bytes(), 8192).unwrap().echo_json();
        assert_eq!(ok("17"), "17");
        assert_eq!(ok(" \"18\"\r\n"), "\"18\"");
        assert_eq!(ok(r#"{"number": 19, "x": 1}"#), "19");
        let err = |l: &str| parse_line(l.as_bytes(), 8192).unwrap_err();
        assert_eq!(err("x").0, "\"x\"");
        assert_eq!(err("1.5").0, "1.5");
        assert_eq!(err(r#"{"number": null}"#).0, "null");
        assert!(matches!(err(r#"{"n": 1}"#).1, NumberError::Malformed(_)));
        let big = "9".repeat(3000);
        assert_eq!(err(&big).1, NumberError::TooLarge { max_bits: 8192 });
    }

    #[test]
    fn refused_forms() {
        for body in [
            r#"{"number": 1.5}"#,
            r#"{"number": 1e9}"#,
            r#"{"number": true}"#,
            r#"{"number": null}"#,
            r#"{"number": [1]}"#,
            r#"{"number": {}}"#,
            r#"{"number": ""}"#,
            r#"{"number": " 5"}"#,
            r#"{"number": "+5"}"#,
            r#"{"number": "0x1f"}"#,
            r#"{}"#,
            r#"[]"#,
            r#"[5]"#,
            r#"{"number": 5"#,
        ] {
            assert!(
                matches!(
                    parse_body(body.as_bytes(), 8192),
                    Err(NumberError::Malformed(_))
                ),
                "{body}"
            );
        }
    }
}
