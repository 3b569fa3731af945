//! Logging: tracing to stderr (`RUST_LOG` honoured, default `info`; `--log-format pretty|json`)
//! and one line per request with a request id (also sent as `X-Request-Id`), method, route,
//! path, status, latency and the key's display prefix — never the key or its hash.

use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest};
use tracing_subscriber::EnvFilter;

use crate::metrics::Route;

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
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tokio_cron_scheduler=warn,actix_server=warn"))
}

fn install<W>(format: LogFormat, writer: W, ansi: bool) -> bool
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
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

/// Install the global subscriber (once; later calls do nothing but return a guard).
/// `RUST_LOG` chooses what is logged (default `info`).
pub fn init(format: LogFormat) -> LogGuard {
    let (tx, rx) = sync_channel(64 * 1024);
    let spawned = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || writer_thread(rx));
    if spawned.is_err() {
        // No thread: log straight to stderr.
        install(format, std::io::stderr, false);
        return LogGuard { tx: None };
    }
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let installed = install(format, ChannelMakeWriter { tx: tx.clone() }, ansi);
    if installed && !ansi {
        // Request lines bypass the formatter (same bytes, a fraction of the cost); coloured
        // terminal output keeps going through `tracing`.
        let _ = REQUEST_LOG.set(RequestLog {
            tx: tx.clone(),
            json: format == LogFormat::Json,
        });
    }
    LogGuard {
        tx: installed.then_some(tx),
    }
}

/// The per-request line's fast path: written straight to the log-writer thread, byte for byte
/// what the installed `tracing` formatter (pretty without colours, or JSON) would write.
struct RequestLog {
    tx: SyncSender<LogMsg>,
    json: bool,
}

static REQUEST_LOG: OnceLock<RequestLog> = OnceLock::new();

/// The fields of one request line.
struct RequestLine<'a> {
    request_id: &'a str,
    method: &'a str,
    route: &'static str,
    path: &'a str,
    status: u16,
    latency_us: u64,
    key: &'a str,
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

impl RequestLog {
    fn write(&self, l: &RequestLine<'_>) {
        let mut out = Vec::with_capacity(256);
        if self.json {
            out.extend_from_slice(b"{\"timestamp\":\"");
            write_timestamp(&mut out);
            out.extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"request\",\"request_id\":");
            json_str(&mut out, l.request_id);
            out.extend_from_slice(b",\"method\":");
            json_str(&mut out, l.method);
            out.extend_from_slice(b",\"route\":");
            json_str(&mut out, l.route);
            out.extend_from_slice(b",\"path\":");
            json_str(&mut out, l.path);
            let _ = write!(
                out,
                ",\"status\":{},\"latency_us\":{},\"key\":",
                l.status, l.latency_us
            );
            json_str(&mut out, l.key);
            out.extend_from_slice(b"}\n");
        } else {
            write_timestamp(&mut out);
            let _ = writeln!(
                out,
                "  INFO request request_id={} method={} route={} path={} status={} latency_us={} key={}",
                l.request_id, l.method, l.route, l.path, l.status, l.latency_us, l.key
            );
        }
        let _ = self.tx.send(LogMsg::Line(out));
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

/// The request id of the current request (`X-Request-Id`), in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

/// Response header carrying the request id.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// A new request id: 8 hex digits drawn at start-up (so ids from different runs and instances
/// differ) and a 12-hex-digit sequence number, e.g. `3f9a1c2e-00000000002a`. Incoming
/// `X-Request-Id` headers are ignored: a client cannot choose what is written into the logs.
fn next_request_id() -> HeaderValue {
    static BOOT: OnceLock<u32> = OnceLock::new();
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let boot = *BOOT.get_or_init(rand::random::<u32>);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut buf = [0u8; 21];
    hex_into(&mut buf[..8], u64::from(boot));
    buf[8] = b'-';
    hex_into(&mut buf[9..], seq);
    HeaderValue::from_bytes(&buf).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// Write `value`'s low `out.len() * 4` bits as lower-case hex, zero-padded.
fn hex_into(out: &mut [u8], mut value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in out.iter_mut().rev() {
        *b = DIGITS[(value & 0xf) as usize];
        value >>= 4;
    }
}

/// Middleware: a request id (returned as `X-Request-Id`), the request's metrics, and one log
/// line per request with id, method, route, path, status, latency and the key's display prefix.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let route = Route::of(req.path());
    let request_id = next_request_id();
    req.extensions_mut().insert(RequestId(request_id.clone()));
    // No tracing span per request: it measurably cost throughput on the hot path. Events logged
    // while a request is handled are correlated by time, or carry the id themselves.
    let mut res = next.call(req).await?;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    crate::metrics::record_request(route, status, elapsed);
    {
        let req = res.request();
        let ext = req.extensions();
        let key = ext.get::<KeyPrefix>().map_or("-", |k| k.0.as_str());
        let line = RequestLine {
            request_id: request_id.to_str().unwrap_or("-"),
            method: req.method().as_str(),
            route: route.label(),
            path: loggable_path(req.path()),
            status,
            latency_us: elapsed.as_micros() as u64,
            key,
        };
        match REQUEST_LOG.get() {
            Some(log) => {
                if tracing::enabled!(tracing::Level::INFO) {
                    log.write(&line);
                }
            }
            None => tracing::info!(
                request_id = %line.request_id,
                method = %line.method,
                route = %line.route,
                path = %line.path,
                status,
                latency_us = line.latency_us,
                key = %line.key,
                "request"
            ),
        }
    }
    res.headers_mut().insert(REQUEST_ID_HEADER, request_id);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_distinct_and_well_formed() {
        let a = next_request_id();
        let b = next_request_id();
        assert_ne!(a, b);
        let a = a.to_str().unwrap_or_default().to_owned();
        assert_eq!(a.len(), 21);
        assert_eq!(a.as_bytes()[8], b'-');
        assert!(
            a.bytes()
                .enumerate()
                .all(|(i, c)| i == 8 || c.is_ascii_hexdigit())
        );
    }

    #[test]
    fn hex() {
        let mut buf = [0u8; 4];
        hex_into(&mut buf, 0x2a);
        assert_eq!(&buf, b"002a");
    }

    #[test]
    fn paths_carrying_keys_are_redacted() {
        assert_eq!(loggable_path("/check-prime"), "/check-prime");
        assert_eq!(loggable_path("/x/pk_abc"), "(redacted)");
        assert_eq!(loggable_path(&"/a".repeat(200)), "(redacted)");
    }
}
