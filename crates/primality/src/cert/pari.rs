//! PARI/GP's `primecert` form: `[[N, t, s, a4, [x, y]], ...]`, or the bare integer `N` for a
//! prime below 2^64.

use num_bigint::{BigInt, BigUint};

use super::{Certificate, CertificateError, Step};
use crate::ecpp::arith::reduce;

impl Certificate {
    /// PARI/GP's form, `[[N, t, s, a4, [x, y]], ...]` (what `primecert(N)` returns and
    /// `primecertisvalid` takes; `b` is implied by the point), or `N` itself when there are
    /// no steps.
    ///
    /// ```
    /// use primality::{BigUint, Certificate};
    /// assert_eq!(Certificate::new(BigUint::from(7u8), vec![]).to_pari(), "7");
    /// ```
    pub fn to_pari(&self) -> String {
        if self.steps.is_empty() {
            return self.number.to_string();
        }
        let parts: Vec<String> = self
            .steps
            .iter()
            .map(|s| format!("[{}, {}, {}, {}, [{}, {}]]", s.n, s.t, s.s, s.a, s.x, s.y))
            .collect();
        format!("[{}]", parts.join(", "))
    }

    /// Read PARI/GP's form (whitespace and line breaks anywhere; `a4`, `x`, `y` are taken
    /// modulo `N`; `b = y^2 - x^3 - a4 x mod N`).
    ///
    /// ```
    /// use primality::Certificate;
    /// let c = Certificate::from_pari("[[10000000000000000000000013, 2014301315494, 2307080, \
    ///     10000000000000000000000012, [8681690586018795968591296, 1762327051647262468140498]]]").unwrap();
    /// assert!(c.verify().is_ok());
    /// assert!(Certificate::from_pari("[[1, 2]]").is_err());
    /// ```
    pub fn from_pari(text: &str) -> Result<Certificate, CertificateError> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.item(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(syntax("trailing characters after the certificate"));
        }
        match v {
            Item::Int(n) => Ok(Certificate::new(nonneg(n)?, Vec::new())),
            Item::Vec(steps) => {
                let steps: Vec<Step> = steps.into_iter().map(step).collect::<Result<_, _>>()?;
                let Some(first) = steps.first() else {
                    return Err(syntax("an empty certificate"));
                };
                Ok(Certificate::new(first.n.clone(), steps))
            }
        }
    }
}

fn syntax(msg: &str) -> CertificateError {
    CertificateError::Syntax(msg.to_string())
}

fn nonneg(x: BigInt) -> Result<BigUint, CertificateError> {
    x.to_biguint()
        .ok_or_else(|| syntax("a negative N or s in a PARI certificate"))
}

fn step(v: Item) -> Result<Step, CertificateError> {
    let shape = || syntax("each step must be [N, t, s, a4, [x, y]]");
    let Item::Vec(mut f) = v else {
        return Err(shape());
    };
    if f.len() != 5 {
        return Err(shape());
    }
    let Some(Item::Vec(point)) = f.pop() else {
        return Err(shape());
    };
    let ints: Vec<BigInt> = f
        .into_iter()
        .chain(point)
        .map(|i| match i {
            Item::Int(x) => Ok(x),
            Item::Vec(_) => Err(shape()),
        })
        .collect::<Result<_, _>>()?;
    let [n, t, s, a, x, y] = <[BigInt; 6]>::try_from(ints).map_err(|_| shape())?;
    let n = nonneg(n)?;
    if n < BigUint::from(2u8) {
        return Err(syntax("N must be at least 2"));
    }
    let (a, x, y) = (reduce(&a, &n), reduce(&x, &n), reduce(&y, &n));
    let b = (&y * &y + &n - (&x * &x + &a) * &x % &n) % &n;
    Ok(Step {
        s: nonneg(s)?,
        n,
        t,
        a,
        b,
        x,
        y,
    })
}

enum Item {
    Int(BigInt),
    Vec(Vec<Item>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn item(&mut self, depth: usize) -> Result<Item, CertificateError> {
        if depth > 3 {
            return Err(syntax("too deeply nested for a PARI certificate"));
        }
        self.ws();
        match self.s.get(self.i) {
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Item::Vec(items));
                }
                loop {
                    items.push(self.item(depth + 1)?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Item::Vec(items));
                        }
                        _ => return Err(syntax("',' or ']' expected")),
                    }
                }
            }
            _ => {
                let start = self.i;
                if self.s.get(self.i) == Some(&b'-') {
                    self.i += 1;
                }
                while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                text.parse()
                    .map(Item::Int)
                    .map_err(|_| syntax("an integer or '[' expected"))
            }
        }
    }
}
