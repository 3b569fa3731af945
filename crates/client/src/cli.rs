//! The command line: one typed struct, flags with environment variables.

use std::time::Duration;

use clap::{Parser, Subcommand};

/// Default server URL.
pub const DEFAULT_URL: &str = "http://127.0.0.1:5000";

/// Exit codes, shown after `--help`.
const AFTER_HELP: &str = "\
Exit codes: 0 answered; 2 usage error or invalid number; 3 unauthorized (wrong key);
4 quota exhausted; 5 cannot reach the server, timeout, or server error.
prove: as above, and 1 when the number is not proven prime (composite, or no proof in time).
verify: 0 valid, 1 invalid (the failing step on stderr), 2 unreadable.

Examples:
  prime-client check 17 15 172983479832623897492387592384682937659382477
  prime-client factor 172983479832623897492387592384682937659382477
  seq 1 1000 | prime-client --json check -
  prime-client -v time
  prime-client prove 170141183460469231731687303715884105727 --out cert.json
  prime-client verify cert.json";

/// Ask a prime-api server whether integers are prime, what their prime factors are, or what time
/// it is.
#[derive(Debug, Parser)]
#[command(name = "prime-client", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Base URL of the server; a path prefix is kept (http://host/api → http://host/api/check-prime)
    #[arg(
        long,
        env = "PRIME_API_URL",
        default_value = DEFAULT_URL,
        value_name = "URL",
        global = true
    )]
    pub url: String,

    /// API key, sent as `Authorization: Bearer KEY`
    #[arg(
        long,
        env = "PRIME_API_KEY",
        hide_env_values = true,
        value_name = "KEY",
        global = true
    )]
    pub key: Option<String>,

    /// PEM file of CA certificates to trust for https:// besides the system's (private CA or
    /// self-signed server)
    #[arg(long, env = "PRIME_API_CA_CERT", value_name = "PEM", global = true)]
    pub ca_cert: Option<std::path::PathBuf>,

    /// Print each answer as the server's JSON object, one per line
    #[arg(long, global = true)]
    pub json: bool,

    /// Seconds to wait for each answer (connecting included)
    #[arg(
        long,
        env = "PRIME_API_TIMEOUT",
        default_value = "30",
        value_name = "SECS",
        value_parser = parse_timeout,
        global = true
    )]
    pub timeout: Duration,

    /// On quota exhausted (429), sleep until the quota resets and go on instead of failing
    #[arg(long, global = true)]
    pub wait: bool,

    /// With --wait: the longest total wait for one request; a later reset fails with exit code 4
    #[arg(
        long,
        env = "PRIME_API_MAX_WAIT",
        default_value = "86400",
        value_name = "SECS",
        value_parser = parse_max_wait,
        global = true
    )]
    pub max_wait: Duration,

    /// Also print the remaining quota and its reset time (on stderr, after each answer)
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// What to ask the server.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check whether integers are prime: one line (or JSON object) per number
    Check {
        /// Decimal integers of any size; `-` reads whitespace-separated numbers from stdin
        #[arg(
            required = true,
            value_name = "N",
            allow_negative_numbers = true,
            num_args = 1..
        )]
        numbers: Vec<String>,
        /// Numbers sent per request (POST /check-prime/batch) when there are several; the next
        /// batch is sent while the previous one prints. 1 sends one request per number.
        #[arg(long, env = "PRIME_API_BATCH_SIZE", default_value_t = DEFAULT_BATCH_SIZE,
              value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000))]
        batch_size: u64,
    },
    /// Factor integers into primes: `N = p1 × p2 × ...`, one line (or JSON object) per number
    Factor {
        /// Decimal integers of any size; `-` reads whitespace-separated numbers from stdin
        #[arg(
            required = true,
            value_name = "N",
            allow_negative_numbers = true,
            num_args = 1..
        )]
        numbers: Vec<String>,
    },
    /// Prove a number prime: the server's ECPP certificate, checked here, written to --out
    /// (else to stdout, the verdict line then going to stderr)
    Prove {
        /// A decimal integer
        #[arg(value_name = "N", allow_negative_numbers = true)]
        number: String,
        /// The certificate's form: the documented JSON, or PARI/GP's `primecert` vector
        #[arg(long, value_enum, default_value_t = CertificateFormat::Json)]
        format: CertificateFormat,
        /// Write the certificate to this file (replaced if it exists)
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Print the server's current time
    Time,
    /// Check a primality certificate offline (no server, no key): JSON or PARI/GP form
    Verify {
        /// The certificate file (`-` for stdin)
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
    },
}

/// The form `prove` writes a certificate in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CertificateFormat {
    /// The JSON form of docs/certificates.md (what the server sends).
    Json,
    /// PARI/GP's `primecert` vector, for `primecertisvalid`.
    Pari,
}

/// Default `--batch-size`.
pub const DEFAULT_BATCH_SIZE: u64 = 1000;
/// Default `--timeout`, in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// Default `--max-wait`, in seconds.
pub const DEFAULT_MAX_WAIT_SECS: u64 = 86_400;

/// `--timeout`; an empty value (`PRIME_API_TIMEOUT=`) means the default.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    if s.trim().is_empty() {
        return Ok(Duration::from_secs(DEFAULT_TIMEOUT_SECS));
    }
    parse_seconds(s)
}

/// `--max-wait`; an empty value (`PRIME_API_MAX_WAIT=`) means the default.
fn parse_max_wait(s: &str) -> Result<Duration, String> {
    if s.trim().is_empty() {
        return Ok(Duration::from_secs(DEFAULT_MAX_WAIT_SECS));
    }
    parse_seconds(s)
}

/// Parse a positive number of seconds (fractions allowed, at most a year).
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 {
        return Err("must be a positive number of seconds".to_string());
    }
    if secs > 366.0 * 86_400.0 {
        return Err("must be at most a year (31622400 seconds)".to_string());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_negative_numbers_and_dash() {
        let cli = Cli::try_parse_from(["prime-client", "check", "-5", "-", "17", "-v"]).unwrap();
        assert!(cli.verbose);
        match cli.command {
            Command::Check {
                numbers,
                batch_size,
            } => {
                assert_eq!(numbers, ["-5", "-", "17"]);
                assert_eq!(batch_size, DEFAULT_BATCH_SIZE);
            }
            _ => panic!("expected check"),
        }
    }

    #[test]
    fn parses_factor() {
        let cli = Cli::try_parse_from(["prime-client", "factor", "360", "-", "--json"]).unwrap();
        assert!(cli.json);
        match cli.command {
            Command::Factor { numbers } => assert_eq!(numbers, ["360", "-"]),
            _ => panic!("expected factor"),
        }
        assert!(Cli::try_parse_from(["prime-client", "factor"]).is_err());
    }

    #[test]
    fn parses_prove() {
        let cli = Cli::try_parse_from(["prime-client", "prove", "97"]).unwrap();
        match cli.command {
            Command::Prove {
                number,
                format,
                out,
            } => {
                assert_eq!(number, "97");
                assert_eq!(format, CertificateFormat::Json);
                assert_eq!(out, None);
            }
            _ => panic!("expected prove"),
        }
        let cli = Cli::try_parse_from([
            "prime-client",
            "prove",
            "97",
            "--format",
            "pari",
            "--out",
            "c.gp",
        ])
        .unwrap();
        match cli.command {
            Command::Prove { format, out, .. } => {
                assert_eq!(format, CertificateFormat::Pari);
                assert_eq!(out.as_deref(), Some(std::path::Path::new("c.gp")));
            }
            _ => panic!("expected prove"),
        }
        // One number, and a known format.
        for bad in [
            &["prime-client", "prove"][..],
            &["prime-client", "prove", "97", "98"],
            &["prime-client", "prove", "97", "--format", "xml"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_seconds("0.5").unwrap(), Duration::from_millis(500));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("inf").is_err());
        assert!(parse_seconds("NaN").is_err());
        assert!(parse_seconds("abc").is_err());
        assert!(parse_seconds("").is_err());
        assert_eq!(parse_timeout("").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_max_wait(" ").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_timeout("2").unwrap(), Duration::from_secs(2));
    }
}
