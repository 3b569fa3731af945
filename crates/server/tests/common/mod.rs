//! Shared helpers: a temp dir with a real SQLite file, the real `prime-server` binary on a
//! real port (127.0.0.1:0), the key CLI, and a plain-HTTP client.
#![allow(clippy::unwrap_used, dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_prime-server");

/// A temporary directory holding the database.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub db_path: PathBuf,
    pub db_url: String,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("prime-api.db");
        let db_url = format!("sqlite://{}", db_path.display());
        TestEnv {
            dir,
            db_path,
            db_url,
        }
    }

    /// A temp dir whose database is a fresh schema in `PRIME_TEST_POSTGRES_URL`; `None` (after
    /// saying so) when that variable is unset. Returns the env and the schema's name.
    pub fn postgres() -> Option<(Self, String)> {
        let Ok(base) = std::env::var("PRIME_TEST_POSTGRES_URL") else {
            eprintln!("skipped: PRIME_TEST_POSTGRES_URL is not set");
            return None;
        };
        Some(Self::postgres_at(&base))
    }

    /// A temp dir whose database is a fresh schema in the PostgreSQL database at `base`.
    pub fn postgres_at(base: &str) -> (Self, String) {
        let base = base.to_owned();
        let dir = tempfile::tempdir().unwrap();
        let schema = format!(
            "prime_test_{}_{}",
            std::process::id(),
            chrono::Utc::now().timestamp_micros()
        );
        pg_exec(&base, format!("CREATE SCHEMA {schema}"));
        let sep = if base.contains('?') { '&' } else { '?' };
        let db_url = format!("{base}{sep}options[search_path]={schema}");
        (
            TestEnv {
                db_path: dir.path().join("unused"),
                dir,
                db_url,
            },
            schema,
        )
    }

    /// Run `prime-server ARGS --database URL`.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .args(["--database", &self.db_url])
            .env_remove("PRIME_DATABASE_URL")
            .env_remove("RUST_LOG")
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    /// `keys create --name NAME EXTRA...` → the key printed on stdout.
    pub fn create_key(&self, name: &str, extra: &[&str]) -> String {
        let mut args = vec!["keys", "create", "--name", name];
        args.extend_from_slice(extra);
        let out = self.cli(&args);
        assert!(out.status.success(), "keys create failed: {out:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "create prints the key alone: {stdout:?}");
        lines[0].to_owned()
    }

    /// `keys list --json`.
    pub fn list(&self) -> Vec<Value> {
        let out = self.cli(&["keys", "list", "--json"]);
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    /// The id of the key with display prefix of `key`.
    pub fn id_of(&self, key: &str) -> i64 {
        let prefix: String = key.chars().take(8).collect();
        self.list()
            .iter()
            .find(|k| k["prefix"] == prefix.as_str())
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    }

    /// Start the real binary on a free port.
    pub fn spawn(&self, extra: &[&str]) -> Server {
        Server::spawn(self, extra)
    }

    /// Start the real binary serving HTTPS with `cert.pem`/`key.pem` from [`write_tls_files`];
    /// its client trusts only `ca_pem`.
    pub fn spawn_tls(&self, extra: &[&str], ca_pem: &str) -> Server {
        let cert = self.dir.path().join("cert.pem").display().to_string();
        let key = self.dir.path().join("key.pem").display().to_string();
        let mut args = vec!["--tls-cert", cert.as_str(), "--tls-key", key.as_str()];
        args.extend_from_slice(extra);
        Server::spawn_with(self, &args, tls_client(ca_pem), &[])
    }

    /// Start the real binary with extra environment variables (e.g. `RUST_LOG`).
    pub fn spawn_env(&self, extra: &[&str], vars: &[(&str, &str)]) -> Server {
        Server::spawn_with(self, extra, client(), vars)
    }

    /// Run SQL against the database directly (test inspection / time travel).
    pub fn sql_i64(&self, sql: &'static str) -> Vec<i64> {
        let url = self.db_url.clone();
        if url.starts_with("postgres") {
            return pg_i64(&url, sql);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let rows: Vec<i64> = sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap();
            conn.close().await.unwrap();
            rows
        })
    }

    pub fn sql_exec(&self, sql: &'static str) {
        let url = self.db_url.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        });
    }
}

/// Query a column of BIGINTs from a PostgreSQL database.
pub fn pg_i64(url: &str, sql: &'static str) -> Vec<i64> {
    let url = url.to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let rows: Vec<i64> = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    })
}

/// Run one statement against `PRIME_TEST_POSTGRES_URL`'s database.
pub fn pg_exec(base: &str, sql: String) {
    let base = base.to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let pool = sqlx::PgPool::connect(&base).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
}

/// A running `prime-server serve` process.
pub struct Server {
    child: Child,
    pub base: String,
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
    pub client: Client,
}

fn pump(stream: impl Read + Send + 'static, sink: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
}

pub fn client() -> Client {
    // reqwest uses `rustls-no-provider`: a provider must exist even for plain http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Fire `n` `/check-prime` requests at once (one thread each, released together by a barrier),
/// sent round-robin to `urls` (full `/check-prime` URLs); returns the statuses in request order.
pub fn concurrent_checks(urls: &[String], key: &str, n: usize) -> Vec<StatusCode> {
    let barrier = Arc::new(std::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let url = urls[i % urls.len()].clone();
            let (key, barrier) = (key.to_owned(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let client = client();
                barrier.wait();
                client
                    .post(url)
                    .header("Authorization", key)
                    .header("Content-Type", "application/json")
                    .body(format!("{{\"number\": {}}}", 1_000_003 + 2 * i))
                    .send()
                    .unwrap()
                    .status()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// How many of `statuses` are `status`.
pub fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// A client that trusts only `ca_pem` (for [`TestEnv::spawn_tls`]).
pub fn tls_client(ca_pem: &str) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .build()
        .unwrap()
}

/// Write a fresh private CA's certificate for `localhost` and `127.0.0.1` to `dir/cert.pem`
/// and its key to `dir/key.pem`; returns the CA certificate (PEM) clients must trust.
pub fn write_tls_files(dir: &std::path::Path) -> String {
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

impl Server {
    fn spawn(env: &TestEnv, extra: &[&str]) -> Server {
        Server::spawn_with(env, extra, client(), &[])
    }

    fn spawn_with(env: &TestEnv, extra: &[&str], client: Client, vars: &[(&str, &str)]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--database", &env.db_url])
            .args(extra)
            .env("RUST_LOG", "info")
            .env_remove("PRIME_DATABASE_URL")
            .envs(vars.iter().copied())
            .current_dir(env.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        pump(child.stdout.take().unwrap(), Arc::clone(&stdout));
        pump(child.stderr.take().unwrap(), Arc::clone(&stderr));
        let deadline = Instant::now() + Duration::from_secs(30);
        let base = loop {
            {
                let err = stderr.lock().unwrap();
                if let Some(i) = err.find("prime-server listening on ") {
                    let rest = &err[i + "prime-server listening on ".len()..];
                    let end = rest
                        .find(|c: char| c.is_whitespace() || c == '"')
                        .unwrap_or(rest.len());
                    break rest[..end].to_owned();
                }
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("server exited early ({status}): {}", stderr.lock().unwrap());
            }
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        Server {
            child,
            base,
            stdout,
            stderr,
            client,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn addr(&self) -> String {
        self.base
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_owned()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `POST /check-prime` with the key in `Authorization` and a raw JSON body.
    pub fn check(&self, key: &str, body: &str) -> Response {
        self.client
            .post(self.url("/check-prime"))
            .header("Authorization", key)
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .unwrap()
    }

    pub fn get(&self, path: &str, key: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(k) = key {
            req = req.header("Authorization", k);
        }
        req.send().unwrap()
    }

    pub fn usage(&self, key: &str) -> Value {
        let r = self.get("/usage", Some(key));
        assert_eq!(r.status(), StatusCode::OK);
        r.json().unwrap()
    }

    pub fn healthy(&self) -> bool {
        self.get("/healthz", None).status() == StatusCode::OK
    }

    /// SIGKILL.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then wait for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        self.signal_term();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal_term(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn printed(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Assert a problem+json error body with an `error` member; returns the body.
pub fn assert_problem(r: Response, status: StatusCode) -> Value {
    assert_eq!(r.status(), status);
    let ct = r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: Value = r.json().unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty() && !e.contains('\n'))
    );
    assert!(body["title"].is_string() && body["type"].is_string() && body["detail"].is_string());
    body
}
