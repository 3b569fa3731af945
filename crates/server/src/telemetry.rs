//! Logging: tracing to stderr (`RUST_LOG` honoured, default `info`) and one line per request
//! with method, path, status, latency and the key's display prefix — never the key or its hash.

use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest};
use tracing_subscriber::EnvFilter;

enum LogMsg {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
}

/// Log lines are formatted on the calling thread and written by one background thread, in
/// batches, so request handlers never wait for a `write` to stderr.
#[derive(Clone)]
struct ChannelMakeWriter {
    tx: SyncSender<LogMsg>,
}

/// One event's bytes; sent to the writer thread when dropped.
struct LineWriter {
    tx: SyncSender<LogMsg>,
    buf: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.tx.send(LogMsg::Line(std::mem::take(&mut self.buf)));
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ChannelMakeWriter {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            tx: self.tx.clone(),
            buf: Vec::with_capacity(256),
        }
    }
}

fn writer_thread(rx: Receiver<LogMsg>) {
    // Not `stderr().lock()`: holding the lock would block every `eprintln!` in the process.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr());
    // Poll instead of blocking in `recv`: producers then never pay for waking this thread,
    // and lines are written in batches. A line waits at most POLL before it is written.
    const POLL: Duration = Duration::from_millis(5);
    loop {
        match rx.try_recv() {
            Ok(LogMsg::Line(line)) => {
                let _ = out.write_all(&line);
            }
            Ok(LogMsg::Flush(ack)) => {
                let _ = out.flush();
                let _ = ack.send(());
            }
            Err(TryRecvError::Empty) => {
                let _ = out.flush();
                std::thread::sleep(POLL);
            }
            Err(TryRecvError::Disconnected) => {
                let _ = out.flush();
                return;
            }
        }
    }
}

/// Flushes pending log lines when dropped (keep it alive for the life of the program).
#[derive(Debug)]
pub struct LogGuard {
    tx: Option<SyncSender<LogMsg>>,
}

impl std::fmt::Debug for LogMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogMsg")
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let (ack, done) = sync_channel(1);
            if tx.send(LogMsg::Flush(ack)).is_ok() {
                let _ = done.recv_timeout(Duration::from_secs(5));
            }
        }
    }
}

/// Install the global subscriber (once; later calls do nothing but return a guard).
pub fn init() -> LogGuard {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tokio_cron_scheduler=warn,actix_server=warn"));
    let (tx, rx) = sync_channel(64 * 1024);
    let spawned = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || writer_thread(rx));
    if spawned.is_err() {
        // No thread: log straight to stderr.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .try_init();
        return LogGuard { tx: None };
    }
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(ChannelMakeWriter { tx: tx.clone() })
        .with_target(false)
        .try_init()
        .is_ok();
    LogGuard {
        tx: installed.then_some(tx),
    }
}

/// The authenticated key's display prefix, stored in the request's extensions for the log line.
#[derive(Debug, Clone)]
pub struct KeyPrefix(pub String);

/// Record the key's display prefix for this request's log line.
pub fn set_key_prefix(req: &HttpRequest, prefix: String) {
    req.extensions_mut().insert(KeyPrefix(prefix));
}

/// A path as it may be logged: anything that looks like it carries a key is redacted.
fn loggable_path(path: &str) -> &str {
    if path.contains(crate::keys::KEY_PREFIX) || path.len() > 200 {
        "(redacted)"
    } else {
        path
    }
}

/// Middleware: one log line per request.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = loggable_path(req.path()).to_owned();
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    let latency_us = start.elapsed().as_micros() as u64;
    let key = res
        .request()
        .extensions()
        .get::<KeyPrefix>()
        .map(|k| k.0.clone());
    tracing::info!(
        method = %method,
        path = %path,
        status,
        latency_us,
        key = key.as_deref().unwrap_or("-"),
        "request"
    );
    Ok(res)
}
