//! The rate-limit headers of metered answers: the IETF httpapi ratelimit-headers draft's
//! structured fields and the widely used legacy trio.

use actix_web::HttpResponseBuilder;

use crate::domain::quota::QuotaState;

/// Add `RateLimit-Policy`, `RateLimit` and `X-RateLimit-{Limit,Remaining,Reset}` for `quota` as
/// of `now`.
pub fn insert_quota_headers(builder: &mut HttpResponseBuilder, quota: &QuotaState, now: i64) {
    let remaining = quota.remaining();
    builder
        .insert_header((
            "RateLimit-Policy",
            format!("\"quota\";q={};w={}", quota.limit, quota.window()),
        ))
        .insert_header((
            "RateLimit",
            format!("\"quota\";r={remaining};t={}", quota.seconds_to_reset(now)),
        ))
        .insert_header(("X-RateLimit-Limit", quota.limit))
        .insert_header(("X-RateLimit-Remaining", remaining))
        .insert_header(("X-RateLimit-Reset", quota.period.end));
}
