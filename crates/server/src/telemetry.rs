//! Logging: tracing to stderr (`RUST_LOG` honoured, default `info`; `--log-format pretty|json`)
//! through `tracing-appender`'s non-blocking writer, and the per-request line.
//!
//! The writer is lossy: when its buffer of 128 Ki lines is full (stderr is a pipe nobody reads,
//! a paused terminal, a stuck log driver), lines are dropped and counted
//! ([`dropped_lines`], exported as `prime_log_lines_dropped_total`) instead of making requests
//! wait. The per-request line is formatted without the `tracing` formatter (the same bytes, a
//! fraction of the cost) and handed to the same writer.

use std::io::Write;
use std::sync::OnceLock;
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Lines the writer holds, by default, before it drops new ones (`--log-buffer-lines`).
pub const DEFAULT_BUFFERED_LINES: usize = 128 * 1024;

/// Keeps the log writer running; dropping it flushes what is buffered (for at most about a
/// second).
#[derive(Debug)]
pub struct Logs {
    _guard: Option<WorkerGuard>,
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

/// The installed writer, for the per-request line and the dropped-line count.
struct Installed {
    writer: NonBlocking,
    dropped: ErrorCounter,
    /// Request lines bypass the `tracing` formatter unless the output is a colour terminal.
    fast_request_lines: bool,
    json: bool,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Install the global subscriber (once; later calls change nothing).
pub fn init(format: LogFormat, buffered_lines: usize) -> Logs {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(buffered_lines)
        .thread_name("log-writer")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    if !install(format, writer.clone(), ansi) {
        return Logs { _guard: None };
    }
    let _ = INSTALLED.set(Installed {
        dropped: writer.error_counter(),
        writer,
        fast_request_lines: !ansi,
        json: format == LogFormat::Json,
    });
    Logs {
        _guard: Some(guard),
    }
}

/// Log lines dropped because the writer's buffer was full.
pub fn dropped_lines() -> u64 {
    INSTALLED.get().map_or(0, |i| {
        u64::try_from(i.dropped.dropped_lines()).unwrap_or(u64::MAX)
    })
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

/// Write one request line (at `info`).
pub fn log_request(line: &RequestLine<'_>) {
    match INSTALLED.get() {
        Some(installed) if installed.fast_request_lines => {
            if tracing::enabled!(tracing::Level::INFO) {
                let mut out = Vec::with_capacity(256);
                line.format(&mut out, installed.json);
                let _ = installed.writer.clone().write_all(&out);
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
