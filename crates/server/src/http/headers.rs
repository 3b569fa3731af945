//! The rate-limit headers: the IETF httpapi ratelimit-headers draft's structured fields (one
//! list item per policy: `"burst"` when the key has a burst limit, then `"quota"`) and the
//! widely used legacy trio (for the quota).

use std::fmt::Write;

use actix_web::HttpResponseBuilder;
use actix_web::http::header::HeaderName;

use crate::domain::burst::BurstState;
use crate::domain::quota::QuotaState;

/// Add `RateLimit-Policy`, `RateLimit` and `X-RateLimit-{Limit,Remaining,Reset}` for `quota` as
/// of `now`.
pub fn insert_quota_headers(builder: &mut HttpResponseBuilder, quota: &QuotaState, now: i64) {
    insert_policy_headers(builder, quota, None, now);
}

/// The header names, parsed once (a name given as text is parsed again for every response).
const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const CURRENT: HeaderName = HeaderName::from_static("ratelimit");
const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// As [`insert_quota_headers`], naming the burst policy first when there is one:
/// `RateLimit-Policy: "burst";q=10;w=1, "quota";q=1000;w=86400` and
/// `RateLimit: "burst";r=9;t=0, "quota";r=999;t=31147`.
pub fn insert_policy_headers(
    builder: &mut HttpResponseBuilder,
    quota: &QuotaState,
    burst: Option<&BurstState>,
    now: i64,
) {
    let remaining = quota.remaining();
    // Written into one buffer each, sized for the longest values, instead of four `format!`s.
    let mut policy = String::with_capacity(96);
    let mut current = String::with_capacity(96);
    if let Some(b) = burst {
        let _ = write!(
            policy,
            "\"burst\";q={};w={}, ",
            b.rate.count, b.rate.period_secs
        );
        let _ = write!(current, "\"burst\";r={};t={}, ", b.remaining, b.reset_secs);
    }
    let _ = write!(policy, "\"quota\";q={};w={}", quota.limit, quota.window());
    let _ = write!(
        current,
        "\"quota\";r={remaining};t={}",
        quota.seconds_to_reset(now)
    );
    builder
        .insert_header((POLICY, policy))
        .insert_header((CURRENT, current))
        .insert_header((LIMIT, quota.limit))
        .insert_header((REMAINING, remaining))
        .insert_header((RESET, quota.period.end));
}
