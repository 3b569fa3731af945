//! `prime-client verify FILE`: check an ECPP primality certificate offline with the primality
//! library (no server, no key). The form (JSON or PARI/GP's `primecert` vector) is detected.
//!
//! Exit codes: 0 valid, 1 invalid (the first failing step and condition on stderr),
//! 2 unreadable (no such file, not a certificate).

use std::io::{BufRead, Read, Write};
use std::path::Path;

use primality::Certificate;

const PREFIX: &str = "prime-client";

/// Largest certificate file read (a 1000-digit certificate is well under 1 MiB).
const MAX_BYTES: u64 = 64 << 20;

/// Check the certificate in `file` (`-`: stdin); prints the verdict and returns the exit code.
pub fn run<R: BufRead, W: Write, E: Write>(
    file: &Path,
    json: bool,
    stdin: R,
    out: &mut W,
    err: &mut E,
) -> u8 {
    let text = match read(file, stdin) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(err, "{PREFIX}: cannot read {}: {e}", file.display());
            return 2;
        }
    };
    let cert = match Certificate::parse(&text) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(err, "{PREFIX}: {}: {e}", file.display());
            return 2;
        }
    };
    let n = cert.number();
    match cert.verify() {
        Ok(()) => {
            let steps = cert.steps().len();
            let line = if json {
                serde_json::json!({"valid": true, "number": n.to_string(), "steps": steps})
                    .to_string()
            } else {
                format!("{n} is prime (certificate with {steps} steps verified)")
            };
            let _ = writeln!(out, "{line}");
            0
        }
        Err(e) => {
            if json {
                let v = serde_json::json!({"valid": false, "number": n.to_string(), "error": e.to_string()});
                let _ = writeln!(out, "{v}");
            }
            let _ = writeln!(err, "{PREFIX}: invalid certificate for {n}: {e}");
            1
        }
    }
}

fn read<R: BufRead>(file: &Path, stdin: R) -> std::io::Result<String> {
    let mut text = String::new();
    if file.as_os_str() == "-" {
        stdin.take(MAX_BYTES).read_to_string(&mut text)?;
    } else {
        std::fs::File::open(file)?
            .take(MAX_BYTES)
            .read_to_string(&mut text)?;
    }
    Ok(text)
}
