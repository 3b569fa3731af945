//! Logging: tracing to stderr (`RUST_LOG` honoured, default `info`) and one line per request
//! with method, path, status, latency and the key's display prefix — never the key or its hash.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest};
use tracing_subscriber::EnvFilter;

/// Install the global subscriber (once; later calls are ignored).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tokio_cron_scheduler=warn,actix_server=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
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
