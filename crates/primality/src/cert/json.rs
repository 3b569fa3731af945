//! The JSON form (docs/certificates.md): numbers as decimal strings.
//!
//! ```text
//! {"format": "ecpp", "number": "N",
//!  "steps": [{"N": "...", "t": "...", "s": "...", "a": "...", "b": "...", "x": "...", "y": "..."}, ...]}
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use num_bigint::{BigInt, BigUint};

use super::{Certificate, CertificateError, Step};

/// The value of the `format` member.
pub(crate) const FORMAT: &str = "ecpp";

/// Fields of a step, in the order they are written.
const FIELDS: [&str; 7] = ["N", "t", "s", "a", "b", "x", "y"];

impl Certificate {
    /// The JSON form: `{"format": "ecpp", "number": "N", "steps": [{"N", "t", "s", "a", "b",
    /// "x", "y"}, ...]}`, every integer a decimal string, one step per line.
    ///
    /// ```
    /// use primality::{BigUint, Certificate};
    /// let c = Certificate::new(BigUint::from(7u8), vec![]);
    /// assert_eq!(c.to_json(), "{\"format\": \"ecpp\", \"number\": \"7\", \"steps\": []}");
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = format!(
            "{{\"format\": \"{FORMAT}\", \"number\": \"{}\", \"steps\": [",
            self.number
        );
        for (i, st) in self.steps.iter().enumerate() {
            let sep = if i == 0 { "\n  " } else { ",\n  " };
            let _ = write!(
                out,
                "{sep}{{\"N\": \"{}\", \"t\": \"{}\", \"s\": \"{}\", \"a\": \"{}\", \"b\": \"{}\", \"x\": \"{}\", \"y\": \"{}\"}}",
                st.n, st.t, st.s, st.a, st.b, st.x, st.y
            );
        }
        if !self.steps.is_empty() {
            out.push('\n');
        }
        out.push_str("]}");
        out
    }

    /// Read the JSON form. Integers may be decimal strings or bare JSON integers; other
    /// members are ignored; `format`, when present, must be `"ecpp"`.
    ///
    /// ```
    /// use primality::Certificate;
    /// let c = Certificate::from_json(r#"{"number": 97, "steps": []}"#).unwrap();
    /// assert!(c.verify().is_ok());
    /// assert!(Certificate::from_json(r#"{"number": "x"}"#).is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Certificate, CertificateError> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
            depth: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(syntax("trailing characters after the JSON value"));
        }
        let Json::Obj(top) = v else {
            return Err(syntax("a JSON object was expected"));
        };
        if let Some(f) = top.get("format")
            && !matches!(f, Json::Str(s) if s == FORMAT)
        {
            return Err(syntax("\"format\" must be \"ecpp\""));
        }
        let number = uint(top.get("number"), "number")?;
        let steps = match top.get("steps") {
            Some(Json::Arr(items)) => items.iter().map(step).collect::<Result<_, _>>()?,
            _ => return Err(syntax("\"steps\" must be an array")),
        };
        Ok(Certificate::new(number, steps))
    }
}

fn syntax(msg: &str) -> CertificateError {
    CertificateError::Syntax(msg.to_string())
}

fn step(v: &Json) -> Result<Step, CertificateError> {
    let Json::Obj(o) = v else {
        return Err(syntax("each step must be an object"));
    };
    if let Some(missing) = FIELDS.iter().find(|f| !o.contains_key(**f)) {
        return Err(syntax(&format!("a step has no \"{missing}\"")));
    }
    Ok(Step {
        n: uint(o.get("N"), "N")?,
        t: int(o.get("t"), "t")?,
        s: uint(o.get("s"), "s")?,
        a: uint(o.get("a"), "a")?,
        b: uint(o.get("b"), "b")?,
        x: uint(o.get("x"), "x")?,
        y: uint(o.get("y"), "y")?,
    })
}

fn int(v: Option<&Json>, name: &str) -> Result<BigInt, CertificateError> {
    let text = match v {
        Some(Json::Str(s) | Json::Num(s)) => s.as_str(),
        _ => return Err(syntax(&format!("\"{name}\" must be an integer"))),
    };
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax(&format!("\"{name}\" must be an integer")));
    }
    text.parse()
        .map_err(|_| syntax(&format!("\"{name}\" must be an integer")))
}

fn uint(v: Option<&Json>, name: &str) -> Result<BigUint, CertificateError> {
    int(v, name)?
        .to_biguint()
        .ok_or_else(|| syntax(&format!("\"{name}\" must not be negative")))
}

/// A JSON value; numbers keep their text.
#[derive(Debug)]
enum Json {
    Null,
    Bool,
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

/// Nesting limit (a certificate needs 3).
const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Json, CertificateError> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.word("true", Json::Bool),
            Some(b'f') => self.word("false", Json::Bool),
            Some(b'n') => self.word("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => Ok(Json::Num(self.number())),
            _ => Err(syntax("a JSON value was expected")),
        }
    }

    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<Json, CertificateError>,
    ) -> Result<Json, CertificateError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(syntax("JSON nested too deeply"));
        }
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn word(&mut self, w: &str, v: Json) -> Result<Json, CertificateError> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(syntax("a JSON value was expected"))
        }
    }

    fn number(&mut self) -> String {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|b| b.is_ascii_digit() || b"-+.eE".contains(b))
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn string(&mut self) -> Result<String, CertificateError> {
        self.i += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            match self.s.get(self.i) {
                None => return Err(syntax("unterminated JSON string")),
                Some(b'"') => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|_| syntax("invalid UTF-8"));
                }
                Some(b'\\') => {
                    // Escapes are kept literally: no certificate field needs them.
                    out.push(b'\\');
                    if let Some(&c) = self.s.get(self.i + 1) {
                        out.push(c);
                    }
                    self.i += 2;
                }
                Some(&c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    fn array(&mut self) -> Result<Json, CertificateError> {
        self.i += 1;
        let mut items = Vec::new();
        if self.eat(b']') {
            return Ok(Json::Arr(items));
        }
        loop {
            items.push(self.value()?);
            if self.eat(b']') {
                return Ok(Json::Arr(items));
            }
            if !self.eat(b',') {
                return Err(syntax("',' or ']' expected in an array"));
            }
        }
    }

    fn object(&mut self) -> Result<Json, CertificateError> {
        self.i += 1;
        let mut members = BTreeMap::new();
        if self.eat(b'}') {
            return Ok(Json::Obj(members));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(syntax("a member name was expected"));
            }
            let key = self.string()?;
            if !self.eat(b':') {
                return Err(syntax("':' expected after a member name"));
            }
            let v = self.value()?;
            if members.insert(key, v).is_some() {
                return Err(syntax("duplicate member in a JSON object"));
            }
            if self.eat(b'}') {
                return Ok(Json::Obj(members));
            }
            if !self.eat(b',') {
                return Err(syntax("',' or '}' expected in an object"));
            }
        }
    }
}
