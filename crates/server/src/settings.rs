//! The server's settings: plain, validated values with defaults, built once from the command
//! line (`args`) and read by `startup`. Every limit has a safe default here.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::domain::check::Check;
use crate::domain::schedule::DEFAULT_SCHEDULE;
use crate::http::Limits;
use crate::store::{Policies, PoolOptions};

/// Default address to listen on.
pub const DEFAULT_BIND: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5000);
/// Default database.
pub const DEFAULT_DATABASE: &str = "sqlite://prime-api.db";
/// Default units per period of a new key.
pub const DEFAULT_LIMIT: u64 = 1000;
/// Default largest number, in bits.
pub const DEFAULT_MAX_BITS: u64 = 8192;
/// Default largest request body, in bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Default most numbers in one JSON batch.
pub const DEFAULT_MAX_BATCH: usize = 1000;
/// Default largest JSON batch body, in bytes.
pub const DEFAULT_MAX_BATCH_BODY_BYTES: usize = 1024 * 1024;
/// Default most work units of one request (`domain::check::cost`): 4 checks of 8192-bit
/// numbers (about 3 s of one CPU here), 256 of 2048-bit ones, 1000 of 1280-bit ones, any
/// number of 64-bit ones.
pub const DEFAULT_MAX_REQUEST_WORK: u64 = 1 << 23;
/// Default CPU-pool wait queue.
pub const DEFAULT_CPU_QUEUE: usize = 64;
/// Default longest wait for a request's body once its head has arrived.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of clients the failed-authentication throttle tracks at once (2 MiB).
pub const DEFAULT_AUTH_THROTTLE_CLIENTS: usize = 65_536;
/// Default time a factorisation may take.
pub const DEFAULT_FACTOR_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time a proof may take.
pub const DEFAULT_PROOF_TIMEOUT: Duration = Duration::from_secs(10);
/// Default largest number proven (or whose certificate is verified), in bits.
pub const DEFAULT_MAX_PROOF_BITS: u64 = 1024;
/// Default largest `/verify-certificate` body, in bytes (a 1024-bit certificate takes about
/// 100 KiB in the JSON form).
pub const DEFAULT_MAX_CERTIFICATE_BYTES: usize = 512 * 1024;
/// Default longest wait for a CPU thread.
pub const DEFAULT_CPU_QUEUE_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time for a client to send the request head.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Default idle keep-alive.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(5);
/// Default time in-flight requests get on shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Default failed authentications an address may make in a burst.
pub const DEFAULT_AUTH_FAILURE_BURST: u32 = 20;
/// Default period of one more failed authentication after the burst.
pub const DEFAULT_AUTH_FAILURE_PERIOD: Duration = Duration::from_secs(3);

/// The TLS certificate chain and key files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// The CPU pool for large checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuSettings {
    /// Threads running checks at once.
    pub threads: usize,
    /// Checks allowed to wait for a thread.
    pub queue: usize,
    /// Longest wait for a thread.
    pub queue_timeout: Duration,
}

/// The failed-authentication throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Failures an address may make at once.
    pub burst: u32,
    /// After the burst, one more failure per this long.
    pub period: Duration,
    /// Clients tracked at once (the table's fixed size).
    pub clients: usize,
}

/// Everything `serve` needs besides the database.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeSettings {
    /// Address to listen on (port 0 picks a free port).
    pub bind: SocketAddr,
    /// Write the bound address here once listening (for scripts and tests).
    pub port_file: Option<PathBuf>,
    /// Serve HTTPS with these files.
    pub tls: Option<TlsFiles>,
    /// Serve `/metrics` only on this address.
    pub metrics_bind: Option<SocketAddr>,
    /// Units per period of the key created on first start.
    pub default_limit: u64,
    /// The default reset schedule (cron, seconds first, UTC; validated).
    pub reset_schedule: String,
    /// Request limits.
    pub limits: Limits,
    /// HTTP worker threads.
    pub workers: usize,
    /// Most connections open at once (`None`: as many as the descriptor limit allows).
    pub max_connections: Option<usize>,
    /// The CPU pool.
    pub cpu: CpuSettings,
    /// Time for a client to send the request head (then `408`).
    pub request_timeout: Duration,
    /// Idle keep-alive.
    pub keep_alive: Duration,
    /// Time in-flight requests get on shutdown.
    pub shutdown_timeout: Duration,
    /// Proxies whose `X-Forwarded-For` is trusted.
    pub trusted_proxies: Vec<IpAddr>,
    /// The failed-authentication throttle.
    pub auth_failures: ThrottleSettings,
    /// PostgreSQL pool settings.
    pub pool: PoolOptions,
    /// The primality check (tests replace it to simulate an internal failure).
    pub check: Check,
    /// The most time a factorisation (`"factorize": true`) may take.
    pub factor_timeout: Duration,
    /// The most time a proof (`"proof": true`) may take.
    pub proof_timeout: Duration,
    /// Default burst limit and usage-history retention.
    pub policies: Policies,
}

/// The machine's number of CPUs (at least 1).
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl Default for ServeSettings {
    fn default() -> Self {
        ServeSettings {
            bind: DEFAULT_BIND,
            port_file: None,
            tls: None,
            metrics_bind: None,
            default_limit: DEFAULT_LIMIT,
            reset_schedule: DEFAULT_SCHEDULE.to_owned(),
            limits: Limits {
                max_bits: DEFAULT_MAX_BITS,
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
                body_timeout: DEFAULT_BODY_TIMEOUT,
                max_batch: DEFAULT_MAX_BATCH,
                max_batch_body_bytes: DEFAULT_MAX_BATCH_BODY_BYTES,
                max_request_work: DEFAULT_MAX_REQUEST_WORK,
                max_proof_bits: DEFAULT_MAX_PROOF_BITS,
                max_certificate_bytes: DEFAULT_MAX_CERTIFICATE_BYTES,
            },
            workers: cpus(),
            max_connections: None,
            cpu: CpuSettings {
                threads: cpus(),
                queue: DEFAULT_CPU_QUEUE,
                queue_timeout: DEFAULT_CPU_QUEUE_TIMEOUT,
            },
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            keep_alive: DEFAULT_KEEP_ALIVE,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            trusted_proxies: Vec::new(),
            auth_failures: ThrottleSettings {
                burst: DEFAULT_AUTH_FAILURE_BURST,
                period: DEFAULT_AUTH_FAILURE_PERIOD,
                clients: DEFAULT_AUTH_THROTTLE_CLIENTS,
            },
            pool: PoolOptions::default(),
            check: Check::default(),
            factor_timeout: DEFAULT_FACTOR_TIMEOUT,
            proof_timeout: DEFAULT_PROOF_TIMEOUT,
            policies: Policies::default(),
        }
    }
}
