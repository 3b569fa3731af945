//! HTTP routes.

pub mod check_prime;
pub mod health;
pub mod time;
pub mod usage;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;

use crate::error::ApiError;
use crate::startup::AppState;
use crate::store::KeyRecord;
use crate::telemetry::set_key_prefix;

/// Register every route, each with a JSON `405` for other methods.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/check-prime")
            .route(web::post().to(check_prime::check_prime))
            .default_service(web::to(|| not_allowed("POST"))),
    )
    .service(
        web::resource("/get-current-time")
            .route(web::get().to(time::current_time))
            .route(web::post().to(time::current_time))
            .default_service(web::to(|| not_allowed("GET, POST"))),
    )
    .service(
        web::resource("/usage")
            .route(web::get().to(usage::usage))
            .default_service(web::to(|| not_allowed("GET"))),
    )
    .service(
        web::resource("/healthz")
            .route(web::get().to(health::healthz))
            .default_service(web::to(|| not_allowed("GET"))),
    );
}

/// Register the operations routes: `/openapi.json`, `/docs`, and `/metrics` unless it has its
/// own address (`--metrics-bind`).
pub fn configure_operations(cfg: &mut web::ServiceConfig, with_metrics: bool) {
    crate::openapi::configure(cfg);
    if with_metrics {
        crate::metrics::configure(cfg);
    }
}

/// JSON `405` naming the allowed methods.
pub async fn not_allowed(allow: &'static str) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(allow))
}

/// JSON `404` for every unknown route.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = if req.path().contains(crate::keys::KEY_PREFIX) {
        "(redacted)".to_owned()
    } else {
        req.path().chars().take(100).collect()
    };
    Err(ApiError::NotFound(path))
}

/// Authenticate without metering: the active key, or `401`/`429` (throttled address).
pub async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<KeyRecord, ApiError> {
    let Some(hash) = crate::auth::presented_key(req) else {
        return Err(state.throttle.failure(req));
    };
    let now = Utc::now().timestamp();
    match state.store.authenticate(&hash, now).await? {
        Some(key) => {
            set_key_prefix(req, key.prefix.clone());
            Ok(key)
        }
        None => Err(state.throttle.failure(req)),
    }
}
