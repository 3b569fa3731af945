//! The rate-limit headers: the IETF httpapi ratelimit-headers draft's structured fields (one
//! list item per policy: `"burst"` when the key has a burst limit, then `"quota"`) and the
//! widely used legacy trio (for the quota).

use actix_web::HttpResponseBuilder;

use crate::domain::burst::BurstState;
use crate::domain::quota::QuotaState;

/// Add `RateLimit-Policy`, `RateLimit` and `X-RateLimit-{Limit,Remaining,Reset}` for `quota` as
/// of `now`.
pub fn insert_quota_headers(builder: &mut HttpResponseBuilder, quota: &QuotaState, now: i64) {
    insert_policy_headers(builder, quota, None, now);
}

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
    let quota_policy = format!("\"quota\";q={};w={}", quota.limit, quota.window());
    let quota_now = format!("\"quota\";r={remaining};t={}", quota.seconds_to_reset(now));
    let (policy, current) = match burst {
        Some(b) => (
            format!(
                "\"burst\";q={};w={}, {quota_policy}",
                b.rate.count, b.rate.period_secs
            ),
            format!(
                "\"burst\";r={};t={}, {quota_now}",
                b.remaining, b.reset_secs
            ),
        ),
        None => (quota_policy, quota_now),
    };
    builder
        .insert_header(("RateLimit-Policy", policy))
        .insert_header(("RateLimit", current))
        .insert_header(("X-RateLimit-Limit", quota.limit))
        .insert_header(("X-RateLimit-Remaining", remaining))
        .insert_header(("X-RateLimit-Reset", quota.period.end));
}
