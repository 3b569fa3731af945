//! Prometheus metrics with the `prometheus-client` crate: typed counters and histograms in one
//! registry per application, encoded in the OpenMetrics text format by `GET /metrics`.
//!
//! Label sets are bounded by construction: routes come from the route table (unknown paths
//! count as `other`), statuses are HTTP status codes, number sizes and verdicts are fixed lists.
//! Values that live elsewhere (CPU-pool depth, throttle size, dropped log lines) are read at
//! scrape time through [`Metrics::gauge_fn`] / [`Metrics::counter_fn`], not copied on the hot
//! path.

use std::fmt::Write as _;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the latency histogram's buckets, in seconds.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Upper bounds of the input-size buckets of primality checks, in bits (then `+Inf`).
const BITS_BOUNDS: [u64; 8] = [64, 128, 256, 512, 1024, 2048, 4096, 8192];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabels {
    policy: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    bits_le: &'static str,
    verdict: &'static str,
}

/// The size bucket label of a number of `bits` bits.
fn bits_label(bits: u64) -> &'static str {
    const LABELS: [&str; 9] = [
        "64", "128", "256", "512", "1024", "2048", "4096", "8192", "+Inf",
    ];
    LABELS[BITS_BOUNDS.partition_point(|&b| b < bits)]
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Every metric of one application.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    checks: Family<CheckLabels, Counter>,
    quota_rejections: Counter,
    policy_rejections: Family<PolicyLabels, Counter>,
    auth_failures: Counter,
    auth_throttled: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A value read when metrics are scraped.
struct ReadAtScrape {
    name: &'static str,
    help: &'static str,
    read: Box<dyn Fn() -> i64 + Send + Sync>,
    counter: bool,
}

impl std::fmt::Debug for ReadAtScrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl ReadAtScrape {
    fn encode_as(
        &self,
        metric: impl EncodeMetric,
        mut encoder: DescriptorEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        let kind = metric.metric_type();
        metric.encode(encoder.encode_descriptor(self.name, self.help, None, kind)?)
    }
}

impl Collector for ReadAtScrape {
    fn encode(&self, encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let value = (self.read)();
        if self.counter {
            self.encode_as(
                ConstCounter::new(u64::try_from(value).unwrap_or(0)),
                encoder,
            )
        } else {
            self.encode_as(ConstGauge::new(value), encoder)
        }
    }
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        let checks = Family::<CheckLabels, Counter>::default();
        let (quota_rejections, auth_failures, auth_throttled) =
            (Counter::default(), Counter::default(), Counter::default());
        registry.register(
            "prime_http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        registry.register(
            "prime_http_request_duration_seconds",
            "Time from request head to response head, by route",
            latency.clone(),
        );
        registry.register(
            "prime_checks",
            "Numbers checked and answered, by size (upper bound in bits) and verdict",
            checks.clone(),
        );
        registry.register(
            "prime_quota_rejections",
            "Requests refused with 429 because the key's quota was used up",
            quota_rejections.clone(),
        );
        let policy_rejections = Family::<PolicyLabels, Counter>::default();
        registry.register(
            "prime_policy_rejections",
            "Requests refused with 429 by a key policy: `burst` (rate limit) or `quota`",
            policy_rejections.clone(),
        );
        registry.register(
            "prime_auth_failures",
            "Failed authentications (missing, malformed, unknown, revoked or expired key)",
            auth_failures.clone(),
        );
        registry.register(
            "prime_auth_throttled",
            "Requests refused with 429 because their address failed to authenticate too often",
            auth_throttled.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            checks,
            quota_rejections,
            policy_rejections,
            auth_failures,
            auth_throttled,
        }
    }

    /// Export `read()` as a gauge, read at each scrape.
    pub fn gauge_fn(
        &mut self,
        name: &'static str,
        help: &'static str,
        read: impl Fn() -> i64 + Send + Sync + 'static,
    ) {
        self.read_at_scrape(name, help, Box::new(read), false);
    }

    /// Export `read()` as a counter (`name` gets the `_total` suffix), read at each scrape.
    pub fn counter_fn(
        &mut self,
        name: &'static str,
        help: &'static str,
        read: impl Fn() -> u64 + Send + Sync + 'static,
    ) {
        let read = move || i64::try_from(read()).unwrap_or(i64::MAX);
        self.read_at_scrape(name, help, Box::new(read), true);
    }

    fn read_at_scrape(
        &mut self,
        name: &'static str,
        help: &'static str,
        read: Box<dyn Fn() -> i64 + Send + Sync>,
        counter: bool,
    ) {
        let collector = ReadAtScrape {
            name,
            help,
            read,
            counter,
        };
        self.registry.register_collector(Box::new(collector));
    }

    /// Count one answered request.
    pub fn request(&self, route: &'static str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
    }

    /// Count `count` numbers of `bits` bits answered with `verdict` (a wire name).
    pub fn checks(&self, bits: u64, verdict: &'static str, count: u64) {
        self.checks
            .get_or_create(&CheckLabels {
                bits_le: bits_label(bits),
                verdict,
            })
            .inc_by(count);
    }

    /// Count one request refused because its key's quota is used up.
    pub fn quota_rejection(&self) {
        self.quota_rejections.inc();
    }

    /// Count one request refused by a key policy (`"burst"` or `"quota"`).
    pub fn policy_rejection(&self, policy: &'static str) {
        self.policy_rejections
            .get_or_create(&PolicyLabels { policy })
            .inc();
        if policy == "quota" {
            self.quota_rejections.inc();
        }
    }

    /// Count one failed authentication.
    pub fn auth_failure(&self) {
        self.auth_failures.inc();
    }

    /// Count one request refused because its address failed to authenticate too often.
    pub fn auth_throttled(&self) {
        self.auth_throttled.inc();
    }

    /// The OpenMetrics text of every metric, with the server's version and start time.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        if prometheus_client::encoding::text::encode_registry(&mut out, &self.registry).is_err() {
            out.clear();
        }
        let _ = writeln!(
            out,
            "# HELP prime_build_info The version of this server.\n# TYPE prime_build_info gauge\n\
             prime_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        let _ = prometheus_client::encoding::text::encode_eof(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn size_buckets() {
        assert_eq!(bits_label(1), "64");
        assert_eq!(bits_label(64), "64");
        assert_eq!(bits_label(65), "128");
        assert_eq!(bits_label(8192), "8192");
        assert_eq!(bits_label(9000), "+Inf");
    }

    #[test]
    fn renders_counts_and_scraped_values() {
        let mut m = Metrics::new();
        m.gauge_fn("prime_test_depth", "A test gauge", || 7);
        m.counter_fn("prime_test_dropped", "A test counter", || 3);
        m.request("/check-prime", 200, Duration::from_micros(300));
        m.request("/check-prime", 200, Duration::from_micros(300));
        m.checks(65, "prime", 5);
        let text = m.render();
        assert!(
            text.contains("prime_http_requests_total{route=\"/check-prime\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(text.contains("prime_checks_total{bits_le=\"128\",verdict=\"prime\"} 5"));
        assert!(text.contains("prime_test_depth 7"));
        assert!(text.contains("prime_test_dropped_total 3"));
        assert!(text.ends_with("# EOF\n"));
    }
}
