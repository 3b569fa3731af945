//! `GET /usage`: the calling key's quota state (authenticated, never metered).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Serialize;

use crate::error::ApiError;
use crate::quota::rfc3339;
use crate::startup::AppState;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UsageResponse<'a> {
    name: &'a str,
    prefix: &'a str,
    limit: i64,
    used: i64,
    remaining: i64,
    resets_at: String,
    reset_schedule: &'a str,
    expires_at: Option<String>,
}

/// The calling key's quota state.
pub async fn usage(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let key = super::authenticate(&req, &state).await?;
    let now = Utc::now().timestamp();
    let q = key.quota_state(&state.schedules, now);
    let mut builder = HttpResponse::Ok();
    builder.insert_header(("Cache-Control", "no-store"));
    q.apply_headers(&mut builder, now);
    Ok(builder.json(UsageResponse {
        name: &key.name,
        prefix: &key.prefix,
        limit: q.limit,
        used: q.used,
        remaining: q.remaining(),
        resets_at: rfc3339(q.next_reset_at),
        reset_schedule: state.schedules.effective(key.reset_schedule.as_deref()),
        expires_at: key.expires_at.map(rfc3339),
    }))
}
