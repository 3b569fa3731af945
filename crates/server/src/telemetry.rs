//! Logging: tracing to stderr (`RUST_LOG` honoured, default `info`; `--log-format pretty|json`)
//! through a lossy writer of our own ([`LineBuffer`]), and the per-request line.
//!
//! The writer never makes a request wait: a line is copied into a shared buffer under a lock
//! held only for that copy, and one thread of its own writes everything pending with one
//! `write(2)`. When the buffer holds 128 Ki lines (stderr is a pipe nobody reads, a paused
//! terminal, a stuck log driver), new lines are dropped and counted ([`dropped_lines`],
//! exported as `prime_log_lines_dropped_total`). The writer thread is woken when the buffer
//! stops being empty and then lingers a few milliseconds, so a busy server pays one wake-up and
//! one system call per burst of lines, not per line (a channel per line, as
//! `tracing-appender` has, woke that thread for almost every request). The per-request line is
//! formatted without the `tracing` formatter (the same bytes, a fraction of the cost).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::locks::lock;

/// Lines the writer holds, by default, before it drops new ones (`--log-buffer-lines`).
pub const DEFAULT_BUFFERED_LINES: usize = 128 * 1024;

/// Once something is pending, how long the writer waits for more before writing it.
const LINGER: Duration = Duration::from_millis(10);
/// Pending bytes written at once, without waiting out [`LINGER`].
const FLUSH_BYTES: usize = 64 * 1024;
/// How long dropping [`Logs`] waits for the pending lines to be written.
const FINAL_FLUSH: Duration = Duration::from_secs(1);

/// Lines waiting for the writer thread.
#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    lines: usize,
    closing: bool,
}

/// The lossy writer's shared half: whole lines appended by any thread, taken all at once by
/// the writer thread.
#[derive(Debug)]
struct LineBuffer {
    pending: Mutex<Pending>,
    ready: Condvar,
    limit: usize,
    dropped: AtomicU64,
}

impl LineBuffer {
    fn new(limit: usize) -> Self {
        LineBuffer {
            pending: Mutex::new(Pending::default()),
            ready: Condvar::new(),
            limit: limit.max(1),
            dropped: AtomicU64::new(0),
        }
    }

    /// Append one line, or count it as dropped when `limit` lines are pending already. Wakes
    /// the writer only when the buffer stops being empty or grows past [`FLUSH_BYTES`].
    fn push(&self, line: &[u8]) {
        let mut pending = lock(&self.pending);
        if pending.lines >= self.limit {
            drop(pending);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let before = pending.bytes.len();
        pending.bytes.extend_from_slice(line);
        pending.lines += 1;
        let wake = before == 0 || (before < FLUSH_BYTES && pending.bytes.len() >= FLUSH_BYTES);
        drop(pending);
        if wake {
            self.ready.notify_one();
        }
    }

    /// The writer thread: write what is pending, in bursts, until closed with nothing left.
    fn drain_into(&self, out: &mut impl Write) {
        let mut spare = Vec::new();
        let mut pending = lock(&self.pending);
        loop {
            while pending.bytes.is_empty() && !pending.closing {
                pending = self
                    .ready
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if pending.bytes.is_empty() {
                return;
            }
            if !pending.closing && pending.bytes.len() < FLUSH_BYTES {
                pending = match self.ready.wait_timeout(pending, LINGER) {
                    Ok((guard, _)) => guard,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            }
            std::mem::swap(&mut pending.bytes, &mut spare);
            pending.lines = 0;
            drop(pending);
            // The lock is not held here: a write that blocks only makes lines pile up (and,
            // past the limit, be dropped), never a request wait.
            let _ = out.write_all(&spare).and_then(|()| out.flush());
            spare.clear();
            pending = lock(&self.pending);
        }
    }

    fn close(&self) {
        lock(&self.pending).closing = true;
        self.ready.notify_one();
    }
}

/// What the `tracing` formatter writes to: each event's `write_all` is one line.
#[derive(Debug, Clone)]
struct LineWriter(Arc<LineBuffer>);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LineWriter {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Keeps the log writer running; dropping it writes what is pending (waiting at most about a
/// second).
#[derive(Debug)]
pub struct Logs {
    flushed: Option<(Arc<LineBuffer>, std::sync::mpsc::Receiver<()>)>,
}

impl Drop for Logs {
    fn drop(&mut self) {
        if let Some((buffer, done)) = self.flushed.take() {
            buffer.close();
            let _ = done.recv_timeout(FINAL_FLUSH);
        }
    }
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event: time, level, message, `key=value` fields.
    #[default]
    Pretty,
    /// One JSON object per line: `timestamp`, `level`, `message` and the fields at top level.
    Json,
}

fn default_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"))
}

fn install<W>(format: LogFormat, writer: W, ansi: bool) -> bool
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(default_filter())
        .with_writer(writer)
        .with_target(false);
    match format {
        LogFormat::Pretty => builder.with_ansi(ansi).try_init().is_ok(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
            .is_ok(),
    }
}

/// The installed writer, for the per-request line and the dropped-line count.
struct Installed {
    buffer: Arc<LineBuffer>,
    /// Request lines bypass the `tracing` formatter unless the output is a colour terminal.
    fast_request_lines: bool,
    json: bool,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Start the writer thread on stderr; `None` if the thread cannot be started.
fn start_writer(buffer: &Arc<LineBuffer>) -> Option<std::sync::mpsc::Receiver<()>> {
    let (done, flushed) = std::sync::mpsc::channel();
    let shared = Arc::clone(buffer);
    std::thread::Builder::new()
        .name("log-writer".to_owned())
        .spawn(move || {
            shared.drain_into(&mut std::io::stderr());
            let _ = done.send(());
        })
        .ok()?;
    Some(flushed)
}

/// Install the global subscriber (once; later calls change nothing).
pub fn init(format: LogFormat, buffered_lines: usize) -> Logs {
    let buffer = Arc::new(LineBuffer::new(buffered_lines));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let Some(flushed) = start_writer(&buffer) else {
        return Logs { flushed: None };
    };
    let logs = Logs {
        flushed: Some((Arc::clone(&buffer), flushed)),
    };
    if !install(format, LineWriter(Arc::clone(&buffer)), ansi) {
        return logs;
    }
    let _ = INSTALLED.set(Installed {
        buffer,
        fast_request_lines: !ansi,
        json: format == LogFormat::Json,
    });
    logs
}

/// Log lines dropped because the writer's buffer was full.
pub fn dropped_lines() -> u64 {
    INSTALLED
        .get()
        .map_or(0, |i| i.buffer.dropped.load(Ordering::Relaxed))
}

/// Every second, one warning when log lines were dropped since the last report: it reaches
/// the log once the writer has caught up, saying how many lines are missing.
pub async fn report_dropped_lines() {
    let mut reported = dropped_lines();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = dropped_lines();
        if now > reported {
            tracing::warn!(
                dropped = now - reported,
                total = now,
                "the log writer could not keep up: log lines were dropped"
            );
            reported = now;
        }
    }
}

/// The fields of one request line.
#[derive(Debug)]
pub struct RequestLine<'a> {
    /// The request's id (also its `X-Request-Id`).
    pub request_id: &'a str,
    /// HTTP method.
    pub method: &'a str,
    /// The route's label (`other` for unknown paths).
    pub route: &'static str,
    /// The path, redacted when it could carry a secret.
    pub path: &'a str,
    /// Response status.
    pub status: u16,
    /// Time from request head to response head.
    pub latency_us: u64,
    /// The key's display prefix, or `-`.
    pub key: &'a str,
}

thread_local! {
    /// `YYYY-MM-DDTHH:MM:SS` of the last second formatted on this thread.
    static SECOND: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((u64::MAX, [0; 19])) };
}

/// `2026-11-28T03:59:03.123456Z`, as `tracing_subscriber::fmt::time::SystemTime` writes it.
fn write_timestamp(out: &mut Vec<u8>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (cached, mut text) = SECOND.get();
    if cached != secs {
        let formatted = chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(0), 0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string();
        if formatted.len() == text.len() {
            text.copy_from_slice(formatted.as_bytes());
            SECOND.set((secs, text));
        } else {
            out.extend_from_slice(formatted.as_bytes());
            let _ = write!(out, ".{:06}Z", now.subsec_micros());
            return;
        }
    }
    out.extend_from_slice(&text);
    let mut micros = [0u8; 8];
    micros[0] = b'.';
    let mut v = now.subsec_micros();
    for b in micros[1..7].iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
    micros[7] = b'Z';
    out.extend_from_slice(&micros);
}

fn json_str(out: &mut Vec<u8>, s: &str) {
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"-\"");
    }
}

impl RequestLine<'_> {
    /// The bytes the installed `tracing` formatter (pretty without colours, or JSON) would
    /// write for this event.
    fn format(&self, out: &mut Vec<u8>, json: bool) {
        let l = self;
        if json {
            out.extend_from_slice(b"{\"timestamp\":\"");
            write_timestamp(out);
            out.extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"request\",\"request_id\":");
            json_str(out, l.request_id);
            out.extend_from_slice(b",\"method\":");
            json_str(out, l.method);
            out.extend_from_slice(b",\"route\":");
            json_str(out, l.route);
            out.extend_from_slice(b",\"path\":");
            json_str(out, l.path);
            let _ = write!(
                out,
                ",\"status\":{},\"latency_us\":{},\"key\":",
                l.status, l.latency_us
            );
            json_str(out, l.key);
            out.extend_from_slice(b"}\n");
        } else {
            write_timestamp(out);
            let _ = writeln!(
                out,
                "  INFO request request_id={} method={} route={} path={} status={} latency_us={} key={}",
                l.request_id, l.method, l.route, l.path, l.status, l.latency_us, l.key
            );
        }
    }
}

thread_local! {
    /// The request line being formatted on this thread (reused: no allocation per request).
    static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Write one request line (at `info`).
pub fn log_request(line: &RequestLine<'_>) {
    match INSTALLED.get() {
        Some(installed) if installed.fast_request_lines => {
            if tracing::enabled!(tracing::Level::INFO) {
                LINE.with_borrow_mut(|out| {
                    out.clear();
                    line.format(out, installed.json);
                    installed.buffer.push(out);
                });
            }
        }
        _ => tracing::info!(
            request_id = %line.request_id,
            method = %line.method,
            route = %line.route,
            path = %line.path,
            status = line.status,
            latency_us = line.latency_us,
            key = %line.key,
            "request"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_buffer_drops_and_counts_lines_and_the_writer_gets_the_rest() {
        let buffer = LineBuffer::new(3);
        for i in 0..5 {
            buffer.push(format!("line {i}\n").as_bytes());
        }
        assert_eq!(buffer.dropped.load(Ordering::Relaxed), 2);
        buffer.close();
        let mut out = Vec::new();
        buffer.drain_into(&mut out);
        assert_eq!(out, b"line 0\nline 1\nline 2\n");
    }

    #[test]
    fn lines_reach_the_writer_while_others_are_added() {
        let buffer = Arc::new(LineBuffer::new(1_000_000));
        let (shared, written) = (Arc::clone(&buffer), Arc::new(Mutex::new(Vec::new())));
        let sink = Arc::clone(&written);
        let writer = std::thread::spawn(move || {
            let mut out = SharedSink(sink);
            shared.drain_into(&mut out);
        });
        for i in 0..10_000 {
            buffer.push(format!("{i}\n").as_bytes());
        }
        buffer.close();
        writer.join().unwrap_or_default();
        let text = String::from_utf8(std::mem::take(&mut *lock(&written))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 10_000);
        assert!(lines.iter().enumerate().all(|(i, l)| *l == i.to_string()));
        assert_eq!(buffer.dropped.load(Ordering::Relaxed), 0);
    }

    /// A writer whose bytes the test can read while the writer thread owns it.
    struct SharedSink(Arc<Mutex<Vec<u8>>>);

    impl Write for SharedSink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn request_lines_match_the_formatter() {
        let line = RequestLine {
            request_id: "3f9a1c2e-00000000002a",
            method: "POST",
            route: "/check-prime",
            path: "/check-prime",
            status: 200,
            latency_us: 87,
            key: "pk_AbCdE",
        };
        let mut pretty = Vec::new();
        line.format(&mut pretty, false);
        let pretty = String::from_utf8(pretty).unwrap_or_default();
        assert!(pretty.ends_with(
            "Z  INFO request request_id=3f9a1c2e-00000000002a method=POST route=/check-prime \
             path=/check-prime status=200 latency_us=87 key=pk_AbCdE\n"
        ));
        let mut json = Vec::new();
        line.format(&mut json, true);
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
        assert_eq!(value["status"], 200);
        assert_eq!(value["key"], "pk_AbCdE");
        assert_eq!(value["message"], "request");
    }
}
