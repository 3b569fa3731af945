//! The middleware every request passes: a request id (sent back as `X-Request-Id`), the
//! request's metrics, and one log line with id, method, route, path, status, latency and the
//! key's display prefix — never the key or its hash.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, web};

use super::routes::route_label;
use super::state::AppState;
use crate::domain::keys::KEY_PREFIX;
use crate::telemetry::{RequestLine, log_request};

/// The authenticated key's display prefix, stored in the request's extensions for the log line.
#[derive(Debug, Clone)]
pub struct KeyPrefix(pub String);

/// Record the key's display prefix for this request's log line.
pub fn set_key_prefix(req: &HttpRequest, prefix: String) {
    req.extensions_mut().insert(KeyPrefix(prefix));
}

/// A path as it may be logged: anything that looks like it carries a key is redacted.
fn loggable_path(path: &str) -> &str {
    if path.contains(KEY_PREFIX) || path.len() > 200 {
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

/// Middleware: request id, metrics and the request's log line.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let route = route_label(req.path());
    let request_id = next_request_id();
    req.extensions_mut().insert(RequestId(request_id.clone()));
    // No tracing span per request: it measurably cost throughput on the hot path. Events logged
    // while a request is handled are correlated by time, or carry the id themselves.
    let mut res = next.call(req).await?;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
        state.metrics.request(route, status, elapsed);
    }
    {
        let req = res.request();
        let ext = req.extensions();
        log_request(&RequestLine {
            request_id: request_id.to_str().unwrap_or("-"),
            method: req.method().as_str(),
            route,
            path: loggable_path(req.path()),
            status,
            latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            key: ext.get::<KeyPrefix>().map_or("-", |k| k.0.as_str()),
        });
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
