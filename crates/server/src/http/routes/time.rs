//! `GET`/`POST /get-current-time`: authenticated, not metered; the request body is ignored.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Local, SecondsFormat};
use serde::Serialize;

use crate::http::auth::authenticate_paced;
use crate::http::headers::insert_policy_headers;
use crate::http::problem::ApiError;
use crate::http::state::AppState;

/// The server's time.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimeResponse {
    /// Server local time, `%Y-%m-%d %H:%M:%S` (the tutorial's form).
    #[schema(example = "2026-11-28 03:59:03")]
    current_time: String,
    /// RFC 3339 with milliseconds and offset.
    #[schema(example = "2026-11-28T03:59:03.123+00:00")]
    rfc3339: String,
    /// Milliseconds since the Unix epoch.
    unix_millis: i64,
}

/// The server's time: local `%Y-%m-%d %H:%M:%S` (the tutorial's form), RFC 3339, Unix ms.
#[utoipa::path(
    method(get, post),
    path = "/get-current-time",
    tag = "prime",
    description = "The server's time. The request body is ignored. Not metered.",
    security(("authorization" = []), ("bearer" = []), ("x_api_key" = [])),
    responses(
        (status = 200, description = "The server's time", body = TimeResponse),
        (status = 401, description = "Missing, malformed, unknown, revoked or expired key", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's burst limit (`violated-policies: [\"burst\"]`), or too many failed authentications from this address", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 503, description = "Key store unavailable", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json")
    )
)]
pub async fn current_time(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, paced) = authenticate_paced(&req, &state).await?;
    let now = Local::now();
    let mut builder = HttpResponse::Ok();
    if let Some(p) = paced {
        insert_policy_headers(&mut builder, &p.quota, p.burst.as_ref(), now.timestamp());
    }
    Ok(builder.json(TimeResponse {
        current_time: now.format("%Y-%m-%d %H:%M:%S").to_string(),
        rfc3339: now.to_rfc3339_opts(SecondsFormat::Millis, false),
        unix_millis: now.timestamp_millis(),
    }))
}
