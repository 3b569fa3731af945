//! The command line, as clap types only: every flag also reads a `PRIME_*` variable, every
//! number is range-checked by clap, and [`ServeArgs`] becomes the validated
//! [`ServeSettings`] once, by `TryFrom`. Flags that can carry a password never show their
//! environment value in `--help`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use clap::{Args, Parser, Subcommand};

use crate::domain::burst::Rate;
use crate::domain::schedule::{DEFAULT_SCHEDULE, LATEST, ScheduleError, parse_schedule};
use crate::http::Limits;
use crate::settings::{self, CpuSettings, ServeSettings, ThrottleSettings, TlsFiles};
use crate::store::{DEFAULT_RETENTION_DAYS, Policies, PoolOptions};
use crate::telemetry::LogFormat;

/// prime-server: the prime-api HTTP server and its key administration.
#[derive(Debug, Parser)]
#[command(name = "prime-server", version, about)]
pub struct Cli {
    /// Database URL: sqlite://PATH (a bare path is an SQLite file too) or postgres://...
    #[arg(
        long,
        env = "PRIME_DATABASE_URL",
        hide_env_values = true,
        default_value = settings::DEFAULT_DATABASE,
        global = true
    )]
    pub database: String,

    /// Log format: `pretty` (one human-readable line per event) or `json` (one object per line).
    #[arg(
        long,
        env = "PRIME_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Pretty,
        global = true
    )]
    pub log_format: LogFormat,

    /// Log lines held for the log writer before new ones are dropped (and counted) rather than
    /// making requests wait for a slow stderr.
    #[arg(long, env = "PRIME_LOG_BUFFER_LINES", global = true,
          default_value_t = crate::telemetry::DEFAULT_BUFFERED_LINES as u64,
          value_parser = clap::value_parser!(u64).range(16..=16_777_216))]
    pub log_buffer_lines: u64,

    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Server options when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Run the HTTP server (the default).
    Serve(ServeArgs),
    /// Manage API keys.
    Keys {
        /// Key operation.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage quota groups: one quota (and burst limit) shared by several keys.
    Groups {
        /// Group operation.
        #[command(subcommand)]
        command: GroupsCommand,
    },
}

/// `groups` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// Create a group; `keys create --group NAME` then puts keys on its quota.
    Create {
        /// Name of the group (1 to 100 characters, no control characters).
        #[arg(value_parser = parse_name)]
        name: String,
        /// Requests per reset period, shared by the group's keys.
        #[arg(long, env = "PRIME_DEFAULT_LIMIT", default_value_t = settings::DEFAULT_LIMIT,
              value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
        limit: u64,
        /// Own reset schedule (cron, 6 fields, seconds first, UTC); default: the server's.
        #[arg(long, value_parser = parse_cron)]
        reset_schedule: Option<String>,
        /// Burst limit shared by the group's keys: N/s or N/m.
        #[arg(long, value_parser = parse_rate)]
        rate: Option<Rate>,
    },
    /// List groups (a table, or a JSON array with --json).
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Change a group's limit, schedule or burst limit.
    Update {
        /// Group name.
        name: String,
        /// New requests per period.
        #[arg(long, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
        limit: Option<u64>,
        /// New own reset schedule (cron, 6 fields, seconds first, UTC).
        #[arg(long, value_parser = parse_cron, conflicts_with = "clear_reset_schedule")]
        reset_schedule: Option<String>,
        /// Return to the server's default schedule.
        #[arg(long)]
        clear_reset_schedule: bool,
        /// New burst limit: N/s or N/m.
        #[arg(long, value_parser = parse_rate, conflicts_with = "no_rate")]
        rate: Option<Rate>,
        /// Remove the burst limit.
        #[arg(long)]
        no_rate: bool,
    },
    /// Set a group's usage in the current period back to 0.
    ResetUsage {
        /// Group name.
        name: String,
    },
    /// Units per UTC day of the group's keys together, with a bar per day.
    Usage {
        /// Group name.
        name: String,
        /// Days to show, ending today (1 to 3660).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3660))]
        days: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Milliseconds, range-checked (1 ms to 10 minutes).
fn millis() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(1..=600_000)
}

/// `serve`'s flags.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "PRIME_BIND", default_value_t = settings::DEFAULT_BIND)]
    pub bind: SocketAddr,

    /// Once listening, write the bound address (e.g. 127.0.0.1:41234) to this file.
    #[arg(long, env = "PRIME_PORT_FILE", value_name = "PATH")]
    pub port_file: Option<PathBuf>,

    /// Serve HTTPS: PEM file with the certificate chain, leaf first (needs --tls-key).
    #[arg(long, env = "PRIME_TLS_CERT", value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM file with the private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "PRIME_TLS_KEY", value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve GET /metrics on this address only (plain HTTP) instead of on --bind.
    #[arg(long, env = "PRIME_METRICS_BIND", value_name = "ADDR")]
    pub metrics_bind: Option<SocketAddr>,

    /// Quota of the key created automatically on first start.
    #[arg(long, env = "PRIME_DEFAULT_LIMIT", default_value_t = settings::DEFAULT_LIMIT,
          value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    pub default_limit: u64,

    /// Default reset schedule: cron, 6 fields, seconds first, UTC.
    #[arg(long, env = "PRIME_RESET_SCHEDULE", default_value = DEFAULT_SCHEDULE)]
    pub reset_schedule: String,

    /// Largest number accepted by /check-prime, in bits (2 to 1048576).
    #[arg(long, env = "PRIME_MAX_BITS", default_value_t = settings::DEFAULT_MAX_BITS,
          value_parser = clap::value_parser!(u64).range(2..=1_048_576))]
    pub max_bits: u64,

    /// HTTP worker threads (default: number of CPUs; 1 to 1024).
    #[arg(long, env = "PRIME_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,

    /// Most connections open at once (default: the descriptor limit, raised to its hard
    /// maximum at start, less what the server needs for itself).
    #[arg(long, env = "PRIME_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: Option<u64>,

    /// Time a client has to send the request body once its head has arrived, in milliseconds
    /// (then 408 and the connection is closed).
    #[arg(long, env = "PRIME_BODY_TIMEOUT_MS", default_value_t = 10_000, value_parser = millis())]
    pub body_timeout_ms: u64,

    /// Largest request body, in bytes (64 to 67108864).
    #[arg(long, env = "PRIME_MAX_BODY_BYTES", default_value_t = settings::DEFAULT_MAX_BODY_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(64..=64 * 1024 * 1024))]
    pub max_body_bytes: u64,

    /// Most numbers in one JSON batch (`POST /check-prime/batch`); more is answered 422
    /// (1 to 1000000).
    #[arg(long, env = "PRIME_MAX_BATCH", default_value_t = settings::DEFAULT_MAX_BATCH as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_batch: u64,

    /// Largest JSON batch body, in bytes (64 to 268435456); larger is answered 413.
    #[arg(long, env = "PRIME_MAX_BATCH_BODY_BYTES", default_value_t = settings::DEFAULT_MAX_BATCH_BODY_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(64..=256 * 1024 * 1024))]
    pub max_batch_body_bytes: u64,

    /// The most work one request may do: a number of b > 64 bits costs ceil(b/64)^3 units
    /// (plus 2097152 with "factorize"), smaller numbers nothing. A JSON batch over it is
    /// answered 422; an NDJSON stream that reaches it ends with a 422 line.
    #[arg(long, env = "PRIME_MAX_REQUEST_WORK", default_value_t = settings::DEFAULT_MAX_REQUEST_WORK,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_request_work: u64,

    /// The most time a factorisation (`"factorize": true`) may take, in milliseconds; it then
    /// answers with the factors found and the part it could not split.
    #[arg(long, env = "PRIME_FACTOR_TIMEOUT_MS", default_value_t = 2000, value_parser = millis())]
    pub factor_timeout_ms: u64,

    /// The most time a proof (`"proof": true`) may take, in milliseconds; the answer then falls
    /// back to the Baillie-PSW verdict with `"proof": "timed_out"`.
    #[arg(long, env = "PRIME_PROOF_TIMEOUT_MS", default_value_t = 10_000, value_parser = millis())]
    pub proof_timeout_ms: u64,

    /// Largest number a proof is made for, and largest certificate number /verify-certificate
    /// checks, in bits (64 to 8192); larger is answered 422.
    #[arg(long, env = "PRIME_MAX_PROOF_BITS", default_value_t = settings::DEFAULT_MAX_PROOF_BITS,
          value_parser = clap::value_parser!(u64).range(64..=8192))]
    pub max_proof_bits: u64,

    /// Largest /verify-certificate body, in bytes (64 to 67108864); larger is answered 413.
    #[arg(long, env = "PRIME_MAX_CERTIFICATE_BYTES", default_value_t = settings::DEFAULT_MAX_CERTIFICATE_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(64..=64 * 1024 * 1024))]
    pub max_certificate_bytes: u64,

    /// Threads for primality checks of large numbers (default: number of CPUs; 1 to 1024).
    #[arg(long, env = "PRIME_CPU_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub cpu_threads: Option<u16>,

    /// Checks allowed to wait for a CPU thread before new ones get 503 (0 to 100000).
    #[arg(long, env = "PRIME_CPU_QUEUE", default_value_t = settings::DEFAULT_CPU_QUEUE as u64,
          value_parser = clap::value_parser!(u64).range(0..=100_000))]
    pub cpu_queue: u64,

    /// How long a check may wait for a CPU thread before it gets 503, in milliseconds.
    #[arg(long, env = "PRIME_CPU_QUEUE_TIMEOUT_MS", default_value_t = 2000, value_parser = millis())]
    pub cpu_queue_timeout_ms: u64,

    /// Time allowed for a client to send the request head, in milliseconds (then 408).
    #[arg(long, env = "PRIME_REQUEST_TIMEOUT_MS", default_value_t = 5000, value_parser = millis())]
    pub request_timeout_ms: u64,

    /// Idle keep-alive timeout, in seconds (0 to 3600).
    #[arg(long, env = "PRIME_KEEP_ALIVE_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub keep_alive_secs: u64,

    /// Time in-flight requests get to finish on shutdown, in seconds (0 to 3600).
    #[arg(long, env = "PRIME_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_timeout_secs: u64,

    /// Proxy addresses whose X-Forwarded-For is trusted (comma separated).
    #[arg(
        long = "trusted-proxy",
        env = "PRIME_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpAddr>,

    /// Failed authentications an address may make in a burst before it gets 429.
    #[arg(long, env = "PRIME_AUTH_FAILURE_BURST", default_value_t = settings::DEFAULT_AUTH_FAILURE_BURST,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub auth_failure_burst: u32,

    /// After the burst, one more failed authentication is allowed per this many milliseconds.
    #[arg(long, env = "PRIME_AUTH_FAILURE_PERIOD_MS", default_value_t = 3000,
          value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub auth_failure_period_ms: u64,

    /// Clients (IPv4 addresses, IPv6 /64s) whose failed authentications are tracked at once;
    /// the table has this fixed size (32 bytes a client) whatever the number of sources.
    #[arg(long, env = "PRIME_AUTH_THROTTLE_CLIENTS", default_value_t = settings::DEFAULT_AUTH_THROTTLE_CLIENTS as u64,
          value_parser = clap::value_parser!(u64).range(64..=4_194_304))]
    pub auth_throttle_clients: u64,

    /// Burst limit of keys and groups that have none of their own: N/s or N/m (a burst of N,
    /// GCRA), on every authenticated route.
    #[arg(long, env = "PRIME_DEFAULT_RATE", value_parser = parse_rate)]
    pub default_rate: Option<Rate>,

    /// Days of per-key usage history kept (0 to 36600; 0 records none).
    #[arg(long, env = "PRIME_USAGE_RETENTION_DAYS", default_value_t = DEFAULT_RETENTION_DAYS,
          value_parser = clap::value_parser!(u32).range(0..=36_600))]
    pub usage_retention_days: u32,

    /// PostgreSQL: most connections this instance opens (1 to 10000).
    #[arg(long, env = "PRIME_DB_MAX_CONNECTIONS", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub db_max_connections: u32,

    /// PostgreSQL: connections kept open while idle (0 to 10000).
    #[arg(long, env = "PRIME_DB_MIN_CONNECTIONS", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub db_min_connections: u32,

    /// PostgreSQL: how long a request waits for a connection (reconnecting while the database
    /// is down) before it is answered 503, in milliseconds.
    #[arg(long, env = "PRIME_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 3000, value_parser = millis())]
    pub db_acquire_timeout_ms: u64,

    /// PostgreSQL: server-side statement_timeout of every connection, in milliseconds (0: none).
    #[arg(long, env = "PRIME_DB_STATEMENT_TIMEOUT_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(0..=86_400_000))]
    pub db_statement_timeout_ms: u64,

    /// PostgreSQL: idle connections above the minimum are closed after this many seconds.
    #[arg(long, env = "PRIME_DB_IDLE_TIMEOUT_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub db_idle_timeout_secs: u64,
}

/// A size that does not fit this machine's `usize`.
fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

impl TryFrom<&ServeArgs> for ServeSettings {
    type Error = ScheduleError;

    fn try_from(a: &ServeArgs) -> Result<Self, ScheduleError> {
        parse_schedule(&a.reset_schedule)?;
        let cpus = settings::cpus();
        Ok(ServeSettings {
            bind: a.bind,
            port_file: a.port_file.clone(),
            tls: match (&a.tls_cert, &a.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                _ => None,
            },
            metrics_bind: a.metrics_bind,
            default_limit: a.default_limit,
            reset_schedule: a.reset_schedule.clone(),
            limits: Limits {
                max_bits: a.max_bits,
                max_body_bytes: to_usize(a.max_body_bytes),
                body_timeout: Duration::from_millis(a.body_timeout_ms),
                max_batch: to_usize(a.max_batch),
                max_batch_body_bytes: to_usize(a.max_batch_body_bytes),
                max_request_work: a.max_request_work,
                max_proof_bits: a.max_proof_bits,
                max_certificate_bytes: to_usize(a.max_certificate_bytes),
            },
            workers: a.workers.map_or(cpus, usize::from),
            max_connections: a.max_connections.map(to_usize),
            cpu: CpuSettings {
                threads: a.cpu_threads.map_or(cpus, usize::from),
                queue: to_usize(a.cpu_queue),
                queue_timeout: Duration::from_millis(a.cpu_queue_timeout_ms),
            },
            request_timeout: Duration::from_millis(a.request_timeout_ms),
            keep_alive: Duration::from_secs(a.keep_alive_secs),
            shutdown_timeout: Duration::from_secs(a.shutdown_timeout_secs),
            trusted_proxies: a.trusted_proxies.clone(),
            auth_failures: ThrottleSettings {
                burst: a.auth_failure_burst,
                period: Duration::from_millis(a.auth_failure_period_ms),
                clients: to_usize(a.auth_throttle_clients),
            },
            pool: PoolOptions {
                max_connections: a.db_max_connections,
                min_connections: a.db_min_connections.min(a.db_max_connections),
                acquire_timeout: Duration::from_millis(a.db_acquire_timeout_ms),
                statement_timeout: Duration::from_millis(a.db_statement_timeout_ms),
                idle_timeout: Duration::from_secs(a.db_idle_timeout_secs),
            },
            check: crate::domain::check::Check::default(),
            factor_timeout: Duration::from_millis(a.factor_timeout_ms),
            proof_timeout: Duration::from_millis(a.proof_timeout_ms),
            policies: Policies {
                default_rate: a.default_rate,
                retention_days: a.usage_retention_days,
            },
        })
    }
}

/// `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (alone, on stdout). It is shown only this once.
    Create {
        /// Name of the key (1 to 100 characters, no control characters).
        #[arg(long, value_parser = parse_name)]
        name: String,
        /// Requests per reset period.
        #[arg(long, env = "PRIME_DEFAULT_LIMIT", default_value_t = settings::DEFAULT_LIMIT,
              value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
        limit: u64,
        /// Own reset schedule (cron, 6 fields, seconds first, UTC); default: the server's.
        #[arg(long, value_parser = parse_cron)]
        reset_schedule: Option<String>,
        /// Expire after this long: e.g. 30d, 12h, 90m, 45s, 2w (the expiry must fall before
        /// the year 10000).
        #[arg(long, value_parser = parse_expiry)]
        expires_in: Option<Duration>,
        /// Use this group's quota and burst limit (see `groups create`) instead of an own one.
        #[arg(long, conflicts_with_all = ["rate", "reset_schedule"])]
        group: Option<String>,
        /// Own burst limit: N/s or N/m (a burst of N, GCRA) on every authenticated route.
        #[arg(long, value_parser = parse_rate)]
        rate: Option<Rate>,
    },
    /// Replace a key: print a new key (alone, on stdout) that takes over the old one's name,
    /// group or quota, limit, schedule, usage and burst limit; the old key keeps working until
    /// the grace period ends.
    Rotate {
        /// Key id (from `keys list`).
        id: i64,
        /// How long the old key stays valid: e.g. 24h, 30m, 0 (ends it at once).
        #[arg(long, default_value = "24h", value_parser = parse_grace)]
        grace: Duration,
    },
    /// A key's metered units per UTC day, with a bar per day.
    Usage {
        /// Key id (from `keys list`).
        id: i64,
        /// Days to show, ending today (1 to 3660).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3660))]
        days: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List keys (a table, or a JSON array with --json).
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key; it is refused from the next request on.
    Revoke {
        /// Key id (from `keys list`).
        id: i64,
    },
    /// Change a key's name, limit, schedule or expiry.
    Update {
        /// Key id (from `keys list`).
        id: i64,
        /// New name.
        #[arg(long, value_parser = parse_name)]
        name: Option<String>,
        /// New requests per period.
        #[arg(long, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
        limit: Option<u64>,
        /// New own reset schedule (cron, 6 fields, seconds first, UTC).
        #[arg(long, value_parser = parse_cron, conflicts_with = "clear_reset_schedule")]
        reset_schedule: Option<String>,
        /// Return to the server's default schedule.
        #[arg(long)]
        clear_reset_schedule: bool,
        /// Expire this long from now: e.g. 30d, 12h, 90m, 45s, 2w.
        #[arg(long, value_parser = parse_expiry, conflicts_with = "no_expiry")]
        expires_in: Option<Duration>,
        /// Remove the expiry.
        #[arg(long)]
        no_expiry: bool,
        /// New own burst limit: N/s or N/m.
        #[arg(long, value_parser = parse_rate, conflicts_with = "no_rate")]
        rate: Option<Rate>,
        /// Remove the key's own burst limit.
        #[arg(long)]
        no_rate: bool,
    },
    /// Set a key's usage in the current period back to 0.
    ResetUsage {
        /// Key id (from `keys list`).
        id: i64,
    },
}

fn parse_name(s: &str) -> Result<String, String> {
    let n = s.chars().count();
    if n == 0 || n > 100 || s.chars().any(char::is_control) {
        return Err("a name has 1 to 100 characters and no control characters".to_owned());
    }
    Ok(s.to_owned())
}

fn parse_rate(s: &str) -> Result<Rate, String> {
    s.parse()
}

/// A grace period: `0` (none) or a duration as [`parse_duration`] reads it, at most 10 years.
fn parse_grace(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    let d = parse_duration(s)?;
    if d.as_secs() > 3650 * 86_400 {
        return Err(format!("grace '{s}' is too long (at most 3650d)"));
    }
    Ok(d)
}

fn parse_cron(s: &str) -> Result<String, String> {
    parse_schedule(s)
        .map(|_| s.to_owned())
        .map_err(|e| e.to_string())
}

/// Parse `30d`, `12h`, `90m`, `45s`, `2w` (or plain seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let invalid = || format!("invalid duration '{s}' (use e.g. 30d, 12h, 90m, 45s)");
    let n: u64 = digits.parse().map_err(|_| invalid())?;
    let unit_secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "invalid duration unit in '{s}' (use s, m, h, d or w)"
            ));
        }
    };
    match n.checked_mul(unit_secs) {
        Some(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
        Some(_) => Err(format!("duration '{s}' must be positive")),
        None => Err(format!("duration '{s}' is too large")),
    }
}

/// A duration whose end, counted from now, falls before the year 10000.
fn parse_expiry(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    let now = Utc::now().timestamp();
    let most = LATEST.saturating_sub(now);
    match i64::try_from(d.as_secs()) {
        Ok(secs) if secs <= most => Ok(d),
        _ => Err(format!(
            "'{s}' is too long: an expiry must fall before the year 10000 (at most {} days from now)",
            most / 86_400
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        let secs = |s: &str| parse_duration(s).map(|d| d.as_secs());
        assert_eq!(secs("30d"), Ok(30 * 86_400));
        assert_eq!(secs("12h"), Ok(43_200));
        assert_eq!(secs("90m"), Ok(5_400));
        assert_eq!(secs("45s"), Ok(45));
        assert_eq!(secs("45"), Ok(45));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("99999999999999999999w").is_err());
    }

    #[test]
    fn absurd_expiries_are_refused() {
        assert!(parse_expiry("10000000000000w").is_err());
        assert!(parse_expiry("9223372036854775807s").is_err());
        assert!(parse_expiry("3650d").is_ok());
        let e = parse_expiry("10000000000000w").unwrap_err();
        assert!(e.contains("year 10000"), "{e}");
    }

    #[test]
    fn limits_are_range_checked() {
        assert!(Cli::try_parse_from(["p", "--max-bits", "0"]).is_err());
        assert!(Cli::try_parse_from(["p", "--default-limit", "-1"]).is_err());
        assert!(Cli::try_parse_from(["p", "--workers", "0"]).is_err());
        assert!(Cli::try_parse_from(["p", "--max-batch", "0"]).is_err());
        assert!(Cli::try_parse_from(["p", "--max-request-work", "0"]).is_err());
        assert!(Cli::try_parse_from(["p", "keys", "create", "--name", ""]).is_err());
        assert!(
            Cli::try_parse_from(["p", "keys", "create", "--name", "a", "--limit", "-5"]).is_err()
        );
        assert!(
            Cli::try_parse_from([
                "p",
                "keys",
                "create",
                "--name",
                "a",
                "--reset-schedule",
                "x"
            ])
            .is_err()
        );
    }

    #[test]
    fn database_before_or_after_subcommand() {
        let a = Cli::try_parse_from(["p", "--database", "sqlite://a.db", "keys", "list"]).unwrap();
        let b = Cli::try_parse_from(["p", "keys", "list", "--database", "sqlite://a.db"]).unwrap();
        let c = Cli::try_parse_from(["p", "keys", "--database", "sqlite://a.db", "list"]).unwrap();
        assert_eq!(a.database, "sqlite://a.db");
        assert_eq!(b.database, "sqlite://a.db");
        assert_eq!(c.database, "sqlite://a.db");
        let d = Cli::try_parse_from(["p", "serve", "--bind", "127.0.0.1:0"]).unwrap();
        assert!(matches!(d.command, Some(Command::Serve(_))));
        let e = Cli::try_parse_from(["p", "--bind", "127.0.0.1:0"]).unwrap();
        assert!(e.command.is_none());
    }

    #[test]
    fn settings_from_flags_and_defaults_agree() {
        let cli = Cli::try_parse_from(["p"]).unwrap();
        let from_flags = ServeSettings::try_from(&cli.serve).unwrap();
        assert_eq!(from_flags, ServeSettings::default());
    }
}
