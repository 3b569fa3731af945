//! A real `prime-server` on a real port with a real SQLite file, for the client's tests.
#![allow(clippy::unwrap_used, dead_code)]

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

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

/// The server binary: next to the client's when `cargo test --workspace` built both; otherwise
/// built once here with the same cargo and target directory.
pub fn server_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let client = client_bin();
        let profile_dir = client.parent().unwrap().to_path_buf();
        let bin = profile_dir.join(format!("prime-server{}", std::env::consts::EXE_SUFFIX));
        if bin.exists() {
            return bin;
        }
        let target_dir = profile_dir.parent().unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let mut build = Command::new(cargo);
        build
            .args(["build", "-p", "prime-server", "--bin", "prime-server"])
            .env("CARGO_TARGET_DIR", target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build
            .status()
            .expect("cannot run cargo to build prime-server");
        assert!(status.success(), "cargo build -p prime-server failed");
        assert!(bin.exists(), "no prime-server at {}", bin.display());
        bin
    })
}

/// A child process, killed (and reaped) on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `prime-server`, killed on drop (before its directory is removed).
pub struct Server {
    process: Guard,
    pub port: u16,
    pub url: String,
    pub database: String,
    dir: TempDir,
}

impl Server {
    /// A server with default settings.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// A server with extra `serve` flags, a fresh SQLite file in a temporary directory and a
    /// port that was free a moment ago; a start that loses the port to someone else is retried.
    pub fn start_with(extra: &[&str]) -> Server {
        Server::start_in(tempfile::tempdir().unwrap(), extra, None)
    }

    /// A server speaking HTTPS with `cert.pem`/`key.pem` from `dir` (which it then owns);
    /// `ca_pem` is the certificate its clients must trust.
    pub fn start_tls(dir: TempDir, ca_pem: &str) -> Server {
        let cert = dir.path().join("cert.pem").display().to_string();
        let key = dir.path().join("key.pem").display().to_string();
        Server::start_in(dir, &["--tls-cert", &cert, "--tls-key", &key], Some(ca_pem))
    }

    fn start_in(dir: TempDir, extra: &[&str], ca_pem: Option<&str>) -> Server {
        let database = format!("sqlite://{}", dir.path().join("prime-api.db").display());
        let mut last_log = String::new();
        for attempt in 0..5 {
            let port = free_port();
            let log = dir.path().join(format!("server-{attempt}.log"));
            let log_file = File::create(&log).unwrap();
            let mut cmd = Command::new(server_bin());
            scrub(&mut cmd);
            cmd.args(["serve", "--bind", &format!("127.0.0.1:{port}")])
                .args(["--database", &database])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().unwrap())
                .stderr(log_file);
            let mut process = Guard(cmd.spawn().unwrap());
            let scheme = if ca_pem.is_some() { "https" } else { "http" };
            let url = format!("{scheme}://127.0.0.1:{port}");
            if wait_ready(&mut process.0, &url, ca_pem, Duration::from_secs(30)) {
                return Server {
                    process,
                    port,
                    url,
                    database,
                    dir,
                };
            }
            drop(process);
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("prime-server did not start; its log:\n{last_log}");
    }

    /// The server's output so far (for failure messages).
    pub fn log(&self) -> String {
        let mut all = String::new();
        for attempt in 0..5 {
            let path = self.dir.path().join(format!("server-{attempt}.log"));
            all.push_str(&std::fs::read_to_string(path).unwrap_or_default());
        }
        all
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.process.0.try_wait(), Ok(None))
    }

    /// Create a key with `prime-server keys create`; returns the key.
    pub fn create_key(&self, name: &str, limit: u64, schedule: Option<&str>) -> String {
        let mut cmd = Command::new(server_bin());
        scrub(&mut cmd);
        cmd.args([
            "keys",
            "create",
            "--name",
            name,
            "--limit",
            &limit.to_string(),
        ])
        .args(["--database", &self.database]);
        if let Some(schedule) = schedule {
            cmd.args(["--reset-schedule", schedule]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "keys create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert!(
            !key.is_empty() && !key.contains('\n'),
            "unexpected key output {key:?}"
        );
        key
    }

    /// A client command pointed at this server with `key`.
    pub fn client(&self, key: &str) -> assert_cmd::Command {
        let mut cmd = client();
        cmd.args(["--url", &self.url, "--key", key]);
        cmd
    }

    /// `GET /usage` for a key: `used` as the server counts it.
    pub fn used(&self, key: &str) -> u64 {
        let r = http()
            .get(format!("{}/usage", self.url))
            .bearer_auth(key)
            .send()
            .unwrap();
        assert!(r.status().is_success(), "/usage: {}", r.status());
        let v: serde_json::Value = r.json().unwrap();
        v["used"].as_u64().unwrap()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Poll `GET /healthz` until it answers 200, the process dies, or the time is up.
fn wait_ready(child: &mut Child, url: &str, ca_pem: Option<&str>, limit: Duration) -> bool {
    let started = Instant::now();
    let http = match ca_pem {
        Some(pem) => http_trusting(pem),
        None => http(),
    };
    while started.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(r) = http.get(format!("{url}/healthz")).send()
            && r.status().is_success()
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Write a fresh private CA's certificate for `localhost` and `127.0.0.1` to `dir/cert.pem`
/// and its key to `dir/key.pem`; returns the CA certificate (PEM) clients must trust.
pub fn write_tls_files(dir: &Path) -> String {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "prime-api test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), leaf_key.serialize_pem()).unwrap();
    ca.as_ref().pem()
}

/// An HTTP client that trusts `ca_pem` (and nothing else).
pub fn http_trusting(ca_pem: &str) -> reqwest::blocking::Client {
    prime_client::api::install_crypto_provider();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .build()
        .unwrap()
}

fn scrub(cmd: &mut Command) {
    for var in SCRUB {
        cmd.env_remove(var);
    }
}

fn http() -> reqwest::blocking::Client {
    prime_client::api::install_crypto_provider();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .build()
        .unwrap()
}

/// A port nobody listened on a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Lines of some output.
pub fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}
