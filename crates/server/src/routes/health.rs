//! `GET /healthz`: `200 {"status":"ok"}` when the store answers, `503` otherwise.

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::startup::AppState;

/// Health check (no authentication).
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.store.health().await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({"status": "ok"})))
}
