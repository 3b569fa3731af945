//! API-key extraction, the failed-authentication throttle and admission before the body.
//!
//! The key is taken from `Authorization: <key>` (the tutorial's form), `Authorization: Bearer
//! <key>` or `X-API-Key: <key>` — never from the query string. Its format and checksum are
//! checked before any store lookup. [`admit`] decides from the headers alone whether a request
//! may go on to send its body: a throttled address, a malformed key or an unknown, revoked or
//! expired key are answered at once, before a byte of the body is read, before any CPU place is
//! taken and without any store write. The atomic consume still has the last word.

use std::cell::RefCell;
use std::net::IpAddr;
use std::time::Duration;

use actix_web::{HttpMessage, HttpRequest};
use chrono::Utc;
use subtle::ConstantTimeEq;

use super::middleware::{RequestId, set_key_prefix};
use super::problem::{ApiError, OverLimit};
use super::state::AppState;
use super::throttle::{Client, ThrottleTable};
use crate::domain::burst::BurstState;
use crate::domain::keys::{self, KeyHash};
use crate::domain::quota::{Decision, QuotaState};
use crate::metrics::Metrics;
use crate::store::{Consumed, KeyRecord};

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

/// Well-formed keys remembered per thread by [`presented_key`].
const VERIFIED_PER_THREAD: usize = 4;

/// A key's text and its hash.
type Verified = Option<(Box<str>, KeyHash)>;

thread_local! {
    /// The last few well-formed keys presented on this thread, with their hashes. A client
    /// sends the same key with every request, and checking a key's format (base58 and its
    /// checksum) and hashing it — two SHA-256 — cost about 10 k instructions, more than the
    /// rest of authentication. Both are pure functions of the key's text, so remembering them
    /// changes no answer; revocation and expiry are decided by the store, not here.
    static VERIFIED: RefCell<([Verified; VERIFIED_PER_THREAD], usize)> =
        const { RefCell::new(([const { None }; VERIFIED_PER_THREAD], 0)) };
}

/// The well-formed key's hash, or `None` for a missing or malformed key (no lookup done).
pub fn presented_key(req: &HttpRequest) -> Option<KeyHash> {
    let candidate = key_candidate(req)?;
    let known = VERIFIED.with_borrow(|(entries, _)| {
        entries.iter().flatten().find_map(|(key, hash)| {
            // Constant time: how much of a remembered key a guess matches must not show.
            let same = key.len() == candidate.len()
                && bool::from(key.as_bytes().ct_eq(candidate.as_bytes()));
            same.then_some(*hash)
        })
    });
    if known.is_some() {
        return known;
    }
    let hash = keys::verify_format(candidate)?;
    VERIFIED.with_borrow_mut(|(entries, next)| {
        entries[*next] = Some((candidate.into(), hash));
        *next = (*next + 1) % VERIFIED_PER_THREAD;
    });
    Some(hash)
}

/// Throttles failed authentications per client (an IPv4 address or an IPv6 /64).
#[derive(Debug)]
pub struct AuthThrottle {
    table: ThrottleTable,
    trusted_proxies: Vec<IpAddr>,
}

impl AuthThrottle {
    /// `burst` failures at once, then one per `period`, for about `capacity` clients at a time.
    pub fn new(
        burst: u32,
        period: Duration,
        capacity: usize,
        trusted_proxies: Vec<IpAddr>,
    ) -> Self {
        AuthThrottle {
            table: ThrottleTable::new(capacity, burst, period),
            trusted_proxies: trusted_proxies.iter().map(IpAddr::to_canonical).collect(),
        }
    }

    /// The client's address: the peer, or — only when the peer is a trusted proxy — the
    /// right-most address in `X-Forwarded-For` that is not itself a trusted proxy. IPv4-mapped
    /// IPv6 addresses are read as the IPv4 address they carry.
    pub fn client_addr(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip().to_canonical();
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
            match hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
                Ok(ip) if self.trusted_proxies.contains(&ip) => continue,
                Ok(ip) => return Some(ip),
                Err(_) => return Some(peer),
            }
        }
        Some(peer)
    }

    fn throttled(
        &self,
        req: &HttpRequest,
        addr: IpAddr,
        wait: Duration,
        metrics: &Metrics,
    ) -> ApiError {
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

    /// `429` when the request's client has failed too often already (nothing is counted).
    pub fn gate(&self, req: &HttpRequest, metrics: &Metrics) -> Result<(), ApiError> {
        let Some(addr) = self.client_addr(req) else {
            return Ok(());
        };
        match self.table.blocked(Client::of(addr)) {
            Some(wait) => {
                metrics.auth_failure();
                Err(self.throttled(req, addr, wait, metrics))
            }
            None => Ok(()),
        }
    }

    /// Record one failed authentication; the error to answer with (`401`, or `429` when the
    /// client has failed too often).
    pub fn failure(&self, req: &HttpRequest, metrics: &Metrics) -> ApiError {
        metrics.auth_failure();
        let Some(addr) = self.client_addr(req) else {
            return ApiError::Unauthorized;
        };
        match self.table.fail(Client::of(addr)) {
            Ok(()) => ApiError::Unauthorized,
            Err(wait) => self.throttled(req, addr, wait, metrics),
        }
    }

    /// Clients the throttle holds a recent failure for.
    pub fn tracked_addresses(&self) -> usize {
        self.table.tracked()
    }
}

/// The presented key's hash and whether it was seen valid moments ago; `429` first when the
/// client has failed too often and the key is not one seen valid moments ago (such a request
/// costs no store work), `401` when the key is missing or malformed.
fn presented_or_refused(req: &HttpRequest, state: &AppState) -> Result<(KeyHash, bool), ApiError> {
    let hash = presented_key(req);
    let recent = hash.is_some_and(|h| state.keys.recently_valid(&h));
    if !recent {
        state.throttle.gate(req, &state.metrics)?;
    }
    match hash {
        Some(hash) => Ok((hash, recent)),
        None => Err(state.throttle.failure(req, &state.metrics)),
    }
}

/// What a request was granted by the key's policies: units of quota (0 on routes that are
/// not metered), the quota after them, and the burst limit's state when the key has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charged {
    /// Units granted.
    pub units: u64,
    /// The quota after them.
    pub quota: QuotaState,
    /// The burst limit after this request.
    pub burst: Option<BurstState>,
}

/// Turn a consume's outcome into what was granted, or the answer to give: `429` (burst limit
/// or quota, both in the headers), `401` (the key may not be used). Counts policy rejections.
pub fn charged(
    req: &HttpRequest,
    state: &AppState,
    consumed: Consumed,
    now: i64,
) -> Result<Charged, ApiError> {
    if let Some(prefix) = consumed.prefix.clone() {
        set_key_prefix(req, prefix);
    }
    let burst = consumed.burst;
    match consumed.decision {
        Decision::Granted { units, quota } => Ok(Charged {
            units,
            quota,
            burst,
        }),
        Decision::Exhausted { quota } => {
            let over = OverLimit { burst, quota, now };
            state.metrics.policy_rejection(over.violated());
            Err(ApiError::OverLimit(Box::new(over)))
        }
        Decision::Refused(_) | Decision::GivenBack { .. } => {
            Err(state.throttle.failure(req, &state.metrics))
        }
    }
}

/// Authenticate without metering: the active key, or `401` (`429` for a throttled client or
/// over the key's burst limit).
pub async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<KeyRecord, ApiError> {
    Ok(authenticate_paced(req, state).await?.0)
}

/// [`authenticate`], and — when the key has a burst limit (its own, its group's or the
/// server's default) — the request's place in it, taken in the store like a consume of nothing
/// (exact across instances), with the quota for the headers.
pub async fn authenticate_paced(
    req: &HttpRequest,
    state: &AppState,
) -> Result<(KeyRecord, Option<Charged>), ApiError> {
    let (hash, _) = presented_or_refused(req, state)?;
    let now_us = Utc::now().timestamp_micros();
    let now = now_us.div_euclid(1_000_000);
    let key = match state.store.authenticate(&hash, now).await? {
        Ok(key) => key,
        Err(_) => return Err(state.throttle.failure(req, &state.metrics)),
    };
    state.keys.remember(hash);
    set_key_prefix(req, key.prefix.clone());
    if key.rate.is_none() && state.store.policies().default_rate.is_none() {
        return Ok((key, None));
    }
    let consumed = state.store.pace(&hash, now_us).await?;
    let paced = charged(req, state, consumed, now)?;
    Ok((key, Some(paced)))
}

/// Whether a metered request may send its body: the key's hash, or the answer to give at once
/// (`429` throttled client, `401` missing, malformed, unknown, revoked or expired key). A key
/// seen valid moments ago (`KeyCache`) costs no store lookup.
pub async fn admit(req: &HttpRequest, state: &AppState) -> Result<KeyHash, ApiError> {
    let (hash, recent) = presented_or_refused(req, state)?;
    if recent {
        return Ok(hash);
    }
    match state
        .store
        .authenticate(&hash, Utc::now().timestamp())
        .await?
    {
        Ok(key) => {
            state.keys.remember(hash);
            set_key_prefix(req, key.prefix);
            Ok(hash)
        }
        Err(_) => Err(state.throttle.failure(req, &state.metrics)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use actix_web::test::TestRequest;

    use super::*;

    fn presenting(key: &str) -> HttpRequest {
        TestRequest::default()
            .insert_header(("Authorization", key))
            .to_http_request()
    }

    #[test]
    fn remembered_keys_get_the_answers_of_a_fresh_check() {
        // More keys than a thread remembers, twice over: hits, misses and replacements.
        let generated: Vec<_> = (0..VERIFIED_PER_THREAD + 2)
            .map(|_| keys::generate().unwrap())
            .collect();
        for _ in 0..2 {
            for k in &generated {
                assert!(presented_key(&presenting(&k.secret)) == Some(k.hash));
            }
        }
        // Right after the real key was remembered: one character off, or one too many, is
        // still malformed (checksum, length), never taken for the remembered key.
        let real = &generated[generated.len() - 1].secret;
        assert!(presented_key(&presenting(real)).is_some());
        let mut typo: Vec<char> = real.chars().collect();
        let last = typo.len() - 1;
        typo[last] = if typo[last] == 'x' { 'y' } else { 'x' };
        let typo: String = typo.into_iter().collect();
        assert!(presented_key(&presenting(&typo)).is_none());
        assert!(presented_key(&presenting(&format!("{real}x"))).is_none());
        assert!(presented_key(&presenting(&real[..real.len() - 1])).is_none());
    }
}
