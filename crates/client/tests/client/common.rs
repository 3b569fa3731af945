//! A real prime-server (in-process, from the test kit) on a real port with a real SQLite
//! file, for the client's tests; the client itself runs as the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use testkit::ClosedPort;
use testkit::{TestApp, TestEnv};

/// Environment variables of either binary that must not leak in from the caller's shell.
const SCRUB: &[&str] = &[
    "PRIME_API_URL",
    "PRIME_API_KEY",
    "PRIME_API_TIMEOUT",
    "PRIME_API_MAX_WAIT",
    "PRIME_API_CA_CERT",
    "PRIME_BIND",
    "PRIME_DATABASE_URL",
    "PRIME_DEFAULT_LIMIT",
    "PRIME_RESET_SCHEDULE",
    "PRIME_MAX_BITS",
    "PRIME_WORKERS",
    "PRIME_TLS_CERT",
    "PRIME_TLS_KEY",
    "PRIME_METRICS_BIND",
    "PRIME_LOG_FORMAT",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The client binary.
pub fn client_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_prime-client"))
}

/// A `prime-client` command with a clean environment (no PRIME_* variables, no proxies).
pub fn client() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(client_bin());
    for var in SCRUB {
        cmd.env_remove(var);
    }
    cmd.timeout(Duration::from_secs(120));
    cmd
}

/// A running prime-server (in-process, on a free port, with a fresh SQLite file).
pub struct Server {
    app: TestApp,
    env: TestEnv,
    /// Its base URL.
    pub url: String,
    /// Its port.
    pub port: u16,
}

impl Server {
    /// A server with default settings.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// A server with extra `serve` flags.
    pub fn start_with(extra: &[&str]) -> Server {
        let env = TestEnv::new();
        // A store with a key already: the server then prints no first key of its own.
        let _ = env.create_key("first", &[]);
        let app = env.spawn(extra);
        Server::new(env, app)
    }

    /// A server speaking HTTPS with the `cert.pem`/`key.pem` that `write` puts in its
    /// directory; `write` returns the certificate its clients must trust.
    pub fn start_tls(write: impl FnOnce(&Path) -> String) -> (Server, String) {
        let env = TestEnv::new();
        let _ = env.create_key("first", &[]);
        let trusted = write(env.dir.path());
        let app = env.spawn_tls(&[], &trusted);
        (Server::new(env, app), trusted)
    }

    fn new(env: TestEnv, app: TestApp) -> Server {
        Server {
            url: app.base.clone(),
            port: app.addr.port(),
            app,
            env,
        }
    }

    /// Create a key (as `prime-server keys create` does); the key.
    pub fn create_key(&self, name: &str, limit: u64, schedule: Option<&str>) -> String {
        let limit = limit.to_string();
        let mut extra = vec!["--limit", limit.as_str()];
        if let Some(schedule) = schedule {
            extra.extend(["--reset-schedule", schedule]);
        }
        self.env.create_key(name, &extra)
    }

    /// Create a key with these `keys create` flags; the key.
    pub fn create_key_with(&self, name: &str, extra: &[&str]) -> String {
        self.env.create_key(name, extra)
    }

    /// A client command pointed at this server with `key`.
    pub fn client(&self, key: &str) -> assert_cmd::Command {
        let mut cmd = client();
        cmd.args(["--url", &self.url, "--key", key]);
        cmd
    }

    /// `GET /usage` for a key: `used` as the server counts it.
    pub fn used(&self, key: &str) -> u64 {
        self.app.usage(key)["used"].as_u64().unwrap()
    }

    /// `used` as `keys list` shows it (no request, so no place in a burst limit).
    pub fn listed_used(&self, key: &str) -> u64 {
        let id = self.env.id_of(key);
        let keys = self.env.list();
        let row = keys.iter().find(|k| k["id"] == id).unwrap();
        row["used"].as_u64().unwrap()
    }

    /// The server's directory.
    pub fn dir(&self) -> &Path {
        self.env.dir.path()
    }
}

/// Lines of some output.
pub fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}
