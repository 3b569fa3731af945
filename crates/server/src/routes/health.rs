//! `GET /healthz`: `200 {"status":"ok"}` when the store answers, `503` otherwise.

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::startup::AppState;

/// Health check (no authentication): does the key store answer?
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "The store answers", body = crate::openapi::Health),
        (status = 503, description = "The store does not answer", body = crate::error::Problem<'static>, content_type = "application/problem+json")
    )
)]
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.store.health().await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(crate::openapi::Health { status: "ok" }))
}
