//! Prometheus metrics: process-wide atomic counters and fixed-bucket histograms, rendered as
//! Prometheus text (format 0.0.4) by `GET /metrics`.
//!
//! Recording costs a few relaxed atomic additions on fixed arrays — no locks, no maps, no
//! allocation — so it stays off the hot path's bill. Label sets are bounded by construction:
//! routes are a fixed enum (unknown paths count as `other`), statuses are 100..=599, number sizes
//! and verdicts are fixed lists.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};

use crate::startup::AppState;

/// The routes the server serves, as metric and log labels (bounded cardinality).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /check-prime`
    CheckPrime,
    /// `GET|POST /get-current-time`
    GetCurrentTime,
    /// `GET /usage`
    Usage,
    /// `GET /healthz`
    Healthz,
    /// `GET /metrics`
    Metrics,
    /// `GET /openapi.json`
    OpenApi,
    /// `GET /docs` (Swagger UI and its assets)
    Docs,
    /// Anything else (answered `404`).
    Other,
}

impl Route {
    /// Every route, in label order.
    pub const ALL: [Route; 8] = [
        Route::CheckPrime,
        Route::GetCurrentTime,
        Route::Usage,
        Route::Healthz,
        Route::Metrics,
        Route::OpenApi,
        Route::Docs,
        Route::Other,
    ];

    /// The route a request path belongs to.
    pub fn of(path: &str) -> Route {
        match path {
            "/check-prime" => Route::CheckPrime,
            "/get-current-time" => Route::GetCurrentTime,
            "/usage" => Route::Usage,
            "/healthz" => Route::Healthz,
            "/metrics" => Route::Metrics,
            "/openapi.json" => Route::OpenApi,
            p if p == "/docs" || p.starts_with("/docs/") => Route::Docs,
            _ => Route::Other,
        }
    }

    /// The label value: the route's path (`/docs` for the UI and its assets), or `other`.
    pub fn label(self) -> &'static str {
        match self {
            Route::CheckPrime => "/check-prime",
            Route::GetCurrentTime => "/get-current-time",
            Route::Usage => "/usage",
            Route::Healthz => "/healthz",
            Route::Metrics => "/metrics",
            Route::OpenApi => "/openapi.json",
            Route::Docs => "/docs",
            Route::Other => "other",
        }
    }
}

/// Upper bounds of the latency histogram buckets, in microseconds (the `+Inf` bucket is extra).
const LATENCY_BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];
const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_US.len() + 1;

/// Upper bounds of the input-size buckets of primality checks, in bits (`+Inf` is extra).
const BITS_BOUNDS: [u64; 8] = [64, 128, 256, 512, 1024, 2048, 4096, 8192];
const BITS_BUCKETS: usize = BITS_BOUNDS.len() + 1;

/// Verdict labels of primality checks.
pub const VERDICTS: [&str; 4] = ["prime", "probable_prime", "composite", "neither"];

const STATUSES: usize = 500; // 100..=599

struct RouteMetrics {
    by_status: [AtomicU64; STATUSES],
    latency: [AtomicU64; LATENCY_BUCKETS],
    latency_sum_us: AtomicU64,
}

impl RouteMetrics {
    const fn new() -> Self {
        RouteMetrics {
            by_status: [const { AtomicU64::new(0) }; STATUSES],
            latency: [const { AtomicU64::new(0) }; LATENCY_BUCKETS],
            latency_sum_us: AtomicU64::new(0),
        }
    }
}

struct Registry {
    routes: [RouteMetrics; Route::ALL.len()],
    checks: [[AtomicU64; VERDICTS.len()]; BITS_BUCKETS],
    quota_rejections: AtomicU64,
    auth_failures: AtomicU64,
    auth_throttled: AtomicU64,
    cpu_pool_rejections: AtomicU64,
}

static REGISTRY: Registry = Registry {
    routes: [const { RouteMetrics::new() }; Route::ALL.len()],
    checks: [const { [const { AtomicU64::new(0) }; VERDICTS.len()] }; BITS_BUCKETS],
    quota_rejections: AtomicU64::new(0),
    auth_failures: AtomicU64::new(0),
    auth_throttled: AtomicU64::new(0),
    cpu_pool_rejections: AtomicU64::new(0),
};

/// Count one answered request.
pub fn record_request(route: Route, status: u16, elapsed: Duration) {
    let m = &REGISTRY.routes[route as usize];
    if let Some(slot) = m.by_status.get(usize::from(status).wrapping_sub(100)) {
        slot.fetch_add(1, Relaxed);
    }
    let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let bucket = LATENCY_BOUNDS_US.partition_point(|&b| b < us);
    m.latency[bucket].fetch_add(1, Relaxed);
    m.latency_sum_us.fetch_add(us, Relaxed);
}

/// Count one primality check answered `200`, by input size and verdict.
pub fn record_check(bits: u64, verdict: &str) {
    let bucket = BITS_BOUNDS.partition_point(|&b| b < bits);
    if let Some(v) = VERDICTS.iter().position(|&name| name == verdict) {
        REGISTRY.checks[bucket][v].fetch_add(1, Relaxed);
    }
}

/// Count one request refused because its key's quota is used up.
pub fn record_quota_rejection() {
    REGISTRY.quota_rejections.fetch_add(1, Relaxed);
}

/// Count one failed authentication (missing, malformed, unknown, revoked or expired key).
pub fn record_auth_failure() {
    REGISTRY.auth_failures.fetch_add(1, Relaxed);
}

/// Count one request refused because its address failed to authenticate too often.
pub fn record_auth_throttled() {
    REGISTRY.auth_throttled.fetch_add(1, Relaxed);
}

/// Count one check refused because the CPU pool stayed saturated.
pub fn record_cpu_pool_rejection() {
    REGISTRY.cpu_pool_rejections.fetch_add(1, Relaxed);
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn seconds(us: u64) -> f64 {
    us as f64 / 1e6
}

fn started_at() -> f64 {
    static START: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    })
}

/// Remember the process start time (call once at start-up).
pub fn init() {
    let _ = started_at();
}

/// The Prometheus text of every metric.
pub fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let r = &REGISTRY;

    header(
        &mut out,
        "prime_http_requests_total",
        "counter",
        "HTTP requests answered, by route and status.",
    );
    for route in Route::ALL {
        let m = &r.routes[route as usize];
        for (i, c) in m.by_status.iter().enumerate() {
            let n = c.load(Relaxed);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "prime_http_requests_total{{route=\"{}\",status=\"{}\"}} {n}",
                    route.label(),
                    i + 100
                );
            }
        }
    }

    header(
        &mut out,
        "prime_http_request_duration_seconds",
        "histogram",
        "Time from request head to response head, by route.",
    );
    for route in Route::ALL {
        let m = &r.routes[route as usize];
        let counts: Vec<u64> = m.latency.iter().map(|c| c.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            continue;
        }
        let label = route.label();
        let mut cumulative = 0;
        for (i, n) in counts.iter().enumerate() {
            cumulative += n;
            let le = LATENCY_BOUNDS_US
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |&b| seconds(b).to_string());
            let _ = writeln!(
                out,
                "prime_http_request_duration_seconds_bucket{{route=\"{label}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "prime_http_request_duration_seconds_sum{{route=\"{label}\"}} {}",
            seconds(m.latency_sum_us.load(Relaxed))
        );
        let _ = writeln!(
            out,
            "prime_http_request_duration_seconds_count{{route=\"{label}\"}} {cumulative}"
        );
    }

    header(
        &mut out,
        "prime_checks_total",
        "counter",
        "Primality checks answered 200, by input size (upper bound in bits) and verdict.",
    );
    for (b, row) in r.checks.iter().enumerate() {
        let bits = BITS_BOUNDS
            .get(b)
            .map_or_else(|| "+Inf".to_owned(), u64::to_string);
        for (v, c) in row.iter().enumerate() {
            let _ = writeln!(
                out,
                "prime_checks_total{{bits_le=\"{bits}\",verdict=\"{}\"}} {}",
                VERDICTS[v],
                c.load(Relaxed)
            );
        }
    }

    for (name, help, value) in [
        (
            "prime_quota_rejections_total",
            "Requests refused with 429 because the key's quota was used up.",
            &r.quota_rejections,
        ),
        (
            "prime_auth_failures_total",
            "Failed authentications (missing, malformed, unknown, revoked or expired key).",
            &r.auth_failures,
        ),
        (
            "prime_auth_throttled_total",
            "Requests refused with 429 because their address failed to authenticate too often.",
            &r.auth_throttled,
        ),
        (
            "prime_cpu_pool_rejections_total",
            "Primality checks refused with 503 because the CPU pool stayed saturated.",
            &r.cpu_pool_rejections,
        ),
    ] {
        header(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {}", value.load(Relaxed));
    }

    for (name, help, value) in [
        (
            "prime_auth_throttle_tracked_addresses",
            "Client addresses with recent failed authentications held by the throttle.",
            state.throttle.tracked_addresses(),
        ),
        (
            "prime_cpu_pool_queue_depth",
            "Primality checks waiting for a CPU-pool thread.",
            state.cpu.queue_depth(),
        ),
        (
            "prime_cpu_pool_busy_threads",
            "CPU-pool threads running a primality check.",
            state.cpu.busy_threads(),
        ),
        (
            "prime_cpu_pool_threads",
            "Size of the CPU pool.",
            state.cpu.threads(),
        ),
    ] {
        header(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }

    header(
        &mut out,
        "prime_build_info",
        "gauge",
        "Always 1; the version of this server.",
    );
    let _ = writeln!(
        out,
        "prime_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    header(
        &mut out,
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch, in seconds.",
    );
    let _ = writeln!(out, "process_start_time_seconds {}", started_at());
    out
}

/// Prometheus metrics (text format 0.0.4; no authentication). With `--metrics-bind` this is
/// served only on that address.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text", body = String, content_type = "text/plain; version=0.0.4"))
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(render(&state))
}

/// Register `GET /metrics` (with a JSON `405` for other methods).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/metrics")
            .route(web::get().to(metrics))
            .default_service(web::to(|| crate::routes::not_allowed("GET"))),
    );
}

/// Serve `GET /metrics` alone on its own address (`--metrics-bind`): one worker, plain HTTP.
pub fn serve(
    addr: SocketAddr,
    state: web::Data<AppState>,
) -> std::io::Result<(Server, SocketAddr)> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(crate::telemetry::log_request))
            .configure(configure)
            .default_service(web::to(crate::routes::not_found))
    })
    .workers(1)
    .shutdown_timeout(5)
    .listen(listener)?
    .run();
    Ok((server, local))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn routes_and_labels() {
        assert_eq!(Route::of("/check-prime"), Route::CheckPrime);
        assert_eq!(Route::of("/docs/"), Route::Docs);
        assert_eq!(Route::of("/docs/swagger-ui.css"), Route::Docs);
        assert_eq!(Route::of("/docsx"), Route::Other);
        assert_eq!(Route::of("/check-prime/"), Route::Other);
        for (i, r) in Route::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }

    #[test]
    fn buckets() {
        assert_eq!(LATENCY_BOUNDS_US.partition_point(|&b| b < 100), 0);
        assert_eq!(LATENCY_BOUNDS_US.partition_point(|&b| b < 101), 1);
        assert_eq!(
            LATENCY_BOUNDS_US.partition_point(|&b| b < u64::MAX),
            LATENCY_BUCKETS - 1
        );
        assert_eq!(BITS_BOUNDS.partition_point(|&b| b < 1), 0);
        assert_eq!(BITS_BOUNDS.partition_point(|&b| b < 64), 0);
        assert_eq!(BITS_BOUNDS.partition_point(|&b| b < 65), 1);
        assert_eq!(BITS_BOUNDS.partition_point(|&b| b < 9000), BITS_BUCKETS - 1);
    }
}
