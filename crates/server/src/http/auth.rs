//! API-key extraction and the per-address failed-authentication throttle.
//!
//! The key is taken from `Authorization: <key>` (the tutorial's form), `Authorization: Bearer
//! <key>` or `X-API-Key: <key>` — never from the query string. Its format and checksum are
//! checked before any store lookup.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::{HttpMessage, HttpRequest};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use chrono::Utc;

use super::middleware::{RequestId, set_key_prefix};
use super::problem::ApiError;
use super::state::AppState;
use crate::domain::keys::{self, KeyHash};
use crate::metrics::Metrics;
use crate::store::KeyRecord;

/// The key candidate sent with a request, if any (not yet verified).
pub fn key_candidate(req: &HttpRequest) -> Option<&str> {
    let headers = req.headers();
    if let Some(v) = headers.get(actix_web::http::header::AUTHORIZATION) {
        let v = v.to_str().ok()?.trim();
        let key = match v.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => v,
        };
        return Some(key);
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The well-formed key's hash, or `None` for a missing or malformed key (no lookup done).
pub fn presented_key(req: &HttpRequest) -> Option<KeyHash> {
    key_candidate(req).and_then(keys::verify_format)
}

/// Throttles failed authentications per client address.
#[derive(Debug)]
pub struct AuthThrottle {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    trusted_proxies: Vec<IpAddr>,
}

impl AuthThrottle {
    /// `burst` failures at once, then one per `period`.
    pub fn new(burst: u32, period: Duration, trusted_proxies: Vec<IpAddr>) -> Self {
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period.max(Duration::from_millis(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        AuthThrottle {
            limiter: RateLimiter::keyed(quota),
            trusted_proxies,
        }
    }

    /// The client's address: the peer, or — only when the peer is a trusted proxy — the
    /// right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_addr(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in forwarded.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.trusted_proxies.contains(&ip) => continue,
                Ok(ip) => return Some(ip),
                Err(_) => return Some(peer),
            }
        }
        Some(peer)
    }

    /// Record one failed authentication; the error to answer with (`401`, or `429` when the
    /// address has failed too often).
    pub fn failure(&self, req: &HttpRequest, metrics: &Metrics) -> ApiError {
        metrics.auth_failure();
        let Some(addr) = self.client_addr(req) else {
            return ApiError::Unauthorized;
        };
        match self.limiter.check_key(&addr) {
            Ok(()) => ApiError::Unauthorized,
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
                tracing::warn!(
                    client = %addr,
                    request_id = %id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-"),
                    "too many failed authentications"
                );
                metrics.auth_throttled();
                ApiError::AuthThrottled {
                    retry_after: wait.as_secs() + 1,
                }
            }
        }
    }

    /// Addresses the throttle holds state for (recent failures).
    pub fn tracked_addresses(&self) -> usize {
        self.limiter.len()
    }

    /// Forget addresses whose budget is full again (bounds memory).
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Authenticate without metering: the active key, or `401` (`429` for a throttled address).
pub async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<KeyRecord, ApiError> {
    let Some(hash) = presented_key(req) else {
        return Err(state.throttle.failure(req, &state.metrics));
    };
    match state
        .store
        .authenticate(&hash, Utc::now().timestamp())
        .await?
    {
        Ok(key) => {
            set_key_prefix(req, key.prefix.clone());
            Ok(key)
        }
        Err(_) => Err(state.throttle.failure(req, &state.metrics)),
    }
}
