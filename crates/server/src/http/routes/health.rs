//! `GET /healthz`: `200 {"status":"ok"}` when the store answers, `503` otherwise.

use actix_web::{HttpResponse, web};

use crate::http::problem::ApiError;
use crate::http::state::AppState;

/// Health check (no authentication): does the key store answer?
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "The store answers", body = crate::http::openapi::Health),
        (status = 503, description = "The store does not answer", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json")
    )
)]
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.store.health().await?;
    Ok(HttpResponse::Ok().json(crate::http::openapi::Health { status: "ok" }))
}
