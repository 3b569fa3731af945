//! `GET /metrics`: Prometheus metrics in the OpenMetrics text format (no authentication; with
//! `--metrics-bind` served only on that address).

use actix_web::{HttpResponse, web};

use crate::http::state::AppState;

/// Prometheus metrics (OpenMetrics text; no authentication).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "OpenMetrics text", body = String, content_type = "application/openmetrics-text; version=1.0.0"))
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}
