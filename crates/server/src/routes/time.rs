//! `GET`/`POST /get-current-time`: authenticated, not metered; the request body is ignored.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Local, SecondsFormat};
use serde::Serialize;

use crate::error::ApiError;
use crate::startup::AppState;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TimeResponse {
    current_time: String,
    rfc3339: String,
    unix_millis: i64,
}

/// The server's time: local `%Y-%m-%d %H:%M:%S` (the tutorial's form), RFC 3339, Unix ms.
pub async fn current_time(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    super::authenticate(&req, &state).await?;
    let now = Local::now();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TimeResponse {
            current_time: now.format("%Y-%m-%d %H:%M:%S").to_string(),
            rfc3339: now.to_rfc3339_opts(SecondsFormat::Millis, false),
            unix_millis: now.timestamp_millis(),
        }))
}
