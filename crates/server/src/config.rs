//! The command line: one typed clap structure; every flag also reads a `PRIME_*` variable.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Default requests per period for new keys.
pub const DEFAULT_LIMIT: i64 = 1000;

/// prime-server: the prime-api HTTP server and its key administration.
#[derive(Debug, Parser)]
#[command(name = "prime-server", version, about)]
pub struct Cli {
    /// Database URL: sqlite://PATH (a bare path is an SQLite file too) or postgres://...
    #[arg(
        long,
        env = "PRIME_DATABASE_URL",
        default_value = "sqlite://prime-api.db",
        global = true
    )]
    pub database: String,

    /// Log format: `pretty` (one human-readable line per event) or `json` (one object per line).
    #[arg(
        long,
        env = "PRIME_LOG_FORMAT",
        value_enum,
        default_value_t = crate::telemetry::LogFormat::Pretty,
        global = true
    )]
    pub log_format: crate::telemetry::LogFormat,

    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Server options when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeConfig,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Run the HTTP server (the default).
    Serve(ServeConfig),
    /// Manage API keys.
    Keys {
        /// Key operation.
        #[command(subcommand)]
        command: KeysCommand,
    },
}

/// Everything `serve` needs besides the database URL.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "PRIME_BIND", default_value = "127.0.0.1:5000")]
    pub bind: SocketAddr,

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
    #[arg(long, env = "PRIME_DEFAULT_LIMIT", default_value_t = DEFAULT_LIMIT)]
    pub default_limit: i64,

    /// Default reset schedule: cron, 6 fields, seconds first, UTC.
    #[arg(long, env = "PRIME_RESET_SCHEDULE", default_value = crate::quota::DEFAULT_SCHEDULE)]
    pub reset_schedule: String,

    /// Largest number accepted by /check-prime, in bits.
    #[arg(long, env = "PRIME_MAX_BITS", default_value_t = 8192)]
    pub max_bits: u64,

    /// HTTP worker threads (default: number of CPUs).
    #[arg(long, env = "PRIME_WORKERS")]
    pub workers: Option<usize>,

    /// Largest request body, in bytes.
    #[arg(long, env = "PRIME_MAX_BODY_BYTES", default_value_t = 65536)]
    pub max_body_bytes: usize,

    /// Threads for primality checks of large numbers (default: number of CPUs).
    #[arg(long, env = "PRIME_CPU_THREADS")]
    pub cpu_threads: Option<usize>,

    /// Checks allowed to wait for a CPU thread before new ones get 503.
    #[arg(long, env = "PRIME_CPU_QUEUE", default_value_t = 64)]
    pub cpu_queue: usize,

    /// How long a check may wait for a CPU thread before it gets 503, in milliseconds.
    #[arg(long, env = "PRIME_CPU_QUEUE_TIMEOUT_MS", default_value_t = 2000)]
    pub cpu_queue_timeout_ms: u64,

    /// Time allowed for a client to send the request head, in milliseconds (then 408).
    #[arg(long, env = "PRIME_REQUEST_TIMEOUT_MS", default_value_t = 5000)]
    pub request_timeout_ms: u64,

    /// Idle keep-alive timeout, in seconds.
    #[arg(long, env = "PRIME_KEEP_ALIVE_SECS", default_value_t = 5)]
    pub keep_alive_secs: u64,

    /// Time in-flight requests get to finish on shutdown, in seconds.
    #[arg(long, env = "PRIME_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,

    /// Proxy addresses whose X-Forwarded-For is trusted (comma separated).
    #[arg(
        long = "trusted-proxy",
        env = "PRIME_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpAddr>,

    /// Failed authentications an address may make in a burst before it gets 429.
    #[arg(long, env = "PRIME_AUTH_FAILURE_BURST", default_value_t = 20)]
    pub auth_failure_burst: u32,

    /// After the burst, one more failed authentication is allowed per this many milliseconds.
    #[arg(long, env = "PRIME_AUTH_FAILURE_PERIOD_MS", default_value_t = 3000)]
    pub auth_failure_period_ms: u64,

    /// PostgreSQL: most connections this instance opens (each instance has its own pool).
    #[arg(long, env = "PRIME_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// PostgreSQL: connections kept open while idle.
    #[arg(long, env = "PRIME_DB_MIN_CONNECTIONS", default_value_t = 1)]
    pub db_min_connections: u32,

    /// PostgreSQL: how long a request waits for a connection (reconnecting while the database
    /// is down) before it is answered 503, in milliseconds.
    #[arg(long, env = "PRIME_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 3000)]
    pub db_acquire_timeout_ms: u64,

    /// PostgreSQL: server-side statement_timeout of every connection, in milliseconds (0: none).
    #[arg(long, env = "PRIME_DB_STATEMENT_TIMEOUT_MS", default_value_t = 5000)]
    pub db_statement_timeout_ms: u64,

    /// PostgreSQL: idle connections above the minimum are closed after this many seconds.
    #[arg(long, env = "PRIME_DB_IDLE_TIMEOUT_SECS", default_value_t = 300)]
    pub db_idle_timeout_secs: u64,
}

impl ServeConfig {
    /// The PostgreSQL pool settings named by the `--db-*` flags.
    pub fn pool_config(&self) -> crate::store::PoolConfig {
        use std::time::Duration;
        crate::store::PoolConfig {
            max_connections: self.db_max_connections,
            min_connections: self.db_min_connections,
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms),
            statement_timeout: Duration::from_millis(self.db_statement_timeout_ms),
            idle_timeout: Duration::from_secs(self.db_idle_timeout_secs),
        }
    }
}

/// `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (alone, on stdout). It is shown only this once.
    Create {
        /// Name of the key.
        #[arg(long)]
        name: String,
        /// Requests per reset period.
        #[arg(long, env = "PRIME_DEFAULT_LIMIT", default_value_t = DEFAULT_LIMIT)]
        limit: i64,
        /// Own reset schedule (cron, 6 fields, seconds first, UTC); default: the server's.
        #[arg(long)]
        reset_schedule: Option<String>,
        /// Expire after this long: e.g. 30d, 12h, 90m, 45s.
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<i64>,
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
        #[arg(long)]
        name: Option<String>,
        /// New requests per period.
        #[arg(long)]
        limit: Option<i64>,
        /// New own reset schedule (cron, 6 fields, seconds first, UTC).
        #[arg(long, conflicts_with = "clear_reset_schedule")]
        reset_schedule: Option<String>,
        /// Return to the server's default schedule.
        #[arg(long)]
        clear_reset_schedule: bool,
        /// Expire this long from now: e.g. 30d, 12h, 90m, 45s.
        #[arg(long, value_parser = parse_duration, conflicts_with = "no_expiry")]
        expires_in: Option<i64>,
        /// Remove the expiry.
        #[arg(long)]
        no_expiry: bool,
    },
    /// Set a key's usage in the current period back to 0.
    ResetUsage {
        /// Key id (from `keys list`).
        id: i64,
    },
}

/// Parse `30d`, `12h`, `90m`, `45s` (or plain seconds) into seconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("invalid duration '{s}' (use e.g. 30d, 12h, 90m, 45s)"))?;
    let mult = match unit {
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
    match n.checked_mul(mult) {
        Some(v) if v > 0 => Ok(v),
        _ => Err(format!(
            "duration '{s}' must be positive and not absurdly large"
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
        assert_eq!(parse_duration("30d"), Ok(30 * 86_400));
        assert_eq!(parse_duration("12h"), Ok(43_200));
        assert_eq!(parse_duration("90m"), Ok(5_400));
        assert_eq!(parse_duration("45s"), Ok(45));
        assert_eq!(parse_duration("45"), Ok(45));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("-5s").is_err());
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
}
