//! `GET /usage`: the calling key's quota state (authenticated, never metered).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Serialize;

use crate::domain::schedule::rfc3339;
use crate::http::auth::authenticate;
use crate::http::headers::insert_quota_headers;
use crate::http::problem::ApiError;
use crate::http::state::AppState;

/// The calling key's quota state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageResponse<'a> {
    /// The key's name.
    name: &'a str,
    /// The key's non-secret display prefix.
    #[schema(example = "pk_AbCdE")]
    prefix: &'a str,
    /// Requests per reset period.
    limit: u64,
    /// Requests counted in the current period.
    used: u64,
    /// `limit - used`, never negative.
    remaining: u64,
    /// Next reset, RFC 3339.
    resets_at: String,
    /// The key's effective reset schedule (cron, 6 fields, seconds first, UTC).
    #[schema(example = "0 0 0 * * *")]
    reset_schedule: &'a str,
    /// Expiry, RFC 3339; `null` when the key does not expire.
    expires_at: Option<String>,
}

/// The calling key's quota state (authenticated, never metered).
#[utoipa::path(
    get,
    path = "/usage",
    tag = "prime",
    security(("authorization" = []), ("bearer" = []), ("x_api_key" = [])),
    responses(
        (status = 200, description = "The key's name, limit, usage and next reset", body = UsageResponse<'static>),
        (status = 401, description = "Missing, malformed, unknown, revoked or expired key", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed authentications from this address", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 503, description = "Key store unavailable", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json")
    )
)]
pub async fn usage(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let key = authenticate(&req, &state).await?;
    let now = Utc::now().timestamp();
    let schedules = state.store.schedules();
    let q = key.quota_at(now, schedules);
    let mut builder = HttpResponse::Ok();
    insert_quota_headers(&mut builder, &q, now);
    Ok(builder.json(UsageResponse {
        name: &key.name,
        prefix: &key.prefix,
        limit: q.limit,
        used: q.used,
        remaining: q.remaining(),
        resets_at: rfc3339(q.period.end),
        reset_schedule: schedules.effective(key.state.reset_schedule.as_deref()),
        expires_at: key.state.expires_at.map(rfc3339),
    }))
}
