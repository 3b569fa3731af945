//! The real `prime-server` binary, for tests where the process is the point. Its address comes
//! from `--port-file`; its stdout and stderr are collected for the test to read.

use std::io::{BufRead, BufReader, Read};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::env::TestEnv;
use crate::target::{Target, client};

static SERVER_BINARY: OnceLock<PathBuf> = OnceLock::new();

/// Tell the kit where the `prime-server` binary is (the server crate's tests pass
/// `env!("CARGO_BIN_EXE_prime-server")`).
pub fn use_server_binary(path: &str) {
    let _ = SERVER_BINARY.set(PathBuf::from(path));
}

/// The `prime-server` binary: the one named by [`use_server_binary`], else the one cargo built
/// beside the running test executable (`target/<profile>/prime-server`).
pub fn server_binary() -> &'static Path {
    SERVER_BINARY.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap();
        let bin = profile_dir.join(format!("prime-server{}", std::env::consts::EXE_SUFFIX));
        assert!(
            bin.exists(),
            "no prime-server at {}: call testkit::use_server_binary(env!(\"CARGO_BIN_EXE_prime-server\"))",
            bin.display()
        );
        bin
    })
}

/// A running `prime-server serve` process, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    target: Target,
    /// What the process wrote to stdout so far (kept after it exits).
    pub stdout: Arc<Mutex<String>>,
    /// What the process wrote to stderr so far: its log.
    pub stderr: Arc<Mutex<String>>,
}

impl Deref for ServerProcess {
    type Target = Target;
    fn deref(&self) -> &Target {
        &self.target
    }
}

fn collect(stream: impl Read + Send + 'static, sink: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
}

impl ServerProcess {
    /// Start `prime-server serve --bind 127.0.0.1:0 --database URL --port-file F EXTRA...`
    /// with `vars` in its environment, and wait for it to listen.
    pub fn spawn(env: &TestEnv, extra: &[&str], vars: &[(&str, &str)]) -> ServerProcess {
        Self::start(env, extra, vars, None)
    }

    /// Like [`ServerProcess::spawn`], with stderr going to `stderr` (then [`ServerProcess::logs`]
    /// stays empty).
    pub fn spawn_with_stderr(env: &TestEnv, extra: &[&str], stderr: Stdio) -> ServerProcess {
        Self::start(env, extra, &[], Some(stderr))
    }

    fn start(
        env: &TestEnv,
        extra: &[&str],
        vars: &[(&str, &str)],
        stderr_to: Option<Stdio>,
    ) -> ServerProcess {
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port_file = env.dir.path().join(format!("port-{n}"));
        let piped = stderr_to.is_none();
        let mut child = Command::new(server_binary())
            .args(["serve", "--bind", "127.0.0.1:0", "--database", &env.db_url])
            .arg("--port-file")
            .arg(&port_file)
            .args(extra)
            .env("RUST_LOG", "info")
            .env_remove("PRIME_DATABASE_URL")
            .envs(vars.iter().copied())
            .current_dir(env.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr_to.unwrap_or_else(Stdio::piped))
            .spawn()
            .unwrap();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().unwrap(), Arc::clone(&stdout));
        if piped {
            collect(child.stderr.take().unwrap(), Arc::clone(&stderr));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                break text.trim().to_owned();
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("server exited early ({status}): {}", stderr.lock().unwrap());
            }
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(10));
        };
        let scheme = if extra.contains(&"--tls-cert") {
            "https"
        } else {
            "http"
        };
        ServerProcess {
            child,
            target: Target {
                base: format!("{scheme}://{addr}"),
                client: client(),
            },
            stdout,
            stderr,
        }
    }

    /// Use `client` (e.g. one trusting a test CA) for this server's requests.
    pub fn with_client(mut self, client: reqwest::blocking::Client) -> Self {
        self.target.client = client;
        self
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A memory figure of the process from `/proc/PID/status`, in KiB: `"VmRSS"` (resident
    /// now), `"VmHWM"` (peak resident), ...
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{}/status", self.pid()))
    }

    /// SIGKILL, and wait for the exit.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then wait (at most 40 s) for the exit.
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

    /// Send SIGTERM.
    pub fn signal_term(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// The exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Everything written to stderr so far (the log).
    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Everything written to stdout so far.
    pub fn printed(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
